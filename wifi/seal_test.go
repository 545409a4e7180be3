package wifi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/hkdf"

	"reachyd/wifi/wifitest"
)

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func sealFor(t *testing.T, pk ProvKey, ssid, password, pin string) Sealed {
	t.Helper()
	b, err := wifitest.Seal(ssid, password, pin, pk.PK, pk.Kid)
	if err != nil {
		t.Fatal(err)
	}
	return Sealed{SSID: b["ssid"], Kid: b["kid"], EPK: b["epk"], Nonce: b["nonce"], CT: b["ct"]}
}

func wantSealError(t *testing.T, what string, err error, reason string) {
	t.Helper()
	var se *SealError
	if !errors.As(err, &se) || !strings.HasPrefix(se.Reason, reason) {
		t.Errorf("%s: %v, want decrypt_failed: %s", what, err, reason)
	}
}

func TestSealRoundTrip(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	r := newKeyRing(c.now)
	pk, err := r.public()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(pk.PK)
	if err != nil || len(raw) != 32 || pk.Alg != "x25519-hkdf-sha256-aesgcm" {
		t.Fatalf("public key %+v", pk)
	}
	for _, password := range []string{"correct horse", "ünïcödé pässwörd", strings.Repeat("f", 64), ""} {
		s := sealFor(t, pk, "home", password, "46879")
		got, err := r.open(s, "46879")
		if err != nil || got != password {
			t.Errorf("open(%q) = %q, %v", password, got, err)
		}
	}
	s := sealFor(t, pk, "home", "correct horse", "46879")
	if _, err := r.open(s, "46870"); err == nil {
		t.Error("opened with another PIN")
	}
	// Without padding, as some encoders send it.
	s2 := s
	s2.EPK, s2.Nonce, s2.CT = strings.TrimRight(s.EPK, "="), strings.TrimRight(s.Nonce, "="), strings.TrimRight(s.CT, "=")
	if got, err := r.open(s2, "46879"); err != nil || got != "correct horse" {
		t.Errorf("unpadded: %q %v", got, err)
	}
}

func TestSealRefusals(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	r := newKeyRing(c.now)
	pk, _ := r.public()
	good := sealFor(t, pk, "home", "correct horse", "46879")
	mod := func(f func(*Sealed)) Sealed { s := good; f(&s); return s }
	ct, _ := base64.StdEncoding.DecodeString(good.CT)
	ct[0] ^= 1
	tampered := base64.StdEncoding.EncodeToString(ct)
	for _, c := range []struct {
		name   string
		s      Sealed
		reason string
	}{
		{"wrong kid", mod(func(s *Sealed) { s.Kid = "AAAAAAAA" }), "unknown or expired kid"},
		{"tampered ct", mod(func(s *Sealed) { s.CT = tampered }), "authentication failed"},
		{"wrong AAD (another SSID)", mod(func(s *Sealed) { s.SSID = "cafe" }), "authentication failed"},
		{"bad base64", mod(func(s *Sealed) { s.EPK = "!!!!" }), "bad encoding: epk"},
		{"short epk", mod(func(s *Sealed) { s.EPK = base64.StdEncoding.EncodeToString(make([]byte, 31)) }), "bad encoding: an X25519 public key is 32 bytes"},
		{"low-order epk", mod(func(s *Sealed) { s.EPK = base64.StdEncoding.EncodeToString(make([]byte, 32)) }), "bad encoding: epk is not a usable"},
		{"short nonce", mod(func(s *Sealed) { s.Nonce = base64.StdEncoding.EncodeToString(make([]byte, 8)) }), "bad encoding: the nonce must be 12 bytes"},
		{"no tag", mod(func(s *Sealed) { s.CT = base64.StdEncoding.EncodeToString(make([]byte, 15)) }), "bad encoding: ct is shorter"},
		{"long ct", mod(func(s *Sealed) { s.CT = base64.StdEncoding.EncodeToString(make([]byte, 81)) }), "bad encoding: ct is longer"},
		{"huge ct", mod(func(s *Sealed) { s.CT = strings.Repeat("A", 1<<20) }), "bad encoding: ct is too long"},
		{"huge epk", mod(func(s *Sealed) { s.EPK = strings.Repeat("A", 65) }), "bad encoding: epk is too long"},
		{"huge nonce", mod(func(s *Sealed) { s.Nonce = strings.Repeat("A", 65) }), "bad encoding: nonce is too long"},
		{"huge kid", mod(func(s *Sealed) { s.Kid = strings.Repeat("A", 65) }), "unknown or expired kid"},
		{"long ssid", mod(func(s *Sealed) { s.SSID = strings.Repeat("s", 33) }), "bad encoding: ssid is longer than 32 bytes"},
	} {
		_, err := r.open(c.s, "46879")
		wantSealError(t, c.name, err, c.reason)
	}
	if err := (&SealError{Reason: "x"}); err.Error() != "decrypt_failed: x" {
		t.Errorf("detail %q", err.Error())
	}

	// Not UTF-8: sealed by hand with the same derivation.
	priv := r.lookup(pk.Kid)
	mine, _ := ecdh.X25519().GenerateKey(zeroReader{})
	shared, _ := mine.ECDH(priv.PublicKey())
	key := make([]byte, 32)
	_, _ = io.ReadFull(hkdf.New(sha256.New, shared, []byte("46879"), []byte(SealInfo)), key)
	s := sealWith(t, key, "home", []byte{0xff, 0xfe})
	s.Kid, s.EPK = pk.Kid, base64.StdEncoding.EncodeToString(mine.PublicKey().Bytes())
	_, err := r.open(s, "46879")
	wantSealError(t, "not UTF-8", err, "the password is not UTF-8")
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 7
	}
	return len(p), nil
}

