package dxlbus_test

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"reachyd/hw"
	"reachyd/hw/dxlbus"
	"reachyd/hw/dynamixel"
	"reachyd/hw/robotcfg"
	"reachyd/sim/x330"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t *testing.T, b *x330.Bus, opt dxlbus.Options) (*dxlbus.Bus, error) {
	t.Helper()
	port, err := b.Open()
	if err != nil {
		t.Fatal(err)
	}
	if opt.Log == nil {
		opt.Log = quiet
	}
	if opt.Config.Motors == nil {
		opt.Config = robotcfg.Default()
	}
	return dxlbus.Open(port, port, opt)
}

func TestStartupFindsMissingMotorsAndNoPower(t *testing.T) {
	b := x330.NewBus(x330.Options{Configured: true})
	b.SetAlive(11, false)
	b.SetAlive(17, false)
	_, err := open(t, b, dxlbus.Options{})
	if !errors.Is(err, dxlbus.ErrMissingMotors) || err.Error() != "missing motors: stewart_1 (ID 11), right_antenna (ID 17)" {
		t.Fatalf("%v", err)
	}
	for _, m := range x330.ReachyMini {
		b.SetAlive(m.ID, false)
	}
	if _, err := open(t, b, dxlbus.Options{}); !errors.Is(err, dxlbus.ErrNoPower) {
		t.Fatalf("no motor: %v", err)
	}
}

