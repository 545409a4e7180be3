package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"reachyd/actors/kit"
	"reachyd/messages"
)

// unhealthy lists what does not answer yet: the routes that ask the
// top-level actors, the actors behind authenticated routes asked directly,
// and the daemon's state.
func (d *testDaemon) unhealthy() []string {
	var why []string
	for _, path := range []string{"/api/daemon/status", "/api/state/full", "/api/apps/current-app-status",
		"/api/daemon/robot-app-lock-status"} {
		if code, body := d.do("GET", path, nil); code != 200 {
			why = append(why, fmt.Sprintf("%s: %d %s", path, code, body))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := d.sys.Kit.AskAny(ctx, d.sys.Topics, &messages.GetTopicStats{}); err != nil {
		why = append(why, "topics: "+err.Error())
	}
	if d.sys.Auth != nil {
		// Any answer of the auth actor will do (a refusal, or the limiter's).
		if _, err := d.sys.Kit.AskAny(ctx, d.sys.Auth, &messages.VerifyToken{Token: "x"}); errors.Is(err, kit.ErrTimeout) || errors.Is(err, kit.ErrNoActor) {
			why = append(why, "auth: "+err.Error())
		}
	}
	if d.sys.Skills != nil {
		if _, err := d.sys.Kit.AskAny(ctx, d.sys.Skills, &messages.GetSkills{}); err != nil {
			why = append(why, "skills: "+err.Error())
		}
	}
	if d.sys.Camera != nil {
		if st, err := kit.Ask[messages.CameraStatus](ctx, d.sys.Kit, d.sys.Camera, &messages.GetCameraStatus{}); err != nil || !st.Running {
			why = append(why, fmt.Sprintf("camera: %v %+v", err, st))
		}
	}
	var st map[string]any
	if code, body := d.do("GET", "/api/daemon/status", nil); code == 200 {
		_ = json.Unmarshal(body, &st)
		if st["state"] != "running" {
			why = append(why, fmt.Sprintf("daemon state %v (%v)", st["state"], st["error"]))
		}
	}
	return why
}

// waitHealthy waits until nothing is unhealthy.
func (d *testDaemon) waitHealthy(within time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for {
		why := d.unhealthy()
		if len(why) == 0 {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("the daemon is not healthy within %v: %v", within, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrashedActorsReleaseWhatTheyOpened crashes every top-level actor a
// few times: event-stream subscriptions, goroutines (the daemon's status
// ticker, the skill host's followers, the camera's source) must not pile up.
func TestCrashedActorsReleaseWhatTheyOpened(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not available")
	}
	d := startDaemon(t, "--skill-host", "--camera", "test")
	d.waitHealthy(10 * time.Second)
	time.Sleep(time.Second) // the skill host starts and lists its skills
	d.waitHealthy(10 * time.Second)
	subs, goroutines := d.sys.Kit.Subscriptions(), runtime.NumGoroutine()

	const rounds = 3
	for i := 0; i < rounds; i++ {
		for _, name := range []string{"hub", "jobs", "applock", "apps", "topics", "auth", "skills", "camera", "daemon"} {
			d.sys.Kit.Tell(d.sys.Kit.PID("reachyd/"+name), &kit.Crash{Reason: "test " + name})
			d.waitHealthy(10 * time.Second)
		}
	}
	if n := d.sys.Kit.Subscriptions(); n != subs {
		t.Errorf("event-stream subscriptions after %d rounds of crashes: %d, %d before", rounds, n, subs)
	}
	slack := 3 // the HTTP client's and the runtime's own
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines+slack && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("goroutines %d -> %d", goroutines, runtime.NumGoroutine())
	if n := runtime.NumGoroutine(); n > goroutines+slack {
		t.Errorf("goroutines after %d rounds of crashes: %d, %d before", rounds, n, goroutines)
	}
}
