package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/actors/kit"
	"reachyd/actors/system"
	"reachyd/http/gateway"
	"reachyd/http/logstream"
	"reachyd/internal/deathsig"
	"reachyd/media/webrtc"
)

// The cache routes: reset-apps in every mode (409 while an app runs),
// clear-hf only on the wireless robot, each with the reference's messages.
func TestCacheRoutes(t *testing.T) {
	d := startDaemon(t, "--app-stop-grace", "2")
	d.waitRunning()
	if code, body := d.do("POST", "/cache/clear-hf", nil); code != 404 {
		t.Fatalf("clear-hf without --wireless-version: %d %s", code, body)
	}
	if code, body := d.do("POST", "/cache/reset-apps", nil); code != 200 ||
		string(body) != `{"status":"success","message":"Virtual environment directory already empty"}` {
		t.Fatalf("reset-apps with no app: %d %s", code, body)
	}
	d.installLocal("waver", writeExecApp(t, "waver", "trap 'exit 0' INT\nwhile :; do sleep 0.05; done\n"))
	d.installLocal("other", writeExecApp(t, "other", "exit 0\n"))
	if code, body := d.do("POST", "/api/apps/start-app/waver", nil); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	d.waitAppState("running")
	if code, body := d.do("POST", "/cache/reset-apps", nil); code != 409 || !strings.Contains(string(body), "Please stop it first") {
		t.Fatalf("reset-apps while an app runs: %d %s", code, body)
	}
	var installed []map[string]any
	d.getJSON("/api/apps/list-available/installed", &installed)
	if len(installed) != 2 {
		t.Fatalf("a refused reset removed apps: %v", installed)
	}
	if code, body := d.do("POST", "/api/apps/stop-current-app", nil); code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	if code, body := d.do("POST", "/cache/reset-apps", nil); code != 200 ||
		string(body) != `{"status":"success","message":"Applications virtual environment removed"}` {
		t.Fatalf("reset-apps: %d %s", code, body)
	}
	d.getJSON("/api/apps/list-available/installed", &installed)
	if len(installed) != 0 {
		t.Fatalf("apps left after the reset: %v", installed)
	}
}

