//go:build unix && !linux

package logstream

import "syscall"

// childAttr puts journalctl in a process group of its own (so that it and
// anything it starts end together).
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
