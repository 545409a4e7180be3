//go:build linux

package procs

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rtprioLimits reads a process's "Max realtime priority" soft and hard
// limits.
func rtprioLimits(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Max realtime priority") {
			f := strings.Fields(strings.TrimPrefix(l, "Max realtime priority"))
			return f[0] + " " + f[1]
		}
	}
	t.Fatal("no realtime priority limit in /proc/pid/limits")
	return ""
}

// TestAppsGetNoRealTime: the daemon may schedule its control thread in
// real time (RLIMIT_RTPRIO from its unit); an app it starts may not.
func TestAppsGetNoRealTime(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_RTPRIO, &old); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_RTPRIO, &unix.Rlimit{Cur: 49, Max: 49}); err != nil {
		t.Skipf("cannot give the test the unit's RLIMIT_RTPRIO: %v", err)
	}
	t.Cleanup(func() { _ = unix.Setrlimit(unix.RLIMIT_RTPRIO, &old) })
	p, err := Start(script(t, "exec sleep 100"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	if got := rtprioLimits(t, p.Pid()); got != "0 0" {
		t.Errorf("the app's RLIMIT_RTPRIO is %q, want 0 0", got)
	}
	if got := rtprioLimits(t, os.Getpid()); got != "49 49" {
		t.Errorf("the daemon's own RLIMIT_RTPRIO changed to %q", got)
	}
}
