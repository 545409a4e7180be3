package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"reachyd/actors/hub"
	"reachyd/actors/kit"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// Config is the daemon's static identity and backend description.
type Config struct {
	RobotName        string
	Version          string
	BackendKind      string // "robot", "mockup" or "sim": the backend_status shape
	BackendName      string // for humans, e.g. "sim" or "dynamixel /dev/ttyACM0"
	Simulation       bool   // simulation_enabled once started
	Mockup           bool   // mockup_sim_enabled once started
	NoMedia          bool
	CameraSpecsName  string
	WirelessVersion  bool
	DesktopAppDaemon bool
	ControlHz        float64
	DataDir          string
	HardwareID       string
	// SimStatus returns the MuJoCo simulation's status (nil: none); called
	// for each status, it must be cheap.
	SimStatus func() *messages.SimStatus
	// SimReset puts the physics simulation back in its initial state
	// (nil: no physics simulation).
	SimReset func() error
	// WlanIP returns the wireless interface's IPv4 address ("" when none):
	// the status's wlan_ip, reported with WirelessVersion only, as the
	// reference does (the SDK then reaches the WebRTC server there rather
	// than on localhost). Called for each status: it must be cheap.
	WlanIP func() string
}

// Options configure the daemon actor.
type Options struct {
	Config Config
	System *kit.System
	// Robot builds the props of the robot supervisor; the daemon passes its
	// own PID for RobotReady and the backend status.
	Robot func(daemon *actor.PID) *actor.Props
	Hub   *actor.PID
	Jobs  *actor.PID
	Log   *slog.Logger
	Now   func() time.Time
	// AfterFunc arms the lifecycle's and the idle reset's timers (default
	// time.AfterFunc; tests fire them by hand).
	AfterFunc func(time.Duration, func())
	// Apps is the app manager: a stop that puts the robot to sleep stops
	// the running app first, waiting for it at most AppStopTimeout
	// (default 25 s: the app's grace and its kill).
	Apps           *actor.PID
	AppStopTimeout time.Duration
	// Autostart, if set, starts the backend as soon as the daemon runs.
	Autostart *Autostart
	// Services are the actors pymirokai's get_services lists; Logs keeps
	// their recent log lines.
	Services []string
	Logs     *kit.LogRing
	// Media is the media actor's state, read for the status (nil without
	// media).
	Media MediaView
}

// MediaView is what the daemon reads of the media actor without asking it.
type MediaView interface {
	Status() messages.MediaStatus
}

// cell keeps what outlives a restart of the daemon actor. A restart of the
// daemon stops its robot child (protoactor stops an actor's children
// before it restarts it): the new incarnation starts the backend again,
// without the wake-up, if it ran, and does not run the boot's autostart
// again if it did not. The supervision events, the start time and the
// media flag carry over.
type cell struct {
	mu      sync.Mutex
	booted  bool // an incarnation ran: the boot's autostart is done
	backend bool // the backend ran (or was starting) when the last incarnation ended
	events  []messages.SupervisionEvent
	start   time.Time
	media   bool
}

// Shutdown stops the backend (with the sleep sequence if GotoSleep) and
// answers ShutdownDone when it is stopped.
type Shutdown struct{ GotoSleep bool }

// ShutdownDone answers Shutdown. Err says why the robot did not reach the
// sleep pose when it was asked to.
type ShutdownDone struct{ Err string }

// Autostart starts the backend at boot, without a job.
type Autostart struct{ WakeUp bool }

// Timers name the incarnation that armed them: generations restart with
// each incarnation's core, so a timer armed before a crash must not be
// taken for one of the new core's.
type timerFired struct {
	kind TimerKind
	gen  uint64
	from *Actor
}

type idleFired struct {
	gen  uint64
	from *Actor
}

type statusTick struct{}

// supervisionKeep is the number of supervision events kept for status.
const supervisionKeep = 20

// Actor is the daemon actor shell.
type Actor struct {
	opt    Options
	log    *slog.Logger
	core   *Core
	ctx    actor.Context
	robot  *actor.PID
	name   string
	media  bool // released
	events []messages.SupervisionEvent
	unsub  func()
	stopT  chan struct{}
	start  time.Time
	idle   IdleReset
	cell   *cell
}

