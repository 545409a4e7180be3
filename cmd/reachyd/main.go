// Command reachyd is a daemon for the Reachy Mini robot, wire-compatible
// with the official Python daemon: it drives the motors (or a simulated
// robot), computes the head kinematics, schedules moves and serves the
// reference's HTTP/WebSocket API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"reachyd/actors/apps/procs"
	"reachyd/actors/apps/store"
	"reachyd/actors/auth"
	authcore "reachyd/actors/auth/core"
	camactor "reachyd/actors/camera"
	"reachyd/actors/daemon"
	"reachyd/actors/kit"
	"reachyd/actors/media"
	"reachyd/actors/motorbus"
	"reachyd/actors/moves/motion"
	"reachyd/actors/skills"
	"reachyd/actors/system"
	"reachyd/http/gateway"
	"reachyd/http/rtsp"
	"reachyd/hw"
	"reachyd/hw/camera"
	"reachyd/media/webrtc"
	"reachyd/sim"
)

// Version is reachyd's own version (set with -ldflags at release).
var Version = "0.1.0-dev"

// APIVersion is the reference daemon version whose contract reachyd serves;
// it is what status reports, so the SDK's version check sees a match.
const APIVersion = "1.10.0.dev0"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "sim-bus" {
		err = runSimBus(ctx, os.Args[2:], os.Stdin, os.Stdout)
	} else if len(os.Args) > 1 && os.Args[1] == "sim-camera" {
		err = runSimCamera(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else if len(os.Args) > 1 && os.Args[1] == "keys" {
		err = runKeys(os.Args[2:], os.Stdout, os.Stderr)
	} else if len(os.Args) > 1 && os.Args[1] == "update" {
		err = runUpdate(os.Args[2:], os.Stdout, os.Stderr)
	} else {
		err = restartAfterUpdate(run(ctx, os.Args[1:], os.Stderr, nil))
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "reachyd:", err)
		}
		os.Exit(1)
	}
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(s) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARNING", "WARN":
		return slog.LevelWarn, nil
	case "ERROR", "CRITICAL":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got %q", s)
}

// Started is told the address the API listens on, for tests.
type Started func(addr string, sys *system.System)

