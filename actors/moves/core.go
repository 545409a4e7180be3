// Package moves is the move scheduler: it owns the robot's targets (head
// pose, body yaw, antennas, or raw head joints), turns them into goal
// positions with IK once per control tick, runs one move at a time (goto,
// wake-up and sleep sequences, recorded moves), and computes the present head
// pose with FK.
//
// The Core is a deterministic state machine: the shell hands it messages and
// the tick's Present (whose time is the core's only clock) and performs the
// Effects it returns.
package moves

import (
	"fmt"
	"math"
	"time"

	"reachyd/actors/moves/motion"
	"reachyd/hw"
	"reachyd/hw/geom"
	"reachyd/hw/kinematics"
	"reachyd/messages"
)

// Limits on client-supplied recordings.
const (
	MaxRecords     = 200_000
	MaxRecordBytes = 64 << 20
)

// ErrUnreachableMsg is the start of the error for unreachable targets.
const ErrUnreachableMsg = "Head pose not achievable"

// Config tunes the core.
type Config struct {
	// FKIterations per tick (3, as the reference; our Newton steps
	// converge quadratically, so the reported pose does not lag).
	FKIterations int
	// StartFKIterations when the first present positions arrive (20).
	StartFKIterations int
}

// Effects are what one step of the core asks the shell to do, in order.
type Effects struct {
	Goals      *messages.Goals
	State      *messages.RobotState
	Events     []messages.MoveEvent
	Done       []Done
	Tasks      []messages.TaskProgress
	Sounds     []string
	Modes      []messages.MotorMode
	Recorded   *messages.RecordedData
	Ready      bool
	Warnings   []string
	SaveNeeded bool
	// WakeUpDone: a wake-up sequence completed.
	WakeUpDone bool
}

// Done reports the end of a move whose starter asked to be told.
type Done struct {
	Notify any
	Msg    messages.MoveDone
}

type targets struct {
	head        geom.Mat4
	hasHead     bool
	yaw         float64
	hasYaw      bool
	joints      kinematics.Joints
	hasJoints   bool
	antennas    [2]float64
	hasAntennas bool
	ikRequired  bool
	// speech are the head wobbler's world-frame offsets, composed with the
	// head pose before IK.
	speech [6]float64
}

type stepKind int

const (
	stepGoto stepKind = iota
	stepPlay
	stepWait
	stepSound
	stepMode
	stepPlan
)

// step is one stage of a move. Gotos are built when they start, from the
// present pose, as the reference does.
type step struct {
	kind  stepKind
	build func(c *Core) (motion.Move, error)
	move  motion.Move
	wait  time.Duration
	sound string
	mode  messages.MotorMode
	plan  func(c *Core) []step
}

type running struct {
	id     string
	kind   messages.MoveKind
	origin messages.MoveOrigin
	notify any
	steps  []step
	// next is when the next timed step starts: the time the move was
	// accepted, then the end of each timed step, so that a sequence lasts
	// the sum of its steps.
	next time.Time
	// the current timed step (a move or a wait)
	cur      *step
	curMove  motion.Move
	curStart time.Time
}

// Core is the move scheduler. Not safe for concurrent use.
type Core struct {
	cfg Config
	kin *kinematics.Kinematics

	havePresent bool
	present     hw.Positions
	presentPose geom.Mat4
	mode        messages.MotorMode
	torque      hw.Mask
	epoch       uint64
	lastAt      time.Time
	seq         uint64

	t         targets
	haveT     bool
	lastGoodH geom.Mat4

	active *running

	recording   bool
	records     [][]byte
	recordBytes int

	lastIKWarn    time.Time
	lastClampWarn time.Time
	state         *messages.RobotState
}

// New returns a core using kin (which it owns from now on).
func New(cfg Config, kin *kinematics.Kinematics) *Core {
	if cfg.FKIterations <= 0 {
		cfg.FKIterations = 3
	}
	if cfg.StartFKIterations <= 0 {
		cfg.StartFKIterations = 20
	}
	return &Core{cfg: cfg, kin: kin, presentPose: geom.Identity4(), mode: messages.ModeEnabled}
}

// ---- snapshot --------------------------------------------------------------

// Snapshot is what must outlive a restart of the moves actor.
type Snapshot struct {
	Valid       bool
	Targets     targets
	HaveTargets bool
	LastGoodH   geom.Mat4
	Epoch       uint64
	AutoYaw     bool
	PresentPose geom.Mat4
	HavePresent bool
	Recording   bool
	Records     [][]byte
	RecordBytes int
	// The move that was running: reported failed after the restart.
	ActiveID     string
	ActiveOrigin messages.MoveOrigin
	ActiveNotify any
}

