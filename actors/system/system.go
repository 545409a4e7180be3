// Package system assembles reachyd's actor tree:
//
//	reachyd (root supervisor)
//	├── hub      state fan-out to WebSocket subscribers
//	├── jobs     job register
//	└── daemon   lifecycle; owns the backend while it runs
//	    └── robot (supervisor)
//	        ├── moves     move scheduler, IK/FK
//	        └── motorbus  the bus and the control clock
//
// and gives the gateway and main the PIDs they talk to.
package system

import (
	"context"
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
	"reachyd/actors/motorbus"
	"reachyd/actors/moves"
	"reachyd/actors/moves/motion"
	"reachyd/actors/robot"
	"reachyd/actors/skills"
	"reachyd/actors/topics"
	hwcam "reachyd/hw/camera"
	"reachyd/hw/kinematics"
	"reachyd/messages"
)

// Config is everything the actor tree needs.
type Config struct {
	Daemon   daemon.Config
	Period   time.Duration
	Open     motorbus.Opener
	Motorbus motorbus.Config
	Moves    moves.Config
	Library  motion.Library
	Backoff  kit.Backoff
	Log      *slog.Logger
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
	// UploadDir is where audio uploaded over /ws/sdk is kept until it is
	// played (main sets <data-dir>/uploads/audio).
	UploadDir string
}

// CameraConfig configures the camera actor.
type CameraConfig struct {
	Source hwcam.Source
	Out    *hwcam.Broadcaster
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

	skillsCell *skills.Cell
	appRecord  string // the running app's pid record
}

type treeReady struct{}

// Services are the actors get_services lists.
var Services = []string{"daemon", "robot", "motorbus", "moves", "hub", "jobs", "applock", "apps", "appmon", "topics", "auth", "skills", "camera"}

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
	}
	if cfg.Auth != nil {
		s.Auth = ks.PID(Root + "/auth")
	}
	if cfg.Camera != nil {
		s.Camera = ks.PID(Root + "/camera")
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

	robotProps := func(daemonPID *actor.PID) *actor.Props {
		return robot.Props(robot.Options{
			System:  ks,
			Backoff: cfg.Backoff,
			Log:     cfg.Log,
			Motorbus: motorbus.Options{
				Core: cfg.Motorbus, Open: cfg.Open, Period: cfg.Period,
				Status: daemonPID, Log: cfg.Log,
			},
			Moves: moves.Options{
				Config: cfg.Moves, Geometry: geometry, Library: cfg.Library,
				Hub: s.Hub, Daemon: daemonPID, Log: cfg.Log, UploadDir: cfg.UploadDir,
			},
		})
	}
	rootProps := actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*treeReady); ok {
			kit.Reply(ctx, struct{}{})
			return
		}
		if _, ok := ctx.Message().(*actor.Started); !ok {
			return
		}
		must := func(_ *actor.PID, err error) {
			if err != nil {
				panic(err)
			}
		}
		must(ctx.SpawnNamed(hub.Props(hub.Options{Cell: hubCell, Log: cfg.Log}), "hub"))
		must(ctx.SpawnNamed(jobs.Props(jobsCell, nil), "jobs"))
		must(ctx.SpawnNamed(applock.Props(applock.Options{Cell: lockCell, Log: cfg.Log,
			Publish: func(e messages.LockEvent) { ks.Publish(e) }}), "applock"))
		topicOpts := topics.Options{Hub: s.Hub, Daemon: s.Daemon, Motorbus: s.Motorbus, StateHz: cfg.TopicStateHz, Cell: topicsCell, Log: cfg.Log}
		if cfg.Apps != nil {
			topicOpts.Apps = s.Apps
		}
		must(ctx.SpawnNamed(topics.Props(topicOpts), "topics"))
		if cfg.Auth != nil {
			must(ctx.SpawnNamed(auth.Props(auth.Options{Cell: cfg.Auth, Log: cfg.Log}), "auth"))
		}
		if cc := cfg.Camera; cc != nil {
			must(ctx.SpawnNamed(camera.Props(camera.Options{Source: cc.Source, Out: cc.Out, Log: cfg.Log}), "camera"))
		}
		if sc := cfg.Skills; sc != nil {
			must(ctx.SpawnNamed(skills.Props(skills.Options{Files: sc.Files, Python: sc.Python, APIURL: sc.APIURL, WorkDir: sc.WorkDir,
				ImportTimeout: sc.ImportTimeout, Broker: s.Topics, Moves: s.Moves, Cell: s.skillsCell, Log: cfg.Log}), "skills"))
		}
		if a := cfg.Apps; a != nil {
			appmon := ks.PID(Root + "/appmon")
			must(ctx.SpawnNamed(apps.AppmonProps(apps.MonitorOptions{Manager: s.Apps, Jobs: s.Jobs, Log: cfg.Log, Cgroups: a.Cgroups}, ks), "appmon"))
			must(ctx.SpawnNamed(apps.Props(apps.Options{
				Store: a.Store, HF: a.HF, TokenPath: a.TokenPath, RecordPath: a.RecordPath, StopGrace: a.StopGrace, LocalDirs: a.LocalDirs,
				Lock: s.Lock, Jobs: s.Jobs, Moves: s.Moves, Daemon: s.Daemon, Appmon: appmon, Log: cfg.Log, Cell: appsCell,
			}, ks), "apps"))
		}
		var auto *daemon.Autostart
		if cfg.Autostart {
			auto = &daemon.Autostart{WakeUp: cfg.WakeUp}
		}
		must(ctx.SpawnNamed(daemon.Props(daemon.Options{
			Config: cfg.Daemon, System: ks, Robot: robotProps, Hub: s.Hub, Jobs: s.Jobs, Log: cfg.Log,
			Autostart: auto, Services: Services, Logs: cfg.Logs,
		}), "daemon"))
	}, actor.WithSupervisor(kit.NewStrategy(ks, cfg.Backoff)))
	rootPID, err := ks.Root.SpawnNamed(rootProps, Root)
	if err != nil {
		ks.Shutdown()
		return nil, err
	}
	// The root spawns its children while handling Started, before any other
	// message: once it answers, every top-level actor exists, so the
	// gateway's first request cannot land in dead letters.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ks.AskAny(ctx, rootPID, &treeReady{}); err != nil {
		ks.Shutdown()
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
	_, err := kit.Ask[*daemon.ShutdownDone](ctx, s.Kit, s.Daemon, &daemon.Shutdown{GotoSleep: gotoSleep})
	_ = s.Kit.Root.StopFuture(s.Kit.PID(Root)).Wait()
	s.Kit.Shutdown()
	// No app process outlives the daemon, even if its stop failed.
	if n := procs.EndRecorded(s.appRecord, 10*time.Second); n > 0 {
		s.Kit.Log.Warn("killed an app that was still running at shutdown", "apps", n)
	}
	return err
}
