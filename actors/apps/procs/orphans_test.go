//go:build linux

package procs

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	p, err := Start(script(t, "exec sleep 100"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	r := RecordOf(p, "hello")
	s, err := readStat(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	boot, _ := bootID()
	if r.Name != "hello" || r.Pid != p.Pid() || r.Pgid != s.pgrp || r.StartTicks != s.startTicks ||
		r.Session != s.session || r.BootID != boot || r.BootID == "" || !r.Started.Equal(p.Started()) {
		t.Fatalf("record %+v, stat %+v", r, s)
	}
	path := filepath.Join(t.TempDir(), "app.json")
	if _, err := ReadRecord(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing record: %v", err)
	}
	if err := WriteRecord(path, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteRecord(path, r); err != nil { // overwrite
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
	got, err := ReadRecord(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Started.Equal(r.Started) {
		t.Fatalf("started %v != %v", got.Started, r.Started)
	}
	got.Started = r.Started
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip %+v != %+v", got, r)
	}
	if err := RemoveRecord(path); err != nil {
		t.Fatal(err)
	}
	if err := RemoveRecord(path); err != nil {
		t.Fatalf("second remove: %v", err)
	}
}

// orphan starts an sh script as a "previous reachyd" would have left it:
// in its own session and group (setsid), not our child, no Pdeathsig.
// It returns the leader's pid and record.
func orphan(t *testing.T, body string) (int, Record) {
	t.Helper()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not found")
	}
	spec := script(t, body)
	out, err := exec.Command("/bin/sh", "-c", `setsid "$0" </dev/null >/dev/null 2>&1 & echo $!`, spec.Path).Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	killAtEnd(t, pid)
	var s procStat
	for end := time.Now().Add(2 * time.Second); ; {
		if s, err = readStat(pid); err == nil && s.pgrp == pid {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("orphan leader %d not set up: %+v %v", pid, s, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	boot, _ := bootID()
	return pid, Record{Name: "orphan", Pid: pid, Pgid: s.pgrp, StartTicks: s.startTicks,
		Path: spec.Path, Started: time.Now(), BootID: boot, Session: s.session}
}

// waitFileLines waits until path holds n lines of pids.
func waitFileLines(t *testing.T, path string, n int) []int {
	t.Helper()
	end := time.Now().Add(3 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if l := strings.Fields(string(b)); len(l) >= n {
			pids := atoiLines(t, l)
			killAtEnd(t, pids...)
			return pids
		}
		if time.Now().After(end) {
			t.Fatalf("%s: want %d lines, have %q", path, n, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEndOrphansLiveGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	leader, r := orphan(t, `
sleep 100 & echo $! >> `+pidFile+`
sleep 100 & echo $! >> `+pidFile+`
trap 'exit 0' INT
wait`)
	kids := waitFileLines(t, pidFile, 2)
	waitComm(t, "sleep", kids...)
	t0 := time.Now()
	n, err := EndOrphans(r, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 250*time.Millisecond || d > 5*time.Second {
		t.Fatalf("EndOrphans took %v (children ignore SIGINT: grace then SIGKILL)", d)
	}
	if n != 3 {
		t.Fatalf("ended %d, want 3", n)
	}
	for _, pid := range append(kids, leader) {
		if alive(pid) {
			t.Fatalf("%d still alive", pid)
		}
	}
	// A second run finds nothing.
	if n, err := EndOrphans(r, 300*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("second run: %d %v", n, err)
	}
}

func TestEndOrphansLeaderGoneGrandchildLives(t *testing.T) {
	dir := t.TempDir()
	pidFile, goFile := filepath.Join(dir, "pids"), filepath.Join(dir, "go")
	leader, r := orphan(t, `
sleep 100 & echo $! > `+pidFile+`
while [ ! -e `+goFile+` ]; do sleep 0.01; done`)
	kid := waitFileLines(t, pidFile, 1)[0]
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitDead(t, leader, 2*time.Second)
	if !alive(kid) {
		t.Fatal("grandchild died with the leader")
	}
	t0 := time.Now()
	n, err := EndOrphans(r, 5*time.Second)
	if err != nil || n != 1 {
		t.Fatalf("ended %d, %v", n, err)
	}
	if d := time.Since(t0); d > 4*time.Second {
		t.Fatalf("took %v: no grace is due when the leader is gone", d)
	}
	if alive(kid) {
		t.Fatal("grandchild alive")
	}
}

// Records that do not match what runs kill nothing.
func TestEndOrphansStaleRecords(t *testing.T) {
	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	s, err := readStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	boot, _ := bootID()
	good := Record{Pid: pid, Pgid: pid, StartTicks: s.startTicks, BootID: boot, Session: s.session}

	stale := good
	stale.StartTicks-- // the pid now belongs to another process
	other := good
	other.BootID = "00000000-0000-0000-0000-000000000000"
	for _, r := range []Record{stale, other} {
		if n, err := EndOrphans(r, 100*time.Millisecond); n != 0 || err != nil {
			t.Fatalf("%+v: ended %d, %v", r, n, err)
		}
		if !alive(pid) {
			t.Fatalf("%+v killed an unrelated process", r)
		}
	}
	bad := []Record{
		{Pid: 1, Pgid: 1, StartTicks: 1},
		{Pid: pid, Pgid: pid},                                            // no ticks
		{Pid: pid, Pgid: pid + 1, StartTicks: s.startTicks},              // not a group leader record
		{Pid: os.Getpid(), Pgid: os.Getpid(), StartTicks: 1},             // ourselves
		{Pid: syscall.Getpgrp(), Pgid: syscall.Getpgrp(), StartTicks: 1}, // our group
	}
	for _, r := range bad {
		if n, err := EndOrphans(r, 100*time.Millisecond); n != 0 || err == nil {
			t.Fatalf("%+v: ended %d, %v", r, n, err)
		}
	}
	if !alive(pid) {
		t.Fatal("killed by a bad record")
	}
	// The matching record does end it.
	if n, err := EndOrphans(good, time.Second); n != 1 || err != nil {
		t.Fatalf("good record: ended %d, %v", n, err)
	}
}

// reachyd dies by SIGKILL: its app dies too (Pdeathsig), even though the
// helper churned threads.
func TestDaemonDeathKillsApp(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), "PROCS_TEST_HELPER=deathsig")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	app, err := strconv.Atoi(readLines(t, bufio.NewReader(out), 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	killAtEnd(t, app)
	time.Sleep(200 * time.Millisecond)
	if !alive(app) {
		t.Fatal("app died before the helper")
	}
	helper.Process.Signal(syscall.SIGKILL)
	helper.Wait()
	waitDead(t, app, 2*time.Second)
}