// Snapshot captures the durable state.
func (c *Core) Snapshot() Snapshot {
	s := Snapshot{
		Valid: true, Targets: c.t, HaveTargets: c.haveT, LastGoodH: c.lastGoodH, Epoch: c.epoch,
		AutoYaw: c.kin.AutomaticBodyYaw(), PresentPose: c.presentPose, HavePresent: c.havePresent,
		Recording: c.recording, Records: c.records, RecordBytes: c.recordBytes,
	}
	if c.active != nil {
		s.ActiveID, s.ActiveOrigin, s.ActiveNotify = c.active.id, c.active.origin, c.active.notify
	}
	return s
}

// Restore reloads a snapshot after a restart. The move that was running is
// reported failed: its trajectory is gone with the old actor.
func (c *Core) Restore(s Snapshot) Effects {
	var fx Effects
	if !s.Valid {
		return fx
	}
	c.t, c.haveT, c.lastGoodH, c.epoch = s.Targets, s.HaveTargets, s.LastGoodH, s.Epoch
	c.kin.SetAutomaticBodyYaw(s.AutoYaw)
	c.presentPose = s.PresentPose
	if s.HavePresent {
		// Warm start FK from the last known pose.
		_ = c.kin.ResetFK(unyawed(s.PresentPose, 0))
	}
	c.recording, c.records, c.recordBytes = s.Recording, s.Records, s.RecordBytes
	if s.ActiveID != "" {
		c.finish(&fx, &running{id: s.ActiveID, origin: s.ActiveOrigin, notify: s.ActiveNotify},
			messages.MoveFailed, "the move scheduler restarted")
	}
	return fx
}

// unyawed removes a body yaw from a pose (FK seeds are body-relative).
func unyawed(p geom.Mat4, yaw float64) geom.Mat4 {
	rz := geom.RotZ(-yaw)
	t := rz.MulVec(p.Translation())
	return geom.FromRT(rz.Mul(p.Rotation()), t)
}

// ---- the tick ----------------------------------------------------------------

// Present runs one control tick: present pose by FK, pin on a new goal
// epoch, advance the running move, IK, goals and the state to publish.
func (c *Core) Present(p messages.Present) Effects {
	var fx Effects
	first := !c.havePresent
	c.present, c.mode, c.torque, c.lastAt, c.seq = p.Positions, p.Mode, p.Torque, p.At, p.Seq
	head := kinematics.Joints(p.Positions.Head())
	iters := c.cfg.FKIterations
	if first {
		iters = c.cfg.StartFKIterations
		c.seedFK(head)
	}
	if pose, err := c.kin.FK(head, iters); err == nil {
		c.presentPose = pose
	} else if first {
		fx.Warnings = append(fx.Warnings, "forward kinematics failed at start: "+err.Error())
	}
	if first && p.Fresh {
		c.havePresent = true
		fx.Ready = true
	}
	if !c.havePresent {
		return fx
	}
	if !c.haveT || p.Epoch != c.epoch {
		// Adopt the present as targets: at start, and whenever motorbus
		// pinned its goals (torque came on), so nothing snaps.
		c.pin()
		c.epoch = p.Epoch
		fx.SaveNeeded = true
	}
	if c.active != nil {
		// The goals computed now are written at the next tick: sample the
		// move there, but end it only once its end has come.
		c.advance(&fx, p.At, p.At.Add(p.Period))
		fx.SaveNeeded = true
	}
	if c.t.ikRequired {
		c.solveIK(&fx, p.At)
		fx.SaveNeeded = true
	}
	goals := hw.Join(c.t.joints, c.t.antennas)
	c.clampAntennaGoals(&fx, &goals, p.At)
	fx.Goals = &messages.Goals{Epoch: c.epoch, Positions: goals}
	fx.State = c.buildState(p)
	c.state = fx.State
	return fx
}

// seedFK chooses the FK starting point that best explains the first joints:
// the last known pose (after a restart), the neutral head or the sleep pose.
func (c *Core) seedFK(head kinematics.Joints) {
	best, bestRes := geom.Identity4(), math.Inf(1)
	for _, seed := range []geom.Mat4{c.presentPose, geom.Identity4(), motion.SleepHeadPose} {
		if c.kin.ResetFK(unyawed(seed, 0)) != nil {
			continue
		}
		pose, err := c.kin.FK(head, c.cfg.StartFKIterations)
		if err != nil {
			continue
		}
		if r := c.kin.Residual(pose, head); r < bestRes {
			best, bestRes = pose, r
		}
	}
	_ = c.kin.ResetFK(unyawed(best, head[0]))
}

