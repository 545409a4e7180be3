package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"

	"reachyd/actors/kit"
	"reachyd/media/webrtc"
	"reachyd/messages"
)

// DefaultCentralURL is the reference's central server.
const DefaultCentralURL = "https://pollen-robotics-reachy-mini-central.hf.space"

// Clock is the relay's time: Now, and AfterFunc for its deadlines (the
// tests' clock fires them when it is advanced).
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Options configure the relay actor.
type Options struct {
	// CentralURL is the central server (DefaultCentralURL when empty).
	CentralURL string
	// Token returns the Hugging Face token ("" when signed out). It is
	// called on the actor's goroutine: it may read a small file.
	Token func() string
	// RobotName is the name sent in setPeerStatus and the status message.
	RobotName func() string
	// Transport is "wifi" (the Wireless robot) or "usb".
	Transport string
	// HardwareID, when set, is sent in setPeerStatus's meta (16 hex digits).
	HardwareID string
	// Producer returns the media actor's WebRTC producer (nil while media
	// is released: remote sessions are then refused).
	Producer func() *webrtc.Producer
	// Lock is the robot app lock (nil: sessions take no lock; tests).
	Lock *actor.PID
	// AutoStart starts the relay when the actor starts.
	AutoStart bool

	// Cell keeps what must outlive a crash of the actor (made when nil).
	Cell *Cell
	// Clock and Rand (jitter in [0, 1)) are injected for tests.
	Clock Clock
	Rand  func() float64
	// HTTP is the client for central (NewHTTPClient when nil).
	HTTP *http.Client
	// ProducerCheck is how often the producer is checked for a change
	// (default 1 s); every message handled checks it too.
	ProducerCheck time.Duration
	// EvictWait bounds the wait for the producer's teardown of evicted
	// sessions (default 8 s, under the app manager's 10 s).
	EvictWait time.Duration
	Log       *slog.Logger
}

// Cell is what outlives a crash of the relay actor: whether it runs, the
// sessions it relayed, whether it holds the lock, and the I/O of the
// incarnation that crashed, which the next one closes.
type Cell struct {
	epoch       atomic.Uint64
	autoStarted atomic.Bool // AutoStart is for the first incarnation only

	mu        sync.Mutex
	running   bool
	holdsLock bool
	token     string
	peerID    string
	sessions  map[string]string
	res       *resources
}

// NewCell returns an empty cell.
func NewCell() *Cell { return &Cell{} }

// resources are one incarnation's goroutines and connections.
type resources struct {
	sseCancel context.CancelFunc
	link      *link
	poster    *poster
	stopTimer func() bool
	stopWatch func() bool
}

func (r *resources) close() {
	if r.sseCancel != nil {
		r.sseCancel()
	}
	if r.link != nil {
		r.link.close()
	}
	if r.poster != nil {
		r.poster.close()
	}
	if r.stopTimer != nil {
		r.stopTimer()
	}
	if r.stopWatch != nil {
		r.stopWatch()
	}
}

// link is the in-process signalling connection to one producer. Sends go
// through a queue drained by one goroutine: Conn.Send runs the server's
// handler, which builds a PeerConnection for a startSession.
type link struct {
	id       uint64
	producer *webrtc.Producer
	conn     *webrtc.Conn
	out      chan []byte
	stop     chan struct{}
	once     sync.Once
}

func (l *link) send(msg []byte) bool {
	select {
	case l.out <- msg:
		return true
	case <-l.stop:
		return false
	default:
		return false
	}
}

func (l *link) close() {
	l.once.Do(func() { close(l.stop) })
}

func (l *link) run() {
	for {
		select {
		case msg := <-l.out:
			_ = l.conn.Send(msg)
		case <-l.stop:
			// What is queued goes first (an endSession, say).
			for {
				select {
				case msg := <-l.out:
					_ = l.conn.Send(msg)
				default:
					l.conn.Close()
					return
				}
			}
		}
	}
}

// inproc delivers the producer's messages to the actor.
type inproc struct {
	send  func(any)
	epoch uint64
	link  uint64
}

func (p *inproc) Deliver(msg []byte) {
	var m webrtc.Message
	if json.Unmarshal(msg, &m) == nil {
		p.send(&localMsg{epoch: p.epoch, link: p.link, msg: m})
	}
}

func (p *inproc) Closed(reason string) {
	p.send(&localClosed{epoch: p.epoch, link: p.link, reason: reason})
}

