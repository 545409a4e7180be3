package gateway

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/actors/kit"
	"reachyd/actors/topics"
	"reachyd/messages"
)

const (
	// topicQueue bounds the frames waiting for one topic client; a client
	// that falls this far behind is closed (1008 "slow consumer") and, being
	// pymirokai, reconnects and resubscribes at once.
	topicQueue = 1024
	// reverify: an open topic connection re-checks its token this often,
	// which keeps its session from going idle. A revoked key or an ended
	// session closes it at once (messages.SessionsEnded).
	reverify = time.Minute
	// tokenInvalid is the close reason (code 1008) of a connection whose
	// session ended.
	tokenInvalid = "token no longer valid"
)

var topicClients atomic.Uint64

// TopicsHandler serves the topic bus WebSocket (pymirokai's WebSocketAPI:
// ws://<host>:8001/?token=<jwt>), meant for its own listener. A missing or
// bad token is refused at the handshake with 401.
func (g *Gateway) TopicsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			writeDetail(w, http.StatusNotFound, "Not Found")
			return
		}
		if !g.host.ok(r.Host) {
			writeDetail(w, http.StatusBadRequest, "Invalid host header")
			return
		}
		token := r.URL.Query().Get("token")
		if token == "" || len(token) > maxAuthHeader {
			writeDetail(w, http.StatusUnauthorized, "Missing or invalid token")
			return
		}
		ch := topicChannel(r)
		ctx, cancel := context.WithTimeout(r.Context(), g.cfg.AskTimeout)
		p, err := kit.Ask[messages.Principal](ctx, g.sys.Kit, g.sys.Auth, &messages.VerifyToken{Token: token, Remote: remoteOf(r), Channel: ch})
		cancel()
		if err != nil {
			status := statusOf(err)
			if status == http.StatusInternalServerError {
				status = http.StatusServiceUnavailable
			}
			writeDetail(w, status, err.Error())
			return
		}
		g.serveTopics(w, r, token, ch, p)
	})
}

func writeDetail(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	w.WriteHeader(status)
	_, _ = w.Write(appendDetail(nil, text))
}

// remoteOf names the caller for the failed-attempt limiter: the peer's IP
// (never a forwarded header), or its uid on the unix socket.
func remoteOf(r *http.Request) string {
	if p, ok := peerOf(r.Context()); ok {
		return "unix:uid=" + strconv.Itoa(p.UID)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (g *Gateway) serveTopics(w http.ResponseWriter, r *http.Request, token string, ch messages.Channel, p messages.Principal) {
	wc, err := g.upgradeHTTP(w, r, topicQueue, messages.CloseWhenFull, messages.MaxTopicFrame+4096, "topics")
	if err != nil {
		return
	}
	conn := wc.c
	id := "ws-" + strconv.FormatUint(topicClients.Add(1), 10) + "-" + p.ClientID
	out := wc.out
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
	_, err = kit.Ask[messages.TopicAck](ctx, g.sys.Kit, g.sys.Topics, &messages.TopicAttach{Client: id, Level: p.Level,
		Sink: func(_, _ string, f []byte) bool { return out.Offer(f) }})
	cancel()
	if err != nil {
		wc.refuse(websocket.CloseTryAgainLater, "topic bus unavailable")
		return
	}
	defer g.sys.Kit.Tell(g.sys.Topics, &messages.TopicDetach{Client: id})
	// Closed as soon as its session ends (key revoked). The subscription
	// comes before the first re-check in reverifyTopics, so a session that
	// ended after the handshake's check is caught by one or the other.
	unsub := kit.Subscribe(g.sys.Kit, func(e messages.SessionsEnded) {
		if slices.Contains(e.SessionIDs, p.SessionID) {
			out.Close(tokenInvalid)
		}
	})
	defer unsub()
	go wc.writeLoop()
	go g.reverifyTopics(wc, token, remoteOf(r), ch)
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			wc.out.Close("closed")
			return
		}
		f, err := topics.ParseClientFrame(data)
		if err != nil {
			if !out.Offer(topics.ErrorFrame(err.Error())) {
				return
			}
			continue
		}
		switch f.Action {
		case "subscribe":
			g.sys.Kit.Tell(g.sys.Topics, &messages.TopicSubscribe{Client: id, Topic: f.Topic})
		case "unsubscribe":
			g.sys.Kit.Tell(g.sys.Topics, &messages.TopicUnsubscribe{Client: id, Topic: f.Topic})
		case "publish":
			g.sys.Kit.Tell(g.sys.Topics, &messages.TopicPublish{Client: id, Topic: f.Topic, Frame: f.Frame})
		}
	}
}

// reverifyTopics closes a topic connection whose token's session ended
// (key revoked, session expired): right away, then every reverify; it
// also keeps a live session from going idle while its WebSocket is open.
func (g *Gateway) reverifyTopics(wc *wsConn, token, remote string, ch messages.Channel) {
	t := time.NewTicker(reverify)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
		_, err := kit.Ask[messages.Principal](ctx, g.sys.Kit, g.sys.Auth, &messages.VerifyToken{Token: token, Remote: remote, Channel: ch})
		cancel()
		if messages.KindOf(err) == messages.KindUnauthorized {
			wc.out.Close(tokenInvalid)
			return
		}
		select {
		case <-wc.done:
			return
		case <-t.C:
		}
	}
}

// topicChannel: a topic client on this very host may use a token minted
// over the unix socket (pymirokai's SkillManager in unix-socket mode takes
// its token there and connects to ws://<the host's LAN address>:8001);
// one from the network may not.
func topicChannel(r *http.Request) messages.Channel {
	if fromThisHost(r.RemoteAddr) {
		return messages.ChannelHost
	}
	return messages.ChannelNetwork
}

// fromThisHost reports whether a TCP peer is this host: a loopback address
// or an address of one of its interfaces. A connection from elsewhere
// cannot claim such an address: the handshake's answer to it never leaves
// the host.
func fromThisHost(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.WithZone("").Unmap()
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap() == ip {
				return true
			}
		}
	}
	return false
}
