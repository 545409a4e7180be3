package selfupdate

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const sum0 = "0000000000000000000000000000000000000000000000000000000000000000"

func indexJSON(releases string) []byte {
	return []byte(`{"format":1,"name":"reachyd","releases":[` + releases + `]}`)
}

func rel(version, extra string) string {
	return `{"version":"` + version + `"` + extra + `,"binaries":{"linux/arm64":{"url":"reachyd-` + version +
		`","size":10,"sha256":"` + sum0 + `"},"linux/amd64":{"url":"https://example.org/x","size":10,"sha256":"` + sum0 + `"}}}`
}

func TestParseIndexAndSelect(t *testing.T) {
	ix, err := ParseIndex(indexJSON(strings.Join([]string{
		rel("0.1.0", `,"refs":["stable-2025"]`),
		rel("0.3.0-rc.1", ""),
		rel("0.2.0", `,"refs":["main"],"commit":"0123456789abcdef0123456789abcdef01234567","notes":"unknown fields are ignored"`),
		rel("0.2.5", `,"prerelease":true`),
	}, ",")))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pre  bool
		want string
	}{{false, "0.2.0"}, {true, "0.3.0-rc.1"}} {
		r, ok := ix.Latest("linux/arm64", c.pre)
		if !ok || r.Version != c.want {
			t.Errorf("Latest(pre=%v) = %v", c.pre, r)
		}
	}
	if _, ok := ix.Latest("darwin/arm64", true); ok {
		t.Error("a platform without binaries has a latest release")
	}
	for ref, want := range map[string]string{"0.2.0": "0.2.0", "v0.1.0": "0.1.0", "main": "0.2.0", "stable-2025": "0.1.0", " main ": "0.2.0"} {
		if r, ok := ix.Resolve(ref); !ok || r.Version != want {
			t.Errorf("Resolve(%q) = %v, %v", ref, r, ok)
		}
	}
	for _, ref := range []string{"ma", "0.2", "v0.2", "origin/main"} {
		if r, ok := ix.Resolve(ref); ok {
			t.Errorf("Resolve(%q) = %s", ref, r.Version)
		}
	}
	u, err := BinaryURL("https://releases.example/reachyd/index.json", ix.Releases[0].Binaries["linux/arm64"])
	if err != nil || u != "https://releases.example/reachyd/reachyd-0.1.0" {
		t.Errorf("relative binary URL: %q, %v", u, err)
	}
}

