package webrtc

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"
)

// recorder collects the daemon-side callbacks.
type recorder struct {
	mu       sync.Mutex
	starts   []string
	ends     map[string]string
	commands [][]byte
	audio    map[string][][]byte
	endCh    chan string
	keyframe int
}

func newRecorder() *recorder {
	return &recorder{ends: map[string]string{}, audio: map[string][][]byte{}, endCh: make(chan string, 16)}
}

func (r *recorder) config() Config {
	return Config{
		OnSessionStart: func(s *Session) {
			r.mu.Lock()
			r.starts = append(r.starts, s.ID())
			r.mu.Unlock()
		},
		OnSessionEnd: func(s *Session, reason string) {
			r.mu.Lock()
			r.ends[s.ID()] = reason
			r.mu.Unlock()
			r.endCh <- s.ID()
		},
		OnCommand: func(s *Session, msg []byte) {
			r.mu.Lock()
			r.commands = append(r.commands, append([]byte(nil), msg...))
			r.mu.Unlock()
			var cmd struct{ Type string }
			_ = json.Unmarshal(msg, &cmd)
			switch cmd.Type {
			case "subscribe_pose":
				if err := s.SubscribePose(true); err != nil {
					panic(err)
				}
			case "unsubscribe_pose":
				_ = s.SubscribePose(false)
			}
			_ = s.Send([]byte(`{"status":"ok","command":"` + cmd.Type + `"}`))
		},
		OnRemoteAudio: func(id string, pkt []byte) {
			r.mu.Lock()
			r.audio[id] = append(r.audio[id], append([]byte(nil), pkt...))
			r.mu.Unlock()
		},
		OnKeyframeRequest: func(string) {
			r.mu.Lock()
			r.keyframe++
			r.mu.Unlock()
		},
		PoseState: func() []byte { return []byte(`{"head_pose":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"body_yaw":0}`) },
	}
}

func (r *recorder) waitEnd(t *testing.T, id string) string {
	t.Helper()
	deadline := time.After(waitLong)
	for {
		r.mu.Lock()
		reason, ok := r.ends[id]
		r.mu.Unlock()
		if ok {
			return reason
		}
		select {
		case <-r.endCh:
		case <-deadline:
			t.Fatalf("session %s did not end", id)
		}
	}
}

// checkOffer asserts what gstwebrtc-api and the TypeScript SDK need of the
// offer: video and audio each with an a=msid of one shared stream, audio
// sendrecv, and an SCTP m-line for the robot's channels.
func checkOffer(t *testing.T, offer string) {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		t.Fatalf("offer does not parse: %v\n%s", err, offer)
	}
	streams := map[string]string{}
	var app bool
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if kind == "application" {
			app = true
			continue
		}
		msid, ok := md.Attribute("msid")
		if !ok {
			t.Fatalf("%s m-line without a=msid:\n%s", kind, offer)
		}
		streams[kind] = strings.Fields(msid)[0]
		if kind == "audio" {
			if _, ok := md.Attribute("sendrecv"); !ok {
				t.Fatalf("audio m-line is not sendrecv:\n%s", offer)
			}
			if !strings.Contains(offer, "opus/48000/2") {
				t.Fatalf("no Opus in the offer:\n%s", offer)
			}
		}
	}
	if streams["video"] == "" || streams["video"] != streams["audio"] {
		t.Fatalf("msid streams %v: want video and audio in one stream", streams)
	}
	if !app {
		t.Fatalf("no data channel m-line:\n%s", offer)
	}
	// SDP lines must be CRLF separated: the TypeScript SDK splits on \r\n.
	if !strings.Contains(offer, "a=sendrecv\r\n") {
		t.Fatal("offer lines are not CRLF terminated")
	}
}

