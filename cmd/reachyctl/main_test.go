package main

// These tests run reachyctl's cobra tree in-process (run) with arguments and
// captured output against a real reachyd on the simulated robot, started
// as a child process by internal/testdaemon; the fakes are a Hugging Face
// Hub for the recorded moves (actors/datasets/hubtest) and, for the
// timeout exit code, an HTTP server that never answers.

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"reachyd/actors/datasets/hubtest"
	"reachyd/internal/testdaemon"
)

func TestMain(m *testing.M) { testdaemon.Main(m) }

// syncBuffer is a bytes.Buffer shared by a running command and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is one run of reachyctl.
type result struct {
	code        int
	out, errOut string
}

// ctl runs reachyctl with args; env is its environment (nil: empty).
func ctl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return ctlTTY(t, false, env, args...)
}

func ctlTTY(t *testing.T, tty bool, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	code := run(ctx, args, streams{in: strings.NewReader(""), out: &out, err: &errOut, outTTY: tty},
		func(k string) string { return env[k] })
	return result{code, out.String(), errOut.String()}
}

// ok runs reachyctl against d and wants exit code 0.
func ok(t *testing.T, d *testdaemon.Daemon, args ...string) string {
	t.Helper()
	r := ctl(t, nil, append([]string{"--url", d.URL}, args...)...)
	if r.code != 0 {
		t.Fatalf("reachyctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.errOut)
	}
	return r.out
}

// okJSON runs reachyctl --json against d and decodes its output into v.
func okJSON(t *testing.T, d *testdaemon.Daemon, v any, args ...string) {
	t.Helper()
	out := ok(t, d, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("reachyctl %s --json: %v in %q", strings.Join(args, " "), err, out)
	}
}

// fails runs reachyctl against d and wants the exit code want; it returns
// the JSON error object printed on stderr (--json is added).
func fails(t *testing.T, d *testdaemon.Daemon, want int, args ...string) map[string]any {
	t.Helper()
	r := ctl(t, nil, append([]string{"--url", d.URL, "--json"}, args...)...)
	if r.code != want {
		t.Fatalf("reachyctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.out, r.errOut)
	}
	if r.out != "" {
		t.Errorf("reachyctl %s: stdout on error: %q", strings.Join(args, " "), r.out)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(r.errOut), &e); err != nil {
		t.Fatalf("error is not JSON: %q", r.errOut)
	}
	if e["exit_code"] != float64(want) {
		t.Errorf("error object %v", e)
	}
	return e
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

type pose struct{ X, Y, Z, Roll, Pitch, Yaw float64 }

type fullState struct {
	HeadPose pose       `json:"head_pose"`
	BodyYaw  float64    `json:"body_yaw"`
	Antennas [2]float64 `json:"antennas_position"`
}

// waitState polls the daemon's state until cond holds (5 s at most).
func waitState(t *testing.T, d *testdaemon.Daemon, cond func(fullState) bool) fullState {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var s fullState
	for {
		if err := d.GetJSON(context.Background(), "/api/state/full", &s); err != nil {
			t.Fatal(err)
		}
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("state: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRobotCommands(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})

	t.Run("status", func(t *testing.T) {
		var st map[string]any
		okJSON(t, d, &st, "status")
		if st["state"] != "running" || st["type"] != "daemon_status" {
			t.Fatalf("status --json: %v", st)
		}
		out := ok(t, d, "status")
		if !strings.Contains(out, "state:    running") || !strings.Contains(out, "simulation") || strings.Contains(out, "\x1b[") {
			t.Fatalf("status:\n%q", out)
		}
		// $REACHYD_URL gives the address; --url wins over it.
		if r := ctl(t, map[string]string{"REACHYD_URL": d.URL}, "status", "--json"); r.code != 0 {
			t.Fatalf("with REACHYD_URL: %d %s", r.code, r.errOut)
		}
		if r := ctl(t, map[string]string{"REACHYD_URL": "http://127.0.0.1:1"}, "--url", d.URL, "status"); r.code != 0 {
			t.Fatalf("--url over REACHYD_URL: %d %s", r.code, r.errOut)
		}
	})

	t.Run("goto errors", func(t *testing.T) {
		fails(t, d, exitUsage, "goto", "--yaw", "0.1", "--interpolation", "bouncy")
		fails(t, d, exitUsage, "goto", "--duration", "1")
		fails(t, d, exitUsage, "goto", "--antennas", "1,2,3")
		fails(t, d, exitUsage, "goto", "--yaw", "abc")
		// An unreachable pose: the daemon refuses it (400), nothing moves.
		e := fails(t, d, exitFailed, "goto", "--x", "0.5", "--duration", "0.1")
		if e["status"] != float64(400) || !strings.Contains(e["detail"].(string), "not achievable") {
			t.Fatalf("unreachable pose: %v", e)
		}
	})

	t.Run("wake and sleep", func(t *testing.T) {
		var m struct{ Result string }
		okJSON(t, d, &m, "sleep")
		if m.Result != "completed" {
			t.Fatalf("sleep: %+v", m)
		}
		// Asleep, the motors are off: wake turns them on first.
		var st struct{ Mode string }
		okJSON(t, d, &st, "motors", "status")
		if st.Mode != "disabled" {
			t.Fatalf("motors after sleep: %+v", st)
		}
		if out := ok(t, d, "wake"); out != "motors enabled\nwake up done\n" {
			t.Fatalf("wake: %q", out)
		}
		waitState(t, d, func(s fullState) bool { return near(s.HeadPose.Pitch, 0, 0.05) && near(s.HeadPose.Z, 0, 0.003) })
		okJSON(t, d, &m, "wake")
		if m.Result != "completed" {
			t.Fatalf("wake: %+v", m)
		}
	})

	t.Run("goto moves the head", func(t *testing.T) {
		var m struct{ UUID, Result string }
		okJSON(t, d, &m, "goto", "--yaw", "0.3", "--z", "0.01", "--antennas", "0.5,-0.4", "--body-yaw", "0.2", "--duration", "0.4", "--interpolation", "cartoon")
		if m.Result != "completed" || m.UUID == "" {
			t.Fatalf("goto: %+v", m)
		}
		// The present state follows (the simulated motors trail their
		// goals by a few ticks).
		s := waitState(t, d, func(s fullState) bool {
			return near(s.HeadPose.Yaw, 0.3, 0.02) && near(s.HeadPose.Z, 0.01, 0.002) && near(s.BodyYaw, 0.2, 0.02) &&
				near(s.Antennas[0], 0.5, 0.02) && near(s.Antennas[1], -0.4, 0.02)
		})
		// reachyctl state reads the same.
		var st struct {
			HeadPose pose       `json:"head_pose"`
			Antennas [2]float64 `json:"antennas"`
		}
		okJSON(t, d, &st, "state")
		if !near(st.HeadPose.Yaw, 0.3, 0.02) || !near(st.Antennas[0], 0.5, 0.02) {
			t.Fatalf("state --json: %+v", st)
		}
		// Degrees, and every curve the API accepts.
		for _, curve := range []string{"linear", "minjerk", "ease_in_out", "cartoon"} {
			ok(t, d, "goto", "--degrees", "--pitch", "-5", "--yaw", "-10", "--duration", "0.1", "--interpolation", curve)
		}
		waitState(t, d, func(s fullState) bool {
			return near(s.HeadPose.Yaw, -10*math.Pi/180, 0.02) && near(s.HeadPose.Pitch, -5*math.Pi/180, 0.02)
		})
		_ = s
		// --no-wait returns the move's id only.
		var nw map[string]any
		okJSON(t, d, &nw, "goto", "--body-yaw", "0", "--duration", "0.1", "--no-wait")
		if _, has := nw["result"]; has || nw["uuid"] == "" {
			t.Fatalf("--no-wait: %v", nw)
		}
	})

	t.Run("motors", func(t *testing.T) {
		for _, c := range []struct{ cmd, mode string }{{"gravity", "gravity_compensation"}, {"disable", "disabled"}, {"enable", "enabled"}} {
			var r map[string]string
			okJSON(t, d, &r, "motors", c.cmd)
			if r["mode"] != c.mode || !strings.Contains(r["status"], "motors changed to") {
				t.Fatalf("motors %s: %v", c.cmd, r)
			}
			var st struct {
				Mode   string
				Motors []struct{ Name string }
			}
			okJSON(t, d, &st, "motors", "status")
			if st.Mode != c.mode || len(st.Motors) != 9 {
				t.Fatalf("motors status after %s: %+v", c.cmd, st)
			}
		}
		if out := ok(t, d, "motors"); !strings.HasPrefix(out, "mode: enabled\n") || !strings.Contains(out, "left_antenna") {
			t.Fatalf("motors:\n%s", out)
		}
		fails(t, d, exitUsage, "motors", "turbo")
	})

	t.Run("daemon stop and start", func(t *testing.T) {
		var j struct{ Command, Status string }
		okJSON(t, d, &j, "daemon", "stop")
		if j.Command != "daemon-stop" || j.Status != "done" {
			t.Fatalf("daemon stop: %+v", j)
		}
		d.WaitState(t, "stopped")
		// The robot is off: moves are refused (503).
		e := fails(t, d, exitFailed, "goto", "--yaw", "0.1", "--duration", "0.1")
		if e["status"] != float64(503) {
			t.Fatalf("goto while stopped: %v", e)
		}
		okJSON(t, d, &j, "daemon", "start")
		if j.Command != "daemon-start" || j.Status != "done" {
			t.Fatalf("daemon start: %+v", j)
		}
		d.WaitState(t, "running")
	})
}

func TestExitCodes(t *testing.T) {
	// Nothing listens on a port that was just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()

	// A server that accepts and never answers.
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	defer slow.Close()
	defer close(hang)

	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{"unreachable", nil, []string{"--url", dead, "status"}, exitUnreachable},
		{"unreachable from the environment", map[string]string{"REACHYD_URL": dead}, []string{"apps", "list"}, exitUnreachable},
		{"request timeout", nil, []string{"--url", slow.URL, "--request-timeout", "200ms", "status"}, exitTimeout},
		{"command timeout", nil, []string{"--url", slow.URL, "--timeout", "200ms", "motors"}, exitTimeout},
		{"unknown flag", nil, []string{"status", "--bogus"}, exitUsage},
		{"unknown command", nil, []string{"dance"}, exitUsage},
		{"extra argument", nil, []string{"status", "now"}, exitUsage},
		{"missing argument", nil, []string{"apps", "start"}, exitUsage},
		{"bad url", nil, []string{"--url", "ftp://robot", "status"}, exitUsage},
		{"skills without a key", nil, []string{"--url", dead, "skills", "list"}, exitFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ctl(t, c.env, c.args...)
			if r.code != c.want {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, c.want, r.errOut)
			}
			if r.out != "" || r.errOut == "" {
				t.Fatalf("stdout %q, stderr %q", r.out, r.errOut)
			}
		})
	}
	r := ctl(t, nil, "--url", dead, "--json", "status")
	var e map[string]any
	if json.Unmarshal([]byte(r.errOut), &e) != nil || e["exit_code"] != float64(exitUnreachable) || !strings.Contains(e["error"].(string), "cannot reach") {
		t.Fatalf("--json error: %q", r.errOut)
	}
}

func TestApps(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})
	// An app that says hello, writes a few lines and ends by itself.
	dir := d.WriteExecApp(t, "hello", "echo 'hello from app'\nfor i in 1 2 3 4 5; do echo line $i; sleep 0.05; done\necho 'bye from app'\n")

	var job struct {
		JobID, Command, Status string
		Logs                   []string
	}
	okJSON(t, d, &job, "apps", "install", "--path", dir)
	if job.Command != "install" || job.Status != "done" || !strings.Contains(strings.Join(job.Logs, "\n"), "Successfully installed 'hello'") {
		t.Fatalf("install: %+v", job)
	}
	var apps []struct{ Name, SourceKind string }
	okJSON(t, d, &apps, "apps", "list", "--installed")
	if len(apps) != 1 || apps[0].Name != "hello" {
		t.Fatalf("list --installed: %+v", apps)
	}
	if out := ok(t, d, "apps", "list"); !strings.Contains(out, "hello") {
		t.Fatalf("list: %q", out)
	}

	// Start, follow the output to the app's end.
	var st struct {
		Info  struct{ Name string }
		State string
		JobID string `json:"job_id"`
	}
	okJSON(t, d, &st, "apps", "start", "hello")
	if st.Info.Name != "hello" || (st.State != "starting" && st.State != "running") || st.JobID == "" {
		t.Fatalf("start: %+v", st)
	}
	out := ok(t, d, "apps", "logs", "-f")
	for _, want := range []string{"hello from app", "line 5", "bye from app"} {
		if !strings.Contains(out, want) {
			t.Fatalf("logs -f lacks %q:\n%s", want, out)
		}
	}
	// The app has ended by itself.
	var end struct{ State string }
	okJSON(t, d, &end, "apps", "status")
	if end.State != "done" {
		t.Fatalf("status after the end: %+v", end)
	}
	// Its log stays readable by job id, in JSON lines with -f.
	out = ok(t, d, "apps", "logs", "--job", st.JobID, "-f", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var first, last map[string]string
	_ = json.Unmarshal([]byte(lines[0]), &first)
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if first["line"] == "" || last["status"] != "done" || last["job_id"] != st.JobID {
		t.Fatalf("logs -f --json:\n%s", out)
	}

	// A long-running app: start, status, logs, stop.
	d.WriteExecApp(t, "ticker", "echo ticking\nwhile true; do echo tick; sleep 0.05; done\n")
	okJSON(t, d, &job, "apps", "install", "--path", filepath.Join(d.AppsDir, "ticker"))
	ok(t, d, "apps", "start", "ticker")
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := ok(t, d, "apps", "logs")
		if strings.Contains(out, "ticking") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no output from the app: %q", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := ok(t, d, "apps", "status"); !strings.HasPrefix(out, "ticker: ") || !strings.Contains(out, "pid: ") {
		t.Fatalf("status: %q", out)
	}
	e := fails(t, d, exitFailed, "apps", "install", "--path", filepath.Join(d.AppsDir, "ticker"))
	if e["status"] != float64(409) {
		t.Fatalf("install of a running app: %v", e)
	}
	// Ctrl-C while following: exit 130, the lines seen so far printed.
	var out2 syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	codec := make(chan int, 1)
	go func() {
		codec <- run(ctx, []string{"--url", d.URL, "apps", "logs", "-f"}, streams{in: strings.NewReader(""), out: &out2, err: &out2},
			func(string) string { return "" })
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out2.String(), "tick"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("logs -f shows nothing: %q", out2.String())
		}
	}
	cancel()
	if code := <-codec; code != exitInterrupted {
		t.Fatalf("interrupted logs -f: exit %d", code)
	}
	var stopped map[string]bool
	okJSON(t, d, &stopped, "apps", "stop")
	if !stopped["stopped"] {
		t.Fatalf("stop: %v", stopped)
	}

	// Errors the daemon reports.
	e = fails(t, d, exitFailed, "apps", "start", "nope")
	if e["status"] != float64(404) || !strings.Contains(e["detail"].(string), "nope") {
		t.Fatalf("start of an unknown app: %v", e)
	}
	e = fails(t, d, exitFailed, "apps", "stop")
	if e["status"] != float64(400) {
		t.Fatalf("stop with no app: %v", e)
	}
	fails(t, d, exitFailed, "apps", "logs")
	// Not in the catalogue (the Hub is unreachable: only installed apps).
	if e := fails(t, d, exitFailed, "apps", "install", "nope"); !strings.Contains(e["error"].(string), "catalogue") {
		t.Fatalf("install of an unknown name: %v", e)
	}
	// A Space the daemon cannot download: the job fails, its object is
	// printed, exit 1.
	r := ctl(t, nil, "--url", d.URL, "--json", "apps", "install", "someone/some_app")
	var failed struct{ Status string }
	if r.code != exitFailed || json.Unmarshal([]byte(r.out), &failed) != nil || failed.Status != "failed" || !strings.Contains(r.errOut, "failed") {
		t.Fatalf("failed install: %d %q %q", r.code, r.out, r.errOut)
	}
	fails(t, d, exitUsage, "apps", "install")
	fails(t, d, exitUsage, "apps", "install", "a/b", "--path", dir)
	// A path outside --apps-local-dir is refused by the daemon.
	outside := t.TempDir()
	if e := fails(t, d, exitFailed, "apps", "install", "--path", outside); e["status"] == nil {
		t.Fatalf("install from outside: %v", e)
	}

	// Remove, with the human output.
	if out := ok(t, d, "apps", "remove", "ticker"); !strings.Contains(out, "Successfully uninstalled 'ticker'") {
		t.Fatalf("remove: %q", out)
	}
	okJSON(t, d, &apps, "apps", "list", "--installed")
	if len(apps) != 1 {
		t.Fatalf("after remove: %+v", apps)
	}

	// Shell completion of installed app names, through cobra's hidden
	// __complete command as the shell scripts call it.
	out = ok(t, d, "__complete", "apps", "start", "")
	if !strings.Contains(out, "hello\n") {
		t.Fatalf("completion: %q", out)
	}
}

