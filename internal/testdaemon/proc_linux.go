package testdaemon

import "syscall"

// sysProcAttr kills the daemon if the test binary dies without its
// cleanups (a panic in another goroutine, a kill -9).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
