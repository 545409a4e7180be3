// Package hfauth signs the daemon in to Hugging Face, as the reference
// daemon's /api/hf-auth routes do (rm/apps/sources/hf_auth.py), so that the
// desktop and mobile apps can log the robot in, and the central relay, the
// private-space installs and the dataset downloads can use the token.
//
// Three ways in, each ending with the token saved where huggingface_hub
// keeps it (token.go: $HF_TOKEN_PATH, else $HF_HOME/token, else
// ~/.cache/huggingface/token, plus the named tokens of stored_tokens beside
// it), so that `hf auth login` and reachyd share one sign-in:
//
//   - a pasted token (save-token), checked with GET /api/whoami-v2 and
//     saved as huggingface_hub's login() saves it;
//   - OAuth 2 authorization code with PKCE S256 (RFC 7636) against
//     <endpoint>/oauth/authorize and <endpoint>/oauth/token, with the
//     reference's client id, scopes and redirect URIs; sessions are keyed by
//     the OAuth state and expire after 600 s;
//   - the device authorization grant (RFC 8628) against <endpoint>/oauth/device
//     and <endpoint>/oauth/token with huggingface_hub's own device client id.
//     Unlike the reference, which polls Hugging Face from a background task,
//     reachyd polls once per GET device/status/{id}, at most once per
//     interval (slow_down adds 5 s, as huggingface_hub does): no goroutine
//     outlives a request, and an abandoned login costs nothing.
//
// The Service holds the sessions (a Table per flow: a plain value, with the
// clock passed in) behind a mutex; it talks to no actor. The gateway
// (http/gateway/routes_hfauth.go) serves the routes and tells the relay
// actor when the token changed.
//
// Tested (hfauth_test.go) against RFC 7636's PKCE vector, on a temporary
// token folder (permissions, atomic replacement, stored_tokens kept and
// removed as huggingface_hub does), and against the fake Hugging Face of
// package hftest, written from the protocol (whoami-v2, the authorization
// page acting as a user who approves, the token endpoint verifying PKCE,
// the device endpoint), with an injected clock for expiry and polling
// intervals; end to end in cmd/reachyd/hfauth_test.go.
package hfauth

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// Defaults of the reference (hf_auth.py) and of huggingface_hub.
const (
	// DefaultClientID is Pollen Robotics' OAuth app, registered with the
	// redirect URIs http://localhost:8000/... and
	// http://reachy-mini.local:8000/api/hf-auth/oauth/callback.
	DefaultClientID = "71146982-8184-45a2-b05a-d561b3cd701d"
	// DefaultScopes are the reference's scopes.
	DefaultScopes = "openid profile read-repos write-repos manage-repos inference-api"
	// DeviceClientID is huggingface_hub's device-code OAuth client
	// (constants.DEVICE_CODE_OAUTH_CLIENT_ID), which the reference uses for
	// its device flow.
	DeviceClientID = "26be6b09-91c5-47da-9861-d2d2bb7a7e36"
	// DefaultCentralURL is the reference's central signalling server.
	DefaultCentralURL = "https://pollen-robotics-reachy-mini-central.hf.space"

	// OAuthTTL is how long an authorization-code session lives.
	OAuthTTL = 600 * time.Second
	// authorizedTTL is how long a finished device session is kept for its
	// poller (the reference's _AUTHORIZED_SESSION_TTL_S).
	authorizedTTL = 300 * time.Second
	// defaultMaxSessions bounds the sessions of each flow.
	defaultMaxSessions = 32
	callbackPath       = "/api/hf-auth/oauth/callback"
)

// The reference's messages: shown to users, never provider text or tokens.
const (
	MsgAuthFailed      = "Authentication failed. Please try again."
	MsgUnavailable     = "Hugging Face authentication is unavailable. Please try again."
	MsgDenied          = "Authorization was denied."
	MsgSaveFailed      = "Could not save credentials. Please try again."
	MsgLoginExpired    = "Login expired. Please try again."
	MsgSessionNotFound = "Session expired or not found"
	MsgInvalidSession  = "Invalid or expired session. Please try again."
	MsgInvalidToken    = "Invalid token or network error"
	MsgNotConfigured   = "OAuth not configured. Set HF_OAUTH_CLIENT_ID environment variable (or --hf-oauth-client-id)."
	MsgMissingCode     = "Missing authorization code or state"
)

