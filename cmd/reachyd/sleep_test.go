package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"reachyd/sim"
	"reachyd/sim/x330"
)

// ownDaemon is a daemon whose run the test ends itself, as SIGTERM does,
// or watches end on its own.
type ownDaemon struct {
	*testDaemon
	cancel context.CancelFunc
	errc   chan error
	result error
	ended  bool
}

// stoppableDaemon is startDaemon whose run the test ends (stop) or waits
// for (exited).
func stoppableDaemon(t *testing.T, extra ...string) *ownDaemon {
	t.Helper()
	td, cancel, errc := launchDaemon(t, io.Discard, extra...)
	d := &ownDaemon{testDaemon: td, cancel: cancel, errc: errc}
	t.Cleanup(func() { _ = d.stop() })
	return d
}

// stop ends run as SIGTERM does and returns its error.
func (d *ownDaemon) stop() error {
	d.cancel()
	if err, ok := d.exited(30 * time.Second); ok {
		return err
	}
	d.t.Fatal("daemon did not stop in 30 s")
	return nil
}

// exited waits for run to return by itself and reports its error.
func (d *ownDaemon) exited(within time.Duration) (error, bool) {
	if d.ended {
		return d.result, true
	}
	select {
	case d.result = <-d.errc:
		d.ended = true
		return d.result, true
	case <-time.After(within):
		return nil, false
	}
}

// lastJoints returns the last joint_positions frame a client received: the
// present joints (7 head, 2 antennas).
func lastJoints(t testing.TB, c *sdkClient) []float64 {
	t.Helper()
	f, ok := c.latest("joint_positions")
	if !ok {
		t.Fatal("no joint_positions frame")
	}
	var out []float64
	for _, k := range []string{"head_joint_positions", "antennas_joint_positions"} {
		for _, v := range f.data[k].([]any) {
			out = append(out, fnum(v))
		}
	}
	return out
}

// farFromSleep reports the largest joint distance to the sleep pose.
func farFromSleep(j []float64) float64 {
	var worst float64
	for i, v := range j {
		worst = math.Max(worst, math.Abs(v-sim.SleepPositions[i]))
	}
	return worst
}

// awayThenLongGoto moves the head away from the sleep pose, then starts a
// 30 s goto and returns its uuid once it runs.
func (d *testDaemon) awayThenLongGoto(c *sdkClient) string {
	d.t.Helper()
	running := func() string {
		_, b := d.do("GET", "/api/move/running", nil)
		return string(b)
	}
	zero := map[string]float64{"x": 0, "y": 0, "z": 0, "roll": 0, "pitch": 0, "yaw": 0}
	if code, body := d.do("POST", "/api/move/goto", map[string]any{"head_pose": zero, "antennas": []float64{0, 0}, "duration": 0.5}); code != 200 {
		d.t.Fatalf("goto: %d %s", code, body)
	}
	eventually(d.t, "the first goto ends", func() bool { return running() == "[]" })
	eventually(d.t, "the head leaves the sleep pose", func() bool { return farFromSleep(lastJoints(d.t, c)) > 0.3 })
	yaw := map[string]float64{"x": 0, "y": 0, "z": 0, "roll": 0, "pitch": 0, "yaw": 0.4}
	code, body := d.do("POST", "/api/move/goto", map[string]any{"head_pose": yaw, "antennas": []float64{0.5, -0.5}, "duration": 30})
	if code != 200 {
		d.t.Fatalf("long goto: %d %s", code, body)
	}
	var mv map[string]string
	_ = json.Unmarshal(body, &mv)
	eventually(d.t, "the long goto runs", func() bool { return strings.Contains(running(), mv["uuid"]) })
	return mv["uuid"]
}

// asleep checks the last joints the backend reported are the sleep pose.
func asleep(t *testing.T, c *sdkClient) {
	t.Helper()
	// Motor positions are quantized to 1.5 mrad ticks; the sim's motors
	// follow their goals within a few ticks.
	if far := farFromSleep(lastJoints(t, c)); far > 0.02 {
		t.Fatalf("the head is %.3f rad from the sleep pose: %v", far, lastJoints(t, c))
	}
}

// waitClosed waits for the server to close a client (the backend stopped).
func waitClosed(t *testing.T, c *sdkClient, within time.Duration) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(within):
		t.Fatal("the SDK client was not closed")
	}
}

