//go:build linux

package procs

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

func TestOutputOrderExitAndTail(t *testing.T) {
	var c collector
	p, err := Start(script(t, `
i=1
while [ $i -le 200 ]; do
  echo "out $i"
  echo "err $i" >&2
  i=$((i+1))
done
printf 'no newline' >&2
exit 3`), c.sink)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p, 5*time.Second)
	out, errs := c.texts(Stdout), c.texts(Stderr)
	if len(out) != 200 || len(errs) != 201 {
		t.Fatalf("got %d stdout and %d stderr lines", len(out), len(errs))
	}
	for i := range 200 {
		if out[i] != fmt.Sprintf("out %d", i+1) || errs[i] != fmt.Sprintf("err %d", i+1) {
			t.Fatalf("line %d out of order: %q %q", i, out[i], errs[i])
		}
	}
	if errs[200] != "no newline" {
		t.Fatalf("last partial line: %q", errs[200])
	}
	st := p.Exit()
	if st.Code != 3 || st.Signal != "" || st.Err != nil || st.String() != "Process exited with code 3" {
		t.Fatalf("exit: %+v %q", st, st)
	}
	tail := p.Tail(3)
	if strings.Join(tail, "|") != "err 199|err 200|no newline" {
		t.Fatalf("tail: %q", tail)
	}
	if n := len(p.Tail(100)); n != TailLines {
		t.Fatalf("Tail(100) gave %d lines", n)
	}
	want := "Process exited with code 3\n" + strings.Join(errs[191:], "\n")
	if got := p.ErrorText(); got != want {
		t.Fatalf("ErrorText:\n%s\nwant\n%s", got, want)
	}
}

func TestExitZeroAndEnv(t *testing.T) {
	var c collector
	spec := script(t, `echo "$PROCS_X $PWD"`)
	dir := t.TempDir()
	spec.Env = []string{"PROCS_X=hello"}
	spec.Dir = dir
	p, err := Start(spec, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p, 5*time.Second)
	if st := p.Exit(); st.Code != 0 || st.String() != "Process exited with code 0" {
		t.Fatalf("exit: %+v", st)
	}
	if got := c.texts(Stdout); len(got) != 1 || got[0] != "hello "+dir {
		t.Fatalf("stdout: %q", got)
	}
	if p.Pgid() != p.Pid() || p.Started().IsZero() {
		t.Fatalf("pid %d pgid %d started %v", p.Pid(), p.Pgid(), p.Started())
	}
}