// Config configures the Service.
type Config struct {
	// Hub is the Hugging Face endpoint (--hf-endpoint) and its client.
	Hub Hub
	// Store is where tokens are kept (nil: huggingface_hub's paths).
	Store *Store
	// ClientID is the OAuth app of the authorization-code flow; "" turns
	// that flow off (configured: false). Scopes are its scopes.
	ClientID, Scopes string
	// DeviceClientID is the device flow's client (default DeviceClientID).
	DeviceClientID string
	// Wireless makes the redirect URI http://reachy-mini.local:<port>/...
	// (unless the client asks use_localhost).
	Wireless bool
	// Port is the API's port in the redirect URI (default 8000).
	Port int
	// CentralURL is the central signalling server, asked by
	// CentralRobotStatus (default DefaultCentralURL).
	CentralURL string
	// MaxSessions bounds the sessions of each flow (default 32).
	MaxSessions int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service runs the sign-in flows. Safe for concurrent use.
type Service struct {
	cfg Config

	mu     sync.Mutex
	oauth  Table[oauthSession]
	device Table[deviceSession]
}

type oauthSession struct {
	verifier, redirectURI string
	status                string // pending, exchanging, authorized, error
	username, message     string
}

type deviceSession struct {
	code              DeviceCode
	status            string // pending, authorized, error, expired
	username, message string
	deadline          time.Time // the device code's expiry
	interval          time.Duration
	nextPoll          time.Time
	polling           bool
}

// New makes a Service.
func New(cfg Config) *Service {
	if cfg.Store == nil {
		cfg.Store = &Store{}
	}
	if cfg.Hub.Endpoint == "" {
		cfg.Hub.Endpoint = "https://huggingface.co"
	}
	if cfg.Scopes == "" {
		cfg.Scopes = DefaultScopes
	}
	if cfg.DeviceClientID == "" {
		cfg.DeviceClientID = DeviceClientID
	}
	if cfg.Port <= 0 {
		cfg.Port = 8000
	}
	if cfg.CentralURL == "" {
		cfg.CentralURL = DefaultCentralURL
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = defaultMaxSessions
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg}
	s.oauth.Max, s.device.Max = cfg.MaxSessions, cfg.MaxSessions
	return s
}

// Store is the token store.
func (s *Service) Store() *Store { return s.cfg.Store }

// Token is the current token ("" when signed out).
func (s *Service) Token() string { return s.cfg.Store.Token() }

// ---- token routes ------------------------------------------------------------

// AuthStatus is GET status's answer.
type AuthStatus struct {
	IsLoggedIn bool    `json:"is_logged_in"`
	Username   *string `json:"username"`
}

// Status checks the stored token with whoami; a token the Hub refuses, or
// a Hub out of reach, is "not logged in", as in the reference.
func (s *Service) Status(ctx context.Context) AuthStatus {
	tok := s.Token()
	if tok == "" {
		return AuthStatus{}
	}
	w, err := s.cfg.Hub.Whoami(ctx, tok)
	if err != nil {
		return AuthStatus{}
	}
	return AuthStatus{IsLoggedIn: true, Username: &w.Name}
}

// SaveError is a refused save-token; its text is the reference's 400 detail.
type SaveError struct{ Msg string }

func (e *SaveError) Error() string { return e.Msg }

// SaveToken checks a token with whoami and saves it as huggingface_hub's
// login(token) does; it returns the user's name. Errors are *SaveError
// with the reference's texts.
func (s *Service) SaveToken(ctx context.Context, token string) (string, error) {
	token = cleanToken(token)
	// login() refuses organisation tokens (ValueError: the reference's
	// "Invalid token or network error").
	if !validToken(token) || len(token) >= 7 && token[:7] == "api_org" {
		return "", &SaveError{MsgInvalidToken}
	}
	w, err := s.cfg.Hub.Whoami(ctx, token)
	if err != nil {
		return "", &SaveError{MsgInvalidToken}
	}
	if err := s.cfg.Store.Login(Saved{Token: token, Name: w.TokenName()}); err != nil {
		return "", &SaveError{"Could not save the token: " + errText(err)}
	}
	return w.Name, nil
}

// errText is an error's text without file paths (an answer never names a
// server path; the log keeps the whole error).
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Op + ": " + le.Err.Error()
	}
	return "unexpected error"
}

// Logout deletes the stored tokens (see Store.Logout; ErrEnvToken when
// HF_TOKEN still signs the daemon in).
func (s *Service) Logout() error { return s.cfg.Store.Logout() }

// ---- OAuth authorization code ----------------------------------------------

// Configured reports whether the authorization-code flow has a client id.
func (s *Service) Configured() bool { return s.cfg.ClientID != "" }

