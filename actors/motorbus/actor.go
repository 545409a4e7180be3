package motorbus

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/hw"
	"reachyd/internal/loopstats"
	"reachyd/internal/rtloop"
	"reachyd/messages"
)

// Opener opens the bus. It is called on every (re)start of the actor.
type Opener func() (hw.Bus, error)

// Options configure the motorbus actor.
type Options struct {
	Core   Config
	Open   Opener
	Period time.Duration
	// Moves receives Present every tick; Status receives BackendStatus.
	Moves  *actor.PID
	Status *actor.PID
	// HealthPeriod is how often every motor's health (hardware error,
	// voltage, temperature) is read: default 1 s, as the reference.
	HealthPeriod time.Duration
	Log          *slog.Logger
	Now          func() time.Time
	// Cell keeps the core's snapshot across restarts.
	Cell *Cell
	// RTPriority is the SCHED_FIFO priority of the actor's own thread
	// (rtloop; 0: none, a short scheduler slice instead). Refused without
	// CAP_SYS_NICE, which is logged once.
	RTPriority int
	// Loop, when set, counts ticks, their lateness and missed slots for
	// the metrics endpoint (a few atomic adds per tick).
	Loop *loopstats.Loop
}

// Cell is created once by the parent and keeps what must survive a restart.
type Cell struct {
	mu   sync.Mutex
	snap Snapshot
	has  bool
}

func (c *Cell) save(s Snapshot) {
	c.mu.Lock()
	c.snap, c.has = s, true
	c.mu.Unlock()
}

func (c *Cell) load() (Snapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap, c.has
}

// Actor is the motorbus actor shell.
type Actor struct {
	opt  Options
	core *Core
	bus  hw.Bus
	log  *slog.Logger

	seq        uint64
	start      time.Time
	next       time.Time
	clock      *clock
	thread     *thread
	lastStatus time.Time
	lastSent   messages.BackendStatus
	lastHealth time.Time
}

// Props returns the motorbus actor's props.
func Props(opt Options) *actor.Props {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Cell == nil {
		opt.Cell = &Cell{}
	}
	if opt.Period <= 0 {
		opt.Period = 20 * time.Millisecond
	}
	if opt.HealthPeriod <= 0 {
		opt.HealthPeriod = time.Second
	}
	log := opt.Log.With("actor", "motorbus")
	opts := []actor.PropsOption{kit.CrashOption()}
	th := &thread{}
	loop, err := rtloop.Start(rtloop.Options{Name: "control", Priority: opt.RTPriority, Log: log, OnTimer: th.ring})
	if err != nil {
		log.Warn("motorbus: no thread of its own; the control tick runs on Go timers", "err", err)
	} else {
		th.loop = loop
		opts = append(opts, actor.WithDispatcher(loop))
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, log: log, thread: th}
	}, opts...)
}

// thread is the actor's own thread (rtloop) for every incarnation of one
// spawn: its timer rings the current incarnation's clock. Nil loop: none.
type thread struct {
	loop  *rtloop.Loop
	clock atomic.Pointer[clock]
}

func (t *thread) ring() {
	if c := t.clock.Load(); c != nil {
		c.ring()
	}
}

// clock sends Tick messages to the actor at absolute instants. It is the
// actor's private timer: stop() makes every pending send a no-op.
//
// With the actor's own thread (rtloop), the thread's timer rings on that
// thread, which then runs the tick at once: no other thread is woken on
// the way. Without it (outside Linux, or when the thread could not start)
// Go timers send the ticks, up to a millisecond late.
type clock struct {
	id      uint64 // in its ticks' Seq
	mu      sync.Mutex
	send    func()
	loop    *rtloop.Loop
	timer   *time.Timer
	stopped bool
}

func newClock(loop *rtloop.Loop, send func()) *clock {
	return &clock{send: send, loop: loop}
}

// ring is the loop's OnTimer: it sends the tick unless stopped.
func (c *clock) ring() {
	c.mu.Lock()
	stopped := c.stopped
	c.mu.Unlock()
	if !stopped {
		c.send()
	}
}

