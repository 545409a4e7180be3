package apps

import (
	"math"
	"time"

	"reachyd/actors/moves/motion"
	"reachyd/messages"
)

// The startup app's antenna watcher (the reference's startup_app.py,
// daemon-api 5.3): while no app occupies the robot, a hand that pushes an
// antenna away from where it rests starts the startup app, waking the
// robot first if it sleeps. This file is its pure core: the touch detector
// with hysteresis and the per-poll rules; startup.go polls and acts.

// The reference's thresholds and poll periods.
const (
	// TouchPress is the deviation from the resting position (rad) that
	// counts as a touch.
	TouchPress = 0.25
	// TouchRelease re-arms the detector once both antennas are back within
	// it.
	TouchRelease = 0.10
	// TargetMotionEps: a commanded antenna target that moved more than this
	// between two polls is a move the robot makes (the sleep swing), not a
	// hand.
	TargetMotionEps = 0.02
	// WatchIdlePoll and WatchBlockedPoll are the poll periods while
	// watching and while the slot is taken (or just after a touch).
	WatchIdlePoll    = 100 * time.Millisecond
	WatchBlockedPoll = 500 * time.Millisecond
)

// AntennaTouch detects a push on either antenna relative to the position
// they had when it (re)armed.
type AntennaTouch struct {
	ref     [2]float64
	haveRef bool
	armed   bool
}

// Reset forgets the resting position: the next reading becomes it.
func (d *AntennaTouch) Reset() { *d = AntennaTouch{} }

// Update takes a reading of the present antenna positions and reports a
// touch once per push: the first reading sets the reference; a deviation of
// TouchPress or more fires and disarms until both are back within
// TouchRelease.
func (d *AntennaTouch) Update(present [2]float64) bool {
	if !d.haveRef {
		d.ref, d.haveRef, d.armed = present, true, true
		return false
	}
	delta := math.Max(math.Abs(present[0]-d.ref[0]), math.Abs(present[1]-d.ref[1]))
	if !d.armed {
		if delta <= TouchRelease {
			d.armed = true
		}
		return false
	}
	if delta >= TouchPress {
		d.armed = false
		return true
	}
	return false
}

// WatchInput is one poll's view of the robot.
type WatchInput struct {
	// Ready: the robot backend runs (the hub has a state).
	Ready bool
	// SlotFree: no app occupies the manager and the robot app lock is
	// free.
	SlotFree bool
	// State is the latest tick (when Ready).
	State *messages.RobotState
}

// Watch is the watcher's state between polls.
type Watch struct {
	touch      AntennaTouch
	prevTarget [2]float64
	havePrev   bool
}

// Step runs one poll: it reports whether the antennas were touched (the
// caller then wakes the robot and starts the app, and calls Missed if it
// did not) and when to poll next.
func (w *Watch) Step(in WatchInput) (touched bool, next time.Duration) {
	if !in.Ready || in.State == nil {
		w.touch.Reset()
		w.havePrev = false
		return false, WatchBlockedPoll
	}
	if !in.SlotFree {
		w.touch.Reset()
		return false, WatchBlockedPoll
	}
	st := in.State
	if st.HasTargetAntennas {
		moved := w.havePrev && math.Max(math.Abs(st.TargetAntennas[0]-w.prevTarget[0]),
			math.Abs(st.TargetAntennas[1]-w.prevTarget[1])) > TargetMotionEps
		w.prevTarget, w.havePrev = st.TargetAntennas, true
		if moved {
			w.touch.Reset()
			return false, WatchIdlePoll
		}
	} else {
		w.havePrev = false
	}
	if w.touch.Update(st.Antennas) {
		return true, WatchBlockedPoll
	}
	return false, WatchIdlePoll
}

// Armed reports whether a touch would be seen now: the resting position
// is taken and the detector armed.
func (w *Watch) Armed() bool { return w.touch.haveRef && w.touch.armed }

// Missed re-arms the detector after a touch that started nothing.
func (w *Watch) Missed() { w.touch.Reset() }

// initTargetTol is the reference's INIT_TARGET_ATOL.
const initTargetTol = 1e-2

// AwakeAtInit is the reference's is_awake_at_init_pose, read from a tick:
// motors enabled and the commanded targets at the init pose (the targets,
// not the measured pose: a head sagging under its weight while held at init
// is awake).
func AwakeAtInit(st *messages.RobotState) bool {
	if st == nil || st.Mode != messages.ModeEnabled || !st.HasTargetHeadPose || !st.HasTargetAntennas {
		return false
	}
	if st.TargetHeadPose.MaxAbsDiff(motion.InitHeadPose) > initTargetTol {
		return false
	}
	return math.Abs(st.TargetAntennas[0]-motion.InitAntennas[0]) <= initTargetTol &&
		math.Abs(st.TargetAntennas[1]-motion.InitAntennas[1]) <= initTargetTol
}
