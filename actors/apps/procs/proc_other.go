//go:build unix && !linux

package procs

import (
	"errors"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Outside Linux there is no Pdeathsig, no waitid(WNOWAIT), no /proc, no
// cgroups and no subreaper: the app does not die with reachyd, leftover
// group members get one SIGKILL right after the leader is reaped (a tiny
// window where the group id could be reused), processes that left the
// group are not found, and EndOrphans is unsupported.

// dropRealtime: RLIMIT_RTPRIO is Linux's.
func dropRealtime(int) {}

func sysProcAttr(bool, *cgroup) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func (p *Process) reap() error {
	runtime.UnlockOSThread()
	err := p.cmd.Wait()
	p.mu.Lock()
	p.reaped = true
	unix.Kill(-p.pid, unix.SIGKILL)
	p.mu.Unlock()
	return err
}

type procIdent struct {
	startTicks uint64
	session    int
	bootID     string
}

func readIdent(int) procIdent { return procIdent{} }

func bootID() (string, error) { return "", errors.ErrUnsupported }

func killPipeHolders([]uint64) int { return 0 }

func (p *Process) killTree()                    {}
func (p *Process) signalEscaped(syscall.Signal) {}
func (p *Process) members(bool) []struct{}      { return nil }

// EndOrphans needs /proc; unsupported here.
func EndOrphans(r Record, grace time.Duration) (int, error) {
	return 0, errors.ErrUnsupported
}

// Cgroups are Linux's; see cgroup_linux.go.
type Cgroups struct{ Dir string }

type cgroup struct{ dir string }

func (c *Cgroups) create() (*cgroup, error) { return nil, errors.ErrUnsupported }
func (c *cgroup) move(int) error            { return errors.ErrUnsupported }
func (c *cgroup) remove()                   {}

// DetectCgroups: no cgroups outside Linux.
func DetectCgroups() (*Cgroups, error) { return nil, errors.ErrUnsupported }

// EnableSubreaper: no subreaper outside Linux.
func EnableSubreaper() (bool, error) { return false, errors.ErrUnsupported }
