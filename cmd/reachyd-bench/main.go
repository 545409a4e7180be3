// Command reachyd-bench measures reachyd the way docs/benchmarks.md
// reports it: time to ready and idle memory of the daemon process, HTTP
// throughput of GET /api/state/full, /ws/sdk frame gaps with many clients
// (one of which never reads), and the control tick's jitter.
//
//	go run ./cmd/reachyd-bench [-scenario all|startup|http|ws|tick|apps|joblog|topics|auth] [-duration 10s]
//	go run ./cmd/reachyd-bench -scenario soak -duration 30m [-chaos-every 30s] [-sample 10s] [-soak-clients 4]
//	go run ./cmd/reachyd-bench -scenario media [-media-parts cpu,tick,audio] [-runs 3] [-media-window 20s] [-tick-hz 200] [-duration 10s] [-trials 15]
//	go run ./cmd/reachyd-bench -scenario relay [-relay-parts setup,resources] [-trials 15] [-relay-window 1m]
//	go run ./cmd/reachyd-bench -scenario idle [-runs 3] [-idle-window 20s]
//
// apps measures start-to-running and stop-to-released of trivial apps;
// joblog streams an app's 10 000 lines/s to 10 job-log subscribers and
// follows the daemon's memory; topics fans a topic out to 50 subscribers;
// auth compares a route without authentication with a Bearer-checked
// command. soak runs the daemon for the duration with one actor crashed in
// turn every -chaos-every and SDK clients streaming, and follows its
// memory, open files, goroutines and control rate (it is not part of all).
// media measures the media path (media.go): the CPU of the daemon and its
// pipelines with 0, 1 and 3 WebRTC consumers, the control tick's jitter
// with media and consumers against without, and audio latency each way;
// it needs GStreamer and is not part of all either. relay (relay.go)
// measures remote session set-up through the central relay and a fake
// central server, and the relay's CPU and memory idle and reconnecting
// (relayres.go; needs GStreamer; not part of all). idle (idle.go)
// measures the CPU and memory of the idle daemon with its children, on the
// simulator and through a pseudo-terminal (not part of all).
// The daemon scenarios build and start
// bin/reachyd on the simulator on a free loopback port; the tick scenario
// runs the actor tree in-process.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/actors/daemon"
	"reachyd/actors/motorbus"
	"reachyd/actors/system"
	"reachyd/hw"
	"reachyd/sim"
)

