package gst

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var fastBackoff = &Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, Jitter: 0.2, HalfLife: time.Minute}

// pidLines is an OnStdout that collects the numbers the child prints.
type pidLines struct {
	mu   sync.Mutex
	pids []int
}

func (p *pidLines) on(line []byte) bool {
	if n, err := strconv.Atoi(strings.TrimSpace(string(line))); err == nil {
		p.mu.Lock()
		p.pids = append(p.pids, n)
		p.mu.Unlock()
		return true
	}
	return false
}

func (p *pidLines) first(t *testing.T) int {
	t.Helper()
	var pid int
	waitFor(t, "the grandchild's pid", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.pids) > 0 {
			pid = p.pids[0]
		}
		return pid > 0
	})
	killAtEnd(t, pid)
	return pid
}

func TestKilledChildIsRestarted(t *testing.T) {
	info := needGst(t)
	ev := newEvents()
	p := startProc(t, Spec{Name: "live",
		Argv:    Fixed([]string{info.Launch, "audiotestsrc", "is-live=true", "!", "fakesink"}),
		Backoff: fastBackoff, OnEvent: ev.on})
	first := ev.next(t, EventStarted)
	if first.Pid == 0 || first.Pid != p.Pid() || first.Run != 1 {
		t.Fatalf("started event %+v, Pid() %d", first, p.Pid())
	}
	killAtEnd(t, first.Pid)
	if err := syscall.Kill(first.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exited := ev.next(t, EventExited)
	if exited.Pid != first.Pid || exited.Status != "signal: killed" || exited.Code != -1 || !exited.Restart {
		t.Fatalf("exit event %+v", exited)
	}
	if exited.Failures != 1 {
		t.Errorf("failures %v, want 1", exited.Failures)
	}
	second := ev.next(t, EventStarted)
	if second.Pid == 0 || second.Pid == first.Pid || second.Run != 2 {
		t.Fatalf("restart event %+v (first pid %d)", second, first.Pid)
	}
	killAtEnd(t, second.Pid)
	if p.Restarts() != 1 || p.Pid() != second.Pid {
		t.Errorf("Restarts %d Pid %d, want 1 and %d", p.Restarts(), p.Pid(), second.Pid)
	}
	if !alive(second.Pid) {
		t.Error("the new child is not running")
	}
	p.Stop()
	if alive(second.Pid) {
		t.Error("Stop left the child running")
	}
	if !errors.Is(p.Err(), ErrStopped) || p.Pid() != 0 {
		t.Errorf("after Stop: Err %v, Pid %d", p.Err(), p.Pid())
	}
	ev.next(t, EventStopped)
}

func TestStopEndsTheWholeGroup(t *testing.T) {
	for _, tc := range []struct {
		name, script string
	}{
		{"term", `sleep 300 & echo $!; wait`},
		// the group ignores SIGTERM: Stop must escalate to SIGKILL
		{"kill", `trap "" TERM; sleep 300 & echo $!; wait`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pl pidLines
			ev := newEvents()
			p := startProc(t, Spec{Name: "group", Argv: Fixed([]string{"sh", "-c", tc.script}),
				OnStdout: pl.on, OnEvent: ev.on, Grace: 200 * time.Millisecond})
			leader := p.Pid()
			killAtEnd(t, leader)
			grandchild := pl.first(t)
			if !alive(grandchild) {
				t.Fatal("grandchild not running")
			}
			done := make(chan struct{})
			go func() { p.Stop(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Stop did not return")
			}
			if alive(leader) || alive(grandchild) {
				t.Fatalf("after Stop: leader alive %v, grandchild alive %v", alive(leader), alive(grandchild))
			}
			ev.next(t, EventStopped)
			p.Stop() // again: a no-op
		})
	}
}

func TestNothingOutlivesTheLeader(t *testing.T) {
	var pl pidLines
	p := startProc(t, Spec{Name: "leftover", Restart: RestartNever,
		Argv:     Fixed([]string{"sh", "-c", `sleep 300 & echo $!; echo failing >&2; exit 3`}),
		OnStdout: pl.on})
	grandchild := pl.first(t)
	<-p.Done()
	var ee *ExitError
	if !errors.As(p.Err(), &ee) || ee.Code != 3 || ee.Status != "exit status 3" {
		t.Fatalf("Err %v, want an ExitError with status 3", p.Err())
	}
	if len(ee.Stderr) != 1 || ee.Stderr[0] != "failing" {
		t.Errorf("stderr tail %q", ee.Stderr)
	}
	if alive(grandchild) {
		t.Error("the leader's exit left its group running")
	}
}

func TestChildDiesWithParent(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), orphanEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	killAtEnd(t, pid)
	if !alive(pid) {
		t.Fatal("the helper's child is not running")
	}
	cmd.Process.Kill() // the daemon dies without a chance to clean up
	cmd.Wait()
	waitFor(t, "the orphaned child to die", func() bool { return !alive(pid) })
}

// fakeClock hands each restart delay to the test, which fires it.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	reqs chan fakeTimer
}

