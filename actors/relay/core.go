package relay

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"reachyd/media/webrtc"
	"reachyd/messages"
)

// Timing of the relay, as the reference daemon's central_signaling_relay.py.
const (
	// ReconnectBase is the first reconnect delay; it doubles with each
	// failed attempt up to ReconnectCap, plus up to 10 % jitter.
	ReconnectBase = 5 * time.Second
	ReconnectCap  = 60 * time.Second
	// FailedAttemptsForError: after this many failed attempts in a row the
	// state is error (the relay still retries).
	FailedAttemptsForError = 3
	// DefaultHeartbeat is the heartbeat period when central proposes none;
	// what it proposes is clamped to [MinHeartbeat, MaxHeartbeat].
	DefaultHeartbeat = 5 * time.Second
	MinHeartbeat     = time.Second
	MaxHeartbeat     = 60 * time.Second
	// ReadTimeout: the SSE stream is given up after this long without a line.
	ReadTimeout = 60 * time.Second
	// TokenRecheck is how often a relay without a token looks for one.
	TokenRecheck = 30 * time.Second
	// FirstPoll and PollEvery time the split-brain check (GET
	// /api/robot-status); MissedPolls polls in a row without our peer id
	// force a reconnection.
	FirstPoll   = 10 * time.Second
	PollEvery   = 30 * time.Second
	MissedPolls = 2
)

// End-session reasons the relay sends to central (spec 6.2).
const (
	ReasonBusyLocal       = "robot_busy_local"  // a session is already active or pending
	ReasonBusy            = "robot_busy"        // the lock is held by another remote session
	ReasonLocalAppStarted = "local_app_started" // evicted by a local app
	// ReasonMediaUnavailable is reachyd's: media is released, there is no
	// producer to hand the session to.
	ReasonMediaUnavailable = "media_unavailable"
)

// forwardedReasons are the producer's end reasons that travel to central;
// any other end on the robot's side is sent without a reason, as the
// reference does when its local side ends a session.
var forwardedReasons = map[string]bool{
	webrtc.ReasonICETimeout:       true,
	webrtc.ReasonConnectionFailed: true,
}

// Messages of the reference relay's status.
const (
	msgAuthFailed = "Authentication failed - token may be invalid"
	msgNoToken    = "Waiting for a Hugging Face token"
)

// ---- inputs --------------------------------------------------------------

// Input is what the shell feeds the core.
type Input interface{ input() }

type (
	// InStart starts the relay (reads the token, connects).
	InStart struct{}
	// InStop ends every session and stops.
	InStop struct{}
	// InRefresh forces a reconnection with the current token.
	InRefresh struct{}
	// InTokenChanged: the token was saved or deleted; the core reads it.
	InTokenChanged struct{}
	// InToken is the token the shell read after an EffReadToken.
	InToken struct{ Token string }
	// InTick: the time given with it reached a deadline (Core.Next).
	InTick struct{}

	// InSSEOpened: GET /events answered 200 for connection Gen.
	InSSEOpened struct{ Gen uint64 }
	// InSSEFailed: connection Gen failed or ended: Status is the HTTP
	// status when it was not 200, else 0 and Err says why.
	InSSEFailed struct {
		Gen    uint64
		Status int
		Err    string
	}
	// InSSEData is one decoded data line of connection Gen.
	InSSEData struct {
		Gen uint64
		Msg CentralMsg
	}
	// InSSEAlive: a line that is not data (a keep-alive comment) came on Gen.
	InSSEAlive struct{ Gen uint64 }
	// InPostRefused: central answered a POST of connection Gen 400
	// "Connect to /events first" (or "Peer not found"): it has no peer for
	// our token although our stream is open. The real server is left so
	// when a stream opens before the one it replaces has been cleaned up:
	// the new stream gets the old peer, whose clean-up then removes it
	// (reachy_mini_central_signalling app.py, get_or_create_peer and
	// disconnect_peer). Nothing reaches us on that stream any more.
	InPostRefused struct{ Gen uint64 }
	// InPoll is the split-brain check's answer: Status 200 and whether our
	// peer id was listed, or another status or an error (not counted).
	InPoll struct {
		Gen    uint64
		Status int
		Listed bool
	}

	// InLocalUp: the in-process signalling connection to the producer
	// ProducerID is open (its welcome will come as InLocal).
	InLocalUp struct{ ProducerID string }
	// InLocalDown: that connection closed (media released, producer replaced).
	InLocalDown struct{}
	// InLocal is one message from the producer's signalling server.
	InLocal struct{ Msg webrtc.Message }
	// InLock is the robot app lock's answer for a session's AcquireRemote:
	// Acquired, or refused with LocalApp when a local app holds it.
	InLock struct {
		Central  string
		Acquired bool
		LocalApp bool
	}
	// InEvict ends every remote session (a local app starts); Ref names
	// the request to answer.
	InEvict struct {
		Ref    uint64
		Reason string
	}
)

