// Package x330 simulates Reachy Mini's Dynamixel X330 motors behind a
// Protocol 2.0 byte stream, so that the daemon's real codec, client and
// motor bus actor run unchanged against them: a Bus parses the instruction
// packets a host writes to a Port (Bus.Open, or a pseudo-terminal with
// ServePTY) and answers with status packets as the devices do, with the
// e-manual's control table rules, the 1 Mbps half-duplex timing if asked,
// and injectable faults.
//
// Choices where the e-manual leaves behaviour open:
//   - Errors of a write are checked in the order Access (undefined or
//     read-only address), Data Length (a field written in part), Access
//     (EEPROM under torque), Data Range (value outside the field's range,
//     goal position outside the position limits in mode 3 included); a
//     write is all-or-nothing. Reading bytes past the table (148) is an
//     Access Error, as the e-manual says of undefined addresses; gaps
//     inside it read as 0.
//   - Turning torque on after a shutdown fails with Result Fail (the
//     e-manual's answer when torque cannot be enabled): only a Reboot
//     restores it.
//   - Hardware errors in the Shutdown mask latch until a Reboot; others
//     show in register 70 (and the alert bit) only while their cause
//     lasts. Injected errors latch.
//   - Clear supports mode 0x01 (multi-turn); other modes answer Result
//     Fail, so errors clear by Reboot only.
//   - A motor hears the bus only at the bus's baud rate, so FactoryReset
//     without "keep baud" makes it vanish from a 1 Mbps bus.
//   - A status obeys the Status Return Level in force when the
//     instruction arrived: the write that changes the level is answered
//     as the old level says.
//   - Corrupted instruction packets are dropped silently (the parser
//     cannot tell whose they were); the host sees a timeout.
//   - Torque on does not reset the goal position: the host must pin goals
//     to present first, as the reference daemon does. A reboot sets the
//     goal to the present position.
//   - Not simulated: indirect addressing, profiles (the motion is the lag
//     model), the bus watchdog, PWM mode dynamics, secondary IDs, loads
//     (current mode holds still: no gravity), Drive Mode (direction,
//     profile type), the LED.
//
// Timing: with Options.Timing, a reply is readable when its last byte has
// crossed the wire; the replies to one instruction are delivered together,
// when the last arrives, as a USB adapter delivers a burst. Time is
// accounted, not waited for byte by byte: Write computes when each burst is
// due, and a Read sleeps until then. Go timers wake up to ~1 ms late on
// Linux (the runtime's poller counts whole milliseconds), so on Linux a Read
// sleeps on a timerfd watched by that poller (internal/hrtimer), which rings
// within tens of µs, until 60 µs before the burst is due, and yields the CPU
// in a loop for the rest: about 60 µs of CPU per transaction buys
// wire-accurate timing (median 1.585 ms measured for the 1.58 ms sync read,
// as with the former 1.2 ms of yielding). Elsewhere a Read sleeps on a Go
// timer and may be a millisecond late.
package x330