// Props returns the daemon actor's props. The daemon is its robot's
// supervisor: see HandleFailure.
func Props(opt Options) *actor.Props {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.AppStopTimeout <= 0 {
		opt.AppStopTimeout = 25 * time.Second
	}
	if opt.AfterFunc == nil {
		opt.AfterFunc = func(d time.Duration, f func()) { time.AfterFunc(d, f) }
	}
	c := &cell{}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, log: opt.Log.With("actor", "daemon"), cell: c}
	}, kit.CrashOption())
}

var _ actor.SupervisorStrategy = (*Actor)(nil)

// HandleFailure receives the robot supervisor's escalations (a child spent
// its failure budget, or the robot actor itself crashed): the backend is
// stopped and the daemon reports the error, as the reference does when its
// backend thread dies. It runs on the daemon's own goroutine.
func (a *Actor) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, _ any) {
	a.log.Error("robot backend failed", "actor", child.Id, "reason", fmt.Sprint(reason))
	sys.EventStream.Publish(messages.SupervisionEvent{
		At: a.opt.Now(), Child: child.Id, Reason: fmt.Sprint(reason), Directive: messages.DirectiveStop,
	})
	fx := a.core.RobotFailed(fmt.Sprint(reason))
	if fx.StopRobot {
		sup.StopChildren(child)
		fx.StopRobot = false
	}
	a.exec(fx)
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.started(ctx)
	case *actor.Stopping, *actor.Restarting:
		// What Started opened belongs to this incarnation: a restart builds
		// a new one that subscribes and ticks again.
		a.release()
	case *messages.StartDaemon:
		a.operation(ctx, "daemon-start", Op{Kind: OpStart, Wake: m.WakeUp})
	case *messages.StopDaemon:
		a.operation(ctx, "daemon-stop", Op{Kind: OpStop, Sleep: m.GotoSleep})
	case *messages.RestartDaemon:
		// As the reference: from stopped, nothing to do; otherwise stop
		// without sleep and start again without wake-up.
		if a.core.State() == messages.StateStopped || a.core.State() == messages.StateNotInitialized {
			a.operation(ctx, "daemon-restart")
			return
		}
		a.operation(ctx, "daemon-restart", Op{Kind: OpStop}, Op{Kind: OpStart})
	case *Autostart:
		a.exec(a.core.Submit(Op{Kind: OpStart, Wake: m.WakeUp}))
	case *Shutdown:
		a.exec(a.core.Submit(Op{Kind: OpShutdown, Sleep: m.GotoSleep, Reply: ctx.Sender()}))
	case *messages.RobotReady:
		a.exec(a.core.RobotReady())
	case *messages.MoveDone:
		a.exec(a.core.MoveDone(*m))
	case *timerFired:
		if m.from != a {
			return
		}
		a.exec(a.core.TimerFired(m.kind, m.gen))
	case *actor.Terminated:
		if a.robot != nil && m.Who.Equal(a.robot) {
			a.robot = nil
			a.exec(a.core.RobotStopped())
		}
	case *messages.BackendStatus:
		a.exec(a.core.BackendStatus(*m))
	case messages.SupervisionEvent:
		a.log.Warn("actor failed", "actor", m.Child, "directive", m.Directive, "delay", m.Delay, "failures", m.Failures, "reason", m.Reason)
		if m.Directive == messages.DirectiveUnrecoverable {
			a.exec(a.core.Unrecoverable(fmt.Sprintf("%s keeps failing: %s", m.Child, m.Reason)))
		}
		a.events = append(a.events, m)
		if over := len(a.events) - supervisionKeep; over > 0 {
			a.events = append([]messages.SupervisionEvent(nil), a.events[over:]...)
		}
	case *statusTick:
		if a.core.Backend() != nil {
			a.publishStatus()
		}
	case *messages.GetDaemonStatus:
		st := a.status()
		if m.WithRuntime {
			st.Runtime = &messages.RuntimeStats{Goroutines: runtime.NumGoroutine(), HeapLive: liveHeap()}
			if b := a.core.Backend(); b != nil {
				st.Runtime.ControlHz = b.MeanHz
			}
		}
		kit.Reply(ctx, st)
	case *messages.GetServices:
		kit.Reply(ctx, messages.Services{Names: append([]string(nil), a.opt.Services...)})
	case *messages.GetService:
		kit.Reply(ctx, a.service(m))
	case *messages.GetRobotName:
		kit.Reply(ctx, messages.RobotName{Name: a.name})
	case *messages.SetRobotName:
		name, err := a.setName(m.Name)
		if err != nil {
			kit.Reply(ctx, err)
			return
		}
		kit.Reply(ctx, messages.RobotName{Name: name})
	case messages.LockEvent:
		a.lockEvent(ctx, m)
	case *idleFired:
		if m.from == a {
			a.idleFired(ctx, m.gen)
		}
	case *messages.GetSetting:
		kit.Reply(ctx, messages.Setting{Raw: a.getSetting(m.Key)})
	case *messages.PutSetting:
		if err := a.putSetting(m.Key, m.Raw); err != nil {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindInternal, Detail: "cannot save the setting: " + err.Error()})
			return
		}
		kit.Reply(ctx, messages.Setting{Raw: m.Raw})
	case *messages.GetFirstWakeUp:
		kit.Reply(ctx, messages.FirstWakeUp{Completed: a.firstWakeUp()})
	case *messages.SetFirstWakeUp:
		if err := a.setFirstWakeUp(m.Completed); err != nil {
			a.log.Warn("cannot store first_wake_up_completed", "err", err)
		}
		// As the reference, the reply carries the stored value.
		kit.Reply(ctx, messages.FirstWakeUp{Completed: a.firstWakeUp()})
	case *messages.DeleteHFToken:
		if err := deleteHFToken(); err != nil {
			kit.Reply(ctx, err)
			return
		}
		// The relay and the TURN refresher follow the token.
		ctx.ActorSystem().EventStream.Publish(messages.HFTokenChanged{})
		kit.Reply(ctx, struct{}{})
	case *messages.ClearHFCache:
		kit.Reply(ctx, a.clearHFCache())
	case *messages.ResetSimulation:
		switch {
		case a.opt.Config.SimReset == nil:
			kit.Reply(ctx, &messages.Error{Kind: messages.KindNotFound, Detail: "No physics simulation: run reachyd --sim in a MuJoCo build"})
		default:
			if err := a.opt.Config.SimReset(); err != nil {
				kit.Reply(ctx, &messages.Error{Kind: messages.KindConflict, Detail: "Cannot reset the simulation: " + err.Error()})
				return
			}
			a.log.Info("simulation reset to its initial state")
			kit.Reply(ctx, struct{}{})
		}
	case *messages.SetMediaReleased:
		a.media = m.Released
		kit.Reply(ctx, a.mediaStatus())
	case *messages.GetMediaStatus:
		kit.Reply(ctx, a.mediaStatus())
	}
}

