package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unixClient speaks HTTP over the daemon's unix socket.
func unixClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", sock)
	}}}
}

// postJSON posts body to url with hc and returns the status and body.
func postJSON(t *testing.T, hc *http.Client, url string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := hc.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func localInstall(name, path string) map[string]any {
	return map[string]any{"name": name, "source_kind": "local", "extra": map[string]any{"path": path}}
}

func jobOf(t *testing.T, body []byte) string {
	t.Helper()
	var j map[string]string
	if err := json.Unmarshal(body, &j); err != nil || j["job_id"] == "" {
		t.Fatalf("no job id in %s", body)
	}
	return j["job_id"]
}

// detailOf is the reference's error shape: {"detail": "..."}, nothing else.
func detailOf(t *testing.T, body []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || len(m) != 1 {
		t.Fatalf("not a {\"detail\"} body: %s", body)
	}
	s, ok := m["detail"].(string)
	if !ok {
		t.Fatalf("not a {\"detail\"} body: %s", body)
	}
	return s
}

// TestLocalInstallNeedsAnAllowedFolder: installing an app by path reads
// files on the robot, so over TCP it is allowed only from the folders given
// with --apps-local-dir (none by default), after symlinks; the daemon's own
// user (or root) on the unix socket may install from anywhere.
func TestLocalInstallNeedsAnAllowedFolder(t *testing.T) {
	app := writeExecApp(t, "waver", "echo hi\n")
	refused := func(t *testing.T, code int, body []byte, path string) {
		t.Helper()
		if code != 403 {
			t.Fatalf("install from %s: %d %s, want 403", path, code, body)
		}
		d := detailOf(t, body)
		if !strings.Contains(d, "--apps-local-dir") || !strings.Contains(d, "unix socket") || strings.Contains(d, path) {
			t.Fatalf("403 detail %q", d)
		}
	}

	t.Run("no folder allowed: TCP refused, unix socket trusted", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "api.sock")
		d := startDaemonArgs(t, "--uds", sock)
		d.waitRunning()
		code, body := d.do("POST", "/api/apps/install", localInstall("waver", app))
		refused(t, code, body, app)
		// Nor is a missing path told apart from a forbidden one.
		code, body = d.do("POST", "/api/apps/install", localInstall("waver", "/no/such/folder"))
		refused(t, code, body, "/no/such/folder")

		code, body = postJSON(t, unixClient(sock), "http://localhost/api/apps/install", localInstall("waver", app))
		if code != 200 {
			t.Fatalf("install over the unix socket: %d %s", code, body)
		}
		d.waitJob(jobOf(t, body), "done")
	})

	t.Run("allowed folder", func(t *testing.T) {
		base := t.TempDir()
		allowed, outside := filepath.Join(base, "allowed"), filepath.Join(base, "outside")
		for _, dir := range []string{allowed, outside} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		inside := filepath.Join(allowed, "waver")
		if err := os.Rename(writeExecApp(t, "waver", "echo hi\n"), inside); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(outside, "waver")
		if err := os.Rename(writeExecApp(t, "waver", "echo hi\n"), out); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(out, filepath.Join(allowed, "escape")); err != nil {
			t.Fatal(err)
		}
		d := startDaemonArgs(t, "--apps-local-dir", allowed)
		d.waitRunning()
		for _, p := range []string{out, filepath.Join(allowed, "escape"), filepath.Join(allowed, "..", "outside", "waver")} {
			code, body := d.do("POST", "/api/apps/install", localInstall("waver", p))
			refused(t, code, body, p)
		}
		var installed []map[string]any
		d.getJSON("/api/apps/list-available/installed", &installed)
		if len(installed) != 0 {
			t.Fatalf("refused installs installed %v", installed)
		}
		d.installLocal("waver", inside)
	})
}

