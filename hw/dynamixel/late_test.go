package dynamixel_test

import (
	"errors"
	"testing"
	"time"

	dxl "reachyd/hw/dynamixel"
	"reachyd/sim/x330"
)

// These tests run the client against the simulated motors, whose replies
// can be made late: they arrive after the client gave up on them, while it
// waits for the answer to its next request.

var robotIDs = []byte{10, 11, 12, 13, 14, 15, 16, 17, 18}

// lateBy is far beyond the first request's 5 ms margin, so that it times out
// even on a loaded machine.
const lateBy = 300 * time.Millisecond

// lateClient returns a client on a simulated robot whose first request
// gives up after a few milliseconds; the test then widens the margin so
// the late reply arrives while the next request waits.
func lateClient(t *testing.T) (*x330.Bus, *dxl.Client) {
	t.Helper()
	b := x330.NewBus(x330.Options{Configured: true})
	p, err := b.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return b, dxl.NewClient(p, dxl.Config{Attempts: 1, Margin: 5 * time.Millisecond, RetryPause: -1})
}

func patient(c *dxl.Client) {
	cfg := c.Config()
	cfg.Margin = 2 * time.Second
	c.SetConfig(cfg)
}

func TestLateReplyNotTakenForTheNextRead(t *testing.T) {
	b, c := lateClient(t)
	// The ID register (7) reads 12, the operating mode (11) reads 3: both
	// one byte, so only their order tells the replies apart.
	b.InjectReplyFault(x330.ReplyFault{ID: 12, Delay: lateBy})
	if _, err := c.Read(12, dxl.AddrID, 1); !errors.Is(err, dxl.ErrTimeout) {
		t.Fatalf("the late read: %v", err)
	}
	patient(c)
	got, err := c.Read(12, dxl.AddrOperatingMode, 1)
	if err != nil || got[0] != 3 {
		t.Fatalf("operating mode read after a late reply: %v %v (12 is the late ID read)", got, err)
	}
	// And the reads after it are in step.
	if got, err := c.Read(12, dxl.AddrID, 1); err != nil || got[0] != 12 {
		t.Fatalf("next read: %v %v", got, err)
	}
	if got, err := c.Read(12, dxl.AddrReturnDelayTime, 1); err != nil || got[0] != 0 {
		t.Fatalf("next read: %v %v", got, err)
	}
}

func TestLateReplyNotTakenForTheNextWrite(t *testing.T) {
	b, c := lateClient(t)
	// A late status of a refused write (EEPROM under torque: Access
	// Error) must not answer the write that follows.
	if err := c.Write(12, dxl.AddrTorqueEnable, []byte{1}); err != nil {
		t.Fatal(err)
	}
	b.InjectReplyFault(x330.ReplyFault{ID: 12, Delay: lateBy})
	if err := c.Write(12, dxl.AddrReturnDelayTime, []byte{5}); !errors.Is(err, dxl.ErrTimeout) {
		t.Fatalf("the late write: %v", err)
	}
	patient(c)
	if err := c.Write(12, dxl.AddrLED, []byte{1}); err != nil {
		t.Fatalf("the write after a late refusal: %v", err)
	}
}

func TestLateRepliesNotTakenForTheNextSyncRead(t *testing.T) {
	b, c := lateClient(t)
	// Motor 12's reply is late, and the ones behind it on the line too.
	b.InjectReplyFault(x330.ReplyFault{ID: 12, Inst: dxl.InstSyncRead, Delay: lateBy})
	res, err := c.SyncRead(dxl.AddrID, 1, robotIDs)
	if !errors.Is(err, dxl.ErrTimeout) {
		t.Fatalf("the late sync read: %v", err)
	}
	for i, r := range res {
		if (r.Err == nil) != (robotIDs[i] < 12) {
			t.Fatalf("late sync read, ID %d: %v", r.ID, r.Err)
		}
	}
	patient(c)
	res, err = c.SyncRead(dxl.AddrOperatingMode, 1, robotIDs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Data[0] != 3 {
			t.Fatalf("operating mode of ID %d read as %d after late replies", r.ID, r.Data[0])
		}
	}
	res, err = c.SyncRead(dxl.AddrID, 1, robotIDs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Data[0] != r.ID {
			t.Fatalf("ID register of ID %d read as %d", r.ID, r.Data[0])
		}
	}
}

func TestLatePingNotTakenForAThreeByteRead(t *testing.T) {
	b, c := lateClient(t)
	if _, _, err := c.Ping(12); err != nil {
		t.Fatal(err)
	}
	// A late ping answer takes the place of the barrier's (they are the
	// same bytes); the barrier's own answer, 3 bytes as the read of voltage
	// and temperature is, must not pass for the read's.
	b.InjectReplyFault(x330.ReplyFault{ID: 12, Inst: dxl.InstPing, Delay: lateBy})
	if _, _, err := c.Ping(12); !errors.Is(err, dxl.ErrTimeout) {
		t.Fatalf("the late ping: %v", err)
	}
	patient(c)
	got, err := c.Read(12, dxl.AddrPresentInputVoltage, 3)
	if err != nil || got[0] != 50 || got[1] != 0 {
		t.Fatalf("voltage and temperature after a late ping: % X %v", got, err)
	}
	res, err := c.SyncRead(dxl.AddrPresentInputVoltage, 3, robotIDs)
	if err != nil || res[2].Data[0] != 50 {
		t.Fatalf("sync read after: %+v %v", res, err)
	}
}

func TestLateRawReplyNotTakenForTheNextRead(t *testing.T) {
	b, c := lateClient(t)
	// The raw passthrough waits 10 ms; the answer comes later.
	b.InjectReplyFault(x330.ReplyFault{ID: 12, Delay: lateBy})
	out, err := c.WriteRaw(dxl.AppendInstruction(nil, 12, dxl.InstRead, dxl.AppendReadParams(nil, dxl.AddrID, 1)), 0)
	if err != nil || len(out) != 0 {
		t.Fatalf("raw read: % X %v", out, err)
	}
	patient(c)
	if got, err := c.Read(12, dxl.AddrOperatingMode, 1); err != nil || got[0] != 3 {
		t.Fatalf("operating mode read after a late raw reply: %v %v", got, err)
	}
	// An answered raw packet leaves nothing behind: no barrier.
	n := c.Stats().Barriers
	if out, err := c.WriteRaw(dxl.AppendInstruction(nil, 12, dxl.InstRead, dxl.AppendReadParams(nil, dxl.AddrID, 1)), 0); err != nil || len(out) == 0 {
		t.Fatalf("raw read: % X %v", out, err)
	}
	if _, err := c.Read(12, dxl.AddrOperatingMode, 1); err != nil || c.Stats().Barriers != n {
		t.Fatalf("after an answered raw read: %v, %d barriers", err, c.Stats().Barriers-n)
	}
}