func TestSessionEndToEnd(t *testing.T) {
	rec := newRecorder()
	p, url := newProducer(t, rec.config())

	tr := dialWS(t, url, nil)
	c := &consumer{t: t, tr: tr}
	producers := c.handshake(`{"name":"reachy-desktop-app"}`)
	if len(producers) != 1 || producers[0].ID != p.ID() {
		t.Fatalf("producers %+v, want only %s", producers, p.ID())
	}
	var meta struct{ Name string }
	if err := json.Unmarshal(producers[0].Meta, &meta); err != nil || meta.Name != "reachymini" {
		t.Fatalf("producer meta %s, want name reachymini", producers[0].Meta)
	}
	c.start(p.ID())
	checkOffer(t, c.offer)
	c.answer(consumerAPI(t), true)
	c.waitConnected()

	// The robot created `data`, reliable and ordered.
	data := c.channel("data")
	if !data.Ordered() || data.MaxRetransmits() != nil || data.MaxPacketLifeTime() != nil {
		t.Fatalf("data channel ordered=%v maxRetransmits=%v maxPacketLifeTime=%v", data.Ordered(), data.MaxRetransmits(), data.MaxPacketLifeTime())
	}
	replies := make(chan string, 64)
	data.OnMessage(func(m pion.DataChannelMessage) { replies <- string(m.Data) })
	until(t, "data channel open", func() bool { return data.ReadyState() == pion.DataChannelStateOpen })

	// A command reaches OnCommand; its reply comes back.
	if err := data.SendText(`{"type":"get_state"}`); err != nil {
		t.Fatal(err)
	}
	if got := waitString(t, replies); got != `{"status":"ok","command":"get_state"}` {
		t.Fatalf("reply %s", got)
	}
	// Broadcast reaches it.
	p.Broadcast([]byte(`{"type":"update_progress","status":"done"}`))
	if got := waitString(t, replies); got != `{"type":"update_progress","status":"done"}` {
		t.Fatalf("broadcast %s", got)
	}

	// Video and audio written once reach the consumer, payload intact.
	var seq uint16
	gotVideo := func() bool {
		seq++
		if err := p.WriteVideoRTP(vp8Packet(seq, int(seq))); err != nil {
			t.Fatal(err)
		}
		select {
		case pkt := <-c.video:
			if !bytes.HasPrefix(pkt.Payload, []byte{0x10, 0x00, 'f', 'r', 'a', 'm', 'e', '-'}) {
				t.Fatalf("video payload %q", pkt.Payload)
			}
			return true
		default:
			return false
		}
	}
	until(t, "video RTP at the consumer", gotVideo)
	gotAudio := func() bool {
		seq++
		if err := p.WriteAudioRTP(opusPacket(seq, "robot-mic")); err != nil {
			t.Fatal(err)
		}
		select {
		case pkt := <-c.audio:
			if string(pkt.Payload) != "robot-mic" {
				t.Fatalf("audio payload %q", pkt.Payload)
			}
			return true
		default:
			return false
		}
	}
	until(t, "audio RTP at the consumer", gotAudio)

	// The consumer's microphone reaches OnRemoteAudio.
	until(t, "consumer audio at OnRemoteAudio", func() bool {
		seq++
		if _, err := c.mic.Write(opusPacket(seq, "consumer-mic")); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, pkt := range rec.audio[c.sessionID] {
			if bytes.HasSuffix(pkt, []byte("consumer-mic")) {
				return true
			}
		}
		return false
	})

	// subscribe_pose opens `pose` (unordered, no retransmits) without
	// renegotiation, and frames arrive at about 30 Hz with rising seq.
	if err := data.SendText(`{"type":"subscribe_pose"}`); err != nil {
		t.Fatal(err)
	}
	pose := c.channel("pose")
	if pose.Ordered() || pose.MaxRetransmits() == nil || *pose.MaxRetransmits() != 0 {
		t.Fatalf("pose channel ordered=%v maxRetransmits=%v", pose.Ordered(), pose.MaxRetransmits())
	}
	type frame struct {
		State json.RawMessage `json:"state"`
		Seq   uint64          `json:"seq"`
	}
	frames := make(chan frame, 1024)
	pose.OnMessage(func(m pion.DataChannelMessage) {
		var f frame
		if err := json.Unmarshal(m.Data, &f); err != nil {
			t.Errorf("pose frame %q: %v", m.Data, err)
		}
		frames <- f
	})
	first := waitFrame(t, frames)
	if !bytes.Contains(first.State, []byte(`"head_pose"`)) {
		t.Fatalf("pose state %s", first.State)
	}
	window := time.After(time.Second)
	n, last := 0, first.Seq
count:
	for {
		select {
		case f := <-frames:
			if f.Seq <= last {
				t.Fatalf("seq %d after %d", f.Seq, last)
			}
			last = f.Seq
			n++
		case <-window:
			break count
		}
	}
	if n < 10 || n > 60 {
		t.Fatalf("%d pose frames in 1 s, want about 30", n)
	}
	if reply := waitString(t, replies); reply != `{"status":"ok","command":"subscribe_pose"}` {
		t.Fatalf("subscribe reply %s", reply)
	}

	infos := p.Sessions()
	if len(infos) != 1 {
		t.Fatalf("sessions %+v", infos)
	}
	in := infos[0]
	if in.ID != c.sessionID || in.PeerID != c.peerID || in.State != "connected" || !in.RemoteAudio || !in.Pose ||
		in.Messages != 2 || in.InProc || !strings.HasPrefix(in.Remote, "127.0.0.1:") {
		t.Fatalf("session info %+v", in)
	}

	// The consumer ends the session: the robot closes its PeerConnection
	// (the consumer's follows on the DTLS close) and does not echo endSession.
	send(t, tr, map[string]any{"type": "endSession", "sessionId": c.sessionID})
	if reason := rec.waitEnd(t, c.sessionID); reason != ReasonConsumerEnded {
		t.Fatalf("end reason %q", reason)
	}
	select {
	case <-c.pcClosed:
	case <-time.After(waitLong):
		t.Fatalf("consumer PeerConnection not closed (state %s)", c.pc.ConnectionState())
	}
	if len(p.Sessions()) != 0 {
		t.Fatalf("sessions after end: %+v", p.Sessions())
	}
	send(t, tr, map[string]any{"type": "list"})
	if m := c.event(); m.Type != TypeList {
		t.Fatalf("after endSession got %+v, want only the list reply", m)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.starts) != 1 || rec.starts[0] != c.sessionID {
		t.Fatalf("OnSessionStart calls %v", rec.starts)
	}
}

