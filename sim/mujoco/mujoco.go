//go:build mujoco

package mujoco

/*
#cgo LDFLAGS: -lmujoco
#include <stdlib.h>
#include <mujoco/mujoco.h>

// rm_step advances d by n physics steps. Before each step's actuation and
// acceleration, every dof i receives extra[i], plus the bias force (gravity
// and Coriolis) of the current state when comp[i] is set: the gravity
// compensation of motors in current mode, at every step, in one C call per
// batch.
static void rm_step(const mjModel* m, mjData* d, int n, const mjtByte* comp, const mjtNum* extra) {
	for (int k = 0; k < n; k++) {
		mj_step1(m, d);
		for (int i = 0; i < m->nv; i++) {
			d->qfrc_applied[i] = extra[i] + (comp[i] ? d->qfrc_bias[i] : 0);
		}
		mj_step2(m, d);
	}
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"reachyd/hw"
)

// Built reports whether this binary has MuJoCo.
const Built = true

// Version is the MuJoCo library's version, e.g. "2.2.2".
func Version() string {
	v := int(C.mj_version())
	return fmt.Sprintf("%d.%d.%d", v/100, v/10%10, v%10)
}

// Timestep is the physics step, as the reference sets it.
const Timestep = 0.002

// Torque per mA of goal current: the inverse of the reference's gravity
// compensation current_mA = torque * (1.47/0.52*1000) / 4.0 (XL330-M288:
// 0.52 N·m stall torque at 1.47 A).
const newtonMetrePerMilliamp = 4.0 * 0.52 / 1.47 / 1000

// Sim is one loaded model and its state, stepped in real time by its own
// goroutine (unless Options.Paused). It implements hw.Bus, hw.HealthReader
// and hw.CurrentWriter; its methods are safe for concurrent use.
type Sim struct {
	opt   Options
	name  string
	decim int

	mu sync.Mutex
	m  *C.mjModel
	d  *C.mjData
	// comp and extra are C buffers of nv entries handed to rm_step.
	comp  *C.mjtByte
	extra *C.mjtNum

	qadr, dadr, act [hw.NumMotors]int
	gain, bias      [hw.NumMotors][C.mjNGAIN]C.mjtNum
	lim             [hw.NumMotors][2]float64 // motor space
	motorDof        []bool                   // dofs of a motor joint, or of a free body

	torque hw.Mask
	modes  [hw.NumMotors]hw.OperatingMode
	goal   hw.Positions
	cur    [hw.NumMotors]int16

	wallMark time.Time
	simMark  float64
	rtf      float64

	stop   chan struct{}
	done   chan struct{}
	closed bool
}

var (
	_ hw.Bus           = (*Sim)(nil)
	_ hw.HealthReader  = (*Sim)(nil)
	_ hw.CurrentWriter = (*Sim)(nil)
)

// New loads the model (Options.Model, or the simplified one), puts the
// motors at Options.Start with torque on in position mode (the reference's
// simulated backends start "enabled") and starts the physics.
func New(opt Options) (*Sim, error) {
	if opt.ControlPeriod <= 0 {
		opt.ControlPeriod = 20 * time.Millisecond
	}
	path, name, cleanup, err := modelFile(opt.Model)
	if err != nil {
		return nil, err
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	errbuf := (*C.char)(C.calloc(1024, 1))
	defer C.free(unsafe.Pointer(errbuf))
	m := C.mj_loadXML(cpath, nil, errbuf, 1024)
	cleanup()
	if m == nil && name != Builtin {
		// The reference's model is for MuJoCo 3: try it rewritten for 2.2.
		msg := strings.TrimSpace(C.GoString(errbuf))
		patched, done, perr := Patch22(path)
		if perr == nil {
			cp := C.CString(patched)
			m = C.mj_loadXML(cp, nil, errbuf, 1024)
			C.free(unsafe.Pointer(cp))
			done()
		}
		if m == nil {
			if perr != nil {
				msg += "; rewritten for MuJoCo 2.2: " + perr.Error()
			} else {
				msg += "; rewritten for MuJoCo 2.2: " + strings.TrimSpace(C.GoString(errbuf))
			}
			return nil, fmt.Errorf("mujoco: loading %s: %s (the reference's model needs MuJoCo 3.2.3 or later; this is MuJoCo %s: use --mujoco-model builtin for reachyd's simplified model)", name, msg, Version())
		}
	}
	if m == nil {
		return nil, fmt.Errorf("mujoco: loading %s: %s", name, strings.TrimSpace(C.GoString(errbuf)))
	}
	s := &Sim{opt: opt, name: name, m: m}
	s.m.opt.timestep = Timestep
	s.decim = max(1, int(math.Round(opt.ControlPeriod.Seconds()/Timestep)))
	if err := s.mapMotors(); err != nil {
		C.mj_deleteModel(m)
		return nil, err
	}
	s.d = C.mj_makeData(m)
	if s.d == nil {
		C.mj_deleteModel(m)
		return nil, errors.New("mujoco: mj_makeData failed")
	}
	nv := int(m.nv)
	s.comp = (*C.mjtByte)(C.calloc(C.size_t(max(nv, 1)), C.size_t(unsafe.Sizeof(C.mjtByte(0)))))
	s.extra = (*C.mjtNum)(C.calloc(C.size_t(max(nv, 1)), C.size_t(unsafe.Sizeof(C.mjtNum(0)))))
	s.resetLocked()
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	if opt.Paused {
		close(s.done)
	} else {
		go s.run()
	}
	return s, nil
}

// modelFile returns a file to load: model itself, or the simplified model
// written to a temporary file (mj_loadXML reads files), removed by cleanup.
func modelFile(model string) (path, name string, cleanup func(), err error) {
	if model != "" && model != Builtin {
		return model, model, func() {}, nil
	}
	f, err := os.CreateTemp("", "reachyd-mujoco-*.xml")
	if err != nil {
		return "", "", nil, fmt.Errorf("mujoco: %w", err)
	}
	_, err = f.Write(SimplifiedModel)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", "", nil, fmt.Errorf("mujoco: %w", err)
	}
	return f.Name(), Builtin, func() { os.Remove(f.Name()) }, nil
}

func cnum(p *C.mjtNum, n int) []C.mjtNum {
	if p == nil || n <= 0 {
		return nil
	}
	return unsafe.Slice(p, n)
}

func cint(p *C.int, n int) []C.int {
	if p == nil || n <= 0 {
		return nil
	}
	return unsafe.Slice(p, n)
}

// mapMotors finds each motor's hinge joint and position actuator by name,
// keeps the actuators' gains (to switch torque), and sets the actuators'
// control ranges to the motor limits.
func (s *Sim) mapMotors() error {
	m := s.m
	nu, nj := int(m.nu), int(m.njnt)
	trnid := cint(m.actuator_trnid, 2*nu)
	jtype := cint(m.jnt_type, nj)
	qadr, dadr := cint(m.jnt_qposadr, nj), cint(m.jnt_dofadr, nj)
	jrange := cnum(m.jnt_range, 2*nj)
	jlim := unsafe.Slice(m.jnt_limited, max(nj, 1))
	gain, bias := cnum(m.actuator_gainprm, nu*C.mjNGAIN), cnum(m.actuator_biasprm, nu*C.mjNBIAS)
	ctrl := cnum(m.actuator_ctrlrange, 2*nu)
	ctrlLim := unsafe.Slice(m.actuator_ctrllimited, max(nu, 1))
	// Free bodies (the scene's objects) are never held: mark their dofs as
	// if they were motors' so that gravity compensation skips them.
	s.motorDof = make([]bool, int(m.nv))
	dofJnt := cint(m.dof_jntid, int(m.nv))
	for dof, j := range dofJnt {
		s.motorDof[dof] = jtype[j] == C.mjJNT_FREE
	}
	var missing []string
	for i, jn := range JointNames {
		cn := C.CString(jn)
		j := int(C.mj_name2id(m, C.mjOBJ_JOINT, cn))
		a := int(C.mj_name2id(m, C.mjOBJ_ACTUATOR, cn))
		C.free(unsafe.Pointer(cn))
		if j < 0 || jtype[j] != C.mjJNT_HINGE {
			missing = append(missing, "hinge joint "+jn)
			continue
		}
		if a < 0 || int(trnid[2*a]) != j {
			a = -1
			for k := 0; k < nu; k++ {
				if int(trnid[2*k]) == j {
					a = k
					break
				}
			}
		}
		if a < 0 {
			missing = append(missing, "actuator of "+jn)
			continue
		}
		s.qadr[i], s.dadr[i], s.act[i] = int(qadr[j]), int(dadr[j]), a
		s.motorDof[s.dadr[i]] = true
		copy(s.gain[i][:], gain[a*C.mjNGAIN:])
		copy(s.bias[i][:], bias[a*C.mjNBIAS:])
		lo, hi := math.Inf(-1), math.Inf(1)
		if jlim[j] != 0 {
			lo, hi = float64(jrange[2*j]), float64(jrange[2*j+1])
			if JointSign[i] < 0 {
				lo, hi = -hi, -lo
			}
		}
		if l := s.opt.Limits; l != nil {
			lo, hi = max(lo, l[i][0]), min(hi, l[i][1])
		}
		s.lim[i] = [2]float64{lo, hi}
		if !math.IsInf(lo, 0) && !math.IsInf(hi, 0) {
			jlo, jhi := lo*JointSign[i], hi*JointSign[i]
			ctrl[2*a], ctrl[2*a+1] = C.mjtNum(min(jlo, jhi)), C.mjtNum(max(jlo, jhi))
			ctrlLim[a] = 1
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("mujoco: %s: the model lacks %s", s.name, strings.Join(missing, ", "))
	}
	return nil
}

// resetLocked puts the model back at its initial state: time 0, the motors
// at Start, torque on in position mode holding there.
func (s *Sim) resetLocked() {
	C.mj_resetData(s.m, s.d)
	var start hw.Positions
	if s.opt.Start != nil {
		start = *s.opt.Start
	}
	qpos := cnum(s.d.qpos, int(s.m.nq))
	for i := range start {
		start[i] = s.clamp(i, start[i])
		qpos[s.qadr[i]] = C.mjtNum(JointSign[i] * start[i])
	}
	s.goal = start
	s.torque = hw.AllMotors
	for i := range s.modes {
		s.modes[i] = hw.ModePosition
	}
	s.cur = [hw.NumMotors]int16{}
	s.applyLocked()
	C.mj_forward(s.m, s.d)
	if s.m.neq > 0 {
		// Closed loops (the reference's Stewart platform): let the
		// constraints pull the passive joints into place, as the reference
		// does: 100 steps without contacts, 100 with, then time 0.
		s.m.opt.disableflags |= C.mjDSBL_CONTACT
		s.stepLocked(100)
		s.m.opt.disableflags &^= C.mjDSBL_CONTACT
		s.stepLocked(100)
		s.d.time = 0
	}
	s.wallMark, s.simMark, s.rtf = time.Now(), 0, 0
}

func (s *Sim) clamp(i int, v float64) float64 {
	return min(max(v, s.lim[i][0]), s.lim[i][1])
}

// applyLocked turns the motors' state into the model's inputs: actuator
// gains and controls for motors holding a position, applied torques for
// motors in current mode, nothing for limp ones.
func (s *Sim) applyLocked() {
	nu, nv := int(s.m.nu), int(s.m.nv)
	gain, bias := cnum(s.m.actuator_gainprm, nu*C.mjNGAIN), cnum(s.m.actuator_biasprm, nu*C.mjNBIAS)
	ctrl := cnum(s.d.ctrl, nu)
	comp := unsafe.Slice(s.comp, max(nv, 1))
	extra := cnum(s.extra, max(nv, 1))
	headComp := false
	for i := 0; i < hw.NumMotors; i++ {
		a, dof := s.act[i], s.dadr[i]
		on := s.torque.Has(i)
		current := s.modes[i] == hw.ModeCurrent
		g, b := gain[a*C.mjNGAIN:(a+1)*C.mjNGAIN], bias[a*C.mjNBIAS:(a+1)*C.mjNBIAS]
		if on && !current {
			copy(g, s.gain[i][:])
			copy(b, s.bias[i][:])
		} else {
			clear(g)
			clear(b)
		}
		ctrl[a] = C.mjtNum(JointSign[i] * s.clamp(i, s.goal[i]))
		comp[dof], extra[dof] = 0, 0
		if on && current {
			comp[dof] = 1
			extra[dof] = C.mjtNum(JointSign[i] * float64(s.cur[i]) * newtonMetrePerMilliamp)
			if i >= hw.Stewart1 && i <= hw.Stewart6 {
				headComp = true
			}
		}
	}
	// The robot's dofs of no motor (the reference's rods and head, between
	// the horns and the head) are held too while the head is compensated;
	// the scene's free objects are not.
	for dof, isMotor := range s.motorDof {
		if !isMotor {
			comp[dof], extra[dof] = 0, 0
			if headComp {
				comp[dof] = 1
			}
		}
	}
}

// stepLocked runs n physics steps and updates the real-time factor.
func (s *Sim) stepLocked(n int) {
	C.rm_step(s.m, s.d, C.int(n), s.comp, s.extra)
}

// Step runs n physics steps at once (for tests and paused simulations).
func (s *Sim) Step(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.stepLocked(n)
	}
}

// run steps the physics in batches of one control period, paced by the
// wall clock.
func (s *Sim) run() {
	defer close(s.done)
	period := time.Duration(s.decim) * time.Duration(Timestep*float64(time.Second))
	next := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		s.stepLocked(s.decim)
		now := time.Now()
		if w := now.Sub(s.wallMark); w >= time.Second {
			st := float64(s.d.time)
			s.rtf = (st - s.simMark) / w.Seconds()
			s.wallMark, s.simMark = now, st
		}
		s.mu.Unlock()
		next = next.Add(period)
		if now.Sub(next) > 5*period {
			next = now // too far behind: run slower than real time, do not bunch
		}
		t.Reset(next.Sub(now))
	}
}

// Status is the simulation's status.
func (s *Sim) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Model: s.name, Timestep: Timestep, Decimation: s.decim}
	if s.closed {
		return st
	}
	st.ModelLoaded = true
	st.SimulationTime = float64(s.d.time)
	st.RealTimeFactor = s.rtf
	if st.RealTimeFactor == 0 && !s.opt.Paused {
		// The first second: the factor so far.
		if w := time.Since(s.wallMark).Seconds(); w > 0.1 {
			st.RealTimeFactor = (st.SimulationTime - s.simMark) / w
		}
	}
	return st
}

// Reset restores the initial state (the reference's MujocoBackend.reset).
func (s *Sim) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.resetLocked()
	return nil
}

var errClosed = fmt.Errorf("%w: the MuJoCo simulation is closed", hw.ErrBus)

// ReadPositions returns the motors' present positions, read from the model.
func (s *Sim) ReadPositions() (hw.Positions, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p hw.Positions
	if s.closed {
		return p, errClosed
	}
	qpos := cnum(s.d.qpos, int(s.m.nq))
	for i := range p {
		p[i] = JointSign[i] * float64(qpos[s.qadr[i]])
	}
	return p, nil
}

// WriteGoalPositions sets the goals of the motors in mask, clamped to their
// limits; the actuators follow them from the next physics batch.
func (s *Sim) WriteGoalPositions(goal hw.Positions, mask hw.Mask) error {
	if !goal.IsFinite() {
		return fmt.Errorf("mujoco: non-finite goal %v", goal)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	for i := range goal {
		if mask.Has(i) {
			s.goal[i] = s.clamp(i, goal[i])
		}
	}
	s.applyLocked()
	return nil
}

// WriteGoalCurrents sets the goal currents (mA) of the motors in mask.
func (s *Sim) WriteGoalCurrents(cur [hw.NumMotors]int16, mask hw.Mask) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	for i := range cur {
		if mask.Has(i) {
			s.cur[i] = cur[i]
		}
	}
	s.applyLocked()
	return nil
}

// ReadState returns torque enable and operating modes.
func (s *Sim) ReadState() (hw.MotorState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return hw.MotorState{}, errClosed
	}
	return hw.MotorState{Torque: s.torque, Modes: s.modes}, nil
}

// SetTorque switches the motors in mask on or off.
func (s *Sim) SetTorque(mask hw.Mask, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	if on {
		s.torque |= mask
	} else {
		s.torque &^= mask
	}
	s.applyLocked()
	return nil
}

// SetOperatingMode sets the motors' operating mode. As on the motors, it
// needs torque off (the register is in EEPROM). Position modes hold a
// position; current mode applies the goal current plus gravity
// compensation; velocity mode is not simulated.
func (s *Sim) SetOperatingMode(mask hw.Mask, mode hw.OperatingMode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	switch mode {
	case hw.ModePosition, hw.ModeExtendedPosition, hw.ModeCurrentPosition, hw.ModeCurrent:
	default:
		return fmt.Errorf("%w: operating mode %d is not simulated", hw.ErrBus, mode)
	}
	var on []string
	for i := 0; i < hw.NumMotors; i++ {
		if mask.Has(i) && s.torque.Has(i) {
			on = append(on, hw.MotorNames[i])
		}
	}
	if len(on) > 0 {
		return fmt.Errorf("%w: operating mode not applied on %s (torque is on)", hw.ErrBus, strings.Join(on, ", "))
	}
	for i := 0; i < hw.NumMotors; i++ {
		if mask.Has(i) {
			s.modes[i] = mode
		}
	}
	s.applyLocked()
	return nil
}

// ReadHealth reports every motor answering, at the simulator's nominal
// temperature and supply voltage, with no hardware error.
func (s *Sim) ReadHealth() (hw.Health, error) {
	pos, err := s.ReadPositions()
	var h hw.Health
	if err != nil {
		return h, err
	}
	now := time.Now()
	for i := range h {
		h[i] = hw.MotorHealth{Answering: true, LastAnswer: now, Position: pos[i], Temperature: 35, Voltage: 5.0}
	}
	return h, nil
}

// Close stops the physics and frees the model, the data and the buffers.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	C.mj_deleteData(s.d)
	C.mj_deleteModel(s.m)
	C.free(unsafe.Pointer(s.comp))
	C.free(unsafe.Pointer(s.extra))
	s.d, s.m, s.comp, s.extra = nil, nil, nil, nil
	return nil
}

func newSim(opt Options) (busSim, error) {
	s, err := New(opt)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// sitePose returns a site's position and rotation (row-major) in the world,
// as of the last step.
func (s *Sim) sitePose(name string) (pos [3]float64, rot [9]float64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return pos, rot, false
	}
	cn := C.CString(name)
	id := int(C.mj_name2id(s.m, C.mjOBJ_SITE, cn))
	C.free(unsafe.Pointer(cn))
	if id < 0 {
		return pos, rot, false
	}
	xp := cnum(s.d.site_xpos, 3*int(s.m.nsite))
	xm := cnum(s.d.site_xmat, 9*int(s.m.nsite))
	for i := range pos {
		pos[i] = float64(xp[3*id+i])
	}
	for i := range rot {
		rot[i] = float64(xm[9*id+i])
	}
	return pos, rot, true
}
