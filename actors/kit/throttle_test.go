package kit

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogThrottle(t *testing.T) {
	now := time.Unix(100, 0)
	th := &LogThrottle{Burst: 3, Per: time.Second, Now: func() time.Time { return now }}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for i := 0; i < 1000; i++ {
		th.Log(log, slog.LevelWarn, "bad frame", "i", i)
	}
	if got := strings.Count(buf.String(), "bad frame"); got != 3 {
		t.Fatalf("1000 lines in one instant wrote %d, want 3:\n%s", got, buf.String())
	}
	now = now.Add(999 * time.Millisecond)
	th.Log(log, slog.LevelWarn, "bad frame", "i", "late")
	if strings.Contains(buf.String(), "i=late") {
		t.Fatal("a line within the same second was written")
	}
	now = now.Add(2 * time.Millisecond)
	buf.Reset()
	th.Log(log, slog.LevelWarn, "bad frame", "i", "next")
	if !strings.Contains(buf.String(), "i=next") || !strings.Contains(buf.String(), "suppressed=998") {
		t.Fatalf("the first line of the next second should carry the count held back: %q", buf.String())
	}
	// A disabled level costs nothing and counts nothing.
	buf.Reset()
	quiet := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))
	for i := 0; i < 10; i++ {
		th.Log(quiet, slog.LevelDebug, "x")
	}
	if ok, held := th.Allow(); !ok || held != 0 {
		t.Fatalf("disabled lines were counted: ok=%v held=%d", ok, held)
	}
}
