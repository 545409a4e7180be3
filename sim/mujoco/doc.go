// Package mujoco is reachyd's physics simulation of the robot: the
// reference's `--sim` backend (daemon-api 3.4), with gravity, contacts and
// joint dynamics, behind the same hw.Bus contract as the Dynamixel bus and
// the byte-level simulator, so every actor above the motor bus is unchanged.
//
// The engine is MuJoCo 2.2 (Debian's libmujoco-dev), reached through cgo in
// the files built with the `mujoco` tag. Without the tag (the default build,
// which must stay pure Go) New returns ErrNotBuilt and the daemon falls back
// to its byte-level simulator. This file, the model search and the
// simplified model are built either way.
//
// # Design
//
// A Sim owns one mjModel and one mjData. Its physics goroutine steps the
// model at the model's timestep (2 ms, as the reference) in batches of one
// control period (10 steps at 50 Hz: the reference's decimation), paced by
// the wall clock, so the simulation runs in real time; a batch that falls
// more than a few periods behind is not caught up (the real-time factor
// drops below 1 instead of bunching). The bus calls (goal writes, position
// reads, torque and mode changes) read and write the shared state under the
// same mutex as a batch, so a goal written during a tick applies from the
// next batch: the motors' own one-tick latency.
//
// Motors map to the model's joints and position actuators by name
// (body_rotation is yaw_body, the rest keep their names); the antennas'
// joints turn the other way, as in the reference's model (its backend
// negates them both ways). A motor with torque off has its actuator's gain
// and bias set to zero, so its joint moves under gravity and contacts only.
// A motor in current mode (gravity compensation) has its actuator off too,
// and its joint receives the torque of its goal current plus the torque that
// holds the pose against gravity (MuJoCo's bias force, computed at every
// step): the simulation computes the gravity torques the daemon cannot, so
// the head floats where it is put. Goals are clamped to the motors' EEPROM
// limits, as the motors do.
//
// The cgo surface is a handful of calls per batch (one C call steps a whole
// batch); Go never hands C a Go pointer that C keeps, and Close frees the
// model, the data and the C buffers.
//
// # Models
//
// FindModel looks for the reference's MJCF (descriptions/reachy_mini/mjcf,
// scenes empty and minimal) in --mujoco-model or the description folder;
// "builtin" is reachyd's own simplified model (reachy_mini_simplified.xml,
// embedded): the robot's nine motors as nine hinge joints with plausible
// masses, a head fixed on the body, and the eye camera. The tests run on it.
// The reference's model is written for MuJoCo 3.3 and uses five features
// MuJoCo 2.2 lacks (hardware.md section 5): when it does not load as it is,
// Patch22 rewrites a copy for 2.2 (dropping dampratio, kv, inheritrange and
// camera resolution, and turning site connects into body connects) and
// that copy is loaded. At start, a model with closed loops is settled as
// the reference does (100 steps without contacts, 100 with).
//
// # Tested
//
// With the `mujoco` tag, against libmujoco 2.2.2 and the simplified model: a
// joint under torque tracks its goal; with torque off a horn falls under
// gravity; in gravity compensation it holds its pose; the real-time factor at
// 50 Hz control (asserted > 0.5; measured figures in docs/benchmarks.md);
// reset restores the initial state; the daemon runs on it, wakes up and
// does a goto (cmd/reachyd/mujoco_test.go); the eye camera renders with
// OSMesa. The IK -> MuJoCo -> FK round trip on the head needs the
// reference's model (REACHYD_MUJOCO_MODEL) and skips without it; it passed
// with the reference's MJCF at 70a7c0b rewritten by Patch22 and stripped of
// its mesh geoms (its meshes are Git LFS objects, not fetched here): the
// head settles within 0.2 mm and 0.4 degrees of the pose, and FK of the
// settled joints finds MuJoCo's head site to 1 micrometre. Loading it with
// its real meshes was not tried.
package mujoco

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"reachyd/hw"
)

// SimplifiedModel is reachyd's own MJCF of the robot (see the file's
// comment): what `--mujoco-model builtin` loads.
//
//go:embed reachy_mini_simplified.xml
var SimplifiedModel []byte

