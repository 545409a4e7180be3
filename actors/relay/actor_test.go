package relay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/pion/rtp"

	"reachyd/actors/applock"
	"reachyd/actors/kit"
	"reachyd/actors/relay/centraltest"
	"reachyd/media/webrtc"
	"reachyd/messages"
)

// fakeClock fires AfterFunc callbacks when advanced.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// advance moves the clock and runs the timers that are due, in order.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

type env struct {
	t        *testing.T
	ks       *kit.System
	central  *centraltest.Server
	producer atomic.Pointer[webrtc.Producer]
	token    atomic.Pointer[string]
	lock     *actor.PID
	relay    *actor.PID
	props    *actor.Props
	clock    *fakeClock

	mu    sync.Mutex
	frees []messages.LockEvent
}

type envOpts struct {
	fakeClock   bool
	noToken     bool
	iceDeadline time.Duration
	heartbeat   float64
	fail        int32 // central answers this status from the start
	silent      bool  // central's streams say nothing from the start
	spaceLike   bool  // central writes its stream as the real server does, pinging after 50 ms of quiet
	logTo       io.Writer
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.logTo != nil {
		log = slog.New(slog.NewTextHandler(o.logTo, nil))
	}
	if os.Getenv("RELAY_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e := &env{t: t, ks: kit.NewSystem(log)}
	t.Cleanup(e.ks.Shutdown)
	e.central = centraltest.New("hf_robot", "hf_robot2", "hf_consumer", "hf_consumer2")
	e.central.Heartbeat = o.heartbeat
	e.central.Fail.Store(o.fail)
	e.central.Silent.Store(o.silent)
	e.central.SpaceLike.Store(o.spaceLike)
	e.central.PingIdle.Store(int64(50 * time.Millisecond))
	t.Cleanup(e.central.Close)
	e.newProducer(o.iceDeadline)
	tok := "hf_robot"
	if o.noToken {
		tok = ""
	}
	e.token.Store(&tok)
	e.lock, _ = e.ks.Root.SpawnNamed(applock.Props(applock.Options{Log: log, Publish: func(ev messages.LockEvent) {
		if ev.Kind == messages.LockBecameFree {
			e.mu.Lock()
			e.frees = append(e.frees, ev)
			e.mu.Unlock()
		}
	}}), "applock")
	opt := Options{
		CentralURL: e.central.URL(),
		Token:      func() string { return *e.token.Load() },
		RobotName:  func() string { return "reachy_test" },
		Transport:  "wifi",
		Producer:   func() *webrtc.Producer { return e.producer.Load() },
		Lock:       e.lock,
		AutoStart:  true,
		Cell:       NewCell(),
		Rand:       func() float64 { return 0 },
		Log:        log,
	}
	if o.fakeClock {
		e.clock = newFakeClock()
		opt.Clock = e.clock
	}
	e.props = Props(opt)
	e.relay, _ = e.ks.Root.SpawnNamed(e.props, "relay")
	return e
}

func (e *env) newProducer(iceDeadline time.Duration) *webrtc.Producer {
	p, err := webrtc.New(webrtc.Config{LoopbackOnly: true, ICEDeadline: iceDeadline,
		OnCommand: func(s *webrtc.Session, msg []byte) {
			var m map[string]any
			_ = json.Unmarshal(msg, &m)
			b, _ := json.Marshal(map[string]any{"command": m["type"], "echo": m})
			_ = s.Send(b)
		}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = p.Close() })
	e.producer.Store(p)
	return p
}

func (e *env) status() messages.RelayStatus {
	e.t.Helper()
	st, err := kit.Ask[messages.RelayStatus](context.Background(), e.ks, e.relay, &messages.GetRelayStatus{})
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) lockStatus() messages.LockStatus {
	e.t.Helper()
	st, err := kit.Ask[messages.LockStatus](context.Background(), e.ks, e.lock, &messages.GetLockStatus{})
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) frees_() []messages.LockEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]messages.LockEvent(nil), e.frees...)
}

