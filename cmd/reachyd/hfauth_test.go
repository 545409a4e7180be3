package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reachyd/hfauth"
	"reachyd/hfauth/hftest"
)

// hfAuthCovered are the reference's /api/hf-auth operations:
// TestHFAuthRoutesMatchTheReferenceOpenAPI calls each.
var hfAuthCovered = []string{
	"POST /api/hf-auth/save-token", "GET /api/hf-auth/status", "GET /api/hf-auth/relay-status",
	"DELETE /api/hf-auth/token", "POST /api/hf-auth/refresh-relay", "GET /api/hf-auth/central-robot-status",
	"GET /api/hf-auth/oauth/configured", "GET /api/hf-auth/oauth/start", "GET /api/hf-auth/oauth/begin",
	"GET /api/hf-auth/oauth/status/{session_id}", "DELETE /api/hf-auth/oauth/session/{session_id}",
	"POST /api/hf-auth/oauth/device/start", "GET /api/hf-auth/oauth/device/status/{session_id}",
	"DELETE /api/hf-auth/oauth/device/session/{session_id}", "GET /api/hf-auth/oauth/callback",
}

// hfDaemon starts a daemon signed out, with its token files in a temporary
// HF_HOME, its Hugging Face and central server the fake.
func hfDaemon(t *testing.T, extra ...string) (*testDaemon, *hftest.Server, string) {
	t.Helper()
	hub := hftest.New(t)
	hub.AddToken("hf_good", "alice", "laptop")
	home := filepath.Join(t.TempDir(), "hf")
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_OAUTH_CLIENT_ID", "HF_OAUTH_SCOPES"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HF_HOME", home)
	d := startDaemon(t, append([]string{"--hf-endpoint", hub.URL, "--central-url", hub.URL}, extra...)...)
	return d, hub, home
}

func TestHFAuthTokenRoutes(t *testing.T) {
	d, hub, home := hfDaemon(t)
	hub.SetRobots(`[{"peerId":"p1","meta":{"name":"mini"}}]`)
	expect := func(method, path string, body any, code int, want string) {
		t.Helper()
		c, b := d.do(method, path, body)
		if c != code || string(b) != want {
			t.Errorf("%s %s: %d %s, want %d %s", method, path, c, b, code, want)
		}
	}
	expect("GET", "/api/hf-auth/status", nil, 200, `{"is_logged_in":false,"username":null}`)
	expect("GET", "/api/hf-auth/central-robot-status", nil, 200, `{"available":false,"robots":[],"reason":"not_authenticated"}`)
	expect("POST", "/api/hf-auth/save-token", map[string]string{"token": "hf_bad"}, 400, `{"detail":"Invalid token or network error"}`)
	if c, b := d.do("POST", "/api/hf-auth/save-token", map[string]int{"token": 5}); c != 422 || !strings.Contains(string(b), `"loc":["body","token"]`) {
		t.Errorf("a number as token: %d %s", c, b)
	}
	// Bodies are limited (1 MiB) before they are read.
	if c, b := d.do("POST", "/api/hf-auth/save-token", `{"token":"`+strings.Repeat("a", 2<<20)+`"}`); c != 413 {
		t.Errorf("a 2 MiB body: %d %.100s", c, b)
	}
	hub.SetDown(true)
	expect("POST", "/api/hf-auth/save-token", map[string]string{"token": "hf_good"}, 400, `{"detail":"Invalid token or network error"}`)
	hub.SetDown(false)

	// A web page from elsewhere cannot sign the robot in or out.
	foreign := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	for _, r := range [][2]string{{"POST", "/api/hf-auth/save-token"}, {"DELETE", "/api/hf-auth/token"}, {"POST", "/api/hf-auth/oauth/device/start"}} {
		if c, _ := d.doHeaders(r[0], r[1], "application/json", `{"token":"hf_good"}`, foreign); c != 403 {
			t.Errorf("%s %s from another origin: %d", r[0], r[1], c)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "token")); err == nil {
		t.Fatal("a token saved by a refused request")
	}
	// The desktop app's origin may.
	if c, b := d.doHeaders("POST", "/api/hf-auth/save-token", "application/json", `{"token":"hf_good"}`,
		map[string]string{"Origin": "tauri://localhost", "Sec-Fetch-Site": "cross-site"}); c != 200 || string(b) != `{"status":"success","username":"alice","message":null}` {
		t.Fatalf("save-token: %d %s", c, b)
	}
	fi, err := os.Stat(filepath.Join(home, "token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "stored_tokens")); !strings.Contains(string(b), "[laptop]\nhf_token = hf_good\n") {
		t.Errorf("stored_tokens: %s", b)
	}
	expect("GET", "/api/hf-auth/status", nil, 200, `{"is_logged_in":true,"username":"alice"}`)
	expect("GET", "/api/hf-auth/central-robot-status", nil, 200, `{"available":true,"robots":[{"peerId":"p1","meta":{"name":"mini"}}]}`)
	// No relay actor: the reference's answers without a relay instance.
	expect("GET", "/api/hf-auth/relay-status", nil, 200, `{"state":"stopped","message":"Relay not initialized","is_connected":false}`)
	expect("POST", "/api/hf-auth/refresh-relay", nil, 200, `{"status":"skipped","token_available":true,"reason":"relay_unavailable"}`)

	expect("DELETE", "/api/hf-auth/token", nil, 200, `{"status":"success"}`)
	expect("GET", "/api/hf-auth/status", nil, 200, `{"is_logged_in":false,"username":null}`)
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("left after sign-out: %v", entries)
	}
	expect("POST", "/api/hf-auth/refresh-relay", nil, 200, `{"status":"skipped","token_available":false,"reason":"relay_unavailable"}`)
	expect("DELETE", "/api/hf-auth/token", nil, 200, `{"status":"success"}`)

	// HF_TOKEN signs the daemon in whatever the files say; sign-out says it
	// cannot undo that.
	t.Setenv("HF_TOKEN", "hf_good")
	expect("GET", "/api/hf-auth/status", nil, 200, `{"is_logged_in":true,"username":"alice"}`)
	if c, b := d.do("DELETE", "/api/hf-auth/token", nil); c != 500 || !strings.Contains(string(b), "HF_TOKEN") {
		t.Errorf("sign-out with HF_TOKEN: %d %s", c, b)
	}
}

