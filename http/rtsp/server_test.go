package rtsp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func (e *testEnv) url(path string) string { return "rtsp://" + e.addr + "/" + path }

// waitFor polls cond: for effects of a closed connection, which the
// server sees asynchronously. The deadline only guards against hangs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (e *testEnv) sessionCount() int {
	e.srv.mu.Lock()
	defer e.srv.mu.Unlock()
	return len(e.srv.sessions)
}

var ssrcRe = regexp.MustCompile(`ssrc=([0-9A-Fa-f]{8})`)

// setupPlay runs DESCRIBE, SETUP with transport, PLAY and returns the
// SETUP and PLAY responses.
func setupPlay(t *testing.T, c *testClient, e *testEnv, transport string) (setup, play testResponse) {
	t.Helper()
	d := c.do("DESCRIBE", e.url("head_color"), "Accept: application/sdp")
	if d.status != 200 {
		t.Fatalf("DESCRIBE: %d", d.status)
	}
	setup = c.do("SETUP", d.get("Content-Base")+"trackID=0", "Transport: "+transport)
	if setup.status != 200 {
		t.Fatalf("SETUP: %d", setup.status)
	}
	id, timeout, _ := strings.Cut(setup.get("Session"), ";")
	if timeout != "timeout=60" {
		t.Errorf("Session header %q, want a timeout of 60", setup.get("Session"))
	}
	c.session = id
	play = c.do("PLAY", d.get("Content-Base"), "Range: npt=0.000-")
	if play.status != 200 {
		t.Fatalf("PLAY: %d", play.status)
	}
	return setup, play
}

// rtpInfo extracts seq and rtptime from an RTP-Info header.
func rtpInfo(t *testing.T, h string) (seq uint16, rtptime uint32) {
	t.Helper()
	m := regexp.MustCompile(`^url=rtsp://[^;]+/head_color/trackID=0;seq=(\d+);rtptime=(\d+)$`).FindStringSubmatch(h)
	if m == nil {
		t.Fatalf("RTP-Info %q", h)
	}
	s, _ := strconv.Atoi(m[1])
	r, _ := strconv.ParseUint(m[2], 10, 32)
	return uint16(s), uint32(r)
}

// mediaChecker follows an RTP stream, checking continuity, and rebuilds
// its frames.
type mediaChecker struct {
	t        *testing.T
	e        *testEnv
	ssrc     uint32
	nextSeq  uint16
	lastTS   uint32
	frames   int
	d        depacketizer
	mtu      int
	seenSR   bool
	frameHit map[int]bool
}

func newMediaChecker(t *testing.T, e *testEnv, setup, play testResponse) *mediaChecker {
	m := ssrcRe.FindStringSubmatch(setup.get("Transport"))
	if m == nil {
		t.Fatalf("no ssrc in Transport %q", setup.get("Transport"))
	}
	ssrc, _ := strconv.ParseUint(m[1], 16, 32)
	seq, _ := rtpInfo(t, play.get("RTP-Info"))
	return &mediaChecker{t: t, e: e, ssrc: uint32(ssrc), nextSeq: seq, mtu: defaultMTU, frameHit: map[int]bool{}}
}

