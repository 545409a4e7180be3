// Package dxlbus is the robot's motor bus: hw.Bus over a Dynamixel
// Protocol 2.0 client, for the real serial port and for the simulated
// motors alike. Opening it runs the reference's start-up sequence; each
// control tick then costs one sync write of the goals and one sync read of
// the present positions.
package dxlbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"reachyd/hw"
	"reachyd/hw/dynamixel"
	"reachyd/hw/robotcfg"
)

// Options configure the bus.
type Options struct {
	// Config is the hardware config (robotcfg.Default() unless loaded with
	// --hardware-config-filepath).
	Config robotcfg.Config
	// Client tunes the Dynamixel client once the bus is open; nil is tuned
	// for the control loop (see NewClientConfig).
	Client *dynamixel.Config
	// Startup tunes it during the start-up sequence; nil is the reference's
	// patience (see StartupClientConfig).
	Startup *dynamixel.Config
	// MinVoltage is the supply voltage every motor must report before the
	// bus is usable (the reference waits for 4.5 V).
	MinVoltage float64
	// VoltageWait bounds that wait (the reference waits 30 s; the motorbus
	// supervisor retries the whole open anyway).
	VoltageWait time.Duration
	// Reflash rewrites EEPROM values that differ from Config (the
	// reference's reflash_motors_if_needed).
	Reflash bool
	Log     *slog.Logger
	Now     func() time.Time
	Sleep   func(time.Duration)
}

// NewClientConfig is the client configuration for the control loop: a
// missing motor must cost one short timeout, not the reference's five
// attempts 20 ms apart, or it would stall every tick.
func NewClientConfig() dynamixel.Config {
	return dynamixel.Config{Attempts: 2, RetryPause: -1, Margin: 5 * time.Millisecond}
}

// StartupClientConfig is the client configuration of the start-up
// sequence: the reference's (its motor controller's reads try 5 times with
// a 10 ms serial timeout and sleep 20 ms between tries), so that a reply
// lost or damaged in one step does not fail the opening.
func StartupClientConfig() dynamixel.Config {
	return dynamixel.Config{
		Attempts:   dynamixel.DefaultAttempts,   // 5
		Margin:     dynamixel.DefaultMargin,     // 10 ms
		RetryPause: dynamixel.DefaultRetryPause, // 20 ms
	}
}

// Bus is a hw.Bus on Dynamixel motors. Not safe for concurrent use.
type Bus struct {
	opt    Options
	c      *dynamixel.Client
	closer io.Closer
	ids    [hw.NumMotors]byte
	names  map[byte]string

	pos    hw.Positions
	health hw.Health
	buf    []byte
	idsBuf []byte
}

var _ hw.Bus = (*Bus)(nil)

// Errors of the start-up sequence.
var (
	// ErrNoPower: not one motor answered (the reference's NoPowerError).
	ErrNoPower = errors.New("no motor answers: check that the robot is powered")
	// ErrMissingMotors: some motors did not answer.
	ErrMissingMotors = errors.New("missing motors")
	// ErrLowVoltage: the supply voltage stayed below the minimum.
	ErrLowVoltage = errors.New("supply voltage too low")
)

func busErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %s: %w", hw.ErrBus, op, err)
}