// clampAntennaGoals keeps the antenna goals within what the motors accept
// (ticks 0..4095); a goal the motor refused would be dropped without a
// word. Targets are checked when they arrive, so only a recorded or
// uploaded move's samples can be beyond ±π: those are reported.
func (c *Core) clampAntennaGoals(fx *Effects, goals *hw.Positions, now time.Time) {
	for _, i := range [2]int{hw.RightAntenna, hw.LeftAntenna} {
		v, beyond := kinematics.ClampAntenna(goals[i])
		if beyond && now.Sub(c.lastClampWarn) >= 500*time.Millisecond {
			c.lastClampWarn = now
			fx.Warnings = append(fx.Warnings, fmt.Sprintf("%s goal %.4f rad is beyond the motor's range ±π: clamped to %.4f", hw.MotorNames[i], goals[i], v))
		}
		goals[i] = v
	}
}

// Pinned adopts motorbus's pin (torque coming on): the targets become the
// positions motorbus wrote as goals, and goals of the new epoch follow. It
// arrives before motorbus answers the request that caused it, so a target
// set after that answer is applied on top of the pin and wins. (Present
// pins too when it sees a new epoch, for a pin whose message was lost with
// a restart of this actor.)
func (c *Core) Pinned(m messages.Pinned) Effects {
	var fx Effects
	if !c.havePresent || m.Epoch == c.epoch {
		// Before the first tick, the first Present adopts the present.
		return fx
	}
	c.present = m.Positions
	if pose, err := c.kin.FK(kinematics.Joints(m.Positions.Head()), c.cfg.FKIterations); err == nil {
		c.presentPose = pose
	}
	c.pin()
	c.epoch = m.Epoch
	fx.SaveNeeded = true
	return fx
}

func (c *Core) pin() {
	c.t = targets{
		head: c.presentPose, hasHead: true,
		yaw: c.present[hw.Body], hasYaw: true,
		joints: kinematics.Joints(c.present.Head()), hasJoints: true,
		antennas: c.present.Antennas(), hasAntennas: true,
	}
	c.lastGoodH = c.presentPose
	c.haveT = true
}

func (c *Core) solveIK(fx *Effects, now time.Time) {
	pose := geom.Identity4()
	if c.t.hasHead {
		pose = c.t.head
	}
	yaw := 0.0
	if c.t.hasYaw {
		yaw = c.t.yaw
	}
	c.t.ikRequired = false
	goal := pose
	if c.t.speech != ([6]float64{}) {
		o := c.t.speech
		goal = composeWorldOffset(pose, geom.PoseXYZRPY(o[0], o[1], o[2], o[3], o[4], o[5]))
	}
	j, err := c.kin.IK(goal, yaw)
	if err != nil {
		// Keep the previous joints and the last pose that could be reached.
		c.t.head = c.lastGoodH
		if now.Sub(c.lastIKWarn) >= 500*time.Millisecond {
			c.lastIKWarn = now
			fx.Warnings = append(fx.Warnings, fmt.Sprintf("%s: %v (previous target kept)", ErrUnreachableMsg, err))
		}
		return
	}
	c.t.joints, c.t.hasJoints = j, true
	c.lastGoodH = pose
}

func (c *Core) buildState(p messages.Present) *messages.RobotState {
	s := &messages.RobotState{
		Seq: p.Seq, At: p.At, Mode: p.Mode,
		HeadJoints: p.Positions.Head(), Antennas: p.Positions.Antennas(), HeadPose: c.presentPose,
		MoveRunning: c.active != nil, Recording: c.recording,
	}
	if c.haveT {
		s.HasTargetHeadPose, s.TargetHeadPose = c.t.hasHead, c.t.head
		s.HasTargetJoints, s.TargetHeadJoints = c.t.hasJoints, c.t.joints
		s.HasTargetBodyYaw, s.TargetBodyYaw = c.t.hasYaw, c.t.yaw
		s.HasTargetAntennas, s.TargetAntennas = c.t.hasAntennas, c.t.antennas
	}
	return s
}

// LatestState returns the state of the last tick (nil before the first).
func (c *Core) LatestState() *messages.RobotState { return c.state }

// ---- targets ---------------------------------------------------------------

