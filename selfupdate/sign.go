package selfupdate

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// The signature of an index is detached: it is served beside the index, at
// the index's URL + ".sig", and covers the index file's exact bytes (the
// served file is the canonical form: nothing is re-encoded before checking,
// so no two programs can disagree on what was signed). A signature file has
// one line per signature, so that an index can be signed by an old and a
// new key while keys rotate:
//
//	ed25519 <key id> <base64 signature>
//
// Blank lines and lines starting with '#' are ignored. The key id is the
// first 8 bytes of the SHA-256 of the public key, in hex; it only picks the
// key to try.

// Limits of a signature file.
const (
	MaxSignatureBytes = 16 << 10
	maxSignatures     = 16
)

// ErrBadSignature is returned when no signature of an index verifies
// with a trusted key.
var ErrBadSignature = errors.New("the index's signature does not verify with a trusted key")

// KeyID names a public key in signature files and logs.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// ParsePublicKey decodes a base64 (standard alphabet) ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// EncodePublicKey is the inverse of ParsePublicKey.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// privateKeyTag starts a private key file, so that a key file is not
// mistaken for something else (or the other way round).
const privateKeyTag = "reachyd-release-key-ed25519"

// EncodePrivateKey writes a private key file: the tag and the base64 seed
// on one line.
func EncodePrivateKey(priv ed25519.PrivateKey) []byte {
	return []byte(privateKeyTag + " " + base64.StdEncoding.EncodeToString(priv.Seed()) + "\n")
}

// ParsePrivateKey reads a private key file written by EncodePrivateKey.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	if len(data) > 4096 {
		return nil, errors.New("private key file: too large")
	}
	f := strings.Fields(string(data))
	if len(f) != 2 || f[0] != privateKeyTag {
		return nil, fmt.Errorf("private key file: want one line %q <base64 seed>", privateKeyTag)
	}
	seed, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("private key file: the seed is not 32 bytes of base64")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// SignatureLine signs an index's bytes: one line of a signature file.
func SignatureLine(priv ed25519.PrivateKey, index []byte) []byte {
	sig := ed25519.Sign(priv, index)
	pub := priv.Public().(ed25519.PublicKey)
	return []byte("ed25519 " + KeyID(pub) + " " + base64.StdEncoding.EncodeToString(sig) + "\n")
}

// Signature is one parsed line of a signature file.
type Signature struct {
	KeyID string
	Sig   []byte
}

// ParseSignatures parses a signature file.
func ParseSignatures(data []byte) ([]Signature, error) {
	if len(data) > MaxSignatureBytes {
		return nil, fmt.Errorf("signature file: larger than %d bytes", MaxSignatureBytes)
	}
	var out []Signature
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1024), MaxSignatureBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "ed25519" {
			return nil, fmt.Errorf("signature file, line %d: want \"ed25519 <key id> <base64 signature>\"", n)
		}
		if len(f[1]) != 16 {
			return nil, fmt.Errorf("signature file, line %d: key id is not 16 hex digits", n)
		}
		if _, err := hex.DecodeString(f[1]); err != nil {
			return nil, fmt.Errorf("signature file, line %d: key id is not 16 hex digits", n)
		}
		sig, err := base64.StdEncoding.DecodeString(f[2])
		if err != nil || len(sig) != ed25519.SignatureSize {
			return nil, fmt.Errorf("signature file, line %d: the signature is not %d bytes of base64", n, ed25519.SignatureSize)
		}
		if len(out) == maxSignatures {
			return nil, fmt.Errorf("signature file: more than %d signatures", maxSignatures)
		}
		out = append(out, Signature{KeyID: f[1], Sig: sig})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("signature file: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("signature file: no signature")
	}
	return out, nil
}

// Verify checks that one signature of sigFile verifies index under one of
// keys, and returns that key's id.
func Verify(keys []ed25519.PublicKey, index, sigFile []byte) (string, error) {
	if len(keys) == 0 {
		return "", errors.New("no trusted key to verify the index with")
	}
	sigs, err := ParseSignatures(sigFile)
	if err != nil {
		return "", err
	}
	for _, s := range sigs {
		for _, k := range keys {
			if KeyID(k) == s.KeyID && ed25519.Verify(k, index, s.Sig) {
				return s.KeyID, nil
			}
		}
	}
	return "", ErrBadSignature
}
