package apps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"reachyd/actors/apps/procs"
	"reachyd/actors/apps/store"
	"reachyd/actors/kit"
	"reachyd/hfauth"
	"reachyd/messages"
)

// Options configure the app manager.
type Options struct {
	Store *store.Store
	HF    store.HF
	// TokenPath is huggingface_hub's token file (read at each use: a login
	// or logout takes effect at once).
	TokenPath string
	Lock      *actor.PID
	Jobs      *actor.PID
	Moves     *actor.PID
	Daemon    *actor.PID
	Appmon    *actor.PID
	// RecordPath is the pid file of the running app, for a restarted
	// daemon to end what a dead one left.
	RecordPath string
	// StopGrace is how long an app has to exit after SIGINT (20 s).
	StopGrace time.Duration
	// LocalDirs are the folders apps may be installed from over TCP
	// (--apps-local-dir); none by default. Callers on the unix socket with
	// reachyd's uid or root may install from any path.
	LocalDirs []string
	Log       *slog.Logger
	Cell      *Cell
	// Hub, Media and Motorbus serve the startup app's antenna watcher
	// (startup.go): the robot's state, the wake-up sound, the motors. With
	// no Hub the watcher is off.
	Hub, Media, Motorbus *actor.PID
	// Relay is the central signalling relay (nil: none). A start that
	// evicts a remote session waits for the relay to end it before the
	// app's process starts (spec 5.4).
	Relay *actor.PID
}

// Cell keeps the running app across restarts of the manager.
type Cell struct {
	mu       sync.Mutex
	cur      *Run
	nextID   uint64
	orphans  bool
	startedA bool // the startup app was started once
	// cancels holds the cancel functions of the background jobs (installs,
	// updates, removals) still running: they outlive a restart of the
	// manager, so their cancellation must too.
	cancels map[string]context.CancelFunc
	// startup is the startup app's install and watcher state (startup.go).
	startup startupCell
}

// inUse reports whether the app called name has (or may have) a process:
// starting, running or stopping. Safe from any goroutine: installs ask it
// from their jobs, under the store's lock.
func (c *Cell) inUse(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.cur.Name != name {
		return false
	}
	switch c.cur.State {
	case messages.AppStarting, messages.AppRunning, messages.AppStopping:
		return true
	}
	return false
}

// inUseLike is inUse with names compared as SameName does: for refusing a
// request before any job starts.
func (c *Cell) inUseLike(name string) (string, bool) {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur == nil || !store.SameName(cur.Name, name) {
		return "", false
	}
	return cur.Name, c.inUse(cur.Name)
}

func (c *Cell) save(core *Core) {
	c.mu.Lock()
	c.cur, c.nextID = core.Snapshot()
	c.mu.Unlock()
}

type pending struct {
	kind   string // "start", "stop", "restart"
	sender *actor.PID
}

// Actor is the app manager.
type Actor struct {
	opt     Options
	log     *slog.Logger
	core    Core
	waiting map[uint64][]pending
	unsub   func()
	cache   *updatesCache
	watch   watchState
}

type updatesCache struct {
	at  time.Time
	res messages.AppUpdates
}

// Props returns the app manager's props.
func Props(opt Options, s *kit.System) *actor.Props {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.StopGrace <= 0 {
		opt.StopGrace = 20 * time.Second
	}
	if opt.Cell == nil {
		opt.Cell = &Cell{}
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, log: opt.Log.With("actor", "apps"), waiting: map[uint64][]pending{}}
	}, kit.CrashOption())
}

