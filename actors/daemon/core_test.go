package daemon

import (
	"fmt"
	"strings"
	"testing"

	"reachyd/messages"
)

func newCore() *Core {
	n := 0
	return NewCore(func() string { n++; return fmt.Sprintf("m%d", n) })
}

func TestStartWithoutWakeUp(t *testing.T) {
	c := newCore()
	if c.State() != messages.StateNotInitialized || c.Started() {
		t.Fatal("initial state")
	}
	fx := c.Submit(Op{Kind: OpStart, Job: "j"})
	if !fx.SpawnRobot || c.State() != messages.StateStarting || !c.Busy() || fx.Timer == nil || fx.Timer.Kind != TimerReady {
		t.Fatalf("start effects %+v state %s", fx, c.State())
	}
	fx = c.RobotReady()
	if c.State() != messages.StateRunning || c.Busy() || !fx.BackendUp {
		t.Fatalf("after ready: %s busy %v", c.State(), c.Busy())
	}
	if len(fx.JobDone) != 1 || fx.JobDone[0].Job != "j" || fx.JobDone[0].Err != "" {
		t.Fatalf("job end %+v", fx.JobDone)
	}
}

func TestStartWithWakeUpWaitsForTheMove(t *testing.T) {
	c := newCore()
	c.Submit(Op{Kind: OpStart, Wake: true, Job: "j"})
	fx := c.RobotReady()
	if len(fx.Modes) != 1 || fx.Modes[0] != messages.ModeEnabled || len(fx.Moves) != 1 || fx.Moves[0].Kind != messages.MoveWakeUp {
		t.Fatalf("wake effects %+v", fx)
	}
	if c.State() != messages.StateStarting {
		t.Fatalf("running before the wake-up ended: %s", c.State())
	}
	// A done for another move changes nothing.
	c.MoveDone(messages.MoveDone{ID: "other", Result: messages.MoveCompleted})
	if c.State() != messages.StateStarting {
		t.Fatal("foreign move ended the wake-up")
	}
	fx = c.MoveDone(messages.MoveDone{ID: fx.Moves[0].ID, Result: messages.MoveCompleted})
	if c.State() != messages.StateRunning || len(fx.JobDone) != 1 {
		t.Fatalf("after wake: %s %+v", c.State(), fx)
	}
}

func TestReadyTimeoutIsAnError(t *testing.T) {
	c := newCore()
	fx := c.Submit(Op{Kind: OpStart, Job: "j"})
	gen := fx.Timer.Gen
	c.BackendStatus(messages.BackendStatus{Error: "No response from the robot's motor for the last second."})
	fx = c.TimerFired(TimerReady, gen)
	if c.State() != messages.StateError || !fx.StopRobot || len(fx.JobDone) != 1 || fx.JobDone[0].Err == "" {
		t.Fatalf("timeout: %s %+v", c.State(), fx)
	}
	if c.Error() == "" {
		t.Fatal("no error text")
	}
}

func TestStaleTimerIgnored(t *testing.T) {
	c := newCore()
	fx := c.Submit(Op{Kind: OpStart})
	gen := fx.Timer.Gen
	c.RobotReady()
	c.TimerFired(TimerReady, gen)
	if c.State() != messages.StateRunning {
		t.Fatalf("stale timer broke a running daemon: %s", c.State())
	}
}

func running(t *testing.T) *Core {
	c := newCore()
	c.Submit(Op{Kind: OpStart})
	c.RobotReady()
	if c.State() != messages.StateRunning {
		t.Fatal("not running")
	}
	return c
}

// sleeping submits a stop with sleep to a running core and plays it up to
// the sleep move.
func sleeping(t *testing.T, c *Core, op Op) messages.StartMove {
	t.Helper()
	op.Sleep = true
	fx := c.Submit(op)
	// The running move stops and the app is asked to stop first.
	if c.State() != messages.StateStopping || !fx.StopMoves || !fx.StopApp || len(fx.Moves) != 0 || fx.StopRobot {
		t.Fatalf("stop effects %+v", fx)
	}
	fx = c.AppStopped()
	if len(fx.Moves) != 1 || fx.Moves[0].Kind != messages.MoveResetToSleep || !fx.Moves[0].Preempt || fx.StopRobot || fx.Timer == nil {
		t.Fatalf("after the app stopped: %+v", fx)
	}
	return fx.Moves[0]
}

func TestStopWithSleep(t *testing.T) {
	c := running(t)
	mv := sleeping(t, c, Op{Kind: OpStop, Job: "s"})
	fx := c.MoveDone(messages.MoveDone{ID: mv.ID, Result: messages.MoveCompleted})
	if !fx.StopRobot || c.State() != messages.StateStopping {
		t.Fatalf("after sleep: %+v", fx)
	}
	fx = c.RobotStopped()
	if c.State() != messages.StateStopped || fx.BackendDn == "" || len(fx.JobDone) != 1 || fx.JobDone[0].Err != "" || c.Busy() {
		t.Fatalf("after stop: %s %+v", c.State(), fx)
	}
	if c.Backend() != nil {
		t.Fatal("backend status kept after stop")
	}
}

