// Package releasetest is a local release server for tests of reachyd's
// self-update: it serves a signed release index in selfupdate's format,
// its signature and the release binaries over httptest, with its own
// ed25519 key pair, and lets a test break any of it (serve other bytes,
// cut a download, sign with another key). Written from the format in
// selfupdate and docs/operations.md; it is the only release server the
// tests talk to.
package releasetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"reachyd/selfupdate"
)

// IndexPath is where the server serves the index.
const IndexPath = "/reachyd/index.json"

// Server is a release server.
type Server struct {
	*httptest.Server
	Pub  ed25519.PublicKey
	Priv ed25519.PrivateKey

	mu    sync.Mutex
	files map[string][]byte
	// intercept handles a request before the files when it returns true.
	intercept func(w http.ResponseWriter, r *http.Request) bool
	hits      map[string]int
}

// New starts a server with a fresh key pair; it stops with the test.
func New(t testing.TB) *Server {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Pub: pub, Priv: priv, files: map[string][]byte{}, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	icpt := s.intercept
	b, ok := s.files[r.URL.Path]
	s.mu.Unlock()
	if icpt != nil && icpt(w, r) {
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	_, _ = w.Write(b)
}

// IndexURL is the index's URL (--update-url).
func (s *Server) IndexURL() string { return s.URL + IndexPath }

// KeyBase64 is the server's public key as --update-key takes it.
func (s *Server) KeyBase64() string { return selfupdate.EncodePublicKey(s.Pub) }

// Release is one release to publish.
type Release struct {
	Version    string
	Prerelease bool
	Refs       []string
	Commit     string
	// Binary is served for Platform (default selfupdate.Platform()).
	Binary   []byte
	Platform string
}

// BinaryPath is where a release's binary is served.
func BinaryPath(version string) string { return "/reachyd/bin/reachyd-" + version }

// Publish writes the binaries, the index (binary URLs relative to it) and
// its signature by the server's key, and returns the index's bytes.
func (s *Server) Publish(rels ...Release) []byte {
	ix := selfupdate.Index{Format: selfupdate.IndexFormat, Name: selfupdate.IndexName}
	s.mu.Lock()
	for _, r := range rels {
		p := r.Platform
		if p == "" {
			p = selfupdate.Platform()
		}
		sum := sha256.Sum256(r.Binary)
		path := BinaryPath(r.Version)
		s.files[path] = r.Binary
		ix.Releases = append(ix.Releases, selfupdate.Release{Version: r.Version, Prerelease: r.Prerelease, Refs: r.Refs, Commit: r.Commit,
			Binaries: map[string]selfupdate.Binary{p: {URL: strings.TrimPrefix(path, "/reachyd/"), Size: int64(len(r.Binary)), SHA256: hex.EncodeToString(sum[:])}}})
	}
	s.mu.Unlock()
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		panic(err)
	}
	s.SetIndex(b, s.Priv)
	return b
}

// SetIndex serves index bytes signed by priv.
func (s *Server) SetIndex(index []byte, priv ed25519.PrivateKey) {
	s.SetFile(IndexPath, index)
	s.SetFile(IndexPath+".sig", selfupdate.SignatureLine(priv, index))
}

// SetFile serves b at path (nil: 404).
func (s *Server) SetFile(path string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b == nil {
		delete(s.files, path)
		return
	}
	s.files[path] = b
}

// Intercept makes fn see every request first; it answers those it returns
// true for. nil removes it.
func (s *Server) Intercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.intercept = fn
	s.mu.Unlock()
}

// Hits is how many requests path received.
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// CutAfter makes the server announce a whole binary but send only its
// first n bytes, then close the connection (an interrupted download).
func (s *Server) CutAfter(path string, n int) {
	s.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != path {
			return false
		}
		s.mu.Lock()
		b := s.files[path]
		s.mu.Unlock()
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		_, _ = w.Write(b[:n])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		// Hijack and close: the client sees the body end early.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
		return true
	})
}

// FakeBinary is a stand-in for a reachyd binary: a shell script that
// answers --version as reachyd does ("reachyd <version> (...)") and exits
// 0; anything else exits 3.
func FakeBinary(version string) []byte {
	return []byte("#!/bin/sh\n# fake reachyd " + version + "\nif [ \"$1\" = --version ]; then\n  echo \"reachyd " + version +
		" (Reachy Mini daemon API test)\" >&2\n  exit 0\nfi\nexit 3\n")
}
