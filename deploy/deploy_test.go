// Package deploy holds the systemd unit, udev rule, tmpfiles entry and
// install script; these tests check them.
package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unit parses a systemd unit: section -> key -> values (keys may repeat).
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			section = l[1 : len(l)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" || strings.HasSuffix(l, `\`) {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, l)
			}
			out[section][strings.TrimSpace(k)] = append(out[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return out
}

// The unit keeps what items 12 and 19 of issue 8 need: the control group
// killed, delegated for app cgroups, the unix socket reachable, cameras
// and both kinds of serial bridge allowed, per-host options from an
// environment file, no --wireless-version of its own.
func TestUnitKeys(t *testing.T) {
	u := unit(t, "reachyd.service")
	s := u["Service"]
	one := func(k string) string {
		t.Helper()
		if len(s[k]) != 1 {
			t.Fatalf("%s: %v, want one value", k, s[k])
		}
		return s[k][0]
	}
	for k, want := range map[string]string{
		"KillMode":             "control-group",
		"Delegate":             "yes",
		"RuntimeDirectory":     "reachyd",
		"EnvironmentFile":      "-/etc/default/reachyd",
		"User":                 "reachy",
		"ProtectHome":          "read-only",
		"PrivateTmp":           "yes",
		"StateDirectory":       "reachyd",
		"RuntimeDirectoryMode": "0755",
		"LimitRTPRIO":          "49",
	} {
		if got := one(k); got != want {
			t.Errorf("%s=%s, want %s", k, got, want)
		}
	}
	cmdline := strings.Fields(one("ExecStart"))
	if cmdline[0] != "/usr/local/bin/reachyd" || !slices.Contains(cmdline, "$REACHYD_ARGS") || slices.Contains(cmdline, "--wireless-version") {
		t.Errorf("ExecStart %v", cmdline)
	}
	if i := slices.Index(cmdline, "--uds"); i < 0 || i+1 >= len(cmdline) || cmdline[i+1] != "/run/reachyd/rest_api.sock" {
		t.Errorf("ExecStart does not serve the socket in the runtime folder: %v", cmdline)
	}
	groups := strings.Fields(one("SupplementaryGroups"))
	for _, g := range []string{"dialout", "video", "audio", "systemd-journal"} {
		if !slices.Contains(groups, g) {
			t.Errorf("SupplementaryGroups lacks %s: %v", g, groups)
		}
	}
	for _, d := range []string{"char-ttyACM rw", "char-ttyUSB rw", "char-ttyAMA rw", "char-video4linux rw", "char-alsa rw"} {
		if !slices.Contains(s["DeviceAllow"], d) {
			t.Errorf("DeviceAllow lacks %q: %v", d, s["DeviceAllow"])
		}
	}
	// A self-update ends with exit 75, which must restart the unit on the
	// new binary and not count as a failure.
	for _, k := range []string{"SuccessExitStatus", "RestartForceExitStatus"} {
		if !slices.Contains(s[k], "75") {
			t.Errorf("%s lacks 75: %v", k, s[k])
		}
	}
	writable := false
	for _, p := range s["ReadWritePaths"] {
		writable = writable || strings.HasPrefix("/var/lib/reachyd/bin/reachyd", strings.TrimSuffix(p, "/")+"/")
	}
	if !writable {
		t.Errorf("the wireless robot's binary folder is not writable by the service: ReadWritePaths=%v", s["ReadWritePaths"])
	}
	if v := s["ProtectControlGroups"]; len(v) > 0 && v[0] == "yes" {
		t.Error("ProtectControlGroups=yes forbids the delegated app cgroups")
	}
	if u["Install"]["WantedBy"][0] != "multi-user.target" {
		t.Errorf("Install %v", u["Install"])
	}
	// The tmpfiles entry links pymirokai's default path to the socket.
	b, err := os.ReadFile("reachyd.tmpfiles")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !slices.Equal(strings.Fields(lines[0]), []string{"L+", "/tmp/rest_api.sock", "-", "-", "-", "-", "/run/reachyd/rest_api.sock"}) {
		t.Errorf("tmpfiles: %q", lines)
	}
}

// systemd's own check of the unit, where systemd is installed (the
// binary's path is replaced by one that exists here).
func TestUnitVerifies(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	b, err := os.ReadFile("reachyd.service")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "reachyd.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/reachyd", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", path).CombinedOutput()
	// systemd-analyze exits 0 on unknown keys; any message is a finding.
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestInstallScriptIsValidBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	if out, err := exec.Command(bash, "-n", "install.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n install.sh: %v\n%s", err, out)
	}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		if out, err := exec.Command(sc, "install.sh").CombinedOutput(); err != nil {
			t.Fatalf("shellcheck install.sh: %v\n%s", err, out)
		}
	}
	b, err := os.ReadFile("install.sh")
	if err != nil {
		t.Fatal(err)
	}
	// The wireless robot's binary is where the service may swap it (a path
	// under its ReadWritePaths), linked from /usr/local/bin.
	for _, want := range []string{"reachyd.tmpfiles", "reachyd.default", "/etc/default/reachyd", "--wireless-version", "99-reachy-mini.rules",
		"/var/lib/reachyd/bin/reachyd", "ln -sfn /var/lib/reachyd/bin/reachyd /usr/local/bin/reachyd"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("install.sh does not install %s", want)
		}
	}
	d, err := os.ReadFile("reachyd.default")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(d), `REACHYD_ARGS="@REACHYD_ARGS@"`) {
		t.Error("reachyd.default has no REACHYD_ARGS placeholder")
	}
}

// The udev rule names the Lite's bridge whatever its driver (ttyACM or
// ttyUSB: the tty subsystem) and keeps ModemManager off it.
func TestUdevRule(t *testing.T) {
	b, err := os.ReadFile("99-reachy-mini.rules")
	if err != nil {
		t.Fatal(err)
	}
	var rule string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `ATTRS{idProduct}=="55d3"`) {
			rule = l
		}
	}
	for _, want := range []string{`SUBSYSTEM=="tty"`, `ATTRS{idVendor}=="1a86"`, `GROUP="dialout"`, `SYMLINK+="reachy-mini"`, `ENV{ID_MM_DEVICE_IGNORE}="1"`} {
		if !strings.Contains(rule, want) {
			t.Errorf("the bridge's rule lacks %s: %q", want, rule)
		}
	}
	if strings.Contains(rule, "KERNEL==") {
		t.Errorf("the rule must not pin a driver's device name: %q", rule)
	}
}
