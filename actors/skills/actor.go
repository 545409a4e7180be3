package skills

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"reachyd/actors/kit"
	"reachyd/actors/skills/host"
	"reachyd/actors/topics"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// Topic client ids of the skills actor and of its skill host.
const (
	selfClient = "skills"
	hostClient = "skillhost"
)

// Options configure the skills actor.
type Options struct {
	Files Files
	// Python runs the skill host, when there are skill files; empty
	// disables it (tests of the built-ins alone).
	Python       string
	APIURL       string // the daemon's HTTP API, for the skills' robot proxy
	WorkDir      string // where the host script is written
	ListInterval time.Duration
	Broker       *actor.PID
	Moves        *actor.PID
	Cell         *Cell
	Log          *slog.Logger

	// ImportTimeout bounds the import of one skill file in the host (10 s
	// if zero); a file over it is skipped until it changes.
	ImportTimeout time.Duration

	// The host runs only while there is Python to run (lazyhost.go):
	// HostIdle is how long it may run with no Python file in the folder
	// and no mission before it is stopped (DefaultHostIdle if zero;
	// negative: never), FolderPoll how often the folder is looked at
	// (DefaultFolderPoll if zero).
	HostIdle   time.Duration
	FolderPoll time.Duration
}

// Cell keeps the registry, the missions and the skill host across
// restarts of the actor.
type Cell struct {
	mu       sync.Mutex
	core     *Core
	host     *host.Process
	hostAt   time.Time
	restarts int
	started  bool              // a host was started in this cell
	closed   bool              // shutting down: no more hosts
	moves    map[string]string // move id -> mission id (running built-ins)
	hostGen  int               // generations of host followers, across restarts
	retrying bool              // a start after a failure is scheduled
	quitting *host.Process     // the host being stopped for want of skills
	// idleSince is when the host was first seen with nothing to run.
	idleSince time.Time
}

// NewCell returns a cell with the built-in skills.
func NewCell() *Cell {
	core := NewCore(Builtins(), newMissionID)
	// The host is preferred: it is supervised here, and RPC_commands reach
	// it alone (an external manager watching the same folder would run
	// whatever it receives).
	core.Prefer(hostClient)
	return &Cell{core: core, moves: map[string]string{}}
}

