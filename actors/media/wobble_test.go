package media

import (
	"math"
	"testing"
	"time"
)

func TestWobblerFollowsLevel(t *testing.T) {
	w := NewWobbler()
	t0 := time.Unix(1000, 0)
	// Silence: no offsets at all.
	for i := range 10 {
		if o := w.Step(math.Inf(-1), t0.Add(time.Duration(i)*50*time.Millisecond)); o != ([6]float64{}) {
			t.Fatalf("silence gave offsets %v", o)
		}
	}
	// Speech: the head rises and pitches within a few reports.
	var o [6]float64
	now := t0.Add(time.Second)
	for i := range 6 {
		now = now.Add(50 * time.Millisecond)
		o = w.Step(-15, now)
		_ = i
	}
	if o[2] < wobbleZ/2 || o[2] > wobbleZ {
		t.Fatalf("z offset %v while loud, want in [%v, %v]", o[2], wobbleZ/2, wobbleZ)
	}
	if o[4] >= 0 || -o[4] > wobblePitch {
		t.Fatalf("pitch offset %v while loud, want a nod within %v", o[4], wobblePitch)
	}
	for i, v := range o {
		if math.IsNaN(v) {
			t.Fatalf("offset %d is NaN", i)
		}
	}
	// Back to silence: it falls off, more slowly than it rose, then stops.
	now = now.Add(50 * time.Millisecond)
	after := w.Step(-90, now)
	if after[2] <= 0 || after[2] >= o[2] {
		t.Fatalf("z %v right after the voice stopped, want between 0 and %v", after[2], o[2])
	}
	for range 40 {
		now = now.Add(50 * time.Millisecond)
		after = w.Step(-90, now)
	}
	if after != ([6]float64{}) {
		t.Fatalf("offsets %v long after silence", after)
	}
}

func TestWobblerNeverExceedsAmplitudes(t *testing.T) {
	w := NewWobbler()
	now := time.Unix(0, 0)
	for i := range 2000 {
		now = now.Add(time.Duration(1+i%97) * time.Millisecond)
		o := w.Step(float64(i%200)-150+math.NaN()*float64(i%2), now)
		if math.Abs(o[2]) > wobbleZ+1e-12 || math.Abs(o[3]) > wobbleRoll+1e-12 ||
			math.Abs(o[4]) > wobblePitch+1e-12 || math.Abs(o[5]) > wobbleYaw+1e-12 || o[0] != 0 || o[1] != 0 {
			t.Fatalf("step %d: offsets %v out of bounds", i, o)
		}
	}
}
