//go:build unix

package logstream

import "syscall"

// childAttr puts journalctl in a process group of its own (so that it and
// anything it starts end together); deathsig.Start adds the kernel's
// parent-death signal on Linux.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