func main() {
	if conf := os.Getenv(gstWrapEnv); conf != "" {
		gstWrap(conf) // run as the daemon's gst-launch-1.0 (audio.go); never returns
	}
	scenario := flag.String("scenario", "all", "all, startup, http, ws, tick, apps, joblog, topics, auth, or soak, media, relay or idle (not in all)")
	duration := flag.Duration("duration", 10*time.Second, "length of each load run")
	conns := flag.Int("conns", 8, "HTTP connections")
	clients := flag.Int("clients", 100, "WebSocket clients")
	hz := flag.Float64("hz", 50, "control rate for the ws scenario")
	tickHz := flag.Float64("tick-hz", 200, "control rate for the tick scenario")
	bin := flag.String("bin", "bin/reachyd", "daemon binary (built if missing)")
	chaosEvery := flag.Duration("chaos-every", 30*time.Second, "soak: crash one actor in turn at this interval")
	sample := flag.Duration("sample", 10*time.Second, "soak: sampling interval")
	soakClients := flag.Int("soak-clients", 4, "soak: SDK clients streaming targets")
	mediaParts := flag.String("media-parts", "cpu,tick,audio", "media: the parts to run")
	mediaWindow := flag.Duration("media-window", 20*time.Second, "media: CPU measuring window")
	runs := flag.Int("runs", 3, "media: runs of each part (medians reported)")
	trials := flag.Int("trials", 15, "media: audio latency trials per run and direction")
	consumers := flag.Int("consumers", 3, "media: consumers connected in the tick part")
	flag.IntVar(&consumersNice, "consumers-nice", 0, "media tick: run the consumers' child process at this nice value (10: as if they were other machines)")
	flag.StringVar(&tickConfigs, "tick-configs", "none,camera,media", "media tick: the configurations to run (none: no media and no camera; camera: the camera only; media: media with consumers; serial and serial-media: the same as none and media on the robot's serial path, a pty served by a child process)")
	flag.StringVar(&tickTrace, "tick-trace", "", "media tick, a diagnostic: write a Go execution trace of the last measuring window to this file")
	flag.IntVar(&rtPriority, "rt-priority", 0, "tick and media tick: the control thread's SCHED_FIFO priority (0: none, a short slice), as reachyd --rt-priority")
	signalling := flag.String("signalling", "", "consumers (internal): the signalling URL")
	audioFEC := flag.Bool("audio-fec", false, "media audio: run the daemon with --audio-fec (the speaker inputs decode in-band FEC)")
	videoThreads := flag.Int("video-threads", 0, "media cpu, an experiment: the VP8 encoder's threads (0: as reachyd runs it)")
	idleWindow := flag.Duration("idle-window", 20*time.Second, "idle: CPU measuring window")
	relayParts := flag.String("relay-parts", "setup,resources", "relay: the parts to run (setup: session set-up; resources: CPU and memory idle and reconnecting)")
	relayWindow := flag.Duration("relay-window", time.Minute, "relay resources: each phase's window")
	flag.Parse()
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		fmt.Fprintln(os.Stderr, "reachyd-bench: interrupted; stopping the daemons it started")
		stopAll()
		os.Exit(1)
	}()

	run := func(name string) bool { return *scenario == "all" || *scenario == name }
	if run("startup") || run("http") || run("ws") || run("apps") || run("joblog") || run("topics") || run("auth") {
		if err := build(*bin); err != nil {
			fail(err)
		}
	}
	if run("startup") {
		startup(*bin)
	}
	if run("http") {
		d := startDaemon(*bin, 50)
		httpLoad(d.addr, *conns, *duration)
		d.stop()
	}
	if run("ws") {
		d := startDaemon(*bin, *hz)
		wsLoad(d.addr, *clients, *duration, *hz)
		d.stop()
	}
	if run("tick") {
		tick(*tickHz, *duration)
	}
	if run("apps") {
		appCycles(*bin)
	}
	if run("joblog") {
		jobLog(*bin, *duration*3)
	}
	if run("topics") {
		topicFanout(*bin, 50, 100, *duration)
	}
	if run("auth") {
		authCost(*bin, *conns, *duration/2)
	}
	if *scenario == "soak" { // long: never part of all
		if err := build(*bin); err != nil {
			fail(err)
		}
		soak(soakOptions{bin: *bin, duration: *duration, chaosEvery: *chaosEvery, sample: *sample, clients: *soakClients})
	}
	if *scenario == "media" { // long, and needs GStreamer: never part of all
		quietFirst = true
		parts := map[string]bool{}
		for _, p := range strings.Split(*mediaParts, ",") {
			parts[strings.TrimSpace(p)] = true
		}
		if parts["cpu"] || parts["audio"] {
			if err := build(*bin); err != nil {
				fail(err)
			}
		}
		if parts["cpu"] {
			mediaCPU(*bin, *mediaWindow, *runs, *videoThreads)
		}
		if parts["tick"] {
			mediaTick(*tickHz, *duration, *runs, *consumers)
		}
		if parts["audio"] {
			mediaAudio(*bin, *runs, *trials, *audioFEC)
		}
	}
	if *scenario == "relay" { // needs GStreamer: not part of all
		if err := build(*bin); err != nil {
			fail(err)
		}
		parts := map[string]bool{}
		for _, p := range strings.Split(*relayParts, ",") {
			parts[strings.TrimSpace(p)] = true
		}
		if parts["setup"] {
			relayBench(*bin, *trials)
		}
		if parts["resources"] {
			relayResources(*bin, *relayWindow)
		}
	}
	if *scenario == "consumers" { // internal: the media tick part's consumers
		runConsumers(*signalling, *consumers)
	}
	if *scenario == "sim-camera" { // internal: the tick part's camera
		runSimCamera()
	}
	if *scenario == "sim-bus" { // internal: the tick part's serial path
		runSimBus()
	}
	if *scenario == "idle" { // not in all: minutes
		if _, err := os.Stat(*bin); err != nil { // as the flag says: a given binary is measured as it is
			if err := build(*bin); err != nil {
				fail(err)
			}
		}
		idle(*bin, *idleWindow, *runs)
	}
	if *scenario == "waitquiet" { // before another benchmark: wait for a quiet machine
		waitQuiet()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "reachyd-bench:", err)
	stopAll()
	os.Exit(1)
}

