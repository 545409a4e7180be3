// Package backoff is the restart policy shared by reachyd's actor
// supervision (actors/kit) and its media pipelines (media/gst): the delay
// doubles with each recent failure up to a cap, is spread by jitter so that
// things that failed together do not restart in step, and a failure
// budget says when to give up. Failures decay with a half-life, as in
// thejerf/suture, so something that fails once an hour is never given up
// on and restarts quickly.
package backoff

import (
	"math"
	"time"
)

// Policy is a restart policy.
type Policy struct {
	// Initial is the delay before the first restart (0 restarts at once).
	Initial time.Duration
	// Max caps the delay.
	Max time.Duration
	// Jitter spreads the delay by up to +-Jitter (a fraction, 0..1).
	Jitter float64
	// HalfLife is the time for the failure count to halve (0: never).
	HalfLife time.Duration
	// Budget is the decayed failure count above which to give up (0:
	// never).
	Budget float64
}

// State is the memory of a Policy between failures.
type State struct {
	// Failures is the decayed number of recent failures, the last one
	// included.
	Failures float64
	// Last is when the last failure happened.
	Last time.Time
}

// Next is the pure core: given the state before a failure at now and a
// uniform random number in [0,1), it returns the new state, the delay
// before the restart, and whether to give up instead.
func (p Policy) Next(st State, now time.Time, random float64) (State, time.Duration, bool) {
	if !st.Last.IsZero() && p.HalfLife > 0 {
		if elapsed := now.Sub(st.Last); elapsed > 0 {
			st.Failures *= math.Exp2(-float64(elapsed) / float64(p.HalfLife))
		}
	}
	st.Failures++
	st.Last = now
	if p.Budget > 0 && st.Failures > p.Budget {
		return st, 0, true
	}
	if p.Initial <= 0 {
		return st, 0, false
	}
	// The exponent is the number of recent failures before this one.
	exp := math.Max(0, st.Failures-1)
	d := float64(p.Initial) * math.Exp2(math.Min(exp, 62))
	if p.Max > 0 && d > float64(p.Max) {
		d = float64(p.Max)
	}
	if p.Jitter > 0 {
		d *= 1 + p.Jitter*(2*random-1)
	}
	return st, time.Duration(d), false
}