// A client that follows redirects as a browser does (the fake's
// authorization page approves at once).
func browser() *http.Client { return &http.Client{Timeout: 10 * time.Second} }

func TestHFAuthOAuthFlow(t *testing.T) {
	d, hub, home := hfDaemon(t)
	hub.SetApprover("bob")
	var cfg map[string]bool
	d.getJSON("/api/hf-auth/oauth/configured", &cfg)
	if !cfg["configured"] {
		t.Fatal("not configured")
	}
	var st hfauth.OAuthStart
	d.getJSON("/api/hf-auth/oauth/start?use_localhost=true", &st)
	port := strings.TrimPrefix(d.base, "http://127.0.0.1:")
	if st.Status != "success" || st.ExpiresIn != 600 || st.RedirectURI != "http://localhost:"+port+"/api/hf-auth/oauth/callback" {
		t.Fatalf("%+v", st)
	}
	if !strings.HasPrefix(st.AuthURL, hub.URL+"/oauth/authorize?") || !strings.Contains(st.AuthURL, "client_id="+hfauth.DefaultClientID) {
		t.Fatalf("auth_url %s", st.AuthURL)
	}
	var status map[string]any
	d.getJSON("/api/hf-auth/oauth/status/"+st.SessionID, &status)
	if status["status"] != "pending" || len(status) != 1 {
		t.Fatalf("%v", status)
	}
	resp, err := browser().Get(st.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Successfully logged in as bob!") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") || strings.Contains(string(page), "<script") {
		t.Fatalf("callback page: %d %v\n%s", resp.StatusCode, resp.Header, page)
	}
	d.getJSON("/api/hf-auth/oauth/status/"+st.SessionID, &status)
	if status["status"] != "authorized" || status["username"] != "bob" {
		t.Fatalf("%v", status)
	}
	tok, _ := os.ReadFile(filepath.Join(home, "token"))
	if !strings.HasPrefix(string(tok), "hf_oauth_") {
		t.Fatalf("token %q", tok)
	}
	if c, b := d.do("GET", "/api/hf-auth/status", nil); c != 200 || string(b) != `{"is_logged_in":true,"username":"bob"}` {
		t.Errorf("status: %s", b)
	}
	if c, _ := d.do("DELETE", "/api/hf-auth/oauth/session/"+st.SessionID, nil); c != 200 {
		t.Errorf("cancel: %d", c)
	}
	if c, b := d.do("DELETE", "/api/hf-auth/oauth/session/"+st.SessionID, nil); c != 404 || string(b) != `{"detail":"Session not found"}` {
		t.Errorf("cancel twice: %d %s", c, b)
	}

	// Refused on Hugging Face's page: the error shows, escaped.
	hub.SetDenyAuthorize(true)
	d.getJSON("/api/hf-auth/oauth/start", &st)
	resp, err = browser().Get(st.AuthURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "The user denied &lt;the&gt; request") {
		t.Errorf("denied page: %s", page)
	}
	d.getJSON("/api/hf-auth/oauth/status/"+st.SessionID, &status)
	if status["status"] != "error" {
		t.Errorf("%v", status)
	}
	// Without a code or state: 400.
	if c, b := d.do("GET", "/api/hf-auth/oauth/callback?state=x", nil); c != 400 || !strings.Contains(string(b), hfauth.MsgMissingCode) {
		t.Errorf("callback without code: %d", c)
	}
	// begin: straight to the authorization page.
	nf := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = nf.Get(d.base + "/api/hf-auth/oauth/begin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 307 || loc == nil || loc.Path != "/oauth/authorize" || loc.Query().Get("redirect_uri") != "http://localhost:"+port+"/api/hf-auth/oauth/callback" {
		t.Errorf("begin: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// The wireless robot calls back to reachy-mini.local, unless the desktop
// app asks for localhost; an empty client id turns OAuth off.
func TestHFAuthOAuthRedirects(t *testing.T) {
	d, _, _ := hfDaemon(t, "--wireless-version", "--fastapi-host", "127.0.0.1", "--hf-oauth-client-id", "my-app")
	port := strings.TrimPrefix(d.base, "http://127.0.0.1:")
	var st hfauth.OAuthStart
	d.getJSON("/api/hf-auth/oauth/start", &st)
	if st.RedirectURI != "http://reachy-mini.local:"+port+"/api/hf-auth/oauth/callback" || !strings.Contains(st.AuthURL, "client_id=my-app") {
		t.Errorf("%+v", st)
	}
	d.getJSON("/api/hf-auth/oauth/start?use_localhost=1", &st)
	if st.RedirectURI != "http://localhost:"+port+"/api/hf-auth/oauth/callback" {
		t.Errorf("%+v", st)
	}
	if c, b := d.do("GET", "/api/hf-auth/oauth/start?use_localhost=maybe", nil); c != 422 {
		t.Errorf("use_localhost=maybe: %d %s", c, b)
	}
	off, _, _ := hfDaemon(t, "--hf-oauth-client-id", "")
	if c, b := off.do("GET", "/api/hf-auth/oauth/configured", nil); string(b) != `{"configured":false}` {
		t.Errorf("%d %s", c, b)
	}
	if c, b := off.do("GET", "/api/hf-auth/oauth/start", nil); c != 500 || !strings.Contains(string(b), "OAuth not configured") {
		t.Errorf("%d %s", c, b)
	}
}

func TestHFAuthDeviceFlow(t *testing.T) {
	d, hub, home := hfDaemon(t)
	var st hfauth.DeviceStart
	c, b := d.do("POST", "/api/hf-auth/oauth/device/start", nil)
	if c != 200 || json.Unmarshal(b, &st) != nil || st.Status != "pending" || st.Interval != 1 || st.ExpiresIn != 900 || st.UserCode == "" {
		t.Fatalf("%d %s", c, b)
	}
	if c, b := d.do("GET", "/api/hf-auth/oauth/device/status/"+st.SessionID, nil); c != 200 || string(b) != `{"status":"pending"}` {
		t.Fatalf("%d %s", c, b)
	}
	hub.Approve(st.UserCode, "dora")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, b = d.do("GET", "/api/hf-auth/oauth/device/status/"+st.SessionID, nil)
		if string(b) != `{"status":"pending"}` || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if string(b) != `{"status":"authorized","username":"dora"}` {
		t.Fatalf("device status: %s", b)
	}
	if stored, _ := os.ReadFile(filepath.Join(home, "stored_tokens")); !strings.Contains(string(stored), "[oauth-dora]") || !strings.Contains(string(stored), "refresh_token = ") {
		t.Errorf("stored_tokens: %s", stored)
	}
	if c, b := d.do("DELETE", "/api/hf-auth/oauth/device/session/"+st.SessionID, nil); c != 200 || string(b) != `{"status":"success"}` {
		t.Errorf("%d %s", c, b)
	}
	if c, b := d.do("DELETE", "/api/hf-auth/oauth/device/session/"+st.SessionID, nil); c != 404 {
		t.Errorf("%d %s", c, b)
	}
	if c, b := d.do("GET", "/api/hf-auth/oauth/device/status/"+st.SessionID, nil); string(b) != `{"status":"expired","message":"Session expired or not found"}` {
		t.Errorf("%d %s", c, b)
	}
	hub.SetDown(true)
	if c, b := d.do("POST", "/api/hf-auth/oauth/device/start", nil); c != 500 || string(b) != `{"detail":"`+hfauth.MsgUnavailable+`"}` {
		t.Errorf("down: %d %s", c, b)
	}
}

// Each /api/hf-auth operation answers a body of the reference's schema.
func TestHFAuthRoutesMatchTheReferenceOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	d, hub, _ := hfDaemon(t)
	exercised := map[string]bool{}
	call := func(op, path string, body any, code int) []byte {
		t.Helper()
		method, tmpl, _ := strings.Cut(op, " ")
		exercised[op] = true
		c, b := d.do(method, path, body)
		if c != code {
			t.Errorf("%s: %d %s", op, c, b)
			return b
		}
		spec, ok := doc.Paths[tmpl][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s is not in the reference's document", op)
			return b
		}
		if code != 200 {
			return b
		}
		if s := spec.Responses["200"].Content["application/json"].Schema; len(s) > 0 {
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Errorf("%s: not JSON: %s", op, b)
			} else if err := doc.check(v, s, op); err != nil {
				t.Errorf("%s: %v\n%s", op, err, b)
			}
		}
		return b
	}
	call("POST /api/hf-auth/save-token", "/api/hf-auth/save-token", map[string]string{"token": "hf_good"}, 200)
	call("GET /api/hf-auth/status", "/api/hf-auth/status", nil, 200)
	call("GET /api/hf-auth/relay-status", "/api/hf-auth/relay-status", nil, 200)
	call("POST /api/hf-auth/refresh-relay", "/api/hf-auth/refresh-relay", nil, 200)
	call("GET /api/hf-auth/central-robot-status", "/api/hf-auth/central-robot-status", nil, 200)
	call("GET /api/hf-auth/oauth/configured", "/api/hf-auth/oauth/configured", nil, 200)
	var st hfauth.OAuthStart
	_ = json.Unmarshal(call("GET /api/hf-auth/oauth/start", "/api/hf-auth/oauth/start", nil, 200), &st)
	call("GET /api/hf-auth/oauth/status/{session_id}", "/api/hf-auth/oauth/status/"+st.SessionID, nil, 200)
	call("DELETE /api/hf-auth/oauth/session/{session_id}", "/api/hf-auth/oauth/session/"+st.SessionID, nil, 200)
	call("GET /api/hf-auth/oauth/begin", "/api/hf-auth/oauth/begin", nil, 200) // followed to the callback page
	call("GET /api/hf-auth/oauth/callback", "/api/hf-auth/oauth/callback?code=x&state=unknown", nil, 200)
	var dev hfauth.DeviceStart
	_ = json.Unmarshal(call("POST /api/hf-auth/oauth/device/start", "/api/hf-auth/oauth/device/start", nil, 200), &dev)
	call("GET /api/hf-auth/oauth/device/status/{session_id}", "/api/hf-auth/oauth/device/status/"+dev.SessionID, nil, 200)
	call("DELETE /api/hf-auth/oauth/device/session/{session_id}", "/api/hf-auth/oauth/device/session/"+dev.SessionID, nil, 200)
	call("DELETE /api/hf-auth/token", "/api/hf-auth/token", nil, 200)
	for _, op := range hfAuthCovered {
		if !exercised[op] {
			t.Errorf("%s not exercised", op)
		}
	}
	_ = hub
}