// running are the daemons started and not stopped yet: a failure or an
// interrupt stops them (and so their pipelines) before the tool exits.
var running struct {
	sync.Mutex
	procs map[*proc]bool
}

func stopAll() {
	running.Lock()
	ps := make([]*proc, 0, len(running.procs))
	for p := range running.procs {
		ps = append(ps, p)
	}
	running.Unlock()
	for _, p := range ps {
		p.stop()
	}
}

func build(bin string) error {
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/reachyd")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type proc struct {
	cmd  *exec.Cmd
	addr string
}

func (p *proc) stop() {
	running.Lock()
	delete(running.procs, p)
	running.Unlock()
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// startDaemon starts the daemon and waits until the backend runs.
func startDaemon(bin string, hz float64, extra ...string) *proc {
	return startDaemonEnv(bin, hz, nil, extra...)
}

// startDaemonEnv is startDaemon with variables added to the environment.
func startDaemonEnv(bin string, hz float64, env []string, extra ...string) *proc {
	port := freePort()
	dir, _ := os.MkdirTemp("", "reachyd-bench")
	cmd := exec.Command(bin, append([]string{"--backend", "sim", "--fastapi-port", strconv.Itoa(port), "--data-dir", dir,
		"--no-wake-up-on-start", "--no-goto-sleep-on-stop", "--log-level", "WARNING", "--uds", "", "--topics-port", "0", "--camera", "none",
		"--control-hz", strconv.FormatFloat(hz, 'f', -1, 64)}, extra...)...)
	cmd.Stderr = os.Stderr
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	p := &proc{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	running.Lock()
	if running.procs == nil {
		running.procs = map[*proc]bool{}
	}
	running.procs[p] = true
	running.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + p.addr + "/api/daemon/status")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), `"state":"running"`) {
				return p
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.stop()
	fail(fmt.Errorf("daemon did not reach running"))
	return nil
}

func rss(pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

// startup measures time to the first answer, to a running backend, and the
// resident memory once idle.
func startup(bin string) {
	var first, running []time.Duration
	var mem []int
	for i := 0; i < 5; i++ {
		port := freePort()
		dir, _ := os.MkdirTemp("", "reachyd-bench")
		cmd := exec.Command(bin, "--backend", "sim", "--fastapi-port", strconv.Itoa(port), "--data-dir", dir,
			"--no-wake-up-on-start", "--no-goto-sleep-on-stop", "--log-level", "WARNING", "--uds", "", "--topics-port", "0", "--camera", "none")
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			fail(err)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/api/daemon/status", port)
		var tFirst time.Duration
		for {
			resp, err := http.Get(url)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if tFirst == 0 {
					tFirst = time.Since(t0)
				}
				if strings.Contains(string(b), `"state":"running"`) {
					break
				}
			}
			if time.Since(t0) > 10*time.Second {
				fail(fmt.Errorf("startup timed out"))
			}
			time.Sleep(2 * time.Millisecond)
		}
		first = append(first, tFirst)
		running = append(running, time.Since(t0))
		time.Sleep(5 * time.Second)
		kb, err := rss(cmd.Process.Pid)
		if err != nil {
			fail(err)
		}
		mem = append(mem, kb)
		(&proc{cmd: cmd}).stop()
		os.RemoveAll(dir)
	}
	fmt.Printf("startup (5 runs): first answer median %v max %v; backend running median %v max %v\n",
		median(first), maxD(first), median(running), maxD(running))
	sort.Ints(mem)
	fmt.Printf("idle RSS after 5 s (5 runs): median %.1f MB, max %.1f MB\n", float64(mem[2])/1024, float64(mem[4])/1024)
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2].Round(time.Millisecond / 10)
}

