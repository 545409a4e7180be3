package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"reachyd/actors/kit"
	"reachyd/actors/relay/centraltest"
	"reachyd/messages"
)

// The central relay through the whole daemon: the fake central server
// (actors/relay/centraltest) on loopback, the daemon with media (GStreamer
// pipelines, the pion producer) signed in with HF_TOKEN, and pion
// consumers going through central as the TypeScript SDK does.

func startRelayDaemon(t *testing.T) (*testDaemon, *centraltest.Server) {
	t.Helper()
	requireMedia(t)
	central := centraltest.New("hf_robot", "hf_consumer", "hf_consumer2")
	t.Cleanup(central.Close)
	t.Setenv("HF_TOKEN", "hf_robot")
	d := startMediaDaemon(t, "--central-url", central.URL(), "--robot-name", "relay_bot")
	d.waitRelay("connected", func(s messages.RelayStatus) bool { return s.State == messages.RelayConnected })
	return d, central
}

func (d *testDaemon) relayStatus() messages.RelayStatus {
	d.t.Helper()
	if d.sys.Relay == nil {
		d.t.Fatal("the daemon runs no relay")
	}
	st, err := kit.Ask[messages.RelayStatus](context.Background(), d.sys.Kit, d.sys.Relay, &messages.GetRelayStatus{})
	if err != nil {
		d.t.Fatal(err)
	}
	return st
}

func (d *testDaemon) waitRelay(what string, ok func(messages.RelayStatus) bool) messages.RelayStatus {
	d.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := d.relayStatus()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("relay never %s: %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dialCentral(t *testing.T, central *centraltest.Server, token string) (*centraltest.Consumer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := centraltest.Dial(ctx, central.URL(), token, centraltest.ConsumerOptions{Robot: "relay_bot", Name: "relay-test"})
	if err == nil {
		t.Cleanup(c.Close)
	}
	return c, err
}

func centralCommand(t *testing.T, c *centraltest.Consumer, typ string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Command(ctx, map[string]any{"type": typ}, func(m map[string]any) bool { return m["state"] != nil || m["command"] == typ })
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return r
}

func waitCentralEnd(t *testing.T, c *centraltest.Consumer) string {
	t.Helper()
	select {
	case <-c.EndedC():
		return c.Ended()
	case <-time.After(15 * time.Second):
		t.Fatal("the remote session did not end")
		return ""
	}
}

// A remote session end to end: the camera's video through the real
// encoder, the SDK's get_state on the data channel, the lock held by the
// remote session and released when it ends.
func TestRelaySessionThroughDaemon(t *testing.T) {
	d, central := startRelayDaemon(t)
	st := d.relayStatus()
	if st.Message != "Remote access enabled as 'relay_bot'" || !st.IsConnected {
		t.Fatalf("%+v", st)
	}
	c, err := dialCentral(t, central, "hf_consumer")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Video:
	case <-time.After(15 * time.Second):
		t.Fatal("no video frame through central")
	}
	r := centralCommand(t, c, "get_state")
	if s, ok := r["state"].(map[string]any); !ok || s["head_pose"] == nil {
		t.Fatalf("get_state: %v", r)
	}
	if got := d.lockState(); got != "remote_session" {
		t.Fatalf("lock %s during a remote session", got)
	}
	if err := c.End(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.lockState() != "free" {
		if time.Now().After(deadline) {
			t.Fatal("the lock was not released")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := central.TokenInURL(); n != 0 {
		t.Fatalf("a token appeared in %d URLs", n)
	}
}

// A local app started during a remote session evicts it (the remote
// client is gone before the app starts); a remote session during the app
// is control-only; a second one is refused.
func TestRelayLockWithLocalApp(t *testing.T) {
	d, central := startRelayDaemon(t)
	d.installLocal("sleeper", writeExecApp(t, "sleeper", "trap 'exit 0' INT TERM; while true; do sleep 0.05; done\n"))
	c, err := dialCentral(t, central, "hf_consumer")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.lockState(); got != "remote_session" {
		t.Fatal(got)
	}
	if code, body := d.do("POST", "/api/apps/start-app/sleeper", nil); code != 200 {
		t.Fatalf("start-app: %d %s", code, body)
	}
	// The eviction was over when the start answered: the producer has
	// closed the remote session's PeerConnection.
	if s := d.mediaStatus().Reachyd.Media.Sessions; len(s) != 0 {
		t.Fatalf("sessions left after the start: %+v", s)
	}
	if r := waitCentralEnd(t, c); r != "local_app_started" {
		t.Fatalf("remote client told %q", r)
	}
	if m, ok := central.RobotSent(5*time.Second, "endSession", func(m map[string]any) bool { return m["reason"] == "local_app_started" }); !ok {
		t.Fatalf("central not told: %v", m)
	}
	d.waitAppState("running")
	if got := d.lockState(); got != "local_app" {
		t.Fatal(got)
	}

	// Control-only while the app runs.
	c2, err := dialCentral(t, central, "hf_consumer")
	if err != nil {
		t.Fatal(err)
	}
	centralCommand(t, c2, "get_state")
	if got := d.lockState(); got != "local_app" {
		t.Fatalf("lock %s after a control-only session started", got)
	}
	// A second remote session is refused.
	_, err = dialCentral(t, central, "hf_consumer2")
	var ended *centraltest.EndedError
	if !errors.As(err, &ended) || ended.Reason != "robot_busy_local" {
		t.Fatalf("second session: %v", err)
	}
	if code, body := d.do("POST", "/api/apps/stop-current-app", nil); code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
}

// Media release stops the relay (the remote session ends, the lock is
// free), acquire starts it again.
func TestRelayFollowsMedia(t *testing.T) {
	d, central := startRelayDaemon(t)
	c, err := dialCentral(t, central, "hf_consumer")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := d.do("POST", "/api/media/release", nil); code != 200 {
		t.Fatal(code)
	}
	waitCentralEnd(t, c)
	d.waitRelay("stopped", func(s messages.RelayStatus) bool { return s.State == messages.RelayStopped })
	if got := d.lockState(); got != "free" {
		t.Fatal(got)
	}
	if code, _ := d.do("POST", "/api/media/acquire", nil); code != 200 {
		t.Fatal(code)
	}
	d.waitRelay("connected", func(s messages.RelayStatus) bool { return s.State == messages.RelayConnected })
	c2, err := dialCentral(t, central, "hf_consumer2")
	if err != nil {
		t.Fatal(err)
	}
	centralCommand(t, c2, "get_state")
}