// internal messages
type (
	startReady struct {
		req    *messages.StartApp
		run    *Run
		sender *actor.PID
		launch store.Launch
		err    error
	}
	replyLater struct {
		to  *actor.PID
		msg any
	}
	updatesDone struct {
		res messages.AppUpdates
		err error
	}
)

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.started(ctx)
	case *actor.Stopping, *actor.Restarting:
		// The subscription is this incarnation's; the next one subscribes
		// again in Started.
		if a.unsub != nil {
			a.unsub()
			a.unsub = nil
		}
	case *messages.GetAppStatus:
		kit.Reply(ctx, messages.CurrentApp{Status: a.status(a.core.Current())})
	case *messages.StartApp:
		a.start(ctx, ctx.Sender(), m, "start")
	case *startReady:
		a.startLocked(ctx, m)
	case *appSpawned:
		a.spawned(ctx, m)
	case *appExited:
		a.exited(ctx, m)
	case *messages.StopApp:
		a.stop(ctx, ctx.Sender(), "stop")
	case *messages.RestartApp:
		a.stop(ctx, ctx.Sender(), "restart")
	case *messages.ListApps:
		a.list(ctx, m)
	case *messages.InstallApp:
		a.install(ctx, m)
	case *messages.InstallPrivateSpace:
		a.installPrivate(ctx, m.SpaceID)
	case *messages.RemoveApp:
		a.remove(ctx, m.Name)
	case *messages.UpdateApp:
		a.update(ctx, m.Name)
	case *messages.GetStartupApp:
		a.getStartup(ctx)
	case *messages.SetStartupApp:
		a.setStartup(ctx, m.Name)
	case messages.WakeUpDone:
		a.wakeUpDone(ctx)
	case *messages.CheckAppUpdates:
		a.checkUpdates(ctx, m.Force)
	case *updatesDone:
		if m.err == nil {
			a.cache = &updatesCache{at: time.Now(), res: m.res}
		}
	case *messages.CancelJob:
		a.cancelJob(ctx, m.ID)
	case *messages.ResetApps:
		a.reset(ctx)
	case *startupLoaded, *watchTick, *startupInstalled, *messages.MoveDone:
		a.startupMsg(ctx, m)
	case *messages.CancelInstalls:
		a.cancelAll()
	case *replyLater:
		ctx.Send(m.to, m.msg)
	}
}

func (a *Actor) started(ctx actor.Context) {
	c := a.opt.Cell
	c.mu.Lock()
	a.core.Restore(c.cur, c.nextID)
	first := !c.orphans
	c.orphans = true
	c.mu.Unlock()
	if first {
		a.endOrphans()
		// Half-done installs of a daemon that died or was stopped.
		if err := a.opt.Store.Cleanup(); err != nil {
			a.log.Warn("cannot clear the apps' staging folder", "err", err)
		}
	}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	sub := ctx.ActorSystem().EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(messages.WakeUpDone); ok {
			root.Send(self, e)
		}
	})
	a.unsub = func() { ctx.ActorSystem().EventStream.Unsubscribe(sub) }
	a.startupStarted(ctx)
}

// endOrphans ends an app left running by a daemon that died.
func (a *Actor) endOrphans() {
	if a.opt.RecordPath == "" {
		return
	}
	r, err := procs.ReadRecord(a.opt.RecordPath)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			a.log.Warn("unreadable app pid file", "err", err)
			_ = procs.RemoveRecord(a.opt.RecordPath)
		}
		return
	}
	n, err := procs.EndOrphans(r, 3*time.Second)
	if err != nil {
		a.log.Warn("could not end the app a previous daemon left running", "app", r.Name, "pid", r.Pid, "err", err)
	} else if n > 0 {
		a.log.Warn("ended the app a previous daemon left running", "app", r.Name, "pid", r.Pid, "processes", n)
	}
	_ = procs.RemoveRecord(a.opt.RecordPath)
}

func (a *Actor) save() { a.opt.Cell.save(&a.core) }

// status renders a run as the reference's AppStatus.
func (a *Actor) status(r *Run) *messages.AppStatus {
	if r == nil {
		return nil
	}
	return &messages.AppStatus{
		Info:  messages.AppInfo{Name: r.Name, SourceKind: "installed", Extra: map[string]any{}},
		State: r.State, Error: r.Error, JobID: r.JobID, Pid: r.Pid,
	}
}

func errNotInstalled(name string) error {
	return &messages.Error{Kind: messages.KindNotFound, Detail: fmt.Sprintf("App '%s' is not installed", name), Reason: "not_installed"}
}

