package authcore

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Limiter defaults.
//
// Failed attempts are counted per credential (the key id of a well-formed
// API key, or a hash of whatever else was presented) and, far more
// loosely, per address; a valid key or token is always examined first and
// always passes, so no one's mistakes or guesses lock anyone else out.
//
// Per credential: 10 failures in a row, then one every 6 s (10 per minute
// sustained). That is where a client stuck retrying a wrong key (pymirokai
// retries every 5 s, forever) ends up: answered 429 with Retry-After, at
// little cost in CPU and log volume.
//
// Per address: 100 failures in a row, then one a second, whatever the
// credentials: a guessing loop that changes its credential at every try
// is slowed down the same way, while the clients behind the same address
// (everything on 127.0.0.1, a school's NAT) keep working with their own
// valid keys and tokens. Against 256-bit keys and HMAC-SHA-256 tokens no
// rate is a brute force; the limits are about cost, not secrecy. 4096
// tracked entries per limiter take well under 1 MB.
const (
	DefaultLimiterBurst      = 10
	DefaultLimiterRefill     = 6 * time.Second
	DefaultLimiterMaxTracked = 4096
	DefaultAddressBurst      = 100
	DefaultAddressRefill     = time.Second
	// maxRemoteKeyLen bounds the size of a limiter key, so that the
	// memory bound holds whatever the caller passes as remote.
	maxRemoteKeyLen = 64
)

// LimiterConfig sizes a Limiter; zero fields take the defaults.
type LimiterConfig struct {
	Burst      int           // failures allowed back to back
	Refill     time.Duration // one more failure allowed per Refill
	MaxTracked int           // keys remembered at most
}

func (c LimiterConfig) withDefaults() LimiterConfig {
	return c.or(DefaultLimiterBurst, DefaultLimiterRefill)
}

func (c LimiterConfig) or(burst int, refill time.Duration) LimiterConfig {
	if c.Burst <= 0 {
		c.Burst = burst
	}
	if c.Refill <= 0 {
		c.Refill = refill
	}
	if c.MaxTracked <= 0 {
		c.MaxTracked = DefaultLimiterMaxTracked
	}
	return c
}

// Limiter is a token bucket of failed authentication attempts per key (a
// credential or an address, see RemoteKey): Burst tokens, one back every
// Refill. Each failure takes a token; with none left, Check reports
// ErrRateLimited. Successes take nothing.
//
// The bucket is kept as GCRA's theoretical arrival time (tat): the bucket
// is full when tat <= now and holds Burst - (tat-now)/Refill tokens
// otherwise. A full bucket is the same as no entry, so only keys with
// recent failures use memory, and at most MaxTracked of them: when a new
// key must be tracked at the limit, the entries already full are dropped
// first, then the one whose last failure is oldest.
//
// Not safe for concurrent use.
type Limiter struct {
	cfg LimiterConfig
	m   map[string]*list.Element // of *bucket
	lru *list.List               // front: least recent failure
}

type bucket struct {
	key string
	tat time.Time
}

// NewLimiter returns an empty limiter.
func NewLimiter(cfg LimiterConfig) *Limiter {
	return &Limiter{cfg: cfg.withDefaults(), m: make(map[string]*list.Element), lru: list.New()}
}

// Check returns a *RateLimitedError (wrapping ErrRateLimited) if key has
// no failure left at now, nil otherwise. It changes nothing.
func (l *Limiter) Check(key string, now time.Time) error {
	e, ok := l.m[key]
	if !ok {
		return nil
	}
	b := e.Value.(*bucket)
	// Allowed while at least one token is left: tat - now <= (Burst-1)*Refill.
	over := b.tat.Sub(now) - time.Duration(l.cfg.Burst-1)*l.cfg.Refill
	if over > 0 {
		return &RateLimitedError{RetryAfter: over}
	}
	return nil
}

// Fail records one failed attempt by key at now.
func (l *Limiter) Fail(key string, now time.Time) {
	e, ok := l.m[key]
	if !ok {
		l.makeRoom(now)
		e = l.lru.PushBack(&bucket{key: key, tat: now})
		l.m[key] = e
	} else {
		l.lru.MoveToBack(e)
	}
	b := e.Value.(*bucket)
	if b.tat.Before(now) {
		b.tat = now
	}
	b.tat = b.tat.Add(l.cfg.Refill)
}

func (l *Limiter) makeRoom(now time.Time) {
	if len(l.m) < l.cfg.MaxTracked {
		return
	}
	l.Sweep(now)
	for len(l.m) >= l.cfg.MaxTracked {
		l.remove(l.lru.Front())
	}
}

func (l *Limiter) remove(e *list.Element) {
	delete(l.m, e.Value.(*bucket).key)
	l.lru.Remove(e)
}

// Sweep forgets keys whose bucket has refilled, and returns how many.
func (l *Limiter) Sweep(now time.Time) int {
	n := 0
	for e := l.lru.Front(); e != nil; {
		next := e.Next()
		if !e.Value.(*bucket).tat.After(now) {
			l.remove(e)
			n++
		}
		e = next
	}
	return n
}

// Len is the number of tracked keys.
func (l *Limiter) Len() int { return len(l.m) }

// RemoteKey turns a caller's address into the limiter's key:
//   - "host:port" and bare IPs: the IP without port or zone; IPv4-mapped
//     IPv6 as IPv4; other IPv6 addresses as their /64, because one host
//     commonly owns a whole /64 and could otherwise change address per
//     attempt;
//   - "unix:uid=N" (UnixRemote) and anything else: as is, cut to 64 bytes.
func RemoteKey(remote string) string {
	if !strings.HasPrefix(remote, "unix:") {
		host := remote
		if h, _, err := net.SplitHostPort(remote); err == nil {
			host = h
		}
		if a, err := netip.ParseAddr(host); err == nil {
			a = a.WithZone("").Unmap()
			if a.Is4() {
				return a.String()
			}
			p, _ := a.Prefix(64)
			return p.String()
		}
	}
	if len(remote) > maxRemoteKeyLen {
		return remote[:maxRemoteKeyLen]
	}
	return remote
}

// UnixRemote is the remote string for a unix-socket peer with this uid
// (from SO_PEERCRED): unix callers are rate limited per user.
func UnixRemote(uid int) string { return "unix:uid=" + strconv.Itoa(uid) }

// keyCredential names a presented API key for the limiter: its key id when
// it has the key format (so a client retrying a wrong or revoked key
// counts against that key id alone, whatever the secret), a hash of it
// otherwise.
func keyCredential(apiKey string) string {
	if id, err := ParseKey(apiKey); err == nil {
		return "key:" + id
	}
	return hashedCredential("cred:", apiKey)
}

// tokenCredential names a presented token that failed verification.
func tokenCredential(token string) string { return hashedCredential("tok:", token) }

// hashedCredential: the first 128 bits of the SHA-256 of s, so that the
// limiter never holds credential material and its keys have a fixed size.
func hashedCredential(prefix, s string) string {
	sum := sha256.Sum256([]byte(s))
	return prefix + hex.EncodeToString(sum[:16])
}
