package mujoco

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("<mujoco/>"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindModel(t *testing.T) {
	root := t.TempDir()
	pkg := filepath.Join(root, "reachy_mini")
	touch(t, filepath.Join(pkg, "descriptions", "reachy_mini", "mjcf", "scenes", "empty.xml"))
	touch(t, filepath.Join(pkg, "descriptions", "reachy_mini", "urdf", "robot.urdf"))
	want := filepath.Join(pkg, "descriptions", "reachy_mini", "mjcf", "scenes", "empty.xml")

	for _, c := range []struct{ model, desc string }{
		{want, ""}, // the scene file itself
		{filepath.Join(pkg, "descriptions", "reachy_mini", "mjcf"), ""}, // its mjcf folder
		{root, ""}, // a folder holding the package
		{"", filepath.Join(pkg, "descriptions", "reachy_mini", "urdf")}, // the description folder (urdf)
	} {
		got, err := FindModel(c.model, c.desc, "empty")
		if err != nil || filepath.Clean(got) != want {
			t.Errorf("FindModel(%q, %q) = %q, %v; want %q", c.model, c.desc, got, err, want)
		}
	}
	if got, err := FindModel(Builtin, "", "minimal"); got != Builtin || err != nil {
		t.Errorf("builtin: %q, %v", got, err)
	}
	// No minimal scene there: a clear error naming the way out.
	_, err := FindModel(root, "", "minimal")
	if !errors.Is(err, ErrNoModel) || !strings.Contains(err.Error(), "--mujoco-model builtin") || !strings.Contains(err.Error(), "minimal.xml") {
		t.Errorf("missing scene: %v", err)
	}
	if _, err := FindModel("", "", "empty"); !errors.Is(err, ErrNoModel) {
		t.Errorf("nothing given: %v", err)
	}
	// A scene name is a name, not a path.
	if _, err := FindModel(root, "", "../../etc/passwd"); err == nil || errors.Is(err, ErrNoModel) {
		t.Errorf("scene path: %v", err)
	}
	if _, err := FindModel(filepath.Join(root, "nope.xml"), "", "empty"); err == nil {
		t.Error("a missing --mujoco-model file is not an error")
	}
}

// The simplified model is embedded and names every motor's joint.
func TestSimplifiedModelNamesEveryJoint(t *testing.T) {
	for _, j := range JointNames {
		if !strings.Contains(string(SimplifiedModel), `joint name="`+j+`"`) {
			t.Errorf("the simplified model has no joint %s", j)
		}
	}
}
