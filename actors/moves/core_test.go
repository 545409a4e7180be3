package moves

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"reachyd/actors/moves/motion"
	"reachyd/hw"
	"reachyd/hw/geom"
	"reachyd/hw/kinematics"
	"reachyd/messages"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const period = 20 * time.Millisecond

// rig drives a Core with a mockup plant: the goals of a tick become the
// present positions of the next one.
type rig struct {
	t      *testing.T
	c      *Core
	pos    hw.Positions
	at     time.Time
	epoch  uint64
	mode   messages.MotorMode
	seq    uint64
	events []messages.MoveEvent
	// eventAt is the tick time of each event (the request's time for
	// those Start returns).
	eventAt []time.Time
	tasks   []messages.TaskProgress
	done    []Done
	sounds  []string
	modes   []messages.MotorMode
	ikRuns  int
	last    Effects
}

func newRig(t *testing.T, start hw.Positions) *rig {
	return &rig{t: t, c: New(Config{}, kinematics.New(kinematics.DefaultGeometry())), pos: start, at: t0, mode: messages.ModeEnabled}
}

func (r *rig) collect(fx Effects, at time.Time) {
	r.events = append(r.events, fx.Events...)
	for range fx.Events {
		r.eventAt = append(r.eventAt, at)
	}
	r.tasks = append(r.tasks, fx.Tasks...)
	r.done = append(r.done, fx.Done...)
	r.sounds = append(r.sounds, fx.Sounds...)
	r.modes = append(r.modes, fx.Modes...)
}

func (r *rig) tick() Effects {
	r.seq++
	fx := r.c.Present(messages.Present{Seq: r.seq, At: r.at, Period: period, Positions: r.pos, Torque: hw.AllMotors, Mode: r.mode, Epoch: r.epoch, Fresh: true})
	r.collect(fx, r.at)
	if fx.Goals != nil {
		if fx.Goals.Epoch != r.epoch {
			r.t.Fatalf("goals of epoch %d while motorbus is at %d", fx.Goals.Epoch, r.epoch)
		}
		r.pos = fx.Goals.Positions
	}
	r.at = r.at.Add(period)
	r.last = fx
	return fx
}

func (r *rig) ticks(n int) {
	for i := 0; i < n; i++ {
		r.tick()
	}
}

// runUntilIdle ticks until no move runs, failing after max seconds.
func (r *rig) runUntilIdle(max time.Duration) time.Duration {
	start := r.at
	for r.c.MoveRunning() {
		if r.at.Sub(start) > max {
			r.t.Fatalf("move still running after %v", max)
		}
		r.tick()
	}
	return r.at.Sub(start)
}

// requestAt is when a request made now arrives: between the last tick
// and the next one.
func (r *rig) requestAt() time.Time { return r.at.Add(-period / 2) }

func (r *rig) start(req StartRequest) {
	if req.At.IsZero() {
		req.At = r.requestAt()
	}
	fx, err := r.c.Start(req)
	if err != nil {
		r.t.Fatalf("start %s: %v", req.Kind, err)
	}
	r.collect(fx, req.At)
}

func neutral() hw.Positions {
	k := kinematics.New(kinematics.DefaultGeometry())
	j, err := k.IK(geom.Identity4(), 0)
	if err != nil {
		panic(err)
	}
	return hw.Join(j, motion.InitAntennas)
}

func sleepPositions() hw.Positions {
	k := kinematics.New(kinematics.DefaultGeometry())
	j, err := k.IK(motion.SleepHeadPose, 0)
	if err != nil {
		panic(err)
	}
	return hw.Join(j, motion.SleepAntennas)
}

func poseOf(x, y, z, roll, pitch, yaw float64) geom.Mat4 {
	return geom.PoseXYZRPY(x/1000, y/1000, z/1000, roll*math.Pi/180, pitch*math.Pi/180, yaw*math.Pi/180)
}

func TestFirstTickAdoptsPresentAndIsReady(t *testing.T) {
	r := newRig(t, neutral())
	fx := r.tick()
	if !fx.Ready {
		t.Fatal("first fresh tick not ready")
	}
	if fx.Goals == nil || fx.Goals.Positions != neutral() {
		t.Fatalf("first goals must hold the present: %v", fx.Goals)
	}
	if d := fx.State.HeadPose.MaxAbsDiff(geom.Identity4()); d > 1e-6 {
		t.Fatalf("FK of neutral joints off by %v", d)
	}
	if r.tick().Ready {
		t.Fatal("ready reported twice")
	}
}