func waitString(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(waitLong):
		t.Fatal("no data channel message")
	}
	return ""
}

func waitFrame[T any](t *testing.T, ch chan T) T {
	t.Helper()
	var f T
	select {
	case f = <-ch:
	case <-time.After(waitLong):
		t.Fatal("no pose frame")
	}
	return f
}

// A consumer that never answers is ended with ice_negotiation_timeout.
func TestICEDeadline(t *testing.T) {
	rec := newRecorder()
	cfg := rec.config()
	cfg.ICEDeadline = 300 * time.Millisecond
	p, url := newProducer(t, cfg)
	tr := dialWS(t, url, nil)
	c := &consumer{t: t, tr: tr}
	c.handshake(`{}`)
	c.start(p.ID())
	for {
		m := next(t, tr)
		if m.Type == TypePeer && m.ICE != nil {
			continue
		}
		if m.Type != TypeEndSession || m.SessionID != c.sessionID || m.Reason != ReasonICETimeout {
			t.Fatalf("got %+v, want endSession %s reason %s", m, c.sessionID, ReasonICETimeout)
		}
		break
	}
	if reason := rec.waitEnd(t, c.sessionID); reason != ReasonICETimeout {
		t.Fatalf("OnSessionEnd reason %q", reason)
	}
	if len(p.Sessions()) != 0 {
		t.Fatal("session still listed")
	}
}

