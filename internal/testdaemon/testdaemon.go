// Package testdaemon runs a real reachyd for the tests of other packages
// (cmd/reachyctl, client): cmd/reachyd's own harness is in package main
// and cannot be imported.
//
// The daemon is built once per test binary with `go build` (the Go build
// cache makes later builds a link), then each Start runs it as a child
// process on the simulated robot, on a port the kernel picks (read back
// from its "reachyd listening" log line, so there is no window in which
// another process could take the port), with everything that would leave
// the machine or touch the user's files turned off or pointed at a
// temporary folder, as cmd/reachyd/harness_test.go does in-process:
// GStreamer absent (--gst-launch /nonexistent/...), no mDNS, no unix
// socket, no skill host, no camera, a Hugging Face endpoint that refuses
// (127.0.0.1:1) with a private hub cache, and a private data folder. The
// daemon is stopped (SIGTERM, then SIGKILL after 10 s) in t.Cleanup, and
// on Linux killed by the kernel if the test binary dies first.
package testdaemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"reachyd/internal/deathsig"
)

// Daemon is a running reachyd.
type Daemon struct {
	// URL is the API's base URL, http://127.0.0.1:<port>.
	URL string
	// DataDir is its --data-dir (keys live in DataDir/auth).
	DataDir string
	// AppsDir is a folder apps may be installed from by path
	// (--apps-local-dir): write test apps there.
	AppsDir string
	// HubCache is its --hf-hub-cache.
	HubCache string

	cmd  *exec.Cmd
	logs *ring
	done chan struct{}
}

// Options change a Start.
type Options struct {
	// Args are appended to the default flags (a later flag wins).
	Args []string
	// DataDir, if set, is used instead of a fresh temporary folder (to
	// create API keys before the start).
	DataDir string
}

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// Main runs the tests of a package and removes the daemon binary built for
// them; call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// Binary builds reachyd (once per test binary) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "reachyd-testdaemon-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "reachyd")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			goTool = "go"
		}
		cmd := exec.Command(goTool, "build", "-o", buildBin, "reachyd/cmd/reachyd")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build reachyd/cmd/reachyd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// Start runs a reachyd and waits until its API answers and its backend
// runs.
func Start(t testing.TB, opts Options) *Daemon {
	t.Helper()
	bin := Binary(t)
	d := &Daemon{DataDir: opts.DataDir, AppsDir: t.TempDir(), HubCache: t.TempDir(), logs: &ring{max: 400}, done: make(chan struct{})}
	if d.DataDir == "" {
		d.DataDir = t.TempDir()
	}
	args := []string{
		"--backend", "sim", "--fastapi-host", "127.0.0.1", "--fastapi-port", "0", "--data-dir", d.DataDir,
		"--log-level", "INFO", "--no-goto-sleep-on-stop", "--no-wake-up-on-start",
		"--uds", "", "--topics-port", "0", "--no-skill-host", "--camera", "none", "--rtsp-port", "0", "--no-mdns",
		"--gst-launch", "/nonexistent/gst-launch-1.0", "--webrtc-port", "0", "--webrtc-loopback",
		"--hf-endpoint", "http://127.0.0.1:1", "--hf-hub-cache", d.HubCache,
		"--apps-local-dir", d.AppsDir,
	}
	args = append(args, opts.Args...)
	cmd := exec.Command(bin, args...)
	// The user's Hugging Face token and config stay out of the daemon.
	cmd.Env = append(filterEnv(os.Environ()), "HOME="+d.DataDir, "XDG_CONFIG_HOME="+filepath.Join(d.DataDir, "config"),
		"HF_HOME="+filepath.Join(d.DataDir, "hf"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.cmd = cmd
	addr := make(chan string, 1)
	go d.readLog(stderr, addr)
	go func() {
		_ = cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("reachyd's log (last lines):\n%s", d.Log())
		}
	})
	select {
	case a := <-addr:
		d.URL = "http://" + a
	case <-d.done:
		t.Fatalf("reachyd exited before listening:\n%s", d.Log())
	case <-time.After(20 * time.Second):
		t.Fatalf("reachyd did not listen in 20 s:\n%s", d.Log())
	}
	d.waitStarted(t)
	return d
}