// Internal messages; epoch tells an incarnation's own goroutines from
// those of one that crashed.
type (
	tick      struct{ epoch uint64 }
	watch     struct{ epoch uint64 }
	sseOpened struct{ epoch, gen uint64 }
	sseData   struct {
		epoch, gen uint64
		msg        CentralMsg
	}
	sseAlive  struct{ epoch, gen uint64 }
	sseFailed struct {
		epoch, gen uint64
		status     int
		err        string
	}
	postRefused struct{ epoch, gen uint64 }
	pollResult  struct {
		epoch, gen uint64
		status     int
		listed     bool
	}
	localMsg struct {
		epoch, link uint64
		msg         webrtc.Message
	}
	localClosed struct {
		epoch, link uint64
		reason      string
	}
	evictDone struct{ epoch, ref uint64 }
)

type eviction struct {
	sender   *actor.PID
	done     []<-chan struct{}
	sessions int
}

// Actor is the relay actor.
type Actor struct {
	opt   Options
	log   *slog.Logger
	cell  *Cell
	core  *Core
	epoch uint64
	self  *actor.PID
	root  *actor.RootContext
	res   *resources

	// tokenSub follows HFTokenChanged on the event stream (the daemon's
	// delete_hf_token, the sign-in routes, TURN's sources of truth).
	tokenSub *eventstream.Subscription

	timerAt   time.Time
	links     uint64
	refs      uint64
	evictions map[uint64]*eviction
}

// Props returns the relay actor's props.
func Props(opt Options) *actor.Props {
	if opt.CentralURL == "" {
		opt.CentralURL = DefaultCentralURL
	}
	if opt.Token == nil {
		opt.Token = func() string { return "" }
	}
	if opt.RobotName == nil {
		opt.RobotName = func() string { return "reachy_mini" }
	}
	if opt.Transport == "" {
		opt.Transport = "usb"
	}
	if opt.Producer == nil {
		opt.Producer = func() *webrtc.Producer { return nil }
	}
	if opt.Cell == nil {
		opt.Cell = NewCell()
	}
	if opt.Clock == nil {
		opt.Clock = realClock{}
	}
	if opt.Rand == nil {
		opt.Rand = rand.Float64
	}
	if opt.HTTP == nil {
		opt.HTTP = NewHTTPClient()
	}
	if opt.ProducerCheck <= 0 {
		opt.ProducerCheck = time.Second
	}
	if opt.EvictWait <= 0 {
		opt.EvictWait = 8 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, log: opt.Log.With("actor", "relay"), cell: opt.Cell}
	}, kit.CrashOption())
}

func (a *Actor) tell(v any) { a.root.Send(a.self, v) }

