package moves

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/actors/moves/motion"
	"reachyd/hw/kinematics"
	"reachyd/messages"
)

// Options configure the moves actor.
type Options struct {
	Config   Config
	Geometry kinematics.Geometry
	Library  motion.Library
	// Motorbus receives Goals and mode requests; Hub receives the state,
	// move events and frames; Daemon receives RobotReady.
	Motorbus *actor.PID
	Hub      *actor.PID
	Daemon   *actor.PID
	// Media plays the sequences' sound cues and uploaded audio (nil: no
	// media; the sounds only shape the sequences' timing).
	Media *actor.PID
	// Datasets, when set, is asked for a recorded move's dataset that is
	// not on disk (it downloads it), from the goroutine that loads the
	// move: the control tick never waits on a download.
	Datasets *actor.PID
	Log      *slog.Logger
	Cell     *Cell
	// UploadDir is where uploaded audio is stored (default: the system
	// temporary folder, as the reference does; the daemon keeps it in its
	// data folder, away from other users).
	UploadDir string
	// Now is the clock a move's acceptance is stamped with (default
	// time.Now); it must be the clock motorbus stamps its ticks with.
	Now func() time.Time
}

// Cell keeps the core's snapshot across restarts of the actor, and the
// upload store: uploads in progress and the audio files stored on disk
// (deleted after playback or when they expire) are not forgotten by a
// restart. Only the current incarnation touches the store.
type Cell struct {
	mu      sync.Mutex
	snap    Snapshot
	uploads *Uploads
}

func (c *Cell) uploadStore() *Uploads {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.uploads == nil {
		c.uploads = NewUploads()
	}
	return c.uploads
}

func (c *Cell) save(s Snapshot) {
	c.mu.Lock()
	c.snap = s
	c.mu.Unlock()
}

func (c *Cell) load() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

// Actor is the moves actor shell.
type Actor struct {
	opt     Options
	core    *Core
	log     *slog.Logger
	uploads *Uploads
	// playingAudio is the uploaded audio last sent to the speaker, which
	// cancel_audio stops.
	playingAudio string

	// lastRefusal and suppressed limit the warnings for refused
	// fire-and-forget requests (see warnRefused).
	lastRefusal time.Time
	suppressed  int
}

// refusalEvery is the least time between two warnings for refused
// fire-and-forget requests (a client streaming bad targets at 100 Hz).
const refusalEvery = 500 * time.Millisecond

// uploadRun is the Notify token of an uploaded move being played.
type uploadRun struct {
	id    string
	audio string
}

// Props returns the moves actor's props.
func Props(opt Options) *actor.Props {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Cell == nil {
		opt.Cell = &Cell{}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, log: opt.Log.With("actor", "moves")}
	}, kit.CrashOption())
}

