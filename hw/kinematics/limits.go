package kinematics

import "math"

// The ranges a client's motion values may take. Targets outside them are
// refused where they enter the daemon (422 over REST, a warning for streamed
// targets): they can never be reached, and the motor would refuse the goal
// silently (a sync write has no status) or the IK would clamp it without a
// word.
const (
	// MaxBodyYaw is the body's joint limit in radians (±160°): the URDF's
	// yaw_body range, which the automatic body yaw also clamps to.
	MaxBodyYaw = maxBodyYaw
	// MaxAntenna bounds an antenna target in radians: one turn of the
	// motor, whose Position Limits are 0..4095 ticks (-π .. π), and the
	// URDF's ±π.
	MaxAntenna = math.Pi
)

// AntennaGoalMin and AntennaGoalMax are the antenna goals the motors
// accept (ticks 0 and 4095). A target of exactly π would be tick 4096,
// which the motor refuses: goals are clamped to this range.
var (
	AntennaGoalMin = tickToRad(0)
	AntennaGoalMax = tickToRad(4095)
)

// ClampAntenna returns a within [AntennaGoalMin, AntennaGoalMax], and
// whether a was beyond ±MaxAntenna (more than the last tick's rounding, so
// worth reporting).
func ClampAntenna(a float64) (float64, bool) {
	out := math.Abs(a) > MaxAntenna
	return math.Max(AntennaGoalMin, math.Min(AntennaGoalMax, a)), out
}
