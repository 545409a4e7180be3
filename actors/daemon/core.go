// Package daemon is the lifecycle actor: it starts and stops the robot
// backend (the robot supervisor and its motorbus and moves children) as the
// reference daemon does, runs those operations as jobs, and owns the daemon
// status.
//
// The Core is the lifecycle state machine: not_initialized, starting,
// running, stopping, stopped, error. Operations (start, stop, restart =
// stop then start, shutdown) run one at a time in phases; the shell performs
// the effects and feeds back their outcomes (robot ready, move done,
// timers, robot terminated).
package daemon

import (
	"fmt"
	"strings"
	"time"

	"reachyd/messages"
)

// Timeouts of the lifecycle.
const (
	ReadyTimeout = 2 * time.Second
	WakeTimeout  = 30 * time.Second
	SleepTimeout = 20 * time.Second
)

// OpKind is a lifecycle operation.
type OpKind int

const (
	OpStart OpKind = iota
	OpStop
	OpShutdown
)

// Op is one queued operation.
type Op struct {
	Kind  OpKind
	Wake  bool
	Sleep bool
	// Job is the job id that reports this operation ("" for none).
	Job string
	// Reply, if set, is told when the operation ends (used by shutdown).
	Reply any
}

type phase int

const (
	phaseIdle phase = iota
	phaseWaitReady
	phaseWaitWake
	phaseWaitApp // a stop that will sleep waits for the app to stop
	phaseWaitSleep
	phaseWaitStopped
)

// TimerKind names the core's timers.
type TimerKind int

const (
	TimerReady TimerKind = iota
	TimerWake
	TimerSleep
)

// Effects are the shell's work after a step.
type Effects struct {
	SpawnRobot bool
	StopRobot  bool
	// StopMoves cancels whatever move runs; StopApp asks the app manager to
	// stop the running app, and AppStopped is fed back once it did (or
	// could not).
	StopMoves bool
	StopApp   bool
	Modes     []messages.MotorMode
	Moves     []messages.StartMove
	Timer     *Timer
	JobLines  map[string][]string
	JobDone   []JobEnd
	Replies   []Reply
	// Warnings are logged by the shell (they are in the job's log too).
	Warnings  []string
	BackendUp bool
	BackendDn string
	Status    bool // the status changed: publish it now
}

// Reply tells To (an Op's Reply) that its operation ended, with Err when
// it did not end as asked (the robot could not go to sleep).
type Reply struct {
	To  any
	Err string
}

// Timer asks the shell to fire Kind after After; Gen tells stale firings.
type Timer struct {
	Kind  TimerKind
	After time.Duration
	Gen   uint64
}

// JobEnd finishes a job.
type JobEnd struct {
	Job string
	Err string
}

func (fx *Effects) log(job string, lines ...string) {
	if job == "" {
		return
	}
	if fx.JobLines == nil {
		fx.JobLines = map[string][]string{}
	}
	fx.JobLines[job] = append(fx.JobLines[job], lines...)
}

// Core is the lifecycle state machine. Not safe for concurrent use.
type Core struct {
	state   messages.DaemonState
	err     string
	robotUp bool
	ready   bool
	backend *messages.BackendStatus

	cur   *Op
	phase phase
	queue []Op
	// moveID is the daemon's own move (wake-up or sleep) being waited for.
	moveID string
	// sleepErr says why the current stop could not put the robot to sleep.
	sleepErr string
	timerGen uint64
	newID    func() string
	started  bool
	// fatal is why the daemon cannot recover (the actor tree gave up): the
	// state is error from then on.
	fatal string
}

// NewCore returns a core in not_initialized. newID makes move ids.
func NewCore(newID func() string) *Core {
	return &Core{state: messages.StateNotInitialized, newID: newID}
}

// State returns the lifecycle state as the reference reports it: a running
// daemon whose backend reports an error is in error.
func (c *Core) State() messages.DaemonState {
	if c.fatal != "" {
		return messages.StateError
	}
	if c.state == messages.StateRunning && c.backend != nil && c.backend.Error != "" {
		return messages.StateError
	}
	return c.state
}

