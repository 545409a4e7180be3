package hfauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Hub is the client of the Hugging Face endpoints sign-in uses:
// GET /api/whoami-v2, POST /oauth/token (authorization code and device
// code grants), POST /oauth/device. Answers are read up to a bound and
// every request has a deadline.
type Hub struct {
	// Endpoint is the Hub's base URL (--hf-endpoint), without the final /.
	Endpoint string
	// Client makes the requests (default: one with a 10 s timeout, the
	// default of huggingface_hub's HF_HUB_DOWNLOAD_TIMEOUT).
	Client *http.Client
}

const (
	hubTimeout   = 10 * time.Second
	maxWhoami    = 1 << 20  // a user in many organisations has a long whoami
	maxTokenBody = 64 << 10 // token and device answers are a few hundred bytes
)

// ErrInvalidToken is whoami's answer to a token the Hub refuses (401, 403).
var ErrInvalidToken = errors.New("invalid token")

// ErrUnreachable wraps failures to reach the Hub (network, timeout, 5xx).
var ErrUnreachable = errors.New("hugging face unreachable")

func (h *Hub) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return &http.Client{Timeout: hubTimeout}
}

func (h *Hub) url(p string) string { return strings.TrimRight(h.Endpoint, "/") + p }

// Whoami describes the owner of a token (the fields reachyd uses of
// whoami-v2's answer).
type Whoami struct {
	Name     string `json:"name"`
	Fullname string `json:"fullname"`
	Auth     struct {
		Type        string `json:"type"`
		AccessToken struct {
			DisplayName string `json:"displayName"`
			Role        string `json:"role"`
		} `json:"accessToken"`
	} `json:"auth"`
}

// TokenName is the name huggingface_hub's login() stores a token under:
// its display name, else "oauth-<user>" (OAuth tokens have none).
func (w Whoami) TokenName() string {
	if n := w.Auth.AccessToken.DisplayName; n != "" {
		return n
	}
	return "oauth-" + w.Name
}

// Whoami asks GET <endpoint>/api/whoami-v2 with the token as Bearer.
func (h *Hub) Whoami(ctx context.Context, token string) (Whoami, error) {
	var w Whoami
	if !validToken(token) {
		return w, ErrInvalidToken
	}
	ctx, cancel := context.WithTimeout(ctx, hubTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url("/api/whoami-v2"), nil)
	if err != nil {
		return w, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := h.client().Do(req)
	if err != nil {
		return w, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWhoami+1))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return w, ErrInvalidToken
	case resp.StatusCode != http.StatusOK:
		return w, fmt.Errorf("%w: whoami answered HTTP %d", ErrUnreachable, resp.StatusCode)
	case err != nil:
		return w, fmt.Errorf("%w: %v", ErrUnreachable, err)
	case len(body) > maxWhoami:
		return w, fmt.Errorf("%w: whoami answer above %d bytes", ErrUnreachable, maxWhoami)
	}
	if err := json.Unmarshal(body, &w); err != nil || w.Name == "" {
		return Whoami{}, fmt.Errorf("%w: whoami answer without a name", ErrUnreachable)
	}
	return w, nil
}

// validToken accepts what can go in an Authorization header: printable
// ASCII without spaces, 1 to 4096 bytes.
func validToken(t string) bool {
	if t == "" || len(t) > 4096 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= 0x20 || t[i] >= 0x7f {
			return false
		}
	}
	return true
}

// TokenResponse is an answer of the token endpoint: a token, or an OAuth
// error (RFC 6749 5.2, RFC 8628 3.5).
type TokenResponse struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int64 // seconds; 0: not given
	Error        string
	ErrorDesc    string
}

// ParseTokenResponse reads a token endpoint's JSON answer. The Hub spells
// the token access_token (RFC 6749) or, on its authorization-code answer,
// accessToken; expires_in may be a number or a numeric string. An answer
// with neither a token nor an error is an error.
func ParseTokenResponse(b []byte) (TokenResponse, error) {
	var r TokenResponse
	if len(b) > maxTokenBody {
		return r, errors.New("token answer too large")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return r, fmt.Errorf("token answer is not a JSON object: %w", err)
	}
	str := func(k string) string {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	r.AccessToken = str("access_token")
	if r.AccessToken == "" {
		r.AccessToken = str("accessToken")
	}
	r.RefreshToken = str("refresh_token")
	r.Error = str("error")
	r.ErrorDesc = str("error_description")
	r.ExpiresIn = seconds(m["expires_in"])
	if r.AccessToken != "" && !validToken(r.AccessToken) {
		return TokenResponse{}, errors.New("token answer holds a malformed token")
	}
	if r.RefreshToken != "" && !validToken(r.RefreshToken) {
		r.RefreshToken = ""
	}
	if r.AccessToken == "" && r.Error == "" {
		return TokenResponse{}, errors.New("token answer without a token or an error")
	}
	return r, nil
}

// seconds reads a JSON number or numeric string of seconds, clamped to
// [0, 10 years]; anything else is 0.
func seconds(raw json.RawMessage) int64 {
	if len(raw) == 0 {
		return 0
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0
		}
		if json.Unmarshal([]byte(s), &f) != nil {
			return 0
		}
	}
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	const max = 10 * 365 * 24 * 3600
	if f > max {
		return max
	}
	return int64(f)
}

// postForm posts a form to the token or device endpoint and returns the
// status and the bounded body.
func (h *Hub) postForm(ctx context.Context, path string, form url.Values) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, hubTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url(path), strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := h.client().Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody+1))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if len(body) > maxTokenBody {
		return resp.StatusCode, nil, fmt.Errorf("%w: answer of %s above %d bytes", ErrUnreachable, path, maxTokenBody)
	}
	return resp.StatusCode, bytes.TrimSpace(body), nil
}