func newMissionID() string { return "m-" + randHex(8) }
func newRequestID() string { return "r-" + randHex(8) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type waiter struct {
	to   *actor.PID
	kind string // "wait", "cancel", "started"
}

// Actor is the skills actor.
type Actor struct {
	opt     Options
	c       *Cell
	core    *Core
	log     *slog.Logger
	waiters map[string][]waiter
	timer   *time.Timer
	poll    *time.Timer // the next folderTick
	hostGen int
	// followed is the host process followed last; unfollow ends this
	// incarnation's goroutines that follow it.
	followed *host.Process
	unfollow chan struct{}
}

// internal messages
type (
	topicIn struct {
		topic, from string
		frame       []byte
	}
	hostFrame struct {
		p     *host.Process
		frame []byte
	}
	hostExited struct {
		gen int
		err error
	}
	startHost struct{}
	autoTick  struct{}
	moveReply struct {
		mission string
		err     error
	}
)

// Props returns the skills actor's props.
func Props(opt Options) *actor.Props {
	if opt.Cell == nil {
		opt.Cell = NewCell()
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.ListInterval <= 0 {
		opt.ListInterval = time.Second
	}
	if opt.HostIdle == 0 {
		opt.HostIdle = DefaultHostIdle
	}
	if opt.FolderPoll <= 0 {
		opt.FolderPoll = DefaultFolderPoll
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, c: opt.Cell, core: opt.Cell.core, log: opt.Log.With("actor", "skills"), waiters: map[string][]waiter{}}
	}, kit.CrashOption())
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	now := time.Now()
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.started(ctx)
	case *actor.Stopping, *actor.Restarting:
		// The timer and the host followers are this incarnation's: the
		// next one follows the same host process again in Started.
		if a.timer != nil {
			a.timer.Stop()
		}
		if a.poll != nil {
			a.poll.Stop()
		}
		if a.unfollow != nil {
			close(a.unfollow)
			a.unfollow = nil
		}
	case *startHost:
		a.c.mu.Lock()
		a.c.retrying = false
		a.c.mu.Unlock()
		if hasPythonFiles(a.opt.Files.Dir) {
			a.startHost(ctx)
		} // else the folder checks start it when a file comes
	case *folderTick:
		a.checkFolder(ctx, now)
		a.armPoll(ctx)
	case *hostFrame:
		// A frame read by a follower of a previous incarnation is the
		// followed host's all the same.
		if m.p == a.followed {
			a.fromHost(ctx, m.frame)
		}
	case *hostExited:
		a.hostExited(ctx, m, now)
	case *topicIn:
		a.topicIn(ctx, m, now)
	case *autoTick:
		a.run(ctx, a.core.AutoTick(now))
	case *moveReply:
		a.run(ctx, a.core.BuiltinStarted(m.mission, m.err, now))
	case *messages.MoveDone:
		a.moveDone(ctx, m, now)

	case *messages.CallSkill:
		r, fx := a.core.Call(Principal{ClientID: m.Caller.ClientID, Level: m.Caller.Level}, m.Name, m.Params, now)
		kit.Reply(ctx, messages.SkillCalled{Called: r.Called, Msg: r.Msg})
		a.run(ctx, fx)
	case *messages.WaitMission:
		a.waitFor(ctx, m.ID, "wait")
	case *messages.WaitMissionStarted:
		a.waitFor(ctx, m.ID, "started")
	case *messages.CancelMission:
		r, fx := a.core.Cancel(m.ID, newRequestID(), now)
		if m.Wait && r.Cancelled {
			a.waiters[m.ID] = append(a.waiters[m.ID], waiter{to: ctx.Sender(), kind: "cancel"})
		} else {
			kit.Reply(ctx, messages.MissionCancelled{Cancelled: r.Cancelled, Msg: r.Msg})
		}
		a.run(ctx, fx)
	case *messages.CancelClientMissions:
		ids, fx := a.core.CancelClient(m.ClientID, newRequestID, now)
		kit.Reply(ctx, messages.MissionsCancelled{IDs: ids})
		a.run(ctx, fx)
	case *messages.ListMissions:
		var out []messages.MissionInfo
		for _, mi := range a.core.Running() {
			out = append(out, messages.MissionInfo{ID: mi.ID, Skill: mi.Skill, ClientID: mi.Owner, Started: mi.Started, AutoStart: mi.AutoStart, CreatedAt: mi.CreatedAt})
		}
		kit.Reply(ctx, messages.MissionList{Missions: out})
	case *messages.ListAutoStartSkills:
		kit.Reply(ctx, messages.AutoStartSkills{Names: a.core.AutoRunning()})
	case *messages.CancelAutoStartSkill:
		r, fx := a.core.CancelAuto(m.Name, newRequestID(), now)
		kit.Reply(ctx, messages.MissionCancelled{Cancelled: r.Cancelled, Msg: r.Msg})
		a.run(ctx, fx)
	case *messages.GetSkills:
		kit.Reply(ctx, a.skillsList())

	case *messages.UploadSkillFile:
		a.fileOp(ctx, "uploaded", m.Name, func() error { return a.opt.Files.Upload(m.Name, m.Content) }, false, now)
	case *messages.EnableSkillFile:
		status := "enabled"
		if !m.Enable {
			status = "disabled"
		}
		a.fileOp(ctx, status, m.Name, func() error { return a.opt.Files.Enable(m.Name, m.Enable) }, !m.Enable, now)
	case *messages.RemoveSkillFile:
		a.fileOp(ctx, "removed", m.Name, func() error { return a.opt.Files.Remove(m.Name) }, true, now)
	case *messages.ListSkillFiles:
		files, err := a.opt.Files.List()
		if err != nil {
			kit.Reply(ctx, err)
			return
		}
		out := make([]messages.SkillFile, 0, len(files))
		for _, f := range files {
			out = append(out, messages.SkillFile(f))
		}
		kit.Reply(ctx, messages.SkillFiles{Files: out})
	}
}

func (a *Actor) started(ctx actor.Context) {
	if err := a.opt.Files.Ensure(); err != nil {
		a.log.Error("cannot create the skills folder", "dir", a.opt.Files.Dir, "err", err)
	}
	// Attach to the broker (again, after a restart: the old sink pointed at
	// this same PID, but detach first so the attach cannot conflict).
	self, root := ctx.Self(), ctx.ActorSystem().Root
	ctx.Send(a.opt.Broker, &messages.TopicDetach{Client: selfClient})
	ctx.Send(a.opt.Broker, &messages.TopicAttach{Client: selfClient, Internal: true, Level: messages.LevelEnchanter,
		Sink: func(topic, from string, f []byte) bool {
			root.Send(self, &topicIn{topic: topic, from: from, frame: f})
			return true
		}})
	for _, t := range []string{"RPC_result", "skills_list_result", "skill_manager_errors"} {
		ctx.Send(a.opt.Broker, &messages.TopicSubscribe{Client: selfClient, Topic: t})
	}
	a.c.mu.Lock()
	p := a.c.host
	a.c.mu.Unlock()
	if p != nil {
		// The host outlived the previous incarnation: follow it again.
		a.follow(ctx, p)
	}
	if a.opt.Python != "" {
		a.checkFolder(ctx, time.Now()) // starts the host if there are skill files
		a.armPoll(ctx)
	}
	a.schedule(ctx)
}

