// Package turn keeps the robot's WebRTC producer supplied with TURN
// credentials, as the reference daemon's media server does for remote
// consumers behind NATs that no direct path crosses (spec daemon-api 6.5,
// reference-gap 6.1):
//
//   - GET <REACHY_TURN_URL>?ttl=<REACHY_TURN_TTL> (default
//     https://turn.fastrtc.org/credentials, ttl 600) with the Hugging Face
//     token as "Authorization: Bearer <token>", never in the URL. The answer
//     is {"iceServers":[{"urls": string|[string], "username", "credential"}]}.
//   - Refresh at TTL/2; after a failure, 30 s then doubling up to 5 min
//     (internal/backoff); at once when the token changes (Refresher.Kick).
//     Credentials are dropped when they expire without a successful
//     refresh, and when the token goes away: media then works without TURN.
//   - No token: nothing is fetched; the token is looked at again on Kick and
//     every TokenPoll.
//
// # Shape
//
// Parse is the decoder of the credentials answer: a bounded body (MaxBody),
// at most MaxServers servers of MaxURLs URLs each, bounded lengths, only
// stun:, stuns:, turn: and turns: URIs that pion parses, TURN URIs with a
// username and a credential, no control characters. It is fuzzed
// (FuzzParse). Client.Fetch does the HTTP request with a timeout, no
// redirect to another scheme or host, and the token in the header only.
//
// Core is the pure schedule, driven with synthetic times in the tests: it
// says when to fetch, what to apply after a fetch, a failure, a token
// change or an expiry, and when to wake next. Refresher runs Core with an
// injected clock: one goroutine, one fetch at a time; Kick wakes it.
// Merge puts the static servers (--ice-server) first and the TURN servers
// after them.
//
// # Tested against
//
// Parse and Core by unit tests and the fuzz target; Client against an
// httptest server that checks the Bearer header and the query; Refresher
// with a fake clock and a fake fetcher (no sleeping). The daemon test
// (cmd/reachyd/turn_test.go) runs a real pion/turn server on 127.0.0.1 with
// long-term credentials handed out by a fake credentials endpoint, and a
// pion consumer whose ICE transport policy is relay-only gets the robot's
// video through it.
package turn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/pion/stun/v4"

	"reachyd/internal/backoff"
	"reachyd/media/webrtc"
)

// Server is one STUN or TURN server (the producer's type).
type Server = webrtc.ICEServer

// Defaults, the reference's.
const (
	DefaultURL = "https://turn.fastrtc.org/credentials"
	DefaultTTL = 600 * time.Second
)

// Limits of the credentials answer.
const (
	MaxBody       = 64 << 10 // bytes of the answer read
	MaxServers    = 8        // servers in iceServers
	MaxURLs       = 8        // URLs of one server
	MaxURLLen     = 512      // bytes of one URL
	MaxCredential = 512      // bytes of a username or a credential
)

// Timing.
const (
	FetchTimeout = 10 * time.Second // one credentials request, body included
	MinRefresh   = 10 * time.Second // the shortest refresh period (a tiny TTL)
	TokenPoll    = time.Minute      // how often the token is looked at again
)

// RetryPolicy is the delay after failed fetches: 30 s (the reference's),
// doubling to 5 minutes, with a little jitter.
var RetryPolicy = backoff.Policy{Initial: 30 * time.Second, Max: 5 * time.Minute, Jitter: 0.1, HalfLife: 30 * time.Minute}

// Errors.
var (
	ErrNoToken      = errors.New("turn: no Hugging Face token")
	ErrUnauthorized = errors.New("turn: the credentials server refused the token (HTTP 401/403)")
	ErrInvalid      = errors.New("turn: invalid credentials answer")
)

// ---- the answer -------------------------------------------------------------

