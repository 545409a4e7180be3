// Package rpcrelay is the JSON-RPC 2.0 surface of the WebRTC `data`
// channel (spec daemon-api 2.6, the reference's rm/daemon/jsonrpc_relay.py):
//
//   - apps.start {name}, apps.stop, apps.install {name}, apps.status are
//     answered by the daemon through Apps (the app manager: apps.start keeps
//     the remote caller's session, messages.LockKeep);
//   - every other namespace is relayed to the running app's /rpc WebSocket
//     (ws://127.0.0.1:<port>/rpc, from its custom_app_url) with the id
//     rewritten to relay-<n> and restored on the reply, which goes to the
//     calling peer only; the app's notifications and uncorrelated frames
//     are broadcast to every data-channel peer.
//
// Requests without an id are notifications: they are carried out (or
// forwarded) and never answered, as in the reference.
//
// # Why a package and not an actor
//
// The relay holds one WebSocket to the running app and the table of calls
// waiting for its replies. That state is transport state, like a WebSocket
// client's queue in the gateway: nothing else reads it, nothing about the
// robot depends on it, and losing it (a crash, a restart) costs only the
// calls in flight, which the reference fails the same way when the app's
// socket drops ("app connection lost"). An actor would add a hop and an
// ask per frame and move the blocking dial and writes into ReenterAfter
// chains without a gain in safety. What is robot state — which app runs,
// the lock, installs — stays with the apps actor, reached through Apps
// (ActorApps asks it). The gateway stays thin: it hands each JSON-RPC
// frame to Handle with the peer's Send as the reply function.
//
// # Limits
//
// A peer's frame and an app's frame are at most Config.MaxFrame bytes (256
// KiB) and nested at most MaxDepth deep (decoded by DecodeRequest and
// DecodeInbound, fuzzed); the app socket's read limit is 4 x MaxFrame (a
// larger frame closes it). At most Config.MaxPending calls wait for the
// app (reason "busy" beyond), each at most Config.CallTimeout (20 s, the
// JavaScript SDK's own bound; reason "timeout"); dialling the app takes at
// most 5 s (reason app_unavailable). apps.start and apps.stop run in the
// background (at most MaxAppOps at once), apps.install too (at most
// MaxInstalls, each bounded by Config.InstallTimeout), so that a peer's
// data channel is never held up by them.
//
// # Tested against
//
// Unit tests drive a Relay against a local gorilla/websocket /rpc server
// (id rewriting and restoring, concurrent calls from several peers,
// notifications both ways, app loss, timeouts, limits, late replies) with a
// fake Apps; FuzzDecodeRequest and FuzzDecodeInbound fuzz the decoders.
// cmd/reachyd/jsonrpc_test.go runs the daemon with a real Python app that
// serves /rpc (a stdlib WebSocket server) and a pion consumer on the data
// channel.
package rpcrelay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/internal/jsondepth"
)

// JSON-RPC error codes.
const (
	CodeParse          = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
	CodeServer         = -32000
)

// Reasons (error.data.reason). The first ones are the reference's; busy
// and timeout are reachyd's.
const (
	ReasonParse          = "parse_error"
	ReasonInvalidRequest = "invalid_request"
	ReasonInvalidParams  = "invalid_params"
	ReasonMethodNotFound = "method_not_found"
	ReasonAlreadyRunning = "already_running"
	ReasonInstallFailed  = "install_failed"
	ReasonNotRunning     = "not_running"
	ReasonAppUnavailable = "app_unavailable"
	ReasonInternal       = "internal_error"
	ReasonBusy           = "busy"
	ReasonTimeout        = "timeout"
)

// Limits.
const (
	MaxDepth    = 64 // nesting of a decoded frame
	MaxInstalls = 2  // apps.install calls running at once
	MaxAppOps   = 4  // apps.start and apps.stop calls running at once
)

// Error is a JSON-RPC error. Apps returns one to choose the code and
// reason; any other error becomes internal_error with its text.
type Error struct {
	Code    int
	Message string
	Reason  string
}

func (e *Error) Error() string { return e.Message }

// Status is an app's status as apps.start and apps.status give it.
type Status struct {
	State       string // "idle" when no app runs
	Error       string // "" = null
	Name        string
	Description string
	URL         *string
}

