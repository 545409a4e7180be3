package mujoco

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testRobot = `<mujoco model="r">
  <default><position kp="10" kv="0.1" dampratio="1"/></default>
  <worldbody>
    <body name="a"><site name="s_a" pos="0.085 0 0.001"/>
      <body name="b"><camera name="eye_camera" resolution="1280 720" fovy="80"/><site name="s_b"/></body>
    </body>
  </worldbody>
  <actuator><position name="x" joint="j" inheritrange="1" kv="2"/></actuator>
  <equality><connect site1="s_a" site2="s_b" solref="0.01 1"/></equality>
</mujoco>`

func TestPatch22(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "scenes"), 0o755)
	os.MkdirAll(filepath.Join(root, "assets"), 0o755)
	os.WriteFile(filepath.Join(root, "assets", "m.stl"), []byte("solid"), 0o644)
	os.WriteFile(filepath.Join(root, "robot.xml"), []byte(testRobot), 0o644)
	os.WriteFile(filepath.Join(root, "scenes", "empty.xml"), []byte(`<?xml version="1.0"?>
<mujoco model="scene"><include file="../robot.xml"/><compiler meshdir="../assets"/><!-- c --></mujoco>`), 0o644)

	scene, done, err := Patch22(filepath.Join(root, "scenes", "empty.xml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(filepath.Dir(scene))
	robot, err := os.ReadFile(filepath.Join(dir, "robot.xml"))
	if err != nil {
		t.Fatal(err)
	}
	r := string(robot)
	for _, gone := range []string{"kv=", "dampratio", "inheritrange", "resolution", "site1", "site2"} {
		if strings.Contains(r, gone) {
			t.Errorf("%s left in %s", gone, r)
		}
	}
	for _, kept := range []string{`kp="10"`, `fovy="80"`, `body1="a" body2="b" anchor="0.085 0 0.001"`, `solref="0.01 1"`} {
		if !strings.Contains(r, kept) {
			t.Errorf("%s missing in %s", kept, r)
		}
	}
	sc, _ := os.ReadFile(scene)
	if !strings.Contains(string(sc), `<include file="../robot.xml">`) || !strings.Contains(string(sc), "<!-- c -->") {
		t.Errorf("scene: %s", sc)
	}
	// The assets are reachable at the same relative place.
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(scene), "..", "assets", "m.stl")); err != nil || string(b) != "solid" {
		t.Errorf("assets: %q %v", b, err)
	}
	done()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the copy outlived its cleanup: %v", err)
	}

	// Includes stay within the scene's folder or its parent.
	os.WriteFile(filepath.Join(root, "scenes", "bad.xml"), []byte(`<mujoco><include file="../../etc/x.xml"/></mujoco>`), 0o644)
	if _, _, err := Patch22(filepath.Join(root, "scenes", "bad.xml")); err == nil {
		t.Error("an include outside the model's folders was followed")
	}
	// A connect between unknown sites is an error.
	os.WriteFile(filepath.Join(root, "c.xml"), []byte(`<mujoco><equality><connect site1="p" site2="q"/></equality></mujoco>`), 0o644)
	if _, _, err := Patch22(filepath.Join(root, "c.xml")); err == nil {
		t.Error("a connect of unknown sites was accepted")
	}
}

func FuzzPatchMJCF(f *testing.F) {
	f.Add([]byte(testRobot))
	f.Add([]byte(`<mujoco><include file="x"/></mujoco>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sites := map[string]siteInfo{}
		if collectSites(b, sites) != nil {
			return
		}
		_, _ = includes(b)
		out, err := patchMJCF(b, sites)
		if err != nil {
			return
		}
		// What it writes it reads back, and a second pass changes nothing.
		again, err := patchMJCF(out, sites)
		if err != nil {
			t.Fatalf("re-reading the patched MJCF: %v\n%s", err, out)
		}
		if string(again) != string(out) {
			t.Fatalf("not idempotent:\n%s\n%s", out, again)
		}
	})
}