func TestExitBeforeDone(t *testing.T) {
	p, err := Start(script(t, "exec sleep 100"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := p.Exit(); st.Err != ErrRunning {
		t.Fatalf("Exit before Done: %+v", st)
	}
	p.Kill()
	waitDone(t, p, 5*time.Second)
	if st := p.Exit(); st.Signal != "SIGKILL" || st.Code != -1 || st.String() != "Process killed by signal SIGKILL" {
		t.Fatalf("exit: %+v %q", st, st)
	}
}

func TestStartError(t *testing.T) {
	before := runtime.NumGoroutine()
	if _, err := Start(Spec{Path: "/nonexistent/app"}, nil); err == nil {
		t.Fatal("no error")
	}
	if _, err := Start(Spec{}, nil); err == nil {
		t.Fatal("no error for empty path")
	}
	waitGoroutines(t, before)
}

func TestLongLinesAndUTF8(t *testing.T) {
	var c collector
	p, err := Start(pyScript(t, `
import sys
w = sys.stdout.buffer.write
w(b"a" * 150000 + b"\n")
w("\u00e9".encode() * 40000 + b"\n")   # 80000 bytes, 2-byte runes, odd cut
w(b"b" * 65536 + b"\n")               # exactly MaxLine: not split
w(b"bad \xff\xfe end\r\n")
w(b"x" * 65537)                       # no newline at EOF
`), c.sink)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, p, 5*time.Second)
	var lens []int
	lines := c.texts(Stdout)
	for _, l := range lines {
		lens = append(lens, len(l))
		if !utf8.ValidString(l) {
			t.Fatalf("invalid UTF-8 passed on")
		}
	}
	want := []int{65536, 65536, 18928, 65536, 14464, 65536, len("bad \uFFFD end"), 65536, 1}
	if fmt.Sprint(lens) != fmt.Sprint(want) {
		t.Fatalf("line lengths %v, want %v", lens, want)
	}
	if strings.Contains(lines[3]+lines[4], "\uFFFD") {
		t.Fatal("a rune was split")
	}
	if lines[6] != "bad \uFFFD end" {
		t.Fatalf("bad UTF-8 line: %q", lines[6])
	}
}

func TestStopExitsOnSIGINT(t *testing.T) {
	p, err := Start(script(t, "exec sleep 100"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	st := p.Stop(5 * time.Second)
	if d := time.Since(t0); d > 4*time.Second {
		t.Fatalf("Stop took %v: it waited out the grace", d)
	}
	if st.Signal != "SIGINT" || st.String() != "Process killed by signal SIGINT" {
		t.Fatalf("exit: %+v", st)
	}
	if again := p.Stop(time.Second); again != st {
		t.Fatalf("second Stop: %+v", again)
	}
}

func TestStopPythonKeyboardInterrupt(t *testing.T) {
	var c collector
	// "ready" is printed inside the try: a SIGINT that lands right after
	// the print must still be caught.
	p, err := Start(pyScript(t, `
import time
try:
    print("ready", flush=True)
    time.sleep(100)
except KeyboardInterrupt:
    print("stopping")
`), c.sink)
	if err != nil {
		t.Fatal(err)
	}
	c.waitLines(t, Stdout, 1)
	st := p.Stop(5 * time.Second)
	if st.Code != 0 || st.Signal != "" {
		t.Fatalf("exit: %+v", st)
	}
	if got := c.texts(Stdout); len(got) != 2 || got[1] != "stopping" {
		t.Fatalf("stdout %q", got)
	}
}

func TestStopIgnoringSIGINT(t *testing.T) {
	var c collector
	p, err := Start(script(t, `trap '' INT; echo ready; while :; do sleep 0.05; done`), c.sink)
	if err != nil {
		t.Fatal(err)
	}
	c.waitLines(t, Stdout, 1)
	t0 := time.Now()
	st := p.Stop(300 * time.Millisecond)
	d := time.Since(t0)
	if d < 300*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Stop took %v", d)
	}
	if st.Signal != "SIGKILL" {
		t.Fatalf("exit: %+v", st)
	}
}

// Background children of a non-interactive sh ignore SIGINT: the leader
// exits on it, they outlive it holding stdout.
func TestStopKillsChildrenIgnoringSIGINT(t *testing.T) {
	var c collector
	p, err := Start(script(t, `
sleep 100 & echo $!
sleep 100 & echo $!
exec sleep 100`), c.sink)
	if err != nil {
		t.Fatal(err)
	}
	kids := atoiLines(t, c.waitLines(t, Stdout, 2))
	killAtEnd(t, kids...)
	waitComm(t, "sleep", kids...)
	for _, k := range kids {
		if !alive(k) {
			t.Fatalf("child %d not running", k)
		}
	}
	t0 := time.Now()
	st := p.Stop(300 * time.Millisecond)
	if d := time.Since(t0); d < 250*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Stop took %v (children get the rest of grace)", d)
	}
	if st.Signal != "SIGINT" {
		t.Fatalf("leader exit: %+v", st)
	}
	for _, k := range kids {
		waitDead(t, k, time.Second)
	}
	if len(groupMembers(p.Pgid(), 0, 0)) != 0 {
		t.Fatal("group not empty after Done")
	}
}

// The leader exits by itself; its child keeps stdout open. It is killed
// and Done fires.
func TestNaturalExitKillsLeftovers(t *testing.T) {
	var c collector
	p, err := Start(script(t, `sleep 100 & echo $!; exit 0`), c.sink)
	if err != nil {
		t.Fatal(err)
	}
	kid := atoiLines(t, c.waitLines(t, Stdout, 1))[0]
	killAtEnd(t, kid)
	waitDone(t, p, 2*time.Second)
	if st := p.Exit(); st.Code != 0 {
		t.Fatalf("exit: %+v", st)
	}
	waitDead(t, kid, time.Second)
}

// A descendant that left the group (setsid) but holds stdout is found by
// its pipe and killed.
func TestEscapedDescendantHoldingPipe(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not found")
	}
	var c collector
	p, err := Start(script(t, `setsid sleep 100 & echo $!; sleep 0.2; exit 0`), c.sink)
	if err != nil {
		t.Fatal(err)
	}
	kid := atoiLines(t, c.waitLines(t, Stdout, 1))[0]
	killAtEnd(t, kid)
	waitComm(t, "sleep", kid) // setsid has run
	if s, err := readStat(kid); err != nil || s.pgrp == p.Pgid() {
		t.Fatalf("escapee not out of the group: %+v %v", s, err)
	}
	waitDone(t, p, time.Second) // well before drainTimeout
	waitDead(t, kid, time.Second)
}

