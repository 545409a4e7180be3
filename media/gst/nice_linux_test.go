//go:build linux

package gst

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// niceOf reads a task's nice value (field 19 of /proc/.../stat).
func niceOf(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNiceReachesTheChildAndNotTheDaemon: a child started with Nice runs
// at that nice value, and so does what it starts; once it has exited, no
// thread of the daemon is left at it (the forking thread died with its
// goroutine instead of going back to the runtime's pool).
func TestNiceReachesTheChildAndNotTheDaemon(t *testing.T) {
	base := niceOf(t, "/proc/self/stat")
	var pl pidLines
	p := startProc(t, Spec{Name: "niced", Argv: Fixed([]string{"sh", "-c", `sleep 300 & echo $!; wait`}),
		OnStdout: pl.on, Nice: base + 5, Restart: RestartNever, Grace: 200 * time.Millisecond})
	grandchild := pl.first(t)
	if got := niceOf(t, "/proc/"+strconv.Itoa(p.Pid())+"/stat"); got != base+5 {
		t.Errorf("child's nice value %d, want %d", got, base+5)
	}
	if got := niceOf(t, "/proc/"+strconv.Itoa(grandchild)+"/stat"); got != base+5 {
		t.Errorf("grandchild's nice value %d, want %d", got, base+5)
	}
	p.Stop()
	waitFor(t, "every daemon thread back at its nice value", func() bool {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if _, err := os.Stat("/proc/self/task/" + task.Name()); err != nil {
				continue // ended meanwhile
			}
			b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/stat")
			if err != nil {
				continue
			}
			s := string(b)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
			if n, _ := strconv.Atoi(f[16]); n != base {
				return false
			}
		}
		return true
	})
}

// kernelTakesSlices reports whether this kernel honours slice requests:
// it asks for one on its own thread, reads it back and asks for the
// default again.
func kernelTakesSlices(t *testing.T, want time.Duration) bool {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL, Nice: int32(niceOf(t, "/proc/thread-self/stat")), Runtime: uint64(want)}
	if unix.SchedSetAttr(0, &attr, 0) != nil {
		return false
	}
	got, _ := sliceOf(t, "/proc/thread-self/sched")
	attr.Runtime = 0 // the default slice
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		t.Fatalf("cannot give the test's thread its default slice back: %v", err)
	}
	return got == want
}

// sliceOf reads a task's scheduler slice from its sched file (false when
// the kernel does not show one).
func sliceOf(t *testing.T, path string) (time.Duration, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false // a thread that has ended meanwhile
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == "se.slice" {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: se.slice %q", path, v)
			}
			return time.Duration(n), true
		}
	}
	return 0, false
}

// TestSliceReachesTheChildAndNotTheDaemon: a child started with Slice
// requests that slice, as does what it starts, at its Nice value; no
// thread of the daemon is left with it once the child has exited. Needs a
// kernel with slice requests (6.12 and later).
func TestSliceReachesTheChildAndNotTheDaemon(t *testing.T) {
	own, ok := sliceOf(t, "/proc/self/sched")
	if !ok {
		t.Skip("this kernel shows no scheduler slice (se.slice)")
	}
	const want = 7 * time.Millisecond
	if own == want {
		t.Fatalf("the daemon's slice is already %v", want)
	}
	if !kernelTakesSlices(t, want) {
		t.Skip("this kernel does not honour slice requests (Linux 6.12 and later do)")
	}
	base := niceOf(t, "/proc/self/stat")
	var pl pidLines
	p := startProc(t, Spec{Name: "sliced", Argv: Fixed([]string{"sh", "-c", `sleep 300 & echo $!; wait`}),
		OnStdout: pl.on, Nice: base + 5, Slice: want, Restart: RestartNever, Grace: 200 * time.Millisecond})
	grandchild := pl.first(t)
	for _, pid := range []int{p.Pid(), grandchild} {
		dir := "/proc/" + strconv.Itoa(pid)
		if got, _ := sliceOf(t, dir+"/sched"); got != want {
			t.Errorf("process %d: slice %v, want %v", pid, got, want)
		}
		if n := niceOf(t, dir+"/stat"); n != base+5 {
			t.Errorf("process %d: nice %d, want %d", pid, n, base+5)
		}
	}
	p.Stop()
	waitFor(t, "no daemon thread left with the child's slice", func() bool {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if got, ok := sliceOf(t, "/proc/self/task/"+task.Name()+"/sched"); ok && got == want {
				return false
			}
		}
		return true
	})
}

// mainThreadEnv makes the test binary the helper of
// TestNicedStartFromTheMainThreadWithOneP instead of running the tests.
const mainThreadEnv = "REACHYD_GST_TEST_MAIN_THREAD"

// mainThreadHelper starts niced children from the main goroutine, on the
// main thread, with one P: the forking goroutine is first run on the main
// thread (where the main goroutine waits for it) and must hand over.
func mainThreadHelper() int {
	if unix.Gettid() != unix.Getpid() {
		fmt.Println("skip: the main goroutine is not on the main thread")
		return 0
	}
	base, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	base = 20 - base // the raw syscall's 40..1 scale, as a nice value
	for i := 0; i < 3; i++ {
		p, err := Start(context.Background(), Spec{Name: "main", Argv: Fixed([]string{"sleep", "300"}),
			Nice: base + 3, Restart: RestartNever, Logger: discardLogger})
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid()) + "/stat")
		p.Stop()
		<-p.Done()
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		s := string(b)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]); f[16] != strconv.Itoa(base+3) {
			fmt.Printf("error: the child's nice value is %s, want %d\n", f[16], base+3)
			return 1
		}
	}
	fmt.Println("ok")
	return 0
}

// With GOMAXPROCS=1 a niced child started from the main thread used to
// hand the start over to a new goroutine that the main thread ran again,
// forever.
func TestNicedStartFromTheMainThreadWithOneP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), mainThreadEnv+"=1", "GOMAXPROCS=1")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the helper never got its children started (killed after 60 s): %s", out)
	}
	switch s := string(out); {
	case strings.HasPrefix(s, "skip"):
		t.Skip(strings.TrimSpace(s))
	case err != nil || !strings.HasPrefix(s, "ok"):
		t.Fatalf("helper: %v: %s", err, out)
	}
}
