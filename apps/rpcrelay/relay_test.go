package rpcrelay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeApp is an app's /rpc WebSocket server:
//
//	test.echo      -> result {"params": params}
//	test.error     -> error {code 1, message "nope", data {reason "app_said_no"}}
//	test.notify    -> a notification "evt.ping" to the relay, then an echo
//	test.stray     -> a response with an id the relay never used, then an echo
//	test.hold      -> no answer until release() (then an echo)
//	test.close     -> the connection closes
//	test.big       -> a reply of 300 KiB
type fakeApp struct {
	srv      *httptest.Server
	mu       sync.Mutex
	frames   []map[string]any
	held     []map[string]any
	conn     *websocket.Conn
	connects atomic.Int32
}

func newFakeApp(t *testing.T) *fakeApp {
	a := &fakeApp{}
	up := websocket.Upgrader{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rpc" {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		a.connects.Add(1)
		a.mu.Lock()
		a.conn = c
		a.mu.Unlock()
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			a.mu.Lock()
			a.frames = append(a.frames, m)
			a.mu.Unlock()
			if _, ok := m["id"]; !ok {
				continue // a notification
			}
			switch m["method"] {
			case "test.error":
				a.send(map[string]any{"jsonrpc": "2.0", "id": m["id"], "error": map[string]any{"code": 1, "message": "nope", "data": map[string]any{"reason": "app_said_no"}}})
			case "test.notify":
				a.send(map[string]any{"jsonrpc": "2.0", "method": "evt.ping", "params": map[string]any{"n": 1}})
				a.echo(m)
			case "test.stray":
				a.send(map[string]any{"jsonrpc": "2.0", "id": "someone-else", "result": 1})
				a.echo(m)
			case "test.hold":
				a.mu.Lock()
				a.held = append(a.held, m)
				a.mu.Unlock()
			case "test.close":
				_ = c.Close()
				return
			case "test.big":
				a.send(map[string]any{"jsonrpc": "2.0", "id": m["id"], "result": strings.Repeat("x", 300<<10)})
			default:
				a.echo(m)
			}
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeApp) send(v any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.conn.WriteJSON(v)
}

func (a *fakeApp) echo(m map[string]any) {
	a.send(map[string]any{"jsonrpc": "2.0", "id": m["id"], "result": map[string]any{"params": m["params"]}})
}

// waitHeld waits until n calls are held.
func (a *fakeApp) waitHeld(t *testing.T, n int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		a.mu.Lock()
		h := len(a.held)
		a.mu.Unlock()
		if h >= n {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%d calls held, want %d", h, n)
		}
	}
}

// release answers the held calls.
func (a *fakeApp) release() {
	a.mu.Lock()
	held := a.held
	a.held = nil
	a.mu.Unlock()
	for _, m := range held {
		a.echo(m)
	}
}

func (a *fakeApp) received() []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]map[string]any(nil), a.frames...)
}

func (a *fakeApp) url() string { return strings.Replace(a.srv.URL, "127.0.0.1", "0.0.0.0", 1) + "/" }

// fakeApps is the app manager.
type fakeApps struct {
	mu       sync.Mutex
	url      string
	running  string
	startErr error
	stops    int
	install  func(name string) error
}

func (f *fakeApps) Start(_ context.Context, name string) (Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return Status{}, f.startErr
	}
	f.running = name
	return Status{State: "starting", Name: name}, nil
}

func (f *fakeApps) Stop(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running == "" {
		return errors.New("No app is currently running")
	}
	f.running, f.url = "", ""
	f.stops++
	return nil
}

func (f *fakeApps) Status(context.Context) (Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running == "" {
		return Status{State: "idle"}, nil
	}
	return Status{State: "running", Name: f.running, Description: "d"}, nil
}

func (f *fakeApps) set(fn func(f *fakeApps)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeApps) runningApp() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

func (f *fakeApps) Install(_ context.Context, name string) error { return f.install(name) }

func (f *fakeApps) AppURL(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.url, nil
}

// peer collects the frames sent to one data-channel peer.
type peer struct{ ch chan []byte }

func newPeer() *peer { return &peer{ch: make(chan []byte, 1024)} }

func (p *peer) send(b []byte) { p.ch <- append([]byte(nil), b...) }

