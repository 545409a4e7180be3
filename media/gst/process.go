package gst

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Errors of a Process.
var (
	// ErrStopped is Err after Stop or the end of Start's context, and what
	// Write returns then.
	ErrStopped = errors.New("gst: process stopped")
	// ErrGaveUp wraps Err when the failure budget was spent.
	ErrGaveUp = errors.New("gst: gave up restarting")
	// ErrNoStdin is what Write returns when Spec.StdinPipe is not set.
	ErrNoStdin = errors.New("gst: process has no stdin pipe")
)

// MaxLineLen bounds a line read from a child's stdout or stderr; the rest
// of a longer line is skipped. A level message for 8 channels is about
// 900 bytes.
const MaxLineLen = 8 << 10

// Limits of what a Process logs and keeps of its child's output.
const (
	maxLogLine   = 512 // bytes of a line that reach the log
	tailLines    = 8   // stderr lines kept for Event.Stderr
	logRate      = 2   // lines per second per stream, after a burst of
	logBurst     = 20  // lines
	drainTimeout = time.Second
	// DefaultGrace is the time between SIGTERM and SIGKILL on Stop.
	DefaultGrace = 2 * time.Second
	// DefaultStdinQueue is how many writes wait for a slow child before
	// the oldest is dropped: enough to ride out a hiccup, small enough to
	// add no latency.
	DefaultStdinQueue = 2
	// BackgroundNice is the nice value of the pipelines that do throughput
	// work (video encoding, camera capture and the simulated camera): on
	// two cores the encoder wants most of one, and the control loop must
	// not wait behind it.
	BackgroundNice = 10
	// PipelineSlice is the scheduler slice every media pipeline requests
	// (Linux 6.12 and later; ignored before). A lower weight alone does
	// not let a waking thread of the daemon run at once: the kernel's EEVDF
	// scheduler protects the running task until it has used its slice
	// (1.4 ms by default on two cores; the control tick was measured
	// waiting 1.2 to 1.8 ms behind the encoder at nice 10), unless the
	// waking task has a shorter slice than the running one. The pipelines
	// ask for a longer one, so that any thread of the daemon preempts them
	// when it wakes, and they are switched less often. The audio pipeline
	// asks for it too, at the daemon's nice value: its buffers are 10 ms
	// and more, and it loses at most a control tick's work to a wake-up.
	PipelineSlice = 10 * time.Millisecond
)

// Restart says when a Process starts its child again.
type Restart int

const (
	// RestartAlways: the pipeline should run until stopped, so any exit,
	// even with status 0 (an EOS), is a failure and restarts it.
	RestartAlways Restart = iota
	// RestartOnFailure: exit status 0 ends the Process; anything else
	// restarts the child.
	RestartOnFailure
	// RestartNever: one run (a sound, a probe).
	RestartNever
)

// EventKind tells what happened to a Process.
type EventKind int

const (
	// EventStarted: a child is running (Pid, Run).
	EventStarted EventKind = iota + 1
	// EventExited: the child ended on its own, or could not be started
	// (Pid 0). Restart and Delay say what follows.
	EventExited
	// EventStopped: Stop or the context ended the Process. Final.
	EventStopped
	// EventGaveUp: the failure budget is spent. Final; Err says why.
	EventGaveUp
)

