package media

import (
	"net"
	"testing"
	"time"

	"reachyd/media/gst"
)

// listen opens n UDP sockets on loopback standing for the speaker inputs.
func listen(t *testing.T, n int) ([]*net.UDPConn, []int) {
	t.Helper()
	var conns []*net.UDPConn
	var ports []int
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	return conns, ports
}

func recv(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 1500)
	n, err := c.Read(b)
	if err != nil {
		t.Fatalf("input %v got nothing: %v", c.LocalAddr(), err)
	}
	return b[:n]
}

func TestSpeakerRouterSlots(t *testing.T) {
	conns, ports := listen(t, 2)
	r, err := newSpeakerRouter(2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	r.setPorts(ports)
	pkt := func(pt byte, marker bool) []byte {
		b := make([]byte, 20)
		b[0] = 0x80
		b[1] = pt
		if marker {
			b[1] |= 0x80
		}
		return b
	}
	// Each talker keeps its own input; the payload type becomes the
	// pipeline's, the marker bit stays.
	r.forward("a", pkt(109, true))
	got := recv(t, conns[0])
	if got[1] != 0x80|gst.PayloadOpus {
		t.Fatalf("second byte %#x, want marker and payload type %d", got[1], gst.PayloadOpus)
	}
	r.forward("b", pkt(100, false))
	if got := recv(t, conns[1]); got[1] != gst.PayloadOpus {
		t.Fatalf("b's packet %#x on the second input", got[1])
	}
	r.forward("a", pkt(109, false))
	recv(t, conns[0])
	// A third talker finds no input: dropped and counted.
	r.forward("c", pkt(100, false))
	if _, dropped := r.stats(); dropped != 1 {
		t.Fatalf("dropped %d, want 1", dropped)
	}
	// When a talker leaves, its input goes to the next one.
	r.end("a")
	r.forward("c", pkt(100, false))
	recv(t, conns[0])
	if n := r.talkers(); n != 2 {
		t.Fatalf("%d talkers, want 2", n)
	}
	// Runt and oversize packets are not forwarded.
	before, _ := r.stats()
	r.forward("b", make([]byte, 5))
	r.forward("b", make([]byte, 1600))
	if after, _ := r.stats(); after != before {
		t.Fatalf("bad packets forwarded: %d -> %d", before, after)
	}
}