// start begins starting an app: the slot, then the process. The run is
// saved as starting before the store is read for its launch: an install
// that takes the store's lock after that sees the app in use and leaves
// its folder alone, and one that holds the lock is finished before the
// launch is read.
func (a *Actor) start(ctx actor.Context, sender *actor.PID, m *messages.StartApp, kind string) {
	notInstalled := func(err error) error {
		if errors.Is(err, store.ErrNotInstalled) || errors.Is(err, store.ErrInvalidName) {
			return errNotInstalled(m.Name)
		}
		return &messages.Error{Kind: messages.KindInternal, Detail: err.Error()}
	}
	if _, err := a.opt.Store.Get(m.Name); err != nil {
		a.answer(ctx, sender, notInstalled(err))
		return
	}
	jobID := uuid.NewString()
	run, err := a.core.Begin(m.Name, jobID, m.Mode)
	if err != nil {
		a.answer(ctx, sender, err)
		return
	}
	a.save()
	launch, err := a.opt.Store.Launch(m.Name)
	if err != nil {
		a.core.Abort(run.ID)
		a.save()
		a.answer(ctx, sender, notInstalled(err))
		return
	}
	kit.AskFrom(ctx, a.opt.Lock, &messages.AcquireLocal{Name: m.Name, Mode: m.Mode}, 5*time.Second, func(reply any, err error) {
		ready := &startReady{req: m, run: run, sender: sender, launch: launch, err: err}
		if st, ok := reply.(messages.LockStatus); err == nil && ok && st.Evicted && a.opt.Relay != nil {
			// The remote client goes first: the app starts once the relay
			// has torn its session down (or could not say so in time, in
			// which case the producer's own teardown still follows).
			kit.AskFrom(ctx, a.opt.Relay, &messages.EvictRemote{Reason: "local_app_started"}, evictTimeout, func(_ any, err error) {
				if err != nil {
					a.log.Warn("the relay did not confirm the eviction of the remote session", "err", err)
				}
				ctx.Send(ctx.Self(), ready)
			})
			return
		}
		ctx.Send(ctx.Self(), ready)
	})
	a.waiting[run.ID] = append(a.waiting[run.ID], pending{kind: kind, sender: sender})
}

func (a *Actor) answer(ctx actor.Context, to *actor.PID, msg any) {
	if to != nil {
		ctx.Send(to, msg)
	}
}