type fakeTimer struct {
	d  time.Duration
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), reqs: make(chan fakeTimer, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.reqs <- fakeTimer{d, ch}
	return ch
}

// fire waits for the next timer, moves time by its delay and fires it.
func (c *fakeClock) fire(t *testing.T) time.Duration {
	t.Helper()
	select {
	case tm := <-c.reqs:
		c.mu.Lock()
		c.now = c.now.Add(tm.d)
		now := c.now
		c.mu.Unlock()
		tm.ch <- now
		return tm.d
	case <-time.After(20 * time.Second):
		t.Fatal("no restart timer within 20 s")
		return 0
	}
}

func TestCrashLoopBacksOffAndGivesUp(t *testing.T) {
	clock := newFakeClock()
	ev := newEvents()
	b := &Backoff{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, Budget: 5}
	p := startProc(t, Spec{Name: "crash", Argv: Fixed([]string{"sh", "-c", "echo boom >&2; exit 3"}),
		Backoff: b, Clock: clock, Rand: func() float64 { return 0.5 }, OnEvent: ev.on})
	want := []time.Duration{100, 200, 400, 400, 400}
	for i, w := range want {
		e := ev.next(t, EventExited)
		if e.Code != 3 || !e.Restart || e.Delay != w*time.Millisecond || e.Run != i+1 {
			t.Fatalf("exit %d: %+v, want code 3 and a restart after %v", i+1, e, w*time.Millisecond)
		}
		if len(e.Stderr) == 0 || e.Stderr[0] != "boom" {
			t.Errorf("exit %d: stderr %q", i+1, e.Stderr)
		}
		if d := clock.fire(t); d != w*time.Millisecond {
			t.Fatalf("timer %v, want %v", d, w*time.Millisecond)
		}
	}
	last := ev.next(t, EventExited)
	if last.Restart {
		t.Fatalf("sixth failure restarted: %+v", last)
	}
	gave := ev.next(t, EventGaveUp)
	<-p.Done()
	if !errors.Is(p.Err(), ErrGaveUp) || !errors.Is(gave.Err, ErrGaveUp) || !strings.Contains(p.Err().Error(), "boom") {
		t.Fatalf("Err %v, event err %v", p.Err(), gave.Err)
	}
	if p.Restarts() != 5 {
		t.Errorf("Restarts %d, want 5", p.Restarts())
	}
}

func TestRestartOnFailureEndsOnSuccess(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	// fails the first time, succeeds the second
	script := `if [ -e "$1" ]; then exit 0; fi; touch "$1"; exit 1`
	ev := newEvents()
	p := startProc(t, Spec{Name: "once", Argv: Fixed([]string{"sh", "-c", script, "sh", marker}),
		Restart: RestartOnFailure, Backoff: fastBackoff, OnEvent: ev.on})
	<-p.Done()
	if p.Err() != nil || p.Restarts() != 1 {
		t.Fatalf("Err %v, Restarts %d", p.Err(), p.Restarts())
	}
	if e := ev.next(t, EventExited); !e.Restart || e.Code != 1 {
		t.Fatalf("first exit %+v", e)
	}
	if e := ev.next(t, EventExited); e.Restart || e.Code != 0 {
		t.Fatalf("second exit %+v", e)
	}
}

func TestArgvIsCalledForEachStart(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	argv := func() ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 2 {
			return nil, errors.New("no free port")
		}
		return []string{"sh", "-c", "exit " + strconv.Itoa(calls)}, nil
	}
	ev := newEvents()
	p := startProc(t, Spec{Name: "argv", Argv: argv, Restart: RestartOnFailure,
		Backoff: &Backoff{Initial: time.Millisecond, Budget: 3}, OnEvent: ev.on})
	<-p.Done()
	if e := ev.next(t, EventExited); e.Code != 1 {
		t.Fatalf("run 1: %+v", e)
	}
	if e := ev.next(t, EventExited); e.Pid != 0 || !strings.Contains(e.Status, "no free port") || !e.Restart {
		t.Fatalf("failed start: %+v", e)
	}
	if e := ev.next(t, EventExited); e.Code != 3 || !e.Restart {
		t.Fatalf("run 3: %+v", e)
	}
	if !errors.Is(p.Err(), ErrGaveUp) {
		t.Fatalf("Err %v", p.Err())
	}
}

func TestStartFailure(t *testing.T) {
	_, err := Start(context.Background(), Spec{Name: "missing", Argv: Fixed([]string{"/nonexistent/gst-launch-1.0"})})
	if err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Fatalf("err %v", err)
	}
	_, err = Start(context.Background(), Spec{Name: "nofile", Argv: Fixed([]string{"cat"}),
		StdinFile: filepath.Join(t.TempDir(), "missing.wav")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v", err)
	}
}

func TestContextEndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, Spec{Name: "ctx", Argv: Fixed([]string{"sleep", "300"}), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Pid()
	killAtEnd(t, pid)
	cancel()
	<-p.Done()
	if alive(pid) || !errors.Is(p.Err(), ErrStopped) {
		t.Fatalf("alive %v, Err %v", alive(pid), p.Err())
	}
	if _, err := p.Write([]byte("x")); err != ErrNoStdin {
		t.Errorf("Write without a stdin pipe: %v", err)
	}
}

