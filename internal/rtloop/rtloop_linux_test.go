//go:build linux

package rtloop

import (
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"golang.org/x/sys/unix"
)

func start(t *testing.T, opt Options) *Loop {
	t.Helper()
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	l, err := Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		select {
		case <-l.Done():
		case <-time.After(10 * time.Second):
			t.Error("the loop's thread did not end after Close")
		}
	})
	return l
}

// stat returns the fields of /proc/self/task/<tid>/stat from field 3 on.
func stat(t *testing.T, tid int) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
}

func TestWorkRunsInOrderOnTheLoopsThread(t *testing.T) {
	l := start(t, Options{Name: "test"})
	const producers, each = 4, 500
	var mu sync.Mutex
	got := map[int][]int{}
	var wrongThread int
	var wg sync.WaitGroup
	wg.Add(producers * each)
	for p := 0; p < producers; p++ {
		go func() {
			for i := 0; i < each; i++ {
				l.Schedule(func() {
					if unix.Gettid() != l.TID() {
						wrongThread++ // only the loop's thread writes it
					}
					mu.Lock()
					got[p] = append(got[p], i)
					mu.Unlock()
					wg.Done()
				})
			}
		}()
	}
	wg.Wait()
	if wrongThread != 0 {
		t.Errorf("%d functions ran on another thread than the loop's", wrongThread)
	}
	for p := 0; p < producers; p++ {
		for i, v := range got[p] {
			if v != i {
				t.Fatalf("producer %d: function %d ran in place %d", p, v, i)
			}
		}
	}
}

func TestTimerRingsOnTheLoopsThread(t *testing.T) {
	rang := make(chan int, 1)
	var l *Loop
	l = start(t, Options{Name: "test", OnTimer: func() { rang <- unix.Gettid() }})
	armed := time.Now()
	l.Arm(20 * time.Millisecond)
	select {
	case tid := <-rang:
		if d := time.Since(armed); d < 20*time.Millisecond {
			t.Errorf("rang after %v, before its 20 ms", d)
		}
		if tid != l.TID() {
			t.Errorf("OnTimer ran on thread %d, not the loop's %d", tid, l.TID())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the timer never rang")
	}
	// A new setting replaces the earlier one.
	l.Arm(time.Hour)
	l.Arm(time.Millisecond)
	select {
	case <-rang:
	case <-time.After(10 * time.Second):
		t.Fatal("a later, shorter setting did not replace the earlier one")
	}
}

// The thread keeps yielding to the Go scheduler (which keeps the
// runtime's monitor from polling) after the timer has rung and nobody
// armed it again, as when motorbus crash-loops with no bus.
func TestYieldsOnceTheTimerHasRung(t *testing.T) {
	rang := make(chan struct{}, 1)
	l := start(t, Options{Name: "test", OnTimer: func() { rang <- struct{}{} }})
	l.Arm(time.Millisecond)
	select {
	case <-rang:
	case <-time.After(10 * time.Second):
		t.Fatal("the timer never rang")
	}
	before := l.yields.Load()
	// A wait ends every 8 ms at most, and the thread yields once per 5 ms.
	deadline := time.Now().Add(10 * time.Second)
	for l.yields.Load() < before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d yields in 10 s after the ring", l.yields.Load()-before)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRealTimePriority: as root (or with CAP_SYS_NICE) the thread runs
// SCHED_FIFO at the asked priority; and no other thread of the process
// does.
func TestRealTimePriority(t *testing.T) {
	l := start(t, Options{Name: "test", Priority: 7})
	m := l.Mode()
	if m.Policy != "fifo" {
		if os.Geteuid() == 0 {
			t.Fatalf("root got mode %+v, want fifo", m)
		}
		t.Skipf("no real-time priority here: %+v", m)
	}
	f := stat(t, l.TID())
	// Fields 40 (rt_priority) and 41 (policy), from field 3 on.
	if f[37] != "7" || f[38] != strconv.Itoa(unix.SCHED_FIFO) {
		t.Errorf("the loop's thread has rt_priority %s and policy %s, want 7 and SCHED_FIFO", f[37], f[38])
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if tid == l.TID() {
			continue
		}
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]); f[38] != "0" {
			t.Errorf("thread %d has policy %s", tid, f[38])
		}
	}
}

// TestShortSliceWithoutPriority: with no real-time priority asked for, the
// thread asks for the short slice (on kernels that show slices).
func TestShortSliceWithoutPriority(t *testing.T) {
	l := start(t, Options{Name: "test"})
	m := l.Mode()
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(l.TID()) + "/sched")
	if err != nil || !strings.Contains(string(b), "se.slice") {
		t.Skip("this kernel shows no slice")
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if strings.TrimSpace(k) != "se.slice" {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSpace(v))
		if m.Policy == "slice" && time.Duration(n) != DefaultSlice {
			t.Errorf("mode %+v but the thread's slice is %v", m, time.Duration(n))
		}
		if m.Policy != "slice" && time.Duration(n) == DefaultSlice {
			t.Errorf("mode %+v but the thread has the short slice", m)
		}
	}
}

// TestCloseFromTheLoop: an actor stopping closes its loop from the loop's
// own thread; the thread ends and later work still runs, elsewhere.
func TestCloseFromTheLoop(t *testing.T) {
	l := start(t, Options{Name: "test"})
	l.Schedule(l.Close)
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Close on the loop's thread did not end it")
	}
	ran := make(chan bool, 1)
	l.Schedule(func() { ran <- true })
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("work scheduled after Close never ran")
	}
	l.Arm(time.Millisecond) // no effect, no harm
}

type echo struct{ tids chan int }

func (e *echo) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(string); ok {
		e.tids <- unix.Gettid()
		ctx.Respond("ok")
	}
}

// TestActorOnTheLoop: an actor with the loop as its dispatcher receives
// every message on the loop's thread and answers asks.
func TestActorOnTheLoop(t *testing.T) {
	l := start(t, Options{Name: "test"})
	sys := actor.NewActorSystem()
	e := &echo{tids: make(chan int, 100)}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return e }, actor.WithDispatcher(l)))
	defer func() {
		_ = sys.Root.StopFuture(pid).Wait()
	}()
	for i := 0; i < 50; i++ {
		res, err := sys.Root.RequestFuture(pid, "hi", 5*time.Second).Result()
		if err != nil || res != "ok" {
			t.Fatalf("ask %d: %v %v", i, res, err)
		}
		if tid := <-e.tids; tid != l.TID() {
			t.Fatalf("message %d handled on thread %d, not the loop's %d", i, tid, l.TID())
		}
	}
}