// after arms the clock to send one tick after d, replacing any earlier
// setting.
func (c *clock) after(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	if c.loop != nil {
		c.loop.Arm(d)
		return
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = time.AfterFunc(d, c.ring)
}

// clockIDs numbers the clocks of every motorbus incarnation.
var clockIDs atomic.Uint64

func (c *clock) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.timer != nil {
		c.timer.Stop()
	}
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.started(ctx)
	case *actor.Stopping, *actor.Restarting:
		a.shutdown()
	case *actor.Stopped:
		if a.thread.loop != nil {
			a.thread.loop.Close() // the thread ends after this message
		}
	case *messages.Tick:
		if a.clock == nil || m.Seq != a.clock.id {
			return // an earlier incarnation's
		}
		a.tick(ctx)
	case *messages.Goals:
		a.core.AcceptGoals(*m)
	case *messages.SetMotorMode:
		ops, err := a.core.PlanMode(m.Mode)
		if err == nil {
			err = a.run(ctx, ops)
		}
		if err != nil {
			kit.Reply(ctx, asError(err))
			return
		}
		a.core.ModeDone(m.Mode)
		a.save()
		a.pushStatus(ctx, true)
		kit.Reply(ctx, messages.MotorModeSet{Mode: m.Mode})
	case *messages.SetTorque:
		mask := hw.AllMotors
		if m.Names != nil {
			var err error
			if mask, err = hw.MaskOf(m.Names); err != nil {
				kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: err.Error(), Reason: "unknown_motor"})
				return
			}
		}
		if m.Names == nil {
			mode := messages.ModeDisabled
			if m.On {
				mode = messages.ModeEnabled
			}
			ops, err := a.core.PlanMode(mode)
			if err == nil {
				err = a.run(ctx, ops)
			}
			if err != nil {
				kit.Reply(ctx, asError(err))
				return
			}
			a.core.ModeDone(mode)
		} else {
			if err := a.run(ctx, a.core.PlanTorque(mask, m.On)); err != nil {
				kit.Reply(ctx, asError(err))
				return
			}
			a.core.TorqueDone()
		}
		a.save()
		a.pushStatus(ctx, true)
		kit.Reply(ctx, messages.TorqueSet{})
	case *messages.GetMotorStatus:
		st := a.core.State()
		h, ok := a.core.Health()
		kit.Reply(ctx, messages.MotorStatus{Mode: a.core.Mode(), Torque: st.Torque, Modes: st.Modes, Health: h, HaveHealth: ok})
	case *messages.RebootMotors:
		a.reboot(ctx, m)
	case *messages.RawWrite:
		rw, ok := a.bus.(hw.RawWriter)
		if !ok {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: "raw packets need the Dynamixel bus"})
			return
		}
		out, err := rw.WriteRaw(m.Packet, 0)
		if err != nil {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindInternal, Detail: err.Error()})
			return
		}
		kit.Reply(ctx, messages.RawReply{Data: out})
	}
}

// reboot reboots motors on request; with no names, every motor whose
// hardware error is latched.
func (a *Actor) reboot(ctx actor.Context, m *messages.RebootMotors) {
	rb, ok := a.bus.(hw.Rebooter)
	if !ok {
		kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: "this bus cannot reboot motors"})
		return
	}
	var mask hw.Mask
	if m.Names != nil {
		var err error
		if mask, err = hw.MaskOf(m.Names); err != nil {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: err.Error(), Reason: "unknown_motor"})
			return
		}
	} else if h, ok := a.core.Health(); ok {
		for i := range h {
			if h[i].HardwareError != 0 {
				mask |= 1 << i
			}
		}
	}
	var names []string
	for i := 0; i < hw.NumMotors; i++ {
		if mask.Has(i) {
			names = append(names, hw.MotorNames[i])
		}
	}
	if mask != 0 {
		a.log.Warn("rebooting motors", "motors", names)
		err := rb.Reboot(mask)
		a.core.Rebooted(mask)
		if st, serr := a.bus.ReadState(); serr == nil {
			pos, _ := a.bus.ReadPositions()
			a.core.Opened(st, pos, a.opt.Now())
		}
		a.readHealth(ctx)
		if err != nil {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindInternal, Detail: err.Error()})
			return
		}
	}
	a.save()
	a.pushStatus(ctx, true)
	kit.Reply(ctx, messages.MotorsRebooted{Names: names})
}

