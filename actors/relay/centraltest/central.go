// Package centraltest is a fake of the Reachy Mini central signalling
// server (a Hugging Face Space, HTTP + SSE) and a Go consumer of it, for
// the relay's tests and the benchmark tool. It is written from the
// protocol as spec/daemon-api.md 6.2, 6.5b and 6.6 describe it (read from
// the reference daemon's central_signaling_relay.py, the TypeScript SDK and
// central_consumer.py); the server's own source
// (pollen-robotics/reachy_mini_central_signalling, app.py) was read later
// for the CORS answers and the SpaceLike switch.
//
// The Server:
//   - GET /events: an SSE stream per peer; first line welcome {peerId,
//     recommended_heartbeat_interval_seconds}. Lines are `data: <json>`;
//     a `: keep-alive` comment every KeepAlive when set.
//   - POST /send: the sender is the peer whose /events holds the request's
//     token (the real server keys peers by the signed-in user; tests give
//     the robot and each consumer a token of their own). setPeerStatus
//     records roles and meta (and the time of each producer heartbeat);
//     list answers list {producers} on the sender's stream; startSession
//     {peerId: robot} opens a session: the robot gets startSession {peerId:
//     consumer, sessionId}, the consumer sessionStarted {peerId: robot,
//     sessionId} on its stream and in the POST's answer; peer is forwarded
//     to the other side; endSession goes to both sides (the real server
//     echoes it to its sender too). A POST without an open stream is
//     answered 400 "Connect to /events first".
//   - GET /api/robot-status: {"robots":[{peerId, meta, busy}]} of the
//     producers.
//   - Every request needs Authorization: Bearer <one of Tokens> (else 401);
//     a token that appears in a URL is counted (TokenInURL).
//   - SpaceLike: the stream and the startSession answer as the real
//     server writes them (pollen-robotics/reachy_mini_central_signalling
//     app.py, read for these facts: sse-starlette framing, list after
//     welcome, `event: ping` with an empty data line after 30 s without a
//     message, sessionStarted only in the POST's answer, no heartbeat
//     fields in welcome).
//   - Forget: the server loses every peer behind its open stream.
//   - Switches: Fail (answer every request with that status: 401, 503),
//     Silent (/events answers 200 and never writes a line), DropRobots
//     (robot-status lists nobody).
//   - It records every message a producer sent (RobotMessages).
//   - CORS, as the real server answers browsers (Starlette's
//     CORSMiddleware with allow_origins, allow_methods and allow_headers
//     "*", no credentials; the TypeScript SDK runs in pages of other
//     origins and sends an Authorization header, so each of its fetches is
//     preflighted): an OPTIONS preflight is answered 200 without a token,
//     with Access-Control-Allow-Origin: *, every method, the requested
//     headers echoed as Access-Control-Allow-Headers (a wildcard would not
//     cover Authorization) and Max-Age 600; every other answer carries
//     Access-Control-Allow-Origin: *. Preflights are counted (Preflights).
package centraltest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Server is a fake central server.
type Server struct {
	// Heartbeat is the recommended heartbeat sent in welcome (seconds; 0:
	// the field is left out).
	Heartbeat float64
	// KeepAlive, when set, sends an SSE comment line this often.
	KeepAlive time.Duration

	// SpaceLike writes the stream as the real server does (sse-starlette:
	// CRLF, `event: message` before each data line, comment pings every
	// KeepAlive, list after welcome, an `event: ping` with an empty data
	// line after PingIdle without a message), and answers sessionStarted
	// only in the startSession POST's answer, never on the stream.
	SpaceLike atomic.Bool
	// PingIdle is the quiet time before a SpaceLike ping event (the real
	// server's 30 s when zero).
	PingIdle atomic.Int64 // nanoseconds

	Fail       atomic.Int32 // non-zero: every request gets this status
	Silent     atomic.Bool  // /events sends nothing, not even welcome
	DropRobots atomic.Bool  // robot-status lists no robot

	srv *httptest.Server

	mu         sync.Mutex
	tokens     map[string]bool
	peers      map[string]*peer // by peer id
	byToken    map[string]*peer
	sessions   map[string]*session
	robotMsgs  []map[string]any
	beats      []time.Time
	tokenInURL int
	events     int // /events requests
	preflights int // OPTIONS requests
	changed    chan struct{}
}

