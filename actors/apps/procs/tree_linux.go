package procs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func keyOf(s procStat) procKey { return procKey{s.pid, s.startTicks} }

// procTable is one reading of /proc.
type procTable map[int]procStat

func readTable() procTable {
	t := procTable{}
	eachPid(func(pid int) {
		if s, err := readStat(pid); err == nil {
			t[pid] = s
		}
	})
	return t
}

// liveOnly drops the zombies.
func liveOnly(ss []procStat) []procStat {
	var out []procStat
	for _, s := range ss {
		if !s.dead() {
			out = append(out, s)
		}
	}
	return out
}

// finder tells an app's processes in a table: whatever descends from its
// roots, which are the leader, the processes already known, the members of
// its group (while the group id is pinned), of its cgroup, and those that
// carry its token.
type finder struct {
	self    int     // reachyd: never one of them
	leader  procKey // zero: none
	pgid    int     // group rule: pgrp == pgid, same session, started no earlier than minTicks
	session int
	minTick uint64
	known   map[procKey]bool
	token   string
	cgroup  string // the app's cgroup folder, "" for none
}

// find returns the app's processes, zombies included. envOf says whose
// environment is read for the token (reading every process's is kept for
// the last look, it costs a read per process).
func (f *finder) find(t procTable, envOf func(procStat) bool) []procStat {
	roots := map[int]bool{}
	add := func(pid int) {
		if pid != f.self && pid > 1 {
			roots[pid] = true
		}
	}
	if s, ok := t[f.leader.pid]; ok && f.leader.pid > 0 && s.startTicks == f.leader.ticks {
		add(s.pid)
	}
	for k := range f.known {
		if s, ok := t[k.pid]; ok && s.startTicks == k.ticks {
			add(s.pid)
		}
	}
	if f.pgid > 0 {
		for pid, s := range t {
			if s.pgrp == f.pgid && (f.session == 0 || s.session == f.session) && s.startTicks >= f.minTick {
				add(pid)
			}
		}
	}
	if f.cgroup != "" {
		for _, pid := range cgroupProcs(f.cgroup) {
			if _, ok := t[pid]; ok {
				add(pid)
			}
		}
	}
	if f.token != "" && envOf != nil {
		want := []byte("\x00" + TokenEnv + "=" + f.token + "\x00")
		for pid, s := range t {
			if !roots[pid] && !s.dead() && envOf(s) && hasEnv(pid, want) {
				add(pid)
			}
		}
	}
	kids := map[int][]int{}
	for pid, s := range t {
		kids[s.ppid] = append(kids[s.ppid], pid)
	}
	queue := make([]int, 0, len(roots))
	for pid := range roots {
		queue = append(queue, pid)
	}
	for len(queue) > 0 {
		pid := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, c := range kids[pid] {
			if !roots[c] && c != f.self {
				roots[c] = true
				queue = append(queue, c)
			}
		}
	}
	out := make([]procStat, 0, len(roots))
	for pid := range roots {
		out = append(out, t[pid])
	}
	return out
}

// hasEnv reports whether the environment pid started with holds want
// ("\x00K=V\x00").
func hasEnv(pid int, want []byte) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil || len(b) == 0 {
		return false
	}
	b = append([]byte{0}, b...)
	if b[len(b)-1] != 0 {
		b = append(b, 0)
	}
	return bytes.Contains(b, want)
}

// members lists the app's processes other than the leader, zombies
// included, and remembers the live ones. full reads every process's
// environment for the token; otherwise only those reparented to reachyd
// (or to init, without a subreaper), where the orphans of the app go.
func (p *Process) members(full bool) []procStat {
	self := os.Getpid()
	envOf := func(s procStat) bool { return s.ppid == self || (!subreaper.Load() && s.ppid == 1) }
	if full {
		envOf = func(procStat) bool { return true }
	}
	p.mu.Lock()
	pinned := !p.reaped
	p.mu.Unlock()
	p.trackMu.Lock()
	f := finder{self: self, leader: procKey{p.pid, p.ident.startTicks}, token: p.token, known: p.known}
	if pinned {
		f.pgid, f.session, f.minTick = p.pid, p.ident.session, p.ident.startTicks
	}
	if p.cg != nil {
		f.cgroup = p.cg.dir
	}
	t := readTable()
	all := f.find(t, envOf)
	out := all[:0]
	for _, s := range all {
		if s.pid != p.pid {
			out = append(out, s)
		}
	}
	for k := range p.known {
		if s, ok := t[k.pid]; !ok || s.startTicks != k.ticks || s.dead() {
			delete(p.known, k)
		}
	}
	for _, s := range out {
		if !s.dead() {
			p.known[keyOf(s)] = true
		}
	}
	p.trackMu.Unlock()
	p.reapZombies(out)
	return out
}

// reapZombies reaps the app's dead processes that were reparented to
// reachyd (it is their subreaper): nobody else waits for them.
func (p *Process) reapZombies(ss []procStat) {
	self := os.Getpid()
	for _, s := range ss {
		if s.dead() && s.ppid == self && s.pid != p.pid {
			reapExact(s.pid, s.startTicks)
		}
	}
}