func TestInstallProgressBar(t *testing.T) {
	d := testdaemon.Start(t, testdaemon.Options{})
	dir := d.WriteExecApp(t, "bar", "echo hi\n")
	// As on a terminal: the bar is drawn and ends at 100 %.
	r := ctlTTY(t, true, nil, "--url", d.URL, "apps", "install", "--path", dir)
	if r.code != 0 {
		t.Fatalf("install: %d %s", r.code, r.errOut)
	}
	if !strings.Contains(r.out, "100%") || !strings.Contains(r.out, "Installed bar") || !strings.Contains(r.out, "█") {
		t.Fatalf("no finished progress bar in %q", r.out)
	}
	if strings.Contains(r.out, "Successfully installed") && !strings.Contains(r.out, "Installing bar") {
		t.Fatalf("log lines instead of a bar: %q", r.out)
	}
	// Not a terminal: no bar, no escape codes, the log lines.
	r = ctl(t, nil, "--url", d.URL, "apps", "install", "--path", dir)
	if r.code != 0 || strings.Contains(r.out, "%") || strings.Contains(r.out, "\x1b[") || !strings.Contains(r.out, "Successfully installed 'bar'") {
		t.Fatalf("install without a terminal: %d %q", r.code, r.out)
	}
	// Colour only on a terminal, and never with NO_COLOR.
	if r := ctlTTY(t, true, nil, "--url", d.URL, "status"); !strings.Contains(r.out, "\x1b[32mrunning") {
		t.Fatalf("no colour on a terminal: %q", r.out)
	}
	if r := ctlTTY(t, true, map[string]string{"NO_COLOR": "1"}, "--url", d.URL, "status"); strings.Contains(r.out, "\x1b[") {
		t.Fatalf("colour with NO_COLOR: %q", r.out)
	}
}

