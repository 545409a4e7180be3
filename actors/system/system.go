// Package system assembles reachyd's actor tree:
//
//	reachyd (root supervisor: restarts, respawns, gives up; kit.RootProps)
//	├── hub, jobs, applock, topics, auth, camera, media, relay, wifi, skills, appmon, apps
//	└── daemon   lifecycle; owns the backend while it runs
//	    └── robot (supervisor)
//	        ├── moves     move scheduler, IK/FK
//	        └── motorbus  the bus and the control clock
//
// and gives the gateway and main the PIDs they talk to, and the channel
// on which the tree says it cannot recover.
package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/applock"
	"reachyd/actors/apps"
	"reachyd/actors/apps/procs"
	"reachyd/actors/apps/store"
	"reachyd/actors/auth"
	"reachyd/actors/camera"
	"reachyd/actors/daemon"
	"reachyd/actors/hub"
	"reachyd/actors/jobs"
	"reachyd/actors/kit"
	"reachyd/actors/media"
	"reachyd/actors/motorbus"
	"reachyd/actors/moves"
	"reachyd/actors/moves/motion"
	"reachyd/actors/relay"
	"reachyd/actors/robot"
	"reachyd/actors/skills"
	"reachyd/actors/topics"
	"reachyd/actors/updater"
	wifiactor "reachyd/actors/wifi"
	hwcam "reachyd/hw/camera"
	"reachyd/hw/kinematics"
	"reachyd/internal/loopstats"
	"reachyd/messages"
	"reachyd/wifi"
)

// Config is everything the actor tree needs.
type Config struct {
	Daemon daemon.Config
	Period time.Duration
	// RTPriority is the control thread's SCHED_FIFO priority (0: none;
	// motorbus.Options.RTPriority).
	RTPriority int
	Open       motorbus.Opener
	Motorbus   motorbus.Config
	Moves      moves.Config
	Library    motion.Library
	// Backoff is the robot backend's restart policy (motorbus and moves are
	// never given up on).
	Backoff kit.Backoff
	// RootChild and RootTree are the top-level actors' policies: restarts,
	// then a respawn of a crash-looping actor, then, when respawns do not
	// help, the tree reports it cannot recover (defaults:
	// kit.DefaultChildBackoff and kit.DefaultTreeBackoff).
	RootChild kit.Backoff
	RootTree  kit.Backoff
	Log       *slog.Logger
	// Autostart starts the backend at once (WakeUp: with the wake-up
	// sequence).
	Autostart bool
	WakeUp    bool
	// Apps configures the app manager (nil: no app manager, for tests of
	// the backend alone).
	Apps *AppsConfig
	// Auth, when set, serves the skills API's authentication (the cell is
	// opened by the caller, so an unreadable key file stops the start).
	Auth *auth.Cell
	// Skills configures the skill loader (nil: none).
	Skills *SkillsConfig
	// Logs keeps recent log lines per service for get_services.
	Logs *kit.LogRing
	// TopicStateHz is the rate of the robot_state topic (default 10).
	TopicStateHz float64
	// Camera, when set, runs a camera source into a broadcaster.
	Camera *CameraConfig
	// Media, when set, runs the media actor (pipelines, WebRTC producer);
	// nil is no_media.
	Media *MediaConfig
	// UploadDir is where audio uploaded over /ws/sdk is kept until it is
	// played (main sets <data-dir>/uploads/audio).
	UploadDir string
	// Datasets configures dataset downloads (nil: none).
	Datasets *DatasetsConfig
	// Update, when set, runs the self-update actor.
	Update *UpdateConfig
	// Wifi, when set (the Wireless robot), runs the Wi-Fi actor.
	Wifi *WifiConfig
	// Relay, when set and media runs, runs the central signalling relay.
	Relay *RelayConfig
	// Loop counts the control loop's ticks for the metrics endpoint; Start
	// makes one when nil (System.Loop).
	Loop *loopstats.Loop
}

// WifiConfig configures the Wi-Fi actor. Its cell is made by Start and
// closed by Shutdown.
type WifiConfig struct {
	// Manager are the options of the actor's wifi.Manager.
	Manager wifi.Options
	// Startup runs the start-up check (the hotspot when no network is up).
	Startup bool
}

// CameraConfig configures the camera actor.
type CameraConfig struct {
	Source hwcam.Source
	Out    *hwcam.Broadcaster
	// Linger runs the source on demand (see actors/camera); zero: always.
	Linger time.Duration
}

