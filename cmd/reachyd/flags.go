package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"reachyd/actors/moves/motion"
	"reachyd/http/validate"
	"reachyd/media/gst"
	"reachyd/selfupdate"
)

// Options are reachyd's command-line options: the reference daemon's flags
// (spec 7.2), with their defaults, plus reachyd's own.
type Options struct {
	// Reference flags.
	WirelessVersion    bool
	DesktopAppDaemon   bool
	RobotName          string
	SerialPort         string
	HardwareConfig     string
	Sim                bool
	MockupSim          bool
	Scene              string
	Headless           bool
	NoMedia            bool
	Autostart          bool
	HealthCheckTimeout time.Duration
	WakeUpOnStart      bool
	GotoSleepOnStop    bool
	PreloadDatasets    bool
	DatasetUpdateHours float64
	CheckCollision     bool
	KinematicsEngine   string
	Host               string
	Port               int
	LogLevel           string
	LogFile            string

	// reachyd flags.
	Backend     string
	ControlHz   float64
	RTPriority  int
	DataDir     string
	DatasetsDir []string
	Version     bool
	HFEndpoint  string
	AppGrace    time.Duration
	AppsNetwork bool
	AppsLocal   []string
	Python      string
	UDS         string
	TopicsHost  string
	TopicsPort  int
	SkillsDir   string
	SkillHost   bool
	Camera      string
	CameraSize  string
	CameraFPS   int
	RTSPHost    string
	RTSPPort    int
	// Media.
	WebRTCHost     string
	WebRTCPort     int
	WebRTCLoopback bool
	ICEServers     []string
	NoTURN         bool
	GstLaunch      string
	VideoEncoder   string
	KeyframeEvery  int
	AudioSource    string
	AudioSink      string
	AEC            bool
	AudioFEC       bool
	// Discovery.
	NoMDNS         bool
	MDNSInterfaces []string
	// Limits and opt-ins.
	AllowRawBus    bool
	MaxConnections int
	MaxWebSockets  int

	// Wi-Fi (with --wireless-version): NetworkManager over D-Bus.
	Wifi          bool
	WifiBus       string
	WifiInterface string
	Relay         bool   // run the central relay (with media)
	CentralURL    string // the central signalling server

	// Recorded-move datasets (datasets.go).
	HFHubCache       string
	DatasetDownloads bool
	DatasetMaxMB     int
	// Self-update (with --wireless-version).
	UpdateURL    string
	UpdateKeys   []string
	UpdateBinary string

	// SkillImportTimeout bounds the import of one skill file in the host.
	SkillImportTimeout time.Duration

	// ChaosEvery is a testing aid for soak runs: crash one actor in turn
	// at this interval (0: never).
	ChaosEvery time.Duration

	// The robot description and the log streams (surface.go).
	DescriptionDir string
	JournalUnit    string

	// MujocoModel is --mujoco-model (mujoco.go); mujoco is the MuJoCo
	// backend once --sim set it up (nil otherwise).
	MujocoModel string
	mujoco      any

	// HFOAuthClientID is the OAuth app of the Hugging Face sign-in (hfauth.go).
	HFOAuthClientID string

	// Prometheus metrics (metrics.go): MetricsAddr "" serves /metrics on
	// the API, "off" nowhere, host:port on a listener of its own.
	MetricsAddr string
	NoMetrics   bool
}

// negatable registers --name and --no-name on one bool, as argparse's
// BooleanOptionalAction does; the last one given wins.
type negatable struct {
	p   *bool
	set bool
}

func (n *negatable) String() string   { return "" }
func (n *negatable) IsBoolFlag() bool { return true }
func (n *negatable) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*n.p = v == n.set
	return nil
}

func boolPair(fs *flag.FlagSet, p *bool, name string, def bool, usage string) {
	*p = def
	fs.Var(&negatable{p: p, set: true}, name, usage+fmt.Sprintf(" (default %v)", def))
	fs.Var(&negatable{p: p, set: false}, "no-"+name, "disable --"+name)
}

type listFlag struct{ p *[]string }