func (p *peer) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case b := <-p.ch:
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("reply %q: %v", b, err)
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no reply")
	}
	return nil
}

func (p *peer) none(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case b := <-p.ch:
		t.Fatalf("unexpected frame %s", b)
	case <-time.After(within):
	}
}

func reason(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	d, _ := e["data"].(map[string]any)
	s, _ := d["reason"].(string)
	return s
}

func code(m map[string]any) float64 {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}

func setup(t *testing.T, cfg Config) (*Relay, *fakeApp, *fakeApps, *peer) {
	t.Helper()
	app := newFakeApp(t)
	apps := &fakeApps{url: app.url(), running: "demo"}
	bc := newPeer()
	cfg.Apps, cfg.Broadcast = apps, bc.send
	r := New(cfg)
	t.Cleanup(r.Close)
	return r, app, apps, bc
}

func TestRelayIDRewrite(t *testing.T) {
	r, app, _, bc := setup(t, Config{})
	p := newPeer()
	r.Handle([]byte(`{"jsonrpc":"2.0","id":7,"method":"conversation.say","params":{"text":"hi"}}`), p.send)
	m := p.next(t)
	if m["id"] != float64(7) || m["result"].(map[string]any)["params"].(map[string]any)["text"] != "hi" {
		t.Fatalf("reply %v", m)
	}
	r.Handle([]byte(`{"jsonrpc":"2.0","id":"abc","method":"test.error"}`), p.send)
	m = p.next(t)
	if m["id"] != "abc" || reason(m) != "app_said_no" || code(m) != 1 {
		t.Fatalf("error reply %v", m)
	}
	got := app.received()
	if len(got) != 2 || got[0]["id"] != "relay-1" || got[1]["id"] != "relay-2" {
		t.Fatalf("the app saw %v", got)
	}
	if p := got[1]["params"]; p == nil {
		t.Error("params not sent as {} when absent")
	}
	bc.none(t, 50*time.Millisecond)
	if r.Pending() != 0 {
		t.Errorf("%d pending", r.Pending())
	}
}

