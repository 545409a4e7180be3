// Package procs runs user apps as supervised subprocesses and makes sure
// none of their processes outlive them.
//
// Each app runs in its own process group so the whole group can be
// signalled. On Linux the leader also gets Pdeathsig=SIGKILL (dies with
// reachyd), and every process of the app is tracked, not only its group:
//
//   - in a cgroup of its own when reachyd may create one (Cgroups), which
//     holds whatever the app starts, whatever it does;
//   - by its ancestry, walked in /proc: reachyd is a child subreaper
//     (EnableSubreaper), so a process whose parent died (a daemon that
//     called setsid and was left behind) is reparented to reachyd instead of
//     init and stays found;
//   - by a token in its environment (TokenEnv), inherited by what the app
//     starts, for the processes orphaned before they were seen.
//
// Whatever is left when the leader exits is ended before Done fires. The
// pid record (record.go), written before the app runs and kept up to date
// with every process seen, lets a restarted reachyd end what a crashed one
// left behind.
package procs

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// MaxLine is the longest line passed to a sink; longer lines are split
// into chunks of at most MaxLine bytes (at a rune boundary when possible).
const MaxLine = 64 * 1024

// TailLines is the number of stderr lines kept for Tail. ErrorText uses
// the last 10 like the reference.
const TailLines = 20

// tailLineMax caps each line kept in the tail ring so the ring stays small
// even when an app prints huge lines.
const tailLineMax = 4096

// Internal bounded waits. Variables so tests can shorten them.
var (
	// killWait bounds the wait for SIGKILLed group members to die (a
	// process stuck in uninterruptible sleep dies only when it wakes).
	killWait = 5 * time.Second
	// escapeCheck is how long the pipes may stay open after the group is
	// gone before reachyd looks for descendants that left the group but
	// still hold the app's output pipes.
	escapeCheck = 50 * time.Millisecond
	// drainTimeout bounds the wait for EOF on the pipes after the leader
	// is reaped; then the reads are cut so Done always fires.
	drainTimeout = 2 * time.Second
	// trackEvery is how often the app's processes are listed while it
	// runs (and the pid record updated when they change).
	trackEvery = 500 * time.Millisecond
)

// ErrRunning is ExitStatus.Err before the process is done.
var ErrRunning = errors.New("process still running")

// Spec describes the program to run.
type Spec struct {
	Name string
	// Path is the program; without a slash it is looked up in PATH.
	Path string
	Args []string
	Dir  string
	// Env nil inherits reachyd's environment; an empty non-nil slice
	// gives an empty one. TokenEnv is added either way.
	Env []string
	// Record, if set, is the path of the app's pid record. It is written
	// before the app runs: if it cannot be, Start fails and runs nothing;
	// if the full record cannot be written once the leader runs, the app
	// is killed and Start fails.
	Record string
	// Cgroups, if set, runs the app in a cgroup of its own there (see
	// Cgroups); without it, or if the cgroup cannot be made, the app's
	// processes are tracked through /proc only (see Mechanism).
	Cgroups *Cgroups
}

// TokenEnv is the environment variable that marks every process of an app
// with a random token of its run.
const TokenEnv = "REACHYD_APP_TOKEN"

// Stream tells which pipe a Line came from.
type Stream int

const (
	Stdout Stream = 1
	Stderr Stream = 2
)

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return fmt.Sprintf("Stream(%d)", int(s))
}

// Line is one line of app output, without its line ending, valid UTF-8.
type Line struct {
	Stream Stream
	Text   string
	At     time.Time
}

// ExitStatus is how the process ended.
type ExitStatus struct {
	// Code is the exit code, -1 if killed by a signal or unknown.
	Code int
	// Signal is the name of the killing signal (e.g. "SIGKILL"), or "".
	Signal string
	// Err is set when the status could not be read (or ErrRunning).
	Err error
}

// String uses the reference's wording: "Process exited with code N".
func (s ExitStatus) String() string {
	switch {
	case s.Signal != "":
		return "Process killed by signal " + s.Signal
	case s.Err != nil:
		return "Process failed: " + s.Err.Error()
	}
	return fmt.Sprintf("Process exited with code %d", s.Code)
}

