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

// niceForkingThread gives the calling thread nice value n, so that the
// child it forks next has it from its first instruction (on Linux a nice
// value belongs to a thread, and a child inherits its forking thread's).
// The caller is locked to its thread and must never unlock it: the
// runtime then ends the thread with the goroutine. The main thread is
// never ended that way, so there it declines (false) and the caller
// renices the child after the fork instead.
func niceForkingThread(n int) bool {
	if unix.Gettid() == unix.Getpid() {
		return false
	}
	return unix.Setpriority(unix.PRIO_PROCESS, 0, n) == nil
}

// reniceChild gives a just-started child nice value n: its main thread
// first (threads it creates from then on inherit it), then any thread it
// had already started.
func reniceChild(pid, n int) error {
	if err := unix.Setpriority(unix.PRIO_PROCESS, pid, n); err != nil {
		return err
	}
	tasks, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil && tid != pid {
			_ = unix.Setpriority(unix.PRIO_PROCESS, tid, n)
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