type peer struct {
	id    string
	token string
	roles []string
	meta  json.RawMessage
	out   chan []byte
	done  chan struct{}
}

type session struct{ id, producer, consumer string }

// New starts a fake central on 127.0.0.1 accepting these tokens.
func New(tokens ...string) *Server {
	s := newServer(tokens)
	s.srv = httptest.NewServer(s)
	return s
}

// NewOn starts a fake central serving on ln (a listener in a network
// namespace, say), which it closes with the server.
func NewOn(ln net.Listener, tokens ...string) *Server {
	s := newServer(tokens)
	s.srv = httptest.NewUnstartedServer(s)
	_ = s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	return s
}

func newServer(tokens []string) *Server {
	s := &Server{tokens: map[string]bool{}, peers: map[string]*peer{}, byToken: map[string]*peer{},
		sessions: map[string]*session{}, changed: make(chan struct{})}
	for _, t := range tokens {
		s.tokens[t] = true
	}
	return s
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server and its streams.
func (s *Server) Close() {
	s.mu.Lock()
	for _, p := range s.peers {
		closeOnce(p)
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

func closeOnce(p *peer) {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
}

// SetTokens replaces the accepted tokens.
func (s *Server) SetTokens(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]bool{}
	for _, t := range tokens {
		s.tokens[t] = true
	}
}

// Disconnect ends every open /events stream (central restarting).
func (s *Server) Disconnect() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.peers {
		closeOnce(p)
	}
}

// Forget drops every peer's registration and sessions but leaves the
// streams open: the state the real server is left in when a stream opens
// before the one it replaces is cleaned up (app.py: the new stream gets
// the old peer, whose clean-up then removes it). POSTs are then answered
// 400 "Connect to /events first" and nothing reaches the open streams.
func (s *Server) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peers, s.byToken, s.sessions = map[string]*peer{}, map[string]*peer{}, map[string]*session{}
	s.notify()
}

// TokenInURL counts requests whose URL held a token.
func (s *Server) TokenInURL() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenInURL
}

// EventsRequests counts GET /events requests (connection attempts).
func (s *Server) EventsRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events
}

// Preflights counts CORS preflights (OPTIONS requests).
func (s *Server) Preflights() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.preflights
}

// RobotMessages is every message producers posted, in order.
func (s *Server) RobotMessages() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.robotMsgs...)
}

// Heartbeats are the times producers sent setPeerStatus.
func (s *Server) Heartbeats() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.beats...)
}

// Robots are the producer peers: id -> meta.
func (s *Server) Robots() map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]json.RawMessage{}
	for _, p := range s.peers {
		if hasRole(p, "producer") {
			out[p.id] = p.meta
		}
	}
	return out
}

// Sessions is the number of open sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Changed is closed at the next change of state (a message, a peer
// coming or going); tests wait on it instead of sleeping.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *Server) notify() { // with s.mu held
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitFor polls cond on every change until it holds or the timeout passes.
func (s *Server) WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := s.Changed()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline.C:
			return cond()
		}
	}
}

// RobotSent waits until a producer posted a message of this type for
// which match (nil: any) holds, and returns it.
func (s *Server) RobotSent(timeout time.Duration, typ string, match func(map[string]any) bool) (map[string]any, bool) {
	var found map[string]any
	ok := s.WaitFor(timeout, func() bool {
		for _, m := range s.RobotMessages() {
			if m["type"] == typ && (match == nil || match(m)) {
				found = m
				return true
			}
		}
		return false
	})
	return found, ok
}