// loaded is the result of loading a recorded move off the actor's goroutine.
type loaded struct {
	req    *messages.StartMove
	sender *actor.PID
	move   motion.Move
	err    error
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.core = New(a.opt.Config, kinematics.New(a.opt.Geometry))
		a.uploads = a.opt.Cell.uploadStore()
		a.execute(ctx, a.core.Restore(a.opt.Cell.load()))
	case *messages.SetSpeechOffsets:
		if err := a.core.SetSpeechOffsets(m.Offsets); err != nil {
			a.log.Warn("set_speech_offsets", "err", err)
		}
	case *messages.Upload:
		a.upload(ctx, m)
	case *messages.Present:
		a.execute(ctx, a.core.Present(*m))
	case *messages.Pinned:
		a.execute(ctx, a.core.Pinned(*m))
	case *messages.SetTargets:
		r, err := a.core.SetTargets(*m, ctx.Sender() != nil)
		a.reply(ctx, r, err)
		a.refused(ctx, "target", err)
	case *messages.SetHeadJoints:
		r, err := a.core.SetHeadJoints(m.Joints)
		a.reply(ctx, r, err)
		a.refused(ctx, "head joints", err)
	case *messages.SetAutomaticBodyYaw:
		a.core.SetAutomaticBodyYaw(m.On)
		a.save()
		kit.Reply(ctx, struct{}{})
	case *messages.StartMove:
		if m.Kind == messages.MoveRecorded {
			a.load(ctx, m)
			return
		}
		a.start(ctx, ctx.Sender(), m, nil)
	case *loaded:
		if m.err != nil {
			a.send(ctx, m.sender, m.err)
			if m.sender == nil {
				a.warnRefused("recorded move", m.err)
			}
			return
		}
		a.start(ctx, m.sender, m.req, m.move)
	case *messages.StopMove:
		fx, err := a.core.Stop(m.ID)
		a.execute(ctx, fx)
		a.reply(ctx, messages.MoveStopped{ID: m.ID, Stopped: err == nil}, err)
	case *messages.StopAllMoves:
		fx, stopped := a.core.StopAll()
		a.execute(ctx, fx)
		kit.Reply(ctx, messages.MoveStopped{Stopped: stopped})
	case *messages.ListMoves:
		kit.Reply(ctx, messages.RunningMoves{IDs: a.core.Running()})
	case *messages.ListDataset:
		a.list(ctx, m)
	case *messages.StartRecording:
		a.core.StartRecording()
		a.save()
		kit.Reply(ctx, struct{}{})
	case *messages.AppendRecord:
		if err := a.core.AppendRecord(m.Record); err != nil {
			a.log.Warn("append_record", "err", err)
		}
	case *messages.StopRecording:
		a.execute(ctx, a.core.StopRecording())
		kit.Reply(ctx, struct{}{})
	case *messages.IsIdle:
		kit.Reply(ctx, messages.Idle{Idle: a.core.IsIdle()})
	case *messages.GetPresent:
		if s := a.core.LatestState(); s != nil {
			kit.Reply(ctx, s)
		} else {
			kit.Reply(ctx, messages.ErrBackendNotRunning)
		}
	}
}

func (a *Actor) reply(ctx actor.Context, v any, err error) {
	if err != nil {
		kit.Reply(ctx, err)
		return
	}
	kit.Reply(ctx, v)
}

// refused reports a refused fire-and-forget request (a streamed target out
// of range, say): nobody waits for an answer, so it is logged instead of
// being dropped without a word.
func (a *Actor) refused(ctx actor.Context, what string, err error) {
	if err != nil && ctx.Sender() == nil {
		a.warnRefused(what, err)
	}
}

// warnRefused logs a refusal, at most one line every refusalEvery.
func (a *Actor) warnRefused(what string, err error) {
	now := a.opt.Now()
	if now.Sub(a.lastRefusal) < refusalEvery {
		a.suppressed++
		return
	}
	a.lastRefusal = now
	if a.suppressed > 0 {
		a.log.Warn(what+" refused", "err", err, "more_refused_since_last_warning", a.suppressed)
	} else {
		a.log.Warn(what+" refused", "err", err)
	}
	a.suppressed = 0
}

// send answers an ask later, from the saved sender.
func (a *Actor) send(ctx actor.Context, to *actor.PID, v any) {
	if to != nil {
		ctx.Send(to, v)
	}
}

func (a *Actor) start(ctx actor.Context, sender *actor.PID, m *messages.StartMove, rec motion.Move) {
	req := StartRequest{
		ID: m.ID, Kind: m.Kind, Origin: m.Origin, Goto: m.Goto, Recorded: rec,
		InitialGoto: m.InitialGoto, Force: m.Force, Preempt: m.Preempt, At: a.opt.Now(),
	}
	if m.Notify != nil {
		req.Notify = m.Notify
	}
	fx, err := a.core.Start(req)
	if err != nil {
		// A refused SDK task is answered by its task_progress (in fx).
		a.execute(ctx, fx)
		if sender == nil && m.Origin != messages.OriginSDK {
			a.warnRefused(string(m.Kind), err)
		}
		a.send(ctx, sender, err)
		if m.Notify != nil {
			ctx.Send(m.Notify, &messages.MoveDone{ID: m.ID, Result: messages.MoveFailed, Detail: err.Error()})
		}
		return
	}
	a.execute(ctx, fx)
	a.send(ctx, sender, messages.MoveAccepted{ID: m.ID})
}

