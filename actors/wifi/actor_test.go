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

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/messages"
	nmwifi "reachyd/wifi"
	"reachyd/wifi/wifitest"
)

var (
	home = wifitest.Network{SSID: "home", Strength: 80, Password: "correct horse"}
	lab  = wifitest.Network{SSID: "lab", Strength: 30, Password: "lab-password"}
)

type fixture struct {
	t    *testing.T
	s    *kit.System
	nm   *wifitest.NM
	cell *Cell
	pid  *actor.PID
}

// start runs a Wi-Fi actor (with the start-up check) against a fake
// NetworkManager on a private bus.
func start(t *testing.T, inRange ...wifitest.Network) *fixture {
	t.Helper()
	addr := wifitest.StartBus(t)
	nm := wifitest.StartNM(t, addr, inRange...)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := kit.NewSystem(log)
	cell := NewCell(nil)
	// Cleanups run last first: the actor system, then the cell (the
	// running operation), then the fake and the bus.
	t.Cleanup(cell.Close)
	t.Cleanup(s.Shutdown)
	pid, err := s.Root.SpawnNamed(Props(Options{
		Manager: nmwifi.Options{BusAddress: addr, PIN: "12345", CallTimeout: 5 * time.Second,
			ActivateTimeout: 10 * time.Second, ScanWait: 5 * time.Second, RetryDelay: 10 * time.Millisecond},
		Startup: true, Cell: cell, Log: log,
	}), "wifi")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, s: s, nm: nm, cell: cell, pid: pid}
}

func ask[T any](f *fixture, msg any) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return kit.Ask[T](ctx, f.s, f.pid, msg)
}

func (f *fixture) status() messages.WifiStatus {
	f.t.Helper()
	st, err := ask[messages.WifiStatus](f, &messages.GetWifiStatus{})
	if err != nil {
		f.t.Fatalf("status: %v", err)
	}
	return st
}

func (f *fixture) lastError() messages.WifiError {
	f.t.Helper()
	e, err := ask[messages.WifiError](f, &messages.GetWifiError{})
	if err != nil {
		f.t.Fatalf("error: %v", err)
	}
	return e
}

