package dynamixel

import (
	"errors"
	"fmt"
)

// ErrRawRefused marks a raw packet that CheckRaw refuses.
var ErrRawRefused = errors.New("raw packet refused")

// rawWritableEnd is the end of the control table's RAM fields a raw packet
// may write: Torque Enable (64) up to Present Temperature (146). Above it lie
// the indirect addresses, which could point a later write at the EEPROM.
const rawWritableEnd = AddrPresentTemperature + SizePresentTemperature

// CheckRaw decides whether a packet from a client of the raw bus route may
// go to the motors. It must be exactly one well-formed instruction packet
// that cannot brick a motor or blind the daemon:
//
//   - reads (Ping, Read, SyncRead, FastSyncRead, BulkRead, FastBulkRead),
//     Action, Reboot and Clear pass;
//   - writes (Write, RegWrite, SyncWrite, BulkWrite) pass only when every
//     byte they write lies in the RAM fields from Torque Enable (64) to
//     Present Temperature (146), Status Return Level excepted (a motor set
//     to answer nothing looks dead to the daemon). EEPROM fields (ID, baud
//     rate, operating mode, limits, homing offset, shutdown mask) are written
//     by the daemon's start-up sequence only;
//   - Factory Reset, Control Table Backup, status packets and unknown
//     instructions are refused.
//
// Errors match ErrRawRefused and say why.
func CheckRaw(pkt []byte) error {
	p, err := ParseInstruction(pkt)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRawRefused, err)
	}
	switch p.Inst {
	case InstPing, InstRead, InstSyncRead, InstFastSyncRead, InstBulkRead, InstFastBulkRead,
		InstAction, InstReboot, InstClear:
		return nil
	case InstWrite, InstRegWrite:
		if len(p.Params) < 3 {
			return fmt.Errorf("%w: %v without data", ErrRawRefused, p.Inst)
		}
		return rawWritable(p.Inst, le16At(p.Params, 0), len(p.Params)-2)
	case InstSyncWrite:
		if len(p.Params) < 4 {
			return fmt.Errorf("%w: SyncWrite without address and length", ErrRawRefused)
		}
		addr, n := le16At(p.Params, 0), int(le16At(p.Params, 2))
		if n == 0 || (len(p.Params)-4)%(n+1) != 0 {
			return fmt.Errorf("%w: SyncWrite data does not split into IDs of %d bytes", ErrRawRefused, n)
		}
		return rawWritable(p.Inst, addr, n)
	case InstBulkWrite:
		rest := p.Params
		if len(rest) == 0 {
			return fmt.Errorf("%w: BulkWrite without data", ErrRawRefused)
		}
		for len(rest) > 0 {
			if len(rest) < 5 {
				return fmt.Errorf("%w: truncated BulkWrite", ErrRawRefused)
			}
			addr, n := le16At(rest, 1), int(le16At(rest, 3))
			if n == 0 || len(rest) < 5+n {
				return fmt.Errorf("%w: truncated BulkWrite", ErrRawRefused)
			}
			if err := rawWritable(p.Inst, addr, n); err != nil {
				return err
			}
			rest = rest[5+n:]
		}
		return nil
	}
	return fmt.Errorf("%w: instruction %v is not allowed", ErrRawRefused, p.Inst)
}

func le16At(b []byte, i int) uint16 { return uint16(b[i]) | uint16(b[i+1])<<8 }

// rawWritable checks that [addr, addr+n) lies in the writable RAM fields.
func rawWritable(inst Instruction, addr uint16, n int) error {
	end := int(addr) + n
	switch {
	case addr < AddrTorqueEnable:
		return fmt.Errorf("%w: %v to EEPROM address %d (only the start-up sequence writes the EEPROM)", ErrRawRefused, inst, addr)
	case end > rawWritableEnd:
		return fmt.Errorf("%w: %v to address %d..%d, beyond the writable RAM fields (64..%d)", ErrRawRefused, inst, addr, end-1, rawWritableEnd-1)
	case int(addr) <= AddrStatusReturnLevel && AddrStatusReturnLevel < end:
		return fmt.Errorf("%w: %v to Status Return Level (address %d) would silence the motor", ErrRawRefused, inst, AddrStatusReturnLevel)
	}
	return nil
}