// Apps is what the relay needs of the app manager.
type Apps interface {
	// Start starts an installed app, keeping the remote session.
	Start(ctx context.Context, name string) (Status, error)
	// Stop stops the running app.
	Stop(ctx context.Context) error
	// Status is the current app (State "idle" when none runs).
	Status(ctx context.Context) (Status, error)
	// Install installs name from the catalogue unless it is installed,
	// and returns when it is (or failed).
	Install(ctx context.Context, name string) error
	// AppURL is the running app's custom_app_url ("" when no app runs or
	// it has none).
	AppURL(ctx context.Context) (string, error)
}

// Config configures a Relay.
type Config struct {
	Apps Apps
	// Broadcast sends a frame to every data-channel peer (nil: dropped).
	Broadcast func([]byte)
	Log       *slog.Logger

	ConnectTimeout time.Duration // dialling the app's /rpc (default 5 s)
	CallTimeout    time.Duration // a relayed call's wait for its reply (default 20 s)
	AskTimeout     time.Duration // apps.start, apps.status (default 30 s)
	StopTimeout    time.Duration // apps.stop (default 60 s: the app's grace, then a kill)
	InstallTimeout time.Duration // apps.install (default 15 min)
	WriteTimeout   time.Duration // one frame to the app (default 5 s)
	MaxPending     int           // relayed calls waiting at once (default 64)
	MaxFrame       int           // bytes of one frame either way (default 256 KiB)
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Broadcast == nil {
		c.Broadcast = func([]byte) {}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ConnectTimeout, 5*time.Second)
	def(&c.CallTimeout, 20*time.Second)
	def(&c.AskTimeout, 30*time.Second)
	def(&c.StopTimeout, 60*time.Second)
	def(&c.InstallTimeout, 15*time.Minute)
	def(&c.WriteTimeout, 5*time.Second)
	if c.MaxPending <= 0 {
		c.MaxPending = 64
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = 256 << 10
	}
}

// Relay routes JSON-RPC frames. It is safe for concurrent use.
type Relay struct {
	cfg      Config
	ctx      context.Context
	cancel   context.CancelFunc
	installs chan struct{}
	ops      chan struct{}

	dialMu sync.Mutex // one dial at a time

	mu      sync.Mutex
	conn    *appConn
	pending map[string]*call
	counter uint64
	closed  bool
}

// appConn is one connection to the app's /rpc.
type appConn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
}

// call is a relayed request waiting for the app's reply.
type call struct {
	id    []byte // the caller's id, as sent
	reply func([]byte)
	timer *time.Timer
	conn  *appConn
}

// New returns a relay.
func New(cfg Config) *Relay {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Relay{cfg: cfg, ctx: ctx, cancel: cancel, installs: make(chan struct{}, MaxInstalls), ops: make(chan struct{}, MaxAppOps), pending: map[string]*call{}}
}

// Close drops the app connection (pending calls fail) and refuses what
// comes after.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.drop(nil)
}

// Handle answers one JSON-RPC frame from a peer; reply sends to that peer
// only. It returns once the request is carried out or forwarded (a dial
// takes at most ConnectTimeout); replies relayed from the app and
// apps.install's come later, from other goroutines.
func (r *Relay) Handle(frame []byte, reply func([]byte)) {
	req, err := DecodeRequest(frame, r.cfg.MaxFrame)
	if err != nil {
		reply(ErrorFrame(nil, err))
		return
	}
	answer := func(result []byte, err error) {
		if req.ID == nil {
			return // a notification is never answered
		}
		if err != nil {
			reply(ErrorFrame(req.ID, err))
			return
		}
		reply(ResultFrame(req.ID, result))
	}
	if req.Namespace() == "apps" {
		r.apps(req, answer)
		return
	}
	r.forward(req, reply, answer)
}

// ---- apps.* ---------------------------------------------------------------

