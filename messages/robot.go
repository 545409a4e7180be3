package messages

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/hw"
	"reachyd/hw/geom"
)

// MotorMode is the reference's MotorControlMode.
type MotorMode string

const (
	ModeEnabled             MotorMode = "enabled"
	ModeDisabled            MotorMode = "disabled"
	ModeGravityCompensation MotorMode = "gravity_compensation"
)

// MotorModes lists the modes in the reference's order.
var MotorModes = []MotorMode{ModeEnabled, ModeDisabled, ModeGravityCompensation}

// ParseMotorMode accepts the reference's enum strings.
func ParseMotorMode(s string) (MotorMode, bool) {
	for _, m := range MotorModes {
		if string(m) == s {
			return m, true
		}
	}
	return "", false
}

// EnumName is the Python enum member name the reference embeds in
// /api/motors/set_mode replies ("MotorControlMode.Enabled").
func (m MotorMode) EnumName() string {
	switch m {
	case ModeEnabled:
		return "Enabled"
	case ModeDisabled:
		return "Disabled"
	case ModeGravityCompensation:
		return "GravityCompensation"
	}
	return string(m)
}

// ---- the control tick --------------------------------------------------

// Tick is the motorbus actor's own clock message; Seq numbers the clock
// that sent it (one per incarnation of the actor), so a tick left over
// from before a restart is known.
type Tick struct{ Seq uint64 }

// Present is sent by motorbus to moves after every bus read: the measured
// positions and what motorbus accepts as goals.
type Present struct {
	Seq       uint64
	At        time.Time
	Period    time.Duration
	Positions hw.Positions
	Torque    hw.Mask
	Mode      MotorMode
	// Epoch is the goal epoch motorbus accepts. It grows whenever motorbus
	// pinned the goals to the present positions (torque coming on), so moves
	// must pin its targets too before its goals are written again.
	Epoch uint64
	// Fresh is false when this tick's read failed and Positions are the last
	// good ones.
	Fresh bool
}

// Pinned is sent by motorbus to moves when it has pinned the goals of the
// motors to Positions (read just before) and moved to Epoch, before torque
// comes on. motorbus sends it before it answers the mode or torque request,
// so moves pins its targets before any target sent after that answer, which
// then wins instead of being overwritten by the pin at the next tick.
type Pinned struct {
	Epoch     uint64
	Positions hw.Positions
}

// Goals is sent by moves to motorbus: the goal positions to write at the
// next tick. Goals of an older epoch are dropped.
type Goals struct {
	Epoch     uint64
	Positions hw.Positions
}

// RobotState is the state of one tick, built by moves and fanned out by the
// hub. It is immutable once sent.
type RobotState struct {
	Seq        uint64
	At         time.Time
	Mode       MotorMode
	HeadJoints [7]float64
	Antennas   [2]float64
	HeadPose   geom.Mat4

	HasTargetHeadPose bool
	TargetHeadPose    geom.Mat4
	HasTargetJoints   bool
	TargetHeadJoints  [7]float64
	HasTargetBodyYaw  bool
	TargetBodyYaw     float64
	HasTargetAntennas bool
	TargetAntennas    [2]float64

	MoveRunning bool
	Recording   bool
}

// ---- motorbus ------------------------------------------------------------

// SetMotorMode asks motorbus to change the motor mode. Reply: MotorModeSet or
// *Error.
type SetMotorMode struct{ Mode MotorMode }

// MotorModeSet is the reply to SetMotorMode.
type MotorModeSet struct{ Mode MotorMode }

// SetTorque switches torque for the named motors (nil Names: all, which is
// the same as setting the mode enabled or disabled). Reply: TorqueSet or
// *Error.
type SetTorque struct {
	Names []string
	On    bool
}

// TorqueSet is the reply to SetTorque.
type TorqueSet struct{}

// GetMotorStatus asks motorbus for the motor status. Reply: MotorStatus.
type GetMotorStatus struct{}

