package motorbus

import (
	"sync/atomic"
	"testing"
	"time"

	"reachyd/hw"
	"reachyd/internal/loopstats"
)

// slowBus makes one ReadPositions take stall, when asked.
type slowBus struct {
	hw.Bus
	stall atomic.Int64
}

func (b *slowBus) ReadPositions() (hw.Positions, error) {
	if d := b.stall.Swap(0); d > 0 {
		time.Sleep(time.Duration(d))
	}
	return b.Bus.ReadPositions()
}

// TestLoopStats checks the metrics' view of the loop: every tick is
// counted with its lateness, the configured period is known, and a tick
// that overruns several periods shows as missed slots.
func TestLoopStats(t *testing.T) {
	bus := &slowBus{}
	var loop loopstats.Loop
	const period = 10 * time.Millisecond
	s, pid := spawnWrapped(t, Options{Period: period, Loop: &loop}, func(b hw.Bus) hw.Bus { bus.Bus = b; return bus })
	t.Cleanup(func() { _ = s.Root.StopFuture(pid).Wait() })

	wait := func(what string, ok func(loopstats.Snapshot) bool) loopstats.Snapshot {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := loop.Snapshot(time.Now())
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %+v", what, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	st := wait("ticks", func(s loopstats.Snapshot) bool { return s.Ticks >= 5 })
	if st.Period != period {
		t.Fatalf("period %v", st.Period)
	}
	before := st.Missed
	bus.stall.Store(int64(5 * period))
	st = wait("missed slots after a 50 ms tick", func(s loopstats.Snapshot) bool { return s.Missed >= before+4 })
	var n uint64
	for _, c := range st.Counts {
		n += c
	}
	if n < st.Ticks-1 || n > st.Ticks+1 { // a tick may land between the reads
		t.Fatalf("histogram holds %d ticks of %d", n, st.Ticks)
	}
}