func (l listFlag) String() string { return "" }
func (l listFlag) Set(s string) error {
	for _, part := range strings.Split(s, string(os.PathListSeparator)) {
		if part = strings.TrimSpace(part); part != "" {
			*l.p = append(*l.p, part)
		}
	}
	return nil
}

type secondsFlag struct{ p *time.Duration }

func (s secondsFlag) String() string { return "" }
func (s secondsFlag) Set(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return fmt.Errorf("want a positive number of seconds, got %q", v)
	}
	*s.p = time.Duration(f * float64(time.Second))
	return nil
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "reachyd")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "reachyd")
	}
	return "reachyd-data"
}

// parseFlags parses the command line. Go's flag package accepts both -name
// and --name, so the reference's spellings work as they are.
func parseFlags(args []string, out io.Writer) (*Options, error) {
	o := &Options{}
	fs := flag.NewFlagSet("reachyd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.BoolVar(&o.WirelessVersion, "wireless-version", false, "run as the wireless robot's daemon (binds 0.0.0.0)")
	fs.BoolVar(&o.DesktopAppDaemon, "desktop-app-daemon", false, "run as the desktop app's daemon")
	fs.StringVar(&o.RobotName, "robot-name", "reachy_mini", "robot name (a name saved with POST /api/daemon/robot-name wins)")
	fs.StringVar(&o.SerialPort, "serialport", "auto", "serial port of the motors, or auto")
	fs.StringVar(&o.SerialPort, "p", "auto", "shorthand for --serialport")
	fs.StringVar(&o.HardwareConfig, "hardware-config-filepath", "", "hardware config YAML (built-in reference values by default)")
	fs.BoolVar(&o.Sim, "sim", false, "run on the simulated robot: MuJoCo physics in a reachyd built with -tags mujoco (make run-mujoco), else reachyd's motor bus simulator")
	fs.BoolVar(&o.MockupSim, "mockup-sim", false, "run on the simulated robot with instant motors (the reference's mockup)")
	fs.StringVar(&o.Scene, "scene", "empty", "MuJoCo scene of the reference's model: empty or minimal (reachyd's bus simulator has no scenes)")
	fs.BoolVar(&o.Headless, "headless", false, "no simulation viewer (reachyd never opens one); with MuJoCo, no rendered camera either")
	fs.StringVar(&o.MujocoModel, "mujoco-model", "", "with --sim in a MuJoCo build: the reference's MJCF (a scene file, or its mjcf folder; default: found beside the robot description), or builtin for reachyd's simplified model")
	fs.BoolVar(&o.NoMedia, "no-media", false, "no camera, audio, WebRTC or relay")
	boolPair(fs, &o.Autostart, "autostart", true, "start the robot backend at launch")
	fs.Var(secondsFlag{&o.HealthCheckTimeout}, "timeout-health-check", "stop when no POST /health-check arrives for this many seconds")
	boolPair(fs, &o.WakeUpOnStart, "wake-up-on-start", true, "play the wake-up sequence when the backend starts")
	boolPair(fs, &o.GotoSleepOnStop, "goto-sleep-on-stop", true, "play the sleep sequence when the backend stops")
	boolPair(fs, &o.PreloadDatasets, "preload-datasets", false, "download the emotions and dances libraries (or their updates) at startup")
	fs.Float64Var(&o.DatasetUpdateHours, "dataset-update-interval", 24, "hours between checks for updates of the emotions and dances libraries (0: never)")
	fs.BoolVar(&o.CheckCollision, "check-collision", false, "collision checking (needs Placo; not available)")
	fs.StringVar(&o.KinematicsEngine, "kinematics-engine", "AnalyticalKinematics", "kinematics engine (only AnalyticalKinematics)")
	fs.StringVar(&o.Host, "fastapi-host", "", "address to bind (default 127.0.0.1, 0.0.0.0 with --wireless-version)")
	fs.IntVar(&o.Port, "fastapi-port", 8000, "port to bind")
	fs.StringVar(&o.LogLevel, "log-level", "INFO", "DEBUG, INFO, WARNING, ERROR or CRITICAL")
	fs.StringVar(&o.LogFile, "log-file", "", "also log to this file")

	fs.StringVar(&o.Backend, "backend", "", "sim or robot (default robot, or sim with --sim/--mockup-sim)")
	fs.Float64Var(&o.ControlHz, "control-hz", 50, "control loop rate")
	fs.IntVar(&o.RTPriority, "rt-priority", 0, "SCHED_FIFO priority of the control loop's thread, 1-49 (0, the default: none, a short scheduler slice instead; see docs/operations.md before raising it)")
	fs.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "where reachyd keeps its state (robot name, settings)")
	fs.Var(listFlag{&o.DatasetsDir}, "datasets-dir", "folder of recorded-move datasets (org/name/*.json); repeatable; the Hugging Face cache is always searched too")
	fs.BoolVar(&o.Version, "version", false, "print the version and exit")
	hfDefault := os.Getenv("HF_ENDPOINT")
	if hfDefault == "" {
		hfDefault = "https://huggingface.co"
	}
	fs.StringVar(&o.HFEndpoint, "hf-endpoint", hfDefault, "Hugging Face endpoint for the app catalogue and downloads")
	// Hugging Face sign-in (hfauth.go).
	fs.StringVar(&o.HFOAuthClientID, "hf-oauth-client-id", hfOAuthClientIDDefault(), "OAuth app of the Hugging Face sign-in (default: HF_OAUTH_CLIENT_ID, else Pollen Robotics' app); empty turns OAuth sign-in off")
	// Recorded-move datasets (datasets.go).
	fs.StringVar(&o.HFHubCache, "hf-hub-cache", motion.DefaultHubCache(), "Hugging Face hub cache: searched for datasets, and where missing ones are downloaded (default: huggingface_hub's, from HF_HUB_CACHE or HF_HOME)")
	boolPair(fs, &o.DatasetDownloads, "dataset-downloads", true, "download a recorded-move dataset that is not on disk from --hf-endpoint (HF_HUB_OFFLINE=1 turns this off too)")
	fs.IntVar(&o.DatasetMaxMB, "dataset-max-mb", 1024, "size limit of one dataset download, in MiB")
	o.AppGrace = 20 * time.Second
	fs.Var(secondsFlag{&o.AppGrace}, "app-stop-grace", "seconds an app has to exit after SIGINT before its process group is killed (default 20)")
	fs.BoolVar(&o.AppsNetwork, "apps-allow-network", false, "let pip reach its package index when installing apps (dependencies included)")
	fs.Var(listFlag{&o.AppsLocal}, "apps-local-dir", "folder that apps may be installed from by path over TCP (source_kind local); repeatable or a path list; none by default (the unix socket's trusted callers may use any path)")
	fs.StringVar(&o.Python, "python", "", "Python interpreter that creates the apps' virtual environments (default: the first of python3 on PATH and /usr/bin/python3 that can build a wheel offline)")
	fs.StringVar(&o.UDS, "uds", "/tmp/rest_api.sock", "unix socket serving the API too (pymirokai's local connection; callers with reachyd's uid or root need no API key); empty: none")
	fs.StringVar(&o.TopicsHost, "topics-host", "", "address of the topic bus WebSocket (default: the --fastapi-host address)")
	fs.IntVar(&o.TopicsPort, "topics-port", 8001, "port of the topic bus WebSocket (pymirokai's WebSocketAPI)")
	fs.StringVar(&o.SkillsDir, "skills-dir", "", "skills folder (default <data-dir>/custom_skills; disabled files go beside it in <dir>.disabled)")
	boolPair(fs, &o.SkillHost, "skill-host", true, "run the skill host that runs the skills folder's Python skills")
	o.SkillImportTimeout = 10 * time.Second
	fs.Var(secondsFlag{&o.SkillImportTimeout}, "skill-import-timeout", "seconds the skill host may spend importing one skill file; a file over it is reported and skipped until it changes (default 10)")
	fs.StringVar(&o.Camera, "camera", "auto", "camera source: auto (a test pattern on the simulator; on the robot the first usable V4L2 camera, else the CSI camera through GStreamer's libcamerasrc), test, none, a device such as /dev/video0, or gst:ELEMENT [PROP=VALUE...] to capture through GStreamer (gst:libcamerasrc, \"gst:v4l2src device=/dev/video0\")")
	fs.StringVar(&o.CameraSize, "camera-size", "640x480", "camera frame size, WIDTHxHEIGHT")
	fs.IntVar(&o.CameraFPS, "camera-fps", 15, "camera frame rate")
	fs.StringVar(&o.RTSPHost, "rtsp-host", "", "address of the RTSP server (default: the --fastapi-host address)")
	fs.IntVar(&o.RTSPPort, "rtsp-port", 8554, "port of the RTSP server (rtsp://<host>:<port>/head_color)")
	fs.StringVar(&o.WebRTCHost, "webrtc-host", "", "address of the WebRTC signalling server (default: the --fastapi-host address)")
	fs.IntVar(&o.WebRTCPort, "webrtc-port", 8443, "port of the WebRTC signalling server (GStreamer webrtcsink's protocol, ws://<host>:<port>)")
	fs.BoolVar(&o.WebRTCLoopback, "webrtc-loopback", false, "offer only loopback ICE candidates (tests and local-only use; nothing leaves the machine)")
	fs.Func("ice-server", "a STUN or TURN server for WebRTC, URL[,username,credential] (repeatable; default none: the LAN needs none)", func(v string) error {
		if _, err := parseICEServer(v); err != nil {
			return err
		}
		o.ICEServers = append(o.ICEServers, v)
		return nil
	})
	fs.BoolVar(&o.NoTURN, "no-turn", false, "do not fetch TURN credentials (REACHY_TURN_URL with the Hugging Face token) for remote WebRTC consumers; daemon_config.json turn_enabled=false does the same")
	fs.StringVar(&o.GstLaunch, "gst-launch", "gst-launch-1.0", "GStreamer's gst-launch-1.0, which runs the media pipelines")
	fs.StringVar(&o.VideoEncoder, "video-encoder", "auto", "video encoder: auto (hardware H.264 where present, else VP8), vp8, x264 or v4l2h264")
	fs.IntVar(&o.KeyframeEvery, "video-keyframe-interval", 0, "the video encoder's keyframe interval in frames (0: the camera's frame rate, one a second); a consumer that asks for a keyframe gets one at once anyway")
	fs.StringVar(&o.AudioSource, "audio-source", "auto", "microphone: auto (a test tone on the simulator, else the default device), sim, alsa[:DEVICE], pulse[:DEVICE]")
	fs.StringVar(&o.AudioSink, "audio-sink", "auto", "speaker: auto (a level meter on the simulator, else the default device), sim, alsa[:DEVICE], pulse[:DEVICE]")
	fs.BoolVar(&o.AEC, "aec", true, "cancel the speaker's echo in the microphone (webrtcdsp) when the device is real")
	fs.BoolVar(&o.AudioFEC, "audio-fec", false, "decode the in-band FEC of the audio consumers send to the speaker: recovers lost packets, adds about 100 ms (GStreamer 1.22's opusdec)")
	fs.BoolVar(&o.NoMDNS, "no-mdns", false, "do not advertise the robot over mDNS (_reachy-mini._tcp, as the reference)")
	fs.Var(listFlag{&o.MDNSInterfaces}, "mdns-interface", "advertise over mDNS on this interface whatever the bind address (repeatable; default: the interfaces the API listens on, none on loopback)")
	fs.BoolVar(&o.AllowRawBus, "allow-raw-bus", false, "serve WS /api/move/ws/raw/write (raw Dynamixel packets; instructions that could brick a motor are refused even then)")
	fs.IntVar(&o.MaxConnections, "max-connections", 1024, "open connections at most on each TCP listener (API, topic bus); one more waits until one closes")
	fs.IntVar(&o.MaxWebSockets, "max-websockets", 256, "WebSocket clients at most, over every endpoint")
	boolPair(fs, &o.Wifi, "wifi", true, "with --wireless-version: manage the Wi-Fi through NetworkManager (the /wifi routes; the hotspot at start when no network is up)")
	fs.StringVar(&o.WifiBus, "wifi-dbus-address", "", "D-Bus address of NetworkManager's bus (default: the system bus)")
	fs.StringVar(&o.WifiInterface, "wifi-interface", "", "Wi-Fi interface to manage (default: NetworkManager's first Wi-Fi device)")
	fs.StringVar(&o.UpdateURL, "update-url", "", "with --wireless-version: the signed release index that /update installs reachyd from (its signature at URL.sig); none by default")
	fs.Func("update-key", "a public key (base64 ed25519) release indexes may be signed with; repeatable; replaces the built-in key", func(v string) error {
		if _, err := selfupdate.ParsePublicKey(v); err != nil {
			return err
		}
		o.UpdateKeys = append(o.UpdateKeys, v)
		return nil
	})
	fs.StringVar(&o.UpdateBinary, "update-binary", "", "the binary an update replaces (default: this executable, symlinks resolved)")
	fs.DurationVar(&o.ChaosEvery, "chaos-every", 0, "testing aid, never for a robot in use: crash one actor in turn (round robin) at this interval, e.g. 30s, to soak-test supervision (0: off)")
	fs.StringVar(&o.DescriptionDir, "description-dir", "", "the robot description (robot.urdf and assets/*.stl) for /api/kinematics/urdf and stl (default: where the reference's reachy_mini Python package is installed)")
	// Central signalling relay (relay.go).
	boolPair(fs, &o.Relay, "relay", true, "with media: relay remote sessions from the central signalling server (needs a Hugging Face token: HF_TOKEN or huggingface_hub's token file)")
	fs.StringVar(&o.CentralURL, "central-url", defaultCentralURL(), "the central signalling server (default $REACHY_CENTRAL_URL, else the reference's)")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", "", "Prometheus metrics: empty serves GET /metrics on the API; host:port serves it on a listener of its own instead (then not on the API); off turns it off")
	fs.BoolVar(&o.NoMetrics, "no-metrics", false, "turn the Prometheus metrics off (as --metrics-addr off)")
	fs.StringVar(&o.JournalUnit, "journal-unit", "auto", "where WS /logs/ws/daemon and subscribe_logs read the log: auto (the systemd journal of reachyd's unit when run by systemd, else reachyd's own lines), none (reachyd's own lines), or a unit name (its journal, through journalctl)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, o.validate()
}

func (o *Options) validate() error {
	switch {
	case o.Backend == "" && (o.Sim || o.MockupSim):
		o.Backend = "sim"
	case o.Backend == "":
		o.Backend = "robot"
	case o.Backend != "sim" && o.Backend != "robot":
		return fmt.Errorf("--backend must be sim or robot, got %q", o.Backend)
	}
	if o.Backend == "robot" && (o.Sim || o.MockupSim) {
		return errors.New("--sim and --mockup-sim need --backend sim")
	}
	if o.RTPriority < 0 || o.RTPriority > 49 {
		return fmt.Errorf("--rt-priority must be within 0..49 (below the kernel's interrupt threads at 50, which the serial port needs), got %d", o.RTPriority)
	}
	if !(o.ControlHz >= 1 && o.ControlHz <= 1000) {
		return fmt.Errorf("--control-hz must be within 1..1000, got %v", o.ControlHz)
	}
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("--fastapi-port out of range: %d", o.Port)
	}
	if o.RobotName == "" || len(o.RobotName) > 256 || !validate.PrintableName(o.RobotName) {
		return fmt.Errorf("--robot-name must be non-empty, printable, and have no bidirectional text controls, got %q", o.RobotName)
	}
	if err := validateCentralURL(o.CentralURL); err != nil {
		return err
	}
	if o.KinematicsEngine != "AnalyticalKinematics" {
		return fmt.Errorf("--kinematics-engine %s is not available: reachyd implements AnalyticalKinematics only", o.KinematicsEngine)
	}
	if o.CheckCollision {
		return errors.New("--check-collision needs the Placo engine, which reachyd does not implement")
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		return err
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
		if o.WirelessVersion {
			o.Host = "0.0.0.0"
		}
	}
	if o.TopicsHost == "" {
		o.TopicsHost = o.Host
	}
	if o.TopicsPort < 0 || o.TopicsPort > 65535 {
		return fmt.Errorf("--topics-port out of range: %d", o.TopicsPort)
	}
	for i, d := range o.AppsLocal {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("--apps-local-dir must be an absolute path, got %q", d)
		}
		o.AppsLocal[i] = filepath.Clean(d)
	}
	if o.SkillsDir == "" {
		o.SkillsDir = filepath.Join(o.DataDir, "custom_skills")
	}
	if o.RTSPHost == "" {
		o.RTSPHost = o.Host
	}
	if o.RTSPPort < 0 || o.RTSPPort > 65535 {
		return fmt.Errorf("--rtsp-port out of range: %d", o.RTSPPort)
	}
	if _, _, err := o.cameraSize(); err != nil {
		return err
	}
	if o.CameraFPS < 1 || o.CameraFPS > 120 {
		return fmt.Errorf("--camera-fps must be within 1..120, got %d", o.CameraFPS)
	}
	if src, ok := strings.CutPrefix(o.Camera, gstCameraPrefix); ok {
		if err := gst.ValidCameraSource(src); err != nil {
			return fmt.Errorf("--camera %s: %w", o.Camera, err)
		}
	}
	if o.NoMedia {
		o.Camera = "none"
	}
	if o.WebRTCHost == "" {
		o.WebRTCHost = o.Host
	}
	if o.WebRTCPort < 0 || o.WebRTCPort > 65535 {
		return fmt.Errorf("--webrtc-port out of range: %d", o.WebRTCPort)
	}
	switch o.VideoEncoder {
	case "auto", "vp8", "x264", "v4l2h264":
	default:
		return fmt.Errorf("--video-encoder must be auto, vp8, x264 or v4l2h264, got %q", o.VideoEncoder)
	}
	if o.KeyframeEvery < 0 || o.KeyframeEvery > 1000 {
		return fmt.Errorf("--video-keyframe-interval must be 0 (the frame rate) or 1..1000 frames, got %d", o.KeyframeEvery)
	}
	for _, d := range []struct{ flag, v string }{{"--audio-source", o.AudioSource}, {"--audio-sink", o.AudioSink}} {
		if _, _, err := parseAudioDevice(d.v); err != nil {
			return fmt.Errorf("%s: %w", d.flag, err)
		}
	}
	if o.MaxConnections < 1 || o.MaxWebSockets < 1 {
		return fmt.Errorf("--max-connections and --max-websockets must be positive, got %d and %d", o.MaxConnections, o.MaxWebSockets)
	}
	if o.UpdateURL != "" {
		if err := selfupdate.CheckURL(o.UpdateURL); err != nil {
			return fmt.Errorf("--update-url: %w", err)
		}
	}
	if o.JournalUnit != "auto" && o.JournalUnit != "none" && !unitName.MatchString(o.JournalUnit) {
		return fmt.Errorf("--journal-unit must be auto, none or a systemd unit name, got %q", o.JournalUnit)
	}
	if o.ChaosEvery < 0 {
		return fmt.Errorf("--chaos-every must not be negative, got %v", o.ChaosEvery)
	}
	return o.validateDatasets()
}

// unitName is a systemd unit name (it goes to journalctl's command line:
// never an option).
var unitName = regexp.MustCompile(`^[A-Za-z0-9_.@:\\][A-Za-z0-9_.@:\\-]{0,255}$`)

func (o *Options) cameraSize() (int, int, error) {
	var w, h int
	if n, err := fmt.Sscanf(o.CameraSize, "%dx%d", &w, &h); err != nil || n != 2 || w < 32 || h < 32 || w > 4096 || h > 4096 {
		return 0, 0, fmt.Errorf("--camera-size must be WIDTHxHEIGHT within 32..4096, got %q", o.CameraSize)
	}
	return w, h, nil
}