func (k EventKind) String() string {
	switch k {
	case EventStarted:
		return "started"
	case EventExited:
		return "exited"
	case EventStopped:
		return "stopped"
	case EventGaveUp:
		return "gave-up"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports a change of a Process, for logs and the daemon's status.
type Event struct {
	Kind EventKind
	At   time.Time
	Name string
	// Pid is the child's pid (0 when it could not be started).
	Pid int
	// Run counts the children started, from 1; a child started by Renew
	// keeps the run of the one it replaced, and has Renewed set.
	Run     int
	Renewed bool
	// Status is how the child ended ("exit status 1", "signal: killed",
	// "start failed: ..."); Code its exit code, -1 when killed by a signal
	// or never started.
	Status string
	Code   int
	Uptime time.Duration
	// Stderr holds the last lines the child wrote to stderr (GStreamer's
	// ERROR and WARNING lines), led by its first ERROR line if that is
	// older.
	Stderr []string
	// Restart says a new child is started after Delay; Failures is the
	// decayed failure count that chose the delay.
	Restart  bool
	Delay    time.Duration
	Failures float64
	// Err is why the Process gave up.
	Err error
}

// ExitError is Err of a RestartNever or RestartOnFailure Process whose
// child failed.
type ExitError struct {
	Name   string
	Status string
	Code   int
	Stderr []string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("gst: %s: %s", e.Name, e.Status)
	if l := firstError(e.Stderr); l != "" {
		msg += ": " + l
	}
	return msg
}

// firstError picks GStreamer's first "ERROR:" line, else the last line.
func firstError(lines []string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, "ERROR:") {
			return l
		}
	}
	if len(lines) > 0 {
		return lines[len(lines)-1]
	}
	return ""
}

// Spec describes a supervised child process.
type Spec struct {
	// Name labels logs and events ("video", "audio", "sound").
	Name string
	// Argv returns the command to run, program first. It is called before
	// every start, so a restart can take fresh values (new free ports
	// after a bind failure). Fixed wraps a constant command.
	Argv func() ([]string, error)
	// Env is the child's environment (nil: the daemon's). LC_ALL=C is
	// always added so GStreamer's messages are not translated.
	Env     []string
	Restart Restart
	// Nice is the child's nice value (0: the daemon's). Throughput work
	// (video encoding, the simulated camera) runs at BackgroundNice, so
	// that on a busy machine the kernel runs the control loop's threads
	// first when they wake. Set on Linux only.
	Nice int
	// Slice is the scheduler slice the child requests (0: the default).
	// The media pipelines ask for PipelineSlice. Set on Linux 6.12 and
	// later only; older kernels ignore it.
	Slice time.Duration
	// Backoff is the restart policy (nil: DefaultBackoff).
	Backoff *Backoff
	// Grace is the time between SIGTERM and SIGKILL (0: DefaultGrace).
	Grace time.Duration

	// StdinPipe gives the child a pipe on stdin fed by Process.Write.
	StdinPipe bool
	// StdinQueue bounds the writes waiting for the child (0:
	// DefaultStdinQueue).
	StdinQueue int
	// StdinFile, if set, is opened read-only for each run and becomes the
	// child's stdin (a regular file, so GStreamer may seek in it). Without
	// either, stdin is /dev/null.
	StdinFile string

	// OnStdout sees every stdout line (without its line ending, at most
	// MaxLineLen bytes, valid only during the call) and returns whether it
	// consumed it; other lines are logged at debug level. Called from a
	// reader goroutine; must not block.
	OnStdout func(line []byte) bool
	// OnStdoutRaw, instead of OnStdout, takes the child's stdout as a
	// byte stream (a pipeline writing encoded frames to fdsink fd=1;
	// JPEGSplitter cuts JPEG images out of it). It is called once per
	// child, from a reader goroutine, with a reader that is valid only
	// during the call and reaches EOF when the child's group has exited
	// (or after drainTimeout if a process that left the group keeps the
	// pipe open). It should read until EOF or an error; whatever it
	// leaves unread is discarded, so a child never blocks on a full
	// pipe. It must not block on anything but reading r: the Process
	// waits for it before it reports the exit.
	OnStdoutRaw func(r io.Reader)
	// OnEvent sees every Event, from the supervising goroutine (and from
	// Start for the first EventStarted). It must not block for long, nor
	// call Stop (which waits for that goroutine).
	OnEvent func(Event)
	// Logger receives output lines (rate-limited, truncated) and events
	// (nil: slog.Default()).
	Logger *slog.Logger

	// Clock and Rand drive restart delays; tests inject them (nil: real
	// time, math/rand/v2).
	Clock Clock
	Rand  func() float64
}

