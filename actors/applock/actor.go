package applock

import (
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/messages"
)

// Cell keeps the lock's state across restarts of the actor: a crash must
// not free a slot an app still holds.
type Cell struct {
	mu     sync.Mutex
	state  messages.LockState
	holder string
}

func (c *Cell) save(l *Lock) {
	c.mu.Lock()
	c.state, c.holder = l.Status()
	c.mu.Unlock()
}

func (c *Cell) load(l *Lock) {
	c.mu.Lock()
	l.Restore(c.state, c.holder)
	c.mu.Unlock()
}

// Options configure the lock actor.
type Options struct {
	Cell *Cell
	// Publish receives every lock event (usually System.Publish).
	Publish func(messages.LockEvent)
	Log     *slog.Logger
}

type lockActor struct {
	opt  Options
	lock *Lock
	log  *slog.Logger
}

// Props returns the lock actor's props.
func Props(opt Options) *actor.Props {
	if opt.Cell == nil {
		opt.Cell = &Cell{}
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &lockActor{opt: opt, log: opt.Log.With("actor", "applock")}
	}, kit.CrashOption())
}

func (a *lockActor) status() messages.LockStatus {
	s, h := a.lock.Status()
	return messages.LockStatus{State: s, Holder: h}
}

func (a *lockActor) emit(evs []messages.LockEvent) {
	a.opt.Cell.save(a.lock)
	for _, e := range evs {
		a.log.Info("robot app lock", "event", e.Kind, "holder", e.Holder, "handoff", e.Handoff)
		if a.opt.Publish != nil {
			a.opt.Publish(e)
		}
	}
}

// Receive implements actor.Actor.
func (a *lockActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.lock = New()
		a.opt.Cell.load(a.lock)
	case *messages.GetLockStatus:
		kit.Reply(ctx, a.status())
	case *messages.AcquireLocal:
		var evs []messages.LockEvent
		var err error
		switch m.Mode {
		case messages.LockTry:
			var ok bool
			if ok, evs = a.lock.TryAcquireLocal(m.Name); !ok {
				err = &messages.Error{Kind: messages.KindBadRequest, Detail: "The robot app slot is already in use", Reason: "slot_in_use"}
			}
		case messages.LockKeep:
			evs, err = a.lock.AcquireLocalKeeping(m.Name)
		default:
			evs, err = a.lock.AcquireLocalEvicting(m.Name)
		}
		if err != nil {
			kit.Reply(ctx, err)
			return
		}
		a.emit(evs)
		st := a.status()
		for _, e := range evs {
			st.Evicted = st.Evicted || e.Kind == messages.LockRemoteEvicted
		}
		kit.Reply(ctx, st)
	case *messages.ReleaseLocal:
		mismatch, evs := a.lock.ReleaseLocal(m.Name)
		if mismatch {
			a.log.Warn("robot app lock released by another app than its holder", "releaser", m.Name)
		}
		a.emit(evs)
		kit.Reply(ctx, a.status())
	case *messages.AcquireRemote:
		ok, evs := a.lock.TryAcquireRemote(m.Name)
		if !ok {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindConflict, Detail: "robot_busy", Reason: "robot_busy"})
			return
		}
		a.emit(evs)
		kit.Reply(ctx, a.status())
	case *messages.ReleaseRemote:
		a.emit(a.lock.ReleaseRemote(m.Handoff))
		kit.Reply(ctx, a.status())
	}
}