// waitState polls the relay's status until ok.
func (e *env) waitState(what string, ok func(messages.RelayStatus) bool) messages.RelayStatus {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := e.status()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("relay never %s: %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) waitConnected() messages.RelayStatus {
	e.t.Helper()
	return e.waitState("connected", func(s messages.RelayStatus) bool { return s.State == messages.RelayConnected })
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	if !e.central.WaitFor(10*time.Second, cond) {
		e.t.Fatalf("timed out waiting for %s", what)
	}
}

func (e *env) dial(token string, o centraltest.ConsumerOptions) (*centraltest.Consumer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := centraltest.Dial(ctx, e.central.URL(), token, o)
	if err == nil {
		e.t.Cleanup(c.Close)
	}
	return c, err
}

func (e *env) mustDial(token string) *centraltest.Consumer {
	e.t.Helper()
	c, err := e.dial(token, centraltest.ConsumerOptions{Robot: "reachy_test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func waitEnded(t *testing.T, c *centraltest.Consumer) string {
	t.Helper()
	select {
	case <-c.EndedC():
		return c.Ended()
	case <-time.After(20 * time.Second):
		t.Fatal("the consumer's session did not end")
		return ""
	}
}

func (e *env) producerSessions() int {
	return len(e.producer.Load().Sessions())
}

// relaySession is the producer's session of the relay (the only one).
func (e *env) relaySession() *webrtc.Session {
	e.t.Helper()
	var s *webrtc.Session
	e.waitFor("the relay's producer session", func() bool {
		for _, i := range e.producer.Load().Sessions() {
			if i.InProc {
				s = e.producer.Load().Session(i.ID)
				return s != nil
			}
		}
		return false
	})
	return s
}

func TestSessionEndToEnd(t *testing.T) {
	e := newEnv(t, envOpts{})
	st := e.waitConnected()
	if st.Message != "Remote access enabled as 'reachy_test'" || !st.IsConnected || st.PeerID == "" {
		t.Fatalf("status %+v", st)
	}
	// setPeerStatus right after welcome, with the robot's name and transport.
	hb, ok := e.central.RobotSent(5*time.Second, "setPeerStatus", nil)
	if !ok {
		t.Fatal("no setPeerStatus")
	}
	if b, _ := json.Marshal(hb); !strings.Contains(string(b), `"roles":["producer"]`) || !strings.Contains(string(b), `"name":"reachy_test"`) || !strings.Contains(string(b), `"transport":"wifi"`) {
		t.Fatalf("setPeerStatus %s", b)
	}

	c := e.mustDial("hf_consumer")
	if ls := e.lockStatus(); ls.State != messages.LockRemote {
		t.Fatalf("lock %+v during a remote session", ls)
	}
	// Video written into the producer arrives.
	stop := make(chan struct{})
	go func() {
		p := e.producer.Load()
		seq := uint16(0)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			seq++
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: 1, Marker: true},
				Payload: []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a}}
			b, _ := pkt.Marshal()
			_ = p.WriteVideoRTP(b)
		}
	}()
	select {
	case <-c.Video:
	case <-time.After(10 * time.Second):
		t.Fatal("no video through central")
	}
	close(stop)
	// A command on the robot's data channel gets its reply.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.Command(ctx, map[string]any{"type": "get_state"}, func(m map[string]any) bool { return m["command"] == "get_state" })
	if err != nil || r["echo"] == nil {
		t.Fatalf("command: %v %v", r, err)
	}
	if n := e.status().Sessions; n != 1 {
		t.Fatalf("%d sessions", n)
	}

	// The consumer ends it: the producer's session ends, the lock is
	// released with handoff.
	if err := c.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the producer's session to end", func() bool { return e.producerSessions() == 0 })
	e.waitState("without sessions", func(s messages.RelayStatus) bool { return s.Sessions == 0 })
	e.waitFor("the lock to be free", func() bool { return e.lockStatus().State == messages.LockFree })
	if f := e.frees_(); len(f) != 1 || !f[0].Handoff {
		t.Fatalf("lock releases %+v, want one with handoff", f)
	}
	if n := e.central.TokenInURL(); n != 0 {
		t.Fatalf("a token appeared in %d URLs", n)
	}
	// Central's own echo of the consumer's endSession was not sent back.
	for _, m := range e.central.RobotMessages() {
		if m["type"] == "endSession" {
			t.Fatalf("the robot answered a central endSession: %v", m)
		}
	}
}