// Parse decodes a credentials answer. Unknown fields are ignored (the
// service may add some); anything out of the limits is an error, as is an
// answer with no server.
func Parse(body []byte) ([]Server, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, above %d", ErrInvalid, len(body), MaxBody)
	}
	var doc struct {
		ICEServers []json.RawMessage `json:"iceServers"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(doc.ICEServers) == 0 {
		return nil, fmt.Errorf("%w: no iceServers", ErrInvalid)
	}
	if len(doc.ICEServers) > MaxServers {
		return nil, fmt.Errorf("%w: %d servers, above %d", ErrInvalid, len(doc.ICEServers), MaxServers)
	}
	out := make([]Server, 0, len(doc.ICEServers))
	for i, raw := range doc.ICEServers {
		var s struct {
			URLs       json.RawMessage `json:"urls"`
			Username   *string         `json:"username"`
			Credential *string         `json:"credential"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: server %d: %v", ErrInvalid, i, err)
		}
		var urls []string
		switch t := bytes.TrimSpace(s.URLs); {
		case len(t) > 0 && t[0] == '"':
			var u string
			if err := json.Unmarshal(t, &u); err != nil {
				return nil, fmt.Errorf("%w: server %d urls: %v", ErrInvalid, i, err)
			}
			urls = []string{u}
		case len(t) > 0 && t[0] == '[':
			if err := json.Unmarshal(t, &urls); err != nil {
				return nil, fmt.Errorf("%w: server %d urls: %v", ErrInvalid, i, err)
			}
		default:
			return nil, fmt.Errorf("%w: server %d: urls must be a string or a list of strings", ErrInvalid, i)
		}
		if len(urls) == 0 || len(urls) > MaxURLs {
			return nil, fmt.Errorf("%w: server %d: %d urls (want 1..%d)", ErrInvalid, i, len(urls), MaxURLs)
		}
		srv := Server{URLs: urls}
		if s.Username != nil {
			srv.Username = *s.Username
		}
		if s.Credential != nil {
			srv.Credential = *s.Credential
		}
		if err := checkServer(srv); err != nil {
			return nil, fmt.Errorf("%w: server %d: %v", ErrInvalid, i, err)
		}
		out = append(out, srv)
	}
	return out, nil
}

// checkServer applies the limits to one server: what pion would refuse
// later (and fail every new session with) is refused here.
func checkServer(s Server) error {
	if len(s.Username) > MaxCredential || len(s.Credential) > MaxCredential {
		return errors.New("username or credential too long")
	}
	if !printable(s.Username) || !printable(s.Credential) {
		return errors.New("control characters in the username or credential")
	}
	for _, u := range s.URLs {
		if len(u) > MaxURLLen || !printable(u) {
			return fmt.Errorf("url too long or with control characters")
		}
		uri, err := stun.ParseURI(u)
		if err != nil {
			return fmt.Errorf("url %q: %v", u, err)
		}
		if uri.Host == "" {
			return fmt.Errorf("url %q: no host", u)
		}
		if (uri.Scheme == stun.SchemeTypeTURN || uri.Scheme == stun.SchemeTypeTURNS) && (s.Username == "" || s.Credential == "") {
			return fmt.Errorf("TURN url %q without username and credential", u)
		}
	}
	return nil
}

