//go:build mujoco

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"reachyd/hw/geom"
	"reachyd/hw/kinematics"
	"reachyd/messages"
	"reachyd/sim"
	"reachyd/sim/mujoco"
	"strconv"
	"strings"
	"testing"
	"time"
)

type fullState struct {
	ControlMode string     `json:"control_mode"`
	HeadJoints  []float64  `json:"head_joints"`
	BodyYaw     float64    `json:"body_yaw"`
	Antennas    [2]float64 `json:"antennas_position"`
	HeadPose    struct {
		Z float64 `json:"z"`
	} `json:"head_pose"`
}

// waitFull polls the full state until ok holds, and fails with the last
// state after the deadline.
func waitFull(t *testing.T, d *testDaemon, what string, ok func(fullState) bool) fullState {
	t.Helper()
	var s fullState
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s = fullState{}
		d.getJSON("/api/state/full?with_head_joints=true", &s)
		if ok(s) {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: never reached; last state %+v", what, s)
	return s
}

// waitIdle waits until no move runs (a goto sent during one is ignored).
func waitIdle(t *testing.T, d *testDaemon) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var running []any
		d.getJSON("/api/move/running", &running)
		if len(running) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("a move still runs after 10 s")
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// --sim in a MuJoCo build runs the daemon on the physics simulation: the
// status says so, wake-up and a goto move the simulated joints (the state
// follows, within the actuators' tracking error), and with torque off the
// Stewart horns fall under gravity.
func TestMuJoCoDaemonWakeUpAndGoto(t *testing.T) {
	var logs lockedBuffer
	d := startDaemonWith(t, &logs, "--apps-local-dir", t.TempDir(), "--sim", "--mujoco-model", "builtin", "--log-level", "INFO")
	d.waitRunning()
	var st map[string]any
	d.getJSON("/api/daemon/status", &st)
	bs, _ := st["backend_status"].(map[string]any)
	if bs["model_loaded"] != true || bs["model"] != "builtin" || st["simulation_enabled"] != true {
		t.Errorf("status: simulation_enabled %v, backend_status %v", st["simulation_enabled"], bs)
	}
	if r, _ := st["reachyd"].(map[string]any); !strings.HasPrefix(r["backend"].(string), "mujoco (MuJoCo 2.") {
		t.Errorf("reachyd.backend %v", r["backend"])
	}
	if !strings.Contains(logs.String(), "--sim: MuJoCo physics simulation") {
		t.Errorf("no log line says MuJoCo runs:\n%s", logs.String())
	}

	if code, body := d.do("POST", "/api/move/play/wake_up", nil); code != 200 {
		t.Fatalf("wake_up: %d %s", code, body)
	}
	// Awake: the head at the neutral pose, antennas at the init pose.
	waitFull(t, d, "awake", func(s fullState) bool {
		return near(s.HeadPose.Z, 0, 0.002) && near(s.Antennas[0], -0.1745, 0.02) && near(s.Antennas[1], 0.1745, 0.02)
	})
	waitIdle(t, d)
	code, body := d.do("POST", "/api/move/goto", map[string]any{
		"head_pose": map[string]float64{"z": 0.01}, "antennas": []float64{0.5, -0.5}, "body_yaw": 0.4, "duration": 0.5})
	if code != 200 {
		t.Fatalf("goto: %d %s", code, body)
	}
	s := waitFull(t, d, "goto", func(s fullState) bool {
		return near(s.BodyYaw, 0.4, 0.01) && near(s.Antennas[0], 0.5, 0.01) && near(s.Antennas[1], -0.5, 0.01) &&
			near(s.HeadPose.Z, 0.01, 0.002)
	})
	// The Stewart joints are those of the IK of the pose (within the
	// actuators' tracking error under gravity).
	want, err := kinematics.New(kinematics.DefaultGeometry()).IK(geom.PoseXYZRPY(0, 0, 0.01, 0, 0, 0), 0.4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if len(s.HeadJoints) != 7 || !near(s.HeadJoints[i], want[i], 0.01) {
			t.Errorf("head joints %v, want %v", s.HeadJoints, want)
			break
		}
	}

	// Torque off: the horns fall under gravity (odd ones towards negative
	// angles), away from where they were held.
	held := s.HeadJoints
	if code, body := d.do("POST", "/api/motors/set_mode/disabled", nil); code != 200 {
		t.Fatalf("disable: %d %s", code, body)
	}
	waitFull(t, d, "fallen", func(s fullState) bool {
		return len(s.HeadJoints) == 7 && s.HeadJoints[1] < held[1]-0.3 && s.HeadJoints[2] > held[2]+0.3
	})
	d.getJSON("/api/daemon/status", &st)
	bs, _ = st["backend_status"].(map[string]any)
	if rtf, _ := bs["real_time_factor"].(float64); rtf < 0.5 {
		t.Errorf("real_time_factor %v", bs["real_time_factor"])
	}
	simTime, _ := bs["simulation_time"].(float64)

	// POST /api/daemon/simulation/reset: the model's clock back at zero.
	if code, body := d.do("POST", "/api/daemon/simulation/reset", nil); code != 200 || !strings.Contains(string(body), `"reset"`) {
		t.Fatalf("simulation reset: %d %s", code, body)
	}
	d.getJSON("/api/daemon/status", &st)
	bs, _ = st["backend_status"].(map[string]any)
	if t2, _ := bs["simulation_time"].(float64); t2 >= simTime {
		t.Errorf("after the reset route: simulation_time %v (was %.2f)", bs["simulation_time"], simTime)
	}

	// A backend stop and start is the reset too: the model loaded afresh, at
	// the sleep pose with torque on, its clock back at zero.
	d.do("POST", "/api/daemon/stop?goto_sleep=false", nil)
	d.waitState("stopped")
	d.do("POST", "/api/daemon/start?wake_up=false", nil)
	st = d.waitState("running")
	bs, _ = st["backend_status"].(map[string]any)
	if t2, _ := bs["simulation_time"].(float64); t2 >= simTime || bs["model_loaded"] != true {
		t.Errorf("after a restart: simulation_time %v (was %.2f), model_loaded %v", bs["simulation_time"], simTime, bs["model_loaded"])
	}
	waitFull(t, d, "reset to sleep", func(s fullState) bool {
		return s.ControlMode == "enabled" && len(s.HeadJoints) == 7 && near(s.HeadJoints[1], sim.SleepPositions[1], 0.01) &&
			near(s.HeadJoints[2], sim.SleepPositions[2], 0.01) && near(s.Antennas[0], -3.05, 0.02)
	})
}

// A scene nowhere to be found is a clear error at start.
func TestMuJoCoNoModel(t *testing.T) {
	o, err := parseFlags([]string{"--sim", "--description-dir", t.TempDir(), "--data-dir", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, err = systemConfig(o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "no MuJoCo model found") || !strings.Contains(err.Error(), "--mujoco-model builtin") {
		t.Errorf("no model: %v", err)
	}
}

// With --camera auto, the camera routes serve the simulation's eye camera,
// rendered offscreen, at the size asked.
func TestMuJoCoCamera(t *testing.T) {
	if err := mujoco.ProbeRender(); err != nil {
		if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
			t.Fatalf("offscreen rendering: %v", err)
		}
		t.Skipf("no offscreen rendering here: %v", err)
	}
	dataDir := t.TempDir()
	key := createKey(t, dataDir, "viewer", messages.LevelUser)
	rtspPort := freePort(t)
	d := startDaemon(t, "--data-dir", dataDir, "--sim", "--mujoco-model", "builtin", "--camera", "auto", "--camera-size", "320x240",
		"--rtsp-port", strconv.Itoa(rtspPort))
	d.waitRunning()
	c := newV1(t, d.base, nil)
	c.login(key)
	var snap v1Resp
	deadline := time.Now().Add(10 * time.Second)
	for {
		snap = c.do("GET", "/api/v1/video/head_color.jpg", nil, nil)
		if snap.code == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if snap.code != 200 {
		t.Fatalf("snapshot: %d %s", snap.code, snap.body)
	}
	img, err := jpeg.Decode(bytes.NewReader(snap.body))
	if err != nil || img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
		t.Fatalf("snapshot image: %v %v", err, img.Bounds())
	}
	st := c.do("GET", "/api/v1/video/status", nil, nil)
	if st.code != 200 || !strings.Contains(string(st.body), "mujoco eye_camera") {
		t.Errorf("camera status: %d %s", st.code, st.body)
	}
	// A real RTSP client (FFmpeg, as OpenCV's backend for pymirokai's
	// VideoAPI) gets the rendered picture too.
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed (Debian's ffmpeg package; .ci/run installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-loglevel", "error", "-rtsp_transport", "tcp",
		"-i", fmt.Sprintf("rtsp://127.0.0.1:%d/head_color", rtspPort), "-frames:v", "1", "-f", "image2pipe", "-vcodec", "mjpeg", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	img, err = jpeg.Decode(bytes.NewReader(out))
	if err != nil || img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
		t.Fatalf("RTSP frame: %v %v", err, img.Bounds())
	}
}

// Without an OpenGL context, the log says why and the camera is the test
// pattern.
func TestMuJoCoCameraWithoutGL(t *testing.T) {
	probeRender = func() error { return errors.New("OSMesaCreateContextExt failed") }
	t.Cleanup(func() { probeRender = mujoco.ProbeRender })
	var logs lockedBuffer
	dataDir := t.TempDir()
	key := createKey(t, dataDir, "viewer", messages.LevelUser)
	d := startDaemonWith(t, &logs, "--apps-local-dir", t.TempDir(), "--data-dir", dataDir, "--sim", "--mujoco-model", "builtin",
		"--camera", "auto", "--camera-size", "320x240", "--log-level", "INFO")
	d.waitRunning()
	if !strings.Contains(logs.String(), "cannot render the MuJoCo eye camera offscreen; the test pattern instead") ||
		!strings.Contains(logs.String(), "OSMesaCreateContextExt failed") {
		t.Errorf("no clear log line:\n%s", logs.String())
	}
	c := newV1(t, d.base, nil)
	c.login(key)
	st := c.do("GET", "/api/v1/video/status", nil, nil)
	if st.code != 200 || !strings.Contains(string(st.body), "test pattern") {
		t.Errorf("camera status: %d %s", st.code, st.body)
	}
}

// TestMuJoCoSDKTrace replays the official SDK's recorded traffic (connect,
// motors, wake_up, goto, set_target, recording, a recorded move, goto_sleep)
// against --sim in a MuJoCo build, with the checks of TestSDKTraceReplay:
// the SDK is not installable here (no PyPI), its frames are. The MuJoCo
// backend's status carries the reference's simulation fields (spec 3.4)
// and the model's name.
func TestMuJoCoSDKTrace(t *testing.T) {
	sim := map[string]bool{}
	for _, f := range []string{"model_loaded", "simulation_time", "real_time_factor", "model"} {
		sim["daemon_status.backend_status."+f] = true
	}
	replaySDKTrace(t, sim, "--sim", "--mujoco-model", "builtin")
}