// readHealth reads per-motor health (once a second), reports latched
// hardware errors and the input voltage warning as they appear and clear,
// and pushes the status (a latched error is the backend's error).
func (a *Actor) readHealth(ctx actor.Context) {
	hr, ok := a.bus.(hw.HealthReader)
	if !ok {
		return
	}
	h, err := hr.ReadHealth()
	if err != nil {
		a.log.Debug("health read failed", "err", err)
	}
	if st, err := a.bus.ReadState(); err == nil {
		a.core.StateRead(st)
	}
	for _, ev := range a.core.HealthRead(h, a.opt.Now()) {
		a.logHealth(ev, h)
	}
	a.pushStatus(ctx, true)
}

// logHealth logs one health event: one line when a latched error appears
// (or changes) and one when it clears, per motor; one line when the input
// voltage warning appears and one when it has cleared, for all motors.
func (a *Actor) logHealth(ev HealthEvent, h hw.Health) {
	switch ev.Kind {
	case ErrorLatched:
		i := ev.Motor
		a.log.Error("motor hardware error: torque cut until the motor is rebooted (POST /api/motors/reboot)",
			"motor", hw.MotorNames[i], "id", hw.MotorIDs[i], "error", HardwareErrorText(ev.Bits),
			"temperature", h[i].Temperature, "voltage", h[i].Voltage)
	case ErrorCleared:
		a.log.Info("motor hardware error cleared", "motor", hw.MotorNames[ev.Motor], "id", hw.MotorIDs[ev.Motor])
	case VoltageWarning, VoltageCleared:
		var names []string
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := 0; i < hw.NumMotors; i++ {
			if ev.Motors.Has(i) {
				names = append(names, hw.MotorNames[i])
				lo, hi = min(lo, h[i].Voltage), max(hi, h[i].Voltage)
			}
		}
		if ev.Kind == VoltageWarning {
			a.log.Warn("supply voltage warning: the motors' input voltage is outside their limits (it clears by itself when the supply recovers)",
				"motors", strings.Join(names, ","), "min_voltage", lo, "max_voltage", hi)
		} else {
			a.log.Info("supply voltage warning cleared", "motors", strings.Join(names, ","))
		}
	}
}

// Each step of opening the bus is tried openTries times, openPause apart,
// as the reference's motor controller retries its reads.
const (
	openTries = 5
	openPause = 20 * time.Millisecond
)

func retryOpen[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for i := range openTries {
		if i > 0 {
			time.Sleep(openPause)
		}
		if v, err = f(); err == nil {
			break
		}
	}
	return v, err
}

func asError(err error) error {
	if _, ok := err.(*messages.Error); ok {
		return err
	}
	return &messages.Error{Kind: messages.KindInternal, Detail: err.Error()}
}

// started opens the bus and starts the clock. A bus that cannot be opened
// makes the actor fail, so its supervisor retries with backoff.
func (a *Actor) started(ctx actor.Context) {
	a.core = NewCore(a.opt.Core)
	if s, ok := a.opt.Cell.load(); ok {
		a.core.Restore(s)
	}
	fatal := func(what string, err error) {
		// Say why before failing: the supervisor retries with backoff and
		// the daemon shows the error meanwhile.
		err = fmt.Errorf("%s: %w", what, err)
		a.core.OpenFailed(err)
		a.pushStatus(ctx, true)
		panic(fmt.Errorf("motorbus: %w", err))
	}
	bus, err := a.opt.Open()
	if err != nil {
		fatal("cannot open the motor bus", err)
	}
	a.bus = bus
	st, err := retryOpen(bus.ReadState)
	if err != nil {
		fatal("cannot read the motor state", err)
	}
	pos, err := retryOpen(bus.ReadPositions)
	if err != nil {
		fatal("cannot read the motor positions", err)
	}
	now := a.opt.Now()
	a.core.Opened(st, pos, now)
	a.save()
	a.log.Debug("bus open", "mode", a.core.Mode(), "epoch", a.core.Epoch())
	a.start = now
	a.next = now
	a.opt.Loop.SetPeriod(a.opt.Period)
	self := ctx.Self()
	root := ctx.ActorSystem().Root
	// The incarnation's ticks carry its clock's number: one its
	// predecessor's clock queued before it was stopped (the mailbox is
	// suspended between a panic and the restart) is dropped.
	id := clockIDs.Add(1)
	a.clock = newClock(a.thread.loop, func() { root.Send(self, &messages.Tick{Seq: id}) })
	a.clock.id = id
	a.thread.clock.Store(a.clock)
	a.pushStatus(ctx, true)
	a.readHealth(ctx)
	a.schedule()
}