// procKey names one process: a pid and its start time, so a reused pid is
// never taken for the process that had it.
type procKey struct {
	pid   int
	ticks uint64
}

// Process is a running (or finished) app. Its methods are safe for
// concurrent use.
type Process struct {
	spec    Spec
	cmd     *exec.Cmd
	pid     int
	started time.Time
	ident   procIdent // Linux: start ticks, session, boot id

	outR, errR *os.File
	pipeInos   []uint64
	readers    sync.WaitGroup
	done       chan struct{}
	exit       ExitStatus // written once before done is closed

	mu           sync.Mutex
	reaped       bool      // leader reaped: its pgid may be reused, no more group signals
	intSent      bool      // SIGINT sent once by Stop
	killed       bool      // Kill called (or Stop's grace ran out)
	stopDeadline time.Time // set by Stop: group members get until then after the leader exits
	tail         [TailLines]string
	tailN        int // lines ever added
	tailBytes    int

	bufBytes atomic.Int64 // bytes held by the readers' buffers

	token     string  // the value of TokenEnv for this run
	cg        *cgroup // the app's cgroup, or nil
	mechanism string  // how the app's processes are tracked, for the log

	trackMu   sync.Mutex
	known     map[procKey]bool // the app's processes seen, besides the leader
	recorded  []Member         // the members in the record as last written
	stopTrack chan struct{}
	trackDone chan struct{}
}

// Start runs spec in its own process group. Each output line is passed to
// sink from the reading goroutine (one per stream), so lines of one stream
// arrive in order. sink must return quickly (hand the line to an actor):
// reading waits for it, so a slow sink slows the app down (the pipe fills
// and the app blocks writing) rather than growing reachyd's memory. sink
// must not call Stop (Stop waits for the readers, hence for sink). sink
// may be nil.
func Start(spec Spec, sink func(Line)) (*Process, error) {
	return start(spec, sink, true)
}

// writeRecord writes pid records; a variable so tests can make it fail.
var writeRecord = WriteRecord

