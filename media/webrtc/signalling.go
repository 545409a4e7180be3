package webrtc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// WebSocket close codes used when the server cuts a peer off.
const (
	closeNormal    = websocket.CloseNormalClosure
	closeGoingAway = websocket.CloseGoingAway
	closePolicy    = websocket.ClosePolicyViolation
	closeTooBig    = websocket.CloseMessageTooBig
)

// peer is one signalling connection: a WebSocket client or an in-process
// Conn. Everything sent to it goes through out, a bounded queue drained by
// one writer goroutine; a peer that lets the queue fill is cut off (a slow
// reader must not hold up the producer or other peers).
type peer struct {
	p      *Producer
	id     string
	remote string
	inproc bool
	out    chan []byte

	done      chan struct{}
	closeOnce sync.Once
	code      int    // written once, before done is closed
	reason    string // idem

	unknown logLimiter

	// Guarded by Producer.mu.
	roles     []string
	meta      json.RawMessage
	v11       bool
	gotFirst  bool
	statusSet bool
}

func (pe *peer) close(code int, reason string) {
	pe.closeOnce.Do(func() {
		pe.code, pe.reason = code, reason
		close(pe.done)
	})
}

func (pe *peer) closing() bool {
	select {
	case <-pe.done:
		return true
	default:
		return false
	}
}

// enqueue queues msg without blocking; a full queue cuts the peer off.
func (pe *peer) enqueue(msg []byte) bool {
	if pe.closing() {
		return false
	}
	select {
	case pe.out <- msg:
		return true
	default:
		pe.p.log.Warn("webrtc: signalling peer too slow, disconnecting", "peer", pe.id, "remote", pe.remote)
		pe.close(closePolicy, "slow consumer: send queue full")
		return false
	}
}

func (pe *peer) listening() bool { return slices.Contains(pe.roles, RoleListener) }

// acquireConn counts a new connection against MaxConns and registers its
// goroutine with the producer's wait group.
func (p *Producer) acquireConn() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.conns >= p.cfg.MaxConns {
		return ErrTooManyConns
	}
	p.conns++
	p.wg.Add(1)
	return nil
}

func (p *Producer) releaseConn() {
	p.mu.Lock()
	p.conns--
	p.mu.Unlock()
	p.wg.Done()
}