func TestFKFindsTheSleepPoseAtStart(t *testing.T) {
	r := newRig(t, sleepPositions())
	fx := r.tick()
	if d := fx.State.HeadPose.MaxAbsDiff(motion.SleepHeadPose); d > 2e-3 {
		t.Fatalf("FK at start is %v from the sleep pose", d)
	}
	if !r.c.IsAtSleepPose() {
		t.Fatal("not at sleep pose")
	}
}

func TestStreamedTargetsAreCoalescedToTheTick(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	// A client sending many targets between two ticks: only the newest one
	// is solved and written.
	var last geom.Mat4
	for i := 0; i < 500; i++ {
		last = poseOf(0, 0, float64(i%10), 0, 0, 0)
		if _, err := r.c.SetTargets(messages.SetTargets{Head: &last}, false); err != nil {
			t.Fatal(err)
		}
	}
	fx := r.tick()
	k := kinematics.New(kinematics.DefaultGeometry())
	want, _ := k.IK(last, 0)
	got := fx.Goals.Positions.Head()
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("goal %d = %v, want %v (newest target)", i, got[i], want[i])
		}
	}
	if fx.State.TargetHeadPose != last {
		t.Fatal("state does not report the newest target")
	}
}

func TestUnreachableTargets(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	good := poseOf(0, 0, 5, 0, 0, 0)
	if _, err := r.c.SetTargets(messages.SetTargets{Head: &good}, true); err != nil {
		t.Fatal(err)
	}
	r.tick()
	before := r.pos
	bad := poseOf(0, 0, 30, 0, 0, 0) // z = +30 mm: no solution
	_, err := r.c.SetTargets(messages.SetTargets{Head: &bad}, true)
	if messages.KindOf(err) != messages.KindBadRequest || !strings.HasPrefix(err.Error(), ErrUnreachableMsg) {
		t.Fatalf("checked unreachable target: %v", err)
	}
	r.tick()
	if r.pos != before || r.last.State.TargetHeadPose != good {
		t.Fatal("a refused target changed the goals")
	}
	// Streamed (unchecked): the tick keeps the previous target and warns.
	if _, err := r.c.SetTargets(messages.SetTargets{Head: &bad}, false); err != nil {
		t.Fatal(err)
	}
	fx := r.tick()
	if len(fx.Warnings) != 1 || r.pos != before || fx.State.TargetHeadPose != good {
		t.Fatalf("streamed unreachable target: warnings %v, target %v", fx.Warnings, fx.State.TargetHeadPose)
	}
	nan := math.NaN()
	if _, err := r.c.SetTargets(messages.SetTargets{BodyYaw: &nan}, false); messages.KindOf(err) != messages.KindBadRequest {
		t.Fatalf("NaN body yaw: %v", err)
	}
}

func TestGotoReachesItsTargetAndReports(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	target := poseOf(5, -5, 8, 10, -10, 20)
	ant := [2]float64{0.3, -0.3}
	r.start(StartRequest{ID: "g1", Kind: messages.MoveGoto, Origin: messages.OriginREST,
		Goto: messages.GotoParams{Head: &target, Antennas: &ant, Duration: 0.5, Method: "linear"}})
	took := r.runUntilIdle(2 * time.Second)
	if took < 480*time.Millisecond || took > 540*time.Millisecond {
		t.Fatalf("a 0.5 s goto took %v", took)
	}
	fx := r.tick()
	if d := fx.State.TargetHeadPose.MaxAbsDiff(target); d > 1e-9 {
		t.Fatalf("goto ended %v from its target", d)
	}
	if d := fx.State.HeadPose.MaxAbsDiff(target); d > 1e-4 {
		t.Fatalf("present pose %v from target", d)
	}
	if r.pos.Antennas() != ant {
		t.Fatalf("antennas %v", r.pos.Antennas())
	}
	if len(r.events) != 2 || r.events[0].Type != "move_started" || r.events[1].Type != "move_completed" || r.events[1].ID != "g1" {
		t.Fatalf("events %+v", r.events)
	}
}

func TestGotoWithoutBodyYawKeepsIt(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	yaw := 0.4
	if _, err := r.c.SetTargets(messages.SetTargets{BodyYaw: &yaw}, true); err != nil {
		t.Fatal(err)
	}
	r.ticks(2)
	target := poseOf(0, 0, 0, 0, 0, 10)
	r.start(StartRequest{ID: "g", Kind: messages.MoveGoto, Goto: messages.GotoParams{Head: &target, Duration: 0.2}})
	r.runUntilIdle(time.Second)
	if math.Abs(r.pos[hw.Body]-0.4) > 1e-9 {
		t.Fatalf("body yaw %v, want kept at 0.4", r.pos[hw.Body])
	}
}