// ExchangeCode trades an authorization code for a token (PKCE: the
// verifier whose S256 challenge began the session). A non-200 answer is an
// error carrying the status.
func (h *Hub) ExchangeCode(ctx context.Context, clientID, code, redirectURI, verifier string) (TokenResponse, error) {
	status, body, err := h.postForm(ctx, "/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier},
	})
	if err != nil {
		return TokenResponse{}, err
	}
	if status != http.StatusOK {
		return TokenResponse{}, fmt.Errorf("token exchange answered HTTP %d", status)
	}
	r, err := ParseTokenResponse(body)
	if err != nil {
		return r, err
	}
	if r.AccessToken == "" {
		return r, fmt.Errorf("token exchange refused: %s", r.Error)
	}
	return r, nil
}

// DeviceCode is the device authorization answer (RFC 8628 3.2), with
// huggingface_hub's defaults filled in.
type DeviceCode struct {
	DeviceCode              string
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	Interval                int64 // seconds between polls (default 5)
	ExpiresIn               int64 // seconds (default 900)
}

// ParseDeviceCode reads a device authorization answer: device_code,
// user_code and an http(s) verification_uri are required;
// verification_uri_complete falls back to verification_uri, interval to
// 5 s (RFC 8628), expires_in to 900 s (huggingface_hub). Interval is
// clamped to [1, 60] s and expires_in to [1, 3600] s.
func ParseDeviceCode(b []byte) (DeviceCode, error) {
	var d DeviceCode
	if len(b) > maxTokenBody {
		return d, errors.New("device answer too large")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return d, fmt.Errorf("device answer is not a JSON object: %w", err)
	}
	str := func(k string) string {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	d.DeviceCode, d.UserCode = str("device_code"), str("user_code")
	d.VerificationURI, d.VerificationURIComplete = str("verification_uri"), str("verification_uri_complete")
	if d.DeviceCode == "" || d.UserCode == "" || len(d.DeviceCode) > 1024 || len(d.UserCode) > 64 {
		return DeviceCode{}, errors.New("device answer without a device code or a user code")
	}
	if !httpURL(d.VerificationURI) {
		return DeviceCode{}, errors.New("device answer without an http(s) verification_uri")
	}
	if !httpURL(d.VerificationURIComplete) {
		d.VerificationURIComplete = d.VerificationURI
	}
	if _, ok := m["interval"]; !ok {
		d.Interval = 5
	} else {
		d.Interval = min(max(seconds(m["interval"]), 1), 60)
	}
	if d.ExpiresIn = seconds(m["expires_in"]); d.ExpiresIn == 0 {
		d.ExpiresIn = 900
	}
	d.ExpiresIn = min(d.ExpiresIn, 3600)
	return d, nil
}

func httpURL(s string) bool {
	if s == "" || len(s) > 2048 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// RequestDeviceCode asks POST <endpoint>/oauth/device for a device code,
// as huggingface_hub's request_device_code does (client_id only).
func (h *Hub) RequestDeviceCode(ctx context.Context, clientID string) (DeviceCode, error) {
	status, body, err := h.postForm(ctx, "/oauth/device", url.Values{"client_id": {clientID}})
	if err != nil {
		return DeviceCode{}, err
	}
	if status != http.StatusOK {
		return DeviceCode{}, fmt.Errorf("%w: device authorization answered HTTP %d", ErrUnreachable, status)
	}
	return ParseDeviceCode(body)
}

// PollDevice asks the token endpoint once with the device code grant. A
// network failure, a 5xx or an answer that is not an OAuth answer is
// ErrUnreachable (transient: RFC 8628 3.5 says keep polling); an OAuth
// error comes back in TokenResponse.Error.
func (h *Hub) PollDevice(ctx context.Context, clientID, deviceCode string) (TokenResponse, error) {
	status, body, err := h.postForm(ctx, "/oauth/token", url.Values{
		"grant_type":  {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {deviceCode}, "client_id": {clientID},
	})
	if err != nil {
		return TokenResponse{}, err
	}
	if status >= 500 {
		return TokenResponse{}, fmt.Errorf("%w: token endpoint answered HTTP %d", ErrUnreachable, status)
	}
	r, err := ParseTokenResponse(body)
	if err != nil {
		return TokenResponse{}, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return r, nil
}

// CentralRobotStatus asks the central signalling server for the user's
// robots (GET <central>/api/robot-status, Bearer token, 5 s), as the
// reference's central-robot-status does; reason is "" when available.
func CentralRobotStatus(ctx context.Context, client *http.Client, central, token string) (available bool, robots json.RawMessage, reason string) {
	empty := json.RawMessage("[]")
	if token == "" {
		return false, empty, "not_authenticated"
	}
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(central, "/")+"/api/robot-status", nil)
	if err != nil || !validToken(token) {
		return false, empty, "unreachable"
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return false, empty, "unreachable"
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return false, empty, "token_invalid"
	default:
		return false, empty, fmt.Sprintf("http_%d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWhoami+1))
	if err != nil || len(body) > maxWhoami {
		return false, empty, "unreachable"
	}
	var v struct {
		Robots json.RawMessage `json:"robots"`
	}
	if json.Unmarshal(body, &v) != nil {
		return false, empty, "unreachable"
	}
	if r := bytes.TrimSpace(v.Robots); len(r) > 0 && r[0] == '[' {
		return true, r, ""
	}
	return true, empty, ""
}