func (r *Relay) apps(req *Request, answer func([]byte, error)) {
	switch req.Method {
	case "apps.start":
		name, err := req.name()
		if err != nil {
			answer(nil, err)
			return
		}
		r.background(r.ops, answer, func() {
			ctx, cancel := context.WithTimeout(r.ctx, r.cfg.AskTimeout)
			defer cancel()
			st, err := r.cfg.Apps.Start(ctx, name)
			if err != nil {
				answer(nil, err)
				return
			}
			answer(StatusJSON(st), nil)
		})
	case "apps.stop":
		r.background(r.ops, answer, func() {
			ctx, cancel := context.WithTimeout(r.ctx, r.cfg.StopTimeout)
			defer cancel()
			if err := r.cfg.Apps.Stop(ctx); err != nil {
				answer(nil, err)
				return
			}
			// The app's socket goes with its process; calls still waiting
			// fail now rather than at their timeout.
			r.drop(nil)
			answer([]byte(`{"stopped":true}`), nil)
		})
	case "apps.install":
		name, err := req.name()
		if err != nil {
			answer(nil, err)
			return
		}
		r.background(r.installs, answer, func() {
			ctx, cancel := context.WithTimeout(r.ctx, r.cfg.InstallTimeout)
			defer cancel()
			if err := r.cfg.Apps.Install(ctx, name); err != nil {
				r.cfg.Log.Warn("jsonrpc: apps.install failed", "app", name, "err", err)
				var e *Error
				if !errors.As(err, &e) {
					err = &Error{Code: CodeServer, Reason: ReasonInstallFailed,
						Message: fmt.Sprintf("could not install app '%s' (not in the catalog, or the install failed — see the daemon logs)", name)}
				}
				answer(nil, err)
				return
			}
			answer([]byte(`{"installed":true}`), nil)
		})
	case "apps.status":
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.AskTimeout)
		defer cancel()
		st, err := r.cfg.Apps.Status(ctx)
		if err != nil {
			answer(nil, err)
			return
		}
		answer(StatusJSON(st), nil)
	default:
		answer(nil, &Error{Code: CodeMethodNotFound, Message: "unknown method: " + req.Method, Reason: ReasonMethodNotFound})
	}
}

// background runs an apps.* request on its own goroutine, at most
// cap(slots) at once (reason busy beyond). Starting, stopping (an app's
// grace is 20 s) and installing (minutes) take long; run on the peer's
// goroutine they would hold up its data channel, and the JavaScript SDK
// gives a session up after 8 s without a message on it.
func (r *Relay) background(slots chan struct{}, answer func([]byte, error), f func()) {
	select {
	case slots <- struct{}{}:
	default:
		answer(nil, &Error{Code: CodeServer, Message: "too many app requests in progress; try again later", Reason: ReasonBusy})
		return
	}
	go func() {
		defer func() { <-slots }()
		f()
	}()
}

// StatusJSON is the reference's status dict: {"state":"idle","info":null,
// "error":null} when no app runs, else {"state","error","info":{"name",
// "description","url"}}.
func StatusJSON(s Status) []byte {
	if s.State == "" || s.State == "idle" {
		return []byte(`{"state":"idle","info":null,"error":null}`)
	}
	type info struct {
		Name        string  `json:"name"`
		Description string  `json:"description"`
		URL         *string `json:"url"`
	}
	var errv *string
	if s.Error != "" {
		errv = &s.Error
	}
	b, _ := json.Marshal(struct {
		State string  `json:"state"`
		Error *string `json:"error"`
		Info  info    `json:"info"`
	}{s.State, errv, info{s.Name, s.Description, s.URL}})
	return b
}

// ---- the relay to the app ------------------------------------------------

func (r *Relay) forward(req *Request, reply func([]byte), answer func([]byte, error)) {
	c, err := r.connect()
	if err != nil {
		answer(nil, err)
		return
	}
	if req.ID == nil {
		if err := r.write(c, outgoing(nil, req)); err != nil {
			r.cfg.Log.Info("jsonrpc: notification to the app not sent", "method", req.Method, "err", err)
		}
		return
	}
	r.mu.Lock()
	if len(r.pending) >= r.cfg.MaxPending {
		r.mu.Unlock()
		answer(nil, &Error{Code: CodeServer, Message: fmt.Sprintf("too many calls waiting for the app (%d)", r.cfg.MaxPending), Reason: ReasonBusy})
		return
	}
	r.counter++
	rid := "relay-" + strconv.FormatUint(r.counter, 10)
	cl := &call{id: req.ID, reply: reply, conn: c}
	r.pending[rid] = cl
	cl.timer = time.AfterFunc(r.cfg.CallTimeout, func() { r.expire(rid) })
	r.mu.Unlock()
	if err := r.write(c, outgoing([]byte(strconv.Quote(rid)), req)); err != nil {
		if r.take(rid) != nil {
			answer(nil, &Error{Code: CodeServer, Message: "app unavailable: " + err.Error(), Reason: ReasonAppUnavailable})
		}
		r.drop(c)
	}
}