// addPeer registers a connection and queues its welcome.
func (p *Producer) addPeer(remote string, inproc bool) *peer {
	pe := &peer{
		p:       p,
		id:      uuid.NewString(),
		remote:  remote,
		inproc:  inproc,
		out:     make(chan []byte, p.cfg.SendQueue),
		done:    make(chan struct{}),
		unknown: logLimiter{every: 10 * time.Second},
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.peers[pe.id] = pe
	pe.enqueue(encWelcome(pe.id))
	return pe
}

// removePeer forgets a connection that ended: its sessions end (the consumer
// is gone, there is nobody to tell) and listeners learn it has no roles left,
// as the reference server tells them.
func (p *Producer) removePeer(pe *peer) {
	p.mu.Lock()
	delete(p.peers, pe.id)
	var ended []*Session
	for _, s := range p.sessions {
		if s.consumer == pe {
			ended = append(ended, s)
		}
	}
	var listeners []*peer
	if pe.statusSet {
		for _, l := range p.peers {
			if l.listening() {
				listeners = append(listeners, l)
			}
		}
	}
	meta := pe.meta
	p.mu.Unlock()

	for _, s := range ended {
		s.end(ReasonConsumerGone, false)
	}
	if len(listeners) > 0 {
		msg := encPeerStatusChanged(pe.id, nil, meta)
		for _, l := range listeners {
			l.enqueue(msg)
		}
	}
}

// handle processes one message from a peer. It may be called concurrently
// for the same peer by an in-process Conn.
func (p *Producer) handle(pe *peer, raw []byte) {
	m, err := DecodeMessage(raw)
	switch {
	case errors.Is(err, ErrUnknownType):
		if ok, n := pe.unknown.allow(time.Now()); ok {
			p.log.Info("webrtc: ignoring signalling message", "peer", pe.id, "err", err, "suppressed", n)
		}
		return
	case err != nil:
		pe.enqueue(encError(err.Error()))
		return
	}

	p.mu.Lock()
	first := !pe.gotFirst
	pe.gotFirst = true
	p.mu.Unlock()

	switch m.Type {
	case TypeSetProtocolVersion:
		if !first {
			pe.enqueue(encError(fmt.Sprintf("Protocol version selection for peer '%s' must be first message", pe.id)))
			return
		}
		p.mu.Lock()
		pe.v11 = m.Version == Version11
		p.mu.Unlock()
	case TypeSetPeerStatus:
		p.setPeerStatus(pe, m)
	case TypeList:
		pe.enqueue(encList(TypeList, "producers", []PeerEntry{{ID: p.id, Meta: p.cfg.Meta}}))
	case TypeListConsumers:
		// The robot never starts a session towards a passive consumer, so
		// there is nobody to list; gstwebrtc-api asks anyway.
		pe.enqueue(encList(TypeListConsumers, "consumers", nil))
	case TypeStartSession:
		p.startSession(pe, m)
	case TypePeer:
		p.peerMessage(pe, m)
	case TypeEndSession, TypeEndSessionV11:
		s := p.Session(m.SessionID)
		switch {
		case s == nil:
			p.log.Debug("webrtc: endSession for unknown session", "peer", pe.id, "session", m.SessionID)
		case s.consumer != pe:
			pe.enqueue(encError(fmt.Sprintf("Peer %s is not part of %s", pe.id, m.SessionID)))
		default:
			s.end(ReasonConsumerEnded, false)
		}
	}
}

// setPeerStatus records a peer's roles and meta and, when they changed,
// notifies every listener (the peer itself included when it listens):
// gstwebrtc-api waits for its own peerStatusChanged before it sends list.
func (p *Producer) setPeerStatus(pe *peer, m Message) {
	if slices.Contains(m.Roles, RoleProducer) {
		pe.enqueue(encError(fmt.Sprintf("peer %s cannot register as producer: the robot is the only producer on this server", pe.id)))
		return
	}
	p.mu.Lock()
	if slices.Equal(pe.roles, m.Roles) && bytes.Equal(pe.meta, m.Meta) {
		p.mu.Unlock()
		return
	}
	pe.roles, pe.meta, pe.statusSet = slices.Clone(m.Roles), m.Meta, true
	var listeners []*peer
	for _, l := range p.peers {
		if l.listening() {
			listeners = append(listeners, l)
		}
	}
	p.mu.Unlock()
	msg := encPeerStatusChanged(pe.id, m.Roles, m.Meta)
	for _, l := range listeners {
		l.enqueue(msg)
	}
}

// startSession opens a session towards the in-process producer: the consumer
// gets sessionStarted {peerId, sessionId}, then the producer's offer.
func (p *Producer) startSession(pe *peer, m Message) {
	if m.Offer != nil {
		pe.enqueue(encError("consumer offers are not supported: the robot sends the offer"))
		return
	}
	if m.PeerID != p.id {
		pe.enqueue(encError(fmt.Sprintf("Peer with ID '%s' not found", m.PeerID)))
		return
	}
	s := &Session{
		p:         p,
		id:        uuid.NewString(),
		consumer:  pe,
		since:     time.Now(),
		startDone: make(chan struct{}),
		done:      make(chan struct{}),
	}
	p.mu.Lock()
	if p.closed || p.peers[pe.id] != pe {
		// Shutting down, or the peer left while its message was in flight
		// (an in-process Conn closed from another goroutine).
		p.mu.Unlock()
		pe.enqueue(encError("the producer is shutting down"))
		return
	}
	if len(p.sessions) >= p.cfg.MaxSessions {
		v11 := pe.v11
		p.mu.Unlock()
		// Start and end at once: the consumer's session closes cleanly
		// instead of waiting for an offer that never comes.
		pe.enqueue(encSessionStarted(p.id, s.id))
		pe.enqueue(encEndSession(s.id, ReasonTooManySessions, v11, false))
		return
	}
	p.sessions[s.id] = s
	// Queued under the lock so that no endSession for this session (EndAll,
	// Close) can overtake it.
	pe.enqueue(encSessionStarted(p.id, s.id))
	p.mu.Unlock()

	if err := s.start(); err != nil {
		p.log.Warn("webrtc: session setup failed", "session", s.id, "err", err)
		s.end(ReasonInternal, true)
		close(s.startDone)
		return
	}
	if cb := p.cfg.OnSessionStart; cb != nil {
		cb(s)
	}
	s.startCalled = true
	close(s.startDone)
}

// peerMessage applies a consumer's answer or ICE candidate to its session.
func (p *Producer) peerMessage(pe *peer, m Message) {
	s := p.Session(m.SessionID)
	if s == nil {
		p.log.Debug("webrtc: peer message for unknown session", "peer", pe.id, "session", m.SessionID)
		return
	}
	if s.consumer != pe {
		pe.enqueue(encError(fmt.Sprintf("Peer %s is not part of %s", pe.id, m.SessionID)))
		return
	}
	if m.SDP != nil {
		if m.SDP.Type == "offer" {
			pe.enqueue(encError(fmt.Sprintf(`cannot forward offer from "%s" to "%s" as "%s" is not the producer`, pe.id, p.id, pe.id)))
			return
		}
		if err := s.applyAnswer(m.SDP.SDP); err != nil {
			pe.enqueue(encError(fmt.Sprintf("session %s: %v", s.id, err)))
			s.end(ReasonInvalidSDP, true)
		}
		return
	}
	if err := s.addRemoteCandidate(*m.ICE); err != nil {
		p.log.Debug("webrtc: remote candidate refused", "session", s.id, "err", err)
	}
}

// ServeHTTP upgrades a request on any path to a signalling WebSocket and
// serves it until either side ends it.
func (p *Producer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := p.acquireConn(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer p.releaseConn()

	up := websocket.Upgrader{
		HandshakeTimeout:  p.cfg.HandshakeTimeout,
		ReadBufferSize:    4096,
		WriteBufferSize:   4096,
		CheckOrigin:       p.cfg.CheckOrigin,
		EnableCompression: false,
	}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		p.log.Info("webrtc: signalling upgrade refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return // the upgrader has answered (403 for a refused origin)
	}
	pe := p.addPeer(r.RemoteAddr, false)
	if pe == nil {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closeGoingAway, "producer closed"), time.Now().Add(time.Second))
		_ = c.Close()
		return
	}
	c.SetReadLimit(p.cfg.MaxMessageSize)

	writeDone := make(chan struct{})
	go func() {
		defer close(writeDone)
		p.writeLoop(pe, c)
	}()
	p.readLoop(pe, c)
	<-writeDone
	_ = c.Close()
	p.removePeer(pe)
}