// A protocol 1.1 peer (GStreamer's webrtcsrc) gets endSessionV1_1, with the
// reason as error only for failures.
func TestEndSessionV11(t *testing.T) {
	cfg := Config{ICEDeadline: 300 * time.Millisecond}
	p, url := newProducer(t, cfg)
	tr := dialWS(t, url, nil)
	send(t, tr, map[string]any{"type": "setProtocolVersion", "version": "v1_1"})
	c := &consumer{t: t, tr: tr}
	expect(t, tr, TypeWelcome)
	// webrtcsrc with a producer-peer-id registers with no roles and starts at once.
	send(t, tr, map[string]any{"type": "setPeerStatus", "roles": []string{}, "meta": nil})
	c.start(p.ID())
	for {
		m := next(t, tr)
		if m.Type == TypePeer {
			continue
		}
		if m.Type != TypeEndSessionV11 || m.Error == nil || *m.Error != ReasonICETimeout {
			t.Fatalf("got %+v, want endSessionV1_1 with error %s", m, ReasonICETimeout)
		}
		break
	}
	c.start(p.ID())
	p.EndSession(c.sessionID, "local_app_started")
	for {
		m := next(t, tr)
		if m.Type == TypePeer {
			continue
		}
		if m.Type != TypeEndSessionV11 || m.Error != nil || m.Reason != "local_app_started" {
			t.Fatalf("got %+v, want endSessionV1_1 without error", m)
		}
		break
	}
}

// EndSession from the daemon reaches the consumer; Close ends every session
// and closes every connection; two consumers each get media.
func TestTwoConsumersEndAndClose(t *testing.T) {
	rec := newRecorder()
	p, url := newProducer(t, rec.config())
	a := connectConsumer(t, dialWS(t, url, nil), p, false)
	b := connectConsumer(t, dialWS(t, url, nil), p, false)
	in := connectConsumer(t, connectInProc(t, p), p, false)
	if len(p.Sessions()) != 3 {
		t.Fatalf("sessions %+v", p.Sessions())
	}
	for _, s := range p.Sessions() {
		if s.InProc != (s.ID == in.sessionID) {
			t.Fatalf("session %+v: InProc wrong", s)
		}
	}

	var seq uint16
	for _, c := range []*consumer{a, b, in} {
		until(t, "video at every consumer", func() bool {
			seq++
			_ = p.WriteVideoRTP(vp8Packet(seq, int(seq)))
			select {
			case <-c.video:
				return true
			default:
				return false
			}
		})
	}

	// The daemon ends a's session: a is told why, b is untouched.
	if !p.EndSession(a.sessionID, "local_app_started") {
		t.Fatal("EndSession: unknown session")
	}
	if m := a.eventSkippingPeers(); m.Type != TypeEndSession || m.SessionID != a.sessionID || m.Reason != "local_app_started" {
		t.Fatalf("a got %+v", m)
	}
	if reason := rec.waitEnd(t, a.sessionID); reason != "local_app_started" {
		t.Fatalf("end reason %q", reason)
	}
	if p.EndSession(a.sessionID, "again") {
		t.Fatal("EndSession of an ended session reported true")
	}
	if got := p.Sessions(); len(got) != 2 {
		t.Fatalf("sessions %+v", got)
	}

	// Close ends b's and the in-process session and closes the connections.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*consumer{b, in} {
		if m := c.eventSkippingPeers(); m.Type != TypeEndSession || m.SessionID != c.sessionID || m.Reason != ReasonProducerClosed {
			t.Fatalf("got %+v, want endSession producer_closed", m)
		}
	}
	err := b.tr.(*wsTransport).closedWith(t)
	if ce, ok := err.(interface{ Error() string }); !ok || !strings.Contains(ce.Error(), "1001") {
		t.Fatalf("b's connection ended with %v, want close 1001 (going away)", err)
	}
	select {
	case reason := <-in.tr.(*inprocTransport).closed:
		if reason != "producer closed" {
			t.Fatalf("in-process peer closed with %q", reason)
		}
	case <-time.After(waitLong):
		t.Fatal("in-process peer not closed")
	}
	for _, id := range []string{b.sessionID, in.sessionID} {
		if reason := rec.waitEnd(t, id); reason != ReasonProducerClosed {
			t.Fatalf("end reason %q", reason)
		}
	}
	if _, err := p.Connect(&inprocTransport{}); err != ErrClosed {
		t.Fatalf("Connect after Close: %v", err)
	}
}