func (a *Actor) started(ctx actor.Context) {
	a.ctx = ctx
	a.core = NewCore(func() string { return uuid.NewString() })
	a.cell.mu.Lock()
	restarted, backend := a.cell.booted, a.cell.backend
	if !restarted {
		a.cell.booted, a.cell.start = true, a.opt.Now()
	}
	a.start, a.events, a.media = a.cell.start, a.cell.events, a.cell.media
	a.cell.mu.Unlock()
	a.name = a.opt.Config.RobotName
	if n, err := a.loadName(); err == nil && n != "" {
		a.name = n
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		a.log.Warn("robot name file unreadable; using --robot-name", "err", err)
	}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	if a.opt.System != nil {
		u1 := kit.Subscribe(a.opt.System, func(e messages.SupervisionEvent) { root.Send(self, e) })
		u2 := kit.Subscribe(a.opt.System, func(e messages.LockEvent) { root.Send(self, e) })
		a.unsub = func() { u1(); u2() }
	}
	switch {
	case !restarted && a.opt.Autostart != nil:
		a.exec(a.core.Submit(Op{Kind: OpStart, Wake: a.opt.Autostart.WakeUp}))
	case restarted && backend:
		// The crash stopped the backend with the old incarnation: start it
		// again; the robot was awake, so without the wake-up.
		a.log.Info("restarting the robot backend after a crash of the daemon actor")
		a.exec(a.core.Submit(Op{Kind: OpStart}))
	}
	// The reference's 1 Hz status thread.
	a.stopT = make(chan struct{})
	stop := a.stopT
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				root.Send(self, &statusTick{})
			case <-stop:
				return
			}
		}
	}()
}

