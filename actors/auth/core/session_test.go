package authcore

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"reachyd/messages"
)

const tcp = "192.0.2.1:5000"

func TestAuthenticate(t *testing.T) {
	e := newEnv(t, Config{})
	good, gk := e.key(t, "good", messages.LevelUser)
	revoked, rk := e.key(t, "revoked", messages.LevelAdmin)
	if err := e.store.Revoke(rk.ID, t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		key       string
		local     bool
		want      error
		wantLevel messages.AccessLevel
		wantLocal bool
	}{
		{"good key", good, false, nil, messages.LevelUser, false},
		{"wrong secret", good[:20] + flipChar(good[20]) + good[21:], false, ErrBadKey, 0, false},
		{"unknown id", "rmk_00000000" + good[12:], false, ErrBadKey, 0, false},
		{"malformed", "hello", false, ErrBadKey, 0, false},
		{"oversized", strings.Repeat("k", 1<<20), false, ErrBadKey, 0, false},
		{"revoked", revoked, false, ErrRevokedKey, 0, false},
		{"empty key over TCP", "", false, ErrBadKey, 0, false},
		{"empty key on trusted socket", "", true, nil, messages.LevelAdmin, true},
		{"garbage key on trusted socket", "whatever", true, nil, messages.LevelAdmin, true},
		{"user key on trusted socket", good, true, nil, messages.LevelAdmin, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A distinct address per case keeps the limiter out of it.
			remote := fmt.Sprintf("198.51.100.%d:80", i+1)
			g, err := e.core.Authenticate(tt.key, remote, tt.local, t0)
			wantErr(t, err, tt.want)
			if err != nil {
				if g.Token != "" {
					t.Fatal("token issued on failure")
				}
				return
			}
			if g.Level != tt.wantLevel || !validClientID(g.ClientID) || !validSessionID(g.SessionID) ||
				!g.ExpiresAt.Equal(t0.Add(DefaultTokenTTL)) || g.UsageErr != nil {
				t.Fatalf("grant = %+v", g)
			}
			ch := messages.ChannelNetwork
			if tt.local {
				ch = messages.ChannelUnix
			}
			p, err := e.core.Verify(g.Token, remote, ch, t0)
			if err != nil {
				t.Fatal(err)
			}
			want := Principal{ClientID: g.ClientID, SessionID: g.SessionID, KeyID: gk.ID, Level: tt.wantLevel, Local: tt.wantLocal}
			if tt.wantLocal {
				want.KeyID = LocalSubject
			}
			if p != want {
				t.Fatalf("principal = %+v, want %+v", p, want)
			}
		})
	}
	// The key exchange is recorded as the key's last use.
	k, _ := e.store.ByID(gk.ID)
	if k.LastUsed == nil || !k.LastUsed.Equal(t0) {
		t.Fatalf("LastUsed = %v", k.LastUsed)
	}
}

func flipChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// The client id is echoed back by pymirokai, whose recursive JSON parse
// would turn a scalar-looking id ("12345", "true") into a number or bool.
func TestClientIDNeverAJSONScalar(t *testing.T) {
	e := newEnv(t, Config{})
	for i := 0; i < 200; i++ {
		g, err := e.core.Authenticate("", "unix:uid=0", true, t0)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if json.Unmarshal([]byte(g.ClientID), &v) == nil {
			t.Fatalf("client id %q parses as JSON", g.ClientID)
		}
		if !strings.HasPrefix(g.ClientID, "c-") || len(g.ClientID) != 18 {
			t.Fatalf("client id %q", g.ClientID)
		}
	}
}

func TestSessionBoundValidity(t *testing.T) {
	e := newEnv(t, Config{})
	key, _ := e.key(t, "k", messages.LevelUser)
	g := e.grant(t, key, t0)
	ttl := DefaultTokenTTL

	// Live session: the token is accepted long after its exp, as the
	// WebSocket reconnects with it.
	for _, at := range []time.Duration{ttl + time.Minute, 3 * time.Hour, 20 * time.Hour, 40 * time.Hour} {
		if _, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, t0.Add(at)); err != nil {
			t.Fatalf("expired token of a live session refused at +%v: %v", at, err)
		}
	}
}

