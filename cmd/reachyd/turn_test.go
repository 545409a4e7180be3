package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	pion "github.com/pion/webrtc/v4"

	"reachyd/media/webrtc/webrtctest"
)

// turnServer is a pion/turn server on 127.0.0.1 with long-term (time
// windowed, HMAC) credentials, and a fake credentials endpoint in the
// protocol of turn.fastrtc.org that hands them out to a Bearer token.
type turnServer struct {
	addr     string // host:port of the TURN server (UDP)
	creds    *httptest.Server
	requests atomic.Int32 // credential requests answered with credentials
	refused  atomic.Int32 // requests refused (wrong or missing token)
	allocs   atomic.Int32 // TURN allocations made
}

const turnSecret = "reachyd-test-secret"

func startTURNServer(t *testing.T, token string) *turnServer {
	t.Helper()
	ts := &turnServer{}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = pc.LocalAddr().String()
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:       "reachyd.test",
		AuthHandler: turn.NewLongTermAuthHandler(turnSecret, nil),
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(net.Addr, net.Addr, string, string, string, net.Addr, int) { ts.allocs.Add(1) },
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.ParseIP("127.0.0.1"), Address: "127.0.0.1"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ts.creds = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token || r.URL.Query().Get("ttl") == "" || strings.Contains(r.URL.RawQuery, token) {
			ts.refused.Add(1)
			http.Error(w, `{"detail":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		user, pass, err := turn.GenerateLongTermCredentials(turnSecret, 10*time.Minute)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		ts.requests.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"iceServers": []any{map[string]any{
			"urls": []string{"turn:" + ts.addr + "?transport=udp"}, "username": user, "credential": pass}}})
	}))
	t.Cleanup(ts.creds.Close)
	return ts
}

// consumerCreds are credentials for the consumer's own allocation.
func (ts *turnServer) consumerCreds(t *testing.T) []pion.ICEServer {
	user, pass, err := turn.GenerateLongTermCredentials(turnSecret, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return []pion.ICEServer{{URLs: []string{"turn:" + ts.addr + "?transport=udp"}, Username: user, Credential: pass}}
}

func waitCount(t *testing.T, what string, n *atomic.Int32) {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); n.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s never happened", what)
		}
	}
}

func hasRelay(cands []string) bool {
	for _, c := range cands {
		if strings.Contains(c, " typ relay") {
			return true
		}
	}
	return false
}

// videoPackets waits for n video RTP packets (15 s at most).
func videoPackets(t *testing.T, c *webrtctest.Consumer, n int) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for got := 0; got < n; got++ {
		select {
		case <-c.Video:
		case <-deadline:
			t.Fatalf("only %d video packets arrived", got)
		}
	}
}

// TestTURNRelayOnlyConsumer: the daemon fetches TURN credentials with its
// token, offers relay candidates, and a consumer that may use nothing but
// its TURN relay gets the robot's video.
func TestTURNRelayOnlyConsumer(t *testing.T) {
	requireMedia(t)
	const token = "hf_turn_test_token"
	ts := startTURNServer(t, token)
	t.Setenv("REACHY_TURN_URL", ts.creds.URL+"/credentials")
	t.Setenv("REACHY_TURN_TTL", "600")
	t.Setenv("HF_TOKEN", token)
	t.Setenv("HF_TOKEN_PATH", filepath.Join(t.TempDir(), "token"))
	d := startMediaDaemon(t)
	waitCount(t, "a credentials request", &ts.requests)

	var c *webrtctest.Consumer
	for end := time.Now().Add(15 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var err error
		c, err = webrtctest.Dial(ctx, d.signallingURL(), webrtctest.Options{Name: "relay-only", ICEServers: ts.consumerCreds(t), RelayOnly: true})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		// The robot's candidates trickle in; its relay candidate comes once
		// its allocation is made.
		for wait := time.Now().Add(5 * time.Second); !hasRelay(c.RemoteCandidates()) && time.Now().Before(wait); {
			time.Sleep(20 * time.Millisecond)
		}
		if hasRelay(c.RemoteCandidates()) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the robot never offered a relay candidate: %q", c.RemoteCandidates())
		}
		_ = c.Close() // the session began before the credentials were applied
	}
	videoPackets(t, c, 30)

	pair, err := c.PeerConnection().SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected candidate pair: %v", err)
	}
	if pair.Local.Typ != pion.ICECandidateTypeRelay {
		t.Errorf("the consumer's selected candidate is %s, want relay", pair.Local.Typ)
	}
	if ts.allocs.Load() < 2 {
		t.Errorf("%d TURN allocations, want the robot's and the consumer's", ts.allocs.Load())
	}
	if ts.refused.Load() != 0 {
		t.Errorf("%d credential requests refused", ts.refused.Load())
	}

	// Media released and acquired: the new producer gets the credentials
	// it missed being built with.
	_ = c.Close()
	if code, _ := d.do("POST", "/api/media/release", nil); code != 200 {
		t.Fatal("release")
	}
	if code, _ := d.do("POST", "/api/media/acquire", nil); code != 200 {
		t.Fatal("acquire")
	}
	d.waitMedia(func(m mediaDetail) bool { return m.Signalling != "" && len(m.Pipelines) == 2 })
	c2 := dialConsumer2(t, d.signallingURL(), webrtctest.Options{Name: "relay-only-2", ICEServers: ts.consumerCreds(t), RelayOnly: true})
	for wait := time.Now().Add(10 * time.Second); !hasRelay(c2.RemoteCandidates()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatalf("after release and acquire, no relay candidate: %q", c2.RemoteCandidates())
		}
	}
	videoPackets(t, c2, 30)
}

func dialConsumer2(t *testing.T, url string, opt webrtctest.Options) *webrtctest.Consumer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := webrtctest.Dial(ctx, url, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestTURNCredentialsRefused: a credentials endpoint that refuses the
// token leaves media working without TURN.
func TestTURNCredentialsRefused(t *testing.T) {
	requireMedia(t)
	ts := startTURNServer(t, "the-right-token")
	t.Setenv("REACHY_TURN_URL", ts.creds.URL+"/credentials")
	t.Setenv("HF_TOKEN", "a-wrong-token")
	t.Setenv("HF_TOKEN_PATH", filepath.Join(t.TempDir(), "token"))
	d := startMediaDaemon(t)
	waitCount(t, "a refused credentials request", &ts.refused)

	c := dialConsumer(t, d.signallingURL(), nil)
	videoPackets(t, c, 30)
	if hasRelay(c.RemoteCandidates()) {
		t.Errorf("relay candidates without credentials: %q", c.RemoteCandidates())
	}
	if ts.requests.Load() != 0 || ts.allocs.Load() != 0 {
		t.Errorf("credentials handed out (%d) or allocations made (%d)", ts.requests.Load(), ts.allocs.Load())
	}
}
