//go:build linux

package gst

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// childAttr puts the child in a process group of its own (so Stop reaches
// whatever gst-launch-1.0 starts) and has the kernel SIGKILL it when the
// daemon dies. Pdeathsig is tied to the thread that forked the child, so
// the child is started from a goroutine locked to its thread until the
// child has exited (lockThread).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

const lockThread = true

// waitExited blocks until the leader has exited without reaping it: while
// it is an unreaped zombie its pid, which is also the group id, cannot be
// reused, so signalling the group afterwards can only reach its own
// processes.
func waitExited(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err
		}
	}
}
