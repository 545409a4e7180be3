package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The media figures are CPU-bound on a shared 2-core machine: another
// program running meanwhile (a test suite, a build) changes them. These
// helpers measure what the machine spent outside this program's process
// tree (this process, the daemon it started, their pipelines and helpers)
// so that each window can say so, and wait for a quiet machine first.

// machineBusy is the CPU time all cores spent not idle (/proc/stat).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i := 1; i < len(f) && i <= 8; i++ {
		if i == 4 || i == 5 || i == 8 { // idle, iowait, steal
			continue
		}
		v, _ := strconv.ParseInt(f[i], 10, 64)
		busy += v
	}
	return time.Duration(busy) * time.Second / clkTck
}

// ourTree lists this process and its descendants.
func ourTree() []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	tree := []int{os.Getpid()}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// loadWindow measures the CPU spent outside our process tree.
type loadWindow struct {
	at   time.Time
	busy time.Duration
	ours map[int]time.Duration
}

func startLoad() loadWindow {
	w := loadWindow{at: time.Now(), busy: machineBusy(), ours: map[int]time.Duration{}}
	for _, pid := range ourTree() {
		if t, err := cpuTime(pid); err == nil {
			w.ours[pid] = t
		}
	}
	return w
}

// others is the share of one core that processes outside our tree used
// since the window started (processes of ours that ended meanwhile count
// as others: keep the tree stable during a window).
func (w loadWindow) others() float64 {
	busy := machineBusy() - w.busy
	var ours time.Duration
	for _, pid := range ourTree() {
		if t0, ok := w.ours[pid]; ok {
			if t, err := cpuTime(pid); err == nil {
				ours += t - t0
			}
		}
	}
	return 100 * float64(busy-ours) / float64(time.Since(w.at))
}

// quietBelow is the most other processes may use (% of one core) for a
// window to start; a window in which they used more than disturbedAbove
// is measured again (at most maxAttempts times in all).
const (
	quietBelow     = 8
	disturbedAbove = 15
	maxAttempts    = 6
)

// undisturbed runs measure (which returns what other processes used
// meanwhile) until a window was not disturbed, or maxAttempts.
func undisturbed(measure func() float64) {
	for attempt := 1; ; attempt++ {
		waitQuiet()
		o := measure()
		if o <= disturbedAbove {
			return
		}
		if attempt == maxAttempts {
			fmt.Printf("    (still disturbed after %d attempts: other processes used %.0f%% of a core; kept)\n", attempt, o)
			return
		}
		fmt.Printf("    (disturbed: other processes used %.0f%% of a core; measuring again)\n", o)
	}
}

// waitQuiet waits (up to 15 minutes) until processes outside our tree use
// less than quietBelow % of one core over 2 s.
func waitQuiet() {
	deadline := time.Now().Add(15 * time.Minute)
	said := false
	for {
		w := startLoad()
		time.Sleep(2 * time.Second)
		o := w.others()
		if o < quietBelow {
			return
		}
		if time.Now().After(deadline) {
			fmt.Printf("    (the machine never became quiet: %.0f%% of a core used by other processes; measuring anyway)\n", o)
			return
		}
		if !said {
			fmt.Printf("    (waiting for a quiet machine: other processes use %.0f%% of a core)\n", o)
			said = true
		}
	}
}
