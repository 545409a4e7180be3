package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/actors/system"
)

// daemon is a reachyd started in-process on a random port.
type testDaemon struct {
	t    testing.TB
	base string
	ws   string
	sys  *system.System
	// stop stops an in-process daemon as SIGTERM would, and waits for it.
	stop func()
}

// startDaemon runs the whole daemon (flags, actor tree, gateway) on the
// simulated robot. Extra flags are appended. Apps may be installed by path
// from the temporary folder, where tests write them.
func startDaemon(t testing.TB, extra ...string) *testDaemon {
	t.Helper()
	return startDaemonLog(t, io.Discard, extra...)
}

// startDaemonLog is startDaemon with the daemon's log written to w.
func startDaemonLog(t testing.TB, w io.Writer, extra ...string) *testDaemon {
	t.Helper()
	return startDaemonWith(t, w, append([]string{"--apps-local-dir", os.TempDir()}, extra...)...)
}

// startDaemonArgs is startDaemon without the default --apps-local-dir.
func startDaemonArgs(t testing.TB, extra ...string) *testDaemon {
	t.Helper()
	return startDaemonWith(t, io.Discard, extra...)
}

func startDaemonWith(t testing.TB, w io.Writer, extra ...string) *testDaemon {
	t.Helper()
	d, cancel, errc := launchDaemon(t, w, extra...)
	d.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("daemon exit: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop in 30 s")
		}
	})
	t.Cleanup(d.stop)
	return d
}

// launchDaemon runs the daemon on the simulator until cancel is called;
// errc receives what run returns. The caller ends it.
func launchDaemon(t testing.TB, w io.Writer, extra ...string) (d *testDaemon, cancel context.CancelFunc, errc chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"--backend", "sim", "--fastapi-port", "0", "--data-dir", t.TempDir(),
		"--log-level", "ERROR", "--no-goto-sleep-on-stop", "--no-wake-up-on-start", "--uds", "", "--topics-port", "0", "--no-skill-host", "--camera", "none", "--rtsp-port", "0", "--no-mdns",
		// Media (GStreamer children, WebRTC) only for the tests that ask for
		// it with --gst-launch gst-launch-1.0: without GStreamer, reachyd
		// runs with no_media.
		"--gst-launch", "/nonexistent/gst-launch-1.0", "--webrtc-port", "0", "--webrtc-loopback",
		// Datasets are downloaded into a private cache, from nowhere
		// unless a test points --hf-endpoint at its fake Hub.
		"--hf-endpoint", "http://127.0.0.1:1", "--hf-hub-cache", t.TempDir(),
		// The central relay (with media) reaches nowhere unless a test
		// points it at its fake central.
		"--central-url", "http://127.0.0.1:1"}, extra...)
	type up struct {
		addr string
		sys  *system.System
	}
	ready := make(chan up, 1)
	errc = make(chan error, 1)
	go func() {
		errc <- run(ctx, args, w, func(addr string, sys *system.System) { ready <- up{addr, sys} })
	}()
	var u up
	select {
	case u = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("daemon did not start in 5 s")
	}
	return &testDaemon{t: t, base: "http://" + u.addr, ws: "ws://" + u.addr, sys: u.sys}, cancel, errc
}

// do sends a request, with body (a string, or a value sent as JSON) as
// application/json.
func (d *testDaemon) do(method, path string, body any) (int, []byte) {
	d.t.Helper()
	if body == nil {
		return d.doHeaders(method, path, "", "", nil)
	}
	text, ok := body.(string)
	if !ok {
		j, _ := json.Marshal(body)
		text = string(j)
	}
	return d.doHeaders(method, path, "application/json", text, nil)
}

// doHeaders sends a request with a body of a content type and extra
// headers.
func (d *testDaemon) doHeaders(method, path, contentType, body string, hdr map[string]string) (int, []byte) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// getJSON asks path and decodes a 200 answer.
func (d *testDaemon) getJSON(path string, v any) {
	d.t.Helper()
	code, body := d.do("GET", path, nil)
	if code != 200 {
		d.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		d.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// waitRunning waits for daemon state running.
func (d *testDaemon) waitRunning() {
	d.t.Helper()
	d.waitState("running")
}

func (d *testDaemon) waitState(want string) map[string]any {
	d.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var st map[string]any
	for time.Now().Before(deadline) {
		d.getJSON("/api/daemon/status", &st)
		if st["state"] == want {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("daemon not %s: %v", want, st)
	return nil
}

// frame is one server frame received by a test client.
type frame struct {
	at   time.Time
	typ  string
	raw  []byte
	data map[string]any
}

// sdkClient is a /ws/sdk client like the SDK's WSClient.
type sdkClient struct {
	t      testing.TB
	c      *websocket.Conn
	mu     sync.Mutex
	frames []frame
	closed chan struct{}
	err    error
}

func (d *testDaemon) dialSDK() *sdkClient {
	d.t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(d.ws+"/ws/sdk", nil)
	if err != nil {
		d.t.Fatalf("dial /ws/sdk: %v (%v)", err, resp)
	}
	s := &sdkClient{t: d.t, c: c, closed: make(chan struct{})}
	go s.read()
	d.t.Cleanup(func() { c.Close() })
	return s
}

func (s *sdkClient) read() {
	defer close(s.closed)
	for {
		_, data, err := s.c.ReadMessage()
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		f := frame{at: time.Now(), raw: data}
		if err := json.Unmarshal(data, &f.data); err == nil {
			f.typ, _ = f.data["type"].(string)
		}
		s.mu.Lock()
		s.frames = append(s.frames, f)
		s.mu.Unlock()
	}
}

func (s *sdkClient) send(v any) {
	s.t.Helper()
	var b []byte
	switch m := v.(type) {
	case string:
		b = []byte(m)
	case json.RawMessage:
		b = m
	default:
		b, _ = json.Marshal(v)
	}
	if err := s.c.WriteMessage(websocket.TextMessage, b); err != nil {
		s.t.Fatalf("send: %v", err)
	}
}

// snapshot returns the frames received so far.
func (s *sdkClient) snapshot() []frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]frame(nil), s.frames...)
}

// waitFrame waits for a frame of type typ satisfying match (nil: any).
func (s *sdkClient) waitFrame(typ string, timeout time.Duration, match func(map[string]any) bool) frame {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	seen := 0
	for time.Now().Before(deadline) {
		fs := s.snapshot()
		for _, f := range fs[seen:] {
			if f.typ == typ && (match == nil || match(f.data)) {
				return f
			}
		}
		seen = len(fs)
		select {
		case <-s.closed:
			s.t.Fatalf("connection closed while waiting for %s: %v", typ, s.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	s.t.Fatalf("no %s frame within %v", typ, timeout)
	return frame{}
}

func (s *sdkClient) count(typ string, from, to time.Time) int {
	n := 0
	for _, f := range s.snapshot() {
		if f.typ == typ && !f.at.Before(from) && f.at.Before(to) {
			n++
		}
	}
	return n
}

// latest returns the newest frame of a type.
func (s *sdkClient) latest(typ string) (frame, bool) {
	fs := s.snapshot()
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].typ == typ {
			return fs[i], true
		}
	}
	return frame{}, false
}

func fnum(v any) float64 {
	f, ok := v.(float64)
	if !ok {
		panic(fmt.Sprintf("not a number: %v", v))
	}
	return f
}

// lockedBuffer collects a daemon's log: the logger writes from many
// goroutines while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