// answerRun answers every request waiting on a run.
func (a *Actor) answerRun(ctx actor.Context, id uint64, kinds []string, msg any) {
	var keep []pending
	for _, p := range a.waiting[id] {
		match := false
		for _, k := range kinds {
			if p.kind == k {
				match = true
			}
		}
		if match {
			a.answer(ctx, p.sender, msg)
		} else {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		delete(a.waiting, id)
	} else {
		a.waiting[id] = keep
	}
}

// evictTimeout bounds the wait for a remote session's teardown before a
// local app starts.
const evictTimeout = 10 * time.Second

func (a *Actor) startLocked(ctx actor.Context, m *startReady) {
	if m.err != nil {
		a.core.Abort(m.run.ID)
		a.save()
		a.answerRun(ctx, m.run.ID, []string{"start", "restart"}, m.err)
		return
	}
	// The slot is ours: cancel any idle reset (the lock event does) and
	// start the process, its output going to a job.
	ctx.Send(a.opt.Jobs, &messages.RegisterJob{ID: m.run.JobID, Command: "app " + m.run.Name, Runner: ctx.Self()})
	ctx.Send(a.opt.Jobs, &messages.JobProgress{ID: m.run.JobID, Lines: []string{"Starting app " + m.run.Name}})
	ctx.Send(a.opt.Appmon, &spawnMonitor{
		RunID: m.run.ID, Name: m.run.Name, JobID: m.run.JobID, Record: a.opt.RecordPath,
		Spec: procs.Spec{Name: m.run.Name, Path: m.launch.Path, Args: m.launch.Args, Dir: m.launch.Dir, Env: m.launch.Env},
	})
}

func (a *Actor) spawned(ctx actor.Context, m *appSpawned) {
	cur := a.core.Current()
	if cur == nil || cur.ID != m.RunID {
		return
	}
	if m.Err != nil {
		a.log.Error("cannot start the app", "app", cur.Name, "err", m.Err)
		a.core.Abort(m.RunID)
		a.save()
		ctx.Send(a.opt.Lock, &messages.ReleaseLocal{Name: cur.Name})
		ctx.Send(a.opt.Jobs, &messages.FinishJob{ID: cur.JobID, Err: m.Err.Error()})
		a.answerRun(ctx, m.RunID, []string{"start", "restart"}, &messages.Error{Kind: messages.KindBadRequest, Detail: "cannot start the app: " + m.Err.Error()})
		return
	}
	starting := a.status(a.core.Current())
	a.core.Spawned(m.RunID, m.Pid, m.At)
	a.save()
	a.log.Info("app running", "app", cur.Name, "pid", m.Pid)
	starting.Pid = m.Pid
	a.answerRun(ctx, m.RunID, []string{"start", "restart"}, *starting)
}

// exited handles the end of an app's process, whatever ended it.
func (a *Actor) exited(ctx actor.Context, m *appExited) {
	cur := a.core.Current()
	stopping, current := a.core.Exited(m.RunID, m.Exit)
	if !current {
		return
	}
	a.log.Info("app exited", "app", cur.Name, "status", m.Exit.Text)
	// The lock is released on every exit path; the app's moves end with it.
	ctx.Send(a.opt.Lock, &messages.ReleaseLocal{Name: cur.Name})
	ctx.Send(a.opt.Moves, &messages.StopAllMoves{})
	jobErr := ""
	if !stopping && (m.Exit.Code != 0 || m.Exit.Signal != "") {
		jobErr = ExitText(m.Exit)
	}
	ctx.Send(a.opt.Jobs, &messages.JobProgress{ID: cur.JobID, Lines: []string{m.Exit.Text}})
	ctx.Send(a.opt.Jobs, &messages.FinishJob{ID: cur.JobID, Err: jobErr})
	if stopping {
		a.finishStop(ctx, cur)
	}
	a.save()
}

// stop stops the current app (and, for a restart, starts it again).
func (a *Actor) stop(ctx actor.Context, sender *actor.PID, kind string) {
	run, alive, err := a.core.BeginStop()
	if err != nil {
		a.answer(ctx, sender, err)
		return
	}
	a.save()
	a.waiting[run.ID] = append(a.waiting[run.ID], pending{kind: kind, sender: sender})
	if !alive {
		// A crashed app: its process is gone and its slot already freed.
		a.finishStop(ctx, run)
		return
	}
	a.log.Info("stopping app", "app", run.Name, "grace", a.opt.StopGrace)
	ctx.Send(a.opt.Appmon, &stopMonitor{RunID: run.ID, Grace: a.opt.StopGrace})
}

// finishStop returns the robot to rest, forgets the app and answers the
// stop (or starts the app again for a restart).
func (a *Actor) finishStop(ctx actor.Context, run *Run) {
	ctx.Send(a.opt.Moves, &messages.StartMove{ID: uuid.NewString(), Kind: messages.MoveAppStopped, Origin: messages.OriginDaemon})
	a.core.Stopped(run.ID)
	a.save()
	waiting := a.waiting[run.ID]
	delete(a.waiting, run.ID)
	for _, p := range waiting {
		switch p.kind {
		case "stop":
			a.answer(ctx, p.sender, struct{}{})
		case "restart":
			// As the reference: the new start evicts a remote session.
			a.start(ctx, p.sender, &messages.StartApp{Name: run.Name, Mode: messages.LockEvict}, "restart")
		}
	}
}

// ---- startup app -----------------------------------------------------------

const startupKey = "startup_app"

func (a *Actor) getStartup(ctx actor.Context) {
	sender := ctx.Sender()
	kit.AskFrom(ctx, a.opt.Daemon, &messages.GetSetting{Key: startupKey}, 3*time.Second, func(reply any, err error) {
		if err != nil {
			a.answer(ctx, sender, err)
			return
		}
		a.answer(ctx, sender, messages.StartupApp{Name: settingString(reply)})
	})
}

func settingString(reply any) string {
	s, ok := reply.(messages.Setting)
	if !ok || s.Raw == nil {
		return ""
	}
	var name *string
	if json.Unmarshal(s.Raw, &name) != nil || name == nil {
		return ""
	}
	return *name
}

func (a *Actor) setStartup(ctx actor.Context, name string) {
	if name != "" {
		if _, err := a.opt.Store.Get(name); err != nil {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: fmt.Sprintf("App '%s' is not installed", name)})
			return
		}
	}
	var raw []byte
	if name != "" {
		raw, _ = json.Marshal(name)
	}
	sender := ctx.Sender()
	kit.AskFrom(ctx, a.opt.Daemon, &messages.PutSetting{Key: startupKey, Raw: raw}, 3*time.Second, func(_ any, err error) {
		if err != nil {
			a.answer(ctx, sender, err)
			return
		}
		a.answer(ctx, sender, messages.StartupApp{Name: name})
		a.armStartup(ctx, name, false)
	})
}

