package kit

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogTailFollowsEveryService(t *testing.T) {
	ring := NewLogRing(3)
	log := slog.New(ring.Handler(slog.NewTextHandler(io.Discard, nil)))
	log.With("actor", "moves").Info("first", "n", 1)
	log.Warn("second", "component", "gateway", "token", "s3cret")
	log.Debug("not kept")

	backlog, f := ring.Follow(100, 8)
	defer f.Close()
	if len(backlog) != 2 {
		t.Fatalf("backlog %q", backlog)
	}
	if !strings.HasSuffix(backlog[0].Text, " INFO moves: first n=1") || !strings.HasSuffix(backlog[1].Text, " WARN gateway: second token=[redacted]") {
		t.Fatalf("backlog lines %q", backlog)
	}
	// The timestamp is the text before the first space: RFC 3339, UTC.
	ts, _, _ := strings.Cut(backlog[0].Text, " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
		t.Fatalf("timestamp %q: %v", ts, err)
	}

	log.Info("third")
	select {
	case l := <-f.C:
		if !strings.HasSuffix(l.Text, " INFO reachyd: third") {
			t.Fatalf("followed line %q", l.Text)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the follower got no new line")
	}
	// A backlog never holds more than asked, nor more than the tail keeps.
	if b, f2 := ring.Follow(1, 1); len(b) != 1 || !strings.HasSuffix(b[0].Text, "third") {
		t.Fatalf("backlog of 1: %q", b)
	} else {
		f2.Close()
	}
	for i := 0; i < tailSize+10; i++ {
		log.Info("many", "i", i)
	}
	if b, f3 := ring.Follow(-1, 1); len(b) != tailSize || !strings.HasSuffix(b[len(b)-1].Text, fmt.Sprintf("i=%d", tailSize+9)) {
		t.Fatalf("the tail keeps %d lines, last %q", len(b), b[len(b)-1].Text)
	} else {
		f3.Close()
	}
}

func TestLogFollowerDropsOldestWhenSlow(t *testing.T) {
	ring := NewLogRing(3)
	log := slog.New(ring.Handler(slog.NewTextHandler(io.Discard, nil)))
	_, f := ring.Follow(0, 4)
	for i := 0; i < 10; i++ {
		log.Info("line", "i", i)
	}
	var got []string
	for len(got) < 4 {
		got = append(got, (<-f.C).Text)
	}
	if !strings.HasSuffix(got[0], "i=6") || !strings.HasSuffix(got[3], "i=9") {
		t.Fatalf("a slow follower keeps the newest lines: %q", got)
	}
	if n := f.Dropped(); n != 6 {
		t.Fatalf("dropped %d, want 6", n)
	}
	if n := f.Dropped(); n != 0 {
		t.Fatalf("Dropped does not reset: %d", n)
	}
	f.Close()
	if ring.Followers() != 0 {
		t.Fatal("a closed follower is still attached")
	}
	log.Info("after close")
	select {
	case l := <-f.C:
		t.Fatalf("a closed follower got %q", l.Text)
	default:
	}
}
