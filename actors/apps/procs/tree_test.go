//go:build linux

package procs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var markerSeq atomic.Int64

// newMarker is an argument that names the processes of one test.
func newMarker(t *testing.T) string {
	return fmt.Sprintf("procs-test-%d-%d", os.Getpid(), markerSeq.Add(1))
}

// withMarker lists the live processes whose command line holds marker.
func withMarker(marker string) []int {
	var out []int
	eachPid(func(pid int) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err == nil && strings.Contains(string(b), marker) && alive(pid) {
			out = append(out, pid)
		}
	})
	return out
}

func waitMarker(t *testing.T, marker string, n int) []int {
	t.Helper()
	end := time.Now().Add(5 * time.Second)
	for {
		if ps := withMarker(marker); len(ps) >= n {
			killAtEnd(t, ps...)
			return ps
		}
		if time.Now().After(end) {
			t.Fatalf("%d processes with %s, want %d", len(withMarker(marker)), marker, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitNoMarker(t *testing.T, marker string, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		ps := withMarker(marker)
		if len(ps) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("processes left behind: %v", ps)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A loop that ignores SIGINT and names itself with marker, with no stdio:
// it holds none of the app's pipes, so only the tracking finds it.
func sleeper(marker string) string {
	return `sh -c "trap '' INT HUP TERM; while :; do sleep 0.05; done" ` + marker + ` </dev/null >/dev/null 2>&1`
}

// testCgroups returns a place for app cgroups if this machine gives one.
func testCgroups(t *testing.T) *Cgroups {
	t.Helper()
	c, err := DetectCgroups()
	if err != nil {
		t.Skipf("no cgroup for apps here: %v", err)
	}
	return c
}

// Apps whose children call setsid (leave the app's process group and
// session) and keep none of its output: stopping the app ends them, and so
// does the app's own end, with and without a cgroup.
func TestSetsidChildrenEnd(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not found")
	}
	type app struct {
		name string
		body func(marker string) string
		// gone: the leader exits by itself once its child is set up
		exits bool
	}
	apps := []app{
		{name: "sh child", body: func(m string) string {
			return "trap 'exit 0' INT\nsetsid " + sleeper(m) + " &\nwhile :; do sleep 0.05; done"
		}},
		{name: "sh double fork", body: func(m string) string {
			// The setsid'd process is orphaned at once: its parent (a
			// subshell) exits before anything could see it.
			return "trap 'exit 0' INT\n( setsid " + sleeper(m) + " & )\nwhile :; do sleep 0.05; done"
		}},
		{name: "leader exits", exits: true, body: func(m string) string {
			return "( setsid " + sleeper(m) + " & )\nsleep 0.3\nexit 0"
		}},
	}
	for _, withCgroup := range []bool{false, true} {
		for _, a := range apps {
			name := a.name
			if withCgroup {
				name += " in a cgroup"
			}
			t.Run(name, func(t *testing.T) {
				marker := newMarker(t)
				spec := script(t, a.body(marker))
				if withCgroup {
					spec.Cgroups = testCgroups(t)
				}
				p, err := Start(spec, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer p.Kill()
				kid := waitMarker(t, marker, 1)[0]
				// The marker shows from the exec of setsid(1), which leaves
				// the group a moment later.
				left := time.Now().Add(2 * time.Second)
				for {
					s, err := readStat(kid)
					if err == nil && s.pgrp != p.Pgid() {
						break
					}
					if time.Now().After(left) {
						t.Fatalf("the child did not leave the group: %+v %v", s, err)
					}
					time.Sleep(5 * time.Millisecond)
				}
				if withCgroup != strings.HasPrefix(p.Mechanism(), "cgroup ") {
					t.Fatalf("mechanism %q", p.Mechanism())
				}
				if a.exits {
					waitDone(t, p, 5*time.Second)
				} else {
					p.Stop(200 * time.Millisecond)
				}
				waitNoMarker(t, marker, 2*time.Second)
				if withCgroup {
					if _, err := os.Stat(p.cg.dir); !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("cgroup left: %v", err)
					}
				}
			})
		}
	}
}

// The same with Python, the reference's app language: a child forks,
// calls setsid and sleeps.
func TestSetsidPythonChildEnds(t *testing.T) {
	marker := newMarker(t)
	spec := pyScript(t, `
import os, sys, time
pid = os.fork()
if pid == 0:
    os.setsid()
    fd = os.open(os.devnull, os.O_RDWR)
    for i in (0, 1, 2):
        os.dup2(fd, i)
    os.execvp("sh", ["sh", "-c", "while :; do sleep 0.05; done", "`+marker+`"])
print(pid, flush=True)
try:
    while True:
        time.sleep(0.05)
except KeyboardInterrupt:
    sys.exit(0)
`)
	var c collector
	p, err := Start(spec, c.sink)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	kid := atoiLines(t, c.waitLines(t, Stdout, 1))[0]
	killAtEnd(t, kid)
	waitMarker(t, marker, 1)
	if st := p.Stop(2 * time.Second); st.Code != 0 {
		t.Fatalf("exit %+v", st)
	}
	waitDead(t, kid, 2*time.Second)
}

// A child that clears its environment (no token) and is orphaned at once
// escapes the process tree; only a cgroup holds it.
func TestCgroupHoldsWhatTheTreeLoses(t *testing.T) {
	cgs := testCgroups(t)
	marker := newMarker(t)
	spec := script(t, "trap 'exit 0' INT\n( env -i setsid "+sleeper(marker)+" & )\nwhile :; do sleep 0.05; done")
	spec.Cgroups = cgs
	p, err := Start(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	kid := waitMarker(t, marker, 1)[0]
	if !slices.Contains(cgroupProcs(p.cg.dir), kid) {
		t.Fatalf("%d not in the app's cgroup %s", kid, p.cg.dir)
	}
	p.Stop(200 * time.Millisecond)
	waitNoMarker(t, marker, 2*time.Second)
}

// The pid record is written before the app runs and lists the processes
// of the app as they are seen; the app does not start without it.
func TestRecordTracksTheApp(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not found")
	}
	path := filepath.Join(t.TempDir(), "running-app.json")
	marker := newMarker(t)
	spec := script(t, "trap 'exit 0' INT\nsetsid "+sleeper(marker)+" &\nwhile :; do sleep 0.05; done")
	spec.Record = path
	p, err := Start(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	kid := waitMarker(t, marker, 1)[0]
	ks, err := readStat(kid)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(5 * time.Second)
	for {
		r, err := ReadRecord(path)
		if err == nil && r.Pid == p.Pid() && r.Token != "" && slices.Contains(r.Members, Member{kid, ks.startTicks}) {
			if !hasEnv(kid, []byte("\x00"+TokenEnv+"="+r.Token+"\x00")) {
				t.Fatal("the child does not carry the recorded token")
			}
			break
		}
		if time.Now().After(end) {
			t.Fatalf("record %+v (%v) does not list %d", r, err, kid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Stop(200 * time.Millisecond)
	waitNoMarker(t, marker, 2*time.Second)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("record left after the app: %v", err)
	}
}

func TestNoStartWithoutRecord(t *testing.T) {
	t.Run("first record", func(t *testing.T) {
		dir := t.TempDir()
		spec := script(t, "touch "+filepath.Join(dir, "ran")+"\nexec sleep 100")
		spec.Record = filepath.Join(dir, "missing", "running-app.json")
		if p, err := Start(spec, nil); err == nil {
			p.Kill()
			t.Fatal("started without its record")
		}
		time.Sleep(100 * time.Millisecond) // what would have run has had time to
		if _, err := os.Stat(filepath.Join(dir, "ran")); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("the app ran")
		}
	})
	t.Run("full record", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "running-app.json")
		marker := newMarker(t)
		spec := script(t, "setsid "+sleeper(marker)+" &\n"+sleeper(marker))
		spec.Record = path
		written := make(chan struct{})
		writeRecord = func(path string, r Record) error {
			if r.Pid == 0 {
				return WriteRecord(path, r)
			}
			// Let the app start its processes, then fail.
			end := time.Now().Add(5 * time.Second)
			for len(withMarker(marker)) < 2 && time.Now().Before(end) {
				time.Sleep(5 * time.Millisecond)
			}
			close(written)
			return errors.New("disk full")
		}
		defer func() { writeRecord = WriteRecord }()
		p, err := Start(spec, nil)
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			if p != nil {
				p.Kill()
			}
			t.Fatalf("Start: %v", err)
		}
		<-written
		if ps := withMarker(marker); len(ps) != 0 {
			killAtEnd(t, ps...)
			t.Fatalf("left running: %v", ps)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("record left: %v", err)
		}
	})
}

// A previous daemon's leftovers are found by their token and by the
// recorded members, even with no leader recorded (the daemon died between
// its two writes of the record).
func TestEndOrphansByTokenAndMembers(t *testing.T) {
	tokened, _ := orphan(t, "exec env "+TokenEnv+"=tok123 sh -c 'while :; do sleep 0.05; done'")
	member, _ := orphan(t, "while :; do sleep 0.05; done")
	bystander, _ := orphan(t, "exec env "+TokenEnv+"=other sh -c 'while :; do sleep 0.05; done'")
	waitComm(t, "sh", tokened)
	ms, err := readStat(member)
	if err != nil {
		t.Fatal(err)
	}
	// Its environment is read once exec'd.
	end := time.Now().Add(3 * time.Second)
	for !hasEnv(tokened, []byte("\x00"+TokenEnv+"=tok123\x00")) {
		if time.Now().After(end) {
			t.Fatal("token not in the orphan's environment")
		}
		time.Sleep(5 * time.Millisecond)
	}
	boot, _ := bootID()
	stale := Record{Name: "app", Token: "nobody", BootID: boot, Members: []Member{{member, ms.startTicks + 1}}}
	if n, err := EndOrphans(stale, time.Second); n != 0 || err != nil {
		t.Fatalf("stale record: %d %v", n, err)
	}
	r := Record{Name: "app", Token: "tok123", BootID: boot, Members: []Member{{member, ms.startTicks}}}
	n, err := EndOrphans(r, time.Second)
	if err != nil || n < 2 { // and their sleeps
		t.Fatalf("ended %d, %v", n, err)
	}
	for _, pid := range []int{tokened, member} {
		if alive(pid) {
			t.Fatalf("%d alive", pid)
		}
	}
	if !alive(bystander) {
		t.Fatal("a process with another token was killed")
	}
	if _, err := EndOrphans(Record{BootID: boot}, time.Second); err == nil {
		t.Fatal("a record naming nothing was accepted")
	}
}

// As child subreaper, reachyd gets the app's orphans; those that die are
// reaped (nobody else waits for them), and the children it started itself
// are left to the code that waits for them.
func TestSubreaperReapsAdoptedOrphans(t *testing.T) {
	if _, err := EnableSubreaper(); err != nil {
		t.Skipf("no subreaper: %v", err)
	}
	if !pidfdsHeld() {
		t.Skip("no pidfd: strays are not reaped")
	}
	// Our own child, a zombie until cmd.Wait.
	own := exec.Command("sh", "-c", "exit 3")
	if err := own.Start(); err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	zombies := func() []int {
		var out []int
		eachPid(func(pid int) {
			if s, err := readStat(pid); err == nil && s.ppid == self && s.dead() && pid != own.Process.Pid {
				out = append(out, pid)
			}
		})
		return out
	}
	// An orphan that dies at once, adopted by us.
	if err := exec.Command("sh", "-c", "sh -c 'sleep 0.1' &").Run(); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(5 * time.Second)
	for len(zombies()) > 0 || !reapedOrphan(self) {
		if time.Now().After(end) {
			t.Fatalf("zombies left: %v", zombies())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := own.Wait(); err == nil || own.ProcessState.ExitCode() != 3 {
		t.Fatalf("our own child was reaped behind our back: %v", err)
	}
}

// reapedOrphan: no process of ours is a sleeping sh left by the test.
func reapedOrphan(self int) bool {
	found := false
	eachPid(func(pid int) {
		if s, err := readStat(pid); err == nil && s.ppid == self {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			if strings.Contains(string(b), "sleep 0.1") {
				found = true
			}
		}
	})
	return !found
}

// A folder that is not a writable cgroup v2 one is refused with the
// reason, and the app runs tracked through /proc only.
func TestCgroupsFallBack(t *testing.T) {
	if _, err := CgroupsAt(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a cgroup v2 folder") {
		t.Fatalf("a plain folder: %v", err)
	}
	spec := script(t, "exec sleep 100")
	spec.Cgroups = &Cgroups{Dir: filepath.Join(t.TempDir(), "missing")}
	p, err := Start(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(time.Second)
	if m := p.Mechanism(); !strings.HasPrefix(m, "process tree (/proc); no cgroup: ") {
		t.Fatalf("mechanism %q", m)
	}
}