// load reads a recorded move without blocking the control tick.
func (a *Actor) load(ctx actor.Context, m *messages.StartMove) {
	self, sender, root, lib, ds := ctx.Self(), ctx.Sender(), ctx.ActorSystem().Root, a.opt.Library, a.opt.Datasets
	go func() {
		mv, err := lib.Load(m.Dataset, m.Move)
		if errors.Is(err, motion.ErrDatasetNotFound) && ds != nil {
			// Not on disk: the datasets actor downloads it (or says why
			// not), then the move is loaded again.
			r, ferr := root.RequestFuture(ds, &messages.EnsureDataset{Dataset: m.Dataset}, messages.DatasetWait).Result()
			if ferr == nil {
				ferr, _ = r.(error)
			}
			if ferr != nil {
				root.Send(self, &loaded{req: m, sender: sender, err: fetchError(ferr)})
				return
			}
			mv, err = lib.Load(m.Dataset, m.Move)
		}
		res := &loaded{req: m, sender: sender, err: datasetError(err)}
		if err == nil {
			res.move = mv
		}
		root.Send(self, res)
	}()
}

func (a *Actor) list(ctx actor.Context, m *messages.ListDataset) {
	sender, root, lib := ctx.Sender(), ctx.ActorSystem().Root, a.opt.Library
	if sender == nil {
		return
	}
	go func() {
		names, err := lib.List(m.Dataset)
		if err != nil {
			root.Send(sender, datasetError(err))
			return
		}
		root.Send(sender, messages.DatasetMoves{Moves: names})
	}()
}

// fetchError is what the datasets actor answered, as an error for the
// move's asker.
func fetchError(err error) error {
	var me *messages.Error
	if errors.As(err, &me) {
		return me
	}
	return &messages.Error{Kind: messages.KindUnavailable, Detail: fmt.Sprintf("recorded move: the dataset could not be made available: %v", err)}
}

// datasetError maps library errors to the reference's 404s.
func datasetError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, motion.ErrDatasetNotFound):
		return &messages.Error{Kind: messages.KindNotFound, Reason: messages.ErrDatasetNotFound.Reason, Detail: err.Error()}
	case errors.Is(err, motion.ErrMoveNotFound):
		return &messages.Error{Kind: messages.KindNotFound, Detail: err.Error()}
	case errors.Is(err, motion.ErrBadName):
		return &messages.Error{Kind: messages.KindNotFound, Detail: err.Error()}
	}
	return &messages.Error{Kind: messages.KindInternal, Detail: fmt.Sprintf("loading recorded move: %v", err)}
}

// execute performs a step's effects, in order.
func (a *Actor) execute(ctx actor.Context, fx Effects) {
	if fx.Goals != nil && a.opt.Motorbus != nil {
		ctx.Send(a.opt.Motorbus, fx.Goals)
	}
	for _, mode := range fx.Modes {
		ctx.Send(a.opt.Motorbus, &messages.SetMotorMode{Mode: mode})
	}
	if a.opt.Hub != nil {
		if fx.State != nil {
			ctx.Send(a.opt.Hub, fx.State)
		}
		for i := range fx.Events {
			ctx.Send(a.opt.Hub, &fx.Events[i])
		}
		for i := range fx.Tasks {
			ctx.Send(a.opt.Hub, &fx.Tasks[i])
		}
		if fx.Recorded != nil {
			ctx.Send(a.opt.Hub, fx.Recorded)
		}
	}
	for _, d := range fx.Done {
		switch n := d.Notify.(type) {
		case *actor.PID:
			if n != nil {
				msg := d.Msg
				ctx.Send(n, &msg)
			}
		case uploadRun:
			a.uploadEnded(ctx, n, d.Msg)
		}
	}
	for _, s := range fx.Sounds {
		if a.opt.Media != nil {
			ctx.Send(a.opt.Media, &messages.PlaySound{File: s})
		} else {
			a.log.Debug("sound cue without media", "file", s)
		}
	}
	for _, w := range fx.Warnings {
		a.log.Warn(w)
	}
	if fx.WakeUpDone {
		ctx.ActorSystem().EventStream.Publish(messages.WakeUpDone{})
	}
	if fx.Ready && a.opt.Daemon != nil {
		ctx.Send(a.opt.Daemon, &messages.RobotReady{})
	}
	if fx.SaveNeeded {
		a.save()
	}
}

func (a *Actor) save() { a.opt.Cell.save(a.core.Snapshot()) }