// release ends the event-stream subscriptions and the status ticker, and
// keeps in the cell what the next incarnation needs.
func (a *Actor) release() {
	if a.core != nil {
		a.cell.mu.Lock()
		a.cell.backend = a.robot != nil && a.core.State() != messages.StateStopping
		a.cell.events = append([]messages.SupervisionEvent(nil), a.events...)
		a.cell.media = a.media
		a.cell.mu.Unlock()
	}
	if a.unsub != nil {
		a.unsub()
		a.unsub = nil
	}
	if a.stopT != nil {
		close(a.stopT)
		a.stopT = nil
	}
}

// operation runs lifecycle operations as one job, or refuses with the
// reference's 409 while another runs.
func (a *Actor) operation(ctx actor.Context, command string, ops ...Op) {
	if a.core.Busy() {
		kit.Reply(ctx, messages.ErrDaemonBusy)
		return
	}
	id := uuid.NewString()
	ctx.Send(a.opt.Jobs, &messages.RegisterJob{ID: id, Command: command})
	ctx.Send(a.opt.Jobs, &messages.JobProgress{ID: id, Lines: []string{}})
	if len(ops) == 0 {
		ctx.Send(a.opt.Jobs, &messages.FinishJob{ID: id})
		kit.Reply(ctx, messages.JobStarted{JobID: id})
		return
	}
	// A backend left in error must be stopped before it can start again.
	if ops[0].Kind == OpStart && a.robot != nil && a.core.State() == messages.StateError {
		ops = append([]Op{{Kind: OpStop}}, ops...)
	}
	for i := range ops {
		ops[i].Job = id
	}
	// Only the last operation ends the job.
	for i := 0; i < len(ops)-1; i++ {
		ops[i].Job = ""
	}
	ops[len(ops)-1].Job = id
	a.exec(a.core.Submit(ops...))
	kit.Reply(ctx, messages.JobStarted{JobID: id})
}

// exec performs the core's effects.
func (a *Actor) exec(fx Effects) {
	ctx := a.ctx
	if fx.SpawnRobot {
		pid, err := ctx.SpawnNamed(a.opt.Robot(ctx.Self()), "robot")
		if err != nil {
			a.log.Error("cannot start the robot backend", "err", err)
			a.exec(a.core.RobotFailed(err.Error()))
		} else {
			a.robot = pid
		}
	}
	if fx.StopRobot && a.robot != nil {
		ctx.Stop(a.robot)
	}
	for _, mode := range fx.Modes {
		ctx.Send(a.child("motorbus"), &messages.SetMotorMode{Mode: mode})
	}
	for i := range fx.Moves {
		mv := fx.Moves[i]
		mv.Notify = ctx.Self()
		ctx.Send(a.child("moves"), &mv)
	}
	if fx.Timer != nil {
		t := *fx.Timer
		self, root := ctx.Self(), ctx.ActorSystem().Root
		fired := &timerFired{kind: t.Kind, gen: t.Gen, from: a}
		a.opt.AfterFunc(t.After, func() { root.Send(self, fired) })
	}
	for job, lines := range fx.JobLines {
		ctx.Send(a.opt.Jobs, &messages.JobProgress{ID: job, Lines: lines})
	}
	for _, d := range fx.JobDone {
		ctx.Send(a.opt.Jobs, &messages.FinishJob{ID: d.Job, Err: d.Err})
	}
	for _, r := range fx.Replies {
		if pid, ok := r.To.(*actor.PID); ok && pid != nil {
			ctx.Send(pid, &ShutdownDone{Err: r.Err})
		}
	}
	for _, w := range fx.Warnings {
		a.log.Warn(w)
	}
	if fx.StopMoves {
		ctx.Send(a.child("moves"), &messages.StopAllMoves{})
	}
	if fx.StopApp {
		a.stopApp(ctx)
	}
	if fx.BackendUp {
		ctx.Send(a.opt.Hub, &hub.BackendUp{})
	}
	if fx.BackendDn != "" {
		ctx.Send(a.opt.Hub, &hub.BackendDown{Reason: fx.BackendDn})
	}
	if fx.Status && a.core.Backend() != nil {
		a.publishStatus()
	}
}