// Open runs the start-up sequence on port and returns the bus. closer
// (usually the port) is closed by Close.
func Open(port dynamixel.Port, closer io.Closer, opt Options) (*Bus, error) {
	if len(opt.Config.Motors) == 0 {
		opt.Config = robotcfg.Default()
	}
	if opt.MinVoltage == 0 {
		opt.MinVoltage = 4.5
	}
	if opt.VoltageWait <= 0 {
		opt.VoltageWait = 5 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Sleep == nil {
		opt.Sleep = time.Sleep
	}
	cc, sc := NewClientConfig(), StartupClientConfig()
	if opt.Client != nil {
		cc = *opt.Client
	}
	if opt.Startup != nil {
		sc = *opt.Startup
	}
	b := &Bus{opt: opt, c: dynamixel.NewClient(port, sc), closer: closer, names: map[byte]string{}}
	for i, m := range opt.Config.Motors {
		if i >= hw.NumMotors {
			break
		}
		b.ids[i] = m.ID
		b.names[m.ID] = m.Name
	}
	b.idsBuf = append(b.idsBuf[:0], b.ids[:]...)
	if err := b.startup(); err != nil {
		if closer != nil {
			_ = closer.Close()
		}
		return nil, err
	}
	b.c.SetConfig(cc)
	return b, nil
}

// Client exposes the Dynamixel client (raw passthrough, diagnostics).
func (b *Bus) Client() *dynamixel.Client { return b.c }

func (b *Bus) name(id byte) string {
	if n, ok := b.names[id]; ok {
		return fmt.Sprintf("%s (ID %d)", n, id)
	}
	return fmt.Sprintf("ID %d", id)
}

// startup is the reference's start-up sequence: every motor present, the
// supply voltage up, latched hardware errors cleared by a reboot, EEPROM
// values as configured, PID gains written. Each transaction is retried with
// the start-up client configuration.
func (b *Bus) startup() error {
	// 1. Presence.
	var missing []string
	for _, id := range b.ids {
		if _, _, err := b.c.Ping(id); err != nil {
			var ioe *dynamixel.IOError
			if errors.As(err, &ioe) {
				return busErr("ping", err) // the port itself failed
			}
			missing = append(missing, b.name(id))
		}
	}
	switch {
	case len(missing) == len(b.ids):
		return fmt.Errorf("%w (%s)", ErrNoPower, strings.Join(missing, ", "))
	case len(missing) > 0:
		return fmt.Errorf("%w: %s", ErrMissingMotors, strings.Join(missing, ", "))
	}
	// 2. Supply voltage.
	deadline := b.opt.Now().Add(b.opt.VoltageWait)
	for {
		low, err := b.lowVoltage()
		if err != nil {
			return err
		}
		if low == "" {
			break
		}
		if b.opt.Now().After(deadline) {
			return fmt.Errorf("%w: %s (need %.1f V)", ErrLowVoltage, low, b.opt.MinVoltage)
		}
		b.opt.Sleep(100 * time.Millisecond)
	}
	// 3. Latched hardware errors (other than input voltage alone): reboot.
	if err := b.rebootLatched(); err != nil {
		return err
	}
	// 4. EEPROM and PID.
	for _, m := range b.opt.Config.Motors {
		if b.opt.Reflash {
			changed, err := robotcfg.Apply(b.c, m)
			if err != nil {
				return fmt.Errorf("configuring %s: %w", b.name(m.ID), err)
			}
			for _, ch := range changed {
				b.opt.Log.Warn("motor EEPROM rewritten", "motor", m.Name, "field", ch.Field, "was", ch.Got, "now", ch.Want)
			}
		}
		if err := robotcfg.WritePID(b.c, m); err != nil {
			return fmt.Errorf("writing the PID gains of %s: %w", b.name(m.ID), err)
		}
	}
	// 5. Positions.
	if _, err := b.ReadPositions(); err != nil {
		return err
	}
	return nil
}

// lowVoltage returns a description of the motors below the minimum
// voltage, or "".
func (b *Bus) lowVoltage() (string, error) {
	res, err := b.c.SyncRead(dynamixel.AddrPresentInputVoltage, 2, b.idsBuf)
	if err != nil && !isPartial(err) {
		return "", busErr("read voltages", err)
	}
	var low []string
	for _, r := range res {
		if r.Err != nil {
			return "", busErr("read voltage of "+b.name(r.ID), r.Err)
		}
		v := float64(binary.LittleEndian.Uint16(r.Data)) / 10
		if v < b.opt.MinVoltage {
			low = append(low, fmt.Sprintf("%s at %.1f V", b.name(r.ID), v))
		}
	}
	return strings.Join(low, ", "), nil
}

func isPartial(err error) bool {
	var pe *dynamixel.PartialError
	return errors.As(err, &pe)
}

// rebootLatched reboots the motors whose hardware error is anything but the
// input-voltage bit alone, as the reference does at start.
func (b *Bus) rebootLatched() error {
	res, err := b.c.SyncRead(dynamixel.AddrHardwareErrorStatus, 1, b.idsBuf)
	if err != nil && !isPartial(err) {
		return busErr("read hardware errors", err)
	}
	var mask hw.Mask
	for i, r := range res {
		if r.Err == nil && r.Data[0] > 1 {
			b.opt.Log.Warn("motor has a latched hardware error; rebooting it", "motor", b.name(r.ID),
				"error", dynamixel.HardwareError(r.Data[0]).String())
			mask |= 1 << i
		}
	}
	if mask == 0 {
		return nil
	}
	return b.Reboot(mask)
}

// ReadPositions sync-reads the present positions. A motor that does not
// answer keeps its last position and makes the read an error naming it.
func (b *Bus) ReadPositions() (hw.Positions, error) {
	res, err := b.c.SyncRead(dynamixel.AddrPresentPosition, 4, b.idsBuf)
	if err != nil && !isPartial(err) {
		return b.pos, busErr("read positions", err)
	}
	now := b.opt.Now()
	var failed []string
	for i, r := range res {
		h := &b.health[i]
		if r.Err != nil {
			h.Answering = false
			failed = append(failed, b.name(r.ID))
			continue
		}
		b.pos[i] = dynamixel.TicksToRad(int32(binary.LittleEndian.Uint32(r.Data)))
		h.Answering, h.LastAnswer, h.Position = true, now, b.pos[i]
	}
	if len(failed) > 0 {
		return b.pos, fmt.Errorf("%w: no answer from %s", hw.ErrBus, strings.Join(failed, ", "))
	}
	return b.pos, nil
}

// WriteGoalPositions sync-writes goal positions to the motors in mask.
func (b *Bus) WriteGoalPositions(goal hw.Positions, mask hw.Mask) error {
	if !goal.IsFinite() {
		return fmt.Errorf("dxlbus: non-finite goal %v", goal)
	}
	b.buf = b.buf[:0]
	var idb [hw.NumMotors]byte
	n := 0
	for i := 0; i < hw.NumMotors; i++ {
		if !mask.Has(i) {
			continue
		}
		idb[n] = b.ids[i]
		n++
		b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(dynamixel.RadToTicks(goal[i])))
	}
	if n == 0 {
		return nil
	}
	return busErr("write goals", b.c.SyncWrite(dynamixel.AddrGoalPosition, 4, idb[:n], b.buf))
}