func (InStart) input()        {}
func (InStop) input()         {}
func (InRefresh) input()      {}
func (InTokenChanged) input() {}
func (InToken) input()        {}
func (InTick) input()         {}
func (InSSEOpened) input()    {}
func (InSSEFailed) input()    {}
func (InSSEData) input()      {}
func (InSSEAlive) input()     {}
func (InPoll) input()         {}
func (InPostRefused) input()  {}
func (InLocalUp) input()      {}
func (InLocalDown) input()    {}
func (InLocal) input()        {}
func (InLock) input()         {}
func (InEvict) input()        {}

// ---- effects -------------------------------------------------------------

// Effect is what the core asks the shell to do, in order.
type Effect interface{ effect() }

type (
	// EffReadToken: read the token and step InToken with it.
	EffReadToken struct{}
	// EffConnectSSE opens GET <central>/events with Token as connection Gen
	// (closing any other).
	EffConnectSSE struct {
		Gen   uint64
		Token string
	}
	// EffCloseSSE closes the SSE connection.
	EffCloseSSE struct{}
	// EffPost POSTs Body to <central>/send with Token, on behalf of SSE
	// connection Gen (a refusal is reported as InPostRefused with it).
	EffPost struct {
		Body  []byte
		Token string
		Gen   uint64
	}
	// EffHeartbeat POSTs setPeerStatus (roles producer, the robot's name
	// and transport) with Token, for connection Gen.
	EffHeartbeat struct {
		Token string
		Gen   uint64
	}
	// EffPoll GETs <central>/api/robot-status for our PeerID, answered as
	// InPoll with Gen.
	EffPoll struct {
		Gen    uint64
		Token  string
		PeerID string
	}
	// EffLocalOpen and EffLocalClose open and close the in-process
	// signalling connection to the producer (the shell keeps it attached
	// to the current producer while open is wanted).
	EffLocalOpen  struct{}
	EffLocalClose struct{}
	// EffLocal sends Msg to the producer's signalling server.
	EffLocal struct{ Msg []byte }
	// EffAcquireLock asks the lock for a remote session (answer: InLock).
	EffAcquireLock struct{ Central string }
	// EffReleaseLock releases the lock's remote hold.
	EffReleaseLock struct{ Handoff bool }
	// EffWatchEnd: before the local endSessions that follow, note the
	// producer's sessions Local so that EffEvicted can wait for their end.
	EffWatchEnd struct {
		Ref   uint64
		Local []string
	}
	// EffEvicted answers eviction Ref once the watched sessions ended.
	EffEvicted struct {
		Ref      uint64
		Sessions int
	}
)

func (EffReadToken) effect()   {}
func (EffConnectSSE) effect()  {}
func (EffCloseSSE) effect()    {}
func (EffPost) effect()        {}
func (EffHeartbeat) effect()   {}
func (EffPoll) effect()        {}
func (EffLocalOpen) effect()   {}
func (EffLocalClose) effect()  {}
func (EffLocal) effect()       {}
func (EffAcquireLock) effect() {}
func (EffReleaseLock) effect() {}
func (EffWatchEnd) effect()    {}
func (EffEvicted) effect()     {}

// ---- the core ------------------------------------------------------------

type phase int

const (
	phaseLock    phase = iota // waiting for the lock's answer
	phasePending              // waiting for the producer's sessionStarted
	phaseActive               // mapped central <-> local
)

type session struct {
	central     string
	local       string
	phase       phase
	startSent   bool // local startSession sent
	controlOnly bool // accepted while a local app holds the lock: no lock taken
}

