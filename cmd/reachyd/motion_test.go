package main

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// Enable, then move: a target sent right after the motors were enabled
// wins, every time, over REST and over /ws/sdk (the SDK's enable_motors is
// set_torque). Before, the enable answered before moves had pinned its
// targets to the present pose, and the pin at the next tick overwrote the
// target most of the time.
func TestTargetRightAfterEnableWins(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	// tries per transport; a transport stops after maxLost losses, each of
	// which waits for the deadline.
	const tries, maxLost = 50, 3
	reached := func(get func() [2]float64, want [2]float64) ([2]float64, bool) {
		deadline := time.Now().Add(3 * time.Second)
		for {
			a := get()
			if math.Abs(a[0]-want[0]) < 0.02 && math.Abs(a[1]-want[1]) < 0.02 {
				return a, true
			}
			if time.Now().After(deadline) {
				return a, false
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	rest := func() [2]float64 {
		var a [2]float64
		d.getJSON("/api/state/present_antenna_joint_positions", &a)
		return a
	}
	lost, restLost := 0, 0
	for i := 0; i < tries && restLost < maxLost; i++ {
		a := 0.4 * float64(1-2*(i%2))
		want := [2]float64{a, -a}
		for _, mode := range []string{"disabled", "enabled"} {
			if code, body := d.do("POST", "/api/motors/set_mode/"+mode, nil); code != 200 {
				t.Fatalf("set_mode %s: %d %s", mode, code, body)
			}
		}
		if code, body := d.do("POST", "/api/move/set_target", map[string]any{"target_antennas": want}); code != 200 || string(body) != `{"status":"ok"}` {
			t.Fatalf("set_target: %d %s", code, body)
		}
		if got, ok := reached(rest, want); !ok {
			lost++
			restLost++
			t.Errorf("REST try %d: the target %v sent after the enable was lost (antennas stay at %v)", i, want, got)
		}
	}

	c := d.dialSDK()
	c.waitFrame("joint_positions", 2*time.Second, nil)
	sdk := func() [2]float64 {
		f, _ := c.latest("joint_positions")
		ant, _ := f.data["antennas_joint_positions"].([]any)
		if len(ant) != 2 {
			return [2]float64{math.NaN(), math.NaN()}
		}
		return [2]float64{fnum(ant[0]), fnum(ant[1])}
	}
	for i := 0; i < tries && lost-restLost < maxLost; i++ {
		a := 0.4 * float64(1-2*(i%2))
		want := [2]float64{a, -a}
		c.send(`{"type":"set_torque","on":false,"ids":null}`)
		c.send(`{"type":"set_torque","on":true,"ids":null}`)
		c.send(fmt.Sprintf(`{"type":"set_antennas","antennas":[%v,%v]}`, want[0], want[1]))
		if got, ok := reached(sdk, want); !ok {
			lost++
			t.Errorf("SDK try %d: the target %v sent after enable_motors was lost (antennas stay at %v)", i, want, got)
		}
	}
	if lost > 0 {
		t.Fatalf("%d targets lost after an enable (REST %d, SDK %d)", lost, restLost, lost-restLost)
	}
}