// wakeUpDone starts the startup app after the first completed wake-up,
// without evicting a remote session, as the reference does.
func (a *Actor) wakeUpDone(ctx actor.Context) {
	c := a.opt.Cell
	c.mu.Lock()
	done := c.startedA
	c.startedA = true
	c.mu.Unlock()
	if done || a.core.Running() {
		return
	}
	kit.AskFrom(ctx, a.opt.Daemon, &messages.GetSetting{Key: startupKey}, 3*time.Second, func(reply any, err error) {
		name := settingString(reply)
		if err != nil || name == "" {
			return
		}
		if a.deferStartupStart(name) {
			a.log.Info("the startup app starts once its install ends", "app", name)
			return
		}
		a.log.Info("starting the startup app", "app", name)
		a.start(ctx, nil, &messages.StartApp{Name: name, Mode: messages.LockTry}, "start")
	})
}

// ---- installs --------------------------------------------------------------

// job runs fn in the background as a job reported to the register. The job
// can be cancelled (CancelJob, or CancelInstalls at shutdown): fn's context
// ends and the job fails with "cancelled".
func (a *Actor) job(ctx actor.Context, command string, fn func(ctx context.Context, logf func(string)) error) string {
	id := uuid.NewString()
	jobs, root := a.opt.Jobs, ctx.ActorSystem().Root
	root.Send(jobs, &messages.RegisterJob{ID: id, Command: command, Runner: ctx.Self()})
	root.Send(jobs, &messages.JobProgress{ID: id, Lines: []string{}})
	jctx, cancel := context.WithCancel(context.Background())
	c := a.opt.Cell
	c.mu.Lock()
	if c.cancels == nil {
		c.cancels = map[string]context.CancelFunc{}
	}
	c.cancels[id] = cancel
	c.mu.Unlock()
	go func() {
		defer func() {
			c.mu.Lock()
			delete(c.cancels, id)
			c.mu.Unlock()
			cancel()
		}()
		logf := func(line string) { root.Send(jobs, &messages.JobProgress{ID: id, Lines: []string{line}}) }
		err := fn(jctx, logf)
		msg := ""
		switch {
		case jctx.Err() != nil:
			msg = messages.ErrJobCancelled
		case err != nil:
			msg = err.Error()
		}
		root.Send(jobs, &messages.FinishJob{ID: id, Err: msg})
	}()
	return id
}

// cancelJob cancels a background job, or stops the app whose run the job
// is. The register only forwards jobs it knows to be running.
func (a *Actor) cancelJob(ctx actor.Context, id string) {
	c := a.opt.Cell
	c.mu.Lock()
	cancel := c.cancels[id]
	c.mu.Unlock()
	switch cur := a.core.Current(); {
	case cancel != nil:
		cancel()
	case cur != nil && cur.JobID == id:
		// An app already stopping makes this a no-op.
		a.stop(ctx, nil, "stop")
	default:
		kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: "Job already finished", Reason: "job_finished"})
		return
	}
	kit.Reply(ctx, messages.JobCancelling{JobID: id})
}

