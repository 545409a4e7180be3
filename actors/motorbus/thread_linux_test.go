//go:build linux

package motorbus

import (
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"reachyd/actors/kit"
	"reachyd/hw"
)

// tidBus records the thread of every goal write (one per tick).
type tidBus struct {
	hw.Bus
	mu   sync.Mutex
	tids map[int]int
}

func (b *tidBus) WriteGoalPositions(g hw.Positions, m hw.Mask) error {
	b.mu.Lock()
	b.tids[unix.Gettid()]++
	b.mu.Unlock()
	return b.Bus.WriteGoalPositions(g, m)
}

func (b *tidBus) threads() map[int]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[int]int{}
	for k, v := range b.tids {
		out[k] = v
	}
	return out
}

// fifoThreads lists this process's threads scheduled SCHED_FIFO, with
// their priority.
func fifoThreads(t *testing.T) map[int]int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
		if err != nil {
			continue // ended meanwhile
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// Fields 40 (rt_priority) and 41 (policy), counted from 3.
		if f[38] == strconv.Itoa(unix.SCHED_FIFO) {
			tid, _ := strconv.Atoi(task.Name())
			out[tid], _ = strconv.Atoi(f[37])
		}
	}
	return out
}

// TestTicksRunOnTheControlThread: every tick, before and after a crash of
// the actor, runs on one thread of its own, SCHED_FIFO at the asked
// priority when the process may (root here; elsewhere the test only
// checks the thread); the thread ends when the actor stops, and no other
// thread ever had the priority.
func TestTicksRunOnTheControlThread(t *testing.T) {
	if len(fifoThreads(t)) != 0 {
		t.Fatal("a real-time thread exists before the actor starts")
	}
	bus := &tidBus{tids: map[int]int{}}
	s, pid := spawnWrapped(t, Options{Period: 5 * time.Millisecond, RTPriority: 9, Log: slog.New(slog.DiscardHandler)},
		func(b hw.Bus) hw.Bus { bus.Bus = b; return bus })
	ticks := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			total := 0
			for _, c := range bus.threads() {
				total += c
			}
			if total >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d ticks, want %d", total, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ticks(20)
	fifo := fifoThreads(t)
	rt := os.Geteuid() == 0
	if rt && len(fifo) != 1 {
		t.Fatalf("real-time threads %v, want one", fifo)
	}
	// A crash restarts the actor on the same thread.
	s.Root.Send(pid, &kit.Crash{Reason: "test"})
	before := 0
	for _, c := range bus.threads() {
		before += c
	}
	ticks(before + 20)
	th := bus.threads()
	if len(th) != 1 {
		t.Fatalf("ticks ran on threads %v, want one", th)
	}
	for tid := range th {
		if rt && fifo[tid] != 9 {
			t.Errorf("ticks ran on thread %d, real-time threads are %v (want it at priority 9)", tid, fifo)
		}
	}
	if err := s.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for tid := range th {
		for {
			if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(tid)); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the control thread %d outlived the actor", tid)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if f := fifoThreads(t); len(f) != 0 {
		t.Errorf("real-time threads left: %v", f)
	}
}