// run is the whole daemon: it returns when ctx ends (after a graceful
// stop) or on a fatal error.
func run(ctx context.Context, args []string, stderr io.Writer, started Started) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	// An update ends run with a restart request (restartError) as cause.
	ctx, requestRestart := context.WithCancelCause(ctx)
	defer requestRestart(nil)
	if opts.Version {
		fmt.Fprintf(stderr, "reachyd %s (Reachy Mini daemon API %s)\n", Version, APIVersion)
		return nil
	}
	level, _ := parseLevel(opts.LogLevel)
	var logOut io.Writer = stderr
	if opts.LogFile != "" {
		f, err := os.OpenFile(opts.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("--log-file: %w", err)
		}
		defer f.Close()
		logOut = io.MultiWriter(stderr, f)
	}
	logs := kit.NewLogRing(100)
	log := slog.New(logs.Handler(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level})))

	// Listen first: the API answers as soon as possible.
	addr := net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	defer ln.Close()

	cfg, err := systemConfig(opts, log)
	if err != nil {
		return err
	}
	// Uploads left by a daemon that died are never played: start afresh.
	_ = os.RemoveAll(filepath.Dir(cfg.UploadDir))
	if cfg.Apps != nil {
		cfg.Apps.Cgroups = appProcesses(log)
	}
	cfg.Logs = logs
	if cfg.Auth, err = auth.Open(authcore.StoreDir(opts.DataDir), authcore.Config{}); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	cfg.Skills = &system.SkillsConfig{Files: skills.Files{Dir: opts.SkillsDir}, APIURL: "http://" + ln.Addr().String(),
		WorkDir: filepath.Join(opts.DataDir, "skillhost"), ImportTimeout: opts.SkillImportTimeout}
	if opts.SkillHost {
		cfg.Skills.Python = "python3"
		if opts.Python != "" {
			cfg.Skills.Python = opts.Python
		}
	}
	video, err := cameraSource(opts, log)
	if err != nil {
		return err
	}
	var rtspLn net.Listener
	if video != nil {
		// The camera runs while someone watches, and 5 s more.
		cfg.Camera = &system.CameraConfig{Source: video, Out: camera.NewBroadcaster(), Linger: 5 * time.Second}
		if rtspLn, err = net.Listen("tcp", net.JoinHostPort(opts.RTSPHost, strconv.Itoa(opts.RTSPPort))); err != nil {
			return fmt.Errorf("RTSP server: %w (choose another --rtsp-port, or --camera none)", err)
		}
		defer rtspLn.Close()
	}
	var camOut *camera.Broadcaster
	if cfg.Camera != nil {
		camOut = cfg.Camera.Out
	}
	hooks := new(media.Hooks)
	cfg.Media, _ = mediaSetup(opts, log, camOut, hooks)
	ends := hookPeerEnds(cfg.Media)
	cfg.Daemon.NoMedia = cfg.Media == nil
	if cfg.Media != nil {
		cfg.Daemon.CameraSpecsName = cfg.Media.Options.SpecsName
	}
	topicsLn, err := net.Listen("tcp", net.JoinHostPort(opts.TopicsHost, strconv.Itoa(opts.TopicsPort)))
	if err != nil {
		return fmt.Errorf("topic bus: %w (choose another --topics-port)", err)
	}
	defer topicsLn.Close()
	var udsLn net.Listener
	if opts.UDS != "" {
		if udsLn, err = listenUnix(opts.UDS); err != nil {
			return fmt.Errorf("--uds: %w", err)
		}
		defer udsLn.Close()
	}
	if cfg.Update, err = updateConfig(opts, log, requestRestart); err != nil {
		return err
	}
	cfg.Wifi = wifiConfig(opts, log)
	var relayName *relayName
	cfg.Relay, relayName = relayConfig(opts, log, cfg.Media != nil)
	mx, err := prepareMetrics(opts, &cfg, log)
	if err != nil {
		return err
	}
	defer mx.close()
	sys, err := system.Start(cfg)
	if err != nil {
		return err
	}
	relayName.follow(sys)
	gcfg := gateway.Config{
		RobotName: opts.RobotName, HealthCheckTimeout: opts.HealthCheckTimeout,
		Log: log, Version: APIVersion, ExtraHosts: hostNames(opts.Host),
		AllowRawBus: opts.AllowRawBus, MaxConnections: opts.MaxConnections, MaxWebSockets: opts.MaxWebSockets,
	}
	if cfg.Camera != nil {
		gcfg.Video = cfg.Camera.Out
	}
	if mc := cfg.Media; mc != nil {
		if mc.Options.Sounds != nil {
			gcfg.SoundsDir, gcfg.SoundsStaging = mc.Options.Sounds.Dir(), mc.Options.Sounds.Staging()
		}
		cell := sys.MediaCell
		gcfg.Broadcast = func(frame []byte) {
			if p := cell.Producer(); p != nil {
				p.Broadcast(frame)
			}
		}
	}
	gcfg.Surface = surfaceConfig(opts, logs, log)
	gcfg.HFAuth = hfAuthService(opts, ln.Addr(), log)
	gcfg.Metrics = mx.start(sys)
	gw := gateway.New(sys, gcfg)
	ends.Store(gw)
	hooks.SetCommands(func(s *webrtc.Session, msg []byte) { gw.PeerCommand(peer{s}, msg) })
	hooks.SetState(gw.StateSnapshot)
	var rtspSrv *rtsp.Server
	if cfg.Camera != nil {
		out := cfg.Camera.Out
		rtspSrv = rtsp.NewServer(func(path string) (*camera.Broadcaster, bool) { return out, path == camactor.Stream }, log.With("component", "rtsp"))
		go func() { _ = rtspSrv.Serve(rtspLn) }()
		log.Info("camera", "source", video.Describe(), "rtsp", "rtsp://"+rtspLn.Addr().String()+"/"+camactor.Stream)
	}
	log.Info("reachyd listening", "addr", ln.Addr().String(), "backend", opts.Backend, "control_hz", opts.ControlHz)
	if started != nil {
		started(ln.Addr().String(), sys)
	}
	stopMDNS := startMDNS(opts, log, sys, ln.Addr())

	srvCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 3)
	servers := 2
	go func() { served <- gw.Serve(srvCtx, ln) }()
	go func() { served <- gw.ServeTopics(srvCtx, topicsLn) }()
	go mx.serve(srvCtx)
	if cfg.Media != nil {
		go gw.ForwardBroadcasts(srvCtx)
	}
	// TURN credentials; sign-in and sign-out reach it as HFTokenChanged on
	// the event stream (nil when TURN is off).
	_ = startTURN(srvCtx, opts, sys, log)
	go updateDatasets(srvCtx, sys, opts, log)
	if udsLn != nil {
		servers++
		go func() { served <- gw.ServeUnix(srvCtx, udsLn) }()
	}
	log.Info("skills API", "topics", topicsLn.Addr().String(), "uds", opts.UDS, "skills_dir", opts.SkillsDir)
	if opts.ChaosEvery > 0 {
		log.Warn("chaos: crashing one actor in turn (--chaos-every, a testing aid)", "every", opts.ChaosEvery)
		go sys.Chaos(srvCtx, opts.ChaosEvery, log)
	}

	var fatal error
	stopWithin, sleep := 25*time.Second, opts.GotoSleepOnStop
	select {
	case <-ctx.Done():
		log.Info("stopping")
		if r := new(restartError); errors.As(context.Cause(ctx), &r) {
			fatal = r
		}
	case <-gw.Watchdog():
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case reason := <-sys.Unrecoverable():
		// Part of the daemon is dead for good: stop what can be stopped,
		// quickly, and exit non-zero so that systemd starts it afresh.
		fatal = fmt.Errorf("cannot recover: %s", reason)
		log.Error("stopping: reachyd cannot recover by itself", "reason", reason)
		stopWithin, sleep = unrecoverableStop, false
	}
	stopMDNS()
	sctx, scancel := context.WithTimeout(context.Background(), stopWithin)
	defer scancel()
	if err := sys.Shutdown(sctx, sleep); err != nil {
		log.Warn("backend did not stop cleanly", "err", err)
	}
	cancel()
	for i := 0; i < servers; i++ {
		<-served
	}
	if rtspSrv != nil {
		_ = rtspSrv.Close()
	}
	return fatal
}