func start(spec Spec, sink func(Line), deathSig bool) (*Process, error) {
	if spec.Path == "" {
		return nil, errors.New("procs: empty path")
	}
	p := &Process{spec: spec, done: make(chan struct{}), known: map[procKey]bool{},
		stopTrack: make(chan struct{}), trackDone: make(chan struct{})}
	p.token = newToken()
	p.mechanism = "process tree (/proc)"
	if spec.Cgroups != nil {
		cg, err := spec.Cgroups.create()
		if err != nil {
			p.mechanism += "; no cgroup: " + err.Error()
		} else {
			p.cg = cg
		}
	}
	fail := func(err error) (*Process, error) {
		if p.cg != nil {
			p.cg.remove()
		}
		return nil, err
	}
	// The record first: an app never runs without one.
	if spec.Record != "" {
		r := Record{Name: spec.Name, Path: spec.Path, Started: time.Now(), Token: p.token}
		r.BootID, _ = bootID()
		if p.cg != nil {
			r.Cgroup = p.cg.dir
		}
		if err := writeRecord(spec.Record, r); err != nil {
			return fail(fmt.Errorf("procs: cannot write the pid record: %w", err))
		}
		inner := fail
		fail = func(err error) (*Process, error) {
			_ = RemoveRecord(spec.Record)
			return inner(err)
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fail(err)
	}
	p.outR, p.errR = outR, errR
	env := spec.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(env[:len(env):len(env)], TokenEnv+"="+p.token)
	command := func(cg *cgroup) *exec.Cmd {
		cmd := exec.Command(spec.Path, spec.Args...)
		cmd.Dir = spec.Dir
		cmd.Env = env
		cmd.Stdout = outW // *os.File: handed to the child as is, no copying goroutine
		cmd.Stderr = errW
		cmd.SysProcAttr = sysProcAttr(deathSig, cg)
		return cmd
	}
	for _, f := range []*os.File{outR, errR} {
		// Stat, not Fd: Fd would put the pipe in blocking mode and
		// disable read deadlines.
		if fi, err := f.Stat(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				p.pipeInos = append(p.pipeInos, uint64(st.Ino))
			}
		}
	}

	// Pdeathsig is tied to the OS thread that forked the child, not to
	// the process: Linux signals the child when that thread exits, and
	// the Go runtime ends a thread whenever a goroutine exits while
	// locked to it (golang/go#27505). So the child is forked from a
	// goroutine that locks its thread and stays on it, blocked waiting
	// for the child, until the child has exited. No other goroutine can
	// run on (and end) that thread meanwhile.
	registerLive(p) // before it can end (and unregister)
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		cmd := command(p.cg)
		err := cmd.Start()
		if err != nil && p.cg != nil {
			// Starting into the cgroup (clone3, Linux 5.7+) failed: start
			// as usual, then move the process in.
			cmd = command(nil)
			if err = cmd.Start(); err == nil {
				if merr := p.cg.move(cmd.Process.Pid); merr != nil {
					p.mechanism = "process tree (/proc); no cgroup: " + merr.Error()
					p.cg.remove()
					p.cg = nil
				}
			}
		}
		if err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		p.cmd = cmd
		p.pid = cmd.Process.Pid
		dropRealtime(p.pid)
		p.started = time.Now()
		p.ident = readIdent(p.pid)
		if p.cg != nil {
			p.mechanism = "cgroup " + p.cg.dir + " and process tree (/proc)"
		}
		p.readers.Add(2)
		go p.read(outR, Stdout, sink)
		go p.read(errR, Stderr, sink)
		started <- nil
		p.wait() // unlocks the thread once the leader has exited
	}()
	err = <-started
	// The child has its own copies; ours must go so that EOF comes when
	// the app's side closes.
	outW.Close()
	errW.Close()
	if err != nil {
		unregisterLive(p)
		outR.Close()
		errR.Close()
		return fail(err)
	}
	go p.track()
	if spec.Record != "" {
		if err := writeRecord(spec.Record, RecordOf(p, "")); err != nil {
			p.Kill()
			<-p.done
			return nil, fmt.Errorf("procs: cannot write the pid record: %w", err)
		}
	}
	return p, nil
}

// newToken is a random token for TokenEnv.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Mechanism says how the app's processes are tracked (a cgroup, the
// process tree), for the log.
func (p *Process) Mechanism() string { return p.mechanism }

// cleanup removes the app's cgroup and pid record once nothing of it runs.
func (p *Process) cleanup() {
	if p.cg != nil {
		p.cg.remove()
	}
	if p.spec.Record != "" {
		_ = RemoveRecord(p.spec.Record)
	}
}

// track keeps the list of the app's processes (and the pid record) up to
// date while it runs.
func (p *Process) track() {
	defer close(p.trackDone)
	t := time.NewTicker(trackEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stopTrack:
			return
		case <-t.C:
		}
		p.members(false)
		p.updateRecord()
	}
}

// updateRecord rewrites the pid record if the app's processes changed.
func (p *Process) updateRecord() {
	if p.spec.Record == "" {
		return
	}
	p.trackMu.Lock()
	cur := make([]Member, 0, len(p.known))
	for k := range p.known {
		cur = append(cur, Member{Pid: k.pid, StartTicks: k.ticks})
	}
	slices.SortFunc(cur, func(a, b Member) int { return a.Pid - b.Pid })
	if len(cur) > maxRecordMembers {
		cur = cur[:maxRecordMembers]
	}
	same := slices.Equal(cur, p.recorded)
	if !same {
		p.recorded = cur
	}
	p.trackMu.Unlock()
	if !same {
		_ = writeRecord(p.spec.Record, RecordOf(p, ""))
	}
}

// wait runs on the locked thread that forked the child: it reaps the
// leader (after ending the rest of its group), drains the pipes and
// closes done.
func (p *Process) wait() {
	werr := p.reap()
	p.exit = exitStatus(p.cmd.ProcessState, werr)
	p.drain()
	close(p.stopTrack)
	<-p.trackDone
	p.cleanup()
	unregisterLive(p)
	close(p.done)
}

