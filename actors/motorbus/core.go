// Package motorbus is the actor that owns the motor bus: it runs the control
// clock, writes goal positions and reads present positions once per tick,
// applies motor modes and torque, and reports the backend's health.
//
// The Core holds the decisions (which goals to write, which epoch they
// belong to, which bus operations a mode change needs, loop statistics); the
// actor shell performs the bus I/O the core asks for.
package motorbus

import (
	"fmt"
	"strings"
	"time"

	"reachyd/hw"
	"reachyd/messages"
)

// NoResponseError is the reference's error after a second without answers.
const NoResponseError = "No response from the robot's motor for the last second."

// OpKind is a bus operation a mode or torque change needs.
type OpKind int

const (
	// OpTorque switches torque of Mask to On.
	OpTorque OpKind = iota
	// OpMode sets the operating mode of Mask.
	OpMode
	// OpPin reads the present positions and writes them as the goals of
	// Mask, then moves to a new goal epoch, so nothing snaps when torque
	// comes on.
	OpPin
)

// Op is one bus operation.
type Op struct {
	Kind OpKind
	Mask hw.Mask
	On   bool
	Mode hw.OperatingMode
}

func (o Op) String() string {
	switch o.Kind {
	case OpTorque:
		return fmt.Sprintf("torque %v on %09b", o.On, o.Mask)
	case OpMode:
		return fmt.Sprintf("mode %d on %09b", o.Mode, o.Mask)
	default:
		return fmt.Sprintf("pin %09b", o.Mask)
	}
}

// Config tunes the core.
type Config struct {
	// WriteAlways writes goals to every motor, torque or not (the mockup
	// semantics, where a limp motor still follows its goal).
	WriteAlways bool
	// AllowGravity accepts gravity_compensation. The simulator accepts it
	// (its head holds still with no gravity); the real robot refuses it
	// until gravity torques can be computed.
	AllowGravity bool
	// GravityRefusal is the detail of the 400 when AllowGravity is false.
	GravityRefusal string
	// Controller names the bus for status ("sim", "dynamixel /dev/ttyACM0").
	Controller string
	// VoltageSettle is how long the input voltage warning must stay away
	// before it counts as cleared (default DefaultVoltageSettle), so that a
	// supply hovering at a limit does not log a line per health read.
	VoltageSettle time.Duration
}

// DefaultVoltageSettle is Config.VoltageSettle's default.
const DefaultVoltageSettle = 3 * time.Second

// Core is motorbus's state machine. Not safe for concurrent use.
type Core struct {
	cfg Config

	epoch    uint64
	goal     hw.Positions
	haveGoal bool

	state     hw.MotorState
	haveState bool
	mode      messages.MotorMode
	// partial records a per-motor torque change since the last mode change:
	// the next mode request is applied even if the mode looks unchanged.
	partial bool

	present   hw.Positions
	haveRead  bool
	lastAlive time.Time
	started   time.Time
	errText   string

	// loop statistics over the current one-second window
	winStart  time.Time
	winTicks  int
	maxPeriod time.Duration
	lastTick  time.Time
	errCount  uint64
	stats     messages.BackendStatus

	health     hw.Health
	haveHealth bool
	// faultText is the latched hardware errors as the backend's error.
	faultText string
	// The input voltage warning: on since it appeared on the motors in
	// voltMotors; voltClear is when it was last seen gone (zero while it
	// shows).
	voltOn     bool
	voltMotors hw.Mask
	voltClear  time.Time
	// currents are the goal currents (mA) of motors in current mode: zero,
	// which holds the head still in the simulator; the real robot refuses
	// the mode that would use them (no gravity model).
	currents [hw.NumMotors]int16
}

// NewCore returns a core; restore it from a Snapshot when the actor restarts.
func NewCore(cfg Config) *Core {
	return &Core{cfg: cfg, mode: messages.ModeEnabled}
}

// Snapshot is the part of the core that must survive a restart of the
// actor: the goal epoch and the goals written, so moves's goals stay valid
// and the motors keep their targets.
type Snapshot struct {
	Epoch    uint64
	Goal     hw.Positions
	HaveGoal bool
	Mode     messages.MotorMode
	Partial  bool
	ErrCount uint64
}

// Snapshot returns the state to keep across restarts.
func (c *Core) Snapshot() Snapshot {
	return Snapshot{Epoch: c.epoch, Goal: c.goal, HaveGoal: c.haveGoal, Mode: c.mode, Partial: c.partial, ErrCount: c.errCount}
}

