// Package client is a Go client of reachyd's HTTP and WebSocket API, which
// is the official Reachy Mini daemon's API (../shared/spec/daemon-api.md)
// plus the skills API of pymirokai's RestAPI (spec/skills-api.md). It
// speaks to any daemon serving that contract; reachyd's extras (the app
// run's job id, motor details) are read when present and ignored when not.
//
// Design:
//
//   - One [Client] per daemon, safe for concurrent use. Every call takes a
//     context; a unary call is also bounded by the client's timeout
//     ([WithTimeout], 30 s by default); calls that wait by nature
//     ([Client.WaitMission], [Client.RecordedMoves]) and streams
//     ([Client.FollowJob], [Client.WatchMoves]) run until their context
//     ends or the stream does.
//   - Bodies are bounded: a success body larger than [WithMaxBody] (32 MiB
//     by default) is an error, not a memory spike; error bodies are read up
//     to 64 KiB, WebSocket messages up to 1 MiB.
//   - Failures are typed. The daemon's refusals ({"detail": ...} bodies,
//     422 validation lists, plain-text 500s) are [*APIError]; a daemon that
//     cannot be reached is a [*TransportError]; [IsTimeout] tells a deadline
//     from the rest. Callers branch with errors.As and errors.Is.
//   - The skills API needs a token: [WithAPIKey] exchanges the key for a
//     JWT on first use (GET /api/v1/auth/ with X-API-Key), follows the
//     token the daemon rolls in the Authorization header of command
//     replies, and logs in again once when a token is refused.
//
// Tested against a real reachyd on the simulated robot (cmd/reachyctl's
// tests, through internal/testdaemon) and, for the error and stream edge
// cases, against httptest servers written from the contract.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of a new Client.
const (
	DefaultURL     = "http://127.0.0.1:8000"
	DefaultTimeout = 30 * time.Second
	DefaultMaxBody = 32 << 20
	maxErrorBody   = 64 << 10
	maxWSMessage   = 1 << 20
)

// Client talks to one daemon. Create it with New.
type Client struct {
	base    *url.URL
	hc      *http.Client
	timeout time.Duration
	maxBody int64
	agent   string

	apiKey string
	mu     sync.Mutex // guards token
	token  string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (its Timeout, if any, also bounds
// streams; prefer WithTimeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout bounds each unary call (0: no bound); calls that wait by
// nature (WaitMission, RecordedMoves, streams) are bounded by their
// context only.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithMaxBody bounds the size of a success body.
func WithMaxBody(n int64) Option { return func(c *Client) { c.maxBody = n } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(s string) Option { return func(c *Client) { c.agent = s } }

// WithAPIKey gives the key the skills API calls exchange for a token.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithToken gives a token already obtained (from Login) to the skills API
// calls.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// New returns a client of the daemon at baseURL ("" means DefaultURL), an
// http or https URL, optionally with a path prefix.
func New(baseURL string, opts ...Option) (*Client, error) {
	if baseURL == "" {
		baseURL = DefaultURL
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: bad daemon URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: bad daemon URL %q: want http://host:port", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c := &Client{base: u, timeout: DefaultTimeout, maxBody: DefaultMaxBody, agent: "reachyd-client"}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		// No overall client timeout: it would cut streams. Dials are
		// bounded so that a dead address fails fast.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		tr.ResponseHeaderTimeout = 0
		c.hc = &http.Client{Transport: tr, CheckRedirect: noRedirects}
	}
	return c, nil
}

// The daemon never redirects; one that does is not the daemon.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// BaseURL is the daemon's address.
func (c *Client) BaseURL() string { return c.base.String() }

// ---- errors ------------------------------------------------------------------------

// APIError is a refusal by the daemon: a non-2xx status with the text of its
// {"detail": ...} body. A 422 validation list is flattened into Detail
// ("body.duration: Input should be ...; ...") and kept whole in Raw.
type APIError struct {
	Status int
	Detail string
	// Raw is the body as received (bounded), for callers that want the
	// validation list.
	Raw json.RawMessage `json:"-"`
}

func (e *APIError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("daemon answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("daemon answered %d: %s", e.Status, e.Detail)
}

// TransportError is a call that did not get an answer from the daemon:
// refused connection, unknown host, reset, TLS failure, a timeout, or a
// reply that is not the API's (an unreadable body).
type TransportError struct {
	Op  string // "GET /api/daemon/status", "WS /api/apps/ws/apps-manager/..."
	Err error
}

func (e *TransportError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// IsTimeout reports whether err is a deadline: the context's, the client's
// timeout, or a network timeout.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsUnreachable reports whether err means the daemon could not be reached
// (and not a timeout).
func IsUnreachable(err error) bool {
	var te *TransportError
	return errors.As(err, &te) && !IsTimeout(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, errProtocol)
}

// IsNotFound reports whether err is the daemon's 404.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// errProtocol marks answers that are not what the API promises.
var errProtocol = errors.New("unexpected answer")

func protocolf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, a...))
}

// IsProtocol reports whether err is an answer the client could not
// understand (wrong JSON, oversized body): the peer may not be a daemon.
func IsProtocol(err error) bool { return errors.Is(err, errProtocol) }

// parseAPIError builds the APIError of a non-2xx answer.
func parseAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	if json.Valid(body) {
		e.Raw = append(json.RawMessage(nil), body...)
	}
	var d struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &d); err == nil && len(d.Detail) > 0 {
		var s string
		if json.Unmarshal(d.Detail, &s) == nil {
			e.Detail = s
			return e
		}
		var list []struct {
			Loc []any  `json:"loc"`
			Msg string `json:"msg"`
		}
		if json.Unmarshal(d.Detail, &list) == nil && len(list) > 0 {
			parts := make([]string, 0, len(list))
			for _, v := range list {
				loc := make([]string, 0, len(v.Loc))
				for _, l := range v.Loc {
					loc = append(loc, fmt.Sprint(l))
				}
				if len(loc) > 0 {
					parts = append(parts, strings.Join(loc, ".")+": "+v.Msg)
				} else {
					parts = append(parts, v.Msg)
				}
			}
			e.Detail = strings.Join(parts, "; ")
			return e
		}
		e.Detail = string(d.Detail)
		return e
	}
	// FastAPI's plain "Internal Server Error", a proxy's page...
	e.Detail = strings.TrimSpace(string(bytes.ToValidUTF8(body, []byte("?"))))
	if len(e.Detail) > 500 {
		e.Detail = e.Detail[:500] + "..."
	}
	return e
}

