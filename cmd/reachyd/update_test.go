package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/selfupdate"
	"reachyd/selfupdate/releasetest"
)

// updateDaemon runs a wireless daemon whose updates come from a local
// release server (9.0.0 stable with ref "main", 9.1.0-rc.1) and replace a
// stand-in binary in a temporary folder, never the test binary. The
// daemon's run returns (errc) when an update asks for the restart; nothing
// is exec'ed.
type updateDaemon struct {
	*testDaemon
	srv    *releasetest.Server
	target string
	errc   chan error
}

func startUpdateDaemon(t *testing.T, extra ...string) *updateDaemon {
	t.Helper()
	srv := releasetest.New(t)
	srv.Publish(
		releasetest.Release{Version: "9.0.0", Refs: []string{"main"}, Commit: "89abcdef0123456789", Binary: releasetest.FakeBinary("9.0.0")},
		releasetest.Release{Version: "9.1.0-rc.1", Binary: releasetest.FakeBinary("9.1.0-rc.1")},
	)
	target := filepath.Join(t.TempDir(), "reachyd")
	if err := os.WriteFile(target, releasetest.FakeBinary(Version), 0o755); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--wireless-version", "--fastapi-host", "127.0.0.1", "--update-url", srv.IndexURL(),
		"--update-key", srv.KeyBase64(), "--update-binary", target}, extra...)
	d, cancel, errc := launchDaemon(t, io.Discard, args...)
	t.Cleanup(func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop in 30 s")
		}
	})
	return &updateDaemon{testDaemon: d, srv: srv, target: target, errc: errc}
}

// expect checks a route's status and exact body.
func (d *testDaemon) expect(method, path string, code int, body string) {
	d.t.Helper()
	c, b := d.do(method, path, nil)
	if c != code || string(b) != body {
		d.t.Errorf("%s %s: %d %s\n want %d %s", method, path, c, b, code, body)
	}
}

// jobLog reads WS /update/ws/logs?job_id= until the server closes it.
func (d *testDaemon) jobLog(id string) []string {
	d.t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(d.ws+"/update/ws/logs?job_id="+id, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var frames []string
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
				d.t.Errorf("job log ended with %v", err)
			}
			return frames
		}
		frames = append(frames, string(b))
	}
}

