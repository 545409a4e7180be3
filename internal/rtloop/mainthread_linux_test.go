//go:build linux

package rtloop

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mainHelperEnv makes the test binary the helper of
// TestStartFromTheMainThreadWithOneP instead of running the tests.
const mainHelperEnv = "RTLOOP_MAIN_THREAD_HELPER"

// TestMain: the helper starts a loop from the main goroutine, on the main
// thread, with one P, so that the loop's goroutine is first run on the
// main thread (where the main goroutine waits for it) and must hand over.
func TestMain(m *testing.M) {
	if os.Getenv(mainHelperEnv) == "1" {
		os.Exit(mainThreadHelper())
	}
	os.Exit(m.Run())
}

func mainThreadHelper() int {
	if unix.Gettid() != unix.Getpid() {
		fmt.Println("skip: the main goroutine is not on the main thread")
		return 0
	}
	for i := 0; i < 3; i++ {
		l, err := Start(Options{Name: "main", Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		ran := make(chan int, 1)
		l.Schedule(func() { ran <- unix.Gettid() })
		tid := <-ran
		l.Close()
		<-l.Done()
		if tid == unix.Getpid() || tid != l.TID() {
			fmt.Printf("error: work ran on thread %d (main %d, loop %d)\n", tid, unix.Getpid(), l.TID())
			return 1
		}
	}
	fmt.Println("ok")
	return 0
}

// With GOMAXPROCS=1 a loop started from the main thread used to hand its
// goroutine over to a new one that the main thread ran again, forever.
func TestStartFromTheMainThreadWithOneP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), mainHelperEnv+"=1", "GOMAXPROCS=1")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the helper never got its loops started (killed after 60 s): %s", out)
	}
	if err != nil || !strings.HasPrefix(string(out), "ok") && !strings.HasPrefix(string(out), "skip") {
		t.Fatalf("helper: %v: %s", err, out)
	}
	if strings.HasPrefix(string(out), "skip") {
		t.Skip(strings.TrimSpace(string(out)))
	}
}
