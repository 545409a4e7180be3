package relay

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"reachyd/media/webrtc"
	"reachyd/messages"
)

// driver steps a Core with a synthetic clock and keeps the last effects.
type driver struct {
	t   *testing.T
	c   *Core
	now time.Time
	rnd float64
	fx  []Effect
}

func newDriver(t *testing.T) *driver {
	return &driver{t: t, c: NewCore(), now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
}

func (d *driver) step(in Input) []Effect {
	d.fx = d.c.Step(d.now, d.rnd, in)
	return d.fx
}

func (d *driver) advance(dt time.Duration) []Effect {
	d.now = d.now.Add(dt)
	return d.step(InTick{})
}

func (d *driver) state() messages.RelayState {
	s, _, _ := d.c.State()
	return s
}

// connected brings the core to connected with a local producer "prod".
func (d *driver) connected(token string) {
	d.step(InStart{})
	d.step(InToken{Token: token})
	d.step(InLocalUp{ProducerID: "prod"})
	d.step(InSSEOpened{Gen: d.c.gen})
	d.step(InSSEData{Gen: d.c.gen, Msg: CentralMsg{Type: "welcome", PeerID: "robot-1"}})
	if d.state() != messages.RelayConnected {
		d.t.Fatalf("state %s, want connected", d.state())
	}
}

// activeSession runs a session through the lock, list and sessionStarted.
func (d *driver) activeSession(central, local string, lock InLock) {
	d.central(CentralMsg{Type: "startSession", PeerID: "consumer", SessionID: central})
	lock.Central = central
	d.step(lock)
	d.step(InLocal{Msg: webrtc.Message{Type: "list", Producers: []webrtc.PeerEntry{{ID: "prod"}}}})
	d.step(InLocal{Msg: webrtc.Message{Type: "sessionStarted", PeerID: "prod", SessionID: local}})
}

func (d *driver) central(m CentralMsg) []Effect {
	return d.step(InSSEData{Gen: d.c.gen, Msg: m})
}

// posts are the bodies of the EffPost effects, decoded.
func posts(fx []Effect) []map[string]any {
	var out []map[string]any
	for _, e := range fx {
		if p, ok := e.(EffPost); ok {
			var m map[string]any
			_ = json.Unmarshal(p.Body, &m)
			out = append(out, m)
		}
	}
	return out
}

func locals(fx []Effect) []map[string]any {
	var out []map[string]any
	for _, e := range fx {
		if p, ok := e.(EffLocal); ok {
			var m map[string]any
			_ = json.Unmarshal(p.Msg, &m)
			out = append(out, m)
		}
	}
	return out
}

func has[T Effect](fx []Effect) (T, bool) {
	for _, e := range fx {
		if v, ok := e.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func TestNegotiateHeartbeat(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		rec, lease *float64
		want       time.Duration
	}{
		{nil, nil, 5 * time.Second},
		{f(2), nil, 2 * time.Second},
		{f(2), f(90), 2 * time.Second},
		{nil, f(9), 3 * time.Second},
		{f(0.2), nil, time.Second},
		{f(500), nil, 60 * time.Second},
		{nil, f(600), 60 * time.Second},
		{f(0), f(12), 4 * time.Second},
		{f(-3), nil, 5 * time.Second},
	} {
		if got := NegotiateHeartbeat(tc.rec, tc.lease); got != tc.want {
			t.Errorf("NegotiateHeartbeat(%v, %v) = %v, want %v", tc.rec, tc.lease, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{1, 0, 5 * time.Second},
		{2, 0, 10 * time.Second},
		{3, 0, 20 * time.Second},
		{4, 0, 40 * time.Second},
		{5, 0, 60 * time.Second},
		{40, 0, 60 * time.Second},
		{1, 0.5, 5250 * time.Millisecond},
		{5, 0.999, 60*time.Second + 5994*time.Millisecond},
	} {
		if got := Backoff(tc.n, tc.jitter); got != tc.want {
			t.Errorf("Backoff(%d, %v) = %v, want %v", tc.n, tc.jitter, got, tc.want)
		}
	}
}

func TestStartWithoutTokenWaitsAndRechecks(t *testing.T) {
	d := newDriver(t)
	fx := d.step(InStart{})
	if !reflect.DeepEqual(fx, []Effect{EffLocalOpen{}, EffReadToken{}}) {
		t.Fatalf("start: %#v", fx)
	}
	d.step(InToken{Token: ""})
	if d.state() != messages.RelayWaitingForToken {
		t.Fatalf("state %s", d.state())
	}
	if fx := d.advance(29 * time.Second); len(fx) != 0 {
		t.Fatalf("before 30 s: %#v", fx)
	}
	if fx := d.advance(time.Second); !reflect.DeepEqual(fx, []Effect{EffReadToken{}}) {
		t.Fatalf("at 30 s: %#v", fx)
	}
	d.step(InToken{Token: ""})
	// A token change is read at once.
	if fx := d.step(InTokenChanged{}); !reflect.DeepEqual(fx, []Effect{EffReadToken{}}) {
		t.Fatalf("token changed: %#v", fx)
	}
	fx = d.step(InToken{Token: "hf_a"})
	if c, ok := has[EffConnectSSE](fx); !ok || c.Token != "hf_a" {
		t.Fatalf("token arrived: %#v", fx)
	}
	if d.state() != messages.RelayConnecting {
		t.Fatalf("state %s", d.state())
	}
}

func TestWelcomeHeartbeatAndCadence(t *testing.T) {
	d := newDriver(t)
	d.step(InStart{})
	d.step(InToken{Token: "hf_a"})
	d.step(InSSEOpened{Gen: d.c.gen})
	rec := 2.0
	fx := d.central(CentralMsg{Type: "welcome", PeerID: "robot-1", RecommendedHeartbeat: &rec})
	if !reflect.DeepEqual(fx, []Effect{EffHeartbeat{Token: "hf_a", Gen: 1}}) {
		t.Fatalf("welcome: %#v", fx)
	}
	if s, _, id := d.c.State(); s != messages.RelayConnected || id != "robot-1" || d.c.Heartbeat() != 2*time.Second {
		t.Fatalf("after welcome: %s %s %v", s, id, d.c.Heartbeat())
	}
	beats := 0
	for i := 0; i < 40; i++ { // 20 s in 500 ms steps; lines keep the stream alive
		d.step(InSSEAlive{Gen: d.c.gen})
		for _, e := range d.advance(500 * time.Millisecond) {
			if _, ok := e.(EffHeartbeat); ok {
				beats++
			}
		}
	}
	if beats != 10 {
		t.Fatalf("%d heartbeats in 20 s at 2 s, want 10", beats)
	}
}

func TestReconnectBackoffAndErrorAfterThreeAttempts(t *testing.T) {
	d := newDriver(t)
	d.step(InStart{})
	d.step(InToken{Token: "hf_a"})
	wantStates := []messages.RelayState{messages.RelayReconnecting, messages.RelayReconnecting, messages.RelayError, messages.RelayError}
	wantDelay := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}
	for i := range wantStates {
		d.step(InSSEFailed{Gen: d.c.gen, Err: "connection refused"})
		if d.state() != wantStates[i] {
			t.Fatalf("after %d failures: state %s, want %s", i+1, d.state(), wantStates[i])
		}
		if got := d.c.Next().Sub(d.now); got != wantDelay[i] {
			t.Fatalf("after %d failures: next attempt in %v, want %v", i+1, got, wantDelay[i])
		}
		if fx := d.advance(wantDelay[i] - time.Millisecond); len(fx) != 0 {
			t.Fatalf("early: %#v", fx)
		}
		if fx := d.advance(time.Millisecond); !reflect.DeepEqual(fx, []Effect{EffReadToken{}}) {
			t.Fatalf("reconnect tick: %#v", fx)
		}
		// The same token reconnects (the tick forces it).
		if _, ok := has[EffConnectSSE](d.step(InToken{Token: "hf_a"})); !ok {
			t.Fatalf("no reconnection after %d failures", i+1)
		}
	}
	// A successful connection resets the count.
	d.step(InSSEOpened{Gen: d.c.gen})
	if d.c.Attempts() != 0 {
		t.Fatalf("attempts %d after a connection", d.c.Attempts())
	}
	d.central(CentralMsg{Type: "welcome", PeerID: "p"})
	if d.state() != messages.RelayConnected {
		t.Fatal(d.state())
	}
	d.step(InSSEFailed{Gen: d.c.gen, Err: "EOF"})
	if got := d.c.Next().Sub(d.now); got != 5*time.Second || d.state() != messages.RelayReconnecting {
		t.Fatalf("after reset: %v %s", got, d.state())
	}
	// Jitter comes from the random source.
	d.rnd = 0.5
	d.advance(5 * time.Second)
	d.step(InToken{Token: "hf_a"})
	d.step(InSSEFailed{Gen: d.c.gen, Err: "EOF"})
	if got := d.c.Next().Sub(d.now); got != 10500*time.Millisecond {
		t.Fatalf("second attempt with jitter 0.5: %v, want 10.5s", got)
	}
}

func TestHTTPErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		msg    string
	}{
		{401, "Authentication failed - token may be invalid"},
		{503, "Central server returned HTTP 503"},
		{403, "Central server returned HTTP 403"},
	} {
		d := newDriver(t)
		d.step(InStart{})
		d.step(InToken{Token: "hf_a"})
		d.step(InSSEFailed{Gen: d.c.gen, Status: tc.status})
		s, msg, _ := d.c.State()
		if s != messages.RelayError || msg != tc.msg {
			t.Errorf("HTTP %d: %s %q", tc.status, s, msg)
		}
		// Still retrying.
		if d.c.Next().IsZero() {
			t.Errorf("HTTP %d: no retry scheduled", tc.status)
		}
	}
}

func TestStaleConnectionResultsIgnored(t *testing.T) {
	d := newDriver(t)
	d.step(InStart{})
	d.step(InToken{Token: "hf_a"})
	old := d.c.gen
	d.step(InTokenChanged{})
	d.step(InToken{Token: "hf_b"})
	if fx := d.step(InSSEFailed{Gen: old, Status: 401}); len(fx) != 0 || d.state() != messages.RelayConnecting {
		t.Fatalf("a failure of the old connection was taken: %#v %s", fx, d.state())
	}
}

func TestReadTimeout(t *testing.T) {
	d := newDriver(t)
	d.connected("hf_a")
	d.step(InSSEAlive{Gen: d.c.gen})
	var fx []Effect
	for i := 0; i < 12; i++ { // heartbeats, no line
		fx = d.advance(5 * time.Second)
	}
	if _, ok := has[EffCloseSSE](fx); !ok || d.state() != messages.RelayReconnecting {
		t.Fatalf("60 s without a line: %#v %s", fx, d.state())
	}
}

func TestTokenChange(t *testing.T) {
	d := newDriver(t)
	d.connected("hf_a")
	d.step(InTokenChanged{})
	if fx := d.step(InToken{Token: "hf_a"}); len(fx) != 0 {
		t.Fatalf("same token reconnected: %#v", fx)
	}
	fx := d.step(InToken{Token: "hf_b"})
	c, ok := has[EffConnectSSE](fx)
	if _, closed := has[EffCloseSSE](fx); !ok || !closed || c.Token != "hf_b" {
		t.Fatalf("new token: %#v", fx)
	}
	// Refresh reconnects even with the same token.
	d.step(InRefresh{})
	if _, ok := has[EffConnectSSE](d.step(InToken{Token: "hf_b"})); !ok {
		t.Fatal("refresh did not reconnect")
	}
	// Logout: waiting for a token, connection closed.
	d.step(InSSEOpened{Gen: d.c.gen})
	d.central(CentralMsg{Type: "welcome", PeerID: "x"})
	d.step(InTokenChanged{})
	fx = d.step(InToken{Token: ""})
	if _, ok := has[EffCloseSSE](fx); !ok || d.state() != messages.RelayWaitingForToken {
		t.Fatalf("logout: %#v %s", fx, d.state())
	}
}

func TestSplitBrainCore(t *testing.T) {
	d := newDriver(t)
	d.connected("hf_a")
	alive := func(dt time.Duration) []Effect {
		d.step(InSSEAlive{Gen: d.c.gen})
		return d.advance(dt)
	}
	var poll EffPoll
	var ok bool
	for i := 0; i < 2 && !ok; i++ {
		poll, ok = has[EffPoll](alive(5 * time.Second))
	}
	if !ok || poll.PeerID != "robot-1" {
		t.Fatal("no poll 10 s after welcome")
	}
	d.step(InPoll{Gen: poll.Gen, Status: 200, Listed: false})
	// A poll that lists us resets the count.
	next := func() EffPoll {
		for i := 0; i < 7; i++ {
			if p, ok := has[EffPoll](alive(5 * time.Second)); ok {
				return p
			}
		}
		t.Fatal("no poll within 35 s")
		return EffPoll{}
	}
	p := next()
	d.step(InPoll{Gen: p.Gen, Status: 200, Listed: true})
	p = next()
	if fx := d.step(InPoll{Gen: p.Gen, Status: 200, Listed: false}); len(fx) != 0 {
		t.Fatalf("one miss reconnected: %#v", fx)
	}
	// Errors are not counted.
	p = next()
	d.step(InPoll{Gen: p.Gen, Status: 503})
	p = next()
	gen := d.c.gen
	fx := d.step(InPoll{Gen: p.Gen, Status: 200, Listed: false})
	if c, ok := has[EffConnectSSE](fx); !ok || c.Gen == gen {
		t.Fatalf("two misses: %#v", fx)
	}
}

func TestSessionFlow(t *testing.T) {
	d := newDriver(t)
	d.connected("hf_a")
	fx := d.central(CentralMsg{Type: "startSession", PeerID: "consumer", SessionID: "c1"})
	if !reflect.DeepEqual(fx, []Effect{EffAcquireLock{Central: "c1"}}) {
		t.Fatalf("startSession: %#v", fx)
	}
	// Duplicate: ignored.
	if fx := d.central(CentralMsg{Type: "startSession", PeerID: "consumer", SessionID: "c1"}); len(fx) != 0 {
		t.Fatalf("duplicate: %#v", fx)
	}
	fx = d.step(InLock{Central: "c1", Acquired: true})
	if l := locals(fx); len(l) != 1 || l[0]["type"] != "list" {
		t.Fatalf("lock acquired: %#v", fx)
	}
	fx = d.step(InLocal{Msg: webrtc.Message{Type: "list", Producers: []webrtc.PeerEntry{{ID: "prod"}}}})
	if l := locals(fx); len(l) != 1 || l[0]["type"] != "startSession" || l[0]["peerId"] != "prod" {
		t.Fatalf("list: %#v", locals(fx))
	}
	d.step(InLocal{Msg: webrtc.Message{Type: "sessionStarted", PeerID: "prod", SessionID: "l1"}})
	// Offer and candidates to central, answer and candidates to the producer.
	fx = d.step(InLocal{Msg: webrtc.Message{Type: "peer", SessionID: "l1", SDP: &webrtc.SDP{Type: "offer", SDP: "v=0"}}})
	if p := posts(fx); len(p) != 1 || p[0]["sessionId"] != "c1" || p[0]["sdp"].(map[string]any)["type"] != "offer" {
		t.Fatalf("offer: %#v", p)
	}
	fx = d.central(CentralMsg{Type: "peer", SessionID: "c1", ICE: json.RawMessage(`{"candidate":"candidate:1","sdpMLineIndex":0}`)})
	if l := locals(fx); len(l) != 1 || l[0]["sessionId"] != "l1" || l[0]["ice"].(map[string]any)["candidate"] != "candidate:1" {
		t.Fatalf("ice: %#v", l)
	}
	// Unknown session: dropped.
	if fx := d.central(CentralMsg{Type: "peer", SessionID: "nope", ICE: json.RawMessage(`{}`)}); len(fx) != 0 {
		t.Fatal(fx)
	}
	if !d.c.HoldsLock() {
		t.Fatal("lock not held")
	}
	fx = d.central(CentralMsg{Type: "endSession", SessionID: "c1"})
	if l := locals(fx); len(l) != 1 || l[0]["type"] != "endSession" || l[0]["sessionId"] != "l1" {
		t.Fatalf("central end: %#v", fx)
	}
	if r, ok := has[EffReleaseLock](fx); !ok || !r.Handoff {
		t.Fatalf("central end: release %#v", fx)
	}
	if len(posts(fx)) != 0 {
		t.Fatalf("central end echoed: %#v", posts(fx))
	}
}

func TestSessionRefusals(t *testing.T) {
	t.Run("robot_busy_local", func(t *testing.T) {
		d := newDriver(t)
		d.connected("hf_a")
		d.central(CentralMsg{Type: "startSession", SessionID: "c1"})
		fx := d.central(CentralMsg{Type: "startSession", SessionID: "c2"})
		if p := posts(fx); len(p) != 1 || p[0]["reason"] != "robot_busy_local" || p[0]["sessionId"] != "c2" {
			t.Fatalf("%#v", fx)
		}
	})
	t.Run("robot_busy", func(t *testing.T) {
		d := newDriver(t)
		d.connected("hf_a")
		d.central(CentralMsg{Type: "startSession", SessionID: "c1"})
		fx := d.step(InLock{Central: "c1"})
		if p := posts(fx); len(p) != 1 || p[0]["reason"] != "robot_busy" {
			t.Fatalf("%#v", fx)
		}
		if _, ok := has[EffReleaseLock](fx); ok || len(d.c.Sessions()) != 0 {
			t.Fatalf("%#v %v", fx, d.c.Sessions())
		}
	})
	t.Run("media_unavailable", func(t *testing.T) {
		d := newDriver(t)
		d.connected("hf_a")
		d.step(InLocalDown{})
		fx := d.central(CentralMsg{Type: "startSession", SessionID: "c1"})
		if p := posts(fx); len(p) != 1 || p[0]["reason"] != "media_unavailable" {
			t.Fatalf("%#v", fx)
		}
	})
	t.Run("control_only", func(t *testing.T) {
		d := newDriver(t)
		d.connected("hf_a")
		d.activeSession("c1", "l1", InLock{LocalApp: true})
		if d.c.Sessions()["c1"] != "l1" || d.c.HoldsLock() {
			t.Fatalf("%v %v", d.c.Sessions(), d.c.HoldsLock())
		}
		fx := d.central(CentralMsg{Type: "endSession", SessionID: "c1"})
		if _, ok := has[EffReleaseLock](fx); ok {
			t.Fatal("a control-only session released the lock")
		}
	})
}

func TestLocalEndReasons(t *testing.T) {
	for _, tc := range []struct{ reason, want string }{
		{"ice_negotiation_timeout", "ice_negotiation_timeout"},
		{"peer_connection_failed", "peer_connection_failed"},
		{"peer_closed", ""},
		{"", ""},
		{"producer_closed", ""},
	} {
		d := newDriver(t)
		d.connected("hf_a")
		d.activeSession("c1", "l1", InLock{Acquired: true})
		fx := d.step(InLocal{Msg: webrtc.Message{Type: "endSession", SessionID: "l1", Reason: tc.reason}})
		p := posts(fx)
		if len(p) != 1 || p[0]["sessionId"] != "c1" || p[0]["type"] != "endSession" {
			t.Fatalf("%q: %#v", tc.reason, p)
		}
		got, _ := p[0]["reason"].(string)
		if got != tc.want {
			t.Errorf("local end %q: central told %q, want %q", tc.reason, got, tc.want)
		}
		if r, ok := has[EffReleaseLock](fx); !ok || !r.Handoff {
			t.Errorf("%q: release %#v", tc.reason, fx)
		}
		if len(locals(fx)) != 0 {
			t.Errorf("%q: local end echoed to the producer", tc.reason)
		}
	}
}

func TestEndPaths(t *testing.T) {
	t.Run("sse_loss", func(t *testing.T) {
		d := newDriver(t)
		d.connected("hf_a")
		d.activeSession("c1", "l1", InLock{Acquired: true})
		fx := d.step(InSSEFailed{Gen: d.c.gen, Err: "EOF"})
		if l := locals(fx); len(l) != 1 || l[0]["sessionId"] != "l1" {
			t.Fatalf("%#v", fx)
		}
		if r, ok := has[EffReleaseLock](fx); !ok || r.Handoff {
			t.Fatalf("release %#v", fx)
		}
		if len(posts(fx)) != 0 {
			t.Fatal("posted to a lost central")
		}
	})
	t.Run("stop", func(t *testing.T) {
		d := newDriver(t)
		d.connected("hf_a")
		d.activeSession("c1", "l1", InLock{Acquired: true})
		fx := d.step(InStop{})
		if p := posts(fx); len(p) != 1 || p[0]["sessionId"] != "c1" {
			t.Fatalf("%#v", fx)
		}
		if r, ok := has[EffReleaseLock](fx); !ok || r.Handoff {
			t.Fatalf("release %#v", fx)
		}
		_, closed := has[EffCloseSSE](fx)
		_, local := has[EffLocalClose](fx)
		if !closed || !local || d.state() != messages.RelayStopped || !d.c.Next().IsZero() {
			t.Fatalf("%#v %s", fx, d.state())
		}
	})
	t.Run("local_down", func(t *testing.T) {
		d := newDriver(t)
		d.connected("hf_a")
		d.activeSession("c1", "l1", InLock{Acquired: true})
		fx := d.step(InLocalDown{})
		if p := posts(fx); len(p) != 1 || p[0]["reason"] != nil {
			t.Fatalf("%#v", p)
		}
		if r, ok := has[EffReleaseLock](fx); !ok || r.Handoff {
			t.Fatalf("release %#v", fx)
		}
	})
	t.Run("evict", func(t *testing.T) {
		d := newDriver(t)
		d.connected("hf_a")
		d.activeSession("c1", "l1", InLock{Acquired: true})
		fx := d.step(InEvict{Ref: 7, Reason: "local_app_started"})
		w, ok := has[EffWatchEnd](fx)
		if !ok || w.Ref != 7 || !reflect.DeepEqual(w.Local, []string{"l1"}) {
			t.Fatalf("%#v", fx)
		}
		if _, ok := fx[0].(EffWatchEnd); !ok {
			t.Fatal("the watch must come before the local endSession")
		}
		if p := posts(fx); len(p) != 1 || p[0]["reason"] != "local_app_started" {
			t.Fatalf("%#v", p)
		}
		if l := locals(fx); len(l) != 1 || l[0]["sessionId"] != "l1" {
			t.Fatalf("%#v", l)
		}
		if _, ok := has[EffReleaseLock](fx); ok || d.c.HoldsLock() {
			t.Fatal("eviction released the lock the local app took")
		}
		if e, ok := fx[len(fx)-1].(EffEvicted); !ok || e.Sessions != 1 {
			t.Fatalf("%#v", fx)
		}
		// The producer's own endSession for it is not forwarded again.
		if fx := d.step(InLocal{Msg: webrtc.Message{Type: "endSession", SessionID: "l1", Reason: "consumer_ended"}}); len(fx) != 0 {
			t.Fatalf("%#v", fx)
		}
	})
	t.Run("ended_while_lock_asked", func(t *testing.T) {
		d := newDriver(t)
		d.connected("hf_a")
		d.central(CentralMsg{Type: "startSession", SessionID: "c1"})
		d.central(CentralMsg{Type: "endSession", SessionID: "c1"})
		fx := d.step(InLock{Central: "c1", Acquired: true})
		if r, ok := has[EffReleaseLock](fx); !ok || !r.Handoff || d.c.HoldsLock() {
			t.Fatalf("%#v", fx)
		}
	})
	t.Run("orphan_session_started", func(t *testing.T) {
		d := newDriver(t)
		d.connected("hf_a")
		fx := d.step(InLocal{Msg: webrtc.Message{Type: "sessionStarted", SessionID: "lx"}})
		if l := locals(fx); len(l) != 1 || l[0]["type"] != "endSession" || l[0]["sessionId"] != "lx" {
			t.Fatalf("%#v", fx)
		}
	})
}

func TestLocalWelcomeRegistersAsListener(t *testing.T) {
	d := newDriver(t)
	d.step(InStart{})
	d.step(InLocalUp{ProducerID: "prod"})
	fx := d.step(InLocal{Msg: webrtc.Message{Type: "welcome", PeerID: "me"}})
	l := locals(fx)
	if len(l) != 2 || l[0]["type"] != "setPeerStatus" || !strings.Contains(string(fx[0].(EffLocal).Msg), `"roles":["listener"]`) ||
		!strings.Contains(string(fx[0].(EffLocal).Msg), `"name":"central-relay"`) || l[1]["type"] != "list" {
		t.Fatalf("%#v", l)
	}
}

// A POST refused for want of a peer reconnects after the backoff; one of
// an older connection does nothing.
func TestPostRefusedReconnects(t *testing.T) {
	c := NewCore()
	t0 := time.Unix(1000, 0)
	c.Step(t0, 0, InStart{})
	c.Step(t0, 0, InToken{Token: "hf_a"})
	c.Step(t0, 0, InSSEOpened{Gen: 1})
	c.Step(t0, 0, InSSEData{Gen: 1, Msg: CentralMsg{Type: "welcome", PeerID: "p"}})
	if fx := c.Step(t0, 0, InPostRefused{Gen: 0}); len(fx) != 0 {
		t.Fatalf("a refusal of no connection: %v", fx)
	}
	if st, _, _ := c.State(); st != messages.RelayConnected {
		t.Fatal(st)
	}
	fx := c.Step(t0, 0, InPostRefused{Gen: 1})
	if st, _, peer := c.State(); st != messages.RelayReconnecting || peer != "" || len(fx) == 0 {
		t.Fatalf("state %s peer %q effects %v", st, peer, fx)
	}
	if _, ok := fx[0].(EffCloseSSE); !ok {
		t.Fatalf("effects %v, want the stream closed", fx)
	}
	if next := c.Next(); !next.Equal(t0.Add(ReconnectBase)) {
		t.Fatalf("next %v, want the backoff's %v", next.Sub(t0), ReconnectBase)
	}
}