// cancelAll cancels every background job.
func (a *Actor) cancelAll() {
	c := a.opt.Cell
	c.mu.Lock()
	for _, cancel := range c.cancels {
		cancel()
	}
	c.mu.Unlock()
}

// token is the token huggingface_hub's get_token() would give: $HF_TOKEN,
// else the token file.
func (a *Actor) token() string {
	if a.opt.TokenPath == "" {
		return hfauth.EnvToken()
	}
	return (&hfauth.Store{Path: a.opt.TokenPath}).Token()
}

func (a *Actor) hf() store.HF {
	h := a.opt.HF
	if h.Token == "" {
		h.Token = a.token()
	}
	return h
}

// guard is what every install, update and removal checks: the app asked
// for (name, "" for none) and whether an app runs.
func (a *Actor) guard(name string) store.Guard {
	return store.Guard{Name: name, InUse: a.opt.Cell.inUse}
}

// errRunning is the 409 of an install, update or removal of the app that
// runs.
func errRunning(verb, name string) error {
	return &messages.Error{Kind: messages.KindConflict, Reason: "app_running",
		Detail: fmt.Sprintf("Cannot %s '%s' while it is running. Please stop it first.", verb, name)}
}

func errMismatch(detail string) error {
	return &messages.Error{Kind: messages.KindConflict, Reason: "app_name_mismatch", Detail: detail}
}

// errLocalNotAllowed is the 403 of a local install from a path the caller
// may not read. It names no folder: the caller may be anyone on the network.
var errLocalNotAllowed = &messages.Error{Kind: messages.KindForbidden, Reason: "local_path_not_allowed",
	Detail: "Installing from a local path is allowed only from the folders given to reachyd with --apps-local-dir, " +
		"or over its unix socket; this path is not inside one of them."}

// install installs an app as a job: a Hugging Face space (the reference's
// only source over the API), or, as a reachyd extension, a local folder or
// archive given in extra.path. It refuses at once (409) the app that runs
// and an app whose name, as far as it is known before the job, is not the
// one asked for; the job checks again once the app's own name is known.
func (a *Actor) install(ctx actor.Context, m *messages.InstallApp) {
	info := m.Info
	a.cache = nil
	if name, running := a.opt.Cell.inUseLike(info.Name); running {
		kit.Reply(ctx, errRunning("install", name))
		return
	}
	switch info.SourceKind {
	case "hf_space":
		id, private, err := store.SpaceIDFromAppInfo(toStore(info))
		if err != nil {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: err.Error()})
			return
		}
		if app := id[strings.LastIndex(id, "/")+1:]; !store.SameName(info.Name, app) {
			kit.Reply(ctx, errMismatch(fmt.Sprintf("The space '%s' holds the app '%s', not '%s'.", id, app, info.Name)))
			return
		}
		st, hf, g := a.opt.Store, a.hf(), a.guard(info.Name)
		kit.Reply(ctx, messages.JobStarted{JobID: a.job(ctx, "install", func(jctx context.Context, logf func(string)) error {
			_, err := st.InstallSpace(jctx, hf, id, private, g, logf)
			if err != nil {
				return fmt.Errorf("Failed to install app '%s': %w", info.Name, err)
			}
			return nil
		})})
	case "local":
		path, _ := info.Extra["path"].(string)
		if path == "" || !filepath.IsAbs(path) {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: "a local install needs extra.path: the absolute path of an app folder or archive"})
			return
		}
		var src store.LocalSource
		var err error
		if m.LocalTrusted {
			src, err = store.AnyPath(path)
		} else {
			src, err = store.ResolveLocal(path, a.opt.LocalDirs)
		}
		switch {
		case errors.Is(err, store.ErrNotAllowed):
			a.log.Warn("local install refused: the path is outside --apps-local-dir", "app", info.Name, "path", path)
			kit.Reply(ctx, errLocalNotAllowed)
			return
		case err != nil:
			kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: err.Error()})
			return
		}
		if declared, _ := store.ManifestName(src); declared != "" && !store.SameName(declared, info.Name) {
			kit.Reply(ctx, errMismatch(fmt.Sprintf("The folder holds the app '%s', not '%s'.", declared, info.Name)))
			return
		}
		st, g := a.opt.Store, a.guard(info.Name)
		kit.Reply(ctx, messages.JobStarted{JobID: a.job(ctx, "install", func(jctx context.Context, logf func(string)) error {
			_, err := st.InstallLocalFrom(jctx, src, g, logf)
			if err != nil {
				return fmt.Errorf("Failed to install app '%s': %w", info.Name, err)
			}
			return nil
		})})
	default:
		kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: fmt.Sprintf("source_kind '%s' is not installable via the API", info.SourceKind)})
	}
}