// Fixed returns an Argv that always gives argv.
func Fixed(argv []string) func() ([]string, error) {
	argv = append([]string(nil), argv...)
	return func() ([]string, error) { return argv, nil }
}

// Process is a supervised child process: one pipeline, restarted when it
// ends according to Spec.Restart and Spec.Backoff, stopped with its whole
// process group.
type Process struct {
	spec    Spec
	backoff Backoff
	grace   time.Duration
	clock   Clock
	rand    func() float64
	log     *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{}
	err     error // written before done is closed

	pid     atomic.Int64
	runs    atomic.Int64
	renew   chan struct{} // Renew's requests, one pending at most
	dropped atomic.Uint64
	feed    atomic.Pointer[feeder]

	outLimit, errLimit *lineLimiter
}

// Start runs the first child and supervises it until Stop or the end of
// ctx. An error starting the first child (program missing, Argv failing)
// is returned and nothing runs; later start failures count as failures.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	if spec.Argv == nil {
		return nil, errors.New("gst: Spec.Argv is nil")
	}
	if spec.StdinPipe && spec.StdinFile != "" {
		return nil, errors.New("gst: StdinPipe and StdinFile are exclusive")
	}
	if spec.OnStdout != nil && spec.OnStdoutRaw != nil {
		return nil, errors.New("gst: OnStdout and OnStdoutRaw are exclusive")
	}
	p := &Process{
		spec:     spec,
		backoff:  DefaultBackoff,
		grace:    spec.Grace,
		clock:    spec.Clock,
		rand:     spec.Rand,
		log:      spec.Logger,
		done:     make(chan struct{}),
		renew:    make(chan struct{}, 1),
		outLimit: newLineLimiter(logRate, logBurst),
		errLimit: newLineLimiter(logRate, logBurst),
	}
	if spec.Backoff != nil {
		p.backoff = *spec.Backoff
	}
	if p.grace <= 0 {
		p.grace = DefaultGrace
	}
	if p.clock == nil {
		p.clock = realClock{}
	}
	if p.rand == nil {
		p.rand = rand.Float64
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.spec.StdinQueue <= 0 {
		p.spec.StdinQueue = DefaultStdinQueue
	}
	p.log = p.log.With("pipeline", spec.Name)

	c, err := p.launch(1)
	if err != nil {
		return nil, fmt.Errorf("gst: starting %s: %w", spec.Name, err)
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.started(c, false)
	go p.supervise(ctx, c)
	return p, nil
}

// Pid is the running child's pid, 0 between runs and after the end.
func (p *Process) Pid() int { return int(p.pid.Load()) }

// Restarts counts the children started after the first.
func (p *Process) Restarts() int { return max(0, int(p.runs.Load())-1) }

// Dropped counts the writes dropped because the child was slow, not
// running, or gone.
func (p *Process) Dropped() uint64 { return p.dropped.Load() }

// Done is closed when the Process has ended: stopped, given up, or (for
// RestartNever and RestartOnFailure) its child exited for good. No child
// is left then.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is why the Process ended: nil for a child that exited with status 0
// and is not restarted, ErrStopped after Stop or the end of the context,
// an *ExitError for a failed RestartNever child, an error wrapping
// ErrGaveUp. Nil while it runs.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Renew replaces the running child with a new one at once: the pipeline
// starts afresh, as a video encoder must for its next frame to be a
// keyframe (gst-launch-1.0 cannot be asked for one). It is not a failure:
// no backoff, and the new child keeps the run number (Restarts does not
// count it); its EventStarted has Renewed set. Writes meanwhile are
// dropped. It does not wait, and does nothing between runs or after the
// end.
func (p *Process) Renew() {
	select {
	case p.renew <- struct{}{}:
	default: // one is pending
	}
}

// Stop ends the child (SIGTERM to its process group, SIGKILL after the
// grace) and the supervision, and returns when no child is left. It may
// be called more than once and concurrently.
func (p *Process) Stop() {
	p.cancel()
	<-p.done
}

// Write queues b (copied) for the child's stdin and never blocks: when the
// child is slow the oldest queued write is dropped, so the newest frame
// wins; while no child runs, b is dropped. Each write reaches the child
// whole or not at all, so a stream of complete JPEG images stays
// parseable. It returns len(b) unless the Process has ended (ErrStopped)
// or has no stdin pipe.
func (p *Process) Write(b []byte) (int, error) {
	if !p.spec.StdinPipe {
		return 0, ErrNoStdin
	}
	select {
	case <-p.done:
		return 0, ErrStopped
	default:
	}
	f := p.feed.Load()
	if f == nil {
		p.dropped.Add(1)
		return len(b), nil
	}
	buf := append([]byte(nil), b...)
	for range 4 {
		select {
		case f.ch <- buf:
			return len(b), nil
		default:
		}
		select {
		case <-f.ch: // drop the oldest
			p.dropped.Add(1)
		default:
		}
	}
	p.dropped.Add(1) // other writers kept the queue full: drop this one
	return len(b), nil
}

// child is one run of the command.
type child struct {
	cmd      *exec.Cmd
	pid      int
	run      int
	started  time.Time
	exitedAt time.Time
	exited   chan struct{} // closed once reaped, group killed, output drained
	waitErr  error

	mu     sync.Mutex
	reaped bool

	out   sync.WaitGroup
	outRs []*os.File
	feed  *feeder
	tail  tail
}

// signal sends sig to the child's process group, unless the leader has
// been reaped (its pid, the group id, could then be reused).
func (c *child) signal(sig syscall.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reaped {
		_ = syscall.Kill(-c.pid, sig)
	}
}

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }

// launch starts one child.
func (p *Process) launch(run int) (*child, error) {
	argv, err := p.spec.Argv()
	if err != nil {
		return nil, fmt.Errorf("building the command: %w", err)
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("empty command")
	}
	c := &child{exited: make(chan struct{}), run: run}

	var toClose []*os.File // the child's ends, closed in the parent after the start
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			if f != nil {
				f.Close()
			}
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll([]*os.File{outR, outW})
		return nil, err
	}
	toClose = append(toClose, outW, errW)
	ours := []*os.File{outR, errR}
	var stdin, feedW *os.File
	switch {
	case p.spec.StdinPipe:
		if stdin, feedW, err = os.Pipe(); err != nil {
			closeAll(append(toClose, ours...))
			return nil, err
		}
		ours = append(ours, feedW)
	case p.spec.StdinFile != "":
		if stdin, err = os.Open(p.spec.StdinFile); err != nil {
			closeAll(append(toClose, ours...))
			return nil, err
		}
	}
	if stdin != nil {
		toClose = append(toClose, stdin)
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	env := p.spec.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env[:len(env):len(env)], "LC_ALL=C", "LANGUAGE=C")
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout, cmd.Stderr = outW, errW // *os.File: no copying goroutines in exec
	cmd.SysProcAttr = childAttr()
	c.cmd = cmd

	c.outRs = []*os.File{outR, errR}
	c.out.Add(2) // before wait can run: it waits for the readers
	if feedW != nil {
		c.feed = &feeder{ch: make(chan []byte, p.spec.StdinQueue), quit: make(chan struct{}), w: feedW}
	}
	started := make(chan error, 1)
	var launch func(locked func())
	launch = func(locked func()) {
		niced := false
		if lockThread {
			// Pdeathsig fires when the forking thread ends: keep this
			// goroutine on it, blocked in wait, until the child exits.
			// With Nice or Slice, the thread takes them before the fork
			// (the child inherits them from the start) and is never
			// unlocked, so the runtime ends the thread with the goroutine
			// and they never reach another goroutine.
			runtime.LockOSThread()
			if onMainThread() {
				// The runtime never ends the main thread (it parks it for
				// good), so it must not take them: hand over to another
				// goroutine, and hold the main thread until that one has
				// locked its own, so that it is another. (Returning at
				// once would free the main thread for it: with one P,
				// over and over.)
				elsewhere := make(chan struct{})
				go launch(func() { close(elsewhere) })
				<-elsewhere
				runtime.UnlockOSThread()
				return
			}
			locked()
			if p.spec.Nice != 0 || p.spec.Slice != 0 {
				niced = backgroundForkingThread(p.spec.Nice, p.spec.Slice)
			}
		}
		if err := cmd.Start(); err != nil {
			if lockThread && !niced {
				runtime.UnlockOSThread()
			}
			started <- err
			return
		}
		if (p.spec.Nice != 0 || p.spec.Slice != 0) && !niced {
			if err := backgroundChild(cmd.Process.Pid, p.spec.Nice, p.spec.Slice); err != nil {
				p.log.Warn("pipeline: cannot lower the child's priority", "nice", p.spec.Nice, "slice", p.spec.Slice, "err", err)
			}
		}
		c.pid = cmd.Process.Pid
		c.started = time.Now()
		started <- nil
		c.wait(!niced)
	}
	go launch(func() {})
	err = <-started
	closeAll(toClose)
	if err != nil {
		closeAll(ours)
		return nil, err
	}

	if p.spec.OnStdoutRaw != nil {
		go p.readRaw(c, outR)
	} else {
		go p.readLines(c, outR, false)
	}
	go p.readLines(c, errR, true)
	if c.feed != nil {
		go c.feed.run()
	}
	return c, nil
}

