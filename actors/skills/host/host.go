// Package host runs the skill host: the Python process, shipped inside
// reachyd, that imports the user's skill files and runs their skills.
//
// Skill code never runs inside the daemon. The host (host.py, embedded in
// the binary) speaks over its stdin and stdout, as JSON lines, the topic-bus
// protocol a pymirokai SkillManager speaks over the topic WebSocket, so the
// skills actor attaches a Process to the topic broker like any WebSocket
// client, and an external SkillManager can attach the same way.
//
// Host -> daemon (Frames), client frames:
//
//	{"action":"subscribe","topic":"RPC_command"}            (and skills_list_command, at start)
//	{"action":"publish","topic":T,"data":{"name":T,"type":...,"data":...}}
//
// published on skills_list_result (every ListInterval and on request; the
// frame has a reachyd key "finishing" listing the sync skills whose
// cancelled run's thread still runs, which cannot start again yet),
// RPC_result (run results, whose data is JSON-RPC text, and cancel
// replies) and skill_manager_errors (one frame per change of a file's
// problem, with a reachyd "filename" key; an empty data clears that
// file's problem).
//
// Daemon -> host (Send), server frames of the subscribed topics:
//
//	{"name":"RPC_command","type":"dict","command":"run","data":{"jsonrpc":"2.0","method":F,"params":{...},"id":ID}}
//	{"name":"RPC_command","type":"str","data":"","command":"cancel","skill_name":F,"request_id":RID}
//	{"name":"skills_list_command","type":"str","data":""}
//
// (data may be a JSON string holding JSON, as pymirokai sends it).
//
// This package only starts, feeds and stops the process; it does not
// interpret the frames. The host runs in its own process group, dies with
// reachyd (parent-death signal on Linux), and whatever it started is
// killed when it exits.
//
// Imports have a deadline (Options.ImportTimeout). A thread stuck in an
// import cannot be stopped, so a host whose import does not finish in time
// reports the file on skill_manager_errors, remembers it in WorkDir (skipped
// until it changes) and exits with ErrImportStuck: the caller starts a new
// host, which skips it. A host so stuck that it cannot even notice (an
// import holding the interpreter) is killed by this package once the
// import has run ImportTimeout plus a grace, and the next host skips the
// file as well.
package host

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"reachyd/internal/deathsig"
)

//go:embed host.py
var script []byte

// Script returns the host's Python source (a copy), as Start writes it.
func Script() []byte { return bytes.Clone(script) }

// ScriptName is the file Start writes in Options.WorkDir.
const ScriptName = "reachyd-skill-host.py"

// MaxFrame is the longest frame either way, newline excluded. It is the
// pymirokai client's WebSocket message limit (1 MiB): a longer frame could
// not be relayed to it anyway. The host keeps its own frames under it (an
// oversized skill result is replaced by an ERROR result).
const MaxFrame = 1 << 20

// SendQueue is how many frames Send queues for the host's stdin.
const SendQueue = 1024

// maxLogLine caps one stderr line handed to Options.Log; the rest of the
// line is dropped so a skill printing megabytes without a newline cannot
// grow the daemon's memory.
const maxLogLine = 16 << 10

// Bounded internal waits; variables so tests could shorten them.
var (
	// abandonWait is how long frames read after the host exited wait for
	// a consumer; after it they are dropped so Done cannot hang on a
	// caller that stopped reading Frames.
	abandonWait = 2 * time.Second
	// drainWait bounds the wait for EOF on the pipes after the host
	// exited (a process that left the group may still hold stderr).
	drainWait = 2 * time.Second
	// killWait bounds Stop's wait after SIGKILL.
	killWait = 5 * time.Second
)