func TestSkillsAndKeys(t *testing.T) {
	dataDir := t.TempDir()
	// The key is made before the daemon starts, in its data folder.
	var key struct{ ID, Name, Level, Key string }
	r := ctl(t, nil, "keys", "create", "--data-dir", dataDir, "--name", "laptop", "--level", "ADMIN", "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.out), &key) != nil || key.Level != "ADMIN" || !strings.HasPrefix(key.Key, "rmk_") {
		t.Fatalf("keys create: %d %q %q", r.code, r.out, r.errOut)
	}
	if r := ctl(t, nil, "keys", "create", "--data-dir", dataDir, "--name", "x", "--level", "GOD"); r.code != exitUsage {
		t.Fatalf("bad level: %d", r.code)
	}
	d := testdaemon.Start(t, testdaemon.Options{DataDir: dataDir})
	env := map[string]string{"REACHYD_API_KEY": key.Key}
	run := func(args ...string) result {
		return ctl(t, env, append([]string{"--url", d.URL}, args...)...)
	}
	okRun := func(v any, args ...string) {
		t.Helper()
		r := run(append(args, "--json")...)
		if r.code != 0 {
			t.Fatalf("%v: %d %s", args, r.code, r.errOut)
		}
		if err := json.Unmarshal([]byte(r.out), v); err != nil {
			t.Fatalf("%v: %v in %q", args, err, r.out)
		}
	}

	var keys []struct{ ID, Name, Level string }
	r = ctl(t, nil, "keys", "list", "--data-dir", dataDir, "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.out), &keys) != nil || len(keys) != 1 || keys[0].ID != key.ID || strings.Contains(r.out, "hash") {
		t.Fatalf("keys list: %q", r.out)
	}
	var sess struct {
		Token       string
		ClientID    string `json:"client_id"`
		AccessLevel string `json:"access_level"`
	}
	okRun(&sess, "keys", "token")
	if sess.AccessLevel != "ADMIN" || sess.Token == "" {
		t.Fatalf("keys token: %+v", sess)
	}
	// The key from a file works as well.
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(key.Key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := ctl(t, nil, "--url", d.URL, "--api-key-file", keyFile, "keys", "token"); r.code != 0 || !strings.Contains(r.out, "access level: ADMIN") {
		t.Fatalf("--api-key-file: %d %q %q", r.code, r.out, r.errOut)
	}

	var skills map[string]json.RawMessage
	okRun(&skills, "skills", "list")
	for _, s := range []string{"wake_up", "goto", "move_antennas"} {
		if _, has := skills[s]; !has {
			t.Fatalf("skills list lacks %s: %v", s, skills)
		}
	}
	var res struct {
		Awaited bool
		Status  string
	}
	okRun(&res, "skills", "run", "wake_up")
	if !res.Awaited || res.Status != "COMPLETED" {
		t.Fatalf("run wake_up: %+v", res)
	}
	okRun(&res, "skills", "run", "move_antennas", "left=0.4", "right=-0.4", "duration=0.2")
	if res.Status != "COMPLETED" {
		t.Fatalf("run move_antennas: %+v", res)
	}
	waitState(t, d, func(s fullState) bool { return near(s.Antennas[1], 0.4, 0.05) && near(s.Antennas[0], -0.4, 0.05) })
	// A long mission, started without waiting, listed, cancelled.
	var started map[string]string
	okRun(&started, "skills", "run", "goto", "yaw=0.3", "duration=20", "--no-wait")
	id := started["mission_id"]
	var missions []struct{ ID, Skill string }
	okRun(&missions, "skills", "missions")
	if len(missions) != 1 || missions[0].ID != id || missions[0].Skill != "goto" {
		t.Fatalf("missions: %+v (id %s)", missions, id)
	}
	var cancelled struct{ Cancelled bool }
	okRun(&cancelled, "skills", "cancel", id, "--wait")
	if !cancelled.Cancelled {
		t.Fatalf("cancel: %+v", cancelled)
	}
	// Refused and failed missions exit 1.
	for _, args := range [][]string{{"skills", "run", "nope"}, {"skills", "run", "goto", "duration=-1"}, {"skills", "run", "goto", "speed=3"}} {
		if r := run(args...); r.code != exitFailed {
			t.Fatalf("%v: exit %d %q", args, r.code, r.errOut)
		}
	}
	if r := run("skills", "run", "goto", "yaw"); r.code != exitUsage {
		t.Fatalf("parameter without a value: %d", r.code)
	}

	// Skill files: upload, disable, enable, remove.
	file := filepath.Join(t.TempDir(), "hello_skill.py")
	if err := os.WriteFile(file, []byte("def hello():\n    return 'hi'\nhello.skill_info = {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var fr struct {
		Status    string
		SkillName string `json:"skill_name"`
	}
	okRun(&fr, "skills", "upload", file)
	if fr.SkillName != "hello_skill.py" {
		t.Fatalf("upload: %+v", fr)
	}
	var files []struct {
		Name    string
		Enabled bool
	}
	okRun(&files, "skills", "files")
	if len(files) != 1 || files[0].Name != "hello_skill.py" || !files[0].Enabled {
		t.Fatalf("files: %+v", files)
	}
	okRun(&fr, "skills", "disable", "hello_skill.py")
	okRun(&files, "skills", "files")
	if len(files) != 1 || files[0].Enabled {
		t.Fatalf("files after disable: %+v", files)
	}
	okRun(&fr, "skills", "enable", "hello_skill.py")
	okRun(&fr, "skills", "remove", "hello_skill.py")
	okRun(&files, "skills", "files")
	if len(files) != 0 {
		t.Fatalf("files after remove: %+v", files)
	}

	// A wrong key is refused (401), no key is refused before any request.
	r = ctl(t, map[string]string{"REACHYD_API_KEY": key.Key[:len(key.Key)-2] + "xx"}, "--url", d.URL, "--json", "skills", "list")
	var e map[string]any
	if r.code != exitFailed || json.Unmarshal([]byte(r.errOut), &e) != nil || e["status"] != float64(401) {
		t.Fatalf("wrong key: %d %q", r.code, r.errOut)
	}
	if r := ctl(t, nil, "--url", d.URL, "skills", "files"); r.code != exitFailed || !strings.Contains(r.errOut, "API key") {
		t.Fatalf("no key: %d %q", r.code, r.errOut)
	}
	// Revoked: the key no longer opens a session.
	var rev map[string]any
	r = ctl(t, nil, "keys", "revoke", key.ID, "--data-dir", dataDir, "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.out), &rev) != nil || rev["revoked"] != true {
		t.Fatalf("revoke: %d %q %q", r.code, r.out, r.errOut)
	}
	deadline := time.Now().Add(10 * time.Second)
	for run("keys", "token").code != exitFailed {
		if time.Now().After(deadline) {
			t.Fatal("a revoked key still opens sessions")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const emotions = "pollen-robotics/reachy-mini-emotions-library"

// recordedMove is a short recorded move in the reference's format.
const recordedMove = `{"description":"test","time":[0,0.1,0.2],"set_target_data":[` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0,0],"body_yaw":0},` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0.2,-0.2],"body_yaw":0},` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0,0],"body_yaw":0}]}`

func TestMoves(t *testing.T) {
	fake := hubtest.New(t)
	fake.Add(hubtest.Repo{ID: emotions, Files: []hubtest.File{
		{Path: "README.md", Data: []byte("# emotions\n")},
		{Path: "data/cheerful1.json", Data: []byte(recordedMove)},
		{Path: "data/curious1.json", Data: []byte(recordedMove)},
	}})
	d := testdaemon.Start(t, testdaemon.Options{Args: []string{"--hf-endpoint", fake.URL}})

	var known []string
	okJSON(t, d, &known, "moves", "list")
	if len(known) != 2 || known[0] != emotions {
		t.Fatalf("moves list: %v", known)
	}
	var names []string
	okJSON(t, d, &names, "moves", "list", emotions)
	if strings.Join(names, ",") != "cheerful1,curious1" {
		t.Fatalf("moves list %s: %v", emotions, names)
	}
	var m struct{ UUID, Result string }
	okJSON(t, d, &m, "moves", "play", emotions, "cheerful1")
	if m.Result != "completed" || m.UUID == "" {
		t.Fatalf("play: %+v", m)
	}
	if out := ok(t, d, "moves", "play", emotions, "curious1"); out != "curious1 done\n" {
		t.Fatalf("play: %q", out)
	}
	e := fails(t, d, exitFailed, "moves", "play", emotions, "nope")
	if e["status"] != float64(404) {
		t.Fatalf("unknown move: %v", e)
	}
	fails(t, d, exitUsage, "moves", "play", emotions)
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := ctl(t, nil, "completion", sh)
		if r.code != 0 || !strings.Contains(r.out, "reachyctl") {
			t.Fatalf("completion %s: %d %q", sh, r.code, r.errOut)
		}
	}
	r := ctl(t, nil, "__complete", "goto", "--interpolation", "")
	for _, c := range []string{"linear", "minjerk", "ease_in_out", "cartoon"} {
		if !strings.Contains(r.out, c+"\n") {
			t.Fatalf("interpolation completion: %q", r.out)
		}
	}
}
