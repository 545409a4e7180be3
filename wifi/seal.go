package wifi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The sealed-credentials exchange (the reference's x25519-hkdf-sha256-aesgcm,
// BLE_WIFI_PROVISIONING.md): the phone fetches the robot's ephemeral X25519
// public key, makes its own key pair, derives an AES-256-GCM key with
// HKDF-SHA256 over the shared secret (salt: the device PIN, info:
// SealInfo), seals the Wi-Fi password with the SSID as additional data, and
// posts {ssid, kid, epk, nonce, ct}. The password never crosses BLE or the
// local HTTP hop in clear. It protects against a passive eavesdropper only:
// the phone cannot authenticate the robot's key, so an active
// man-in-the-middle can brute-force the 5-character PIN offline, as the
// reference documents.
const (
	// SealAlg names the scheme in GET /wifi/prov_key.
	SealAlg = "x25519-hkdf-sha256-aesgcm"
	// SealInfo is HKDF's info string.
	SealInfo = "reachy-mini-wifi-psk-v1"
	// KeyTTL is how long a provisioning key pair is handed out before a
	// fresh one replaces it (the reference's 600 s).
	KeyTTL = 600 * time.Second
	// KeyGrace is how long a key is still accepted after its TTL (for the
	// current key nobody asked to replace) or after it was replaced, so
	// that a phone that fetched it just before finishes its exchange.
	KeyGrace = 60 * time.Second
)

// Field limits of a sealed payload, far above what a Wi-Fi password needs
// (a WPA passphrase has at most 63 characters, a raw PSK 64 hex digits).
const (
	maxKidLen   = 64
	maxEPKLen   = 64  // base64 of 32 bytes is 44
	maxNonceLen = 64  // base64 of 12 bytes is 16
	maxCTLen    = 256 // base64 of 64 + 16 bytes is 108
	maxPSKLen   = 64
	gcmTagLen   = 16
	gcmNonceLen = 12
	// MaxSSIDLen is 802.11's limit on an SSID, in bytes.
	MaxSSIDLen = 32
)

// ProvKey is the answer of GET /wifi/prov_key.
type ProvKey struct {
	Kid string // key id, to send back
	PK  string // base64 of the raw 32-byte X25519 public key
	Alg string // SealAlg
}

// Sealed is the body of POST /wifi/connect_sealed (every field but SSID in
// standard base64).
type Sealed struct {
	SSID  string
	Kid   string
	EPK   string // the phone's ephemeral X25519 public key
	Nonce string // AES-GCM nonce, 12 bytes
	CT    string // ciphertext with the 16-byte tag appended
}

// SealError is a sealed payload that cannot be opened. Its Error is the
// reference's 400 detail, "decrypt_failed: <reason>".
type SealError struct{ Reason string }

func (e *SealError) Error() string { return "decrypt_failed: " + e.Reason }

func sealErr(format string, args ...any) error {
	return &SealError{Reason: fmt.Sprintf(format, args...)}
}

// provKey is one provisioning key pair.
type provKey struct {
	kid     string
	priv    *ecdh.PrivateKey
	made    time.Time
	retired time.Time // when a newer key replaced it
}

// keyRing holds the current provisioning key and the one it replaced.
// Keys are made on demand: the first GET /wifi/prov_key, and the first
// after the current key's TTL, make a new one.
type keyRing struct {
	mu   sync.Mutex
	now  func() time.Time
	rand io.Reader
	cur  *provKey
	prev *provKey
}

func newKeyRing(now func() time.Time) *keyRing {
	if now == nil {
		now = time.Now
	}
	return &keyRing{now: now, rand: rand.Reader}
}

// public returns the current key, replacing it first when its TTL is over.
func (r *keyRing) public() (ProvKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.cur == nil || now.Sub(r.cur.made) >= KeyTTL || now.Before(r.cur.made) {
		priv, err := ecdh.X25519().GenerateKey(r.rand)
		if err != nil {
			return ProvKey{}, err
		}
		id := make([]byte, 6)
		if _, err := io.ReadFull(r.rand, id); err != nil {
			return ProvKey{}, err
		}
		if r.cur != nil {
			r.cur.retired = now
			r.prev = r.cur
		}
		r.cur = &provKey{kid: base64.RawURLEncoding.EncodeToString(id), priv: priv, made: now}
	}
	return ProvKey{Kid: r.cur.kid, PK: base64.StdEncoding.EncodeToString(r.cur.priv.PublicKey().Bytes()), Alg: SealAlg}, nil
}

// lookup returns the private key of kid if it is still accepted.
func (r *keyRing) lookup(kid string) *ecdh.PrivateKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if k := r.cur; k != nil && k.kid == kid && !now.Before(k.made) && now.Sub(k.made) < KeyTTL+KeyGrace {
		return k.priv
	}
	if k := r.prev; k != nil && k.kid == kid && !now.Before(k.retired) && now.Sub(k.retired) < KeyGrace {
		return k.priv
	}
	return nil
}

