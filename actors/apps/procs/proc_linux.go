package procs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sysProcAttr: a process group of its own, the parent-death signal, and,
// given a cgroup, born in it (clone3 CLONE_INTO_CGROUP), so not even a
// child forked at once escapes it.
func sysProcAttr(deathSig bool, cg *cgroup) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if deathSig {
		a.Pdeathsig = syscall.SIGKILL
	}
	if cg != nil && cg.fd >= 0 {
		a.UseCgroupFD, a.CgroupFD = true, cg.fd
	}
	return a
}

// dropRealtime takes away the app's right to real-time scheduling
// (RLIMIT_RTPRIO, which the daemon's unit grants for its control thread):
// an app at SCHED_FIFO could starve the control loop. The app has just
// been exec'd; whatever it starts from now on inherits the limit.
func dropRealtime(pid int) {
	_ = unix.Prlimit(pid, unix.RLIMIT_RTPRIO, &unix.Rlimit{}, nil)
}

// reap waits for the leader to exit without reaping it, ends the rest of
// the app (its group and every other process of it), then reaps it. While
// the leader is an unreaped zombie its pid, hence the group id, cannot be
// reused, so SIGKILL to the group can only reach the app's own processes.
func (p *Process) reap() error {
	var err error
	for {
		var info unix.Siginfo
		err = unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	// The leader is a zombie: Pdeathsig no longer matters, the thread
	// can go back to the pool.
	runtime.UnlockOSThread()
	if err == nil {
		// Otherwise (ECHILD: reaped behind our back, e.g. SIGCHLD
		// ignored) the group id is no longer pinned: do not signal it.
		p.endTree(true)
	} else {
		p.endTree(false)
	}
	p.mu.Lock()
	p.reaped = true
	p.mu.Unlock()
	return p.cmd.Wait()
}

// graceUntil is the deadline group members get after the leader exited:
// Stop's deadline, or none (kill now) on a natural exit or after Kill.
func (p *Process) graceUntil() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed || p.stopDeadline.IsZero() {
		return time.Time{}, false
	}
	return p.stopDeadline, true
}

// endTree ends the processes of the app left after the leader exited:
// after a Stop they get what is left of its grace, otherwise (natural exit,
// Kill) they are SIGKILLed at once. group says whether the group id is
// still pinned (then the whole group is signalled too).
func (p *Process) endTree(group bool) {
	left := func(full bool) bool { return len(liveOnly(p.members(full))) > 0 }
	if !left(true) {
		return
	}
	if dl, ok := p.graceUntil(); ok {
		for time.Now().Before(dl) {
			time.Sleep(20 * time.Millisecond)
			if !left(false) {
				return
			}
			if _, ok := p.graceUntil(); !ok {
				break
			}
		}
	}
	end := time.Now().Add(killWait)
	for full := true; ; full = false {
		if group {
			unix.Kill(-p.pid, unix.SIGKILL)
		}
		p.killMembers(p.members(full))
		time.Sleep(2 * time.Millisecond)
		if !left(false) || time.Now().After(end) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// procStat is what reachyd needs from /proc/<pid>/stat.
type procStat struct {
	pid, ppid, pgrp, session int
	state                    byte
	startTicks               uint64 // field 22: start time in clock ticks since boot
}

func (s procStat) dead() bool { return s.state == 'Z' || s.state == 'X' || s.state == 'x' }

func parseStat(b []byte) (procStat, error) {
	var s procStat
	lp := bytes.IndexByte(b, '(')
	rp := bytes.LastIndexByte(b, ')') // comm may hold spaces and parentheses
	if lp < 0 || rp < lp || rp+2 > len(b) {
		return s, errors.New("procs: bad stat")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:lp])))
	if err != nil {
		return s, err
	}
	f := strings.Fields(string(b[rp+1:])) // f[0] is field 3 (state)
	if len(f) < 20 || len(f[0]) == 0 {
		return s, errors.New("procs: short stat")
	}
	s.pid = pid
	s.state = f[0][0]
	nums := []*int{&s.ppid, &s.pgrp, &s.session}
	for i, p := range nums {
		if *p, err = strconv.Atoi(f[1+i]); err != nil {
			return s, err
		}
	}
	if s.startTicks, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return s, err
	}
	return s, nil
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// eachPid calls fn for every pid in /proc.
func eachPid(fn func(pid int)) error {
	d, err := os.Open("/proc")
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(256)
		for _, n := range names {
			if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
				fn(pid)
			}
		}
		if err != nil {
			return nil
		}
	}
}

// groupMembers lists the live (not zombie) processes of group pgid other
// than except, started at or after minTicks.
func groupMembers(pgid, except int, minTicks uint64) []procStat {
	var out []procStat
	eachPid(func(pid int) {
		if pid == except {
			return
		}
		s, err := readStat(pid)
		if err == nil && s.pgrp == pgid && !s.dead() && s.startTicks >= minTicks {
			out = append(out, s)
		}
	})
	return out
}

type procIdent struct {
	startTicks uint64
	session    int
	bootID     string
}

func readIdent(pid int) procIdent {
	var id procIdent
	if s, err := readStat(pid); err == nil {
		id.startTicks, id.session = s.startTicks, s.session
	}
	id.bootID, _ = bootID()
	return id
}

func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b)), err
}

// signalIf sends sig to pid if check, run after the pid is pinned by a
// pidfd (Linux 5.3+), still holds: the signal goes to the pidfd's process,
// so a pid reused after the check is never hit. Without pidfd support the
// check and kill(2) leave a tiny reuse window. Returns whether it was sent.
func signalIf(pid int, sig unix.Signal, check func() bool) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err == unix.ESRCH {
			return false
		}
		return check() && unix.Kill(pid, sig) == nil
	}
	defer unix.Close(fd)
	if !check() {
		return false
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0) == nil
}

// signalExact signals pid only if it is the live process that started at
// ticks.
func signalExact(pid int, ticks uint64, sig unix.Signal) bool {
	return signalIf(pid, sig, func() bool {
		s, err := readStat(pid)
		return err == nil && s.startTicks == ticks && !s.dead()
	})
}

// killPipeHolders SIGKILLs the processes (other than reachyd) that still
// hold one of the app's output pipes after its group is gone: descendants
// that left the group (setsid) but kept the app's stdout or stderr. Only
// the app's tree can hold them (reachyd's ends are close-on-exec).
func killPipeHolders(inos []uint64) int {
	if len(inos) == 0 {
		return 0
	}
	want := map[string]bool{}
	for _, ino := range inos {
		want[fmt.Sprintf("pipe:[%d]", ino)] = true
	}
	holds := func(pid int) bool {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		d, err := os.Open(dir)
		if err != nil {
			return false
		}
		defer d.Close()
		names, _ := d.Readdirnames(-1)
		for _, n := range names {
			if l, err := os.Readlink(dir + "/" + n); err == nil && want[l] {
				return true
			}
		}
		return false
	}
	self := os.Getpid()
	n := 0
	eachPid(func(pid int) {
		if pid == self || !holds(pid) {
			return
		}
		if signalIf(pid, unix.SIGKILL, func() bool { return holds(pid) }) {
			n++
		}
	})
	return n
}