func TestStopWithoutSleepAndSleepTimeout(t *testing.T) {
	c := running(t)
	fx := c.Submit(Op{Kind: OpStop})
	if !fx.StopRobot {
		t.Fatal("stop without sleep must stop at once")
	}
	c.RobotStopped()

	c = running(t)
	c.Submit(Op{Kind: OpStop, Sleep: true, Job: "s"})
	fx = c.AppStopped()
	fx = c.TimerFired(TimerSleep, fx.Timer.Gen)
	if !fx.StopRobot || len(fx.Warnings) != 1 {
		t.Fatalf("sleep timeout must stop the robot anyway, and say so: %+v", fx)
	}
	fx = c.RobotStopped()
	if c.State() != messages.StateError || !strings.Contains(c.Error(), "took longer") || fx.JobDone[0].Err != c.Error() {
		t.Fatalf("after a sleep that timed out: %s %q %+v", c.State(), c.Error(), fx.JobDone)
	}
}

// TestBusFailureDuringSleepEndsTheStop: a bus that stops answering under
// the sleep move ends the stop as soon as motorbus reports it, not at the
// sleep timeout, and the stop reports why.
func TestBusFailureDuringSleepEndsTheStop(t *testing.T) {
	c := running(t)
	sleeping(t, c, Op{Kind: OpShutdown, Reply: "caller"})
	// A healthy status changes nothing.
	if fx := c.BackendStatus(messages.BackendStatus{Ready: true, Mode: messages.ModeEnabled}); fx.StopRobot {
		t.Fatal("a healthy status stopped the sleep")
	}
	fx := c.BackendStatus(messages.BackendStatus{Mode: messages.ModeEnabled, Error: "No response from the robot's motor for the last second."})
	if !fx.StopRobot || len(fx.Warnings) != 1 || !strings.Contains(fx.Warnings[0], "No response") {
		t.Fatalf("bus failure during the sleep: %+v", fx)
	}
	fx = c.RobotStopped()
	if len(fx.Replies) != 1 || !strings.Contains(fx.Replies[0].Err, "Going to sleep failed: No response") {
		t.Fatalf("shutdown reply %+v", fx.Replies)
	}
	if c.State() != messages.StateError || !strings.Contains(c.Error(), "No response") || c.Busy() {
		t.Fatalf("after the stop: %s %q", c.State(), c.Error())
	}
}

// TestStopWithSleepSaysWhyItCannot: a stop that cannot sleep logs why.
func TestStopWithSleepSaysWhyItCannot(t *testing.T) {
	cases := []struct {
		name string
		core func(t *testing.T) *Core
		why  string
	}{
		{"stopped", func(*testing.T) *Core { return newCore() }, "not running"},
		{"bus error", func(t *testing.T) *Core {
			c := running(t)
			c.BackendStatus(messages.BackendStatus{Error: "No response from the robot's motor for the last second."})
			return c
		}, "reports an error: No response from the robot's motor for the last second."},
		{"not ready", func(t *testing.T) *Core {
			c := newCore()
			c.Submit(Op{Kind: OpStart})
			c.TimerFired(TimerReady, 1) // the backend never became ready
			c.robotUp = true            // and still runs
			return c
		}, "in error"},
	}
	for _, tc := range cases {
		c := tc.core(t)
		fx := c.Submit(Op{Kind: OpStop, Sleep: true, Job: "s"})
		if len(fx.Warnings) != 1 || !strings.Contains(fx.Warnings[0], tc.why) || len(fx.Moves) != 0 || fx.StopApp {
			t.Errorf("%s: %+v", tc.name, fx)
		}
		if !strings.Contains(strings.Join(fx.JobLines["s"], "\n"), "Not putting the robot to sleep") {
			t.Errorf("%s: job lines %v", tc.name, fx.JobLines)
		}
	}
}

// TestBackendGoneWhileWaitingForTheAppEndsTheStop: the stop does not wait
// forever for a sleep it can no longer play.
func TestBackendGoneWhileWaitingForTheAppEndsTheStop(t *testing.T) {
	c := running(t)
	c.Submit(Op{Kind: OpStop, Sleep: true, Job: "s"})
	fx := c.RobotStopped()
	if c.Busy() || len(fx.JobDone) != 1 || fx.JobDone[0].Err == "" || c.State() != messages.StateError {
		t.Fatalf("%s busy %v %+v", c.State(), c.Busy(), fx)
	}
	if fx := c.AppStopped(); len(fx.Moves) != 0 {
		t.Fatal("a late app stop started the sleep")
	}
}

