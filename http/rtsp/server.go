// Package rtsp serves the robot's cameras over RTSP 1.0 (RFC 2326) as
// Motion-JPEG in RTP (RFC 3550, payload format RFC 2435, payload type 26,
// 90 kHz clock), the stream pymirokai's VideoAPI opens with
// cv2.VideoCapture("rtsp://<robot>:8554/head_color") and that ffmpeg, VLC
// and GStreamer play.
//
// JPEG frames pass through without re-encoding: the camera (or the
// simulator's test pattern) already produces JPEG, and RFC 2435 carries a
// baseline JPEG's entropy-coded data as is, with the quantization tables
// in-band (Q=255). Each frame is parsed and split into packets once, then
// shared by every session playing that stream.
//
// Transports: RTP/AVP/TCP interleaved in the RTSP connection (what OpenCV
// asks for by default) and RTP/AVP unicast UDP to the client's ports. Each
// playing session has its own sender goroutine fed by a camera.Broadcaster
// subscription whose queue holds one frame, newest first, so a slow client
// skips whole frames and never delays the camera or other clients; a
// client that stops reading altogether is disconnected after
// WriteTimeout.
//
// Sessions over TCP end with their connection. UDP sessions outlive the
// RTSP connection, as RFC 2326 allows, and expire after SessionTimeout
// without a request (players send GET_PARAMETER or OPTIONS as keep-alive)
// or an RTCP packet from the client's ports.
package rtsp

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"reachyd/hw/camera"
)

// DefaultAddr is where pymirokai's VideoAPI looks for the robot's streams
// (rtsp://<robot>:8554/<path>).
const DefaultAddr = ":8554"

// Defaults for the Server's tunables.
const (
	DefaultSessionTimeout = 60 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultIdleTimeout    = 15 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxConns       = 64
	DefaultMaxSessions    = 32

	// senderReportInterval paces RTCP sender reports (RFC 3550
	// recommends about 5 s).
	senderReportInterval = 5 * time.Second
	// warnInterval rate-limits the warning about frames that cannot be
	// sent, which would otherwise repeat at the frame rate.
	warnInterval = 10 * time.Second
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("rtsp: server closed")

// Server is an RTSP server for camera streams. Create it with NewServer;
// set the exported fields, if at all, before the first Serve.
type Server struct {
	// SessionTimeout is announced in the Session header; a UDP session
	// without any sign of life for that long is ended, and so is an RTSP
	// connection idle for that long while it has no TCP stream playing.
	SessionTimeout time.Duration
	// WriteTimeout bounds one frame's write to a TCP client; a client that
	// reads nothing for that long is disconnected.
	WriteTimeout time.Duration
	// IdleTimeout ends a connection that owns no session and sends no
	// request for that long (clients set up their session at once), so
	// idle connections cannot hold the MaxConns places.
	IdleTimeout time.Duration
	// RequestTimeout bounds one request from its first byte to its end: a
	// client trickling a byte now and then is disconnected.
	RequestTimeout time.Duration
	// MTU is the largest RTP packet sent, headers included (default 1400).
	MTU int
	// MaxConns and MaxSessions bound the RTSP connections and sessions;
	// connections beyond the limit are closed at once, SETUPs beyond it
	// get 453 Not Enough Bandwidth.
	MaxConns    int
	MaxSessions int

	lookup func(path string) (*camera.Broadcaster, bool)
	log    *slog.Logger

	mu        sync.Mutex
	closed    bool
	done      chan struct{}
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	sessions  map[string]*session
	udp       *udpPair
	reaping   bool
	wg        sync.WaitGroup // every goroutine the server starts

	cacheMu sync.Mutex
	cache   map[*camera.Broadcaster]*frameCache

	warnMu   sync.Mutex
	lastWarn time.Time
	skipped  int
}

// NewServer returns a server that serves the stream lookup(path) returns
// for a request URL rtsp://host:port/<path> (path without leading or
// trailing slashes, e.g. "head_color"); lookup returning false gives 404.
// lookup may be called from many goroutines. A nil log discards logs.
func NewServer(lookup func(path string) (*camera.Broadcaster, bool), log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		lookup:    lookup,
		log:       log,
		done:      make(chan struct{}),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		sessions:  make(map[string]*session),
		cache:     make(map[*camera.Broadcaster]*frameCache),
	}
}

