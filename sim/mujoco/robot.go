package mujoco

import (
	"sync"

	"reachyd/hw"
)

// Robot is the daemon's MuJoCo backend: it opens a simulation for the
// motorbus actor and reports its status. Each Open after a Close (the
// daemon stopped and started again, or the motorbus actor restarted) loads
// the model afresh, as the reference builds a new backend on each start;
// while one is open, Open hands out the same one.
type Robot struct {
	opt Options
	mu  sync.Mutex
	sim busSim
}

// busSim is what Robot needs of a Sim (it is not built without MuJoCo).
type busSim interface {
	hw.Bus
	Status() Status
	Reset() error
}

// NewRobot loads the model once to check it (a bad model is an error at
// start, not at each attempt of the motorbus actor); Open loads it again.
func NewRobot(opt Options) (*Robot, error) {
	check := opt
	check.Paused = true
	s, err := newSim(check)
	if err != nil {
		return nil, err
	}
	s.Close()
	return &Robot{opt: opt}, nil
}

// Open returns the open simulation, loading the model if none is.
func (r *Robot) Open() (hw.Bus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sim == nil {
		s, err := newSim(r.opt)
		if err != nil {
			return nil, err
		}
		r.sim = s
	}
	return robotBus{busSim: r.sim, r: r}, nil
}

// robotBus closes the simulation and forgets it.
type robotBus struct {
	busSim
	r *Robot
}

func (b robotBus) Close() error {
	b.r.mu.Lock()
	if b.r.sim == b.busSim {
		b.r.sim = nil
	}
	b.r.mu.Unlock()
	return b.busSim.Close()
}

// Status is the open simulation's status (ModelLoaded false when none is).
func (r *Robot) Status() Status {
	r.mu.Lock()
	s := r.sim
	r.mu.Unlock()
	if s == nil {
		return Status{Model: r.opt.Model}
	}
	return s.Status()
}

// Reset restores the open simulation's initial state.
func (r *Robot) Reset() error {
	r.mu.Lock()
	s := r.sim
	r.mu.Unlock()
	if s == nil {
		return ErrNotOpen
	}
	return s.Reset()
}

// Close closes the open simulation, if any.
func (r *Robot) Close() error {
	r.mu.Lock()
	s := r.sim
	r.sim = nil
	r.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Close()
}
