package dynamixel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// fastCfg keeps timeouts cheap in tests.
var fastCfg = Config{Margin: time.Millisecond, RetryPause: -1}

func newTestClient(ids ...byte) (*Client, *fakeBus) {
	f := newFakeBus(ids...)
	return NewClient(f, fastCfg), f
}

func TestClientPing(t *testing.T) {
	c, _ := newTestClient(10, 11)
	model, fw, err := c.Ping(10)
	if err != nil || model != ModelXC330M288 || fw != 52 {
		t.Fatalf("ping 10: %d %d %v", model, fw, err)
	}
	model, _, err = c.Ping(11)
	if err != nil || model != ModelXL330M288 {
		t.Fatalf("ping 11: %d %v", model, err)
	}
}

func TestClientReadWrite(t *testing.T) {
	c, f := newTestClient(11)
	if err := c.Write(11, AddrGoalPosition, le32(-1234)); err != nil {
		t.Fatal(err)
	}
	got, err := c.Read(11, AddrGoalPosition, 4)
	if err != nil || int32(binary.LittleEndian.Uint32(got)) != -1234 {
		t.Fatalf("read back % X %v", got, err)
	}
	if err := c.Write(11, AddrPositionDGain, []byte{0, 0, 0, 0, 0x2C, 0x01}); err != nil {
		t.Fatal(err)
	}
	if p := binary.LittleEndian.Uint16(f.motors[11].table[AddrPositionPGain:]); p != 300 {
		t.Fatalf("P gain %d", p)
	}
	if s := c.Stats(); s.Retries != 0 || s.Packets != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestClientBroadcastWrite(t *testing.T) {
	c, f := newTestClient(reachyIDs...)
	start := time.Now()
	if err := c.Write(BroadcastID, AddrLED, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > time.Millisecond {
		t.Fatalf("broadcast write waited for a reply")
	}
	for _, id := range reachyIDs {
		if f.motors[id].table[AddrLED] != 1 {
			t.Fatalf("ID %d LED not set", id)
		}
	}
}

func TestClientSyncWriteRead(t *testing.T) {
	c, f := newTestClient(reachyIDs...)
	var goals []byte
	for i := range reachyIDs {
		goals = append(goals, le32(int32(1000+i*100))...)
	}
	if err := c.SyncWrite(AddrGoalPosition, 4, reachyIDs, goals); err != nil {
		t.Fatal(err)
	}
	if f.last != InstSyncWrite {
		t.Fatalf("sent %v", f.last)
	}
	for i, id := range reachyIDs {
		copy(f.motors[id].table[AddrPresentPosition:], f.motors[id].table[AddrGoalPosition:AddrGoalPosition+4])
		_ = i
	}
	res, err := c.SyncRead(AddrPresentPosition, 4, reachyIDs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(reachyIDs) {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		if r.ID != reachyIDs[i] || r.Err != nil || int32(binary.LittleEndian.Uint32(r.Data)) != int32(1000+i*100) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	// The order of results follows the ID list, not the motors.
	rev := []byte{18, 12, 10}
	res, err = c.SyncRead(AddrPresentInputVoltage, 2, rev)
	if err != nil || res[0].ID != 18 || res[2].ID != 10 || binary.LittleEndian.Uint16(res[1].Data) != 50 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestClientBulk(t *testing.T) {
	c, f := newTestClient(1, 2)
	err := c.BulkWrite([]BulkWriteReq{{1, AddrGoalPosition, le32(77)}, {2, AddrLED, []byte{1}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.motors[2].table[AddrLED] != 1 || binary.LittleEndian.Uint32(f.motors[1].table[AddrGoalPosition:]) != 77 {
		t.Fatal("bulk write not applied")
	}
	res, err := c.BulkRead([]BulkReadReq{{1, AddrGoalPosition, 4}, {2, AddrLED, 1}})
	if err != nil || binary.LittleEndian.Uint32(res[0].Data) != 77 || !bytes.Equal(res[1].Data, []byte{1}) {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestClientFastSyncRead(t *testing.T) {
	c, _ := newTestClient(reachyIDs...)
	res, err := c.FastSyncRead(AddrPresentPosition, 4, reachyIDs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.ID != reachyIDs[i] || r.Err != nil || binary.LittleEndian.Uint32(r.Data) != 2048+uint32(r.ID) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
}

func TestClientFastSyncReadMissingAndError(t *testing.T) {
	c, f := newTestClient(reachyIDs...)
	f.silent[13] = true
	f.statusErr[15] = byte(ErrDataRange)
	res, err := c.FastSyncRead(AddrPresentPosition, 4, reachyIDs)
	var pe *PartialError
	if !errors.As(err, &pe) || len(pe.Errs) != 2 {
		t.Fatalf("err %v", err)
	}
	var te *TimeoutError
	if !errors.As(res[3].Err, &te) || te.ID != 13 {
		t.Fatalf("missing ID: %v", res[3].Err)
	}
	if !errors.Is(res[5].Err, ErrDataRange) {
		t.Fatalf("status error: %v", res[5].Err)
	}
	if res[0].Err != nil || res[8].Err != nil {
		t.Fatalf("others failed: %v %v", res[0].Err, res[8].Err)
	}
}

func TestClientOtherInstructions(t *testing.T) {
	c, f := newTestClient(1)
	f.record = true
	if err := c.RegWrite(1, AddrLED, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if f.motors[1].table[AddrLED] != 0 {
		t.Fatal("RegWrite applied before Action")
	}
	if err := c.Action(1); err != nil {
		t.Fatal(err)
	}
	if f.motors[1].table[AddrLED] != 1 {
		t.Fatal("Action did not apply")
	}
	if err := c.Reboot(1); err != nil {
		t.Fatal(err)
	}
	if err := c.FactoryReset(1, ResetKeepIDBaud); err != nil {
		t.Fatal(err)
	}
	if err := c.Clear(1, ClearMultiTurn); err != nil {
		t.Fatal(err)
	}
	want := []Instruction{InstRegWrite, InstAction, InstReboot, InstFactoryReset, InstClear}
	if len(f.received) != len(want) {
		t.Fatalf("received %v", f.received)
	}
	for i := range want {
		if f.received[i] != want[i] {
			t.Fatalf("received %v, want %v", f.received, want)
		}
	}
	if err := c.FactoryReset(BroadcastID, ResetAll); !errors.Is(err, ErrInvalid) {
		t.Fatalf("broadcast reset-all: %v", err)
	}
}

func TestClientTimeoutRetries(t *testing.T) {
	c, f := newTestClient(11)
	f.silent[11] = true
	start := time.Now()
	_, err := c.Read(11, AddrPresentPosition, 4)
	var te *TimeoutError
	if !errors.As(err, &te) || te.ID != 11 || !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrBus) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("err %v", err)
	}
	if f.packets != DefaultAttempts {
		t.Fatalf("%d packets sent, want %d attempts", f.packets, DefaultAttempts)
	}
	if s := c.Stats(); s.Retries != DefaultAttempts-1 || s.Timeouts != DefaultAttempts {
		t.Fatalf("stats %+v", s)
	}
	if el := time.Since(start); el < DefaultAttempts*time.Millisecond || el > time.Second {
		t.Fatalf("took %v", el)
	}
	// Attempts: 1 disables retries; Reboot never retries.
	c1 := NewClient(f, Config{Margin: time.Millisecond, Attempts: 1})
	f.packets = 0
	if _, _, err := c1.Ping(11); !errors.Is(err, ErrTimeout) || f.packets != 1 {
		t.Fatalf("%v after %d packets", err, f.packets)
	}
	f.packets = 0
	if err := c.Reboot(11); !errors.Is(err, ErrTimeout) || f.packets != 1 {
		t.Fatalf("reboot: %v after %d packets", err, f.packets)
	}
}

func TestClientRetryPauseDefault(t *testing.T) {
	f := newFakeBus(11)
	f.silent[11] = true
	c := NewClient(f, Config{Margin: time.Millisecond, Attempts: 2})
	start := time.Now()
	if _, err := c.Read(11, AddrLED, 1); !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
	if el := time.Since(start); el < DefaultRetryPause {
		t.Fatalf("no pause between attempts: %v", el)
	}
}

func TestClientGarbageThenReply(t *testing.T) {
	c, f := newTestClient(11)
	f.garbage = []byte{0x00, 0xFF, 0xFF, 0xFD, 0xFD, 0x13, 0xFF, 0xFF, 0xFD, 0x00, 0x0B, 0xFF}
	f.chunk = 3
	got, err := c.Read(11, AddrPresentPosition, 4)
	if err != nil || binary.LittleEndian.Uint32(got) != 2048+11 {
		t.Fatalf("% X %v", got, err)
	}
	if s := c.Stats(); s.Retries != 0 || s.Parser.Dropped == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestClientBadCRCOnce(t *testing.T) {
	c, f := newTestClient(11)
	f.corrupt = 1
	got, err := c.Read(11, AddrPresentPosition, 4)
	if err != nil || binary.LittleEndian.Uint32(got) != 2048+11 {
		t.Fatalf("% X %v", got, err)
	}
	if s := c.Stats(); s.Retries != 1 || s.Corrupt != 1 || s.Parser.CRCErrors != 1 || f.packets != 2 {
		t.Fatalf("stats %+v, %d packets", s, f.packets)
	}
	// Always corrupt: the error says so.
	f.corrupt = 100
	_, err = c.Read(11, AddrPresentPosition, 4)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.ID != 11 || !errors.Is(err, ErrCorrupt) || !errors.Is(err, ErrBus) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v", err)
	}
}

func TestClientTruncatedReply(t *testing.T) {
	c, f := newTestClient(11)
	f.truncate = 1
	if _, _, err := c.Ping(11); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Retries != 1 || s.Corrupt != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestClientStatusError(t *testing.T) {
	c, f := newTestClient(11)
	f.statusErr[11] = 0x80 | byte(ErrAccess)
	err := c.Write(11, AddrOperatingMode, []byte{3})
	var se *StatusError
	if !errors.As(err, &se) || se.ID != 11 || se.Code != ErrAccess || !se.Alert {
		t.Fatalf("err %#v", err)
	}
	if !errors.Is(err, ErrAccess) || !errors.Is(err, ErrAlert) || errors.Is(err, ErrBus) {
		t.Fatalf("errors.Is wrong for %v", err)
	}
	if f.packets != 1 {
		t.Fatalf("a device error was retried: %d packets", f.packets)
	}
	// A device that saw a damaged instruction is asked again.
	f.statusErr[11] = byte(ErrCRC)
	f.packets = 0
	if err := c.Write(11, AddrLED, []byte{1}); !errors.Is(err, ErrCRC) || f.packets != DefaultAttempts {
		t.Fatalf("%v after %d packets", err, f.packets)
	}
	// The alert bit alone does not fail the read, but is remembered.
	f.statusErr[11] = 0x80
	got, err := c.Read(11, AddrPresentPosition, 4)
	if err != nil || len(got) != 4 || !c.Alert(11) {
		t.Fatalf("alert-only read: % X %v alert %v", got, err, c.Alert(11))
	}
	f.statusErr[11] = 0
	if _, err := c.Read(11, AddrPresentPosition, 4); err != nil || c.Alert(11) {
		t.Fatalf("alert not cleared: %v", err)
	}
}

func TestClientSyncReadMissing(t *testing.T) {
	c, f := newTestClient(reachyIDs...)
	f.silent[14] = true
	res, err := c.SyncRead(AddrPresentPosition, 4, reachyIDs)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Total != 9 || len(pe.Errs) != 1 {
		t.Fatalf("err %v", err)
	}
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrBus) {
		t.Fatalf("errors.Is wrong for %v", err)
	}
	for i, r := range res {
		if r.ID == 14 {
			var te *TimeoutError
			if !errors.As(r.Err, &te) || te.ID != 14 {
				t.Fatalf("missing ID: %v", r.Err)
			}
			continue
		}
		if r.Err != nil || binary.LittleEndian.Uint32(r.Data) != 2048+uint32(r.ID) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	// Retries asked only the missing motor: its reply may still come, so
	// each retry pings it first (a barrier), and without an answer does
	// not ask it again.
	if f.packets != DefaultAttempts || f.last != InstPing || len(f.lastIDs) != 9 {
		t.Fatalf("%d packets, last %v, last IDs %v", f.packets, f.last, f.lastIDs)
	}
	if s := c.Stats(); s.Retries != DefaultAttempts-1 || s.Timeouts != DefaultAttempts || s.Barriers != DefaultAttempts-1 {
		t.Fatalf("stats %+v", s)
	}
	// Once it answers again, the barrier passes and the motor is read.
	f.silent[14] = false
	if _, err := c.SyncRead(AddrPresentPosition, 4, reachyIDs); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Barriers != DefaultAttempts {
		t.Fatalf("stats %+v", s)
	}
}

func TestClientSyncReadRecovers(t *testing.T) {
	c, f := newTestClient(reachyIDs...)
	f.corrupt = 1 // the first reply (ID 10) is damaged once
	res, err := c.SyncRead(AddrPresentPosition, 4, reachyIDs)
	if err != nil {
		t.Fatalf("%v %+v", err, res)
	}
	// A barrier ping, then the sync read of the motor concerned.
	if f.packets != 3 || !bytes.Equal(f.lastIDs, []byte{10}) {
		t.Fatalf("%d packets, last IDs %v", f.packets, f.lastIDs)
	}
	// A device error is final and not retried.
	f.statusErr[12] = byte(ErrDataRange)
	f.packets = 0
	res, err = c.SyncRead(AddrPresentPosition, 4, reachyIDs)
	if !errors.Is(err, ErrDataRange) || !errors.Is(res[2].Err, ErrDataRange) || f.packets != 1 {
		t.Fatalf("%v, %d packets", err, f.packets)
	}
}

func TestClientForeignReplyIgnored(t *testing.T) {
	c, f := newTestClient(11)
	f.foreign = true
	if _, _, err := c.Ping(11); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Ignored != 1 || s.Retries != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestClientStaleInputFlushed(t *testing.T) {
	for _, reset := range []bool{false, true} {
		f := newFakeBus(11)
		var port Port = f
		if reset {
			port = resettableBus{f}
		}
		c := NewClient(port, fastCfg)
		// A late reply to some earlier read, from the same ID and of the
		// same size, waits in the input.
		f.out = AppendStatus(f.out, 11, 0, []byte{0xDE, 0xAD, 0xBE, 0xEF})
		got, err := c.Read(11, AddrPresentPosition, 4)
		if err != nil || binary.LittleEndian.Uint32(got) != 2048+11 {
			t.Fatalf("reset=%v: stale reply taken: % X %v", reset, got, err)
		}
		if reset && f.resets != 1 {
			t.Fatalf("ResetInputBuffer called %d times", f.resets)
		}
	}
}

func TestClientChunkedReplies(t *testing.T) {
	c, f := newTestClient(reachyIDs...)
	f.chunk = 1
	if _, err := c.SyncRead(AddrPresentPosition, 4, reachyIDs); err != nil {
		t.Fatal(err)
	}
}

func TestClientWriteRaw(t *testing.T) {
	c, _ := newTestClient(11)
	ping := AppendInstruction(nil, 11, InstPing, nil)
	got, err := c.WriteRaw(ping, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseStatus(got)
	if err != nil || s.ID != 11 || len(s.Params) != 3 {
		t.Fatalf("% X: %+v %v", got, s, err)
	}
	// No reply: empty, not an error, after about the wait.
	start := time.Now()
	got, err = c.WriteRaw(AppendInstruction(nil, 99, InstPing, nil), 5*time.Millisecond)
	if err != nil || len(got) != 0 || time.Since(start) < 5*time.Millisecond {
		t.Fatalf("% X %v after %v", got, err, time.Since(start))
	}
}

type failingPort struct{ fakeBus }

var errUnplugged = errors.New("unplugged")

func (p *failingPort) Write([]byte) (int, error) { return 0, errUnplugged }

type shortPort struct{ fakeBus }

func (p *shortPort) Write(b []byte) (int, error) { return len(b) - 1, nil }

type eofPort struct{ fakeBus }

func (p *eofPort) Read([]byte) (int, error) { return 0, io.EOF }

func TestClientIOErrors(t *testing.T) {
	c := NewClient(&failingPort{}, fastCfg)
	err := c.Write(1, AddrLED, []byte{1})
	var ioe *IOError
	if !errors.As(err, &ioe) || !errors.Is(err, errUnplugged) || !errors.Is(err, ErrBus) {
		t.Fatalf("err %v", err)
	}
	if _, err := c.SyncRead(AddrLED, 1, []byte{1, 2}); !errors.Is(err, errUnplugged) {
		t.Fatalf("sync read: %v", err)
	}
	if err := NewClient(&shortPort{}, fastCfg).SyncWrite(AddrLED, 1, []byte{1}, []byte{1}); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("short write: %v", err)
	}
	if _, _, err := NewClient(&eofPort{}, fastCfg).Ping(1); !errors.Is(err, io.EOF) || !errors.Is(err, ErrBus) {
		t.Fatalf("closed port: %v", err)
	}
}

func TestClientInvalid(t *testing.T) {
	c, f := newTestClient(1)
	calls := map[string]func() error{
		"ping broadcast":   func() error { _, _, err := c.Ping(BroadcastID); return err },
		"read 0":           func() error { _, err := c.Read(1, 0, 0); return err },
		"read id 253":      func() error { _, err := c.Read(253, 0, 1); return err },
		"write empty":      func() error { return c.Write(1, 0, nil) },
		"write id 255":     func() error { return c.Write(255, 0, []byte{1}) },
		"sync write size":  func() error { return c.SyncWrite(116, 4, []byte{1, 2}, make([]byte, 7)) },
		"sync read dup":    func() error { _, err := c.SyncRead(132, 4, []byte{1, 1}); return err },
		"sync read none":   func() error { _, err := c.SyncRead(132, 4, nil); return err },
		"sync read bcast":  func() error { _, err := c.SyncRead(132, 4, []byte{BroadcastID}); return err },
		"bulk read 0":      func() error { _, err := c.BulkRead([]BulkReadReq{{1, 0, 0}}); return err },
		"bulk write dup":   func() error { return c.BulkWrite([]BulkWriteReq{{1, 0, []byte{1}}, {1, 2, []byte{1}}}) },
		"fast sync read 0": func() error { _, err := c.FastSyncRead(132, 0, []byte{1}); return err },
		"read too long":    func() error { _, err := c.Read(1, 0, MaxLen); return err },
		"fast too long":    func() error { _, err := c.FastSyncRead(0, 250, []byte{1, 2, 3, 4, 5}); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if f.packets != 0 {
		t.Fatalf("invalid calls sent %d packets", f.packets)
	}
}

func TestClientDefaults(t *testing.T) {
	cfg := NewClient(newFakeBus(), Config{}).Config()
	if cfg.BaudRate != 1_000_000 || cfg.Attempts != 5 || cfg.Margin != 10*time.Millisecond || cfg.RetryPause != 20*time.Millisecond {
		t.Fatalf("%+v", cfg)
	}
	c := NewClient(newFakeBus(), Config{Margin: time.Millisecond, ReturnDelay: 500 * time.Microsecond})
	// 9-motor position sync read: 23 bytes out, 9x15 back, at 10 µs a byte.
	if got, want := c.budget(23, 9*15, 9), 1580*time.Microsecond+9*500*time.Microsecond+time.Millisecond; got != want {
		t.Fatalf("budget %v, want %v", got, want)
	}
}

// TestClientDeadlinePort runs the client against a simulated motor on the
// far end of a net.Pipe: real blocking reads, deadlines, and replies
// written by another goroutine.
func TestClientDeadlinePort(t *testing.T) {
	near, far := net.Pipe()
	defer near.Close()
	sim := newFakeBus(11)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 256)
		for {
			n, err := far.Read(buf)
			if err != nil {
				return
			}
			sim.Write(buf[:n])
			if len(sim.out) > 0 {
				out := append([]byte{}, sim.out...)
				sim.out, sim.roff = sim.out[:0], 0
				// Reply in two pieces, as a USB adapter might.
				if _, err := far.Write(out[:len(out)/2]); err != nil {
					return
				}
				if _, err := far.Write(out[len(out)/2:]); err != nil {
					return
				}
			}
		}
	}()
	c := NewClient(DeadlinePort(near), Config{Margin: 20 * time.Millisecond, RetryPause: -1, Attempts: 2})
	if model, _, err := c.Ping(11); err != nil || model != ModelXL330M288 {
		t.Fatalf("ping: %d %v", model, err)
	}
	if err := c.Write(11, AddrGoalPosition, le32(99)); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Read(11, AddrGoalPosition, 4); err != nil || binary.LittleEndian.Uint32(got) != 99 {
		t.Fatalf("read: % X %v", got, err)
	}
	if _, _, err := c.Ping(12); !errors.Is(err, ErrTimeout) {
		t.Fatalf("missing motor: %v", err)
	}
	// A late reply left in the pipe is drained before the next request.
	stale := AppendStatus(nil, 11, 0, le32(-1))
	go far.Write(stale)
	time.Sleep(5 * time.Millisecond)
	if got, err := c.Read(11, AddrGoalPosition, 4); err != nil || binary.LittleEndian.Uint32(got) != 99 {
		t.Fatalf("stale read: % X %v", got, err)
	}
	far.Close()
	<-done
}
