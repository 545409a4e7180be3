package webrtctest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"reachyd/media/webrtc"
)

// producer serves reachyd's real producer (loopback only) on an httptest
// server and feeds its video and audio tracks with numbered RTP packets
// every 10 ms until the test ends.
func producer(t *testing.T, cfg webrtc.Config) (*webrtc.Producer, string) {
	t.Helper()
	cfg.LoopbackOnly = true
	p, err := webrtc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			for _, pt := range []uint8{96, 111} {
				pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: 7},
					Payload: []byte{0x10, 0, 0, 0, byte(seq)}}
				b, _ := pkt.Marshal()
				if pt == 96 {
					_ = p.WriteVideoRTP(b)
				} else {
					_ = p.WriteAudioRTP(b)
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		wg.Wait()
		_ = p.Close()
		srv.Close()
	})
	return p, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestDialProducer: against reachyd's producer, a consumer gets a session,
// RTP on both tracks, replies to its commands on `data`, the pose channel,
// and the robot sees it leave when it closes.
func TestDialProducer(t *testing.T) {
	ended := make(chan string, 1)
	_, url := producer(t, webrtc.Config{
		OnCommand: func(s *webrtc.Session, msg []byte) {
			var m map[string]any
			_ = json.Unmarshal(msg, &m)
			if m["type"] == "subscribe_pose" {
				_ = s.SubscribePose(true)
			}
			b, _ := json.Marshal(map[string]any{"command": m["type"], "status": "ok"})
			_ = s.Send(b)
		},
		PoseState:    func() []byte { return []byte(`{"head_pose":[1]}`) },
		OnSessionEnd: func(_ *webrtc.Session, reason string) { ended <- reason },
	})
	var audio sync.WaitGroup
	audio.Add(1)
	var once sync.Once
	c, err := Dial(dialCtx(t), url, Options{OnAudio: func(*rtp.Packet) { once.Do(audio.Done) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.SessionID() == "" || !strings.Contains(c.Offer(), "m=video") {
		t.Fatalf("session %q, offer %q", c.SessionID(), c.Offer())
	}
	select {
	case p := <-c.Video:
		if len(p.Payload) != 5 {
			t.Fatalf("video payload %x", p.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no video RTP")
	}
	audio.Wait() // the callback replaced the channel
	select {
	case <-c.Audio:
		t.Fatal("audio went to the channel although OnAudio is set")
	default:
	}
	r, err := c.Command(dialCtx(t), map[string]string{"type": "get_state"}, ByCommand("get_state"))
	if err != nil || r["status"] != "ok" {
		t.Fatalf("reply %v, %v", r, err)
	}
	if _, err := c.Command(dialCtx(t), map[string]string{"type": "subscribe_pose"}, ByCommand("subscribe_pose")); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); len(c.PoseSeqs()) < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("pose frames %v", c.PoseSeqs())
		}
	}
	if dc := c.PoseChannel(); dc == nil || dc.Ordered() {
		t.Fatalf("pose channel %v", dc)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.WaitReply(short, ByCommand("never")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReply without a reply: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	select {
	case reason := <-ended:
		if reason != "peer_closed" && reason != "consumer_disconnected" {
			t.Fatalf("session ended with %q", reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the robot never saw the consumer leave")
	}
}

// TestDialMicrophone: the consumer's microphone reaches the producer.
func TestDialMicrophone(t *testing.T) {
	got := make(chan struct{}, 1)
	_, url := producer(t, webrtc.Config{OnRemoteAudio: func(string, []byte) {
		select {
		case got <- struct{}{}:
		default:
		}
	}})
	mic, err := pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "consumer")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(dialCtx(t), url, Options{Mic: mic})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for seq := uint16(0); ; seq++ {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			_ = mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: []byte{0xf8, 0xff, 0xfe}})
		}
	}()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the microphone never reached the producer")
	}
}

// fakeServer plays a scripted signalling server: script gets each
// consumer message in turn and returns what to send back.
func fakeServer(t *testing.T, script func(step int, in map[string]any) []string) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for _, m := range script(0, nil) {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(m))
		}
		for step := 1; ; step++ {
			var in map[string]any
			if ws.ReadJSON(&in) != nil {
				return
			}
			for _, m := range script(step, in) {
				_ = ws.WriteMessage(websocket.TextMessage, []byte(m))
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// upTo answers like the producer until the session starts; then the
// session's first messages.
func upTo(started string, then ...string) func(int, map[string]any) []string {
	return func(step int, in map[string]any) []string {
		switch {
		case step == 0:
			return []string{`{"type":"welcome","peerId":"me"}`}
		case in["type"] == "setPeerStatus":
			return []string{`{"type":"peerStatusChanged","peerId":"other","roles":[]}`, `{"type":"peerStatusChanged","peerId":"me","roles":["listener"]}`}
		case in["type"] == "list":
			return []string{`{"type":"list","producers":[{"id":"robot","meta":{"name":"reachymini"}}]}`}
		case in["type"] == "startSession":
			return append([]string{started}, then...)
		}
		return nil
	}
}

const offerSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

// TestDialProtocolChecks: what gstwebrtc-api would fail on is an error.
func TestDialProtocolChecks(t *testing.T) {
	started := `{"type":"sessionStarted","peerId":"robot","sessionId":"s1"}`
	offer := `{"type":"peer","sessionId":"s1","sdp":{"type":"offer","sdp":"` + strings.ReplaceAll(offerSDP, "\r\n", `\r\n`) + `"}}`
	ice := `{"type":"peer","sessionId":"s1","ice":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMLineIndex":0}}`
	for _, tt := range []struct {
		name   string
		script func(int, map[string]any) []string
		want   error
	}{
		{"ICE before the offer", upTo(started, ice, offer), ErrICEBeforeOffer},
		{"no session id", upTo(`{"type":"sessionStarted","peerId":"robot"}`, offer), ErrProtocol},
		{"session of another producer", upTo(`{"type":"sessionStarted","peerId":"nobody","sessionId":"s1"}`, offer), ErrProtocol},
		{"an answer first", upTo(started, strings.Replace(offer, `"type":"offer"`, `"type":"answer"`, 1)), ErrProtocol},
		{"no reachymini", func(step int, in map[string]any) []string {
			if in["type"] == "list" {
				return []string{`{"type":"list","producers":[{"id":"cam","meta":{"name":"webcam"}}]}`}
			}
			return upTo(started)(step, in)
		}, ErrNoProducer},
		{"an error instead of the list", func(step int, in map[string]any) []string {
			if in["type"] == "list" {
				return []string{`{"type":"error","details":"nope"}`}
			}
			return upTo(started)(step, in)
		}, ErrProtocol},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(dialCtx(t), fakeServer(t, tt.script), Options{})
			if !errors.Is(err, tt.want) {
				if c != nil {
					c.Close()
				}
				t.Fatalf("Dial: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDialContext: a server that never answers does not hold Dial past
// its context.
func TestDialContext(t *testing.T) {
	url := fakeServer(t, func(int, map[string]any) []string { return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Dial(ctx, url, Options{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Dial: %v, want the deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Dial ignored its context")
	}
}
