package updater

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"reachyd/actors/kit"
	"reachyd/messages"
	"reachyd/messages/wire"
	"reachyd/selfupdate"
)

// Options configure the updater actor.
type Options struct {
	Updater *selfupdate.Updater
	// Jobs is the job register; Hub receives the update_progress frames.
	Jobs, Hub *actor.PID
	// Restart, called once after a successful install (RestartDelay later,
	// so that the job's last lines reach its watchers), restarts the
	// process on the new binary. nil: the new binary runs at the next
	// start.
	Restart      func()
	RestartDelay time.Duration
	// Cell keeps the core across restarts of the actor (required).
	Cell *Cell
	Log  *slog.Logger
}

// Cell holds the updater's core across restarts of the actor.
type Cell struct{ core Core }

// NewCell returns an idle updater's cell.
func NewCell() *Cell { return &Cell{} }

// Props returns the updater actor's props.
func Props(opt Options) *actor.Props {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.RestartDelay <= 0 {
		opt.RestartDelay = time.Second
	}
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{opt: opt, core: &opt.Cell.core} }, kit.CrashOption())
}

// Actor is the updater's shell.
type Actor struct {
	opt  Options
	core *Core
}

// checked is a start's availability check, back from its goroutine.
type checked struct {
	sender *actor.PID
	plan   selfupdate.Plan
	err    error
}

// jobEnded is a job's end, back from its goroutine.
type jobEnded struct {
	id        string
	installed bool
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.GetInstallSource:
		r := selfupdate.InstallSource(a.opt.Updater.Dir, a.opt.Updater.Current)
		kit.Reply(ctx, messages.InstallSource{Version: r.Version, Source: r.Source, GitRef: r.GitRef, Commit: r.Commit})
	case *messages.GetUpdateAvailable:
		if a.core.Busy() {
			kit.Reply(ctx, messages.ErrUpdateInProgress)
			return
		}
		a.background(ctx, func(c context.Context) any { return a.available(c, m.PreRelease) })
	case *messages.ValidateUpdateRef:
		ref := strings.TrimSpace(m.Ref)
		if ref == "" {
			kit.Reply(ctx, messages.ErrEmptyGitRef)
			return
		}
		a.background(ctx, func(c context.Context) any {
			_, problem, err := a.opt.Updater.ValidateRef(c, ref)
			if err != nil {
				return &messages.Error{Kind: messages.KindUnavailable, Reason: "update_source", Detail: "Release index error: " + err.Error()}
			}
			return messages.RefValidation{Valid: problem == "", Ref: m.Ref, Error: problem}
		})
	case *messages.StartUpdate:
		a.start(ctx, m)
	case *checked:
		a.checked(ctx, m)
	case *jobEnded:
		a.core.Ended(m.id, m.installed)
	}
}

// fetchTimeout bounds a check run for a request; the source has its own
// shorter timeout.
const fetchTimeout = 30 * time.Second

// background runs fn off the actor and sends its result to the asker.
func (a *Actor) background(ctx actor.Context, fn func(context.Context) any) {
	sender, root := ctx.Sender(), ctx.ActorSystem().Root
	go func() {
		c, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		r := fn(c)
		if sender != nil {
			root.Send(sender, r)
		}
	}()
}

func (a *Actor) available(ctx context.Context, pre bool) any {
	u := a.opt.Updater
	av, err := u.Check(ctx, pre)
	switch {
	case errors.Is(err, selfupdate.ErrUnreachable):
		// As the reference answers a connection error to PyPI.
		a.opt.Log.Warn("update check: release source unreachable", "err", err)
		return messages.UpdateAvailability{Current: u.Current, Available: "unknown"}
	case err != nil:
		return sourceError(err)
	}
	r := messages.UpdateAvailability{IsAvailable: av.Available, Current: u.Current, Available: "unknown"}
	if av.Latest != nil {
		r.Available = av.Latest.Version
	}
	return r
}

// sourceError is the 503 of an index that cannot be used; the data
// channel's start_update says the same text (spec 2.4).
func sourceError(err error) *messages.Error {
	return &messages.Error{Kind: messages.KindUnavailable, Reason: "update_source", Detail: "Update availability check failed: " + err.Error()}
}

