package selfupdate

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// ErrUnreachable wraps the errors of a release source that did not answer
// (no connection, a timeout): /update/available reports them as the
// reference reports PyPI's connection errors, "available_version":
// "unknown". Every other source error (an HTTP error status, an index
// that does not parse, a bad signature) is a 503.
var ErrUnreachable = errors.New("release source unreachable")

// ErrNoSource is returned when no --update-url was given.
var ErrNoSource = errors.New("no update source configured: start reachyd with --update-url")

// Source is a signed release index at a URL.
type Source struct {
	// URL is the index's URL; its signature is at URL + ".sig".
	URL string
	// Keys are the trusted public keys; an index verifies if one of its
	// signatures verifies with one of them.
	Keys []ed25519.PublicKey
	// Client fetches (default: a client with Timeout below).
	Client *http.Client
	// Timeout bounds the fetch of the index and its signature together
	// (default 15 s).
	Timeout time.Duration
}

// Signed is a verified index.
type Signed struct {
	*Index
	// KeyID is the key whose signature verified.
	KeyID string
}

// CheckURL checks an --update-url value.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http or https URL", clip(s))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: no query or fragment (the signature is fetched at the URL + \".sig\")", clip(s))
	}
	return nil
}

func (s *Source) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return http.DefaultClient
}

// Fetch downloads the index and its signature, verifies the signature over
// the index's bytes, and only then parses the index.
func (s *Source) Fetch(ctx context.Context) (*Signed, error) {
	if s == nil || s.URL == "" {
		return nil, ErrNoSource
	}
	t := s.Timeout
	if t <= 0 {
		t = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	index, err := s.get(ctx, s.URL, MaxIndexBytes)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	sig, err := s.get(ctx, s.URL+".sig", MaxSignatureBytes)
	if err != nil {
		return nil, fmt.Errorf("index signature: %w", err)
	}
	id, err := Verify(s.Keys, index, sig)
	if err != nil {
		return nil, err
	}
	ix, err := ParseIndex(index)
	if err != nil {
		return nil, err
	}
	return &Signed{Index: ix, KeyID: id}, nil
}

// get fetches a small document, refusing one larger than limit.
func (s *Source) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := s.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("GET %s: %d bytes, at most %d", u, resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrUnreachable, u, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes", u, limit)
	}
	return b, nil
}