// Error returns the error to report.
func (c *Core) Error() string {
	if c.fatal != "" {
		return c.fatal
	}
	if c.err != "" {
		return c.err
	}
	if c.backend != nil && c.state == messages.StateRunning {
		return c.backend.Error
	}
	return ""
}

// Busy reports whether an operation runs (the reference's busy lock).
func (c *Core) Busy() bool { return c.cur != nil || len(c.queue) > 0 }

// Started reports whether a start was ever attempted (simulation flags are
// null before).
func (c *Core) Started() bool { return c.started }

// Backend returns the last backend status while the robot runs.
func (c *Core) Backend() *messages.BackendStatus {
	if !c.robotUp {
		return nil
	}
	return c.backend
}

// Submit queues operations; they run one after the other.
func (c *Core) Submit(ops ...Op) Effects {
	var fx Effects
	c.queue = append(c.queue, ops...)
	if c.cur == nil {
		c.next(&fx)
	}
	return fx
}

func (c *Core) next(fx *Effects) {
	for c.cur == nil && len(c.queue) > 0 {
		op := c.queue[0]
		c.queue = c.queue[1:]
		c.cur = &op
		switch op.Kind {
		case OpStart:
			c.beginStart(fx)
		case OpStop, OpShutdown:
			c.beginStop(fx)
		}
	}
}

func (c *Core) end(fx *Effects, errText string) {
	op := c.cur
	if op == nil {
		return
	}
	c.cur, c.phase, c.moveID, c.sleepErr = nil, phaseIdle, "", ""
	if op.Job != "" {
		fx.JobDone = append(fx.JobDone, JobEnd{Job: op.Job, Err: errText})
	}
	if op.Reply != nil {
		fx.Replies = append(fx.Replies, Reply{To: op.Reply, Err: errText})
	}
	fx.Status = true
	c.next(fx)
}

func (c *Core) setTimer(fx *Effects, k TimerKind, d time.Duration) {
	c.timerGen++
	fx.Timer = &Timer{Kind: k, After: d, Gen: c.timerGen}
}

func (c *Core) beginStart(fx *Effects) {
	op := c.cur
	if c.state == messages.StateRunning && c.robotUp {
		fx.log(op.Job, "Daemon is already running.")
		c.end(fx, "")
		return
	}
	c.started = true
	c.state, c.err, c.ready = messages.StateStarting, "", false
	fx.Status = true
	fx.log(op.Job, "Starting the robot backend...")
	if !c.robotUp {
		c.robotUp = true
		fx.SpawnRobot = true
	}
	c.phase = phaseWaitReady
	c.setTimer(fx, TimerReady, ReadyTimeout)
}

func (c *Core) beginStop(fx *Effects) {
	op := c.cur
	if !c.robotUp {
		if op.Sleep {
			c.cannotSleep(fx, "the robot backend is not running")
		}
		if c.state != messages.StateNotInitialized || op.Kind == OpShutdown {
			if c.state != messages.StateError {
				c.state = messages.StateStopped
			}
		}
		fx.log(op.Job, "Daemon is already stopped.")
		c.end(fx, "")
		return
	}
	// The sleep needs a running backend whose bus answers. A latched
	// hardware error of one motor is the backend's error too, but the loop
	// runs (ready) and the other motors can still go to sleep.
	was, prevErr := c.state, c.Error()
	canSleep := was == messages.StateRunning && c.ready && (c.backend == nil || c.backend.Ready)
	c.state = messages.StateStopping
	fx.Status = true
	fx.log(op.Job, "Stopping the robot backend...")
	if op.Sleep {
		switch {
		case canSleep:
			// The robot must be free to sleep: the running move stops now,
			// the app is asked to stop (it releases the robot), then the
			// sleep takes over whatever the app left running.
			fx.StopMoves, fx.StopApp = true, true
			c.phase = phaseWaitApp
			return
		case was == messages.StateRunning && c.ready:
			c.cannotSleep(fx, "the robot backend reports an error: "+prevErr)
		case was == messages.StateRunning:
			c.cannotSleep(fx, "the robot backend is not ready")
		case was == messages.StateError:
			c.cannotSleep(fx, "the daemon is in error: "+prevErr)
		default:
			c.cannotSleep(fx, "the daemon is "+string(was))
		}
	}
	c.stopRobot(fx)
}

