package motorbus

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/hw"
	"reachyd/hw/dynamixel"
	"reachyd/messages"
	"reachyd/sim"
	"reachyd/sim/x330"
)

// syncBuffer is a log sink safe for the actor's goroutine and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the log lines that contain every one of parts.
func (s *syncBuffer) lines(parts ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		ok := l != ""
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// rig runs the motorbus actor on the simulated robot (the real Dynamixel
// client and bus code over simulated motors) and records every backend
// status it pushes and every line it logs.
type rig struct {
	t     *testing.T
	s     *kit.System
	robot *sim.Robot
	pid   *actor.PID
	logs  *syncBuffer

	mu       sync.Mutex
	statuses []messages.BackendStatus
}

func newRig(t *testing.T, cfg Config, open func(*sim.Robot) Opener) *rig {
	t.Helper()
	r := &rig{t: t, logs: &syncBuffer{}, robot: sim.New(sim.Options{})}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.s = kit.NewSystem(log)
	t.Cleanup(r.s.Shutdown)
	status := r.s.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if st, ok := ctx.Message().(*messages.BackendStatus); ok {
			r.mu.Lock()
			r.statuses = append(r.statuses, *st)
			r.mu.Unlock()
		}
	}))
	opener := r.robot.Open
	if open != nil {
		opener = open(r.robot)
	}
	var err error
	r.pid, err = r.s.Root.SpawnNamed(Props(Options{
		Core: cfg, Open: opener, Status: status, Log: log, HealthPeriod: 20 * time.Millisecond,
	}), "motorbus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.s.Root.StopFuture(r.pid).Wait() })
	return r
}

// waitStatus waits for a pushed status that satisfies ok, and returns it.
func (r *rig) waitStatus(what string, ok func(messages.BackendStatus) bool) messages.BackendStatus {
	r.t.Helper()
	return r.waitStatusFrom(0, what, ok)
}

// waitStatusFrom is waitStatus for the statuses pushed after the first from.
func (r *rig) waitStatusFrom(from int, what string, ok func(messages.BackendStatus) bool) messages.BackendStatus {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for seen := from; time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		r.mu.Lock()
		fresh := append([]messages.BackendStatus(nil), r.statuses[min(seen, len(r.statuses)):]...)
		r.mu.Unlock()
		for _, st := range fresh {
			seen++
			if ok(st) {
				return st
			}
		}
	}
	r.t.Fatalf("no status %s; last: %+v", what, r.last())
	return messages.BackendStatus{}
}

func (r *rig) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.statuses)
}

func (r *rig) last() messages.BackendStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statuses[len(r.statuses)-1]
}

// healthReads waits for n more health reads whose result satisfies ok.
func (r *rig) healthReads(n int, ok func(hw.Health) bool) {
	r.t.Helper()
	for range n {
		r.waitStatusFrom(r.count(), "after a health read", func(s messages.BackendStatus) bool {
			return s.HaveHealth && ok(s.Health)
		})
	}
}

func (r *rig) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.statuses {
		if s.Error != "" {
			out = append(out, s.Error)
		}
	}
	return out
}

func TestLatchedHardwareErrorInBackendStatus(t *testing.T) {
	r := newRig(t, Config{}, nil)
	r.waitStatus("ready", func(s messages.BackendStatus) bool { return s.Ready && s.HaveHealth })
	r.robot.Motors.InjectHardwareError(12, dynamixel.HWOverload)
	const want = "Motor stewart_2 (ID 12) hardware error: overload"
	st := r.waitStatus("with the latched error", func(s messages.BackendStatus) bool { return s.Error != "" })
	if st.Error != want || !st.Ready {
		t.Fatalf("status with stewart_2 overloaded: error %q, ready %v", st.Error, st.Ready)
	}
	// A second motor joins the list.
	r.robot.Motors.InjectHardwareError(17, dynamixel.HWOverheating|dynamixel.HWElectricalShock)
	st = r.waitStatusFrom(r.count(), "with two latched errors", func(s messages.BackendStatus) bool { return s.Error != want })
	if st.Error != want+"; Motor right_antenna (ID 17) hardware error: overheating, electrical shock" {
		t.Fatalf("two latched errors: %q", st.Error)
	}
	// Rebooting them clears the error: the status pushed after the reboot
	// has none.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	from := r.count()
	if _, err := kit.Ask[messages.MotorsRebooted](ctx, r.s, r.pid, &messages.RebootMotors{}); err != nil {
		t.Fatal(err)
	}
	r.waitStatusFrom(from, "without the error after the reboot", func(s messages.BackendStatus) bool { return s.Error == "" })
	r.healthReads(3, func(h hw.Health) bool { return true })
	if last := r.last(); last.Error != "" {
		t.Fatalf("after the reboot: %q", last.Error)
	}
	// Logged once each way, per motor.
	if n := len(r.logs.lines("level=ERROR", "motor=stewart_2", "overload")); n != 1 {
		t.Fatalf("%d error lines for stewart_2:\n%s", n, r.logs.lines("stewart_2"))
	}
	if n := len(r.logs.lines("level=INFO", "hardware error cleared", "motor=stewart_2")); n != 1 {
		t.Fatalf("%d cleared lines for stewart_2:\n%s", n, r.logs.lines("stewart_2"))
	}
}

