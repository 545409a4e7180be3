package description

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// writeDescription writes a tiny fake description folder: a robot.urdf
// and one mesh.
func writeDescription(t *testing.T, dir, marker string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, AssetsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, URDFFile), []byte(`<robot name="`+marker+`"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, AssetsDir, "body.stl"), []byte("solid "+marker), 0o644); err != nil {
		t.Fatal(err)
	}
}

func noPython() *Finder { return &Finder{Python: "none", SitePackages: []string{}} }

func TestFindsTheGivenFolderAndServesFiles(t *testing.T) {
	root := t.TempDir()
	writeDescription(t, filepath.Join(root, "descriptions", "reachy_mini", "urdf"), "given")
	f := noPython()
	f.Dir = root
	b, err := f.URDF(context.Background())
	if err != nil || string(b) != `<robot name="given"/>` {
		t.Fatalf("urdf %q %v", b, err)
	}
	file, info, path, err := f.Asset(context.Background(), "body.stl")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(file)
	file.Close()
	if string(data) != "solid given" || info.Size() != int64(len(data)) || filepath.Base(path) != "body.stl" {
		t.Fatalf("asset %q size %d path %s", data, info.Size(), path)
	}
	if _, _, _, err := f.Asset(context.Background(), "missing.stl"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing asset: %v", err)
	}
}

func TestAssetNamesCannotLeaveTheFolder(t *testing.T) {
	dir := t.TempDir()
	writeDescription(t, dir, "x")
	secret := filepath.Join(t.TempDir(), "secret.stl")
	if err := os.WriteFile(secret, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A link inside the folder that points out of it, and one that stays in.
	if err := os.Symlink(secret, filepath.Join(dir, AssetsDir, "out.stl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("body.stl", filepath.Join(dir, AssetsDir, "in.stl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, AssetsDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := noPython()
	f.Dir = dir
	for _, name := range []string{"../robot.urdf", "..", ".", "", "/etc/passwd", `..\robot.urdf`, "a\x00b"} {
		if _, _, _, err := f.Asset(context.Background(), name); !errors.Is(err, ErrBadName) {
			t.Errorf("%q: %v, want ErrBadName", name, err)
		}
	}
	for _, name := range []string{"out.stl", "sub"} {
		if file, _, _, err := f.Asset(context.Background(), name); !errors.Is(err, fs.ErrNotExist) {
			if file != nil {
				file.Close()
			}
			t.Errorf("%q: %v, want not found", name, err)
		}
	}
	file, _, _, err := f.Asset(context.Background(), "in.stl")
	if err != nil {
		t.Fatalf("a link within the folder: %v", err)
	}
	file.Close()
}

func TestSearchOrderAndRetry(t *testing.T) {
	apps := t.TempDir()
	hub := t.TempDir()
	inApp := filepath.Join(apps, "hello", "venv", "lib", "python3.12", "site-packages", "reachy_mini", "descriptions", "reachy_mini", "urdf")
	inHub := filepath.Join(hub, "spaces--pollen-robotics--x", "snapshots", "0123", "src", "reachy_mini", "descriptions", "reachy_mini", "urdf")
	f := noPython()
	f.AppsDir, f.HubCache = apps, hub
	if _, err := f.Find(context.Background()); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("nothing installed: %v", err)
	}
	writeDescription(t, inHub, "hub")
	// A failed search is remembered for a while (it may run Python)...
	if _, err := f.Find(context.Background()); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("a failed search was not remembered: %v", err)
	}
	f.searched = f.searched.Add(-2 * retryAfter)
	if d, err := f.Find(context.Background()); err != nil || d != inHub {
		t.Fatalf("found %q %v, want the hub snapshot", d, err)
	}
	// ...a found folder is kept while it exists, searched again once gone.
	writeDescription(t, inApp, "app")
	if d, _ := f.Find(context.Background()); d != inHub {
		t.Fatalf("a found folder was not kept: %q", d)
	}
	if err := os.RemoveAll(filepath.Join(hub, "spaces--pollen-robotics--x")); err != nil {
		t.Fatal(err)
	}
	if d, err := f.Find(context.Background()); err != nil || d != inApp {
		t.Fatalf("found %q %v, want the app's venv", d, err)
	}
}

func TestPythonIsAskedWithoutImporting(t *testing.T) {
	pkg := filepath.Join(t.TempDir(), "site", "reachy_mini")
	writeDescription(t, filepath.Join(pkg, "descriptions", "reachy_mini", "urdf"), "py")
	// A stand-in interpreter that answers as find_spec would.
	py := filepath.Join(t.TempDir(), "python3")
	if err := os.WriteFile(py, []byte("#!/bin/sh\necho "+pkg+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &Finder{Python: py, SitePackages: []string{}}
	if b, err := f.URDF(context.Background()); err != nil || string(b) != `<robot name="py"/>` {
		t.Fatalf("urdf via python: %q %v", b, err)
	}
}

func TestURDFSizeIsBounded(t *testing.T) {
	dir := t.TempDir()
	writeDescription(t, dir, "x")
	if err := os.WriteFile(filepath.Join(dir, URDFFile), make([]byte, MaxURDF+1), 0o644); err != nil {
		t.Fatal(err)
	}
	f := noPython()
	f.Dir = dir
	if _, err := f.URDF(context.Background()); err == nil {
		t.Fatal("an oversized robot.urdf was read")
	}
}
