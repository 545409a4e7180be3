package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"reachyd/actors/system"
	"reachyd/selfupdate"
	"reachyd/selfupdate/releasetest"
)

// updateGW is a wireless gateway whose updater installs from a local
// release server publishing 9.0.0 over a running 1.0.0.
func updateGW(t *testing.T, current string) (*testGW, *releasetest.Server, chan struct{}) {
	t.Helper()
	srv := releasetest.New(t)
	srv.Publish(releasetest.Release{Version: "9.0.0", Binary: releasetest.FakeBinary("9.0.0")})
	dir := t.TempDir()
	target := filepath.Join(dir, "reachyd")
	if err := os.WriteFile(target, releasetest.FakeBinary(current), 0o755); err != nil {
		t.Fatal(err)
	}
	restarted := make(chan struct{}, 1)
	u := &selfupdate.Updater{Source: &selfupdate.Source{URL: srv.IndexURL(), Keys: []ed25519.PublicKey{srv.Pub}},
		Current: current, Dir: filepath.Join(dir, "updates"), Target: target}
	tg := startGW(t, gwOptions{autostart: true, wireless: true,
		update: &system.UpdateConfig{Updater: u, Restart: func() { restarted <- struct{}{} }}})
	return tg, srv, restarted
}

// The data channel's start_update answers with the reference's reasons
// (spec 2.4) and, once accepted, runs the update to the restart.
func TestPeerStartUpdate(t *testing.T) {
	tg, srv, restarted := updateGW(t, "1.0.0")
	hold := make(chan struct{})
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == releasetest.BinaryPath("9.0.0") {
			<-hold
		}
		return false
	})
	p := newPeer()
	tg.call(p, `{"type":"start_update"}`, `{"status":"ok","command":"start_update"}`)
	tg.call(p, `{"type":"start_update","pre_release":true}`, `{"error":"Update already in progress","command":"start_update"}`)
	close(hold)
	select {
	case <-restarted:
	case <-time.After(20 * time.Second):
		t.Fatal("the update did not end in a restart")
	}
	// The routes answer too: installed, waiting for the restart.
	if code, body := tg.do("GET", "/update/available", nil); code != 400 || body != `{"detail":"Update is in progress"}` {
		t.Errorf("available after the install: %d %s", code, body)
	}
}

func TestPeerStartUpdateRefusals(t *testing.T) {
	tg, srv, _ := updateGW(t, "9.0.0")
	p := newPeer()
	tg.call(p, `{"type":"start_update"}`, `{"error":"No update available","command":"start_update"}`)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	srv.SetIndex(srv.Publish(releasetest.Release{Version: "9.1.0", Binary: releasetest.FakeBinary("9.1.0")}), other)
	tg.call(p, `{"type":"start_update"}`,
		`{"error":"Update availability check failed: the index's signature does not verify with a trusted key","command":"start_update"}`)
	tg.call(p, `{"type":"start_update","pre_release":"maybe"}`,
		`{"error":"Invalid command: start_update: pre_release: Input should be a valid boolean, unable to interpret input"}`)
	if code, body := tg.do("POST", "/api/daemon/stop?goto_sleep=false", nil); code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := tg.do("GET", "/api/daemon/status", nil)
		var st struct{ State string }
		if json.Unmarshal([]byte(body), &st) == nil && st.State == "stopped" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not stopped: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	tg.call(p, `{"type":"start_update"}`, `{"error":"Daemon is stopped","command":"start_update"}`)
}
