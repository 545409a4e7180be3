// Package wifitest holds what the Wi-Fi tests talk to in place of the
// robot's system: a private D-Bus bus (Debian's dbus-daemon, started per
// test), a fake NetworkManager exporting the part of NetworkManager's D-Bus
// API that package wifi uses, and a phone-side client of the sealed
// exchange. All are written from the protocols' documentation
// (networkmanager.dev's D-Bus API reference; the reference daemon's
// BLE_WIFI_PROVISIONING.md), not from package wifi, so that a test checks
// wifi against the protocol rather than against itself.
package wifitest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachyd/internal/deathsig"
)

// StartBus starts a private session bus (dbus-daemon --session) for the
// test and returns its address; the daemon is killed when the test ends.
// Without dbus-daemon the test is skipped, or fails when
// REACHYD_REQUIRE_MEDIA is set (CI, where the tools must be there).
func StartBus(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
			t.Fatalf("dbus-daemon is required here (REACHYD_REQUIRE_MEDIA is set): %v", err)
		}
		t.Skip("dbus-daemon not installed (Debian package dbus)")
	}
	// A short folder: a unix socket path has at most 107 bytes.
	dir, err := os.MkdirTemp("", "nmbus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "bus")
	cmd := exec.Command(bin, "--session", "--nofork", "--nopidfile", "--print-address=1", "--address=unix:path="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	// Killed with the test binary, and only then: an in-process reachyd
	// ends threads (its control loop's) that could have forked the bus.
	if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case addr := <-lines:
		if addr == "" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("dbus-daemon printed no address: %s", stderr.String())
		}
		return addr
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon did not start in 10 s")
	}
	return ""
}
