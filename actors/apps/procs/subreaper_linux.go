package procs

import (
	"bufio"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// subreaper is set once this process is a child subreaper.
var subreaper atomic.Bool

var reaperOnce sync.Once

// EnableSubreaper makes reachyd the child subreaper of its descendants
// (prctl PR_SET_CHILD_SUBREAPER): a process whose parent dies is
// reparented to reachyd instead of init, so an app's process that left its
// group and lost its parent (a daemon started with setsid) is still found
// and ended with the app. reachyd then reaps such adopted processes when
// they die: Go reaps only the children it started. It returns whether
// reachyd also reaps adopted processes that belong to no app (see
// reapStrays); if not, those stay zombies until reachyd exits.
func EnableSubreaper() (reapsStrays bool, err error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return false, err
	}
	subreaper.Store(true)
	reapsStrays = pidfdsHeld()
	reaperOnce.Do(func() {
		if !reapsStrays {
			return
		}
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGCHLD)
		go func() {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ch:
				case <-t.C:
				}
				reapStrays()
			}
		}()
	})
	return reapsStrays, nil
}

// pidfdsHeld reports whether this Go runtime holds a pidfd for every child
// it starts and waits for (Go 1.23+ does, on kernels where pidfd_open,
// pidfd_send_signal and waitid(P_PIDFD) work: the test below is the
// runtime's own). Then a zombie child with no pidfd here is one Go never
// waits for: an adopted orphan.
func pidfdsHeld() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, nil); err != unix.ECHILD {
		return false
	}
	return unix.PidfdSendSignal(fd, 0, nil, 0) == nil
}

// reapStrays reaps the zombie children of reachyd that no Go code will
// wait for: those for which no pidfd is open here.
func reapStrays() {
	self := os.Getpid()
	var zombies []procStat
	eachPid(func(pid int) {
		if s, err := readStat(pid); err == nil && s.ppid == self && s.dead() {
			zombies = append(zombies, s)
		}
	})
	if len(zombies) == 0 {
		return
	}
	held := heldPidfds()
	for _, z := range zombies {
		if !held[z.pid] {
			reapExact(z.pid, z.startTicks)
		}
	}
}

// heldPidfds lists the pids this process holds a pidfd for.
func heldPidfds() map[int]bool {
	held := map[int]bool{}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return held
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if l, err := os.Readlink("/proc/self/fd/" + n); err != nil || l != "anon_inode:[pidfd]" {
			continue
		}
		f, err := os.Open("/proc/self/fdinfo/" + n)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Pid:"); ok {
				if pid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					held[pid] = true
				}
			}
		}
		f.Close()
	}
	return held
}