// tarOf is an uncompressed tar of an executable app.
func tarOf(t *testing.T, name, script string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name, body string
		mode       int64
	}{
		{"reachy-app.yaml", "name: " + name + "\ndescription: test app\ncommand: [\"./run.sh\"]\n", 0o644},
		{"run.sh", "#!/bin/sh\n" + script, 0o755},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestInstallNeverReplacesARunningApp: installing or updating the app that
// runs is refused with 409 and changes nothing; an app whose own name is
// not the one asked for is refused, before the job when the name is known
// then (a folder's manifest, a space's id), by the job otherwise (an
// archive, a package); and an app that starts while its install runs is
// not replaced by it.
func TestInstallNeverReplacesARunningApp(t *testing.T) {
	hf, _ := fakeSpaces(t)
	dataDir := t.TempDir()
	d := startDaemon(t, "--data-dir", dataDir, "--hf-endpoint", hf.URL, "--app-stop-grace", "2")
	d.waitRunning()
	marker := "reachyd-guard-" + strings.ReplaceAll(t.Name(), "/", "-")
	v1 := writeExecApp(t, "steady", "trap 'exit 0' INT\nexec sh -c \"trap 'exit 0' INT; while :; do sleep 0.05; done\" "+marker+"\n")
	v2 := writeExecApp(t, "steady", "echo version 2\n")
	d.installLocal("steady", v1)
	script := filepath.Join(dataDir, "apps", "steady", "files", "run.sh")
	original, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		if b, err := os.ReadFile(script); err != nil || !bytes.Equal(b, original) {
			t.Fatalf("the running app's files changed: %q %v", b, err)
		}
		if st := d.appStatus(); st == nil || st["state"] != "running" {
			t.Fatalf("the app is not running: %v", st)
		}
		// At least one: the app's shell forks sleep, and for a moment the
		// child has its parent's command line (and the marker).
		if len(pidsIn(marker)) < 1 {
			t.Fatal("the app's process is gone")
		}
	}
	conflict := func(t *testing.T, code int, body []byte, want string) {
		t.Helper()
		if code != 409 || detailOf(t, body) != want {
			t.Fatalf("%d %s, want 409 %q", code, body, want)
		}
	}

	t.Run("name mismatch before the job", func(t *testing.T) {
		code, body := d.do("POST", "/api/apps/install", localInstall("impostor", v2))
		conflict(t, code, body, "The folder holds the app 'steady', not 'impostor'.")
		code, body = d.do("POST", "/api/apps/install", map[string]any{"name": "other", "source_kind": "hf_space", "extra": map[string]any{"id": "me/wave"}})
		conflict(t, code, body, "The space 'me/wave' holds the app 'wave', not 'other'.")
	})

	if code, body := d.do("POST", "/api/apps/start-app/steady", nil); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	d.waitAppState("running")
	eventually(t, "the app runs", func() bool { return len(pidsIn(marker)) == 1 })

	t.Run("the running app", func(t *testing.T) {
		for _, name := range []string{"steady", "Steady"} {
			code, body := d.do("POST", "/api/apps/install", localInstall(name, v2))
			conflict(t, code, body, "Cannot install 'steady' while it is running. Please stop it first.")
		}
		code, body := d.do("POST", "/api/apps/update/steady", nil)
		conflict(t, code, body, "Cannot update 'steady' while it is running. Please stop it first.")
		unchanged(t)
	})

	t.Run("name mismatch found by the job", func(t *testing.T) {
		archive := filepath.Join(t.TempDir(), "app.tar")
		if err := os.WriteFile(archive, tarOf(t, "steady", "echo impostor\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, body := d.do("POST", "/api/apps/install", localInstall("impostor", archive))
		if code != 200 {
			t.Fatalf("install: %d %s", code, body)
		}
		info := d.waitJob(jobOf(t, body), "failed")
		if logs := strings.Join(toStrings(info["logs"]), "\n"); !strings.Contains(logs,
			"Failed to install app 'impostor': the app's name does not match: reachy-app.yaml declares the app 'steady', not 'impostor'") {
			t.Fatalf("logs: %s", logs)
		}
		unchanged(t)
	})

	// The install is asked while the app is stopped, the app starts while
	// the install reads its archive (a named pipe the test feeds), and the
	// install's final swap finds it running.
	t.Run("an app started during its install", func(t *testing.T) {
		if code, body := d.do("POST", "/api/apps/stop-current-app", nil); code != 200 {
			t.Fatalf("stop: %d %s", code, body)
		}
		waitGone(t, marker, 10*time.Second)
		fifo := filepath.Join(t.TempDir(), "app.tar")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		feed := func(b []byte) {
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = f.Write(b)
			f.Close()
		}
		fed := false
		t.Cleanup(func() {
			if !fed { // unblock the install's open whatever happened
				feed(nil)
			}
		})
		code, body := d.do("POST", "/api/apps/install", localInstall("steady", fifo))
		if code != 200 {
			t.Fatalf("install: %d %s", code, body)
		}
		job := jobOf(t, body)
		if code, body := d.do("POST", "/api/apps/start-app/steady", nil); code != 200 {
			t.Fatalf("start: %d %s", code, body)
		}
		d.waitAppState("running")
		eventually(t, "the app runs", func() bool { return len(pidsIn(marker)) >= 1 })
		fed = true
		feed(tarOf(t, "steady", "echo version 2\n"))
		info := d.waitJob(job, "failed")
		if logs := strings.Join(toStrings(info["logs"]), "\n"); !strings.Contains(logs,
			"Failed to install app 'steady': the app is running: stop 'steady' before installing it again") {
			t.Fatalf("logs: %s", logs)
		}
		unchanged(t)
	})

	if code, body := d.do("POST", "/api/apps/stop-current-app", nil); code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	waitGone(t, marker, 10*time.Second)
	// Stopped, it can be replaced.
	d.installLocal("steady", v2)
}