func TestRefusals(t *testing.T) {
	t.Run("robot_busy_local", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.waitConnected()
		first := e.mustDial("hf_consumer")
		_, err := e.dial("hf_consumer2", centraltest.ConsumerOptions{Robot: "reachy_test"})
		var ended *centraltest.EndedError
		if !errors.As(err, &ended) || ended.Reason != "robot_busy_local" {
			t.Fatalf("second session: %v", err)
		}
		if first.Ended() != "" || e.producerSessions() != 1 {
			t.Fatalf("the first session was disturbed: %q", first.Ended())
		}
	})
	t.Run("robot_busy", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.waitConnected()
		// Another remote holder (a relay of a previous run, say).
		if _, err := kit.Ask[messages.LockStatus](context.Background(), e.ks, e.lock, &messages.AcquireRemote{Name: "remote"}); err != nil {
			t.Fatal(err)
		}
		_, err := e.dial("hf_consumer", centraltest.ConsumerOptions{Robot: "reachy_test"})
		var ended *centraltest.EndedError
		if !errors.As(err, &ended) || ended.Reason != "robot_busy" {
			t.Fatalf("session: %v", err)
		}
		if ls := e.lockStatus(); ls.State != messages.LockRemote {
			t.Fatalf("the other holder lost the lock: %+v", ls)
		}
	})
	t.Run("media_unavailable", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.waitConnected()
		e.producer.Store(nil)
		var err error
		e.waitFor("a refusal", func() bool {
			_, err = e.dial("hf_consumer", centraltest.ConsumerOptions{Robot: "reachy_test"})
			var ended *centraltest.EndedError
			return errors.As(err, &ended) && ended.Reason == "media_unavailable"
		})
	})
}

func TestControlOnlyWhileLocalAppRuns(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.waitConnected()
	if _, err := kit.Ask[messages.LockStatus](context.Background(), e.ks, e.lock, &messages.AcquireLocal{Name: "app", Mode: messages.LockTry}); err != nil {
		t.Fatal(err)
	}
	c := e.mustDial("hf_consumer")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Command(ctx, map[string]any{"type": "get_state"}, func(m map[string]any) bool { return m["command"] == "get_state" }); err != nil {
		t.Fatal(err)
	}
	if ls := e.lockStatus(); ls.State != messages.LockLocal || ls.Holder != "app" {
		t.Fatalf("lock %+v", ls)
	}
	_ = c.End(context.Background())
	e.waitFor("the session to end", func() bool { return e.producerSessions() == 0 })
	e.waitState("without sessions", func(s messages.RelayStatus) bool { return s.Sessions == 0 })
	if ls := e.lockStatus(); ls.State != messages.LockLocal || len(e.frees_()) != 0 {
		t.Fatalf("a control-only session touched the lock: %+v %+v", ls, e.frees_())
	}
}