func TestClearHFCacheOnTheWirelessRobot(t *testing.T) {
	hub := t.TempDir()
	t.Setenv("HF_HUB_CACHE", hub)
	for _, p := range []string{"datasets--pollen-robotics--reachy-mini-emotions-library/snapshots/abc", "spaces--me--wave/blobs", ".locks"} {
		if err := os.MkdirAll(filepath.Join(hub, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(hub, "keep.txt"), []byte("not the hub's"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--wireless-version", "--fastapi-host", "127.0.0.1")
	if code, body := d.do("POST", "/cache/clear-hf", nil); code != 200 ||
		string(body) != `{"status":"success","message":"HuggingFace cache cleared"}` {
		t.Fatalf("clear-hf: %d %s", code, body)
	}
	eventually(t, "the cleared cache is deleted", func() bool {
		entries, _ := os.ReadDir(hub)
		return len(entries) == 1 && entries[0].Name() == "keep.txt"
	})
	if code, body := d.do("POST", "/cache/clear-hf", nil); code != 200 ||
		string(body) != `{"status":"success","message":"Cache directory already empty"}` {
		t.Fatalf("clear-hf again: %d %s", code, body)
	}
}

// fakeJournalctl puts a journalctl stand-in first on PATH: it records its
// pid and arguments, prints two journal lines, then blocks as -f does.
func fakeJournalctl(t *testing.T) (pidFile string) {
	t.Helper()
	dir := t.TempDir()
	pidFile = filepath.Join(dir, "pid")
	script := fmt.Sprintf(`#!/bin/sh
echo $$ > %s
echo "ARGS $*"
echo "2026-12-05T10:00:00+0000 robot reachyd[42]: first line"
echo "2026-12-05T10:00:01+0000 robot reachyd[42]: second line"
exec sleep 1000
`, pidFile)
	if err := os.WriteFile(filepath.Join(dir, "journalctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return pidFile
}

func dialDaemonLogs(t *testing.T, d *testDaemon) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(d.ws+"/logs/ws/daemon", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readFrame(t *testing.T, c *websocket.Conn) string {
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

func processGone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] == "Z"
}

// WS /logs/ws/daemon through journalctl: the reference's arguments, a
// frame per line, an empty frame per second of silence, and the child
// ended with the client.
func TestDaemonLogsFromTheJournal(t *testing.T) {
	pidFile := fakeJournalctl(t)
	d := startDaemon(t, "--journal-unit", "reachyd.service")
	c := dialDaemonLogs(t, d)
	for _, want := range []string{
		"ARGS -u reachyd.service -b -f -n 100 --output short-iso",
		"2026-12-05T10:00:00+0000 robot reachyd[42]: first line",
		"2026-12-05T10:00:01+0000 robot reachyd[42]: second line",
		"", "", // keep-alives: a second of silence each
	} {
		if got := readFrame(t, c); got != want {
			t.Fatalf("frame %q, want %q", got, want)
		}
	}
	var pid int
	b, _ := os.ReadFile(pidFile)
	if pid, _ = strconv.Atoi(strings.TrimSpace(string(b))); pid == 0 {
		t.Fatalf("no pid in %q", b)
	}
	c.Close()
	eventually(t, "journalctl ends with its client", func() bool { return processGone(pid) })
}

func TestDaemonLogsWithoutJournalctl(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	d := startDaemon(t, "--journal-unit", "reachyd.service")
	c := dialDaemonLogs(t, d)
	if got := readFrame(t, c); got != "ERROR: journalctl command not found. This feature requires systemd." {
		t.Fatalf("frame %q", got)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after the error: %v", err)
	}
}

// Not under systemd: reachyd's own lines, the new ones as they come.
func TestDaemonLogsOwnLines(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	c := dialDaemonLogs(t, d)
	waitLine := func(what string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if f := readFrame(t, c); strings.Contains(f, what) {
				return f
			}
		}
		t.Fatalf("no line with %q within 10 s", what)
		return ""
	}
	waitLine(" INFO reachyd: reachyd listening")
	// A new line: a reset of the apps logs one.
	if code, body := d.do("POST", "/cache/reset-apps", nil); code != 200 {
		t.Fatalf("reset-apps: %d %s", code, body)
	}
	f := waitLine(" INFO apps: apps reset removed=0")
	ts, _, _ := strings.Cut(f, " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Fatalf("line %q: timestamp %v", f, err)
	}
}

// subscribe_logs over a real WebRTC data channel: log_line frames, for
// the backlog and the new lines.
func TestSubscribeLogsOverTheDataChannel(t *testing.T) {
	d := startMediaDaemon(t)
	c := dialConsumer(t, d.signallingURL(), nil)
	defer c.Close()
	r := command(t, c, map[string]any{"type": "subscribe_logs"}, func(r map[string]any) bool {
		line, _ := r["line"].(string)
		return r["type"] == "log_line" && strings.Contains(line, "reachyd listening")
	})
	if ts, _ := r["timestamp"].(string); !strings.HasSuffix(ts, "Z") {
		t.Fatalf("log_line %v", r)
	}
	if code, body := d.do("POST", "/cache/reset-apps", nil); code != 200 {
		t.Fatalf("reset-apps: %d %s", code, body)
	}
	command(t, c, map[string]any{"type": "get_version"}, func(r map[string]any) bool {
		line, _ := r["line"].(string)
		return r["type"] == "log_line" && line == "INFO apps: apps reset removed=0"
	})
}

// The robot description from --description-dir (a tiny fake one; the
// reference's meshes are not in this repository).
func TestRobotDescription(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "robot.urdf"), []byte(`<robot name="fake"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "assets", "head.stl"), []byte("solid head"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--description-dir", dir)
	var u map[string]string
	d.getJSON("/api/kinematics/urdf", &u)
	if u["urdf"] != `<robot name="fake"/>` {
		t.Fatalf("urdf %v", u)
	}
	code, body := d.do("GET", "/api/kinematics/stl/head.stl", nil)
	if code != 200 || string(body) != "solid head" {
		t.Fatalf("stl: %d %q", code, body)
	}
	if code, body := d.do("GET", "/api/kinematics/stl/..%2Frobot.urdf", nil); code != 404 || strings.Contains(string(body), "fake") {
		t.Fatalf("traversal: %d %s", code, body)
	}
	if code, body := d.do("GET", "/api/kinematics/stl/nope.stl", nil); code != 404 || string(body) != `{"detail":"STL file not found …/nope.stl"}` {
		t.Fatalf("missing mesh: %d %s", code, body)
	}

	// None installed (no folder, no Python package): a clear 404.
	d2 := startDaemon(t, "--description-dir", t.TempDir())
	if code, body := d2.do("GET", "/api/kinematics/urdf", nil); code != 404 || !strings.Contains(string(body), "No robot description installed") {
		t.Fatalf("urdf with none installed: %d %s", code, body)
	}
}

// The live document lists the daemon's routes as configured.
func TestOpenAPIOfTheDaemon(t *testing.T) {
	d := startDaemon(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	d.getJSON("/openapi.json", &doc)
	for _, p := range []string{"/api/daemon/status", "/api/v1/auth/", "/cache/reset-apps", "/logs/ws/daemon", "/api/kinematics/stl/{filename}", "/docs"} {
		if doc.Paths[p] == nil {
			t.Errorf("%s is not in /openapi.json", p)
		}
	}
	if doc.Paths["/cache/clear-hf"] != nil {
		t.Error("/cache/clear-hf is documented without --wireless-version")
	}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			if strings.Contains(string(op), "x-undocumented") {
				t.Errorf("%s %s is not documented", m, p)
			}
		}
	}
}

// /docs renders in a real browser, offline, without a console error.
func TestDocsPageInChromium(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	for _, p := range []string{chromium, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				chromium = p
				break
			}
		}
	}
	if chromium == "" {
		if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
			t.Fatal("Chromium is required here (REACHYD_REQUIRE_MEDIA is set)")
		}
		t.Skip("no Chromium here")
	}
	d := startDaemon(t)
	cmd := exec.Command(chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
		"--disable-extensions", "--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=10000", "--dump-dom", d.base+"/docs#op-get_api_daemon_status")
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("chromium did not finish in 60 s\n%s", stderr.String())
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its helpers, if any are left
	dom := stdout.String()
	if !strings.Contains(dom, `data-rendered="`) || strings.Contains(dom, "data-error") {
		t.Fatalf("the page did not render:\n%.2000s\n%s", dom, stderr.String())
	}
	for _, want := range []string{`id="op-get_api_daemon_status"`, `id="schema-DaemonStatus"`, `href="#schema-DaemonStatus"`, "Switching Protocols"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %s", want)
		}
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") || strings.Contains(line, "Content Security Policy") {
			t.Errorf("browser console: %s", line)
		}
	}
}

type recordingPeer struct {
	id  string
	got chan []byte
}

func (p *recordingPeer) ID() string      { return p.id }
func (p *recordingPeer) Send(msg []byte) { p.got <- msg }

// The end of a WebRTC session ends the peer's log stream, and the media
// actor's own end-of-session callback still runs.
func TestSessionEndEndsTheLogStream(t *testing.T) {
	logs := kit.NewLogRing(10)
	log := slog.New(logs.Handler(slog.NewTextHandler(io.Discard, nil)))
	log.Info("a line")
	prevCalled := false
	mc := &system.MediaConfig{}
	mc.Options.WebRTC.OnSessionEnd = func(*webrtc.Session, string) { prevCalled = true }
	ends := hookPeerEnds(mc)
	gw := gateway.New(&system.System{}, gateway.Config{Log: log, Surface: gateway.SurfaceConfig{Logs: &logstream.Ring{Logs: logs}}})
	ends.Store(gw)
	p := &recordingPeer{got: make(chan []byte, 16)} // the id of a zero session: ""
	gw.PeerCommand(p, []byte(`{"type":"subscribe_logs"}`))
	select {
	case f := <-p.got:
		if !strings.Contains(string(f), `"type":"log_line"`) {
			t.Fatalf("frame %s", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no log_line")
	}
	if logs.Followers() != 1 {
		t.Fatalf("%d followers", logs.Followers())
	}
	mc.Options.WebRTC.OnSessionEnd(&webrtc.Session{}, "peer_closed")
	if !prevCalled {
		t.Fatal("the media actor's callback was not called")
	}
	eventually(t, "the stream ends with the session", func() bool { return logs.Followers() == 0 })
}