// RedirectURI is the callback URL Hugging Face sends the browser back to:
// http://reachy-mini.local:<port>/... on the wireless robot, else (or with
// use_localhost, which the desktop app sends: it forwards localhost:8000
// to the robot) http://localhost:<port>/.... Hugging Face accepts only the
// URIs registered with the OAuth app: with the default client id, port
// 8000.
func (s *Service) RedirectURI(useLocalhost bool) string {
	host := "localhost"
	if s.cfg.Wireless && !useLocalhost {
		host = "reachy-mini.local"
	}
	return "http://" + host + ":" + strconv.Itoa(s.cfg.Port) + callbackPath
}

// OAuthStart is GET oauth/start's answer.
type OAuthStart struct {
	Status      string `json:"status"`
	SessionID   string `json:"session_id"`
	AuthURL     string `json:"auth_url"`
	RedirectURI string `json:"redirect_uri"`
	ExpiresIn   int    `json:"expires_in"`
}

// ErrNotConfigured is StartOAuth's error without a client id.
var ErrNotConfigured = errors.New(MsgNotConfigured)

// AuthorizeURL builds the authorization request (RFC 6749 4.1.1 with RFC
// 7636's challenge).
func AuthorizeURL(endpoint, clientID, redirectURI, scopes, state, challenge string) string {
	q := url.Values{
		"client_id": {clientID}, "redirect_uri": {redirectURI}, "scope": {scopes},
		"response_type": {"code"}, "state": {state},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	return endpoint + "/oauth/authorize?" + q.Encode()
}

// StartOAuth opens an authorization-code session: its id is the OAuth
// state, and auth_url is where the user's browser goes.
func (s *Service) StartOAuth(useLocalhost bool) (OAuthStart, error) {
	if !s.Configured() {
		return OAuthStart{}, ErrNotConfigured
	}
	state, verifier := randomToken(32), randomToken(32)
	redirect := s.RedirectURI(useLocalhost)
	s.mu.Lock()
	now := s.cfg.Now()
	s.oauth.Put(state, &oauthSession{verifier: verifier, redirectURI: redirect, status: "pending"}, now, now.Add(OAuthTTL))
	s.mu.Unlock()
	return OAuthStart{
		Status: "success", SessionID: state, RedirectURI: redirect, ExpiresIn: int(OAuthTTL / time.Second),
		AuthURL: AuthorizeURL(s.endpoint(), s.cfg.ClientID, redirect, s.cfg.Scopes, state, S256Challenge(verifier)),
	}, nil
}

func (s *Service) endpoint() string {
	u := s.cfg.Hub.Endpoint
	for len(u) > 0 && u[len(u)-1] == '/' {
		u = u[:len(u)-1]
	}
	return u
}

// SessionStatus is the answer of oauth/status and device/status:
// {"status": pending|authorized|error|expired, "username"?, "message"?}.
type SessionStatus struct {
	Status   string  `json:"status"`
	Username *string `json:"username,omitempty"`
	Message  *string `json:"message,omitempty"`
}

func statusOf(status, username, message string) SessionStatus {
	r := SessionStatus{Status: status}
	switch status {
	case "authorized":
		r.Username = &username
	case "error", "expired":
		r.Message = &message
	}
	return r
}

var notFound = statusOf("expired", "", MsgSessionNotFound)

// OAuthStatus reports an authorization-code session.
func (s *Service) OAuthStatus(id string) SessionStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.oauth.Get(id, s.cfg.Now())
	if o == nil {
		return notFound
	}
	st := o.status
	if st == "exchanging" {
		st = "pending"
	}
	return statusOf(st, o.username, o.message)
}

// CancelOAuth drops a session; false when there was none.
func (s *Service) CancelOAuth(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oauth.Delete(id, s.cfg.Now())
}

// CallbackQuery is what Hugging Face's redirect brings back.
type CallbackQuery struct {
	Code, State, Error, ErrorDescription string
}

// maxCallbackField bounds each callback parameter: a longer one is cut (it
// is then not a code or state we issued).
const maxCallbackField = 2048

// ParseCallback reads the callback's query (the first value of each
// parameter, each cut at 2 KiB).
func ParseCallback(q url.Values) CallbackQuery {
	get := func(k string) string {
		v := q.Get(k)
		if len(v) > maxCallbackField {
			v = v[:maxCallbackField]
		}
		return v
	}
	return CallbackQuery{Code: get("code"), State: get("state"), Error: get("error"), ErrorDescription: get("error_description")}
}

// CallbackResult is what the callback page shows.
type CallbackResult struct {
	// HTTPStatus is 400 without a code or state, else 200 (as the reference).
	HTTPStatus int
	Success    bool
	Message    string
	// SignedIn: a token was saved (tell the relay).
	SignedIn bool
}