// Builtin is the --mujoco-model value that selects SimplifiedModel.
const Builtin = "builtin"

// Scenes are the reference's scene names (mjcf/scenes/<name>.xml).
var Scenes = []string{"empty", "minimal"}

// ErrNotBuilt: this binary was built without the mujoco tag.
var ErrNotBuilt = errors.New("this reachyd was built without MuJoCo (build it with `go build -tags mujoco`, see `make run-mujoco`)")

// ErrNotOpen: no simulation is open (the daemon's backend is stopped).
var ErrNotOpen = errors.New("the MuJoCo simulation is not running")

// ErrNoModel: no MJCF was found.
var ErrNoModel = errors.New("no MuJoCo model found")

// JointNames are the model's joint (and actuator) names of the motors, in
// bus order.
var JointNames = [hw.NumMotors]string{
	"yaw_body", "stewart_1", "stewart_2", "stewart_3", "stewart_4",
	"stewart_5", "stewart_6", "right_antenna", "left_antenna",
}

// JointSign is the sign from motor angle to joint angle: the antennas'
// joints turn the other way (the reference's backend negates them).
var JointSign = [hw.NumMotors]float64{1, 1, 1, 1, 1, 1, 1, -1, -1}

// Options configure a Sim.
type Options struct {
	// Model is an MJCF file; empty loads SimplifiedModel.
	Model string
	// ControlPeriod is the control loop's period: the physics steps in
	// batches of this length (default 20 ms, 50 Hz).
	ControlPeriod time.Duration
	// Start is the motors' initial positions (default sim.SleepPositions,
	// set by the caller to avoid an import cycle; zero is the neutral pose).
	Start *hw.Positions
	// Limits are the motors' [lower, upper] limits in rad (default: the
	// model's joint ranges only).
	Limits *[hw.NumMotors][2]float64
	// Paused does not start the physics goroutine: tests drive Step.
	Paused bool
}

// Status is the simulation's status for the daemon status.
type Status struct {
	ModelLoaded bool
	// Model is the MJCF path ("builtin" for the simplified model).
	Model string
	// SimulationTime is the simulated time since the last reset, s.
	SimulationTime float64
	// RealTimeFactor is simulated time over wall time in the last second.
	RealTimeFactor float64
	// Timestep is the physics step, Decimation the steps per control tick.
	Timestep   float64
	Decimation int
}

// FindModel returns the MJCF to load for scene: model itself when it is a
// file ("builtin" is returned as is), else the reference's
// mjcf/scenes/<scene>.xml under model (when it is a folder) or under the
// description folder descDir (the reference's descriptions/reachy_mini/urdf,
// whose sibling is mjcf), or ErrNoModel naming the places searched.
func FindModel(model, descDir, scene string) (string, error) {
	if model == Builtin {
		return Builtin, nil
	}
	ok := false
	for _, s := range Scenes {
		ok = ok || s == scene
	}
	if !ok {
		return "", fmt.Errorf("unknown scene %q (scenes: %s)", scene, strings.Join(Scenes, ", "))
	}
	if model != "" {
		if st, err := os.Stat(model); err == nil && !st.IsDir() {
			return model, nil
		} else if err != nil {
			return "", fmt.Errorf("--mujoco-model %s: %w", model, err)
		}
	}
	var tried []string
	for _, root := range []string{model, descDir} {
		if root == "" {
			continue
		}
		for _, rel := range []string{
			".", "mjcf", filepath.Join("..", "mjcf"), filepath.Join("reachy_mini", "mjcf"),
			filepath.Join("descriptions", "reachy_mini", "mjcf"),
			filepath.Join("reachy_mini", "descriptions", "reachy_mini", "mjcf"),
		} {
			p := filepath.Join(root, rel, "scenes", scene+".xml")
			tried = append(tried, p)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
	}
	where := "no --mujoco-model and no robot description folder"
	if len(tried) > 0 {
		where = "looked for " + strings.Join(tried, ", ")
	}
	return "", fmt.Errorf("%w for scene %q (%s): give the reference's MJCF with --mujoco-model PATH (a scene file or its mjcf folder), or --mujoco-model builtin for reachyd's simplified model",
		ErrNoModel, scene, where)
}