// wait runs on the goroutine that started the child: it waits for the
// leader, kills what is left of its group, reaps it, and lets the output
// readers finish.
func (c *child) wait(unlock bool) {
	pinned := waitExited(c.pid) == nil
	if lockThread && unlock {
		runtime.UnlockOSThread()
	}
	c.mu.Lock()
	if pinned {
		_ = killGroup(c.pid) // nothing outlives the pipeline's leader
	}
	c.reaped = true
	c.mu.Unlock()
	if pinned {
		// Still pinned (the leader is not reaped): the group id cannot be
		// reused while we wait for the SIGKILL to land.
		waitGroupGone(c.pid, time.Second)
	}
	c.waitErr = c.cmd.Wait()
	if !pinned {
		_ = killGroup(c.pid)
	}
	c.exitedAt = time.Now()
	if c.feed != nil {
		c.feed.stop()
	}
	// The group is gone, so the pipes reach EOF, unless a process left the
	// group and kept them: then the reads are cut.
	drained := make(chan struct{})
	go func() { c.out.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
		for _, f := range c.outRs {
			_ = f.SetReadDeadline(time.Now())
		}
		<-drained
	}
	close(c.exited)
}

func (c *child) exitEvent() Event {
	ev := Event{Kind: EventExited, Pid: c.pid, Run: c.run, Code: -1,
		Uptime: c.exitedAt.Sub(c.started), Stderr: c.tail.lines()}
	if ps := c.cmd.ProcessState; ps != nil {
		ev.Status, ev.Code = ps.String(), ps.ExitCode()
	} else if c.waitErr != nil {
		ev.Status = c.waitErr.Error()
	}
	return ev
}

// started records a running child; a renewed one is not a new run.
func (p *Process) started(c *child, renewed bool) {
	if !renewed {
		p.runs.Add(1)
	}
	p.pid.Store(int64(c.pid))
	if c.feed != nil {
		p.feed.Store(c.feed)
	}
	p.emit(Event{Kind: EventStarted, Pid: c.pid, Run: c.run, Renewed: renewed})
}

