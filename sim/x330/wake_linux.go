//go:build linux

package x330

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// alarm is a one-shot timer with the kernel's high-resolution precision,
// for waiting until a reply is due. Go's own timers are woken by the
// runtime's network poller, whose epoll timeout counts whole milliseconds,
// so they fire up to a millisecond late: a reply due in 1.58 ms would be
// read at 2 ms or more. A timerfd is a file the poller watches: its expiry
// is an I/O event, delivered at the expiry (tens of µs of wake-up latency),
// and the waiting goroutine blocks in the poller like any network read,
// with no thread held and no CPU spent until then.
type alarm struct {
	f   *os.File
	buf [8]byte // the expiry count a read returns; unused
}

// newAlarm returns an alarm, or nil where timerfd is unavailable (the
// caller then waits with a Go timer).
func newAlarm() *alarm {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	// Non-blocking, so os.NewFile registers it with the poller.
	return &alarm{f: os.NewFile(uintptr(fd), "x330-alarm")}
}

// set arms the alarm to ring after d (at least 1 ns: zero would disarm
// it), replacing any earlier setting and forgetting a ring not yet waited
// for. It reports false once the alarm is closed.
func (a *alarm) set(d time.Duration) bool {
	d = max(d, 1)
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	rc, err := a.f.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	// Control keeps the descriptor open during the call: a concurrent
	// close cannot make us arm a reused descriptor number.
	if err := rc.Control(func(fd uintptr) { serr = unix.TimerfdSettime(int(fd), 0, &spec, nil) }); err != nil {
		return false
	}
	return serr == nil
}

// wait blocks until the alarm rings or is closed.
func (a *alarm) wait() { _, _ = a.f.Read(a.buf[:]) }

// ring makes the alarm ring now, waking a wait.
func (a *alarm) ring() { a.set(1) }

func (a *alarm) close() { _ = a.f.Close() }