// Restore loads a snapshot.
func (c *Core) Restore(s Snapshot) {
	c.epoch, c.goal, c.haveGoal, c.partial, c.errCount = s.Epoch, s.Goal, s.HaveGoal, s.Partial, s.ErrCount
	if s.Mode != "" {
		c.mode = s.Mode
	}
}

// Opened records the motor state read when the bus was (re)opened and
// infers the mode as the reference does: torque off -> disabled; Stewart
// motors in position mode -> enabled; in current mode -> gravity
// compensation.
func (c *Core) Opened(st hw.MotorState, pos hw.Positions, now time.Time) {
	c.state, c.haveState = st, true
	c.present, c.haveRead = pos, true
	c.lastAlive = now
	if c.started.IsZero() {
		c.started = now
	}
	c.errText = ""
	c.mode = inferMode(st, c.mode)
	if !c.haveGoal {
		// First open: hold where the motors are.
		c.goal, c.haveGoal = pos, true
	}
}

func inferMode(st hw.MotorState, prev messages.MotorMode) messages.MotorMode {
	switch {
	case st.Torque&hw.AllMotors == 0:
		return messages.ModeDisabled
	case st.Torque&hw.AllMotors != hw.AllMotors:
		// Partial torque: keep what was last asked for.
		if prev == "" {
			return messages.ModeEnabled
		}
		return prev
	case st.Modes[hw.Stewart1] == hw.ModeCurrent:
		return messages.ModeGravityCompensation
	default:
		return messages.ModeEnabled
	}
}

// Epoch returns the current goal epoch.
func (c *Core) Epoch() uint64 { return c.epoch }

// Mode returns the current motor mode.
func (c *Core) Mode() messages.MotorMode { return c.mode }

// State returns the cached torque and operating modes.
func (c *Core) State() hw.MotorState { return c.state }

// AcceptGoals stores goals from moves for the next tick when they belong to
// the current epoch; stale ones are dropped.
func (c *Core) AcceptGoals(g messages.Goals) bool {
	if g.Epoch != c.epoch || !g.Positions.IsFinite() {
		return false
	}
	c.goal, c.haveGoal = g.Positions, true
	return true
}

// WritePlan says what to write this tick: the goals, to the motors under
// torque in a position mode (every motor with WriteAlways).
func (c *Core) WritePlan() (hw.Positions, hw.Mask, bool) {
	if !c.haveGoal {
		return hw.Positions{}, 0, false
	}
	if c.cfg.WriteAlways {
		return c.goal, hw.AllMotors, true
	}
	var mask hw.Mask
	for i := 0; i < hw.NumMotors; i++ {
		if c.state.Torque.Has(i) && positionMode(c.state.Modes[i]) {
			mask |= 1 << i
		}
	}
	return c.goal, mask, mask != 0
}

func positionMode(m hw.OperatingMode) bool {
	return m == hw.ModePosition || m == hw.ModeExtendedPosition || m == hw.ModeCurrentPosition
}

// CurrentPlan says which goal currents to write this tick: to the motors
// under torque in current mode.
func (c *Core) CurrentPlan() ([hw.NumMotors]int16, hw.Mask, bool) {
	var mask hw.Mask
	for i := 0; i < hw.NumMotors; i++ {
		if c.state.Torque.Has(i) && c.state.Modes[i] == hw.ModeCurrent {
			mask |= 1 << i
		}
	}
	return c.currents, mask, mask != 0
}

// HealthEventKind is what a health read revealed.
type HealthEventKind int

const (
	// ErrorLatched: a motor's latched hardware error appeared or changed.
	ErrorLatched HealthEventKind = iota
	// ErrorCleared: a motor's latched hardware error is gone (it was
	// rebooted).
	ErrorCleared
	// VoltageWarning: the input voltage bit appeared on Motors.
	VoltageWarning
	// VoltageCleared: the input voltage bit has been gone for
	// Config.VoltageSettle.
	VoltageCleared
)

// HealthEvent is one thing to report after a health read.
type HealthEvent struct {
	Kind HealthEventKind
	// Motor is the motor of ErrorLatched and ErrorCleared; Motors those of
	// VoltageWarning and VoltageCleared.
	Motor  int
	Motors hw.Mask
	// Bits are the latched error bits (ErrorLatched).
	Bits uint8
}

// latchedBits are the hardware error bits other than the input voltage:
// the motor cut its torque and only a reboot clears them. The input voltage
// bit shows while the supply is outside the motor's limits and clears by
// itself (Reachy Mini's shutdown mask, 52, leaves it out).
func latchedBits(e uint8) uint8 { return e &^ 1 }

