package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestFlagsFollowTheReference(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Backend != "robot" || o.Host != "127.0.0.1" || o.Port != 8000 || o.SerialPort != "auto" || o.RobotName != "reachy_mini" ||
		!o.Autostart || !o.WakeUpOnStart || !o.GotoSleepOnStop || o.ControlHz != 50 || o.ChaosEvery != 0 {
		t.Fatalf("defaults %+v", o)
	}
	o, err = parseFlags([]string{"--mockup-sim", "--no-autostart", "--no-wake-up-on-start", "--goto-sleep-on-stop=false",
		"-p", "/dev/ttyACM3", "--fastapi-port", "9000", "--timeout-health-check", "2.5", "--log-level", "debug",
		"--datasets-dir", "/a:/b", "--datasets-dir", "/c"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Backend != "sim" || !o.MockupSim || o.Autostart || o.WakeUpOnStart || o.GotoSleepOnStop ||
		o.SerialPort != "/dev/ttyACM3" || o.Port != 9000 || o.HealthCheckTimeout != 2500*time.Millisecond ||
		strings.Join(o.DatasetsDir, ",") != "/a,/b,/c" {
		t.Fatalf("parsed %+v", o)
	}
	o, _ = parseFlags([]string{"--no-goto-sleep-on-stop=false"}, io.Discard)
	if !o.GotoSleepOnStop {
		t.Fatal("--no-goto-sleep-on-stop=false turned it off")
	}
	o, _ = parseFlags([]string{"--no-autostart", "--autostart"}, io.Discard)
	if !o.Autostart {
		t.Fatal("the last of --no-autostart --autostart must win")
	}
	o, _ = parseFlags([]string{"--wireless-version"}, io.Discard)
	if o.Host != "0.0.0.0" {
		t.Fatalf("wireless binds %s", o.Host)
	}
	for _, bad := range [][]string{
		{"--backend", "mujoco"}, {"--backend", "robot", "--sim"}, {"--control-hz", "0"}, {"--log-level", "LOUD"},
		{"--kinematics-engine", "Placo"}, {"--check-collision"}, {"--timeout-health-check", "-1"}, {"stray"},
		{"--chaos-every", "-1s"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// --apps-local-dir: none by default, repeatable or a path list, absolute.
func TestAppsLocalDirFlag(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || len(o.AppsLocal) != 0 {
		t.Fatalf("default %v %v", o.AppsLocal, err)
	}
	o, err = parseFlags([]string{"--apps-local-dir", "/home/pi/apps/:/srv/apps", "--apps-local-dir", "/opt/x"}, io.Discard)
	if err != nil || strings.Join(o.AppsLocal, ",") != "/home/pi/apps,/srv/apps,/opt/x" {
		t.Fatalf("parsed %v %v", o.AppsLocal, err)
	}
	if _, err := parseFlags([]string{"--apps-local-dir", "apps"}, io.Discard); err == nil {
		t.Fatal("a relative folder was accepted")
	}
}

func TestJournalUnitFlag(t *testing.T) {
	for _, ok := range []string{"auto", "none", "reachyd.service", "reachy-mini-daemon", "app@1.service"} {
		if _, err := parseFlags([]string{"--journal-unit", ok}, io.Discard); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"--file=/etc/shadow", "-b", "a b", "", "x/y"} {
		if _, err := parseFlags([]string{"--journal-unit", bad}, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