// current reports whether this incarnation is the actor's latest (a
// continuation of an ask may run after a crash replaced it).
func (a *Actor) current() bool { return a.epoch == a.cell.epoch.Load() }

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.started(ctx)
		return
	case *actor.Stopping:
		a.unsubscribe(ctx)
		// Sessions end and the lock is released, but whether the relay
		// runs is kept: a respawn by the root (a crash loop) starts it
		// again, and at the daemon's stop nothing reads it any more.
		running := a.core.Running()
		a.step(ctx, InStop{})
		a.res.close()
		a.res = &resources{}
		a.save()
		a.cell.mu.Lock()
		a.cell.running = running
		a.cell.mu.Unlock()
		return
	case *actor.Restarting:
		a.unsubscribe(ctx)
		return
	case *actor.Stopped:
		return

	case *messages.GetRelayStatus:
		kit.Reply(ctx, a.status())
	case *messages.StartRelay:
		a.step(ctx, InStart{})
		kit.Reply(ctx, a.status())
	case *messages.StopRelay:
		a.step(ctx, InStop{})
		kit.Reply(ctx, a.status())
	case *messages.RefreshRelay:
		available := a.opt.Token() != ""
		if !a.core.Running() {
			kit.Reply(ctx, messages.RefreshRelayResult{Status: "skipped", TokenAvailable: available, Reason: "relay_not_running"})
			return
		}
		a.step(ctx, InRefresh{})
		kit.Reply(ctx, messages.RefreshRelayResult{Status: "requested", TokenAvailable: available})
	case *messages.HFTokenChanged:
		a.step(ctx, InTokenChanged{})
	case *messages.EvictRemote:
		a.refs++
		a.evictions[a.refs] = &eviction{sender: ctx.Sender()}
		a.step(ctx, InEvict{Ref: a.refs, Reason: m.Reason})
	case *messages.GetCentralRobotStatus:
		a.centralRobotStatus(ctx)
	case *inspect:
		kit.Reply(ctx, inspection{Attempts: a.core.attempts, MissedPolls: a.core.missedPolls, SSEOpen: a.core.sseOpen, Next: a.core.Next()})

	case *tick:
		if m.epoch == a.epoch {
			a.timerAt = time.Time{}
			a.step(ctx, InTick{})
		}
	case *watch:
		if m.epoch == a.epoch {
			a.res.stopWatch = a.opt.Clock.AfterFunc(a.opt.ProducerCheck, func() { a.tell(&watch{epoch: a.epoch}) })
		}
	case *sseOpened:
		if m.epoch == a.epoch {
			a.step(ctx, InSSEOpened{Gen: m.gen})
		}
	case *sseData:
		if m.epoch == a.epoch {
			a.step(ctx, InSSEData{Gen: m.gen, Msg: m.msg})
		}
	case *sseAlive:
		if m.epoch == a.epoch {
			a.step(ctx, InSSEAlive{Gen: m.gen})
		}
	case *sseFailed:
		if m.epoch == a.epoch {
			if m.status != 0 || a.core.sseLive && m.gen == a.core.gen {
				a.log.Info("relay: central event stream ended", "status", m.status, "err", m.err)
			}
			a.step(ctx, InSSEFailed{Gen: m.gen, Status: m.status, Err: m.err})
		}
	case *postRefused:
		if m.epoch == a.epoch {
			if a.core.sseLive && m.gen == a.core.gen {
				a.log.Info("relay: central has no peer for our open stream; reconnecting")
			}
			a.step(ctx, InPostRefused{Gen: m.gen})
		}
	case *pollResult:
		if m.epoch == a.epoch {
			a.step(ctx, InPoll{Gen: m.gen, Status: m.status, Listed: m.listed})
		}
	case *localMsg:
		if m.epoch == a.epoch && a.res.link != nil && m.link == a.res.link.id {
			a.step(ctx, InLocal{Msg: m.msg})
		}
	case *localClosed:
		if m.epoch == a.epoch && a.res.link != nil && m.link == a.res.link.id {
			a.log.Info("relay: signalling connection to the producer closed", "reason", m.reason)
			a.res.link.close()
			a.res.link = nil
			a.step(ctx, InLocalDown{})
		}
	case *evictDone:
		if ev := a.evictions[m.ref]; m.epoch == a.epoch && ev != nil {
			delete(a.evictions, m.ref)
			if ev.sender != nil {
				ctx.Send(ev.sender, messages.RemoteEvicted{Sessions: ev.sessions})
			}
		}
	default:
		return
	}
	a.ensureLocal(ctx)
}

// started restores what a crashed incarnation left: its goroutines are
// stopped, the sessions it relayed end (central is told, the producer
// ends them when their signalling connection closes), and the lock's
// remote hold is released. Then the relay starts again if it ran.
// unsubscribe ends this incarnation's event stream subscription.
func (a *Actor) unsubscribe(ctx actor.Context) {
	if a.tokenSub != nil {
		ctx.ActorSystem().EventStream.Unsubscribe(a.tokenSub)
		a.tokenSub = nil
	}
}

func (a *Actor) started(ctx actor.Context) {
	a.self, a.root = ctx.Self(), ctx.ActorSystem().Root
	self, root := a.self, a.root
	a.tokenSub = ctx.ActorSystem().EventStream.Subscribe(func(evt any) {
		if _, ok := evt.(messages.HFTokenChanged); ok {
			root.Send(self, &messages.HFTokenChanged{})
		}
	})
	a.epoch = a.cell.epoch.Add(1)
	a.core = NewCore()
	a.evictions = map[uint64]*eviction{}
	epoch := a.epoch
	a.res = &resources{poster: startPoster(a.opt.HTTP, a.opt.CentralURL, a.log, func(gen uint64) {
		root.Send(self, &postRefused{epoch: epoch, gen: gen})
	})}

	a.cell.mu.Lock()
	old, running, holds, token, peer, sessions := a.cell.res, a.cell.running, a.cell.holdsLock, a.cell.token, a.cell.peerID, a.cell.sessions
	a.cell.res, a.cell.sessions, a.cell.holdsLock = nil, nil, false
	a.cell.mu.Unlock()
	if old != nil {
		old.close()
		for central := range sessions {
			if peer != "" && token != "" {
				a.res.poster.send(post{body: mustJSON(map[string]string{"type": "endSession", "sessionId": central}), token: token}, a.log)
			}
		}
		if len(sessions) > 0 || holds {
			a.log.Warn("relay: restarted; the remote sessions of the previous run are ended", "sessions", len(sessions), "lock", holds)
		}
		// Only the relay takes the lock's remote hold, so a restart
		// releases it even when the cell does not say it was held: the
		// incarnation may have died between the lock's answer and its
		// record.
		if a.opt.Lock != nil {
			ctx.Send(a.opt.Lock, &messages.ReleaseRemote{Handoff: false})
		}
	}
	a.save()
	first := a.cell.autoStarted.CompareAndSwap(false, true)
	if (a.opt.AutoStart && first) || running {
		a.step(ctx, InStart{})
		a.ensureLocal(ctx)
	}
}

