package cpuload

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestCPUTime reads this process's CPU time from /proc as the kernel's
// rusage accounts it (both in clock ticks of 10 ms).
func TestCPUTime(t *testing.T) {
	var ru syscall.Rusage
	used := func() time.Duration {
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// Burn 200 ms of CPU, however long a busy machine takes to give it.
	for used() < 200*time.Millisecond {
	}
	got, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := used()
	if d := got - want; d < -30*time.Millisecond || d > 30*time.Millisecond || got < 150*time.Millisecond {
		t.Fatalf("CPUTime %v, rusage %v", got, want)
	}
	if _, err := CPUTime(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

// TestTree: a child of this process is in the tree, this process first.
func TestTree(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	tree := Tree()
	if tree[0] != os.Getpid() {
		t.Fatalf("tree %v does not start with this process %d", tree, os.Getpid())
	}
	for _, p := range tree {
		if p == cmd.Process.Pid {
			return
		}
	}
	t.Fatalf("child %d not in the tree %v", cmd.Process.Pid, tree)
}

// TestOthersCountsNewChildren: a child started during a window, burning
// CPU, is ours, not another program's.
func TestOthersCountsNewChildren(t *testing.T) {
	w := Start()
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var child time.Duration
	for end := time.Now().Add(10 * time.Second); child < 300*time.Millisecond && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		child, _ = CPUTime(cmd.Process.Pid)
	}
	if child < 300*time.Millisecond {
		t.Skipf("the child used only %v", child)
	}
	if ours := w.oursSince(); ours < child {
		t.Fatalf("the tree used %v since the window opened, less than the child alone (%v)", ours, child)
	}
}
