package selfupdate_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"reachyd/selfupdate"
	"reachyd/selfupdate/releasetest"
)

// oldBinary is the "running" binary's content in these tests.
var oldBinary = releasetest.FakeBinary("0.1.0")

// setup is a release server publishing 0.1.0 (stable), 0.2.0 (stable, ref
// "main") and 0.3.0-rc.1, and an updater whose running binary is a copy of
// 0.1.0 in a temporary folder.
func setup(t *testing.T) (*releasetest.Server, *selfupdate.Updater) {
	t.Helper()
	srv := releasetest.New(t)
	srv.Publish(
		releasetest.Release{Version: "0.1.0", Binary: oldBinary},
		releasetest.Release{Version: "0.2.0", Refs: []string{"main"}, Commit: "0123456789abcdef", Binary: releasetest.FakeBinary("0.2.0")},
		releasetest.Release{Version: "0.3.0-rc.1", Binary: releasetest.FakeBinary("0.3.0-rc.1")},
	)
	dir := t.TempDir()
	target := filepath.Join(dir, "bin", "reachyd")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, oldBinary, 0o755); err != nil {
		t.Fatal(err)
	}
	u := &selfupdate.Updater{
		Source:  &selfupdate.Source{URL: srv.IndexURL(), Keys: []ed25519.PublicKey{srv.Pub}},
		Current: "0.1.0", Dir: filepath.Join(dir, "updates"), Target: target,
		DownloadIdle: 5 * time.Second, CheckTimeout: 5 * time.Second,
	}
	return srv, u
}

type fileID struct {
	ino  uint64
	data []byte
}

func identify(t *testing.T, path string) fileID {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileID{st.Sys().(*syscall.Stat_t).Ino, b}
}

func (f fileID) same(g fileID) bool { return f.ino == g.ino && bytes.Equal(f.data, g.data) }

// untouched checks the target is the very file it was (same inode, same
// bytes), that no previous binary was made and no download was left.
func untouched(t *testing.T, u *selfupdate.Updater, before fileID) {
	t.Helper()
	if now := identify(t, u.Target); !now.same(before) {
		t.Errorf("the running binary was touched (inode %d -> %d)", before.ino, now.ino)
	}
	if _, err := os.Lstat(selfupdate.PreviousPath(u.Target)); !os.IsNotExist(err) {
		t.Errorf("a previous binary was made: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(u.Dir, "*")); len(m) > 0 {
		t.Errorf("left in the updates folder: %v", m)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(u.Target), ".*")); len(m) > 0 {
		t.Errorf("left beside the binary: %v", m)
	}
}

func TestCheck(t *testing.T) {
	_, u := setup(t)
	for _, c := range []struct {
		pre       bool
		current   string
		latest    string
		available bool
	}{
		{false, "0.1.0", "0.2.0", true},
		{true, "0.1.0", "0.3.0-rc.1", true},
		{false, "0.2.0", "0.2.0", false},
		{false, "0.3.0-rc.1", "0.2.0", false},
		{false, "0.2.0-dev", "0.2.0", true},
		{false, "a hand-made build", "0.2.0", true},
	} {
		u.Current = c.current
		a, err := u.Check(context.Background(), c.pre)
		if err != nil || a.Latest == nil || a.Latest.Version != c.latest || a.Available != c.available {
			t.Errorf("%+v: %+v %v", c, a, err)
		}
	}
}

