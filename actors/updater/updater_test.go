package updater

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/jobs"
	"reachyd/actors/kit"
	"reachyd/messages"
	"reachyd/selfupdate"
	"reachyd/selfupdate/releasetest"
)

func TestCore(t *testing.T) {
	var c Core
	if c.Busy() || c.Begin() != nil || !c.Busy() {
		t.Fatal("an idle core does not start")
	}
	if err := c.Begin(); !errors.Is(err, messages.ErrUpdateAlreadyInProgress) {
		t.Fatalf("second begin: %v", err)
	}
	c.Abort()
	if c.Busy() {
		t.Fatal("abort does not free the core")
	}
	_ = c.Begin()
	c.Started("j1")
	c.Ended("other", false) // another job's end changes nothing
	if c.Phase() != Running {
		t.Fatalf("phase %v", c.Phase())
	}
	c.Abort() // not checking: no effect
	c.Ended("j1", false)
	if c.Busy() {
		t.Fatal("a failed job keeps the core busy")
	}
	_ = c.Begin()
	c.Started("j2")
	c.Ended("j2", true)
	if c.Phase() != Installed || c.Begin() == nil {
		t.Fatal("an installed update lets another start before the restart")
	}
}

// hub records the frames broadcast to it.
type hub struct{ frames chan []byte }

func (h *hub) Receive(ctx actor.Context) {
	if b, ok := ctx.Message().(*messages.Broadcast); ok && b.Stream == messages.StreamSDK {
		h.frames <- b.Frame
	}
}

type env struct {
	t       *testing.T
	s       *kit.System
	pid     *actor.PID
	jobs    *actor.PID
	srv     *releasetest.Server
	u       *selfupdate.Updater
	frames  chan []byte
	restart chan struct{}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := releasetest.New(t)
	srv.Publish(releasetest.Release{Version: "0.1.0", Binary: releasetest.FakeBinary("0.1.0")},
		releasetest.Release{Version: "0.2.0", Refs: []string{"main"}, Binary: releasetest.FakeBinary("0.2.0")})
	dir := t.TempDir()
	target := filepath.Join(dir, "reachyd")
	if err := os.WriteFile(target, releasetest.FakeBinary("0.1.0"), 0o755); err != nil {
		t.Fatal(err)
	}
	u := &selfupdate.Updater{Source: &selfupdate.Source{URL: srv.IndexURL(), Keys: []ed25519.PublicKey{srv.Pub}},
		Current: "0.1.0", Dir: filepath.Join(dir, "updates"), Target: target}
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(s.Shutdown)
	e := &env{t: t, s: s, srv: srv, u: u, frames: make(chan []byte, 256), restart: make(chan struct{}, 4)}
	var err error
	if e.jobs, err = s.Root.SpawnNamed(jobs.Props(jobs.NewCell(jobs.DefaultLimits), nil), "jobs"); err != nil {
		t.Fatal(err)
	}
	h := &hub{frames: e.frames}
	hubPID, err := s.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return h }), "hub")
	if err != nil {
		t.Fatal(err)
	}
	e.pid, err = s.Root.SpawnNamed(Props(Options{Updater: u, Jobs: e.jobs, Hub: hubPID, Cell: NewCell(),
		Restart: func() { e.restart <- struct{}{} }, RestartDelay: time.Millisecond}), "updater")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) ask(msg any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return e.s.AskAny(ctx, e.pid, msg)
}

// watch returns every frame of a job's log stream until it closes.
func (e *env) watch(id string) []string {
	e.t.Helper()
	out := messages.NewOutbox(4096, messages.CloseWhenFull)
	if _, err := kit.Ask[messages.JobInfo](context.Background(), e.s, e.jobs, &messages.WatchJob{ID: id, Out: out}); err != nil {
		e.t.Fatal(err)
	}
	var frames []string
	deadline := time.After(20 * time.Second)
	for {
		for _, f := range out.Drain(nil) {
			frames = append(frames, string(f))
		}
		select {
		case <-out.Done():
			for _, f := range out.Drain(nil) {
				frames = append(frames, string(f))
			}
			return frames
		case <-out.Wake():
		case <-deadline:
			e.t.Fatalf("the job did not end: %q", frames)
		}
	}
}

// progress collects update_progress frames until a final one.
func (e *env) progress() []map[string]string {
	e.t.Helper()
	var got []map[string]string
	for {
		select {
		case f := <-e.frames:
			var m map[string]string
			if err := json.Unmarshal(f, &m); err != nil || m["type"] != "update_progress" {
				e.t.Fatalf("frame %s: %v", f, err)
			}
			got = append(got, m)
			if m["status"] != "in_progress" {
				return got
			}
		case <-time.After(20 * time.Second):
			e.t.Fatalf("no final update_progress: %v", got)
		}
	}
}