func (a *Actor) installPrivate(ctx actor.Context, spaceID string) {
	hf := a.hf()
	if hf.Token == "" {
		kit.Reply(ctx, &messages.Error{Kind: messages.KindUnauthorized, Detail: "No HuggingFace token found. Please authenticate first."})
		return
	}
	if err := store.ValidSpaceID(spaceID); err != nil {
		kit.Reply(ctx, &messages.Error{Kind: messages.KindUnprocessable, Detail: err.Error()})
		return
	}
	// As the reference, the app asked for is the space's last segment.
	app := spaceID[strings.LastIndex(spaceID, "/")+1:]
	if name, running := a.opt.Cell.inUseLike(app); running {
		kit.Reply(ctx, errRunning("install", name))
		return
	}
	a.cache = nil
	st, g := a.opt.Store, a.guard(app)
	kit.Reply(ctx, messages.JobStarted{JobID: a.job(ctx, "install", func(jctx context.Context, logf func(string)) error {
		_, err := st.InstallSpace(jctx, hf, spaceID, true, g, logf)
		return err
	})})
}

func (a *Actor) runningName() string {
	if cur := a.core.Current(); cur != nil && a.core.Running() {
		return cur.Name
	}
	return ""
}

func (a *Actor) remove(ctx actor.Context, name string) {
	a.cache = nil
	running := a.runningName() == name
	st, g := a.opt.Store, a.guard("")
	// Removing the startup app clears it first, as the reference does.
	kit.AskFrom(ctx, a.opt.Daemon, &messages.GetSetting{Key: startupKey}, 3*time.Second, func(reply any, err error) {
		if err == nil && settingString(reply) == name {
			ctx.Send(a.opt.Daemon, &messages.PutSetting{Key: startupKey})
			a.armStartup(ctx, "", false)
		}
	})
	kit.Reply(ctx, messages.JobStarted{JobID: a.job(ctx, "remove", func(_ context.Context, logf func(string)) error {
		if running {
			return fmt.Errorf("Cannot remove '%s' while it is running. Please stop it first.", name)
		}
		if err := st.Remove(name, g, logf); err != nil {
			return fmt.Errorf("Failed to uninstall app '%s': %w", name, err)
		}
		return nil
	})})
}

// update reinstalls an app from its space. The app that runs is refused at
// once (409); the job refuses a space whose app is no longer this one.
func (a *Actor) update(ctx actor.Context, name string) {
	a.cache = nil
	if a.opt.Cell.inUse(name) {
		kit.Reply(ctx, errRunning("update", name))
		return
	}
	st, hf, g := a.opt.Store, a.hf(), a.guard(name)
	kit.Reply(ctx, messages.JobStarted{JobID: a.job(ctx, "update", func(jctx context.Context, logf func(string)) error {
		inst, err := st.Get(name)
		if err != nil {
			return err
		}
		if inst.Source.Kind != "hf_space" {
			return fmt.Errorf("app '%s' was not installed from a Hugging Face space", name)
		}
		_, err = st.InstallSpace(jctx, hf, inst.Source.SpaceID, inst.Source.Private, g, logf)
		return err
	})})
}

// ---- catalogue ---------------------------------------------------------------

func toStore(i messages.AppInfo) store.AppInfo {
	return store.AppInfo{Name: i.Name, SourceKind: i.SourceKind, Description: i.Description, URL: i.URL, Extra: i.Extra}
}