// Errors of Send and Err.
var (
	// ErrQueueFull: the host is not reading its stdin fast enough. The
	// caller decides: drop the frame, or restart a stuck host.
	ErrQueueFull = errors.New("skill host: send queue full")
	// ErrClosed: the host's stdin is closed (Stop, CloseInput or exit).
	ErrClosed = errors.New("skill host: input closed")
	// ErrBadFrame: the frame holds a newline or exceeds MaxFrame.
	ErrBadFrame = errors.New("skill host: bad frame")
	// ErrRunning is what Err returns before Done is closed.
	ErrRunning = errors.New("skill host: still running")
	// ErrImportStuck: the host exited because a skill file's import did
	// not finish within ImportTimeout (or it was killed for it). Start a
	// new host: it skips that file until the file changes.
	ErrImportStuck = errors.New("skill host: a skill file blocked at import")
)

// exitImportStuck is the host's exit status for ErrImportStuck.
const exitImportStuck = 3

// DefaultImportTimeout is Options.ImportTimeout when zero.
const DefaultImportTimeout = 10 * time.Second

// State files of the host in WorkDir: the import in progress, and the files
// skipped until they change.
const (
	importingFile = "importing.json"
	skippedFile   = "import-skipped.json"
)

// Options configure Start.
type Options struct {
	// Python is the interpreter; "python3" (looked up in PATH) if empty.
	Python string
	// SkillsDir is scanned recursively for *.py skill files. Required.
	SkillsDir string
	// APIURL is the daemon's HTTP API the robot proxy calls;
	// http://127.0.0.1:8000 if empty.
	APIURL string
	// ListInterval is how often the host publishes its skills list (and
	// rescans the folder); 1 s if zero.
	ListInterval time.Duration
	// WorkDir receives the script (mode 0600, the folder 0700 when it is
	// created) and is the host's working directory, so a skill writing a
	// relative path writes outside the scanned folder. Required.
	WorkDir string
	// ImportTimeout bounds the import of one skill file; 10 s if zero.
	ImportTimeout time.Duration
	// ForgetSkipped clears the host's record of the files it skips (those
	// whose import hung or crashed the host) before it starts: set it for
	// the first host of a daemon, so a restart of reachyd gives every file
	// another chance.
	ForgetSkipped bool
	// Env is the host's environment; nil inherits reachyd's.
	Env []string
	// Log receives each stderr line (the host's log and whatever skills
	// print), and the package's own notes prefixed "skillhost: ". It is
	// called from reading goroutines and must return quickly. May be nil.
	Log func(line string)
}

// Process is a running (or finished) skill host. Its methods are safe for
// concurrent use.
type Process struct {
	cmd *exec.Cmd
	pid int
	log func(string)

	stdin          *os.File // our end of the host's stdin
	stdout, stderr *os.File // our ends of its stdout and stderr

	sendq     chan []byte
	frames    chan []byte
	closing   chan struct{} // closed when stdin is to be closed
	closeOnce sync.Once
	abandon   chan struct{} // closed abandonWait after exit: undelivered frames are dropped
	done      chan struct{}
	io        sync.WaitGroup // the stdin writer and the two readers

	mu     sync.Mutex
	reaped bool // the leader is reaped: its pid (= group id) may be reused
	stuck  bool // killed by the import watch
	err    error
}

