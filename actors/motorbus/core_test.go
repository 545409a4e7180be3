package motorbus

import (
	"errors"
	"testing"
	"time"

	"reachyd/hw"
	"reachyd/messages"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func allPosition() [hw.NumMotors]hw.OperatingMode {
	var m [hw.NumMotors]hw.OperatingMode
	for i := range m {
		m[i] = hw.ModePosition
	}
	return m
}

func openedCore(cfg Config, torque hw.Mask) *Core {
	c := NewCore(cfg)
	c.Opened(hw.MotorState{Torque: torque, Modes: allPosition()}, hw.Positions{1, 2, 3, 4, 5, 6, 7, 8, 9}, t0)
	return c
}

func TestModeInferredAtOpen(t *testing.T) {
	if m := openedCore(Config{}, hw.AllMotors).Mode(); m != messages.ModeEnabled {
		t.Fatalf("all torque, position mode: %s", m)
	}
	if m := openedCore(Config{}, 0).Mode(); m != messages.ModeDisabled {
		t.Fatalf("no torque: %s", m)
	}
	c := NewCore(Config{})
	modes := allPosition()
	for i := hw.Stewart1; i <= hw.Stewart6; i++ {
		modes[i] = hw.ModeCurrent
	}
	c.Opened(hw.MotorState{Torque: hw.AllMotors, Modes: modes}, hw.Positions{}, t0)
	if c.Mode() != messages.ModeGravityCompensation {
		t.Fatalf("stewart in current mode: %s", c.Mode())
	}
}

func TestFirstOpenHoldsPresentPosition(t *testing.T) {
	c := openedCore(Config{}, hw.AllMotors)
	goal, mask, ok := c.WritePlan()
	if !ok || mask != hw.AllMotors || goal != (hw.Positions{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("plan %v %09b %v", goal, mask, ok)
	}
}

func TestGoalsOfAnOldEpochAreDropped(t *testing.T) {
	c := openedCore(Config{}, hw.AllMotors)
	if !c.AcceptGoals(messages.Goals{Epoch: 0, Positions: hw.Positions{9}}) {
		t.Fatal("current-epoch goals refused")
	}
	c.Applied(Op{Kind: OpPin, Mask: hw.AllMotors}, hw.Positions{5})
	if c.Epoch() != 1 {
		t.Fatalf("pin did not move the epoch: %d", c.Epoch())
	}
	if c.AcceptGoals(messages.Goals{Epoch: 0, Positions: hw.Positions{7}}) {
		t.Fatal("stale goals accepted after a pin")
	}
	goal, _, _ := c.WritePlan()
	if goal[0] != 5 {
		t.Fatalf("pinned goal lost: %v", goal)
	}
	nan := hw.Positions{}
	nan[3] = nan[3] / zero()
	if c.AcceptGoals(messages.Goals{Epoch: 1, Positions: nan}) {
		t.Fatal("non-finite goals accepted")
	}
}

func zero() float64 { return 0 }

func TestWritePlanOnlyTouchesMotorsUnderTorqueInPositionMode(t *testing.T) {
	c := openedCore(Config{}, hw.AntennaMotors)
	_, mask, ok := c.WritePlan()
	if !ok || mask != hw.AntennaMotors {
		t.Fatalf("mask %09b", mask)
	}
	c = openedCore(Config{}, 0)
	if _, _, ok := c.WritePlan(); ok {
		t.Fatal("goals written to limp motors")
	}
	c = openedCore(Config{WriteAlways: true}, 0)
	if _, mask, ok := c.WritePlan(); !ok || mask != hw.AllMotors {
		t.Fatal("mockup semantics: goals must reach limp motors")
	}
}

func TestEnablePinsBeforeTorque(t *testing.T) {
	c := openedCore(Config{}, 0)
	ops, err := c.PlanMode(messages.ModeEnabled)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0].Kind != OpPin || ops[1].Kind != OpTorque || !ops[1].On {
		t.Fatalf("ops %v", ops)
	}
	for _, op := range ops {
		c.Applied(op, hw.Positions{4})
	}
	c.ModeDone(messages.ModeEnabled)
	if ops, _ := c.PlanMode(messages.ModeEnabled); len(ops) != 0 {
		t.Fatalf("unchanged mode still planned %v", ops)
	}
	ops, _ = c.PlanMode(messages.ModeDisabled)
	if len(ops) != 1 || ops[0].Kind != OpTorque || ops[0].On {
		t.Fatalf("disable ops %v", ops)
	}
}

func TestGravityCompensation(t *testing.T) {
	c := openedCore(Config{GravityRefusal: "no gravity model"}, hw.AllMotors)
	_, err := c.PlanMode(messages.ModeGravityCompensation)
	var e *messages.Error
	if !errors.As(err, &e) || e.Kind != messages.KindBadRequest || e.Detail != "no gravity model" {
		t.Fatalf("refusal: %v", err)
	}
	c = openedCore(Config{AllowGravity: true}, hw.AllMotors)
	ops, err := c.PlanMode(messages.ModeGravityCompensation)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		c.Applied(op, hw.Positions{})
	}
	c.ModeDone(messages.ModeGravityCompensation)
	_, mask, _ := c.WritePlan()
	if mask != hw.AllMotors&^hw.StewartMotors {
		t.Fatalf("head in current mode must not get goal positions: %09b", mask)
	}
	// Back to enabled: torque off, position mode, pin, torque on.
	ops, _ = c.PlanMode(messages.ModeEnabled)
	if len(ops) != 4 || ops[1].Kind != OpMode || ops[1].Mode != hw.ModePosition {
		t.Fatalf("ops %v", ops)
	}
}