// MotorStatus is motorbus's view of the motors.
type MotorStatus struct {
	Mode   MotorMode
	Torque hw.Mask
	Modes  [hw.NumMotors]hw.OperatingMode
	// Health is the last health read, when the bus reports it (HaveHealth).
	Health     hw.Health
	HaveHealth bool
}

// RebootMotors reboots the named motors (nil: every motor with a latched
// hardware error), clearing latched errors; they come back with torque off.
// Reply: MotorsRebooted or *Error.
type RebootMotors struct{ Names []string }

// MotorsRebooted is the reply to RebootMotors.
type MotorsRebooted struct{ Names []string }

// RawWrite passes a raw packet to the bus (the reference's
// /api/move/ws/raw/write). Reply: RawReply or *Error.
type RawWrite struct{ Packet []byte }

// RawReply carries whatever the bus answered (possibly nothing).
type RawReply struct{ Data []byte }

// BackendStatus is pushed by motorbus to the daemon when it changes and once
// a second: what the reference reports as backend_status.
type BackendStatus struct {
	Ready bool
	Mode  MotorMode
	Error string
	// LastAlive is the time of the last successful read.
	LastAlive time.Time
	// Loop statistics over the last second.
	MeanHz     float64
	MaxPeriod  time.Duration
	ErrorCount uint64
	Controller string
	// Health of every motor, when the bus reports it.
	Health     hw.Health
	HaveHealth bool
}

// ---- moves ---------------------------------------------------------------

// SetTargets sets streamed targets; nil fields keep their value. Sent with a
// tell from streaming transports (/ws/sdk, WS set_target): the newest target
// wins at the next tick. Sent with an ask (REST), it is checked at once and
// the reply is TargetsSet or *Error (unreachable pose).
type SetTargets struct {
	Head     *geom.Mat4
	Antennas *[2]float64
	BodyYaw  *float64
}

// TargetsSet is the reply to an asked SetTargets. Ignored is true when a
// move runs (the reference's {"status":"ignored","reason":"move_running"}).
type TargetsSet struct {
	Ignored bool
	Reason  string
}

// SetHeadJoints sets the 7 head joint targets directly, bypassing IK.
type SetHeadJoints struct{ Joints [7]float64 }

// SetAutomaticBodyYaw switches automatic body yaw in IK.
type SetAutomaticBodyYaw struct{ On bool }

// MoveKind names the moves the scheduler runs.
type MoveKind string

const (
	MoveGoto         MoveKind = "goto"
	MoveWakeUp       MoveKind = "wake_up"
	MoveGotoSleep    MoveKind = "goto_sleep"
	MoveResetToSleep MoveKind = "reset_to_sleep"
	MoveRecorded     MoveKind = "recorded"
	// MoveAppStopped returns the robot to rest after an app stopped: limp
	// if the head is already at the sleep pose, else torque on and a 1 s
	// goto to the init pose (the reference's AppManager.stop_current_app).
	MoveAppStopped MoveKind = "app_stopped"
)

// MoveOrigin says which transport started a move, for the events it emits.
type MoveOrigin string

const (
	OriginREST   MoveOrigin = "rest"
	OriginSDK    MoveOrigin = "sdk"
	OriginDaemon MoveOrigin = "daemon"
)

// GotoParams is a goto request. Nil fields keep the present value; a nil
// BodyYaw keeps the present body yaw (the reference's REST semantics; the
// SDK sends 0.0 explicitly).
type GotoParams struct {
	Head     *geom.Mat4
	Antennas *[2]float64
	BodyYaw  *float64
	// Duration in seconds: positive, at most MaxMoveDuration.
	Duration float64
	Method   string
}

// MaxMoveDuration bounds a goto's duration and a recorded move's initial
// goto, in seconds (one hour). The reference has no bound; a longer move is
// a mistake (milliseconds given as seconds), and would hold the move slot
// for that long.
const MaxMoveDuration = 3600.0

