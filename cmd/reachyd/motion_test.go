package main

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

func reqJSON(head, antennas []float64, duration float64, bodyYaw string) string {
	h, _ := json.Marshal(head)
	a, _ := json.Marshal(antennas)
	return fmt.Sprintf(`{"head":%s,"antennas":%s,"duration":%v,"method":"minjerk","body_yaw":%s}`, h, a, duration, bodyYaw)
}

// A move's end is never reported before its duration has elapsed since the
// request was sent: move_completed on /api/move/ws/updates for REST gotos,
// task_progress for SDK tasks. (Before, the goals one period ahead ended the
// move up to a period early, and a request arriving just before a tick lost
// the time to that tick: a 0.2 s goto completed after 0.18 s.)
func TestMoveEndsNoSoonerThanItsDuration(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	updates, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/move/ws/updates", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer updates.Close()
	completed := make(chan map[string]string, 64)
	go func() {
		for {
			_, b, err := updates.ReadMessage()
			if err != nil {
				close(completed)
				return
			}
			var ev map[string]string
			if json.Unmarshal(b, &ev) == nil && ev["type"] == "move_completed" {
				completed <- ev
			}
		}
	}()
	const duration = 0.2
	want := time.Duration(duration * float64(time.Second))
	for i := 0; i < 10; i++ {
		a := 0.3 * float64(1-2*(i%2))
		sent := time.Now()
		code, body := d.do("POST", "/api/move/goto", map[string]any{"antennas": []float64{a, -a}, "duration": duration})
		if code != 200 {
			t.Fatalf("goto: %d %s", code, body)
		}
		var g map[string]string
		_ = json.Unmarshal(body, &g)
		select {
		case ev, ok := <-completed:
			if !ok {
				t.Fatal("updates stream closed")
			}
			if ev["uuid"] != g["uuid"] {
				t.Fatalf("completed %v, want %s", ev, g["uuid"])
			}
			if took := time.Since(sent); took < want {
				t.Errorf("REST goto %d of %v completed %v after it was sent", i, want, took)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("goto %d never completed", i)
		}
	}

	c := d.dialSDK()
	c.waitFrame("head_pose", 2*time.Second, nil)
	for i := 0; i < 10; i++ {
		a := 0.3 * float64(1-2*(i%2))
		id := uuid.NewString()
		sent := time.Now()
		c.send(`{"type":"task","uuid":"` + id + `","req":` + reqJSON(nil, []float64{a, -a}, duration, "null") + `,"timestamp":"2026-11-21T07:20:36.846664"}`)
		f := c.waitFrame("task_progress", 3*time.Second, func(m map[string]any) bool { return m["uuid"] == id })
		if f.data["error"] != nil {
			t.Fatalf("task %d: %s", i, f.raw)
		}
		if took := f.at.Sub(sent); took < want {
			t.Errorf("SDK task %d of %v finished %v after it was sent", i, want, took)
		}
	}
}

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
