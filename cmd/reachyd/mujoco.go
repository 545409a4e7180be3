//go:build mujoco

package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"reachyd/actors/motorbus"
	"reachyd/actors/moves/motion"
	"reachyd/actors/system"
	"reachyd/hw"
	"reachyd/hw/camera"
	"reachyd/hw/description"
	"reachyd/hw/dynamixel"
	"reachyd/hw/robotcfg"
	"reachyd/messages"
	"reachyd/sim"
	"reachyd/sim/mujoco"
)

// mujocoBackend makes --sim run on MuJoCo, as the reference's --sim does:
// the model found by --mujoco-model (or beside the robot description),
// the scene of --scene, the physics stepped at the control rate. The bus
// simulator stays for --backend sim without --sim, and --mockup-sim.
func mujocoBackend(o *Options, cfg *system.Config, log *slog.Logger) (bool, error) {
	if !o.Sim || o.MockupSim {
		return false, nil
	}
	desc := ""
	if o.MujocoModel == "" {
		f := &description.Finder{Dir: o.DescriptionDir, Python: o.Python, AppsDir: filepath.Join(o.DataDir, "apps"),
			HubCache: motion.DefaultHubCache(), Log: log.With("component", "description")}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		desc, _ = f.Find(ctx)
		cancel()
	}
	path, err := mujoco.FindModel(o.MujocoModel, desc, o.Scene)
	if err != nil {
		return true, fmt.Errorf("--sim: %w", err)
	}
	start := sim.SleepPositions
	var limits [hw.NumMotors][2]float64
	for i, m := range robotcfg.Default().Motors {
		limits[i] = [2]float64{dynamixel.TicksToRad(m.LowerLimit), dynamixel.TicksToRad(m.UpperLimit)}
	}
	r, err := mujoco.NewRobot(mujoco.Options{Model: path, ControlPeriod: cfg.Period, Start: &start, Limits: &limits})
	if err != nil {
		return true, fmt.Errorf("--sim: %w", err)
	}
	o.mujoco = r
	name := fmt.Sprintf("mujoco (MuJoCo %s, model %s)", mujoco.Version(), path)
	if path != mujoco.Builtin {
		name = fmt.Sprintf("mujoco (MuJoCo %s, model %s, scene %s)", mujoco.Version(), path, o.Scene)
	}
	cfg.Open = r.Open
	cfg.Motorbus = motorbus.Config{AllowGravity: true, Controller: name}
	cfg.Daemon.BackendKind = "mujoco"
	cfg.Daemon.BackendName = name
	cfg.Daemon.Simulation = true
	cfg.Daemon.SimReset = r.Reset
	cfg.Daemon.SimStatus = func() *messages.SimStatus {
		st := r.Status()
		return &messages.SimStatus{ModelLoaded: st.ModelLoaded, Model: path,
			SimulationTime: st.SimulationTime, RealTimeFactor: st.RealTimeFactor}
	}
	log.Info("--sim: MuJoCo physics simulation", "mujoco", mujoco.Version(), "model", path, "scene", o.Scene,
		"timestep_s", mujoco.Timestep, "control_hz", o.ControlHz)
	return true, nil
}

// probeRender checks that an OpenGL context can be made (tests replace it).
var probeRender = mujoco.ProbeRender

// mujocoCamera is --camera auto on MuJoCo: the simulation's eye camera,
// rendered offscreen (OSMesa) at 25 Hz as the reference renders it, unless
// --headless or no OpenGL context can be made here; the test pattern then.
func mujocoCamera(o *Options, w, h int, log *slog.Logger) (camera.Source, bool) {
	r, ok := o.mujoco.(*mujoco.Robot)
	if !ok {
		return nil, false
	}
	if o.Headless {
		log.Info("camera: --headless, so the MuJoCo eye camera is not rendered; the test pattern instead")
		return nil, false
	}
	if err := probeRender(); err != nil {
		log.Warn("camera: cannot render the MuJoCo eye camera offscreen; the test pattern instead", "err", err)
		return nil, false
	}
	src := &mujoco.Camera{Robot: r, Width: w, Height: h, FPS: 25}
	log.Info("camera: the MuJoCo eye camera, rendered offscreen", "source", src.Describe())
	return src, true
}