func printable(s string) bool {
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Merge is the servers a new session gets: the static ones first, then
// the TURN ones. Neither input is modified.
func Merge(static, extra []Server) []Server {
	out := make([]Server, 0, len(static)+len(extra))
	out = append(out, static...)
	return append(out, extra...)
}

// ---- the request ------------------------------------------------------------

// Client fetches credentials.
type Client struct {
	// URL is the credentials endpoint (DefaultURL when empty).
	URL string
	// TTL is the lifetime asked for (DefaultTTL when zero).
	TTL time.Duration
	// HTTP is the client (a client with FetchTimeout when nil).
	HTTP *http.Client
}

// TTLOrDefault is the lifetime asked for.
func (c *Client) TTLOrDefault() time.Duration {
	if c.TTL <= 0 {
		return DefaultTTL
	}
	return c.TTL
}

// RequestURL is the endpoint with ?ttl=<seconds> (other query parameters
// of the endpoint are kept).
func (c *Client) RequestURL() (string, error) {
	raw := c.URL
	if raw == "" {
		raw = DefaultURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("turn: credentials URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("turn: credentials URL %q: want http(s)://host/...", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("turn: credentials URL must not carry a user or password")
	}
	q := u.Query()
	q.Set("ttl", strconv.Itoa(int(c.TTLOrDefault()/time.Second)))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Fetch asks for credentials with the token in the Authorization header.
func (c *Client) Fetch(ctx context.Context, token string) ([]Server, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	target, err := c.RequestURL()
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: FetchTimeout}
	}
	first, _ := url.Parse(target)
	client := *hc
	// A redirect may not change scheme or host: the token goes nowhere
	// else (Go drops it on a host change anyway; this says why it failed).
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) >= 3 || r.URL.Scheme != first.Scheme || r.URL.Host != first.Host {
			return errors.New("turn: redirect to another host or scheme refused")
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("turn: credentials request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("turn: credentials answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, ErrUnauthorized
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("turn: credentials server answered HTTP %d", resp.StatusCode)
	}
	return Parse(body)
}

// ---- the schedule (pure) ----------------------------------------------------

// Core is the refresh schedule. It holds no clock: every method takes now.
type Core struct {
	TTL time.Duration // lifetime of fetched credentials

	token   string
	seen    bool // a token (or its absence) was looked at
	servers []Server
	expiry  time.Time
	due     time.Time // next fetch (zero: none planned)
	retry   backoff.State
}

// Token records the token looked at now. A change (or the first look)
// plans a fetch at once when there is a token; no token drops the
// servers. It returns the servers to apply and whether they changed.
func (c *Core) Token(tok string, now time.Time) ([]Server, bool) {
	if c.seen && tok == c.token {
		return nil, false
	}
	c.seen, c.token = true, tok
	c.retry = backoff.State{}
	if tok == "" {
		c.due = time.Time{}
		return c.drop()
	}
	c.due = now
	return nil, false
}

// ShouldFetch reports whether a fetch is due now.
func (c *Core) ShouldFetch(now time.Time) bool {
	return c.token != "" && !c.due.IsZero() && !now.Before(c.due)
}

// Fetched records fresh servers: they apply until now+TTL, and the next
// fetch is at TTL/2 (at least MinRefresh).
func (c *Core) Fetched(servers []Server, now time.Time) []Server {
	ttl := c.ttl()
	c.servers = slices.Clone(servers)
	c.expiry = now.Add(ttl)
	c.due = now.Add(max(ttl/2, MinRefresh))
	c.retry = backoff.State{}
	return slices.Clone(c.servers)
}

// Failed records a failed fetch: the next one follows RetryPolicy
// (random in [0,1) spreads it). It returns the delay.
func (c *Core) Failed(now time.Time, random float64) time.Duration {
	var d time.Duration
	c.retry, d, _ = RetryPolicy.Next(c.retry, now, random)
	c.due = now.Add(d)
	return d
}

// Expire drops servers past their expiry; it returns the servers to apply
// and whether they changed.
func (c *Core) Expire(now time.Time) ([]Server, bool) {
	if c.servers != nil && !now.Before(c.expiry) {
		return c.drop()
	}
	return nil, false
}

// Servers are the TURN servers in use.
func (c *Core) Servers() []Server { return slices.Clone(c.servers) }

// Due is when the next fetch is planned (zero: none).
func (c *Core) Due() time.Time { return c.due }

// Wake is when something is next to do: the planned fetch or the expiry,
// and at the latest now+TokenPoll.
func (c *Core) Wake(now time.Time) time.Time {
	w := now.Add(TokenPoll)
	if !c.due.IsZero() && c.due.Before(w) {
		w = c.due
	}
	if c.servers != nil && c.expiry.Before(w) {
		w = c.expiry
	}
	return w
}

func (c *Core) drop() ([]Server, bool) {
	had := c.servers != nil
	c.servers, c.expiry = nil, time.Time{}
	return nil, had
}

func (c *Core) ttl() time.Duration {
	if c.TTL <= 0 {
		return DefaultTTL
	}
	return c.TTL
}

// ---- the loop -----------------------------------------------------------------

// Clock is the refresher's time source.
type Clock interface {
	Now() time.Time
	// After is time.After: a channel that gets a value after d.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config configures a Refresher.
type Config struct {
	// Fetch gets credentials with a token (Client.Fetch).
	Fetch func(ctx context.Context, token string) ([]Server, error)
	// TTL is the lifetime of fetched credentials (DefaultTTL when zero).
	TTL time.Duration
	// Token returns the current Hugging Face token ("" for none).
	Token func() string
	// Apply gets the TURN servers to use (nil: none) each time they change.
	Apply func([]Server) error
	Clock Clock        // real time when nil
	Log   *slog.Logger // discarded when nil
	// Random returns a number in [0,1) for the retry jitter (math/rand when nil).
	Random func() float64
}

// Status is what the refresher is doing, for logs and status pages.
type Status struct {
	Servers   int       // TURN servers in use
	Token     bool      // a token is present
	LastError string    // the last fetch's error ("" after a success)
	NextFetch time.Time // zero when none is planned
}

// Refresher keeps TURN credentials fresh. Run it in a goroutine; Kick
// says the token may have changed.
type Refresher struct {
	cfg  Config
	kick chan struct{}

	mu     sync.Mutex
	status Status
}

// New returns a refresher.
func New(cfg Config) *Refresher {
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Random == nil {
		cfg.Random = rand.Float64
	}
	return &Refresher{cfg: cfg, kick: make(chan struct{}, 1)}
}

// Kick makes the refresher look at the token now (a sign-in or sign-out:
// messages.HFTokenChanged); a new token is used at once. It never blocks.
func (r *Refresher) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Status returns what the refresher is doing.
func (r *Refresher) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Run refreshes until ctx ends; the servers are then left as they are.
func (r *Refresher) Run(ctx context.Context) {
	core := Core{TTL: r.cfg.TTL}
	clk := r.cfg.Clock
	apply := func(s []Server, changed bool) {
		if !changed {
			return
		}
		if err := r.cfg.Apply(s); err != nil {
			r.cfg.Log.Warn("turn: cannot apply the TURN servers", "err", err)
		}
	}
	for {
		now := clk.Now()
		apply(core.Token(r.cfg.Token(), now))
		var lastErr string
		fetched := false
		if core.ShouldFetch(now) {
			servers, err := r.cfg.Fetch(ctx, core.token)
			if ctx.Err() != nil {
				return
			}
			now = clk.Now()
			if err != nil {
				d := core.Failed(now, r.cfg.Random())
				lastErr = err.Error()
				r.cfg.Log.Warn("turn: cannot get TURN credentials; WebRTC works without TURN meanwhile", "err", err, "retry_in", d.Round(time.Second))
			} else {
				apply(core.Fetched(servers, now), true)
				fetched = true
				r.cfg.Log.Info("turn: TURN credentials refreshed", "servers", len(servers), "next", core.Due().Sub(now).Round(time.Second))
			}
		}
		apply(core.Expire(now))
		r.mu.Lock()
		r.status.Servers, r.status.Token, r.status.NextFetch = len(core.servers), core.token != "", core.Due()
		if fetched {
			r.status.LastError = ""
		} else if lastErr != "" {
			r.status.LastError = lastErr
		}
		r.mu.Unlock()

		wait := core.Wake(now).Sub(now)
		if wait < 0 {
			wait = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-clk.After(wait):
		}
	}
}

// LoopbackURL reports whether the credentials URL names a loopback host
// (the daemon's --webrtc-loopback mode fetches only from such a URL).
func LoopbackURL(raw string) bool {
	if raw == "" {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
}