// ---- the skill host -----------------------------------------------------------

func (a *Actor) startHost(ctx actor.Context) {
	a.c.mu.Lock()
	skip := a.c.host != nil || a.c.closed
	first := !a.c.started
	a.c.mu.Unlock()
	if skip {
		return
	}
	log := a.log.With("component", "skillhost")
	p, err := host.Start(host.Options{
		Python: a.opt.Python, SkillsDir: a.opt.Files.Dir, APIURL: a.opt.APIURL, ListInterval: a.opt.ListInterval,
		WorkDir: a.opt.WorkDir, ImportTimeout: a.opt.ImportTimeout, Log: func(line string) { log.Info(line) },
		// The files skipped for hanging at import get another chance when
		// reachyd restarts.
		ForgetSkipped: first,
	})
	if err != nil {
		a.log.Error("cannot start the skill host", "err", err)
		a.retryHost(ctx, 0)
		return
	}
	a.c.mu.Lock()
	a.c.host, a.c.hostAt, a.c.started = p, time.Now(), true
	a.c.mu.Unlock()
	a.log.Info("skill host started", "pid", p.Pid(), "skills_dir", a.opt.Files.Dir)
	ctx.Send(a.opt.Broker, &messages.TopicDetach{Client: hostClient})
	ctx.Send(a.opt.Broker, &messages.TopicAttach{Client: hostClient, Level: messages.LevelEnchanter,
		Sink: func(topic, from string, f []byte) bool {
			if topic == "RPC_command" && addressedElsewhere(f) {
				return true // a mission routed to another manager
			}
			if err := p.Send(f); err != nil && !errors.Is(err, host.ErrClosed) {
				log.Warn("a frame for the skill host was dropped", "topic", topic, "err", err)
			}
			return true
		}})
	a.follow(ctx, p)
}

// follow pumps the host's frames and its end into the mailbox.
func (a *Actor) follow(ctx actor.Context, p *host.Process) {
	a.followed = p
	a.c.mu.Lock()
	a.c.hostGen++
	a.hostGen = a.c.hostGen
	a.c.mu.Unlock()
	if a.unfollow == nil {
		a.unfollow = make(chan struct{})
	}
	gen, self, root, quit := a.hostGen, ctx.Self(), ctx.ActorSystem().Root, a.unfollow
	go func() {
		for {
			select {
			case f, ok := <-p.Frames():
				if !ok {
					return
				}
				root.Send(self, &hostFrame{p: p, frame: f})
			case <-quit:
				return
			}
		}
	}()
	go func() {
		select {
		case <-p.Done():
			root.Send(self, &hostExited{gen: gen, err: p.Err()})
		case <-quit:
		}
	}()
}

// fromHost turns a host's client frame into the broker message it means.
func (a *Actor) fromHost(ctx actor.Context, b []byte) {
	f, err := topics.ParseClientFrame(b)
	if err != nil {
		a.log.Warn("bad frame from the skill host", "err", err)
		return
	}
	switch f.Action {
	case "subscribe":
		ctx.Send(a.opt.Broker, &messages.TopicSubscribe{Client: hostClient, Topic: f.Topic})
	case "unsubscribe":
		ctx.Send(a.opt.Broker, &messages.TopicUnsubscribe{Client: hostClient, Topic: f.Topic})
	case "publish":
		ctx.Send(a.opt.Broker, &messages.TopicPublish{Client: hostClient, Topic: f.Topic, Frame: f.Frame})
	}
}