func TestEvictionWaitsForTeardown(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.waitConnected()
	c := e.mustDial("hf_consumer")
	s := e.relaySession()
	// As the app manager: take the lock evicting, then ask the relay.
	st, err := kit.Ask[messages.LockStatus](context.Background(), e.ks, e.lock, &messages.AcquireLocal{Name: "app", Mode: messages.LockEvict})
	if err != nil || !st.Evicted {
		t.Fatalf("%+v %v", st, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := kit.Ask[messages.RemoteEvicted](ctx, e.ks, e.relay, &messages.EvictRemote{Reason: "local_app_started"})
	if err != nil || ev.Sessions != 1 {
		t.Fatalf("%+v %v", ev, err)
	}
	// The answer came after the producer closed the PeerConnection.
	select {
	case <-s.Done():
	default:
		t.Fatal("RemoteEvicted came before the session's teardown")
	}
	if r := waitEnded(t, c); r != "local_app_started" {
		t.Fatalf("consumer told %q", r)
	}
	if m, ok := e.central.RobotSent(time.Second, "endSession", nil); !ok || m["reason"] != "local_app_started" {
		t.Fatalf("central told %v", m)
	}
	if ls := e.lockStatus(); ls.State != messages.LockLocal || len(e.frees_()) != 0 {
		t.Fatalf("eviction released the app's lock: %+v %+v", ls, e.frees_())
	}
}

func TestProducerEndReasons(t *testing.T) {
	t.Run("ice_negotiation_timeout", func(t *testing.T) {
		e := newEnv(t, envOpts{iceDeadline: time.Second})
		e.waitConnected()
		c, err := e.dial("hf_consumer", centraltest.ConsumerOptions{Robot: "reachy_test", NoAnswer: true})
		if err != nil {
			t.Fatal(err)
		}
		if r := waitEnded(t, c); r != "ice_negotiation_timeout" {
			t.Fatalf("reason %q", r)
		}
		e.waitFor("the lock to be free", func() bool { return e.lockStatus().State == messages.LockFree })
	})
	for _, tc := range []struct{ producerReason, want string }{
		{webrtc.ReasonConnectionFailed, "peer_connection_failed"},
		{webrtc.ReasonPeerClosed, ""},
		{webrtc.ReasonSlowConsumer, ""},
	} {
		t.Run(tc.producerReason, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			e.waitConnected()
			c := e.mustDial("hf_consumer")
			s := e.relaySession()
			e.producer.Load().EndSession(s.ID(), tc.producerReason)
			if r := waitEnded(t, c); r != tc.want {
				t.Fatalf("producer ended with %s: central told %q, want %q", tc.producerReason, r, tc.want)
			}
			e.waitFor("the lock to be free", func() bool { return e.lockStatus().State == messages.LockFree })
			if f := e.frees_(); len(f) != 1 || !f[0].Handoff {
				t.Fatalf("releases %+v", f)
			}
		})
	}
}

func TestStopAndMediaPaths(t *testing.T) {
	t.Run("stop", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.waitConnected()
		c := e.mustDial("hf_consumer")
		st, err := kit.Ask[messages.RelayStatus](context.Background(), e.ks, e.relay, &messages.StopRelay{})
		if err != nil || st.State != messages.RelayStopped {
			t.Fatalf("%+v %v", st, err)
		}
		waitEnded(t, c)
		e.waitFor("the producer's session to end", func() bool { return e.producerSessions() == 0 })
		e.waitFor("the lock to be free", func() bool { return e.lockStatus().State == messages.LockFree })
		if f := e.frees_(); len(f) != 1 || f[0].Handoff {
			t.Fatalf("releases %+v, want one without handoff", f)
		}
		r, _ := kit.Ask[messages.RefreshRelayResult](context.Background(), e.ks, e.relay, &messages.RefreshRelay{})
		if r.Status != "skipped" || r.Reason != "relay_not_running" || !r.TokenAvailable {
			t.Fatalf("refresh while stopped: %+v", r)
		}
		// Started again.
		if _, err := kit.Ask[messages.RelayStatus](context.Background(), e.ks, e.relay, &messages.StartRelay{}); err != nil {
			t.Fatal(err)
		}
		e.waitConnected()
		e.mustDial("hf_consumer2")
	})
	t.Run("producer_replaced", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.waitConnected()
		c := e.mustDial("hf_consumer")
		old := e.producer.Load()
		e.newProducer(0)
		_ = old.Close()
		waitEnded(t, c)
		e.waitFor("the lock to be free", func() bool { return e.lockStatus().State == messages.LockFree })
		// A new session goes to the new producer.
		e.waitFor("a new session", func() bool {
			c2, err := e.dial("hf_consumer2", centraltest.ConsumerOptions{Robot: "reachy_test"})
			if err != nil {
				return false
			}
			c2.Close()
			return true
		})
	})
	t.Run("sse_loss", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		e.waitConnected()
		e.mustDial("hf_consumer")
		before := e.central.EventsRequests()
		e.central.Disconnect()
		e.waitFor("the producer's session to end", func() bool { return e.producerSessions() == 0 })
		e.waitFor("the lock to be free", func() bool { return e.lockStatus().State == messages.LockFree })
		if f := e.frees_(); len(f) != 1 || f[0].Handoff {
			t.Fatalf("releases %+v, want one without handoff", f)
		}
		e.waitFor("a reconnection", func() bool { return e.central.EventsRequests() > before })
	})
}

