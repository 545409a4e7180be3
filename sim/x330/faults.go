package x330

import (
	"math"
	"time"

	dxl "reachyd/hw/dynamixel"
)

// Fault injection. Every method is safe to call while traffic runs, and
// each fault has its way back: SetAlive(id, true), InjectGarbage(0),
// CorruptNext(0), ClearReplyFaults, SetVoltage(DefaultVoltage),
// SetTemperature(id, DefaultTemperature), Replug; a latched hardware error
// needs a Reboot instruction, as on the real motor.

// SetAlive makes the motor with ID id stop hearing and answering the bus
// (false), as if its cable were cut, or come back (true) with its state as
// it was. It reports whether such a motor exists.
func (b *Bus) SetAlive(id byte, alive bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.find(id)
	if m == nil {
		return false
	}
	m.mu.Lock()
	m.alive = alive
	m.mu.Unlock()
	return true
}

// InjectGarbage sends n random bytes (from Options.Seed) just before the
// next status packet; 0 cancels.
func (b *Bus) InjectGarbage(n int) {
	b.mu.Lock()
	b.garbage = max(n, 0)
	b.mu.Unlock()
}

// ReplyFault damages the next Count status packets one motor sends: lost
// (Drop), damaged (Corrupt: a bad CRC) or late (Delay: readable that long
// after it would have been, as when a motor or the USB adapter answers
// after the host's timeout). The byte stream keeps its order, as a serial
// line does: replies sent after a late one arrive after it. A Fast Sync
// Read reply, built by several motors together, is not affected.
type ReplyFault struct {
	ID byte
	// Inst limits the fault to replies to this instruction (0: any).
	Inst    dxl.Instruction
	Count   int
	Drop    bool
	Corrupt bool
	Delay   time.Duration
}

// InjectReplyFault adds f; faults on the same motor are spent in the order
// they were added. A Count below 1 counts as 1.
func (b *Bus) InjectReplyFault(f ReplyFault) {
	f.Count = max(f.Count, 1)
	b.mu.Lock()
	b.replyF = append(b.replyF, f)
	b.mu.Unlock()
}

// ClearReplyFaults cancels the reply faults not yet spent.
func (b *Bus) ClearReplyFaults() {
	b.mu.Lock()
	b.replyF = nil
	b.mu.Unlock()
}

// CorruptNext damages the CRC of the next n status packets (a Fast Sync
// Read reply counts as one); 0 cancels.
func (b *Bus) CorruptNext(n int) {
	b.mu.Lock()
	b.corrupt = max(n, 0)
	b.mu.Unlock()
}

// InjectHardwareError latches bits in Hardware Error Status (70) of the
// motor with ID id, as a detected fault would: every status from it then
// carries the alert bit, and if a bit is in its Shutdown mask (63) the
// torque goes off and stays off until a Reboot, which alone clears them.
func (b *Bus) InjectHardwareError(id byte, bits dxl.HardwareError) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.find(id)
	if m == nil {
		return false
	}
	m.mu.Lock()
	m.advance()
	m.fault(bits)
	m.mu.Unlock()
	return true
}

// SetVoltage sets the supply voltage of every motor. Outside a motor's
// voltage limits (32/34) its Input Voltage bit (0) is set: latched with
// the torque cut if its Shutdown mask has bit 0 (the factory's 53), shown
// only while the cause lasts otherwise (Reachy Mini's 52). Motors keep
// answering at any voltage: use SetAlive for a power loss.
func (b *Bus) SetVoltage(volts float64) {
	v := int64(math.Round(volts * 10))
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.motors {
		m.mu.Lock()
		m.advance()
		m.voltage = v
		m.check()
		m.mu.Unlock()
	}
}

// SetTemperature sets the temperature of the motor with ID id. Above its
// Temperature Limit (31) its Overheating bit (2) is set, latching and
// cutting the torque when the Shutdown mask has bit 2 (it does by default).
func (b *Bus) SetTemperature(id byte, celsius int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.find(id)
	if m == nil {
		return false
	}
	m.mu.Lock()
	m.advance()
	m.temp = int64(celsius)
	m.check()
	m.mu.Unlock()
	return true
}

// Unplug pulls the USB cable: every open Port fails from now on (reads and
// writes with EIO, as a vanished tty does) and Open fails with a not-found
// error until Replug. The motors keep their state and keep moving toward
// their goals: the bridge going away does not power-cycle a bus powered
// separately, as Reachy Mini's is.
func (b *Bus) Unplug() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unplugged = true
	for h := range b.handles {
		h.gone = true
		h.signal()
		delete(b.handles, h)
	}
}

// Replug plugs the cable back: Open works again. Ports opened before the
// unplug stay dead; the host must reopen, as with a real device.
func (b *Bus) Replug() {
	b.mu.Lock()
	b.unplugged = false
	b.mu.Unlock()
}