func (a *Actor) hostExited(ctx actor.Context, m *hostExited, now time.Time) {
	if m.gen != a.hostGen {
		return
	}
	a.c.mu.Lock()
	ran := now.Sub(a.c.hostAt)
	a.c.host = nil
	closed := a.c.closed
	idle := a.c.quitting != nil && a.c.quitting == a.followed
	a.c.quitting, a.c.idleSince = nil, time.Time{}
	a.c.mu.Unlock()
	if idle {
		// Stopped on purpose (checkFolder): no restart, unless a file
		// came meanwhile.
		a.log.Info("the skill host stopped: no Python skill to run", "ran", ran.Round(time.Millisecond))
		ctx.Send(a.opt.Broker, &messages.TopicDetach{Client: hostClient})
		a.run(ctx, a.core.ManagerGone(hostClient, "the skill host stopped: no Python skill to run", now))
		a.checkFolder(ctx, now)
		return
	}
	reason := "the skill host stopped"
	switch {
	case errors.Is(m.err, host.ErrImportStuck):
		reason = "the skill host restarted: a skill file blocked at import (see skill_manager_errors)"
	case m.err != nil:
		reason += ": " + m.err.Error()
	}
	if closed {
		a.log.Info(reason, "ran", ran.Round(time.Millisecond))
	} else {
		a.log.Warn(reason, "ran", ran.Round(time.Millisecond))
	}
	ctx.Send(a.opt.Broker, &messages.TopicDetach{Client: hostClient})
	a.run(ctx, a.core.ManagerGone(hostClient, reason, now))
	a.retryHost(ctx, ran)
}

// retryHost restarts the host after a backoff: 0.5 s doubling to 30 s,
// from 0.5 s again after a run of a minute or more.
func (a *Actor) retryHost(ctx actor.Context, ran time.Duration) {
	a.c.mu.Lock()
	if ran >= time.Minute {
		a.c.restarts = 0
	}
	a.c.restarts++
	d := 500 * time.Millisecond
	for i := 1; i < a.c.restarts && d < 30*time.Second; i++ {
		d *= 2
	}
	a.c.retrying = true
	a.c.mu.Unlock()
	d = min(d, 30*time.Second)
	self, root := ctx.Self(), ctx.ActorSystem().Root
	time.AfterFunc(d, func() { root.Send(self, &startHost{}) })
}

// StopHost stops the skill host of a cell for good (at shutdown): its
// stdin closes, its skills are cancelled, then SIGTERM and, after grace,
// SIGKILL.
func (c *Cell) StopHost(grace time.Duration) {
	c.mu.Lock()
	p := c.host
	c.closed = true
	c.mu.Unlock()
	if p != nil {
		p.Stop(grace)
	}
}

// ---- topics ---------------------------------------------------------------------

func (a *Actor) topicIn(ctx actor.Context, m *topicIn, now time.Time) {
	switch m.topic {
	case "skills_list_result":
		var lf struct {
			Data json.RawMessage `json:"data"`
			// reachyd's host: skills whose cancelled run still runs.
			Finishing []string `json:"finishing"`
		}
		if json.Unmarshal(m.frame, &lf) != nil {
			return
		}
		list, err := ParseSkillsList(lf.Data)
		if err != nil {
			a.log.Warn("bad skills list", "from", m.from, "err", err)
			return
		}
		a.core.SetFinishing(managerOf(m.from), lf.Finishing)
		a.run(ctx, a.core.SkillsListed(managerOf(m.from), list, newRequestID, now))
	case "RPC_result":
		r, ok := ParseRPCResult(m.frame)
		if !ok {
			return
		}
		fx, ok := a.core.Result(managerOf(m.from), r, now)
		if !ok {
			if mi, known := a.core.Mission(r.ID); known && !mi.Done {
				a.log.Warn("a result from a manager the mission was not sent to is ignored",
					"mission", r.ID, "from", m.from, "sent_to", mi.Manager, "status", r.Status)
			}
			return
		}
		a.run(ctx, fx)
	case "skill_manager_errors":
		var e struct {
			Data     json.RawMessage `json:"data"`
			Filename string          `json:"filename"`
		}
		if json.Unmarshal(m.frame, &e) != nil {
			return
		}
		var text string
		if json.Unmarshal(e.Data, &text) != nil {
			text = string(e.Data)
		}
		a.core.SetError(managerOf(m.from), e.Filename, text)
		if text != "" {
			a.log.Warn("skill manager error", "from", m.from, "error", text)
		}
	}
}

// managerKey addresses an RPC_command to one manager (a reachyd key; the
// frame's other keys are pymirokai's). Frames for reachyd's skill host
// never go on the bus: the host gets them alone.
const managerKey = "skill_manager"