func TestExpiredTokenOfEndedSessionRefused(t *testing.T) {
	e := newEnv(t, Config{})
	key, k := e.key(t, "k", messages.LevelUser)
	late := t0.Add(DefaultTokenTTL + time.Hour)

	t.Run("idle expiry", func(t *testing.T) {
		g := e.grant(t, key, t0)
		_, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, t0.Add(DefaultSessionIdle))
		wantErr(t, err, ErrSessionEnded)
		_, err = e.core.Verify(g.Token, tcp, messages.ChannelNetwork, t0.Add(DefaultSessionIdle+time.Hour))
		wantErr(t, err, ErrTokenExpired)
	})
	t.Run("explicit end", func(t *testing.T) {
		g := e.grant(t, key, t0)
		if !e.core.EndSession(g.SessionID) {
			t.Fatal("EndSession: not live")
		}
		_, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, late)
		wantErr(t, err, ErrTokenExpired)
	})
	t.Run("explicit end, token not expired yet", func(t *testing.T) {
		g := e.grant(t, key, t0)
		e.core.EndSession(g.SessionID)
		// Without the tombstone this token would re-create the session.
		_, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, t0.Add(time.Minute))
		wantErr(t, err, ErrSessionEnded)
	})
	t.Run("unknown session (restart)", func(t *testing.T) {
		g := e.grant(t, key, t0)
		c2 := e.restart(t, Config{})
		_, err := c2.Verify(g.Token, tcp, messages.ChannelNetwork, late)
		wantErr(t, err, ErrTokenExpired)
	})
	t.Run("key revoked", func(t *testing.T) {
		g := e.grant(t, key, t0)
		if err := e.store.Revoke(k.ID, t0); err != nil {
			t.Fatal(err)
		}
		_, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, late)
		wantErr(t, err, ErrSessionEnded)
		wantErr(t, err, ErrRevokedKey)
	})
}

func TestRestartRecreatesSession(t *testing.T) {
	e := newEnv(t, Config{})
	key, k := e.key(t, "k", messages.LevelEnchanter)
	g := e.grant(t, key, t0)
	c2 := e.restart(t, Config{})
	p, err := c2.Verify(g.Token, tcp, messages.ChannelNetwork, t0.Add(10*time.Minute))
	if err != nil {
		t.Fatalf("unexpired token after restart: %v", err)
	}
	if p.SessionID != g.SessionID || p.ClientID != g.ClientID || p.KeyID != k.ID || p.Level != messages.LevelEnchanter {
		t.Fatalf("principal = %+v", p)
	}
	// The re-created session is live: the same token now passes past exp.
	if _, err := c2.Verify(g.Token, tcp, messages.ChannelNetwork, t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("re-created session not live: %v", err)
	}
	if n := len(c2.Sessions()); n != 1 {
		t.Fatalf("%d sessions", n)
	}
	// A local session survives a restart the same way.
	lg, _ := e.core.Authenticate("", "unix:uid=0", true, t0)
	c3 := e.restart(t, Config{})
	if p, err := c3.Verify(lg.Token, UnixRemote(0), messages.ChannelUnix, t0.Add(time.Minute)); err != nil || !p.Local || p.Level != messages.LevelAdmin {
		t.Fatalf("local token after restart: %+v, %v", p, err)
	}
	// ...but not once the key is revoked.
	g2 := e.grant(t, key, t0)
	if err := e.store.Revoke(k.ID, t0); err != nil {
		t.Fatal(err)
	}
	c4 := e.restart(t, Config{})
	_, err = c4.Verify(g2.Token, tcp, messages.ChannelNetwork, t0.Add(time.Minute))
	wantErr(t, err, ErrRevokedKey)
}

func TestRotation(t *testing.T) {
	e := newEnv(t, Config{})
	key, k := e.key(t, "k", messages.LevelAdmin)
	g := e.grant(t, key, t0)
	now := t0
	tokens := []string{g.Token}
	p, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, now)
	if err != nil {
		t.Fatal(err)
	}
	// Ten REST commands, ten minutes apart, each rotating the token.
	for i := 0; i < 10; i++ {
		now = now.Add(10 * time.Minute)
		last := tokens[len(tokens)-1]
		p, err = e.core.Verify(last, tcp, messages.ChannelNetwork, now)
		if err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		nt, err := e.core.Rotate(p, now)
		if err != nil {
			t.Fatal(err)
		}
		if nt == last {
			t.Fatal("Rotate returned the same token")
		}
		tokens = append(tokens, nt)
	}
	// Every token issued to the live session still verifies, the first
	// one (the WebSocket's) included, to the same principal.
	for i, tok := range tokens {
		got, err := e.core.Verify(tok, tcp, messages.ChannelNetwork, now)
		if err != nil {
			t.Fatalf("token %d refused: %v", i, err)
		}
		if got != p {
			t.Fatalf("token %d: principal %+v, want %+v", i, got, p)
		}
	}
	// Revoking the key ends the session: all its tokens are refused, also
	// the newest, unexpired one.
	if err := e.store.Revoke(k.ID, now); err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens {
		_, err := e.core.Verify(tok, tcp, messages.ChannelNetwork, now)
		wantErr(t, err, ErrSessionEnded)
		_ = i
	}
	_, err = e.core.Rotate(p, now)
	wantErr(t, err, ErrSessionEnded)
	if n := len(e.core.Sessions()); n != 0 {
		t.Fatalf("%d sessions after revocation", n)
	}
}