func TestGoodUpdateRestarts(t *testing.T) {
	e := newEnv(t)
	r, err := e.ask(&messages.GetUpdateAvailable{})
	if err != nil || r != (messages.UpdateAvailability{IsAvailable: true, Current: "0.1.0", Available: "0.2.0"}) {
		t.Fatalf("available: %+v %v", r, err)
	}
	r, err = e.ask(&messages.StartUpdate{})
	if err != nil {
		t.Fatal(err)
	}
	id := r.(messages.JobStarted).JobID
	log := strings.Join(e.watch(id), "\n")
	for _, want := range []string{"SHA-256 verified", "Restarting reachyd on 0.2.0", `"status":"done"`, "Job 'update_reachy_mini' completed successfully"} {
		if !strings.Contains(log, want) {
			t.Errorf("job log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, e.u.Target) {
		t.Errorf("the job log shows the binary's full path:\n%s", log)
	}
	p := e.progress()
	if last := p[len(p)-1]; last["status"] != "done" || len(p) < 5 || p[0]["line"] == "" {
		t.Errorf("update_progress: %v", p)
	}
	select {
	case <-e.restart:
	case <-time.After(10 * time.Second):
		t.Fatal("no restart after a successful update")
	}
	b, _ := os.ReadFile(e.u.Target)
	if !bytes.Equal(b, releasetest.FakeBinary("0.2.0")) {
		t.Error("the new binary is not in place")
	}
	// Until the process restarts, nothing more starts.
	if _, err := e.ask(&messages.StartUpdate{FromRef: true, Ref: "main"}); !errors.Is(err, messages.ErrUpdateAlreadyInProgress) {
		t.Errorf("start after install: %v", err)
	}
	if _, err := e.ask(&messages.GetUpdateAvailable{}); !errors.Is(err, messages.ErrUpdateInProgress) {
		t.Errorf("available after install: %v", err)
	}
}

func TestFailedUpdateFreesTheUpdater(t *testing.T) {
	e := newEnv(t)
	e.srv.CutAfter(releasetest.BinaryPath("0.2.0"), 10)
	r, err := e.ask(&messages.StartUpdate{})
	if err != nil {
		t.Fatal(err)
	}
	log := strings.Join(e.watch(r.(messages.JobStarted).JobID), "\n")
	if !strings.Contains(log, "Job 'update_reachy_mini' failed with error: download interrupted after 10 of") || !strings.Contains(log, `"status":"failed"`) {
		t.Errorf("job log:\n%s", log)
	}
	p := e.progress()
	if last := p[len(p)-1]; last["status"] != "failed" || !strings.Contains(last["error"], "interrupted") {
		t.Errorf("update_progress: %v", p)
	}
	select {
	case <-e.restart:
		t.Fatal("restarted after a failed update")
	default:
	}
	// A retry is accepted once the job has ended (the end reaches the
	// actor after the job's last line).
	e.srv.Intercept(nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := e.ask(&messages.StartUpdate{})
		if err == nil {
			break
		}
		if !errors.Is(err, messages.ErrUpdateAlreadyInProgress) || time.Now().After(deadline) {
			t.Fatalf("retry: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p := e.progress(); p[len(p)-1]["status"] != "done" {
		t.Errorf("retry: %v", p)
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t)
	e.u.Current = "0.2.0"
	if _, err := e.ask(&messages.StartUpdate{}); !errors.Is(err, messages.ErrNoUpdateAvailable) {
		t.Errorf("no update: %v", err)
	}
	if _, err := e.ask(&messages.StartUpdate{FromRef: true, Ref: "  "}); !errors.Is(err, messages.ErrEmptyGitRef) {
		t.Errorf("empty ref: %v", err)
	}
	if _, err := e.ask(&messages.ValidateUpdateRef{Ref: ""}); !errors.Is(err, messages.ErrEmptyGitRef) {
		t.Errorf("validate empty ref: %v", err)
	}
	for ref, want := range map[string]messages.RefValidation{
		"main":   {Valid: true, Ref: "main"},
		"v0.1.0": {Valid: true, Ref: "v0.1.0"},
		"ghost":  {Ref: "ghost", Error: "Ref 'ghost' not found"},
	} {
		r, err := e.ask(&messages.ValidateUpdateRef{Ref: ref})
		if err != nil || r != want {
			t.Errorf("validate %s: %+v %v", ref, r, err)
		}
	}
	// A bad signature is a 503 for every check; nothing starts.
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	e.srv.SetIndex(e.srv.Publish(releasetest.Release{Version: "0.3.0", Binary: releasetest.FakeBinary("0.3.0")}), otherPriv)
	for _, m := range []any{&messages.GetUpdateAvailable{}, &messages.StartUpdate{}, &messages.ValidateUpdateRef{Ref: "main"}} {
		_, err := e.ask(m)
		if messages.KindOf(err) != messages.KindUnavailable || !strings.Contains(err.Error(), "signature") {
			t.Errorf("%T with a bad signature: %v", m, err)
		}
	}
	// An unreachable source is the reference's "unknown".
	e.srv.Close()
	r, err := e.ask(&messages.GetUpdateAvailable{})
	if err != nil || r != (messages.UpdateAvailability{Current: "0.2.0", Available: "unknown"}) {
		t.Errorf("unreachable: %+v %v", r, err)
	}
	if r, _ := e.ask(&messages.GetInstallSource{}); r != (messages.InstallSource{Version: "0.2.0", Source: "local"}) {
		t.Errorf("install source: %+v", r)
	}
}

// A crash of the actor while a job runs does not let a second update
// start: the core lives in the cell.
func TestCrashKeepsTheJob(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == releasetest.BinaryPath("0.2.0") {
			<-release
		}
		return false
	})
	r, err := e.ask(&messages.StartUpdate{})
	if err != nil {
		t.Fatal(err)
	}
	e.s.Tell(e.pid, &kit.Crash{Reason: "test"})
	if _, err := e.ask(&messages.StartUpdate{PreRelease: true}); !errors.Is(err, messages.ErrUpdateAlreadyInProgress) {
		t.Errorf("start during a job, after a crash: %v", err)
	}
	if _, err := e.ask(&messages.GetUpdateAvailable{}); !errors.Is(err, messages.ErrUpdateInProgress) {
		t.Errorf("available during a job, after a crash: %v", err)
	}
	close(release)
	if log := strings.Join(e.watch(r.(messages.JobStarted).JobID), "\n"); !strings.Contains(log, "completed successfully") {
		t.Errorf("job log:\n%s", log)
	}
}
