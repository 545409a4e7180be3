package gst

import (
	"testing"
	"time"
)

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, HalfLife: time.Minute, Budget: 10}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var st Failures
	var got []time.Duration
	for range 7 {
		var d time.Duration
		var giveUp bool
		// failures 1 ms apart: no decay to speak of
		now = now.Add(time.Millisecond)
		st, d, giveUp = b.Next(st, now, 0.5)
		if giveUp {
			t.Fatalf("gave up after %v", got)
		}
		got = append(got, d.Round(time.Millisecond))
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v, want %v ms", got, want)
		}
	}
}

func TestBackoffJitter(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: time.Minute, Jitter: 0.2}
	now := time.Now()
	for _, tc := range []struct {
		r    float64
		want time.Duration
	}{{0, 800 * time.Millisecond}, {0.5, time.Second}, {0.999999, 1200 * time.Millisecond}} {
		_, d, _ := b.Next(Failures{}, now, tc.r)
		if d.Round(time.Millisecond) != tc.want {
			t.Errorf("rand %v: delay %v, want %v", tc.r, d, tc.want)
		}
	}
}

func TestBackoffBudgetAndDecay(t *testing.T) {
	b := Backoff{Initial: time.Millisecond, Max: time.Second, HalfLife: time.Minute, Budget: 3}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var st Failures
	var giveUp bool
	for i := range 3 {
		if st, _, giveUp = b.Next(st, now, 0.5); giveUp {
			t.Fatalf("gave up at failure %d", i+1)
		}
	}
	if _, _, giveUp = b.Next(st, now, 0.5); !giveUp {
		t.Fatal("a fourth quick failure did not spend the budget of 3")
	}
	// Two half-lives later the three failures count as 0.75: a new one
	// restarts, after 2^0.75 times the initial delay.
	st2, d, giveUp := b.Next(st, now.Add(2*time.Minute), 0.5)
	if giveUp || st2.Failures < 1.74 || st2.Failures > 1.76 || d.Round(time.Microsecond) != 1682*time.Microsecond {
		t.Fatalf("after decay: %+v, %v, giveUp %v", st2, d, giveUp)
	}
	// No budget: never give up.
	nb := Backoff{Initial: time.Millisecond, Max: time.Second}
	st = Failures{}
	for range 100 {
		if st, d, giveUp = nb.Next(st, now, 0.5); giveUp || d > time.Second {
			t.Fatalf("no budget: %v %v", d, giveUp)
		}
	}
}

func TestLineLimiter(t *testing.T) {
	l := newLineLimiter(2, 3)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, _ := l.allow(now); !ok {
			t.Fatalf("line %d of the burst refused", i)
		}
	}
	for range 5 {
		if ok, _ := l.allow(now); ok {
			t.Fatal("line over the burst allowed")
		}
	}
	ok, suppressed := l.allow(now.Add(500 * time.Millisecond)) // one token back
	if !ok || suppressed != 5 {
		t.Fatalf("after refill: ok %v, suppressed %d", ok, suppressed)
	}
	if ok, _ := l.allow(now.Add(500 * time.Millisecond)); ok {
		t.Fatal("second line after a one-token refill allowed")
	}
}
