//go:build linux

package hrtimer

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Alarm is a one-shot high-resolution timer. One goroutine waits on it;
// any goroutine may set, ring or close it.
type Alarm struct {
	f   *os.File
	buf [8]byte // the expiry count a read returns; unused
}

// New returns an alarm, or nil where timerfd is unavailable.
func New(name string) *Alarm {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	// Non-blocking, so os.NewFile registers it with the poller.
	return &Alarm{f: os.NewFile(uintptr(fd), name)}
}

// Set arms the alarm to ring after d (at least 1 ns: zero would disarm
// it), replacing any earlier setting and forgetting a ring not yet waited
// for (timerfd_settime clears the expiry count). It reports false once the
// alarm is closed.
func (a *Alarm) Set(d time.Duration) bool {
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

// Wait blocks until the alarm rings (true) or is closed (false).
func (a *Alarm) Wait() bool {
	_, err := a.f.Read(a.buf[:])
	return err == nil
}

// Ring makes the alarm ring now, waking a Wait.
func (a *Alarm) Ring() { a.Set(1) }

// Close closes the alarm; a Wait on it returns false.
func (a *Alarm) Close() { _ = a.f.Close() }