// waitMode polls the status until its mode is mode.
func (f *fixture) waitMode(mode string) messages.WifiStatus {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := f.status()
		if st.Mode == mode {
			return st
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("mode %q, want %q", st.Mode, mode)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantError checks err is a *messages.Error of kind with detail.
func wantError(t *testing.T, what string, err error, kind messages.Kind, detail string) {
	t.Helper()
	var me *messages.Error
	if !errors.As(err, &me) || me.Kind != kind || (detail != "" && me.Detail != detail) {
		t.Errorf("%s: %v (%#v), want kind %d %q", what, err, me, kind, detail)
	}
}

// Every message, with the reference's errors.
func TestMessages(t *testing.T) {
	f := start(t, home, lab)
	f.nm.AddProfile("office", "office", "password1")
	// The start-up check brings the hotspot up.
	if st := f.waitMode("hotspot"); st.ConnectedNetwork != nmwifi.HotspotName || !reflect.DeepEqual(st.KnownNetworks, []string{"office"}) {
		t.Errorf("status %+v", st)
	}
	nets, err := ask[messages.WifiNetworks](f, &messages.ScanWifi{})
	if err != nil || !reflect.DeepEqual(nets.SSIDs, []string{"home", "lab"}) {
		t.Errorf("scan %+v %v", nets, err)
	}

	f.nm.Hold()
	if _, err := ask[messages.WifiOK](f, &messages.ConnectWifi{SSID: "home", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	busy := "Another operation is in progress."
	for _, m := range []any{
		&messages.ConnectWifi{SSID: "lab", Password: "x"}, &messages.SetupWifiHotspot{SSID: "a", Password: "b"},
		&messages.ForgetWifi{SSID: "office"}, &messages.ForgetAllWifi{},
		&messages.ConnectWifiSealed{SSID: "lab", Kid: "x", EPK: "x", Nonce: "x", CT: "x"},
	} {
		_, err := ask[messages.WifiOK](f, m)
		wantError(t, reflect.TypeOf(m).String(), err, messages.KindConflict, busy)
		if !errors.Is(err, messages.ErrWifiBusy) {
			t.Errorf("%T: %v is not ErrWifiBusy", m, err)
		}
	}
	if st := f.status(); st.Mode != "busy" {
		t.Errorf("mode %q during the connect", st.Mode)
	}
	f.nm.Release()
	if st := f.waitMode("wlan"); st.ConnectedNetwork != "home" {
		t.Errorf("status %+v", st)
	}

	// A failure is kept until reset.
	if _, err := ask[messages.WifiOK](f, &messages.ConnectWifi{SSID: "lab", Password: "wrong-password"}); err != nil {
		t.Fatal(err)
	}
	f.waitMode("hotspot")
	if e := f.lastError(); !e.Set || e.Error != "Connection activation failed: (9) No valid secrets" {
		t.Errorf("error %+v", e)
	}
	if _, err := ask[messages.WifiOK](f, &messages.ResetWifiError{}); err != nil {
		t.Fatal(err)
	}
	if e := f.lastError(); e.Set || e.Error != "" {
		t.Errorf("error after reset %+v", e)
	}

	// Forget: 400, 404, then done in the background.
	_, err = ask[messages.WifiOK](f, &messages.ForgetWifi{SSID: nmwifi.HotspotName})
	wantError(t, "forget the hotspot", err, messages.KindBadRequest, "Cannot forget Hotspot connection.")
	_, err = ask[messages.WifiOK](f, &messages.ForgetWifi{SSID: "nowhere"})
	wantError(t, "forget an unknown network", err, messages.KindNotFound, "Network 'nowhere' not found in saved networks.")
	if _, err := ask[messages.WifiOK](f, &messages.ForgetWifi{SSID: "office"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for slices.Contains(f.nm.Profiles(), "office") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := f.waitMode("hotspot"); !reflect.DeepEqual(st.KnownNetworks, []string{"home"}) {
		t.Errorf("after forget: %+v", st)
	}

	// The sealed exchange.
	key, err := ask[messages.WifiProvKey](f, &messages.GetWifiProvKey{})
	if err != nil || key.Alg != nmwifi.SealAlg {
		t.Fatalf("prov key %+v %v", key, err)
	}
	sealed, err := wifitest.Seal("lab", "lab-password", "12345", key.PK, key.Kid)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ask[messages.WifiOK](f, &messages.ConnectWifiSealed{SSID: "lab", Kid: "AAAAAAAA", EPK: sealed["epk"], Nonce: sealed["nonce"], CT: sealed["ct"]})
	wantError(t, "unknown kid", err, messages.KindBadRequest, "decrypt_failed: unknown or expired kid")
	if _, err := ask[messages.WifiOK](f, &messages.ConnectWifiSealed{SSID: "lab", Kid: key.Kid, EPK: sealed["epk"], Nonce: sealed["nonce"], CT: sealed["ct"]}); err != nil {
		t.Fatal(err)
	}
	if st := f.waitMode("wlan"); st.ConnectedNetwork != "lab" {
		t.Errorf("after the sealed connect: %+v", st)
	}

	// forget_all and setup_hotspot.
	if _, err := ask[messages.WifiOK](f, &messages.ForgetAllWifi{}); err != nil {
		t.Fatal(err)
	}
	if st := f.waitMode("hotspot"); len(st.KnownNetworks) != 0 {
		t.Errorf("after forget_all: %+v", st)
	}
	if _, err := ask[messages.WifiOK](f, &messages.SetupWifiHotspot{SSID: "x", Password: "y"}); err != nil {
		t.Fatal(err)
	}
	f.waitMode("hotspot")
}

// NetworkManager not there: the queries are 503 and the key exchange
// still works; a query past its deadline is 503 too, and the mailbox is
// not held meanwhile.
func TestUnavailable(t *testing.T) {
	addr := wifitest.StartBus(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := kit.NewSystem(log)
	cell := NewCell(nil)
	t.Cleanup(cell.Close)
	t.Cleanup(s.Shutdown)
	pid, err := s.Root.SpawnNamed(Props(Options{Manager: nmwifi.Options{BusAddress: addr, CallTimeout: time.Second}, Cell: cell, Log: log}), "wifi")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, s: s, cell: cell, pid: pid}
	_, err = ask[messages.WifiStatus](f, &messages.GetWifiStatus{})
	wantError(t, "status", err, messages.KindUnavailable, "")
	if !strings.HasPrefix(err.Error(), "NetworkManager is not reachable") {
		t.Errorf("status: %v", err)
	}
	_, err = ask[messages.WifiNetworks](f, &messages.ScanWifi{})
	wantError(t, "scan", err, messages.KindUnavailable, "")
	_, err = ask[messages.WifiOK](f, &messages.ForgetWifi{SSID: "x"})
	wantError(t, "forget", err, messages.KindUnavailable, "")
	if _, err := ask[messages.WifiProvKey](f, &messages.GetWifiProvKey{}); err != nil {
		t.Errorf("prov key: %v", err)
	}

	// A NetworkManager that does not answer: the query ends at its
	// deadline, while the actor answers others.
	nm := wifitest.StartNM(t, addr)
	release := nm.Stall("ListConnections")
	defer release()
	slow := make(chan error, 1)
	go func() {
		_, err := ask[messages.WifiStatus](f, &messages.GetWifiStatus{Deadline: time.Now().Add(500 * time.Millisecond)})
		slow <- err
	}()
	if _, err := ask[messages.WifiError](f, &messages.GetWifiError{}); err != nil {
		t.Errorf("error while a status waits: %v", err)
	}
	wantError(t, "stalled status", <-slow, messages.KindUnavailable, "")
}

// A crash of the actor in the middle of an operation: the slot, the last
// error and the keys survive; the new incarnation opens a new bus
// connection, the old one is closed once the operation ends; the start-up
// check is not run again.
func TestCrashKeepsTheOperation(t *testing.T) {
	f := start(t, home, lab)
	f.waitMode("hotspot") // the start-up check
	scans := f.nm.Scans()

	// A failure, then a crash: the error survives.
	if _, err := ask[messages.WifiOK](f, &messages.ConnectWifi{SSID: "lab", Password: "wrong-password"}); err != nil {
		t.Fatal(err)
	}
	f.waitMode("hotspot")
	failed := "Connection activation failed: (9) No valid secrets"
	if e := f.lastError(); e.Error != failed {
		t.Fatalf("error %+v", e)
	}
	key, err := ask[messages.WifiProvKey](f, &messages.GetWifiProvKey{})
	if err != nil {
		t.Fatal(err)
	}
	f.s.Tell(f.pid, &kit.Crash{Reason: "test"})
	if e := f.lastError(); e.Error != failed || !e.Set {
		t.Errorf("error after the crash %+v, want %q", e, failed)
	}
	if f.cell.Opened() != 2 {
		t.Errorf("managers opened: %d, want 2", f.cell.Opened())
	}

	// A join held by NetworkManager, then a crash: still busy.
	f.nm.Hold()
	if _, err := ask[messages.WifiOK](f, &messages.ConnectWifi{SSID: "lab", Password: "wrong-password"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !slices.Contains(f.nm.Profiles(), "lab") { // the activation is held
		if time.Now().After(deadline) {
			t.Fatal("the join did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	callers := f.nm.Callers()
	before := callers[len(callers)-1] // the second incarnation's connection
	f.s.Tell(f.pid, &kit.Crash{Reason: "test"})
	_, err = ask[messages.WifiOK](f, &messages.ConnectWifi{SSID: "home", Password: "correct horse"})
	wantError(t, "connect after the crash", err, messages.KindConflict, "Another operation is in progress.")
	if st := f.status(); st.Mode != "busy" {
		t.Errorf("mode after the crash %q", st.Mode)
	}
	now := f.nm.Callers()
	if len(now) != len(callers)+1 || slices.Contains(callers, now[len(now)-1]) {
		t.Errorf("callers %q then %q: the restarted actor must open a connection of its own", callers, now)
	}
	if !f.nm.Connected(before) {
		t.Error("the crashed incarnation's connection closed while its operation runs")
	}
	if k, err := ask[messages.WifiProvKey](f, &messages.GetWifiProvKey{}); err != nil || k.Kid != key.Kid {
		t.Errorf("key after the crashes %+v %v, want kid %s", k, err, key.Kid)
	}

	// The join fails: the fall back and its error, recorded by the old
	// incarnation's operation, are the new one's.
	f.nm.Release()
	f.waitMode("hotspot")
	if e := f.lastError(); e.Error != failed {
		t.Errorf("error of the operation that outlived the crash %+v", e)
	}
	deadline = time.Now().Add(20 * time.Second)
	for f.nm.Connected(before) {
		if time.Now().After(deadline) {
			t.Fatal("the crashed incarnation's connection is still open after its operation ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := ask[messages.WifiOK](f, &messages.ConnectWifi{SSID: "home", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	if st := f.waitMode("wlan"); st.ConnectedNetwork != "home" {
		t.Errorf("status %+v", st)
	}
	// 1 (start-up) + 1 (lab) + 1 (lab again) + 1 (home): no second
	// start-up check.
	if got := f.nm.Scans() - scans; got != 3 {
		t.Errorf("scans after the start-up check: %d, want 3", got)
	}

	// Stopped for good, the cell closed: no connection left.
	_ = f.s.Root.StopFuture(f.pid).Wait()
	f.cell.Close()
	for _, name := range f.nm.Callers() {
		if f.nm.Connected(name) {
			t.Errorf("connection %s still open after the stop", name)
		}
	}
}