// Start writes the script into opt.WorkDir and starts
// `python -u -B script --skills-dir D --api-url U --list-interval S`
// in its own process group.
func Start(opt Options) (*Process, error) {
	if opt.SkillsDir == "" {
		return nil, errors.New("skill host: no skills folder")
	}
	if opt.WorkDir == "" {
		return nil, errors.New("skill host: no work folder")
	}
	if opt.Python == "" {
		opt.Python = "python3"
	}
	if opt.APIURL == "" {
		opt.APIURL = "http://127.0.0.1:8000"
	}
	if opt.ListInterval <= 0 {
		opt.ListInterval = time.Second
	}
	if opt.ImportTimeout <= 0 {
		opt.ImportTimeout = DefaultImportTimeout
	}
	if opt.Log == nil {
		opt.Log = func(string) {}
	}
	// Absolute paths: the host runs in WorkDir, where relative ones
	// would point elsewhere.
	skills, err := filepath.Abs(opt.SkillsDir)
	if err != nil {
		return nil, fmt.Errorf("skill host: %w", err)
	}
	if opt.WorkDir, err = filepath.Abs(opt.WorkDir); err != nil {
		return nil, fmt.Errorf("skill host: %w", err)
	}
	path, err := writeScript(opt.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("skill host: write script: %w", err)
	}
	if opt.ForgetSkipped {
		for _, name := range []string{importingFile, skippedFile} {
			if err := os.Remove(filepath.Join(opt.WorkDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("skill host: %w", err)
			}
		}
	}

	// Our ends of the pipes are *os.File in non-blocking mode, so Close
	// interrupts a blocked Write and read deadlines work.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("skill host: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, fmt.Errorf("skill host: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW, outR, outW)
		return nil, fmt.Errorf("skill host: %w", err)
	}

	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	cmd := exec.Command(opt.Python, "-u", "-B", path,
		"--skills-dir", skills, "--api-url", opt.APIURL, "--list-interval", secs(opt.ListInterval),
		"--import-timeout", secs(opt.ImportTimeout), "--state-dir", opt.WorkDir)
	cmd.Dir = opt.WorkDir
	cmd.Env = opt.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	cmd.SysProcAttr = sysProcAttr()

	p := &Process{
		cmd: cmd, log: opt.Log,
		stdin: inW, stdout: outR, stderr: errR,
		sendq:   make(chan []byte, SendQueue),
		frames:  make(chan []byte, 16),
		closing: make(chan struct{}),
		abandon: make(chan struct{}),
		done:    make(chan struct{}),
	}

	// The host dies with reachyd, and only then (internal/deathsig).
	err = deathsig.Start(cmd, syscall.SIGKILL)
	closeAll(inR, outW, errW) // the child has its copies; EOF needs ours gone
	if err != nil {
		closeAll(inW, outR, errR)
		return nil, fmt.Errorf("skill host: start %s: %w", opt.Python, err)
	}
	p.pid = cmd.Process.Pid
	p.io.Add(3)
	go p.writeFrames()
	go p.readFrames()
	go p.readLog()
	go p.watchImports(filepath.Join(opt.WorkDir, importingFile), opt.ImportTimeout+importGrace(opt.ImportTimeout))
	go p.wait()
	return p, nil
}

// writeScript writes the script atomically (temporary file, fsync,
// rename) so a host starting meanwhile never reads half a script.
func writeScript(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".skill-host-*.tmp") // mode 0600
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = f.Write(script)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	final := filepath.Join(dir, ScriptName)
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return final, nil
}

