package hfauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"reachyd/hfauth"
	"reachyd/hfauth/hftest"
)

// RFC 7636 appendix B.
func TestS256ChallengeRFC7636Vector(t *testing.T) {
	if got := hfauth.S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatal(got)
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newService(t *testing.T, hub *hftest.Server, mod func(*hfauth.Config)) (*hfauth.Service, *clock) {
	t.Helper()
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	cfg := hfauth.Config{Hub: hfauth.Hub{Endpoint: hub.URL}, Store: &hfauth.Store{Path: t.TempDir() + "/hf/token"},
		ClientID: hfauth.DefaultClientID, Now: clk.Now, CentralURL: hub.URL}
	if mod != nil {
		mod(&cfg)
	}
	return hfauth.New(cfg), clk
}

func TestSaveTokenAndStatus(t *testing.T) {
	hub := hftest.New(t)
	hub.AddToken("hf_good", "alice", "laptop")
	s, _ := newService(t, hub, nil)
	ctx := context.Background()
	if st := s.Status(ctx); st.IsLoggedIn || st.Username != nil {
		t.Fatalf("signed out: %+v", st)
	}
	for _, bad := range []string{"hf_bad", "", "   ", "hf two", "api_org_x"} {
		var se *hfauth.SaveError
		if _, err := s.SaveToken(ctx, bad); !errors.As(err, &se) || se.Msg != hfauth.MsgInvalidToken {
			t.Errorf("%q: %v", bad, err)
		}
	}
	hub.SetDown(true)
	if _, err := s.SaveToken(ctx, "hf_good"); err == nil || err.Error() != hfauth.MsgInvalidToken {
		t.Errorf("network down: %v", err)
	}
	hub.SetDown(false)
	name, err := s.SaveToken(ctx, " hf_good\n")
	if err != nil || name != "alice" {
		t.Fatalf("%q %v", name, err)
	}
	if got := s.Store().StoredTokens(); got["laptop"] != "hf_good" || s.Token() != "hf_good" {
		t.Errorf("stored %v, active %q", got, s.Token())
	}
	if st := s.Status(ctx); !st.IsLoggedIn || *st.Username != "alice" {
		t.Errorf("status: %+v", st)
	}
	hub.RevokeToken("hf_good")
	if st := s.Status(ctx); st.IsLoggedIn {
		t.Errorf("revoked token: %+v", st)
	}
	if err := s.Logout(); err != nil || s.Token() != "" {
		t.Errorf("logout: %v %q", err, s.Token())
	}
}

// browse follows an authorization URL as a browser would, up to the
// redirect back to the daemon, and returns the callback's query.
func browse(t *testing.T, authURL string) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Path != "/api/hf-auth/oauth/callback" {
		t.Fatalf("redirect to %q", resp.Header.Get("Location"))
	}
	return loc.Query()
}

