// Package cpuload reads CPU time from Linux's /proc for the benchmarks: a
// process's user + system time, and how much of the machine other programs
// used during a measuring window. The media figures are CPU-bound and are
// taken on a shared 2-core machine, where another program running
// meanwhile (a test suite, a build) changes them; a window says so.
//
// Precision: per-process times and the machine's /proc/stat are accounted
// differently by the kernel (precise per task, sampled per tick), and the
// media processes run on 10-33 ms timers that alias with the 10 ms tick, so
// Others is good to about +-20 % of a core over 20 s: enough to tell a quiet
// machine from one running a test suite (50-200 %), not more.
package cpuload

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClkTck is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture reachyd runs on (getconf CLK_TCK).
const ClkTck = 100

// stat returns the fields of /proc/<pid>/stat after the command name
// (which may hold spaces): index 0 is field 3 (state).
func stat(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// CPUTime is the user + system CPU time process pid has used (all its
// threads; not its children).
func CPUTime(pid int) (time.Duration, error) {
	f, err := stat(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * time.Second / ClkTck, nil
}

// MachineBusy is the CPU time all cores spent neither idle nor waiting
// for I/O nor stolen by the hypervisor (/proc/stat).
func MachineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i := 1; i < len(f) && i <= 8; i++ {
		if i == 4 || i == 5 || i == 8 {
			continue
		}
		v, _ := strconv.ParseInt(f[i], 10, 64)
		busy += v
	}
	return time.Duration(busy) * time.Second / ClkTck
}

// Tree lists this process and its descendants.
func Tree() []int { return TreeOf(os.Getpid()) }

// TreeOf lists process root and its descendants (root first).
func TreeOf(root int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := stat(pid)
		if err != nil || len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// Window measures the CPU that processes outside this process's tree
// (this process and its descendants) use from Start on.
type Window struct {
	at   time.Time
	busy time.Duration
	ours map[int]time.Duration
}

// Start opens a window now.
func Start() Window {
	w := Window{at: time.Now(), busy: MachineBusy(), ours: map[int]time.Duration{}}
	for _, pid := range Tree() {
		if t, err := CPUTime(pid); err == nil {
			w.ours[pid] = t
		}
	}
	return w
}

// Others is the share of one core (%) that processes outside the tree used
// since Start. A process that joined the tree during the window (a child
// started meanwhile) counts as ours for all its CPU time; one of the tree
// that ended during the window counts as another's for its last share:
// keep short-lived children out of measuring windows.
func (w Window) Others() float64 {
	busy := MachineBusy() - w.busy
	return 100 * float64(busy-w.oursSince()) / float64(time.Since(w.at))
}

// oursSince is the CPU time the tree used since Start.
func (w Window) oursSince() time.Duration {
	var ours time.Duration
	for _, pid := range Tree() {
		if t, err := CPUTime(pid); err == nil {
			ours += t - w.ours[pid] // 0 for a process started since
		}
	}
	return ours
}