// reapExact reaps the zombie child pid if it still is the process that
// started at ticks, through a pidfd when the kernel has them.
func reapExact(pid int, ticks uint64) {
	same := func() bool {
		s, err := readStat(pid)
		return err == nil && s.startTicks == ticks && s.dead() && s.ppid == os.Getpid()
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if err == unix.ESRCH || !same() {
			return
		}
		var info unix.Siginfo
		_ = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG, nil)
		return
	}
	defer unix.Close(fd)
	if same() {
		var info unix.Siginfo
		_ = unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, nil)
	}
}

// killMembers SIGKILLs the given processes of the app (each checked
// through a pidfd) and its whole cgroup.
func (p *Process) killMembers(ss []procStat) {
	if p.cg != nil {
		p.cg.kill()
	}
	for _, s := range liveOnly(ss) {
		signalExact(s.pid, s.startTicks, unix.SIGKILL)
	}
}

// killTree SIGKILLs every process of the app but the leader.
func (p *Process) killTree() { p.killMembers(p.members(true)) }

// signalEscaped signals the app's processes that left its group.
func (p *Process) signalEscaped(sig unix.Signal) {
	for _, s := range liveOnly(p.members(true)) {
		if s.pgrp != p.pid {
			signalExact(s.pid, s.startTicks, sig)
		}
	}
}

// EndOrphans ends what is left of an app recorded by a previous reachyd
// that died without stopping it: the recorded leader if it is the same
// process (same boot, same start ticks), the rest of its group, the
// recorded members, the processes in its cgroup and those carrying its
// token, and whatever descends from them. If the leader is alive they get
// SIGINT, up to grace, then SIGKILL; otherwise SIGKILL at once. Each is
// signalled through a pidfd after its identity is checked. Nothing is
// killed when the record is from another boot. Group members are looked
// for only while the group id cannot belong to another group: with the
// leader alive, or gone (a pid cannot be reused while a group of that id
// has members), not when its pid now names another process. Returns how
// many processes ended.
func EndOrphans(r Record, grace time.Duration) (int, error) {
	self := os.Getpid()
	if r.Pid != 0 {
		if r.Pid <= 1 || r.Pgid != r.Pid {
			return 0, fmt.Errorf("procs: bad record (pid %d, pgid %d)", r.Pid, r.Pgid)
		}
		if r.StartTicks == 0 {
			return 0, errors.New("procs: record has no start ticks")
		}
		if r.Pid == self || r.Pgid == unix.Getpgrp() {
			return 0, errors.New("procs: record names reachyd's own process group")
		}
	} else if r.Token == "" && r.Cgroup == "" {
		return 0, errors.New("procs: record names no process")
	}
	if r.BootID != "" {
		if b, err := bootID(); err == nil && b != r.BootID {
			return 0, nil // another boot: everything it described is gone
		}
	}
	f := finder{self: self, token: r.Token, known: map[procKey]bool{}}
	for _, m := range r.Members {
		if m.Pid > 1 && m.Pid != self && m.StartTicks > 0 {
			f.known[procKey{m.Pid, m.StartTicks}] = true
		}
	}
	if r.Cgroup != "" && appCgroupDir(r.Cgroup) {
		f.cgroup = r.Cgroup
	}
	leaderAlive := false
	if r.Pid != 0 {
		s, err := readStat(r.Pid)
		switch {
		case err != nil: // the leader is gone; its group may not be
			f.pgid, f.session, f.minTick = r.Pgid, r.Session, r.StartTicks
		case s.startTicks == r.StartTicks && s.pgrp == r.Pgid:
			f.leader = procKey{r.Pid, r.StartTicks}
			f.pgid, f.session, f.minTick = r.Pgid, r.Session, r.StartTicks
			leaderAlive = !s.dead()
		}
	}
	// One full look for the token, then the processes found are known.
	first := true
	match := func() []procStat {
		var envOf func(procStat) bool
		if first {
			envOf = func(procStat) bool { return true }
			first = false
		}
		ms := liveOnly(f.find(readTable(), envOf))
		for _, s := range ms {
			f.known[keyOf(s)] = true
		}
		return ms
	}
	hit := map[procKey]bool{}
	signal := func(sig unix.Signal) int {
		ms := match()
		for _, s := range ms {
			if signalExact(s.pid, s.startTicks, sig) {
				hit[keyOf(s)] = true
			}
		}
		if sig == unix.SIGKILL && f.cgroup != "" {
			(&cgroup{dir: f.cgroup, fd: -1}).kill()
		}
		return len(ms)
	}
	waitGone := func(d time.Duration) {
		end := time.Now().Add(d)
		for len(match()) > 0 && time.Now().Before(end) {
			time.Sleep(10 * time.Millisecond)
		}
	}

	if leaderAlive {
		signal(unix.SIGINT)
		waitGone(grace)
	}
	if signal(unix.SIGKILL) > 0 {
		waitGone(killWait)
	}
	if f.cgroup != "" {
		(&cgroup{dir: f.cgroup, fd: -1}).remove()
	}
	ended := 0
	for k := range hit {
		if s, err := readStat(k.pid); err != nil || s.startTicks != k.ticks || s.dead() {
			ended++
		}
	}
	if n := len(hit) - ended; n > 0 {
		return ended, fmt.Errorf("procs: %d processes of app %q survived SIGKILL", n, r.Name)
	}
	return ended, nil
}