func TestRotateChecks(t *testing.T) {
	e := newEnv(t, Config{})
	key, _ := e.key(t, "k", messages.LevelUser)
	g := e.grant(t, key, t0)
	p, _ := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, t0)
	forged := p
	forged.Level = messages.LevelEnchanter
	_, err := e.core.Rotate(forged, t0)
	wantErr(t, err, ErrTokenClaims)
	_, err = e.core.Rotate(p, t0.Add(DefaultSessionIdle))
	wantErr(t, err, ErrSessionEnded)
}

func TestSessionIdleExpiry(t *testing.T) {
	cfg := Config{TokenTTL: time.Minute, SessionIdle: time.Hour}
	e := newEnv(t, cfg)
	key, _ := e.key(t, "k", messages.LevelUser)
	g := e.grant(t, key, t0)
	// Used every 59 minutes: stays alive for a day.
	now := t0
	for i := 0; i < 24; i++ {
		now = now.Add(59 * time.Minute)
		if _, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, now); err != nil {
			t.Fatalf("use %d: %v", i, err)
		}
	}
	info := e.core.Sessions()
	if len(info) != 1 || !info[0].LastSeen.Equal(now) || !info[0].IdleDeadline.Equal(now.Add(time.Hour)) {
		t.Fatalf("sessions = %+v", info)
	}
	// Sweep just before the deadline keeps it, at the deadline ends it.
	if n := e.core.Sweep(now.Add(time.Hour - time.Second)); n != 0 {
		t.Fatalf("Sweep ended %d", n)
	}
	if n := e.core.Sweep(now.Add(time.Hour)); n != 1 {
		t.Fatalf("Sweep ended %d, want 1", n)
	}
	_, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, now.Add(time.Hour))
	wantErr(t, err, ErrTokenExpired)
	if len(e.core.Sessions()) != 0 {
		t.Fatal("session still listed")
	}
}

func TestEndSessionsOfKey(t *testing.T) {
	e := newEnv(t, Config{})
	a, ka := e.key(t, "a", messages.LevelUser)
	b, _ := e.key(t, "b", messages.LevelUser)
	ga1, ga2, gb := e.grant(t, a, t0), e.grant(t, a, t0), e.grant(t, b, t0)
	if n := e.core.EndSessionsOfKey(ka.ID); n != 2 {
		t.Fatalf("ended %d, want 2", n)
	}
	for _, tok := range []string{ga1.Token, ga2.Token} {
		_, err := e.core.Verify(tok, tcp, messages.ChannelNetwork, t0)
		wantErr(t, err, ErrSessionEnded)
	}
	if _, err := e.core.Verify(gb.Token, tcp, messages.ChannelNetwork, t0); err != nil {
		t.Fatal(err)
	}
	// The key itself still works for a new session.
	e.grant(t, a, t0)
	// Tombstones go once every token of the ended session has expired.
	e.core.Sweep(t0.Add(DefaultTokenTTL + Leeway))
	if len(e.core.ended) != 0 {
		t.Fatalf("%d tombstones left", len(e.core.ended))
	}
}

func TestSweepEndsRevokedSessions(t *testing.T) {
	e := newEnv(t, Config{})
	key, k := e.key(t, "k", messages.LevelUser)
	e.grant(t, key, t0)
	e.core.Authenticate("", "unix:uid=0", true, t0)
	e.store.Revoke(k.ID, t0)
	if n := e.core.Sweep(t0); n != 1 {
		t.Fatalf("Sweep ended %d, want 1", n)
	}
	if s := e.core.Sessions(); len(s) != 1 || !s[0].Local {
		t.Fatalf("sessions = %+v", s)
	}
}

