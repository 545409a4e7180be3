package kit

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/messages"
)

// Child is a top-level actor of a Root: its name and the props it is
// spawned from, at start and again when it is respawned.
type Child struct {
	Name  string
	Props *actor.Props
}

// RootOptions configure the root supervisor.
type RootOptions struct {
	// Children are spawned in this order when the root starts.
	Children []Child
	// Child is the policy for each child: restarts with backoff, and, once
	// its budget is spent, a respawn (Budget must be positive).
	Child Backoff
	// Tree is the policy for the respawns, counted over the whole tree:
	// they wait Tree's delay, and once its budget is spent the tree cannot
	// recover.
	Tree Backoff
	// Publish receives every decision; Unrecoverable is called once, with
	// the reason, when the Tree budget is spent.
	Publish       func(messages.SupervisionEvent)
	Unrecoverable func(reason string)
	Now           func() time.Time
}

// DefaultChildBackoff is the top-level actors' policy: restarts after
// 10 ms doubling to 2 s; a child that fails more than five times in quick
// succession is in a crash loop and is respawned.
var DefaultChildBackoff = Backoff{Initial: 10 * time.Millisecond, Max: 2 * time.Second, Jitter: 0.2, HalfLife: 30 * time.Second, Budget: 5}

// DefaultTreeBackoff is the policy of respawns: after 1 s doubling to 10 s;
// more than three respawns within minutes mean the daemon cannot recover by
// itself.
var DefaultTreeBackoff = Backoff{Initial: time.Second, Max: 10 * time.Second, Jitter: 0.2, HalfLife: 5 * time.Minute, Budget: 3}

// TreeReady is answered by the root once every child has been spawned.
type TreeReady struct{}

type respawn struct{ name string }

// root escalates in steps, as thejerf/suture does with its failure decay:
// a failed child is restarted with backoff; a child that spends its budget
// is stopped and spawned afresh from its props (a new mailbox and context,
// the same cell); and when respawns themselves spend the tree's budget,
// the tree reports that it cannot recover, so that the process exits and
// its own supervisor (systemd) starts it again, rather than run on with a
// dead part.
type root struct {
	opt      RootOptions
	ctx      actor.Context
	props    map[string]*actor.Props
	children map[string]FailureState // HandleFailure runs on the root's goroutine
	tree     FailureState
	pending  map[string]time.Duration // stopped for a respawn, after this delay
	stopping bool
	gaveUp   bool
}

// RootProps returns the props of a root supervisor.
func RootProps(opt RootOptions) *actor.Props {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	props := map[string]*actor.Props{}
	for _, c := range opt.Children {
		props[c.Name] = c.Props
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &root{opt: opt, props: props, children: map[string]FailureState{}, pending: map[string]time.Duration{}}
	})
}

var _ actor.SupervisorStrategy = (*root)(nil)

// Receive implements actor.Actor.
func (r *root) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.ctx = ctx
		for _, c := range r.opt.Children {
			if _, err := ctx.SpawnNamed(c.Props, c.Name); err != nil {
				panic(fmt.Errorf("spawning %s: %w", c.Name, err))
			}
		}
	case *actor.Stopping:
		r.stopping = true
	case *TreeReady:
		Reply(ctx, struct{}{})
	case *actor.Terminated:
		name := r.name(m.Who)
		if d, ok := r.pending[name]; ok && !r.stopping {
			self, sys := ctx.Self(), ctx.ActorSystem().Root
			time.AfterFunc(d, func() { sys.Send(self, &respawn{name: name}) })
		}
	case *respawn:
		if _, ok := r.pending[m.name]; !ok || r.stopping {
			return
		}
		delete(r.pending, m.name)
		if _, err := ctx.SpawnNamed(r.props[m.name], m.name); err != nil {
			r.giveUp(fmt.Sprintf("cannot respawn %s: %v", m.name, err))
		}
	}
}

func (r *root) name(pid *actor.PID) string {
	return strings.TrimPrefix(pid.Id, r.ctx.Self().Id+"/")
}

func (r *root) publish(e messages.SupervisionEvent) {
	if r.opt.Publish != nil {
		e.DelayMS = float64(e.Delay) / float64(time.Millisecond)
		r.opt.Publish(e)
	}
}

// HandleFailure implements actor.SupervisorStrategy for the root's
// children. It runs on the root's goroutine.
func (r *root) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, _ any) {
	now := r.opt.Now()
	name := r.name(child)
	why := fmt.Sprint(reason)
	st, dir, delay := r.opt.Child.Decide(r.children[name], now, rand.Float64())
	r.children[name] = st
	ev := messages.SupervisionEvent{At: now, Child: child.Id, Reason: why, Directive: dir, Delay: delay,
		Failures: st.Failures, Budget: r.opt.Child.Budget}
	if dir == messages.DirectiveRestart {
		r.publish(ev)
		if delay <= 0 {
			sup.RestartChildren(child)
			return
		}
		// The child's mailbox stays suspended meanwhile: messages sent to
		// it wait and are delivered after the restart.
		time.AfterFunc(delay, func() { sup.RestartChildren(child) })
		return
	}
	// The child's budget is spent: a crash loop. Respawn it, if the tree
	// can still afford it.
	tst, tdir, tdelay := r.opt.Tree.Decide(r.tree, now, rand.Float64())
	r.tree = tst
	delete(r.children, name) // the respawned actor starts with a clean record
	if tdir == messages.DirectiveRestart && !r.gaveUp {
		ev.Directive, ev.Delay, ev.Failures, ev.Budget = messages.DirectiveRespawn, tdelay, tst.Failures, r.opt.Tree.Budget
		r.publish(ev)
		r.pending[name] = tdelay
		sup.StopChildren(child)
		return
	}
	ev.Directive, ev.Delay, ev.Failures, ev.Budget = messages.DirectiveUnrecoverable, 0, tst.Failures, r.opt.Tree.Budget
	r.publish(ev)
	sup.StopChildren(child)
	r.giveUp(fmt.Sprintf("%s keeps failing (%s) after %.0f respawns of crash-looping actors", name, why, tst.Failures-1))
}

func (r *root) giveUp(reason string) {
	if r.gaveUp {
		return
	}
	r.gaveUp = true
	if r.opt.Unrecoverable != nil {
		r.opt.Unrecoverable(reason)
	}
}