// HealthRead records a health read taken at now and returns what to
// report: each motor's latched error when it appears, changes or clears,
// and the input voltage warning once when it appears and once when it has
// been gone for Config.VoltageSettle. A latched error is also the backend's
// error (Status) until it clears.
func (c *Core) HealthRead(h hw.Health, now time.Time) []HealthEvent {
	var out []HealthEvent
	var volt hw.Mask
	for i := range h {
		cur, prev := latchedBits(h[i].HardwareError), latchedBits(c.health[i].HardwareError)
		switch {
		case cur != prev && cur != 0:
			out = append(out, HealthEvent{Kind: ErrorLatched, Motor: i, Bits: cur})
		case cur != prev && c.haveHealth:
			out = append(out, HealthEvent{Kind: ErrorCleared, Motor: i})
		}
		if h[i].HardwareError&1 != 0 {
			volt |= 1 << i
		}
	}
	settle := c.cfg.VoltageSettle
	if settle <= 0 {
		settle = DefaultVoltageSettle
	}
	switch {
	case volt != 0 && !c.voltOn:
		c.voltOn, c.voltMotors = true, volt
		out = append(out, HealthEvent{Kind: VoltageWarning, Motors: volt})
	case volt != 0:
		c.voltMotors |= volt
		c.voltClear = time.Time{}
	case c.voltOn && c.voltClear.IsZero():
		c.voltClear = now
	case c.voltOn && now.Sub(c.voltClear) >= settle:
		out = append(out, HealthEvent{Kind: VoltageCleared, Motors: c.voltMotors})
		c.voltOn, c.voltMotors, c.voltClear = false, 0, time.Time{}
	}
	c.health, c.haveHealth = h, true
	c.faultText = faultText(h)
	return out
}

// HardwareErrorText names latched error bits for people: "overload",
// "overheating, electrical shock".
func HardwareErrorText(bits uint8) string {
	names := hw.HardwareErrorNames(bits)
	for i, n := range names {
		names[i] = strings.ReplaceAll(n, "_", " ")
	}
	return strings.Join(names, ", ")
}

// faultText is the backend's error for the latched errors in h, one
// sentence per motor: "Motor stewart_2 (ID 12) hardware error: overload".
func faultText(h hw.Health) string {
	var parts []string
	for i := range h {
		if b := latchedBits(h[i].HardwareError); b != 0 {
			parts = append(parts, fmt.Sprintf("Motor %s (ID %d) hardware error: %s", hw.MotorNames[i], hw.MotorIDs[i], HardwareErrorText(b)))
		}
	}
	return strings.Join(parts, "; ")
}

// StateRead refreshes the cached torque and operating modes (a motor cuts
// its own torque on a latched hardware error) without changing the mode
// that was asked for.
func (c *Core) StateRead(st hw.MotorState) { c.state, c.haveState = st, true }

// Health returns the last health read.
func (c *Core) Health() (hw.Health, bool) { return c.health, c.haveHealth }

// ReadDone records the result of a tick's read and returns the Present
// message for moves. After a second without a good read it sets the
// reference's error, which the shell treats as fatal.
func (c *Core) ReadDone(seq uint64, pos hw.Positions, err error, now time.Time, period time.Duration) messages.Present {
	c.noteTick(now)
	fresh := err == nil
	if fresh {
		c.present, c.haveRead = pos, true
		c.lastAlive = now
		c.errText = ""
	} else {
		c.errCount++
		if c.lastAlive.IsZero() || now.Sub(c.lastAlive) > time.Second {
			c.errText = NoResponseError
		}
	}
	return messages.Present{
		Seq: seq, At: now, Period: period, Positions: c.present,
		Torque: c.state.Torque, Mode: c.mode, Epoch: c.epoch, Fresh: fresh && c.haveRead,
	}
}

// Dead reports whether the bus has not answered for over a second.
func (c *Core) Dead() bool { return c.errText == NoResponseError }

func (c *Core) noteTick(now time.Time) {
	if !c.lastTick.IsZero() {
		if p := now.Sub(c.lastTick); p > c.maxPeriod {
			c.maxPeriod = p
		}
	}
	c.lastTick = now
	if c.winStart.IsZero() {
		c.winStart = now
	}
	c.winTicks++
	if w := now.Sub(c.winStart); w >= time.Second {
		c.stats.MeanHz = float64(c.winTicks) / w.Seconds()
		c.stats.MaxPeriod = c.maxPeriod
		c.winStart, c.winTicks, c.maxPeriod = now, 0, 0
	}
}

