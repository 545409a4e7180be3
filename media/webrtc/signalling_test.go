package webrtc

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func closeCode(t *testing.T, err error) int {
	t.Helper()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("connection ended with %v, want a close frame", err)
	}
	return ce.Code
}

func TestCheckOrigin(t *testing.T) {
	allowed := map[string]bool{"http://localhost:1420": true, "tauri://localhost": true}
	_, url := newProducer(t, Config{CheckOrigin: func(r *http.Request) bool {
		o := r.Header.Get("Origin")
		return o == "" || allowed[o]
	}})
	_, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v, response %v; want 403", err, resp)
	}
	expect(t, dialWS(t, url, http.Header{"Origin": {"http://localhost:1420"}}), TypeWelcome)
	expect(t, dialWS(t, url, nil), TypeWelcome) // native consumers send no Origin

	// Without CheckOrigin, gorilla's same-origin rule applies.
	_, url = newProducer(t, Config{})
	_, resp, err = websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin, default check: err %v, response %v; want 403", err, resp)
	}
}

func TestOversizeMessageClosesConnection(t *testing.T) {
	_, url := newProducer(t, Config{MaxMessageSize: 1024})
	tr := dialWS(t, url, nil)
	expect(t, tr, TypeWelcome)
	send(t, tr, []byte(`{"type":"list","pad":"`+strings.Repeat("x", 2048)+`"}`))
	if code := closeCode(t, tr.closedWith(t)); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want %d", code, websocket.CloseMessageTooBig)
	}
}

func TestMalformedAndUnknownMessages(t *testing.T) {
	p, url := newProducer(t, Config{})
	tr := dialWS(t, url, nil)
	expect(t, tr, TypeWelcome)
	for _, bad := range []string{
		`{"type":`,
		`[1,2]`,
		`{"type":"peer","sessionId":"x"}`,
		`{"type":"setPeerStatus","roles":["king"]}`,
		`{"type":"setPeerStatus","roles":["listener"],"meta":"a string"}`,
		`{"type":"startSession"}`,
		`{"type":"list","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	} {
		send(t, tr, []byte(bad))
		if m := expect(t, tr, TypeError); m.Details == "" {
			t.Fatalf("%s: error without details", bad)
		}
	}
	// Unknown types are ignored: the next reply is the list's.
	send(t, tr, []byte(`{"type":"bogus","x":1}`))
	send(t, tr, []byte(`{"type":"list"}`))
	if m := expect(t, tr, TypeList); len(m.Producers) != 1 || m.Producers[0].ID != p.ID() {
		t.Fatalf("list %+v", m)
	}
	// Binary frames are refused, the connection stays.
	if err := tr.c.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"list"}`)); err != nil {
		t.Fatal(err)
	}
	expect(t, tr, TypeError)
	send(t, tr, []byte(`{"type":"setProtocolVersion","version":"v1_1"}`))
	if m := expect(t, tr, TypeError); !strings.Contains(m.Details, "first message") {
		t.Fatalf("late setProtocolVersion: %+v", m)
	}
}

func TestRemoteProducerRefused(t *testing.T) {
	p, url := newProducer(t, Config{})
	tr := dialWS(t, url, nil)
	expect(t, tr, TypeWelcome)
	send(t, tr, map[string]any{"type": "setPeerStatus", "roles": []string{"producer"}, "meta": map[string]string{"name": "reachymini"}})
	if m := expect(t, tr, TypeError); !strings.Contains(m.Details, "producer") {
		t.Fatalf("error %+v", m)
	}
	send(t, tr, map[string]any{"type": "list"})
	if m := expect(t, tr, TypeList); len(m.Producers) != 1 || m.Producers[0].ID != p.ID() {
		t.Fatalf("list after a refused producer: %+v", m.Producers)
	}
	send(t, tr, map[string]any{"type": "startSession", "peerId": "someone-else"})
	if m := expect(t, tr, TypeError); !strings.Contains(m.Details, "not found") {
		t.Fatalf("startSession with an unknown peer: %+v", m)
	}
	send(t, tr, map[string]any{"type": "startSession", "peerId": p.ID(), "offer": "v=0"})
	if m := expect(t, tr, TypeError); !strings.Contains(m.Details, "offer") {
		t.Fatalf("consumer offer: %+v", m)
	}
}

