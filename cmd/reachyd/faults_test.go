package main

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"reachyd/actors/motorbus"
	"reachyd/hw/dynamixel"
	"reachyd/sim"
)

// faultRig is a daemon on the pseudo-terminal robot with an SDK client
// streaming targets at 50 Hz and an observer recording every daemon state
// and error it sees, and every failed request.
type faultRig struct {
	t      *testing.T
	p      *ptyRobot
	d      *testDaemon
	c      *sdkClient
	stop   atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	errors map[string]bool
	states map[string]bool
	failed int
}

func newFaultRig(t *testing.T) *faultRig {
	r := &faultRig{t: t, errors: map[string]bool{}, states: map[string]bool{}}
	r.p = newPTYRobot(t, sim.Options{})
	r.d = startDaemon(t, "--backend", "robot", "-p", r.p.link)
	r.d.waitRunning()
	r.c = r.d.dialSDK()
	r.c.waitFrame("head_pose", 5*time.Second, nil)
	r.wg.Add(2)
	go func() { // the client streams a slowly moving target
		defer r.wg.Done()
		for i := 0; !r.stop.Load(); i++ {
			a := 0.3 * math.Sin(float64(i)/50)
			r.c.send(map[string]any{"type": "set_antennas", "antennas": []float64{a, -a}})
			time.Sleep(20 * time.Millisecond)
		}
	}()
	go func() { // the API keeps answering; record what it says
		defer r.wg.Done()
		for !r.stop.Load() {
			var st map[string]any
			code, _ := r.d.do("GET", "/api/daemon/status", nil)
			if code == 200 {
				r.d.getJSON("/api/daemon/status", &st)
				r.mu.Lock()
				r.states[st["state"].(string)] = true
				if e, ok := st["error"].(string); ok {
					r.errors[e] = true
				}
				// A failure's reason stays in the supervision events even
				// when the next restart changed the error already.
				for _, ev := range st["reachyd"].(map[string]any)["supervision"].([]any) {
					r.errors[ev.(map[string]any)["reason"].(string)] = true
				}
				r.mu.Unlock()
			} else {
				r.mu.Lock()
				r.failed++
				r.mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		r.stop.Store(true)
		r.wg.Wait()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.failed > 0 {
			t.Errorf("%d status requests failed during the fault", r.failed)
		}
	})
	return r
}

// sawError waits until the daemon reported an error containing text.
func (r *faultRig) sawError(text string, within time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for e := range r.errors {
			if strings.Contains(e, text) {
				r.mu.Unlock()
				return
			}
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.t.Fatalf("the daemon never reported %q; errors seen: %v", text, r.errors)
}

// recovered waits for the daemon to run again with state frames flowing
// and the motors following the streamed targets.
func (r *faultRig) recovered(within time.Duration) {
	r.t.Helper()
	r.d.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var st map[string]any
		if code, _ := r.d.do("GET", "/api/daemon/status", nil); code == 200 {
			r.d.getJSON("/api/daemon/status", &st)
			if st["state"] == "running" && st["error"] == nil {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	since := time.Now()
	r.c.waitFrame("joint_positions", within, func(map[string]any) bool { return time.Since(since) > 0 })
	n := r.p.robot.Motors.Counts()[dynamixel.InstSyncWrite]
	time.Sleep(300 * time.Millisecond)
	if r.p.robot.Motors.Counts()[dynamixel.InstSyncWrite] <= n {
		r.t.Fatal("goals are not written again after the fault cleared")
	}
}

func (r *faultRig) motors() []map[string]any {
	var st map[string]any
	r.d.getJSON("/api/motors/status", &st)
	var out []map[string]any
	for _, m := range st["motors"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}

func TestFaultMotorStopsAnswering(t *testing.T) {
	r := newFaultRig(t)
	m := r.p.robot.Motors
	m.SetAlive(13, false)
	// The reference's error after a second without answers, then the
	// supervisor's reopen naming the missing motor.
	r.sawError(motorbus.NoResponseError, 3*time.Second)
	r.sawError("missing motors: stewart_3 (ID 13)", 3*time.Second)
	var st map[string]any
	r.d.getJSON("/api/daemon/status", &st)
	if st["state"] != "error" {
		t.Errorf("state during the fault: %v", st["state"])
	}
	m.SetAlive(13, true)
	r.recovered(10 * time.Second)
}

func TestFaultGarbageOnTheBus(t *testing.T) {
	r := newFaultRig(t)
	m := r.p.robot.Motors
	for i := 0; i < 20; i++ {
		m.InjectGarbage(7)
		m.CorruptNext(1)
		time.Sleep(25 * time.Millisecond)
	}
	// Garbage and corrupted replies are resynchronised and retried: the
	// loop never stops and the daemon never leaves running.
	r.recovered(5 * time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.states) != 1 || !r.states["running"] || len(r.errors) != 0 {
		t.Errorf("states %v errors %v while the bus carried garbage", r.states, r.errors)
	}
}

func TestFaultLatchedHardwareError(t *testing.T) {
	r := newFaultRig(t)
	m := r.p.robot.Motors
	m.InjectHardwareError(12, dynamixel.HWOverload)
	deadline := time.Now().Add(3 * time.Second)
	var m12 map[string]any
	for time.Now().Before(deadline) {
		m12 = r.motors()[2]
		if m12["torque"] == false {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m12["name"] != "stewart_2" || m12["torque"] != false || len(m12["hardware_error"].([]any)) != 1 || m12["hardware_error"].([]any)[0] != "overload" {
		t.Fatalf("stewart_2 health: %v", m12)
	}
	// The daemon status shows it too: in the reference's own fields (the
	// backend's error, which the reference copies to the daemon's error
	// and state) and in reachyd's motors.
	const want = "Motor stewart_2 (ID 12) hardware error: overload"
	var st map[string]any
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r.d.getJSON("/api/daemon/status", &st)
		if st["backend_status"].(map[string]any)["error"] == want {
			break
		}
	}
	if be := st["backend_status"].(map[string]any); be["error"] != want || be["ready"] != true || st["error"] != want || st["state"] != "error" {
		t.Fatalf("daemon status with a latched error: state %v error %v backend %v", st["state"], st["error"], be)
	}
	if hm := st["reachyd"].(map[string]any)["motors"].([]any)[2].(map[string]any); hm["hardware_error_bits"] != float64(32) {
		t.Fatalf("daemon status motors: %v", hm)
	}
	// Reboot it on request, then enable: torque back, error gone.
	code, body := r.d.do("POST", "/api/motors/reboot", map[string]any{"motors": []string{"stewart_2"}})
	if code != 200 || string(body) != `{"rebooted":["stewart_2"]}` {
		t.Fatalf("reboot: %d %s", code, body)
	}
	if code, body := r.d.do("POST", "/api/motors/set_mode/enabled", nil); code != 200 {
		t.Fatalf("enable: %d %s", code, body)
	}
	time.Sleep(1200 * time.Millisecond)
	m12 = r.motors()[2]
	if m12["torque"] != true || len(m12["hardware_error"].([]any)) != 0 {
		t.Fatalf("after reboot and enable: %v", m12)
	}
	r.d.getJSON("/api/daemon/status", &st)
	if be := st["backend_status"].(map[string]any); be["error"] != nil || st["error"] != nil || st["state"] != "running" {
		t.Fatalf("daemon status after the reboot: state %v error %v backend %v", st["state"], st["error"], be)
	}
	if code, _ := r.d.do("POST", "/api/motors/reboot", map[string]any{"motors": []string{"stewart_9"}}); code != 400 {
		t.Fatalf("reboot of an unknown motor: %d", code)
	}
	r.recovered(5 * time.Second)
}

func TestFaultVoltageDrop(t *testing.T) {
	r := newFaultRig(t)
	m := r.p.robot.Motors
	m.SetVoltage(3.2)
	deadline := time.Now().Add(3 * time.Second)
	var low bool
	for time.Now().Before(deadline) && !low {
		low = true
		for _, mo := range r.motors() {
			if mo["voltage"].(float64) > 3.3 || len(mo["hardware_error"].([]any)) == 0 || mo["hardware_error"].([]any)[0] != "input_voltage" {
				low = false
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !low {
		t.Fatalf("voltage drop not reported: %v", r.motors()[0])
	}
	m.SetVoltage(5.0)
	deadline = time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if mo := r.motors()[0]; mo["voltage"].(float64) == 5 && len(mo["hardware_error"].([]any)) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if mo := r.motors()[0]; mo["voltage"].(float64) != 5 {
		t.Fatalf("voltage back: %v", mo)
	}
	r.recovered(5 * time.Second)
	// A warning that clears by itself, not an error.
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.states) != 1 || !r.states["running"] || len(r.errors) != 0 {
		t.Errorf("states %v errors %v during a voltage drop", r.states, r.errors)
	}
}

func TestFaultUSBCablePulled(t *testing.T) {
	r := newFaultRig(t)
	r.p.unplug()
	r.sawError(motorbus.NoResponseError, 3*time.Second)
	r.sawError("cannot open the motor bus", 5*time.Second)
	time.Sleep(500 * time.Millisecond)
	r.p.plug()
	r.recovered(15 * time.Second)
}