func hasRole(p *peer, role string) bool {
	for _, r := range p.roles {
		if r == role {
			return true
		}
	}
	return false
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		// A preflight carries no Authorization header: answered before the
		// token check, as a CORS middleware in front of the app does.
		s.mu.Lock()
		s.preflights++
		s.mu.Unlock()
		// As Starlette's CORSMiddleware with allow_methods and
		// allow_headers "*" answers: the requested headers echoed (a
		// wildcard would not cover Authorization), every method.
		w.Header().Set("Access-Control-Allow-Methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT")
		if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
			w.Header().Set("Access-Control-Allow-Headers", h)
		} else {
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		}
		w.Header().Set("Access-Control-Max-Age", "600")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "OK")
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	for t := range s.tokens {
		if t != "" && strings.Contains(r.URL.String(), t) {
			s.tokenInURL++
		}
	}
	if r.URL.Path == "/events" {
		s.events++
		s.notify()
	}
	valid := ok && s.tokens[token]
	s.mu.Unlock()
	if code := int(s.Fail.Load()); code != 0 {
		http.Error(w, http.StatusText(code), code)
		return
	}
	if !valid {
		http.Error(w, `{"detail":"Invalid token"}`, http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/events":
		s.stream(w, r, token)
	case r.Method == http.MethodPost && r.URL.Path == "/send":
		s.send(w, r, token)
	case r.Method == http.MethodGet && r.URL.Path == "/api/robot-status":
		s.robotStatus(w)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, token string) {
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if fl != nil {
		fl.Flush()
	}
	if s.Silent.Load() {
		<-r.Context().Done()
		return
	}
	p := &peer{id: uuid.NewString(), token: token, out: make(chan []byte, 1024), done: make(chan struct{})}
	s.mu.Lock()
	if old := s.byToken[token]; old != nil {
		closeOnce(old)
	}
	s.peers[p.id], s.byToken[token] = p, p
	s.notify()
	s.mu.Unlock()
	defer s.leave(p)

	welcome := map[string]any{"type": "welcome", "peerId": p.id}
	if s.Heartbeat > 0 {
		welcome["recommended_heartbeat_interval_seconds"] = s.Heartbeat
	}
	b, _ := json.Marshal(welcome)
	p.out <- b
	var keep <-chan time.Time
	if s.KeepAlive > 0 {
		t := time.NewTicker(s.KeepAlive)
		defer t.Stop()
		keep = t.C
	}
	spaceLike := s.SpaceLike.Load()
	var quiet <-chan time.Time
	var quietTimer *time.Timer
	if spaceLike {
		// The real server sends the producers after welcome, and a ping
		// event with an empty data line after PingIdle without a message.
		b, _ := json.Marshal(map[string]any{"type": "list", "producers": s.producerList()})
		p.out <- b
		quietTimer = time.NewTimer(s.pingIdle())
		defer quietTimer.Stop()
		quiet = quietTimer.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-p.done:
			return
		case <-keep:
			line := ": keep-alive\n\n"
			if spaceLike {
				line = ": ping - " + time.Now().UTC().Format("2006-01-02 15:04:05.000000+00:00") + "\r\n\r\n"
			}
			if _, err := io.WriteString(w, line); err != nil {
				return
			}
		case <-quiet:
			if _, err := io.WriteString(w, "event: ping\r\ndata: \r\n\r\n"); err != nil {
				return
			}
			quietTimer.Reset(s.pingIdle())
		case m := <-p.out:
			var err error
			if spaceLike {
				_, err = fmt.Fprintf(w, "event: message\r\ndata: %s\r\n\r\n", m)
				quietTimer.Reset(s.pingIdle())
			} else {
				_, err = fmt.Fprintf(w, "data: %s\n\n", m)
			}
			if err != nil {
				return
			}
		}
		if fl != nil {
			fl.Flush()
		}
	}
}

// leave forgets a peer whose stream ended; its sessions end on the other
// side.
func (s *Server) leave(p *peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	closeOnce(p)
	if s.peers[p.id] == p {
		delete(s.peers, p.id)
	}
	if s.byToken[p.token] == p {
		delete(s.byToken, p.token)
	}
	for id, ss := range s.sessions {
		if ss.producer == p.id || ss.consumer == p.id {
			delete(s.sessions, id)
			end, _ := json.Marshal(map[string]string{"type": "endSession", "sessionId": id})
			for _, other := range []string{ss.producer, ss.consumer} {
				if o := s.peers[other]; o != nil {
					s.push(o, end)
				}
			}
		}
	}
	s.notify()
}