// Core is the relay's state machine: connection state, heartbeat,
// reconnection, split-brain check and the session table. Not safe for
// concurrent use; no I/O, no clock (time comes with each Step).
type Core struct {
	running bool
	state   messages.RelayState
	message string

	token        string
	connectNext  bool // the next InToken connects even with the same token
	tokenCheckAt time.Time

	gen       uint64 // current SSE connection
	sseLive   bool   // connection gen requested and not failed
	sseOpen   bool   // it answered 200
	lastLine  time.Time
	attempts  int // failed connection attempts in a row
	reconnect time.Time

	peerID      string
	heartbeat   time.Duration
	nextBeat    time.Time
	nextPoll    time.Time
	pollGen     uint64
	missedPolls int

	localUp    bool
	producerID string

	sessions  []*session // in arrival order
	holdsLock bool
}

// NewCore returns a stopped relay.
func NewCore() *Core { return &Core{state: messages.RelayStopped} }

// State returns the state, its message ("" for none) and our central peer id.
func (c *Core) State() (messages.RelayState, string, string) { return c.state, c.message, c.peerID }

// Running reports whether the relay was started and not stopped.
func (c *Core) Running() bool { return c.running }

// Heartbeat is the negotiated heartbeat period (0 before a welcome).
func (c *Core) Heartbeat() time.Duration { return c.heartbeat }

// Attempts is the number of failed connection attempts in a row.
func (c *Core) Attempts() int { return c.attempts }

// HoldsLock reports whether a remote session of ours holds the lock.
func (c *Core) HoldsLock() bool { return c.holdsLock }

// Token is the token of the current connection.
func (c *Core) Token() string { return c.token }

// Sessions lists the sessions as central id -> local id ("" until the
// producer started it).
func (c *Core) Sessions() map[string]string {
	out := make(map[string]string, len(c.sessions))
	for _, s := range c.sessions {
		out[s.central] = s.local
	}
	return out
}

// Next is the earliest deadline the core waits for (zero: none).
func (c *Core) Next() time.Time {
	var next time.Time
	add := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if !c.running {
		return next
	}
	if c.state == messages.RelayWaitingForToken {
		add(c.tokenCheckAt)
	}
	add(c.reconnect)
	if c.sseOpen {
		add(c.lastLine.Add(ReadTimeout))
	}
	if c.peerID != "" {
		add(c.nextBeat)
		add(c.nextPoll)
	}
	return next
}

// NegotiateHeartbeat is the heartbeat period from a welcome: the
// recommended interval, else a third of the lease, else DefaultHeartbeat,
// clamped to [MinHeartbeat, MaxHeartbeat].
func NegotiateHeartbeat(recommended, lease *float64) time.Duration {
	secs := DefaultHeartbeat.Seconds()
	switch {
	case recommended != nil && *recommended > 0 && !math.IsInf(*recommended, 0):
		secs = *recommended
	case lease != nil && *lease > 0 && !math.IsInf(*lease, 0):
		secs = *lease / 3
	}
	d := time.Duration(secs * float64(time.Second))
	return min(max(d, MinHeartbeat), MaxHeartbeat)
}

// Backoff is the delay before reconnection attempt n (n >= 1): 5 s ·
// 2^(n−1), at most 60 s, plus jitter·10 % (jitter in [0, 1)).
func Backoff(n int, jitter float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := ReconnectCap
	if n <= 5 {
		d = min(ReconnectBase<<(n-1), ReconnectCap)
	}
	jitter = min(max(jitter, 0), 1)
	return d + time.Duration(float64(d)*0.1*jitter)
}

