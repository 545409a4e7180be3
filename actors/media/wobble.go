package media

import (
	"math"
	"time"
)

// Wobbler turns the level of what the speaker plays into small head
// offsets, so the robot looks like it is talking: the head nods with the
// syllables and sways a little while the voice goes on. It is a pure
// function of the level reports and their instants (no clock of its own).
//
// The level (RMS in dBFS, as GStreamer's level element reports it) maps
// linearly from Floor (silent) to Ceiling (loud) onto an envelope in
// [0, 1], followed with a fast attack and a slower release, like a VU
// meter, so the head does not jitter on every packet. The offsets are
// [x, y, z (m), roll, pitch, yaw (rad)], the order moves expects.
type Wobbler struct {
	Floor, Ceiling float64       // dBFS
	Attack         time.Duration // time constant while the level rises
	Release        time.Duration // and while it falls

	env  float64
	last time.Time
}

// NewWobbler returns a wobbler with settings that suit speech.
func NewWobbler() *Wobbler {
	return &Wobbler{Floor: -50, Ceiling: -12, Attack: 40 * time.Millisecond, Release: 220 * time.Millisecond}
}

// Amplitudes of the motion at full envelope.
const (
	wobbleZ     = 0.004 // m: the head rises a little while talking
	wobblePitch = 0.07  // rad: the nod
	wobbleRoll  = 0.025 // rad: the sway
	wobbleYaw   = 0.02  // rad
)

// Step takes a level report at now and returns the offsets to apply.
func (w *Wobbler) Step(levelDB float64, now time.Time) [6]float64 {
	target := 0.0
	if !math.IsNaN(levelDB) && !math.IsInf(levelDB, -1) && w.Ceiling > w.Floor {
		target = math.Min(1, math.Max(0, (levelDB-w.Floor)/(w.Ceiling-w.Floor)))
	}
	dt := 50 * time.Millisecond
	if !w.last.IsZero() && now.After(w.last) {
		dt = min(now.Sub(w.last), time.Second)
	}
	w.last = now
	tau := w.Release
	if target > w.env {
		tau = w.Attack
	}
	if tau <= 0 {
		w.env = target
	} else {
		w.env += (target - w.env) * (1 - math.Exp(-dt.Seconds()/tau.Seconds()))
	}
	if w.env < 1e-3 {
		w.env = 0
		return [6]float64{}
	}
	t := float64(now.UnixNano()) / 1e9
	e := w.env
	return [6]float64{
		0, 0, wobbleZ * e,
		wobbleRoll * e * math.Sin(2*math.Pi*0.7*t),
		-wobblePitch * e * (0.6 + 0.4*math.Sin(2*math.Pi*3.1*t)),
		wobbleYaw * e * math.Sin(2*math.Pi*0.45*t),
	}
}

// Reset forgets the envelope (wobbling was turned off).
func (w *Wobbler) Reset() { w.env, w.last = 0, time.Time{} }
