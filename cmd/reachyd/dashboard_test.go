package main

// The browser dashboard (http/gateway/dashboard) in headless Chromium,
// driven over the DevTools protocol with chromedp, against reachyd on the
// simulator in a child process on loopback: what an owner sees and does at
// http://<robot>:8000/.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gorilla/websocket"

	"reachyd/internal/cpuload"
	"reachyd/messages"
)

var dashboardShots = flag.Bool("dashboard-screenshots", false, "TestDashboardScreenshots writes docs/img/dashboard-*.png")

// dashBrowser is a headless Chromium tab with the problems its page
// reported.
type dashBrowser struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// newBrowser starts Chromium (headless, no sandbox: the tests may run as
// root) with a window of w x h. It is closed at the end of the test.
func newBrowser(t *testing.T, w, h int, flags ...chromedp.ExecAllocatorOption) *dashBrowser {
	t.Helper()
	opts := append(append([]chromedp.ExecAllocatorOption(nil), chromedp.DefaultExecAllocatorOptions[:]...),
		chromedp.ExecPath(dashboardChromium(t)), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.WindowSize(w, h), chromedp.Flag("no-proxy-server", true),
		// Loopback only: no component updates, no QUIC, and every host
		// name but localhost and 127.0.0.1 resolves to nothing.
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"))
	opts = append(opts, flags...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	return newTab(t, actx)
}

// dashboardChromium finds Chromium as findChromium does, but where the
// tests must not skip (CI: .ci/run installs chromium and sets
// REACHYD_REQUIRE_MEDIA) a missing browser is a failure.
func dashboardChromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
		found := false
		for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
			if _, err := os.Stat(p); p != "" && err == nil {
				found = true
			}
		}
		if !found {
			t.Fatal("Chromium is required here (REACHYD_REQUIRE_MEDIA is set): apt-get install chromium")
		}
	}
	return findChromium(t)
}

// newTab opens a tab in the browser of parent (or a new browser for an
// allocator context) and records its console errors, uncaught exceptions
// and error log entries (CSP violations among them).
func newTab(t *testing.T, parent context.Context) *dashBrowser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	b := &dashBrowser{t: t, ctx: ctx}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			// Failed HTTP answers (a 503 the page shows as "unavailable")
			// are the network's; anything else at error level (a CSP
			// violation, a script that did not load, console.error) is the
			// page's.
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				b.mu.Lock()
				b.errors = append(b.errors, m.String()+" "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// problems returns what the page reported so far and forgets it.
func (b *dashBrowser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.errors
	b.errors = nil
	return p
}

func (b *dashBrowser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("chromium: %v (page problems: %v)", err, b.problems())
	}
}

// evalJS evaluates a JavaScript expression in the page.
func evalJS[T any](b *dashBrowser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("chromium: %s: %v (page problems: %v)", expr, err, b.problems())
	}
	return v
}