// Step feeds one input at time now; rnd is the jitter source, in [0, 1).
func (c *Core) Step(now time.Time, rnd float64, in Input) []Effect {
	var out effects
	switch m := in.(type) {
	case InStart:
		if c.running {
			break
		}
		c.running = true
		c.connectNext = true
		c.attempts = 0
		out.add(EffLocalOpen{}, EffReadToken{})
	case InStop:
		if !c.running {
			break
		}
		c.endAll(&out, "", true, false)
		c.closeSSE(&out)
		out.add(EffLocalClose{})
		*c = Core{state: messages.RelayStopped, token: c.token, gen: c.gen, pollGen: c.pollGen}
	case InRefresh:
		if c.running {
			c.connectNext = true
			out.add(EffReadToken{})
		}
	case InTokenChanged:
		if c.running {
			out.add(EffReadToken{})
		}
	case InToken:
		c.onToken(&out, now, m.Token)
	case InTick:
		c.tick(&out, now, rnd)
	case InSSEOpened:
		if c.current(m.Gen) {
			c.sseOpen = true
			c.attempts = 0
			c.lastLine = now
		}
	case InSSEFailed:
		if c.current(m.Gen) {
			switch {
			case m.Status == 401:
				c.fail(&out, now, rnd, msgAuthFailed)
			case m.Status != 0:
				c.fail(&out, now, rnd, fmt.Sprintf("Central server returned HTTP %d", m.Status))
			default:
				c.fail(&out, now, rnd, "")
			}
		}
	case InSSEAlive:
		if c.current(m.Gen) {
			c.lastLine = now
		}
	case InSSEData:
		if c.current(m.Gen) {
			c.lastLine = now
			c.central(&out, now, m.Msg)
		}
	case InPoll:
		c.onPoll(&out, now, m)
	case InPostRefused:
		// Central lost our peer behind an open stream: reconnect, after
		// the backoff (a central that keeps refusing is not hammered).
		if c.current(m.Gen) && c.peerID != "" {
			c.fail(&out, now, rnd, "")
		}
	case InLocalUp:
		if c.running {
			c.localUp, c.producerID = true, m.ProducerID
		}
	case InLocalDown:
		if c.localUp {
			c.localUp, c.producerID = false, ""
			c.endAll(&out, "", true, false)
		}
	case InLocal:
		if c.running && c.localUp {
			c.local(&out, m.Msg)
		}
	case InLock:
		c.onLock(&out, m)
	case InEvict:
		c.evict(&out, m)
	}
	return out
}

type effects []Effect

func (e *effects) add(fx ...Effect) { *e = append(*e, fx...) }

func (c *Core) current(gen uint64) bool { return c.running && c.sseLive && gen == c.gen }

func (c *Core) onToken(out *effects, now time.Time, token string) {
	if !c.running {
		return
	}
	if token == "" {
		if c.state != messages.RelayWaitingForToken {
			c.endAll(out, "", false, false)
			c.closeSSE(out)
			c.reconnect = time.Time{}
		}
		c.token = ""
		c.state, c.message = messages.RelayWaitingForToken, msgNoToken
		c.tokenCheckAt = now.Add(TokenRecheck)
		c.connectNext = true
		return
	}
	if token == c.token && !c.connectNext && c.state != messages.RelayWaitingForToken {
		return // same token: nothing to do
	}
	c.connectNext = false
	c.token = token
	c.connect(out)
}

// connect opens a new SSE connection, ending the current one and its
// sessions first.
func (c *Core) connect(out *effects) {
	if c.sseLive || len(c.sessions) > 0 {
		c.endAll(out, "", false, false)
		c.closeSSE(out)
	}
	c.gen++
	c.sseLive, c.sseOpen = true, false
	c.reconnect = time.Time{}
	if c.state != messages.RelayError {
		if c.attempts == 0 {
			c.state, c.message = messages.RelayConnecting, ""
		} else {
			c.state, c.message = messages.RelayReconnecting, ""
		}
	}
	out.add(EffConnectSSE{Gen: c.gen, Token: c.token})
}

func (c *Core) closeSSE(out *effects) {
	if c.sseLive {
		out.add(EffCloseSSE{})
	}
	c.sseLive, c.sseOpen = false, false
	c.peerID, c.heartbeat = "", 0
	c.nextBeat, c.nextPoll = time.Time{}, time.Time{}
	c.missedPolls = 0
	c.pollGen++
}

// fail handles the loss of the SSE connection: sessions end (locally:
// central has lost us), the lock is released without handoff, and a
// reconnection is scheduled. msg, when set, is an error the reference
// reports at once; otherwise the state is reconnecting until
// FailedAttemptsForError attempts failed in a row.
func (c *Core) fail(out *effects, now time.Time, rnd float64, msg string) {
	c.endAll(out, "", false, false)
	c.closeSSE(out)
	c.attempts++
	c.reconnect = now.Add(Backoff(c.attempts, rnd))
	switch {
	case msg != "":
		c.state, c.message = messages.RelayError, msg
	case c.attempts >= FailedAttemptsForError:
		c.state = messages.RelayError
		c.message = fmt.Sprintf("Cannot reach the central server (%d attempts)", c.attempts)
	default:
		c.state, c.message = messages.RelayReconnecting, ""
	}
}