func (p *Producer) readLoop(pe *peer, c *websocket.Conn) {
	pongWait := p.cfg.PingInterval * 5 / 2
	_ = c.SetReadDeadline(time.Now().Add(p.cfg.HandshakeTimeout))
	c.SetPongHandler(func(string) error {
		if !pe.closing() {
			_ = c.SetReadDeadline(time.Now().Add(pongWait))
		}
		return nil
	})
	first := true
	for {
		typ, data, err := c.ReadMessage()
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				pe.close(closeTooBig, "message too large")
			case errors.As(err, &ne) && ne.Timeout() && first:
				pe.close(closePolicy, "handshake timeout")
			case errors.As(err, &ne) && ne.Timeout():
				pe.close(closePolicy, "keep-alive timeout")
			default:
				pe.close(closeNormal, "closed by peer")
			}
			return
		}
		if pe.closing() {
			return
		}
		first = false
		_ = c.SetReadDeadline(time.Now().Add(pongWait))
		if typ != websocket.TextMessage {
			pe.enqueue(encError("binary messages are not supported"))
			continue
		}
		p.handle(pe, data)
	}
}

// writeLoop drains the peer's queue and pings it. When the peer is closed it
// flushes what is queued (an endSession, say), sends a close frame with the
// reason and gives the reader a second to see the peer's close.
func (p *Producer) writeLoop(pe *peer, c *websocket.Conn) {
	ping := time.NewTicker(p.cfg.PingInterval)
	defer ping.Stop()
	write := func(msg []byte) bool {
		_ = c.SetWriteDeadline(time.Now().Add(p.cfg.WriteTimeout))
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			pe.close(closeNormal, "write failed")
			_ = c.Close() // unblocks the reader
			return false
		}
		return true
	}
	for {
		select {
		case msg := <-pe.out:
			if !write(msg) {
				return
			}
		case <-ping.C:
			if err := c.WriteControl(websocket.PingMessage, nil, time.Now().Add(p.cfg.WriteTimeout)); err != nil {
				pe.close(closeNormal, "write failed")
				_ = c.Close()
				return
			}
		case <-pe.done:
			for flushing := true; flushing; {
				select {
				case msg := <-pe.out:
					flushing = write(msg)
				default:
					flushing = false
				}
			}
			reason := pe.reason
			if len(reason) > 120 {
				reason = reason[:120]
			}
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(pe.code, reason), time.Now().Add(time.Second))
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			return
		}
	}
}