// MediaConfig configures the media actor. Options.Cell is made by Start
// when nil; Options.Moves is set by Start.
type MediaConfig struct {
	Options media.Options
}

// SkillsConfig configures the skill loader.
type SkillsConfig struct {
	Files skills.Files
	// Python runs the skill host ("" runs none: built-in skills only).
	Python  string
	APIURL  string
	WorkDir string
	// ImportTimeout bounds the import of one skill file (10 s if zero).
	ImportTimeout time.Duration
}

// AppsConfig configures the app manager.
type AppsConfig struct {
	Store      *store.Store
	HF         store.HF
	TokenPath  string
	RecordPath string
	StopGrace  time.Duration
	// LocalDirs: the folders apps may be installed from over TCP.
	LocalDirs []string
	// Cgroups, if set, gives each app a cgroup of its own.
	Cgroups *procs.Cgroups
}

// System is a running actor tree.
type System struct {
	Kit      *kit.System
	Daemon   *actor.PID
	Hub      *actor.PID
	Jobs     *actor.PID
	Moves    *actor.PID
	Motorbus *actor.PID
	Lock     *actor.PID
	Apps     *actor.PID
	Topics   *actor.PID
	Auth     *actor.PID // nil without Config.Auth
	Skills   *actor.PID // nil without Config.Skills
	Camera   *actor.PID // nil without Config.Camera
	Media    *actor.PID // nil without Config.Media (no_media)
	Datasets *actor.PID
	Update   *actor.PID // nil without Config.Update
	Wifi     *actor.PID // nil without Config.Wifi
	Relay    *actor.PID // nil without a central relay
	// CameraOut is the camera's frame broadcaster (nil without a camera).
	CameraOut *hwcam.Broadcaster
	// MediaCell is the media actor's shared state (nil without media).
	MediaCell *media.Cell
	// Loop is the control loop's counters (metrics).
	Loop *loopstats.Loop

	skillsCell    *skills.Cell
	wifiCell      *wifiactor.Cell
	appRecord     string // the running app's pid record
	unrecoverable chan string
	crashable     []*actor.PID
}

// Unrecoverable delivers, once, the reason why the actor tree cannot
// recover by itself: a top-level actor kept failing after it was
// respawned. The daemon reports state error; main stops and exits non-zero
// so that the service manager starts the process afresh.
func (s *System) Unrecoverable() <-chan string { return s.unrecoverable }

// Crashable lists the actors that take kit.Crash (fault injection): the
// top-level actors, then motorbus and moves.
func (s *System) Crashable() []*actor.PID { return append([]*actor.PID(nil), s.crashable...) }

// Services are the actors get_services lists.
var Services = []string{"daemon", "robot", "motorbus", "moves", "hub", "jobs", "applock", "apps", "appmon", "topics", "auth", "skills", "camera", "media", "datasets", "wifi", "relay"}

// Root is the name of the root supervisor.
const Root = "reachyd"