// outgoing is the request as the app gets it: the relay's id (none for a
// notification), the method and the params.
func outgoing(id []byte, req *Request) []byte {
	b := []byte(`{"jsonrpc":"2.0",`)
	if id != nil {
		b = append(b, `"id":`...)
		b = append(b, id...)
		b = append(b, ',')
	}
	m, _ := json.Marshal(req.Method)
	b = append(b, `"method":`...)
	b = append(b, m...)
	b = append(b, `,"params":`...)
	b = append(b, req.Params...)
	return append(b, '}')
}

// take removes a pending call (nil when it is no longer pending).
func (r *Relay) take(rid string) *call {
	r.mu.Lock()
	defer r.mu.Unlock()
	cl := r.pending[rid]
	if cl != nil {
		delete(r.pending, rid)
		cl.timer.Stop()
	}
	return cl
}

func (r *Relay) expire(rid string) {
	if cl := r.take(rid); cl != nil {
		cl.reply(ErrorFrame(cl.id, &Error{Code: CodeServer, Reason: ReasonTimeout,
			Message: fmt.Sprintf("the app did not answer within %s", r.cfg.CallTimeout)}))
	}
}

// connect returns the app connection, dialling it if there is none.
func (r *Relay) connect() (*appConn, error) {
	r.mu.Lock()
	c, closed := r.conn, r.closed
	r.mu.Unlock()
	if closed {
		return nil, &Error{Code: CodeServer, Message: "the daemon is stopping", Reason: ReasonAppUnavailable}
	}
	if c != nil {
		return c, nil
	}
	r.dialMu.Lock()
	defer r.dialMu.Unlock()
	r.mu.Lock()
	c = r.conn
	r.mu.Unlock()
	if c != nil {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.ConnectTimeout)
	defer cancel()
	appURL, err := r.cfg.Apps.AppURL(ctx)
	if err != nil {
		return nil, err
	}
	if appURL == "" {
		return nil, &Error{Code: CodeServer, Message: "no app is running", Reason: ReasonNotRunning}
	}
	wsURL, err := RPCURL(appURL)
	if err != nil {
		return nil, &Error{Code: CodeServer, Message: err.Error(), Reason: ReasonAppUnavailable}
	}
	d := websocket.Dialer{HandshakeTimeout: r.cfg.ConnectTimeout, NetDialContext: (&net.Dialer{}).DialContext}
	ws, _, err := d.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, &Error{Code: CodeServer, Message: fmt.Sprintf("cannot reach app /rpc at %s: %v", wsURL, err), Reason: ReasonAppUnavailable}
	}
	ws.SetReadLimit(int64(4 * r.cfg.MaxFrame))
	c = &appConn{ws: ws}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = ws.Close()
		return nil, &Error{Code: CodeServer, Message: "the daemon is stopping", Reason: ReasonAppUnavailable}
	}
	r.conn = c
	r.mu.Unlock()
	r.cfg.Log.Info("jsonrpc: connected to the app's /rpc", "url", wsURL)
	go r.read(c)
	return c, nil
}

func (r *Relay) write(c *appConn, frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(r.cfg.WriteTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// read handles the app's frames until its socket ends.
func (r *Relay) read(c *appConn) {
	defer r.drop(c)
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			r.cfg.Log.Info("jsonrpc: the app's /rpc connection ended", "err", err)
			return
		}
		if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
			continue
		}
		r.fromApp(data)
	}
}

// fromApp routes one frame of the app: a reply to a pending call goes to
// its caller with the caller's id; a notification or an uncorrelated
// frame goes to every peer; a late reply to a call that timed out, and a
// frame that is not JSON-RPC, are dropped.
func (r *Relay) fromApp(data []byte) {
	in, err := DecodeInbound(data, 4*r.cfg.MaxFrame)
	if err != nil {
		r.cfg.Log.Debug("jsonrpc: dropped a frame of the app", "err", err)
		return
	}
	if rid, ok := in.relayID(); ok && in.IsResponse() {
		cl := r.take(rid)
		if cl == nil {
			r.mu.Lock()
			ours := in.relayNumber() <= r.counter
			r.mu.Unlock()
			if ours {
				r.cfg.Log.Debug("jsonrpc: late reply of the app dropped", "id", rid)
				return
			}
		} else {
			if len(data) > r.cfg.MaxFrame {
				cl.reply(ErrorFrame(cl.id, &Error{Code: CodeInternal, Reason: ReasonInternal,
					Message: fmt.Sprintf("the app's reply is too large (%d bytes, above %d)", len(data), r.cfg.MaxFrame)}))
				return
			}
			cl.reply(in.withID(cl.id))
			return
		}
	}
	if len(data) > r.cfg.MaxFrame {
		r.cfg.Log.Info("jsonrpc: dropped an oversized frame of the app", "bytes", len(data))
		return
	}
	r.cfg.Broadcast(data)
}

