package hfauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// S256Challenge is PKCE's code_challenge for a verifier (RFC 7636 4.2):
// BASE64URL(SHA256(ASCII(verifier))) without padding.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// randomToken is n random bytes, base64url without padding (Python's
// secrets.token_urlsafe(n)). With n = 32 it is also a valid PKCE verifier
// (43 characters of the unreserved set).
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Table is a bounded set of sign-in sessions keyed by id, each with an
// expiry. It is a plain value with no clock and no lock: every call takes
// now, and the Service guards it.
type Table[S any] struct {
	// Max bounds the sessions kept; putting one more evicts the expired
	// ones, then the oldest.
	Max int

	m map[string]*entry[S]
}

type entry[S any] struct {
	created, expires time.Time
	v                *S
}

// Put adds a session that expires at expires.
func (t *Table[S]) Put(id string, v *S, now, expires time.Time) {
	if t.m == nil {
		t.m = map[string]*entry[S]{}
	}
	t.Sweep(now)
	for t.Max > 0 && len(t.m) >= t.Max {
		var oldest string
		var at time.Time
		for k, e := range t.m {
			if oldest == "" || e.created.Before(at) {
				oldest, at = k, e.created
			}
		}
		delete(t.m, oldest)
	}
	t.m[id] = &entry[S]{created: now, expires: expires, v: v}
}

// Get returns a live session (nil when unknown or expired).
func (t *Table[S]) Get(id string, now time.Time) *S {
	e, ok := t.m[id]
	if !ok {
		return nil
	}
	if !now.Before(e.expires) {
		delete(t.m, id)
		return nil
	}
	return e.v
}

// SetExpiry changes a session's expiry (an authorized session is kept a
// short while for its poller to read).
func (t *Table[S]) SetExpiry(id string, expires time.Time) {
	if e, ok := t.m[id]; ok {
		e.expires = expires
	}
}

// Delete removes a session and reports whether it was there (and live).
func (t *Table[S]) Delete(id string, now time.Time) bool {
	live := t.Get(id, now) != nil
	delete(t.m, id)
	return live
}

// Sweep drops the expired sessions.
func (t *Table[S]) Sweep(now time.Time) {
	for k, e := range t.m {
		if !now.Before(e.expires) {
			delete(t.m, k)
		}
	}
}

// Len is the number of sessions held (expired ones included until swept).
func (t *Table[S]) Len() int { return len(t.m) }
