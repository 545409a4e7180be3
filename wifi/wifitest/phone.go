package wifitest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"

	"golang.org/x/crypto/hkdf"
)

// Seal is the phone's half of the sealed exchange, written from the
// reference's description (BLE_WIFI_PROVISIONING.md and its iOS client):
// decode the robot's X25519 public key pk (base64 of 32 raw bytes), make
// an ephemeral key pair, derive a 32-byte AES key with HKDF-SHA256 over the
// shared secret (salt: the PIN's UTF-8 bytes, info:
// "reachy-mini-wifi-psk-v1"), seal the password with AES-GCM under a random
// 12-byte nonce with the SSID as additional data, and return the body of
// POST /wifi/connect_sealed: {ssid, kid, epk, nonce, ct}, with ct the
// ciphertext followed by the 16-byte tag, all in standard base64.
//
// It uses golang.org/x/crypto/hkdf where package wifi uses the standard
// library's crypto/hkdf, so the two sides do not share an implementation.
func Seal(ssid, password, pin, pk, kid string) (map[string]string, error) {
	robotRaw, err := base64.StdEncoding.DecodeString(pk)
	if err != nil {
		return nil, err
	}
	robot, err := ecdh.X25519().NewPublicKey(robotRaw)
	if err != nil {
		return nil, err
	}
	mine, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	shared, err := mine.ECDH(robot)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, shared, []byte(pin), []byte("reachy-mini-wifi-psk-v1")), key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	ct := gcm.Seal(nil, nonce, []byte(password), []byte(ssid))
	b64 := base64.StdEncoding.EncodeToString
	return map[string]string{
		"ssid": ssid, "kid": kid,
		"epk": b64(mine.PublicKey().Bytes()), "nonce": b64(nonce), "ct": b64(ct),
	}, nil
}
