package authcore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"reachyd/messages"
)

// API key format: "rmk_" + key id (8 lowercase hex) + "_" + secret (32
// random bytes, base64url without padding, 43 characters), 56 characters
// in all. The prefix makes a leaked key easy to recognise (secret scanners,
// logs); the id lets the store find the key without trying every hash and
// lets an operator name a key (list, revoke) without its secret.
const (
	KeyPrefix      = "rmk_"
	keyIDLen       = 8
	keySecretBytes = 32
	keySecretLen   = 43 // base64.RawURLEncoding.EncodedLen(keySecretBytes)
	// KeyLen is the length of every well-formed key.
	KeyLen = len(KeyPrefix) + keyIDLen + 1 + keySecretLen
	// MaxKeyInput caps what Lookup looks at: anything longer is rejected
	// before any work is done on it.
	MaxKeyInput = 256
	// MaxNameLen is the longest key name, in characters.
	MaxNameLen = 64

	// KeysFileName is the key store's file in the store folder.
	KeysFileName = "api_keys.json"
	lockFileName = ".api_keys.lock"
	keysVersion  = 1
	// maxKeysFile bounds what OpenKeyStore reads; a larger file is corrupt
	// (a thousand keys take about 250 kB).
	maxKeysFile = 8 << 20

	// usageGranularity: LastUsed is rewritten at most this often per key,
	// so that clients re-authenticating in a loop do not wear the Pi's SD
	// card with a write per attempt.
	usageGranularity = time.Minute
)

// Key is a stored API key: everything but its secret. Hash is the SHA-256
// (hex) of the whole key string.
//
// SHA-256 and not a slow password hash (bcrypt, argon2): a key carries 256
// random bits, so no dictionary or brute force against a leaked hash is
// possible, and a slow KDF would only hand anyone who can reach the port a
// cheap way to burn the Pi's CPU, one failed attempt at a time.
type Key struct {
	ID        string               `json:"id"`
	Name      string               `json:"name"`
	Level     messages.AccessLevel `json:"level"`
	Hash      string               `json:"hash"`
	CreatedAt time.Time            `json:"created_at"`
	RevokedAt *time.Time           `json:"revoked_at,omitempty"`
	// LastUsed is the last key exchange (Authenticate), to the minute.
	// Token use does not update it; see Core.Sessions for live activity.
	LastUsed *time.Time `json:"last_used,omitempty"`
}

// Revoked reports whether the key has been revoked.
func (k Key) Revoked() bool { return k.RevokedAt != nil }

func (k Key) clone() Key {
	if k.RevokedAt != nil {
		t := *k.RevokedAt
		k.RevokedAt = &t
	}
	if k.LastUsed != nil {
		t := *k.LastUsed
		k.LastUsed = &t
	}
	return k
}

// ParseKey checks that s has the key format and returns its id. It does
// not consult any store. Inputs longer than MaxKeyInput are rejected
// without being looked at further.
func ParseKey(s string) (id string, err error) {
	if len(s) > MaxKeyInput {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrBadKey, MaxKeyInput)
	}
	if len(s) != KeyLen || !strings.HasPrefix(s, KeyPrefix) || s[len(KeyPrefix)+keyIDLen] != '_' {
		return "", fmt.Errorf("%w: not of the form %s<id>_<secret>", ErrBadKey, KeyPrefix)
	}
	id = s[len(KeyPrefix) : len(KeyPrefix)+keyIDLen]
	if !isLowerHex(id) {
		return "", fmt.Errorf("%w: key id is not lowercase hex", ErrBadKey)
	}
	secret := s[len(KeyPrefix)+keyIDLen+1:]
	// Strict: the unused low bits of the last character must be zero, so
	// that each secret has exactly one spelling.
	if _, err := decodeSecret(secret); err != nil {
		return "", fmt.Errorf("%w: secret is not %d bytes of base64url", ErrBadKey, keySecretBytes)
	}
	return id, nil
}

func decodeSecret(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b) != keySecretBytes {
		return nil, errors.New("wrong length")
	}
	return b, nil
}