// rtp checks one RTP packet and returns true when it completed a frame.
func (m *mediaChecker) rtp(b []byte) bool {
	t := m.t
	t.Helper()
	if len(b) > m.mtu {
		t.Fatalf("RTP packet of %d bytes exceeds the MTU %d", len(b), m.mtu)
	}
	p, err := parseRTP(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.ssrc != m.ssrc {
		t.Fatalf("SSRC %08X, SETUP said %08X", p.ssrc, m.ssrc)
	}
	if p.seq != m.nextSeq {
		t.Fatalf("sequence %d, want %d (the first must match RTP-Info)", p.seq, m.nextSeq)
	}
	m.nextSeq++
	if m.frames > 0 && m.d.packets == 0 && int32(p.ts-m.lastTS) <= 0 {
		t.Fatalf("timestamp %d does not advance from %d", p.ts, m.lastTS)
	}
	j, err := m.d.push(p)
	if err != nil {
		t.Fatal(err)
	}
	if j == nil {
		return false
	}
	m.lastTS = p.ts
	m.frames++
	i := matchFrame(t, j, m.e.decoded)
	if i < 0 {
		t.Fatalf("frame %d does not decode to any source frame", m.frames)
	}
	m.frameHit[i] = true
	return true
}

// rtcp checks a sender report compound packet.
func (m *mediaChecker) rtcp(b []byte) {
	m.t.Helper()
	if len(b) < 28 || b[0]>>6 != 2 || b[1] != 200 {
		m.t.Fatalf("RTCP packet is not a sender report: % x", b[:min(len(b), 8)])
	}
	if binary.BigEndian.Uint32(b[4:]) != m.ssrc {
		m.t.Fatalf("sender report for SSRC %08x", binary.BigEndian.Uint32(b[4:]))
	}
	srLen := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
	if len(b) < srLen+8 || b[srLen+1] != 202 {
		m.t.Fatalf("sender report without SDES: % x", b)
	}
	m.seenSR = true
}

func TestRTSPInterleaved(t *testing.T) {
	e := startServer(t, testFrames(t, 3, 160, 120), nil)
	c := dialRTSP(t, e.addr)

	opt := c.do("OPTIONS", e.url("head_color"))
	for _, m := range []string{"DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER"} {
		if !strings.Contains(opt.get("Public"), m) {
			t.Errorf("Public %q lacks %s", opt.get("Public"), m)
		}
	}
	d := c.do("DESCRIBE", e.url("head_color"), "Accept: application/sdp")
	if d.status != 200 || d.get("Content-Type") != "application/sdp" {
		t.Fatalf("DESCRIBE: %d %q", d.status, d.get("Content-Type"))
	}
	if want := e.url("head_color") + "/"; d.get("Content-Base") != want {
		t.Errorf("Content-Base %q, want %q", d.get("Content-Base"), want)
	}
	sdp := string(d.body)
	for _, line := range []string{"v=0\r\n", "m=video 0 RTP/AVP 26\r\n", "a=control:trackID=0\r\n", "a=rtpmap:26 JPEG/90000\r\n"} {
		if !strings.Contains(sdp, line) {
			t.Errorf("SDP lacks %q:\n%s", line, sdp)
		}
	}

	setup, play := setupPlay(t, c, e, "RTP/AVP/TCP;unicast;interleaved=0-1")
	if !strings.HasPrefix(setup.get("Transport"), "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=") {
		t.Errorf("Transport %q", setup.get("Transport"))
	}
	if play.get("Range") != "npt=0.000-" {
		t.Errorf("Range %q", play.get("Range"))
	}
	m := newMediaChecker(t, e, setup, play)
	for m.frames < 4 {
		p := c.nextPacket()
		switch p.channel {
		case 0:
			m.rtp(p.data)
		case 1:
			m.rtcp(p.data)
		default:
			t.Fatalf("data on channel %d", p.channel)
		}
	}
	if !m.seenSR {
		t.Error("no RTCP sender report with the first frames")
	}
	if len(m.frameHit) < 2 {
		t.Errorf("all frames decoded to the same source frame %v: the stream is not following the camera", m.frameHit)
	}

	// Keep-alive, then teardown: nothing follows the TEARDOWN reply.
	if r := c.do("GET_PARAMETER", e.url("head_color")); r.status != 200 || !strings.HasPrefix(r.get("Session"), c.session) {
		t.Fatalf("GET_PARAMETER: %d %q", r.status, r.get("Session"))
	}
	if r := c.do("TEARDOWN", e.url("head_color")); r.status != 200 {
		t.Fatalf("TEARDOWN: %d", r.status)
	}
	c.session = ""
	c.packets = nil
	c.cseq++
	fmt.Fprintf(c.nc, "OPTIONS %s RTSP/1.0\r\nCSeq: %d\r\n\r\n", e.url("head_color"), c.cseq)
	if r, err := c.readResponse(false); err != nil || r.status != 200 {
		t.Fatalf("after TEARDOWN: %v (status %d); media still flowing?", err, r.status)
	}
	if n := e.sessionCount(); n != 0 {
		t.Fatalf("%d sessions after TEARDOWN", n)
	}
}

func TestRTSPPauseResume(t *testing.T) {
	e := startServer(t, testFrames(t, 2, 64, 48), nil)
	c := dialRTSP(t, e.addr)
	setup, play := setupPlay(t, c, e, "RTP/AVP/TCP;unicast")
	if !strings.Contains(setup.get("Transport"), "interleaved=0-1") {
		t.Errorf("channels not assigned: %q", setup.get("Transport"))
	}
	m := newMediaChecker(t, e, setup, play)
	readFrames := func(n int) {
		for target := m.frames + n; m.frames < target; {
			if p := c.nextPacket(); p.channel == 0 {
				m.rtp(p.data)
			}
		}
	}
	readFrames(2)
	if r := c.do("PAUSE", e.url("head_color")); r.status != 200 {
		t.Fatalf("PAUSE: %d", r.status)
	}
	// Media sent before the PAUSE reply arrived ahead of it; the sender
	// has stopped before the reply was written, so the last frame is whole.
	for len(c.packets) > 0 {
		if p := c.nextPacket(); p.channel == 0 {
			m.rtp(p.data)
		}
	}
	if m.d.active {
		t.Fatal("a frame was cut by PAUSE")
	}
	play = c.do("PLAY", e.url("head_color"))
	if play.status != 200 {
		t.Fatalf("PLAY after PAUSE: %d", play.status)
	}
	if seq, _ := rtpInfo(t, play.get("RTP-Info")); seq != m.nextSeq {
		t.Fatalf("resumed at seq %d, want %d (no gap, no repeat)", seq, m.nextSeq)
	}
	readFrames(2)
}

func TestRTSPUDP(t *testing.T) {
	e := startServer(t, testFrames(t, 3, 160, 120), func(s *Server) { s.MTU = 600 })
	rtpConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtpConn.Close()
	rtcpConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtcpConn.Close()
	rtpPort, rtcpPort := rtpConn.LocalAddr().(*net.UDPAddr).Port, rtcpConn.LocalAddr().(*net.UDPAddr).Port

	c := dialRTSP(t, e.addr)
	setup, play := setupPlay(t, c, e, fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d", rtpPort, rtcpPort))
	tr := setup.get("Transport")
	sp := regexp.MustCompile(`server_port=(\d+)-(\d+)`).FindStringSubmatch(tr)
	if !strings.HasPrefix(tr, fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d;", rtpPort, rtcpPort)) || sp == nil {
		t.Fatalf("Transport %q", tr)
	}
	if a, _ := strconv.Atoi(sp[1]); a%2 != 0 {
		t.Errorf("server RTP port %d is odd", a)
	}
	m := newMediaChecker(t, e, setup, play)
	m.mtu = 600
	buf := make([]byte, 2048)
	rtpConn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for m.frames < 3 {
		n, err := rtpConn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		m.rtp(buf[:n])
	}
	rtcpConn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := rtcpConn.Read(buf)
	if err != nil {
		t.Fatalf("no RTCP sender report: %v", err)
	}
	m.rtcp(buf[:n])

	// An RTCP packet from the client's RTCP port is a sign of life.
	srvRTCP, _ := strconv.Atoi(sp[2])
	ss := e.srv.session(c.session)
	ss.lastSeen.Store(0)
	rr := []byte{0x80, 201, 0, 1, 1, 2, 3, 4} // empty receiver report
	if _, err := rtcpConn.WriteToUDP(rr, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: srvRTCP}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "RTCP to refresh the session", func() bool { return ss.lastSeen.Load() != 0 })

	if r := c.do("TEARDOWN", e.url("head_color")); r.status != 200 {
		t.Fatalf("TEARDOWN: %d", r.status)
	}
}

// A UDP session outlives its RTSP connection until it times out; a TCP
// session ends with its connection.
func TestRTSPSessionLifetime(t *testing.T) {
	e := startServer(t, testFrames(t, 1, 32, 32), nil)
	udpClient := dialRTSP(t, e.addr)
	setupPlay(t, udpClient, e, "RTP/AVP;unicast;client_port=40000-40001")
	tcpClient := dialRTSP(t, e.addr)
	setupPlay(t, tcpClient, e, "RTP/AVP/TCP;unicast;interleaved=0-1")
	// The sender starts right after the PLAY reply is written.
	waitFor(t, "both sessions to play", func() bool { return e.srv.Stats() == Stats{Conns: 2, Sessions: 2, Playing: 2} })

	udpClient.nc.Close()
	tcpClient.nc.Close()
	waitFor(t, "the TCP session to end", func() bool { return e.sessionCount() == 1 })
	if e.srv.session(udpClient.session) == nil {
		t.Fatal("the UDP session ended with its connection")
	}
	if n := e.srv.expire(time.Now()); n != 0 {
		t.Fatalf("expire ended %d live sessions", n)
	}
	if n := e.srv.expire(time.Now().Add(61 * time.Second)); n != 1 {
		t.Fatalf("expire ended %d sessions after the timeout, want 1", n)
	}
	// The expired session is gone for good.
	c := dialRTSP(t, e.addr)
	c.session = udpClient.session
	if r := c.do("PLAY", e.url("head_color")); r.status != 454 {
		t.Fatalf("PLAY on an expired session: %d, want 454", r.status)
	}
}

func TestRTSPErrors(t *testing.T) {
	e := startServer(t, testFrames(t, 1, 32, 32), func(s *Server) { s.MaxSessions = 2 })
	url := e.url("head_color")
	tcp := "Transport: RTP/AVP/TCP;unicast;interleaved=0-1"
	tests := []struct {
		name    string
		prepare func(c *testClient) // runs first, on the same connection
		method  string
		uri     string
		headers []string
		want    int
	}{
		{name: "unknown path", method: "DESCRIBE", uri: e.url("nope"), want: 404},
		{name: "setup of an unknown path", method: "SETUP", uri: e.url("nope/trackID=0"), headers: []string{tcp}, want: 404},
		{name: "not an rtsp URL", method: "DESCRIBE", uri: "http://x/head_color", want: 400},
		{name: "play without session", method: "PLAY", uri: url, want: 454},
		{name: "unknown session", method: "PLAY", uri: url, headers: []string{"Session: 0123456789abcdef"}, want: 454},
		{name: "teardown without session", method: "TEARDOWN", uri: url, want: 454},
		{name: "multicast", method: "SETUP", uri: url + "/trackID=0", headers: []string{"Transport: RTP/AVP;multicast;port=5000-5001"}, want: 461},
		{name: "other profile", method: "SETUP", uri: url + "/trackID=0", headers: []string{"Transport: RTP/SAVP;unicast;client_port=5000-5001"}, want: 461},
		{name: "UDP without ports", method: "SETUP", uri: url + "/trackID=0", headers: []string{"Transport: RTP/AVP;unicast"}, want: 461},
		{name: "record", method: "SETUP", uri: url + "/trackID=0", headers: []string{"Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"}, want: 461},
		{name: "no transport", method: "SETUP", uri: url + "/trackID=0", want: 461},
		{
			name: "first supported alternative is taken", method: "SETUP", uri: url + "/trackID=0",
			headers: []string{"Transport: RTP/AVP;multicast, RTP/AVP/TCP;unicast;interleaved=4-5"}, want: 200,
		},
		{name: "announce", method: "ANNOUNCE", uri: url, want: 501},
		{name: "record method", method: "RECORD", uri: url, want: 501},
		{
			name: "setup while playing", method: "SETUP", uri: url + "/trackID=0", headers: []string{tcp}, want: 455,
			prepare: func(c *testClient) {
				c.session = strings.Split(c.do("SETUP", url+"/trackID=0", tcp).get("Session"), ";")[0]
				c.do("PLAY", url)
			},
		},
		{
			name: "interleaved channels taken", method: "SETUP", uri: url + "/trackID=0", headers: []string{tcp}, want: 461,
			prepare: func(c *testClient) { c.do("SETUP", url+"/trackID=0", tcp) },
		},
		{
			name: "play of another path", method: "PLAY", uri: e.url("other"), want: 455,
			prepare: func(c *testClient) {
				c.session = strings.Split(c.do("SETUP", url+"/trackID=0", tcp).get("Session"), ";")[0]
			},
		},
		{
			name: "too many sessions", method: "SETUP", uri: url + "/trackID=0", headers: []string{"Transport: RTP/AVP/TCP;unicast;interleaved=2-3"}, want: 453,
			prepare: func(c *testClient) {
				c.do("SETUP", url+"/trackID=0", tcp)
				c.do("SETUP", url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=4-5")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRTSP(t, e.addr)
			if tt.prepare != nil {
				tt.prepare(c)
			}
			if r := c.do(tt.method, tt.uri, tt.headers...); r.status != tt.want {
				t.Fatalf("status %d, want %d", r.status, tt.want)
			}
			c.nc.Close()
			waitFor(t, "the connection's sessions to end", func() bool { return e.sessionCount() == 0 })
		})
	}
}

// Requests the server cannot parse get an error and the connection is
// closed; no request can hurt the server.
func TestRTSPMalformed(t *testing.T) {
	e := startServer(t, testFrames(t, 1, 32, 32), nil)
	tests := []struct {
		name     string
		raw      string
		want     int
		cseq     string // echoed CSeq, when the server got that far
		keepOpen bool   // a well-formed request: the connection stays usable
	}{
		{"garbage", "\x00\x01\x02 hello\r\n\r\n", 400, "", false},
		{"missing CSeq", "OPTIONS rtsp://x/ RTSP/1.0\r\n\r\n", 400, "", true},
		{"wrong version", "OPTIONS rtsp://x/ RTSP/2.0\r\nCSeq: 1\r\n\r\n", 505, "1", true},
		{"HTTP request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "", false},
		{"line too long", "OPTIONS rtsp://x/" + strings.Repeat("a", 5000) + " RTSP/1.0\r\nCSeq: 1\r\n\r\n", 400, "", false},
		{"too many headers", "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n" + strings.Repeat("X-A: b\r\n", 100) + "\r\n", 400, "1", false},
		{"body too large", "GET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 999999\r\n\r\n", 413, "1", false},
		{"negative length", "GET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -1\r\n\r\n", 400, "1", false},
		{"header without colon", "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nbogus\r\n\r\n", 400, "1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRTSP(t, e.addr)
			io.WriteString(c.nc, tt.raw)
			r, err := c.readResponse(false)
			if err != nil || r.status != tt.want {
				t.Fatalf("got %d (%v), want %d", r.status, err, tt.want)
			}
			if r.get("CSeq") != tt.cseq {
				t.Errorf("CSeq %q, want %q", r.get("CSeq"), tt.cseq)
			}
			if tt.keepOpen {
				if r := c.do("OPTIONS", "*"); r.status != 200 {
					t.Fatalf("connection unusable after a well-formed bad request: %d", r.status)
				}
				return
			}
			if _, err := c.br.ReadByte(); err != io.EOF {
				t.Fatalf("connection not closed after a framing error: %v", err)
			}
		})
	}
}

// Pipelined requests and interleaved data from the client (RTCP receiver
// reports) on the control connection are handled in order.
func TestRTSPPipelinedAndInterleavedInput(t *testing.T) {
	e := startServer(t, testFrames(t, 1, 32, 32), nil)
	c := dialRTSP(t, e.addr)
	rr := []byte{'$', 1, 0, 8, 0x80, 201, 0, 1, 1, 2, 3, 4}
	io.WriteString(c.nc, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
	c.nc.Write(rr)
	io.WriteString(c.nc, "\r\nGET_PARAMETER * RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\nhello")
	io.WriteString(c.nc, "OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n")
	for i := 1; i <= 3; i++ {
		r, err := c.readResponse(false)
		if err != nil || r.status != 200 || r.get("CSeq") != strconv.Itoa(i) {
			t.Fatalf("response %d: %d %q %v", i, r.status, r.get("CSeq"), err)
		}
	}
}

// A client that stops reading is dropped after WriteTimeout and never holds
// back the camera or other clients.
func TestRTSPSlowClient(t *testing.T) {
	e := startServer(t, noisyFrames(t, 2, 160, 120), func(s *Server) { s.WriteTimeout = time.Second })
	slow := dialRTSP(t, e.addr)
	if tc, ok := slow.nc.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096) // fill up fast
	}
	setupPlay(t, slow, e, "RTP/AVP/TCP;unicast;interleaved=0-1")
	// slow never reads again.

	fast := dialRTSP(t, e.addr)
	setup, play := setupPlay(t, fast, e, "RTP/AVP/TCP;unicast;interleaved=0-1")
	m := newMediaChecker(t, e, setup, play)
	for m.frames < 10 {
		if p := fast.nextPacket(); p.channel == 0 {
			m.rtp(p.data)
		}
	}
	waitFor(t, "the stalled client to be dropped", func() bool { return e.srv.session(slow.session) == nil })
	// The fast client is unaffected.
	for target := m.frames + 5; m.frames < target; {
		if p := fast.nextPacket(); p.channel == 0 {
			m.rtp(p.data)
		}
	}
}

func TestRTSPConnectionLimit(t *testing.T) {
	e := startServer(t, testFrames(t, 1, 32, 32), func(s *Server) { s.MaxConns = 1 })
	first := dialRTSP(t, e.addr)
	if r := first.do("OPTIONS", "*"); r.status != 200 {
		t.Fatal(r.status)
	}
	second := dialRTSP(t, e.addr)
	if _, err := second.br.ReadByte(); err == nil {
		t.Fatal("second connection over the limit was served")
	}
	first.nc.Close()
	waitFor(t, "the first connection to be released", func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return len(e.srv.conns) == 0
	})
	third := dialRTSP(t, e.addr)
	if r := third.do("OPTIONS", "*"); r.status != 200 {
		t.Fatal(r.status)
	}
}

