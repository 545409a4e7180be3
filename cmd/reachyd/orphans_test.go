package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asDaemon makes the test binary run as reachyd when re-executed by a test
// that needs a daemon in its own process (to kill it with SIGKILL).
const asDaemon = "REACHYD_TEST_RUN_AS_DAEMON"

func TestMain(m *testing.M) {
	if os.Getenv(asDaemon) == "1" {
		os.Args = append([]string{"reachyd"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	childEnv = []string{asDaemon + "=1"}
	os.Exit(m.Run())
}

// daemonProcess is reachyd running in a child process.
type daemonProcess struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	*testDaemon
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func spawnDaemon(t *testing.T, dataDir string, port int, extra ...string) *daemonProcess {
	t.Helper()
	args := append([]string{"--backend", "sim", "--fastapi-port", strconv.Itoa(port), "--data-dir", dataDir,
		"--log-level", "INFO", "--no-goto-sleep-on-stop", "--no-wake-up-on-start", "--uds", "", "--topics-port", "0", "--camera", "none", "--no-skill-host", "--no-mdns", "--apps-local-dir", os.TempDir()}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asDaemon+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &daemonProcess{cmd: cmd, stderr: &stderr, testDaemon: &testDaemon{t: t,
		base: fmt.Sprintf("http://127.0.0.1:%d", port), ws: fmt.Sprintf("ws://127.0.0.1:%d", port)}}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", stderr.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := http.Get(p.base + "/api/daemon/status")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not answer: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAppEndedAfterTheDaemonWasKilled: a daemon killed with SIGKILL cannot
// stop its app; the app's leader dies with it (parent-death signal) but a
// child it forked lives on, reparented. The next daemon finds the app from
// its pid file and ends what is left, then starts with a free slot.
func TestAppEndedAfterTheDaemonWasKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs daemons in child processes")
	}
	dataDir, port := t.TempDir(), freePort(t)
	marker := fmt.Sprintf("reachyd-orphan-%d", time.Now().UnixNano())
	d := spawnDaemon(t, dataDir, port)
	d.waitRunning()
	d.installLocal("leaver", writeExecApp(t, "leaver",
		"sh -c \"trap '' INT TERM HUP; while :; do sleep 0.05; done\" "+marker+" &\n"+
			"echo started\nwhile :; do sleep 0.05; done\n"))
	if code, body := d.do("POST", "/api/apps/start-app/leaver", nil); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	d.waitAppState("running")
	eventually(t, "the app's child runs", func() bool { return len(pidsIn(marker)) == 1 })
	child := pidsIn(marker)[0]
	if _, err := os.Stat(filepath.Join(dataDir, "running-app.json")); err != nil {
		t.Fatalf("no pid file while the app runs: %v", err)
	}

	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Wait()
	// The child survives its daemon: something must end it.
	time.Sleep(200 * time.Millisecond)
	if !alive(child) {
		t.Fatal("the app's child died with the daemon; the test proves nothing")
	}

	d2 := spawnDaemon(t, dataDir, port, "--app-stop-grace", "1")
	waitGone(t, marker, 10*time.Second)
	if alive(child) {
		t.Fatalf("child %d still alive", child)
	}
	if st := d2.appStatus(); st != nil {
		t.Fatalf("app status after restart: %v", st)
	}
	if d2.lockState() != "free" {
		t.Fatal("slot not free after restart")
	}
	eventually(t, "the pid file is removed", func() bool {
		_, err := os.Stat(filepath.Join(dataDir, "running-app.json"))
		return os.IsNotExist(err)
	})
	// The new daemon runs apps as usual.
	if code, body := d2.do("POST", "/api/apps/start-app/leaver", nil); code != 200 {
		t.Fatalf("start after restart: %d %s", code, body)
	}
	d2.waitAppState("running")
	if code, body := d2.do("POST", "/api/apps/stop-current-app", nil); code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	waitGone(t, marker, 10*time.Second)
	if err := d2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d2.cmd.Wait(); err != nil {
		t.Fatalf("daemon exit after SIGTERM: %v", err)
	}
}

// escaperApp is an app whose child calls setsid (leaves the app's process
// group and session), is orphaned at once (double fork) and keeps none of
// the app's output: only the daemon's tracking of the app's processes can
// find it.
func escaperApp(t *testing.T, marker string) string {
	return writeExecApp(t, "escaper", "trap 'exit 0' INT\n"+
		"( setsid sh -c \"trap '' INT HUP TERM; while :; do sleep 0.05; done\" "+marker+" </dev/null >/dev/null 2>&1 & )\n"+
		"while :; do sleep 0.05; done\n")
}

// TestSetsidChildEndsWithItsApp: stopping the app ends the child that
// called setsid, and so does stopping the daemon while the app runs.
func TestSetsidChildEndsWithItsApp(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not found")
	}
	marker := fmt.Sprintf("reachyd-setsid-%d", time.Now().UnixNano())
	d := startDaemon(t, "--app-stop-grace", "1")
	d.waitRunning()
	d.installLocal("escaper", escaperApp(t, marker))
	for _, how := range []string{"stop the app", "stop the daemon"} {
		startEscaper(t, d, marker)
		switch how {
		case "stop the app":
			if code, body := d.do("POST", "/api/apps/stop-current-app", nil); code != 200 {
				t.Fatalf("stop: %d %s", code, body)
			}
		case "stop the daemon":
			d.stop()
		}
		waitGone(t, marker, 10*time.Second)
	}
}

// startEscaper starts the escaper app and returns its setsid child's pid
// (killed at the end of the test if still alive).
func startEscaper(t *testing.T, d *testDaemon, marker string) int {
	t.Helper()
	if code, body := d.do("POST", "/api/apps/start-app/escaper", nil); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	d.waitAppState("running")
	eventually(t, "the setsid child runs", func() bool { return len(pidsIn(marker)) == 1 })
	child := pidsIn(marker)[0]
	t.Cleanup(func() {
		if alive(child) {
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
	})
	return child
}

// TestSetsidChildEndedAfterTheDaemonWasKilled: a daemon killed with
// SIGKILL leaves its app's setsid child behind; the next daemon finds it
// from the pid record (its cgroup, its token, its recorded pid) and ends it.
func TestSetsidChildEndedAfterTheDaemonWasKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs daemons in child processes")
	}
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not found")
	}
	dataDir, port := t.TempDir(), freePort(t)
	marker := fmt.Sprintf("reachyd-setsid-orphan-%d", time.Now().UnixNano())
	d := spawnDaemon(t, dataDir, port)
	d.waitRunning()
	d.installLocal("escaper", escaperApp(t, marker))
	child := startEscaper(t, d.testDaemon, marker)
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Wait()
	if !strings.Contains(d.stderr.String(), "app processes:") || !strings.Contains(d.stderr.String(), "tracked_by=") {
		t.Errorf("the log does not say how app processes are tracked:\n%s", d.stderr.String())
	}
	time.Sleep(200 * time.Millisecond)
	if !alive(child) {
		t.Fatal("the setsid child died with the daemon; the test proves nothing")
	}
	d2 := spawnDaemon(t, dataDir, port, "--app-stop-grace", "1")
	waitGone(t, marker, 10*time.Second)
	eventually(t, "the pid file is removed", func() bool {
		_, err := os.Stat(filepath.Join(dataDir, "running-app.json"))
		return os.IsNotExist(err)
	})
	if err := d2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d2.cmd.Wait(); err != nil {
		t.Fatalf("daemon exit after SIGTERM: %v", err)
	}
}