func TestBadDurationsAreRefused(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	target := poseOf(0, 0, 10, 0, 0, 0)
	// Negative, non-finite, over an hour. (Zero is the reference's no-op.)
	for _, d := range []float64{-1, math.NaN(), math.Inf(1), math.Inf(-1), messages.MaxMoveDuration + 1} {
		_, err := r.c.Start(StartRequest{ID: "z", Kind: messages.MoveGoto, Origin: messages.OriginREST, Goto: messages.GotoParams{Head: &target, Duration: d}})
		if messages.KindOf(err) != messages.KindUnprocessable {
			t.Errorf("goto of %v s: %v", d, err)
		}
	}
	for _, d := range []float64{-0.5, math.NaN(), messages.MaxMoveDuration * 2} {
		_, err := r.c.Start(StartRequest{ID: "z", Kind: messages.MoveRecorded, Recorded: fakeMove{d: 1}, InitialGoto: d})
		if messages.KindOf(err) != messages.KindUnprocessable {
			t.Errorf("initial goto of %v s: %v", d, err)
		}
	}
	if r.c.MoveRunning() || len(r.events) != 0 {
		t.Fatalf("a refused request started a move: %+v", r.events)
	}
	// A zero-duration goto is accepted, as the reference's no-op, and ends
	// at once.
	r.start(StartRequest{ID: "zero", Kind: messages.MoveGoto, Goto: messages.GotoParams{Head: &target, Duration: 0}})
	r.runUntilIdle(time.Second)
	if r.c.MoveRunning() {
		t.Fatal("a zero-duration goto is still running")
	}
	r.start(StartRequest{ID: "ok", Kind: messages.MoveGoto, Goto: messages.GotoParams{Head: &target, Duration: messages.MaxMoveDuration}})
	r.start(StartRequest{ID: "rec", Kind: messages.MoveRecorded, Recorded: fakeMove{d: 1}, InitialGoto: 0})
}

// A move's end (move_completed on /api/move/ws/updates, task_progress for
// an SDK task) must never come before its duration has elapsed since it was
// accepted, wherever the request falls between two ticks: the goals are
// sampled one period ahead, but the move ends at the tick that writes its
// last goals.
func TestMoveNeverEndsBeforeItsDuration(t *testing.T) {
	target := poseOf(0, 0, 8, 0, 0, 10)
	for _, d := range []float64{0.01, 0.02, 0.05, 0.2, 0.5, 1.234} {
		for _, off := range []time.Duration{0, time.Millisecond, period / 2, period - time.Microsecond} {
			r := newRig(t, neutral())
			r.tick()
			// The request arrives off after the last tick (whose Present
			// moves has already handled).
			at := r.at.Add(-period + off)
			r.start(StartRequest{ID: "g", Kind: messages.MoveGoto, Origin: messages.OriginSDK,
				Goto: messages.GotoParams{Head: &target, Duration: d}, At: at})
			r.runUntilIdle(3 * time.Second)
			end := r.eventAt[len(r.eventAt)-1]
			if r.events[len(r.events)-1].Type != "move_completed" || len(r.tasks) != 1 || r.tasks[0].Error != "" {
				t.Fatalf("d=%v: events %+v tasks %+v", d, r.events, r.tasks)
			}
			want := at.Add(time.Duration(d * float64(time.Second)))
			if end.Before(want) {
				t.Errorf("d=%v s, request %v after a tick: completed %v after the request, before its duration",
					d, off, end.Sub(at))
			}
			// It ends at the tick that wrote the last goals, not later.
			if end.Sub(want) > period {
				t.Errorf("d=%v s: completed %v after its end", d, end.Sub(want))
			}
			// And the goals written by then are the target's.
			if dd := r.last.State.TargetHeadPose.MaxAbsDiff(target); dd > 1e-9 {
				t.Errorf("d=%v s: ended %v from its target", d, dd)
			}
		}
	}
}

