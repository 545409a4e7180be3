package x330

import (
	"errors"
	"syscall"
	"testing"
	"time"

	dxl "reachyd/hw/dynamixel"
)

// TestTimingSyncRead checks the wire time of the 50 Hz read: 23 bytes out
// and 9 × 15 bytes back at 10 µs a byte is 1.58 ms. Only a lower bound is
// asserted: scheduling can only add time.
func TestTimingSyncRead(t *testing.T) {
	b := NewBus(Options{Configured: true, Timing: true})
	c := client(t, b, dxl.Config{})
	if _, err := c.SyncRead(dxl.AddrPresentPosition, 4, ids); err != nil {
		t.Fatal(err)
	}
	const n = 100
	start := time.Now()
	for range n {
		if _, err := c.SyncRead(dxl.AddrPresentPosition, 4, ids); err != nil {
			t.Fatal(err)
		}
	}
	per := time.Since(start) / n
	t.Logf("9-motor sync read of 4 bytes: %v per transaction (wire time 1.58 ms)", per)
	if per < 1500*time.Microsecond {
		t.Fatalf("%v per sync read: faster than the wire", per)
	}
}

// TestTimingReturnDelay checks that the factory Return Delay Time (250, so
// 500 µs) is waited: a Read of 4 bytes is 14 + 15 bytes on the wire plus
// the delay, 0.79 ms.
func TestTimingReturnDelay(t *testing.T) {
	b := NewBus(Options{Timing: true})
	c := client(t, b, dxl.Config{})
	const n = 20
	start := time.Now()
	for range n {
		if _, err := c.Read(11, dxl.AddrPresentPosition, 4); err != nil {
			t.Fatal(err)
		}
	}
	if per := time.Since(start) / n; per < 750*time.Microsecond {
		t.Fatalf("%v per read with a 500 µs return delay", per)
	}
}

func TestLatency(t *testing.T) {
	b := NewBus(Options{Latency: 3 * time.Millisecond})
	c := client(t, b, dxl.Config{})
	start := time.Now()
	if _, _, err := c.Ping(10); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 3*time.Millisecond {
		t.Fatalf("ping answered in %v with 3 ms of latency", d)
	}
}

// TestTimingSleepingReadWakes checks that a Read sleeping until a reply is
// due (an hour away here, through Latency) returns as soon as its port is
// closed or the cable pulled, rather than at the reply's time.
func TestTimingSleepingReadWakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(b *Bus, p Port)
		want func(error) bool
	}{
		{"close", func(_ *Bus, p Port) { p.Close() }, func(err error) bool { return errors.Is(err, ErrClosed) }},
		{"unplug", func(b *Bus, _ Port) { b.Unplug() }, func(err error) bool { return errors.Is(err, syscall.EIO) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBus(Options{Configured: true, Timing: true, Latency: time.Hour})
			p, err := b.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if _, err := p.Write(dxl.AppendInstruction(nil, 10, dxl.InstPing, nil)); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := p.Read(make([]byte, 16))
				done <- err
			}()
			h := p.(*handle)
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				b.mu.Lock()
				sleeping := h.sleeping
				b.mu.Unlock()
				if sleeping {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the read never waited")
				}
			}
			time.Sleep(5 * time.Millisecond) // most likely asleep on the alarm by now; either way it must wake
			tc.end(b, p)
			select {
			case err := <-done:
				if !tc.want(err) {
					t.Fatalf("read returned %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the sleeping read did not wake")
			}
		})
	}
}

// TestTimingBurstDueTogether checks that the replies to one instruction
// become readable together, when the last is due, and not before: the
// nine replies of a sync read are readable all at once, when the ninth
// has crossed the wire, and one blocking read gets them all. A reply made
// late by a fault comes later, with those sent after it; those before it
// come on time.
func TestTimingBurstDueTogether(t *testing.T) {
	syncRead := func(t *testing.T, b *Bus) (Port, *handle) {
		p, err := b.Open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		params := append(u16(int(dxl.AddrPresentPosition)), u16(4)...)
		params = append(params, ids...)
		if _, err := p.Write(dxl.AppendInstruction(nil, dxl.BroadcastID, dxl.InstSyncRead, params)); err != nil {
			t.Fatal(err)
		}
		return p, p.(*handle)
	}
	t.Run("on time", func(t *testing.T) {
		b := NewBus(Options{Configured: true, Timing: true})
		p, h := syncRead(t, b)
		b.mu.Lock()
		if len(h.marks) != len(ids) {
			b.mu.Unlock()
			t.Fatalf("%d replies queued", len(h.marks))
		}
		due := h.marks[len(h.marks)-1].at
		before, _ := h.readable(due.Add(-time.Nanosecond))
		at, _ := h.readable(due)
		b.mu.Unlock()
		if before != 0 || at != len(h.buf) {
			t.Fatalf("readable just before the last reply is due: %d bytes, when it is: %d of %d", before, at, len(h.buf))
		}
		buf := make([]byte, 1024)
		n, err := p.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if st := statuses(buf[:n]); len(st) != len(ids) {
			t.Fatalf("one read got %d status packets, want the whole burst of %d", len(st), len(ids))
		}
	})
	t.Run("one late", func(t *testing.T) {
		b := NewBus(Options{Configured: true, Timing: true})
		b.InjectReplyFault(ReplyFault{ID: 13, Delay: time.Hour})
		p, _ := syncRead(t, b)
		p.SetReadTimeout(10 * time.Second) // not an hour, if those on time were held back too
		buf := make([]byte, 1024)
		n, err := p.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		st := statuses(buf[:n])
		if len(st) != 3 || st[0].ID != 10 || st[2].ID != 12 {
			t.Fatalf("read %d status packets before the late one (%+v), want those of 10, 11 and 12", len(st), st)
		}
	})
}