func fromStore(i store.AppInfo) messages.AppInfo {
	return messages.AppInfo{Name: i.Name, SourceKind: i.SourceKind, Description: i.Description, URL: i.URL, Extra: i.Extra}
}

func (a *Actor) installed() ([]messages.AppInfo, error) {
	list, err := a.opt.Store.List()
	if err != nil {
		return nil, err
	}
	out := make([]messages.AppInfo, 0, len(list))
	for _, i := range list {
		out = append(out, fromStore(store.InstalledInfo(i)))
	}
	return out, nil
}

// list answers from disk at once, and from the catalogue (network) in the
// background.
func (a *Actor) list(ctx actor.Context, m *messages.ListApps) {
	switch m.Source {
	case "installed":
		apps, err := a.installed()
		if err != nil {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindInternal, Detail: err.Error()})
			return
		}
		kit.Reply(ctx, messages.AppList{Apps: apps})
		return
	case "local":
		kit.Reply(ctx, messages.AppList{Apps: []messages.AppInfo{}})
		return
	}
	installed, err := a.installed()
	if err != nil {
		kit.Reply(ctx, &messages.Error{Kind: messages.KindInternal, Detail: err.Error()})
		return
	}
	sender, root, hf, log := ctx.Sender(), ctx.ActorSystem().Root, a.hf(), a.log
	go func() {
		cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var reply any
		switch m.Source {
		case "hf_space":
			apps, err := hf.ListSpaces(cctx)
			reply = catalogueReply(apps, err)
		case "dashboard_selection":
			apps, err := hf.DashboardSelection(cctx)
			reply = catalogueReply(apps, err)
		default:
			// Everything: the curated selection and the spaces, deduplicated
			// by space id, then the installed apps. An unreachable catalogue
			// leaves the installed apps.
			sel, err1 := hf.DashboardSelection(cctx)
			spaces, err2 := hf.ListSpaces(cctx)
			if err1 != nil || err2 != nil {
				log.Warn("Hugging Face catalogue unreachable; listing installed apps only", "err", errors.Join(err1, err2))
			}
			seen := map[string]bool{}
			out := []messages.AppInfo{}
			for _, app := range append(sel, spaces...) {
				id, _ := app.Extra["id"].(string)
				if id == "" || seen[id] {
					continue
				}
				seen[id] = true
				out = append(out, fromStore(app))
			}
			reply = messages.AppList{Apps: append(out, installed...)}
		}
		if sender != nil {
			root.Send(sender, reply)
		}
	}()
}

func catalogueReply(apps []store.AppInfo, err error) any {
	if err != nil {
		return &messages.Error{Kind: messages.KindUnavailable, Detail: "Hugging Face catalogue unreachable: " + err.Error()}
	}
	out := make([]messages.AppInfo, 0, len(apps))
	for _, a := range apps {
		out = append(out, fromStore(a))
	}
	return messages.AppList{Apps: out}
}

func (a *Actor) checkUpdates(ctx actor.Context, force bool) {
	if !force && a.cache != nil && time.Since(a.cache.at) < 5*time.Minute {
		kit.Reply(ctx, a.cache.res)
		return
	}
	sender, root, self, hf, st := ctx.Sender(), ctx.ActorSystem().Root, ctx.Self(), a.hf(), a.opt.Store
	go func() {
		cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ups, skipped, err := st.CheckUpdates(cctx, hf)
		var reply any
		res := messages.AppUpdates{Skipped: skipped, Checked: len(ups), Apps: []messages.AppUpdate{}}
		if err != nil {
			reply = &messages.Error{Kind: messages.KindUnavailable, Detail: "cannot check for updates: " + err.Error()}
		} else {
			for _, u := range ups {
				if u.UpdateAvailable {
					res.Apps = append(res.Apps, messages.AppUpdate{AppName: u.AppName, SpaceID: u.SpaceID, InstalledSHA: u.InstalledSHA,
						LatestSHA: u.LatestSHA, UpdateAvailable: true, LastModified: u.LastModified})
				}
			}
			reply = res
		}
		root.Send(self, &updatesDone{res: res, err: err})
		if sender != nil {
			root.Send(sender, reply)
		}
	}()
}