func orDefault[T time.Duration | int](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

func (s *Server) sessionTimeout() time.Duration {
	return orDefault(s.SessionTimeout, DefaultSessionTimeout)
}
func (s *Server) writeTimeout() time.Duration { return orDefault(s.WriteTimeout, DefaultWriteTimeout) }
func (s *Server) idleTimeout() time.Duration  { return orDefault(s.IdleTimeout, DefaultIdleTimeout) }
func (s *Server) requestTimeout() time.Duration {
	return orDefault(s.RequestTimeout, DefaultRequestTimeout)
}
func (s *Server) mtu() int { return orDefault(s.MTU, defaultMTU) }

// Serve accepts RTSP connections on l until Close, then returns
// ErrServerClosed; it closes l. Serve may be called for several listeners
// (e.g. IPv4 and IPv6).
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	if !s.reaping {
		s.reaping = true
		s.wg.Add(1)
		go s.reap()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("rtsp: accept: %w", err)
			}
			// Out of file descriptors and the like: back off and
			// retry rather than spin or give up.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("rtsp: accept failed", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-s.done:
				return ErrServerClosed
			}
			continue
		}
		delay = 0
		c := s.newConn(nc)
		if c == nil {
			s.log.Warn("rtsp: connection refused: limit reached", "remote", nc.RemoteAddr().String(), "max", orDefault(s.MaxConns, DefaultMaxConns))
			nc.Close()
			continue
		}
		go c.serve()
	}
}

// Stats is a snapshot of the server's load, for status pages.
type Stats struct {
	Conns    int // open RTSP connections
	Sessions int // sessions set up
	Playing  int // sessions sending media
}