func maxD(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		if x > m {
			m = x
		}
	}
	return m.Round(time.Millisecond / 10)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(p * float64(len(d)-1))
	return d[i]
}

// httpLoad hammers GET /api/state/full over conns keep-alive connections.
func httpLoad(addr string, conns int, dur time.Duration) {
	url := "http://" + addr + "/api/state/full"
	var total, errs atomic.Int64
	lat := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	stop := time.Now().Add(dur)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true}
			c := &http.Client{Transport: tr}
			for time.Now().Before(stop) {
				t0 := time.Now()
				resp, err := c.Get(url)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs.Add(1)
					continue
				}
				total.Add(1)
				if total.Load()%16 == 0 {
					lat[i] = append(lat[i], time.Since(t0))
				}
			}
		}(i)
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	fmt.Printf("GET /api/state/full, %d connections, %v: %.0f req/s, %d errors, latency p50 %v p99 %v\n",
		conns, dur, float64(total.Load())/dur.Seconds(), errs.Load(), percentile(all, 0.5), percentile(all, 0.99))
}

// wsLoad connects clients to /ws/sdk, plus one that never reads, and
// measures the gaps between consecutive joint_positions frames per client.
func wsLoad(addr string, clients int, dur time.Duration, hz float64) {
	url := "ws://" + addr + "/ws/sdk"
	// The stalled client: connects and never reads.
	stalled, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		fail(err)
	}
	defer stalled.Close()
	gaps := make([][]time.Duration, clients)
	var frames atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), dur+2*time.Second)
	defer cancel()
	measureFrom := time.Now().Add(2 * time.Second) // after every client is up
	for i := 0; i < clients; i++ {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			fail(err)
		}
		wg.Add(1)
		go func(i int, c *websocket.Conn) {
			defer wg.Done()
			defer c.Close()
			go func() { <-ctx.Done(); c.Close() }()
			var prev time.Time
			for {
				_, m, err := c.ReadMessage()
				if err != nil {
					return
				}
				if len(m) < 30 || string(m[9:24]) != "joint_positions" {
					continue
				}
				now := time.Now()
				if now.After(measureFrom) {
					frames.Add(1)
					if !prev.IsZero() {
						gaps[i] = append(gaps[i], now.Sub(prev))
					}
				}
				prev = now
			}
		}(i, c)
	}
	wg.Wait()
	var all []time.Duration
	for _, g := range gaps {
		all = append(all, g...)
	}
	measured := dur
	fmt.Printf("/ws/sdk at %.0f Hz, %d clients + 1 that never reads, %v: %.0f frames/s per client, gap p50 %v p99 %v max %v\n",
		hz, clients, measured, float64(frames.Load())/float64(clients)/measured.Seconds(),
		percentile(all, 0.5).Round(10*time.Microsecond), percentile(all, 0.99).Round(10*time.Microsecond),
		percentile(all, 1).Round(10*time.Microsecond))
}

// timedBus records the instant of every goal write of the simulated bus.
type timedBus struct {
	hw.Bus
	mu     sync.Mutex
	writes []time.Time
}

func (b *timedBus) WriteGoalPositions(g hw.Positions, m hw.Mask) error {
	b.mu.Lock()
	b.writes = append(b.writes, time.Now())
	b.mu.Unlock()
	return b.Bus.WriteGoalPositions(g, m)
}

// tickResult is the jitter of the goal writes (one per tick) around the
// period.
type tickResult struct {
	ticks          int
	rate           float64
	p50, p99, maxJ time.Duration
	others         float64 // % of one core used by processes not ours meanwhile
}