func TestCrashEndsSessionsAndReleasesLock(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.waitConnected()
	c := e.mustDial("hf_consumer")
	if ls := e.lockStatus(); ls.State != messages.LockRemote {
		t.Fatal(ls)
	}
	e.ks.Root.Send(e.relay, &kit.Crash{Reason: "test"})
	waitEnded(t, c)
	e.waitFor("the producer's session to end", func() bool { return e.producerSessions() == 0 })
	e.waitFor("the lock to be free", func() bool { return e.lockStatus().State == messages.LockFree })
	// The new incarnation runs again and relays new sessions.
	e.waitConnected()
	e.mustDial("hf_consumer2")
	if ls := e.lockStatus(); ls.State != messages.LockRemote {
		t.Fatal(ls)
	}
}

func TestHeartbeatCadence(t *testing.T) {
	e := newEnv(t, envOpts{fakeClock: true, heartbeat: 2})
	e.waitConnected()
	e.waitFor("the first heartbeat", func() bool { return len(e.central.Heartbeats()) == 1 })
	for i := 2; i <= 6; i++ {
		e.clock.advance(time.Second)
		e.status()
		if n := len(e.central.Heartbeats()); n != i-1 {
			t.Fatalf("%d heartbeats a second after the last, want %d", n, i-1)
		}
		e.clock.advance(time.Second)
		e.status()
		e.waitFor("a heartbeat", func() bool { return len(e.central.Heartbeats()) == i })
	}
	if n := len(e.central.Heartbeats()); n != 6 {
		t.Fatalf("%d heartbeats, want 6", n)
	}
}

func TestReconnectBackoffWithClock(t *testing.T) {
	e := newEnv(t, envOpts{fakeClock: true, fail: 503})
	e.waitState("in error", func(s messages.RelayStatus) bool {
		return s.State == messages.RelayError && s.Message == "Central server returned HTTP 503"
	})
	e.waitFor("the first failure", func() bool { return e.inspect().Attempts == 1 })
	if n := e.central.EventsRequests(); n != 1 {
		t.Fatalf("%d attempts", n)
	}
	for i, d := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second} {
		e.clock.advance(d - time.Millisecond)
		e.status()
		if n := e.central.EventsRequests(); n != i+1 {
			t.Fatalf("attempt %d came before %v", n, d)
		}
		e.clock.advance(time.Millisecond)
		e.status()
		e.waitFor("the next attempt to fail", func() bool { return e.inspect().Attempts == i+2 })
		if n := e.central.EventsRequests(); n != i+2 {
			t.Fatalf("%d attempts, want %d", n, i+2)
		}
	}
	// Central is back: the next attempt (60 s, the cap) connects.
	e.central.Fail.Store(0)
	e.clock.advance(60 * time.Second)
	e.waitConnected()
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.token.Store(ptr("hf_wrong"))
	e.ks.Root.Send(e.relay, &messages.HFTokenChanged{})
	st := e.waitState("in error", func(s messages.RelayStatus) bool { return s.State == messages.RelayError })
	if st.Message != "Authentication failed - token may be invalid" || st.IsConnected {
		t.Fatalf("%+v", st)
	}
	cr, err := kit.Ask[messages.CentralRobotStatus](context.Background(), e.ks, e.relay, &messages.GetCentralRobotStatus{})
	if err != nil || cr.Available || cr.Reason != "token_invalid" || string(cr.Robots) != "[]" {
		t.Fatalf("%+v %v", cr, err)
	}
}

func (e *env) inspect() inspection {
	e.t.Helper()
	in, err := kit.Ask[inspection](context.Background(), e.ks, e.relay, &inspect{})
	if err != nil {
		e.t.Fatal(err)
	}
	return in
}