func TestStopConcurrent(t *testing.T) {
	var c collector
	p, err := Start(script(t, `trap '' INT; sleep 100 & echo ready; exec sleep 100`), c.sink)
	if err != nil {
		t.Fatal(err)
	}
	c.waitLines(t, Stdout, 1)
	var wg sync.WaitGroup
	res := make([]ExitStatus, 8)
	for i := range res {
		wg.Go(func() {
			if i == 3 {
				p.Kill()
			}
			res[i] = p.Stop(time.Duration(i) * 50 * time.Millisecond)
		})
	}
	wg.Wait()
	for _, r := range res {
		if r != res[0] || r.Signal != "SIGKILL" {
			t.Fatalf("results differ: %+v", res)
		}
	}
	if len(groupMembers(p.Pgid(), 0, 0)) != 0 {
		t.Fatal("group not empty")
	}
}

// Flooding output: what the package holds stays bounded, goroutines do not
// pile up, and Stop is prompt.
func TestFloodBounded(t *testing.T) {
	cases := []struct {
		name string
		body string
		slow bool
	}{
		{"lines", "exec yes " + strings.Repeat("y", 100), false},
		{"no newlines", "exec tr '\\000' a < /dev/zero", false},
		{"slow sink", "exec yes " + strings.Repeat("y", 100), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GC()
			var ms0 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			g0 := runtime.NumGoroutine()
			var lines, bytes atomic.Int64
			p, err := Start(script(t, tc.body), func(l Line) {
				lines.Add(1)
				bytes.Add(int64(len(l.Text)))
				if tc.slow {
					time.Sleep(time.Millisecond)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			limit := int64(2*(MaxLine+1) + TailLines*tailLineMax)
			end := time.Now().Add(time.Second)
			for time.Now().Before(end) {
				if b := p.buffered(); b > limit {
					t.Fatalf("package holds %d bytes", b)
				}
				// The waiter, two readers and the tracker.
				if g := runtime.NumGoroutine(); g > g0+4 {
					t.Fatalf("%d goroutines, was %d", g, g0)
				}
				time.Sleep(20 * time.Millisecond)
			}
			runtime.GC()
			var ms1 runtime.MemStats
			runtime.ReadMemStats(&ms1)
			if grow := int64(ms1.HeapAlloc) - int64(ms0.HeapAlloc); grow > 16<<20 {
				t.Fatalf("heap grew by %d bytes", grow)
			}
			t0 := time.Now()
			st := p.Stop(2 * time.Second)
			// Stop must not wait for a slow sink to drain a backlog; the
			// bound is loose so that a busy machine cannot fail it.
			if d := time.Since(t0); d > 10*time.Second {
				t.Fatalf("Stop took %v", d)
			}
			if st.Signal != "SIGINT" {
				t.Fatalf("exit %+v", st)
			}
			t.Logf("%d lines, %d MB in 1s", lines.Load(), bytes.Load()>>20)
			if bytes.Load() < 1<<20 && !tc.slow {
				t.Fatalf("only %d bytes read", bytes.Load())
			}
			if p.buffered() != 0 {
				t.Fatalf("still %d bytes held after Done", p.buffered())
			}
			waitGoroutines(t, g0)
		})
	}
}

func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	end := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(end) {
			t.Fatalf("%d goroutines left, want %d", runtime.NumGoroutine(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Start from goroutines that exit while locked to their thread (so the
// runtime ends those threads): the apps must not get the Pdeathsig. Several
// apps, because a goroutine that happens to run on the main thread wedges
// it instead of ending it.
func TestStartFromExitingLockedThread(t *testing.T) {
	spec := script(t, "exec sleep 100")
	var ps []*Process
	for range 4 {
		ch := make(chan *Process, 1)
		go func() {
			runtime.LockOSThread()
			p, err := Start(spec, nil)
			if err != nil {
				t.Error(err)
			}
			ch <- p
		}()
		p := <-ch
		if p == nil {
			t.FailNow()
		}
		defer p.Kill()
		ps = append(ps, p)
	}
	time.Sleep(200 * time.Millisecond)
	for _, p := range ps {
		if !alive(p.Pid()) {
			t.Fatalf("app died with the caller's thread: %v", p.Exit())
		}
	}
	for _, p := range ps {
		if st := p.Stop(2 * time.Second); st.Signal != "SIGINT" {
			t.Fatalf("exit %+v", st)
		}
	}
}