func TestMaxSessions(t *testing.T) {
	e := newEnv(t, Config{MaxSessions: 3})
	key, _ := e.key(t, "k", messages.LevelUser)
	var gs []Grant
	for i := 0; i < 5; i++ {
		gs = append(gs, e.grant(t, key, t0.Add(time.Duration(i)*time.Second)))
	}
	// Touch the second-oldest survivor so the LRU order differs from
	// creation order.
	if _, err := e.core.Verify(gs[2].Token, tcp, messages.ChannelNetwork, t0.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	e.grant(t, key, t0.Add(11*time.Second))
	s := e.core.Sessions()
	if len(s) != 3 {
		t.Fatalf("%d sessions, want 3", len(s))
	}
	live := map[string]bool{}
	for _, si := range s {
		live[si.ID] = true
	}
	if !live[gs[2].SessionID] || !live[gs[4].SessionID] || live[gs[3].SessionID] {
		t.Fatalf("wrong session evicted: %v", live)
	}
	// An evicted session's unexpired token brings it back (eviction is
	// about memory); an expired one does not.
	if _, err := e.core.Verify(gs[0].Token, tcp, messages.ChannelNetwork, t0.Add(time.Minute)); err != nil {
		t.Fatalf("evicted session's fresh token: %v", err)
	}
	_, err := e.core.Verify(gs[1].Token, tcp, messages.ChannelNetwork, t0.Add(time.Hour))
	wantErr(t, err, ErrTokenExpired)
}

func TestNewCoreConfig(t *testing.T) {
	e := newEnv(t, Config{})
	if _, err := NewCore(e.store, e.signer, Config{TokenTTL: time.Hour, SessionIdle: time.Minute}); err == nil {
		t.Fatal("SessionIdle < TokenTTL accepted")
	}
	if _, err := NewCore(nil, e.signer, Config{}); err == nil {
		t.Fatal("nil keys accepted")
	}
	c, err := NewCore(e.store, e.signer, Config{})
	if err != nil || c.cfg.TokenTTL != 15*time.Minute || c.cfg.SessionIdle != 24*time.Hour || c.cfg.MaxSessions != 1024 ||
		c.cfg.Limiter != (LimiterConfig{Burst: 10, Refill: 6 * time.Second, MaxTracked: 4096}) {
		t.Fatalf("defaults = %+v, %v", c.cfg, err)
	}
}

// A token minted over the unix socket without a key is bound to this
// host: refused from the network, before and after a restart, without
// counting as a failed attempt.
func TestLocalTokenBoundToHost(t *testing.T) {
	e := newEnv(t, Config{Limiter: LimiterConfig{Burst: 1}, AddressLimiter: LimiterConfig{Burst: 1}})
	lg, err := e.core.Authenticate("", UnixRemote(0), true, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []messages.Channel{messages.ChannelUnix, messages.ChannelHost} {
		if p, err := e.core.Verify(lg.Token, "127.0.0.1:1", ch, t0); err != nil || !p.Local {
			t.Fatalf("channel %d: %+v %v", ch, p, err)
		}
	}
	for i := 0; i < 3; i++ {
		_, err := e.core.Verify(lg.Token, tcp, messages.ChannelNetwork, t0)
		wantErr(t, err, ErrTokenChannel)
	}
	c2 := e.restart(t, Config{})
	_, err = c2.Verify(lg.Token, tcp, messages.ChannelNetwork, t0.Add(time.Minute))
	wantErr(t, err, ErrTokenChannel)
	if _, err := c2.Verify(lg.Token, UnixRemote(0), messages.ChannelUnix, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Key sessions are not bound.
	key, _ := e.key(t, "k", messages.LevelUser)
	g := e.grant(t, key, t0)
	if _, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, t0); err != nil {
		t.Fatal(err)
	}
}

// Sessions ended by a revocation (seen at a Sweep), explicitly or at use
// are handed to the shell once, so it can close their WebSockets.
func TestTakeEnded(t *testing.T) {
	e := newEnv(t, Config{})
	key, k := e.key(t, "k", messages.LevelUser)
	other, _ := e.key(t, "other", messages.LevelUser)
	a, b := e.grant(t, key, t0), e.grant(t, key, t0)
	c := e.grant(t, other, t0)
	if got := e.core.TakeEnded(); len(got) != 0 {
		t.Fatalf("ended before anything ended: %v", got)
	}
	e.store.Revoke(k.ID, t0)
	e.core.Sweep(t0.Add(time.Second))
	got := e.core.TakeEnded()
	slices.Sort(got)
	want := []string{a.SessionID, b.SessionID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("ended = %v, want %v", got, want)
	}
	if got := e.core.TakeEnded(); len(got) != 0 {
		t.Fatalf("ended twice: %v", got)
	}
	e.core.EndSession(c.SessionID)
	if got := e.core.TakeEnded(); !slices.Equal(got, []string{c.SessionID}) {
		t.Fatalf("ended = %v", got)
	}
}
