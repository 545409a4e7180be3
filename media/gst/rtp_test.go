package gst

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// rtp builds a packet: version 2, the given first byte's low bits (P, X,
// CC), payload type, and body after the fixed header.
func rtp(flags byte, pt byte, body ...byte) []byte {
	b := []byte{0x80 | flags, pt, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3}
	return append(b, body...)
}

func TestValidRTP(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  []byte
		ok   bool
	}{
		{"minimal", rtp(0, 96), true},
		{"marker and payload", rtp(0, 0x80|111, 1, 2, 3), true},
		{"short", rtp(0, 96)[:11], false},
		{"version 1", append([]byte{0x40}, rtp(0, 96)[1:]...), false},
		{"RTCP range", rtp(0, 72), false},
		{"RTCP range with marker", rtp(0, 0x80|76), false},
		{"CSRC inside", rtp(0x01, 96, 0, 0, 0, 9), true},
		{"CSRC beyond", rtp(0x02, 96, 0, 0, 0, 9), false},
		{"extension inside", rtp(0x10, 96, 0xbe, 0xde, 0, 1, 1, 2, 3, 4), true},
		{"extension beyond", rtp(0x10, 96, 0xbe, 0xde, 0, 2, 1, 2, 3, 4), false},
		{"extension header cut", rtp(0x10, 96, 0xbe, 0xde), false},
		{"padding", rtp(0x20, 96, 9, 0, 2), true},
		{"padding zero", rtp(0x20, 96, 9, 0, 0), false},
		{"padding beyond", rtp(0x20, 96, 9, 0, 4), false},
	} {
		if got := ValidRTP(tc.pkt); got != tc.ok {
			t.Errorf("%s: ValidRTP = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func FuzzValidRTP(f *testing.F) {
	f.Add(rtp(0, 96, 1, 2, 3))
	f.Add(rtp(0x31, 96, 0, 0, 0, 9, 0xbe, 0xde, 0, 1, 1, 2, 3, 4, 5, 0, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !ValidRTP(b) {
			return
		}
		// What ValidRTP accepts has its header inside the packet.
		n := 12 + 4*int(b[0]&0x0f)
		if b[0]&0x10 != 0 {
			n += 4 + 4*int(binary.BigEndian.Uint16(b[n+2:]))
		}
		if n > len(b) {
			t.Fatalf("accepted %x with a header of %d bytes", b, n)
		}
	})
}

func TestReceiverAndSender(t *testing.T) {
	q := newPacketQueue()
	rx := newReceiver(t, q.put)
	tx, err := NewUDPSender(rx.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	// Not RTP, then too large, then good: only the good one arrives.
	tx.Write([]byte("hello"))
	tx.Write(rtp(0, 96, make([]byte, MaxRTPPacket)...))
	want := rtp(0, 0x80|96, 7, 8, 9)
	tx.Write(want)
	if got := q.next(t); string(got) != string(want) {
		t.Fatalf("received % x, want % x", got, want)
	}
	if packets, invalid := rx.Stats(); packets != 1 || invalid != 2 {
		t.Fatalf("stats %d packets %d invalid, want 1 and 2", packets, invalid)
	}

	// Retarget to another receiver.
	q2 := newPacketQueue()
	rx2 := newReceiver(t, q2.put)
	tx.SetPort(rx2.Port())
	if tx.Port() != rx2.Port() {
		t.Fatalf("Port %d after SetPort(%d)", tx.Port(), rx2.Port())
	}
	tx.Write(want)
	if got := q2.next(t); string(got) != string(want) {
		t.Fatalf("received % x after SetPort", got)
	}

	// Sending to a port nobody listens on is no error.
	ports, err := FreeUDPPorts(1)
	if err != nil {
		t.Fatal(err)
	}
	tx.SetPort(ports[0])
	for range 3 {
		if _, err := tx.Write(want); err != nil {
			t.Fatalf("write to a closed port: %v", err)
		}
	}
}

func TestReceiverCloseWaitsForTheCallback(t *testing.T) {
	var inFlight atomic.Bool
	entered, closing := make(chan struct{}), make(chan struct{})
	rx, err := NewUDPReceiver(func([]byte) {
		inFlight.Store(true)
		close(entered)
		<-closing
		time.Sleep(50 * time.Millisecond) // widen the window a Close that did not wait would miss
		inFlight.Store(false)
	})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := NewUDPSender(rx.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	tx.Write(rtp(0, 96))
	<-entered
	close(closing)
	if err := rx.Close(); err != nil {
		t.Fatal(err)
	}
	if inFlight.Load() {
		t.Fatal("Close returned while the callback was running")
	}
	rx.Close() // twice is fine
}

func TestFreeUDPPorts(t *testing.T) {
	ports, err := FreeUDPPorts(8)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if !validPort(p) || seen[p] {
			t.Fatalf("ports %v", ports)
		}
		seen[p] = true
		// free now: binding it works
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			t.Fatalf("port %d not free: %v", p, err)
		}
		c.Close()
	}
	if _, err := FreeUDPPorts(-1); err == nil {
		t.Error("negative count accepted")
	}
}
