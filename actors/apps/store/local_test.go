package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Local installs read only inside the allowed folders, after symlinks.
func TestResolveLocal(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	allowed := filepath.Join(base, "allowed")
	outside := filepath.Join(base, "outside")
	writeFiles(t, allowed, waverApp("inside"))
	writeFiles(t, filepath.Join(allowed, "sub"), waverApp("deeper"))
	writeFiles(t, outside, waverApp("secret"))
	writeFiles(t, base, map[string]string{"allowed-sibling/x": "x"})
	// A link inside the allowed folder that leads out of it, and one that
	// stays inside.
	if err := os.Symlink(outside, filepath.Join(allowed, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(allowed, "sub"), filepath.Join(allowed, "alias")); err != nil {
		t.Fatal(err)
	}
	// The allowed folder reached through a symlink (as /home/pi/apps ->
	// /data/apps): the same folder.
	via := filepath.Join(base, "via")
	if err := os.Symlink(allowed, via); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(allowed)

	for _, c := range []struct {
		path, roots string
		rel         string // "" = refused
		err         error
	}{
		{path: allowed, roots: allowed, rel: "."},
		{path: filepath.Join(allowed, "sub"), roots: allowed, rel: "sub"},
		{path: filepath.Join(allowed, "alias"), roots: allowed, rel: "sub"},
		{path: filepath.Join(via, "sub"), roots: allowed, rel: "sub"},
		{path: filepath.Join(allowed, "sub"), roots: via, rel: "sub"},
		{path: filepath.Join(allowed, "sub", "..", "sub"), roots: allowed, rel: "sub"},
		{path: outside, roots: allowed, err: ErrNotAllowed},
		{path: filepath.Join(allowed, "escape"), roots: allowed, err: ErrNotAllowed},
		{path: filepath.Join(allowed, "..", "outside"), roots: allowed, err: ErrNotAllowed},
		{path: filepath.Join(base, "allowed-sibling"), roots: allowed, err: ErrNotAllowed},
		{path: "/etc", roots: allowed, err: ErrNotAllowed},
		{path: allowed, roots: "", err: ErrNotAllowed},
		{path: "relative/path", roots: allowed, err: ErrNotAllowed},
		// Nothing is told about what exists outside; inside, a typo is
		// reported as such.
		{path: filepath.Join(outside, "nope"), roots: allowed, err: ErrNotAllowed},
		{path: filepath.Join(allowed, "nope"), roots: allowed, err: ErrInvalidApp},
		{path: filepath.Join(allowed, "escape", "nope"), roots: allowed, err: ErrNotAllowed},
	} {
		var roots []string
		if c.roots != "" {
			roots = []string{filepath.Join(base, "missing"), c.roots}
		}
		src, err := ResolveLocal(c.path, roots)
		if c.rel != "" {
			if err != nil || src.Root != real || src.Rel != c.rel {
				t.Errorf("ResolveLocal(%s, %s) = %+v, %v; want %s in %s", c.path, c.roots, src, err, c.rel, real)
			}
			continue
		}
		if !errors.Is(err, c.err) {
			t.Errorf("ResolveLocal(%s, %s) = %+v, %v; want %v", c.path, c.roots, src, err, c.err)
		}
		if errors.Is(err, ErrNotAllowed) && strings.Contains(err.Error(), base) {
			t.Errorf("the refusal names a path: %v", err)
		}
	}
}

// A folder swapped for a symlink after the check does not lead the copy
// out of the allowed folder: it is read through an os.Root.
func TestInstallLocalFromStaysInsideItsRoot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &Store{Root: filepath.Join(t.TempDir(), "apps")}
	base := t.TempDir()
	allowed, outside := filepath.Join(base, "allowed"), filepath.Join(base, "outside")
	writeFiles(t, filepath.Join(allowed, "app"), waverApp("waver"))
	writeFiles(t, outside, waverApp("waver"))
	src, err := ResolveLocal(filepath.Join(allowed, "app"), []string{allowed})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(allowed, "app")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(allowed, "app")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InstallLocalFrom(ctx, src, Guard{}, nil); err == nil {
		t.Fatal("installed from outside the allowed folder")
	}
	if n := names(t, s); len(n) != 0 {
		t.Fatalf("installed %v", n)
	}
	assertNoStaging(t, s)
	// The same folder, really inside, installs.
	if err := os.Remove(filepath.Join(allowed, "app")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(allowed, "app"), waverApp("waver"))
	if _, err := s.InstallLocalFrom(ctx, src, Guard{Name: "waver"}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSameName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"hello_world", "hello-world", true},
		{"Hello_World", "hello.world", true},
		{"hello__world", "hello-world", true},
		{"hello", "hello", true},
		{"helloworld", "hello_world", false},
		{"hello", "hello2", false},
		{"", "hello", false},
	} {
		if got := SameName(c.a, c.b); got != c.same {
			t.Errorf("SameName(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// An install never replaces an app that runs, and never installs an app
// under another name than the one asked for: nothing is written either way.
func TestGuard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &Store{Root: filepath.Join(t.TempDir(), "apps")}
	v1, v2 := t.TempDir(), t.TempDir()
	writeFiles(t, v1, waverApp("waver"))
	writeFiles(t, v2, waverApp("waver"))
	writeFiles(t, v2, map[string]string{"bin/run.sh": "#!/bin/sh\necho version 2\n"})
	if _, err := s.InstallLocal(ctx, v1, nil); err != nil {
		t.Fatal(err)
	}
	meta := func() string {
		b, err := os.ReadFile(filepath.Join(s.Root, "waver", MetadataFile))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := meta()
	running := func(name string) bool { return name == "waver" }
	src, err := AnyPath(v2)
	if err != nil {
		t.Fatal(err)
	}

	_, err = s.InstallLocalFrom(ctx, src, Guard{Name: "waver", InUse: running}, nil)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("install over a running app: %v", err)
	}
	if err := s.Remove("waver", Guard{InUse: running}, nil); !errors.Is(err, ErrInUse) {
		t.Fatalf("remove of a running app: %v", err)
	}
	if meta() != before {
		t.Fatal("the running app's folder changed")
	}
	l, err := s.Launch("waver")
	if err != nil {
		t.Fatal(err)
	}
	if out := run(t, l); !strings.HasPrefix(out, "hi from waver") {
		t.Fatalf("the running app's files changed: %q", out)
	}

	// Asked for another name: refused whatever its case, nothing installed.
	for _, asked := range []string{"other", "waver2"} {
		_, err = s.InstallLocalFrom(ctx, src, Guard{Name: asked}, nil)
		if !errors.Is(err, ErrNameMismatch) || !strings.Contains(err.Error(), "'waver', not '"+asked+"'") {
			t.Fatalf("asked %s: %v", asked, err)
		}
	}
	if n := names(t, s); !slices.Equal(n, []string{"waver"}) || meta() != before {
		t.Fatalf("installed %v", n)
	}
	assertNoStaging(t, s)

	// Not running and the right name: replaced.
	if _, err := s.InstallLocalFrom(ctx, src, Guard{Name: "Waver", InUse: func(string) bool { return false }}, nil); err != nil {
		t.Fatal(err)
	}
	l, _ = s.Launch("waver")
	if out := run(t, l); out != "version 2" {
		t.Fatalf("not replaced: %q", out)
	}
}

// A Python package is checked by the name of its entry point, known only
// once it is built.
func TestGuardPythonName(t *testing.T) {
	t.Parallel()
	py := testPython(t)
	ctx := context.Background()
	s := &Store{Root: filepath.Join(t.TempDir(), "apps"), Python: py}
	src := t.TempDir()
	writeFiles(t, src, helloApp("1", EntryPointGroup))
	_, err := s.InstallLocalFrom(ctx, mustAny(t, src), Guard{Name: "hello_app"}, nil)
	if !errors.Is(err, ErrNameMismatch) || !strings.Contains(err.Error(), "the package declares the app 'hello', not 'hello_app'") {
		t.Fatalf("install: %v", err)
	}
	if n := names(t, s); len(n) != 0 {
		t.Fatalf("installed %v", n)
	}
	assertNoStaging(t, s)
	if _, err := s.InstallLocalFrom(ctx, mustAny(t, src), Guard{Name: "hello"}, nil); err != nil {
		t.Fatal(err)
	}
}

func mustAny(t *testing.T, p string) LocalSource {
	t.Helper()
	src, err := AnyPath(p)
	if err != nil {
		t.Fatal(err)
	}
	return src
}