// A sequence's steps follow each other without overlap: the wake-up from
// the sleep pose lasts the sum of its steps, measured from the request.
func TestSequenceLastsTheSumOfItsSteps(t *testing.T) {
	r := newRig(t, sleepPositions())
	r.tick()
	init := motion.InitHeadPose
	_, _, magic := geom.Distance(r.last.State.HeadPose, init)
	total := 100*time.Millisecond + time.Duration(magic*20/1000*float64(time.Second)) + 100*time.Millisecond + 200*time.Millisecond + 200*time.Millisecond
	at := r.requestAt()
	r.start(StartRequest{ID: "w", Kind: messages.MoveWakeUp, Origin: messages.OriginREST, At: at})
	r.runUntilIdle(5 * time.Second)
	end := r.eventAt[len(r.eventAt)-1]
	if end.Sub(at) < total || end.Sub(at) > total+period {
		t.Fatalf("wake_up ended %v after the request, want %v (+ at most a period)", end.Sub(at), total)
	}
}

func TestOneMoveAtATime(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	target := poseOf(0, 0, 10, 0, 0, 0)
	r.start(StartRequest{ID: "a", Kind: messages.MoveGoto, Origin: messages.OriginREST, Goto: messages.GotoParams{Head: &target, Duration: 1}})
	r.ticks(3)
	// A second REST goto is refused and reported as move_failed.
	r.start(StartRequest{ID: "b", Kind: messages.MoveGoto, Origin: messages.OriginREST, Goto: messages.GotoParams{Head: &target, Duration: 1}})
	ev := r.events[len(r.events)-1]
	if ev.ID != "b" || ev.Type != "move_failed" || ev.Details != "move_running" {
		t.Fatalf("refused goto: %+v", ev)
	}
	// An SDK task is reported finished without error, as the reference does.
	r.start(StartRequest{ID: "c", Kind: messages.MoveGoto, Origin: messages.OriginSDK, Goto: messages.GotoParams{Head: &target, Duration: 1}})
	if len(r.tasks) != 1 || r.tasks[0].ID != "c" || r.tasks[0].Error != "" {
		t.Fatalf("tasks %+v", r.tasks)
	}
	// Streamed targets are ignored while the move runs.
	other := poseOf(0, 0, -10, 0, 0, 0)
	res, err := r.c.SetTargets(messages.SetTargets{Head: &other}, true)
	if err != nil || !res.Ignored || res.Reason != "move_running" {
		t.Fatalf("target during a move: %+v %v", res, err)
	}
	if _, ids := r.c.Running(), r.c.Running(); len(ids) != 1 || ids[0] != "a" {
		t.Fatalf("running %v", ids)
	}
	r.runUntilIdle(2 * time.Second)
	if d := r.last.State.TargetHeadPose.MaxAbsDiff(target); d > 1e-9 {
		t.Fatal("the ignored target leaked into the move")
	}
}

func TestStopMove(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	target := poseOf(0, 0, 10, 0, 0, 0)
	r.start(StartRequest{ID: "a", Kind: messages.MoveGoto, Origin: messages.OriginSDK, Goto: messages.GotoParams{Head: &target, Duration: 1}, Notify: "n"})
	r.ticks(10)
	if _, err := r.c.Stop("nope"); messages.KindOf(err) != messages.KindNotFound {
		t.Fatalf("stop unknown: %v", err)
	}
	fx, err := r.c.Stop("a")
	if err != nil {
		t.Fatal(err)
	}
	r.collect(fx, r.at)
	mid := r.pos
	r.ticks(5)
	if r.pos != mid {
		t.Fatal("the robot kept moving after stop")
	}
	if r.events[len(r.events)-1].Type != "move_cancelled" || len(r.done) != 1 || r.done[0].Msg.Result != messages.MoveCancelled || r.done[0].Notify != "n" {
		t.Fatalf("events %+v done %+v", r.events, r.done)
	}
	if len(r.tasks) != 1 || r.tasks[0].Error != "" {
		t.Fatalf("cancelled SDK task: %+v", r.tasks)
	}
	if _, stopped := r.c.StopAll(); stopped {
		t.Fatal("StopAll with nothing running")
	}
}

func TestPinOnNewEpoch(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	target := poseOf(0, 0, 10, 0, 0, 0)
	_, _ = r.c.SetTargets(messages.SetTargets{Head: &target}, true)
	// The motors are limp and someone moved the head: the plant is elsewhere.
	r.pos = sleepPositions()
	r.epoch++ // motorbus pinned its goals to the present before torque on
	fx := r.tick()
	if fx.Goals.Positions != sleepPositions() {
		t.Fatal("goals after a pin must be the present positions")
	}
	if d := fx.State.TargetHeadPose.MaxAbsDiff(fx.State.HeadPose); d > 1e-12 {
		t.Fatal("target pose not pinned to the present pose")
	}
}

