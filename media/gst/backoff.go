package gst

import (
	"math"
	"reachyd/internal/backoff"
	"time"
)

// Backoff is a Process's restart policy (see internal/backoff): the delay
// doubles with each recent failure up to Max, is spread by Jitter so that
// pipelines that failed together (a USB audio device unplugged) do not
// restart in step, and the Process gives up once the failure budget is
// spent.
type Backoff = backoff.Policy

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
type Failures = backoff.State

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