// stopApp asks the app manager to stop the running app before the robot
// goes to sleep; the core goes on when it did, or could not.
func (a *Actor) stopApp(ctx actor.Context) {
	if a.opt.Apps == nil {
		a.exec(a.core.AppStopped())
		return
	}
	kit.AskFrom(ctx, a.opt.Apps, &messages.StopApp{}, a.opt.AppStopTimeout, func(_ any, err error) {
		switch {
		case err == nil:
			a.log.Info("stopped the running app to put the robot to sleep")
		case messages.KindOf(err) == messages.KindBadRequest:
			// No app was running.
		default:
			a.log.Warn("could not stop the running app before going to sleep", "err", err)
		}
		a.exec(a.core.AppStopped())
	})
}

// lockEvent schedules or cancels the idle reset.
func (a *Actor) lockEvent(ctx actor.Context, e messages.LockEvent) {
	switch e.Kind {
	case messages.LockBecameFree:
		d, gen := a.idle.Free(e.Handoff)
		self, root := ctx.Self(), ctx.ActorSystem().Root
		fired := &idleFired{gen: gen, from: a}
		a.opt.AfterFunc(d, func() { root.Send(self, fired) })
	case messages.LockLocalAcquired, messages.LockRemoteAcquired:
		a.idle.Cancel()
	}
}

// idleFired puts the robot to sleep if the slot is still free, the backend
// runs and the robot does not already rest.
func (a *Actor) idleFired(ctx actor.Context, gen uint64) {
	if !a.idle.Fire(gen) || a.core.State() != messages.StateRunning || a.core.Busy() {
		return
	}
	kit.AskFrom(ctx, a.child("moves"), &messages.IsIdle{}, time.Second, func(reply any, err error) {
		if err != nil {
			return
		}
		if idle, ok := reply.(messages.Idle); ok && !idle.Idle {
			a.log.Info("robot app slot free: putting the robot to sleep")
			ctx.Send(a.child("moves"), &messages.StartMove{ID: uuid.NewString(), Kind: messages.MoveResetToSleep, Origin: messages.OriginDaemon})
		}
	})
}

func (a *Actor) child(name string) *actor.PID {
	self := a.ctx.Self()
	return actor.NewPID(self.Address, self.Id+"/robot/"+name)
}

func (a *Actor) publishStatus() {
	a.ctx.Send(a.opt.Hub, &messages.StatusFrame{Frame: wire.StatusFrame(nil, a.status())})
}

func (a *Actor) status() *messages.DaemonStatus {
	c := a.opt.Config
	s := &messages.DaemonStatus{
		RobotName: a.name, State: a.core.State(),
		WirelessVersion: c.WirelessVersion, DesktopAppDaemon: c.DesktopAppDaemon,
		NoMedia: c.NoMedia, MediaReleased: a.media, CameraSpecsName: c.CameraSpecsName,
		Backend: a.core.Backend(), BackendKind: c.BackendKind,
		Error: a.core.Error(), Version: c.Version, HardwareID: c.HardwareID,
		Backoff: a.events, StartedAt: a.start, ControlHz: c.ControlHz, BackendName: c.BackendName,
	}
	if m := a.opt.Media; m != nil {
		ms := m.Status()
		s.NoMedia, s.MediaReleased, s.Media = ms.NoMedia, ms.Released, ms.Detail
	}
	if c.SimStatus != nil {
		s.Sim = c.SimStatus()
	}
	if c.WirelessVersion && c.WlanIP != nil {
		s.WlanIP = c.WlanIP()
	}
	if a.core.Started() {
		sim, mock := c.Simulation, c.Mockup
		s.SimulationEnabled, s.MockupSimEnabled = &sim, &mock
	}
	return s
}