// start begins an update: from a ref at once (the reference checks
// nothing before the job), else after checking that a newer release
// exists.
func (a *Actor) start(ctx actor.Context, m *messages.StartUpdate) {
	if err := a.core.Begin(); err != nil {
		kit.Reply(ctx, err)
		return
	}
	if m.FromRef {
		ref := strings.TrimSpace(m.Ref)
		if ref == "" {
			a.core.Abort()
			kit.Reply(ctx, messages.ErrEmptyGitRef)
			return
		}
		a.run(ctx, ctx.Sender(), selfupdate.Plan{Ref: ref})
		return
	}
	sender, self, root, u := ctx.Sender(), ctx.Self(), ctx.ActorSystem().Root, a.opt.Updater
	plan := selfupdate.Plan{PreRelease: m.PreRelease}
	go func() {
		c, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		av, err := u.Check(c, m.PreRelease)
		if err == nil && !av.Available {
			err = selfupdate.ErrNoUpdate
		}
		root.Send(self, &checked{sender: sender, plan: plan, err: err})
	}()
}

func (a *Actor) checked(ctx actor.Context, m *checked) {
	reply := func(v any) {
		if m.sender != nil {
			ctx.Send(m.sender, v)
		}
	}
	switch {
	case errors.Is(m.err, selfupdate.ErrNoUpdate):
		a.core.Abort()
		reply(messages.ErrNoUpdateAvailable)
	case m.err != nil:
		a.core.Abort()
		reply(sourceError(m.err))
	default:
		a.run(ctx, m.sender, m.plan)
	}
}

// run starts the job and answers its id.
func (a *Actor) run(ctx actor.Context, sender *actor.PID, plan selfupdate.Plan) {
	id := uuid.NewString()
	ctx.Send(a.opt.Jobs, &messages.RegisterJob{ID: id, Command: messages.UpdateJobCommand})
	ctx.Send(a.opt.Jobs, &messages.JobProgress{ID: id, Lines: []string{}})
	a.core.Started(id)
	if sender != nil {
		ctx.Send(sender, messages.JobStarted{JobID: id})
	}
	root, self, opt := ctx.ActorSystem().Root, ctx.Self(), a.opt
	log := opt.Log.With("component", "updater", "job", id)
	go func() {
		logf := func(line string) {
			log.Info(line)
			line = messages.PublicText(line)
			root.Send(opt.Jobs, &messages.JobProgress{ID: id, Lines: []string{line}})
			a.broadcast(root, progressFrame("in_progress", "line", line))
		}
		rel, err := opt.Updater.Install(context.Background(), plan, logf)
		if err == nil {
			logf("Restarting reachyd on " + rel.Version)
			root.Send(opt.Jobs, &messages.FinishJob{ID: id})
			a.broadcast(root, progressFrame("done", "", ""))
		} else {
			log.Error("update failed", "err", err)
			root.Send(opt.Jobs, &messages.FinishJob{ID: id, Err: err.Error()})
			a.broadcast(root, progressFrame("failed", "error", messages.PublicText(err.Error())))
		}
		root.Send(self, &jobEnded{id: id, installed: err == nil})
		if err == nil && opt.Restart != nil {
			// The job's watchers get its final batch before the restart
			// closes their sockets.
			time.Sleep(opt.RestartDelay)
			log.Info("restarting on the new binary", "version", rel.Version)
			opt.Restart()
		}
	}()
}

func (a *Actor) broadcast(root *actor.RootContext, frame []byte) {
	if a.opt.Hub != nil {
		root.Send(a.opt.Hub, &messages.Broadcast{Stream: messages.StreamSDK, Frame: frame})
	}
}

// progressFrame is the reference's update_progress broadcast:
// {"type":"update_progress","status":...,"line"|"error":...}.
func progressFrame(status, key, value string) []byte {
	o := wire.ObjStart(nil)
	o.String("type", "update_progress")
	o.String("status", status)
	if key != "" {
		o.String(key, value)
	}
	return o.End()
}
