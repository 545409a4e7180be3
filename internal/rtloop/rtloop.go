// Package rtloop runs one actor's mailbox on an OS thread of its own, with
// a short scheduler slice (or real-time priority when asked for and
// allowed), and a high-resolution timer that wakes that thread directly.
//
// It exists for the control tick. With Go's own scheduling, a tick starts
// when some runtime thread notices the timer and some thread runs the
// mailbox: either can wait behind other processes for as long as the
// kernel protects their slices (on two busy cores, hundreds of µs to
// milliseconds behind a video encoder or an audio pipeline). Here one
// thread sleeps in epoll_wait on the timer and on a wake-up event, and
// processes the actor's messages itself when woken: with its short slice
// it preempts the running normal task when it wakes (with SCHED_FIFO,
// every normal task; see docs/operations.md for why that is opt-in).
//
// A Loop is a protoactor Dispatcher (actor.WithDispatcher). Its thread
// runs nothing but that actor's mailbox, so the actor must not block on
// another actor (no ask and wait); blocking I/O of its own (the serial
// port) is what it is for.
package rtloop

import (
	"log/slog"
	"math"
	"time"
)

// Options configure a Loop.
type Options struct {
	// Name labels the thread in logs.
	Name string
	// Priority is the SCHED_FIFO priority to ask for (1-99; 0: none). When
	// the system refuses it (no CAP_SYS_NICE and no RLIMIT_RTPRIO), the
	// thread asks for a short scheduler slice instead (Slice), which needs
	// no privilege, and the refusal is logged once.
	Priority int
	// Slice is the scheduler slice asked for without real-time priority
	// (0: 300 µs; Linux 6.12 and later, ignored before).
	Slice time.Duration
	// OnTimer runs on the loop's thread each time the timer rings (Arm).
	OnTimer func()
	Log     *slog.Logger
}

// DefaultSlice is the slice asked for when real-time priority is refused:
// shorter than the kernel's default (0.7 ms times 1 + log2 of the CPUs), so
// that the loop's thread preempts running normal tasks when it wakes.
const DefaultSlice = 300 * time.Microsecond

// Throughput is the Dispatcher's throughput: the mailbox never yields
// the thread (a yield on a locked thread hands it to another thread and
// back), it returns once empty.
func (l *Loop) Throughput() int { return math.MaxInt32 }

// Mode says how the loop's thread is scheduled.
type Mode struct {
	// Policy is "fifo" (real-time), "slice" (normal, short slice) or
	// "normal".
	Policy   string
	Priority int
	Slice    time.Duration
}