// waitFor polls a JavaScript condition until it is true (15 s at most).
func (b *dashBrowser) waitFor(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !evalJS[bool](b, "!!("+cond+")") {
		if time.Now().After(deadline) {
			dump := evalJS[string](b, `document.getElementById("conn").textContent + " | live: " + document.getElementById("live").textContent`)
			b.t.Fatalf("%s: not within 15 s (%s; page: %s; problems: %v)", what, cond, dump, b.problems())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *dashBrowser) text(id string) string {
	b.t.Helper()
	return evalJS[string](b, fmt.Sprintf(`document.getElementById(%q).textContent`, id))
}

// stateStream follows the daemon's own state stream (WS
// /api/state/ws/full), as the test's independent view of the robot.
type stateStream struct {
	mu   sync.Mutex
	last map[string]any
}

func followState(t *testing.T, wsBase string) *stateStream {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(wsBase+"/api/state/ws/full?frequency=20", nil)
	if err != nil {
		t.Fatalf("state stream: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	s := &stateStream{}
	go func() {
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var m map[string]any
			if json.Unmarshal(data, &m) == nil {
				s.mu.Lock()
				s.last = m
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// headRPY is the newest head roll, pitch, yaw (rad).
func (s *stateStream) headRPY() (roll, pitch, yaw float64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return 0, 0, 0, false
	}
	hp, _ := s.last["head_pose"].(map[string]any)
	if hp == nil {
		return 0, 0, 0, false
	}
	return fnum(hp["roll"]), fnum(hp["pitch"]), fnum(hp["yaw"]), true
}

func (s *stateStream) waitHead(t *testing.T, what string, ok func(roll, pitch, yaw float64) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, p, y, have := s.headRPY()
		if have && ok(r, p, y) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the robot's head never %s: roll %.3f pitch %.3f yaw %.3f", what, r, p, y)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dashboardDaemon runs reachyd in a child process on port with the fake
// Hugging Face catalogue (apps_hf_test.go) and no media.
func dashboardDaemon(t *testing.T, dataDir string, port int, hfURL string, extra ...string) *daemonProcess {
	t.Helper()
	d := spawnDaemon(t, dataDir, port, append([]string{"--no-media", "--rtsp-port", "0", "--hf-endpoint", hfURL,
		"--hf-hub-cache", filepath.Join(dataDir, "hub"), "--app-stop-grace", "2", "--log-level", "WARNING"}, extra...)...)
	d.waitRunning()
	return d
}

// stopProcess ends a child daemon as systemd would (SIGTERM) and waits.
func stopProcess(t *testing.T, d *daemonProcess) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
		t.Fatal("the daemon did not stop within 20 s of SIGTERM")
	}
}

// TestDashboard drives the page as an owner would: it loads without
// errors, shows live state, moves the head from a slider and from the
// keyboard, installs an app from the catalogue (progress bar to 100 %,
// logs), runs it and reads its log, and comes back by itself after the
// daemon process restarts.
func TestDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Chromium and daemons in child processes")
	}
	hf, _ := fakeSpaces(t)
	dataDir, port := t.TempDir(), freePort(t)
	// The emotions library on disk (datasets_test.go's move).
	lib := filepath.Join(dataDir, "datasets", emotions, "data")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cheerful1.json", "curious1.json"} {
		if err := os.WriteFile(filepath.Join(lib, name), []byte(recordedMove), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	datasets := []string{"--datasets-dir", filepath.Join(dataDir, "datasets")}
	d := dashboardDaemon(t, dataDir, port, hf.URL, datasets...)
	robot := followState(t, d.ws)
	b := newBrowser(t, 1280, 900)

	// Loads, with the strict policy, and shows live state.
	b.run(chromedp.Navigate(d.base + "/"))
	b.waitFor("live state", `window.dashboard && window.dashboard.frames > 3 && document.getElementById("conn").textContent === "live"`)
	if got := b.text("robot-name"); got != "reachy_mini" {
		t.Errorf("robot name shown %q", got)
	}
	b.waitFor("daemon state", `document.getElementById("daemon-state").textContent === "running"`)
	b.waitFor("motor table", `document.querySelectorAll("#motor-rows tr").length === 9`)
	if p := b.problems(); len(p) > 0 {
		t.Fatalf("the page reported problems while loading: %v", p)
	}
	// Every control has an accessible name (a label, aria-label or text).
	if unnamed := evalJS[[]string](b, `[...document.querySelectorAll("input, select, button, progress, textarea, video, img, pre[tabindex]")]
		.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby") && !e.getAttribute("alt") && !e.textContent.trim())
		.map((e) => e.outerHTML.slice(0, 80))`); len(unnamed) > 0 {
		t.Errorf("controls without a name: %v", unnamed)
	}

	// Values change when the head moves (a goto from another client).
	if code, body := d.do("POST", "/api/move/goto", map[string]any{"head_pose": map[string]any{"roll": 0.3}, "duration": 0.5}); code != 200 {
		t.Fatalf("goto: %d %s", code, body)
	}
	b.waitFor("roll shown", `Math.abs(parseFloat(document.getElementById("st-roll").textContent) - 17.2) < 1.5`)

	// A click on the pitch slider streams a target: the robot follows
	// (once the goto ended: targets are ignored while a move runs).
	b.waitFor("goto completed", `document.getElementById("move-event").textContent === "move_completed"`)
	b.run(chromedp.ScrollIntoView(chromedp.CSS("#sl-pitch")))
	box := evalJS[[]float64](b, `(() => { const r = document.getElementById("sl-pitch").getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	b.run(chromedp.MouseClickXY(box[0]+box[2]*0.85, box[1]+box[3]/2))
	pitchDeg := evalJS[float64](b, `Number(document.getElementById("sl-pitch").value)`)
	if pitchDeg < 10 {
		t.Fatalf("the click set the pitch slider to %v°", pitchDeg)
	}
	robot.waitHead(t, "followed the pitch slider", func(_, p, _ float64) bool { return math.Abs(p-pitchDeg*math.Pi/180) < 0.05 })
	b.waitFor("pitch shown", fmt.Sprintf(`Math.abs(parseFloat(document.getElementById("st-pitch").textContent) - %v) < 3`, pitchDeg))

	// Keyboard: Tab from the pitch slider to the yaw slider, whose focus
	// is visible, and arrow keys turn the head.
	b.run(chromedp.Focus(chromedp.CSS("#sl-pitch")), chromedp.KeyEvent(kb.Tab))
	focused := evalJS[string](b, `document.activeElement.id`)
	outline := evalJS[string](b, `getComputedStyle(document.activeElement).outlineStyle`)
	if focused != "sl-yaw" || outline == "none" {
		t.Fatalf("after Tab: focus on %q with outline %q, want the yaw slider with a visible outline", focused, outline)
	}
	yaw0 := evalJS[float64](b, `Number(document.getElementById("sl-yaw").value)`)
	for range 20 {
		b.run(chromedp.KeyEvent(kb.ArrowRight))
	}
	want := (yaw0 + 20) * math.Pi / 180
	robot.waitHead(t, "turned with the arrow keys", func(_, _, y float64) bool { return math.Abs(y-want) < 0.05 })

	// The goto form: with live streaming off, the sliders only set the
	// target, and Go plays a goto there with the chosen curve.
	b.run(chromedp.Click(chromedp.CSS("#live-targets")), chromedp.Focus(chromedp.CSS("#sl-yaw")))
	for range 20 {
		b.run(chromedp.KeyEvent(kb.ArrowLeft))
	}
	moves, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/move/ws/updates", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer moves.Close()
	if _, _, y, _ := robot.headRPY(); math.Abs(y-want) > 0.05 {
		t.Fatalf("the robot followed the sliders with live streaming off: yaw %.3f", y)
	}
	b.run(chromedp.SetValue(chromedp.CSS("#goto-duration"), "0.5"), chromedp.SetValue(chromedp.CSS("#goto-interp"), "cartoon"),
		chromedp.Click(chromedp.CSS(`#goto-form button[type=submit]`)))
	_ = moves.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ev map[string]any
	if err := moves.ReadJSON(&ev); err != nil || ev["type"] != "move_started" {
		t.Fatalf("no goto started from the form: %v %v", ev, err)
	}
	back := yaw0 * math.Pi / 180
	robot.waitHead(t, "went back with the goto", func(_, _, y float64) bool { return math.Abs(y-back) < 0.05 })
	b.waitFor("goto done", `document.getElementById("live").textContent === "Go to: done"`)

	// A recorded move of the emotions library.
	b.run(chromedp.Click(chromedp.CSS("#dataset-load")))
	b.waitFor("moves listed", `document.getElementById("moves-msg").textContent === "2 moves"`)
	b.run(chromedp.Click(chromedp.CSS("#move-play")))
	b.waitFor("move played", `document.getElementById("live").textContent === "Play cheerful1: done"`)

	// Stop moves cancels a running goto (once the recorded move ended).
	eventually(t, "the recorded move ends", func() bool { var r []any; d.getJSON("/api/move/running", &r); return len(r) == 0 })
	if code, body := d.do("POST", "/api/move/goto", map[string]any{"head_pose": map[string]any{"yaw": 0.5}, "duration": 30}); code != 200 {
		t.Fatalf("goto: %d %s", code, body)
	}
	b.waitFor("goto running", `document.getElementById("move-event").textContent === "move_started"`)
	b.run(chromedp.Click(chromedp.CSS("#stop-moves")))
	b.waitFor("goto cancelled", `document.getElementById("move-event").textContent === "move_cancelled"`)

	// An app from the catalogue: install with progress and logs, run, log.
	b.waitFor("catalogue", `document.querySelector('#apps-catalogue li[data-app="wave"] button')`)
	b.run(chromedp.Click(chromedp.CSS(`#apps-catalogue li[data-app="wave"] button`)))
	b.waitFor("install progress at 100 %", `document.getElementById("job-progress").value === 100`)
	if log := b.text("job-log"); !strings.Contains(log, "Job 'install' completed successfully") || !strings.Contains(log, "Space found") {
		t.Errorf("install log shown: %q", log)
	}
	if s := b.text("job-status"); s != "wave: installed" {
		t.Errorf("install status shown %q", s)
	}
	b.waitFor("installed list", `document.querySelector('#apps-installed li[data-app="wave"] button')`)
	b.run(chromedp.Click(chromedp.CSS(`#apps-installed li[data-app="wave"] button`)))
	b.waitFor("the app's log", `document.getElementById("app-log").textContent.includes("running")`)
	b.waitFor("app running", `document.getElementById("app-current").textContent.startsWith("wave (running")`)
	b.run(chromedp.Click(chromedp.CSS("#app-stop")))
	b.waitFor("app stopped", `document.getElementById("app-current").textContent === "none"`)
	b.run(chromedp.Click(chromedp.CSS(`#apps-installed li[data-app="wave"] button[aria-label="Remove wave"]`)))
	b.waitFor("app removed", `document.getElementById("job-status").textContent === "wave: removed" && !document.querySelector('#apps-installed li[data-app="wave"]')`)
	if p := b.problems(); len(p) > 0 {
		t.Fatalf("the page reported problems: %v", p)
	}

	// Motors off and on from the mode radios.
	b.run(chromedp.Click(chromedp.CSS(`input[name=motor-mode][value=disabled]`)))
	eventually(t, "motors off", func() bool { var m map[string]any; d.getJSON("/api/motors/status", &m); return m["mode"] == "disabled" })
	b.run(chromedp.Click(chromedp.CSS(`input[name=motor-mode][value=enabled]`)))
	eventually(t, "motors on", func() bool { var m map[string]any; d.getJSON("/api/motors/status", &m); return m["mode"] == "enabled" })

	// The backend stopped and started from the Daemon card: the state
	// stream ends and comes back.
	b.run(chromedp.Click(chromedp.CSS("#stop-sleep")), chromedp.Click(chromedp.CSS("#daemon-stop")))
	b.waitFor("backend stopped", `document.getElementById("conn").textContent === "backend stopped"`)
	b.run(chromedp.Click(chromedp.CSS("#start-wake")), chromedp.Click(chromedp.CSS("#daemon-start")))
	frames := evalJS[float64](b, `window.dashboard.frames`)
	b.waitFor("live after the start", fmt.Sprintf(`document.getElementById("conn").textContent === "live" && window.dashboard.frames > %v + 5`, frames))

	// The daemon process restarts on the same port: the page says it is
	// reconnecting, then shows live state from the new daemon.
	stopProcess(t, d)
	b.waitFor("reconnecting", `document.getElementById("conn").textContent === "reconnecting"`)
	d2 := dashboardDaemon(t, dataDir, port, hf.URL, datasets...)
	before := evalJS[float64](b, `window.dashboard.frames`)
	b.waitFor("live again", fmt.Sprintf(`document.getElementById("conn").textContent === "live" && window.dashboard.frames > %v + 5`, before))
	if code, body := d2.do("POST", "/api/move/goto", map[string]any{"head_pose": map[string]any{"roll": -0.25}, "duration": 0.5}); code != 200 {
		t.Fatalf("goto: %d %s", code, body)
	}
	b.waitFor("roll from the new daemon", `Math.abs(parseFloat(document.getElementById("st-roll").textContent) + 14.3) < 1.5`)
	// Only exceptions count here: the dashBrowser logs the refused
	// reconnections while the daemon was away.
	for _, p := range b.problems() {
		if strings.HasPrefix(p, "exception") {
			t.Errorf("after the restart: %s", p)
		}
	}
}

// TestDashboardCSP: the page and its files carry the strict policy, and
// the page loads nothing that breaks it (checked in TestDashboard).
func TestDashboardCSP(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	for _, path := range []string{"/", "/dashboard/app.js", "/dashboard/dash.css"} {
		resp, err := http.Get(d.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
			t.Errorf("%s: CSP %q allows too much", path, csp)
		}
	}
	if code, _ := d.do("GET", "/dashboard/../go.mod", nil); code != 404 {
		t.Errorf("a path out of the dashboard: %d", code)
	}
}

// TestDashboardCamera: with media, the camera plays over WebRTC from the
// robot's producer (the signalling protocol spoken by camera.js).
func TestDashboardCamera(t *testing.T) {
	d := startMediaDaemon(t)
	b := newBrowser(t, 1280, 900, chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"), chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	b.run(chromedp.Navigate(d.base + "/"))
	b.waitFor("camera button", `!document.getElementById("cam-start").disabled`)
	b.run(chromedp.Click(chromedp.CSS("#cam-start")))
	b.waitFor("video frames", `document.getElementById("cam-video").videoWidth === 640`)
	// The speaker volume from the keyboard (Home: 0 %).
	b.waitFor("volume slider", `!document.getElementById("vol-speaker").disabled`)
	b.run(chromedp.Focus(chromedp.CSS("#vol-speaker")), chromedp.KeyEvent(kb.Home))
	eventually(t, "volume 0", func() bool { var v map[string]any; d.getJSON("/api/volume/current", &v); return v["volume"] == 0.0 })
	if s := b.text("media-state"); s != "camera: live (WebRTC)" {
		t.Errorf("media state shown %q", s)
	}
	d.waitMedia(func(m mediaDetail) bool { return len(m.Sessions) == 1 })
	b.run(chromedp.Click(chromedp.CSS("#cam-stop")))
	d.waitMedia(func(m mediaDetail) bool { return len(m.Sessions) == 0 })
	for _, p := range b.problems() {
		t.Errorf("page problem: %s", p)
	}
}

// TestDashboardMJPEG: signed in with an API key, the page runs a skill;
// without media (no GStreamer) but with a camera, it shows the camera over
// MJPEG with its token; signed out, the camera button stays off.
func TestDashboardMJPEG(t *testing.T) {
	dataDir := t.TempDir()
	key := createKey(t, dataDir, "dashboard", messages.LevelUser)
	d := startDaemon(t, "--data-dir", dataDir, "--camera", "test", "--camera-size", "320x240", "--camera-fps", "10")
	d.waitRunning()
	b := newBrowser(t, 1280, 900)
	b.run(chromedp.Navigate(d.base + "/"))
	b.waitFor("media state", `document.getElementById("media-state").textContent.includes("no_media")`)
	if !evalJS[bool](b, `document.getElementById("cam-start").disabled`) {
		t.Fatal("the camera button is on without media and without a sign-in")
	}
	b.run(chromedp.SendKeys(chromedp.CSS("#api-key"), key), chromedp.Click(chromedp.CSS("#login button")))
	b.waitFor("signed in", `!document.getElementById("skills-body").hidden && document.getElementById("key-level").textContent === "USER"`)
	// A built-in skill runs as a mission.
	b.waitFor("skills listed", `document.querySelector('#skills-list button[aria-label="Run reset_ears"]')`)
	b.run(chromedp.Click(chromedp.CSS(`#skills-list button[aria-label="Run reset_ears"]`)))
	b.waitFor("mission started", `document.getElementById("skills-msg").textContent.startsWith("reset_ears: started (mission m-")`)

	b.waitFor("camera button", `!document.getElementById("cam-start").disabled`)
	b.run(chromedp.Click(chromedp.CSS("#cam-start")))
	b.waitFor("MJPEG frames", `document.getElementById("cam-img").naturalWidth === 320`)
	b.run(chromedp.Click(chromedp.CSS("#cam-stop")))
	b.waitFor("camera stopped", `document.getElementById("cam-img").hidden && document.getElementById("media-state").textContent === "Camera stopped."`)
	for _, p := range b.problems() {
		t.Errorf("page problem: %s", p)
	}
}

// TestDashboardPhone: on a phone's width the page fits (no sideways
// scrolling) and the sliders take the width.
func TestDashboardPhone(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	b := newBrowser(t, 390, 844)
	b.run(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.run(chromedp.Navigate(d.base + "/"))
	b.waitFor("live", `window.dashboard.frames > 2`)
	if w := evalJS[float64](b, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the page is %v px wide on a 390 px screen", w)
	}
	if w := evalJS[float64](b, `document.getElementById("sl-yaw").getBoundingClientRect().width`); w < 250 {
		t.Errorf("a slider is %v px wide on a 390 px screen", w)
	}
	for _, p := range b.problems() {
		t.Errorf("page problem: %s", p)
	}
}

// TestDashboardScreenshots writes the screenshots of docs/img with
// -dashboard-screenshots (go test ./cmd/reachyd -run TestDashboardScreenshots -args -dashboard-screenshots).
func TestDashboardScreenshots(t *testing.T) {
	if !*dashboardShots {
		t.Skip("only with -dashboard-screenshots")
	}
	hf, _ := fakeSpaces(t)
	dataDir, port := t.TempDir(), freePort(t)
	key := createKey(t, dataDir, "dashboard", messages.LevelAdmin)
	d := dashboardDaemon(t, dataDir, port, hf.URL)
	if code, body := d.do("POST", "/api/move/goto", map[string]any{"head_pose": map[string]any{"roll": 0.15, "yaw": 0.35, "z": 0.01},
		"antennas": []float64{0.5, -0.3}, "body_yaw": 0.3, "duration": 0.3}); code != 200 {
		t.Fatalf("goto: %d %s", code, body)
	}
	out := filepath.Join("..", "..", "docs", "img")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shoot := func(name string, w, h int, mobile bool, actions ...chromedp.Action[chromedp.Void]) {
		b := newBrowser(t, w, h)
		if mobile {
			b.run(chromedp.EmulateViewport(int64(w), int64(h), chromedp.EmulateScale(2), chromedp.EmulateMobile))
		}
		b.run(chromedp.Navigate(d.base + "/"))
		b.waitFor("live", `window.dashboard.frames > 5 && document.querySelector('#apps-catalogue li[data-app="wave"]')`)
		b.run(chromedp.SendKeys(chromedp.CSS("#api-key"), key), chromedp.Click(chromedp.CSS("#login button")))
		b.waitFor("skills", `document.querySelectorAll("#skills-list li").length > 0`)
		b.waitFor("loop rate", `document.getElementById("loop-rate").textContent.includes("Hz")`)
		b.run(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
		b.run(actions...)
		time.Sleep(300 * time.Millisecond) // the last frame drawn
		shot := chromedp.FullScreenshot(100)
		if mobile {
			shot = chromedp.CaptureScreenshot()
		}
		png, err := chromedp.Run(b.ctx, shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shoot("dashboard-desktop.png", 1400, 900, false)
	shoot("dashboard-phone.png", 390, 844, true)
	shoot("dashboard-phone-control.png", 390, 844, true, chromedp.Evaluate[chromedp.Void](`document.getElementById("control").scrollIntoView()`))
}

// TestDashboardPerf measures, for docs/benchmarks.md, the time from
// navigation start to the first live state, and the daemon's CPU with three
// open dashboards (REACHYD_DASHBOARD_BENCH=1).
func TestDashboardPerf(t *testing.T) {
	if os.Getenv("REACHYD_DASHBOARD_BENCH") == "" {
		t.Skip("a measurement: REACHYD_DASHBOARD_BENCH=1")
	}
	hf, _ := fakeSpaces(t)
	dataDir, port := t.TempDir(), freePort(t)
	d := dashboardDaemon(t, dataDir, port, hf.URL)
	pid := d.cmd.Process.Pid
	window := 20 * time.Second
	// measure returns the daemon's CPU over the window (% of one core) and
	// the other programs' (the machine is shared: a busy one is a bad run).
	measure := func() (daemon, others float64) {
		w := cpuload.Start()
		c0, _ := cpuload.CPUTime(pid)
		time.Sleep(window)
		c1, _ := cpuload.CPUTime(pid)
		return 100 * (c1 - c0).Seconds() / window.Seconds(), w.Others()
	}
	base, baseOthers := measure()
	b := newBrowser(t, 1280, 900)
	tabs := []*dashBrowser{b}
	for i := range 3 {
		tab := b
		if i > 0 {
			tab = newTab(t, b.ctx)
			tabs = append(tabs, tab)
		}
		tab.run(chromedp.Navigate(d.base + "/"))
		tab.waitFor("live", `window.dashboard.firstStateMs !== null`)
		ms := evalJS[float64](tab, `window.dashboard.firstStateMs`)
		t.Logf("tab %d: navigation start to first live state %.0f ms", i+1, ms)
	}
	frames := func() (n []float64) {
		for _, tab := range tabs {
			n = append(n, evalJS[float64](tab, `window.dashboard.frames`))
		}
		return n
	}
	f0 := frames()
	busy, busyOthers := measure()
	f1 := frames()
	for i := range tabs {
		t.Logf("tab %d: %.1f state frames/s during the window", i+1, (f1[i]-f0[i])/window.Seconds())
	}
	t.Logf("daemon CPU over %v: no dashboard %.1f%% of a core (others %.0f%%), three dashboards %.1f%% (others %.0f%%)",
		window, base, baseOthers, busy, busyOthers)
	for _, p := range b.problems() {
		t.Errorf("page problem: %s", p)
	}
}
