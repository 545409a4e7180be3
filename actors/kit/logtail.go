package kit

import (
	"sync"
	"sync/atomic"
	"time"
)

// The daemon-wide tail of the log: every kept line of every service, in
// the order they were logged, for the reference's log streams (WS
// /logs/ws/daemon and the data channel's subscribe_logs) when reachyd does
// not run under systemd. It is bounded (tailSize lines), and so is each
// follower's queue: a follower that does not keep up loses its oldest
// lines, never slows the logger, and is told how many it lost.

// tailSize is how many recent lines of the whole daemon are kept.
const tailSize = 500

// LogLine is one daemon-wide log line: "<time> <LEVEL> <service>: <message>
// <attrs>", the time in RFC 3339 UTC with milliseconds (the reference's
// log_line splits its timestamp off at the first space).
type LogLine struct {
	Time time.Time
	Text string
}

type logTail struct {
	mu    sync.Mutex
	lines []LogLine // ring of tailSize
	next  int
	full  bool
	subs  map[*LogFollower]struct{}
}

func (t *logTail) add(l LogLine) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lines == nil {
		t.lines = make([]LogLine, tailSize)
	}
	t.lines[t.next] = l
	t.next = (t.next + 1) % tailSize
	if t.next == 0 {
		t.full = true
	}
	for f := range t.subs {
		f.offer(l)
	}
}

// recent returns the last n lines, oldest first (caller holds mu).
func (t *logTail) recent(n int) []LogLine {
	var all []LogLine
	if t.full {
		all = append(all, t.lines[t.next:]...)
	}
	all = append(all, t.lines[:t.next]...)
	if n >= 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// LogFollower receives the daemon's new log lines on C until Close.
type LogFollower struct {
	C       <-chan LogLine
	ch      chan LogLine
	t       *logTail
	dropped atomic.Uint64
	once    sync.Once
}

// offer queues a line, dropping the oldest queued one when the queue is
// full (called under the tail's lock, the only sender).
func (f *LogFollower) offer(l LogLine) {
	select {
	case f.ch <- l:
		return
	default:
	}
	select {
	case <-f.ch:
		f.dropped.Add(1)
	default:
	}
	select {
	case f.ch <- l:
	default:
		f.dropped.Add(1)
	}
}

// Dropped returns and resets the count of lines lost because the follower
// was too slow.
func (f *LogFollower) Dropped() uint64 { return f.dropped.Swap(0) }

// Close stops the follower; C receives nothing more (it is not closed: a
// reader selects on its own done signal).
func (f *LogFollower) Close() {
	f.once.Do(func() {
		f.t.mu.Lock()
		delete(f.t.subs, f)
		f.t.mu.Unlock()
	})
}

// Follow returns the last backlog daemon-wide lines (oldest first) and a
// follower of the lines logged after them, with a queue of queue lines.
// Nothing is lost or repeated between the two.
func (r *LogRing) Follow(backlog, queue int) ([]LogLine, *LogFollower) {
	if queue < 1 {
		queue = 1
	}
	ch := make(chan LogLine, queue)
	f := &LogFollower{C: ch, ch: ch, t: &r.tail}
	r.tail.mu.Lock()
	defer r.tail.mu.Unlock()
	if r.tail.subs == nil {
		r.tail.subs = map[*LogFollower]struct{}{}
	}
	r.tail.subs[f] = struct{}{}
	return r.tail.recent(backlog), f
}

// Followers returns how many followers are attached (for tests and
// status).
func (r *LogRing) Followers() int {
	r.tail.mu.Lock()
	defer r.tail.mu.Unlock()
	return len(r.tail.subs)
}
