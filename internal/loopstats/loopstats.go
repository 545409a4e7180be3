// Package loopstats counts what the control loop does, for the metrics
// endpoint, without slowing it: the tick records into plain atomics (a few
// uncontended adds, no locks, no allocation, no Prometheus import on the hot
// path) and a scrape reads them at any time from another goroutine.
//
// Tested by unit tests (bucketing, the rate window, concurrent reads under
// -race) and end to end through the daemon's /metrics.
package loopstats

import (
	"math"
	"sync/atomic"
	"time"
)

// Buckets are the upper bounds of the tick lateness histogram. They cover
// the control rates the loop runs at, 50 Hz (20 ms period) to 500 Hz (2 ms):
// fine steps below a 500 Hz period, then up to several 50 Hz periods, where
// a tick has missed slots.
var Buckets = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
}

// NumBuckets is the number of histogram counts: one per bound, and one for
// the lateness above the last bound.
const NumBuckets = len(Buckets) + 1

// Loop is the control loop's counters. Tick, Missed and SetPeriod are
// called by the loop's one goroutine (the motorbus actor); Snapshot by
// anyone. All methods accept a nil *Loop and then do nothing, so a loop
// without metrics needs no checks.
type Loop struct {
	ticks    atomic.Uint64
	missed   atomic.Uint64
	period   atomic.Int64  // configured period, ns
	hz       atomic.Uint64 // measured rate over the last window, float64 bits
	lastTick atomic.Int64  // unix ns of the last tick
	lateSum  atomic.Int64  // ns
	counts   [NumBuckets]atomic.Uint64

	// The rate window; only the loop's goroutine touches these.
	winStart time.Time
	winTicks int
}

// SetPeriod records the configured tick period.
func (l *Loop) SetPeriod(d time.Duration) {
	if l != nil {
		l.period.Store(int64(d))
	}
}

// Tick records one tick that started at now, late after its slot in the
// schedule.
func (l *Loop) Tick(now time.Time, late time.Duration) {
	if l == nil {
		return
	}
	if late < 0 {
		late = 0
	}
	i := 0
	for i < len(Buckets) && late > Buckets[i] {
		i++
	}
	l.counts[i].Add(1)
	l.lateSum.Add(int64(late))
	l.ticks.Add(1)
	l.lastTick.Store(now.UnixNano())
	if l.winStart.IsZero() {
		l.winStart = now
	}
	l.winTicks++
	if w := now.Sub(l.winStart); w >= time.Second {
		l.hz.Store(math.Float64bits(float64(l.winTicks) / w.Seconds()))
		l.winStart, l.winTicks = now, 0
	}
}

// Missed records n schedule slots skipped because a tick ran late.
func (l *Loop) Missed(n uint64) {
	if l != nil && n > 0 {
		l.missed.Add(n)
	}
}

// Snapshot is the counters at one instant.
type Snapshot struct {
	Ticks  uint64
	Missed uint64
	// Period is the configured period (0 before the loop started).
	Period time.Duration
	// MeasuredHz is the rate over the last full window of about a second;
	// 0 when no tick came for two seconds (the bus is down, the robot
	// stopped).
	MeasuredHz float64
	// Counts are the lateness histogram's counts per bucket (not
	// cumulative); LateSum is the sum of every tick's lateness.
	Counts  [NumBuckets]uint64
	LateSum time.Duration
}

// Snapshot reads the counters at now. Each is read atomically but not all
// together: a tick may land between two reads, which a scrape tolerates.
func (l *Loop) Snapshot(now time.Time) Snapshot {
	var s Snapshot
	if l == nil {
		return s
	}
	s.Ticks = l.ticks.Load()
	s.Missed = l.missed.Load()
	s.Period = time.Duration(l.period.Load())
	s.LateSum = time.Duration(l.lateSum.Load())
	for i := range s.Counts {
		s.Counts[i] = l.counts[i].Load()
	}
	if last := l.lastTick.Load(); last != 0 && now.Sub(time.Unix(0, last)) < 2*time.Second {
		s.MeasuredHz = math.Float64frombits(l.hz.Load())
	}
	return s
}