func TestParseIndexRefuses(t *testing.T) {
	bin := func(url, size, sha string) string {
		return `{"version":"1.0.0","binaries":{"linux/arm64":{"url":"` + url + `","size":` + size + `,"sha256":"` + sha + `"}}}`
	}
	cases := map[string][]byte{
		"format":           []byte(`{"format":2,"name":"reachyd","releases":[]}`),
		"name":             []byte(`{"format":1,"name":"other","releases":[]}`),
		"trailing data":    append(indexJSON(""), []byte(`{}`)...),
		"not json":         []byte(`{"format":1`),
		"bad version":      indexJSON(rel("1.0", "")),
		"duplicate":        indexJSON(rel("1.0.0", "") + "," + rel("1.0.0+other", "")),
		"ambiguous ref":    indexJSON(rel("1.0.0", `,"refs":["main"]`) + "," + rel("1.1.0", `,"refs":["main"]`)),
		"ref is a version": indexJSON(rel("1.0.0", `,"refs":["v1.1.0"]`) + "," + rel("1.1.0", "")),
		"ref with space":   indexJSON(rel("1.0.0", `,"refs":["a b"]`)),
		"commit":           indexJSON(rel("1.0.0", `,"commit":"XYZ"`)),
		"no binaries":      indexJSON(`{"version":"1.0.0","binaries":{}}`),
		"platform":         indexJSON(`{"version":"1.0.0","binaries":{"Linux":{"url":"x","size":1,"sha256":"` + sum0 + `"}}}`),
		"scheme":           indexJSON(bin("file:///etc/passwd", "1", sum0)),
		"scheme-relative":  indexJSON(bin("//evil.example/x", "1", sum0)),
		"size 0":           indexJSON(bin("x", "0", sum0)),
		"size too large":   indexJSON(bin("x", "999999999999", sum0)),
		"sha256":           indexJSON(bin("x", "1", strings.ToUpper(sum0[:63])+"A")),
		"too large":        append(indexJSON(""), bytes.Repeat([]byte(" "), MaxIndexBytes)...),
	}
	for name, data := range cases {
		if _, err := ParseIndex(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSignVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	index := indexJSON(rel("1.0.0", ""))
	sig := SignatureLine(priv, index)
	if id, err := Verify([]ed25519.PublicKey{other, pub}, index, sig); err != nil || id != KeyID(pub) {
		t.Fatalf("Verify: %q, %v", id, err)
	}
	// One byte changed anywhere in the index: refused.
	for _, i := range []int{0, len(index) / 2, len(index) - 1} {
		bad := bytes.Clone(index)
		bad[i] ^= 1
		if _, err := Verify([]ed25519.PublicKey{pub}, bad, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("byte %d changed: %v", i, err)
		}
	}
	// Signed by an untrusted key only: refused; with both keys' lines, and
	// the trusted one second, accepted (rotation).
	if _, err := Verify([]ed25519.PublicKey{pub}, index, SignatureLine(otherPriv, index)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("untrusted key: %v", err)
	}
	both := append([]byte("# rotation\n\n"), append(SignatureLine(otherPriv, index), sig...)...)
	if _, err := Verify([]ed25519.PublicKey{pub}, index, both); err != nil {
		t.Errorf("two signatures: %v", err)
	}
	// A trusted key's signature under another key's id does not count.
	forged := bytes.Replace(sig, []byte(KeyID(pub)), []byte(KeyID(other)), 1)
	if _, err := Verify([]ed25519.PublicKey{other}, index, forged); !errors.Is(err, ErrBadSignature) {
		t.Errorf("forged key id: %v", err)
	}
	if _, err := Verify(nil, index, sig); err == nil {
		t.Error("no keys: accepted")
	}
	for _, bad := range []string{"", "# only a comment\n", "ed25519 xx AAAA\n", "rsa " + KeyID(pub) + " AAAA\n",
		"ed25519 " + KeyID(pub) + " AAAA\n", strings.Repeat("#", MaxSignatureBytes+1)} {
		if _, err := Verify([]ed25519.PublicKey{pub}, index, []byte(bad)); err == nil {
			t.Errorf("signature file %q accepted", clip(bad))
		}
	}
	// Keys round-trip through their encodings.
	k, err := ParsePublicKey(EncodePublicKey(pub))
	if err != nil || !k.Equal(pub) {
		t.Errorf("public key round trip: %v", err)
	}
	p, err := ParsePrivateKey(EncodePrivateKey(priv))
	if err != nil || !p.Equal(priv) {
		t.Errorf("private key round trip: %v", err)
	}
	if _, err := ParsePrivateKey([]byte(EncodePublicKey(pub))); err == nil {
		t.Error("a public key read as a private key file")
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add(indexJSON(rel("0.1.0", `,"refs":["main"]`) + "," + rel("0.2.0-rc.1", `,"prerelease":true`)))
	f.Add([]byte(`{"format":1,"name":"reachyd","releases":[{"version":"1.0.0","binaries":{"a/b":{"url":"x","size":1,"sha256":"` + sum0 + `"}}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := ParseIndex(data)
		if err != nil {
			return
		}
		// A parsed index answers every selection without panicking, and
		// what it resolves is one of its releases for that ref.
		ix.Latest("linux/arm64", false)
		ix.Latest("linux/arm64", true)
		for _, r := range ix.Releases {
			got, ok := ix.Resolve(r.Version)
			if !ok || got.Version != r.Version {
				t.Fatalf("Resolve(%q) = %v", r.Version, got)
			}
			for _, b := range r.Binaries {
				_, _ = BinaryURL("https://example.org/i.json", b)
			}
		}
		if _, err := json.Marshal(ix); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseSignatures(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.Add(SignatureLine(priv, []byte("x")))
	f.Add([]byte("# c\ned25519 0011223344556677 " + strings.Repeat("A", 86) + "==\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sigs, err := ParseSignatures(data)
		if err != nil {
			return
		}
		if len(sigs) == 0 || len(sigs) > maxSignatures {
			t.Fatalf("%d signatures", len(sigs))
		}
		for _, s := range sigs {
			if len(s.Sig) != ed25519.SignatureSize || len(s.KeyID) != 16 {
				t.Fatalf("bad signature accepted: %+v", s)
			}
		}
	})
}
