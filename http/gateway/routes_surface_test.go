package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/actors/kit"
	"reachyd/http/logstream"
	"reachyd/hw/description"
)

// ringLog is a logger whose lines go to a ring, as the daemon's do.
func ringLog() (*kit.LogRing, *slog.Logger) {
	ring := kit.NewLogRing(10)
	return ring, slog.New(ring.Handler(slog.NewTextHandler(io.Discard, nil)))
}

// nextFrame decodes the next data-channel frame of a type.
func (p *fakePeer) nextOf(t *testing.T, typ string) map[string]any {
	t.Helper()
	for {
		var v map[string]any
		raw := p.next(t)
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			t.Fatalf("not JSON: %s", raw)
		}
		if v["type"] == typ {
			return v
		}
	}
}

func TestSubscribeLogsStreamsToThePeer(t *testing.T) {
	ring, log := ringLog()
	log.Info("before the subscription", "actor", "moves")
	tg := startGW(t, gwOptions{surface: SurfaceConfig{Logs: &logstream.Ring{Logs: ring}}})
	p := newPeer()
	tg.g.PeerCommand(p, []byte(`{"type":"subscribe_logs"}`))
	f := p.nextOf(t, "log_line")
	if f["line"] != "INFO moves: before the subscription" {
		t.Fatalf("backlog frame %v", f)
	}
	if _, err := time.Parse(time.RFC3339Nano, f["timestamp"].(string)); err != nil {
		t.Fatalf("timestamp %v: %v", f["timestamp"], err)
	}
	log.Warn("a new line")
	if f := p.nextOf(t, "log_line"); f["line"] != "WARN reachyd: a new line" {
		t.Fatalf("new line frame %v", f)
	}
	if tg.g.logSubscribers() != 1 {
		t.Fatal("no subscription recorded")
	}
	// Subscribing again restarts the stream (the backlog again), and keeps
	// one stream.
	tg.g.PeerCommand(p, []byte(`{"type":"subscribe_logs"}`))
	if f := p.nextOf(t, "log_line"); f["line"] != "INFO moves: before the subscription" {
		t.Fatalf("re-subscribed backlog %v", f)
	}
	if f := p.nextOf(t, "log_line"); f["line"] != "WARN reachyd: a new line" {
		t.Fatalf("re-subscribed backlog %v", f)
	}
	eventually(t, "one stream per peer", func() bool { return tg.g.logSubscribers() == 1 && ring.Followers() == 1 })
	// unsubscribe_logs: no reply, no more lines.
	tg.noReply(p, `{"type":"unsubscribe_logs"}`)
	eventually(t, "the stream ends", func() bool { return tg.g.logSubscribers() == 0 && ring.Followers() == 0 })
	log.Info("after the end")
	tg.noReply(p, `{"type":"get_version"}`) // nothing queued but the replies
	// A peer that leaves ends its stream too.
	tg.g.PeerCommand(p, []byte(`{"type":"subscribe_logs"}`))
	p.nextOf(t, "log_line")
	tg.g.PeerGone(p.ID())
	eventually(t, "a gone peer's stream ends", func() bool { return tg.g.logSubscribers() == 0 && ring.Followers() == 0 })
	// On /ws/sdk there is no peer: nothing streams.
	if err := tg.g.sdkCommand([]byte(`{"type":"subscribe_logs"}`)); err != nil || tg.g.logSubscribers() != 0 {
		t.Fatalf("subscribe_logs over /ws/sdk: %v, %d streams", err, tg.g.logSubscribers())
	}
}

func TestSubscribeLogsJournalErrors(t *testing.T) {
	// journalctl missing: the reference's error.
	t.Setenv("PATH", t.TempDir())
	tg := startGW(t, gwOptions{surface: SurfaceConfig{Logs: &logstream.Journal{Unit: "reachyd.service"}}})
	p := newPeer()
	tg.call(p, `{"type":"subscribe_logs"}`, `{"type":"log_stream_error","error":"journalctl not found"}`)

	// journalctl that ends: its lines, then the end.
	bin := filepath.Join(t.TempDir(), "journalctl")
	script := "#!/bin/sh\necho '2026-12-05T10:00:00+0000 robot reachyd[7]: hello there'\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tg.g.cfg.Surface.Logs = &logstream.Journal{Unit: "reachyd.service", Command: bin}
	tg.call(p, `{"type":"subscribe_logs"}`, `{"type":"log_line","timestamp":"2026-12-05T10:00:00+0000","line":"robot reachyd[7]: hello there"}`)
	if got := p.next(t); got != `{"type":"log_stream_error","error":"journalctl stream ended"}` {
		t.Fatalf("end of the journal: %s", got)
	}
}