func TestPartialTorqueForcesNextModeChange(t *testing.T) {
	c := openedCore(Config{}, hw.AllMotors)
	for _, op := range c.PlanTorque(hw.AntennaMotors, false) {
		c.Applied(op, hw.Positions{})
	}
	c.TorqueDone()
	if c.Mode() != messages.ModeEnabled {
		t.Fatalf("partial torque changed the reported mode to %s", c.Mode())
	}
	ops, _ := c.PlanMode(messages.ModeEnabled)
	if len(ops) == 0 {
		t.Fatal("enabling after a per-motor change planned nothing")
	}
}

func TestNoAnswerForASecondIsTheReferenceError(t *testing.T) {
	c := openedCore(Config{}, hw.AllMotors)
	fail := errors.New("timeout")
	p := c.ReadDone(1, hw.Positions{}, fail, t0.Add(500*time.Millisecond), 20*time.Millisecond)
	if p.Fresh || c.Dead() {
		t.Fatalf("half a second of silence: fresh %v dead %v", p.Fresh, c.Dead())
	}
	if p.Positions != (hw.Positions{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatal("a failed read must report the last good positions")
	}
	c.ReadDone(2, hw.Positions{}, fail, t0.Add(1001*time.Millisecond), 20*time.Millisecond)
	if !c.Dead() || c.Status().Error != NoResponseError || c.Status().Ready {
		t.Fatalf("after a second: %+v", c.Status())
	}
	c.ReadDone(3, hw.Positions{2}, nil, t0.Add(1100*time.Millisecond), 20*time.Millisecond)
	if c.Dead() || c.Status().Error != "" || c.Status().ErrorCount != 2 {
		t.Fatalf("recovery: %+v", c.Status())
	}
}

func TestLoopStatistics(t *testing.T) {
	c := openedCore(Config{}, hw.AllMotors)
	at := t0
	for i := 0; i < 60; i++ {
		d := 20 * time.Millisecond
		if i == 10 {
			d = 45 * time.Millisecond
		}
		at = at.Add(d)
		c.ReadDone(uint64(i), hw.Positions{}, nil, at, 20*time.Millisecond)
	}
	s := c.Status()
	if s.MeanHz < 45 || s.MeanHz > 51 || s.MaxPeriod != 45*time.Millisecond {
		t.Fatalf("stats %+v", s)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	c := openedCore(Config{}, hw.AllMotors)
	c.Applied(Op{Kind: OpPin, Mask: hw.AllMotors}, hw.Positions{3})
	s := c.Snapshot()
	d := NewCore(Config{})
	d.Restore(s)
	d.Opened(hw.MotorState{Torque: hw.AllMotors, Modes: allPosition()}, hw.Positions{8}, t0)
	if d.Epoch() != 1 {
		t.Fatalf("epoch lost: %d", d.Epoch())
	}
	goal, _, _ := d.WritePlan()
	if goal[0] != 3 {
		t.Fatalf("goal replaced by present on reopen: %v", goal)
	}
}

func TestHealthEventsAndBackendError(t *testing.T) {
	c := openedCore(Config{VoltageSettle: 3 * time.Second}, hw.AllMotors)
	var h hw.Health
	at := t0
	read := func(d time.Duration) []HealthEvent { at = at.Add(d); return c.HealthRead(h, at) }
	if evs := read(0); len(evs) != 0 || c.Status().Error != "" {
		t.Fatalf("healthy: %v %q", evs, c.Status().Error)
	}
	// A latched overload: reported once, and the backend's error while it
	// lasts; the loop stays ready.
	h[hw.Stewart2].HardwareError = 1 << 5
	evs := read(time.Second)
	if len(evs) != 1 || evs[0] != (HealthEvent{Kind: ErrorLatched, Motor: hw.Stewart2, Bits: 1 << 5}) {
		t.Fatalf("latched: %+v", evs)
	}
	if s := c.Status(); s.Error != "Motor stewart_2 (ID 12) hardware error: overload" || !s.Ready {
		t.Fatalf("latched: %+v", s)
	}
	if evs := read(time.Second); len(evs) != 0 {
		t.Fatalf("same error again: %+v", evs)
	}
	// The bus going silent is the reference's error, which wins.
	c.ReadDone(1, hw.Positions{}, errors.New("no answer"), at.Add(2*time.Second), 20*time.Millisecond)
	if c.Status().Error != NoResponseError {
		t.Fatalf("dead bus: %q", c.Status().Error)
	}
	c.Opened(hw.MotorState{Torque: hw.AllMotors, Modes: allPosition()}, hw.Positions{}, at)
	// The input voltage bit joins: a warning, not the backend's error, and
	// the latched error is not reported again.
	for i := range h {
		h[i].HardwareError |= 1
	}
	evs = read(time.Second)
	if len(evs) != 1 || evs[0].Kind != VoltageWarning || evs[0].Motors != hw.AllMotors {
		t.Fatalf("voltage warning: %+v", evs)
	}
	if s := c.Status(); s.Error != "Motor stewart_2 (ID 12) hardware error: overload" {
		t.Fatalf("with the voltage warning: %q", s.Error)
	}
	// It flickers: no line while it is away for less than VoltageSettle.
	for _, low := range []bool{false, true, false, false, true, false} {
		for i := range h {
			h[i].HardwareError = h[i].HardwareError&^1 | map[bool]uint8{true: 1}[low]
		}
		if evs := read(time.Second); len(evs) != 0 {
			t.Fatalf("flicker (low %v): %+v", low, evs)
		}
	}
	if evs := read(3 * time.Second); len(evs) != 1 || evs[0].Kind != VoltageCleared || evs[0].Motors != hw.AllMotors {
		t.Fatalf("cleared after it stayed away: %+v", evs)
	}
	if evs := read(time.Second); len(evs) != 0 {
		t.Fatalf("after: %+v", evs)
	}
	// A second motor's error, then a reboot clears both: the error goes.
	h[hw.RightAntenna].HardwareError = 1<<2 | 1<<4
	if evs := read(time.Second); len(evs) != 1 || evs[0].Motor != hw.RightAntenna {
		t.Fatalf("second motor: %+v", evs)
	}
	if s := c.Status(); s.Error != "Motor stewart_2 (ID 12) hardware error: overload; Motor right_antenna (ID 17) hardware error: overheating, electrical shock" {
		t.Fatalf("two motors: %q", s.Error)
	}
	h[hw.Stewart2].HardwareError, h[hw.RightAntenna].HardwareError = 0, 0
	evs = read(time.Second)
	if len(evs) != 2 || evs[0] != (HealthEvent{Kind: ErrorCleared, Motor: hw.Stewart2}) || evs[1] != (HealthEvent{Kind: ErrorCleared, Motor: hw.RightAntenna}) {
		t.Fatalf("cleared: %+v", evs)
	}
	if s := c.Status(); s.Error != "" {
		t.Fatalf("after the reboot: %q", s.Error)
	}
}