func exitStatus(ps *os.ProcessState, werr error) ExitStatus {
	if ps == nil {
		if werr == nil {
			werr = errors.New("no process state")
		}
		return ExitStatus{Code: -1, Err: werr}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		switch {
		case ws.Exited():
			return ExitStatus{Code: ws.ExitStatus()}
		case ws.Signaled():
			return ExitStatus{Code: -1, Signal: unix.SignalName(ws.Signal())}
		}
	}
	return ExitStatus{Code: ps.ExitCode()}
}

// drain waits for EOF on both pipes. Descendants that left the group but
// still hold a pipe are ended (Linux); as a last resort the reads are cut
// after drainTimeout so Done always fires.
func (p *Process) drain() {
	drained := make(chan struct{})
	go func() {
		p.readers.Wait()
		close(drained)
	}()
	t := time.NewTimer(escapeCheck)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.C:
		killPipeHolders(p.pipeInos)
		t.Reset(drainTimeout)
		select {
		case <-drained:
		case <-t.C:
			now := time.Now()
			p.outR.SetReadDeadline(now)
			p.errR.SetReadDeadline(now)
			<-drained
		}
	}
	p.outR.Close()
	p.errR.Close()
}

// read passes the lines of one pipe to sink. Its buffer is the only
// memory it holds: MaxLine+1 bytes, so a line of exactly MaxLine bytes
// plus its newline is not split.
func (p *Process) read(f *os.File, s Stream, sink func(Line)) {
	defer p.readers.Done()
	buf := make([]byte, MaxLine+1)
	p.bufBytes.Add(int64(len(buf)))
	defer p.bufBytes.Add(-int64(len(buf)))
	n := 0
	for {
		m, err := f.Read(buf[n:])
		n += m
		start := 0
		for {
			i := bytes.IndexByte(buf[start:n], '\n')
			if i < 0 {
				break
			}
			line := buf[start : start+i]
			line = bytes.TrimSuffix(line, []byte{'\r'})
			p.emit(s, line, sink)
			start += i + 1
		}
		n = copy(buf, buf[start:n])
		if n == len(buf) {
			cut := runeCut(buf, MaxLine)
			p.emit(s, buf[:cut], sink)
			n = copy(buf, buf[cut:n])
		}
		if err != nil {
			if n > 0 {
				p.emit(s, buf[:n], sink)
			}
			return
		}
	}
}

// runeCut returns where to cut b at or before max without splitting a
// UTF-8 sequence (max itself if b[max] starts a rune or b is not UTF-8).
func runeCut(b []byte, max int) int {
	if max >= len(b) || utf8.RuneStart(b[max]) {
		return max
	}
	for j := max - 1; j >= 0 && j > max-utf8.UTFMax; j-- {
		if utf8.RuneStart(b[j]) {
			if !utf8.FullRune(b[j:max]) {
				return j
			}
			break
		}
	}
	return max
}

func (p *Process) emit(s Stream, b []byte, sink func(Line)) {
	var text string
	if utf8.Valid(b) {
		text = string(b)
	} else {
		text = strings.ToValidUTF8(string(b), "\uFFFD")
	}
	if s == Stderr {
		p.addTail(text)
	}
	if sink != nil {
		sink(Line{Stream: s, Text: text, At: time.Now()})
	}
}

func (p *Process) addTail(text string) {
	if len(text) > tailLineMax {
		text = text[:runeCut([]byte(text[:tailLineMax+1]), tailLineMax)]
	}
	p.mu.Lock()
	i := p.tailN % TailLines
	p.tailBytes += len(text) - len(p.tail[i])
	p.tail[i] = text
	p.tailN++
	p.mu.Unlock()
}

