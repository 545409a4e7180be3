// Package logstream follows the daemon's log for the reference's log
// streams: WS /logs/ws/daemon and the data channel's subscribe_logs
// (daemon-api 1.4.10, 2.4). The reference runs `journalctl -u
// reachy-mini-daemon -b -f -n 100 --output short-iso` for each client;
// reachyd does the same for its own unit when it runs under systemd
// (Journal, a supervised journalctl child per client), and otherwise
// streams its own log lines from the daemon-wide tail of kit.LogRing (Ring),
// in the same shape: "<ISO time> <rest of the line>".
//
// Every stream is bounded: a line is cut at MaxLine bytes, the channel of
// lines holds a few dozen, and a reader that stops reading stops journalctl
// (its pipe fills) or, for the ring, loses its oldest lines with a line
// saying how many. The number of journalctl children is capped.
//
// Tested with a fake journalctl (a shell script on PATH that prints its
// arguments and lines, then blocks): lines, arguments, cut lines, the end of
// the child when the reader leaves, the missing program, the cap; the ring
// with a real slog logger; UnitFromCgroup with cgroup v1 and v2 texts; the
// line splitter with a fuzz target.
package logstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"reachyd/actors/kit"
	"reachyd/internal/deathsig"
)

// Errors that end a stream, with the reference's texts where it has one.
var (
	// ErrNoJournalctl: the journalctl program cannot be found.
	ErrNoJournalctl = errors.New("journalctl not found")
	// ErrEnded: journalctl exited (it should not, with -f).
	ErrEnded = errors.New("journalctl stream ended")
	// ErrBusy: as many journalctl children run as the cap allows.
	ErrBusy = errors.New("too many log streams; try again later")
)

// MaxLine is the longest line passed on, in bytes; a longer one is cut
// and ends with "…".
const MaxLine = 16 << 10

// Backlog is how many recent lines a stream starts with (the reference's
// -n 100).
const Backlog = 100

// Source starts log streams.
type Source interface {
	// Follow streams the last backlog lines, then the new ones, until ctx
	// ends or the source does. An error means no stream started.
	Follow(ctx context.Context, backlog int) (*Stream, error)
	// Describe says where the lines come from, for the log and the docs.
	Describe() string
}

// Stream is one follow: Lines yields lines without their end of line,
// never empty, valid UTF-8, at most MaxLine bytes (plus "…"). Lines is
// closed when the stream ends; Err then says why (nil: its context ended).
type Stream struct {
	Lines <-chan string
	done  chan struct{}
	err   error
}

// Err returns why the stream ended: nil when its context ended, else an
// error such as ErrEnded. Valid once Lines is closed.
func (s *Stream) Err() error {
	<-s.done
	return s.err
}

// ---- journalctl ------------------------------------------------------------------

// Journal follows a systemd unit's journal with a journalctl child per
// stream.
type Journal struct {
	// Unit is the unit whose lines are streamed (e.g. reachyd.service).
	Unit string
	// User: the unit is a user unit (--user-unit instead of -u).
	User bool
	// Command is the journalctl program (default "journalctl", found on
	// PATH).
	Command string
	// MaxStreams caps the journalctl children running at once (default 8).
	MaxStreams int
	Log        *slog.Logger

	once sync.Once
	sem  chan struct{}
}

// Describe implements Source.
func (j *Journal) Describe() string {
	return "the systemd journal of " + j.Unit + " (journalctl)"
}

// Args are journalctl's arguments: the reference's, for this unit.
func (j *Journal) Args(backlog int) []string {
	sel := "-u"
	if j.User {
		sel = "--user-unit"
	}
	return []string{sel, j.Unit, "-b", "-f", "-n", fmt.Sprint(backlog), "--output", "short-iso"}
}

// Follow implements Source.
func (j *Journal) Follow(ctx context.Context, backlog int) (*Stream, error) {
	j.once.Do(func() {
		n := j.MaxStreams
		if n <= 0 {
			n = 8
		}
		j.sem = make(chan struct{}, n)
		if j.Log == nil {
			j.Log = slog.Default()
		}
	})
	select {
	case j.sem <- struct{}{}:
	default:
		return nil, ErrBusy
	}
	release := func() { <-j.sem }
	name := j.Command
	if name == "" {
		name = "journalctl"
	}
	if backlog < 0 {
		backlog = 0
	}
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, name, j.Args(backlog)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0")
	cmd.SysProcAttr = childAttr()
	// Kill journalctl and anything it started: its whole process group.
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		release()
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		release()
		return nil, err
	}
	if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
		cancel()
		release()
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, ErrNoJournalctl
		}
		return nil, fmt.Errorf("journalctl: %w", err)
	}
	out := make(chan string, 64)
	s := &Stream{Lines: out, done: make(chan struct{})}
	go logStderr(stderr, j.Log)
	go func() {
		SplitLines(cctx, stdout, out)
		// Its output ended: journalctl exited, or closed it and is ended
		// after a grace; or the reader left and the context ends it.
		grace := time.AfterFunc(2*time.Second, cancel)
		werr := cmd.Wait()
		grace.Stop()
		cancel()
		release() // before the end is seen: the place is free by then
		close(out)
		if ctx.Err() == nil {
			j.Log.Warn("journalctl ended", "unit", j.Unit, "err", werr)
			s.err = ErrEnded
		}
		close(s.done)
	}()
	return s, nil
}