// WriteGoalCurrents sync-writes goal currents (mA) to the motors in mask.
func (b *Bus) WriteGoalCurrents(cur [hw.NumMotors]int16, mask hw.Mask) error {
	var idb [hw.NumMotors]byte
	n := 0
	b.buf = b.buf[:0]
	for i := 0; i < hw.NumMotors; i++ {
		if mask.Has(i) {
			idb[n] = b.ids[i]
			n++
			b.buf = binary.LittleEndian.AppendUint16(b.buf, uint16(cur[i]))
		}
	}
	if n == 0 {
		return nil
	}
	return busErr("write goal currents", b.c.SyncWrite(dynamixel.AddrGoalCurrent, 2, idb[:n], b.buf))
}

// ReadState sync-reads torque enable and operating modes.
func (b *Bus) ReadState() (hw.MotorState, error) {
	var st hw.MotorState
	res, err := b.c.SyncRead(dynamixel.AddrTorqueEnable, 1, b.idsBuf)
	if err != nil {
		return st, busErr("read torque", err)
	}
	for i, r := range res {
		if r.Data[0] != 0 {
			st.Torque |= 1 << i
		}
	}
	res, err = b.c.SyncRead(dynamixel.AddrOperatingMode, 1, b.idsBuf)
	if err != nil {
		return st, busErr("read operating modes", err)
	}
	for i, r := range res {
		st.Modes[i] = hw.OperatingMode(r.Data[0])
	}
	return st, nil
}

