//go:build linux

package rtloop

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Loop is a mailbox thread with a timer. See the package comment.
type Loop struct {
	opt  Options
	epfd int
	evfd int // eventfd: work was queued, or Close
	tfd  int // timerfd

	mu     sync.Mutex
	queue  []func()
	closed bool
	// fdsClosed: the thread has ended and closed its descriptors; their
	// numbers may belong to other files now.
	fdsClosed bool
	woken     atomic.Bool // evfd written and not yet read
	onLoop    atomic.Bool // the thread is running queued work: no wake needed
	mode      atomic.Pointer[Mode]
	done      chan struct{}
	tid       atomic.Int32
	lastYield time.Time    // the loop's thread only
	due       atomic.Int64 // when the timer rings (Unix ns; 0: not armed)
	yields    atomic.Int64 // counted for the tests
}

// Start starts a loop's thread. It fails only when the kernel cannot give
// it its descriptors.
func Start(opt Options) (*Loop, error) {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Slice <= 0 {
		opt.Slice = DefaultSlice
	}
	l := &Loop{opt: opt, epfd: -1, evfd: -1, tfd: -1, done: make(chan struct{})}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("rtloop: epoll: %w", err)
	}
	if l.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("rtloop: eventfd: %w", err)
	}
	if l.tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("rtloop: timerfd: %w", err)
	}
	for _, fd := range []int{l.evfd, l.tfd} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			l.closeFDs()
			return nil, fmt.Errorf("rtloop: epoll_ctl: %w", err)
		}
	}
	started := make(chan struct{})
	go l.run(started)
	<-started
	return l, nil
}

func (l *Loop) closeFDs() {
	for _, fd := range []int{l.tfd, l.evfd, l.epfd} {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
	}
}

// Mode reports how the thread is scheduled.
func (l *Loop) Mode() Mode { return *l.mode.Load() }

// TID is the loop thread's id.
func (l *Loop) TID() int { return int(l.tid.Load()) }

// Schedule queues fn to run on the loop's thread (the Dispatcher's
// method). After Close, fn runs on a goroutine of its own, so that a
// mailbox scheduled late is still drained.
func (l *Loop) Schedule(fn func()) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		go fn()
		return
	}
	l.queue = append(l.queue, fn)
	if !l.onLoop.Load() {
		l.wake()
	}
	l.mu.Unlock()
}

// wake writes the wake-up event, once until the thread reads it. Called
// with mu held: the descriptors are closed under mu.
func (l *Loop) wake() {
	if !l.fdsClosed && l.woken.CompareAndSwap(false, true) {
		var one = [8]byte{1}
		_, _ = unix.Write(l.evfd, one[:])
	}
}

// Arm makes the timer ring once after d (at least 1 ns), replacing any
// earlier setting and forgetting a ring not yet handled.
func (l *Loop) Arm(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(max(d, 1)))}
	l.mu.Lock()
	if !l.fdsClosed {
		// The due time first: a ring read meanwhile clears it.
		l.due.Store(time.Now().Add(d).UnixNano())
		_ = unix.TimerfdSettime(l.tfd, 0, &spec, nil)
	}
	l.mu.Unlock()
}

// Close ends the thread once the work queued so far has run; later work
// runs on goroutines. It does not wait (it may be called from the loop's
// own thread, by the actor stopping).
func (l *Loop) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.woken.Store(false)
	l.wake()
	l.mu.Unlock()
}

// Done is closed when the thread has ended.
func (l *Loop) Done() <-chan struct{} { return l.done }