func TestInstallGood(t *testing.T) {
	_, u := setup(t)
	before := identify(t, u.Target)
	var steps []string
	u.Hook = func(step string) {
		steps = append(steps, step)
		// Until the final rename, the running binary is the very same
		// file with the same bytes; after it, the new one.
		now := identify(t, u.Target)
		if step != "swapped" && !now.same(before) {
			t.Errorf("at %s, the running binary was touched", step)
		}
		if step == "swapped" && !bytes.Equal(now.data, releasetest.FakeBinary("0.2.0")) {
			t.Errorf("after the swap, the binary is %q", now.data)
		}
	}
	var lines []string
	rel, err := u.Install(context.Background(), selfupdate.Plan{}, func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(lines, "\n"))
	}
	if rel.Version != "0.2.0" || strings.Join(steps, ",") != "downloaded,checked,staged,previous,swapped" {
		t.Errorf("installed %s, steps %v", rel.Version, steps)
	}
	// The previous binary is the file that ran (a hard link to it).
	if prev := identify(t, selfupdate.PreviousPath(u.Target)); !prev.same(before) {
		t.Error("the previous binary is not the file that ran")
	}
	st, _ := os.Stat(u.Target)
	if st.Mode().Perm()&0o111 == 0 {
		t.Errorf("the new binary is not executable: %v", st.Mode())
	}
	log := strings.Join(lines, "\n")
	for _, want := range []string{"Release index verified", "Downloaded 100%", "SHA-256 verified", "The new binary runs: reachyd 0.2.0", "reachyd 0.2.0 installed"} {
		if !strings.Contains(log, want) {
			t.Errorf("job log lacks %q:\n%s", want, log)
		}
	}
	// The download is gone; the install source is recorded.
	if m, _ := filepath.Glob(filepath.Join(u.Dir, "reachyd-*")); len(m) > 0 {
		t.Errorf("download left: %v", m)
	}
	if r := selfupdate.InstallSource(u.Dir, "0.2.0"); r.Source != "index" || r.Version != "0.2.0" {
		t.Errorf("install source %+v", r)
	}
	if r := selfupdate.InstallSource(u.Dir, "0.1.0"); r.Source != "local" {
		t.Errorf("install source of another version: %+v", r)
	}

	// Rollback puts the file that ran back, and a second one undoes it.
	if err := selfupdate.Rollback(u.Target); err != nil {
		t.Fatal(err)
	}
	if now := identify(t, u.Target); !now.same(before) {
		t.Error("after rollback the binary is not the one that ran before the update")
	}
	if prev := identify(t, selfupdate.PreviousPath(u.Target)); !bytes.Equal(prev.data, releasetest.FakeBinary("0.2.0")) {
		t.Error("after rollback the previous binary is not the rolled-back one")
	}
	if err := selfupdate.Rollback(u.Target); err != nil {
		t.Fatal(err)
	}
	if now := identify(t, u.Target); !bytes.Equal(now.data, releasetest.FakeBinary("0.2.0")) {
		t.Error("a second rollback did not undo the first")
	}
}

func TestInstallFromRef(t *testing.T) {
	_, u := setup(t)
	u.Current = "0.3.0-rc.1" // a ref may install an older version
	if err := os.WriteFile(u.Target, releasetest.FakeBinary("0.3.0-rc.1"), 0o755); err != nil {
		t.Fatal(err)
	}
	rel, err := u.Install(context.Background(), selfupdate.Plan{Ref: "main"}, func(string) {})
	if err != nil || rel.Version != "0.2.0" {
		t.Fatalf("%v %v", rel, err)
	}
	if r := selfupdate.InstallSource(u.Dir, "0.2.0"); r != (selfupdate.InstallRecord{Version: "0.2.0", Source: "git", GitRef: "main", Commit: "01234567"}) {
		t.Errorf("install source %+v", r)
	}
	before := identify(t, u.Target)
	if _, err := u.Install(context.Background(), selfupdate.Plan{Ref: "nope"}, func(string) {}); err == nil || err.Error() != "Ref 'nope' not found" {
		t.Errorf("unknown ref: %v", err)
	}
	if !identify(t, u.Target).same(before) {
		t.Error("an unknown ref touched the binary")
	}
	_, problem, err := u.ValidateRef(context.Background(), "v0.3.0-rc.1")
	if err != nil || problem != "" {
		t.Errorf("validate v0.3.0-rc.1: %q %v", problem, err)
	}
}

func TestInstallNoUpdate(t *testing.T) {
	_, u := setup(t)
	u.Current = "0.2.0"
	before := identify(t, u.Target)
	if _, err := u.Install(context.Background(), selfupdate.Plan{}, func(string) {}); !errors.Is(err, selfupdate.ErrNoUpdate) {
		t.Fatalf("got %v", err)
	}
	untouched(t, u, before)
}

