package deathsig

import (
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Start starts cmd with the parent-death signal sig. It returns when the
// child has started (or failed to); the child is reaped by cmd.Wait as
// usual. One OS thread stays reserved until the child has exited.
func Start(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = sig
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		pid := cmd.Process.Pid
		started <- nil
		waitExited(pid)
		runtime.UnlockOSThread()
	}()
	return <-started
}

// waitExited blocks until the child has exited, without reaping it (that
// is cmd.Wait's). It also returns when cmd.Wait reaped it first (ECHILD).
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != unix.EINTR {
			return
		}
	}
}
