//go:build linux

package gst

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
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
