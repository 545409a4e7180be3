package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"reachyd/actors/media"
	"reachyd/actors/system"
	"reachyd/hw"
	hwcam "reachyd/hw/camera"
	"reachyd/hw/dxlbus"
	"reachyd/hw/robotcfg"
	"reachyd/hw/serialport"
	"reachyd/internal/deathsig"
	"reachyd/media/gst"
	"reachyd/media/gstcam"
	"reachyd/media/mixer"
	"reachyd/media/webrtc"
	"reachyd/sim"
	simcam "reachyd/sim/camera"
	"reachyd/sim/x330"
)

// withCamera adds the simulator's test pattern at 640x480@30 to the tree,
// as reachyd runs it: in a child process (this program's hidden
// -scenario sim-camera, which is reachyd sim-camera's code).
func withCamera(cfg *system.Config) func() {
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	src, err := gstcam.NewCommand([]string{self, "-scenario", "sim-camera"}, nil, "test pattern 640x480@30 (child process)",
		gstcam.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fail(err)
	}
	cfg.Camera = &system.CameraConfig{Source: src, Out: hwcam.NewBroadcaster()}
	return nil
}

// runSimCamera is the hidden -scenario sim-camera: the test pattern at
// 640x480@30 on stdout until stdout closes.
func runSimCamera() {
	w := bufio.NewWriterSize(os.Stdout, 256<<10)
	err := simcam.Stream(context.Background(), writerFunc(func(p []byte) (int, error) {
		n, err := w.Write(p)
		if err == nil {
			err = w.Flush()
		}
		return n, err
	}), 640, 480, 30)
	if err != nil {
		os.Exit(1)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// withMedia adds the camera and the media actor as reachyd configures them
// on the simulator (cmd/reachyd's mediaSetup, reduced to what streams:
// the first video encoder GStreamer has, the synthetic microphone and
// speaker, the simulated mixer, loopback-only WebRTC on a free port; no
// sounds folder and no gateway, so data channel commands go nowhere).
func withMedia(info gst.Info, dir string) func(*system.Config) func() {
	return func(cfg *system.Config) func() {
		withCamera(cfg)
		mx, _ := mixer.NewSim(filepath.Join(dir, "volume.json"))
		opt := media.Options{Launch: info.Launch, Info: info, Camera: cfg.Camera.Out, CameraFPS: 30,
			Audio: gst.AudioConfig{Source: gst.DeviceSim, Sink: gst.DeviceSim}, Mixer: mx, SpecsName: "mujoco",
			WebRTC: webrtc.Config{LoopbackOnly: true},
			Listen: func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }}
		if encs := info.VideoEncoders(); len(encs) > 0 {
			opt.VideoEncoder = encs[0]
		}
		cfg.Media = &system.MediaConfig{Options: opt}
		cfg.Daemon.NoMedia = false
		cfg.Daemon.CameraSpecsName = "mujoco"
		return nil
	}
}

// withSerial puts the robot's serial path under the tick: the simulated
// motors are served on a pseudo-terminal by a child process (this
// program's hidden -scenario sim-bus, as reachyd sim-bus), and the bus is
// opened as reachyd --backend robot opens it (the serial port, the
// Dynamixel client, the start-up sequence). The control thread's reads
// are then blocking syscalls, as on the robot.
func withSerial(then func(*system.Config) func()) func(*system.Config) func() {
	return func(cfg *system.Config) func() {
		self, err := os.Executable()
		if err != nil {
			fail(err)
		}
		cmd := exec.Command(self, "-scenario", "sim-bus")
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			fail(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			fail(err)
		}
		if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
			fail(err)
		}
		stop := func() {
			_ = in.Close() // the child stops serving at the end of its input
			_ = cmd.Wait()
		}
		path, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			stop()
			fail(fmt.Errorf("sim-bus: %w", err))
		}
		path = strings.TrimSpace(path)
		cfg.Open = func() (hw.Bus, error) {
			port, err := serialport.Open(path)
			if err != nil {
				return nil, err
			}
			return dxlbus.Open(port, port, dxlbus.Options{Config: robotcfg.Default(), Reflash: true, Log: slog.New(slog.DiscardHandler)})
		}
		cfg.Daemon.BackendKind = "robot"
		cfg.Motorbus.Controller = "dynamixel " + path
		var more func()
		if then != nil {
			more = then(cfg)
		}
		return func() {
			if more != nil {
				more()
			}
			stop()
		}
	}
}

