package relay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// I/O with the central server. Every request carries the token in an
// Authorization header, never in the URL.

// Limits of the HTTP side.
const (
	ConnectTimeout = 10 * time.Second // dial, TLS and response headers
	postTimeout    = 10 * time.Second
	pollTimeout    = 10 * time.Second
	statusTimeout  = 5 * time.Second // GetCentralRobotStatus, as the reference's proxy
	maxStatusBody  = 1 << 20
	maxErrorBody   = 4 << 10
	postQueue      = 256
	aliveEvery     = time.Second // keep-alive lines reported at most this often
)

// NewHTTPClient is the relay's HTTP client: 10 s to connect and get the
// response headers, no overall timeout (the event stream lasts).
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   ConnectTimeout,
		ResponseHeaderTimeout: ConnectTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}}
}

func endpoint(base, path string) string { return strings.TrimRight(base, "/") + path }

func authorize(req *http.Request, token string) {
	req.Header.Set("Authorization", "Bearer "+token)
}

// sseEvents is what readSSE reports, in order: opened once, then data and
// alive, and failed last (also after a cancel).
type sseEvents struct {
	opened func()
	data   func(CentralMsg)
	alive  func()
	failed func(status int, err string)
}

// readSSE reads GET <base>/events until ctx ends or the stream does. Lines
// longer than MaxLine end the stream; data lines that do not decode are
// logged and skipped, except empty ones (keep-alives).
func readSSE(ctx context.Context, client *http.Client, base, token string, log *slog.Logger, ev sseEvents) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(base, "/events"), nil)
	if err != nil {
		ev.failed(0, err.Error())
		return
	}
	authorize(req, token)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := client.Do(req)
	if err != nil {
		ev.failed(0, err.Error())
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		ev.failed(resp.StatusCode, "")
		return
	}
	ev.opened()
	r := bufio.NewReaderSize(resp.Body, MaxLine+2)
	var lastAlive time.Time
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			ev.failed(0, fmt.Sprintf("a line of more than %d bytes", MaxLine))
			return
		}
		if len(line) > 0 {
			// An empty data line is no message: the central server's own
			// keep-alive, sent after 30 s without a message, is an
			// `event: ping` with an empty data line (app.py), and the SSE
			// library's pings are comment lines. Both count as lines for
			// the read timeout.
			if payload, ok := SSEData(line); ok && len(bytes.TrimSpace(payload)) > 0 {
				m, derr := DecodeCentral(payload)
				if derr != nil {
					log.Warn("relay: message from central skipped", "err", derr)
				} else {
					ev.data(m)
					continue
				}
			}
			if now := time.Now(); now.Sub(lastAlive) >= aliveEvery {
				lastAlive = now
				ev.alive()
			}
		}
		if err != nil {
			if err == io.EOF {
				err = errors.New("central closed the event stream")
			}
			ev.failed(0, err.Error())
			return
		}
	}
}

// post is one POST /send, made for SSE connection gen (0: none).
type post struct {
	body  []byte
	token string
	gen   uint64
}

// poster sends POSTs in order (an offer before its candidates) from one
// goroutine; a full queue drops the message (logged).
type poster struct {
	q      chan post
	done   chan struct{}
	closed bool // send and close run on the actor's goroutine
}

// startPoster starts the poster; refused is called (from its goroutine)
// with the connection of a POST central answered "no peer for this token".
func startPoster(client *http.Client, base string, log *slog.Logger, refused func(gen uint64)) *poster {
	p := &poster{q: make(chan post, postQueue), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for m := range p.q {
			if sendOne(client, base, m, log) && m.gen != 0 && refused != nil {
				refused(m.gen)
			}
		}
	}()
	return p
}

// noPeer reports whether a POST's answer says central has no peer for
// the token: 400 "Connect to /events first" or "Peer not found" (the
// reference's cloud consumer reconnects on the first).
func noPeer(status int, body []byte) bool {
	return status == http.StatusBadRequest &&
		(bytes.Contains(body, []byte("Connect to /events")) || bytes.Contains(body, []byte("Peer not found")))
}

func (p *poster) send(m post, log *slog.Logger) {
	if p.closed {
		return
	}
	select {
	case p.q <- m:
	default:
		log.Warn("relay: too many messages waiting for central; one dropped")
	}
}

// close stops taking messages; those queued are still sent.
func (p *poster) close() {
	if !p.closed {
		p.closed = true
		close(p.q)
	}
}

// sendOne POSTs one message; it reports whether central answered that it
// has no peer for the token (noPeer).
func sendOne(client *http.Client, base string, m post, log *slog.Logger) bool {
	ctx, cancel := context.WithTimeout(context.Background(), postTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(base, "/send"), bytes.NewReader(m.body))
	if err != nil {
		log.Warn("relay: POST /send", "err", err)
		return false
	}
	authorize(req, m.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		log.Warn("relay: POST /send", "err", err)
		return false
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Warn("relay: central refused a message", "status", resp.StatusCode, "body", string(body))
	}
	return noPeer(resp.StatusCode, body)
}

// robotStatus GETs <base>/api/robot-status: the HTTP status, and the
// robots array (raw) when it is 200.
func robotStatus(ctx context.Context, client *http.Client, base, token string) (int, json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(base, "/api/robot-status"), nil)
	if err != nil {
		return 0, nil, err
	}
	authorize(req, token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return resp.StatusCode, nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody+1))
	if err != nil {
		return 0, nil, err
	}
	if len(b) > maxStatusBody {
		return 0, nil, errors.New("robot-status answer too large")
	}
	robots, err := DecodeRobots(b)
	return resp.StatusCode, robots, err
}

// DecodeRobots reads {"robots":[...]} (limits: size, depth) and returns
// the array as sent.
func DecodeRobots(b []byte) (json.RawMessage, error) {
	if len(b) > maxStatusBody {
		return nil, fmt.Errorf("%w: robot-status of %d bytes", ErrBadMessage, len(b))
	}
	if err := checkDepth(b, maxDepth); err != nil {
		return nil, err
	}
	var v struct {
		Robots json.RawMessage `json:"robots"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if t := bytes.TrimSpace(v.Robots); len(t) == 0 || t[0] != '[' {
		return nil, fmt.Errorf("%w: robots is not an array", ErrBadMessage)
	}
	return v.Robots, nil
}

// listsPeer reports whether robots has an entry with this peerId.
func listsPeer(robots json.RawMessage, peerID string) bool {
	var list []struct {
		PeerID string `json:"peerId"`
	}
	if json.Unmarshal(robots, &list) != nil {
		return false
	}
	for _, r := range list {
		if r.PeerID == peerID {
			return true
		}
	}
	return false
}
