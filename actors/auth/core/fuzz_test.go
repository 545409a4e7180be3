package authcore

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"reachyd/messages"
)

// FuzzVerify: Core.Verify never panics and never accepts a token it did
// not issue. Strict base64 and HMAC over the exact header.payload text
// mean an accepted token must be byte-for-byte one we issued.
func FuzzVerify(f *testing.F) {
	e := newEnv(f, Config{Limiter: LimiterConfig{Burst: 1 << 30}})
	key, _ := e.key(f, "fuzz", messages.LevelUser)
	issued := map[string]bool{}
	g := e.grant(f, key, t0)
	issued[g.Token] = true
	p, _ := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, t0)
	rot, _ := e.core.Rotate(p, t0)
	issued[rot] = true
	lg, _ := e.core.Authenticate("", "unix:uid=0", true, t0)
	issued[lg.Token] = true

	for tok := range issued {
		f.Add(tok)
		f.Add(flip(tok, 1, 4))
		f.Add(flip(tok, 2, -1))
		f.Add(tok + "A")
		f.Add(strings.Replace(tok, ".", "..", 1))
	}
	f.Add(craft(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, e.signer.KID(), goodClaims()))
	f.Add(craft(f, jwt.SigningMethodHS512, e.signer.key, e.signer.KID(), goodClaims()))
	f.Add("")
	f.Add("...")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")

	f.Fuzz(func(t *testing.T, tok string) {
		// ChannelUnix: the most permissive channel (local tokens pass).
		p, err := e.core.Verify(tok, tcp, messages.ChannelUnix, t0.Add(time.Minute))
		if err == nil && !issued[tok] {
			t.Fatalf("accepted a token it did not issue: %q -> %+v", tok, p)
		}
		if c, err := e.signer.Verify(tok, t0.Add(time.Minute)); err == nil && !issued[tok] {
			t.Fatalf("signer accepted a token it did not issue: %q -> %+v", tok, c)
		}
	})
}

// FuzzParseKey: ParseKey never panics, accepts only the exact format, and
// what it accepts round-trips.
func FuzzParseKey(f *testing.F) {
	f.Add("rmk_1a2b3c4d_" + strings.Repeat("A", 43))
	f.Add("rmk_1a2b3c4d_" + strings.Repeat("_", 42) + "w")
	f.Add("rmk_")
	f.Add("")
	f.Add(strings.Repeat("rmk_", 100))
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseKey(s)
		if err != nil {
			if id != "" {
				t.Fatal("id returned with an error")
			}
			return
		}
		if len(s) != KeyLen || s[:4] != KeyPrefix || s[4:12] != id || !isLowerHex(id) || s[12] != '_' {
			t.Fatalf("accepted %q", s)
		}
		sec, err := decodeSecret(s[13:])
		if err != nil || formatKey(id, sec) != s {
			t.Fatalf("%q does not round-trip", s)
		}
	})
}
