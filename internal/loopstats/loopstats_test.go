package loopstats

import (
	"sync"
	"testing"
	"time"
)

func TestTickBucketsAndRate(t *testing.T) {
	var l Loop
	l.SetPeriod(20 * time.Millisecond)
	t0 := time.Unix(1000, 0)
	// 51 ticks 20 ms apart: a window of one second holds 50 periods.
	lates := []time.Duration{0, 50 * time.Microsecond, 51 * time.Microsecond, 3 * time.Millisecond, time.Second, -time.Millisecond}
	for i := 0; i <= 50; i++ {
		l.Tick(t0.Add(time.Duration(i)*20*time.Millisecond), lates[i%len(lates)])
	}
	l.Missed(0)
	l.Missed(3)
	s := l.Snapshot(t0.Add(time.Second))
	if s.Ticks != 51 || s.Missed != 3 || s.Period != 20*time.Millisecond {
		t.Fatalf("snapshot %+v", s)
	}
	if s.MeasuredHz < 49.9 || s.MeasuredHz > 51.1 {
		t.Fatalf("measured %v Hz, want about 51 (51 ticks in the window of 1 s)", s.MeasuredHz)
	}
	// Every lateness value occurs 8 or 9 times (51 ticks over 6 values).
	var total uint64
	for _, c := range s.Counts {
		total += c
	}
	if total != 51 {
		t.Fatalf("histogram holds %d ticks, want 51", total)
	}
	// 0, 50 µs (bound inclusive) and the negative one land in the first
	// bucket; 51 µs in the second; 3 ms in the 5 ms one; 1 s above the last.
	if s.Counts[0] != 9+9+8 || s.Counts[1] != 9 || s.Counts[6] != 8 || s.Counts[NumBuckets-1] != 8 {
		t.Fatalf("counts %v", s.Counts)
	}
	// A stalled loop reports no rate.
	if s := l.Snapshot(t0.Add(10 * time.Second)); s.MeasuredHz != 0 {
		t.Fatalf("stalled loop: %v Hz", s.MeasuredHz)
	}
}

func TestNilLoop(t *testing.T) {
	var l *Loop
	l.SetPeriod(time.Second)
	l.Tick(time.Now(), 0)
	l.Missed(1)
	if s := l.Snapshot(time.Now()); s.Ticks != 0 {
		t.Fatal(s)
	}
}

// TestConcurrentSnapshot is for -race: snapshots while the loop ticks.
func TestConcurrentSnapshot(t *testing.T) {
	var l Loop
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		now := time.Now()
		for i := 0; i < 2000; i++ {
			l.Tick(now.Add(time.Duration(i)*time.Millisecond), time.Duration(i)*time.Microsecond)
		}
	}()
	for i := 0; i < 200; i++ {
		_ = l.Snapshot(time.Now())
	}
	wg.Wait()
	if s := l.Snapshot(time.Now()); s.Ticks != 2000 {
		t.Fatal(s.Ticks)
	}
}

func BenchmarkTick(b *testing.B) {
	var l Loop
	now := time.Now()
	for i := 0; i < b.N; i++ {
		l.Tick(now, 300*time.Microsecond)
	}
}