func TestVoltageWarningLoggedOnce(t *testing.T) {
	r := newRig(t, Config{VoltageSettle: 2 * time.Second}, nil)
	r.waitStatus("ready", func(s messages.BackendStatus) bool { return s.Ready && s.HaveHealth })
	low := func(h hw.Health) bool { return h[hw.Body].HardwareError&1 != 0 }
	normal := func(h hw.Health) bool { return h[hw.Body].HardwareError == 0 }
	m := r.robot.Motors
	// The supply sags (Reachy Mini's shutdown mask ignores the input
	// voltage: the bit shows while it lasts, the torque stays), comes back
	// for a moment, sags again, then recovers for good.
	m.SetVoltage(3.2)
	r.healthReads(5, low)
	m.SetVoltage(5)
	r.healthReads(2, normal)
	m.SetVoltage(3.2)
	r.healthReads(5, low)
	m.SetVoltage(5)
	r.waitStatus("after the warning cleared", func(messages.BackendStatus) bool {
		return len(r.logs.lines("voltage warning cleared")) > 0
	})
	r.healthReads(5, normal)
	warn := r.logs.lines("level=WARN", "supply voltage warning")
	cleared := r.logs.lines("level=INFO", "supply voltage warning cleared")
	if len(warn) != 1 || len(cleared) != 1 {
		t.Fatalf("%d warning and %d cleared lines:\n%s", len(warn), len(cleared), strings.Join(r.logs.lines("voltage"), "\n"))
	}
	for _, m := range hw.MotorNames {
		if !strings.Contains(warn[0], m) {
			t.Fatalf("the warning does not name %s: %s", m, warn[0])
		}
	}
	if n := len(r.logs.lines("level=ERROR")); n != 0 {
		t.Fatalf("errors logged for a voltage warning:\n%s", r.logs.lines("level=ERROR"))
	}
	// Not a backend error: it clears by itself.
	if e := r.errors(); len(e) != 0 {
		t.Fatalf("backend errors for a voltage warning: %q", e)
	}
}

// TestOpeningReadsRetried loses the replies of one motor to the first sync
// reads after the bus opened (the motor state read): each step of the
// opening is retried as the reference does, so the actor does not fail.
func TestOpeningReadsRetried(t *testing.T) {
	r := newRig(t, Config{}, func(robot *sim.Robot) Opener {
		return func() (hw.Bus, error) {
			bus, err := robot.Open()
			robot.Motors.InjectReplyFault(x330.ReplyFault{ID: 12, Inst: dynamixel.InstSyncRead, Count: 4, Drop: true})
			return bus, err
		}
	})
	r.waitStatus("ready", func(s messages.BackendStatus) bool { return s.Ready })
	if e := r.errors(); len(e) != 0 {
		t.Fatalf("the opening failed: %q", e)
	}
}

// readCounter counts the present-position reads: one per tick, after the
// open's.
type readCounter struct {
	hw.Bus
	reads atomic.Int64
}

func (b *readCounter) ReadPositions() (hw.Positions, error) {
	b.reads.Add(1)
	return b.Bus.ReadPositions()
}

// spawnWrapped spawns motorbus, with opt, on a new simulated robot whose
// bus is handed to wrap on every open; the actor's bus is what wrap
// returns. The actor system ends with the test.
func spawnWrapped(t *testing.T, opt Options, wrap func(hw.Bus) hw.Bus) (*kit.System, *actor.PID) {
	t.Helper()
	s := kit.NewSystem(slog.New(slog.DiscardHandler))
	t.Cleanup(s.Shutdown)
	robot := sim.New(sim.Options{})
	opt.Open = func() (hw.Bus, error) {
		b, err := robot.Open()
		if err != nil {
			return nil, err
		}
		return wrap(b), nil
	}
	pid, err := s.Root.SpawnNamed(Props(opt), "motorbus")
	if err != nil {
		t.Fatal(err)
	}
	return s, pid
}

// A Tick that no clock of the current incarnation sent (one queued by the
// previous incarnation's clock between a panic and the restart, when the
// mailbox is suspended) runs no tick: it would come off the schedule and
// push the next slot back.
func TestTickOfAnotherClockIsDropped(t *testing.T) {
	bus := &readCounter{}
	s, pid := spawnWrapped(t, Options{Period: time.Hour /* the first tick is an hour away */, Log: slog.New(slog.DiscardHandler)},
		func(b hw.Bus) hw.Bus { bus.Bus = b; return bus })
	status := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := kit.Ask[messages.MotorStatus](ctx, s, pid, &messages.GetMotorStatus{}); err != nil {
			t.Fatal(err)
		}
	}
	status() // after Started
	before := bus.reads.Load()
	s.Root.Send(pid, &messages.Tick{})
	s.Root.Send(pid, &messages.Tick{Seq: 1 << 62})
	status() // after the ticks
	if got := bus.reads.Load() - before; got != 0 {
		t.Fatalf("ticks of no current clock ran %d bus reads", got)
	}
}