// logStderr logs what journalctl says on stderr (at most a few lines: a
// permission problem is said once).
func logStderr(r io.Reader, log *slog.Logger) {
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	sc.Buffer(make([]byte, 4096), MaxLine)
	n := 0
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && n < 5 {
			n++
			log.Warn("journalctl: " + strings.ToValidUTF8(line, "\uFFFD"))
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// SplitLines reads r and sends each non-empty line, trimmed of surrounding
// white space, on out, until r ends or ctx does. A line longer than MaxLine
// is cut there (with "…"), the rest of it skipped; invalid UTF-8 is
// replaced. It does not close out.
func SplitLines(ctx context.Context, r io.Reader, out chan<- string) {
	br := bufio.NewReaderSize(r, 4096)
	var buf []byte
	skipping := false
	emit := func(b []byte, cut bool) bool {
		line := bound(string(b), cut)
		if line == "" {
			return true
		}
		select {
		case out <- line:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case skipping:
		case len(buf)+len(chunk) > MaxLine:
			buf = append(buf, chunk[:MaxLine-len(buf)]...)
			if !emit(trimPartialRune(buf), true) {
				return
			}
			buf = buf[:0]
			skipping = true
		default:
			buf = append(buf, chunk...)
		}
		if err == nil { // a whole line ends here
			if !skipping && !emit(buf, false) {
				return
			}
			buf = buf[:0]
			skipping = false
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		// End of input: what is left is the last line.
		if !skipping && len(buf) > 0 {
			emit(buf, false)
		}
		return
	}
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b (a
// character cut in two by MaxLine).
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// ---- reachyd's own lines ----------------------------------------------------------

// Ring streams reachyd's own log lines (the daemon-wide tail of its log
// ring): what a client gets when reachyd does not run under systemd.
type Ring struct {
	Logs *kit.LogRing
	// Queue is how many lines a slow reader may fall behind before it loses
	// the oldest (default 256).
	Queue int
}

// Describe implements Source.
func (r *Ring) Describe() string { return "reachyd's own log lines (INFO and above)" }

// Follow implements Source. It never ends by itself.
func (r *Ring) Follow(ctx context.Context, backlog int) (*Stream, error) {
	q := r.Queue
	if q <= 0 {
		q = 256
	}
	if backlog < 0 {
		backlog = 0
	}
	recent, f := r.Logs.Follow(backlog, q)
	out := make(chan string, 64)
	s := &Stream{Lines: out, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(out)
		defer f.Close()
		send := func(line string) bool {
			select {
			case out <- clip(line):
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, l := range recent {
			if !send(l.Text) {
				return
			}
		}
		for {
			select {
			case l := <-f.C:
				if n := f.Dropped(); n > 0 {
					note := fmt.Sprintf("%s WARN logstream: %d log lines dropped: this client reads too slowly",
						time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), n)
					if !send(note) {
						return
					}
				}
				if !send(l.Text) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return s, nil
}

// clip bounds a line of reachyd's own log as SplitLines bounds journal
// lines.
func clip(s string) string { return bound(s, false) }

// bound trims s, replaces invalid UTF-8 and cuts it at MaxLine bytes (at a
// character boundary); a cut line (or one cut before, cut) ends with "…".
func bound(s string, cut bool) string {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > MaxLine {
		n := MaxLine
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s, cut = s[:n], true
	}
	if cut && s != "" {
		s += "…"
	}
	return s
}

// ---- which source -----------------------------------------------------------------

// SplitTimestamp splits a short-iso line into its timestamp (the text
// before the first space) and the rest, as the reference's log_line does;
// a line without a space is all rest.
func SplitTimestamp(line string) (ts, rest string) {
	ts, rest, ok := strings.Cut(line, " ")
	if !ok {
		return "", line
	}
	return ts, rest
}

// UnitFromCgroup returns the systemd service unit named in the text of
// /proc/self/cgroup (the last ".service" element of the process's cgroup
// path: reachyd may sit in a leaf below its unit's cgroup), and whether it
// is a user unit (under user@<uid>.service). "" when there is none.
func UnitFromCgroup(text string) (unit string, user bool) {
	for _, line := range strings.Split(text, "\n") {
		// "hierarchy-ID:controller-list:path"; cgroup v2's line is "0::path",
		// v1's systemd line is "N:name=systemd:path".
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 || (parts[1] != "" && parts[1] != "name=systemd") {
			continue
		}
		elems := strings.Split(parts[2], "/")
		for i := len(elems) - 1; i >= 0; i-- {
			e := elems[i]
			if strings.HasSuffix(e, ".service") && !strings.HasPrefix(e, "user@") {
				for _, up := range elems[:i] {
					if strings.HasPrefix(up, "user@") {
						user = true
					}
				}
				return e, user
			}
		}
	}
	return "", false
}

// StderrIsJournal reports whether this process's standard error is the
// journal stream systemd gave it (JOURNAL_STREAM holds "<dev>:<inode>" of
// that stream): then reachyd's lines are in the journal of its unit. A
// program merely started from a service's shell inherits the variable but
// not the stream, and is told apart by this check.
func StderrIsJournal(getenv func(string) string) bool {
	js := getenv("JOURNAL_STREAM")
	if js == "" {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(2, &st); err != nil {
		return false
	}
	return js == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
