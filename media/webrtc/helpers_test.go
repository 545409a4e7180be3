package webrtc

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

const waitLong = 10 * time.Second

func testLogger() *slog.Logger {
	if os.Getenv("WEBRTC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newProducer builds a loopback-only producer served by an httptest server
// on 127.0.0.1; both are closed at the end of the test.
func newProducer(t *testing.T, cfg Config) (*Producer, string) {
	t.Helper()
	cfg.LoopbackOnly = true
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		_ = p.Close()
		srv.Close()
	})
	return p, "ws" + strings.TrimPrefix(srv.URL, "http")
}

// transport is a consumer's signalling link: a WebSocket or an in-process Conn.
type transport interface {
	trySend(v any) error
	inbox() <-chan Message
	close()
}

type wsTransport struct {
	c   *websocket.Conn
	wmu sync.Mutex // one writer at a time: the test and pion's candidate callback
	in  chan Message
	// closeErr is set when the server ends the connection.
	mu       sync.Mutex
	closeErr error
	done     chan struct{}
}

func dialWS(t *testing.T, url string, hdr http.Header) *wsTransport {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	w := &wsTransport{c: c, in: make(chan Message, 1024), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer close(w.in)
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				w.mu.Lock()
				w.closeErr = err
				w.mu.Unlock()
				return
			}
			var m Message
			if err := json.Unmarshal(data, &m); err != nil {
				t.Errorf("server sent invalid JSON %q: %v", data, err)
				return
			}
			w.in <- m
		}
	}()
	t.Cleanup(w.close)
	return w
}

func (w *wsTransport) trySend(v any) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if b, ok := v.([]byte); ok {
		return w.c.WriteMessage(websocket.TextMessage, b)
	}
	return w.c.WriteJSON(v)
}

func (w *wsTransport) inbox() <-chan Message { return w.in }
func (w *wsTransport) close()                { _ = w.c.Close() }

// closedWith waits for the server to end the connection and returns the error
// the reader saw (a *websocket.CloseError when it sent a close frame).
func (w *wsTransport) closedWith(t *testing.T) error {
	t.Helper()
	for {
		select {
		case _, ok := <-w.in:
			if !ok {
				w.mu.Lock()
				defer w.mu.Unlock()
				return w.closeErr
			}
		case <-time.After(waitLong):
			t.Fatal("connection not closed")
		}
	}
}

// inprocTransport is an InProcPeer feeding the same inbox.
type inprocTransport struct {
	conn   *Conn
	in     chan Message
	closed chan string
}

func (i *inprocTransport) Deliver(msg []byte) {
	var m Message
	if err := json.Unmarshal(msg, &m); err != nil {
		panic(err)
	}
	i.in <- m
}
func (i *inprocTransport) Closed(reason string) {
	i.closed <- reason
	close(i.in) // Closed comes after the last Deliver
}

func (i *inprocTransport) trySend(v any) error {
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return err
		}
	}
	return i.conn.Send(b)
}
func (i *inprocTransport) inbox() <-chan Message { return i.in }
func (i *inprocTransport) close()                { i.conn.Close() }

func connectInProc(t *testing.T, p *Producer) *inprocTransport {
	t.Helper()
	it := &inprocTransport{in: make(chan Message, 1024), closed: make(chan string, 1)}
	c, err := p.Connect(it)
	if err != nil {
		t.Fatal(err)
	}
	it.conn = c
	t.Cleanup(c.Close)
	return it
}

// send sends a message from the test goroutine.
func send(t *testing.T, tr transport, v any) {
	t.Helper()
	if err := tr.trySend(v); err != nil {
		t.Fatalf("signalling send: %v", err)
	}
}

// next returns the next message or fails.
func next(t *testing.T, tr transport) Message {
	t.Helper()
	select {
	case m, ok := <-tr.inbox():
		if !ok {
			t.Fatal("signalling connection closed")
		}
		return m
	case <-time.After(waitLong):
		t.Fatal("no signalling message")
	}
	return Message{}
}

// expect returns the next message, which must be of type typ.
func expect(t *testing.T, tr transport, typ string) Message {
	t.Helper()
	m := next(t, tr)
	if m.Type != typ {
		t.Fatalf("got %+v, want a %s message", m, typ)
	}
	return m
}

