package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"reachyd/sim"
)

// A startup app that is set but not installed (a fresh robot, or one whose
// apps were reset) is installed from the catalogue at start, and started
// after the first wake-up, even when the wake-up ends before the install.
func TestStartupAppInstalledIfMissing(t *testing.T) {
	hf, _ := fakeSpaces(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "daemon_config.json"), []byte(`{"startup_app": "wave"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--data-dir", data, "--hf-endpoint", hf.URL, "--wake-up-on-start", "--app-stop-grace", "2")
	st := d.waitAppState("running")
	if info := st["info"].(map[string]any); info["name"] != "wave" {
		t.Fatalf("the running app is %v", info)
	}
	var installed []map[string]any
	d.getJSON("/api/apps/list-available/installed", &installed)
	if len(installed) != 1 || installed[0]["name"] != "wave" {
		t.Fatalf("installed: %v", installed)
	}
}

// A hand that pushes an antenna of an idle, sleeping robot wakes it up and
// starts the startup app (on the pseudo-terminal robot, whose motors a
// test can move by hand).
func TestStartupAppStartsOnAnAntennaTouch(t *testing.T) {
	p := newPTYRobot(t, sim.Options{})
	var logs lockedBuffer
	d := startDaemonLog(t, &logs, "--backend", "robot", "-p", p.link, "--app-stop-grace", "2", "--log-level", "DEBUG")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	d.waitRunning()
	d.installLocal("toucher", writeExecApp(t, "toucher", "trap 'exit 0' INT\nwhile :; do sleep 0.05; done\n"))
	if code, body := d.do("PUT", "/api/apps/startup-app", map[string]string{"startup_app": "toucher"}); code != 200 {
		t.Fatalf("set the startup app: %d %s", code, body)
	}
	if code, body := d.do("POST", "/api/motors/set_mode/disabled", nil); code != 200 {
		t.Fatalf("motors off: %d %s", code, body)
	}
	if st := d.appStatus(); st != nil {
		t.Fatalf("an app runs before the touch: %v", st)
	}
	// Limp motors: the pushed antenna stays where the hand left it.
	antenna := p.robot.Motors.Motor(17)
	eventually(t, "the watcher takes the resting position", func() bool {
		return strings.Contains(logs.String(), "antenna watcher: resting position taken")
	})
	antenna.SetActualPosition(antenna.Snapshot().Actual + 400) // about 0.6 rad
	st := d.waitAppState("running")
	if info := st["info"].(map[string]any); info["name"] != "toucher" {
		t.Fatalf("the running app is %v", info)
	}
	// The touch woke the robot: motors on.
	var ms map[string]any
	d.getJSON("/api/motors/status", &ms)
	if ms["mode"] != "enabled" {
		t.Fatalf("motors %v after the wake-up", ms["mode"])
	}
}
