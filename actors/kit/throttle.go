package kit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// LogThrottle bounds how often a kind of log line is written: at most Burst
// lines per Per, and the first line after a quiet spell says how many were
// held back. It is for lines that clients can cause at will (a bad frame, a
// refused request, a wrong key): a client sending thousands of them a second
// must not flood the journal or slow the daemon down with logging. The zero
// value allows 5 lines a second. It is safe for concurrent use.
type LogThrottle struct {
	Burst int
	Per   time.Duration
	// Now defaults to time.Now (tests inject a clock).
	Now func() time.Time

	mu         sync.Mutex
	windowFrom time.Time
	n          int // lines written in the current window
	held       int // lines held back since the last one written
}

// Allow reports whether one more line may be written now and, if so, how
// many were held back before it.
func (t *LogThrottle) Allow() (ok bool, held int) {
	burst, per := t.Burst, t.Per
	if burst <= 0 {
		burst = 5
	}
	if per <= 0 {
		per = time.Second
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	tn := now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.windowFrom.IsZero() || tn.Sub(t.windowFrom) >= per {
		t.windowFrom, t.n = tn, 0
	}
	if t.n >= burst {
		t.held++
		return false, 0
	}
	t.n++
	held, t.held = t.held, 0
	return true, held
}

// Log writes the line at level if the throttle allows it, with a
// "suppressed" attribute counting the lines held back before it.
func (t *LogThrottle) Log(l *slog.Logger, level slog.Level, msg string, args ...any) {
	if !l.Enabled(context.Background(), level) {
		return
	}
	ok, held := t.Allow()
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	l.Log(context.Background(), level, msg, args...)
}
