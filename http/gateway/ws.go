package gateway

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"reachyd/messages"
)

const (
	// writeWait bounds one frame write: a client whose socket stays full
	// that long is dropped.
	writeWait = 5 * time.Second
	// readLimit bounds one client frame.
	readLimit = 1 << 20
	// sdkQueue is the reference's per-client queue size.
	sdkQueue = 100
)

// wsConn is one WebSocket client: a writer goroutine drains its outbox, the
// handler's goroutine reads. Close reasons become close frames.
type wsConn struct {
	g    *Gateway
	c    *websocket.Conn
	out  *messages.Outbox
	once sync.Once
	done chan struct{}
	wmu  sync.Mutex
	// endpoint is the route template (or "topics"), for the metrics;
	// stalled is set when a write hit its deadline.
	endpoint string
	stalled  atomic.Bool
}

func (g *Gateway) upgrade(c echo.Context, capacity int, policy messages.Overflow) (*wsConn, error) {
	return g.upgradeHTTP(c.Response(), c.Request(), capacity, policy, readLimit, c.Path())
}

// upgradeHTTP upgrades a plain HTTP request (the topic listener has no Echo
// context) and registers the connection for closing at shutdown.
//
// Compression (permessage-deflate) is never negotiated: the read limit
// bounds a frame's bytes on the wire, and a compressed frame of 1 MiB could
// inflate to gigabytes before any limit applied. The frames are small JSON on
// a local network, where compression buys nothing. A client that sends a
// compressed frame anyway breaks the protocol and is disconnected.
//
// At most MaxWebSockets clients are connected at once, over all endpoints;
// one more is refused with 503 before the upgrade.
func (g *Gateway) upgradeHTTP(rw http.ResponseWriter, r *http.Request, capacity int, policy messages.Overflow, limit int64, endpoint string) (*wsConn, error) {
	up := websocket.Upgrader{
		ReadBufferSize:    4096,
		WriteBufferSize:   4096,
		EnableCompression: false,
		CheckOrigin:       g.wsOriginOK,
		HandshakeTimeout:  10 * time.Second,
	}
	g.wsMu.Lock()
	full := len(g.wsConns)+g.wsPending >= g.cfg.MaxWebSockets
	if !full {
		g.wsPending++ // a place reserved during the handshake, so the cap holds under a burst
	}
	g.wsMu.Unlock()
	if full {
		g.badInput.Log(g.log, slog.LevelWarn, "too many WebSocket clients; refusing one", "path", r.URL.Path, "max", g.cfg.MaxWebSockets)
		rw.Header().Set("Retry-After", "5")
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = rw.Write(appendDetail(nil, "Too many WebSocket clients; try again later."))
		return nil, errTooManyWebSockets
	}
	conn, err := up.Upgrade(rw, r, nil)
	g.wsMu.Lock()
	g.wsPending--
	var w *wsConn
	if err == nil {
		conn.SetReadLimit(limit)
		w = &wsConn{g: g, c: conn, out: messages.NewOutbox(capacity, policy), done: make(chan struct{}), endpoint: endpoint}
		g.wsConns[w] = struct{}{}
	}
	g.wsMu.Unlock()
	if err != nil && !g.wsOriginOK(r) {
		g.badInput.Log(g.log, slog.LevelInfo, "WebSocket from a foreign origin refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"))
	}
	return w, err
}

// errTooManyWebSockets is returned (after the 503 is written) when the
// WebSocket cap is reached.
var errTooManyWebSockets = errors.New("too many WebSocket clients")

// closeCode maps an outbox close reason to a WebSocket close code.
func closeCode(reason string) int {
	switch reason {
	case "daemon stopped", "daemon shutting down":
		return websocket.CloseGoingAway
	case "slow consumer", "token no longer valid":
		return websocket.ClosePolicyViolation
	case "Daemon not ready":
		return websocket.CloseTryAgainLater
	}
	return websocket.CloseNormalClosure
}

// writeLoop sends the outbox's frames until it closes, then sends what is
// left and a close frame with the reason.
func (w *wsConn) writeLoop() {
	defer w.shutdown()
	var batch [][]byte
	for {
		select {
		case <-w.out.Wake():
		case <-w.out.Done():
			batch = w.out.Drain(batch[:0])
			// A client dropped for being slow does not get the backlog it
			// could not take: only the close frame, if its socket has room.
			if w.out.Reason() == "slow consumer" || w.write(batch) {
				w.closeFrame(closeCode(w.out.Reason()), w.out.Reason())
			}
			return
		case <-w.done:
			return
		}
		batch = w.out.Drain(batch[:0])
		if !w.write(batch) {
			return
		}
	}
}

func (w *wsConn) write(frames [][]byte) bool {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	for i, f := range frames {
		_ = w.c.SetWriteDeadline(time.Now().Add(writeWait))
		if err := w.c.WriteMessage(websocket.TextMessage, f); err != nil {
			w.stalled.Store(isWriteTimeout(err))
			w.g.log.Debug("websocket write failed; dropping client", "err", err)
			return false
		}
		frames[i] = nil
	}
	return true
}

// writeNow sends one frame from the handler goroutine (error replies).
func (w *wsConn) writeNow(frame []byte) bool { return w.write([][]byte{frame}) }

func (w *wsConn) closeFrame(code int, reason string) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	msg := websocket.FormatCloseMessage(code, reason)
	_ = w.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

// shutdown closes the connection once; the reader then returns.
func (w *wsConn) shutdown() {
	w.once.Do(func() {
		close(w.done)
		w.out.Close("closed")
		_ = w.c.Close()
		w.g.wsMu.Lock()
		delete(w.g.wsConns, w)
		w.g.wsGoneLocked(w)
		w.g.wsMu.Unlock()
	})
}

// refuse closes a just-upgraded connection with a code and reason.
func (w *wsConn) refuse(code int, reason string) {
	w.closeFrame(code, reason)
	w.shutdown()
}

// discardReads reads (and drops) client frames until the client goes away,
// so close frames and pings are handled.
func (w *wsConn) discardReads() {
	for {
		if _, _, err := w.c.NextReader(); err != nil {
			return
		}
	}
}

// closeWebSockets closes every client with a reason (daemon shutdown).
func (g *Gateway) closeWebSockets(reason string) {
	g.wsMu.Lock()
	conns := make([]*wsConn, 0, len(g.wsConns))
	for w := range g.wsConns {
		conns = append(conns, w)
	}
	g.wsMu.Unlock()
	for _, w := range conns {
		w.out.Close(reason)
	}
	deadline := time.Now().Add(time.Second)
	for _, w := range conns {
		select {
		case <-w.done:
		case <-time.After(time.Until(deadline)):
			w.shutdown()
		}
	}
}

// wsUnavailable is the HTTP refusal used before an upgrade is possible.
func wsUnavailable(c echo.Context) error {
	return detail(c, http.StatusServiceUnavailable, messages.ErrBackendNotRunning.Detail)
}