// A consumer whose signalling connection drops loses its session.
func TestConsumerDisconnectEndsSession(t *testing.T) {
	rec := newRecorder()
	p, url := newProducer(t, rec.config())
	tr := dialWS(t, url, nil)
	c := connectConsumer(t, tr, p, false)
	tr.close()
	if reason := rec.waitEnd(t, c.sessionID); reason != ReasonConsumerGone {
		t.Fatalf("end reason %q", reason)
	}
}

// MaxSessions: the extra consumer's session starts and ends at once.
func TestMaxSessions(t *testing.T) {
	p, url := newProducer(t, Config{MaxSessions: 1})
	a := &consumer{t: t, tr: dialWS(t, url, nil)}
	a.handshake(`{}`)
	a.start(p.ID())
	b := dialWS(t, url, nil)
	expect(t, b, TypeWelcome)
	send(t, b, map[string]any{"type": "startSession", "peerId": p.ID()})
	ss := expect(t, b, TypeSessionStarted)
	if m := expect(t, b, TypeEndSession); m.SessionID != ss.SessionID || m.Reason != ReasonTooManySessions {
		t.Fatalf("got %+v", m)
	}
}

// After Close (and the consumers' own teardown) no goroutine of the
// producer is left: connection loops, PeerConnection closers, RTP and RTCP
// readers, the pose loop.
func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	rec := newRecorder()
	cfg := rec.config()
	cfg.LoopbackOnly = true
	cfg.Logger = testLogger()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	a := connectConsumer(t, dialWS(t, url, nil), p, true)
	b := connectConsumer(t, connectInProc(t, p), p, false)
	dc := a.channel("data")
	until(t, "data open", func() bool { return dc.ReadyState() == pion.DataChannelStateOpen })
	if err := dc.SendText(`{"type":"subscribe_pose"}`); err != nil {
		t.Fatal(err)
	}
	a.channel("pose")
	var seq uint16
	until(t, "consumer audio at the robot", func() bool {
		seq++
		_, _ = a.mic.Write(opusPacket(seq, "x"))
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.audio[a.sessionID]) > 0
	})

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	for _, c := range []*consumer{a, b} {
		_ = c.pc.GracefulClose()
		c.tr.close()
	}
	deadline := time.Now().Add(waitLong)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A PLI from a consumer reaches OnKeyframeRequest.
func TestKeyframeRequest(t *testing.T) {
	rec := newRecorder()
	p, url := newProducer(t, rec.config())
	c := connectConsumer(t, dialWS(t, url, nil), p, false)
	var ssrc uint32
	var seq uint16
	until(t, "video", func() bool {
		seq++
		_ = p.WriteVideoRTP(vp8Packet(seq, 1))
		select {
		case pkt := <-c.video:
			ssrc = pkt.SSRC
			return true
		default:
			return false
		}
	})
	// The connection asked once by itself (TestKeyframeOnConnect).
	until(t, "the connection's keyframe request", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.keyframe == 1
	})
	until(t, "keyframe request", func() bool {
		if err := c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.keyframe > 1
	})
}

// A session that connects asks for a keyframe once, by itself: its video
// is decodable only from one on, and a consumer may never ask.
func TestKeyframeOnConnect(t *testing.T) {
	rec := newRecorder()
	p, url := newProducer(t, rec.config())
	c := connectConsumer(t, dialWS(t, url, nil), p, false)
	until(t, "the connection", func() bool {
		return c.pc.ConnectionState() == pion.PeerConnectionStateConnected
	})
	until(t, "a keyframe request", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.keyframe == 1
	})
	// Video flowing and no PLI sent: no more requests.
	var seq uint16
	until(t, "video", func() bool {
		seq++
		_ = p.WriteVideoRTP(vp8Packet(seq, 1))
		select {
		case <-c.video:
			return true
		default:
			return false
		}
	})
	rec.mu.Lock()
	n := rec.keyframe
	rec.mu.Unlock()
	if n != 1 {
		t.Errorf("%d keyframe requests, want the connection's one", n)
	}
}