func TestWriteNeverBlocks(t *testing.T) {
	// The child never reads its stdin: the pipe fills, then the queue.
	p := startProc(t, Spec{Name: "stuck", Argv: Fixed([]string{"sleep", "300"}), StdinPipe: true})
	killAtEnd(t, p.Pid())
	frame := make([]byte, 256<<10)
	done := make(chan struct{})
	go func() {
		for range 100 {
			if n, err := p.Write(frame); n != len(frame) || err != nil {
				t.Errorf("Write: %d, %v", n, err)
				break
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Write blocked on a child that does not read")
	}
	// 100 frames of 256 KiB: at most the pipe (64 KiB by default, up to
	// 1 MiB), one frame being written and the queue can be kept.
	if p.Dropped() < 90 {
		t.Errorf("Dropped %d, want at least 90", p.Dropped())
	}
	p.Stop()
	if _, err := p.Write(frame); err != ErrStopped {
		t.Errorf("Write after Stop: %v", err)
	}
}

func TestWriteReachesTheChild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	p := startProc(t, Spec{Name: "cat", Argv: Fixed([]string{"sh", "-c", `cat > "$1"`, "sh", out}), StdinPipe: true})
	want := ""
	for i := range 5 {
		line := "frame " + strconv.Itoa(i) + "\n"
		p.Write([]byte(line))
		want += line
		// one at a time: the queue keeps only the newest two
		waitFor(t, "the child to read "+strings.TrimSpace(line), func() bool {
			b, _ := os.ReadFile(out)
			return string(b) == want
		})
	}
	if p.Dropped() != 0 {
		t.Errorf("Dropped %d", p.Dropped())
	}
}

func TestOutputLinesAreBounded(t *testing.T) {
	var mu sync.Mutex
	var got []string
	// a 20000-byte line, then a short one
	script := `head -c 20000 /dev/zero | tr '\0' a; echo; echo short`
	p := startProc(t, Spec{Name: "long", Restart: RestartNever, Argv: Fixed([]string{"sh", "-c", script}),
		OnStdout: func(l []byte) bool {
			mu.Lock()
			got = append(got, string(l))
			mu.Unlock()
			return true
		}})
	<-p.Done()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || len(got[0]) != MaxLineLen || got[1] != "short" {
		var lens []int
		for _, g := range got {
			lens = append(lens, len(g))
		}
		t.Fatalf("lines of lengths %v (last %q), want [%d 5]", lens, got[len(got)-1], MaxLineLen)
	}
}

// Renew replaces the child at once with a new one: not a failure (no
// failure counted, no restart counted, no exit event), and the writes
// reach the new child.
func TestRenewReplacesTheChild(t *testing.T) {
	dir := t.TempDir()
	ev := newEvents()
	// Each child writes its stdin to a file of its own, named after it.
	p := startProc(t, Spec{Name: "renewed", Argv: Fixed([]string{"sh", "-c", `echo $$; exec cat > "$1/$$"`, "sh", dir}),
		StdinPipe: true, Backoff: fastBackoff, OnEvent: ev.on, OnStdout: func([]byte) bool { return true }})
	first := ev.next(t, EventStarted)
	killAtEnd(t, first.Pid)
	p.Write([]byte("to the first\n"))
	waitFor(t, "the first child to read", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, strconv.Itoa(first.Pid)))
		return string(b) == "to the first\n"
	})

	p.Renew()
	second := ev.next(t, EventStarted)
	killAtEnd(t, second.Pid)
	if second.Pid == first.Pid || !second.Renewed || second.Run != first.Run {
		t.Fatalf("after Renew: %+v (first %+v)", second, first)
	}
	if alive(first.Pid) {
		t.Error("the replaced child still runs")
	}
	if p.Restarts() != 0 || p.Pid() != second.Pid {
		t.Errorf("Restarts %d Pid %d, want 0 and %d", p.Restarts(), p.Pid(), second.Pid)
	}
	p.Write([]byte("to the second\n"))
	waitFor(t, "the second child to read", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, strconv.Itoa(second.Pid)))
		return string(b) == "to the second\n"
	})
	if got := ev.kinds(); len(got) != 2 || got[0] != EventStarted || got[1] != EventStarted {
		t.Errorf("events %v, want two starts and nothing else", got)
	}

	// A crash afterwards is the first failure, and a restart.
	if err := syscall.Kill(second.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if exited := ev.next(t, EventExited); exited.Failures != 1 || !exited.Restart {
		t.Errorf("exit after the renewal: %+v", exited)
	}
	third := ev.next(t, EventStarted)
	killAtEnd(t, third.Pid)
	if third.Renewed || third.Run != 2 || p.Restarts() != 1 {
		t.Errorf("restart after the renewal: %+v, Restarts %d", third, p.Restarts())
	}
}
