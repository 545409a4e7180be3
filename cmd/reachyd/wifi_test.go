package main

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"reachyd/actors/kit"
	"reachyd/hw"
	"reachyd/wifi/wifitest"
)

// The /wifi routes through the whole daemon (--wireless-version) against
// a fake NetworkManager on a private D-Bus bus (--wifi-dbus-address), with
// a phone-side sealing client: every route, the busy rule, the hotspot at
// start and as the fall back, and the sealed exchange.
func TestWifiRoutes(t *testing.T) {
	addr := wifitest.StartBus(t)
	home := wifitest.Network{SSID: "home", Strength: 80, Password: "correct horse"}
	cafe := wifitest.Network{SSID: "café", Strength: 50}
	lab := wifitest.Network{SSID: "lab", Strength: 30, Password: "lab-password"}
	nm := wifitest.StartNM(t, addr, home, cafe, lab)
	nm.AddProfile("office", "office", "password1")
	d := startDaemon(t, "--wireless-version", "--fastapi-host", "127.0.0.1", "--wifi-dbus-address", addr)

	expect := func(method, path string, body any, wantCode int, want string) {
		t.Helper()
		code, got := d.do(method, path, body)
		if code != wantCode || (want != "" && string(got) != want) {
			t.Errorf("%s %s = %d %s, want %d %s", method, path, code, got, wantCode, want)
		}
	}
	// waitStatus polls GET /wifi/status until it is want.
	waitStatus := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		var got []byte
		for time.Now().Before(deadline) {
			var code int
			if code, got = d.do("GET", "/wifi/status", nil); code == 200 && string(got) == want {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("status %s, want %s", got, want)
	}

	// Nothing up at start: the daemon brings the hotspot up.
	waitStatus(`{"mode":"hotspot","known_networks":["office"],"connected_network":"Hotspot"}`)
	expect("GET", "/wifi/error", nil, 200, `{"error":null}`)
	expect("POST", "/wifi/scan_and_list", nil, 200, `["home","café","lab"]`)

	// FastAPI's 422 for the required query parameters.
	expect("POST", "/wifi/connect", nil, 422, `{"detail":[{"type":"missing","loc":["query","ssid"],"msg":"Field required","input":null},{"type":"missing","loc":["query","password"],"msg":"Field required","input":null}]}`)
	expect("POST", "/wifi/forget", nil, 422, `{"detail":[{"type":"missing","loc":["query","ssid"],"msg":"Field required","input":null}]}`)

	// A slow connect holds the slot: everything else that changes the
	// network is 409 until it ends.
	nm.Hold()
	expect("POST", "/wifi/connect?ssid=home&password="+url.QueryEscape("correct horse"), nil, 200, "null")
	busy := `{"detail":"Another operation is in progress."}`
	expect("POST", "/wifi/connect?ssid=lab&password=x", nil, 409, busy)
	expect("POST", "/wifi/setup_hotspot", nil, 409, busy)
	expect("POST", "/wifi/forget?ssid=office", nil, 409, busy)
	expect("POST", "/wifi/forget_all", nil, 409, busy)
	expect("POST", "/wifi/connect_sealed", map[string]string{"ssid": "lab", "kid": "x", "epk": "x", "nonce": "x", "ct": "x"}, 409, busy)
	var st struct{ Mode string }
	if d.getJSON("/wifi/status", &st); st.Mode != "busy" {
		t.Errorf("mode %q during the connect", st.Mode)
	}
	nm.Release()
	waitStatus(`{"mode":"wlan","known_networks":["home","office"],"connected_network":"home"}`)
	expect("GET", "/wifi/error", nil, 200, `{"error":null}`)

	// A wrong password: the error is kept, the profile deleted, the
	// hotspot up again.
	expect("POST", "/wifi/connect?ssid=lab&password=wrong-password", nil, 200, "null")
	waitStatus(`{"mode":"hotspot","known_networks":["home","office"],"connected_network":"Hotspot"}`)
	expect("GET", "/wifi/error", nil, 200, `{"error":"Connection activation failed: (9) No valid secrets"}`)
	expect("POST", "/wifi/reset_error", nil, 200, `{"status":"ok"}`)
	expect("GET", "/wifi/error", nil, 200, `{"error":null}`)

	// Forget.
	expect("POST", "/wifi/forget?ssid=Hotspot", nil, 400, `{"detail":"Cannot forget Hotspot connection."}`)
	expect("POST", "/wifi/forget?ssid=nowhere", nil, 404, `{"detail":"Network 'nowhere' not found in saved networks."}`)
	expect("POST", "/wifi/forget?ssid=office", nil, 200, "null")
	waitStatus(`{"mode":"hotspot","known_networks":["home"],"connected_network":"Hotspot"}`)

	// The sealed exchange, as the phone does it.
	var key struct{ Kid, Pk, Alg string }
	d.getJSON("/wifi/prov_key", &key)
	if key.Alg != "x25519-hkdf-sha256-aesgcm" || key.Kid == "" {
		t.Fatalf("prov_key %+v", key)
	}
	if raw, err := base64.StdEncoding.DecodeString(key.Pk); err != nil || len(raw) != 32 {
		t.Fatalf("pk %q: %v", key.Pk, err)
	}
	var again struct{ Kid string }
	if d.getJSON("/wifi/prov_key", &again); again.Kid != key.Kid {
		t.Errorf("the key changed within its 600 s: %s then %s", key.Kid, again.Kid)
	}
	sealed, err := wifitest.Seal("lab", "lab-password", hw.DevicePIN(), key.Pk, key.Kid)
	if err != nil {
		t.Fatal(err)
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range sealed {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	ct, _ := base64.StdEncoding.DecodeString(sealed["ct"])
	ct[len(ct)-1] ^= 0x80
	expect("POST", "/wifi/connect_sealed", with("kid", "AAAAAAAA"), 400, `{"detail":"decrypt_failed: unknown or expired kid"}`)
	expect("POST", "/wifi/connect_sealed", with("ct", base64.StdEncoding.EncodeToString(ct)), 400, `{"detail":"decrypt_failed: authentication failed"}`)
	expect("POST", "/wifi/connect_sealed", with("ssid", "home"), 400, `{"detail":"decrypt_failed: authentication failed"}`)
	expect("POST", "/wifi/connect_sealed", with("epk", strings.Repeat("A", 100)), 400, `{"detail":"decrypt_failed: bad encoding: epk is too long"}`)
	expect("POST", "/wifi/connect_sealed", `{"ssid":"lab"}`, 422, "")
	if other, err := wifitest.Seal("lab", "lab-password", "00000", key.Pk, key.Kid); err != nil {
		t.Fatal(err)
	} else {
		expect("POST", "/wifi/connect_sealed", other, 400, `{"detail":"decrypt_failed: authentication failed"}`)
	}
	expect("POST", "/wifi/connect_sealed", sealed, 200, "null")
	waitStatus(`{"mode":"wlan","known_networks":["lab","home"],"connected_network":"lab"}`)
	if psk := nm.ProfileSettings("lab")["802-11-wireless-security"]["psk"].Value(); psk != "lab-password" {
		t.Errorf("password handed to NetworkManager: %v", psk)
	}

	// A web page from another origin cannot change the Wi-Fi.
	code, body := d.doHeaders("POST", "/wifi/forget_all", "", "", map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if code != 403 {
		t.Errorf("cross-origin forget_all: %d %s", code, body)
	}

	// Forget everything: only the hotspot stays, and comes up.
	expect("POST", "/wifi/forget_all", nil, 200, "null")
	waitStatus(`{"mode":"hotspot","known_networks":[],"connected_network":"Hotspot"}`)
	if got := nm.Profiles(); !reflect.DeepEqual(got, []string{"Hotspot"}) {
		t.Errorf("profiles %q", got)
	}

	// setup_hotspot on an active hotspot: nothing to do.
	expect("POST", "/wifi/setup_hotspot?ssid=other&password=other-password", nil, 200, "null")
	waitStatus(`{"mode":"hotspot","known_networks":[],"connected_network":"Hotspot"}`)
	expect("GET", "/wifi/error", nil, 200, `{"error":null}`)
}

// Without --wireless-version (or with --no-wifi) there are no /wifi routes,
// as in the reference; and a NetworkManager that is not there is a 503.
func TestWifiRoutesOnlyWireless(t *testing.T) {
	d := startDaemon(t)
	if code, body := d.do("GET", "/wifi/status", nil); code != 404 {
		t.Errorf("without --wireless-version: %d %s", code, body)
	}
	addr := wifitest.StartBus(t)
	d = startDaemon(t, "--wireless-version", "--fastapi-host", "127.0.0.1", "--no-wifi", "--wifi-dbus-address", addr)
	if code, body := d.do("GET", "/wifi/prov_key", nil); code != 404 {
		t.Errorf("--no-wifi: %d %s", code, body)
	}
	d = startDaemon(t, "--wireless-version", "--fastapi-host", "127.0.0.1", "--wifi-dbus-address", addr)
	code, body := d.do("GET", "/wifi/status", nil)
	var e struct{ Detail string }
	if code != 503 || json.Unmarshal(body, &e) != nil || !strings.HasPrefix(e.Detail, "NetworkManager is not reachable") {
		t.Errorf("no NetworkManager: %d %s", code, body)
	}
	// The key exchange does not need NetworkManager.
	var key struct{ Kid string }
	d.getJSON("/wifi/prov_key", &key)
}

// A crash of the Wi-Fi actor during a join, through the whole daemon (the
// root supervisor restarts it): the join goes on and keeps the slot, the
// routes answer from the new incarnation, and the join's failure reaches
// GET /wifi/error.
func TestWifiActorCrash(t *testing.T) {
	addr := wifitest.StartBus(t)
	nm := wifitest.StartNM(t, addr, wifitest.Network{SSID: "lab", Strength: 30, Password: "lab-password"})
	d := startDaemon(t, "--wireless-version", "--fastapi-host", "127.0.0.1", "--wifi-dbus-address", addr)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	mode := func() string {
		var st struct{ Mode string }
		d.getJSON("/wifi/status", &st)
		return st.Mode
	}
	waitFor("the hotspot", func() bool { return mode() == "hotspot" })

	nm.Hold()
	if code, body := d.do("POST", "/wifi/connect?ssid=lab&password=wrong-password", nil); code != 200 {
		t.Fatalf("connect: %d %s", code, body)
	}
	waitFor("the join to start", func() bool { return slices.Contains(nm.Profiles(), "lab") })
	d.sys.Kit.Tell(d.sys.Wifi, &kit.Crash{Reason: "test wifi"})
	if code, body := d.do("POST", "/wifi/forget_all", nil); code != 409 {
		t.Errorf("forget_all after the crash: %d %s, want 409", code, body)
	}
	if m := mode(); m != "busy" {
		t.Errorf("mode after the crash %q", m)
	}
	nm.Release()
	waitFor("the fall back", func() bool { return mode() == "hotspot" })
	if code, body := d.do("GET", "/wifi/error", nil); code != 200 || string(body) != `{"error":"Connection activation failed: (9) No valid secrets"}` {
		t.Errorf("error: %d %s", code, body)
	}

	// A join still held at shutdown is cancelled: nothing of the Wi-Fi
	// outlives the daemon.
	nm.Hold()
	if code, body := d.do("POST", "/wifi/connect?ssid=lab&password=lab-password", nil); code != 200 {
		t.Fatalf("connect: %d %s", code, body)
	}
	waitFor("the join to start", func() bool { return slices.Contains(nm.Profiles(), "lab") })
	d.stop()
	for _, name := range nm.Callers() {
		if nm.Connected(name) {
			t.Errorf("bus connection %s still open after the daemon stopped", name)
		}
	}
}