func (c *Core) tick(out *effects, now time.Time, rnd float64) {
	if !c.running {
		return
	}
	if c.state == messages.RelayWaitingForToken && !c.tokenCheckAt.IsZero() && !now.Before(c.tokenCheckAt) {
		c.tokenCheckAt = now.Add(TokenRecheck)
		out.add(EffReadToken{})
	}
	if !c.reconnect.IsZero() && !now.Before(c.reconnect) {
		c.reconnect = time.Time{}
		c.connectNext = true
		out.add(EffReadToken{})
	}
	if c.sseOpen && !now.Before(c.lastLine.Add(ReadTimeout)) {
		c.fail(out, now, rnd, "")
		return
	}
	if c.peerID != "" && !now.Before(c.nextBeat) {
		c.nextBeat = now.Add(c.heartbeat)
		out.add(EffHeartbeat{Token: c.token, Gen: c.gen})
	}
	if c.peerID != "" && !now.Before(c.nextPoll) {
		c.nextPoll = now.Add(PollEvery)
		out.add(EffPoll{Gen: c.pollGen, Token: c.token, PeerID: c.peerID})
	}
}

func (c *Core) onPoll(out *effects, now time.Time, m InPoll) {
	if !c.running || m.Gen != c.pollGen || c.peerID == "" || m.Status != 200 {
		return
	}
	if m.Listed {
		c.missedPolls = 0
		return
	}
	c.missedPolls++
	if c.missedPolls >= MissedPolls {
		// Central lost us (split brain): force a reconnection now.
		c.connectNext = true
		c.connect(out)
	}
}

// ---- central messages ----------------------------------------------------

func (c *Core) central(out *effects, now time.Time, m CentralMsg) {
	switch m.Type {
	case "welcome":
		if m.PeerID == "" {
			return
		}
		c.peerID = m.PeerID
		c.heartbeat = NegotiateHeartbeat(m.RecommendedHeartbeat, m.LeaseSeconds)
		c.nextBeat = now.Add(c.heartbeat)
		c.nextPoll = now.Add(FirstPoll)
		c.missedPolls = 0
		c.pollGen++
		c.state, c.message = messages.RelayConnected, ""
		out.add(EffHeartbeat{Token: c.token, Gen: c.gen})
	case "startSession":
		c.startSession(out, m)
	case "peer":
		s := c.byCentral(m.SessionID)
		if s == nil || s.local == "" {
			return
		}
		body := map[string]any{"type": "peer", "sessionId": s.local}
		switch {
		case len(m.SDP) > 0 && string(m.SDP) != "null":
			body["sdp"] = m.SDP
		case len(m.ICE) > 0 && string(m.ICE) != "null":
			body["ice"] = m.ICE
		default:
			return
		}
		out.add(EffLocal{Msg: mustJSON(body)})
	case "endSession":
		s := c.byCentral(m.SessionID)
		if s == nil {
			return
		}
		c.remove(s)
		if s.local != "" {
			out.add(EffLocal{Msg: encLocalEnd(s.local)})
		}
		c.maybeRelease(out, true)
	}
	// list, peerStatusChanged and anything else: ignored.
}

func (c *Core) startSession(out *effects, m CentralMsg) {
	if m.SessionID == "" || c.peerID == "" {
		return
	}
	if c.byCentral(m.SessionID) != nil {
		return // duplicate
	}
	if !c.localUp {
		out.add(c.postEnd(m.SessionID, ReasonMediaUnavailable))
		return
	}
	if len(c.sessions) > 0 {
		out.add(c.postEnd(m.SessionID, ReasonBusyLocal))
		return
	}
	c.sessions = append(c.sessions, &session{central: m.SessionID, phase: phaseLock})
	out.add(EffAcquireLock{Central: m.SessionID})
}

func (c *Core) onLock(out *effects, m InLock) {
	if m.Acquired {
		c.holdsLock = true
	}
	s := c.byCentral(m.Central)
	if s == nil || s.phase != phaseLock {
		// The session ended while the lock was asked.
		c.maybeRelease(out, true)
		return
	}
	switch {
	case m.Acquired:
	case m.LocalApp:
		s.controlOnly = true
	default:
		c.remove(s)
		out.add(c.postEnd(s.central, ReasonBusy))
		c.maybeRelease(out, true)
		return
	}
	s.phase = phasePending
	out.add(EffLocal{Msg: []byte(`{"type":"list"}`)})
}

// ---- local messages ------------------------------------------------------

