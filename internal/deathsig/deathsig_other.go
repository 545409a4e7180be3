//go:build !linux

package deathsig

import (
	"os/exec"
	"syscall"
)

// Start starts cmd. Only Linux has a parent-death signal: elsewhere sig is
// ignored and the child may outlive the daemon.
func Start(cmd *exec.Cmd, sig syscall.Signal) error {
	return cmd.Start()
}