// SetTargets applies streamed targets. A move running makes it a no-op
// (Ignored). With check, an unreachable head pose is refused at once and
// nothing changes; without, it is found at the tick and the previous target
// kept.
func (c *Core) SetTargets(m messages.SetTargets, check bool) (messages.TargetsSet, error) {
	if c.active != nil {
		return messages.TargetsSet{Ignored: true, Reason: "move_running"}, nil
	}
	if err := validTargets(m); err != nil {
		return messages.TargetsSet{}, err
	}
	if check && (m.Head != nil || m.BodyYaw != nil) {
		pose, yaw := c.t.head, c.t.yaw
		if !c.t.hasHead {
			pose = geom.Identity4()
		}
		if m.Head != nil {
			pose = *m.Head
		}
		if m.BodyYaw != nil {
			yaw = *m.BodyYaw
		}
		if _, err := c.kin.IK(pose, yaw); err != nil {
			return messages.TargetsSet{}, unreachable(err)
		}
	}
	c.apply(m.Head, m.Antennas, m.BodyYaw)
	return messages.TargetsSet{}, nil
}

// validTargets refuses targets no motor can take: non-finite numbers, a
// body yaw beyond its joint limit (±160°), antennas beyond the motor's turn
// (±π). The gateway refuses them first where it can answer (422); this is
// the check every other source (streams, skills, apps) goes through.
func validTargets(m messages.SetTargets) error {
	bad := m.Head != nil && !m.Head.IsFinite() ||
		m.BodyYaw != nil && !finite(*m.BodyYaw) ||
		m.Antennas != nil && (!finite(m.Antennas[0]) || !finite(m.Antennas[1]))
	if bad {
		return &messages.Error{Kind: messages.KindBadRequest, Detail: "targets must be finite numbers", Reason: "non_finite"}
	}
	if m.BodyYaw != nil && math.Abs(*m.BodyYaw) > kinematics.MaxBodyYaw {
		return &messages.Error{Kind: messages.KindBadRequest, Reason: "joint_limit",
			Detail: fmt.Sprintf("body_yaw %.4f rad is beyond the body's limit ±%.4f rad (±160°)", *m.BodyYaw, kinematics.MaxBodyYaw)}
	}
	if m.Antennas != nil {
		for i, a := range m.Antennas {
			if math.Abs(a) > kinematics.MaxAntenna {
				return &messages.Error{Kind: messages.KindBadRequest, Reason: "joint_limit",
					Detail: fmt.Sprintf("antennas[%d] %.4f rad is beyond the antenna's range ±π", i, a)}
			}
		}
	}
	return nil
}