// Stats returns the current counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Conns: len(s.conns), Sessions: len(s.sessions)}
	for _, ss := range s.sessions {
		if ss.isPlaying() {
			st.Playing++
		}
	}
	return st
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops the server: listeners, connections and sessions are closed,
// and Close returns once every goroutine of the server has ended.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	var errs []error
	for l := range s.listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	sessions := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	clear(s.sessions)
	udp := s.udp
	s.mu.Unlock()

	// Connections first: that fails any blocked write, so senders exit.
	for _, c := range conns {
		c.nc.Close()
	}
	for _, ss := range sessions {
		ss.close()
	}
	if udp != nil {
		udp.close()
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// reap ends UDP sessions that have gone silent.
func (s *Server) reap() {
	defer s.wg.Done()
	t := time.NewTicker(min(s.sessionTimeout()/4, 5*time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.expire(now)
		}
	}
}

// expire ends the UDP sessions not heard from since now - SessionTimeout
// and returns how many it ended. TCP sessions end with their connection.
func (s *Server) expire(now time.Time) int {
	limit := now.Add(-s.sessionTimeout()).UnixNano()
	var dead []*session
	s.mu.Lock()
	for id, ss := range s.sessions {
		if !ss.tr.tcp && ss.lastSeen.Load() < limit {
			delete(s.sessions, id)
			dead = append(dead, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range dead {
		s.log.Info("rtsp: session expired", "session", ss.id, "path", ss.path, "remote", ss.remote)
		ss.close()
	}
	return len(dead)
}

// newSessionID returns 64 random bits in hex: unguessable, since the ID is
// all that authorizes PLAY and TEARDOWN on a session.
func newSessionID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func randUint32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// session looks up a session by ID and notes the sign of life.
func (s *Server) session(id string) *session {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss != nil {
		ss.touch()
	}
	return ss
}

func (s *Server) removeSession(ss *session) {
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.mu.Unlock()
}

// handle answers one request. after, if not nil, runs once the response
// has been written: PLAY starts the media then, so that over TCP the first
// RTP packet cannot precede the 200 OK.
func (s *Server) handle(c *conn, req *request) (resp *response, after func()) {
	if req.header.get("CSeq") == "" {
		return newResponse(400), nil
	}
	if req.proto != "RTSP/1.0" {
		return newResponse(505), nil
	}
	var ss *session
	if h := req.header.get("Session"); h != "" {
		id, _, _ := strings.Cut(h, ";")
		if ss = s.session(strings.TrimSpace(id)); ss == nil && req.method != "OPTIONS" {
			return newResponse(454), nil
		}
	}
	switch req.method {
	case "OPTIONS":
		return newResponse(200).set("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"), nil
	case "DESCRIBE":
		return s.describe(c, req), nil
	case "SETUP":
		return s.setup(c, req, ss), nil
	case "PLAY":
		return s.play(c, req, ss)
	case "PAUSE":
		if ss == nil {
			return newResponse(454), nil
		}
		ss.stop()
		return newResponse(200).set("Session", ss.header(s)), nil
	case "TEARDOWN":
		if ss == nil {
			return newResponse(454), nil
		}
		s.removeSession(ss)
		ss.close()
		s.log.Info("rtsp: session ended", "session", ss.id, "path", ss.path, "remote", ss.remote)
		return newResponse(200).set("Session", ss.id), nil
	case "GET_PARAMETER":
		r := newResponse(200)
		if ss != nil {
			r.set("Session", ss.header(s))
		}
		return r, nil
	}
	return newResponse(501).set("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"), nil
}

func (s *Server) describe(c *conn, req *request) *response {
	t, ok := parseTarget(req.uri, c.localHost())
	if !ok {
		return newResponse(400)
	}
	if _, ok := s.lookup(t.path); !ok {
		return newResponse(404)
	}
	r := newResponse(200).set("Content-Type", "application/sdp").set("Content-Base", t.base)
	r.body = buildSDP(t.path, c.localAddr())
	return r
}

// buildSDP describes the one video stream (RFC 4566). The connection
// address is 0.0.0.0: the real destination is settled by SETUP.
func buildSDP(path string, local netip.Addr) []byte {
	family, addr := "IP4", "0.0.0.0"
	if local.IsValid() {
		addr = local.String()
		if local.Is6() {
			family = "IP6"
		}
	}
	name := path
	if name == "" {
		name = "reachyd"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=- %d 1 IN %s %s\r\n", time.Now().Unix(), family, addr)
	fmt.Fprintf(&b, "s=%s\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=tool:reachyd\r\na=control:*\r\n", sanitizeSDP(name))
	fmt.Fprintf(&b, "m=video 0 RTP/AVP %d\r\na=rtpmap:%d JPEG/%d\r\na=control:%s\r\n", payloadTypeJPEG, payloadTypeJPEG, clockRate, trackName)
	return []byte(b.String())
}

// sanitizeSDP keeps a client-chosen name from breaking the SDP's lines.
func sanitizeSDP(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

func (s *Server) setup(c *conn, req *request, ss *session) *response {
	t, ok := parseTarget(req.uri, c.localHost())
	if !ok {
		return newResponse(400)
	}
	b, ok := s.lookup(t.path)
	if !ok {
		return newResponse(404)
	}
	var tr transport
	found := false
	for _, alt := range parseTransports(req.header.get("Transport")) {
		if alt.multicast || alt.record || (!alt.tcp && alt.clientPort[0] == 0) {
			continue
		}
		if !alt.tcp && !c.remote.IsValid() {
			continue
		}
		tr, found = alt, true
		break
	}
	if !found {
		return newResponse(461)
	}

	if ss != nil {
		if ss.path != t.path {
			return newResponse(455) // one stream per session
		}
		if ss.isPlaying() {
			return newResponse(455)
		}
	}

	var udp *udpPair
	if !tr.tcp {
		var err error
		if udp, err = s.udpPair(); err != nil {
			s.log.Error("rtsp: cannot open UDP ports", "err", err)
			return newResponse(500)
		}
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return newResponse(503)
	}
	if ss != nil && s.sessions[ss.id] != ss { // expired or torn down meanwhile
		s.mu.Unlock()
		return newResponse(454)
	}
	if tr.tcp {
		if tr.channels[0] < 0 {
			tr.channels = s.freeChannelsLocked(c, ss)
		} else if s.channelTakenLocked(c, ss, tr.channels) {
			s.mu.Unlock()
			return newResponse(461)
		}
	}
	if ss == nil {
		if len(s.sessions) >= orDefault(s.MaxSessions, DefaultMaxSessions) {
			s.mu.Unlock()
			return newResponse(453)
		}
		ss = &session{
			id: newSessionID(), path: t.path, base: t.base, b: b,
			ssrc: randUint32(), seq: uint16(randUint32()), tsBase: randUint32(),
		}
		ss.touch()
		s.sessions[ss.id] = ss
	}
	ss.mu.Lock()
	ss.tr, ss.owner, ss.remote = tr, c, c.nc.RemoteAddr().String()
	if !tr.tcp {
		ss.udp = udp
		ss.rtpAddr = netip.AddrPortFrom(c.remote, uint16(tr.clientPort[0]))
		ss.rtcpAddr = netip.AddrPortFrom(c.remote, uint16(tr.clientPort[1]))
	}
	ss.mu.Unlock()
	s.mu.Unlock()

	var th string
	if tr.tcp {
		th = fmt.Sprintf("RTP/AVP/TCP;unicast;interleaved=%d-%d;ssrc=%08X", tr.channels[0], tr.channels[1], ss.ssrc)
	} else {
		th = fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d;server_port=%d-%d;ssrc=%08X",
			tr.clientPort[0], tr.clientPort[1], udp.rtpPort, udp.rtpPort+1, ss.ssrc)
	}
	s.log.Info("rtsp: session set up", "session", ss.id, "path", ss.path, "remote", ss.remote, "transport", th)
	return newResponse(200).set("Transport", th).set("Session", ss.header(s))
}

// freeChannelsLocked picks the lowest interleaved channel pair not used by
// another session on c.
func (s *Server) freeChannelsLocked(c *conn, self *session) [2]int {
	for ch := 0; ch < 255; ch += 2 {
		if !s.channelTakenLocked(c, self, [2]int{ch, ch + 1}) {
			return [2]int{ch, ch + 1}
		}
	}
	return [2]int{254, 255}
}

func (s *Server) channelTakenLocked(c *conn, self *session, ch [2]int) bool {
	for _, o := range s.sessions {
		if o == self || o.owner != c || !o.tr.tcp {
			continue
		}
		for _, a := range o.tr.channels {
			if a == ch[0] || a == ch[1] {
				return true
			}
		}
	}
	return false
}

func (s *Server) play(c *conn, req *request, ss *session) (*response, func()) {
	if ss == nil {
		return newResponse(454), nil
	}
	if t, ok := parseTarget(req.uri, c.localHost()); ok && t.path != ss.path {
		return newResponse(455), nil
	}
	ss.mu.Lock()
	tcpElsewhere := ss.tr.tcp && ss.owner != c
	ss.mu.Unlock()
	if tcpElsewhere {
		return newResponse(455), nil // interleaved media goes on the connection that set it up
	}
	r := newResponse(200).set("Range", "npt=0.000-")
	if seq, rtptime, ok := ss.prepare(time.Now()); ok {
		r.set("RTP-Info", fmt.Sprintf("url=%s%s;seq=%d;rtptime=%d", ss.base, trackName, seq, rtptime))
	}
	r.set("Session", ss.header(s))
	return r, func() { ss.start(s) }
}

// packetsFor returns f split into RTP/JPEG packets, nil when the frame
// cannot be sent. The result is cached per stream: every session playing
// the stream gets the same packets.
func (s *Server) packetsFor(b *camera.Broadcaster, f camera.Frame) *packetized {
	if len(f.JPEG) == 0 {
		return nil
	}
	s.cacheMu.Lock()
	fc := s.cache[b]
	s.cacheMu.Unlock()
	if fc == nil {
		return s.packetizeFrame(f) // not cached: no session holds a reference
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.key == &f.JPEG[0] && fc.n == len(f.JPEG) {
		return fc.pk
	}
	fc.key, fc.n, fc.pk = &f.JPEG[0], len(f.JPEG), s.packetizeFrame(f)
	return fc.pk
}

func (s *Server) packetizeFrame(f camera.Frame) *packetized {
	var j jpegFrame
	err := parseJPEG(f.JPEG, &j)
	var pk *packetized
	if err == nil {
		pk, err = packetize(&j, s.mtu())
	}
	if err != nil {
		s.warnSkip(f, err)
		return nil
	}
	return pk
}

// warnSkip logs frames that cannot be sent, at most once per warnInterval.
func (s *Server) warnSkip(f camera.Frame, err error) {
	s.warnMu.Lock()
	s.skipped++
	now := time.Now()
	if !s.lastWarn.IsZero() && now.Sub(s.lastWarn) < warnInterval {
		s.warnMu.Unlock()
		return
	}
	n := s.skipped
	s.skipped, s.lastWarn = 0, now
	s.warnMu.Unlock()
	s.log.Warn("rtsp: skipping frames that RTP/JPEG cannot carry", "err", err, "seq", f.Seq, "skipped", n)
}

// frameCache holds the packets of the last frame of one stream. Only the
// identity of the frame's bytes is compared: frames are immutable.
type frameCache struct {
	refs int // sessions streaming it; guarded by Server.cacheMu

	mu  sync.Mutex
	key *byte
	n   int
	pk  *packetized
}

func (s *Server) cacheRef(b *camera.Broadcaster, delta int) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	fc := s.cache[b]
	if fc == nil {
		fc = &frameCache{}
		s.cache[b] = fc
	}
	if fc.refs += delta; fc.refs <= 0 {
		delete(s.cache, b)
	}
}

// udpPair is the server's RTP and RTCP UDP sockets, shared by all UDP
// sessions: the server port pair in SETUP replies, from which all media is
// sent and to which clients send RTCP (and NAT-opening packets).
type udpPair struct {
	rtp, rtcp *net.UDPConn
	rtpPort   int
}

func (u *udpPair) close() {
	u.rtp.Close()
	u.rtcp.Close()
}

// udpPair binds the UDP sockets on first use: an RTP port that is even,
// with RTCP on the next one, as RFC 3550 asks.
func (s *Server) udpPair() (*udpPair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrServerClosed
	}
	if s.udp != nil {
		return s.udp, nil
	}
	var lastErr error
	for range 64 {
		rtp, err := net.ListenUDP("udp", &net.UDPAddr{})
		if err != nil {
			return nil, fmt.Errorf("rtsp: listen UDP: %w", err)
		}
		port := rtp.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || port == 65535 {
			rtp.Close()
			continue
		}
		rtcp, err := net.ListenUDP("udp", &net.UDPAddr{Port: port + 1})
		if err != nil {
			lastErr = err
			rtp.Close()
			continue
		}
		s.udp = &udpPair{rtp: rtp, rtcp: rtcp, rtpPort: port}
		s.wg.Add(2)
		go s.readUDP(rtp, false)
		go s.readUDP(rtcp, true)
		return s.udp, nil
	}
	return nil, fmt.Errorf("rtsp: no free even/odd UDP port pair: %w", lastErr)
}

// readUDP drains a server UDP socket; a packet from a session's client
// ports keeps that session alive (players send RTCP receiver reports).
func (s *Server) readUDP(pc *net.UDPConn, rtcp bool) {
	defer s.wg.Done()
	buf := make([]byte, 2048)
	for {
		_, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP port unreachable reported on Linux
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		s.mu.Lock()
		for _, ss := range s.sessions {
			if ss.tr.tcp {
				continue
			}
			if (rtcp && ss.rtcpAddr == from) || (!rtcp && ss.rtpAddr == from) {
				ss.touch()
			}
		}
		s.mu.Unlock()
	}
}

// conn is one RTSP connection: a read loop that answers requests in order,
// and a write lock shared by responses and interleaved media.
type conn struct {
	s      *Server
	nc     net.Conn
	br     *bufio.Reader
	remote netip.Addr // for UDP destinations; invalid if not TCP/IP

	wmu  sync.Mutex
	wbuf []byte
}

func (s *Server) newConn(nc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= orDefault(s.MaxConns, DefaultMaxConns) {
		return nil
	}
	c := &conn{s: s, nc: nc, br: bufio.NewReaderSize(nc, maxLineBytes)}
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.remote = a.AddrPort().Addr().Unmap()
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c
}

func (c *conn) localAddr() netip.Addr {
	if a, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// localHost is host:port for URLs when the request URI has no host.
func (c *conn) localHost() string {
	if a, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		return netip.AddrPortFrom(a.AddrPort().Addr().Unmap(), a.AddrPort().Port()).String()
	}
	return "localhost"
}

func (c *conn) serve() {
	defer c.s.wg.Done()
	defer c.close()
	log := c.s.log.With("remote", c.nc.RemoteAddr().String())
	for {
		// Between requests: a connection carrying a playing TCP stream
		// may stay silent (its liveness is the TCP connection itself), one
		// that owns a session has the session timeout (clients send
		// keep-alives), and any other is dropped after the idle timeout.
		switch streaming, owns := c.sessionState(); {
		case streaming:
			c.nc.SetReadDeadline(time.Time{})
		case owns:
			c.nc.SetReadDeadline(time.Now().Add(c.s.sessionTimeout()))
		default:
			c.nc.SetReadDeadline(time.Now().Add(c.s.idleTimeout()))
		}
		b, err := c.br.Peek(1)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				log.Debug("rtsp: idle connection closed")
			}
			return
		}
		// From its first byte, a request (or an interleaved block) must
		// arrive whole within the request timeout.
		c.nc.SetReadDeadline(time.Now().Add(c.s.requestTimeout()))
		if b[0] == '$' { // interleaved data from the client: RTCP receiver reports
			if err := c.skipInterleaved(); err != nil {
				return
			}
			continue
		}
		req, err := readRequest(c.br)
		if err != nil {
			var pe *protocolError
			if errors.As(err, &pe) {
				log.Debug("rtsp: bad request", "err", err)
				if c.writeResponse(newResponse(pe.status), pe.cseq) == nil {
					c.lingeringClose()
				}
			}
			return
		}
		resp, after := c.s.handle(c, req)
		log.Debug("rtsp: request", "method", req.method, "uri", req.uri, "status", resp.status)
		if err := c.writeResponse(resp, req.header.get("CSeq")); err != nil {
			return
		}
		if after != nil {
			after()
		}
	}
}

// lingeringClose half-closes the connection and drains what the client
// still sends, briefly, before the full close: closing a socket with
// unread input makes the kernel send a reset, which can destroy the error
// response before the client reads it.
func (c *conn) lingeringClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(time.Second))
	io.CopyN(io.Discard, c.nc, 256<<10)
}

