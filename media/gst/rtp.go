package gst

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// MaxRTPPacket bounds a packet UDPReceiver accepts: the pipelines send at
// most their MTU (1200) and nothing on loopback needs more.
const MaxRTPPacket = 1500

// loopback is where every socket of this package lives.
var loopback = netip.MustParseAddr("127.0.0.1")

// UDPReceiver receives RTP from a pipeline on 127.0.0.1, on a port the
// kernel picked (Port), and hands each valid packet to a callback.
type UDPReceiver struct {
	conn    *net.UDPConn
	fn      func(pkt []byte)
	done    chan struct{}
	once    sync.Once
	packets atomic.Uint64
	invalid atomic.Uint64
}

// NewUDPReceiver binds 127.0.0.1:0 and calls fn, from one goroutine, with
// each packet that looks like RTP (see ValidRTP); others are counted and
// dropped. pkt is valid only during the call: fn copies what it keeps.
// fn must not block for long: while it runs, packets wait in the socket
// buffer (1 MiB requested) and then are lost.
func NewUDPReceiver(fn func(pkt []byte)) (*UDPReceiver, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		return nil, err
	}
	_ = conn.SetReadBuffer(1 << 20) // a keyframe is a burst of dozens of packets
	r := &UDPReceiver{conn: conn, fn: fn, done: make(chan struct{})}
	go r.loop()
	return r, nil
}

// Port is the port to give the pipeline's udpsink.
func (r *UDPReceiver) Port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

// Stats counts the packets passed to the callback and those dropped as
// not RTP or too large.
func (r *UDPReceiver) Stats() (packets, invalid uint64) {
	return r.packets.Load(), r.invalid.Load()
}

// Close stops the receiver; when it returns the callback is not running
// and will not be called again.
func (r *UDPReceiver) Close() error {
	var err error
	r.once.Do(func() { err = r.conn.Close() })
	<-r.done
	return err
}

func (r *UDPReceiver) loop() {
	defer close(r.done)
	buf := make([]byte, MaxRTPPacket+1) // one more byte tells an oversized datagram
	failures := 0
	for {
		n, _, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			// An unconnected UDP socket reports no ICMP errors: anything
			// but Close is unexpected; do not spin on it.
			if failures++; errors.Is(err, net.ErrClosed) || failures > 100 {
				return
			}
			continue
		}
		failures = 0
		if n > MaxRTPPacket || !ValidRTP(buf[:n]) {
			r.invalid.Add(1)
			continue
		}
		r.packets.Add(1)
		r.fn(buf[:n])
	}
}

// ValidRTP checks the fixed RTP header (RFC 3550) just enough to forward
// a packet: version 2, the CSRC list, header extension and padding inside
// the packet, and a payload type outside the range RTCP would use
// (RFC 5761).
func ValidRTP(b []byte) bool {
	if len(b) < 12 || b[0]>>6 != 2 {
		return false
	}
	if pt := b[1] & 0x7f; pt >= 72 && pt <= 76 {
		return false
	}
	n := 12 + 4*int(b[0]&0x0f)
	if len(b) < n {
		return false
	}
	if b[0]&0x10 != 0 { // extension: 4-byte header, then length words
		if len(b) < n+4 {
			return false
		}
		n += 4 + 4*(int(b[n+2])<<8|int(b[n+3]))
		if len(b) < n {
			return false
		}
	}
	if b[0]&0x20 != 0 { // padding: the last byte counts it, itself included
		pad := int(b[len(b)-1])
		if pad == 0 || len(b)-n < pad {
			return false
		}
	}
	return true
}

// UDPSender writes RTP to a pipeline's input port on 127.0.0.1. Its
// socket is not connected: a packet sent while the pipeline restarts is
// lost without an error, and SetPort retargets it when the pipeline
// comes back on new ports.
type UDPSender struct {
	conn *net.UDPConn
	port atomic.Int32
}

// NewUDPSender returns a sender to 127.0.0.1:port.
func NewUDPSender(port int) (*UDPSender, error) {
	if !validPort(port) {
		return nil, errors.New("gst: sender port out of range")
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		return nil, err
	}
	s := &UDPSender{conn: conn}
	s.port.Store(int32(port))
	return s, nil
}

// SetPort changes the destination port; safe while Write runs.
func (s *UDPSender) SetPort(port int) {
	if validPort(port) {
		s.port.Store(int32(port))
	}
}

// Port is the destination port.
func (s *UDPSender) Port() int { return int(s.port.Load()) }

// Write sends one packet; safe for concurrent use.
func (s *UDPSender) Write(pkt []byte) (int, error) {
	return s.conn.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(loopback, uint16(s.port.Load())))
}

// Close releases the socket.
func (s *UDPSender) Close() error { return s.conn.Close() }

// FreeUDPPorts picks n distinct free UDP ports on 127.0.0.1 for a
// pipeline's udpsrc inputs: it binds n sockets at once on port 0, notes
// the ports and closes them. Something else may take a port between this
// and the pipeline's bind (a small race): the pipeline then fails to
// start, exits, and is restarted with fresh ports when its Spec.Argv picks
// them again.
func FreeUDPPorts(n int) ([]int, error) {
	if n < 0 || n > 1024 {
		return nil, errors.New("gst: port count out of range")
	}
	conns := make([]*net.UDPConn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	return ports, nil
}
