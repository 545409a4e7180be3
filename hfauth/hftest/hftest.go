// Package hftest is a fake Hugging Face for tests of the sign-in flows,
// written from the protocols, on a loopback httptest server:
//
//   - GET /api/whoami-v2: the owner of a Bearer token, 401 otherwise;
//   - GET /oauth/authorize: acts as a signed-in user who approves (or, with
//     SetDenyAuthorize, refuses) and redirects the browser to redirect_uri
//     with code and state (RFC 6749 4.1.2), after checking the request
//     carries an S256 PKCE challenge (RFC 7636);
//   - POST /oauth/token: the authorization_code grant (client, redirect URI
//     and code_verifier checked against the challenge; a code works once)
//     and the device_code grant (RFC 8628 3.4/3.5: authorization_pending,
//     slow_down, access_denied, expired_token, then the token once);
//   - POST /oauth/device: device codes (RFC 8628 3.2);
//   - GET /api/robot-status: the central signalling server's list of the
//     user's robots, for the Bearer token's owner.
//
// Switches: SetDown (every request fails at the network level),
// SetWhoamiStatus (whoami answers a status), SetDenyAuthorize, and, per
// device code, Approve, Deny, Expire and SlowDown.
package hftest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// User is a Hugging Face account; DisplayName is its token's name.
type User struct{ Name, DisplayName string }

type authCode struct {
	clientID, redirectURI, challenge, user string
}

type device struct {
	deviceCode, userCode, clientID string
	state                          string // pending, approved, denied, expired, used
	user                           string
	slowDown                       int
	polls                          int
}

// Server is the fake. Its URL is the endpoint to configure.
type Server struct {
	URL string

	srv *httptest.Server
	mu  sync.Mutex

	tokens   map[string]User
	codes    map[string]*authCode
	devices  map[string]*device // by device code
	byUser   map[string]*device // by user code
	robots   json.RawMessage
	down     bool
	deny     bool
	whoami   int
	camel    bool
	interval int
	expires  int
	approver string
	// TokenRequests counts POST /oauth/token requests.
	tokenRequests int
	clientIDs     []string
}

// New starts a fake Hugging Face, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{tokens: map[string]User{}, codes: map[string]*authCode{}, devices: map[string]*device{},
		byUser: map[string]*device{}, robots: json.RawMessage("[]"), interval: 1, expires: 900, approver: "alice"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/whoami-v2", s.handleWhoami)
	mux.HandleFunc("GET /oauth/authorize", s.handleAuthorize)
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	mux.HandleFunc("POST /oauth/device", s.handleDevice)
	mux.HandleFunc("GET /api/robot-status", s.handleRobots)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down := s.down
		s.mu.Unlock()
		if down {
			// A network failure: the connection closes without an answer.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					_ = c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		mux.ServeHTTP(w, r)
	}))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// AddToken makes a token valid for user name (displayName: the token's name).
func (s *Server) AddToken(token, name, displayName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = User{Name: name, DisplayName: displayName}
}

// RevokeToken makes a token invalid.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// SetDown makes every request fail at the network level.
func (s *Server) SetDown(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// SetWhoamiStatus makes whoami answer status (0: normal).
func (s *Server) SetWhoamiStatus(status int) { s.mu.Lock(); s.whoami = status; s.mu.Unlock() }

// SetDenyAuthorize makes the authorization page refuse (access_denied).
func (s *Server) SetDenyAuthorize(deny bool) { s.mu.Lock(); s.deny = deny; s.mu.Unlock() }

// SetCamelCase makes the authorization-code token answer spell the token
// accessToken.
func (s *Server) SetCamelCase(camel bool) { s.mu.Lock(); s.camel = camel; s.mu.Unlock() }

// SetDeviceTiming sets the interval and expires_in of new device codes
// (interval < 0: left out of the answer).
func (s *Server) SetDeviceTiming(interval, expiresIn int) {
	s.mu.Lock()
	s.interval, s.expires = interval, expiresIn
	s.mu.Unlock()
}

// SetApprover is the user who approves on the authorization page.
func (s *Server) SetApprover(name string) { s.mu.Lock(); s.approver = name; s.mu.Unlock() }

// SetRobots is central's robot list.
func (s *Server) SetRobots(robots string) {
	s.mu.Lock()
	s.robots = json.RawMessage(robots)
	s.mu.Unlock()
}

// Approve approves a device code (by its user code) for user name.
func (s *Server) Approve(userCode, name string) { s.setDevice(userCode, "approved", name) }

// Deny refuses a device code.
func (s *Server) Deny(userCode string) { s.setDevice(userCode, "denied", "") }

// Expire expires a device code.
func (s *Server) Expire(userCode string) { s.setDevice(userCode, "expired", "") }

// SlowDown makes the next n polls of a device code answer slow_down.
func (s *Server) SlowDown(userCode string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.byUser[userCode]; d != nil {
		d.slowDown = n
	}
}

// Polls is how many times a device code was polled.
func (s *Server) Polls(userCode string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.byUser[userCode]; d != nil {
		return d.polls
	}
	return 0
}

// TokenRequests counts POST /oauth/token requests.
func (s *Server) TokenRequests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.tokenRequests }

