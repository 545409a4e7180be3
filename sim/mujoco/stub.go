//go:build !mujoco

package mujoco

// Built reports whether this binary has MuJoCo.
const Built = false

// Version is the MuJoCo library's version: none in this build.
func Version() string { return "" }

func newSim(Options) (busSim, error) { return nil, ErrNotBuilt }
