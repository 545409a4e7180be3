//go:build unix && !linux

package gst

import (
	"errors"
	"syscall"
	"time"
)

// Outside Linux there is no parent-death signal and no waitid(WNOWAIT):
// the child does not die with the daemon, and leftover group members are
// killed just after the leader is reaped (a tiny window in which the group
// id could be reused). Only Linux (the robot) is tested.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

const lockThread = false

// onMainThread is unused outside Linux (lockThread is false).
func onMainThread() bool { return false }

// backgroundForkingThread is unused outside Linux (lockThread is false).
func backgroundForkingThread(int, time.Duration) bool { return false }

// backgroundChild gives the child nice value n; slice requests are
// Linux's.
func backgroundChild(pid, n int, _ time.Duration) error {
	if n == 0 { // the daemon's, which the child has
		return nil
	}
	return syscall.Setpriority(syscall.PRIO_PROCESS, pid, n)
}

func waitExited(int) error { return errors.ErrUnsupported }

// waitGroupGone is a no-op here: without /proc the group's members cannot
// be listed cheaply.
func waitGroupGone(int, time.Duration) {}