func (p *Process) supervise(ctx context.Context, c *child) {
	defer close(p.done)
	var fails Failures
	var ev Event
	for {
		if c != nil {
			select {
			case <-c.exited:
				p.cleared()
				ev = c.exitEvent()
			case <-ctx.Done():
				p.terminate(c)
				p.cleared()
				p.finish(ErrStopped, Event{Kind: EventStopped, Pid: c.pid, Run: c.run})
				return
			case <-p.renew:
				p.terminate(c)
				p.cleared()
				if ctx.Err() != nil {
					p.finish(ErrStopped, Event{Kind: EventStopped, Pid: c.pid, Run: c.run})
					return
				}
				next, err := p.launch(c.run)
				if err == nil {
					p.started(next, true)
					c = next
					continue
				}
				// As a child that could not be started: a failure, and
				// restarted as one whatever the Restart policy.
				ev = Event{Kind: EventExited, Run: c.run, Code: -1, Status: "start failed: " + err.Error()}
				c = nil
			}
		}
		// A child that ended on its own and is not to be restarted has its
		// own outcome, even if Stop came at the same time.
		ok := ev.Code == 0
		if c != nil && (p.spec.Restart == RestartNever || (p.spec.Restart == RestartOnFailure && ok)) {
			p.emit(ev)
			var err error
			if !ok {
				err = &ExitError{Name: p.spec.Name, Status: ev.Status, Code: ev.Code, Stderr: ev.Stderr}
			}
			p.finish(err, Event{})
			return
		}
		if ctx.Err() != nil {
			p.emit(ev)
			p.finish(ErrStopped, Event{Kind: EventStopped, Run: ev.Run})
			return
		}
		var delay time.Duration
		var giveUp bool
		fails, delay, giveUp = p.backoff.Next(fails, p.clock.Now(), p.rand())
		ev.Failures = fails.Failures
		if giveUp {
			p.emit(ev)
			err := fmt.Errorf("%w: %s: %s after %.1f recent failures", ErrGaveUp, p.spec.Name, ev.Status, fails.Failures)
			if l := firstError(ev.Stderr); l != "" {
				err = fmt.Errorf("%w (%s)", err, l)
			}
			p.finish(err, Event{Kind: EventGaveUp, Run: ev.Run, Failures: fails.Failures, Err: err})
			return
		}
		ev.Restart, ev.Delay = true, delay
		p.emit(ev)
		if delay > 0 {
			select {
			case <-p.clock.After(delay):
			case <-ctx.Done():
				p.finish(ErrStopped, Event{Kind: EventStopped, Run: ev.Run})
				return
			}
		}
		var err error
		run := int(p.runs.Load()) + 1
		if c, err = p.launch(run); err != nil {
			c = nil
			ev = Event{Kind: EventExited, Run: run, Code: -1, Status: "start failed: " + err.Error()}
			continue
		}
		p.started(c, false)
	}
}

// cleared forgets the child that ended.
func (p *Process) cleared() {
	p.pid.Store(0)
	p.feed.Store(nil)
}

// terminate ends a running child: SIGTERM to its group, SIGKILL after the
// grace.
func (p *Process) terminate(c *child) {
	c.signal(syscall.SIGTERM)
	t := time.NewTimer(p.grace)
	defer t.Stop()
	select {
	case <-c.exited:
		return
	case <-t.C:
	}
	c.signal(syscall.SIGKILL)
	<-c.exited
}

func (p *Process) finish(err error, last Event) {
	if last.Kind != 0 {
		p.emit(last)
	}
	p.err = err
}