// StartMove asks moves to run a move. ID is chosen by the caller (a UUID).
// Reply: MoveAccepted, or *Error (NotFound for an unknown recorded move,
// BadRequest for an unreachable goto target, Conflict with reason
// "move_running" when another move runs and Queue is false).
type StartMove struct {
	ID     string
	Kind   MoveKind
	Origin MoveOrigin
	Goto   GotoParams
	// Dataset and Move name a recorded move.
	Dataset     string
	Move        string
	InitialGoto float64
	// Force replays wake_up even when already awake at the init pose.
	Force bool
	// Preempt cancels the move that runs, if any, instead of refusing this
	// one (the daemon's sleep on stop).
	Preempt bool
	// Notify, if set, receives MoveDone when the move ends (the daemon uses
	// it for wake-up and sleep on start and stop).
	Notify *actor.PID
}

// MoveAccepted is the reply to StartMove.
type MoveAccepted struct{ ID string }

// MoveDone is sent to StartMove.Notify when the move ends.
type MoveDone struct {
	ID     string
	Result MoveResult
	Detail string
}

// MoveResult is the end of a move, as the reference's move events name it.
type MoveResult string

const (
	MoveCompleted MoveResult = "move_completed"
	MoveFailed    MoveResult = "move_failed"
	MoveCancelled MoveResult = "move_cancelled"
)

// MoveEvent is published by moves (through the hub) for
// /api/move/ws/updates and, for SDK-started gotos, as task_progress.
type MoveEvent struct {
	Type    string // move_started, move_completed, move_failed, move_cancelled
	ID      string
	Details string
	Origin  MoveOrigin
	At      time.Time
}

// StopMove cancels a running move. Reply: MoveStopped or *Error (NotFound).
type StopMove struct{ ID string }

// MoveStopped is the reply to StopMove.
type MoveStopped struct {
	ID      string
	Stopped bool
}

// StopAllMoves cancels whatever move runs (the SDK's stop_move). Reply:
// MoveStopped (Stopped false when nothing ran).
type StopAllMoves struct{}

// ListMoves asks for the running moves. Reply: RunningMoves.
type ListMoves struct{}

// RunningMoves is the reply to ListMoves.
type RunningMoves struct{ IDs []string }

// ListDataset asks for the moves of a recorded-move dataset. Reply:
// DatasetMoves or *Error (NotFound).
type ListDataset struct{ Dataset string }

// DatasetMoves is the reply to ListDataset.
type DatasetMoves struct{ Moves []string }

// StartRecording clears the record buffer and starts recording.
type StartRecording struct{}

// AppendRecord appends one client record (raw JSON object) while recording.
type AppendRecord struct{ Record []byte }

// StopRecording stops recording; moves broadcasts recorded_data.
type StopRecording struct{}

// GetPresent asks moves for the latest state. Reply: *RobotState or *Error.
type GetPresent struct{}

// RobotReady is sent by moves to the daemon after the first tick whose
// present pose is known.
type RobotReady struct{}

// OriginCommand is a move started by a fire-and-forget SDK command
// (goto_target, wake_up...): it reports move events but no task_progress.
const OriginCommand MoveOrigin = "command"

// SetSpeechOffsets sets the head wobbler's offsets [x, y, z (m), roll,
// pitch, yaw (rad)], composed in the world frame with the target pose
// before IK.
type SetSpeechOffsets struct{ Offsets [6]float64 }

// Upload is one of the SDK's upload and uploaded-playback commands
// (upload_move_start/chunk/finish, upload_audio_start/chunk/finish,
// play_uploaded_move, cancel_move, play_uploaded_audio, cancel_audio),
// validated by the gateway. The results are broadcast to every client as
// the reference does.
type Upload struct {
	Type        string
	UploadID    string
	TotalChunks int
	ChunkIndex  int
	Chunk       string
	Encoding    string
	Description string
	// play_uploaded_move
	PlayFrequency float64
	InitialGoto   float64
	AudioLeadMS   float64
}