// TestStopWithSleepPreemptsAGoto: POST /api/daemon/stop?goto_sleep=true
// while a 30 s goto runs stops it, puts the robot to sleep and ends well
// before the goto would have.
func TestStopWithSleepPreemptsAGoto(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	c := d.dialSDK()
	c.waitFrame("joint_positions", 5*time.Second, nil)
	d.awayThenLongGoto(c)

	t0 := time.Now()
	code, body := d.do("POST", "/api/daemon/stop?goto_sleep=true", nil)
	if code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	var j map[string]string
	_ = json.Unmarshal(body, &j)
	info := d.waitJob(j["job_id"], "done")
	took := time.Since(t0)
	d.waitState("stopped")
	waitClosed(t, c, 5*time.Second)
	asleep(t, c)
	if took > 20*time.Second {
		t.Errorf("the stop took %v: it waited for the goto (30 s)", took)
	}
	if logs := strings.Join(anyStrings(info["logs"]), "\n"); !strings.Contains(logs, "Putting the robot to sleep.") {
		t.Errorf("stop job logs: %s", logs)
	}
	t.Logf("stop with sleep over a 30 s goto took %v", took.Round(time.Millisecond))
}

func anyStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, s := range l {
			out = append(out, s.(string))
		}
	}
	return out
}

// TestStopWithSleepStopsTheApp: the same with an app running (and a goto
// of it): the app is stopped through the app manager, the slot is free
// and the robot asleep.
func TestStopWithSleepStopsTheApp(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	d.installLocal("sleeper", writeExecApp(t, "sleeper", "trap 'exit 0' INT\necho sleeping\nwhile :; do sleep 0.05; done\n"))
	c := d.dialSDK()
	c.waitFrame("joint_positions", 5*time.Second, nil)
	if code, body := d.do("POST", "/api/apps/start-app/sleeper", nil); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	d.waitAppState("running")
	d.awayThenLongGoto(c)

	code, body := d.do("POST", "/api/daemon/stop?goto_sleep=true", nil)
	if code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	var j map[string]string
	_ = json.Unmarshal(body, &j)
	d.waitJob(j["job_id"], "done")
	d.waitState("stopped")
	waitClosed(t, c, 5*time.Second)
	asleep(t, c)
	if st := d.appStatus(); st != nil {
		t.Errorf("app status after the stop: %v", st)
	}
	if s := d.lockState(); s != "free" {
		t.Errorf("app slot after the stop: %s", s)
	}
}

// TestShutdownSleepsThroughAGoto: SIGTERM with --goto-sleep-on-stop while
// a 30 s goto runs: the robot goes to sleep and the daemon exits well
// before the goto would have ended.
func TestShutdownSleepsThroughAGoto(t *testing.T) {
	d := stoppableDaemon(t, "--goto-sleep-on-stop")
	d.waitRunning()
	c := d.dialSDK()
	c.waitFrame("joint_positions", 5*time.Second, nil)
	d.awayThenLongGoto(c)
	t0 := time.Now()
	if err := d.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	took := time.Since(t0)
	waitClosed(t, c, 5*time.Second)
	asleep(t, c)
	if took > 20*time.Second {
		t.Errorf("the shutdown took %v: it waited for the goto (30 s)", took)
	}
	t.Logf("shutdown with sleep over a 30 s goto took %v", took.Round(time.Millisecond))
}

// TestBusFailureDuringTheSleepEndsTheStop: the motors stop answering while
// the robot goes to sleep: the stop ends soon after the bus is declared
// dead (1 s without an answer), not at the sleep's 20 s timeout, and the
// daemon says why.
func TestBusFailureDuringTheSleepEndsTheStop(t *testing.T) {
	p := newPTYRobot(t, sim.Options{})
	d := startDaemon(t, "--backend", "robot", "-p", p.link)
	d.waitRunning()
	c := d.dialSDK()
	c.waitFrame("joint_positions", 5*time.Second, nil)
	d.awayThenLongGoto(c)

	code, body := d.do("POST", "/api/daemon/stop?goto_sleep=true", nil)
	if code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	var j map[string]string
	_ = json.Unmarshal(body, &j)
	// The sleep move runs (it replaced the goto): silence every motor.
	eventually(t, "the sleep move runs", func() bool {
		_, b := d.do("GET", "/api/move/running", nil)
		return string(b) != "[]"
	})
	t0 := time.Now()
	for _, m := range x330.ReachyMini {
		p.robot.Motors.SetAlive(m.ID, false)
	}
	info := d.waitJob(j["job_id"], "failed")
	took := time.Since(t0)
	st := d.waitState("error")
	if e, _ := st["error"].(string); !strings.Contains(e, "Going to sleep failed: No response from the robot's motor") {
		t.Errorf("status error %q", e)
	}
	if logs := strings.Join(anyStrings(info["logs"]), "\n"); !strings.Contains(logs, "Going to sleep failed: No response") {
		t.Errorf("stop job logs: %s", logs)
	}
	// The bus is declared dead after 1 s; the stop follows at once (the
	// generous bound is for a loaded machine: the sleep timeout is 20 s).
	if took > 6*time.Second {
		t.Errorf("the stop ended %v after the bus failed", took)
	}
	t.Logf("the stop ended %v after the bus failed", took.Round(time.Millisecond))
}