// addressedElsewhere reports whether an RPC_command frame is addressed to
// a manager other than the host. Unaddressed frames (published by a
// client, as pymirokai's UI does) are for whoever knows the skill.
func addressedElsewhere(frame []byte) bool {
	var f struct {
		To *string `json:"skill_manager"`
	}
	return json.Unmarshal(frame, &f) == nil && f.To != nil && *f.To != hostClient
}

// managerOf names the manager of a frame; frames the daemon publishes
// itself have no client.
func managerOf(from string) string {
	if from == "" {
		return "daemon"
	}
	return from
}

// ---- effects ----------------------------------------------------------------------

func (a *Actor) publish(ctx actor.Context, topic string, frame []byte) {
	ctx.Send(a.opt.Broker, &messages.TopicPublish{Client: selfClient, Topic: topic, Frame: frame})
}

func (a *Actor) run(ctx actor.Context, fx []Effect) {
	for _, e := range fx {
		switch e := e.(type) {
		case Dispatch:
			params, _ := json.Marshal(orEmpty(e.Params))
			data, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": e.Skill, "params": json.RawMessage(params), "id": e.MissionID})
			o := wire.ObjStart(nil)
			o.String("name", "RPC_command")
			o.String("type", "dict")
			o.String("command", "run")
			o.String(managerKey, e.Manager)
			o.Key("data")
			o.B = append(o.B, data...)
			if err := a.toManager(ctx, e.Manager, o.End()); err != nil {
				a.log.Warn("a mission could not be sent to its skill manager", "mission", e.MissionID, "manager", e.Manager, "err", err)
				a.run(ctx, a.core.Finish(e.MissionID, StatusError, nil, err.Error(), time.Now()))
			}
		case SendCancel:
			o := wire.ObjStart(nil)
			o.String("name", "RPC_command")
			o.String("type", "dict")
			o.Null("data")
			o.String("command", "cancel")
			o.String("skill_name", e.Skill)
			o.String("request_id", e.RequestID)
			o.String(managerKey, e.Manager)
			if err := a.toManager(ctx, e.Manager, o.End()); err != nil {
				a.log.Info("a cancel could not be sent to its skill manager", "skill", e.Skill, "manager", e.Manager, "err", err)
			}
		case StartBuiltin:
			a.startBuiltin(ctx, e)
		case StopBuiltin:
			for mv, id := range a.c.moves {
				if id == e.MissionID {
					ctx.Send(a.opt.Moves, &messages.StopMove{ID: mv})
				}
			}
		case Ended:
			a.ended(ctx, e.MissionID)
		}
	}
	a.schedule(ctx)
}

// toManager delivers an RPC_command to one manager: to the skill host
// directly (on the bus an external manager would get it too, and run it),
// to another manager on the bus, addressed to it.
func (a *Actor) toManager(ctx actor.Context, manager string, frame []byte) error {
	if manager != hostClient {
		a.publish(ctx, "RPC_command", frame)
		return nil
	}
	a.c.mu.Lock()
	p := a.c.host
	a.c.mu.Unlock()
	if p == nil {
		return errors.New("the skill host is not running")
	}
	if err := p.Send(frame); err != nil {
		return fmt.Errorf("cannot reach the skill host: %w", err)
	}
	return nil
}

func orEmpty(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}

func (a *Actor) startBuiltin(ctx actor.Context, e StartBuiltin) {
	now := time.Now()
	def, ok := findBuiltin(e.Skill)
	if !ok {
		a.run(ctx, a.core.BuiltinStarted(e.MissionID, fmt.Errorf("unknown built-in skill %q", e.Skill), now))
		return
	}
	if def.stop {
		ctx.Send(a.opt.Moves, &messages.StopAllMoves{})
		a.run(ctx, a.core.BuiltinStarted(e.MissionID, nil, now))
		a.run(ctx, a.core.Finish(e.MissionID, StatusCompleted, json.RawMessage("null"), "", now))
		return
	}
	mv, err := def.move(args(e.Params))
	if err != nil {
		a.run(ctx, a.core.BuiltinStarted(e.MissionID, err, now))
		return
	}
	mv.ID, mv.Origin, mv.Notify = uuid.NewString(), messages.OriginDaemon, ctx.Self()
	a.c.moves[mv.ID] = e.MissionID
	mission := e.MissionID
	kit.AskFrom(ctx, a.opt.Moves, mv, 3*time.Second, func(_ any, err error) {
		if err != nil {
			delete(a.c.moves, mv.ID)
			if errors.Is(err, kit.ErrTimeout) || errors.Is(err, kit.ErrNoActor) {
				err = messages.ErrBackendNotRunning
			}
		}
		ctx.Send(ctx.Self(), &moveReply{mission: mission, err: err})
	})
}