func (b *Bus) syncWriteByte(addr uint16, mask hw.Mask, v byte) error {
	var idb, data [hw.NumMotors]byte
	n := 0
	for i := 0; i < hw.NumMotors; i++ {
		if mask.Has(i) {
			idb[n], data[n] = b.ids[i], v
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return b.c.SyncWrite(addr, 1, idb[:n], data[:n])
}

// SetTorque switches torque for the motors in mask. A sync write has no
// status, so the result is read back: a motor that refused (a latched
// hardware error keeps torque off) is an error naming it.
func (b *Bus) SetTorque(mask hw.Mask, on bool) error {
	v := byte(0)
	if on {
		v = 1
	}
	if err := b.syncWriteByte(dynamixel.AddrTorqueEnable, mask, v); err != nil {
		return busErr("write torque", err)
	}
	return b.verify(dynamixel.AddrTorqueEnable, mask, v, "torque enable")
}

// SetOperatingMode sets the operating mode of the motors in mask (torque
// must be off: the register is in EEPROM), verified by a read-back.
func (b *Bus) SetOperatingMode(mask hw.Mask, mode hw.OperatingMode) error {
	if err := b.syncWriteByte(dynamixel.AddrOperatingMode, mask, byte(mode)); err != nil {
		return busErr("write operating mode", err)
	}
	return b.verify(dynamixel.AddrOperatingMode, mask, byte(mode), "operating mode")
}

func (b *Bus) verify(addr uint16, mask hw.Mask, want byte, what string) error {
	res, err := b.c.SyncRead(addr, 1, b.idsBuf)
	if err != nil && !isPartial(err) {
		return busErr("read back "+what, err)
	}
	var bad []string
	for i, r := range res {
		if !mask.Has(i) {
			continue
		}
		if r.Err != nil || r.Data[0] != want {
			bad = append(bad, b.name(r.ID))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s not applied on %s", hw.ErrBus, what, strings.Join(bad, ", "))
	}
	return nil
}

// ReadHealth reads hardware error, voltage and temperature of every motor:
// two sync reads, for the once-a-second health check.
func (b *Bus) ReadHealth() (hw.Health, error) {
	now := b.opt.Now()
	res, err := b.c.SyncRead(dynamixel.AddrHardwareErrorStatus, 1, b.idsBuf)
	if err != nil && !isPartial(err) {
		return b.health, busErr("read hardware errors", err)
	}
	for i, r := range res {
		if r.Err == nil {
			b.health[i].HardwareError = r.Data[0]
			b.health[i].Answering, b.health[i].LastAnswer = true, now
		} else {
			b.health[i].Answering = false
		}
	}
	res, err = b.c.SyncRead(dynamixel.AddrPresentInputVoltage, 3, b.idsBuf)
	if err != nil && !isPartial(err) {
		return b.health, busErr("read voltages", err)
	}
	for i, r := range res {
		if r.Err == nil {
			b.health[i].Voltage = float64(binary.LittleEndian.Uint16(r.Data)) / 10
			b.health[i].Temperature = float64(r.Data[2])
		}
	}
	return b.health, nil
}

// Reboot reboots the motors in mask and waits up to a second for each to
// answer again.
func (b *Bus) Reboot(mask hw.Mask) error {
	var failed []string
	for i := 0; i < hw.NumMotors; i++ {
		if !mask.Has(i) {
			continue
		}
		id := b.ids[i]
		// A lost or damaged status does not say the reboot failed: the
		// pings below tell whether the motor came back.
		if err := b.c.Reboot(id); err != nil && !errors.Is(err, dynamixel.ErrTimeout) && !errors.Is(err, dynamixel.ErrCorrupt) {
			failed = append(failed, fmt.Sprintf("%s: %v", b.name(id), err))
			continue
		}
		deadline := b.opt.Now().Add(time.Second)
		for {
			b.opt.Sleep(20 * time.Millisecond)
			if _, _, err := b.c.Ping(id); err == nil {
				break
			}
			if b.opt.Now().After(deadline) {
				failed = append(failed, b.name(id)+": does not answer after the reboot")
				break
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: reboot: %s", hw.ErrBus, strings.Join(failed, "; "))
	}
	return nil
}

// WriteRaw passes a raw packet through and returns whatever came back.
func (b *Bus) WriteRaw(packet []byte, wait time.Duration) ([]byte, error) {
	out, err := b.c.WriteRaw(packet, wait)
	return append([]byte(nil), out...), busErr("raw write", err)
}

// Close releases the port.
func (b *Bus) Close() error {
	if b.closer == nil {
		return nil
	}
	err := b.closer.Close()
	b.closer = nil
	return err
}