// Start builds and starts the actor tree.
func Start(cfg Config) (*System, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Backoff == (kit.Backoff{}) {
		cfg.Backoff = kit.DefaultBackoff
	}
	if cfg.RootChild == (kit.Backoff{}) {
		cfg.RootChild = kit.DefaultChildBackoff
	}
	if cfg.RootTree == (kit.Backoff{}) {
		cfg.RootTree = kit.DefaultTreeBackoff
	}
	if cfg.Open == nil {
		return nil, fmt.Errorf("system: no bus opener")
	}
	ks := kit.NewSystem(cfg.Log)
	s := &System{
		Kit:      ks,
		Daemon:   ks.PID(Root + "/daemon"),
		Hub:      ks.PID(Root + "/hub"),
		Jobs:     ks.PID(Root + "/jobs"),
		Moves:    ks.PID(Root + "/daemon/robot/" + robot.MovesName),
		Motorbus: ks.PID(Root + "/daemon/robot/" + robot.MotorbusName),
		Lock:     ks.PID(Root + "/applock"),
		Apps:     ks.PID(Root + "/apps"),
		Topics:   ks.PID(Root + "/topics"),
		Datasets: ks.PID(Root + "/datasets"),

		unrecoverable: make(chan string, 1),
	}
	if cfg.Loop == nil {
		cfg.Loop = &loopstats.Loop{}
	}
	s.Loop = cfg.Loop
	if cfg.Auth != nil {
		s.Auth = ks.PID(Root + "/auth")
	}
	if cfg.Camera != nil {
		s.Camera = ks.PID(Root + "/camera")
		s.CameraOut = cfg.Camera.Out
	}
	if cfg.Media != nil {
		s.Media = ks.PID(Root + "/media")
		if cfg.Media.Options.Cell == nil {
			cfg.Media.Options.Cell = media.NewCell("")
		}
		s.MediaCell = cfg.Media.Options.Cell
	}
	if cfg.Relay != nil && cfg.Media != nil {
		s.Relay = ks.PID(Root + "/relay")
	}
	if cfg.Wifi != nil {
		s.Wifi = ks.PID(Root + "/wifi")
		s.wifiCell = wifiactor.NewCell(cfg.Wifi.Manager.Now)
	}
	if cfg.Apps != nil {
		s.appRecord = cfg.Apps.RecordPath
	}
	if cfg.Skills != nil {
		s.Skills = ks.PID(Root + "/skills")
		s.skillsCell = skills.NewCell()
	}
	topicsCell := topics.NewCell()
	geometry := kinematics.DefaultGeometry()
	hubCell, jobsCell := hub.NewCell(), jobs.NewCell(jobs.DefaultLimits)
	lockCell, appsCell := &applock.Cell{}, &apps.Cell{}

	mediaPID := s.Media // read once: the closure runs on the daemon's goroutine
	robotProps := func(daemonPID *actor.PID) *actor.Props {
		return robot.Props(robot.Options{
			System:  ks,
			Backoff: cfg.Backoff,
			Log:     cfg.Log,
			Motorbus: motorbus.Options{
				Core: cfg.Motorbus, Open: cfg.Open, Period: cfg.Period,
				Status: daemonPID, Log: cfg.Log, Loop: cfg.Loop, RTPriority: cfg.RTPriority,
			},
			Moves: moves.Options{
				Config: cfg.Moves, Geometry: geometry, Library: cfg.Library,
				Hub: s.Hub, Daemon: daemonPID, Media: mediaPID, Datasets: s.Datasets, Log: cfg.Log, UploadDir: cfg.UploadDir,
			},
		})
	}
	// The top-level actors, in the order they start. Their props are kept
	// by the root: a crash-looping one is respawned from them, on the same
	// cell.
	var children []kit.Child
	add := func(name string, p *actor.Props) { children = append(children, kit.Child{Name: name, Props: p}) }
	add("hub", hub.Props(hub.Options{Cell: hubCell, Log: cfg.Log}))
	add("jobs", jobs.Props(jobsCell, nil))
	children = append(children, s.datasetsChild(cfg))
	add("applock", applock.Props(applock.Options{Cell: lockCell, Log: cfg.Log,
		Publish: func(e messages.LockEvent) { ks.Publish(e) }}))
	topicOpts := topics.Options{Hub: s.Hub, Daemon: s.Daemon, Motorbus: s.Motorbus, StateHz: cfg.TopicStateHz, Cell: topicsCell, Log: cfg.Log}
	if cfg.Apps != nil {
		topicOpts.Apps = s.Apps
	}
	add("topics", topics.Props(topicOpts))
	if cfg.Auth != nil {
		add("auth", auth.Props(auth.Options{Cell: cfg.Auth, Log: cfg.Log}))
	}
	if cc := cfg.Camera; cc != nil {
		add("camera", camera.Props(camera.Options{Source: cc.Source, Out: cc.Out, Linger: cc.Linger, Log: cfg.Log}))
	}
	if mc := cfg.Media; mc != nil {
		mo := mc.Options
		mo.Moves, mo.Log = s.Moves, cfg.Log
		add("media", media.Props(mo))
	}
	s.addRelay(cfg, func(name string, o relay.Options) { add(name, relay.Props(o)) })
	if wc := cfg.Wifi; wc != nil {
		add("wifi", wifiactor.Props(wifiactor.Options{Manager: wc.Manager, Startup: wc.Startup, Cell: s.wifiCell, Log: cfg.Log}))
	}
	if sc := cfg.Skills; sc != nil {
		add("skills", skills.Props(skills.Options{Files: sc.Files, Python: sc.Python, APIURL: sc.APIURL, WorkDir: sc.WorkDir,
			ImportTimeout: sc.ImportTimeout, Broker: s.Topics, Moves: s.Moves, Cell: s.skillsCell, Log: cfg.Log}))
	}
	if a := cfg.Apps; a != nil {
		appmon := ks.PID(Root + "/appmon")
		add("appmon", apps.AppmonProps(apps.MonitorOptions{Manager: s.Apps, Jobs: s.Jobs, Log: cfg.Log, Cgroups: a.Cgroups}, ks))
		add("apps", apps.Props(apps.Options{
			Store: a.Store, HF: a.HF, TokenPath: a.TokenPath, RecordPath: a.RecordPath, StopGrace: a.StopGrace, LocalDirs: a.LocalDirs,
			Lock: s.Lock, Jobs: s.Jobs, Moves: s.Moves, Daemon: s.Daemon, Appmon: appmon, Log: cfg.Log, Cell: appsCell,
			Hub: s.Hub, Media: s.Media, Motorbus: s.Motorbus, Relay: s.Relay,
		}, ks))
	}
	s.addUpdate(cfg, func(name string, o updater.Options) { add(name, updater.Props(o)) })
	var auto *daemon.Autostart
	if cfg.Autostart {
		auto = &daemon.Autostart{WakeUp: cfg.WakeUp}
	}
	dopt := daemon.Options{
		Config: cfg.Daemon, System: ks, Robot: robotProps, Hub: s.Hub, Jobs: s.Jobs, Log: cfg.Log,
		Autostart: auto, Services: Services, Logs: cfg.Logs,
	}
	if s.MediaCell != nil {
		dopt.Media = s.MediaCell
	}
	if a := cfg.Apps; a != nil {
		// A stop with sleep stops the app first: its grace, then the kill.
		dopt.Apps = s.Apps
		if a.StopGrace > 0 {
			dopt.AppStopTimeout = a.StopGrace + 5*time.Second
		}
	}
	add("daemon", daemon.Props(dopt))
	s.crashable = make([]*actor.PID, 0, len(children)+2)
	for _, c := range children {
		if c.Name != "appmon" { // a plain supervisor: its monitors restart, not it
			s.crashable = append(s.crashable, ks.PID(Root+"/"+c.Name))
		}
	}
	s.crashable = append(s.crashable, s.Motorbus, s.Moves)

	rootProps := kit.RootProps(kit.RootOptions{
		Children: children, Child: cfg.RootChild, Tree: cfg.RootTree,
		Publish: func(e messages.SupervisionEvent) { ks.Publish(e) },
		Unrecoverable: func(reason string) {
			cfg.Log.Error("reachyd cannot recover: part of the actor tree keeps failing", "reason", reason)
			s.unrecoverable <- reason // buffered; called once
		},
	})
	rootPID, err := ks.Root.SpawnNamed(rootProps, Root)
	if err != nil {
		ks.Shutdown()
		s.wifiCell.Close()
		return nil, err
	}
	// The root spawns its children while handling Started, before any other
	// message: once it answers, every top-level actor exists, so the
	// gateway's first request cannot land in dead letters.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ks.AskAny(ctx, rootPID, &kit.TreeReady{}); err != nil {
		ks.Shutdown()
		s.wifiCell.Close()
		return nil, fmt.Errorf("system: actor tree did not start: %w", err)
	}
	return s, nil
}

