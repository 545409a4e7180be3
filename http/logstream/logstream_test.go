package logstream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"reachyd/actors/kit"
)

// fakeJournalctl writes a journalctl stand-in into a fresh folder: it
// records its pid, prints its arguments and the lines given, then blocks
// (as journalctl -f does) unless exit is set.
func fakeJournalctl(t *testing.T, lines []string, exit bool) (path, pidFile string) {
	t.Helper()
	dir := t.TempDir()
	pidFile = filepath.Join(dir, "pid")
	var b strings.Builder
	b.WriteString("#!/bin/sh\necho $$ > " + pidFile + "\necho \"ARGS $*\"\n")
	for _, l := range lines {
		b.WriteString("printf '%s\\n' '" + l + "'\n")
	}
	if !exit {
		b.WriteString("exec sleep 1000\n")
	}
	path = filepath.Join(dir, "journalctl")
	if err := os.WriteFile(path, []byte(b.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, pidFile
}

func recv(t *testing.T, s *Stream) string {
	t.Helper()
	select {
	case l, ok := <-s.Lines:
		if !ok {
			t.Fatal("the stream ended early")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line within 10 s")
	}
	return ""
}

func waitPid(t *testing.T, pidFile string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil {
				return pid
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the fake journalctl never wrote its pid")
	return 0
}

func gone(pid int) bool {
	// A zombie still answers kill(0); its state in /proc says Z.
	if err := syscall.Kill(pid, 0); err != nil {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestJournalStreamsLinesAndEndsItsChild(t *testing.T) {
	long := strings.Repeat("é", MaxLine) // 2 bytes each: cut inside a character
	bin, pidFile := fakeJournalctl(t, []string{
		"2026-12-05T10:00:00+0000 robot reachyd[42]: first",
		"   ",
		"2026-12-05T10:00:01+0000 robot reachyd[42]: second",
		long,
		"after the long one",
	}, false)
	j := &Journal{Unit: "reachyd.service", Command: bin, Log: quietLog()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := j.Follow(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := recv(t, s); got != "ARGS -u reachyd.service -b -f -n 100 --output short-iso" {
		t.Fatalf("journalctl's arguments: %q", got)
	}
	if got := recv(t, s); got != "2026-12-05T10:00:00+0000 robot reachyd[42]: first" {
		t.Fatalf("first line %q", got)
	}
	if got := recv(t, s); !strings.HasSuffix(got, "second") {
		t.Fatalf("blank lines are skipped: got %q", got)
	}
	cut := recv(t, s)
	if !utf8.ValidString(cut) || len(cut) > MaxLine+len("…") || !strings.HasSuffix(cut, "é…") {
		t.Fatalf("a long line is cut at a character, with an ellipsis: %d bytes, valid %v", len(cut), utf8.ValidString(cut))
	}
	if got := recv(t, s); got != "after the long one" {
		t.Fatalf("the line after a cut one: %q", got)
	}
	pid := waitPid(t, pidFile)
	if gone(pid) {
		t.Fatal("journalctl ended before its reader left")
	}
	cancel()
	for range s.Lines {
	}
	if err := s.Err(); err != nil {
		t.Fatalf("a stream whose reader left ends without error, got %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("journalctl (pid %d) outlived its stream", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestJournalEndedMissingAndBusy(t *testing.T) {
	// journalctl that exits: the stream ends with ErrEnded.
	bin, _ := fakeJournalctl(t, []string{"only line"}, true)
	j := &Journal{Unit: "u.service", User: true, Command: bin, MaxStreams: 1, Log: quietLog()}
	s, err := j.Follow(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := recv(t, s); got != "ARGS --user-unit u.service -b -f -n 5 --output short-iso" {
		t.Fatalf("arguments of a user unit: %q", got)
	}
	for range s.Lines {
	}
	if !errors.Is(s.Err(), ErrEnded) {
		t.Fatalf("err %v, want ErrEnded", s.Err())
	}

	// The cap: one child at a time here.
	blocking, _ := fakeJournalctl(t, nil, false)
	j.Command = blocking
	ctx, cancel := context.WithCancel(context.Background())
	s1, err := j.Follow(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Follow(context.Background(), 1); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second stream over the cap: %v", err)
	}
	cancel()
	for range s1.Lines {
	}
	s1.Err()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	if _, err := j.Follow(ctx2, 1); err != nil {
		t.Fatalf("the place of an ended stream is free again: %v", err)
	}

	// No journalctl at all.
	t.Setenv("PATH", t.TempDir())
	if _, err := (&Journal{Unit: "u", Log: quietLog()}).Follow(context.Background(), 1); !errors.Is(err, ErrNoJournalctl) {
		t.Fatalf("without journalctl: %v", err)
	}
}

func TestRingStreamsOwnLines(t *testing.T) {
	ring := kit.NewLogRing(10)
	log := slog.New(ring.Handler(slog.NewTextHandler(io.Discard, nil)))
	log.Info("before", "actor", "moves")
	ctx, cancel := context.WithCancel(context.Background())
	s, err := (&Ring{Logs: ring}).Follow(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := recv(t, s); !strings.HasSuffix(got, " INFO moves: before") {
		t.Fatalf("backlog line %q", got)
	}
	log.Warn("after")
	got := recv(t, s)
	ts, rest := SplitTimestamp(got)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || rest != "WARN reachyd: after" {
		t.Fatalf("new line %q split into %q and %q", got, ts, rest)
	}
	cancel()
	for range s.Lines {
	}
	if s.Err() != nil || ring.Followers() != 0 {
		t.Fatalf("the ring stream did not end cleanly: %v, %d followers", s.Err(), ring.Followers())
	}
}

func TestUnitFromCgroup(t *testing.T) {
	for _, c := range []struct {
		text, unit string
		user       bool
	}{
		{"0::/system.slice/reachyd.service\n", "reachyd.service", false},
		{"0::/system.slice/reachyd.service/daemon\n", "reachyd.service", false},
		{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/reachyd.service\n", "reachyd.service", true},
		{"12:pids:/system.slice/x.service\n1:name=systemd:/system.slice/reachyd.service\n", "reachyd.service", false},
		{"0::/user.slice/user-1000.slice/session-2.scope\n", "", false},
		{"0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", "", false},
		{"garbage", "", false},
	} {
		if u, user := UnitFromCgroup(c.text); u != c.unit || user != c.user {
			t.Errorf("%q: %q %v, want %q %v", c.text, u, user, c.unit, c.user)
		}
	}
	if StderrIsJournal(func(string) string { return "" }) {
		t.Error("no JOURNAL_STREAM, yet stderr is the journal")
	}
	if StderrIsJournal(func(string) string { return "1:2" }) {
		t.Error("a JOURNAL_STREAM that is not stderr's was believed")
	}
}

func FuzzSplitLines(f *testing.F) {
	f.Add([]byte("a\nb\r\n\n  c  \n"))
	f.Add([]byte(strings.Repeat("x", MaxLine+5) + "\nnext"))
	f.Add([]byte("\xff\xfe bad \xc3"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := make(chan string, len(in)+2)
		SplitLines(context.Background(), strings.NewReader(string(in)), out)
		close(out)
		for l := range out {
			if l == "" || strings.ContainsRune(l, '\n') || !utf8.ValidString(l) || len(l) > MaxLine+len("…") {
				t.Fatalf("bad line %q", l)
			}
		}
	})
}
