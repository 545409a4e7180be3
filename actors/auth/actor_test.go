package auth

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	authcore "reachyd/actors/auth/core"
	"reachyd/actors/kit"
	"reachyd/messages"
)

// TestARestartedAuthActorKeepsOneHousekeepingTimer: the key-reload timer
// belongs to one incarnation; after crashes the keys are still reloaded
// once per period, not once more per crash.
func TestARestartedAuthActorKeepsOneHousekeepingTimer(t *testing.T) {
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer s.Shutdown()
	cell, err := Open(filepath.Join(t.TempDir(), "auth"), authcore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	// Every message the actor handles reads the clock once.
	var handled atomic.Int64
	now := func() time.Time { handled.Add(1); return time.Now() }
	// A parent that restarts it at once, every time; it answers once the
	// child is spawned.
	parent := kit.RootProps(kit.RootOptions{Children: []kit.Child{{Name: "auth", Props: Props(Options{Cell: cell, Now: now})}}})
	ppid, err := s.Root.SpawnNamed(parent, "parent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AskAny(context.Background(), ppid, &kit.TreeReady{}); err != nil {
		t.Fatal(err)
	}
	pid := s.PID("parent/auth")
	ask := func() error {
		_, err := s.AskAny(context.Background(), pid, &messages.VerifyToken{Token: "x"})
		if err != nil && messages.KindOf(err) == messages.KindUnauthorized {
			return nil
		}
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); ask() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("the auth actor does not answer")
		}
		time.Sleep(5 * time.Millisecond)
	}
	const crashes = 4
	for i := 0; i < crashes; i++ {
		s.Tell(pid, &kit.Crash{Reason: "test"})
		if err := ask(); err != nil {
			t.Fatal(err)
		}
	}
	// Two periods: two housekeeping runs (one more at a boundary), where a
	// timer left by each crash would make it ten.
	before := handled.Load()
	time.Sleep(2*reloadEvery + reloadEvery/10)
	if n := handled.Load() - before; n > 3 {
		t.Errorf("%d housekeeping runs in two periods after %d crashes", n, crashes)
	}
}