// Close ends every connection and session; Serve then returns
// ErrServerClosed (checked by startServer's cleanup) and a new Serve fails.
func TestRTSPClose(t *testing.T) {
	e := startServer(t, testFrames(t, 1, 32, 32), nil)
	c := dialRTSP(t, e.addr)
	setupPlay(t, c, e, "RTP/AVP/TCP;unicast;interleaved=0-1")
	u := dialRTSP(t, e.addr)
	setupPlay(t, u, e, "RTP/AVP;unicast;client_port=40002-40003")
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if n := e.sessionCount(); n != 0 {
		t.Fatalf("%d sessions after Close", n)
	}
	if _, err := io.Copy(io.Discard, c.br); err != nil {
		t.Fatalf("connection not closed cleanly: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Serve(l); err != ErrServerClosed {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := l.Accept(); err == nil {
		t.Fatal("Serve after Close left the listener open")
	}
}

// noisyFrames are large JPEGs: random pixels compress badly.
func noisyFrames(t testing.TB, n, w, h int) [][]byte {
	t.Helper()
	var out [][]byte
	x := uint32(12345)
	for range n {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			img.Pix[i] = byte(x)
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Bytes())
	}
	return out
}

// An idle connection that owns no session is closed after IdleTimeout, a
// request trickled a byte at a time after RequestTimeout; a connection that
// owns a session waits for the session timeout.
func TestRTSPIdleAndSlowConnections(t *testing.T) {
	e := startServer(t, testFrames(t, 1, 32, 32), func(s *Server) {
		s.IdleTimeout = 200 * time.Millisecond
		s.RequestTimeout = 300 * time.Millisecond
	})
	closedWithin := func(c *testClient, d time.Duration) bool {
		c.nc.SetReadDeadline(time.Now().Add(d))
		_, err := c.br.ReadByte()
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	}

	idle := dialRTSP(t, e.addr)
	if r := idle.do("OPTIONS", "*"); r.status != 200 {
		t.Fatal(r.status)
	}
	if !closedWithin(idle, 5*time.Second) {
		t.Fatal("an idle connection without a session was not closed")
	}

	slow := dialRTSP(t, e.addr)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, b := range []byte("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n") {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := slow.nc.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	if !closedWithin(slow, 5*time.Second) {
		t.Fatal("a request trickled a byte every 100 ms was not cut off")
	}

	// A client that set up a UDP session keeps its connection while it is
	// quiet for longer than the idle timeout.
	withSession := dialRTSP(t, e.addr)
	setupPlay(t, withSession, e, "RTP/AVP;unicast;client_port=40010-40011")
	withSession.nc.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := withSession.br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection owning a session was closed after the idle timeout: %v", err)
	}
	withSession.nc.SetReadDeadline(time.Time{})
	if r := withSession.do("GET_PARAMETER", e.url("head_color")); r.status != 200 {
		t.Fatalf("keep-alive on the session's connection: %d", r.status)
	}
}