// unrecoverableStop bounds the stop when the actor tree gave up.
const unrecoverableStop = 5 * time.Second

// appProcesses sets up what keeps app processes from outliving their app
// and the daemon, and logs which mechanisms are in use: reachyd as child
// subreaper (orphaned descendants come back to it), and a cgroup per app
// when reachyd may create them (returned, nil otherwise).
func appProcesses(log *slog.Logger) *procs.Cgroups {
	strays, err := procs.EnableSubreaper()
	switch {
	case err != nil:
		log.Warn("app processes: cannot become child subreaper; an app's orphaned processes are found by their token only", "err", err)
	case !strays:
		log.Info("app processes: reachyd is child subreaper; adopted processes of no app stay zombies until it exits (no pidfd support)")
	}
	cg, err := procs.DetectCgroups()
	if err != nil {
		log.Info("app processes: no cgroup per app, tracked through /proc (subreaper, process tree, token)", "reason", err)
		return nil
	}
	log.Info("app processes: a cgroup per app, and tracked through /proc (subreaper, process tree, token)", "cgroups", cg.Dir)
	return cg
}

// hostNames are the Host header names accepted besides the defaults: the
// bind address when it is a name.
func hostNames(host string) []string {
	if net.ParseIP(host) == nil && host != "" {
		return []string{host}
	}
	return nil
}

// systemConfig turns options into the actor tree's configuration.
func systemConfig(o *Options, log *slog.Logger) (system.Config, error) {
	cfg := system.Config{
		UploadDir:  filepath.Join(o.DataDir, "uploads", "audio"),
		Period:     time.Duration(float64(time.Second) / o.ControlHz),
		RTPriority: o.RTPriority,
		Library:    motion.Library{Dirs: datasetDirs(o)},
		Datasets:   datasetsConfig(o),
		Log:        log,
		Autostart:  o.Autostart,
		WakeUp:     o.WakeUpOnStart,
		Daemon: daemon.Config{
			RobotName: o.RobotName, Version: APIVersion, NoMedia: true, // until media starts
			WirelessVersion: o.WirelessVersion, DesktopAppDaemon: o.DesktopAppDaemon,
			ControlHz: o.ControlHz, DataDir: o.DataDir, HardwareID: hw.HardwareID(), WlanIP: wlanIP(),
		},
	}
	cfg.Apps = &system.AppsConfig{
		Store: &store.Store{Root: filepath.Join(o.DataDir, "apps"), Python: o.Python, AllowNetwork: o.AppsNetwork,
			SystemSitePackages: true},
		HF:         store.HF{Endpoint: o.HFEndpoint},
		TokenPath:  daemon.HFTokenPath(),
		RecordPath: filepath.Join(o.DataDir, "running-app.json"),
		StopGrace:  o.AppGrace,
		LocalDirs:  o.AppsLocal,
	}
	if ok, err := mujocoBackend(o, &cfg, log); ok || err != nil {
		return cfg, err
	}
	switch o.Backend {
	case "sim":
		// The simulated motors speak Protocol 2.0 with the bus's byte times:
		// the daemon drives them through the same codec, client and bus code
		// as the real robot.
		robot := sim.New(sim.Options{Mockup: o.MockupSim, Timing: true, Log: log})
		cfg.Open = robot.Open
		cfg.Motorbus = motorbus.Config{WriteAlways: o.MockupSim, AllowGravity: true, Controller: "sim (Dynamixel X330 simulated)"}
		cfg.Daemon.BackendKind = "sim"
		cfg.Daemon.BackendName = "sim"
		cfg.Daemon.Simulation = !o.MockupSim
		cfg.Daemon.Mockup = o.MockupSim
		if o.MockupSim {
			cfg.Daemon.BackendKind = "mockup"
			cfg.Daemon.BackendName = "sim (mockup)"
		}
	case "robot":
		open, name, err := robotBus(o, log)
		if err != nil {
			return cfg, err
		}
		cfg.Open = open
		cfg.Motorbus = motorbus.Config{Controller: name,
			GravityRefusal: "gravity_compensation is not available: reachyd cannot compute the head's gravity torques (the reference needs its Placo engine for this)"}
		cfg.Daemon.BackendKind = "robot"
		cfg.Daemon.BackendName = name
	}
	return cfg, nil
}
