package daemon

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestClearHubCacheRemovesOnlyWhatTheHubMade(t *testing.T) {
	hub := t.TempDir()
	outside := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(outside, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	mk := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(hub, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk("models--org--model/snapshots/abc")
	mk("datasets--pollen-robotics--reachy-mini-emotions-library/blobs")
	mk("spaces--me--app")
	mk(".locks/models--org--model")
	mk("mine")
	mk(".reachyd-trash-0011")
	// A link in a cached repository that points out of the cache.
	if err := os.Symlink(outside, filepath.Join(hub, "models--org--model/snapshots/abc/file")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"version.txt", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(hub, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, purge, err := ClearHubCache(hub)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("removed %d repositories, want 3", n)
	}
	if err := purge(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(hub)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	sort.Strings(left)
	if len(left) != 2 || left[0] != "mine" || left[1] != "notes.txt" {
		t.Fatalf("left in the cache: %v, want [mine notes.txt]", left)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep me" {
		t.Fatalf("a file outside the cache was touched: %q %v", b, err)
	}
	// Already empty; a missing folder is empty; a relative one is refused.
	if n, purge, err := ClearHubCache(hub); err != nil || n != 0 || purge() != nil {
		t.Fatalf("second clear: %d %v", n, err)
	}
	if n, _, err := ClearHubCache(filepath.Join(hub, "nope")); err != nil || n != 0 {
		t.Fatalf("missing folder: %d %v", n, err)
	}
	if _, _, err := ClearHubCache("relative/hub"); err == nil {
		t.Fatal("a relative folder was accepted")
	}
}