func (l *Loop) run(started chan<- struct{}) {
	// Never unlocked: the thread ends with this goroutine, and its
	// priority never reaches another goroutine. The main thread is never
	// ended that way (the runtime parks it for good instead): there, hand
	// over to another goroutine, and hold the main thread until that one
	// runs, so that it runs on another thread. (Returning at once would
	// free the main thread for it: with one P, over and over.)
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		elsewhere := make(chan struct{})
		go l.run(elsewhere)
		<-elsewhere
		runtime.UnlockOSThread()
		close(started)
		return
	}
	l.tid.Store(int32(unix.Gettid()))
	m := l.setPriority()
	l.mode.Store(&m)
	close(started)
	defer func() {
		l.mu.Lock()
		l.fdsClosed = true
		l.closeFDs()
		l.mu.Unlock()
		close(l.done)
	}()
	var evs [2]unix.EpollEvent
	var buf [8]byte
	for {
		n, err := unix.EpollWait(l.epfd, evs[:], waitMs)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			l.opt.Log.Error("rtloop: epoll_wait failed; the loop ends", "loop", l.opt.Name, "err", err)
			l.mu.Lock()
			l.closed = true
			rest := l.queue
			l.queue = nil
			l.mu.Unlock()
			for _, fn := range rest {
				go fn()
			}
			return
		}
		l.onLoop.Store(true)
		for i := 0; i < n; i++ {
			switch int(evs[i].Fd) {
			case l.tfd:
				if _, err := unix.Read(l.tfd, buf[:]); err == nil {
					// Rung: no due time until the next Arm, so that a
					// timer left unarmed does not stop the yields.
					l.due.Store(0)
					if l.opt.OnTimer != nil {
						l.opt.OnTimer()
					}
				}
			case l.evfd:
				_, _ = unix.Read(l.evfd, buf[:])
				l.woken.Store(false)
			}
		}
		closed := l.drain()
		l.onLoop.Store(false)
		// Work queued between the last drain and onLoop going false
		// wrote no wake-up: look once more.
		if !closed {
			closed = l.drain()
		}
		if closed {
			return
		}
		l.yield()
	}
}

// waitMs bounds each epoll_wait, and yieldMargin is how far the timer must
// be for the thread to yield to the Go scheduler before it waits.
//
// Why: while this thread waits in a syscall it keeps its P (the Go
// scheduler's processor). The runtime's monitor (sysmon) takes a P back
// from a goroutine that has not been rescheduled for 10 ms, and every
// take sets the monitor polling every 20 µs again: at 50 Hz the idle
// daemon used 6-8% of a core instead of 3%. So no wait lasts 10 ms, and
// before waiting the thread lets the scheduler see it (a yield on a
// locked thread hands the P to another thread and gets one back), except
// right before the tick, where the yield's two thread wake-ups could make
// it late.
const (
	waitMs      = 8
	yieldEvery  = 5 * time.Millisecond
	yieldMargin = 3 * time.Millisecond
)

// yield lets the Go scheduler reschedule this goroutine when it has not
// for yieldEvery, unless the timer rings soon.
func (l *Loop) yield() {
	now := time.Now()
	if now.Sub(l.lastYield) < yieldEvery {
		return
	}
	// Not when the timer rings within the margin, or has rung and the
	// ring is not handled yet (due is cleared when it is).
	if due := l.due.Load(); due != 0 && time.Unix(0, due).Sub(now) < yieldMargin {
		return
	}
	runtime.Gosched()
	l.lastYield = time.Now()
	l.yields.Add(1)
}

// drain runs the queued work, including work queued meanwhile, and
// reports whether the loop is closed.
func (l *Loop) drain() bool {
	for {
		l.mu.Lock()
		q, closed := l.queue, l.closed
		l.queue = nil
		l.mu.Unlock()
		if len(q) == 0 {
			return closed
		}
		for _, fn := range q {
			fn()
		}
	}
}

// setPriority asks for SCHED_FIFO at the configured priority, or else a
// short slice, for the calling thread.
func (l *Loop) setPriority() Mode {
	if l.opt.Priority > 0 {
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(l.opt.Priority), Flags: unix.SCHED_FLAG_RESET_ON_FORK}
		err := unix.SchedSetAttr(0, &attr, 0)
		if err == nil {
			l.opt.Log.Info("rtloop: real-time thread", "loop", l.opt.Name, "policy", "SCHED_FIFO", "priority", l.opt.Priority)
			return Mode{Policy: "fifo", Priority: l.opt.Priority}
		}
		l.opt.Log.Warn("rtloop: no real-time priority (it needs CAP_SYS_NICE or an RLIMIT_RTPRIO); the loop asks for a short scheduler slice instead",
			"loop", l.opt.Name, "priority", l.opt.Priority, "err", err, "slice", l.opt.Slice)
	}
	p, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err == nil {
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL, Nice: int32(20 - p), Runtime: uint64(l.opt.Slice), Flags: unix.SCHED_FLAG_RESET_ON_FORK}
		if unix.SchedSetAttr(0, &attr, 0) == nil {
			return Mode{Policy: "slice", Slice: l.opt.Slice}
		}
	}
	return Mode{Policy: "normal"}
}
