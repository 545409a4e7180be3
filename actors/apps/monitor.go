package apps

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/apps/procs"
	"reachyd/actors/kit"
	"reachyd/messages"
)

// Monitor messages: the app manager asks appmon to spawn a monitor per run
// and to stop it; the monitor reports the process's start and end.
type (
	spawnMonitor struct {
		RunID  uint64
		Name   string
		Spec   procs.Spec
		JobID  string
		Record string // pid file path (written by procs.Start)
	}
	stopMonitor struct {
		RunID uint64
		Grace time.Duration
	}
	appSpawned struct {
		RunID uint64
		Pid   int
		At    time.Time
		Err   error
	}
	appExited struct {
		RunID uint64
		Exit  messages.AppExitInfo
	}
	monitorFlush struct{}
)

// MonitorOptions configure the monitors.
type MonitorOptions struct {
	Manager *actor.PID // receives appSpawned and appExited
	Jobs    *actor.PID // receives the app's output as job lines
	Log     *slog.Logger
	// Cgroups, if set, gives each app a cgroup of its own.
	Cgroups *procs.Cgroups
}

// AppmonProps is the supervisor of the app monitors. It has no logic of its
// own, so it does not fail; a monitor that fails is restarted and keeps its
// process (see monitor).
func AppmonProps(opt MonitorOptions, s *kit.System) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *spawnMonitor:
			cell := &monitorCell{}
			props := actor.PropsFromProducer(func() actor.Actor {
				return &monitor{opt: opt, spec: *m, cell: cell, log: opt.Log.With("actor", "appmon", "app", m.Name)}
			}, kit.CrashOption())
			if _, err := ctx.SpawnNamed(props, fmt.Sprintf("run-%d", m.RunID)); err != nil {
				ctx.Send(opt.Manager, &appSpawned{RunID: m.RunID, Err: err})
			}
		case *stopMonitor:
			ctx.Send(actor.NewPID(ctx.Self().Address, fmt.Sprintf("%s/run-%d", ctx.Self().Id, m.RunID)), m)
		}
	}, actor.WithSupervisor(kit.NewStrategy(s, kit.Backoff{Initial: 10 * time.Millisecond, Max: time.Second, Jitter: 0.2})))
}

// monitorCell keeps the process across restarts of its monitor: the
// process and its output readers do not belong to one incarnation.
type monitorCell struct {
	mu      sync.Mutex
	proc    *procs.Process
	started bool
	lines   []string
	pending atomic.Int64
	dropped atomic.Int64
}

// maxPendingLines bounds the output lines on their way to the job log: an
// app that floods its output loses lines (counted) rather than growing the
// daemon's memory.
const maxPendingLines = 20000

// monitor owns one app process: it starts it, forwards its output to the
// job in batches, stops it on request and reports its end.
type monitor struct {
	opt  MonitorOptions
	spec spawnMonitor
	cell *monitorCell
	log  *slog.Logger
}

func (m *monitor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.start(ctx)
	case *monitorFlush:
		m.flush(ctx)
	case *stopMonitor:
		p := m.proc()
		if p == nil {
			return
		}
		go p.Stop(msg.Grace) // the end arrives through Done, like any exit
	case *procDone:
		m.flush(ctx)
		m.done(ctx)
	}
}

type procDone struct{}

func (m *monitor) proc() *procs.Process {
	m.cell.mu.Lock()
	defer m.cell.mu.Unlock()
	return m.cell.proc
}

func (m *monitor) start(ctx actor.Context) {
	c := m.cell
	c.mu.Lock()
	if c.started {
		// A restarted incarnation: the process and its readers are already
		// running and report to this PID.
		c.mu.Unlock()
		return
	}
	c.started = true
	c.mu.Unlock()

	self, root := ctx.Self(), ctx.ActorSystem().Root
	var flushQueued atomic.Bool
	sink := func(l procs.Line) {
		if c.pending.Add(1) > maxPendingLines {
			c.pending.Add(-1)
			c.dropped.Add(1)
			return
		}
		c.mu.Lock()
		c.lines = append(c.lines, l.Text)
		c.mu.Unlock()
		if flushQueued.CompareAndSwap(false, true) {
			// Batch: one flush for whatever arrives in the next 50 ms.
			time.AfterFunc(50*time.Millisecond, func() {
				flushQueued.Store(false)
				root.Send(self, &monitorFlush{})
			})
		}
	}
	// procs writes the pid file before the app runs, keeps it up to date
	// with every process of the app, and removes it once they are all
	// gone; without it the start fails.
	spec := m.spec.Spec
	spec.Record, spec.Cgroups = m.spec.Record, m.opt.Cgroups
	p, err := procs.Start(spec, sink)
	if err != nil {
		ctx.Send(m.opt.Manager, &appSpawned{RunID: m.spec.RunID, Err: err})
		ctx.ActorSystem().EventStream.Publish(messages.AppProcessEvent{StartErr: err.Error()})
		ctx.Stop(self)
		return
	}
	c.mu.Lock()
	c.proc = p
	c.mu.Unlock()
	m.log.Info("app process started", "pid", p.Pid(), "tracked_by", p.Mechanism())
	ctx.Send(m.opt.Manager, &appSpawned{RunID: m.spec.RunID, Pid: p.Pid(), At: p.Started()})
	ctx.ActorSystem().EventStream.Publish(messages.AppProcessEvent{})
	go func() {
		<-p.Done()
		root.Send(self, &procDone{})
	}()
}

// flush sends the queued output lines to the job.
func (m *monitor) flush(ctx actor.Context) {
	c := m.cell
	c.mu.Lock()
	lines := c.lines
	c.lines = nil
	c.mu.Unlock()
	c.pending.Add(-int64(len(lines)))
	if d := c.dropped.Swap(0); d > 0 {
		lines = append(lines, fmt.Sprintf("[reachyd: %d output lines dropped: the app writes faster than its log is read]", d))
	}
	if len(lines) > 0 && m.opt.Jobs != nil && m.spec.JobID != "" {
		ctx.Send(m.opt.Jobs, &messages.JobProgress{ID: m.spec.JobID, Lines: lines})
	}
}

func (m *monitor) done(ctx actor.Context) {
	p := m.proc()
	st := p.Exit()
	exit := messages.AppExitInfo{Code: st.Code, Signal: st.Signal, Text: st.String(), Tail: p.Tail(10), At: time.Now()}
	ctx.Send(m.opt.Manager, &appExited{RunID: m.spec.RunID, Exit: exit})
	ctx.ActorSystem().EventStream.Publish(messages.AppProcessEvent{Exit: &exit})
	ctx.Stop(ctx.Self())
}