func (c *Core) local(out *effects, m webrtc.Message) {
	switch m.Type {
	case webrtc.TypeWelcome:
		out.add(EffLocal{Msg: []byte(`{"type":"setPeerStatus","roles":["listener"],"meta":{"name":"central-relay"}}`)})
		out.add(EffLocal{Msg: []byte(`{"type":"list"}`)})
	case webrtc.TypeList:
		id := c.producerID
		if len(m.Producers) > 0 {
			id = m.Producers[0].ID
		}
		if id == "" {
			return
		}
		for _, s := range c.sessions {
			if s.phase == phasePending && !s.startSent {
				s.startSent = true
				out.add(EffLocal{Msg: mustJSON(map[string]string{"type": "startSession", "peerId": id})})
			}
		}
	case webrtc.TypeSessionStarted:
		for _, s := range c.sessions {
			if s.phase == phasePending && s.startSent {
				s.local, s.phase = m.SessionID, phaseActive
				return
			}
		}
		// Nobody waits for it any more (its central session ended).
		out.add(EffLocal{Msg: encLocalEnd(m.SessionID)})
	case webrtc.TypePeer:
		s := c.byLocal(m.SessionID)
		if s == nil {
			return
		}
		body := map[string]any{"type": "peer", "sessionId": s.central}
		switch {
		case m.SDP != nil:
			body["sdp"] = m.SDP
		case m.ICE != nil:
			body["ice"] = m.ICE
		default:
			return
		}
		out.add(EffPost{Body: mustJSON(body), Token: c.token, Gen: c.gen})
	case webrtc.TypeEndSession, webrtc.TypeEndSessionV11:
		s := c.byLocal(m.SessionID)
		if s == nil {
			return
		}
		c.remove(s)
		reason := ""
		if forwardedReasons[m.Reason] {
			reason = m.Reason
		}
		out.add(c.postEnd(s.central, reason))
		c.maybeRelease(out, true)
	}
}

// evict ends every session for a local app: central and the producer are
// told, and the answer waits for the producer's teardown. The lock has
// moved to the local app already: it is not released.
func (c *Core) evict(out *effects, m InEvict) {
	reason := m.Reason
	if reason == "" {
		reason = ReasonLocalAppStarted
	}
	var locals []string
	for _, s := range c.sessions {
		if s.local != "" {
			locals = append(locals, s.local)
		}
	}
	n := len(c.sessions)
	out.add(EffWatchEnd{Ref: m.Ref, Local: locals})
	c.endAll(out, reason, true, true)
	c.holdsLock = false
	out.add(EffEvicted{Ref: m.Ref, Sessions: n})
}

// endAll ends every session: locally, and at central when tellCentral
// (central lost us otherwise). The lock is released without handoff unless
// keepLock.
func (c *Core) endAll(out *effects, reason string, tellCentral, keepLock bool) {
	for _, s := range c.sessions {
		if tellCentral && c.peerID != "" {
			out.add(c.postEnd(s.central, reason))
		}
		if s.local != "" {
			out.add(EffLocal{Msg: encLocalEnd(s.local)})
		}
	}
	c.sessions = nil
	if !keepLock {
		c.maybeRelease(out, false)
	}
}

func (c *Core) maybeRelease(out *effects, handoff bool) {
	if len(c.sessions) == 0 && c.holdsLock {
		c.holdsLock = false
		out.add(EffReleaseLock{Handoff: handoff})
	}
}

func (c *Core) byCentral(id string) *session {
	for _, s := range c.sessions {
		if s.central == id {
			return s
		}
	}
	return nil
}

func (c *Core) byLocal(id string) *session {
	if id == "" {
		return nil
	}
	for _, s := range c.sessions {
		if s.local == id {
			return s
		}
	}
	return nil
}

func (c *Core) remove(s *session) {
	for i, x := range c.sessions {
		if x == s {
			c.sessions = append(c.sessions[:i:i], c.sessions[i+1:]...)
			return
		}
	}
}

func (c *Core) postEnd(central, reason string) Effect {
	body := map[string]string{"type": "endSession", "sessionId": central}
	if reason != "" {
		body["reason"] = reason
	}
	return EffPost{Body: mustJSON(body), Token: c.token, Gen: c.gen}
}

func encLocalEnd(local string) []byte {
	return mustJSON(map[string]string{"type": "endSession", "sessionId": local})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("relay: encoding a message: %v", err))
	}
	return b
}