func (c *conn) skipInterleaved() error {
	var h [4]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return err
	}
	_, err := c.br.Discard(int(h[2])<<8 | int(h[3]))
	return err
}

func (c *conn) writeResponse(r *response, cseq string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = r.appendTo(c.wbuf[:0], cseq)
	c.nc.SetWriteDeadline(time.Now().Add(c.s.writeTimeout()))
	_, err := c.nc.Write(c.wbuf)
	return err
}

// streamingTCP reports whether an interleaved session of c is playing.
// sessionState reports whether the connection carries a playing TCP
// stream, and whether it owns any session.
func (c *conn) sessionState() (streamingTCP, owns bool) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, ss := range c.s.sessions {
		if ss.owner == c {
			owns = true
			if ss.tr.tcp && ss.isPlaying() {
				return true, true
			}
		}
	}
	return false, owns
}

// close ends the connection and the TCP sessions bound to it.
func (c *conn) close() {
	c.nc.Close()
	s := c.s
	var dead []*session
	s.mu.Lock()
	delete(s.conns, c)
	for id, ss := range s.sessions {
		if ss.owner == c && ss.tr.tcp {
			delete(s.sessions, id)
			dead = append(dead, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range dead {
		s.log.Info("rtsp: session ended with its connection", "session", ss.id, "path", ss.path, "remote", ss.remote)
		ss.close()
	}
}

// session is one RTSP session: one stream, one transport, playing or not.
type session struct {
	id   string
	path string
	base string // aggregate URL, for RTP-Info
	b    *camera.Broadcaster
	ssrc uint32

	lastSeen atomic.Int64 // unix nanoseconds of the last request or RTCP packet

	// Transport, set by SETUP under Server.mu and mu; read under either.
	tr       transport
	owner    *conn
	remote   string
	udp      *udpPair
	rtpAddr  netip.AddrPort
	rtcpAddr netip.AddrPort

	mu      sync.Mutex
	playing bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}

	// RTP state. Written by PLAY (prepare) while no sender runs, then by
	// the sender goroutine; stop waits for the sender before returning.
	seq     uint16
	tsBase  uint32
	t0      time.Time
	lastTS  uint32
	sentAny bool
	packets uint32
	octets  uint32
}

func (ss *session) touch() { ss.lastSeen.Store(time.Now().UnixNano()) }

func (ss *session) header(s *Server) string {
	return ss.id + ";timeout=" + strconv.Itoa(int(s.sessionTimeout()/time.Second))
}

func (ss *session) isPlaying() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.playing
}

// prepare fixes the RTP time origin on the first PLAY and returns the
// sequence number and RTP time the stream continues from, for RTP-Info;
// ok is false when the session plays already (the sender owns seq then).
func (ss *session) prepare(now time.Time) (seq uint16, rtptime uint32, ok bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.playing {
		return 0, 0, false
	}
	if ss.t0.IsZero() {
		ss.t0 = now
	}
	return ss.seq, ss.rtpTime(now), true
}

// rtpTime converts a wall-clock instant to the 90 kHz RTP clock, origin
// tsBase at t0, without overflowing for streams of any length.
func (ss *session) rtpTime(t time.Time) uint32 {
	d := t.Sub(ss.t0)
	sub := int64(d%time.Second) * clockRate // within ±9e13: no overflow
	half := int64(time.Second / 2)
	if sub < 0 {
		half = -half
	}
	ticks := int64(d/time.Second)*clockRate + (sub+half)/int64(time.Second) // rounded to nearest
	return ss.tsBase + uint32(ticks)
}

// frameTS is the RTP timestamp of a frame taken at t, forced to increase
// from frame to frame (a frame stamped just before PLAY, or a source
// restarted with an earlier clock, must not go back in time).
func (ss *session) frameTS(t time.Time) uint32 {
	ts := ss.rtpTime(t)
	if ss.sentAny && int32(ts-ss.lastTS) <= 0 {
		ts = ss.lastTS + 1
	}
	ss.lastTS, ss.sentAny = ts, true
	return ts
}

// start launches the sender, unless it runs already.
func (ss *session) start(s *Server) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.playing || ss.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ss.playing, ss.cancel, ss.done = true, cancel, make(chan struct{})
	s.wg.Add(1) // the caller, a connection goroutine, is counted: never from zero
	go ss.send(ctx, s, ss.done)
	s.log.Info("rtsp: playing", "session", ss.id, "path", ss.path, "remote", ss.remote)
}