// Shutdown stops the backend (with the sleep sequence if asked) and then
// the actor system. It waits for the backend at most until ctx ends.
func (s *System) Shutdown(ctx context.Context, gotoSleep bool) error {
	// The running app first, as the reference's lifespan does; installs
	// in progress are cancelled (their staging folders are cleared at the
	// next start).
	s.Kit.Tell(s.Apps, &messages.CancelInstalls{})
	if s.skillsCell != nil {
		s.skillsCell.StopHost(3 * time.Second)
	}
	if _, err := s.Kit.AskAny(ctx, s.Apps, &messages.StopApp{}); err != nil && messages.KindOf(err) != messages.KindBadRequest {
		s.Kit.Log.Debug("stopping the app at shutdown", "err", err)
	}
	done, err := kit.Ask[*daemon.ShutdownDone](ctx, s.Kit, s.Daemon, &daemon.Shutdown{GotoSleep: gotoSleep})
	if err == nil && done.Err != "" {
		err = errors.New(done.Err)
	}
	_ = s.Kit.Root.StopFuture(s.Kit.PID(Root)).Wait()
	s.Kit.Shutdown()
	// A Wi-Fi operation still running (a join, the start-up check) is
	// cancelled; NetworkManager goes on with what it was asked.
	s.wifiCell.Close()
	// No app process outlives the daemon, even if its stop failed.
	if n := procs.EndRecorded(s.appRecord, 10*time.Second); n > 0 {
		s.Kit.Log.Warn("killed an app that was still running at shutdown", "apps", n)
	}
	return err
}