// runSimBus is the hidden -scenario sim-bus: the simulated motors, with
// the bus's timing, on a pseudo-terminal whose path it prints, until its
// input ends.
func runSimBus() {
	robot := sim.New(sim.Options{Timing: true})
	path, stop, err := x330.ServePTY(robot.Motors)
	if err != nil {
		fail(err)
	}
	fmt.Println(path)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = stop()
}

// mediaUp waits for the media actor's pipelines and signalling server, then
// connects n consumers from a child process.
func mediaUp(n int) func(*system.System) func() {
	return func(s *system.System) func() {
		deadline := time.Now().Add(20 * time.Second)
		for {
			d := s.MediaCell.Detail()
			if d.Signalling != "" && len(d.Pipelines) == 2 && d.Pipelines[0].Running && d.Pipelines[1].Running {
				stop, err := consumersChild("ws://"+d.Signalling, n)
				if err != nil {
					fail(err)
				}
				return stop
			}
			if time.Now().After(deadline) {
				fail(fmt.Errorf("media never came up in-process: %+v", d))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// tickConfigs is -tick-configs: which of the tick part's configurations run.
var tickConfigs = "none,camera,media"

// mediaTick is the tick part: the control tick's jitter without media,
// with the camera only, and with media and consumers.
func mediaTick(hz float64, dur time.Duration, runs, consumers int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	info, err := gst.Detect(ctx, "")
	cancel()
	if err != nil {
		fail(err)
	}
	slog.Info("media tick", "gstreamer", info.Summary())
	dir, err := os.MkdirTemp("", "reachyd-bench-tick")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	type config struct {
		name  string
		setup func(*system.Config) func()
		ready func(*system.System) func()
	}
	all := map[string]config{
		"none":   {"no media, no camera", nil, nil},
		"camera": {"camera only (640x480@30)", withCamera, nil},
		"media":  {fmt.Sprintf("media, %d consumers", consumers), withMedia(info, dir), mediaUp(consumers)},
		// The robot's path: the serial port's blocking reads.
		"serial":       {"serial (pty), no media", withSerial(nil), nil},
		"serial-media": {fmt.Sprintf("serial (pty), media, %d cons.", consumers), withSerial(withMedia(info, dir)), mediaUp(consumers)},
	}
	var configs []config
	for _, k := range strings.Split(tickConfigs, ",") {
		c, ok := all[strings.TrimSpace(k)]
		if !ok {
			fail(fmt.Errorf("-tick-configs: unknown configuration %q (none, camera, media, serial, serial-media)", k))
		}
		configs = append(configs, c)
	}
	fmt.Printf("media tick: control at %.0f Hz on the simulator, in-process, %v per run; consumers in a child process\n", hz, dur)
	res := make([][]tickResult, len(configs))
	for run := 1; run <= runs; run++ {
		for i, c := range configs {
			r := measureTick(hz, dur, c.setup, c.ready)
			res[i] = append(res[i], r)
			fmt.Printf("%-3d %-28s %6d ticks (%.1f Hz), jitter p50 %v p99 %v max %v; other processes %.1f%%\n", run, c.name, r.ticks, r.rate, r.p50, r.p99, r.maxJ, r.others)
		}
	}
	fmt.Printf("medians of %d runs:\n", runs)
	for i, c := range configs {
		var p50, p99, mx []float64
		for _, r := range res[i] {
			p50, p99, mx = append(p50, float64(r.p50)), append(p99, float64(r.p99)), append(mx, float64(r.maxJ))
		}
		fmt.Printf("    %-28s jitter p50 %v p99 %v max %v\n", c.name, time.Duration(medianF(p50)).Round(time.Microsecond),
			time.Duration(medianF(p99)).Round(time.Microsecond), time.Duration(medianF(mx)).Round(time.Microsecond))
	}
}