func TestRestartIsStopThenStartAndBusyMeanwhile(t *testing.T) {
	c := running(t)
	fx := c.Submit(Op{Kind: OpStop, Job: "r"}, Op{Kind: OpStart, Job: "r2"})
	if !fx.StopRobot || !c.Busy() {
		t.Fatal("restart did not begin with a stop")
	}
	fx = c.RobotStopped()
	if !fx.SpawnRobot || c.State() != messages.StateStarting {
		t.Fatalf("restart did not start again: %+v %s", fx, c.State())
	}
	c.RobotReady()
	if c.State() != messages.StateRunning || c.Busy() {
		t.Fatal("restart did not end running")
	}
}

func TestStartWhenRunningAndStopWhenStopped(t *testing.T) {
	c := running(t)
	fx := c.Submit(Op{Kind: OpStart, Job: "j"})
	if fx.SpawnRobot || len(fx.JobDone) != 1 || fx.JobLines["j"][0] != "Daemon is already running." {
		t.Fatalf("%+v", fx)
	}
	c = newCore()
	fx = c.Submit(Op{Kind: OpStop, Job: "s"})
	if fx.StopRobot || len(fx.JobDone) != 1 {
		t.Fatalf("%+v", fx)
	}
}

func TestBackendErrorShowsAsErrorState(t *testing.T) {
	c := running(t)
	fx := c.BackendStatus(messages.BackendStatus{Ready: false, Mode: messages.ModeEnabled, Error: "No response"})
	if !fx.Status || c.State() != messages.StateError || c.Error() != "No response" {
		t.Fatalf("%s %q", c.State(), c.Error())
	}
	c.BackendStatus(messages.BackendStatus{Ready: true, Mode: messages.ModeEnabled})
	if c.State() != messages.StateRunning || c.Error() != "" {
		t.Fatal("recovered backend still in error")
	}
}

func TestStopSleepsDespiteAMotorHardwareError(t *testing.T) {
	// A latched hardware error is the backend's error (state error, as the
	// reference reports any backend error) while the loop still runs: the
	// other motors still go to sleep.
	c := running(t)
	c.BackendStatus(messages.BackendStatus{Ready: true, Mode: messages.ModeEnabled, Error: "Motor stewart_2 (ID 12) hardware error: overload"})
	if c.State() != messages.StateError {
		t.Fatalf("state %s", c.State())
	}
	sleeping(t, c, Op{Kind: OpStop})
	// A silent bus cannot sleep: stopped at once.
	c = running(t)
	c.BackendStatus(messages.BackendStatus{Ready: false, Mode: messages.ModeEnabled, Error: "No response"})
	if fx := c.Submit(Op{Kind: OpStop, Sleep: true}); len(fx.Moves) != 0 || fx.StopApp || !fx.StopRobot || len(fx.Warnings) != 1 {
		t.Fatalf("stop with a silent bus: %+v", fx)
	}
}

func TestRobotFailureStopsTheBackend(t *testing.T) {
	c := running(t)
	fx := c.RobotFailed("motorbus: boom")
	if !fx.StopRobot || c.State() != messages.StateError {
		t.Fatalf("%+v", fx)
	}
	c.RobotStopped()
	if c.State() != messages.StateError || c.Error() == "" {
		t.Fatalf("after the failed robot stopped: %s %q", c.State(), c.Error())
	}
	// A new start clears the error.
	c.Submit(Op{Kind: OpStart})
	c.RobotReady()
	if c.State() != messages.StateRunning || c.Error() != "" {
		t.Fatal("could not start again after a failure")
	}
}

func TestShutdownReplies(t *testing.T) {
	c := running(t)
	fx := c.Submit(Op{Kind: OpShutdown, Reply: "caller"})
	fx = c.RobotStopped()
	if len(fx.Replies) != 1 || fx.Replies[0].To != "caller" || fx.Replies[0].Err != "" || c.State() != messages.StateStopped {
		t.Fatalf("%+v", fx)
	}
}

func TestUnexpectedRobotStop(t *testing.T) {
	c := running(t)
	c.RobotStopped()
	if c.State() != messages.StateError {
		t.Fatal("an unasked backend stop must be an error")
	}
}

// Once the actor tree gives up, the state is error with the reason, and it
// stays so through the stop that follows, until the process exits.
func TestUnrecoverableIsErrorUntilExit(t *testing.T) {
	c := newCore()
	c.Submit(Op{Kind: OpStart, Job: "j"})
	c.RobotReady()
	if fx := c.Unrecoverable("hub keeps failing: boom"); !fx.Status {
		t.Fatal("no status published")
	}
	check := func(when string) {
		t.Helper()
		if c.State() != messages.StateError || !strings.Contains(c.Error(), "cannot recover") || !strings.Contains(c.Error(), "hub keeps failing: boom") {
			t.Fatalf("%s: %s %q", when, c.State(), c.Error())
		}
	}
	check("after giving up")
	c.Submit(Op{Kind: OpStop, Job: "k"})
	check("while stopping")
	c.RobotStopped()
	check("stopped")
}