func (a *Actor) moveDone(ctx actor.Context, m *messages.MoveDone, now time.Time) {
	mission, ok := a.c.moves[m.ID]
	if !ok {
		return
	}
	delete(a.c.moves, m.ID)
	switch m.Result {
	case messages.MoveCompleted:
		a.run(ctx, a.core.Finish(mission, StatusCompleted, json.RawMessage("null"), "", now))
	case messages.MoveCancelled:
		a.run(ctx, a.core.Finish(mission, StatusCancelled, nil, "", now))
	default:
		a.run(ctx, a.core.Finish(mission, StatusError, nil, "move failed: "+m.Detail, now))
	}
}

// schedule arms the auto-start timer for the next due skill.
func (a *Actor) schedule(ctx actor.Context) {
	next := a.core.NextAuto()
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	if next.IsZero() {
		return
	}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	a.timer = time.AfterFunc(max(0, time.Until(next)), func() { root.Send(self, &autoTick{}) })
}

// ---- requests -------------------------------------------------------------------

func (a *Actor) report(id string) messages.MissionReport {
	m, ok := a.core.Mission(id)
	if !ok {
		return messages.MissionReport{Msg: MsgMissionNotFound}
	}
	r := messages.MissionReport{Awaited: true, Started: m.Started, StartMsg: m.StartMsg, Status: m.Status,
		Value: m.Value, Exception: m.Exception, ID: m.ID, Skill: m.Skill}
	switch m.Status {
	case StatusCompleted:
		r.Msg = fmt.Sprintf("Mission %s completed", m.ID)
	case StatusCancelled:
		r.Msg = fmt.Sprintf("Mission %s cancelled", m.ID)
	default:
		r.Msg = fmt.Sprintf("Mission %s failed: %s", m.ID, m.Exception)
	}
	if len(r.Value) == 0 {
		r.Value = json.RawMessage("null")
	}
	return r
}

func (a *Actor) waitFor(ctx actor.Context, id, kind string) {
	m, ok := a.core.Mission(id)
	switch {
	case !ok && kind == "started":
		kit.Reply(ctx, messages.MissionStarted{Msg: MsgMissionNotFound})
	case !ok || m.Done && kind == "wait":
		kit.Reply(ctx, a.report(id))
	case kind == "started" && (m.Started || m.Done):
		kit.Reply(ctx, messages.MissionStarted{Started: m.Started, Msg: m.StartMsg})
	default:
		a.waiters[id] = append(a.waiters[id], waiter{to: ctx.Sender(), kind: kind})
	}
}

// ended answers everyone waiting on a mission.
func (a *Actor) ended(ctx actor.Context, id string) {
	ws := a.waiters[id]
	delete(a.waiters, id)
	if len(ws) == 0 {
		return
	}
	rep := a.report(id)
	for _, w := range ws {
		if w.to == nil {
			continue
		}
		switch w.kind {
		case "wait":
			ctx.Send(w.to, rep)
		case "cancel":
			ctx.Send(w.to, messages.MissionCancelled{Cancelled: true, Msg: rep.Msg})
		case "started":
			ctx.Send(w.to, messages.MissionStarted{Started: rep.Started, Msg: rep.StartMsg})
		}
	}
}

func (a *Actor) skillsList() messages.SkillsList {
	o := wire.ObjStart(nil)
	for _, s := range a.core.Skills() {
		o.Key(s.Name)
		if len(s.Entry) > 0 {
			o.B = append(o.B, s.Entry...)
		} else {
			o.B = append(o.B, "null"...)
		}
	}
	return messages.SkillsList{Skills: o.End(), Errors: a.core.Errors(hostClient)}
}

// fileOp runs a change of the skills folder, asks the managers for a fresh
// list at once, and (for a disable or a removal) cancels the missions of
// the file's skills now rather than at the next scan.
func (a *Actor) fileOp(ctx actor.Context, status, name string, op func() error, gone bool, now time.Time) {
	if err := op(); err != nil {
		kit.Reply(ctx, err)
		return
	}
	kit.Reply(ctx, messages.SkillFileDone{Status: status, Name: name})
	if gone {
		a.run(ctx, a.core.DropFile(hostClient, name, newRequestID, now))
	}
	a.checkFolder(ctx, now) // a first skill file starts the host at once
	a.publish(ctx, "skills_list_command", topics.Frame("skills_list_command", "str", []byte(`"list"`)))
}
