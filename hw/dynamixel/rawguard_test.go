package dynamixel

import (
	"errors"
	"testing"
)

func TestCheckRaw(t *testing.T) {
	inst := func(id byte, i Instruction, params []byte) []byte { return AppendInstruction(nil, id, i, params) }
	write := func(i Instruction, addr uint16, data ...byte) []byte {
		return inst(11, i, AppendWriteParams(nil, addr, data))
	}
	ok := map[string][]byte{
		"ping":                 inst(BroadcastID, InstPing, nil),
		"read position":        inst(11, InstRead, AppendReadParams(nil, AddrPresentPosition, 4)),
		"read EEPROM id":       inst(11, InstRead, AppendReadParams(nil, AddrID, 1)),
		"sync read":            inst(BroadcastID, InstSyncRead, AppendSyncReadParams(nil, AddrPresentPosition, 4, []byte{10, 11})),
		"bulk read":            inst(BroadcastID, InstBulkRead, AppendBulkReadParams(nil, []BulkReadReq{{ID: 10, Addr: AddrID, Len: 1}})),
		"torque on":            write(InstWrite, AddrTorqueEnable, 1),
		"led":                  write(InstWrite, AddrLED, 1),
		"goal position":        write(InstWrite, AddrGoalPosition, 0, 8, 0, 0),
		"reg write goal":       write(InstRegWrite, AddrGoalPosition, 0, 8, 0, 0),
		"pid gains":            write(InstWrite, AddrPositionDGain, 0, 0, 0, 0, 0x90, 0x01),
		"last RAM byte":        write(InstWrite, AddrPresentTemperature, 0),
		"action":               inst(BroadcastID, InstAction, nil),
		"reboot":               inst(11, InstReboot, nil),
		"clear errors":         inst(11, InstClear, AppendClearParams(nil, ClearErrors)),
		"sync write goals":     inst(BroadcastID, InstSyncWrite, AppendSyncWriteParams(nil, AddrGoalPosition, 4, []byte{10, 11}, make([]byte, 8))),
		"bulk write torque+go": inst(BroadcastID, InstBulkWrite, AppendBulkWriteParams(nil, []BulkWriteReq{{ID: 10, Addr: AddrTorqueEnable, Data: []byte{0}}, {ID: 11, Addr: AddrGoalPosition, Data: make([]byte, 4)}})),
	}
	for name, pkt := range ok {
		if err := CheckRaw(pkt); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
	two := append(inst(11, InstPing, nil), inst(11, InstPing, nil)...)
	crc := write(InstWrite, AddrLED, 1)
	crc[len(crc)-1] ^= 0xFF
	bad := map[string][]byte{
		"factory reset":            inst(11, InstFactoryReset, AppendFactoryResetParams(nil, ResetAll)),
		"factory reset keep id":    inst(BroadcastID, InstFactoryReset, AppendFactoryResetParams(nil, ResetKeepIDBaud)),
		"control table backup":     inst(11, Instruction(0x20), []byte{0x01, 'C', 'T', 'R', 'L'}),
		"a status packet":          AppendStatus(nil, 11, 0, nil),
		"unknown instruction":      inst(11, Instruction(0x7F), nil),
		"write ID":                 write(InstWrite, AddrID, 42),
		"write baud rate":          write(InstWrite, AddrBaudRate, 0),
		"write operating mode":     write(InstWrite, AddrOperatingMode, 16),
		"write homing offset":      write(InstWrite, AddrHomingOffset, 0, 4, 0, 0),
		"write position limits":    write(InstWrite, AddrMaxPositionLimit, 0xFF, 0x0F, 0, 0),
		"write shutdown":           write(InstWrite, AddrShutdown, 0),
		"reg write ID":             write(InstRegWrite, AddrID, 42),
		"write spanning EEPROM":    write(InstWrite, AddrShutdown, 0, 1),
		"write status return":      write(InstWrite, AddrStatusReturnLevel, 0),
		"write across status ret.": write(InstWrite, AddrTorqueEnable, 1, 0, 0, 0, 0),
		"write indirect address":   write(InstWrite, 168, 7, 0),
		"write past RAM":           write(InstWrite, AddrPresentTemperature, 0, 0),
		"write without data":       inst(11, InstWrite, []byte{64, 0}),
		"sync write IDs":           inst(BroadcastID, InstSyncWrite, AppendSyncWriteParams(nil, AddrID, 1, []byte{10, 11}, []byte{1, 2})),
		"sync write ragged":        inst(BroadcastID, InstSyncWrite, append(AppendSyncWriteParams(nil, AddrLED, 1, []byte{10}, []byte{1}), 11)),
		"bulk write one EEPROM":    inst(BroadcastID, InstBulkWrite, AppendBulkWriteParams(nil, []BulkWriteReq{{ID: 10, Addr: AddrLED, Data: []byte{1}}, {ID: 11, Addr: AddrBaudRate, Data: []byte{0}}})),
		"bulk write truncated":     inst(BroadcastID, InstBulkWrite, AppendBulkWriteParams(nil, []BulkWriteReq{{ID: 10, Addr: AddrLED, Data: []byte{1}}})[:5]),
		"two packets":              two,
		"bad CRC":                  crc,
		"garbage":                  []byte("hello, motors"),
		"empty":                    nil,
	}
	for name, pkt := range bad {
		if err := CheckRaw(pkt); !errors.Is(err, ErrRawRefused) {
			t.Errorf("%s: got %v, want a refusal", name, err)
		}
	}
}

// FuzzCheckRaw checks that no packet panics the guard, and that whatever it
// lets through is one instruction packet that writes no EEPROM byte.
func FuzzCheckRaw(f *testing.F) {
	f.Add(AppendInstruction(nil, 11, InstWrite, AppendWriteParams(nil, AddrGoalPosition, []byte{0, 8, 0, 0})))
	f.Add(AppendInstruction(nil, 11, InstWrite, AppendWriteParams(nil, AddrID, []byte{3})))
	f.Add(AppendInstruction(nil, BroadcastID, InstSyncWrite, AppendSyncWriteParams(nil, AddrGoalPosition, 4, []byte{10, 11}, make([]byte, 8))))
	f.Add(AppendInstruction(nil, BroadcastID, InstBulkWrite, AppendBulkWriteParams(nil, []BulkWriteReq{{ID: 10, Addr: AddrLED, Data: []byte{1}}})))
	f.Add(AppendInstruction(nil, 11, InstFactoryReset, []byte{0xFF}))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if CheckRaw(pkt) != nil {
			return
		}
		p, err := ParseInstruction(pkt)
		if err != nil {
			t.Fatalf("accepted a packet that does not parse: %v", err)
		}
		if p.Inst == InstFactoryReset || p.Inst == InstStatus {
			t.Fatalf("accepted %v", p.Inst)
		}
		if (p.Inst == InstWrite || p.Inst == InstRegWrite) && le16At(p.Params, 0) < AddrTorqueEnable {
			t.Fatalf("accepted an EEPROM write: % x", pkt)
		}
	})
}