// Callback finishes an authorization-code session: Hugging Face's error, or
// the code exchanged (with the session's PKCE verifier) for a token that
// is saved; the session then reads authorized (or error) for the poller.
func (s *Service) Callback(ctx context.Context, q CallbackQuery) CallbackResult {
	if q.Error != "" {
		msg := q.ErrorDescription
		if msg == "" {
			msg = q.Error
		}
		if q.State != "" {
			s.mu.Lock()
			if o := s.oauth.Get(q.State, s.cfg.Now()); o != nil && o.status == "pending" {
				o.status, o.message = "error", msg
			}
			s.mu.Unlock()
		}
		return CallbackResult{HTTPStatus: http.StatusOK, Message: msg}
	}
	if q.Code == "" || q.State == "" {
		return CallbackResult{HTTPStatus: http.StatusBadRequest, Message: MsgMissingCode}
	}
	s.mu.Lock()
	o := s.oauth.Get(q.State, s.cfg.Now())
	if o == nil || o.status != "pending" {
		s.mu.Unlock()
		return CallbackResult{HTTPStatus: http.StatusOK, Message: MsgInvalidSession}
	}
	o.status = "exchanging"
	verifier, redirect := o.verifier, o.redirectURI
	s.mu.Unlock()

	finish := func(status, username, msg string) CallbackResult {
		s.mu.Lock()
		o.status, o.username, o.message = status, username, msg
		s.mu.Unlock()
		if status != "authorized" {
			return CallbackResult{HTTPStatus: http.StatusOK, Message: msg}
		}
		if username == "" {
			username = "user"
		}
		return CallbackResult{HTTPStatus: http.StatusOK, Success: true, SignedIn: true, Message: "Successfully logged in as " + username + "!"}
	}
	if !s.Configured() {
		return finish("error", "", "OAuth not configured")
	}
	// The code works once: finish the exchange and the save even if the
	// browser goes away meanwhile (each request has its own deadline).
	ctx = context.WithoutCancel(ctx)
	tr, err := s.cfg.Hub.ExchangeCode(ctx, s.cfg.ClientID, q.Code, redirect, verifier)
	switch {
	case errors.Is(err, ErrUnreachable):
		return finish("error", "", MsgUnavailable)
	case err != nil:
		return finish("error", "", MsgAuthFailed)
	}
	// The username is optional: a whoami failure still signs in (the
	// reference saves the token file only then).
	saved := Saved{Token: tr.AccessToken, RefreshToken: tr.RefreshToken, ExpiresAt: s.expiresAt(tr)}
	username := ""
	if w, err := s.cfg.Hub.Whoami(ctx, tr.AccessToken); err == nil {
		username, saved.Name = w.Name, w.TokenName()
	}
	if err := s.cfg.Store.Login(saved); err != nil {
		return finish("error", "", MsgSaveFailed)
	}
	return finish("authorized", username, "")
}

func (s *Service) expiresAt(tr TokenResponse) int64 {
	if tr.ExpiresIn <= 0 {
		return 0
	}
	return s.cfg.Now().Unix() + tr.ExpiresIn
}

// ---- device code ---------------------------------------------------------------