// drop closes the app connection c (nil: whichever is open) and fails
// the calls waiting on it.
func (r *Relay) drop(c *appConn) {
	r.mu.Lock()
	if c == nil {
		c = r.conn
	}
	if c == nil {
		r.mu.Unlock()
		return
	}
	if r.conn == c {
		r.conn = nil
	}
	var failed []*call
	for rid, cl := range r.pending {
		if cl.conn == c {
			delete(r.pending, rid)
			cl.timer.Stop()
			failed = append(failed, cl)
		}
	}
	r.mu.Unlock()
	_ = c.ws.Close()
	for _, cl := range failed {
		cl.reply(ErrorFrame(cl.id, &Error{Code: CodeServer, Message: "app connection lost", Reason: ReasonAppUnavailable}))
	}
}

// Pending is the number of relayed calls waiting (for tests and status).
func (r *Relay) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// RPCURL turns an app's custom_app_url into its /rpc WebSocket URL as the
// reference does: http://0.0.0.0:8042/ -> ws://127.0.0.1:8042/rpc (an app
// listening on every interface is reached on loopback), https -> wss.
func RPCURL(appURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(appURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("the app's custom_app_url %q is not an http(s) URL", appURL)
	}
	host := u.Hostname()
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "ws"
	if u.Scheme == "https" {
		scheme = "wss"
	}
	if p := u.Port(); p != "" {
		host = net.JoinHostPort(host, p)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + "/rpc", nil
}

// ---- frames ------------------------------------------------------------------

// Request is a decoded JSON-RPC request.
type Request struct {
	ID     []byte // the id as sent (a JSON string or integer); nil: notification
	Method string
	Params []byte // a JSON object ({} when absent)
}

// Namespace is the part of the method before the first dot.
func (q *Request) Namespace() string {
	ns, _, _ := strings.Cut(q.Method, ".")
	return ns
}

func (q *Request) name() (string, error) {
	var p struct {
		Name any `json:"name"`
	}
	_ = json.Unmarshal(q.Params, &p)
	if s, ok := p.Name.(string); ok && s != "" {
		return s, nil
	}
	return "", &Error{Code: CodeInvalidParams, Message: q.Method + " requires a 'name'", Reason: ReasonInvalidParams}
}

// DecodeRequest decodes a peer's frame (at most max bytes, MaxDepth deep).
func DecodeRequest(frame []byte, max int) (*Request, error) {
	if len(frame) > max {
		return nil, &Error{Code: CodeInvalidRequest, Reason: ReasonInvalidRequest, Message: fmt.Sprintf("invalid request: %d bytes, above the %d-byte limit", len(frame), max)}
	}
	if err := checkDepth(frame); err != nil {
		return nil, &Error{Code: CodeParse, Reason: ReasonParse, Message: "parse error: " + err.Error()}
	}
	if !json.Valid(frame) {
		return nil, &Error{Code: CodeParse, Reason: ReasonParse, Message: "parse error: not valid JSON"}
	}
	invalid := func(why string) error {
		return &Error{Code: CodeInvalidRequest, Reason: ReasonInvalidRequest, Message: "invalid request: " + why}
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(frame, &raw) != nil || raw == nil {
		return nil, invalid("not a JSON object")
	}
	if v := raw["jsonrpc"]; string(bytes.TrimSpace(v)) != `"2.0"` {
		return nil, invalid(`jsonrpc must be "2.0"`)
	}
	req := &Request{}
	if id, ok := raw["id"]; ok {
		id = bytes.TrimSpace(id)
		switch {
		case string(id) == "null":
		case len(id) > 0 && id[0] == '"':
			var s string
			if json.Unmarshal(id, &s) != nil {
				return nil, invalid("id must be a string or an integer")
			}
			req.ID, _ = json.Marshal(s)
		case isInt(id):
			req.ID = append([]byte(nil), id...)
		default:
			return nil, invalid("id must be a string or an integer")
		}
	}
	if json.Unmarshal(raw["method"], &req.Method) != nil || raw["method"] == nil || string(bytes.TrimSpace(raw["method"])) == "null" {
		return nil, invalid("method must be a string")
	}
	if p, ok := raw["params"]; ok {
		p = bytes.TrimSpace(p)
		if len(p) == 0 || p[0] != '{' {
			return nil, invalid("params must be an object")
		}
		var buf bytes.Buffer
		if json.Compact(&buf, p) != nil {
			return nil, invalid("params must be an object")
		}
		req.Params = buf.Bytes()
	} else {
		req.Params = []byte("{}")
	}
	return req, nil
}

func isInt(b []byte) bool {
	if len(b) == 0 || len(b) > 20 {
		return false
	}
	for i, c := range b {
		if (c < '0' || c > '9') && !(i == 0 && c == '-' && len(b) > 1) {
			return false
		}
	}
	return true
}

// Inbound is a decoded frame of the app.
type Inbound struct {
	ID     json.RawMessage
	Result json.RawMessage
	Error  json.RawMessage
	Method *string
}

// DecodeInbound decodes an app's frame: a JSON object with a method
// (request or notification) or with result or error (a response).
func DecodeInbound(data []byte, max int) (*Inbound, error) {
	if len(data) > max {
		return nil, fmt.Errorf("%d bytes, above %d", len(data), max)
	}
	if err := checkDepth(data); err != nil {
		return nil, err
	}
	var in Inbound
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	in.ID, in.Result, in.Error = raw["id"], raw["result"], raw["error"]
	if m, ok := raw["method"]; ok {
		var s string
		if json.Unmarshal(m, &s) != nil {
			return nil, errors.New("method is not a string")
		}
		in.Method = &s
	}
	if in.Method == nil && in.Result == nil && in.Error == nil {
		return nil, errors.New("neither a request nor a response")
	}
	return &in, nil
}

// IsResponse reports whether the frame is a reply (result or error, no
// method).
func (in *Inbound) IsResponse() bool {
	return in.Method == nil && (in.Result != nil || in.Error != nil)
}

func (in *Inbound) relayID() (string, bool) {
	var s string
	if json.Unmarshal(in.ID, &s) != nil || !strings.HasPrefix(s, "relay-") {
		return "", false
	}
	return s, true
}

func (in *Inbound) relayNumber() uint64 {
	s, _ := in.relayID()
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "relay-"), 10, 64)
	if err != nil {
		return ^uint64(0)
	}
	return n
}

