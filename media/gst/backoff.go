package gst

import (
	"math"
	"time"
)

// Backoff is a Process's restart policy: the delay doubles with each
// recent failure up to Max, is spread by Jitter so that pipelines that
// failed together (a USB audio device unplugged) do not restart in step,
// and the Process gives up once the failure budget is spent. Failures
// decay with a half-life (as in the daemon's actor supervision, modelled
// on thejerf/suture), so a pipeline that crashes once an hour is never
// given up on and restarts quickly.
type Backoff struct {
	// Initial is the delay before the first restart (0 restarts at once).
	Initial time.Duration
	// Max caps the delay.
	Max time.Duration
	// Jitter spreads the delay by up to +-Jitter (a fraction, 0..1).
	Jitter float64
	// HalfLife is the time for the failure count to halve (0: never).
	HalfLife time.Duration
	// Budget is the decayed failure count above which the Process gives
	// up (0: never give up).
	Budget float64
}

// DefaultBackoff suits a media pipeline: 200 ms, doubling to 10 s, giving
// up after about 10 failures in quick succession. A pipeline that keeps
// failing that fast has a configuration or device problem that restarting
// will not fix; the daemon reports it.
var DefaultBackoff = Backoff{
	Initial:  200 * time.Millisecond,
	Max:      10 * time.Second,
	Jitter:   0.2,
	HalfLife: time.Minute,
	Budget:   10,
}

// Failures is the memory of a Backoff between failures.
type Failures struct {
	// Count is the decayed number of recent failures, this one included.
	Count float64
	// Last is when the last failure happened.
	Last time.Time
}

// Next is the pure core of the policy: given the state before a failure
// at now and a uniform random number in [0,1), it returns the new state,
// the delay before the restart, and whether to give up instead.
func (b Backoff) Next(st Failures, now time.Time, random float64) (Failures, time.Duration, bool) {
	if !st.Last.IsZero() && b.HalfLife > 0 {
		if elapsed := now.Sub(st.Last); elapsed > 0 {
			st.Count *= math.Exp2(-float64(elapsed) / float64(b.HalfLife))
		}
	}
	st.Count++
	st.Last = now
	if b.Budget > 0 && st.Count > b.Budget {
		return st, 0, true
	}
	if b.Initial <= 0 {
		return st, 0, false
	}
	// The exponent is the number of recent failures before this one.
	exp := math.Max(0, st.Count-1)
	d := float64(b.Initial) * math.Exp2(math.Min(exp, 62))
	if b.Max > 0 && d > float64(b.Max) {
		d = float64(b.Max)
	}
	if b.Jitter > 0 {
		d *= 1 + b.Jitter*(2*random-1)
	}
	return st, time.Duration(d), false
}

// Clock is the time source of the restart delays, injectable for tests.
// The grace between SIGTERM and SIGKILL uses real time: it is about a real
// process.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// lineLimiter is a token bucket for log lines: a pipeline that prints in a
// loop (a GStreamer warning per buffer) must not flood the daemon's log.
// Lines over the budget are counted and the count is reported with the
// next line let through.
type lineLimiter struct {
	rate, burst float64 // lines per second, bucket size
	tokens      float64
	last        time.Time
	suppressed  int
}

func newLineLimiter(rate, burst float64) *lineLimiter {
	return &lineLimiter{rate: rate, burst: burst, tokens: burst}
}

// allow reports whether a line may be logged at now, and how many lines
// were suppressed since the last one that was.
func (l *lineLimiter) allow(now time.Time) (bool, int) {
	if !l.last.IsZero() {
		if dt := now.Sub(l.last).Seconds(); dt > 0 {
			l.tokens = math.Min(l.burst, l.tokens+dt*l.rate)
		}
	}
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	n := l.suppressed
	l.suppressed = 0
	return true, n
}