// cannotSleep says why a stop that asked for the sleep pose goes without.
func (c *Core) cannotSleep(fx *Effects, why string) {
	line := "Not putting the robot to sleep: " + strings.TrimSuffix(why, ".") + "."
	fx.log(c.cur.Job, line)
	fx.Warnings = append(fx.Warnings, line)
}

// sleepFailed records why the robot did not reach the sleep pose and stops
// the backend: the stop ends in error with this reason.
func (c *Core) sleepFailed(fx *Effects, why string) {
	c.timerGen++ // cancels the sleep timer
	c.sleepErr = "Going to sleep failed: " + why
	fx.log(c.cur.Job, c.sleepErr)
	fx.Warnings = append(fx.Warnings, c.sleepErr)
	c.stopRobot(fx)
}

// AppStopped handles the end of the app stop that a stop with sleep asked
// for (or its failure: the robot goes to sleep all the same).
func (c *Core) AppStopped() Effects {
	var fx Effects
	if c.cur == nil || c.phase != phaseWaitApp {
		return fx
	}
	op := c.cur
	if c.backend != nil && !c.backend.Ready && c.backend.Error != "" {
		// The bus failed meanwhile.
		c.sleepFailed(&fx, c.backend.Error)
		return fx
	}
	c.moveID = c.newID()
	fx.log(op.Job, "Putting the robot to sleep.")
	fx.Moves = append(fx.Moves, messages.StartMove{ID: c.moveID, Kind: messages.MoveResetToSleep, Origin: messages.OriginDaemon, Preempt: true})
	c.phase = phaseWaitSleep
	c.setTimer(&fx, TimerSleep, SleepTimeout)
	return fx
}

func (c *Core) stopRobot(fx *Effects) {
	fx.StopRobot = true
	c.phase = phaseWaitStopped
}

// RobotReady handles the first tick of a started backend.
func (c *Core) RobotReady() Effects {
	var fx Effects
	c.ready = true
	if c.cur == nil || c.phase != phaseWaitReady {
		return fx
	}
	c.timerGen++ // cancels the ready timer
	fx.BackendUp = true
	op := c.cur
	if op.Wake {
		c.moveID = c.newID()
		fx.log(op.Job, "Waking up the robot.")
		fx.Modes = append(fx.Modes, messages.ModeEnabled)
		fx.Moves = append(fx.Moves, messages.StartMove{ID: c.moveID, Kind: messages.MoveWakeUp, Origin: messages.OriginDaemon})
		c.phase = phaseWaitWake
		c.setTimer(&fx, TimerWake, WakeTimeout)
		return fx
	}
	c.running(&fx)
	return fx
}

func (c *Core) running(fx *Effects) {
	c.state = messages.StateRunning
	fx.log(c.cur.Job, "Daemon started.")
	c.end(fx, "")
}

// MoveDone handles the end of a daemon move.
func (c *Core) MoveDone(d messages.MoveDone) Effects {
	var fx Effects
	if c.cur == nil || d.ID != c.moveID {
		return fx
	}
	c.timerGen++
	switch c.phase {
	case phaseWaitWake:
		if d.Result == messages.MoveFailed {
			c.state, c.err = messages.StateError, "wake up failed: "+d.Detail
			fx.log(c.cur.Job, c.err)
			c.end(&fx, c.err)
			return fx
		}
		c.running(&fx)
	case phaseWaitSleep:
		switch d.Result {
		case messages.MoveFailed:
			c.sleepFailed(&fx, d.Detail)
		case messages.MoveCancelled:
			c.sleepFailed(&fx, "the sleep move was cancelled")
		default:
			c.stopRobot(&fx)
		}
	}
	return fx
}

