package x330

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"sync"
	"syscall"
	"testing"
	"time"

	dxl "reachyd/hw/dynamixel"
)

func TestDeadMotor(t *testing.T) {
	b := NewBus(Options{Configured: true})
	c := client(t, b, fastConfig)
	if !b.SetAlive(13, false) {
		t.Fatal("no motor 13")
	}
	res, err := c.SyncRead(dxl.AddrPresentPosition, 4, ids)
	var pe *dxl.PartialError
	if !errors.As(err, &pe) || len(pe.Errs) != 1 {
		t.Fatalf("sync read with a dead motor: %v", err)
	}
	for i, r := range res {
		var te *dxl.TimeoutError
		if ids[i] == 13 {
			if !errors.As(r.Err, &te) || te.ID != 13 {
				t.Fatalf("dead motor's result: %v", r.Err)
			}
		} else if r.Err != nil {
			t.Fatalf("motor %d: %v", ids[i], r.Err)
		}
	}
	// A dead motor hears nothing either.
	if err := c.SyncWrite(dxl.AddrLED, 1, ids, all9(u8(1))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Ping(13); !errors.Is(err, dxl.ErrTimeout) {
		t.Fatalf("ping of a dead motor: %v", err)
	}
	b.SetAlive(13, true)
	if _, err := c.SyncRead(dxl.AddrPresentPosition, 4, ids); err != nil {
		t.Fatalf("after revival: %v", err)
	}
	if readInt(t, c, 13, dxl.AddrLED) != 0 || readInt(t, c, 12, dxl.AddrLED) != 1 {
		t.Fatal("the dead motor heard the write")
	}
}

func TestGarbageBeforeReply(t *testing.T) {
	b := NewBus(Options{Configured: true, Seed: 7})
	c := client(t, b, dxl.Config{Margin: 2 * time.Millisecond, RetryPause: time.Millisecond})
	for n := 1; n <= 60; n += 3 {
		b.InjectGarbage(n)
		if _, err := c.SyncRead(dxl.AddrPresentPosition, 4, ids); err != nil {
			t.Fatalf("%d bytes of garbage: %v", n, err)
		}
		b.InjectGarbage(n)
		if v := readInt(t, c, 11, dxl.AddrPresentInputVoltage); v != 50 {
			t.Fatalf("%d bytes of garbage: voltage %d", n, v)
		}
	}
	if s := c.Stats(); s.Parser.Dropped == 0 {
		t.Fatalf("no garbage seen: %+v", s)
	}
	// Cancelled garbage is not sent.
	b.InjectGarbage(30)
	b.InjectGarbage(0)
	before := c.Stats().Parser.Dropped
	readInt(t, c, 11, dxl.AddrLED)
	if c.Stats().Parser.Dropped != before {
		t.Fatal("cancelled garbage sent")
	}
}

func TestCorruptCRC(t *testing.T) {
	b := NewBus(Options{Configured: true})
	c := client(t, b, dxl.Config{Margin: 2 * time.Millisecond, RetryPause: time.Millisecond})
	b.CorruptNext(2)
	if v := readInt(t, c, 11, dxl.AddrPresentInputVoltage); v != 50 {
		t.Fatalf("voltage %d", v)
	}
	if s := c.Stats(); s.Retries != 2 || s.Corrupt != 2 || s.Parser.CRCErrors != 2 {
		t.Fatalf("stats after 2 corrupt replies: %+v", s)
	}
	// In a sync read only the damaged reply is asked for again.
	b.CorruptNext(1)
	if _, err := c.SyncRead(dxl.AddrPresentPosition, 4, ids); err != nil {
		t.Fatal(err)
	}
	if n := b.Counts()[dxl.InstSyncRead]; n != 2 {
		t.Fatalf("%d sync reads for one damaged reply", n)
	}
	// Beyond the attempts the client gives up.
	b.CorruptNext(10)
	if _, err := c.Read(11, dxl.AddrLED, 1); !errors.Is(err, dxl.ErrCorrupt) {
		t.Fatalf("persistent corruption: %v", err)
	}
	b.CorruptNext(0)
	readInt(t, c, 11, dxl.AddrLED)
}

func TestHardwareErrorLatchedUntilReboot(t *testing.T) {
	b := NewBus(Options{Configured: true, RebootDelay: -1})
	c := client(t, b, fastConfig)
	mustWrite(t, c, 14, dxl.AddrTorqueEnable, u8(1))
	// An error outside the Shutdown mask (52 has no encoder bit) latches
	// without cutting the torque.
	b.InjectHardwareError(14, dxl.HWMotorEncoder)
	if s := snap(t, b, 14); !s.Torque || s.HardwareError != dxl.HWMotorEncoder {
		t.Fatalf("encoder error: %+v", s)
	}
	b.InjectHardwareError(14, dxl.HWElectricalShock)
	if s := snap(t, b, 14); s.Torque || s.HardwareError != dxl.HWMotorEncoder|dxl.HWElectricalShock {
		t.Fatalf("electrical shock: %+v", s)
	}
	for range 3 { // every status carries the alert
		readInt(t, c, 14, dxl.AddrLED)
		if !c.Alert(14) {
			t.Fatal("no alert")
		}
	}
	if err := c.Reboot(14); err != nil {
		t.Fatal(err)
	}
	if readInt(t, c, 14, dxl.AddrHardwareErrorStatus) != 0 || c.Alert(14) {
		t.Fatal("reboot did not clear")
	}
}

func TestVoltageDrop(t *testing.T) {
	// Reachy Mini's mask (52) ignores the input voltage: the bit shows
	// while the voltage is low, and the torque stays.
	b := NewBus(Options{Configured: true, RebootDelay: -1})
	c := client(t, b, fastConfig)
	c.SyncWrite(dxl.AddrTorqueEnable, 1, ids, all9(u8(1)))
	b.SetVoltage(3.0)
	res, err := c.SyncRead(dxl.AddrHardwareErrorStatus, 1, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Data[0] != byte(dxl.HWInputVoltage) || !r.Alert {
			t.Fatalf("low voltage: %+v", r)
		}
	}
	if v := readInt(t, c, 10, dxl.AddrPresentInputVoltage); v != 30 {
		t.Fatalf("voltage register %d", v)
	}
	if s := snap(t, b, 10); !s.Torque {
		t.Fatal("torque cut with mask 52")
	}
	b.SetVoltage(DefaultVoltage)
	if readInt(t, c, 10, dxl.AddrHardwareErrorStatus) != 0 || c.Alert(10) {
		t.Fatal("voltage error stayed")
	}

	// The factory mask (53) latches it and cuts the torque; a reboot
	// while the voltage is still low keeps it.
	f := NewBus(Options{RebootDelay: -1})
	fc := client(t, f, fastConfig)
	mustWrite(t, fc, 11, dxl.AddrTorqueEnable, u8(1))
	f.SetVoltage(3.0)
	f.SetVoltage(DefaultVoltage)
	if s := snap(t, f, 11); s.Torque || s.HardwareError != dxl.HWInputVoltage {
		t.Fatalf("factory motor after a voltage drop: %+v", s)
	}
	f.SetVoltage(7.5) // above the max limit (7.0 V)
	fc.Reboot(11)
	if s := snap(t, f, 11); s.HardwareError != dxl.HWInputVoltage {
		t.Fatalf("reboot with the cause present: %+v", s)
	}
	f.SetVoltage(DefaultVoltage)
	fc.Reboot(11)
	if s := snap(t, f, 11); s.HardwareError != 0 {
		t.Fatalf("reboot with the cause gone: %+v", s)
	}
	mustWrite(t, fc, 11, dxl.AddrTorqueEnable, u8(1))
}

func TestOverheating(t *testing.T) {
	b := NewBus(Options{Configured: true, RebootDelay: -1})
	c := client(t, b, fastConfig)
	mustWrite(t, c, 12, dxl.AddrTorqueEnable, u8(1))
	b.SetTemperature(12, 70) // at the limit: fine
	if s := snap(t, b, 12); !s.Torque || s.HardwareError != 0 {
		t.Fatalf("at the limit: %+v", s)
	}
	b.SetTemperature(12, 80)
	if s := snap(t, b, 12); s.Torque || s.HardwareError != dxl.HWOverheating || s.Temperature != 80 {
		t.Fatalf("overheating: %+v", s)
	}
	b.SetTemperature(12, DefaultTemperature)
	if v := readInt(t, c, 12, dxl.AddrHardwareErrorStatus); v != int64(dxl.HWOverheating) {
		t.Fatalf("cooled down, error %d: not latched", v)
	}
	if v := readInt(t, c, 12, dxl.AddrPresentTemperature); v != DefaultTemperature {
		t.Fatalf("temperature register %d", v)
	}
	c.Reboot(12)
	if v := readInt(t, c, 12, dxl.AddrHardwareErrorStatus); v != 0 {
		t.Fatalf("after reboot: %d", v)
	}
	// A lower limit written with the motor hot trips at once.
	b.SetTemperature(12, 60)
	mustWrite(t, c, 12, dxl.AddrTemperatureLimit, u8(50))
	if s := snap(t, b, 12); s.HardwareError != dxl.HWOverheating {
		t.Fatalf("new limit: %+v", s)
	}
}

func TestUnplugReplug(t *testing.T) {
	b := NewBus(Options{Configured: true})
	p, err := b.Open()
	if err != nil {
		t.Fatal(err)
	}
	c := dxl.NewClient(p, fastConfig)
	mustWrite(t, c, 10, dxl.AddrTorqueEnable, u8(1))
	mustWrite(t, c, 10, dxl.AddrGoalPosition, u32(2100))

	// A Read blocked at the time fails too.
	p2, _ := b.Open()
	p2.SetReadTimeout(-1)
	blocked := make(chan error, 1)
	go func() {
		_, err := p2.Read(make([]byte, 4))
		blocked <- err
	}()
	time.Sleep(2 * time.Millisecond)

	b.Unplug()
	if _, err := p.Write([]byte{1}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write after unplug: %v", err)
	}
	if _, err := p.Read(make([]byte, 4)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read after unplug: %v", err)
	}
	if _, _, err := c.Ping(10); !errors.Is(err, dxl.ErrBus) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("client after unplug: %v", err)
	}
	select {
	case err := <-blocked:
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("blocked read: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("unplug did not wake a blocked read")
	}
	if _, err := b.Open(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open while unplugged: %v", err)
	}

	b.Replug()
	if _, err := p.Read(make([]byte, 4)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("old handle after replug: %v", err)
	}
	c = client(t, b, fastConfig)
	if v := readInt(t, c, 10, dxl.AddrTorqueEnable); v != 1 {
		t.Fatal("torque lost across the unplug")
	}
	if v := readInt(t, c, 10, dxl.AddrGoalPosition); v != 2100 {
		t.Fatalf("goal lost across the unplug: %d", v)
	}
	p.Close()
	p2.Close()
}

// TestFaultsUnderTraffic injects and clears every fault while a client runs
// control ticks, for the race detector; the client reopens as the daemon
// does when the port fails.
func TestFaultsUnderTraffic(t *testing.T) {
	b := NewBus(Options{Configured: true, RebootDelay: time.Millisecond})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ticks int
	wg.Add(1)
	go func() {
		defer wg.Done()
		var c *dxl.Client
		var p Port
		goals := all9(u32(2048))
		for {
			select {
			case <-stop:
				if p != nil {
					p.Close()
				}
				return
			default:
			}
			if c == nil {
				var err error
				if p, err = b.Open(); err != nil {
					time.Sleep(time.Millisecond)
					continue
				}
				c = dxl.NewClient(p, dxl.Config{Margin: time.Millisecond, RetryPause: -1, Attempts: 2})
			}
			c.SyncWrite(dxl.AddrGoalPosition, 4, ids, goals)
			_, err := c.SyncRead(dxl.AddrPresentPosition, 4, ids)
			var ioe *dxl.IOError
			if errors.As(err, &ioe) {
				p.Close()
				c = nil
			}
			ticks++
		}
	}()
	faults := []func(){
		func() { b.SetAlive(11, false) }, func() { b.SetAlive(11, true) },
		func() { b.InjectGarbage(20) }, func() { b.CorruptNext(3) },
		func() { b.SetVoltage(3) }, func() { b.SetVoltage(DefaultVoltage) },
		func() { b.SetTemperature(12, 90) }, func() { b.SetTemperature(12, DefaultTemperature) },
		func() { b.InjectHardwareError(13, dxl.HWOverload) },
		func() { b.Unplug() }, func() { b.Replug() },
		func() { b.Snapshot(14); b.Positions(); b.Counts(); b.LastSyncWrite() },
	}
	for i := range 300 {
		faults[i%len(faults)]()
		time.Sleep(100 * time.Microsecond)
	}
	b.Replug()
	time.Sleep(5 * time.Millisecond)
	close(stop)
	wg.Wait()
	if ticks == 0 {
		t.Fatal("no traffic")
	}
	c := client(t, b, fastConfig)
	b.SetAlive(11, true)
	b.SetVoltage(DefaultVoltage)
	b.SetTemperature(12, DefaultTemperature)
	c.Reboot(dxl.BroadcastID)
	time.Sleep(5 * time.Millisecond)
	res, err := c.SyncRead(dxl.AddrHardwareErrorStatus, 1, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Data[0] != 0 {
			t.Fatalf("motor %d: error %d after clearing", r.ID, r.Data[0])
		}
	}
	if v := binary.LittleEndian.Uint32(b.LastSyncWrite().Params[1:]); v != 2048 {
		t.Fatalf("last goal %d", v)
	}
}

func TestReplyFaults(t *testing.T) {
	b := NewBus(Options{Configured: true})
	c := client(t, b, dxl.Config{Attempts: 1, Margin: 2 * time.Millisecond})
	// Dropped: only the named motor's replies to the named instruction,
	// only as many as asked.
	b.InjectReplyFault(ReplyFault{ID: 12, Inst: dxl.InstPing, Count: 2, Drop: true})
	readInt(t, c, 12, dxl.AddrLED)
	if _, _, err := c.Ping(13); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := c.Ping(12); !errors.Is(err, dxl.ErrTimeout) {
			t.Fatalf("dropped ping reply: %v", err)
		}
	}
	if _, _, err := c.Ping(12); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
	// Corrupted, in a sync read: the other motors' replies are intact.
	b.InjectReplyFault(ReplyFault{ID: 15, Corrupt: true})
	crc := c.Stats().Parser.CRCErrors
	res, err := c.SyncRead(dxl.AddrPresentInputVoltage, 2, ids)
	if !errors.Is(err, dxl.ErrBus) || c.Stats().Parser.CRCErrors != crc+1 {
		t.Fatalf("corrupted reply: %v %+v", err, c.Stats())
	}
	for i, r := range res {
		if (r.Err != nil) != (ids[i] == 15) {
			t.Fatalf("motor %d: %v", ids[i], r.Err)
		}
	}
	// Cleared before use.
	b.InjectReplyFault(ReplyFault{ID: 11, Drop: true})
	b.ClearReplyFaults()
	readInt(t, c, 11, dxl.AddrLED)

	// Late: the reply arrives after the delay, and what follows it on the
	// line arrives after it.
	p, err := b.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	b.InjectReplyFault(ReplyFault{ID: 12, Delay: 60 * time.Millisecond})
	start := time.Now()
	p.Write(dxl.AppendInstruction(nil, 12, dxl.InstPing, nil))
	p.Write(dxl.AppendInstruction(nil, 13, dxl.InstPing, nil))
	p.SetReadTimeout(5 * time.Millisecond)
	if n, _ := p.Read(make([]byte, 64)); n != 0 {
		t.Fatal("a late reply (or one behind it) came early")
	}
	var got []byte
	p.SetReadTimeout(time.Second)
	for len(got) < 28 {
		buf := make([]byte, 64)
		n, err := p.Read(buf)
		if n == 0 || err != nil {
			t.Fatalf("late replies: %d %v", n, err)
		}
		got = append(got, buf[:n]...)
	}
	if time.Since(start) < 60*time.Millisecond {
		t.Fatalf("late reply after %v", time.Since(start))
	}
	if st := statuses(got); len(st) != 2 || st[0].ID != 12 || st[1].ID != 13 {
		t.Fatalf("late replies out of order: % X", got)
	}
}