func (a *Actor) shutdown() {
	if a.clock != nil {
		a.clock.stop()
	}
	if a.core != nil {
		a.save()
	}
	if a.bus != nil {
		if err := a.bus.Close(); err != nil {
			a.log.Warn("bus close", "err", err)
		}
		a.bus = nil
	}
}

func (a *Actor) save() { a.opt.Cell.save(a.core.Snapshot()) }

// schedule arms the clock for the next slot of the absolute schedule. A tick
// that ran late does not make the following ones late: missed slots are
// skipped, not bunched.
func (a *Actor) schedule() {
	now := a.opt.Now()
	a.next = a.next.Add(a.opt.Period)
	if behind := now.Sub(a.next); behind > 0 {
		skip := behind/a.opt.Period + 1
		a.next = a.next.Add(skip * a.opt.Period)
		a.opt.Loop.Missed(uint64(skip))
	}
	a.clock.after(a.next.Sub(now))
}

// tick is one control cycle: write the accepted goals, read the present
// positions, hand them to moves.
func (a *Actor) tick(ctx actor.Context) {
	a.seq++
	if a.opt.Loop != nil {
		// Lateness: how long after its slot in the schedule this tick
		// started (timer and mailbox delay).
		start := a.opt.Now()
		a.opt.Loop.Tick(start, start.Sub(a.next))
	}
	if goal, mask, ok := a.core.WritePlan(); ok {
		if err := a.bus.WriteGoalPositions(goal, mask); err != nil {
			a.log.Debug("goal write failed", "err", err)
		}
	}
	if cur, mask, ok := a.core.CurrentPlan(); ok {
		if cw, ok := a.bus.(hw.CurrentWriter); ok {
			if err := cw.WriteGoalCurrents(cur, mask); err != nil {
				a.log.Debug("goal current write failed", "err", err)
			}
		}
	}
	pos, err := a.bus.ReadPositions()
	now := a.opt.Now()
	p := a.core.ReadDone(a.seq, pos, err, now, a.opt.Period)
	if a.opt.Moves != nil {
		ctx.Send(a.opt.Moves, &p)
	}
	if now.Sub(a.lastHealth) >= a.opt.HealthPeriod {
		a.lastHealth = now
		a.readHealth(ctx)
	}
	a.pushStatus(ctx, false)
	if a.core.Dead() {
		// The reference stops its loop here and the daemon goes to error;
		// we report the error and let the supervisor reopen the bus with
		// backoff until it answers again.
		a.save()
		panic(fmt.Errorf("motorbus: %s (last error: %v)", NoResponseError, err))
	}
	a.schedule()
}

// pushStatus sends the backend status to the daemon when it changed, and at
// least once a second.
func (a *Actor) pushStatus(ctx actor.Context, force bool) {
	if a.opt.Status == nil {
		return
	}
	s := a.core.Status()
	now := a.opt.Now()
	changed := s.Ready != a.lastSent.Ready || s.Mode != a.lastSent.Mode || s.Error != a.lastSent.Error
	if !force && !changed && now.Sub(a.lastStatus) < time.Second {
		return
	}
	a.lastStatus, a.lastSent = now, s
	ctx.Send(a.opt.Status, &s)
}

// run performs bus operations in order; the first failure stops it.
//
// A pin is told to moves (Pinned) as soon as it is applied, before the
// request that caused it is answered: moves then pins its targets before
// any target sent after the answer, which wins instead of being overwritten
// when moves would see the new epoch at the next tick.
func (a *Actor) run(ctx actor.Context, ops []Op) error {
	for _, op := range ops {
		var pos hw.Positions
		var err error
		switch op.Kind {
		case OpTorque:
			err = a.bus.SetTorque(op.Mask, op.On)
		case OpMode:
			err = a.bus.SetOperatingMode(op.Mask, op.Mode)
		case OpPin:
			pos, err = a.bus.ReadPositions()
			if err == nil {
				goal, _, _ := a.core.WritePlan()
				for i := 0; i < hw.NumMotors; i++ {
					if op.Mask.Has(i) {
						goal[i] = pos[i]
					}
				}
				err = a.bus.WriteGoalPositions(goal, op.Mask)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		a.core.Applied(op, pos)
		if op.Kind == OpPin && a.opt.Moves != nil {
			goal, _, _ := a.core.WritePlan()
			ctx.Send(a.opt.Moves, &messages.Pinned{Epoch: a.core.Epoch(), Positions: goal})
		}
	}
	return nil
}