func TestWakeUpFromSleep(t *testing.T) {
	r := newRig(t, sleepPositions())
	r.tick()
	r.start(StartRequest{ID: "w", Kind: messages.MoveWakeUp, Origin: messages.OriginREST})
	took := r.runUntilIdle(5 * time.Second)
	// 0.1 + magic*0.02 (about 1.46) + 0.1 + 0.2 + 0.2 seconds.
	if took < 1900*time.Millisecond || took > 2200*time.Millisecond {
		t.Fatalf("wake_up took %v", took)
	}
	r.tick()
	if d := r.last.State.HeadPose.MaxAbsDiff(geom.Identity4()); d > 1e-3 {
		t.Fatalf("not at init after wake_up: %v", d)
	}
	if r.pos.Antennas() != motion.InitAntennas {
		t.Fatalf("antennas %v", r.pos.Antennas())
	}
	if len(r.sounds) != 1 || r.sounds[0] != "wake_up.wav" {
		t.Fatalf("sounds %v", r.sounds)
	}
	// Already awake at init: stands down at once, silently.
	r.sounds = nil
	r.start(StartRequest{ID: "w2", Kind: messages.MoveWakeUp})
	if took := r.runUntilIdle(time.Second); took > 200*time.Millisecond || len(r.sounds) != 0 {
		t.Fatalf("second wake_up took %v with sounds %v", took, r.sounds)
	}
	// Force replays it.
	r.start(StartRequest{ID: "w3", Kind: messages.MoveWakeUp, Force: true})
	if took := r.runUntilIdle(time.Second); took < 400*time.Millisecond {
		t.Fatalf("forced wake_up took %v", took)
	}
}

func TestGotoSleepFromInitEndsLimp(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	r.start(StartRequest{ID: "s", Kind: messages.MoveGotoSleep})
	took := r.runUntilIdle(10 * time.Second)
	// From init (magic ~73 > 10, < 30 from init): sound, 2 s goto, 2 s wait.
	if took < 3900*time.Millisecond || took > 4200*time.Millisecond {
		t.Fatalf("goto_sleep took %v", took)
	}
	if len(r.modes) != 1 || r.modes[0] != messages.ModeDisabled {
		t.Fatalf("mode requests %v", r.modes)
	}
	r.tick()
	if !r.c.IsAtSleepPose() || r.pos.Antennas() != motion.SleepAntennas {
		t.Fatal("not at the sleep pose")
	}
	// Already asleep: only the sound and 5 s.
	r.modes = nil
	r.start(StartRequest{ID: "s2", Kind: messages.MoveGotoSleep})
	took = r.runUntilIdle(10 * time.Second)
	if took < 4900*time.Millisecond || took > 5200*time.Millisecond {
		t.Fatalf("goto_sleep at sleep took %v", took)
	}
}

func TestResetToSleepEnablesFirst(t *testing.T) {
	r := newRig(t, hw.Join(kinematics.Joints(neutral().Head()), [2]float64{1, 1}))
	r.tick()
	r.start(StartRequest{ID: "r", Kind: messages.MoveResetToSleep})
	r.runUntilIdle(10 * time.Second)
	if len(r.modes) != 2 || r.modes[0] != messages.ModeEnabled || r.modes[1] != messages.ModeDisabled {
		t.Fatalf("modes %v", r.modes)
	}
	r.tick()
	if !r.c.IsAtSleepPose() {
		t.Fatal("reset_to_sleep did not end at the sleep pose")
	}
}

// TestPreemptingMoveCancelsTheRunningOne: the daemon's sleep on stop takes
// over from a long goto (reported cancelled) and reaches the sleep pose.
func TestPreemptingMoveCancelsTheRunningOne(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	target := poseOf(0, 0, 10, 0, 0, 0)
	r.start(StartRequest{ID: "long", Kind: messages.MoveGoto, Origin: messages.OriginSDK, Goto: messages.GotoParams{Head: &target, Duration: 30}, Notify: "app"})
	r.ticks(5)
	r.start(StartRequest{ID: "sleep", Kind: messages.MoveResetToSleep, Origin: messages.OriginDaemon, Preempt: true, Notify: "daemon"})
	if ids := r.c.Running(); len(ids) != 1 || ids[0] != "sleep" {
		t.Fatalf("running %v", ids)
	}
	if len(r.done) != 1 || r.done[0].Notify != "app" || r.done[0].Msg.Result != messages.MoveCancelled {
		t.Fatalf("the preempted goto: %+v", r.done)
	}
	if len(r.tasks) != 1 || r.tasks[0].ID != "long" || r.tasks[0].Error != "" {
		t.Fatalf("the preempted SDK task: %+v", r.tasks)
	}
	r.runUntilIdle(15 * time.Second)
	r.tick()
	if !r.c.IsAtSleepPose() || r.done[len(r.done)-1].Msg.Result != messages.MoveCompleted {
		t.Fatalf("not asleep after the preempting sleep: %+v", r.done)
	}
}