func (a *Actor) save() {
	a.cell.mu.Lock()
	defer a.cell.mu.Unlock()
	a.cell.running = a.core.Running()
	a.cell.holdsLock = a.core.HoldsLock()
	a.cell.token = a.core.Token()
	_, _, a.cell.peerID = a.core.State()
	a.cell.sessions = a.core.Sessions()
	a.cell.res = a.res
}

func (a *Actor) status() messages.RelayStatus {
	st, msg, peer := a.core.State()
	if st == messages.RelayConnected {
		msg = fmt.Sprintf("Remote access enabled as '%s'", a.opt.RobotName())
	}
	return messages.RelayStatus{State: st, Message: msg, IsConnected: st == messages.RelayConnected,
		PeerID: peer, Sessions: len(a.core.sessions)}
}

// step feeds the core and performs its effects.
func (a *Actor) step(ctx actor.Context, in Input) {
	clk := a.opt.Clock
	fx := a.core.Step(clk.Now(), a.opt.Rand(), in)
	for _, e := range fx {
		a.perform(ctx, e)
	}
	a.save()
	a.arm()
}

// arm sets the timer for the core's next deadline.
func (a *Actor) arm() {
	next := a.core.Next()
	if next.Equal(a.timerAt) {
		return
	}
	if a.res.stopTimer != nil {
		a.res.stopTimer()
		a.res.stopTimer = nil
	}
	a.timerAt = next
	if next.IsZero() {
		return
	}
	epoch := a.epoch
	a.res.stopTimer = a.opt.Clock.AfterFunc(max(next.Sub(a.opt.Clock.Now()), 0), func() { a.tell(&tick{epoch: epoch}) })
}

func (a *Actor) perform(ctx actor.Context, e Effect) {
	epoch := a.epoch
	switch e := e.(type) {
	case EffReadToken:
		// Stepped at once: the token is read here, not in the core.
		a.step(ctx, InToken{Token: a.opt.Token()})
	case EffConnectSSE:
		if a.res.sseCancel != nil {
			a.res.sseCancel()
		}
		sctx, cancel := context.WithCancel(context.Background())
		a.res.sseCancel = cancel
		gen := e.Gen
		go readSSE(sctx, a.opt.HTTP, a.opt.CentralURL, e.Token, a.log, sseEvents{
			opened: func() { a.tell(&sseOpened{epoch: epoch, gen: gen}) },
			data:   func(m CentralMsg) { a.tell(&sseData{epoch: epoch, gen: gen, msg: m}) },
			alive:  func() { a.tell(&sseAlive{epoch: epoch, gen: gen}) },
			failed: func(status int, err string) {
				a.tell(&sseFailed{epoch: epoch, gen: gen, status: status, err: err})
			},
		})
	case EffCloseSSE:
		if a.res.sseCancel != nil {
			a.res.sseCancel()
			a.res.sseCancel = nil
		}
	case EffPost:
		a.res.poster.send(post{body: e.Body, token: e.Token, gen: e.Gen}, a.log)
	case EffHeartbeat:
		meta := map[string]string{"name": a.opt.RobotName(), "transport": a.opt.Transport}
		if a.opt.HardwareID != "" {
			meta["hardware_id"] = a.opt.HardwareID
		}
		body := mustJSON(map[string]any{"type": "setPeerStatus", "roles": []string{"producer"}, "meta": meta})
		a.res.poster.send(post{body: body, token: e.Token, gen: e.Gen}, a.log)
	case EffPoll:
		client, base := a.opt.HTTP, a.opt.CentralURL
		go func() {
			pctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
			defer cancel()
			status, robots, err := robotStatus(pctx, client, base, e.Token)
			if err != nil {
				status = 0
			}
			a.tell(&pollResult{epoch: epoch, gen: e.Gen, status: status, listed: status == http.StatusOK && listsPeer(robots, e.PeerID)})
		}()
	case EffLocalOpen, EffLocalClose:
		// ensureLocal follows the core's wish (Running) after each message.
	case EffLocal:
		if l := a.res.link; l == nil || !l.send(e.Msg) {
			a.log.Warn("relay: a message for the producer was dropped (no connection, or too many waiting)")
		}
	case EffAcquireLock:
		central := e.Central
		if a.opt.Lock == nil {
			a.step(ctx, InLock{Central: central, Acquired: true})
			return
		}
		kit.AskFrom(ctx, a.opt.Lock, &messages.AcquireRemote{Name: "remote"}, 5*time.Second, func(_ any, err error) {
			if !a.current() {
				return // answered to an incarnation that crashed: the new one released the lock
			}
			if err == nil {
				a.step(ctx, InLock{Central: central, Acquired: true})
				a.ensureLocal(ctx)
				return
			}
			kit.AskFrom(ctx, a.opt.Lock, &messages.GetLockStatus{}, 5*time.Second, func(reply any, _ error) {
				if !a.current() {
					return
				}
				st, _ := reply.(messages.LockStatus)
				a.step(ctx, InLock{Central: central, LocalApp: st.State == messages.LockLocal})
				a.ensureLocal(ctx)
			})
		})
	case EffReleaseLock:
		if a.opt.Lock != nil {
			ctx.Send(a.opt.Lock, &messages.ReleaseRemote{Handoff: e.Handoff})
		}
	case EffWatchEnd:
		ev := a.evictions[e.Ref]
		if ev == nil {
			return
		}
		if l := a.res.link; l != nil {
			for _, id := range e.Local {
				if s := l.producer.Session(id); s != nil {
					ev.done = append(ev.done, s.Done())
				}
			}
		}
	case EffEvicted:
		ev := a.evictions[e.Ref]
		if ev == nil {
			return
		}
		ev.sessions = e.Sessions
		done, wait, ref := ev.done, a.opt.EvictWait, e.Ref
		go func() {
			deadline := time.NewTimer(wait)
			defer deadline.Stop()
			for _, d := range done {
				select {
				case <-d:
				case <-deadline.C:
					a.tell(&evictDone{epoch: epoch, ref: ref})
					return
				}
			}
			a.tell(&evictDone{epoch: epoch, ref: ref})
		}()
	}
}