// ClientIDs lists the client_id of each device and token request.
func (s *Server) ClientIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.clientIDs...)
}

func (s *Server) setDevice(userCode, state, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.byUser[userCode]; d != nil {
		d.state, d.user = state, user
	}
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Bearer ") {
		return ""
	}
	return strings.TrimPrefix(h, "Bearer ")
}

func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	u, ok := s.tokens[bearer(r)]
	status := s.whoami
	s.mu.Unlock()
	if status != 0 {
		writeJSON(w, status, map[string]string{"error": "forced"})
		return
	}
	if !ok || u.Name == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Invalid credentials in Authorization header"})
		return
	}
	auth := map[string]any{"type": "access_token", "accessToken": map[string]any{"displayName": u.DisplayName, "role": "write"}}
	if u.DisplayName == "" {
		auth = map[string]any{"type": "oauth"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"type": "user", "name": u.Name, "fullname": strings.ToUpper(u.Name), "auth": auth})
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") || q.Get("client_id") == "" {
		http.Error(w, "invalid client or redirect_uri", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("scope") == "" {
		http.Error(w, "invalid authorization request (response_type code, S256 challenge and scope required)", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	s.mu.Lock()
	if s.deny {
		back.Set("error", "access_denied")
		back.Set("error_description", "The user denied <the> request")
	} else {
		code := random(16)
		s.codes[code] = &authCode{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), user: s.approver}
		back.Set("code", code)
	}
	s.mu.Unlock()
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "bad form")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenRequests++
	s.clientIDs = append(s.clientIDs, f.Get("client_id"))
	switch f.Get("grant_type") {
	case "authorization_code":
		c := s.codes[f.Get("code")]
		if c == nil {
			oauthError(w, "invalid_grant", "unknown or used code")
			return
		}
		delete(s.codes, f.Get("code")) // a code works once
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		if f.Get("client_id") != c.clientID || f.Get("redirect_uri") != c.redirectURI ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			oauthError(w, "invalid_grant", "client, redirect_uri or code_verifier does not match")
			return
		}
		tok := "hf_oauth_" + random(12)
		s.tokens[tok] = User{Name: c.user}
		key := "access_token"
		if s.camel {
			key = "accessToken"
		}
		writeJSON(w, http.StatusOK, map[string]any{key: tok, "token_type": "bearer", "expires_in": 28800, "scope": "openid profile"})
	case "urn:ietf:params:oauth:grant-type:device_code":
		d := s.devices[f.Get("device_code")]
		if d == nil || d.clientID != f.Get("client_id") {
			oauthError(w, "invalid_grant", "unknown device code")
			return
		}
		d.polls++
		switch {
		case d.slowDown > 0:
			d.slowDown--
			oauthError(w, "slow_down", "polling too fast")
		case d.state == "denied":
			oauthError(w, "access_denied", "the user refused")
		case d.state == "expired":
			oauthError(w, "expired_token", "the device code expired")
		case d.state == "used":
			oauthError(w, "invalid_grant", "the device code was used")
		case d.state == "approved":
			d.state = "used"
			tok := "hf_oauth_" + random(12)
			s.tokens[tok] = User{Name: d.user}
			writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "refresh_token": "hf_oauth_refresh_" + random(12),
				"expires_in": 28800, "token_type": "bearer"})
		default:
			oauthError(w, "authorization_pending", "waiting for the user")
		}
	default:
		oauthError(w, "unsupported_grant_type", "")
	}
}

func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") == "" {
		oauthError(w, "invalid_client", "client_id required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientIDs = append(s.clientIDs, r.PostForm.Get("client_id"))
	d := &device{deviceCode: random(24), clientID: r.PostForm.Get("client_id"), state: "pending",
		userCode: fmt.Sprintf("%s-%04d", strings.ToUpper(random(3))[:4], len(s.devices)+1000)}
	s.devices[d.deviceCode], s.byUser[d.userCode] = d, d
	answer := map[string]any{"device_code": d.deviceCode, "user_code": d.userCode,
		"verification_uri": s.URL + "/oauth/device", "verification_uri_complete": s.URL + "/oauth/device?user_code=" + d.userCode,
		"expires_in": s.expires}
	if s.interval >= 0 {
		answer["interval"] = s.interval
	}
	writeJSON(w, http.StatusOK, answer)
}

func (s *Server) handleRobots(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	u, ok := s.tokens[bearer(r)]
	robots := s.robots
	s.mu.Unlock()
	if !ok || u.Name == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"robots": robots})
}
