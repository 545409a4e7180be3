//go:build !mujoco

package main

import (
	"log/slog"

	"reachyd/actors/system"
	"reachyd/hw/camera"
)

// mujocoBackend: this reachyd has no MuJoCo (the default, pure-Go build),
// so --sim runs the motor bus simulator, and says so.
func mujocoBackend(o *Options, _ *system.Config, log *slog.Logger) (bool, error) {
	if o.Sim && !o.MockupSim {
		log.Info("--sim: this reachyd is built without MuJoCo: running reachyd's motor bus simulator (no physics; build with -tags mujoco, see make run-mujoco)")
	}
	if o.MujocoModel != "" {
		log.Warn("--mujoco-model is ignored: this reachyd is built without MuJoCo")
	}
	return false, nil
}

// mujocoCamera: no MuJoCo, no rendered camera.
func mujocoCamera(*Options, int, int, *slog.Logger) (camera.Source, bool) { return nil, false }