func TestOAuthCodeFlow(t *testing.T) {
	hub := hftest.New(t)
	hub.SetApprover("bob")
	s, clk := newService(t, hub, func(c *hfauth.Config) { c.Wireless, c.Port = true, 8080 })
	ctx := context.Background()
	st, err := s.StartOAuth(false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "success" || st.ExpiresIn != 600 || st.RedirectURI != "http://reachy-mini.local:8080/api/hf-auth/oauth/callback" || len(st.SessionID) != 43 {
		t.Fatalf("%+v", st)
	}
	u, _ := url.Parse(st.AuthURL)
	q := u.Query()
	if u.Path != "/oauth/authorize" || q.Get("client_id") != hfauth.DefaultClientID || q.Get("scope") != hfauth.DefaultScopes ||
		q.Get("state") != st.SessionID || q.Get("code_challenge_method") != "S256" || q.Get("redirect_uri") != st.RedirectURI {
		t.Fatalf("auth url %s", st.AuthURL)
	}
	if s2, _ := s.StartOAuth(true); s2.RedirectURI != "http://localhost:8080/api/hf-auth/oauth/callback" {
		t.Errorf("use_localhost: %s", s2.RedirectURI)
	}
	if got := s.OAuthStatus(st.SessionID); got.Status != "pending" || got.Username != nil || got.Message != nil {
		t.Errorf("pending: %+v", got)
	}
	back := browse(t, st.AuthURL)
	clk.Advance(time.Minute)
	r := s.Callback(ctx, hfauth.ParseCallback(back))
	if !r.Success || !r.SignedIn || r.HTTPStatus != 200 || r.Message != "Successfully logged in as bob!" {
		t.Fatalf("%+v", r)
	}
	if got := s.OAuthStatus(st.SessionID); got.Status != "authorized" || *got.Username != "bob" {
		t.Errorf("authorized: %+v", got)
	}
	if !strings.HasPrefix(s.Token(), "hf_oauth_") || s.Store().StoredTokens()["oauth-bob"] != s.Token() {
		t.Errorf("token %q stored %v", s.Token(), s.Store().StoredTokens())
	}
	// The same callback again is refused (the session is done, the code used).
	if r := s.Callback(ctx, hfauth.ParseCallback(back)); r.Success || r.Message != hfauth.MsgInvalidSession {
		t.Errorf("replay: %+v", r)
	}
	// The session expires 600 s after it began.
	clk.Advance(hfauth.OAuthTTL - time.Minute)
	if got := s.OAuthStatus(st.SessionID); got.Status != "expired" || *got.Message != hfauth.MsgSessionNotFound {
		t.Errorf("expired: %+v", got)
	}
}

// The token endpoint checks PKCE: a wrong verifier is refused, and the
// session says so.
func TestOAuthWrongVerifierIsRefused(t *testing.T) {
	hub := hftest.New(t)
	s1, _ := newService(t, hub, nil)
	s2, _ := newService(t, hub, nil)
	ctx := context.Background()
	a, _ := s1.StartOAuth(false)
	b, _ := s2.StartOAuth(false)
	// s2 receives a code issued for s1's challenge under its own state: it
	// exchanges it with its own verifier.
	back := browse(t, a.AuthURL)
	back.Set("state", b.SessionID)
	r := s2.Callback(ctx, hfauth.ParseCallback(back))
	if r.Success || r.Message != hfauth.MsgAuthFailed {
		t.Fatalf("%+v", r)
	}
	if got := s2.OAuthStatus(b.SessionID); got.Status != "error" || *got.Message != hfauth.MsgAuthFailed {
		t.Errorf("%+v", got)
	}
	if s2.Token() != "" {
		t.Error("a token saved")
	}
}

func TestOAuthCallbackErrors(t *testing.T) {
	hub := hftest.New(t)
	hub.SetDenyAuthorize(true)
	s, _ := newService(t, hub, nil)
	ctx := context.Background()
	st, _ := s.StartOAuth(false)
	r := s.Callback(ctx, hfauth.ParseCallback(browse(t, st.AuthURL)))
	if r.Success || r.HTTPStatus != 200 || r.Message != "The user denied <the> request" {
		t.Errorf("denied: %+v", r)
	}
	if got := s.OAuthStatus(st.SessionID); got.Status != "error" || *got.Message != "The user denied <the> request" {
		t.Errorf("%+v", got)
	}
	if r := s.Callback(ctx, hfauth.CallbackQuery{State: "x"}); r.HTTPStatus != 400 || r.Message != hfauth.MsgMissingCode {
		t.Errorf("no code: %+v", r)
	}
	if r := s.Callback(ctx, hfauth.CallbackQuery{State: "unknown", Code: "c"}); r.HTTPStatus != 200 || r.Message != hfauth.MsgInvalidSession {
		t.Errorf("unknown state: %+v", r)
	}
	hub.SetDenyAuthorize(false)
	st, _ = s.StartOAuth(false)
	back := browse(t, st.AuthURL)
	hub.SetDown(true)
	if r := s.Callback(ctx, hfauth.ParseCallback(back)); r.Message != hfauth.MsgUnavailable {
		t.Errorf("down: %+v", r)
	}
	if !s.CancelOAuth(st.SessionID) || s.CancelOAuth(st.SessionID) {
		t.Error("cancel")
	}
	off, _ := newService(t, hub, func(c *hfauth.Config) { c.ClientID = "" })
	if _, err := off.StartOAuth(false); !errors.Is(err, hfauth.ErrNotConfigured) || off.Configured() {
		t.Errorf("not configured: %v", err)
	}
}

func TestOAuthSessionsAreBounded(t *testing.T) {
	hub := hftest.New(t)
	s, clk := newService(t, hub, func(c *hfauth.Config) { c.MaxSessions = 3 })
	var ids []string
	for range 4 {
		st, _ := s.StartOAuth(false)
		ids = append(ids, st.SessionID)
		clk.Advance(time.Second)
	}
	if got := s.OAuthStatus(ids[0]); got.Status != "expired" {
		t.Errorf("the oldest session is kept: %+v", got)
	}
	for _, id := range ids[1:] {
		if got := s.OAuthStatus(id); got.Status != "pending" {
			t.Errorf("%s: %+v", id, got)
		}
	}
}

func TestDeviceFlow(t *testing.T) {
	hub := hftest.New(t)
	hub.SetDeviceTiming(-1, 0) // no interval, no expiry: the defaults
	s, clk := newService(t, hub, nil)
	ctx := context.Background()
	st, err := s.StartDevice(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "pending" || st.Interval != 5 || st.ExpiresIn != 900 || st.UserCode == "" ||
		st.VerificationURI != hub.URL+"/oauth/device" || !strings.Contains(st.VerificationURIComplete, st.UserCode) {
		t.Fatalf("%+v", st)
	}
	for _, id := range hub.ClientIDs() {
		if id != hfauth.DeviceClientID {
			t.Errorf("client id %q", id)
		}
	}
	poll := func(want string) (hfauth.SessionStatus, bool) {
		t.Helper()
		got, signedIn := s.DeviceStatus(ctx, st.SessionID)
		if got.Status != want {
			t.Fatalf("status %+v, want %s", got, want)
		}
		return got, signedIn
	}
	// The first status polls at once: authorization_pending.
	poll("pending")
	if hub.Polls(st.UserCode) != 1 {
		t.Fatalf("polls %d", hub.Polls(st.UserCode))
	}
	// Within the interval, no poll.
	clk.Advance(4 * time.Second)
	poll("pending")
	if hub.Polls(st.UserCode) != 1 {
		t.Fatal("polled within the interval")
	}
	// slow_down adds 5 s to the interval.
	hub.SlowDown(st.UserCode, 1)
	clk.Advance(time.Second)
	poll("pending")
	clk.Advance(9 * time.Second)
	poll("pending")
	if hub.Polls(st.UserCode) != 2 {
		t.Fatalf("polled before the slowed interval: %d", hub.Polls(st.UserCode))
	}
	// A network failure is transient.
	clk.Advance(10 * time.Second)
	hub.SetDown(true)
	poll("pending")
	hub.SetDown(false)
	hub.Approve(st.UserCode, "carol")
	clk.Advance(10 * time.Second)
	got, signedIn := poll("authorized")
	if !signedIn || *got.Username != "carol" {
		t.Fatalf("%+v %v", got, signedIn)
	}
	// Once: the next status reports authorized without signing in again.
	if got, signedIn = poll("authorized"); signedIn {
		t.Error("signed in twice")
	}
	if !strings.HasPrefix(s.Token(), "hf_oauth_") || s.Store().StoredTokens()["oauth-carol"] != s.Token() {
		t.Errorf("token %q, stored %v", s.Token(), s.Store().StoredTokens())
	}
	// The finished session is kept 300 s for its poller.
	clk.Advance(301 * time.Second)
	poll("expired")
}

func TestDeviceFlowEndings(t *testing.T) {
	hub := hftest.New(t)
	s, clk := newService(t, hub, nil)
	ctx := context.Background()
	start := func() hfauth.DeviceStart {
		st, err := s.StartDevice(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	denied, expired, cancelled, timedOut := start(), start(), start(), start()
	hub.Deny(denied.UserCode)
	hub.Expire(expired.UserCode)
	if got, _ := s.DeviceStatus(ctx, denied.SessionID); got.Status != "error" || *got.Message != hfauth.MsgDenied {
		t.Errorf("denied: %+v", got)
	}
	if got, _ := s.DeviceStatus(ctx, expired.SessionID); got.Status != "expired" || *got.Message != hfauth.MsgLoginExpired {
		t.Errorf("expired: %+v", got)
	}
	if !s.CancelDevice(cancelled.SessionID) || s.CancelDevice(cancelled.SessionID) {
		t.Error("cancel")
	}
	if got, _ := s.DeviceStatus(ctx, cancelled.SessionID); got.Status != "expired" || *got.Message != hfauth.MsgSessionNotFound {
		t.Errorf("cancelled: %+v", got)
	}
	// Past the device code's expiry the session is gone.
	clk.Advance(901 * time.Second)
	if got, _ := s.DeviceStatus(ctx, timedOut.SessionID); got.Status != "expired" {
		t.Errorf("timed out: %+v", got)
	}
	hub.SetDown(true)
	if _, err := s.StartDevice(ctx); err == nil || !strings.HasPrefix(err.Error(), hfauth.MsgUnavailable) {
		t.Errorf("down: %v", err)
	}
}

// Concurrent status requests poll Hugging Face once per interval.
func TestDeviceStatusPollsOnce(t *testing.T) {
	hub := hftest.New(t)
	s, _ := newService(t, hub, nil)
	ctx := context.Background()
	st, _ := s.StartDevice(ctx)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.DeviceStatus(ctx, st.SessionID)
		}()
	}
	wg.Wait()
	if n := hub.Polls(st.UserCode); n != 1 {
		t.Errorf("%d polls", n)
	}
}

func TestCentralRobotStatus(t *testing.T) {
	hub := hftest.New(t)
	hub.AddToken("hf_good", "alice", "t")
	hub.SetRobots(`[{"peerId":"p1"}]`)
	s, _ := newService(t, hub, nil)
	ctx := context.Background()
	if got := s.CentralRobotStatus(ctx); got.Available || got.Reason != "not_authenticated" || string(got.Robots) != "[]" {
		t.Errorf("%+v", got)
	}
	_ = s.Store().Login(hfauth.Saved{Token: "hf_revoked"})
	if got := s.CentralRobotStatus(ctx); got.Reason != "token_invalid" {
		t.Errorf("%+v", got)
	}
	_ = s.Store().Login(hfauth.Saved{Token: "hf_good"})
	if got := s.CentralRobotStatus(ctx); !got.Available || string(got.Robots) != `[{"peerId":"p1"}]` {
		t.Errorf("%+v %s", got, got.Robots)
	}
	hub.SetDown(true)
	if got := s.CentralRobotStatus(ctx); got.Reason != "unreachable" {
		t.Errorf("%+v", got)
	}
}

func TestCallbackPageEscapes(t *testing.T) {
	page := hfauth.CallbackPage(hfauth.CallbackResult{Message: `<script>alert(1)</script>"&`})
	if strings.Contains(page, "<script") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&amp;") {
		t.Fatal(page)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the page refers to another site")
	}
}