func dialLogs(t *testing.T, base string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/logs/ws/daemon", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("frame type %d", typ)
	}
	return string(b)
}

func TestDaemonLogsWebSocket(t *testing.T) {
	old := logKeepAlive
	logKeepAlive = 50 * time.Millisecond
	t.Cleanup(func() { logKeepAlive = old })
	ring, log := ringLog()
	log.Info("first line")
	tg := startGW(t, gwOptions{surface: SurfaceConfig{Logs: &logstream.Ring{Logs: ring}}})
	c := dialLogs(t, tg.base)
	if got := readText(t, c); !strings.HasSuffix(got, " INFO reachyd: first line") {
		t.Fatalf("first frame %q", got)
	}
	// Silence: empty keep-alive frames.
	for i := 0; i < 2; i++ {
		if got := readText(t, c); got != "" {
			t.Fatalf("keep-alive %q", got)
		}
	}
	log.Warn("second line")
	for {
		got := readText(t, c)
		if got == "" {
			continue
		}
		if !strings.HasSuffix(got, " WARN reachyd: second line") {
			t.Fatalf("second frame %q", got)
		}
		break
	}
	c.Close()
	eventually(t, "the follower ends with the client", func() bool { return ring.Followers() == 0 })

	// Without journalctl: the reference's line, then the close.
	t.Setenv("PATH", t.TempDir())
	tg.g.cfg.Surface.Logs = &logstream.Journal{Unit: "reachyd.service"}
	c = dialLogs(t, tg.base)
	if got := readText(t, c); got != journalMissing {
		t.Fatalf("without journalctl: %q", got)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after the error: %v", err)
	}
}

// writeDescription writes a tiny fake robot description.
func writeDescription(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "robot.urdf"), []byte(`<robot name="reachy_mini"><link name="<&>"/></robot>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "assets", "body.stl"), []byte("solid body\nendsolid body\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRobotDescriptionRoutes(t *testing.T) {
	dir := writeDescription(t)
	outside := filepath.Join(t.TempDir(), "secret.stl")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "assets", "link.stl")); err != nil {
		t.Fatal(err)
	}
	tg := startGW(t, gwOptions{surface: SurfaceConfig{Description: &description.Finder{Dir: dir, Python: "none", SitePackages: []string{}}}})
	tg.expect("GET", "/api/kinematics/urdf", nil, 200, `{"urdf":"<robot name=\"reachy_mini\"><link name=\"<&>\"/></robot>"}`)

	resp, err := http.Get(tg.base + "/api/kinematics/stl/body.stl")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "model/stl" || string(body) != "solid body\nendsolid body\n" {
		t.Fatalf("stl: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// A range, as viewers may ask.
	req, _ := http.NewRequest("GET", tg.base+"/api/kinematics/stl/body.stl", nil)
	req.Header.Set("Range", "bytes=0-4")
	if code, got := tg.send(req); code != http.StatusPartialContent || got != "solid" {
		t.Fatalf("range: %d %q", code, got)
	}
	tg.expect("GET", "/api/kinematics/stl/missing.stl", nil, 404, `{"detail":"STL file not found …/missing.stl"}`)
	for _, p := range []string{"link.stl", "..%2Frobot.urdf", "%2E%2E", "..", "..%5Crobot.urdf"} {
		code, got := tg.do("GET", "/api/kinematics/stl/"+p, nil)
		if code != 404 || strings.Contains(got, "secret") || strings.Contains(got, "robot name") {
			t.Errorf("%s: %d %s", p, code, got)
		}
	}

	// Nothing installed: a clear 404.
	tg.g.cfg.Surface.Description = &description.Finder{Dir: t.TempDir(), Python: "none", SitePackages: []string{}}
	code, got := tg.do("GET", "/api/kinematics/urdf", nil)
	if code != 404 || !strings.Contains(got, "No robot description installed") {
		t.Fatalf("urdf without a description: %d %s", code, got)
	}
	code, got = tg.do("GET", "/api/kinematics/stl/body.stl", nil)
	if code != 404 || !strings.HasPrefix(got, `{"detail":"STL file not found body.stl (No robot description installed`) {
		t.Fatalf("stl without a description: %d %s", code, got)
	}
}

// eventually polls cond until it holds, failing after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
