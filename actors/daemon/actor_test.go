package daemon

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/messages"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func quietSystem(t *testing.T) *kit.System {
	t.Helper()
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(s.Shutdown)
	return s
}

// answers waits until the daemon answers a status request.
func answers(t *testing.T, s *kit.System, pid *actor.PID) *messages.DaemonStatus {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		st, err := kit.Ask[*messages.DaemonStatus](ctx, s, pid, &messages.GetDaemonStatus{})
		cancel()
		if err == nil {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon does not answer: %v", err)
		}
	}
}

// spawnSupervised spawns props as name under a parent that restarts it at
// once, every time, and returns once it is spawned.
func spawnSupervised(t *testing.T, s *kit.System, props *actor.Props, name string) *actor.PID {
	t.Helper()
	parent, err := s.Root.SpawnNamed(kit.RootProps(kit.RootOptions{Children: []kit.Child{{Name: name, Props: props}}}), "parent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AskAny(context.Background(), parent, &kit.TreeReady{}); err != nil {
		t.Fatal(err)
	}
	return s.PID("parent/" + name)
}

// TestARestartedDaemonReleasesWhatItOpened: each incarnation subscribes to
// the event stream and runs a status ticker; a crash must release both, so
// that after many crashes the counts are what they were after the first
// start.
func TestARestartedDaemonReleasesWhatItOpened(t *testing.T) {
	s := quietSystem(t)
	pid := spawnSupervised(t, s, Props(Options{System: s, Log: quiet}), "daemon")
	answers(t, s, pid)
	subs, goroutines := s.Subscriptions(), runtime.NumGoroutine()
	const crashes = 20
	for i := 0; i < crashes; i++ {
		s.Tell(pid, &kit.Crash{Reason: "test"})
		answers(t, s, pid)
	}
	if n := s.Subscriptions(); n != subs {
		t.Errorf("event-stream subscriptions after %d crashes: %d, want %d", crashes, n, subs)
	}
	// The old tickers' goroutines end at once; allow some slack for the
	// runtime's own.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines+crashes/2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines+crashes/2 {
		t.Errorf("goroutines after %d crashes: %d, %d after the first start", crashes, n, goroutines)
	}
}

// timers records the timers the daemon arms, to fire them by hand.
type timers struct {
	mu sync.Mutex
	fs []func()
}

func (tm *timers) after(_ time.Duration, f func()) {
	tm.mu.Lock()
	tm.fs = append(tm.fs, f)
	tm.mu.Unlock()
}

func (tm *timers) armed() []func() {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return append([]func(){}, tm.fs...)
}

// sink is an actor that takes any message.
var sink = actor.PropsFromFunc(func(actor.Context) {})

// TestATimerOfAPreviousIncarnationIsIgnored: timer generations restart with
// each incarnation's core. The ready timer armed by the first incarnation
// must not fail the start the second one is waiting for.
func TestATimerOfAPreviousIncarnationIsIgnored(t *testing.T) {
	s := quietSystem(t)
	hub, _ := s.Root.SpawnNamed(sink, "hub")
	jobs, _ := s.Root.SpawnNamed(sink, "jobs")
	var spawns atomic.Int32
	release := make(chan struct{})
	robot := func(daemon *actor.PID) *actor.Props {
		n := spawns.Add(1)
		return actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(*actor.Started); !ok {
				return
			}
			if n == 1 {
				ctx.Send(daemon, &messages.RobotReady{})
				return
			}
			// The second backend becomes ready only when the test says.
			root := ctx.ActorSystem().Root
			go func() {
				<-release
				root.Send(daemon, &messages.RobotReady{})
			}()
		})
	}
	tm := &timers{}
	pid := spawnSupervised(t, s, Props(Options{System: s, Log: quiet, Hub: hub, Jobs: jobs, Robot: robot, Autostart: &Autostart{}, AfterFunc: tm.after}), "daemon")
	for st := answers(t, s, pid); st.State != messages.StateRunning; st = answers(t, s, pid) {
		time.Sleep(5 * time.Millisecond)
	}
	old := tm.armed() // the first start's ready timer
	if len(old) != 1 {
		t.Fatalf("%d timers armed by the first start", len(old))
	}
	s.Tell(pid, &kit.Crash{Reason: "test"})
	for spawns.Load() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	if st := answers(t, s, pid); st.State != messages.StateStarting {
		t.Fatalf("state after the crash: %s", st.State)
	}
	old[0]() // fires late, into the new incarnation
	close(release)
	for deadline := time.Now().Add(5 * time.Second); ; {
		st := answers(t, s, pid)
		if st.State == messages.StateRunning {
			break
		}
		if st.State == messages.StateError || time.Now().After(deadline) {
			t.Fatalf("state %s (%s): the previous incarnation's timer was taken for the new one's", st.State, st.Error)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestARestartedDaemonRestoresTheBackendItRan: a crash of the daemon
// actor stops its robot child with it; the new incarnation starts the
// backend again if it ran, and keeps the supervision events. After a
// stop, a crash does not start it again (the boot's autostart ran once).
func TestARestartedDaemonRestoresTheBackendItRan(t *testing.T) {
	s := quietSystem(t)
	hub, _ := s.Root.SpawnNamed(sink, "hub")
	jobs, _ := s.Root.SpawnNamed(sink, "jobs")
	var spawns atomic.Int32
	robot := func(daemon *actor.PID) *actor.Props {
		return actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(*actor.Started); ok {
				spawns.Add(1)
				ctx.Send(daemon, &messages.RobotReady{})
			}
		})
	}
	pid := spawnSupervised(t, s, Props(Options{System: s, Log: quiet, Hub: hub, Jobs: jobs, Robot: robot, Autostart: &Autostart{}}), "daemon")
	state := func(want messages.DaemonState) *messages.DaemonStatus {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			st := answers(t, s, pid)
			if st.State == want {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("state %s, want %s", st.State, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	state(messages.StateRunning)
	s.Publish(messages.SupervisionEvent{Child: "reachyd/hub", Directive: messages.DirectiveRestart, Reason: "before"})
	s.Tell(pid, &kit.Crash{Reason: "test"})
	st := state(messages.StateRunning)
	if n := spawns.Load(); n != 2 {
		t.Fatalf("backend started %d times, want 2", n)
	}
	found := false
	for _, e := range st.Backoff {
		found = found || e.Reason == "before"
	}
	if !found {
		t.Errorf("supervision events lost in the crash: %+v", st.Backoff)
	}

	if _, err := s.AskAny(context.Background(), pid, &messages.StopDaemon{}); err != nil {
		t.Fatal(err)
	}
	state(messages.StateStopped)
	s.Tell(pid, &kit.Crash{Reason: "test"})
	// A start would be submitted in Started, before this ask is answered.
	if st := answers(t, s, pid); st.State == messages.StateRunning || st.State == messages.StateStarting {
		t.Fatalf("after a stop and a crash: %d backends, state %s", spawns.Load(), st.State)
	}
}