// ensureLocal keeps the in-process signalling connection on the current
// producer while the relay runs: a replaced or released producer ends the
// connection (and its sessions), a new one gets a connection.
func (a *Actor) ensureLocal(ctx actor.Context) {
	want := a.core.Running()
	p := a.opt.Producer()
	if l := a.res.link; l != nil && (!want || l.producer != p) {
		l.close()
		a.res.link = nil
		a.step(ctx, InLocalDown{})
	}
	if want && a.res.stopWatch == nil {
		epoch := a.epoch
		a.res.stopWatch = a.opt.Clock.AfterFunc(a.opt.ProducerCheck, func() { a.tell(&watch{epoch: epoch}) })
	}
	if !want && a.res.stopWatch != nil {
		a.res.stopWatch()
		a.res.stopWatch = nil
	}
	if !want || p == nil || a.res.link != nil {
		return
	}
	a.links++
	l := &link{id: a.links, producer: p, out: make(chan []byte, 256), stop: make(chan struct{})}
	conn, err := p.Connect(&inproc{send: a.tell, epoch: a.epoch, link: l.id})
	if err != nil {
		a.log.Debug("relay: cannot attach to the producer yet", "err", err)
		return
	}
	l.conn = conn
	a.res.link = l
	go l.run()
	a.step(ctx, InLocalUp{ProducerID: p.ID()})
}

// centralRobotStatus answers GetCentralRobotStatus from a goroutine (5 s).
func (a *Actor) centralRobotStatus(ctx actor.Context) {
	sender := ctx.Sender()
	if sender == nil {
		return
	}
	token := a.opt.Token()
	root := a.root
	if token == "" {
		root.Send(sender, messages.CentralRobotStatus{Robots: json.RawMessage("[]"), Reason: "not_authenticated"})
		return
	}
	client, base := a.opt.HTTP, a.opt.CentralURL
	go func() {
		sctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
		defer cancel()
		status, robots, err := robotStatus(sctx, client, base, token)
		out := messages.CentralRobotStatus{Robots: json.RawMessage("[]")}
		switch {
		case err != nil:
			out.Reason = "unreachable"
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			out.Reason = "token_invalid"
		case status != http.StatusOK:
			out.Reason = fmt.Sprintf("http_%d", status)
		default:
			out.Available, out.Robots = true, robots
		}
		root.Send(sender, out)
	}()
}

// inspect asks the actor for its core's counters (tests, debugging).
type inspect struct{}

type inspection struct {
	Attempts    int
	MissedPolls int
	SSEOpen     bool
	Next        time.Time
}
