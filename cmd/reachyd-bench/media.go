package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/rtp"

	"reachyd/internal/cpuload"
	"reachyd/internal/deathsig"
	"reachyd/media/webrtc/webrtctest"
)

// The media scenario (docs/benchmarks.md, "Media (issue 9)") has three
// parts, each run -runs times, medians reported:
//
//   - cpu: bin/reachyd on the simulator with the camera's test pattern at
//     640x480@30, media on, and 0, 1 and 3 webrtctest consumers in this
//     process; the CPU of the daemon process and of each of its pipelines
//     (gst-launch-1.0 children, pids from GET /api/media/status) over
//     -media-window, from /proc/<pid>/stat (utime + stime). The consumers'
//     own CPU is this process's and is not counted. A daemon with the
//     camera on and media off (no GStreamer found) is the baseline.
//   - tick: the control tick's jitter in-process (the tick scenario's
//     measure), without media, with the camera only, and with media and 3
//     consumers connected from a child process (tickmedia.go).
//   - audio: mouth-to-ear latency each way on loopback (audio.go).
//
// None of it is part of -scenario all: it needs GStreamer and takes
// minutes.

// cpuTime is the user + system CPU time a process has used.
func cpuTime(pid int) (time.Duration, error) { return cpuload.CPUTime(pid) }

// mediaStatus is what the media scenarios read of GET /api/media/status.
type mediaStatus struct {
	Available bool `json:"available"`
	Reachyd   struct {
		Media struct {
			Signalling string `json:"signalling"`
			Pipelines  []struct {
				Name     string `json:"name"`
				Pid      int    `json:"pid"`
				Running  bool   `json:"running"`
				Restarts int    `json:"restarts"`
			} `json:"pipelines"`
			Sessions    []json.RawMessage `json:"sessions"`
			SpeakerRMS  float64           `json:"speaker_rms_db"`
			SpeakerLoud uint64            `json:"speaker_loud_reports"`
		} `json:"media"`
	} `json:"reachyd"`
}

var statusClient = &http.Client{Timeout: 5 * time.Second}