// waitStarted waits for the backend to run. On a loaded machine (tests of
// other packages in parallel, -race) the simulated backend can miss the
// daemon's 2 s readiness deadline and the daemon ends in state error: it
// is then started again through the API, as a user would, up to 3 times.
func (d *Daemon) waitStarted(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	retries := 0
	var st map[string]any
	for time.Now().Before(deadline) {
		if err := d.GetJSON(context.Background(), "/api/daemon/status", &st); err == nil {
			switch st["state"] {
			case "running":
				return
			case "error":
				if retries == 3 {
					t.Fatalf("reachyd's backend failed to start 4 times: %v", st["error"])
				}
				retries++
				t.Logf("reachyd's backend did not start (%v): starting it again", st["error"])
				if err := d.post("/api/daemon/start?wake_up=false"); err != nil {
					t.Logf("restart: %v", err)
				}
			}
		}
		select {
		case <-d.done:
			t.Fatalf("reachyd exited:\n%s", d.Log())
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("reachyd not running in 30 s: %v", st)
}

func (d *Daemon) post(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return nil
}

// filterEnv drops the variables that would point the daemon at the user's
// Hugging Face account or another daemon.
func filterEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "HF_") || strings.HasPrefix(k, "HUGGING_FACE") || strings.HasPrefix(k, "REACHYD_") ||
			k == "HOME" || k == "XDG_CONFIG_HOME" || k == "XDG_DATA_HOME" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

var listenRe = regexp.MustCompile(`msg="reachyd listening" addr=(\S+)`)

func (d *Daemon) readLog(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	found := false
	for sc.Scan() {
		line := sc.Text()
		d.logs.add(line)
		if !found {
			if m := listenRe.FindStringSubmatch(line); m != nil {
				found = true
				addr <- m[1]
			}
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// Log is the daemon's last log lines.
func (d *Daemon) Log() string { return d.logs.String() }

// Stop stops the daemon: SIGTERM, and SIGKILL if it has not exited after
// 10 s. It is called by t.Cleanup; calling it earlier is allowed.
func (d *Daemon) Stop() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// Exited is closed when the daemon's process has ended.
func (d *Daemon) Exited() <-chan struct{} { return d.done }

// WaitState polls GET /api/daemon/status until state is want (20 s at
// most) and returns the status.
func (d *Daemon) WaitState(t testing.TB, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var st map[string]any
	for time.Now().Before(deadline) {
		if err := d.GetJSON(context.Background(), "/api/daemon/status", &st); err == nil && st["state"] == want {
			return st
		}
		select {
		case <-d.done:
			t.Fatalf("reachyd exited:\n%s", d.Log())
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("reachyd not %s in 20 s: %v", want, st)
	return nil
}

// GetJSON is a plain GET of path decoded into v, for checks that do not go
// through the client under test.
func (d *Daemon) GetJSON(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// WriteExecApp writes an executable app (reachy-app.yaml and run.sh with
// the given shell script) in AppsDir and returns its folder.
func (d *Daemon) WriteExecApp(t testing.TB, name, script string) string {
	t.Helper()
	dir := filepath.Join(d.AppsDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf("name: %s\ndescription: test app %s\ncommand: [\"./run.sh\"]\n", name, name)
	if err := os.WriteFile(filepath.Join(dir, "reachy-app.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ring keeps the last max lines.
type ring struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (r *ring) add(l string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) >= r.max {
		r.lines = append(r.lines[:0], r.lines[1:]...)
	}
	r.lines = append(r.lines, l)
}

func (r *ring) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}
