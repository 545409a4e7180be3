package main

import (
	"fmt"
	"time"

	"reachyd/internal/cpuload"
)

// The media figures are CPU-bound on a shared 2-core machine: another
// program running meanwhile (a test suite, a build) changes them. Each
// window measures what the machine spent outside this program's process
// tree (this process, the daemon it started, their pipelines and helpers;
// internal/cpuload), waits for a quiet machine first, and is measured again
// when it was disturbed.

// loadWindow measures the CPU spent outside our process tree.
type loadWindow = cpuload.Window

func startLoad() loadWindow { return cpuload.Start() }

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
		o := w.Others()
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