// InProcPeer is an in-process consumer of the signalling protocol (the
// central relay): it gets the same JSON messages a WebSocket client gets.
type InProcPeer interface {
	// Deliver is called with each message for the peer, in order, from one
	// goroutine. A Deliver that blocks holds up only this peer; once
	// Config.SendQueue messages are waiting the connection is closed.
	Deliver(msg []byte)
	// Closed is called once, after the last Deliver, when the connection
	// has ended (Conn.Close, Producer.Close, a full queue).
	Closed(reason string)
}

// Conn is an in-process signalling connection made by Producer.Connect.
type Conn struct {
	p  *Producer
	pe *peer
}

// Connect attaches an in-process peer. Its first delivered message is
// welcome {peerId}, as for a WebSocket client.
func (p *Producer) Connect(ip InProcPeer) (*Conn, error) {
	if err := p.acquireConn(); err != nil {
		return nil, err
	}
	pe := p.addPeer("inproc", true)
	if pe == nil {
		p.releaseConn()
		return nil, ErrClosed
	}
	go func() {
		defer p.releaseConn()
		for {
			select {
			case msg := <-pe.out:
				ip.Deliver(msg)
			case <-pe.done:
				for flushing := true; flushing; {
					select {
					case msg := <-pe.out:
						ip.Deliver(msg)
					default:
						flushing = false
					}
				}
				p.removePeer(pe)
				ip.Closed(pe.reason)
				return
			}
		}
	}()
	return &Conn{p: p, pe: pe}, nil
}

// PeerID is the connection's peer id (the one in its welcome).
func (c *Conn) PeerID() string { return c.pe.id }

// Send hands one client-to-server message (JSON) to the server. Replies and
// errors come back through Deliver.
func (c *Conn) Send(msg []byte) error {
	if c.pe.closing() {
		return ErrPeerConnClose
	}
	if int64(len(msg)) > c.p.cfg.MaxMessageSize {
		c.pe.close(closeTooBig, "message too large")
		return ErrTooLarge
	}
	c.p.handle(c.pe, msg)
	return nil
}

// SendMessage is Send for a Message value.
func (c *Conn) SendMessage(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.Send(b)
}

// Close ends the connection; its sessions end.
func (c *Conn) Close() { c.pe.close(closeNormal, "closed by peer") }
