package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestResetAllRemovesEveryAppUnlessOneRuns(t *testing.T) {
	root := t.TempDir()
	s := &Store{Root: root}
	for _, d := range []string{"hello/venv/bin", "wave/files", "not.an.app"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	running := func(name string) bool { return name == "wave" }
	if n, _, err := s.ResetAll(Guard{InUse: running}); !errors.Is(err, ErrInUse) || n != 0 {
		t.Fatalf("reset with an app running: %d %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(root, "hello")); err != nil {
		t.Fatal("a refused reset removed an app")
	}
	n, purge, err := s.ResetAll(Guard{})
	if err != nil || n != 2 {
		t.Fatalf("reset: %d %v", n, err)
	}
	for _, d := range []string{"hello", "wave"} {
		if _, err := os.Stat(filepath.Join(root, d)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still installed after the reset", d)
		}
	}
	if err := purge(); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(filepath.Join(root, stagingDir))
	if len(left) != 0 {
		t.Fatalf("the purge left %d folders in staging", len(left))
	}
	if _, err := os.Stat(filepath.Join(root, "not.an.app")); err != nil {
		t.Fatal("a folder that is no app was removed")
	}
	if n, purge, err := s.ResetAll(Guard{}); err != nil || n != 0 || purge() != nil {
		t.Fatalf("reset of nothing: %d %v", n, err)
	}
	if n, _, err := (&Store{Root: filepath.Join(root, "missing")}).ResetAll(Guard{}); err != nil || n != 0 {
		t.Fatalf("reset of a missing folder: %d %v", n, err)
	}
}