// validDuration refuses a goto duration that is not in (0, MaxMoveDuration]
// seconds (zero allowed with zeroOK, for an optional initial goto).
func validDuration(name string, d float64) error {
	if !finite(d) || d < 0 || d > messages.MaxMoveDuration {
		return &messages.Error{Kind: messages.KindUnprocessable, Reason: "bad_duration",
			Detail: fmt.Sprintf("%s must be a number of seconds in [0, %g], got %g", name, messages.MaxMoveDuration, d)}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func unreachable(err error) error {
	return &messages.Error{Kind: messages.KindBadRequest, Detail: fmt.Sprintf("%s: %v", ErrUnreachableMsg, trimKin(err)), Reason: "unreachable"}
}

func trimKin(err error) string {
	s := err.Error()
	const p = "kinematics: "
	for len(s) > len(p) && s[:len(p)] == p {
		s = s[len(p):]
	}
	return s
}

// apply sets targets the way the reference's setters do: a head pose or a
// changed body yaw requires IK; antennas are stored as they are.
func (c *Core) apply(head *geom.Mat4, antennas *[2]float64, yaw *float64) {
	if head != nil {
		c.t.head, c.t.hasHead, c.t.ikRequired = *head, true, true
	}
	if yaw != nil && (!c.t.hasYaw || math.Abs(c.t.yaw-*yaw) > 1e-9) {
		c.t.yaw, c.t.hasYaw, c.t.ikRequired = *yaw, true, true
	}
	if antennas != nil {
		c.t.antennas, c.t.hasAntennas = *antennas, true
	}
}

func (c *Core) applySample(s motion.Sample) {
	var head *geom.Mat4
	var ant *[2]float64
	var yaw *float64
	if s.HasHead {
		head = &s.Head
	}
	if s.HasAntennas {
		ant = &s.Antennas
	}
	if s.HasBodyYaw {
		yaw = &s.BodyYaw
	}
	c.apply(head, ant, yaw)
}

// SetHeadJoints sets the head joints directly (no IK).
func (c *Core) SetHeadJoints(j [7]float64) (messages.TargetsSet, error) {
	if c.active != nil {
		return messages.TargetsSet{Ignored: true, Reason: "move_running"}, nil
	}
	for i, v := range j {
		if !finite(v) {
			return messages.TargetsSet{}, &messages.Error{Kind: messages.KindBadRequest, Detail: "joints must be finite numbers"}
		}
		if v < kinematics.Limits[i][0] || v > kinematics.Limits[i][1] {
			return messages.TargetsSet{}, &messages.Error{Kind: messages.KindBadRequest, Reason: "joint_limit",
				Detail: fmt.Sprintf("%s = %.4f rad is outside its limits [%.4f, %.4f]", kinematics.JointNames[i], v, kinematics.Limits[i][0], kinematics.Limits[i][1])}
		}
	}
	c.t.joints, c.t.hasJoints, c.t.ikRequired = j, true, false
	return messages.TargetsSet{}, nil
}

// SetSpeechOffsets sets the wobbler's offsets; the next tick re-solves IK.
func (c *Core) SetSpeechOffsets(o [6]float64) error {
	for _, v := range o {
		if !finite(v) {
			return &messages.Error{Kind: messages.KindBadRequest, Detail: "speech offsets must be finite numbers"}
		}
	}
	c.t.speech = o
	c.t.ikRequired = true
	return nil
}

// composeWorldOffset applies a world-frame offset to a pose as the
// reference does: translations add, rotations compose as R_off * R_abs.
func composeWorldOffset(abs, off geom.Mat4) geom.Mat4 {
	return geom.FromRT(off.Rotation().Mul(abs.Rotation()), abs.Translation().Add(off.Translation()))
}

// SetAutomaticBodyYaw switches automatic body yaw; the next tick re-solves IK.
func (c *Core) SetAutomaticBodyYaw(on bool) {
	c.kin.SetAutomaticBodyYaw(on)
	if c.t.hasHead {
		c.t.ikRequired = true
	}
}

// ---- recording ---------------------------------------------------------------

// StartRecording clears the buffer and starts recording.
func (c *Core) StartRecording() {
	c.recording, c.records, c.recordBytes = true, nil, 0
}

// AppendRecord stores a record (a JSON object) while recording. Records past
// the limits are dropped with an error.
func (c *Core) AppendRecord(rec []byte) error {
	if !c.recording {
		return nil
	}
	if len(c.records) >= MaxRecords || c.recordBytes+len(rec) > MaxRecordBytes {
		return fmt.Errorf("recording full (%d records, %d bytes): record dropped", len(c.records), c.recordBytes)
	}
	c.records = append(c.records, rec)
	c.recordBytes += len(rec)
	return nil
}

// StopRecording stops recording and returns the records to publish.
func (c *Core) StopRecording() Effects {
	recs := c.records
	if recs == nil {
		recs = [][]byte{}
	}
	c.recording, c.records, c.recordBytes = false, nil, 0
	return Effects{Recorded: &messages.RecordedData{Records: recs}, SaveNeeded: true}
}

// ---- moves -----------------------------------------------------------------

// StartRequest is a move to start. Recorded moves arrive loaded.
type StartRequest struct {
	ID          string
	Kind        messages.MoveKind
	Origin      messages.MoveOrigin
	Goto        messages.GotoParams
	Recorded    motion.Move
	InitialGoto float64
	Force       bool
	// Preempt cancels the running move instead of refusing this one.
	Preempt bool
	Notify  any
	// At is when the move was accepted: its first step starts then, and
	// it cannot end before At plus its duration (zero: the last tick).
	At time.Time
}

// Start starts a move. Bad requests (unknown method, unreachable target) are
// errors and start nothing. A move requested while another runs is not an
// error for the caller: as in the reference it ends at once, reported as
// move_failed "move_running" (for SDK tasks: a finished task, as the
// reference reports it).
//
// A refused SDK task (bad values, unreachable target, no backend yet) is
// answered with its task_progress carrying the error, as the reference's
// task does when its goto raises: the SDK raises it instead of timing out.
func (c *Core) Start(req StartRequest) (Effects, error) {
	var fx Effects
	steps, err := c.plan(req)
	if err == nil && c.active == nil && (!c.havePresent || c.stalled(req.At)) {
		err = messages.ErrBackendNotRunning
	}
	if err != nil {
		if req.Origin == messages.OriginSDK {
			fx.Tasks = append(fx.Tasks, messages.TaskProgress{ID: req.ID, Error: err.Error()})
		}
		return fx, err
	}
	r := &running{id: req.ID, kind: req.Kind, origin: req.Origin, notify: req.Notify, steps: steps, next: req.At}
	if r.next.IsZero() {
		r.next = c.lastAt
	}
	if c.active != nil {
		if !req.Preempt {
			c.refuse(&fx, r)
			return fx, nil
		}
		c.finish(&fx, c.active, messages.MoveCancelled, "")
	}
	c.active = r
	fx.Events = append(fx.Events, messages.MoveEvent{Type: "move_started", ID: r.id, Origin: r.origin})
	fx.SaveNeeded = true
	return fx, nil
}

// stallAfter is how long without a tick means the control loop is not
// running (motorbus reopening the bus after a fault): a move started then
// would never advance, so it is refused as the reference refuses requests
// while its backend is not ready.
const stallAfter = time.Second

// stalled reports whether no tick came for stallAfter before now (a zero
// now, from a caller without a clock, never is).
func (c *Core) stalled(now time.Time) bool {
	return !now.IsZero() && now.Sub(c.lastAt) > stallAfter
}

func (c *Core) refuse(fx *Effects, r *running) {
	if r.origin == messages.OriginSDK {
		// The reference's goto task returns at once when another move
		// holds the lock, and reports success: SDK scripts rely on it.
		fx.Tasks = append(fx.Tasks, messages.TaskProgress{ID: r.id})
		return
	}
	c.finish(fx, r, messages.MoveFailed, "move_running")
}

// plan validates a request and turns it into steps.
func (c *Core) plan(req StartRequest) ([]step, error) {
	switch req.Kind {
	case messages.MoveGoto:
		g := req.Goto
		method := motion.MinJerk
		if g.Method != "" {
			m, err := motion.ParseMethod(g.Method)
			if err != nil {
				return nil, &messages.Error{Kind: messages.KindUnprocessable, Detail: err.Error()}
			}
			method = m
		}
		// Zero is the reference's no-op goto: accepted, it ends at once.
		if err := validDuration("duration", g.Duration); err != nil {
			return nil, err
		}
		if err := validTargets(messages.SetTargets{Head: g.Head, Antennas: g.Antennas, BodyYaw: g.BodyYaw}); err != nil {
			return nil, err
		}
		if g.Head != nil {
			yaw := c.present[hw.Body]
			if g.BodyYaw != nil {
				yaw = *g.BodyYaw
			}
			if _, err := c.kin.IK(*g.Head, yaw); err != nil {
				return nil, unreachable(err)
			}
		}
		return []step{c.gotoStep(g.Head, g.Antennas, g.BodyYaw, func(*Core) float64 { return g.Duration }, method)}, nil
	case messages.MoveWakeUp:
		return c.wakeUpSteps(req.Force), nil
	case messages.MoveGotoSleep:
		return []step{{kind: stepPlan, plan: (*Core).gotoSleepSteps}}, nil
	case messages.MoveResetToSleep:
		return c.resetToSleepSteps(), nil
	case messages.MoveAppStopped:
		return []step{{kind: stepPlan, plan: (*Core).appStoppedSteps}}, nil
	case messages.MoveRecorded:
		if req.Recorded == nil {
			return nil, &messages.Error{Kind: messages.KindNotFound, Detail: "recorded move not loaded"}
		}
		if err := validDuration("initial_goto_duration", req.InitialGoto); err != nil {
			return nil, err
		}
		var steps []step
		if req.InitialGoto > 0 {
			s0 := req.Recorded.Evaluate(0)
			var head *geom.Mat4
			var ant *[2]float64
			var yaw *float64
			if s0.HasHead {
				head = &s0.Head
			}
			if s0.HasAntennas {
				ant = &s0.Antennas
			}
			if s0.HasBodyYaw {
				yaw = &s0.BodyYaw
			}
			d := req.InitialGoto
			steps = append(steps, c.gotoStep(head, ant, yaw, func(*Core) float64 { return d }, motion.MinJerk))
		}
		if snd := req.Recorded.Sound(); snd != "" {
			steps = append(steps, step{kind: stepSound, sound: snd})
		}
		steps = append(steps, step{kind: stepPlay, move: req.Recorded})
		return steps, nil
	}
	return nil, &messages.Error{Kind: messages.KindBadRequest, Detail: fmt.Sprintf("unknown move kind %q", req.Kind)}
}

// gotoStep builds a goto from the present pose when the step starts.
func (c *Core) gotoStep(head *geom.Mat4, antennas *[2]float64, yaw *float64, duration func(*Core) float64, m motion.Method) step {
	return step{kind: stepGoto, build: func(c *Core) (motion.Move, error) {
		return motion.NewGoto(motion.GotoSpec{
			StartHead: c.presentPose, TargetHead: head,
			StartBodyYaw: c.present[hw.Body], TargetBodyYaw: yaw,
			StartAntennas: c.present.Antennas(), TargetAntennas: antennas,
			Duration: duration(c), Method: m,
		})
	}}
}

func ptr[T any](v T) *T { return &v }

// magicTo is the reference's "magic distance" from the present pose.
func (c *Core) magicTo(p geom.Mat4) float64 {
	_, _, m := geom.Distance(c.presentPose, p)
	return m
}

// wakeUpSteps is the reference's wake_up (spec 3.6).
func (c *Core) wakeUpSteps(force bool) []step {
	init := motion.InitHeadPose
	roll := geom.FromRT(geom.EulerXYZ(20*math.Pi/180, 0, 0), geom.Vec3{})
	return []step{
		{kind: stepWait, wait: 100 * time.Millisecond},
		{kind: stepPlan, plan: func(c *Core) []step {
			if !force && c.awakeAtInit() {
				return nil // already awake at init: no motion, no sound
			}
			return []step{
				c.gotoStep(&init, ptr(motion.InitAntennas), ptr(0.0), func(c *Core) float64 { return c.magicTo(init) * 20 / 1000 }, motion.MinJerk),
				{kind: stepWait, wait: 100 * time.Millisecond},
				{kind: stepSound, sound: "wake_up.wav"},
				c.gotoStep(&roll, nil, ptr(0.0), func(*Core) float64 { return 0.2 }, motion.MinJerk),
				c.gotoStep(&init, nil, ptr(0.0), func(*Core) float64 { return 0.2 }, motion.MinJerk),
			}
		}},
	}
}

// awakeAtInit is the reference's is_awake_at_init_pose: motors enabled and
// the commanded targets at the init pose.
func (c *Core) awakeAtInit() bool {
	if c.mode != messages.ModeEnabled || !c.t.hasHead || !c.t.hasAntennas {
		return false
	}
	if c.t.head.MaxAbsDiff(motion.InitHeadPose) > 1e-2 {
		return false
	}
	return math.Abs(c.t.antennas[0]-motion.InitAntennas[0]) <= 1e-2 && math.Abs(c.t.antennas[1]-motion.InitAntennas[1]) <= 1e-2
}

// sleepMagic is the radius around the sleep pose that counts as asleep.
const sleepMagic = 10.0

// IsAtSleepPose reports whether the measured head is within the sleep
// radius (false before the first FK).
func (c *Core) IsAtSleepPose() bool {
	return c.havePresent && c.magicTo(motion.SleepHeadPose) <= sleepMagic
}

// gotoSleepSteps is the reference's goto_sleep, decided from the pose at the
// time it starts.
func (c *Core) gotoSleepSteps() []step {
	// Quiesce the secondary aim sources first, as the reference does.
	if c.t.speech != ([6]float64{}) {
		c.t.speech = [6]float64{}
		c.t.ikRequired = true
	}
	init, sleep := motion.InitHeadPose, motion.SleepHeadPose
	var steps []step
	wait := 2 * time.Second
	if c.magicTo(sleep) > sleepMagic {
		if c.magicTo(init) > 30 {
			steps = append(steps,
				c.gotoStep(&init, ptr(motion.InitAntennas), ptr(0.0), func(*Core) float64 { return 1 }, motion.MinJerk),
				step{kind: stepWait, wait: 200 * time.Millisecond})
		}
		steps = append(steps,
			step{kind: stepSound, sound: "go_sleep.wav"},
			c.gotoStep(&sleep, ptr(motion.SleepAntennas), ptr(0.0), func(*Core) float64 { return 2 }, motion.MinJerk))
	} else {
		steps = append(steps, step{kind: stepSound, sound: "go_sleep.wav"})
		wait += 3 * time.Second
	}
	return append(steps,
		step{kind: stepWait, wait: wait},
		step{kind: stepMode, mode: messages.ModeDisabled})
}

// appStoppedSteps returns the robot to rest after an app stopped, decided
// from the pose at that time.
func (c *Core) appStoppedSteps() []step {
	if c.IsAtSleepPose() {
		return []step{{kind: stepMode, mode: messages.ModeDisabled}}
	}
	init := motion.InitHeadPose
	return []step{
		{kind: stepMode, mode: messages.ModeEnabled},
		{kind: stepWait, wait: 40 * time.Millisecond},
		c.gotoStep(&init, ptr(motion.InitAntennas), ptr(0.0), func(*Core) float64 { return 1 }, motion.MinJerk),
	}
}

// IsIdle reports whether the robot rests: motors disabled and the head at
// the sleep pose (the idle reset then has nothing to do).
func (c *Core) IsIdle() bool {
	return c.mode == messages.ModeDisabled && c.IsAtSleepPose()
}

// resetToSleepSteps is the reference's reset_to_sleep (daemon stop, idle
// reset): torque on (pinned), lift to init, then goto_sleep.
func (c *Core) resetToSleepSteps() []step {
	init := motion.InitHeadPose
	return []step{
		{kind: stepMode, mode: messages.ModeEnabled},
		// Let the pin reach the motors before lifting.
		{kind: stepWait, wait: 40 * time.Millisecond},
		c.gotoStep(&init, ptr(motion.InitAntennas), ptr(0.0), func(c *Core) float64 {
			return math.Max(0.3, math.Min(1.5, c.magicTo(init)*20/1000))
		}, motion.MinJerk),
		{kind: stepWait, wait: 200 * time.Millisecond},
		{kind: stepPlan, plan: (*Core).gotoSleepSteps},
	}
}

// advance runs the active move's steps at the tick of time at, whose goals
// are written at sampleAt (one period later). A timed step is sampled at
// sampleAt but ends only at the first tick at or after its end, once its
// last goals were written: so a move is never reported completed before
// its duration has elapsed since it was accepted. The next step starts
// where the previous one ended, so a sequence lasts the sum of its steps.
func (c *Core) advance(fx *Effects, at, sampleAt time.Time) {
	r := c.active
	for c.active == r {
		if r.cur == nil {
			if len(r.steps) == 0 {
				c.finish(fx, r, messages.MoveCompleted, "")
				return
			}
			s := r.steps[0]
			r.steps = r.steps[1:]
			switch s.kind {
			case stepSound:
				fx.Sounds = append(fx.Sounds, s.sound)
				continue
			case stepMode:
				fx.Modes = append(fx.Modes, s.mode)
				continue
			case stepPlan:
				r.steps = append(s.plan(c), r.steps...)
				continue
			case stepGoto:
				mv, err := s.build(c)
				if err != nil {
					c.finish(fx, r, messages.MoveFailed, err.Error())
					return
				}
				r.curMove = mv
			case stepPlay:
				r.curMove = s.move
			case stepWait:
				r.curMove = nil
			}
			r.cur = &s
			r.curStart = r.next
		}
		if r.cur.kind == stepWait {
			end := r.curStart.Add(r.cur.wait)
			if at.Before(end) {
				return
			}
			r.next, r.cur = end, nil
			continue
		}
		d := r.curMove.Duration()
		if d <= 0 {
			// The reference's loop never runs for a zero duration: the
			// targets stay untouched.
			r.cur, r.curMove = nil, nil
			continue
		}
		elapsed := math.Max(0, math.Min(d, sampleAt.Sub(r.curStart).Seconds()))
		c.applySample(r.curMove.Evaluate(elapsed))
		end := r.curStart.Add(time.Duration(math.Ceil(d * float64(time.Second))))
		if at.Before(end) {
			return
		}
		r.next, r.cur, r.curMove = end, nil, nil
	}
}

// finish ends a move and reports it.
func (c *Core) finish(fx *Effects, r *running, result messages.MoveResult, detail string) {
	if c.active == r {
		c.active = nil
	}
	fx.Events = append(fx.Events, messages.MoveEvent{Type: string(result), ID: r.id, Details: detail, Origin: r.origin})
	if r.kind == messages.MoveWakeUp && result == messages.MoveCompleted {
		fx.WakeUpDone = true
	}
	if r.origin == messages.OriginSDK {
		tp := messages.TaskProgress{ID: r.id}
		if result == messages.MoveFailed {
			tp.Error = detail
		}
		fx.Tasks = append(fx.Tasks, tp)
	}
	if r.notify != nil {
		fx.Done = append(fx.Done, Done{Notify: r.notify, Msg: messages.MoveDone{ID: r.id, Result: result, Detail: detail}})
	}
	fx.SaveNeeded = true
}

// ErrNoMove is the reply to a stop of an unknown move.
func errNoMove(id string) error {
	return &messages.Error{Kind: messages.KindNotFound, Detail: fmt.Sprintf("Running move with UUID %s not found", id), Reason: "move_not_found"}
}

// Stop cancels the move with this id. The targets stay where the move left
// them.
func (c *Core) Stop(id string) (Effects, error) {
	var fx Effects
	if c.active == nil || c.active.id != id {
		return fx, errNoMove(id)
	}
	c.finish(&fx, c.active, messages.MoveCancelled, "")
	return fx, nil
}

// StopAll cancels whatever move runs; it reports whether one did.
func (c *Core) StopAll() (Effects, bool) {
	var fx Effects
	if c.active == nil {
		return fx, false
	}
	c.finish(&fx, c.active, messages.MoveCancelled, "")
	return fx, true
}

// Running lists the running moves' ids (zero or one).
func (c *Core) Running() []string {
	if c.active == nil {
		return []string{}
	}
	return []string{c.active.id}
}

// MoveRunning reports whether a move runs.
func (c *Core) MoveRunning() bool { return c.active != nil }