type fakeMove struct{ d float64 }

func (f fakeMove) Duration() float64 { return f.d }
func (f fakeMove) Sound() string     { return "dance.wav" }
func (f fakeMove) Evaluate(t float64) motion.Sample {
	return motion.Sample{Antennas: [2]float64{t, -t}, HasAntennas: true}
}

func TestRecordedMoveWithInitialGoto(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	r.start(StartRequest{ID: "rec", Kind: messages.MoveRecorded, Recorded: fakeMove{d: 0.5}, InitialGoto: 0.3})
	took := r.runUntilIdle(3 * time.Second)
	if took < 780*time.Millisecond || took > 860*time.Millisecond {
		t.Fatalf("0.3 s goto + 0.5 s move took %v", took)
	}
	if r.pos.Antennas() != [2]float64{0.5, -0.5} {
		t.Fatalf("recorded move must end on its last sample: %v", r.pos.Antennas())
	}
	if len(r.sounds) != 1 || r.sounds[0] != "dance.wav" {
		t.Fatalf("sounds %v", r.sounds)
	}
}

func TestOutOfRangeTargetsAreRefused(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	before := r.pos
	bad := []messages.SetTargets{
		{BodyYaw: ptr(kinematics.MaxBodyYaw + 0.01)},
		{BodyYaw: ptr(-4.0)},
		{Antennas: &[2]float64{0, 3.2}},
		{Antennas: &[2]float64{-100, 0}},
	}
	for _, m := range bad {
		for _, check := range []bool{true, false} {
			_, err := r.c.SetTargets(m, check)
			if messages.KindOf(err) != messages.KindBadRequest {
				t.Errorf("%+v (check %v): %v", m, check, err)
			}
		}
	}
	// Goto targets likewise.
	_, err := r.c.Start(StartRequest{ID: "x", Kind: messages.MoveGoto, Goto: messages.GotoParams{Antennas: &[2]float64{7, 0}, Duration: 1}})
	if messages.KindOf(err) != messages.KindBadRequest {
		t.Errorf("goto antennas 7 rad: %v", err)
	}
	r.ticks(2)
	if r.pos != before {
		t.Fatal("a refused target moved the robot")
	}
	// The limits themselves are accepted.
	if _, err := r.c.SetTargets(messages.SetTargets{BodyYaw: ptr(kinematics.MaxBodyYaw), Antennas: &[2]float64{-math.Pi, math.Pi}}, false); err != nil {
		t.Fatal(err)
	}
	r.tick()
	// π is one tick past the motor's last position: the goal is clamped
	// to it, silently (a rounding, not a refusal).
	if a := r.pos.Antennas(); a != [2]float64{kinematics.AntennaGoalMin, kinematics.AntennaGoalMax} || len(r.last.Warnings) != 0 {
		t.Fatalf("antenna goals %v, warnings %v", a, r.last.Warnings)
	}
}

// A recorded move's samples are not checked when it starts: antenna goals
// beyond the motor's range are clamped and reported.
func TestRecordedAntennasBeyondRangeAreClampedAndReported(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	r.start(StartRequest{ID: "rec", Kind: messages.MoveRecorded, Recorded: fakeMove{d: 5}})
	var warned bool
	for r.c.MoveRunning() && r.at.Sub(t0) < 6*time.Second {
		fx := r.tick()
		warned = warned || len(fx.Warnings) > 0
		if a := r.pos.Antennas(); a[0] > kinematics.AntennaGoalMax || a[1] < kinematics.AntennaGoalMin {
			t.Fatalf("antenna goals %v beyond the motor's range", a)
		}
	}
	if !warned {
		t.Fatal("the clamp was not reported")
	}
}