func formatKey(id string, secret []byte) string {
	return KeyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(secret)
}

func hashKey(plaintext string) [sha256.Size]byte { return sha256.Sum256([]byte(plaintext)) }

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ValidateName checks a key name: 1 to 64 characters, all printable
// (spaces allowed, but not only spaces), so that names stay readable in
// the list table and cannot smuggle control or bidi characters.
func ValidateName(name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: not valid UTF-8", ErrBadName)
	}
	n := utf8.RuneCountInString(name)
	if n == 0 || strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: empty", ErrBadName)
	}
	if n > MaxNameLen {
		return fmt.Errorf("%w: longer than %d characters", ErrBadName, MaxNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: contains a non-printable character", ErrBadName)
		}
	}
	return nil
}

func validLevel(l messages.AccessLevel) bool {
	switch l {
	case messages.LevelEnchanter, messages.LevelAdmin, messages.LevelUser:
		return true
	}
	return false
}

// keyState is one decoded version of the key file.
type keyState struct {
	keys    []Key // in creation order
	index   map[string]int
	digests map[string][sha256.Size]byte
}

func newKeyState(keys []Key) (*keyState, error) {
	st := &keyState{
		keys:    keys,
		index:   make(map[string]int, len(keys)),
		digests: make(map[string][sha256.Size]byte, len(keys)),
	}
	for i, k := range keys {
		if len(k.ID) != keyIDLen || !isLowerHex(k.ID) {
			return nil, fmt.Errorf("%w: key %d: bad id", ErrCorruptFile, i)
		}
		if _, dup := st.index[k.ID]; dup {
			return nil, fmt.Errorf("%w: key %s appears twice", ErrCorruptFile, k.ID)
		}
		if err := ValidateName(k.Name); err != nil {
			return nil, fmt.Errorf("%w: key %s: %w", ErrCorruptFile, k.ID, err)
		}
		if !validLevel(k.Level) {
			return nil, fmt.Errorf("%w: key %s: bad level %d", ErrCorruptFile, k.ID, int(k.Level))
		}
		var d [sha256.Size]byte
		if len(k.Hash) != 2*sha256.Size || !isLowerHex(k.Hash) {
			return nil, fmt.Errorf("%w: key %s: hash is not 64 lowercase hex digits", ErrCorruptFile, k.ID)
		}
		hex.Decode(d[:], []byte(k.Hash))
		if k.CreatedAt.IsZero() {
			return nil, fmt.Errorf("%w: key %s: missing created_at", ErrCorruptFile, k.ID)
		}
		st.index[k.ID] = i
		st.digests[k.ID] = d
	}
	return st, nil
}

func (st *keyState) clone() *keyState {
	keys := make([]Key, len(st.keys))
	for i, k := range st.keys {
		keys[i] = k.clone()
	}
	c, _ := newKeyState(keys) // already validated
	return c
}

// add appends a key already validated by the caller.
func (st *keyState) add(k Key, digest [sha256.Size]byte) {
	st.index[k.ID] = len(st.keys)
	st.digests[k.ID] = digest
	st.keys = append(st.keys, k)
}

// keyFile is the on-disk shape of api_keys.json. It has its own key type
// so that the file format cannot change behind our back if Key or
// messages.AccessLevel ever gain a JSON encoding of their own (the level
// is stored as pymirokai's number).
type keyFile struct {
	Version int       `json:"version"`
	Keys    []fileKey `json:"keys"`
}

type fileKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Level     int        `json:"level"`
	Hash      string     `json:"hash"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
}

// decodeKeyFile decodes strictly: unknown fields, trailing data, a wrong
// version or an invalid key are errors (ErrCorruptFile), never an empty
// store.
func decodeKeyFile(data []byte) (*keyState, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: file is empty", ErrCorruptFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f keyFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptFile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrCorruptFile)
	}
	if f.Version != keysVersion {
		return nil, fmt.Errorf("%w: unsupported version %d (want %d)", ErrCorruptFile, f.Version, keysVersion)
	}
	keys := make([]Key, len(f.Keys))
	for i, k := range f.Keys {
		keys[i] = Key{ID: k.ID, Name: k.Name, Level: messages.AccessLevel(k.Level), Hash: k.Hash,
			CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, LastUsed: k.LastUsed}
	}
	return newKeyState(keys)
}

func encodeKeyFile(st *keyState) ([]byte, error) {
	keys := make([]fileKey, len(st.keys))
	for i, k := range st.keys {
		keys[i] = fileKey{ID: k.ID, Name: k.Name, Level: int(k.Level), Hash: k.Hash,
			CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, LastUsed: k.LastUsed}
	}
	b, err := json.MarshalIndent(keyFile{Version: keysVersion, Keys: keys}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("authcore: encode keys: %w", err)
	}
	return append(b, '\n'), nil
}

// KeyStore is the set of API keys, persisted as <dir>/api_keys.json
// (mode 0600, folder 0700):
//
//	{
//	  "version": 1,
//	  "keys": [
//	    {"id": "1a2b3c4d", "name": "laptop", "level": 20,
//	     "hash": "<sha-256 of the whole key, 64 hex>",
//	     "created_at": "2025-01-02T03:04:05Z",
//	     "revoked_at": "...", "last_used": "..."}
//	  ]
//	}
//
// Levels are pymirokai's numbers (10 ENCHANTER, 20 ADMIN, 30 USER).
// Every change is a read-modify-write under an advisory lock, so the daemon
// and the keys CLI can both write; the daemon sees the CLI's changes
// through ReloadIfChanged. A KeyStore is safe for concurrent use.
type KeyStore struct {
	dir  string
	path string
	rand io.Reader

	mu   sync.Mutex
	st   *keyState
	stat os.FileInfo // of the version in st; nil when the file is absent
	// bad is the version of the file that last failed to load, and badErr
	// why: it is not read again until it changes (the daemon checks the
	// file before every token check).
	bad    os.FileInfo
	badErr error
}

// StoreOption configures a KeyStore.
type StoreOption func(*KeyStore)

// WithRand sets the source of key ids and secrets (crypto/rand by
// default); tests pass a deterministic reader.
func WithRand(r io.Reader) StoreOption { return func(s *KeyStore) { s.rand = r } }

// OpenKeyStore opens (creating the folder if needed, mode 0700) the key
// store in dir. A missing file is an empty store; a corrupt one is an
// error wrapping ErrCorruptFile.
func OpenKeyStore(dir string, opts ...StoreOption) (*KeyStore, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	s := &KeyStore{dir: dir, path: filepath.Join(dir, KeysFileName), rand: rand.Reader}
	for _, o := range opts {
		o(s)
	}
	st, fi, err := s.readDisk()
	if err != nil {
		return nil, err
	}
	s.st, s.stat = st, fi
	return s, nil
}

// Path is the store's file.
func (s *KeyStore) Path() string { return s.path }

// readDisk decodes the file as it is now, with the info of the very file
// that was read (fstat of the open descriptor).
func (s *KeyStore) readDisk() (*keyState, os.FileInfo, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		st, _ := newKeyState(nil)
		return st, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("authcore: read keys: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("authcore: read keys: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeysFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("authcore: read keys: %w", err)
	}
	if len(data) > maxKeysFile {
		return nil, nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorruptFile, s.path, maxKeysFile)
	}
	st, err := decodeKeyFile(data)
	if err != nil {
		return nil, nil, fmt.Errorf("authcore: %s: %w", s.path, err)
	}
	return st, fi, nil
}

func sameVersion(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	// The writer renames a new file into place, so SameFile (device and
	// inode) changes on every write, even when size and mtime, at the
	// file system's granularity, do not.
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// ReloadIfChanged re-reads the file if it is not the version last read or
// written (inode, size or mtime differ), so that keys created or revoked by
// the CLI reach a running daemon. It reports whether it reloaded. On error
// the previous keys stay in force: a corrupt file never empties the store.
// A deleted file is an empty store (every key gone).
func (s *KeyStore) ReloadIfChanged() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fi = nil
	case err != nil:
		return false, fmt.Errorf("authcore: stat keys: %w", err)
	}
	if sameVersion(s.stat, fi) {
		s.bad, s.badErr = nil, nil
		return false, nil
	}
	if s.bad != nil && fi != nil && sameVersion(s.bad, fi) {
		return false, s.badErr
	}
	st, rfi, err := s.readDisk()
	if err != nil {
		s.bad, s.badErr = fi, err
		return false, err
	}
	s.st, s.stat = st, rfi
	s.bad, s.badErr = nil, nil
	return true, nil
}

// mutate applies fn to the current on-disk keys and writes the result,
// all under the file lock: it never writes back a stale copy over a change
// made by another process. If fn fails, nothing is written.
func (s *KeyStore) mutate(fn func(st *keyState) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockDir(s.dir)
	if err != nil {
		return err
	}
	defer unlock()
	st, fi, err := s.readDisk()
	if err != nil {
		return err
	}
	s.st, s.stat = st, fi
	next := st.clone()
	if err := fn(next); err != nil {
		return err
	}
	data, err := encodeKeyFile(next)
	if err != nil {
		return err
	}
	fi, err = writeFileAtomic(s.dir, KeysFileName, data)
	if err != nil {
		return err
	}
	s.st, s.stat = next, fi
	return nil
}

// Create makes a new key and returns its plaintext, which is shown once
// and never stored. level must be ENCHANTER, ADMIN or USER.
func (s *KeyStore) Create(name string, level messages.AccessLevel, now time.Time) (string, Key, error) {
	if err := ValidateName(name); err != nil {
		return "", Key{}, err
	}
	if !validLevel(level) {
		return "", Key{}, fmt.Errorf("%w: %d", ErrBadLevel, int(level))
	}
	var plaintext string
	var key Key
	err := s.mutate(func(st *keyState) error {
		var idb [keyIDLen / 2]byte
		var id string
		for tries := 0; ; tries++ {
			if _, err := io.ReadFull(s.rand, idb[:]); err != nil {
				return fmt.Errorf("authcore: random: %w", err)
			}
			id = hex.EncodeToString(idb[:])
			if _, taken := st.index[id]; !taken {
				break
			}
			if tries == 16 {
				return errors.New("authcore: cannot find a free key id")
			}
		}
		secret := make([]byte, keySecretBytes)
		if _, err := io.ReadFull(s.rand, secret); err != nil {
			return fmt.Errorf("authcore: random: %w", err)
		}
		plaintext = formatKey(id, secret)
		d := hashKey(plaintext)
		key = Key{
			ID:        id,
			Name:      name,
			Level:     level,
			Hash:      hex.EncodeToString(d[:]),
			CreatedAt: now.UTC().Round(0),
		}
		st.add(key, d)
		return nil
	})
	if err != nil {
		return "", Key{}, err
	}
	return plaintext, key.clone(), nil
}

// List returns every key, revoked ones included, oldest first.
func (s *KeyStore) List() []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Key, len(s.st.keys))
	for i, k := range s.st.keys {
		out[i] = k.clone()
	}
	sortKeys(out)
	return out
}

// resolveID finds a key by id, by a unique id prefix of at least 4 hex
// digits, or by the id part of "rmk_<id>" or of a whole key (so an
// operator can paste what they have; the secret part is ignored and never
// echoed).
func resolveID(st *keyState, idOrPrefix string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(idOrPrefix))
	t = strings.TrimPrefix(t, KeyPrefix)
	if i := strings.IndexByte(t, '_'); i >= 0 {
		t = t[:i]
	}
	if t == "" || len(t) > keyIDLen || !isLowerHex(t) {
		return -1, fmt.Errorf("%w: not a key id (want %d hex digits)", ErrUnknownKey, keyIDLen)
	}
	if i, ok := st.index[t]; ok {
		return i, nil
	}
	if len(t) < 4 {
		return -1, fmt.Errorf("%w: %s (a prefix needs at least 4 digits)", ErrUnknownKey, t)
	}
	found := -1
	for i, k := range st.keys {
		if strings.HasPrefix(k.ID, t) {
			if found >= 0 {
				return -1, fmt.Errorf("%w: %s", ErrAmbiguousKeyID, t)
			}
			found = i
		}
	}
	if found < 0 {
		return -1, fmt.Errorf("%w: %s", ErrUnknownKey, t)
	}
	return found, nil
}

// Revoke marks a key revoked; it stays listed. Sessions opened with it end
// at their next use (Core re-checks the key on every Verify). An unknown
// or ambiguous id is an error; an already revoked key is ErrAlreadyRevoked
// (nothing is written).
func (s *KeyStore) Revoke(idOrPrefix string, now time.Time) error {
	return s.mutate(func(st *keyState) error {
		i, err := resolveID(st, idOrPrefix)
		if err != nil {
			return err
		}
		k := &st.keys[i]
		if k.RevokedAt != nil {
			return fmt.Errorf("%w: %s at %s", ErrAlreadyRevoked, k.ID, k.RevokedAt.Format(time.RFC3339))
		}
		t := now.UTC().Round(0)
		k.RevokedAt = &t
		return nil
	})
}

// Resolve returns the key an id or id prefix names (as Revoke resolves
// it).
func (s *KeyStore) Resolve(idOrPrefix string) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := resolveID(s.st, idOrPrefix)
	if err != nil {
		return Key{}, err
	}
	return s.st.keys[i].clone(), nil
}

// ByID returns the key with this exact id, revoked or not (check
// Revoked), or ErrUnknownKey.
func (s *KeyStore) ByID(id string) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.st.index[id]
	if !ok {
		return Key{}, fmt.Errorf("%w: %s", ErrUnknownKey, safeID(id))
	}
	return s.st.keys[i].clone(), nil
}

// safeID returns id for an error message if it has the shape of a key id,
// and a placeholder otherwise (the input might be anything).
func safeID(id string) string {
	if len(id) == keyIDLen && isLowerHex(id) {
		return id
	}
	return "(malformed id)"
}

// Lookup authenticates a plaintext key. Malformed input (including
// anything over MaxKeyInput bytes) is rejected before hashing. The
// hash is compared in constant time, and an unknown id costs the same
// comparison as a wrong secret, so timing tells nothing. A revoked key
// returns the key with ErrRevokedKey.
func (s *KeyStore) Lookup(plaintext string) (Key, error) {
	id, err := ParseKey(plaintext)
	if err != nil {
		return Key{}, err
	}
	got := hashKey(plaintext)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, known := s.st.index[id]
	want := s.st.digests[id] // zero digest when unknown: never matches a real SHA-256
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
		return Key{}, ErrBadKey
	}
	k := s.st.keys[i].clone()
	if k.RevokedAt != nil {
		return k, fmt.Errorf("%w: %s", ErrRevokedKey, k.ID)
	}
	return k, nil
}

// MarkUsed records that key id was exchanged for a token at now. It
// writes the file only if the stored time is older than a minute.
func (s *KeyStore) MarkUsed(id string, now time.Time) error {
	now = now.UTC().Round(0)
	fresh := func(k Key) bool {
		return k.LastUsed != nil && !now.Before(*k.LastUsed) && now.Sub(*k.LastUsed) < usageGranularity
	}
	s.mu.Lock()
	i, ok := s.st.index[id]
	skip := ok && fresh(s.st.keys[i])
	s.mu.Unlock()
	if skip {
		return nil
	}
	err := s.mutate(func(st *keyState) error {
		i, ok := st.index[id]
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownKey, safeID(id))
		}
		if fresh(st.keys[i]) {
			return errNoChange
		}
		t := now
		st.keys[i].LastUsed = &t
		return nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

var errNoChange = errors.New("no change")

// sortKeys orders keys for display: oldest first, ties by id.
func sortKeys(keys []Key) {
	slices.SortStableFunc(keys, func(a, b Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
