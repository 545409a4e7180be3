package logstream

import "syscall"

// childAttr puts journalctl in a process group of its own (so that it and
// anything it starts end together) that the kernel kills if reachyd dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