// quietFirst makes measureTick wait for a quiet machine before measuring
// (the media scenario).
var quietFirst bool

// measureTick runs the actor tree on the simulator at hz, with cfg changed
// by setup (when set), calls ready (when set) once it runs, lets it settle
// and records the instant of every goal write for dur. ready returns what
// to do before the tree is shut down.
// setup, when given, changes the configuration (it may replace cfg.Open:
// the goal writes are timed on whatever bus it opens) and returns what
// ends what it started, or nil.
func measureTick(hz float64, dur time.Duration, setup func(*system.Config) func(), ready func(*system.System) func()) tickResult {
	robot := sim.New(sim.Options{Timing: true})
	period := time.Duration(float64(time.Second) / hz)
	cfg := system.Config{
		Daemon:     daemon.Config{RobotName: "bench", BackendKind: "sim", ControlHz: hz, NoMedia: true},
		Period:     period,
		RTPriority: rtPriority,
		Open:       func() (hw.Bus, error) { return robot.Open() },
		Motorbus:   motorbus.Config{AllowGravity: true, Controller: "sim"},
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Autostart:  true,
	}
	if setup != nil {
		if cleanup := setup(&cfg); cleanup != nil {
			defer cleanup()
		}
	}
	var bus *timedBus
	open := cfg.Open
	cfg.Open = func() (hw.Bus, error) {
		b, err := open()
		bus = &timedBus{Bus: b}
		return bus, err
	}
	s, err := system.Start(cfg)
	if err != nil {
		fail(err)
	}
	settle := time.Second
	var after func()
	if ready != nil {
		after = ready(s)
		settle = 3 * time.Second
	}
	time.Sleep(settle)
	var w []time.Time
	var others float64
	window := func() float64 {
		load := startLoad()
		stopTrace := startTrace()
		if bus == nil {
			fail(fmt.Errorf("the motor bus never opened"))
		}
		bus.mu.Lock()
		bus.writes = bus.writes[:0]
		bus.mu.Unlock()
		time.Sleep(dur)
		stopTrace()
		bus.mu.Lock()
		w = append([]time.Time(nil), bus.writes...)
		bus.mu.Unlock()
		others = load.Others()
		return others
	}
	if quietFirst {
		undisturbed(window)
	} else {
		window()
	}
	if after != nil {
		after()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx, false)
	var jit []time.Duration
	for i := 1; i < len(w); i++ {
		d := w[i].Sub(w[i-1]) - period
		if d < 0 {
			d = -d
		}
		jit = append(jit, d)
	}
	return tickResult{ticks: len(w), rate: float64(len(w)) / dur.Seconds(), p50: percentile(jit, 0.5).Round(time.Microsecond),
		p99: percentile(jit, 0.99).Round(time.Microsecond), maxJ: percentile(jit, 1).Round(time.Microsecond), others: others}
}

// rtPriority is -rt-priority.
var rtPriority int

// tickTrace is -tick-trace: a file for the execution trace of the
// measuring windows (each window overwrites it, so the last one is kept).
var tickTrace string

// startTrace starts the execution trace of a measuring window, when asked
// for; the function it returns stops it.
func startTrace() func() {
	if tickTrace == "" {
		return func() {}
	}
	f, err := os.Create(tickTrace)
	if err != nil {
		fail(err)
	}
	if err := trace.Start(f); err != nil {
		fail(err)
	}
	return func() {
		trace.Stop()
		if err := f.Close(); err != nil {
			fail(err)
		}
	}
}

// tick runs the actor tree on the simulator at hz and reports the jitter
// of the goal writes (one per tick) around the period.
func tick(hz float64, dur time.Duration) {
	r := measureTick(hz, dur, nil, nil)
	fmt.Printf("control tick at %.0f Hz for %v: %d ticks (%.1f Hz), jitter p50 %v p99 %v max %v\n",
		hz, dur, r.ticks, r.rate, r.p50, r.p99, r.maxJ)
}