func (s *Server) push(p *peer, msg []byte) { // with s.mu held
	select {
	case p.out <- msg:
	default:
	}
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, token string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var m struct {
		Type      string          `json:"type"`
		PeerID    string          `json:"peerId"`
		SessionID string          `json:"sessionId"`
		Roles     []string        `json:"roles"`
		Meta      json.RawMessage `json:"meta"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, `{"detail":"invalid JSON"}`, http.StatusBadRequest)
		return
	}
	var all map[string]any
	_ = json.Unmarshal(body, &all)

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.byToken[token]
	if p == nil {
		http.Error(w, `{"detail":"Connect to /events first"}`, http.StatusBadRequest)
		return
	}
	if hasRole(p, "producer") || (m.Type == "setPeerStatus" && contains(m.Roles, "producer")) {
		s.robotMsgs = append(s.robotMsgs, all)
	}
	defer s.notify()
	reply := []byte(`{"status":"ok"}`)
	switch m.Type {
	case "setPeerStatus":
		p.roles, p.meta = m.Roles, m.Meta
		if contains(m.Roles, "producer") {
			s.beats = append(s.beats, time.Now())
		}
	case "list":
		b, _ := json.Marshal(map[string]any{"type": "list", "producers": s.producersLocked()})
		s.push(p, b)
	case "startSession":
		robot := s.peers[m.PeerID]
		if robot == nil || !hasRole(robot, "producer") {
			http.Error(w, `{"detail":"Peer not found"}`, http.StatusNotFound)
			return
		}
		id := uuid.NewString()
		s.sessions[id] = &session{id: id, producer: robot.id, consumer: p.id}
		toRobot, _ := json.Marshal(map[string]string{"type": "startSession", "peerId": p.id, "sessionId": id})
		s.push(robot, toRobot)
		started, _ := json.Marshal(map[string]string{"type": "sessionStarted", "peerId": robot.id, "sessionId": id})
		if !s.SpaceLike.Load() {
			s.push(p, started)
		}
		reply = started
	case "peer":
		ss := s.sessions[m.SessionID]
		if ss == nil {
			break
		}
		other := ss.producer
		if other == p.id {
			other = ss.consumer
		}
		if o := s.peers[other]; o != nil {
			s.push(o, body)
		}
	case "endSession":
		ss := s.sessions[m.SessionID]
		if ss == nil {
			break
		}
		delete(s.sessions, m.SessionID)
		for _, id := range []string{ss.producer, ss.consumer} {
			if o := s.peers[id]; o != nil {
				s.push(o, body)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(reply)
}

func (s *Server) pingIdle() time.Duration {
	if d := time.Duration(s.PingIdle.Load()); d > 0 {
		return d
	}
	return 30 * time.Second
}

func (s *Server) producerList() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.producersLocked()
}

func (s *Server) producersLocked() []map[string]any { // with s.mu held
	producers := []map[string]any{}
	for _, o := range s.peers {
		if hasRole(o, "producer") {
			producers = append(producers, map[string]any{"id": o.id, "meta": o.meta, "busy": s.busy(o.id)})
		}
	}
	return producers
}

func (s *Server) busy(producer string) bool { // with s.mu held
	for _, ss := range s.sessions {
		if ss.producer == producer {
			return true
		}
	}
	return false
}

func (s *Server) robotStatus(w http.ResponseWriter) {
	s.mu.Lock()
	robots := []map[string]any{}
	if !s.DropRobots.Load() {
		for _, p := range s.peers {
			if hasRole(p, "producer") {
				robots = append(robots, map[string]any{"peerId": p.id, "meta": p.meta, "busy": s.busy(p.id)})
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"robots": robots})
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