// An SDK task that cannot start is answered with task_progress carrying
// the error (the SDK raises it); before, nothing was answered and the SDK
// timed out.
func TestRefusedSDKTaskAnswersWithItsError(t *testing.T) {
	fresh := New(Config{}, kinematics.New(kinematics.DefaultGeometry()))
	fx, err := fresh.Start(StartRequest{ID: "t0", Kind: messages.MoveGoto, Origin: messages.OriginSDK, Goto: messages.GotoParams{Duration: 1}})
	if !errors.Is(err, messages.ErrBackendNotRunning) || len(fx.Tasks) != 1 || fx.Tasks[0].ID != "t0" || fx.Tasks[0].Error != messages.ErrBackendNotRunning.Detail {
		t.Fatalf("no backend yet: %v %+v", err, fx.Tasks)
	}
	r := newRig(t, neutral())
	r.tick()
	// No tick for over a second (motorbus reopening the bus): the move
	// would never advance.
	fx, err = r.c.Start(StartRequest{ID: "t1", Kind: messages.MoveGoto, Origin: messages.OriginSDK,
		Goto: messages.GotoParams{Duration: 1}, At: r.at.Add(1100 * time.Millisecond)})
	if !errors.Is(err, messages.ErrBackendNotRunning) || len(fx.Tasks) != 1 || fx.Tasks[0].Error != messages.ErrBackendNotRunning.Detail {
		t.Fatalf("control loop stalled: %v %+v", err, fx.Tasks)
	}
	far := poseOf(0, 0, 40, 0, 0, 0)
	cases := []messages.GotoParams{
		{Head: &far, Duration: 1},                  // unreachable
		{Duration: -1},                             // negative duration
		{Antennas: &[2]float64{4, 0}, Duration: 1}, // beyond the antenna's turn
		{BodyYaw: ptr(math.NaN()), Duration: 1},    // not a number
		{Duration: 1, Method: "teleport"},          // unknown interpolation
	}
	for i, g := range cases {
		fx, err := r.c.Start(StartRequest{ID: "t", Kind: messages.MoveGoto, Origin: messages.OriginSDK, Goto: g})
		if err == nil || len(fx.Tasks) != 1 || fx.Tasks[0].ID != "t" || fx.Tasks[0].Error != err.Error() {
			t.Errorf("case %d: %v, tasks %+v", i, err, fx.Tasks)
		}
		// Other origins get the error as the answer, not a task.
		fx, err = r.c.Start(StartRequest{ID: "x", Kind: messages.MoveGoto, Origin: messages.OriginREST, Goto: g})
		if err == nil || len(fx.Tasks) != 0 {
			t.Errorf("case %d over REST: %v, tasks %+v", i, err, fx.Tasks)
		}
	}
	if r.c.MoveRunning() {
		t.Fatal("a refused task started a move")
	}
}

// Pinned (sent by motorbus before it answers an enable) pins the targets at
// once, so a target set right after the enable's answer wins; the next
// tick's epoch no longer overwrites it.
func TestTargetAfterPinnedWins(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	// Limp, someone moved the antennas; torque comes back on.
	r.pos = hw.Join(kinematics.Joints(neutral().Head()), [2]float64{1, -1})
	r.epoch++
	r.collect(r.c.Pinned(messages.Pinned{Epoch: r.epoch, Positions: r.pos}), r.at)
	want := [2]float64{-0.5, 0.5}
	if _, err := r.c.SetTargets(messages.SetTargets{Antennas: &want}, true); err != nil {
		t.Fatal(err)
	}
	fx := r.tick()
	if fx.Goals.Positions.Antennas() != want || fx.Goals.Epoch != r.epoch {
		t.Fatalf("goals %v of epoch %d: the target was overwritten by the pin", fx.Goals.Positions.Antennas(), fx.Goals.Epoch)
	}
	// The head stays where it was pinned: nothing snaps.
	if fx.Goals.Positions.Head() != neutral().Head() {
		t.Fatal("head goals moved on a pin")
	}
	// A Pinned of the epoch already seen (a restart's replay) changes nothing.
	r.collect(r.c.Pinned(messages.Pinned{Epoch: r.epoch, Positions: sleepPositions()}), r.at)
	if fx := r.tick(); fx.Goals.Positions.Antennas() != want {
		t.Fatal("a stale Pinned re-pinned the targets")
	}
}

func TestBadMoveRequests(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	far := poseOf(0, 0, 40, 0, 0, 0)
	_, err := r.c.Start(StartRequest{ID: "x", Kind: messages.MoveGoto, Goto: messages.GotoParams{Head: &far, Duration: 1}})
	if messages.KindOf(err) != messages.KindBadRequest {
		t.Fatalf("unreachable goto: %v", err)
	}
	_, err = r.c.Start(StartRequest{ID: "x", Kind: messages.MoveGoto, Goto: messages.GotoParams{Duration: 1, Method: "fast"}})
	if messages.KindOf(err) != messages.KindUnprocessable {
		t.Fatalf("unknown method: %v", err)
	}
	if r.c.MoveRunning() {
		t.Fatal("a refused request started a move")
	}
}