// mediaStatus answers /api/media/status when there is no media actor
// (--no-media, no GStreamer): media is never available.
func (a *Actor) mediaStatus() messages.MediaStatus {
	if m := a.opt.Media; m != nil {
		return m.Status()
	}
	return messages.MediaStatus{Available: false, Released: a.media, NoMedia: a.opt.Config.NoMedia}
}

// ---- robot name ----------------------------------------------------------------

type nameFile struct {
	Name string `json:"name"`
}

func (a *Actor) namePath() string {
	if a.opt.Config.DataDir == "" {
		return ""
	}
	return filepath.Join(a.opt.Config.DataDir, "robot_name.json")
}

func (a *Actor) loadName() (string, error) {
	p := a.namePath()
	if p == "" {
		return "", nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	var f nameFile
	if err := json.Unmarshal(b, &f); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return cleanName(f.Name), nil
}

// cleanName trims and caps a name at 64 characters, as the reference does.
func cleanName(n string) string {
	n = strings.TrimSpace(n)
	if utf8.RuneCountInString(n) > 64 {
		n = string([]rune(n)[:64])
	}
	return n
}

func (a *Actor) setName(raw string) (string, error) {
	name := cleanName(raw)
	if name == "" {
		return "", &messages.Error{Kind: messages.KindUnprocessable, Detail: "Invalid robot name", Reason: "invalid_robot_name"}
	}
	if p := a.namePath(); p != "" {
		b, _ := json.Marshal(nameFile{Name: name})
		if err := WriteFileAtomic(p, b, 0o644); err != nil {
			return "", &messages.Error{Kind: messages.KindInternal, Detail: "cannot save the robot name: " + err.Error()}
		}
	}
	a.name = name
	if a.opt.System != nil {
		a.opt.System.Publish(messages.RobotNameChanged{Name: name})
	}
	if a.core.Backend() != nil {
		a.publishStatus()
	}
	return name, nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// folder, fsynced and renamed over the target, so a crash never leaves a
// half-written file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// robotServices run inside the backend: they run only while it does.
var robotServices = map[string]bool{"motorbus": true, "moves": true, "robot": true}

// serviceLogLines is how many recent log lines a service reports.
const serviceLogLines = 50

// service describes one service for get_services: Reachy Mini is all
// "head" (pymirokai's Mirokai also has a "base").
func (a *Actor) service(m *messages.GetService) any {
	known := false
	for _, s := range a.opt.Services {
		known = known || s == m.Name
	}
	if m.System != "head" || !known {
		return &messages.Error{Kind: messages.KindNotFound, Detail: fmt.Sprintf("Unknown service '%s/%s'", m.System, m.Name)}
	}
	st := "running"
	if robotServices[m.Name] {
		st = "stopped"
		if a.core.Backend() != nil {
			st = "running"
		}
	}
	restarts := 0
	for _, e := range a.events {
		if e.Child == m.Name || strings.HasSuffix(e.Child, "/"+m.Name) {
			restarts++
			switch e.Directive {
			case messages.DirectiveStop, messages.DirectiveEscalate, messages.DirectiveUnrecoverable:
				st = "failed"
			}
		}
	}
	var logs []string
	if a.opt.Logs != nil {
		logs = a.opt.Logs.Lines(m.Name)
		if over := len(logs) - serviceLogLines; over > 0 {
			logs = logs[over:]
		}
	}
	return messages.ServiceInfo{Name: m.Name, State: st, Restarts: restarts, Logs: logs}
}

// liveHeap reads the Go heap's live bytes at the last collection (cheap: no
// stop of the world, unlike runtime.ReadMemStats).
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