// open decrypts a sealed password for the device PIN.
func (r *keyRing) open(s Sealed, pin string) (string, error) {
	switch {
	case len(s.SSID) > MaxSSIDLen:
		return "", sealErr("bad encoding: ssid is longer than %d bytes", MaxSSIDLen)
	case len(s.Kid) > maxKidLen:
		return "", sealErr("unknown or expired kid")
	case len(s.EPK) > maxEPKLen:
		return "", sealErr("bad encoding: epk is too long")
	case len(s.Nonce) > maxNonceLen:
		return "", sealErr("bad encoding: nonce is too long")
	case len(s.CT) > maxCTLen:
		return "", sealErr("bad encoding: ct is too long")
	}
	priv := r.lookup(s.Kid)
	if priv == nil {
		return "", sealErr("unknown or expired kid")
	}
	epk, err := decodeB64(s.EPK)
	if err != nil {
		return "", sealErr("bad encoding: epk: %v", err)
	}
	nonce, err := decodeB64(s.Nonce)
	if err != nil {
		return "", sealErr("bad encoding: nonce: %v", err)
	}
	ct, err := decodeB64(s.CT)
	if err != nil {
		return "", sealErr("bad encoding: ct: %v", err)
	}
	switch {
	case len(epk) != 32:
		return "", sealErr("bad encoding: an X25519 public key is 32 bytes long, got %d", len(epk))
	case len(nonce) != gcmNonceLen:
		return "", sealErr("bad encoding: the nonce must be %d bytes long, got %d", gcmNonceLen, len(nonce))
	case len(ct) < gcmTagLen:
		return "", sealErr("bad encoding: ct is shorter than the %d-byte tag", gcmTagLen)
	case len(ct) > maxPSKLen+gcmTagLen:
		return "", sealErr("bad encoding: ct is longer than a %d-byte password and its tag", maxPSKLen)
	}
	pub, err := ecdh.X25519().NewPublicKey(epk)
	if err != nil {
		return "", sealErr("bad encoding: epk: %v", err)
	}
	shared, err := priv.ECDH(pub)
	if err != nil { // a low-order point: no shared secret
		return "", sealErr("bad encoding: epk is not a usable X25519 public key")
	}
	key, err := hkdf.Key(sha256.New, shared, []byte(pin), SealInfo, 32)
	if err != nil {
		return "", sealErr("key derivation failed")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", sealErr("key derivation failed")
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", sealErr("key derivation failed")
	}
	psk, err := gcm.Open(nil, nonce, ct, []byte(s.SSID))
	if err != nil {
		// Wrong PIN, tampered ciphertext, another SSID, or a MITM without
		// the PIN.
		return "", sealErr("authentication failed")
	}
	if !utf8.Valid(psk) {
		return "", sealErr("the password is not UTF-8 text")
	}
	return string(psk), nil
}

// decodeB64 decodes standard base64, with or without padding.
func decodeB64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") || len(s)%4 == 0 {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