// Status returns the backend status as the daemon reports it.
func (c *Core) Status() messages.BackendStatus {
	s := c.stats
	s.Ready = c.haveRead && c.errText == ""
	s.Mode = c.mode
	s.Error = c.errText
	if s.Error == "" {
		// A latched hardware error is the backend's error, in the
		// reference's own field, while the loop keeps running.
		s.Error = c.faultText
	}
	s.LastAlive = c.lastAlive
	s.ErrorCount = c.errCount
	s.Controller = c.cfg.Controller
	s.Health, s.HaveHealth = c.health, c.haveHealth
	return s
}

// OpenFailed records why the bus could not be opened, for status.
func (c *Core) OpenFailed(err error) { c.errText = err.Error() }

// Rebooted records motors rebooted: they come back with torque off and
// their goals at their present positions.
func (c *Core) Rebooted(mask hw.Mask) {
	c.state.Torque &^= mask
	c.partial = true
}

// PlanMode returns the bus operations that put the motors in mode m, in
// order. An unchanged mode needs none (unless per-motor torque was changed
// since).
func (c *Core) PlanMode(m messages.MotorMode) ([]Op, error) {
	if m == messages.ModeGravityCompensation && !c.cfg.AllowGravity {
		detail := c.cfg.GravityRefusal
		if detail == "" {
			detail = "gravity_compensation is not available on this backend"
		}
		return nil, &messages.Error{Kind: messages.KindBadRequest, Detail: detail, Reason: "gravity_unavailable"}
	}
	if m == c.mode && !c.partial && c.haveState && inferMode(c.state, c.mode) == m {
		return nil, nil
	}
	var ops []Op
	switch m {
	case messages.ModeEnabled:
		if c.anyMode(hw.AllMotors, func(om hw.OperatingMode) bool { return om != hw.ModePosition }) {
			ops = append(ops, Op{Kind: OpTorque, Mask: hw.AllMotors, On: false},
				Op{Kind: OpMode, Mask: hw.AllMotors, Mode: hw.ModePosition})
		}
		ops = append(ops, Op{Kind: OpPin, Mask: hw.AllMotors}, Op{Kind: OpTorque, Mask: hw.AllMotors, On: true})
	case messages.ModeDisabled:
		ops = append(ops, Op{Kind: OpTorque, Mask: hw.AllMotors, On: false})
	case messages.ModeGravityCompensation:
		// As the reference: head in current mode, body and antennas back
		// under torque in position mode holding their goals.
		ops = append(ops,
			Op{Kind: OpTorque, Mask: hw.AllMotors, On: false},
			Op{Kind: OpMode, Mask: hw.StewartMotors, Mode: hw.ModeCurrent},
			Op{Kind: OpPin, Mask: hw.AllMotors},
			Op{Kind: OpTorque, Mask: hw.AllMotors, On: true})
	default:
		return nil, &messages.Error{Kind: messages.KindUnprocessable, Detail: fmt.Sprintf("unknown motor mode %q", m)}
	}
	return ops, nil
}

// PlanTorque returns the operations for a per-motor torque change.
func (c *Core) PlanTorque(mask hw.Mask, on bool) []Op {
	if on {
		return []Op{{Kind: OpPin, Mask: mask}, {Kind: OpTorque, Mask: mask, On: true}}
	}
	return []Op{{Kind: OpTorque, Mask: mask, On: false}}
}

func (c *Core) anyMode(mask hw.Mask, pred func(hw.OperatingMode) bool) bool {
	for i := 0; i < hw.NumMotors; i++ {
		if mask.Has(i) && pred(c.state.Modes[i]) {
			return true
		}
	}
	return false
}

// Applied records the effect of one successful operation. For OpPin, pos
// are the positions read and written as goals; the epoch moves on.
func (c *Core) Applied(op Op, pos hw.Positions) {
	switch op.Kind {
	case OpTorque:
		if op.On {
			c.state.Torque |= op.Mask
		} else {
			c.state.Torque &^= op.Mask
		}
	case OpMode:
		for i := 0; i < hw.NumMotors; i++ {
			if op.Mask.Has(i) {
				c.state.Modes[i] = op.Mode
			}
		}
	case OpPin:
		for i := 0; i < hw.NumMotors; i++ {
			if op.Mask.Has(i) {
				c.goal[i] = pos[i]
			}
		}
		c.haveGoal = true
		c.present, c.haveRead = pos, true
		c.epoch++
	}
}

// ModeDone records that a mode change completed.
func (c *Core) ModeDone(m messages.MotorMode) {
	c.mode = m
	c.partial = false
}

// TorqueDone records that a per-motor torque change completed.
func (c *Core) TorqueDone() {
	c.partial = true
	c.mode = inferMode(c.state, c.mode)
}