func TestRelayConcurrentPeers(t *testing.T) {
	r, app, _, _ := setup(t, Config{MaxPending: 1000})
	const peers, calls = 4, 40
	var wg sync.WaitGroup
	for pi := range peers {
		p := newPeer()
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range calls {
				r.Handle(fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"x.echo","params":{"peer":%d,"i":%d}}`, i, pi, i), p.send)
			}
		}()
		go func() {
			defer wg.Done()
			seen := map[float64]bool{}
			for range calls {
				m := p.next(t)
				params := m["result"].(map[string]any)["params"].(map[string]any)
				if params["peer"] != float64(pi) || params["i"] != m["id"] {
					t.Errorf("peer %d got %v", pi, m)
				}
				seen[m["id"].(float64)] = true
			}
			if len(seen) != calls {
				t.Errorf("peer %d: %d distinct replies", pi, len(seen))
			}
			p.none(t, 20*time.Millisecond)
		}()
	}
	wg.Wait()
	if n := app.connects.Load(); n != 1 {
		t.Errorf("%d connections to the app, want 1", n)
	}
}

func TestRelayNotifications(t *testing.T) {
	r, app, _, bc := setup(t, Config{})
	p := newPeer()
	r.Handle([]byte(`{"jsonrpc":"2.0","method":"conversation.mute","params":{"on":true}}`), p.send)
	r.Handle([]byte(`{"jsonrpc":"2.0","id":1,"method":"test.notify"}`), p.send)
	if m := p.next(t); m["id"] != float64(1) {
		t.Fatalf("reply %v", m)
	}
	if m := bc.next(t); m["method"] != "evt.ping" {
		t.Fatalf("broadcast %v", m)
	}
	r.Handle([]byte(`{"jsonrpc":"2.0","id":2,"method":"test.stray"}`), p.send)
	if m := p.next(t); m["id"] != float64(2) {
		t.Fatalf("reply %v", m)
	}
	if m := bc.next(t); m["id"] != "someone-else" {
		t.Fatalf("uncorrelated frame not broadcast: %v", m)
	}
	p.none(t, 50*time.Millisecond)
	got := app.received()
	if _, hasID := got[0]["id"]; hasID || got[0]["method"] != "conversation.mute" {
		t.Errorf("the notification reached the app as %v", got[0])
	}
}

func TestRelayAppLost(t *testing.T) {
	r, app, _, _ := setup(t, Config{})
	p, q := newPeer(), newPeer()
	r.Handle([]byte(`{"jsonrpc":"2.0","id":"h1","method":"test.hold"}`), p.send)
	r.Handle([]byte(`{"jsonrpc":"2.0","id":"h2","method":"test.hold"}`), q.send)
	r.Handle([]byte(`{"jsonrpc":"2.0","id":"c","method":"test.close"}`), p.send)
	got := map[string]bool{}
	for range 2 {
		m := p.next(t)
		if reason(m) != ReasonAppUnavailable || m["error"].(map[string]any)["message"] != "app connection lost" {
			t.Fatalf("after the app left: %v", m)
		}
		got[m["id"].(string)] = true
	}
	if !got["h1"] || !got["c"] {
		t.Errorf("failed calls %v", got)
	}
	if m := q.next(t); m["id"] != "h2" || reason(m) != ReasonAppUnavailable {
		t.Errorf("other peer: %v", m)
	}
	// The next call connects again.
	r.Handle([]byte(`{"jsonrpc":"2.0","id":9,"method":"x.echo"}`), p.send)
	if m := p.next(t); m["id"] != float64(9) || m["result"] == nil {
		t.Fatalf("after reconnecting: %v", m)
	}
	if n := app.connects.Load(); n != 2 {
		t.Errorf("%d connections", n)
	}
}

func TestRelayTimeoutAndLateReply(t *testing.T) {
	r, app, _, bc := setup(t, Config{CallTimeout: 100 * time.Millisecond})
	p := newPeer()
	r.Handle([]byte(`{"jsonrpc":"2.0","id":1,"method":"test.hold"}`), p.send)
	m := p.next(t)
	if m["id"] != float64(1) || reason(m) != ReasonTimeout || code(m) != CodeServer {
		t.Fatalf("timeout reply %v", m)
	}
	app.waitHeld(t, 1)
	app.release() // the late reply is dropped, not broadcast
	r.Handle([]byte(`{"jsonrpc":"2.0","id":2,"method":"x.echo"}`), p.send)
	if m := p.next(t); m["id"] != float64(2) {
		t.Fatalf("next reply %v", m)
	}
	bc.none(t, 50*time.Millisecond)
	p.none(t, 10*time.Millisecond)
}

func TestRelayLimits(t *testing.T) {
	r, app, _, bc := setup(t, Config{MaxPending: 2})
	p := newPeer()
	r.Handle([]byte(`{"jsonrpc":"2.0","id":1,"method":"test.hold"}`), p.send)
	r.Handle([]byte(`{"jsonrpc":"2.0","id":2,"method":"test.hold"}`), p.send)
	r.Handle([]byte(`{"jsonrpc":"2.0","id":3,"method":"test.hold"}`), p.send)
	if m := p.next(t); m["id"] != float64(3) || reason(m) != ReasonBusy {
		t.Fatalf("third call %v", m)
	}
	app.waitHeld(t, 2)
	app.release()
	p.next(t)
	p.next(t)
	// An app reply above MaxFrame fails the call; the connection stays.
	r.Handle([]byte(`{"jsonrpc":"2.0","id":4,"method":"test.big"}`), p.send)
	if m := p.next(t); m["id"] != float64(4) || reason(m) != ReasonInternal {
		t.Fatalf("big reply %v", m)
	}
	// A peer frame above MaxFrame.
	big := `{"jsonrpc":"2.0","id":5,"method":"x.echo","params":{"s":"` + strings.Repeat("x", 300<<10) + `"}}`
	r.Handle([]byte(big), p.send)
	if m := p.next(t); reason(m) != ReasonInvalidRequest || m["id"] != nil {
		t.Fatalf("big request %v", m)
	}
	r.Handle([]byte(`{"jsonrpc":"2.0","id":6,"method":"x.echo"}`), p.send)
	if m := p.next(t); m["id"] != float64(6) {
		t.Fatalf("after the limits %v", m)
	}
	if n := app.connects.Load(); n != 1 {
		t.Errorf("%d connections", n)
	}
	bc.none(t, 20*time.Millisecond)
}

func TestRelayNoApp(t *testing.T) {
	r, _, apps, _ := setup(t, Config{ConnectTimeout: time.Second})
	p := newPeer()
	apps.set(func(f *fakeApps) { f.url = "" })
	r.Handle([]byte(`{"jsonrpc":"2.0","id":1,"method":"conversation.say"}`), p.send)
	if m := p.next(t); reason(m) != ReasonNotRunning || code(m) != CodeServer || m["error"].(map[string]any)["message"] != "no app is running" {
		t.Fatalf("no app: %v", m)
	}
	apps.set(func(f *fakeApps) { f.url = "http://127.0.0.1:1/" })
	r.Handle([]byte(`{"jsonrpc":"2.0","id":2,"method":"conversation.say"}`), p.send)
	if m := p.next(t); reason(m) != ReasonAppUnavailable || !strings.Contains(m["error"].(map[string]any)["message"].(string), "ws://127.0.0.1:1/rpc") {
		t.Fatalf("app unreachable: %v", m)
	}
	r.Handle([]byte(`{"jsonrpc":"2.0","method":"conversation.say"}`), p.send) // a notification: no answer
	p.none(t, 50*time.Millisecond)
}

func TestRelayApps(t *testing.T) {
	r, app, apps, _ := setup(t, Config{})
	p := newPeer()
	call := func(frame string) map[string]any {
		t.Helper()
		r.Handle([]byte(frame), p.send)
		return p.next(t)
	}
	if m := call(`{"jsonrpc":"2.0","id":1,"method":"apps.status"}`); fmt.Sprint(m["result"]) != "map[description:d name:demo url:<nil>]" && m["result"].(map[string]any)["state"] != "running" {
		t.Fatalf("status %v", m)
	}
	if m := call(`{"jsonrpc":"2.0","id":1,"method":"apps.start"}`); reason(m) != ReasonInvalidParams || code(m) != CodeInvalidParams {
		t.Fatalf("start without name %v", m)
	}
	if m := call(`{"jsonrpc":"2.0","id":1,"method":"apps.start","params":{"name":7}}`); reason(m) != ReasonInvalidParams {
		t.Fatalf("start with a number %v", m)
	}
	apps.set(func(f *fakeApps) {
		f.startErr = &Error{Code: CodeServer, Message: "An app is already running", Reason: ReasonAlreadyRunning}
	})
	if m := call(`{"jsonrpc":"2.0","id":2,"method":"apps.start","params":{"name":"x"}}`); reason(m) != ReasonAlreadyRunning || code(m) != CodeServer {
		t.Fatalf("start refused %v", m)
	}
	apps.set(func(f *fakeApps) { f.startErr = nil })
	m := call(`{"jsonrpc":"2.0","id":3,"method":"apps.start","params":{"name":"x"}}`)
	res, _ := json.Marshal(m["result"])
	if string(res) != `{"error":null,"info":{"description":"","name":"x","url":null},"state":"starting"}` {
		t.Fatalf("start %s", res)
	}
	// A relayed call is waiting when the app stops: it fails at once.
	apps.set(func(f *fakeApps) { f.url = app.url() })
	r.Handle([]byte(`{"jsonrpc":"2.0","id":"w","method":"test.hold"}`), p.send)
	for r.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	r.Handle([]byte(`{"jsonrpc":"2.0","id":4,"method":"apps.stop"}`), p.send)
	got := map[any]map[string]any{}
	for range 2 {
		m := p.next(t)
		got[m["id"]] = m
	}
	if reason(got["w"]) != ReasonAppUnavailable || fmt.Sprint(got[float64(4)]["result"]) != "map[stopped:true]" {
		t.Fatalf("stop: %v", got)
	}
	if m := call(`{"jsonrpc":"2.0","id":5,"method":"apps.stop"}`); reason(m) != ReasonInternal || code(m) != CodeInternal {
		t.Fatalf("stop without app %v", m)
	}
	if m := call(`{"jsonrpc":"2.0","id":6,"method":"apps.status"}`); fmt.Sprint(m["result"]) != "map[error:<nil> info:<nil> state:idle]" {
		t.Fatalf("idle status %v", m)
	}
	if m := call(`{"jsonrpc":"2.0","id":7,"method":"apps.restart"}`); reason(m) != ReasonMethodNotFound || code(m) != CodeMethodNotFound {
		t.Fatalf("unknown apps method %v", m)
	}
	// A notification is carried out, not answered.
	r.Handle([]byte(`{"jsonrpc":"2.0","method":"apps.start","params":{"name":"quiet"}}`), p.send)
	for end := time.Now().Add(10 * time.Second); apps.runningApp() != "quiet"; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the notification did not start the app: %q", apps.runningApp())
		}
	}
	p.none(t, 50*time.Millisecond)
}

func TestRelayInstall(t *testing.T) {
	r, _, apps, _ := setup(t, Config{})
	release := make(chan struct{})
	apps.install = func(name string) error { // set before any install runs
		<-release
		if name == "bad" {
			return errors.New("boom")
		}
		return nil
	}
	p := newPeer()
	r.Handle([]byte(`{"jsonrpc":"2.0","id":1,"method":"apps.install","params":{"name":"good"}}`), p.send)
	r.Handle([]byte(`{"jsonrpc":"2.0","id":2,"method":"apps.install","params":{"name":"bad"}}`), p.send)
	r.Handle([]byte(`{"jsonrpc":"2.0","id":3,"method":"apps.install","params":{"name":"third"}}`), p.send)
	if m := p.next(t); m["id"] != float64(3) || reason(m) != ReasonBusy {
		t.Fatalf("third install %v", m)
	}
	// While installs run, other requests are answered.
	r.Handle([]byte(`{"jsonrpc":"2.0","id":4,"method":"apps.status"}`), p.send)
	if m := p.next(t); m["id"] != float64(4) {
		t.Fatalf("status during installs %v", m)
	}
	close(release)
	got := map[any]map[string]any{}
	for range 2 {
		m := p.next(t)
		got[m["id"]] = m
	}
	if fmt.Sprint(got[float64(1)]["result"]) != "map[installed:true]" {
		t.Errorf("good install %v", got[float64(1)])
	}
	if m := got[float64(2)]; reason(m) != ReasonInstallFailed || code(m) != CodeServer {
		t.Errorf("bad install %v", m)
	}
	if m := func() map[string]any {
		r.Handle([]byte(`{"jsonrpc":"2.0","id":5,"method":"apps.install"}`), p.send)
		return p.next(t)
	}(); reason(m) != ReasonInvalidParams {
		t.Errorf("install without name %v", m)
	}
}

func TestDecodeRequest(t *testing.T) {
	bad := map[string]string{
		`{`:   ReasonParse,
		`[1]`: ReasonInvalidRequest,
		`{"jsonrpc":"1.0","id":1,"method":"a.b"}`:             ReasonInvalidRequest,
		`{"jsonrpc":"2.0","id":1}`:                            ReasonInvalidRequest,
		`{"jsonrpc":"2.0","id":1,"method":null}`:              ReasonInvalidRequest,
		`{"jsonrpc":"2.0","id":1,"method":7}`:                 ReasonInvalidRequest,
		`{"jsonrpc":"2.0","id":1.5,"method":"a"}`:             ReasonInvalidRequest,
		`{"jsonrpc":"2.0","id":[],"method":"a"}`:              ReasonInvalidRequest,
		`{"jsonrpc":"2.0","id":true,"method":"a"}`:            ReasonInvalidRequest,
		`{"jsonrpc":"2.0","id":1,"method":"a","params":[1]}`:  ReasonInvalidRequest,
		`{"jsonrpc":"2.0","id":1,"method":"a","params":null}`: ReasonInvalidRequest,
		`{"jsonrpc":"2.0","id":1,"method":"a","params":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`: ReasonParse,
	}
	for in, want := range bad {
		_, err := DecodeRequest([]byte(in), 1<<20)
		var e *Error
		if !errors.As(err, &e) || e.Reason != want {
			t.Errorf("DecodeRequest(%.60s) = %v, want %s", in, err, want)
		}
	}
	q, err := DecodeRequest([]byte(`{"jsonrpc":"2.0","id":"a\u00e9","method":"x.y","params":{ "k" : 1 }}`), 1<<20)
	if err != nil || string(q.ID) != `"aé"` || q.Method != "x.y" || string(q.Params) != `{"k":1}` || q.Namespace() != "x" {
		t.Errorf("decoded %+v %s %s, %v", q, q.ID, q.Params, err)
	}
	q, err = DecodeRequest([]byte(`{"jsonrpc":"2.0","id":null,"method":"x"}`), 1<<20)
	if err != nil || q.ID != nil || string(q.Params) != "{}" {
		t.Errorf("notification %+v, %v", q, err)
	}
	if q, _ := DecodeRequest([]byte(`{"jsonrpc":"2.0","id":-12,"method":"x"}`), 1<<20); string(q.ID) != "-12" {
		t.Errorf("integer id %s", q.ID)
	}
}

func TestRPCURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://0.0.0.0:8042":        "ws://127.0.0.1:8042/rpc",
		"http://0.0.0.0:7860/":       "ws://127.0.0.1:7860/rpc",
		"https://localhost:9000/x":   "wss://localhost:9000/rpc",
		"http://127.0.0.1:5000/page": "ws://127.0.0.1:5000/rpc",
		"http://[::]:8042":           "ws://127.0.0.1:8042/rpc",
		"http://host":                "ws://host/rpc",
	} {
		if got, err := RPCURL(in); err != nil || got != want {
			t.Errorf("RPCURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"ftp://x", "://", "file:///a"} {
		if _, err := RPCURL(in); err == nil {
			t.Errorf("RPCURL(%q) accepted", in)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	u := "https://huggingface.co/spaces/a/b"
	for _, c := range []struct {
		s    Status
		want string
	}{
		{Status{}, `{"state":"idle","info":null,"error":null}`},
		{Status{State: "running", Name: "b", Description: "d", URL: &u}, `{"state":"running","error":null,"info":{"name":"b","description":"d","url":"https://huggingface.co/spaces/a/b"}}`},
		{Status{State: "error", Error: "Process exited with code 1", Name: "b"}, `{"state":"error","error":"Process exited with code 1","info":{"name":"b","description":"","url":null}}`},
	} {
		if got := string(StatusJSON(c.s)); got != c.want {
			t.Errorf("StatusJSON(%+v) = %s, want %s", c.s, got, c.want)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"apps.start","params":{"name":"x"}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"a.b"}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"s","method":"a","params":{"a":[[[{}]]]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := DecodeRequest(b, 1<<16)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			if !json.Valid(ErrorFrame(nil, err)) {
				t.Fatalf("invalid error frame for %v", err)
			}
			return
		}
		if q.ID != nil && !json.Valid(q.ID) || !json.Valid(q.Params) || q.Params[0] != '{' {
			t.Fatalf("decoded %+v", q)
		}
		if out := outgoing([]byte(`"relay-1"`), q); !json.Valid(out) {
			t.Fatalf("outgoing frame invalid: %s", out)
		}
		if q.ID != nil && !json.Valid(ResultFrame(q.ID, []byte("{}"))) {
			t.Fatalf("result frame invalid")
		}
	})
}

func FuzzDecodeInbound(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":"relay-1","result":{"a":1}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"relay-2","error":{"code":1,"message":"m"}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"evt","params":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := DecodeInbound(b, 1<<16)
		if err != nil {
			return
		}
		if in.IsResponse() {
			if out := in.withID([]byte(`"x"`)); !json.Valid(out) {
				t.Fatalf("reply frame invalid: %s", out)
			}
		}
		_ = in.relayNumber()
	})
}

// blockingApps is an app manager whose Stop waits for release.
type blockingApps struct {
	fakeApps
	release chan struct{}
}

func (b *blockingApps) Stop(ctx context.Context) error {
	<-b.release
	return b.fakeApps.Stop(ctx)
}

func TestRelaySlowStopHoldsNothingUp(t *testing.T) {
	apps := &blockingApps{fakeApps: fakeApps{running: "demo"}, release: make(chan struct{})}
	r := New(Config{Apps: apps})
	defer r.Close()
	p := newPeer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Handle([]byte(`{"jsonrpc":"2.0","id":1,"method":"apps.stop"}`), p.send)
		r.Handle([]byte(`{"jsonrpc":"2.0","id":2,"method":"apps.status"}`), p.send)
	}()
	if m := p.next(t); m["id"] != float64(2) {
		t.Fatalf("status while a stop runs: %v", m)
	}
	<-done
	close(apps.release)
	if m := p.next(t); m["id"] != float64(1) || fmt.Sprint(m["result"]) != "map[stopped:true]" {
		t.Fatalf("stop %v", m)
	}
}
