package datasets

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/datasets/hubtest"
	"reachyd/actors/jobs"
	"reachyd/actors/kit"
	"reachyd/actors/moves/motion"
	"reachyd/messages"
)

type actorEnv struct {
	t     *testing.T
	s     *kit.System
	pid   *actor.PID
	jobs  *actor.PID
	cell  *Cell
	cache string
	fake  *hubtest.Server
}

// startActor runs the datasets actor (downloading from fake unless nil)
// and a job register.
func startActor(t *testing.T, fake *hubtest.Server, dirs ...string) *actorEnv {
	t.Helper()
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(s.Shutdown)
	jpid, err := s.Root.SpawnNamed(jobs.Props(jobs.NewCell(jobs.DefaultLimits), nil), "jobs")
	if err != nil {
		t.Fatal(err)
	}
	e := &actorEnv{t: t, s: s, jobs: jpid, cell: NewCell(), cache: t.TempDir(), fake: fake}
	opt := Options{Library: motion.Library{Dirs: append(dirs, e.cache)}, Jobs: jpid, Cell: e.cell, Off: "testing"}
	if fake != nil {
		opt.Hub = newHub(fake, e.cache)
	}
	if e.pid, err = s.Root.SpawnNamed(Props(opt), "datasets"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *actorEnv) ensure(ds string, refresh bool) (messages.DatasetReady, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return kit.Ask[messages.DatasetReady](ctx, e.s, e.pid, &messages.EnsureDataset{Dataset: ds, Refresh: refresh})
}

func (e *actorEnv) list(ds string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := kit.Ask[messages.DatasetMoves](ctx, e.s, e.pid, &messages.ListDataset{Dataset: ds})
	return r.Moves, err
}

func (e *actorEnv) job(id string) messages.JobInfo {
	e.t.Helper()
	var info messages.JobInfo
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		info, err = kit.Ask[messages.JobInfo](context.Background(), e.s, e.jobs, &messages.GetJob{ID: id})
		if err == nil && info.Status.Finished() {
			return info
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %s: %+v, %v", id, info, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (e *actorEnv) waiting(ds string) int {
	e.cell.mu.Lock()
	defer e.cell.mu.Unlock()
	return e.cell.core.Waiting(ds)
}

// Concurrent requests for a missing dataset share one download, a job
// whose log tells the progress; all get their answer.
func TestConcurrentRequestsShareOneDownload(t *testing.T) {
	fake := hubtest.New(t)
	fake.Add(testRepo(t))
	fake.Hold()
	e := startActor(t, fake)

	var wg sync.WaitGroup
	ready := make([]messages.DatasetReady, 2)
	errs := make([]error, 3)
	var names []string
	for i := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); ready[i], errs[i] = e.ensure(testDataset, false) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); names, errs[2] = e.list(testDataset) }()
	waitFor(t, "three waiters", func() bool { return e.waiting(testDataset) == 3 })
	fake.Release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if ready[0].JobID == "" || ready[0].JobID != ready[1].JobID || !strings.HasSuffix(ready[0].Path, filepath.Join("snapshots", ready[0].Path[len(ready[0].Path)-40:])) {
		t.Errorf("ready: %+v", ready)
	}
	if len(names) != 2 || names[0] != "happy" {
		t.Errorf("list: %v", names)
	}
	if fake.Hits("revision") != 1 || fake.Hits("resolve") != 3 {
		t.Errorf("revision %d, resolve %d: want one download", fake.Hits("revision"), fake.Hits("resolve"))
	}
	info := e.job(ready[0].JobID)
	logs := strings.Join(info.Logs, "\n")
	if info.Command != "download dataset "+testDataset || info.Status != messages.JobDone ||
		!strings.Contains(logs, "Downloaded 3/3 files") || !strings.Contains(logs, "completed successfully") {
		t.Errorf("job: %s %s\n%s", info.Command, info.Status, logs)
	}

	// On disk now: answered without the Hub, and without a job.
	fake.Close()
	r, err := e.ensure(testDataset, false)
	if err != nil || r.JobID != "" || r.Path != ready[0].Path {
		t.Errorf("second ensure: %+v, %v", r, err)
	}
}

func TestOnDiskDatasetIsNotDownloaded(t *testing.T) {
	fake := hubtest.New(t)
	fake.Add(testRepo(t))
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "test-org", "emotions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test-org", "emotions", "wave.json"), moveJSON(t, 0.1), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startActor(t, fake, dir)
	if names, err := e.list(testDataset); err != nil || len(names) != 1 || names[0] != "wave" {
		t.Errorf("list: %v, %v", names, err)
	}
	if fake.Hits("revision") != 0 {
		t.Error("the Hub was asked for a dataset on disk")
	}
}