func TestSplitBrain(t *testing.T) {
	e := newEnv(t, envOpts{fakeClock: true})
	e.waitConnected()
	before := e.central.EventsRequests()
	// Central forgets us: two polls without our peer id force a reconnection.
	e.central.DropRobots.Store(true)
	e.clock.advance(FirstPoll)
	e.status()
	e.waitFor("the first poll", func() bool { return e.inspect().MissedPolls == 1 })
	if n := e.central.EventsRequests(); n != before {
		t.Fatalf("one missed poll reconnected (%d requests)", n)
	}
	e.clock.advance(PollEvery)
	e.status()
	e.waitFor("a reconnection after two misses", func() bool { return e.central.EventsRequests() == before+1 })
	e.central.DropRobots.Store(false)
	e.waitConnected()
}

func TestSilentStream(t *testing.T) {
	e := newEnv(t, envOpts{fakeClock: true, silent: true})
	e.waitFor("the stream to open", func() bool { return e.inspect().SSEOpen })
	if st := e.status(); st.State != messages.RelayConnecting {
		t.Fatalf("%+v", st)
	}
	e.clock.advance(ReadTimeout - time.Second)
	if in := e.inspect(); !in.SSEOpen || e.central.EventsRequests() != 1 {
		t.Fatalf("given up early: %+v", in)
	}
	e.clock.advance(time.Second)
	st := e.waitState("giving the silent stream up", func(s messages.RelayStatus) bool { return s.State == messages.RelayReconnecting })
	if st.IsConnected {
		t.Fatal(st)
	}
	e.central.Silent.Store(false)
	e.clock.advance(5 * time.Second)
	e.waitFor("a new attempt", func() bool { return e.central.EventsRequests() == 2 })
	e.waitConnected()
}

func TestTokenChanges(t *testing.T) {
	e := newEnv(t, envOpts{noToken: true})
	st := e.waitState("waiting for a token", func(s messages.RelayStatus) bool { return s.State == messages.RelayWaitingForToken })
	if st.IsConnected {
		t.Fatal(st)
	}
	cr, _ := kit.Ask[messages.CentralRobotStatus](context.Background(), e.ks, e.relay, &messages.GetCentralRobotStatus{})
	if cr.Reason != "not_authenticated" {
		t.Fatalf("%+v", cr)
	}
	e.token.Store(ptr("hf_robot"))
	e.ks.Root.Send(e.relay, &messages.HFTokenChanged{})
	e.waitConnected()
	n := e.central.EventsRequests()
	// The same token: no reconnection.
	e.ks.Root.Send(e.relay, &messages.HFTokenChanged{})
	e.status()
	if e.central.EventsRequests() != n {
		t.Fatal("reconnected for the same token")
	}
	// Refresh: a reconnection with the same token.
	r, err := kit.Ask[messages.RefreshRelayResult](context.Background(), e.ks, e.relay, &messages.RefreshRelay{})
	if err != nil || r.Status != "requested" || !r.TokenAvailable {
		t.Fatalf("%+v %v", r, err)
	}
	e.waitFor("the refresh", func() bool { return e.central.EventsRequests() == n+1 })
	e.waitConnected()
	// Another token: a reconnection with it.
	e.central.SetTokens("hf_robot2", "hf_consumer")
	e.token.Store(ptr("hf_robot2"))
	e.ks.Root.Send(e.relay, &messages.HFTokenChanged{})
	e.waitFor("the new token's connection", func() bool { return e.central.EventsRequests() == n+2 })
	e.waitConnected()
	cr, err = kit.Ask[messages.CentralRobotStatus](context.Background(), e.ks, e.relay, &messages.GetCentralRobotStatus{})
	if err != nil || !cr.Available || !strings.Contains(string(cr.Robots), e.status().PeerID) {
		t.Fatalf("%+v %v", cr, err)
	}
	// Signed out, as delete_hf_token says it: on the event stream.
	e.token.Store(ptr(""))
	e.ks.Publish(messages.HFTokenChanged{})
	e.waitState("waiting for a token", func(s messages.RelayStatus) bool { return s.State == messages.RelayWaitingForToken })
}