// DeviceStart is POST oauth/device/start's answer.
type DeviceStart struct {
	Status                  string `json:"status"`
	SessionID               string `json:"session_id"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	Interval                int64  `json:"interval"`
	ExpiresIn               int64  `json:"expires_in"`
}

// ErrDeviceUnavailable is StartDevice's error when Hugging Face gives no
// device code; its text is the reference's.
var ErrDeviceUnavailable = errors.New(MsgUnavailable)

// StartDevice asks Hugging Face for a device code and opens a session the
// client polls with DeviceStatus.
func (s *Service) StartDevice(ctx context.Context) (DeviceStart, error) {
	dc, err := s.cfg.Hub.RequestDeviceCode(ctx, s.cfg.DeviceClientID)
	if err != nil {
		return DeviceStart{}, errors.Join(ErrDeviceUnavailable, err)
	}
	id := randomToken(16)
	s.mu.Lock()
	now := s.cfg.Now()
	deadline := now.Add(time.Duration(dc.ExpiresIn) * time.Second)
	s.device.Put(id, &deviceSession{code: dc, status: "pending", deadline: deadline,
		interval: time.Duration(dc.Interval) * time.Second, nextPoll: now}, now, deadline)
	s.mu.Unlock()
	return DeviceStart{Status: "pending", SessionID: id, UserCode: dc.UserCode, VerificationURI: dc.VerificationURI,
		VerificationURIComplete: dc.VerificationURIComplete, Interval: dc.Interval, ExpiresIn: dc.ExpiresIn}, nil
}

// DeviceStatus reports a device session, asking Hugging Face's token
// endpoint once when the polling interval has passed since the last ask
// (and no other request is asking). signedIn is true on the one call in
// which the token was obtained and saved: the caller tells the relay then,
// once.
func (s *Service) DeviceStatus(ctx context.Context, id string) (st SessionStatus, signedIn bool) {
	s.mu.Lock()
	now := s.cfg.Now()
	d := s.device.Get(id, now)
	if d == nil {
		s.mu.Unlock()
		return notFound, false
	}
	if d.status == "pending" && !now.Before(d.deadline) {
		d.status, d.message = "expired", MsgLoginExpired
	}
	if d.status != "pending" || d.polling || now.Before(d.nextPoll) {
		st = statusOf(d.status, d.username, d.message)
		s.mu.Unlock()
		return st, false
	}
	d.polling = true
	clientID, code := s.cfg.DeviceClientID, d.code.DeviceCode
	s.mu.Unlock()

	// A device code yields its token once: a poller that goes away must
	// not lose it (each request has its own deadline).
	ctx = context.WithoutCancel(ctx)
	tr, err := s.cfg.Hub.PollDevice(ctx, clientID, code)
	var saved Saved
	var username string
	var saveErr error
	if err == nil && tr.AccessToken != "" {
		// huggingface_hub's _save_oauth_token: whoami, then the token under
		// "oauth-<user>" with its refresh token and expiry.
		saved = Saved{Token: tr.AccessToken, RefreshToken: tr.RefreshToken, ExpiresAt: s.expiresAt(tr)}
		if w, werr := s.cfg.Hub.Whoami(ctx, tr.AccessToken); werr != nil {
			saveErr = werr
		} else {
			username, saved.Name = w.Name, w.TokenName()
			saveErr = s.cfg.Store.Login(saved)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now = s.cfg.Now()
	d.polling = false
	step := applyDevicePoll(d, tr, err, saveErr, username, now)
	if step == stepAuthorized {
		s.device.SetExpiry(id, now.Add(authorizedTTL))
	}
	return statusOf(d.status, d.username, d.message), step == stepAuthorized
}

type deviceStep int

const (
	stepWait deviceStep = iota
	stepAuthorized
	stepFailed
)

// applyDevicePoll applies one answer of the token endpoint to a pending device
// session (RFC 8628 3.5): a token (saved unless saveErr) authorizes it;
// authorization_pending waits an interval; slow_down adds 5 s to the
// interval; expired_token expires it; access_denied and any other OAuth
// error fail it; a transient failure (pollErr) waits an interval and keeps
// polling until the device code's deadline.
func applyDevicePoll(d *deviceSession, tr TokenResponse, pollErr, saveErr error, username string, now time.Time) deviceStep {
	fail := func(status, msg string) deviceStep {
		d.status, d.message = status, msg
		return stepFailed
	}
	switch {
	case pollErr != nil:
		// Transient (network, 5xx, not an OAuth answer).
	case tr.AccessToken != "":
		if saveErr != nil {
			return fail("error", MsgSaveFailed)
		}
		d.status, d.username = "authorized", username
		return stepAuthorized
	case tr.Error == "authorization_pending":
	case tr.Error == "slow_down":
		d.interval += 5 * time.Second
	case tr.Error == "expired_token":
		return fail("expired", MsgLoginExpired)
	case tr.Error == "access_denied":
		return fail("error", MsgDenied)
	default:
		return fail("error", MsgAuthFailed)
	}
	if !now.Before(d.deadline) {
		return fail("expired", MsgLoginExpired)
	}
	d.nextPoll = now.Add(d.interval)
	return stepWait
}

// CancelDevice drops a device session; false when there was none.
func (s *Service) CancelDevice(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.device.Delete(id, s.cfg.Now())
}

// ---- central ----------------------------------------------------------------

// CentralStatus is central-robot-status's answer.
type CentralStatus struct {
	Available bool            `json:"available"`
	Robots    json.RawMessage `json:"robots"`
	Reason    string          `json:"reason,omitempty"`
}

// CentralRobotStatus asks the central server for the user's robots with
// the stored token (used when no relay actor runs to ask).
func (s *Service) CentralRobotStatus(ctx context.Context) CentralStatus {
	ok, robots, reason := CentralRobotStatus(ctx, s.cfg.Hub.Client, s.cfg.CentralURL, s.Token())
	return CentralStatus{Available: ok, Robots: robots, Reason: reason}
}