// ---- requests ----------------------------------------------------------------------

// request is one unary call.
type request struct {
	method string
	path   string // escaped path, with the query if any
	body   io.Reader
	ctype  string
	header http.Header
	// bearer adds the skills API's token (logging in first if needed).
	bearer bool
	// long calls (waiting for a mission, a dataset download) are bounded
	// by the caller's context only.
	long bool
}

func (c *Client) url(path string) string { return c.base.String() + path }

// withTimeout bounds a call by the client's timeout (the context's own
// deadline still applies when it is earlier).
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

// send performs r and returns the success body (bounded) and headers, or
// an APIError / TransportError.
func (c *Client) send(ctx context.Context, r request) ([]byte, http.Header, error) {
	var cancel context.CancelFunc
	if r.long {
		ctx, cancel = context.WithCancel(ctx)
	} else {
		ctx, cancel = c.withTimeout(ctx)
	}
	defer cancel()
	op := r.method + " " + r.path
	req, err := http.NewRequestWithContext(ctx, r.method, c.url(r.path), r.body)
	if err != nil {
		return nil, nil, &TransportError{Op: op, Err: err}
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	if r.bearer {
		if t := c.currentToken(); t != "" {
			req.Header.Set("Authorization", "Bearer "+t)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, nil, &TransportError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, resp.Header, parseAPIError(resp.StatusCode, body)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, nil, &TransportError{Op: op, Err: err}
	}
	if int64(len(body)) > c.maxBody {
		return nil, nil, &TransportError{Op: op, Err: protocolf("body larger than %d bytes", c.maxBody)}
	}
	return body, resp.Header, nil
}

// call sends r and decodes a JSON success body into out (if non-nil).
func (c *Client) call(ctx context.Context, r request, out any) error {
	body, hdr, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	if r.bearer {
		c.rollToken(hdr)
	}
	return decode(r.method+" "+r.path, body, out)
}

func decode(op string, body []byte, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &TransportError{Op: op, Err: protocolf("%v", err)}
	}
	return nil
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.call(ctx, request{method: http.MethodGet, path: path}, out)
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	r := request{method: http.MethodPost, path: path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		r.body, r.ctype = bytes.NewReader(b), "application/json"
	}
	return c.call(ctx, r, out)
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }

// pathOf escapes a slash-separated name (a dataset id) segment by segment.
func pathOf(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Health asks POST /health-check: the cheapest proof that a daemon answers.
func (c *Client) Health(ctx context.Context) error {
	return c.postJSON(ctx, "/health-check", nil, nil)
}