// Candidates gathered before the offer is sent wait for it: the test holds
// the offer back until gathering is complete, and the consumer must still
// see the offer first, then the candidates.
func TestCandidatesWaitForOffer(t *testing.T) {
	p, url := newProducer(t, Config{})
	p.beforeOffer = func(pc *pion.PeerConnection) { <-pion.GatheringCompletePromise(pc) }
	tr := dialWS(t, url, nil)
	c := &consumer{t: t, tr: tr}
	c.handshake(`{}`)
	c.start(p.ID()) // fails unless the offer comes first
	if m := next(t, tr); m.Type != TypePeer || m.ICE == nil || m.SessionID != c.sessionID ||
		m.ICE.SDPMLineIndex == nil || !strings.HasPrefix(m.ICE.Candidate, "candidate:") {
		t.Fatalf("after the offer got %+v, want its queued candidates", m)
	}
}

// A consumer that closes its PeerConnection without endSession: the robot
// sees the DTLS close, ends the session and says so.
func TestConsumerClosesPeerConnection(t *testing.T) {
	rec := newRecorder()
	p, url := newProducer(t, rec.config())
	c := connectConsumer(t, dialWS(t, url, nil), p, false)
	if err := c.pc.Close(); err != nil {
		t.Fatal(err)
	}
	if reason := rec.waitEnd(t, c.sessionID); reason != ReasonPeerClosed {
		t.Fatalf("end reason %q", reason)
	}
	if m := c.eventSkippingPeers(); m.Type != TypeEndSession || m.Reason != ReasonPeerClosed {
		t.Fatalf("got %+v", m)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{VideoMimeType: "video/VP9"},
		{Meta: json.RawMessage(`"reachymini"`)},
		{Meta: json.RawMessage(`{"name":`)},
		{UDPPortMin: 5000, UDPPortMax: 4000},
		{ICEServers: []ICEServer{{}}},
		{ICEServers: []ICEServer{{URLs: []string{"http://example.com"}}}},
		{ICEServers: []ICEServer{{URLs: []string{"turn:127.0.0.1:3478"}}}},
	} {
		if p, err := New(cfg); err == nil {
			_ = p.Close()
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	p, err := New(Config{ICEServers: []ICEServer{{URLs: []string{"stun:127.0.0.1:3478"}},
		{URLs: []string{"turn:127.0.0.1:3478?transport=udp"}, Username: "u", Credential: "c"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SetICEServers([]ICEServer{{URLs: []string{"turns:127.0.0.1:5349"}}}); err == nil {
		t.Fatal("SetICEServers accepted TURN without credentials")
	}
	if err := p.SetICEServers([]ICEServer{{URLs: []string{"turns:127.0.0.1:5349"}, Username: "u", Credential: "c2"}}); err != nil {
		t.Fatal(err)
	}
}

// With H.264 configured the consumer gets H.264.
func TestH264Video(t *testing.T) {
	p, url := newProducer(t, Config{VideoMimeType: pion.MimeTypeH264})
	c := connectConsumer(t, dialWS(t, url, nil), p, false)
	var seq uint16
	until(t, "H.264 video", func() bool {
		seq++
		_ = p.WriteVideoRTP(vp8Packet(seq, 1)) // the payload is not inspected on the way
		select {
		case <-c.video:
			return true
		default:
			return false
		}
	})
	for _, tr := range c.pc.GetTransceivers() {
		if tr.Kind() == pion.RTPCodecTypeVideo {
			if got := tr.Receiver().Track().Codec().MimeType; got != pion.MimeTypeH264 {
				t.Fatalf("video codec %s", got)
			}
		}
	}
}