func TestDownloadFailures(t *testing.T) {
	fake := hubtest.New(t)
	fake.Add(testRepo(t))
	fake.Corrupt("data/happy.wav")
	e := startActor(t, fake)

	// Corrupt: refused, 503, the job failed with the reason.
	_, err := e.ensure(testDataset, false)
	var me *messages.Error
	if messages.KindOf(err) != messages.KindUnavailable || !strings.Contains(err.Error(), "could not be downloaded") ||
		!strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("corrupt: %v", err)
	}
	if _, lerr := e.list(testDataset); lerr == nil {
		t.Error("a refused dataset is listed")
	}

	// Not on the Hub: 404, dataset_not_found.
	_, err = e.ensure("test-org/nothing", false)
	if messages.KindOf(err) != messages.KindNotFound || !errorsAs(err, &me) || me.Reason != "dataset_not_found" {
		t.Errorf("missing: %v", err)
	}

	// Offline: 503.
	fake.Close()
	_, err = e.ensure(testDataset, false)
	if messages.KindOf(err) != messages.KindUnavailable || !strings.Contains(err.Error(), "could not be downloaded from "+fake.URL) {
		t.Errorf("offline: %v", err)
	}
	// Bad names: 404 without a download.
	if _, err := e.ensure("../etc", false); messages.KindOf(err) != messages.KindNotFound {
		t.Errorf("bad name: %v", err)
	}
}

func errorsAs(err error, me **messages.Error) bool {
	e, ok := err.(*messages.Error)
	if ok {
		*me = e
	}
	return ok
}

// A refresh asks the Hub; offline, the copy on disk serves.
func TestRefreshFallsBackToTheCopyOnDisk(t *testing.T) {
	fake := hubtest.New(t)
	fake.Add(testRepo(t))
	e := startActor(t, fake)
	first, err := e.ensure(testDataset, true)
	if err != nil || first.JobID == "" {
		t.Fatalf("%+v, %v", first, err)
	}
	if _, err := e.ensure(testDataset, true); err != nil || fake.Hits("revision") != 2 || fake.Hits("resolve") != 3 {
		t.Errorf("refresh: %v; revision %d resolve %d", err, fake.Hits("revision"), fake.Hits("resolve"))
	}
	fake.Close()
	r, err := e.ensure(testDataset, true)
	if err != nil || r.Path != first.Path {
		t.Errorf("offline refresh: %+v, %v", r, err)
	}
}

func TestDownloadsOff(t *testing.T) {
	e := startActor(t, nil)
	_, err := e.ensure(testDataset, true)
	if messages.KindOf(err) != messages.KindNotFound || !strings.Contains(err.Error(), "downloads are off (testing)") {
		t.Errorf("%v", err)
	}
}

// CancelJob ends the download; its waiters get the error.
func TestCancelDownload(t *testing.T) {
	fake := hubtest.New(t)
	fake.Add(testRepo(t))
	fake.Hold()
	e := startActor(t, fake)
	errc := make(chan error, 1)
	go func() { _, err := e.ensure(testDataset, false); errc <- err }()
	var job string
	waitFor(t, "the download", func() bool {
		e.cell.mu.Lock()
		defer e.cell.mu.Unlock()
		job, _ = e.cell.core.Running(testDataset)
		return job != "" && fake.Hits("resolve") > 0
	})
	if _, err := kit.Ask[messages.JobCancelling](context.Background(), e.s, e.jobs, &messages.CancelJob{ID: job}); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; messages.KindOf(err) != messages.KindUnavailable || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("waiter: %v", err)
	}
	if info := e.job(job); info.Status != messages.JobFailed {
		t.Errorf("job: %+v", info)
	}
	if l := leftovers(t, e.cache); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

// A crash of the actor during a download loses neither the download nor
// its waiters.
func TestCrashDuringDownload(t *testing.T) {
	fake := hubtest.New(t)
	fake.Add(testRepo(t))
	fake.Hold()
	e := startActor(t, fake)
	errc := make(chan error, 1)
	go func() { _, err := e.ensure(testDataset, false); errc <- err }()
	waitFor(t, "the waiter", func() bool { return e.waiting(testDataset) == 1 })
	e.s.Tell(e.pid, &kit.Crash{Reason: "test"})
	// The restarted actor answers, and a new request joins the download.
	go func() { _, err := e.ensure(testDataset, false); errc <- err }()
	waitFor(t, "the second waiter", func() bool { return e.waiting(testDataset) == 2 })
	fake.Release()
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if fake.Hits("revision") != 1 {
		t.Errorf("%d downloads", fake.Hits("revision"))
	}
}