func TestStartupWaitsForTheSupplyVoltage(t *testing.T) {
	b := x330.NewBus(x330.Options{Configured: true})
	b.SetVoltage(3.9)
	start := time.Now()
	_, err := open(t, b, dxlbus.Options{VoltageWait: 300 * time.Millisecond})
	if !errors.Is(err, dxlbus.ErrLowVoltage) || !strings.Contains(err.Error(), "at 3.9 V (need 4.5 V)") {
		t.Fatalf("%v", err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatal("gave up before the wait")
	}
	// Voltage coming up during the wait is fine.
	b.SetVoltage(3.9)
	go func() { time.Sleep(150 * time.Millisecond); b.SetVoltage(5) }()
	bus, err := open(t, b, dxlbus.Options{VoltageWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	bus.Close()
}

func TestStartupRebootsLatchedMotorsAndReflashes(t *testing.T) {
	b := x330.NewBus(x330.Options{}) // factory EEPROM
	b.InjectHardwareError(14, dynamixel.HWOverload)
	bus, err := open(t, b, dxlbus.Options{Reflash: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if n := b.Counts()[dynamixel.InstReboot]; n != 1 {
		t.Fatalf("%d reboots, want 1 (stewart_4)", n)
	}
	for i, m := range robotcfg.Default().Motors {
		st, _ := b.Snapshot(m.ID)
		if st.HardwareError != 0 || st.HomingOffset != m.Offset || st.ReturnDelay != m.ReturnDelay || byte(st.Shutdown) != m.Shutdown {
			t.Fatalf("motor %d after start-up: %+v", i, st)
		}
		tab := b.Motor(m.ID).Table()
		if p := tab.Get(dynamixel.AddrPositionPGain); p != int64(m.PID[0]) {
			t.Fatalf("%s P gain %d, want %d", m.Name, p, m.PID[0])
		}
	}
	// Without Reflash, a factory robot is left as it is (PID still
	// written: it is RAM).
	b2 := x330.NewBus(x330.Options{})
	bus2, err := open(t, b2, dxlbus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bus2.Close()
	if st, _ := b2.Snapshot(11); st.HomingOffset != 0 {
		t.Fatal("EEPROM rewritten without Reflash")
	}
}

// TestStartupSurvivesTransientFaults loses or damages a few replies in each
// step of the start-up sequence: each step is retried as the reference
// retries (5 tries, 20 ms apart), so the opening succeeds, and the control
// loop's short retries apply once the bus is open.
func TestStartupSurvivesTransientFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault x330.ReplyFault
		latch byte // a motor with a latched error, rebooted at start
	}{
		{"ping", x330.ReplyFault{ID: 12, Inst: dynamixel.InstPing, Count: 4, Drop: true}, 0},
		{"voltage", x330.ReplyFault{ID: 15, Inst: dynamixel.InstSyncRead, Count: 4, Drop: true}, 0},
		{"voltage damaged", x330.ReplyFault{ID: 18, Inst: dynamixel.InstSyncRead, Count: 4, Corrupt: true}, 0},
		{"reboot status damaged", x330.ReplyFault{ID: 14, Inst: dynamixel.InstReboot, Corrupt: true}, 14},
		{"reboot status lost", x330.ReplyFault{ID: 14, Inst: dynamixel.InstReboot, Drop: true}, 14},
		{"EEPROM check", x330.ReplyFault{ID: 11, Inst: dynamixel.InstRead, Count: 4, Drop: true}, 0},
		{"PID gains", x330.ReplyFault{ID: 13, Inst: dynamixel.InstWrite, Count: 4, Corrupt: true}, 0},
		{"late replies", x330.ReplyFault{ID: 16, Count: 3, Delay: 25 * time.Millisecond}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := x330.NewBus(x330.Options{Configured: true})
			if tc.latch != 0 {
				b.InjectHardwareError(tc.latch, dynamixel.HWOverload)
			}
			b.InjectReplyFault(tc.fault)
			bus, err := open(t, b, dxlbus.Options{Reflash: true})
			if err != nil {
				t.Fatalf("opening with %s faults: %v", tc.name, err)
			}
			defer bus.Close()
			if st, _ := b.Snapshot(tc.fault.ID); st.HardwareError != 0 {
				t.Fatalf("latched error left: %+v", st)
			}
			if cfg, want := bus.Client().Config(), dxlbus.NewClientConfig(); cfg.Attempts != want.Attempts || cfg.Margin != want.Margin {
				t.Fatalf("client config after opening: %+v", cfg)
			}
		})
	}
	// Five lost replies in a row are a missing motor, as for the reference.
	b := x330.NewBus(x330.Options{Configured: true})
	b.InjectReplyFault(x330.ReplyFault{ID: 12, Inst: dynamixel.InstPing, Count: 5, Drop: true})
	if _, err := open(t, b, dxlbus.Options{}); !errors.Is(err, dxlbus.ErrMissingMotors) {
		t.Fatalf("5 lost pings: %v", err)
	}
}

func TestTickWritesAndReads(t *testing.T) {
	b := x330.NewBus(x330.Options{Configured: true, Mockup: true})
	bus, err := open(t, b, dxlbus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	goal := hw.Positions{0, 0.626547, -0.626543, 0.626540, -0.626536, 0.626537, -0.626539, 0.1, -0.1}
	if err := bus.WriteGoalPositions(goal, hw.StewartMotors); err != nil {
		t.Fatal(err)
	}
	// The spec's byte-exact sync write of the Stewart neutral goals.
	w := b.LastSyncWrite()
	want := []byte{0x0B, 0x98, 0x09, 0, 0, 0x0C, 0x67, 0x06, 0, 0, 0x0D, 0x98, 0x09, 0, 0, 0x0E, 0x67, 0x06, 0, 0, 0x0F, 0x98, 0x09, 0, 0, 0x10, 0x67, 0x06, 0, 0}
	if w.Addr != 116 || w.Len != 4 || string(w.Params) != string(want) {
		t.Fatalf("sync write % X", w.Params)
	}
	pos, err := bus.ReadPositions()
	if err != nil {
		t.Fatal(err)
	}
	if dynamixel.RadToTicks(pos[hw.Stewart1]) != 2456 || dynamixel.RadToTicks(pos[hw.Stewart2]) != 1639 {
		t.Fatalf("present %v", pos)
	}
	// Currents go to address 102 as i16.
	cur := [hw.NumMotors]int16{}
	cur[hw.Stewart3] = -120
	if err := bus.WriteGoalCurrents(cur, 1<<hw.Stewart3); err != nil {
		t.Fatal(err)
	}
	if w := b.LastSyncWrite(); w.Addr != 102 || w.Len != 2 || int16(binary.LittleEndian.Uint16(w.Params[1:])) != -120 {
		t.Fatalf("current write %+v", w)
	}
	// A silent motor fails the read, naming it; the others' positions are
	// still updated.
	b.SetAlive(16, false)
	if _, err := bus.ReadPositions(); !errors.Is(err, hw.ErrBus) || !strings.Contains(err.Error(), "stewart_6 (ID 16)") {
		t.Fatalf("read with stewart_6 silent: %v", err)
	}
}

func TestModesTorqueHealthAndReboot(t *testing.T) {
	b := x330.NewBus(x330.Options{Configured: true})
	bus, err := open(t, b, dxlbus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if err := bus.SetTorque(hw.AllMotors, true); err != nil {
		t.Fatal(err)
	}
	if err := bus.SetOperatingMode(hw.StewartMotors, hw.ModeCurrent); err == nil {
		t.Fatal("operating mode changed under torque (EEPROM)")
	}
	if err := bus.SetTorque(hw.AllMotors, false); err != nil {
		t.Fatal(err)
	}
	if err := bus.SetOperatingMode(hw.StewartMotors, hw.ModeCurrent); err != nil {
		t.Fatal(err)
	}
	st, err := bus.ReadState()
	if err != nil || st.Torque != 0 || st.Modes[hw.Stewart1] != hw.ModeCurrent || st.Modes[hw.Body] != hw.ModePosition {
		t.Fatalf("state %+v %v", st, err)
	}
	_ = bus.SetOperatingMode(hw.StewartMotors, hw.ModePosition)
	_ = bus.SetTorque(hw.AllMotors, true)

	b.InjectHardwareError(15, dynamixel.HWOverheating)
	b.SetTemperature(15, 80)
	h, err := bus.ReadHealth()
	if err != nil {
		t.Fatal(err)
	}
	if h[hw.Stewart5].HardwareError != uint8(dynamixel.HWOverheating) || h[hw.Stewart5].Temperature != 80 || h[hw.Body].Voltage != 5 || !h[hw.Body].Answering {
		t.Fatalf("health %+v", h[hw.Stewart5])
	}
	// A latched motor refuses torque: SetTorque says which.
	if err := bus.SetTorque(hw.AllMotors, true); err == nil || !strings.Contains(err.Error(), "stewart_5 (ID 15)") {
		t.Fatalf("torque on a latched motor: %v", err)
	}
	b.SetTemperature(15, 35)
	if err := bus.Reboot(1 << hw.Stewart5); err != nil {
		t.Fatal(err)
	}
	h, _ = bus.ReadHealth()
	if h[hw.Stewart5].HardwareError != 0 {
		t.Fatalf("after reboot %+v", h[hw.Stewart5])
	}
	if err := bus.SetTorque(hw.AllMotors, true); err != nil {
		t.Fatal(err)
	}
	// Raw passthrough.
	out, err := bus.WriteRaw(dynamixel.AppendInstruction(nil, 10, dynamixel.InstPing, nil), 0)
	if err != nil || len(out) != 14 {
		t.Fatalf("raw ping % X %v", out, err)
	}
}

func openBench(port x330.Port) (*dxlbus.Bus, error) {
	return dxlbus.Open(port, port, dxlbus.Options{Config: robotcfg.Default(), Log: quiet})
}