// Tail returns the last n stderr lines (at most TailLines), oldest first.
// Lines longer than 4 KiB are truncated in the tail (not in the sink).
func (p *Process) Tail(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	have := min(p.tailN, TailLines)
	n = max(0, min(n, have))
	out := make([]string, 0, n)
	for k := p.tailN - n; k < p.tailN; k++ {
		out = append(out, p.tail[k%TailLines])
	}
	return out
}

// ErrorText is the reference's error for a failed app: the exit status
// and the last 10 stderr lines.
func (p *Process) ErrorText() string {
	return p.Exit().String() + "\n" + strings.Join(p.Tail(10), "\n")
}

// buffered is what the package holds in memory for p's output.
func (p *Process) buffered() int64 {
	p.mu.Lock()
	tb := p.tailBytes
	p.mu.Unlock()
	return p.bufBytes.Load() + int64(tb)
}

// Name returns the spec's name.
func (p *Process) Name() string { return p.spec.Name }

// Pid is the leader's process id.
func (p *Process) Pid() int { return p.pid }

// Pgid is the app's process group id (the leader's pid).
func (p *Process) Pgid() int { return p.pid }

// Started is when the process was started.
func (p *Process) Started() time.Time { return p.started }

// Done is closed when the leader has exited, the rest of its group is
// gone and both pipes are drained.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit is the exit status once Done is closed; before that its Err is
// ErrRunning.
func (p *Process) Exit() ExitStatus {
	select {
	case <-p.done:
		return p.exit
	default:
		return ExitStatus{Code: -1, Err: ErrRunning}
	}
}

// signalGroup signals the whole group unless the leader is reaped: an
// unreaped leader (alive or zombie) keeps the group id from being reused,
// so the signal cannot reach an unrelated group.
func (p *Process) signalGroup(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		unix.Kill(-p.pid, sig)
	}
}

// Stop asks the app to stop like Ctrl-C in a terminal (SIGINT to the whole
// group, once), waits up to grace, then SIGKILLs the group, and returns
// once Done is closed. Group members that outlive the leader get what is
// left of grace, then SIGKILL. Safe to call more than once and while the
// process exits by itself.
func (p *Process) Stop(grace time.Duration) ExitStatus {
	select {
	case <-p.done:
		return p.exit
	default:
	}
	dl := time.Now().Add(grace)
	p.mu.Lock()
	if p.stopDeadline.IsZero() || dl.Before(p.stopDeadline) {
		p.stopDeadline = dl
	}
	sendInt := !p.intSent && !p.reaped
	p.intSent = true
	if sendInt {
		unix.Kill(-p.pid, unix.SIGINT)
	}
	p.mu.Unlock()
	if sendInt {
		// Those that left the group are asked too.
		p.signalEscaped(unix.SIGINT)
	}

	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return p.exit
	case <-t.C:
	}
	p.Kill()
	<-p.done
	return p.exit
}

// Kill SIGKILLs the whole group and every other process of the app at
// once. It does not wait: see Done.
func (p *Process) Kill() {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	p.signalGroup(unix.SIGKILL)
	p.killTree()
}

// live are the processes started and not yet done, so that EndAll can end
// them whatever happened to their monitors.
var live struct {
	sync.Mutex
	set map[*Process]bool
}

func registerLive(p *Process) {
	live.Lock()
	if live.set == nil {
		live.set = map[*Process]bool{}
	}
	live.set[p] = true
	live.Unlock()
}

func unregisterLive(p *Process) {
	live.Lock()
	delete(live.set, p)
	live.Unlock()
}

// EndRecorded kills every process still running whose pid record is at
// path (one daemon's), with every process of its app, and waits up to
// timeout for them: a safety net for a daemon that exits while an app's
// monitor could not stop it. It returns how many apps it had to end.
func EndRecorded(path string, timeout time.Duration) int {
	live.Lock()
	var ps []*Process
	for p := range live.set {
		if path != "" && p.spec.Record == path {
			ps = append(ps, p)
		}
	}
	live.Unlock()
	end := time.After(timeout)
	for _, p := range ps {
		p.Kill()
	}
	for _, p := range ps {
		select {
		case <-p.done:
		case <-end:
			return len(ps)
		}
	}
	return len(ps)
}