func TestMoveBeforeFirstTickIsRefused(t *testing.T) {
	c := New(Config{}, kinematics.New(kinematics.DefaultGeometry()))
	_, err := c.Start(StartRequest{ID: "x", Kind: messages.MoveWakeUp})
	if !errors.Is(err, messages.ErrBackendNotRunning) {
		t.Fatalf("%v", err)
	}
}

func TestSnapshotRestoreReportsTheLostMove(t *testing.T) {
	r := newRig(t, neutral())
	r.tick()
	target := poseOf(0, 0, 10, 0, 0, 0)
	r.start(StartRequest{ID: "a", Kind: messages.MoveGoto, Origin: messages.OriginSDK, Goto: messages.GotoParams{Head: &target, Duration: 1}, Notify: "n"})
	r.ticks(10)
	r.c.StartRecording()
	_ = r.c.AppendRecord([]byte(`{"t":1}`))
	snap := r.c.Snapshot()

	c2 := New(Config{}, kinematics.New(kinematics.DefaultGeometry()))
	fx := c2.Restore(snap)
	if len(fx.Events) != 1 || fx.Events[0].Type != "move_failed" || len(fx.Done) != 1 || len(fx.Tasks) != 1 || fx.Tasks[0].Error == "" {
		t.Fatalf("restore effects %+v", fx)
	}
	r.c = c2
	fx = r.tick()
	if fx.Goals == nil || fx.Ready != true {
		t.Fatalf("first tick after restore: %+v", fx)
	}
	// Targets survived: the goal is the target of the interrupted move, not
	// a fresh adoption of the present.
	if fx.State.TargetHeadPose != snap.Targets.head {
		t.Fatal("targets lost across the restart")
	}
	out := c2.StopRecording()
	if len(out.Recorded.Records) != 1 {
		t.Fatal("recording lost across the restart")
	}
}

func TestRecording(t *testing.T) {
	r := newRig(t, neutral())
	if err := r.c.AppendRecord([]byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	r.c.StartRecording()
	for i := 0; i < 3; i++ {
		_ = r.c.AppendRecord([]byte(`{"i":1}`))
	}
	fx := r.c.StopRecording()
	if len(fx.Recorded.Records) != 3 {
		t.Fatalf("%d records", len(fx.Recorded.Records))
	}
	fx = r.c.StopRecording()
	if fx.Recorded.Records == nil || len(fx.Recorded.Records) != 0 {
		t.Fatal("an empty recording must publish an empty list")
	}
}

func TestAppStoppedReturnsToRest(t *testing.T) {
	// Awake elsewhere: torque on, then init in 1 s.
	r := newRig(t, hw.Join(kinematics.Joints(neutral().Head()), [2]float64{0.5, 0.5}))
	r.tick()
	far := poseOf(0, 0, 8, 0, 10, 0)
	_, _ = r.c.SetTargets(messages.SetTargets{Head: &far}, true)
	r.ticks(3)
	r.start(StartRequest{ID: "s", Kind: messages.MoveAppStopped})
	took := r.runUntilIdle(3 * time.Second)
	if took < 1000*time.Millisecond || took > 1200*time.Millisecond || len(r.modes) != 1 || r.modes[0] != messages.ModeEnabled {
		t.Fatalf("took %v, modes %v", took, r.modes)
	}
	r.tick()
	if d := r.last.State.HeadPose.MaxAbsDiff(geom.Identity4()); d > 1e-3 || r.pos.Antennas() != motion.InitAntennas {
		t.Fatalf("not at init: %v", d)
	}
	if r.c.IsIdle() {
		t.Fatal("idle while enabled at init")
	}
	// At the sleep pose: just limp.
	s := newRig(t, sleepPositions())
	s.tick()
	s.start(StartRequest{ID: "s2", Kind: messages.MoveAppStopped})
	s.runUntilIdle(time.Second)
	if len(s.modes) != 1 || s.modes[0] != messages.ModeDisabled {
		t.Fatalf("modes %v", s.modes)
	}
	s.mode = messages.ModeDisabled
	s.tick()
	if !s.c.IsIdle() {
		t.Fatal("disabled at the sleep pose is idle")
	}
}
