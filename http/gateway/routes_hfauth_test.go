package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/actors/system"
	"reachyd/hfauth"
	"reachyd/hfauth/hftest"
	"reachyd/messages"
)

// fakeRelay stands in for the relay actor: it records what it is told and
// answers the relay routes' asks.
type fakeRelay struct {
	mu   sync.Mutex
	told []string
}

func (f *fakeRelay) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *messages.HFTokenChanged:
		f.record("HFTokenChanged")
	case *messages.StartRelay:
		f.record("StartRelay")
	case *messages.GetRelayStatus:
		kit.Reply(ctx, messages.RelayStatus{State: messages.RelayConnected, IsConnected: true, PeerID: "p"})
	case *messages.RefreshRelay:
		kit.Reply(ctx, messages.RefreshRelayResult{Status: "requested", TokenAvailable: true})
	case *messages.GetCentralRobotStatus:
		kit.Reply(ctx, messages.CentralRobotStatus{Available: false, Robots: json.RawMessage("[]"), Reason: "http_503"})
	}
}

func (f *fakeRelay) record(s string) { f.mu.Lock(); f.told = append(f.told, s); f.mu.Unlock() }

// take waits for n messages and returns them.
func (f *fakeRelay) take(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		if len(f.told) >= n || time.Now().After(deadline) {
			out := f.told
			f.told = nil
			f.mu.Unlock()
			return out
		}
		f.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

// Every sign-in tells the relay the token changed, then to start; a
// sign-out, that the token changed. The relay routes ask the relay.
func TestHFAuthTellsTheRelay(t *testing.T) {
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	hub := hftest.New(t)
	hub.AddToken("hf_good", "alice", "laptop")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sys := &system.System{Kit: kit.NewSystem(log)}
	relay := &fakeRelay{}
	pid, err := sys.Kit.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return relay }), "relay")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Kit.AS.Shutdown() })
	sys.Relay = pid
	svc := hfauth.New(hfauth.Config{Hub: hfauth.Hub{Endpoint: hub.URL}, Store: &hfauth.Store{Path: t.TempDir() + "/token"}, ClientID: "c"})
	g := New(sys, Config{Version: "test", Log: log, HFAuth: svc})
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	tg := &testGW{t: t, base: srv.URL}

	tg.expect("POST", "/api/hf-auth/save-token", map[string]string{"token": "hf_good"}, 200, `{"status":"success","username":"alice","message":null}`)
	if got := relay.take(t, 2); !reflect.DeepEqual(got, []string{"HFTokenChanged", "StartRelay"}) {
		t.Errorf("after save-token: %v", got)
	}
	tg.expect("GET", "/api/hf-auth/relay-status", nil, 200, `{"state":"connected","message":null,"is_connected":true}`)
	tg.expect("POST", "/api/hf-auth/refresh-relay", nil, 200, `{"status":"requested","token_available":true}`)
	tg.expect("GET", "/api/hf-auth/central-robot-status", nil, 200, `{"available":false,"robots":[],"reason":"http_503"}`)
	tg.expect("DELETE", "/api/hf-auth/token", nil, 200, `{"status":"success"}`)
	if got := relay.take(t, 1); !reflect.DeepEqual(got, []string{"HFTokenChanged"}) {
		t.Errorf("after sign-out: %v", got)
	}

	// The device flow tells the relay once, on the poll that got the token.
	_, body := tg.do("POST", "/api/hf-auth/oauth/device/start", nil)
	var st hfauth.DeviceStart
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(body)
	}
	hub.Approve(st.UserCode, "dora")
	tg.expect("GET", "/api/hf-auth/oauth/device/status/"+st.SessionID, nil, 200, `{"status":"authorized","username":"dora"}`)
	tg.expect("GET", "/api/hf-auth/oauth/device/status/"+st.SessionID, nil, 200, `{"status":"authorized","username":"dora"}`)
	// An ask after the tells is answered after them (one mailbox, in order):
	// a second sign-in would be recorded by then.
	tg.expect("GET", "/api/hf-auth/relay-status", nil, 200, `{"state":"connected","message":null,"is_connected":true}`)
	if got := relay.take(t, 2); !reflect.DeepEqual(got, []string{"HFTokenChanged", "StartRelay"}) {
		t.Errorf("after the device flow: %v", got)
	}
}