func TestCentralRobotStatusErrors(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.waitConnected()
	e.central.Fail.Store(502)
	cr, _ := kit.Ask[messages.CentralRobotStatus](context.Background(), e.ks, e.relay, &messages.GetCentralRobotStatus{})
	if cr.Available || cr.Reason != "http_502" {
		t.Fatalf("%+v", cr)
	}
	e.central.Close()
	cr, _ = kit.Ask[messages.CentralRobotStatus](context.Background(), e.ks, e.relay, &messages.GetCentralRobotStatus{})
	if cr.Available || cr.Reason != "unreachable" {
		t.Fatalf("%+v", cr)
	}
}

func ptr(s string) *string { return &s }

// A relay stopped (media released) stays stopped across a crash and a
// respawn from its props; one that runs is started again.
func TestStoppedStaysStoppedAcrossRestarts(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.waitConnected()
	if _, err := kit.Ask[messages.RelayStatus](context.Background(), e.ks, e.relay, &messages.StopRelay{}); err != nil {
		t.Fatal(err)
	}
	e.ks.Root.Send(e.relay, &kit.Crash{Reason: "test"})
	if st := e.status(); st.State != messages.RelayStopped {
		t.Fatalf("after a crash: %+v", st)
	}
	_ = e.ks.Root.StopFuture(e.relay).Wait()
	e.relay, _ = e.ks.Root.SpawnNamed(e.props, "relay")
	if st := e.status(); st.State != messages.RelayStopped {
		t.Fatalf("after a respawn: %+v", st)
	}
	if _, err := kit.Ask[messages.RelayStatus](context.Background(), e.ks, e.relay, &messages.StartRelay{}); err != nil {
		t.Fatal(err)
	}
	e.waitConnected()
	_ = e.ks.Root.StopFuture(e.relay).Wait()
	e.relay, _ = e.ks.Root.SpawnNamed(e.props, "relay")
	e.waitConnected()
}

// Against the stream as the real server writes it (event lines, list
// after welcome, ping events with an empty data line, sessionStarted only
// in the POST's answer): the relay stays connected through the pings
// without a warning, and a session works.
func TestSpaceLikeCentral(t *testing.T) {
	var logs lockedLog
	e := newEnv(t, envOpts{spaceLike: true, logTo: &logs})
	e.waitConnected()
	c := e.mustDial("hf_consumer")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r, err := c.Command(ctx, map[string]any{"type": "get_state"}, func(m map[string]any) bool { return m["command"] == "get_state" }); err != nil {
		t.Fatalf("command: %v %v", r, err)
	}
	if err := c.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.waitState("without sessions", func(s messages.RelayStatus) bool { return s.Sessions == 0 })
	// Quiet now: central pings every 50 ms. Wait for a few on the robot's
	// stream, seen as a heartbeat going out between them.
	beats := len(e.central.Heartbeats())
	e.waitFor("pings and a heartbeat", func() bool { return len(e.central.Heartbeats()) > beats })
	if st := e.status(); st.State != messages.RelayConnected {
		t.Fatalf("relay %+v after the pings", st)
	}
	if strings.Contains(logs.String(), "skipped") {
		t.Fatalf("the relay warned about central's stream:\n%s", logs.String())
	}
}

// lockedLog is a log sink written from many goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Central lost our peer behind the open stream (the real server's state
// after a stream replaced another too quickly): the next heartbeat is
// answered 400 "Connect to /events first", and the relay reconnects after
// the backoff instead of waiting for two split-brain polls.
func TestReconnectWhenCentralLostThePeer(t *testing.T) {
	e := newEnv(t, envOpts{fakeClock: true})
	e.waitConnected()
	e.waitFor("registered", func() bool { return len(e.central.Robots()) == 1 })
	before := e.central.EventsRequests()
	e.central.Forget()
	e.clock.advance(DefaultHeartbeat) // the heartbeat is refused
	e.waitState("reconnecting", func(s messages.RelayStatus) bool { return s.State == messages.RelayReconnecting })
	if n := e.central.EventsRequests(); n != before {
		t.Fatalf("reconnected before the backoff (%d requests)", n)
	}
	e.clock.advance(ReconnectBase) // rand 0: exactly the base
	e.waitFor("a new connection", func() bool { return e.central.EventsRequests() == before+1 })
	e.waitConnected()
	e.waitFor("registered again", func() bool { return len(e.central.Robots()) == 1 })
}
