//go:build linux

package gst

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// onMainThread reports whether the caller runs on the process's main
// thread.
func onMainThread() bool { return unix.Gettid() == unix.Getpid() }

// backgroundForkingThread gives the calling thread nice value n and
// scheduler slice request slice (0: the default), so that the child it
// forks next has them from its first instruction (on Linux both belong to
// a thread, and a child inherits its forking thread's). The caller is
// locked to its thread and must never unlock it: the runtime then ends the
// thread with the goroutine. The main thread is never ended that way, so
// there it declines (false) and the caller sets the child after the fork
// instead.
func backgroundForkingThread(n int, slice time.Duration) bool {
	if onMainThread() {
		return false
	}
	return setThread(0, n, slice) == nil
}

// setThread sets thread tid's (0: the caller's) nice value and slice
// request. sched_setattr sets both at once for the normal policy; where
// it is missing, or refuses (a kernel before 6.12 knows no slice
// requests, and may refuse a runtime for the normal policy), the nice
// value alone is set.
func setThread(tid, n int, slice time.Duration) error {
	if n == 0 {
		// 0 is the daemon's own value (the raw getpriority is 20 - nice).
		if p, err := unix.Getpriority(unix.PRIO_PROCESS, 0); err == nil {
			n = 20 - p
		}
	}
	if slice > 0 {
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL, Nice: int32(n), Runtime: uint64(slice)}
		if unix.SchedSetAttr(tid, &attr, 0) == nil {
			return nil
		}
	}
	return unix.Setpriority(unix.PRIO_PROCESS, tid, n)
}

// backgroundChild gives a just-started child nice value n and slice
// request slice: its main thread first (threads it creates from then on
// inherit them), then any thread it had already started.
func backgroundChild(pid, n int, slice time.Duration) error {
	if err := setThread(pid, n, slice); err != nil {
		return err
	}
	tasks, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil && tid != pid {
			_ = setThread(tid, n, slice)
		}
	}
	return nil
}

// childAttr puts the child in a process group of its own (so Stop reaches
// whatever gst-launch-1.0 starts) and has the kernel SIGKILL it when the
// daemon dies. Pdeathsig is tied to the thread that forked the child, so
// the child is started from a goroutine locked to its thread until the
// child has exited (lockThread).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

const lockThread = true

// waitExited blocks until the leader has exited without reaping it: while
// it is an unreaped zombie its pid, which is also the group id, cannot be
// reused, so signalling the group afterwards can only reach its own
// processes.
func waitExited(pid int) error {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

// waitGroupGone waits (at most timeout) until no living process is left in
// process group pgid: a SIGKILL is delivered asynchronously, and a caller
// of Stop may look for the group's processes at once. Zombies (exited,
// not yet reaped by their new parent) do not count.
func waitGroupGone(pgid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

func groupAlive(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		rp := bytes.LastIndexByte(b, ')')
		if rp < 0 {
			continue
		}
		f := bytes.Fields(b[rp+1:])
		// f[0] state, f[1] ppid, f[2] pgrp
		if len(f) < 3 || string(f[2]) != strconv.Itoa(pgid) {
			continue
		}
		if s := f[0]; len(s) == 1 && (s[0] == 'Z' || s[0] == 'X' || s[0] == 'x') {
			continue
		}
		return true
	}
	return false
}