func jobID(t *testing.T, b []byte) string {
	t.Helper()
	var r struct {
		JobID string `json:"job_id"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.JobID == "" {
		t.Fatalf("no job id in %s", b)
	}
	return r.JobID
}

// The update routes exist only on the wireless robot, as on the reference.
func TestUpdateRoutesNeedWireless(t *testing.T) {
	d := startDaemon(t)
	for _, p := range []string{"/update/install-source", "/update/available", "/update/info?job_id=x", "/update/validate-ref?git_ref=main"} {
		d.expect("GET", p, 404, `{"detail":"Not Found"}`)
	}
}

// A whole update through the routes: the reference's JSON and errors, the
// job's log over WS /update/ws/logs, update_progress on /ws/sdk, the new
// binary in place, the old one kept, and the daemon handing main the
// restart.
func TestUpdateThroughRoutes(t *testing.T) {
	d := startUpdateDaemon(t)
	d.waitRunning()
	old, _ := os.ReadFile(d.target)
	oldStat, _ := os.Stat(d.target)

	d.expect("GET", "/update/install-source", 200, `{"version":"`+Version+`","source":"local"}`)
	d.expect("GET", "/update/available", 200, `{"update":{"reachy_mini":{"is_available":true,"current_version":"`+Version+`","available_version":"9.0.0"}}}`)
	d.expect("GET", "/update/available?pre_release=true", 200, `{"update":{"reachy_mini":{"is_available":true,"current_version":"`+Version+`","available_version":"9.1.0-rc.1"}}}`)
	d.expect("GET", "/update/validate-ref?git_ref=main", 200, `{"valid":true,"ref":"main"}`)
	d.expect("GET", "/update/validate-ref?git_ref=v9.1.0-rc.1", 200, `{"valid":true,"ref":"v9.1.0-rc.1"}`)
	d.expect("GET", "/update/validate-ref?git_ref=ghost", 200, `{"valid":false,"ref":"ghost","error":"Ref 'ghost' not found"}`)
	d.expect("GET", "/update/validate-ref?git_ref=%20", 400, `{"detail":"Git ref cannot be empty"}`)
	d.expect("POST", "/update/start-from-ref?git_ref=", 400, `{"detail":"Git ref cannot be empty"}`)
	d.expect("GET", "/update/info?job_id=nope", 404, `{"detail":"Job ID not found"}`)
	for _, p := range []string{"/update/validate-ref", "/update/info"} {
		if c, b := d.do("GET", p, nil); c != 422 || !strings.Contains(string(b), `"type":"missing"`) {
			t.Errorf("GET %s: %d %s", p, c, b)
		}
	}
	if c, b := d.do("GET", "/update/available?pre_release=maybe", nil); c != 422 || !strings.Contains(string(b), `"bool_parsing"`) {
		t.Errorf("pre_release=maybe: %d %s", c, b)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(d.ws+"/update/ws/logs", nil); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("WS /update/ws/logs without job_id: %v %v", err, resp)
	}
	if c, _, err := websocket.DefaultDialer.Dial(d.ws+"/update/ws/logs?job_id=nope", nil); err != nil {
		t.Error(err)
	} else {
		_, b, _ := c.ReadMessage()
		if string(b) != `{"error":"Job ID not found"}` {
			t.Errorf("unknown job: %s", b)
		}
		c.Close()
	}

	sdk := d.dialSDK()
	// The binary's download waits until the test has seen the job busy.
	hold := make(chan struct{})
	d.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == releasetest.BinaryPath("9.0.0") {
			<-hold
		}
		return false
	})
	c, b := d.do("POST", "/update/start", nil)
	if c != 200 {
		t.Fatalf("start: %d %s", c, b)
	}
	id := jobID(t, b)
	d.expect("POST", "/update/start", 400, `{"detail":"Update already in progress"}`)
	d.expect("POST", "/update/start-from-ref?git_ref=main", 400, `{"detail":"Update already in progress"}`)
	d.expect("GET", "/update/available", 400, `{"detail":"Update is in progress"}`)
	var info struct {
		Command, Status string
		Logs            []string
	}
	d.getJSON("/update/info?job_id="+id, &info)
	if info.Command != "update_reachy_mini" || info.Status != "in_progress" {
		t.Errorf("info while running: %+v", info)
	}
	if cur, _ := os.ReadFile(d.target); !bytes.Equal(cur, old) {
		t.Error("the binary changed before the download ended")
	}
	close(hold)

	log := d.jobLog(id)
	all := strings.Join(log, "\n")
	for _, want := range []string{"Release index verified", "Downloaded 100%", "SHA-256 verified", "The new binary runs: reachyd 9.0.0",
		"Restarting reachyd on 9.0.0", "Job 'update_reachy_mini' completed successfully"} {
		if !strings.Contains(all, want) {
			t.Errorf("job log lacks %q:\n%s", want, all)
		}
	}
	var last struct{ Command, Status string }
	if err := json.Unmarshal([]byte(log[len(log)-1]), &last); err != nil || last.Command != "update_reachy_mini" || last.Status != "done" {
		t.Errorf("last frame %s", log[len(log)-1])
	}
	sdk.waitFrame("update_progress", 10*time.Second, func(m map[string]any) bool {
		return m["status"] == "in_progress" && strings.HasPrefix(m["line"].(string), "Fetching the release index")
	})
	sdk.waitFrame("update_progress", 10*time.Second, func(m map[string]any) bool { return m["status"] == "done" })

	select {
	case err := <-d.errc:
		var r *restartError
		if !errors.As(err, &r) || r.exe != d.target {
			t.Fatalf("run returned %v, want a restart on %s", err, d.target)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not stop for the restart")
	}
	d.errc <- nil // for the cleanup
	if cur, _ := os.ReadFile(d.target); !bytes.Equal(cur, releasetest.FakeBinary("9.0.0")) {
		t.Errorf("installed: %q", cur)
	}
	prevStat, err := os.Stat(selfupdate.PreviousPath(d.target))
	if err != nil || !os.SameFile(prevStat, oldStat) {
		t.Errorf("the previous binary is not the file that ran: %v", err)
	}
	if n := d.srv.Hits(releasetest.BinaryPath("9.0.0")); n != 1 {
		t.Errorf("the binary was downloaded %d times", n)
	}
}

// start_update over /ws/sdk (no reply there) runs the same update.
func TestStartUpdateOverSDK(t *testing.T) {
	d := startUpdateDaemon(t)
	d.waitRunning()
	sdk := d.dialSDK()
	sdk.send(`{"type":"start_update","pre_release":true}`)
	sdk.waitFrame("update_progress", 20*time.Second, func(m map[string]any) bool { return m["status"] == "done" })
	select {
	case err := <-d.errc:
		if r := new(restartError); !errors.As(err, &r) {
			t.Fatalf("run returned %v", err)
		}
		d.errc <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("no restart")
	}
	if cur, _ := os.ReadFile(d.target); !bytes.Equal(cur, releasetest.FakeBinary("9.1.0-rc.1")) {
		t.Errorf("installed: %q", cur)
	}
}

// A release index signed by another key, or a binary that is not the one
// it signed, is refused: the running binary stays, the daemon keeps
// running, and the failure is in the job log and on /ws/sdk.
func TestUpdateRefusesWhatIsNotSigned(t *testing.T) {
	d := startUpdateDaemon(t)
	d.waitRunning()
	before, _ := os.ReadFile(d.target)
	beforeStat, _ := os.Stat(d.target)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	ix := d.srv.Publish(releasetest.Release{Version: "9.0.0", Binary: releasetest.FakeBinary("9.0.0")})
	d.srv.SetIndex(ix, other)
	const sigErr = "the index's signature does not verify with a trusted key"
	d.expect("GET", "/update/available", 503, `{"detail":"Update availability check failed: `+sigErr+`"}`)
	d.expect("POST", "/update/start", 503, `{"detail":"Update availability check failed: `+sigErr+`"}`)
	d.expect("GET", "/update/validate-ref?git_ref=9.0.0", 503, `{"detail":"Release index error: `+sigErr+`"}`)

	// Signed right, but the server hands out other bytes of the same size.
	d.srv.SetIndex(ix, d.srv.Priv)
	bad := releasetest.FakeBinary("9.0.0")
	bad[len(bad)-2] = '7' // exit 7
	d.srv.SetFile(releasetest.BinaryPath("9.0.0"), bad)
	sdk := d.dialSDK()
	c, b := d.do("POST", "/update/start-from-ref?git_ref=9.0.0", nil)
	if c != 200 {
		t.Fatalf("start-from-ref: %d %s", c, b)
	}
	all := strings.Join(d.jobLog(jobID(t, b)), "\n")
	if !strings.Contains(all, "Job 'update_reachy_mini' failed with error: the downloaded binary's SHA-256 does not match the signed index") {
		t.Errorf("job log:\n%s", all)
	}
	f := sdk.waitFrame("update_progress", 10*time.Second, func(m map[string]any) bool { return m["status"] == "failed" })
	if !strings.Contains(f.data["error"].(string), "SHA-256") {
		t.Errorf("failed frame %s", f.raw)
	}
	cur, _ := os.ReadFile(d.target)
	curStat, _ := os.Stat(d.target)
	if !bytes.Equal(cur, before) || !os.SameFile(curStat, beforeStat) {
		t.Error("the running binary was touched")
	}
	select {
	case err := <-d.errc:
		t.Fatalf("the daemon stopped: %v", err)
	default:
	}
	// The updater is free again: the next check answers.
	d.srv.SetFile(releasetest.BinaryPath("9.0.0"), releasetest.FakeBinary("9.0.0"))
	d.expect("GET", "/update/validate-ref?git_ref=9.0.0", 200, `{"valid":true,"ref":"9.0.0"}`)
}

// Without --update-url the routes say so.
func TestUpdateWithoutSource(t *testing.T) {
	target := filepath.Join(t.TempDir(), "reachyd")
	if err := os.WriteFile(target, releasetest.FakeBinary(Version), 0o755); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--wireless-version", "--fastapi-host", "127.0.0.1", "--update-binary", target)
	const why = "no update source configured: start reachyd with --update-url"
	d.expect("GET", "/update/available", 503, `{"detail":"Update availability check failed: `+why+`"}`)
	d.expect("POST", "/update/start", 503, `{"detail":"Update availability check failed: `+why+`"}`)
	d.expect("GET", "/update/install-source", 200, `{"version":"`+Version+`","source":"local"}`)
}

// main's restart: an exit that systemd restarts when run by it, else a
// re-exec of the new binary with the same arguments.
func TestRestartProcess(t *testing.T) {
	r := &restartError{exe: "/opt/reachyd"}
	var exited []int
	var execd []string
	exit := func(c int) { exited = append(exited, c) }
	execve := func(p string, args, env []string) error {
		execd = append(execd, p+" "+strings.Join(args, " "))
		return syscall.ENOEXEC
	}
	if err := restartProcess(r, []string{"reachyd", "--wireless-version"}, []string{"INVOCATION_ID=abc", "PATH=/bin"}, exit, execve); err != nil || len(exited) != 1 || exited[0] != exitRestart || len(execd) != 0 {
		t.Errorf("under systemd: %v exit %v exec %v", err, exited, execd)
	}
	exited = nil
	err := restartProcess(r, []string{"reachyd", "--wireless-version"}, []string{"INVOCATION_ID=", "PATH=/bin"}, exit, execve)
	if len(exited) != 0 || len(execd) != 1 || execd[0] != "/opt/reachyd reachyd --wireless-version" || !errors.Is(err, syscall.ENOEXEC) {
		t.Errorf("without systemd: %v exit %v exec %v", err, exited, execd)
	}
}

// The release tools: a key, a signed index the daemon's code accepts,
// refusals, and the rollback on a binary.
func TestUpdateCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	key := filepath.Join(dir, "release.key")
	if err := runUpdate([]string{"keygen", "-o", key}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(key); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	if err := runUpdate([]string{"keygen", "-o", key}, &out, &errOut); err == nil {
		t.Error("keygen overwrote a key")
	}
	var pub string
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(l, "public key: "); ok {
			pub = v
		}
	}
	bin := filepath.Join(dir, "reachyd-9.0.0-linux-arm64")
	if err := os.WriteFile(bin, releasetest.FakeBinary("9.0.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runUpdate([]string{"hash", bin}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var entry selfupdate.Binary
	if err := json.Unmarshal(out.Bytes(), &entry); err != nil || entry.URL != filepath.Base(bin) || entry.Size != int64(len(releasetest.FakeBinary("9.0.0"))) {
		t.Fatalf("hash: %s %v", out.String(), err)
	}
	ix := selfupdate.Index{Format: 1, Name: "reachyd", Releases: []selfupdate.Release{{Version: "9.0.0", Binaries: map[string]selfupdate.Binary{"linux/arm64": entry}}}}
	index := filepath.Join(dir, "index.json")
	b, _ := json.Marshal(ix)
	if err := os.WriteFile(index, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runUpdate([]string{"sign", "-key", key, index}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(index + ".sig")
	k, _ := selfupdate.ParsePublicKey(pub)
	if _, err := selfupdate.Verify([]ed25519.PublicKey{k}, b, sig); err != nil {
		t.Fatalf("the signature does not verify: %v", err)
	}
	out.Reset()
	if err := runUpdate([]string{"verify", "-key", pub, index}, &out, &errOut); err != nil || !strings.Contains(out.String(), "9.0.0: linux/arm64") {
		t.Errorf("verify: %v %s", err, out.String())
	}
	if err := runUpdate([]string{"verify", index}, &out, &errOut); !errors.Is(err, selfupdate.ErrBadSignature) {
		t.Errorf("verify with the built-in key: %v", err)
	}
	// A second key's signature is appended (rotation); re-signing with the
	// first replaces its own line.
	key2 := filepath.Join(dir, "new.key")
	if err := runUpdate([]string{"keygen", "-o", key2}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, kf := range []string{key2, key} {
		if err := runUpdate([]string{"sign", "-append", "-key", kf, index}, &out, &errOut); err != nil {
			t.Fatal(err)
		}
	}
	sig, _ = os.ReadFile(index + ".sig")
	if sigs, err := selfupdate.ParseSignatures(sig); err != nil || len(sigs) != 2 {
		t.Errorf("after rotation: %d signatures, %v\n%s", len(sigs), err, sig)
	}
	// Refusals: an index the robots would refuse, a key readable by others.
	if err := os.WriteFile(index, []byte(`{"format":1,"name":"reachyd","releases":[{"version":"9"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runUpdate([]string{"sign", "-key", key, index}, &out, &errOut); err == nil {
		t.Error("signed an invalid index")
	}
	_ = os.Chmod(key, 0o644)
	if err := runUpdate([]string{"sign", "-key", key, index}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("a readable key: %v", err)
	}

	// Rollback through a symlink, as the service's /usr/local/bin/reachyd.
	target := filepath.Join(dir, "lib", "reachyd")
	_ = os.MkdirAll(filepath.Dir(target), 0o755)
	if err := os.WriteFile(target, releasetest.FakeBinary("9.0.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(selfupdate.PreviousPath(target), releasetest.FakeBinary("8.0.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "reachyd-link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := runUpdate([]string{"rollback", "-binary", link}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if cur, _ := os.ReadFile(target); !bytes.Equal(cur, releasetest.FakeBinary("8.0.0")) {
		t.Errorf("after rollback: %q", cur)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the rollback replaced the symlink")
	}
}

func TestBuiltinUpdateKey(t *testing.T) {
	k, err := selfupdate.ParsePublicKey(builtinUpdateKey)
	if err != nil || selfupdate.KeyID(k) != "29118dc0a922b08c" {
		t.Fatalf("built-in key: %v", err)
	}
	keys, err := updateKeys(&Options{})
	if err != nil || len(keys) != 1 || !keys[0].Equal(k) {
		t.Errorf("default keys: %v", err)
	}
	_, err = parseFlags([]string{"--update-key", "not base64"}, io.Discard)
	if err == nil {
		t.Error("a bad --update-key accepted")
	}
	_, err = parseFlags([]string{"--update-url", "file:///etc/index.json"}, io.Discard)
	if err == nil {
		t.Error("a file URL accepted as --update-url")
	}
}

// What `reachyd --version` prints is what an update checks a new binary
// for: a binary built from this tree passes CheckBinary.
func TestVersionOutputPassesTheUpdateCheck(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--version"}, &out, nil); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "reachyd")
	script := "#!/bin/sh\ncat >&2 <<'EOF'\n" + out.String() + "EOF\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := selfupdate.CheckBinary(t.Context(), bin, Version, 5*time.Second); err != nil {
		t.Errorf("%q: %v", out.String(), err)
	}
}
