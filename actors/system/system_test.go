package system

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"reachyd/actors/daemon"
	"reachyd/actors/kit"
	"reachyd/actors/motorbus"
	"reachyd/hw/dynamixel"
	"reachyd/hw/geom"
	"reachyd/messages"
	"reachyd/sim"
)

func startSim(t *testing.T, mockup bool) (*System, *sim.Robot) {
	t.Helper()
	r := sim.New(sim.Options{Mockup: mockup})
	s, err := Start(Config{
		Daemon:    daemon.Config{RobotName: "reachy_mini", Version: "test", BackendKind: "sim", ControlHz: 50, NoMedia: true, Simulation: true},
		Period:    20 * time.Millisecond,
		Open:      r.Open,
		Motorbus:  motorbus.Config{WriteAlways: mockup, AllowGravity: true, Controller: "sim"},
		Log:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Autostart: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx, false)
	})
	return s, r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBackendRunsAndFollowsTargets(t *testing.T) {
	s, r := startSim(t, false)
	ctx := context.Background()
	waitFor(t, "running", func() bool {
		st, err := kit.Ask[*messages.DaemonStatus](ctx, s.Kit, s.Daemon, &messages.GetDaemonStatus{})
		return err == nil && st.State == messages.StateRunning
	})
	target := geom.PoseXYZRPY(0, 0, 0.005, 0, 0, 0.2)
	if _, err := kit.Ask[messages.TargetsSet](ctx, s.Kit, s.Moves, &messages.SetTargets{Head: &target}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the head to reach the target", func() bool {
		st, err := kit.Ask[*messages.RobotState](ctx, s.Kit, s.Hub, &messages.GetState{})
		// The motors quantize positions to 4096 ticks a turn (1.5 mrad).
		return err == nil && st.HeadPose.MaxAbsDiff(target) < 1e-2
	})
	if n := r.Motors.Counts()[dynamixel.InstSyncWrite]; n == 0 {
		t.Fatal("no goal was written to the simulated motors")
	}
}

// TestChaosCrashesEachActorInTurn: --chaos-every crashes the crashable
// actors one after the other, and the tree takes it.
func TestChaosCrashesEachActorInTurn(t *testing.T) {
	s, _ := startSim(t, false)
	seen := make(chan string, 64)
	cancel := kit.Subscribe(s.Kit, func(e messages.SupervisionEvent) {
		select {
		case seen <- e.Child:
		default:
		}
	})
	defer cancel()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go s.Chaos(ctx, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	want := map[string]bool{}
	for _, pid := range s.Crashable() {
		want[pid.Id] = true
	}
	deadline := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case c := <-seen:
			delete(want, c)
		case <-deadline:
			t.Fatalf("never crashed: %v", want)
		}
	}
	stop()
	waitFor(t, "running after the chaos", func() bool {
		st, err := kit.Ask[*messages.DaemonStatus](context.Background(), s.Kit, s.Daemon, &messages.GetDaemonStatus{})
		return err == nil && st.State == messages.StateRunning
	})
}