// TimerFired handles a timer; stale generations are ignored.
func (c *Core) TimerFired(k TimerKind, gen uint64) Effects {
	var fx Effects
	if gen != c.timerGen || c.cur == nil {
		return fx
	}
	switch {
	case k == TimerReady && c.phase == phaseWaitReady:
		reason := "the robot backend did not become ready within " + ReadyTimeout.String()
		if c.backend != nil && c.backend.Error != "" {
			reason += ": " + c.backend.Error
		}
		c.err = reason
		fx.log(c.cur.Job, reason)
		c.failStart(&fx, reason)
	case k == TimerWake && c.phase == phaseWaitWake:
		c.state, c.err = messages.StateError, "wake up did not finish in time"
		c.end(&fx, c.err)
	case k == TimerSleep && c.phase == phaseWaitSleep:
		c.sleepFailed(&fx, "it took longer than "+SleepTimeout.String())
	}
	return fx
}

// failStart stops the half-started backend and reports the start failed.
func (c *Core) failStart(fx *Effects, reason string) {
	c.state = messages.StateError
	fx.StopRobot = true
	c.end(fx, reason)
}

// RobotStopped handles the end of the robot subtree.
func (c *Core) RobotStopped() Effects {
	var fx Effects
	c.robotUp, c.ready, c.backend = false, false, nil
	fx.BackendDn = "daemon stopped"
	fx.Status = true
	if c.cur != nil && (c.cur.Kind == OpStop || c.cur.Kind == OpShutdown) && c.phase != phaseIdle {
		// The end of the stop (or the backend died while the stop waited
		// for the app or the sleep: the stop is over all the same).
		if c.phase == phaseWaitApp || c.phase == phaseWaitSleep {
			c.sleepErr = "the robot backend stopped"
			fx.log(c.cur.Job, "Going to sleep failed: the robot backend stopped.")
		}
		errText := c.sleepErr
		switch {
		case errText != "":
			// The robot did not reach the sleep pose: say why.
			c.state, c.err = messages.StateError, errText
		case c.state != messages.StateError || c.err == "":
			c.state = messages.StateStopped
		}
		fx.log(c.cur.Job, "Daemon stopped.")
		c.end(&fx, errText)
		return fx
	}
	if c.state == messages.StateRunning || c.state == messages.StateStarting {
		// Not asked for: the backend died.
		c.state = messages.StateError
		if c.err == "" {
			c.err = "the robot backend stopped unexpectedly"
		}
		if c.cur != nil && c.phase == phaseWaitReady {
			c.end(&fx, c.err)
		}
	}
	return fx
}

// RobotFailed handles a failure escalated by the robot supervisor: its
// children spent their restart budget. The backend is stopped and the
// daemon reports the error.
func (c *Core) RobotFailed(reason string) Effects {
	var fx Effects
	c.state = messages.StateError
	c.err = fmt.Sprintf("the robot backend failed: %s", reason)
	fx.StopRobot = true
	fx.Status = true
	if c.cur != nil {
		switch c.phase {
		case phaseWaitReady, phaseWaitWake:
			fx.log(c.cur.Job, c.err)
			c.end(&fx, c.err)
		case phaseWaitApp, phaseWaitSleep:
			c.sleepFailed(&fx, c.err)
		}
	}
	return fx
}

// Unrecoverable records that part of the daemon is dead for good: the
// state is error, with the reason, until the process exits.
func (c *Core) Unrecoverable(reason string) Effects {
	c.fatal = "reachyd cannot recover and is restarting: " + reason
	return Effects{Status: true}
}

// BackendStatus stores motorbus's latest status.
func (c *Core) BackendStatus(s messages.BackendStatus) Effects {
	var fx Effects
	if !c.robotUp {
		return fx
	}
	if c.backend == nil || c.backend.Error != s.Error || c.backend.Mode != s.Mode || c.backend.Ready != s.Ready {
		fx.Status = true
	}
	c.backend = &s
	if c.cur != nil && c.phase == phaseWaitSleep && !s.Ready && s.Error != "" {
		// The bus failed under the sleep move: it cannot finish. Stop now
		// rather than wait for the sleep timeout.
		c.sleepFailed(&fx, s.Error)
	}
	return fx
}
