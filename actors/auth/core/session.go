package authcore

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"reachyd/messages"
)

// Session defaults.
const (
	// DefaultTokenTTL: a token's own lifetime. It matters only when its
	// session is unknown (after a daemon restart); it bounds how long a
	// token outlives the daemon's memory of its session.
	DefaultTokenTTL = 15 * time.Minute
	// DefaultSessionIdle: a session ends after a day without a verified
	// use. pymirokai never re-authenticates a live WebSocket, so this must
	// be generous.
	DefaultSessionIdle = 24 * time.Hour
	// DefaultMaxSessions bounds memory: when a new session would exceed
	// it, the least recently used session is dropped.
	DefaultMaxSessions = 1024
)

// KeySource is what Core needs from the key store (*KeyStore implements
// it).
type KeySource interface {
	// Lookup authenticates a plaintext key (see KeyStore.Lookup).
	Lookup(plaintext string) (Key, error)
	// ByID returns a key by exact id, revoked or not, or ErrUnknownKey.
	ByID(id string) (Key, error)
	// MarkUsed records a key exchange.
	MarkUsed(id string, now time.Time) error
}

// Config configures a Core; zero fields take the defaults.
type Config struct {
	TokenTTL    time.Duration
	SessionIdle time.Duration
	MaxSessions int
	// Limiter bounds failed attempts per credential, AddressLimiter (much
	// looser) per address; neither ever refuses a valid key or token.
	Limiter        LimiterConfig
	AddressLimiter LimiterConfig
	// Rand supplies session and client ids (crypto/rand when nil).
	Rand io.Reader
}

// Grant is the result of a key exchange. The gateway answers
// {"token": Token, "client_id": ClientID, "access_level": Level.String()}.
type Grant struct {
	Token     string
	ClientID  string
	Level     messages.AccessLevel
	SessionID string
	ExpiresAt time.Time
	// UsageErr is set when recording the key's last use failed (a file
	// error). Authentication still succeeded; the caller should log it.
	UsageErr error
}

// Principal is a verified caller.
type Principal struct {
	ClientID  string
	SessionID string
	KeyID     string // LocalSubject for trusted local callers
	Level     messages.AccessLevel
	Local     bool
}

// SessionInfo describes a live session (for status and admin pages). It
// holds no token material.
type SessionInfo struct {
	ID       string
	ClientID string
	KeyID    string
	Level    messages.AccessLevel
	Local    bool
	Created  time.Time
	LastSeen time.Time
	// IdleDeadline: the session ends if not used before then.
	IdleDeadline time.Time
}

type session struct {
	id, clientID, keyID string
	level               messages.AccessLevel
	local               bool
	created, lastSeen   time.Time
	// maxExp is the latest exp of a token issued to (or seen from) this
	// session: once the session ends, its tokens are refused until then.
	maxExp time.Time
}

func (s *session) principal() Principal {
	return Principal{ClientID: s.clientID, SessionID: s.id, KeyID: s.keyID, Level: s.level, Local: s.local}
}

func (s *session) identity() Identity {
	return Identity{Subject: s.keyID, SessionID: s.id, ClientID: s.clientID, Level: s.level}
}

// Core is the authentication state machine: keys (through KeySource), the
// signer, live sessions and the failure limiter. It performs no I/O of its
// own beyond what KeySource does, reads no clock and starts no goroutine.
// Not safe for concurrent use: one actor owns it.
//
// Session rules:
//   - Authenticate opens a session (random id "s-<32 hex>", client id
//     "c-<16 hex>", which can never read as a JSON scalar) and issues its
//     first token.
//   - A session is alive while it has been used (Verify or Rotate) within
//     SessionIdle and, unless local, its key exists and is not revoked.
//     Revocation is re-checked on every use.
//   - While alive, every token ever issued to it verifies, even past exp.
//   - A token whose session the Core does not know (daemon restarted, or
//     session evicted by MaxSessions) verifies only until its own exp
//     (+ Leeway) and if its key is still valid; the session is then
//     re-created from the claims.
//   - A token of an ended session (idle, key revoked or deleted, ended
//     explicitly) is refused. Explicitly ended sessions are remembered
//     until their last token's exp has passed, so the re-creation rule
//     cannot revive them; that memory does not survive a restart, which
//     is why revoking the key is the durable way to cut access.
type Core struct {
	cfg    Config
	keys   KeySource
	signer *Signer
	rand   io.Reader

	sessions map[string]*list.Element // of *session
	lru      *list.List               // front: most recently used
	ended    map[string]time.Time     // session id -> refuse its tokens until
	// justEnded: sessions ended since the last TakeEnded, for the shell to
	// close what they hold open.
	justEnded []string
	limiter   *Limiter // per credential
	addrs     *Limiter // per address
}