// Every failure before the swap leaves the running binary as it was, and
// nothing behind.
func TestInstallRefusals(t *testing.T) {
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name   string
		break_ func(s *releasetest.Server)
		want   string
		runs   bool // the binary is verified and may run its --version
	}{
		{"bad signature", func(s *releasetest.Server) {
			s.SetIndex(s.Publish(releasetest.Release{Version: "0.2.0", Binary: releasetest.FakeBinary("0.2.0")}), otherPriv)
		}, "signature does not verify", false},
		{"index changed after signing", func(s *releasetest.Server) {
			ix := s.Publish(releasetest.Release{Version: "0.2.0", Binary: releasetest.FakeBinary("0.2.0")})
			s.SetFile(releasetest.IndexPath, bytes.Replace(ix, []byte("0.2.0"), []byte("0.2.1"), 1))
		}, "signature does not verify", false},
		{"no signature", func(s *releasetest.Server) { s.SetFile(releasetest.IndexPath+".sig", nil) }, "HTTP 404", false},
		{"bad checksum", func(s *releasetest.Server) {
			// Same size, other bytes: a binary the index did not sign,
			// which would leave a mark if it ran.
			s.SetFile(releasetest.BinaryPath("0.2.0"), evilBinary(t, len(releasetest.FakeBinary("0.2.0"))))
		}, "SHA-256 does not match", false},
		{"longer binary", func(s *releasetest.Server) {
			s.SetFile(releasetest.BinaryPath("0.2.0"), append(releasetest.FakeBinary("0.2.0"), "echo evil\n"...))
		}, "announces", false},
		{"interrupted download", func(s *releasetest.Server) { s.CutAfter(releasetest.BinaryPath("0.2.0"), 20) }, "interrupted after 20 of", false},
		{"wrong version inside", func(s *releasetest.Server) {
			s.Publish(releasetest.Release{Version: "0.2.0", Binary: releasetest.FakeBinary("0.2.1")})
		}, `want "reachyd 0.2.0`, true},
		{"binary fails", func(s *releasetest.Server) {
			s.Publish(releasetest.Release{Version: "0.2.0", Binary: []byte("#!/bin/sh\necho reachyd 0.2.0\nexit 1\n")})
		}, "failed to run --version", true},
		{"not a program", func(s *releasetest.Server) {
			s.Publish(releasetest.Release{Version: "0.2.0", Binary: bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 8)})
		}, "failed to run --version", true},
		{"source down", func(s *releasetest.Server) { s.Close() }, "release source unreachable", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evilMark = filepath.Join(t.TempDir(), "ran")
			srv, u := setup(t)
			c.break_(srv)
			before := identify(t, u.Target)
			var steps []string
			u.Hook = func(step string) { steps = append(steps, step) }
			_, err := u.Install(context.Background(), selfupdate.Plan{}, func(string) {})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			// Only a binary whose signature and checksum were verified may
			// run (--version); none reaches the swap.
			if want := []string{"downloaded"}; !c.runs && len(steps) > 0 || c.runs && !slices.Equal(steps, want) {
				t.Errorf("steps reached: %v", steps)
			}
			if _, err := os.Stat(evilMark); err == nil {
				t.Error("the unverified binary ran")
			}
			untouched(t, u, before)
		})
	}
}

// A bad signature is found before any binary is asked for.
func TestBadSignatureDownloadsNothing(t *testing.T) {
	srv, u := setup(t)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	srv.SetIndex(srv.Publish(releasetest.Release{Version: "0.2.0", Binary: releasetest.FakeBinary("0.2.0")}), otherPriv)
	if _, err := u.Check(context.Background(), false); !errors.Is(err, selfupdate.ErrBadSignature) {
		t.Fatalf("check: %v", err)
	}
	if _, err := u.Install(context.Background(), selfupdate.Plan{}, func(string) {}); !errors.Is(err, selfupdate.ErrBadSignature) {
		t.Fatalf("install: %v", err)
	}
	if n := srv.Hits(releasetest.BinaryPath("0.2.0")); n != 0 {
		t.Errorf("the binary was fetched %d times", n)
	}
}

