package authcore

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"reachyd/messages"
)

func retryAfter(t *testing.T, err error) time.Duration {
	t.Helper()
	var rl *RateLimitedError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("error = %v, want a RateLimitedError", err)
	}
	return rl.RetryAfter
}

func TestLimiterBucket(t *testing.T) {
	l := NewLimiter(LimiterConfig{})
	const k = "203.0.113.9"
	// Burst: ten failures are examined, the eleventh attempt is not.
	for i := 0; i < 10; i++ {
		if err := l.Check(k, t0); err != nil {
			t.Fatalf("attempt %d limited: %v", i+1, err)
		}
		l.Fail(k, t0)
	}
	if got := retryAfter(t, l.Check(k, t0)); got != 6*time.Second {
		t.Fatalf("RetryAfter = %v, want 6s", got)
	}
	if got := retryAfter(t, l.Check(k, t0.Add(2*time.Second))); got != 4*time.Second {
		t.Fatalf("RetryAfter after 2s = %v, want 4s", got)
	}
	// Refill: one attempt per 6 s.
	now := t0.Add(6 * time.Second)
	if err := l.Check(k, now); err != nil {
		t.Fatalf("after 6s: %v", err)
	}
	l.Fail(k, now)
	if got := retryAfter(t, l.Check(k, now)); got != 6*time.Second {
		t.Fatalf("RetryAfter = %v", got)
	}
	// Other addresses are not affected.
	if err := l.Check("203.0.113.10", now); err != nil {
		t.Fatal(err)
	}
	// Full again after 10 x 6 s: the entry is forgotten by Sweep.
	full := now.Add(60 * time.Second)
	if n := l.Sweep(full.Add(-time.Nanosecond)); n != 0 {
		t.Fatalf("swept a draining bucket")
	}
	if n := l.Sweep(full); n != 1 || l.Len() != 0 {
		t.Fatalf("Sweep = %d, Len = %d", n, l.Len())
	}
}

func TestLimiterMemoryBound(t *testing.T) {
	l := NewLimiter(LimiterConfig{MaxTracked: 4})
	for i := 0; i < 100; i++ {
		l.Fail(fmt.Sprintf("10.0.0.%d", i), t0.Add(time.Duration(i)*time.Millisecond))
		if l.Len() > 4 {
			t.Fatalf("%d entries tracked, bound is 4", l.Len())
		}
	}
	// The oldest idle entries went; the newest are still tracked.
	for i := 96; i < 100; i++ {
		if _, ok := l.m[fmt.Sprintf("10.0.0.%d", i)]; !ok {
			t.Fatalf("recent address %d evicted", i)
		}
	}
	// An address that keeps failing stays tracked while others churn:
	// eviction takes the least recent failure.
	l2 := NewLimiter(LimiterConfig{MaxTracked: 3})
	now := t0
	for i := 0; i < 20; i++ {
		now = now.Add(time.Millisecond)
		l2.Fail("attacker", now)
		l2.Fail(fmt.Sprintf("other-%d", i), now)
	}
	if _, ok := l2.m["attacker"]; !ok {
		t.Fatal("active address evicted")
	}
	// Very long remote strings cannot blow the bound up.
	if k := RemoteKey(strings.Repeat("x", 10_000)); len(k) != maxRemoteKeyLen {
		t.Fatalf("RemoteKey length %d", len(k))
	}
}

func TestRemoteKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1:5000", "192.0.2.1"},
		{"192.0.2.1", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"unix:uid=1000", "unix:uid=1000"},
		{UnixRemote(0), "unix:uid=0"},
		{"", ""},
		{"@", "@"},
	}
	for _, tt := range tests {
		if got := RemoteKey(tt.in); got != tt.want {
			t.Errorf("RemoteKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A client that keeps sending a wrong key is answered 429 once its
// credential's budget is spent, but valid keys and tokens from the same
// address (everything on 127.0.0.1, a NAT) always pass, including the key
// whose id the wrong key names.
func TestCoreLimiterNeverLocksOutValidCredentials(t *testing.T) {
	e := newEnv(t, Config{})
	good, gk := e.key(t, "good", messages.LevelUser)
	other, _ := e.key(t, "other", messages.LevelAdmin)
	const shared = "127.0.0.1:4444"
	tok := e.grant(t, other, t0).Token
	wrongSecret := good[:20] + flipChar(good[20]) + good[21:]
	for _, bad := range []string{"rmk_guess", wrongSecret} {
		now := t0
		for i := 0; i < 10; i++ {
			_, err := e.core.Authenticate(bad, shared, false, now)
			wantErr(t, err, ErrBadKey)
		}
		_, err := e.core.Authenticate(bad, shared, false, now.Add(time.Second))
		if got := retryAfter(t, err); got != 5*time.Second {
			t.Fatalf("%q: RetryAfter = %v, want 5s", bad, got)
		}
		// The good keys and a token, from the same address, at the same time.
		for _, k := range []string{good, other} {
			if _, err := e.core.Authenticate(k, shared, false, now.Add(time.Second)); err != nil {
				t.Fatalf("after %q: valid key refused: %v", bad, err)
			}
		}
		if _, err := e.core.Verify(tok, shared, messages.ChannelNetwork, now.Add(time.Second)); err != nil {
			t.Fatalf("after %q: valid token refused: %v", bad, err)
		}
	}
	// The wrong secret counted against the key id it named, not the key:
	// the key still works, and another wrong secret for it waits too.
	if _, err := e.core.Authenticate(good, "198.51.100.1:1", false, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	wrong2 := good[:30] + flipChar(good[30]) + good[31:]
	_, err := e.core.Authenticate(wrong2, "198.51.100.1:1", false, t0.Add(time.Second))
	retryAfter(t, err)
	if _, ok := e.core.Limiter().m["key:"+gk.ID]; !ok {
		t.Fatal("the wrong secret did not count against its key id")
	}
	// After Retry-After one more failure is answered as such.
	_, err = e.core.Authenticate("rmk_guess", shared, false, t0.Add(6*time.Second))
	wantErr(t, err, ErrBadKey)
	// A revoked key counts against itself only, never its address.
	r, rk := e.key(t, "revoked", messages.LevelUser)
	e.store.Revoke(rk.ID, t0)
	const retrier = "198.51.100.2:1"
	for i := 0; i < 10; i++ {
		_, err := e.core.Authenticate(r, retrier, false, t0)
		wantErr(t, err, ErrRevokedKey)
	}
	_, err = e.core.Authenticate(r, retrier, false, t0)
	retryAfter(t, err)
	if _, ok := e.core.AddressLimiter().m[RemoteKey(retrier)]; ok {
		t.Fatal("a revoked key counted against its address")
	}
	// The trusted local socket is never limited.
	if _, err := e.core.Authenticate("", UnixRemote(1000), true, t0); err != nil {
		t.Fatal(err)
	}
}

// A guesser that changes its credential at every try is slowed down by
// the looser per-address bound, which still lets valid credentials pass.
func TestCoreAddressBound(t *testing.T) {
	e := newEnv(t, Config{AddressLimiter: LimiterConfig{Burst: 20, Refill: time.Second}})
	good, _ := e.key(t, "good", messages.LevelUser)
	tok := e.grant(t, good, t0).Token
	const attacker = "203.0.113.7:4444"
	for i := 0; i < 20; i++ {
		_, err := e.core.Authenticate(fmt.Sprintf("rmk_%08x_%s", i, strings.Repeat("A", 43)), attacker, false, t0)
		wantErr(t, err, ErrBadKey)
	}
	_, err := e.core.Authenticate("rmk_ffffffff_"+strings.Repeat("A", 43), attacker, false, t0)
	if got := retryAfter(t, err); got != time.Second {
		t.Fatalf("RetryAfter = %v, want 1s", got)
	}
	// Forged tokens from the address wait as well.
	_, err = e.core.Verify(flip(tok, 2, 3), attacker, messages.ChannelNetwork, t0)
	retryAfter(t, err)
	if _, err := e.core.Authenticate(good, attacker, false, t0); err != nil {
		t.Fatalf("valid key refused: %v", err)
	}
	if _, err := e.core.Verify(tok, attacker, messages.ChannelNetwork, t0); err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	// Another address is not affected.
	_, err = e.core.Authenticate("rmk_guess", "198.51.100.9:1", false, t0)
	wantErr(t, err, ErrBadKey)
}

func TestCoreRateLimitsTokens(t *testing.T) {
	e := newEnv(t, Config{})
	key, _ := e.key(t, "k", messages.LevelUser)
	g := e.grant(t, key, t0)
	const attacker = "[2001:db8:0:1::5]:999"
	forged := flip(g.Token, 2, 3)
	for i := 0; i < 10; i++ {
		_, err := e.core.Verify(forged, attacker, messages.ChannelNetwork, t0)
		wantErr(t, err, ErrTokenSignature)
	}
	_, err := e.core.Verify(forged, attacker, messages.ChannelNetwork, t0)
	if got := retryAfter(t, err); got != 6*time.Second {
		t.Fatalf("RetryAfter = %v", got)
	}
	// The genuine token is verified first and passes, from the same
	// address and from its /64.
	for _, from := range []string{attacker, "[2001:db8:0:1::6]:1"} {
		if _, err := e.core.Verify(g.Token, from, messages.ChannelNetwork, t0); err != nil {
			t.Fatalf("genuine token from %s: %v", from, err)
		}
	}
	// Stale but authentic tokens (a WebSocket retrying after its session
	// ended) never count.
	other, _ := e.key(t, "k2", messages.LevelUser)
	g2 := e.grant(t, other, t0)
	e.core.EndSession(g2.SessionID)
	late := t0.Add(time.Hour)
	for i := 0; i < 200; i++ {
		_, err := e.core.Verify(g2.Token, "198.51.100.3:1", messages.ChannelNetwork, late)
		if errors.Is(err, ErrRateLimited) {
			t.Fatalf("stale token rate limited after %d tries", i)
		}
	}
}
