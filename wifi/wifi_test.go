package wifi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"reachyd/wifi/wifitest"
)

// setup starts a private bus with a fake NetworkManager and a Manager on
// it, with short retry delays.
func setup(t *testing.T, inRange ...wifitest.Network) (*Manager, *wifitest.NM) {
	t.Helper()
	addr := wifitest.StartBus(t)
	nm := wifitest.StartNM(t, addr, inRange...)
	m := New(Options{
		BusAddress: addr, PIN: "12345", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		CallTimeout: 5 * time.Second, ActivateTimeout: 10 * time.Second, ScanWait: 5 * time.Second,
		RetryDelay: 10 * time.Millisecond,
	})
	t.Cleanup(m.Close)
	return m, nm
}

// waitIdle waits for the running operation to end.
func waitIdle(t *testing.T, m *Manager) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for m.Busy() {
		if time.Now().After(deadline) {
			t.Fatal("the Wi-Fi operation did not end in 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func status(t *testing.T, m *Manager) Status {
	t.Helper()
	st, err := m.Status(context.Background())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st
}

func lastError(m *Manager) string {
	text, _ := m.LastError()
	return text
}

var (
	home  = wifitest.Network{SSID: "home", Strength: 70, Password: "correct horse"}
	cafe  = wifitest.Network{SSID: "cafe", Strength: 40}
	weak  = wifitest.Network{SSID: "home", Strength: 20, Password: "correct horse"}
	loud  = wifitest.Network{SSID: "neighbour", Strength: 90, Password: "secret123"}
	ghost = wifitest.Network{SSID: "", Strength: 99, Password: "hidden123"}
)

func TestStatusModes(t *testing.T) {
	m, nm := setup(t)
	if st := status(t, m); st.Mode != ModeDisconnected || len(st.KnownNetworks) != 0 || st.ConnectedNetwork != "" {
		t.Errorf("nothing saved: %+v", st)
	}
	nm.AddProfile("office", "office", "password1")
	nm.AddProfile("home", "home", "correct horse")
	nm.AddHotspot(HotspotSSID, HotspotPassword)
	nm.AddEthernetProfile("Wired connection 1")
	st := status(t, m)
	if st.Mode != ModeDisconnected || !reflect.DeepEqual(st.KnownNetworks, []string{"home", "office"}) || st.ConnectedNetwork != "" {
		t.Errorf("saved, none up: %+v", st)
	}
	nm.Up("office")
	st = status(t, m)
	if st.Mode != ModeWLAN || !reflect.DeepEqual(st.KnownNetworks, []string{"office", "home"}) || st.ConnectedNetwork != "office" {
		t.Errorf("office up: %+v", st)
	}
	nm.Up(HotspotName)
	st = status(t, m)
	if st.Mode != ModeHotspot || !reflect.DeepEqual(st.KnownNetworks, []string{"home", "office"}) || st.ConnectedNetwork != HotspotName {
		t.Errorf("hotspot up: %+v", st)
	}
}

func TestScan(t *testing.T) {
	m, nm := setup(t, cafe, home, weak, loud, ghost)
	got, err := m.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"neighbour", "home", "cafe"}; !reflect.DeepEqual(got, want) {
		t.Errorf("scan = %q, want %q (strongest first, once each, no hidden network)", got, want)
	}
	if nm.Scans() != 1 {
		t.Errorf("RequestScan calls = %d, want 1", nm.Scans())
	}
	nm.SetInRange()
	if got, _ := m.Scan(context.Background()); len(got) != 0 || got == nil {
		t.Errorf("nothing in range: %#v, want an empty list", got)
	}
}

func TestConnect(t *testing.T) {
	m, nm := setup(t, home, cafe)
	nm.AddHotspot(HotspotSSID, HotspotPassword)
	nm.Up(HotspotName)
	if err := m.Connect("home", "correct horse"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if e, ok := m.LastError(); ok {
		t.Fatalf("error %q", e)
	}
	if nm.Active() != "home" {
		t.Errorf("active = %q, want home", nm.Active())
	}
	st := status(t, m)
	if st.Mode != ModeWLAN || st.ConnectedNetwork != "home" {
		t.Errorf("status %+v", st)
	}
	// Made as nmcli makes it: named after the SSID, the key alone (the
	// key management left to NetworkManager), through the access point.
	added := nm.Added()
	if len(added) != 1 {
		t.Fatalf("AddAndActivateConnection calls: %d", len(added))
	}
	s := added[0]
	if id := s["connection"]["id"].Value(); id != "home" {
		t.Errorf("id %v", id)
	}
	if ssid, _ := s["802-11-wireless"]["ssid"].Value().([]byte); string(ssid) != "home" {
		t.Errorf("ssid %q", ssid)
	}
	if psk := s["802-11-wireless-security"]["psk"].Value(); psk != "correct horse" {
		t.Errorf("psk %v", psk)
	}
	if _, ok := s["802-11-wireless-security"]["key-mgmt"]; ok {
		t.Errorf("key-mgmt set by the client: %v", s["802-11-wireless-security"])
	}

	// An open network gets no security section, even with a password.
	if err := m.Connect("cafe", "whatever"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if nm.Active() != "cafe" || lastError(m) != "" {
		t.Errorf("cafe: active %q, error %q", nm.Active(), lastError(m))
	}
	if s := nm.Added()[1]; s["802-11-wireless-security"] != nil {
		t.Errorf("open network with security settings: %v", s["802-11-wireless-security"])
	}

	// A saved profile is activated as it is.
	if err := m.Connect("home", "ignored"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if nm.Active() != "home" || len(nm.Added()) != 2 {
		t.Errorf("saved profile: active %q, %d profiles added", nm.Active(), len(nm.Added()))
	}
}

// checkHotspot checks the hotspot profile is as nmcli's "device wifi
// hotspot" makes it.
func checkHotspot(t *testing.T, nm *wifitest.NM, ssid, password string) {
	t.Helper()
	s := nm.ProfileSettings(HotspotName)
	if s == nil {
		t.Fatalf("no hotspot profile; profiles %q", nm.Profiles())
	}
	get := func(group, key string) any {
		if v, ok := s[group][key]; ok {
			return v.Value()
		}
		return nil
	}
	if g, _ := get("802-11-wireless", "ssid").([]byte); string(g) != ssid {
		t.Errorf("hotspot ssid %q, want %q", g, ssid)
	}
	for _, c := range []struct {
		group, key string
		want       any
	}{
		{"connection", "type", "802-11-wireless"}, {"connection", "autoconnect", false},
		{"802-11-wireless", "mode", "ap"},
		{"802-11-wireless-security", "key-mgmt", "wpa-psk"}, {"802-11-wireless-security", "psk", password},
		{"802-11-wireless-security", "proto", []string{"rsn"}}, {"802-11-wireless-security", "pairwise", []string{"ccmp"}},
		{"802-11-wireless-security", "group", []string{"ccmp"}},
		{"ipv4", "method", "shared"}, {"ipv6", "method", "ignore"},
	} {
		if g := get(c.group, c.key); !reflect.DeepEqual(g, c.want) {
			t.Errorf("hotspot %s.%s = %#v, want %#v", c.group, c.key, g, c.want)
		}
	}
}

func TestConnectFailureFallsBackToHotspot(t *testing.T) {
	m, nm := setup(t, home)
	nm.AddProfile("office", "office", "password1")
	nm.Up("office")
	if err := m.Connect("home", "wrong password"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if e := lastError(m); !strings.Contains(e, "Connection activation failed: (9) No valid secrets") {
		t.Errorf("error %q", e)
	}
	if nm.Active() != HotspotName {
		t.Errorf("active %q, want the hotspot", nm.Active())
	}
	checkHotspot(t, nm, HotspotSSID, HotspotPassword)
	if got := nm.Profiles(); !reflect.DeepEqual(got, []string{"office", HotspotName}) {
		t.Errorf("profiles %q: the failed one must be deleted", got)
	}
	if st := status(t, m); st.Mode != ModeHotspot || st.ConnectedNetwork != HotspotName || !reflect.DeepEqual(st.KnownNetworks, []string{"office"}) {
		t.Errorf("status %+v", st)
	}
	m.ResetError()
	if _, ok := m.LastError(); ok {
		t.Error("error not reset")
	}

	// Not in range after every scan: nmcli's message; the existing hotspot
	// profile is brought up again.
	nm.Up("office")
	if err := m.Connect("elsewhere", "password1"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if e := lastError(m); e != "No network with SSID 'elsewhere' found." {
		t.Errorf("error %q", e)
	}
	if nm.Scans() != 1+3 {
		t.Errorf("scans %d, want 3 for this connect", nm.Scans()-1)
	}
	if nm.Active() != HotspotName || len(nm.Added()) != 2 {
		t.Errorf("active %q, %d added (the saved hotspot must be reused)", nm.Active(), len(nm.Added()))
	}

	// NetworkManager refuses the settings (a password too short for WPA).
	if err := m.Connect("home", "short"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if e := lastError(m); !strings.Contains(e, "psk: property is invalid") {
		t.Errorf("error %q", e)
	}
	if nm.Active() != HotspotName {
		t.Errorf("active %q", nm.Active())
	}
}

func TestBusy(t *testing.T) {
	m, nm := setup(t, home)
	nm.AddProfile("office", "office", "password1")
	nm.Hold()
	if err := m.Connect("home", "correct horse"); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"connect":       func() error { return m.Connect("home", "correct horse") },
		"setup_hotspot": func() error { return m.SetupHotspot(HotspotSSID, HotspotPassword) },
		"forget":        func() error { return m.Forget(context.Background(), "office") },
		"forget_all":    m.ForgetAll,
		"sealed":        func() error { return m.ConnectSealed(Sealed{SSID: "home", Kid: "nope"}) },
	} {
		if err := op(); !errors.Is(err, ErrBusy) {
			t.Errorf("%s while busy: %v, want ErrBusy", name, err)
		}
	}
	if st := status(t, m); st.Mode != ModeBusy {
		t.Errorf("mode %q while connecting", st.Mode)
	}
	if _, err := m.Scan(context.Background()); err != nil {
		t.Errorf("scan while busy: %v (the reference does not lock scans)", err)
	}
	nm.Release()
	waitIdle(t, m)
	if st := status(t, m); st.Mode != ModeWLAN || st.ConnectedNetwork != "home" {
		t.Errorf("after: %+v, error %q", st, lastError(m))
	}
}

func TestForget(t *testing.T) {
	m, nm := setup(t)
	nm.AddProfile("office", "office", "password1")
	nm.AddProfile("home", "home", "correct horse")
	nm.AddHotspot(HotspotSSID, HotspotPassword)
	ctx := context.Background()
	if err := m.Forget(ctx, HotspotName); !errors.Is(err, ErrForgetHotspot) {
		t.Errorf("forget the hotspot: %v", err)
	}
	var unknown *UnknownNetworkError
	if err := m.Forget(ctx, "nowhere"); !errors.As(err, &unknown) || err.Error() != "Network 'nowhere' not found in saved networks." {
		t.Errorf("forget an unknown network: %v", err)
	}
	// Not the active one: just deleted.
	nm.Up("home")
	if err := m.Forget(ctx, "office"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if got := nm.Profiles(); !reflect.DeepEqual(got, []string{"home", HotspotName}) || nm.Active() != "home" {
		t.Errorf("profiles %q, active %q", got, nm.Active())
	}
	// The active one: the hotspot comes up.
	if err := m.Forget(ctx, "home"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if got := nm.Profiles(); !reflect.DeepEqual(got, []string{HotspotName}) || nm.Active() != HotspotName || lastError(m) != "" {
		t.Errorf("profiles %q, active %q, error %q", got, nm.Active(), lastError(m))
	}
}

func TestForgetAllKeepsTheHotspot(t *testing.T) {
	m, nm := setup(t)
	nm.AddProfile("office", "office", "password1")
	nm.AddHotspot("my-robot", "robot-password")
	nm.AddProfile("home", "home", "correct horse")
	nm.AddEthernetProfile("Wired connection 1")
	nm.Up("home")
	if err := m.ForgetAll(); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if got := nm.Profiles(); !reflect.DeepEqual(got, []string{HotspotName, "Wired connection 1"}) {
		t.Errorf("profiles %q", got)
	}
	if nm.Active() != HotspotName || lastError(m) != "" {
		t.Errorf("active %q, error %q: nothing was left up, the hotspot must be", nm.Active(), lastError(m))
	}
	if ssid, _ := nm.ProfileSettings(HotspotName)["802-11-wireless"]["ssid"].Value().([]byte); string(ssid) != "my-robot" {
		t.Errorf("the saved hotspot was replaced: ssid %q", ssid)
	}
}

func TestSetupHotspot(t *testing.T) {
	m, nm := setup(t)
	if err := m.SetupHotspot("robot-ap", "short"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if e := lastError(m); !strings.Contains(e, "Invalid hotspot password") || len(nm.Profiles()) != 0 {
		t.Errorf("bad password: error %q, profiles %q", e, nm.Profiles())
	}
	if err := m.SetupHotspot("robot-ap", "robot-password"); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	checkHotspot(t, nm, "robot-ap", "robot-password")
	if nm.Active() != HotspotName {
		t.Errorf("active %q", nm.Active())
	}
}

func TestStartup(t *testing.T) {
	t.Run("disconnected", func(t *testing.T) {
		m, nm := setup(t, home)
		nm.AddProfile("home", "home", "correct horse")
		m.Startup()
		waitIdle(t, m)
		if nm.Active() != HotspotName || nm.Scans() == 0 {
			t.Errorf("active %q, scans %d", nm.Active(), nm.Scans())
		}
		checkHotspot(t, nm, HotspotSSID, HotspotPassword)
	})
	t.Run("connected", func(t *testing.T) {
		m, nm := setup(t, home)
		nm.AddProfile("home", "home", "correct horse")
		nm.Up("home")
		m.Startup()
		waitIdle(t, m)
		if nm.Active() != "home" || len(nm.Profiles()) != 1 {
			t.Errorf("active %q, profiles %q", nm.Active(), nm.Profiles())
		}
	})
}

// A NetworkManager that does not answer, or is not there, is an error
// after the call timeout, not a hang.
func TestUnavailable(t *testing.T) {
	addr := wifitest.StartBus(t)
	m := New(Options{BusAddress: addr, CallTimeout: 300 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(m.Close)
	if _, err := m.Status(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("no NetworkManager on the bus: %v", err)
	}
	nm := wifitest.StartNM(t, addr)
	release := nm.Stall("ListConnections")
	_, err := m.Status(context.Background())
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("stalled NetworkManager: %v", err)
	}
	release()
	if st, err := m.Status(context.Background()); err != nil || st.Mode != ModeDisconnected {
		t.Errorf("after: %+v %v", st, err)
	}

	bad := New(Options{BusAddress: "unix:path=/nonexistent/bus", CallTimeout: time.Second})
	t.Cleanup(bad.Close)
	if _, err := bad.Scan(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("no bus: %v", err)
	}
}

// The bus connection is dialled again after it is lost.
func TestRedial(t *testing.T) {
	m, nm := setup(t)
	nm.AddProfile("home", "home", "correct horse")
	if st := status(t, m); len(st.KnownNetworks) != 1 {
		t.Fatalf("%+v", st)
	}
	conn, err := m.nm.bus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if st := status(t, m); len(st.KnownNetworks) != 1 {
		t.Errorf("after the bus connection closed: %+v", st)
	}
}

func TestConnectSealed(t *testing.T) {
	m, nm := setup(t, home)
	pk, err := m.ProvKey()
	if err != nil {
		t.Fatal(err)
	}
	if pk.Alg != SealAlg || len(pk.Kid) != 8 {
		t.Errorf("prov key %+v", pk)
	}
	body, err := wifitest.Seal("home", "correct horse", "12345", pk.PK, pk.Kid)
	if err != nil {
		t.Fatal(err)
	}
	s := Sealed{SSID: body["ssid"], Kid: body["kid"], EPK: body["epk"], Nonce: body["nonce"], CT: body["ct"]}
	bad := s
	bad.SSID = "cafe"
	var se *SealError
	if err := m.ConnectSealed(bad); !errors.As(err, &se) || err.Error() != "decrypt_failed: authentication failed" {
		t.Errorf("another SSID: %v", err)
	}
	if m.Busy() {
		t.Fatal("a refused payload left the Manager busy")
	}
	if err := m.ConnectSealed(s); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, m)
	if nm.Active() != "home" || lastError(m) != "" {
		t.Errorf("active %q, error %q", nm.Active(), lastError(m))
	}
	if psk := nm.ProfileSettings("home")["802-11-wireless-security"]["psk"].Value(); psk != "correct horse" {
		t.Errorf("psk given to NetworkManager: %v", psk)
	}
}

// The fake must refuse what NetworkManager refuses, or the tests above
// prove nothing about the settings sent.
func TestFakeRefusesBadSettings(t *testing.T) {
	m, _ := setup(t, home)
	c := m.nm
	ctx := context.Background()
	dev, err := c.wifiDevice(ctx)
	if err != nil || dev != wifitest.WifiDevice {
		t.Fatalf("device %q %v (the Ethernet device must be passed over)", dev, err)
	}
	_, err = c.addAndActivate(ctx, settings{"connection": {"id": dbus.MakeVariant("x")}}, dev, "/")
	if err == nil {
		t.Error("a profile without an SSID was accepted")
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A Manager replaced by another on the same State (the Wi-Fi actor after
// a crash): the running operation keeps the slot and goes on to its end on
// the old Manager's connection, which is closed then; its failure lands in
// the State; the keys stay; State.Close cancels what runs.
func TestSharedState(t *testing.T) {
	addr := wifitest.StartBus(t)
	nm := wifitest.StartNM(t, addr, home)
	st := NewState(nil)
	t.Cleanup(st.Close)
	open := func() *Manager {
		m := New(Options{
			BusAddress: addr, PIN: "12345", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			CallTimeout: 5 * time.Second, ActivateTimeout: 10 * time.Second, ScanWait: 5 * time.Second,
			RetryDelay: 10 * time.Millisecond, State: st,
		})
		t.Cleanup(m.Close)
		return m
	}
	old := open()
	key, err := old.ProvKey()
	if err != nil {
		t.Fatal(err)
	}
	nm.Hold()
	if err := old.Connect("home", "wrong password"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the activation to start", func() bool { return slices.Contains(nm.Profiles(), "home") })
	oldName := nm.Callers()[0]
	old.Close() // returns at once: the join is held
	if !st.Busy() || !nm.Connected(oldName) {
		t.Fatalf("after Close: busy %v, connection open %v; the operation must go on", st.Busy(), nm.Connected(oldName))
	}
	if _, err := old.Status(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("status on a closed Manager: %v", err)
	}

	m := open()
	if err := m.Connect("home", "correct horse"); !errors.Is(err, ErrBusy) {
		t.Errorf("connect on the new Manager during the old one's: %v", err)
	}
	if s := status(t, m); s.Mode != ModeBusy {
		t.Errorf("mode %q", s.Mode)
	}
	if got := nm.Callers(); len(got) != 2 {
		t.Errorf("callers %q: the new Manager must have a connection of its own", got)
	}
	if k, err := m.ProvKey(); err != nil || k.Kid != key.Kid {
		t.Errorf("key %+v %v, want kid %s", k, err, key.Kid)
	}
	nm.Release()
	waitFor(t, "the old operation to end", func() bool { return !m.Busy() })
	if e := lastError(m); !strings.Contains(e, "No valid secrets") {
		t.Errorf("error %q: the old Manager's failure must be in the State", e)
	}
	if nm.Active() != HotspotName {
		t.Errorf("active %q: the fall back must have run", nm.Active())
	}
	waitFor(t, "the old connection to close", func() bool { return !nm.Connected(oldName) })

	// State.Close cancels the running operation and waits for it.
	nm.Hold()
	if err := m.Connect("home", "correct horse"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st.Busy() {
		t.Error("busy after State.Close")
	}
	if err := m.ForgetAll(); !errors.Is(err, ErrBusy) {
		t.Errorf("an operation after State.Close: %v", err)
	}
}
