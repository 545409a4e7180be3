package apps

import (
	"testing"

	"reachyd/actors/moves/motion"
	"reachyd/messages"
)

func TestAntennaTouchHysteresis(t *testing.T) {
	var d AntennaTouch
	steps := []struct {
		present [2]float64
		want    bool
	}{
		{[2]float64{-3.05, 3.05}, false}, // the first reading is the reference
		{[2]float64{-2.90, 3.05}, false}, // 0.15: not a touch
		{[2]float64{-2.80, 3.05}, true},  // 0.25: a touch
		{[2]float64{-2.50, 3.05}, false}, // disarmed: no second touch
		{[2]float64{-2.90, 3.05}, false}, // 0.15 > release: still disarmed
		{[2]float64{-2.96, 3.05}, false}, // 0.09: re-armed
		{[2]float64{-3.05, 3.35}, true},  // the other antenna
	}
	for i, s := range steps {
		if got := d.Update(s.present); got != s.want {
			t.Fatalf("step %d %v: %v, want %v", i, s.present, got, s.want)
		}
	}
}

func state(mode messages.MotorMode, present, target [2]float64) *messages.RobotState {
	return &messages.RobotState{Mode: mode, Antennas: present, HasTargetAntennas: true, TargetAntennas: target,
		HasTargetHeadPose: true, TargetHeadPose: motion.SleepHeadPose}
}

func TestWatchIgnoresCommandedMovesAndBlockedSlot(t *testing.T) {
	rest := [2]float64{-3.05, 3.05}
	pushed := [2]float64{-2.6, 3.05}
	in := func(free bool, st *messages.RobotState) WatchInput {
		return WatchInput{Ready: true, SlotFree: free, State: st}
	}
	var w Watch
	if touched, next := w.Step(WatchInput{}); touched || next != WatchBlockedPoll {
		t.Fatal("no backend: nothing to watch, slow polls")
	}
	w.Step(in(true, state(messages.ModeDisabled, rest, rest)))
	// The slot taken: a push starts nothing and the reference is dropped.
	if touched, next := w.Step(in(false, state(messages.ModeDisabled, pushed, rest))); touched || next != WatchBlockedPoll {
		t.Fatal("a push while an app runs counted")
	}
	// Free again: the pushed position is the new reference, no touch.
	if touched, _ := w.Step(in(true, state(messages.ModeDisabled, pushed, rest))); touched {
		t.Fatal("the position after a blocked period counted as a touch")
	}
	// A commanded move (the target moves) re-arms instead of firing, even
	// though present follows it far.
	w.Step(in(true, state(messages.ModeEnabled, pushed, [2]float64{-2.0, 3.05})))
	if touched, _ := w.Step(in(true, state(messages.ModeEnabled, [2]float64{-2.0, 3.05}, [2]float64{-2.0, 3.05}))); touched {
		t.Fatal("a commanded move counted as a touch")
	}
	// A hand: present moves, target stays.
	touched, next := w.Step(in(true, state(messages.ModeEnabled, [2]float64{-1.5, 3.05}, [2]float64{-2.0, 3.05})))
	if !touched || next != WatchBlockedPoll {
		t.Fatalf("a push was not seen: %v %v", touched, next)
	}
	// A touch that started nothing re-arms on the next reading.
	w.Missed()
	w.Step(in(true, state(messages.ModeEnabled, [2]float64{-1.5, 3.05}, [2]float64{-2.0, 3.05})))
	if touched, _ := w.Step(in(true, state(messages.ModeEnabled, [2]float64{-1.0, 3.05}, [2]float64{-2.0, 3.05}))); !touched {
		t.Fatal("the watcher did not re-arm after a missed touch")
	}
}

func TestAwakeAtInit(t *testing.T) {
	awake := &messages.RobotState{Mode: messages.ModeEnabled, HasTargetHeadPose: true, TargetHeadPose: motion.InitHeadPose,
		HasTargetAntennas: true, TargetAntennas: motion.InitAntennas}
	if !AwakeAtInit(awake) {
		t.Fatal("enabled at init is awake")
	}
	for name, change := range map[string]func(s *messages.RobotState){
		"disabled":       func(s *messages.RobotState) { s.Mode = messages.ModeDisabled },
		"head elsewhere": func(s *messages.RobotState) { s.TargetHeadPose = motion.SleepHeadPose },
		"antennas away":  func(s *messages.RobotState) { s.TargetAntennas[0] += 0.05 },
		"no targets":     func(s *messages.RobotState) { s.HasTargetAntennas = false },
	} {
		s := *awake
		change(&s)
		if AwakeAtInit(&s) {
			t.Errorf("%s: counted as awake", name)
		}
	}
}