// consumerAPI is a pion API for the test consumers: default codecs and
// interceptors, loopback candidates only, no mDNS.
func consumerAPI(t *testing.T) *pion.API {
	t.Helper()
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	se := pion.SettingEngine{LoggerFactory: pionLogs{testLogger()}}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))
}

// consumer plays the part of gstwebrtc-api: it registers as a listener,
// lists producers, starts a session, answers the robot's offer and trickles
// its candidates.
type consumer struct {
	t         *testing.T
	tr        transport
	peerID    string
	sessionID string
	offer     string
	pc        *pion.PeerConnection
	mic       *pion.TrackLocalStaticRTP

	events    chan Message // messages other than ICE once the session runs
	channels  chan *pion.DataChannel
	video     chan *rtp.Packet
	audio     chan *rtp.Packet
	connected chan struct{}
	pcClosed  chan struct{}
}

// handshake does welcome -> setPeerStatus(listener) -> peerStatusChanged ->
// list, as gstwebrtc-api does, and returns the producers listed.
func (c *consumer) handshake(meta string) []PeerEntry {
	t := c.t
	t.Helper()
	w := expect(t, c.tr, TypeWelcome)
	if w.PeerID == "" {
		t.Fatal("welcome without peerId")
	}
	c.peerID = w.PeerID
	send(t, c.tr, map[string]any{"type": "setPeerStatus", "roles": []string{"listener"}, "meta": json.RawMessage(meta)})
	ps := expect(t, c.tr, TypePeerStatusChanged)
	if ps.PeerID != c.peerID || len(ps.Roles) != 1 || ps.Roles[0] != RoleListener || string(ps.Meta) != meta {
		t.Fatalf("peerStatusChanged %+v, want own id %s, roles [listener], meta %s", ps, c.peerID, meta)
	}
	send(t, c.tr, map[string]any{"type": "list"})
	l := expect(t, c.tr, TypeList)
	send(t, c.tr, map[string]any{"type": "listConsumers"})
	lc := expect(t, c.tr, TypeListConsumers)
	if lc.Consumers != nil && len(lc.Consumers) != 0 {
		t.Fatalf("listConsumers: %+v", lc)
	}
	return l.Producers
}

// start sends startSession and reads sessionStarted and the offer; the offer
// must come before any candidate.
func (c *consumer) start(producerID string) {
	t := c.t
	t.Helper()
	send(t, c.tr, map[string]any{"type": "startSession", "peerId": producerID})
	ss := expect(t, c.tr, TypeSessionStarted)
	if ss.PeerID != producerID || ss.SessionID == "" {
		t.Fatalf("sessionStarted %+v: want peerId %s and a sessionId", ss, producerID)
	}
	c.sessionID = ss.SessionID
	m := next(t, c.tr)
	if m.Type != TypePeer || m.SDP == nil {
		t.Fatalf("first message after sessionStarted is %+v, want the offer (no ICE before the offer)", m)
	}
	if m.SessionID != c.sessionID || m.SDP.Type != "offer" {
		t.Fatalf("offer %+v", m)
	}
	c.offer = m.SDP.SDP
}