// withID is the reply with the caller's id: {"jsonrpc","id","result"} or
// {"jsonrpc","id","error"}.
func (in *Inbound) withID(id []byte) []byte {
	b := []byte(`{"jsonrpc":"2.0","id":`)
	b = append(b, id...)
	if in.Error != nil && string(bytes.TrimSpace(in.Error)) != "null" {
		b = append(b, `,"error":`...)
		b = compactInto(b, in.Error)
	} else {
		b = append(b, `,"result":`...)
		b = compactInto(b, in.Result)
	}
	return append(b, '}')
}

func compactInto(b, v []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return append(b, "null"...)
	}
	return append(b, buf.Bytes()...)
}

// ResultFrame is {"jsonrpc":"2.0","id":id,"result":result}.
func ResultFrame(id, result []byte) []byte {
	b := []byte(`{"jsonrpc":"2.0","id":`)
	b = appendID(b, id)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}')
}

// ErrorFrame is the error reply: an *Error's code, message and reason, or
// internal_error with the error's text.
func ErrorFrame(id []byte, err error) []byte {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeInternal, Message: err.Error(), Reason: ReasonInternal}
	}
	b := []byte(`{"jsonrpc":"2.0","id":`)
	b = appendID(b, id)
	msg, _ := json.Marshal(e.Message)
	reason, _ := json.Marshal(e.Reason)
	b = fmt.Appendf(b, `,"error":{"code":%d,"message":%s,"data":{"reason":%s}}}`, e.Code, msg, reason)
	return b
}

func appendID(b, id []byte) []byte {
	if id == nil {
		return append(b, "null"...)
	}
	return append(b, id...)
}

// checkDepth refuses JSON nested deeper than MaxDepth (before decoding it).
func checkDepth(b []byte) error { return jsondepth.Check(b, MaxDepth) }