// A download that stops sending is ended by the idle timeout.
func TestDownloadStall(t *testing.T) {
	srv, u := setup(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != releasetest.BinaryPath("0.2.0") {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(releasetest.FakeBinary("0.2.0"))))
		_, _ = w.Write([]byte("#!/bin/sh\n"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	u.DownloadIdle = 200 * time.Millisecond
	before := identify(t, u.Target)
	_, err := u.Install(context.Background(), selfupdate.Plan{}, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("got %v", err)
	}
	untouched(t, u, before)
}

// A binary that never answers --version is killed at the timeout, with
// what it started.
func TestCheckBinaryTimeout(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	bin := filepath.Join(dir, "hang")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nsleep 300 &\necho $! > "+pidFile+"\nwait\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := selfupdate.CheckBinary(context.Background(), bin, "1.0.0", 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("got %v", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for _, c := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(c-'0')
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("the binary's child outlived the check")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// --version runs in a temporary folder that is removed afterwards, not in
// the daemon's working folder.
func TestCheckBinaryRunsInTempDir(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "reachyd-new")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\ntouch marker\necho \"reachyd 1.0.0 in $(pwd)\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	line, err := selfupdate.CheckBinary(context.Background(), bin, "1.0.0", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	ran := strings.TrimPrefix(line, "reachyd 1.0.0 in ")
	if ran == wd || ran == dir {
		t.Errorf("ran in %s", ran)
	}
	if _, err := os.Stat(ran); !os.IsNotExist(err) {
		t.Errorf("the temporary folder %s is left: %v", ran, err)
	}
	if _, err := os.Stat(filepath.Join(wd, "marker")); !os.IsNotExist(err) {
		t.Error("the check wrote in the working folder")
	}
}

// The target path always holds a whole binary: a reader racing the swap
// and the rollback only ever sees the old or the new file, complete.
func TestSwapIsAtomic(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "reachyd")
	old := bytes.Repeat([]byte("old binary "), 200000) // ~2 MB: a copy in place would be seen half-done
	nu := bytes.Repeat([]byte("NEW BINARY "), 300000)
	if err := os.WriteFile(target, old, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "downloaded")
	if err := os.WriteFile(src, nu, 0o700); err != nil {
		t.Fatal(err)
	}
	sum := sha256Hex(nu)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, bad atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(target)
			reads.Add(1)
			if err != nil || !(bytes.Equal(b, old) || bytes.Equal(b, nu)) {
				bad.Add(1)
			}
		}
	}()
	for i := 0; i < 5; i++ {
		if err := selfupdate.Swap(src, target, sum, nil); err != nil {
			t.Fatal(err)
		}
		if err := selfupdate.Rollback(target); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d of %d reads saw a missing or partial binary", bad.Load(), reads.Load())
	}
	// The copy is checked: a source changed after verification is refused.
	if err := selfupdate.Swap(src, target, sha256Hex(old), nil); !errors.Is(err, selfupdate.ErrChecksum) {
		t.Errorf("a mismatching copy: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*")); len(m) > 0 {
		t.Errorf("left: %v", m)
	}
}

func TestRollbackWithoutPrevious(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "reachyd")
	if err := os.WriteFile(target, oldBinary, 0o755); err != nil {
		t.Fatal(err)
	}
	before := identify(t, target)
	if err := selfupdate.Rollback(target); err == nil {
		t.Fatal("rolled back to nothing")
	}
	if !identify(t, target).same(before) {
		t.Error("a failed rollback touched the binary")
	}
}

func TestResolveTargetFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "lib", "reachyd")
	_ = os.MkdirAll(filepath.Dir(real), 0o755)
	if err := os.WriteFile(real, oldBinary, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "reachyd")
	if err := os.Symlink("lib/reachyd", link); err != nil {
		t.Fatal(err)
	}
	got, err := selfupdate.ResolveTarget(link)
	if err != nil || got != real {
		t.Errorf("ResolveTarget = %q, %v", got, err)
	}
	if _, err := selfupdate.ResolveTarget(dir); err == nil {
		t.Error("a folder accepted as the binary")
	}
}

// evilMark is where evilBinary leaves its mark when it runs.
var evilMark string

// evilBinary is a script of n bytes that creates evilMark when run.
func evilBinary(t *testing.T, n int) []byte {
	b := []byte("#!/bin/sh\ntouch " + evilMark + "\necho reachyd 0.2.0\n#")
	if len(b) > n {
		t.Fatalf("the mark's path is too long for a %d-byte binary", n)
	}
	return append(b, bytes.Repeat([]byte{'x'}, n-len(b))...)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
