package deathsig

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// onEndingThread runs f on a goroutine locked to a thread other than the
// main one, then returns from that goroutine still locked, so that the
// runtime ends the thread, and waits until the thread is gone.
func onEndingThread(t *testing.T, f func()) {
	t.Helper()
	tids := make(chan int)
	var start func()
	start = func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The runtime parks the main thread rather than end it:
			// keep it busy until another goroutine has a thread.
			done := make(chan struct{})
			go func() { start(); close(done) }()
			<-done
			runtime.UnlockOSThread()
			return
		}
		f()
		tids <- unix.Gettid()
	}
	go start()
	tid := <-tids
	task := "/proc/self/task/" + strconv.Itoa(tid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(task); errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d did not end", tid)
		}
		time.Sleep(time.Millisecond)
	}
}

// The caller's thread ends right after the start: a child forked from it
// gets its parent-death signal then; one started by Start does not.
func TestChildOutlivesTheStartingThread(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1)")
	}
	for _, tc := range []struct {
		name     string
		start    func(*exec.Cmd) error
		survives bool
	}{
		{"exec's Start (the control)", func(c *exec.Cmd) error {
			c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			return c.Start()
		}, false},
		{"deathsig.Start", func(c *exec.Cmd) error { return Start(c, syscall.SIGKILL) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(sleep, "60")
			var serr error
			onEndingThread(t, func() { serr = tc.start(cmd) })
			if serr != nil {
				t.Fatal(serr)
			}
			// The thread is gone, so a parent-death signal has been sent.
			// A survivor is ended with SIGTERM: the wait tells which
			// signal ended the child.
			if tc.survives {
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
			werr := cmd.Wait()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() {
				t.Fatalf("child ended with %v, not by a signal", werr)
			}
			want := syscall.SIGKILL
			if tc.survives {
				want = syscall.SIGTERM
			}
			if ws.Signal() != want {
				t.Fatalf("child ended by %v, want %v", ws.Signal(), want)
			}
		})
	}
}

// The parent-death signal still comes when the parent dies: a helper
// process (this test binary) starts a child through Start and is killed.
func TestChildDiesWithTheParent(t *testing.T) {
	if os.Getenv("DEATHSIG_HELPER") == "1" {
		cmd := exec.Command("sleep", "60")
		if err := Start(cmd, syscall.SIGKILL); err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString(strconv.Itoa(cmd.Process.Pid) + "\n")
		select {}
	}
	helper := exec.Command(os.Args[0], "-test.run", "^TestChildDiesWithTheParent$")
	helper.Env = append(os.Environ(), "DEATHSIG_HELPER=1")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, _ := out.Read(buf)
	pid, err := strconv.Atoi(string(buf[:n-min(n, 1)]))
	if err != nil {
		_ = helper.Process.Kill()
		_ = helper.Wait()
		t.Fatalf("helper printed %q", buf[:n])
	}
	_ = helper.Process.Kill()
	_ = helper.Wait()
	// The grandchild is reparented (to init or a subreaper) and killed:
	// it leaves /proc, or stays only as a zombie, once the kernel
	// delivered the signal.
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d outlived its parent", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// alive tells whether pid is a process that is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
		}
	}
	return true
}
