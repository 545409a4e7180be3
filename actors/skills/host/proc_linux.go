package host

import (
	"syscall"

	"golang.org/x/sys/unix"
)

type signal = syscall.Signal

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// sysProcAttr puts the host in a group of its own (so Stop reaches the
// processes skills start); Start has the kernel SIGKILL it if reachyd
// dies without stopping it (deathsig).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// waitExited waits for the leader to exit without reaping it, so its pid,
// hence the group id, stays pinned while the rest of the group is killed.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// killGroupLocked SIGKILLs what is left of the group after the leader
// exited. The caller holds the lock that orders it with signalGroup.
func killGroupLocked(pid int, reaped bool) {
	if !reaped {
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func signalGroup(pid int, sig signal) { syscall.Kill(-pid, sig) }