// stop pauses the sender and waits for it to exit.
func (ss *session) stop() {
	ss.mu.Lock()
	cancel, done := ss.cancel, ss.done
	ss.playing, ss.cancel, ss.done = false, nil, nil
	ss.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (ss *session) close() {
	ss.mu.Lock()
	ss.closed = true
	ss.mu.Unlock()
	ss.stop()
}

// send is the sender goroutine: frames from the stream's broadcaster,
// newest first, out to the client until stopped or the client fails.
func (ss *session) send(ctx context.Context, s *Server, done chan struct{}) {
	defer s.wg.Done()
	defer close(done)
	s.cacheRef(ss.b, 1)
	defer s.cacheRef(ss.b, -1)
	frames, unsubscribe := ss.b.Subscribe()
	defer unsubscribe()

	ss.mu.Lock()
	tr, owner, udp, rtpAddr, rtcpAddr := ss.tr, ss.owner, ss.udp, ss.rtpAddr, ss.rtcpAddr
	ss.mu.Unlock()
	var (
		scratch []byte
		vec     net.Buffers
		lastSR  time.Time
		udpErrs int
	)
	for {
		var f camera.Frame
		select {
		case <-ctx.Done():
			return
		case fr, ok := <-frames:
			if !ok {
				return
			}
			f = fr
		}
		pk := s.packetsFor(ss.b, f)
		if pk == nil {
			continue
		}
		ts := ss.frameTS(f.At)
		now := time.Now()
		sendSR := now.Sub(lastSR) >= senderReportInterval
		if tr.tcp {
			scratch, vec = ss.interleave(scratch[:0], vec[:0], pk, ts, byte(tr.channels[0]))
			if sendSR {
				i := len(scratch)
				scratch = append(scratch, '$', byte(tr.channels[1]), 0, 0)
				scratch = appendSenderReport(scratch, ss.ssrc, now, ss.rtpTime(now), ss.packets, ss.octets)
				n := len(scratch) - i - 4
				scratch[i+2], scratch[i+3] = byte(n>>8), byte(n)
				vec = append(vec, scratch[i:])
			}
			if err := owner.writeMedia(vec); err != nil {
				s.log.Info("rtsp: dropping client", "session", ss.id, "remote", ss.remote, "err", err)
				owner.nc.Close() // the read loop then ends the session
				return
			}
		} else {
			for _, p := range pk.packets {
				if cap(scratch) < rtpHeaderLen {
					scratch = make([]byte, 0, s.mtu())
				}
				scratch = scratch[:rtpHeaderLen]
				putRTPHeader(scratch, p.marker, ss.seq, ts, ss.ssrc)
				ss.seq++
				scratch = append(append(scratch, p.hdr...), p.data...)
				if _, err := udp.rtp.WriteToUDPAddrPort(scratch, rtpAddr); err != nil {
					if udpErrs++; udpErrs == 1 {
						s.log.Debug("rtsp: UDP send failed", "session", ss.id, "err", err)
					}
				}
			}
			if sendSR {
				sr := appendSenderReport(scratch[:0], ss.ssrc, now, ss.rtpTime(now), ss.packets, ss.octets)
				udp.rtcp.WriteToUDPAddrPort(sr, rtcpAddr)
			}
		}
		ss.packets += uint32(len(pk.packets))
		ss.octets += uint32(pk.bytes)
		if sendSR {
			lastSR = now
		}
	}
}

// interleave lays out a frame's packets for the TCP connection: each gets
// the 4-byte interleaved frame header and its RTP header in scratch, and
// vec points at those headers and at the shared payloads, for one writev.
func (ss *session) interleave(scratch []byte, vec net.Buffers, pk *packetized, ts uint32, ch byte) ([]byte, net.Buffers) {
	// Room for everything up front (and the sender report): vec points
	// into scratch, which must not move while it is filled.
	if need := len(pk.packets)*(4+rtpHeaderLen) + 128; cap(scratch) < need {
		scratch = make([]byte, 0, need)
	}
	for _, p := range pk.packets {
		i := len(scratch)
		n := rtpHeaderLen + len(p.hdr) + len(p.data)
		scratch = append(scratch, '$', ch, byte(n>>8), byte(n))
		scratch = scratch[:i+4+rtpHeaderLen]
		putRTPHeader(scratch[i+4:], p.marker, ss.seq, ts, ss.ssrc)
		ss.seq++
		vec = append(vec, scratch[i:i+4+rtpHeaderLen], p.hdr, p.data)
	}
	return scratch, vec
}

// writeMedia writes one frame's interleaved packets, all or nothing as far
// as the client can tell: an error means the connection is to be dropped,
// since a partial frame would desynchronize the interleaved stream.
func (c *conn) writeMedia(vec net.Buffers) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(c.s.writeTimeout()))
	_, err := vec.WriteTo(c.nc)
	return err
}