func closeAll(fs ...*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// wait runs on the locked thread that forked the host. It ends the rest
// of the group while the leader's pid is still pinned (an unreaped zombie
// keeps its pid, hence the group id, from being reused), reaps the leader,
// then drains the pipes and closes done.
func (p *Process) wait() {
	waitExited(p.pid)
	p.mu.Lock()
	// Skills may have started processes: none outlives the host.
	killGroupLocked(p.pid, p.reaped)
	p.reaped = true
	p.mu.Unlock()
	werr := p.cmd.Wait()

	p.closeInput()
	time.AfterFunc(abandonWait, func() { close(p.abandon) })
	drained := make(chan struct{})
	go func() {
		p.io.Wait()
		close(drained)
	}()
	t := time.NewTimer(drainWait)
	select {
	case <-drained:
	case <-t.C:
		// Someone outside the group still holds a pipe (a process that
		// left the group, or a fork holding the protocol's stdin): stop
		// reading, and unblock a Write.
		now := time.Now()
		p.stdout.SetReadDeadline(now)
		p.stderr.SetReadDeadline(now)
		p.stdin.Close()
		<-drained
	}
	t.Stop()
	closeAll(p.stdout, p.stderr)

	p.mu.Lock()
	var exit *exec.ExitError
	switch {
	case p.stuck || errors.As(werr, &exit) && exit.ExitCode() == exitImportStuck:
		p.err = fmt.Errorf("%w (%w)", ErrImportStuck, werr)
	case werr != nil:
		p.err = fmt.Errorf("skill host: %w", werr)
	}
	p.mu.Unlock()
	close(p.done)
}

// importGrace is how long past its timeout an import may run before the
// host is killed: the host's own deadline fires at the timeout, so this
// only catches a host too stuck to act on it.
func importGrace(timeout time.Duration) time.Duration { return max(timeout, 2*time.Second) }

// watchImports kills the host when the import it records in marker has
// run longer than limit: the host's own deadline did not fire, so its
// interpreter is held (an import in C code that never yields). The next
// host finds the marker and skips that file.
func (p *Process) watchImports(marker string, limit time.Duration) {
	tick := time.NewTicker(min(limit/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		st, err := os.Stat(marker)
		if err != nil || time.Since(st.ModTime()) < limit {
			continue
		}
		b, err := os.ReadFile(marker)
		var m struct {
			Pid  int    `json:"pid"`
			File string `json:"file"`
		}
		if err != nil || json.Unmarshal(b, &m) != nil || m.Pid != p.pid {
			continue // a previous host's, or being rewritten
		}
		p.logf("the import of %s has run for more than %v and the host does not answer: killed", m.File, limit)
		p.mu.Lock()
		p.stuck = true
		p.mu.Unlock()
		p.signalGroup(sigKill)
		return
	}
}

// Pid is the host's process id (also its process group id).
func (p *Process) Pid() int { return p.pid }

// Frames delivers each line the host writes on stdout: one client frame
// ({"action":...}) per line, without the newline, at most MaxFrame bytes
// (longer lines are dropped and logged). It is closed after the last line.
// Read it until it is closed: the host blocks when it is not read, and
// once the host has exited, lines nobody reads within 2 s are dropped.
func (p *Process) Frames() <-chan []byte { return p.frames }

// Done is closed when the host has exited, its pipes are drained and every
// goroutine of the Process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit status once Done is closed: nil for a clean exit (code
// 0), else an error wrapping the *exec.ExitError. Before Done it returns
// ErrRunning.
func (p *Process) Err() error {
	select {
	case <-p.done:
	default:
		return ErrRunning
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Send queues one server frame ({"name":T,"type":...,"data":...}) for the
// host's stdin without blocking; frame is copied. A nil error means
// queued, not delivered. It fails with ErrQueueFull when SendQueue frames
// are waiting (the host is stuck or flooded: the caller decides whether to
// drop or restart), ErrClosed after Stop, CloseInput or exit, and
// ErrBadFrame for a frame with a newline inside or over MaxFrame.
func (p *Process) Send(frame []byte) error {
	frame = bytes.TrimRight(frame, "\r\n")
	if len(frame) > MaxFrame || bytes.IndexByte(frame, '\n') >= 0 {
		return ErrBadFrame
	}
	select {
	case <-p.closing:
		return ErrClosed
	default:
	}
	line := make([]byte, len(frame)+1)
	copy(line, frame)
	line[len(frame)] = '\n'
	select {
	case p.sendq <- line:
		return nil
	default:
		return ErrQueueFull
	}
}

// CloseInput closes the host's stdin once the frames already queued are
// written, which asks it to cancel its running skills and exit with code 0.
// It does not wait.
func (p *Process) CloseInput() { p.closeInput() }

// closeInput stops Send; the writer writes what is queued, then closes
// stdin.
func (p *Process) closeInput() {
	p.closeOnce.Do(func() { close(p.closing) })
}

// Stop closes the host's stdin and sends SIGTERM to its process group
// (the host then cancels its skills, each reporting CANCELLED, and exits);
// if it has not exited after grace, the group gets SIGKILL. Stop returns
// when Done is closed, or 5 s after the SIGKILL at the latest. The host
// gives cancelled skills up to 3 s to finish, then up to 2 s to flush its
// frames: a grace of 6 s lets even a skill that ignores its cancellation
// be reported.
func (p *Process) Stop(grace time.Duration) {
	p.closeInput()
	p.signalGroup(sigTerm)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	p.logf("host did not exit within %v: SIGKILL", grace)
	p.signalGroup(sigKill)
	k := time.NewTimer(killWait)
	defer k.Stop()
	select {
	case <-p.done:
	case <-k.C:
		p.logf("host still not done %v after SIGKILL", killWait)
	}
}

// signalGroup signals the host's group unless the leader is reaped (then
// the group id may belong to someone else).
func (p *Process) signalGroup(sig signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		signalGroup(p.pid, sig)
	}
}

func (p *Process) logf(format string, args ...any) {
	p.log("skillhost: " + fmt.Sprintf(format, args...))
}

// writeFrames copies queued frames to the host's stdin until the input is
// closed (then what is queued is written first) or the host stops reading
// it for good (broken pipe). A Write cannot block forever: once the host
// has exited nobody holds the pipe's read end (the host's copy is
// close-on-exec and its fd 0 is /dev/null), so it fails with EPIPE.
func (p *Process) writeFrames() {
	defer p.io.Done()
	defer p.stdin.Close()
	defer p.closeInput() // a broken pipe closes the input: Send says so
	write := func(line []byte) bool {
		if _, err := p.stdin.Write(line); err != nil {
			p.logf("stdin write failed: %v", err)
			return false
		}
		return true
	}
	for {
		select {
		case line := <-p.sendq:
			if !write(line) {
				return
			}
		case <-p.closing:
			for {
				select {
				case line := <-p.sendq:
					if !write(line) {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// readFrames splits stdout into lines and delivers them on frames. Its
// memory is bounded by MaxFrame: a longer line is skipped as it is read.
func (p *Process) readFrames() {
	defer p.io.Done()
	defer close(p.frames)
	r := bufio.NewReaderSize(p.stdout, 64<<10)
	var line []byte
	skipped := 0 // > 0 while skipping an oversized line
	dropped := 0 // lines read after exit that nobody took
	for {
		chunk, err := r.ReadSlice('\n')
		if skipped > 0 || len(line)+len(chunk) > MaxFrame+2 { // +2: "\r\n"
			skipped += len(line) + len(chunk)
			line = line[:0]
		} else {
			line = append(line, chunk...)
		}
		end := err == nil || (err != bufio.ErrBufferFull && len(line) > 0)
		if end {
			if skipped > 0 {
				if err == nil { // the oversized line ended
					p.logf("dropped a stdout line of %d bytes (limit %d)", skipped, MaxFrame)
					skipped = 0
				}
			} else if f := bytes.TrimRight(line, "\r\n"); len(f) > MaxFrame {
				p.logf("dropped a stdout line of %d bytes (limit %d)", len(f), MaxFrame)
			} else if len(f) > 0 {
				if !p.deliver(bytes.Clone(f)) {
					dropped++
				}
			}
			line = line[:0]
		}
		if err != nil && err != bufio.ErrBufferFull {
			if err != io.EOF && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, os.ErrClosed) {
				p.logf("stdout read failed: %v", err)
			}
			if skipped > 0 {
				p.logf("dropped an unterminated stdout line of %d bytes (limit %d)", skipped, MaxFrame)
			}
			if dropped > 0 {
				p.logf("%d frames read after exit were not consumed", dropped)
			}
			return
		}
	}
}

// deliver hands one frame to the consumer; after the host exited it waits
// at most until abandon.
func (p *Process) deliver(f []byte) bool {
	select {
	case p.frames <- f:
		return true
	case <-p.abandon:
		return false
	}
}

// readLog passes each stderr line to Log, cutting lines at maxLogLine.
func (p *Process) readLog() {
	defer p.io.Done()
	r := bufio.NewReaderSize(p.stderr, 16<<10)
	var line []byte
	cut := 0
	for {
		chunk, err := r.ReadSlice('\n')
		room := maxLogLine - len(line)
		if len(chunk) > room {
			cut += len(chunk) - max(room, 0)
			chunk = chunk[:max(room, 0)]
		}
		line = append(line, chunk...)
		if err == nil || (err != bufio.ErrBufferFull && len(line) > 0) {
			s := strings.ToValidUTF8(string(bytes.TrimRight(line, "\r\n")), "\uFFFD")
			if cut > 0 {
				s += fmt.Sprintf(" [%d more bytes cut]", cut)
			}
			p.log(s)
			line, cut = line[:0], 0
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}
