//go:build mujoco

package mujoco

import (
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachyd/hw"
	"reachyd/hw/geom"
	"reachyd/hw/kinematics"
	"reachyd/sim"
)

func newPaused(t *testing.T) *Sim {
	t.Helper()
	start := sim.SleepPositions
	s, err := New(Options{Paused: true, Start: &start})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func read(t *testing.T, s *Sim) hw.Positions {
	t.Helper()
	p, err := s.ReadPositions()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stepSeconds runs the physics for d seconds of simulated time.
func stepSeconds(s *Sim, d float64) { s.Step(int(math.Round(d / Timestep))) }

func TestLoadsSimplifiedModelAtStart(t *testing.T) {
	s := newPaused(t)
	p := read(t, s)
	for i := range p {
		if math.Abs(p[i]-sim.SleepPositions[i]) > 1e-9 {
			t.Errorf("%s starts at %.4f, want %.4f", hw.MotorNames[i], p[i], sim.SleepPositions[i])
		}
	}
	st := s.Status()
	if !st.ModelLoaded || st.Model != Builtin || st.SimulationTime != 0 || st.Decimation != 10 {
		t.Errorf("status %+v", st)
	}
	ms, _ := s.ReadState()
	if ms.Torque != hw.AllMotors {
		t.Errorf("torque %09b, want all on", ms.Torque)
	}
}

// Under torque every motor tracks its goal: the position actuators with the
// reference's gains settle within a few milliradians.
func TestTorqueTracksGoal(t *testing.T) {
	s := newPaused(t)
	goal := hw.Positions{0.5, 0.6, -0.6, 0.6, -0.6, 0.6, -0.6, 0.3, -0.3}
	if err := s.WriteGoalPositions(goal, hw.AllMotors); err != nil {
		t.Fatal(err)
	}
	stepSeconds(s, 1.5)
	p := read(t, s)
	for i := range p {
		if d := math.Abs(p[i] - goal[i]); d > 0.01 {
			t.Errorf("%s at %.4f, goal %.4f (off by %.4f)", hw.MotorNames[i], p[i], goal[i], d)
		}
	}
	// A goal beyond a motor's limit stops at the limit.
	goal[hw.Stewart1] = 3
	s.WriteGoalPositions(goal, hw.AllMotors)
	stepSeconds(s, 1.5)
	if p := read(t, s); p[hw.Stewart1] > 1.3960+0.01 || p[hw.Stewart1] < 1.3959-0.02 {
		t.Errorf("stewart_1 at %.4f for a goal of 3 rad, want its upper limit 1.3959", p[hw.Stewart1])
	}
}

// With torque off, a horn falls under gravity: odd horns rise with a
// positive angle, so they fall towards negative angles, even ones the other
// way. A motor still under torque does not move.
func TestTorqueOffFallsUnderGravity(t *testing.T) {
	s := newPaused(t)
	goal := hw.Positions{0, 0.3, -0.3, 0.3, -0.3, 0.3, -0.3, 0, 0}
	s.WriteGoalPositions(goal, hw.AllMotors)
	stepSeconds(s, 1)
	before := read(t, s)
	if err := s.SetTorque(1<<hw.Stewart1|1<<hw.Stewart2, false); err != nil {
		t.Fatal(err)
	}
	stepSeconds(s, 1)
	after := read(t, s)
	if d := after[hw.Stewart1] - before[hw.Stewart1]; d > -0.3 {
		t.Errorf("limp stewart_1 moved by %.4f rad in 1 s, want it to fall (< -0.3)", d)
	}
	if d := after[hw.Stewart2] - before[hw.Stewart2]; d < 0.3 {
		t.Errorf("limp stewart_2 moved by %.4f rad in 1 s, want it to fall (> 0.3)", d)
	}
	if d := math.Abs(after[hw.Stewart3] - before[hw.Stewart3]); d > 0.005 {
		t.Errorf("stewart_3, under torque, moved by %.4f", d)
	}
	// Torque back on: it returns to its goal.
	s.WriteGoalPositions(goal, hw.AllMotors)
	s.SetTorque(hw.AllMotors, true)
	stepSeconds(s, 1.5)
	if p := read(t, s); math.Abs(p[hw.Stewart1]-0.3) > 0.01 {
		t.Errorf("stewart_1 at %.4f after torque on, want 0.3", p[hw.Stewart1])
	}
}

// Gravity compensation (current mode with a zero goal current) holds a horn
// where it is, where a limp horn falls; a goal current then turns it.
func TestGravityCompensationHolds(t *testing.T) {
	s := newPaused(t)
	goal := hw.Positions{0, 0.3, -0.3, 0.3, -0.3, 0.3, -0.3, 0, 0}
	s.WriteGoalPositions(goal, hw.AllMotors)
	stepSeconds(s, 1)
	if err := s.SetOperatingMode(hw.StewartMotors, hw.ModeCurrent); err == nil {
		t.Fatal("operating mode changed with torque on")
	}
	s.SetTorque(hw.AllMotors, false)
	if err := s.SetOperatingMode(hw.StewartMotors, hw.ModeCurrent); err != nil {
		t.Fatal(err)
	}
	before := read(t, s)
	s.SetTorque(hw.AllMotors, true)
	if err := s.WriteGoalCurrents([hw.NumMotors]int16{}, hw.StewartMotors); err != nil {
		t.Fatal(err)
	}
	stepSeconds(s, 1)
	after := read(t, s)
	for i := hw.Stewart1; i <= hw.Stewart6; i++ {
		if d := math.Abs(after[i] - before[i]); d > 0.02 {
			t.Errorf("%s drifted by %.4f rad in gravity compensation", hw.MotorNames[i], d)
		}
	}
	var cur [hw.NumMotors]int16
	cur[hw.Stewart1] = 20 // mA
	s.WriteGoalCurrents(cur, hw.StewartMotors)
	stepSeconds(s, 0.5)
	if p := read(t, s); p[hw.Stewart1]-after[hw.Stewart1] < 0.1 {
		t.Errorf("stewart_1 moved by %.4f under +20 mA, want it to turn positive", p[hw.Stewart1]-after[hw.Stewart1])
	}
}

func TestResetRestoresInitialState(t *testing.T) {
	s := newPaused(t)
	s.SetTorque(hw.AllMotors, false)
	stepSeconds(s, 0.5)
	if st := s.Status(); math.Abs(st.SimulationTime-0.5) > 1e-9 {
		t.Errorf("simulation time %.4f after 250 steps, want 0.5", st.SimulationTime)
	}
	moved := read(t, s)
	if math.Abs(moved[hw.Stewart1]-sim.SleepPositions[hw.Stewart1]) < 0.05 {
		t.Fatalf("stewart_1 did not move with torque off (%.4f)", moved[hw.Stewart1])
	}
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if p := read(t, s); p != sim.SleepPositions {
		t.Errorf("after reset %v, want %v", p, sim.SleepPositions)
	}
	ms, _ := s.ReadState()
	if ms.Torque != hw.AllMotors || s.Status().SimulationTime != 0 {
		t.Errorf("after reset torque %09b time %.3f", ms.Torque, s.Status().SimulationTime)
	}
	// And it holds there (the goals were reset too).
	stepSeconds(s, 0.5)
	if p := read(t, s); math.Abs(p[hw.Stewart1]-sim.SleepPositions[hw.Stewart1]) > 0.005 {
		t.Errorf("stewart_1 at %.4f after reset and 0.5 s, want %.4f", p[hw.Stewart1], sim.SleepPositions[hw.Stewart1])
	}
}

func TestClosedSimFails(t *testing.T) {
	s := newPaused(t)
	s.Close()
	if _, err := s.ReadPositions(); err == nil {
		t.Error("read on a closed simulation")
	}
	if s.Status().ModelLoaded {
		t.Error("model_loaded after Close")
	}
	s.Close() // twice is fine
}

func TestBadModelIsAClearError(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/bad.xml"
	os.WriteFile(p, []byte(`<mujoco><worldbody><body><joint name="yaw_body"/><geom size="0.1"/></body></worldbody></mujoco>`), 0o600)
	_, err := New(Options{Model: p, Paused: true})
	if err == nil || !strings.Contains(err.Error(), "stewart_1") {
		t.Errorf("a model without the motors' joints: %v", err)
	}
	os.WriteFile(p, []byte(`<mujoco><worldbody><body><position kv="1"/></body></worldbody></mujoco>`), 0o600)
	_, err = New(Options{Model: p, Paused: true})
	if err == nil || !strings.Contains(err.Error(), "3.2.3") {
		t.Errorf("a model MuJoCo cannot load: %v", err)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runRealTime runs a simulation at control period p for d of wall time
// while a 'control loop' reads and writes at that period, and returns the
// real-time factor and the CPU used per wall second.
func runRealTime(t testing.TB, p, d time.Duration) (rtf, cpu float64) {
	start := sim.SleepPositions
	s, err := New(Options{ControlPeriod: p, Start: &start})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c0, w0 := cpuTime(), time.Now()
	tk := time.NewTicker(p)
	defer tk.Stop()
	for time.Since(w0) < d {
		<-tk.C
		pos, _ := s.ReadPositions()
		pos[hw.Body] = 0.3 * math.Sin(time.Since(w0).Seconds())
		s.WriteGoalPositions(pos, hw.AllMotors)
	}
	wall := time.Since(w0).Seconds()
	return s.Status().SimulationTime / wall, (cpuTime() - c0).Seconds() / wall
}

// The physics keeps up with the wall clock at the default 50 Hz control
// rate. Timing on a shared machine varies, so this only asserts a factor
// above 0.5; the benchmark records the figures.
func TestRealTimeFactorAt50Hz(t *testing.T) {
	rtf, cpu := runRealTime(t, 20*time.Millisecond, 2*time.Second)
	t.Logf("50 Hz: real-time factor %.3f, CPU %.1f%%", rtf, 100*cpu)
	if rtf < 0.5 {
		t.Errorf("real-time factor %.3f at 50 Hz, want near 1", rtf)
	}
}

// BenchmarkRealTime records the real-time factor and the CPU at several
// control rates (docs/benchmarks.md): go test -tags mujoco -run '^$' -bench RealTime ./sim/mujoco
func BenchmarkRealTime(b *testing.B) {
	for _, hz := range []int{50, 100, 250, 500} {
		b.Run(strconv.Itoa(hz)+"Hz", func(b *testing.B) {
			var rtf, cpu float64
			for range b.N {
				rtf, cpu = runRealTime(b, time.Second/time.Duration(hz), 3*time.Second)
			}
			b.ReportMetric(rtf, "rtf")
			b.ReportMetric(100*cpu, "cpu%")
		})
	}
}

// BenchmarkStep is the cost of one physics step of the simplified model, or
// of REACHYD_MUJOCO_MODEL's.
func BenchmarkStep(b *testing.B) {
	start := sim.SleepPositions
	s, err := New(Options{Paused: true, Start: &start, Model: os.Getenv("REACHYD_MUJOCO_MODEL")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	s.Step(b.N)
}

// IK -> MuJoCo -> FK on the head, with the reference's model: the joints
// of the IK, given to the position actuators, settle the head (MuJoCo's
// `head` site) near the pose asked, and the FK of the settled joints finds
// the head where MuJoCo has it. reachyd's simplified model has no Stewart
// platform (its head is fixed), so this needs the reference's MJCF:
// REACHYD_MUJOCO_MODEL=/path/to/mjcf/scenes/empty.xml. Tested with the
// reference's MJCF at 70a7c0b with its mesh geoms removed (its meshes are
// Git LFS objects not fetched here), rewritten for MuJoCo 2.2 by Patch22.
func TestIKMuJoCoFKRoundTrip(t *testing.T) {
	model := os.Getenv("REACHYD_MUJOCO_MODEL")
	if model == "" {
		t.Skip("the round trip needs the reference's MJCF (REACHYD_MUJOCO_MODEL=.../mjcf/scenes/empty.xml); reachyd's simplified model has no Stewart platform")
	}
	start := sim.SleepPositions
	s, err := New(Options{Model: model, Paused: true, Start: &start})
	if err != nil {
		t.Fatalf("the reference's model does not load: %v", err)
	}
	defer s.Close()
	k := kinematics.New(kinematics.DefaultGeometry())
	for _, c := range []struct {
		name                      string
		x, y, z, roll, pitch, yaw float64
	}{
		{"neutral", 0, 0, 0, 0, 0, 0},
		{"z+10mm", 0, 0, 0.01, 0, 0, 0},
		{"roll15", 0, 0, 0, 0.2618, 0, 0},
		{"pitch-20", 0, 0, 0, 0, -0.349, 0},
		{"yaw30", 0, 0, 0, 0, 0, 0.5236},
		{"mixed", 0.005, -0.005, 0.008, 0.1745, -0.1745, 0.349},
	} {
		pose := geom.PoseXYZRPY(c.x, c.y, c.z, c.roll, c.pitch, c.yaw)
		j, err := k.IK(pose, 0)
		if err != nil {
			t.Fatal(err)
		}
		s.WriteGoalPositions(hw.Join([7]float64(j), [2]float64{}), hw.AllMotors)
		stepSeconds(s, 3)
		p := read(t, s)
		fk, err := k.FK(p.Head(), 60)
		if err != nil {
			t.Fatal(err)
		}
		sp, sr, ok := s.sitePose("head")
		if !ok {
			t.Fatal("the model has no head site")
		}
		site := geom.FromRT(geom.Mat3{{sr[0], sr[1], sr[2]}, {sr[3], sr[4], sr[5]}, {sr[6], sr[7], sr[8]}},
			geom.Vec3{sp[0], sp[1], sp[2] - 0.177})
		dPose := fk.Translation().Sub(pose.Translation()).Norm()
		rPose := rotDiff(fk, pose)
		dSite := fk.Translation().Sub(site.Translation()).Norm()
		rSite := rotDiff(fk, site)
		t.Logf("%s: FK vs pose asked %.2f mm %.2f°, FK vs MuJoCo head site %.3f mm %.3f°", c.name, 1000*dPose, rPose, 1000*dSite, rSite)
		// hardware.md section 5: with kp 10 the head settles within about
		// 2 mm and 1° of the pose; FK reproduces the site to about 3e-5 m.
		if dPose > 0.003 || rPose > 1.5 {
			t.Errorf("%s: the settled head is %.2f mm, %.2f° from the pose asked", c.name, 1000*dPose, rPose)
		}
		if dSite > 0.0002 || rSite > 0.1 {
			t.Errorf("%s: FK is %.3f mm, %.3f° from MuJoCo's head site", c.name, 1000*dSite, rSite)
		}
	}
}

// rotDiff is the angle between two poses' rotations, in degrees.
func rotDiff(a, b geom.Mat4) float64 {
	r := a.Rotation().T().Mul(b.Rotation())
	c := (r.Trace() - 1) / 2
	return math.Acos(math.Max(-1, math.Min(1, c))) * 180 / math.Pi
}