// answer builds the consumer's PeerConnection, optionally with a microphone
// track, answers and then pumps the signalling messages: ICE is applied,
// everything else goes to events.
func (c *consumer) answer(api *pion.API, withMic bool) {
	t := c.t
	t.Helper()
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c.pc = pc
	t.Cleanup(func() { _ = pc.GracefulClose() })
	c.events = make(chan Message, 64)
	c.channels = make(chan *pion.DataChannel, 4)
	c.video = make(chan *rtp.Packet, 256)
	c.audio = make(chan *rtp.Packet, 256)
	c.connected = make(chan struct{})
	c.pcClosed = make(chan struct{})
	var once, closeOnce sync.Once
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		switch s {
		case pion.PeerConnectionStateConnected:
			once.Do(func() { close(c.connected) })
		case pion.PeerConnectionStateClosed:
			closeOnce.Do(func() { close(c.pcClosed) })
		}
	})
	pc.OnDataChannel(func(dc *pion.DataChannel) { c.channels <- dc })
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		out := c.video
		if tr.Kind() == pion.RTPCodecTypeAudio {
			out = c.audio
		}
		go func() {
			for {
				pkt, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				select {
				case out <- pkt:
				default:
				}
			}
		}()
	})
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: c.offer}); err != nil {
		t.Fatal(err)
	}
	if withMic {
		c.mic, err = pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "consumer")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTrack(c.mic); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnICECandidate(func(ic *pion.ICECandidate) {
		if ic == nil {
			return
		}
		j := ic.ToJSON()
		// As the browser sends it: RTCIceCandidate.toJSON().
		_ = c.tr.trySend(map[string]any{"type": "peer", "sessionId": c.sessionID, "ice": map[string]any{
			"candidate": j.Candidate, "sdpMid": j.SDPMid, "sdpMLineIndex": j.SDPMLineIndex, "usernameFragment": nil}})
	})
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(ans); err != nil {
		t.Fatal(err)
	}
	send(t, c.tr, map[string]any{"type": "peer", "sessionId": c.sessionID, "sdp": map[string]string{"type": "answer", "sdp": ans.SDP}})
	go c.pump()
}

func (c *consumer) pump() {
	for m := range c.tr.inbox() {
		if m.Type == TypePeer && m.ICE != nil {
			if m.SessionID != c.sessionID {
				c.t.Errorf("candidate for session %s, want %s", m.SessionID, c.sessionID)
			}
			_ = c.pc.AddICECandidate(pion.ICECandidateInit{Candidate: m.ICE.Candidate, SDPMid: m.ICE.SDPMid, SDPMLineIndex: m.ICE.SDPMLineIndex})
			continue
		}
		c.events <- m
	}
	close(c.events)
}

func (c *consumer) waitConnected() {
	c.t.Helper()
	select {
	case <-c.connected:
	case <-time.After(waitLong):
		c.t.Fatalf("consumer not connected (state %s)", c.pc.ConnectionState())
	}
}

// channel waits for the robot-created channel with this label.
func (c *consumer) channel(label string) *pion.DataChannel {
	c.t.Helper()
	deadline := time.After(waitLong)
	for {
		select {
		case dc := <-c.channels:
			if dc.Label() == label {
				return dc
			}
		case <-deadline:
			c.t.Fatalf("no %q data channel", label)
		}
	}
}

// event waits for the next non-ICE signalling message.
func (c *consumer) event() Message {
	c.t.Helper()
	select {
	case m, ok := <-c.events:
		if !ok {
			c.t.Fatal("signalling closed")
		}
		return m
	case <-time.After(waitLong):
		c.t.Fatal("no signalling event")
	}
	return Message{}
}

// eventSkippingPeers is event without the peerStatusChanged notices other
// listeners cause.
func (c *consumer) eventSkippingPeers() Message {
	c.t.Helper()
	for {
		if m := c.event(); m.Type != TypePeerStatusChanged {
			return m
		}
	}
}

// connect runs a full consumer: handshake, session, answer, connected.
func connectConsumer(t *testing.T, tr transport, p *Producer, withMic bool) *consumer {
	t.Helper()
	c := &consumer{t: t, tr: tr}
	c.handshake(`{"name":"test-consumer"}`)
	c.start(p.ID())
	c.answer(consumerAPI(t), withMic)
	c.waitConnected()
	return c
}

// vp8Packet is a synthetic VP8 RTP packet whose payload carries n.
func vp8Packet(seq uint16, n int) []byte {
	payload := append([]byte{0x10, 0x00}, []byte("frame-"+itoa(n))...)
	b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, PayloadType: 96, SequenceNumber: seq,
		Timestamp: uint32(seq) * 3000, SSRC: 0x1234}, Payload: payload}).Marshal()
	return b
}

func opusPacket(seq uint16, tag string) []byte {
	b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq,
		Timestamp: uint32(seq) * 960, SSRC: 0x5678}, Payload: []byte(tag)}).Marshal()
	return b
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// until calls f every 10 ms until it reports true or the deadline passes.
func until(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