func getMediaStatus(addr string) (mediaStatus, error) {
	var s mediaStatus
	resp, err := statusClient.Get("http://" + addr + "/api/media/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return s, fmt.Errorf("GET /api/media/status: %d", resp.StatusCode)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// waitMedia waits until the daemon's two pipelines run and the signalling
// server listens.
func waitMedia(addr string) mediaStatus {
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := getMediaStatus(addr)
		m := s.Reachyd.Media
		if err == nil && s.Available && m.Signalling != "" && len(m.Pipelines) == 2 && m.Pipelines[0].Running && m.Pipelines[1].Running {
			return s
		}
		if time.Now().After(deadline) {
			fail(fmt.Errorf("the daemon's media never came up: %v %+v", err, s))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consumerSet holds webrtctest consumers and counts the RTP they receive.
type consumerSet struct {
	cs           []*webrtctest.Consumer
	video, audio atomic.Int64
}

// add connects n more consumers.
func (s *consumerSet) add(url string, n int) error {
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := webrtctest.Dial(ctx, url, webrtctest.Options{Name: "reachyd-bench",
			OnVideo: func(*rtp.Packet) { s.video.Add(1) },
			OnAudio: func(*rtp.Packet) { s.audio.Add(1) }})
		cancel()
		if err != nil {
			return err
		}
		s.cs = append(s.cs, c)
	}
	return nil
}

func (s *consumerSet) close() {
	for _, c := range s.cs {
		_ = c.Close()
	}
	s.cs = nil
}

// cpuRow is one measured configuration: % of one core per process.
type cpuRow struct {
	daemon, camera, video, audio float64
	videoPkts, audioPkts         float64 // RTP packets a second, per consumer
	others                       float64 // % of one core used by processes not ours meanwhile
}

// measureCPU samples the CPU of the daemon and of the pipelines listed by
// its media status (when media is on) over window.
func measureCPU(d *proc, media bool, window time.Duration, set *consumerSet) cpuRow {
	pid := d.cmd.Process.Pid
	var before mediaStatus
	pids := map[string]int{}
	if cam := simCameraOf(pid); cam != 0 {
		pids["camera"] = cam // the test pattern's child (reachyd sim-camera)
	}
	if media {
		before = waitMedia(d.addr)
		for _, p := range before.Reachyd.Media.Pipelines {
			pids[p.Name] = p.Pid
		}
	}
	var t0, t1 map[string]time.Duration
	var v0, a0, v1, a1 int64
	var wall time.Duration
	var others float64
	read := func() map[string]time.Duration {
		into := map[string]time.Duration{}
		var err error
		if into["daemon"], err = cpuTime(pid); err != nil {
			fail(err)
		}
		for name, p := range pids {
			if into[name], err = cpuTime(p); err != nil {
				fail(fmt.Errorf("pipeline %s: %w", name, err))
			}
		}
		return into
	}
	undisturbed(func() float64 {
		load := startLoad()
		v0, a0 = set.video.Load(), set.audio.Load()
		w0 := time.Now()
		t0 = read()
		time.Sleep(window)
		t1 = read()
		wall = time.Since(w0)
		v1, a1 = set.video.Load(), set.audio.Load()
		others = load.Others()
		return others
	})
	if media {
		after := waitMedia(d.addr)
		for _, p := range after.Reachyd.Media.Pipelines {
			if pids[p.Name] != p.Pid {
				fail(fmt.Errorf("pipeline %s restarted during the window (pid %d -> %d)", p.Name, pids[p.Name], p.Pid))
			}
		}
	}
	pct := func(name string) float64 { return 100 * float64(t1[name]-t0[name]) / float64(wall) }
	r := cpuRow{daemon: pct("daemon"), camera: pct("camera"), video: pct("video"), audio: pct("audio"), others: others}
	if n := len(set.cs); n > 0 {
		r.videoPkts = float64(v1-v0) / wall.Seconds() / float64(n)
		r.audioPkts = float64(a1-a0) / wall.Seconds() / float64(n)
	}
	return r
}

// mediaDaemonArgs run the daemon as the media figures are taken: the test
// pattern at 640x480@30, loopback-only WebRTC on a free port, nothing else
// that uses CPU (no skill host, no RTSP client).
func mediaDaemonArgs() []string {
	return []string{"--camera", "test", "--camera-size", "640x480", "--camera-fps", "30", "--rtsp-port", "0",
		"--no-skill-host", "--webrtc-loopback", "--webrtc-port", strconv.Itoa(freePort())}
}

// mediaCPU is the cpu part.
func mediaCPU(bin string, window time.Duration, runs, videoThreads int) {
	var wrap []string // the experiment's daemon arguments and environment
	var env []string
	if videoThreads > 0 {
		self, err := os.Executable()
		if err != nil {
			fail(err)
		}
		conf, _ := json.Marshal(gstWrapConfig{VideoThreads: videoThreads})
		wrap, env = []string{"--gst-launch", self}, []string{gstWrapEnv + "=" + string(conf)}
		fmt.Printf("media cpu: EXPERIMENT: the VP8 encoder with threads=%d (not what reachyd runs)\n", videoThreads)
	}
	settle := 3 * time.Second
	configs := []string{"media off (camera on)", "media, 0 consumers", "media, 1 consumer", "media, 3 consumers"}
	rows := make([][]cpuRow, len(configs))
	fmt.Printf("media cpu: camera test pattern 640x480@30, control 50 Hz on the simulator; %v windows after %v to settle; %% of one core\n", window, settle)
	fmt.Printf("%-3s %-24s %8s %8s %8s %8s %8s %12s %12s %8s\n", "run", "configuration", "daemon", "camera", "video", "audio", "total", "video pkt/s", "audio pkt/s", "others")
	print := func(run int, i int, r cpuRow) {
		fmt.Printf("%-3d %-24s %7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%% %12.0f %12.0f %7.1f%%\n", run, configs[i], r.daemon, r.camera, r.video, r.audio,
			r.daemon+r.camera+r.video+r.audio, r.videoPkts, r.audioPkts, r.others)
	}
	for run := 1; run <= runs; run++ {
		// Baseline: GStreamer not found, so no media actor; the camera runs.
		d := startDaemon(bin, 50, append(mediaDaemonArgs(), "--gst-launch", "/nonexistent/gst-launch-1.0")...)
		time.Sleep(settle)
		r := measureCPU(d, false, window, &consumerSet{})
		d.stop()
		rows[0] = append(rows[0], r)
		print(run, 0, r)

		d = startDaemonEnv(bin, 50, env, append(mediaDaemonArgs(), wrap...)...)
		st := waitMedia(d.addr)
		url := "ws://" + st.Reachyd.Media.Signalling
		set := &consumerSet{}
		for i, n := range []int{0, 1, 3} {
			if err := set.add(url, n-len(set.cs)); err != nil {
				set.close()
				d.stop()
				fail(err)
			}
			time.Sleep(settle)
			r := measureCPU(d, true, window, set)
			rows[i+1] = append(rows[i+1], r)
			print(run, i+1, r)
		}
		set.close()
		d.stop()
	}
	fmt.Printf("medians of %d runs:\n", runs)
	for i, rs := range rows {
		med := func(f func(cpuRow) float64) float64 {
			v := make([]float64, len(rs))
			for j, r := range rs {
				v[j] = f(r)
			}
			return medianF(v)
		}
		fmt.Printf("    %-24s %7.1f%% %7.1f%% %7.1f%% %7.1f%% %7.1f%%\n", configs[i], med(func(r cpuRow) float64 { return r.daemon }),
			med(func(r cpuRow) float64 { return r.camera }), med(func(r cpuRow) float64 { return r.video }), med(func(r cpuRow) float64 { return r.audio }),
			med(func(r cpuRow) float64 { return r.daemon + r.camera + r.video + r.audio }))
	}
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ---- consumers in a child process ----------------------------------------------

// runConsumers is the hidden -scenario consumers: it connects n consumers
// to url, prints "ready", and holds them until its stdin ends; then it
// prints what they received on stderr. The tick part runs it as a child so
// that the consumers' work is not in the measured process (on a robot,
// consumers are other machines).
func runConsumers(url string, n int) {
	set := &consumerSet{}
	if err := set.add(url, n); err != nil {
		set.close()
		fail(err)
	}
	fmt.Println("ready")
	t0 := time.Now()
	_, _ = io.Copy(io.Discard, os.Stdin)
	el := time.Since(t0).Seconds()
	fmt.Fprintf(os.Stderr, "consumers: %d for %.1f s, %.0f video and %.0f audio RTP packets/s each\n", n, el,
		float64(set.video.Load())/el/float64(n), float64(set.audio.Load())/el/float64(n))
	set.close()
}

// consumersNice is the consumers child's nice value (-consumers-nice).
var consumersNice int

// consumersChild starts runConsumers in a child process and returns once
// its consumers are connected; stop ends it.
func consumersChild(url string, n int) (stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	argv := []string{self, "-scenario", "consumers", "-signalling", url, "-consumers", strconv.Itoa(n)}
	if consumersNice != 0 {
		// The consumers stand for viewers on other machines: at a low
		// priority they take from the robot's cores only what is idle.
		argv = append([]string{"nice", "-n", strconv.Itoa(consumersNice)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
		return nil, err
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if sc.Text() == "ready" {
				ok = true
				break
			}
		}
		ready <- ok
		_, _ = io.Copy(io.Discard, out)
	}()
	stop = func() {
		_ = in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	select {
	case ok := <-ready:
		if !ok {
			stop()
			return nil, errors.New("the consumers' process ended before its consumers connected")
		}
	case <-time.After(60 * time.Second):
		stop()
		return nil, errors.New("the consumers did not connect within 60 s")
	}
	return stop, nil
}

// simCameraOf is the pid of daemon's `reachyd sim-camera` child (0: none).
func simCameraOf(daemon int) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmd, []byte("\x00sim-camera\x00")) {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st := string(b)
		if f := strings.Fields(st[strings.LastIndexByte(st, ')')+2:]); len(f) > 1 && f[1] == strconv.Itoa(daemon) {
			return pid
		}
	}
	return 0
}