// Listeners hear of other peers' status and of their departure.
func TestListenersNotified(t *testing.T) {
	_, url := newProducer(t, Config{})
	a := &consumer{t: t, tr: dialWS(t, url, nil)}
	a.handshake(`{"name":"a"}`)
	b := &consumer{t: t, tr: dialWS(t, url, nil)}
	b.handshake(`{"name":"b"}`)
	if m := expect(t, a.tr, TypePeerStatusChanged); m.PeerID != b.peerID || len(m.Roles) != 1 || string(m.Meta) != `{"name":"b"}` {
		t.Fatalf("a heard %+v", m)
	}
	// The same status again is no change and is not announced.
	send(t, b.tr, map[string]any{"type": "setPeerStatus", "roles": []string{"listener"}, "meta": map[string]string{"name": "b"}})
	b.tr.close()
	if m := expect(t, a.tr, TypePeerStatusChanged); m.PeerID != b.peerID || len(m.Roles) != 0 {
		t.Fatalf("a heard %+v, want b with no roles", m)
	}
}

// A peer that is not answered (a session of another consumer) gets an error.
func TestPeerMessageFromStranger(t *testing.T) {
	p, url := newProducer(t, Config{})
	a := &consumer{t: t, tr: dialWS(t, url, nil)}
	a.handshake(`{}`)
	a.start(p.ID())
	b := dialWS(t, url, nil)
	expect(t, b, TypeWelcome)
	send(t, b, map[string]any{"type": "peer", "sessionId": a.sessionID, "sdp": map[string]string{"type": "answer", "sdp": "v=0"}})
	if m := expect(t, b, TypeError); !strings.Contains(m.Details, "not part of") {
		t.Fatalf("got %+v", m)
	}
	send(t, b, map[string]any{"type": "endSession", "sessionId": a.sessionID})
	expect(t, b, TypeError)
	if len(p.Sessions()) != 1 {
		t.Fatal("a stranger ended a's session")
	}
	// An offer from the consumer is refused; a bad answer ends the session.
	send(t, a.tr, map[string]any{"type": "peer", "sessionId": a.sessionID, "sdp": map[string]string{"type": "offer", "sdp": "v=0"}})
	for {
		if m := next(t, a.tr); m.Type == TypeError {
			break
		} else if m.Type != TypePeer {
			t.Fatalf("got %+v", m)
		}
	}
	send(t, a.tr, map[string]any{"type": "peer", "sessionId": a.sessionID, "sdp": map[string]string{"type": "answer", "sdp": "garbage"}})
	for got := map[string]bool{}; !got[TypeError] || !got[TypeEndSession]; {
		m := next(t, a.tr)
		got[m.Type] = true
		if m.Type == TypeEndSession && m.Reason != ReasonInvalidSDP {
			t.Fatalf("end reason %q", m.Reason)
		}
	}
}

func TestMaxConns(t *testing.T) {
	_, url := newProducer(t, Config{MaxConns: 1})
	expect(t, dialWS(t, url, nil), TypeWelcome)
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second connection: err %v, response %v; want 503", err, resp)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	_, url := newProducer(t, Config{HandshakeTimeout: 200 * time.Millisecond})
	tr := dialWS(t, url, nil)
	expect(t, tr, TypeWelcome)
	if code := closeCode(t, tr.closedWith(t)); code != websocket.ClosePolicyViolation {
		t.Fatalf("close code %d", code)
	}
}

// A client that stops answering pings is cut off.
func TestKeepAliveTimeout(t *testing.T) {
	_, url := newProducer(t, Config{PingInterval: 50 * time.Millisecond})
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetPingHandler(func(string) error { return nil }) // no pong
	if err := c.WriteJSON(map[string]any{"type": "list"}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitLong))
	for {
		_, _, err := c.ReadMessage()
		if err != nil {
			if code := closeCode(t, err); code != websocket.ClosePolicyViolation {
				t.Fatalf("close code %d", code)
			}
			return
		}
	}
}

// blockingPeer is an in-process peer whose Deliver blocks until released.
type blockingPeer struct {
	release chan struct{}
	closed  chan string
}

func (b *blockingPeer) Deliver([]byte)       { <-b.release }
func (b *blockingPeer) Closed(reason string) { b.closed <- reason }

// A peer that does not drain its queue is cut off with a reason; the
// producer is not held up.
func TestSlowPeerCutOff(t *testing.T) {
	p, _ := newProducer(t, Config{SendQueue: 4})
	bp := &blockingPeer{release: make(chan struct{}), closed: make(chan string, 1)}
	c, err := p.Connect(bp)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20 && err == nil; i++ {
		err = c.Send([]byte(`{"type":"list"}`))
	}
	if !errors.Is(err, ErrPeerConnClose) {
		t.Fatalf("send to a cut-off peer: %v", err)
	}
	close(bp.release)
	select {
	case reason := <-bp.closed:
		if !strings.Contains(reason, "slow") {
			t.Fatalf("reason %q", reason)
		}
	case <-time.After(waitLong):
		t.Fatal("slow peer not closed")
	}
}