func TestKeyRotation(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	r := newKeyRing(c.now)
	first, _ := r.public()
	c.t = c.t.Add(KeyTTL - time.Second)
	if again, _ := r.public(); again.Kid != first.Kid || again.PK != first.PK {
		t.Fatal("rotated before the TTL")
	}
	old := sealFor(t, first, "home", "correct horse", "46879")
	c.t = c.t.Add(time.Second)
	second, _ := r.public()
	if second.Kid == first.Kid || second.PK == first.PK {
		t.Fatal("not rotated after the TTL")
	}
	// The replaced key is still accepted for the grace period...
	if got, err := r.open(old, "46879"); err != nil || got != "correct horse" {
		t.Errorf("previous key within the grace: %q %v", got, err)
	}
	fresh := sealFor(t, second, "home", "correct horse", "46879")
	if _, err := r.open(fresh, "46879"); err != nil {
		t.Errorf("current key: %v", err)
	}
	// ...then refused.
	c.t = c.t.Add(KeyGrace)
	_, err := r.open(old, "46879")
	wantSealError(t, "previous key after the grace", err, "unknown or expired kid")
	if _, err := r.open(fresh, "46879"); err != nil {
		t.Errorf("current key: %v", err)
	}
	// A current key nobody replaced expires too.
	c.t = c.t.Add(KeyTTL)
	_, err = r.open(fresh, "46879")
	wantSealError(t, "current key past its TTL and grace", err, "unknown or expired kid")
	// Two rotations: the key before the previous one is gone.
	third, _ := r.public()
	c.t = c.t.Add(KeyTTL)
	r.public()
	_, err = r.open(sealFor(t, first, "home", "x", "46879"), "46879")
	wantSealError(t, "a key two rotations old", err, "unknown or expired kid")
	if third.Kid == second.Kid {
		t.Error("no rotation on the first request after expiry")
	}
}

// FuzzOpenSealed: whatever a client posts, open returns a password or a
// *SealError, and never panics.
func FuzzOpenSealed(f *testing.F) {
	r := newKeyRing(func() time.Time { return time.Unix(1000, 0) })
	pk, _ := r.public()
	b, _ := wifitest.Seal("home", "correct horse", "46879", pk.PK, pk.Kid)
	f.Add(b["ssid"], b["kid"], b["epk"], b["nonce"], b["ct"])
	f.Add("", "", "", "", "")
	f.Add("x", pk.Kid, "AAAA", "====", "A")
	f.Fuzz(func(t *testing.T, ssid, kid, epk, nonce, ct string) {
		_, err := r.open(Sealed{SSID: ssid, Kid: kid, EPK: epk, Nonce: nonce, CT: ct}, "46879")
		var se *SealError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("error %T %v", err, err)
		}
	})
}

// sealWith seals plaintext under key by hand (AES-256-GCM, a zero nonce).
func sealWith(t *testing.T, key []byte, ssid string, plaintext []byte) Sealed {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	return Sealed{SSID: ssid, Nonce: base64.StdEncoding.EncodeToString(nonce),
		CT: base64.StdEncoding.EncodeToString(gcm.Seal(nil, nonce, plaintext, []byte(ssid)))}
}