// NewCore assembles a Core.
func NewCore(keys KeySource, signer *Signer, cfg Config) (*Core, error) {
	if keys == nil || signer == nil {
		return nil, errors.New("authcore: NewCore needs a key source and a signer")
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.SessionIdle < cfg.TokenTTL {
		// Otherwise a token could outlive its idle-expired session and,
		// with the session forgotten, be accepted again on its own exp.
		return nil, fmt.Errorf("authcore: SessionIdle (%v) must be at least TokenTTL (%v)", cfg.SessionIdle, cfg.TokenTTL)
	}
	cfg.Limiter = cfg.Limiter.withDefaults()
	cfg.AddressLimiter = cfg.AddressLimiter.or(DefaultAddressBurst, DefaultAddressRefill)
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Core{
		cfg:      cfg,
		keys:     keys,
		signer:   signer,
		rand:     cfg.Rand,
		sessions: make(map[string]*list.Element),
		lru:      list.New(),
		ended:    make(map[string]time.Time),
		limiter:  NewLimiter(cfg.Limiter),
		addrs:    NewLimiter(cfg.AddressLimiter),
	}, nil
}

// Authenticate exchanges an API key for a session and its first token.
//
// trustedLocal is for callers on the daemon's unix socket whose peer
// credentials (SO_PEERCRED) show the daemon's own uid or root: pymirokai
// sends an empty X-API-Key there ("default local authentication"), and
// such a caller could read the key files anyway. They get ADMIN with sub
// "local" whatever key they send, and are not rate limited. Their tokens
// are bound to the host (see Verify). Everyone else needs a valid,
// unrevoked key.
//
// The key is always examined, and a valid one always passes: the limiter
// only decides how a wrong key is answered (see refuse). remote is the
// caller's address (the TCP peer, or UnixRemote(uid)). A revoked key
// counts against its own key id but not against the address: it is proof
// of a real key, not a guess, and pymirokai retries such a key every few
// seconds forever.
func (c *Core) Authenticate(apiKey, remote string, trustedLocal bool, now time.Time) (Grant, error) {
	if trustedLocal {
		return c.open(LocalSubject, messages.LevelAdmin, true, now)
	}
	k, err := c.keys.Lookup(apiKey)
	if err != nil {
		return Grant{}, c.refuse(keyCredential(apiKey), remote, !errors.Is(err, ErrRevokedKey), now,
			fmt.Errorf("authenticate: %w", err))
	}
	g, err := c.open(k.ID, k.Level, false, now)
	if err != nil {
		return Grant{}, err
	}
	g.UsageErr = c.keys.MarkUsed(k.ID, now)
	return g, nil
}

// refuse answers a failed attempt: err, recorded against the credential
// (and the address when byAddress), or a *RateLimitedError when either has
// no failure left, in which case nothing more is recorded (a client that
// keeps failing does not push its own wait further out). It is only ever
// called once the credential has been found wrong, so it can lock out no
// valid key or token, whoever else shares the address or the key id.
func (c *Core) refuse(cred, remote string, byAddress bool, now time.Time, err error) error {
	var wait time.Duration
	var rl *RateLimitedError
	if e := c.limiter.Check(cred, now); errors.As(e, &rl) {
		wait = rl.RetryAfter
	}
	rk := RemoteKey(remote)
	if byAddress {
		if e := c.addrs.Check(rk, now); errors.As(e, &rl) {
			wait = max(wait, rl.RetryAfter)
		}
	}
	if wait > 0 {
		return &RateLimitedError{RetryAfter: wait}
	}
	c.limiter.Fail(cred, now)
	if byAddress {
		c.addrs.Fail(rk, now)
	}
	return err
}

func (c *Core) open(keyID string, level messages.AccessLevel, local bool, now time.Time) (Grant, error) {
	var b [16 + 8]byte
	if _, err := io.ReadFull(c.rand, b[:]); err != nil {
		return Grant{}, fmt.Errorf("authcore: random: %w", err)
	}
	s := &session{
		id:       "s-" + hex.EncodeToString(b[:16]),
		clientID: "c-" + hex.EncodeToString(b[16:]),
		keyID:    keyID,
		level:    level,
		local:    local,
		created:  now,
		lastSeen: now,
	}
	tok, cl, err := c.signer.Issue(s.identity(), now, c.cfg.TokenTTL)
	if err != nil {
		return Grant{}, err
	}
	s.maxExp = cl.ExpiresAt.Time
	c.insert(s)
	return Grant{Token: tok, ClientID: s.clientID, Level: level, SessionID: s.id, ExpiresAt: cl.ExpiresAt.Time}, nil
}

// Verify authenticates a bearer token (REST Authorization header, or the
// WebSocket's ?token=) by the session rules on Core. Errors wrap the
// Signer's token errors, ErrTokenChannel, ErrSessionEnded (with
// ErrRevokedKey or ErrUnknownKey when the key is the reason),
// ErrTokenExpired (an expired token of a session that is not alive) or
// ErrRateLimited.
//
// The token is always verified first, and a valid token always passes.
// Only failures that do not prove possession of a token this daemon
// issued (malformed, bad signature, too large) count, against the token
// (by hash) and the address: the WebSocket client retries its stale token
// every few seconds forever, which must cost nothing.
//
// A token of a trusted local session (minted over the unix socket without
// a key) is refused on ch == ChannelNetwork: it is bound to this host, so
// a leaked one gives nothing to the network.
func (c *Core) Verify(token, remote string, ch messages.Channel, now time.Time) (Principal, error) {
	cl, err := c.signer.Verify(token, now)
	expired := errors.Is(err, ErrTokenExpired)
	if err != nil && !expired {
		if errors.Is(err, ErrTokenClaims) {
			return Principal{}, fmt.Errorf("verify: %w", err)
		}
		return Principal{}, c.refuse(tokenCredential(token), remote, true, now, fmt.Errorf("verify: %w", err))
	}
	if cl.Subject == LocalSubject && ch == messages.ChannelNetwork {
		return Principal{}, fmt.Errorf("verify: %w", ErrTokenChannel)
	}
	if until, ok := c.ended[cl.SessionID]; ok {
		if now.Before(until) {
			return Principal{}, fmt.Errorf("verify: %w", ErrSessionEnded)
		}
		delete(c.ended, cl.SessionID)
	}
	if e, ok := c.sessions[cl.SessionID]; ok {
		s := e.Value.(*session)
		if !s.matches(&cl) {
			return Principal{}, fmt.Errorf("verify: %w: does not match its session", ErrTokenClaims)
		}
		if err := c.alive(s, now); err != nil {
			c.end(s, now)
			return Principal{}, fmt.Errorf("verify: %w", err)
		}
		if exp := cl.ExpiresAt.Time; exp.After(s.maxExp) {
			s.maxExp = exp
		}
		c.touch(e, now)
		return s.principal(), nil
	}
	if expired {
		return Principal{}, fmt.Errorf("verify: %w (its session is not live)", err)
	}
	// Unknown session, token within its exp: re-create the session if its
	// key is still good (this is the path after a daemon restart).
	s := &session{
		id:       cl.SessionID,
		clientID: cl.ClientID,
		keyID:    cl.Subject,
		level:    cl.Level,
		local:    cl.Subject == LocalSubject,
		created:  cl.IssuedAt.Time,
		lastSeen: now,
		maxExp:   cl.ExpiresAt.Time,
	}
	if err := c.keyAlive(s); err != nil {
		return Principal{}, fmt.Errorf("verify: %w", err)
	}
	c.insert(s)
	return s.principal(), nil
}

func (s *session) matches(c *Claims) bool {
	return s.clientID == c.ClientID && s.keyID == c.Subject && s.level == c.Level
}

// alive returns nil, or an ErrSessionEnded error saying why not.
func (c *Core) alive(s *session, now time.Time) error {
	if now.Sub(s.lastSeen) >= c.cfg.SessionIdle {
		return fmt.Errorf("%w: idle for %v", ErrSessionEnded, c.cfg.SessionIdle)
	}
	return c.keyAlive(s)
}

func (c *Core) keyAlive(s *session) error {
	if s.local {
		return nil
	}
	k, err := c.keys.ByID(s.keyID)
	if err != nil {
		return fmt.Errorf("%w: key %s: %w", ErrSessionEnded, safeID(s.keyID), err)
	}
	if k.Revoked() {
		return fmt.Errorf("%w: key %s: %w", ErrSessionEnded, s.keyID, ErrRevokedKey)
	}
	if k.Level != s.level {
		return fmt.Errorf("%w: key %s changed level", ErrSessionEnded, s.keyID)
	}
	return nil
}

// Rotate issues a fresh token for p's session (REST answers carry it in
// the Authorization response header). The session must be alive; p's
// earlier tokens stay valid with it.
func (c *Core) Rotate(p Principal, now time.Time) (string, error) {
	e, ok := c.sessions[p.SessionID]
	if !ok {
		return "", fmt.Errorf("rotate: %w", ErrSessionEnded)
	}
	s := e.Value.(*session)
	if s.principal() != p {
		return "", fmt.Errorf("rotate: %w: principal does not match its session", ErrTokenClaims)
	}
	if err := c.alive(s, now); err != nil {
		c.end(s, now)
		return "", fmt.Errorf("rotate: %w", err)
	}
	tok, cl, err := c.signer.Issue(s.identity(), now, c.cfg.TokenTTL)
	if err != nil {
		return "", err
	}
	if exp := cl.ExpiresAt.Time; exp.After(s.maxExp) {
		s.maxExp = exp
	}
	c.touch(e, now)
	return tok, nil
}

// EndSession ends a session now (logout); its tokens are refused from
// then on. It reports whether the session was live.
func (c *Core) EndSession(id string) bool {
	e, ok := c.sessions[id]
	if !ok {
		return false
	}
	c.end(e.Value.(*session), time.Time{})
	return true
}

// EndSessionsOfKey ends every session opened with keyID (LocalSubject for
// the local ones), typically right after revoking it, and returns how
// many. Verify would end them at their next use anyway.
func (c *Core) EndSessionsOfKey(keyID string) int {
	var victims []*session
	for e := c.lru.Front(); e != nil; e = e.Next() {
		if s := e.Value.(*session); s.keyID == keyID {
			victims = append(victims, s)
		}
	}
	for _, s := range victims {
		c.end(s, time.Time{})
	}
	return len(victims)
}

// Sweep ends idle sessions and sessions whose key is gone or revoked,
// forgets expired tombstones and refilled limiter entries, and returns
// the number of sessions ended. Call it periodically (a minute is plenty)
// and after KeyStore.ReloadIfChanged reports a change.
func (c *Core) Sweep(now time.Time) int {
	var victims []*session
	for e := c.lru.Front(); e != nil; e = e.Next() {
		if s := e.Value.(*session); c.alive(s, now) != nil {
			victims = append(victims, s)
		}
	}
	for _, s := range victims {
		c.end(s, now)
	}
	for id, until := range c.ended {
		if !now.Before(until) {
			delete(c.ended, id)
		}
	}
	c.limiter.Sweep(now)
	c.addrs.Sweep(now)
	return len(victims)
}

// TakeEnded returns the ids of the sessions ended since the last call
// (by Verify, Rotate, EndSession, EndSessionsOfKey or Sweep; not those
// evicted for room, whose tokens may re-create them) and forgets them.
// The shell closes what those sessions hold open (topic WebSockets).
func (c *Core) TakeEnded() []string {
	out := c.justEnded
	c.justEnded = nil
	return out
}

// Sessions lists the live sessions, most recently used first.
func (c *Core) Sessions() []SessionInfo {
	out := make([]SessionInfo, 0, len(c.sessions))
	for e := c.lru.Front(); e != nil; e = e.Next() {
		s := e.Value.(*session)
		out = append(out, SessionInfo{
			ID: s.id, ClientID: s.clientID, KeyID: s.keyID, Level: s.level, Local: s.local,
			Created: s.created, LastSeen: s.lastSeen, IdleDeadline: s.lastSeen.Add(c.cfg.SessionIdle),
		})
	}
	return out
}

// Limiter exposes the per-credential failure limiter (for metrics and
// tests).
func (c *Core) Limiter() *Limiter { return c.limiter }

// AddressLimiter exposes the per-address failure limiter.
func (c *Core) AddressLimiter() *Limiter { return c.addrs }

func (c *Core) insert(s *session) {
	for len(c.sessions) >= c.cfg.MaxSessions {
		// Eviction is about memory, not security: no tombstone, so an
		// evicted session's unexpired tokens can re-create it.
		c.drop(c.lru.Back())
	}
	c.sessions[s.id] = c.lru.PushFront(s)
}

func (c *Core) touch(e *list.Element, now time.Time) {
	s := e.Value.(*session)
	if now.After(s.lastSeen) {
		s.lastSeen = now
	}
	c.lru.MoveToFront(e)
}

func (c *Core) drop(e *list.Element) {
	delete(c.sessions, e.Value.(*session).id)
	c.lru.Remove(e)
}

// end removes a session and, while any of its tokens could still pass on
// its own exp, remembers it as ended. A zero now (callers without a
// clock) always leaves a tombstone; Sweep and Verify drop it once past.
func (c *Core) end(s *session, now time.Time) {
	if e, ok := c.sessions[s.id]; ok {
		c.drop(e)
	}
	if len(c.justEnded) < maxTombstones(c.cfg.MaxSessions) {
		c.justEnded = append(c.justEnded, s.id)
	}
	until := s.maxExp.Add(Leeway)
	if !now.IsZero() && !now.Before(until) {
		return
	}
	if len(c.ended) >= maxTombstones(c.cfg.MaxSessions) {
		c.pruneTombstones(now)
	}
	c.ended[s.id] = until
}

// maxTombstones bounds the ended-session memory. Tombstones last at most
// TokenTTL + Leeway, and only sessions ended explicitly or by revocation
// need one, so 4 x MaxSessions is far above what a real robot sees.
func maxTombstones(maxSessions int) int { return 4 * maxSessions }

// pruneTombstones drops expired tombstones and, if still full, the one
// closest to expiry.
func (c *Core) pruneTombstones(now time.Time) {
	var soonest string
	var soonestAt time.Time
	for id, until := range c.ended {
		if !now.IsZero() && !now.Before(until) {
			delete(c.ended, id)
			continue
		}
		if soonest == "" || until.Before(soonestAt) {
			soonest, soonestAt = id, until
		}
	}
	if len(c.ended) >= maxTombstones(c.cfg.MaxSessions) && soonest != "" {
		delete(c.ended, soonest)
	}
}

func validSessionID(s string) bool {
	return len(s) == 2+32 && strings.HasPrefix(s, "s-") && isLowerHex(s[2:])
}

func validClientID(s string) bool {
	return len(s) == 2+16 && strings.HasPrefix(s, "c-") && isLowerHex(s[2:])
}