func (p *Process) emit(ev Event) {
	ev.Name = p.spec.Name
	if ev.At.IsZero() {
		ev.At = p.clock.Now()
	}
	attrs := []any{"pid", ev.Pid, "run", ev.Run}
	switch ev.Kind {
	case EventStarted:
		if ev.Renewed {
			p.log.Debug("gstreamer pipeline renewed", attrs...)
			break
		}
		p.log.Info("gstreamer pipeline started", attrs...)
	case EventExited:
		attrs = append(attrs, "status", ev.Status, "uptime", ev.Uptime.Round(time.Millisecond))
		if l := firstError(ev.Stderr); l != "" {
			attrs = append(attrs, "stderr", l)
		}
		switch {
		case ev.Restart:
			p.log.Warn("gstreamer pipeline exited; restarting", append(attrs, "delay", ev.Delay, "failures", ev.Failures)...)
		case ev.Code == 0:
			p.log.Debug("gstreamer pipeline ended", attrs...)
		default:
			p.log.Warn("gstreamer pipeline failed", attrs...)
		}
	case EventStopped:
		p.log.Info("gstreamer pipeline stopped", attrs...)
	case EventGaveUp:
		p.log.Error("gstreamer pipeline given up", append(attrs, "err", ev.Err)...)
	}
	if p.spec.OnEvent != nil {
		p.spec.OnEvent(ev)
	}
}

// readLines reads one output stream of a child line by line, bounded.
func (p *Process) readLines(c *child, r *os.File, stderr bool) {
	defer c.out.Done()
	defer r.Close()
	br := bufio.NewReaderSize(r, MaxLineLen)
	for {
		line, err := br.ReadSlice('\n')
		if n := len(line); n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) > 0 {
			p.line(c, line, stderr)
		}
		for err == bufio.ErrBufferFull { // skip the rest of an overlong line
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			return
		}
	}
}

// readRaw hands a child's stdout to OnStdoutRaw, then discards what it
// left.
func (p *Process) readRaw(c *child, r *os.File) {
	defer c.out.Done()
	defer r.Close()
	p.spec.OnStdoutRaw(struct{ io.Reader }{r}) // not the *os.File: the callee cannot close it
	_, _ = io.Copy(io.Discard, r)
}

func (p *Process) line(c *child, line []byte, stderr bool) {
	if !stderr && p.spec.OnStdout != nil && p.spec.OnStdout(line) {
		return
	}
	s := logText(line)
	if stderr {
		c.tail.add(s)
	}
	lim, level, stream := p.outLimit, slog.LevelDebug, "stdout"
	if stderr {
		lim, level, stream = p.errLimit, slog.LevelWarn, "stderr"
	}
	ok, suppressed := lim.allow(p.clock.Now())
	if !ok {
		return
	}
	attrs := []any{"pid", c.pid, "stream", stream, "line", s}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	p.log.Log(context.Background(), level, "gstreamer output", attrs...)
}

// logText makes an output line safe for a log: valid UTF-8, at most
// maxLogLine bytes.
func logText(b []byte) string {
	if len(b) > maxLogLine {
		b = b[:maxLogLine] // a rune cut in two becomes U+FFFD below
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// tail keeps the last stderr lines of a child, and its first GStreamer
// error: the cause, which the debug lines and the follow-up errors
// ("pipeline doesn't want to preroll") after it may push out.
type tail struct {
	mu    sync.Mutex
	l     []string
	first string
	lost  bool // first is no longer in l
}

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.first == "" && strings.HasPrefix(s, "ERROR:") {
		t.first = s
	}
	if len(t.l) == tailLines {
		if t.first != "" && t.l[0] == t.first {
			t.lost = true
		}
		copy(t.l, t.l[1:])
		t.l = t.l[:tailLines-1]
	}
	t.l = append(t.l, s)
}

func (t *tail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.l)+1)
	if t.lost {
		out = append(out, t.first)
	}
	return append(out, t.l...)
}

// feeder writes queued buffers to a child's stdin, one whole buffer at a
// time, in its own goroutine: only it ever blocks on the pipe.
type feeder struct {
	ch   chan []byte
	quit chan struct{}
	w    *os.File
	once sync.Once
}

func (f *feeder) run() {
	for {
		select {
		case b := <-f.ch:
			if _, err := f.w.Write(b); err != nil {
				return // the child is gone; Write keeps dropping into ch
			}
		case <-f.quit:
			return
		}
	}
}

func (f *feeder) stop() {
	f.once.Do(func() {
		close(f.quit)
		f.w.Close()
	})
}
