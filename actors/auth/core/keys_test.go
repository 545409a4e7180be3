package authcore

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reachyd/messages"
)

func TestParseKey(t *testing.T) {
	good := "rmk_1a2b3c4d_" + strings.Repeat("A", 42) + "A" // 43 chars, last char canonical
	tests := []struct {
		name, in string
		wantID   string
	}{
		{"good", good, "1a2b3c4d"},
		{"empty", "", ""},
		{"wrong prefix", "rmx_1a2b3c4d_" + strings.Repeat("A", 43), ""},
		{"uppercase id", "rmk_1A2B3C4D_" + strings.Repeat("A", 43), ""},
		{"non-hex id", "rmk_1a2b3c4g_" + strings.Repeat("A", 43), ""},
		{"missing separator", "rmk_1a2b3c4d-" + strings.Repeat("A", 43), ""},
		{"short secret", "rmk_1a2b3c4d_" + strings.Repeat("A", 42), ""},
		{"long secret", "rmk_1a2b3c4d_" + strings.Repeat("A", 44), ""},
		{"non-base64url secret", "rmk_1a2b3c4d_" + strings.Repeat("A", 42) + "+", ""},
		{"padded secret", "rmk_1a2b3c4d_" + strings.Repeat("A", 42) + "=", ""},
		{"non-canonical last char", "rmk_1a2b3c4d_" + strings.Repeat("A", 42) + "B", ""},
		{"oversized", "rmk_1a2b3c4d_" + strings.Repeat("A", 300), ""},
		{"whitespace", " " + good[1:], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParseKey(tt.in)
			if tt.wantID == "" {
				wantErr(t, err, ErrBadKey)
				return
			}
			wantErr(t, err, nil)
			if id != tt.wantID {
				t.Fatalf("id = %q, want %q", id, tt.wantID)
			}
		})
	}
}

func TestCreateFormat(t *testing.T) {
	e := newEnv(t, Config{})
	p, k := e.key(t, "laptop", messages.LevelAdmin)
	if len(p) != KeyLen || !strings.HasPrefix(p, "rmk_"+k.ID+"_") {
		t.Fatalf("key %q does not have the format rmk_<id>_<43 chars>", p)
	}
	if id, err := ParseKey(p); err != nil || id != k.ID {
		t.Fatalf("ParseKey(created) = %q, %v", id, err)
	}
	if k.Hash == "" || strings.Contains(k.Hash, p[13:]) {
		t.Fatalf("hash %q", k.Hash)
	}
	raw, _ := os.ReadFile(filepath.Join(e.dir, KeysFileName))
	if bytes.Contains(raw, []byte(p[13:])) {
		t.Fatal("the key's secret is stored in the file")
	}
}

func TestLookup(t *testing.T) {
	e := newEnv(t, Config{})
	good, k := e.key(t, "good", messages.LevelUser)
	revoked, rk := e.key(t, "old", messages.LevelAdmin)
	if err := e.store.Revoke(rk.ID, t0); err != nil {
		t.Fatal(err)
	}
	other := []byte(good)
	// Change one secret character to another canonical one.
	if other[20] == 'A' {
		other[20] = 'B'
	} else {
		other[20] = 'A'
	}
	tests := []struct {
		name, in string
		want     error
	}{
		{"good", good, nil},
		{"wrong secret", string(other), ErrBadKey},
		{"unknown id", "rmk_00000000" + good[12:], ErrBadKey},
		{"malformed", "hunter2", ErrBadKey},
		{"empty", "", ErrBadKey},
		{"oversized", good + strings.Repeat("x", 10_000), ErrBadKey},
		{"revoked", revoked, ErrRevokedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.store.Lookup(tt.in)
			wantErr(t, err, tt.want)
			if tt.want == nil && (got.ID != k.ID || got.Level != messages.LevelUser) {
				t.Fatalf("Lookup = %+v", got)
			}
			if err != nil && strings.Contains(err.Error(), tt.in) && tt.in != "" {
				t.Fatalf("error %q echoes the key", err)
			}
		})
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		name  string
		kname string
		level messages.AccessLevel
		want  error
	}{
		{"ok", "robot lab", messages.LevelUser, nil},
		{"64 runes", strings.Repeat("é", 64), messages.LevelUser, nil},
		{"empty", "", messages.LevelUser, ErrBadName},
		{"spaces only", "   ", messages.LevelUser, ErrBadName},
		{"65 runes", strings.Repeat("a", 65), messages.LevelUser, ErrBadName},
		{"control char", "a\tb", messages.LevelUser, ErrBadName},
		{"newline", "a\nb", messages.LevelUser, ErrBadName},
		{"bidi override", "a\u202eb", messages.LevelUser, ErrBadName},
		{"invalid utf8", "a\xffb", messages.LevelUser, ErrBadName},
		{"level 0", "x", 0, ErrBadLevel},
		{"level 25", "x", 25, ErrBadLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.store.Create(tt.kname, tt.level, t0)
			wantErr(t, err, tt.want)
		})
	}
}

func TestKeyStorePersistence(t *testing.T) {
	e := newEnv(t, Config{})
	p1, k1 := e.key(t, "one", messages.LevelEnchanter)
	_, k2 := e.key(t, "two", messages.LevelUser)
	if err := e.store.Revoke(k2.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkUsed(k1.ID, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	re, err := OpenKeyStore(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	got := re.List()
	if len(got) != 2 {
		t.Fatalf("reopened store has %d keys, want 2", len(got))
	}
	if got[0].ID != k1.ID || got[0].Name != "one" || got[0].Level != messages.LevelEnchanter ||
		!got[0].CreatedAt.Equal(t0) || got[0].RevokedAt != nil ||
		got[0].LastUsed == nil || !got[0].LastUsed.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("key 1 = %+v", got[0])
	}
	if got[1].ID != k2.ID || got[1].RevokedAt == nil || !got[1].RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("key 2 = %+v", got[1])
	}
	if _, err := re.Lookup(p1); err != nil {
		t.Fatalf("Lookup after reopen: %v", err)
	}
	// The file is the documented format.
	raw, _ := os.ReadFile(re.Path())
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil || f["version"] != float64(1) {
		t.Fatalf("file: %v %s", err, raw)
	}
	for _, field := range []string{`"id"`, `"name"`, `"level": 10`, `"hash"`, `"created_at"`, `"revoked_at"`, `"last_used"`} {
		if !bytes.Contains(raw, []byte(field)) {
			t.Errorf("file lacks %s:\n%s", field, raw)
		}
	}
}

func validFile(t *testing.T) string {
	t.Helper()
	return `{"version":1,"keys":[{"id":"1a2b3c4d","name":"x","level":20,"hash":"` +
		strings.Repeat("ab", 32) + `","created_at":"2025-01-01T00:00:00Z"}]}`
}

func TestKeyStoreStrictDecoding(t *testing.T) {
	good := validFile(t)
	tests := []struct {
		name, content string
		ok            bool
	}{
		{"valid", good, true},
		{"no keys", `{"version":1,"keys":[]}`, true},
		{"empty file", ``, false},
		{"whitespace", "  \n", false},
		{"truncated", good[:len(good)-5], false},
		{"trailing data", good + `{}`, false},
		{"unknown top-level field", strings.Replace(good, `"version":1`, `"version":1,"extra":true`, 1), false},
		{"unknown key field", strings.Replace(good, `"name":"x"`, `"name":"x","secret":"y"`, 1), false},
		{"wrong version", strings.Replace(good, `"version":1`, `"version":2`, 1), false},
		{"missing version", strings.Replace(good, `"version":1,`, ``, 1), false},
		{"bad level", strings.Replace(good, `"level":20`, `"level":21`, 1), false},
		{"level as string", strings.Replace(good, `"level":20`, `"level":"ADMIN"`, 1), false},
		{"bad hash", strings.Replace(good, strings.Repeat("ab", 32), "abc", 1), false},
		{"uppercase hash", strings.Replace(good, strings.Repeat("ab", 32), strings.Repeat("AB", 32), 1), false},
		{"bad id", strings.Replace(good, `"1a2b3c4d"`, `"zz"`, 1), false},
		{"empty name", strings.Replace(good, `"name":"x"`, `"name":""`, 1), false},
		{"no created_at", strings.Replace(good, `,"created_at":"2025-01-01T00:00:00Z"`, ``, 1), false},
		{"duplicate id", strings.Replace(good, `]}`, `,`+good[strings.Index(good, "[")+1:strings.LastIndex(good, "]")]+`]}`, 1), false},
		{"not json", `hello`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, KeysFileName), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenKeyStore(dir)
			if tt.ok {
				wantErr(t, err, nil)
			} else {
				wantErr(t, err, ErrCorruptFile)
			}
		})
	}
}

func TestReloadKeepsKeysOnCorruption(t *testing.T) {
	e := newEnv(t, Config{})
	p, _ := e.key(t, "keep", messages.LevelUser)
	good, err := os.ReadFile(e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "junk"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(e.dir, "junk"), e.store.Path()); err != nil {
		t.Fatal(err)
	}
	changed, err := e.store.ReloadIfChanged()
	if changed {
		t.Fatal("reloaded a corrupt file")
	}
	wantErr(t, err, ErrCorruptFile)
	if _, err := e.store.Lookup(p); err != nil {
		t.Fatalf("key lost after a failed reload: %v", err)
	}
	// A write must not clobber the corrupt file with a guess either.
	_, _, err = e.store.Create("new", messages.LevelUser, t0)
	wantErr(t, err, ErrCorruptFile)
	// The same bad version keeps failing; a
	// repaired file is picked up.
	_, err = e.store.ReloadIfChanged()
	wantErr(t, err, ErrCorruptFile)
	if err := os.WriteFile(filepath.Join(e.dir, "junk"), good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(e.dir, "junk"), e.store.Path()); err != nil {
		t.Fatal(err)
	}
	if changed, err := e.store.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("repaired file: %v %v", changed, err)
	}
}

func TestFileModes(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "auth")
	if err := os.Mkdir(dir, 0o755); err != nil { // too open: must be tightened
		t.Fatal(err)
	}
	ks, err := OpenKeyStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Create("k", messages.LevelUser, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSigner(dir, nil); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		dir:                                    0o700 | os.ModeDir,
		filepath.Join(dir, KeysFileName):       0o600,
		filepath.Join(dir, SigningKeyFileName): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", filepath.Base(path), fi.Mode(), want)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, de := range ents {
		if strings.Contains(de.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", de.Name())
		}
	}
}

func TestReloadIfChangedAfterCLICreate(t *testing.T) {
	data := t.TempDir()
	daemon, err := OpenKeyStore(StoreDir(data))
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := daemon.ReloadIfChanged(); changed || err != nil {
		t.Fatalf("ReloadIfChanged on an untouched store = %v, %v", changed, err)
	}
	var out, errOut bytes.Buffer
	if err := keysCommand([]string{"create", "--name", "cli", "--level", "ADMIN"}, data, &out, &errOut, func() time.Time { return t0 }, detRand(7)); err != nil {
		t.Fatal(err)
	}
	plaintext := findKey(t, out.String())
	if _, err := daemon.Lookup(plaintext); err == nil {
		t.Fatal("the daemon knew the key before reloading")
	}
	changed, err := daemon.ReloadIfChanged()
	if !changed || err != nil {
		t.Fatalf("ReloadIfChanged = %v, %v; want true", changed, err)
	}
	k, err := daemon.Lookup(plaintext)
	if err != nil || k.Level != messages.LevelAdmin || k.Name != "cli" {
		t.Fatalf("Lookup after reload = %+v, %v", k, err)
	}
	if changed, _ := daemon.ReloadIfChanged(); changed {
		t.Fatal("second ReloadIfChanged reloaded again")
	}
	// Revocation from the CLI reaches the daemon the same way.
	out.Reset()
	if err := keysCommand([]string{"revoke", k.ID}, data, &out, &errOut, func() time.Time { return t0 }, nil); err != nil {
		t.Fatal(err)
	}
	if changed, _ := daemon.ReloadIfChanged(); !changed {
		t.Fatal("revocation not seen")
	}
	_, err = daemon.Lookup(plaintext)
	wantErr(t, err, ErrRevokedKey)
	// Deleting the file removes every key.
	os.Remove(daemon.Path())
	if changed, err := daemon.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("after delete: %v, %v", changed, err)
	}
	if n := len(daemon.List()); n != 0 {
		t.Fatalf("%d keys after the file was deleted", n)
	}
}

// TestConcurrentWritersDoNotClobber: the daemon records a key's use while
// its in-memory copy is stale; the key the CLI created meanwhile survives.
func TestConcurrentWritersDoNotClobber(t *testing.T) {
	dir := t.TempDir()
	daemon, _ := OpenKeyStore(dir, WithRand(detRand(1)))
	cli, _ := OpenKeyStore(dir, WithRand(detRand(2)))
	_, k1, err := daemon.Create("daemon-side", messages.LevelUser, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ReloadIfChanged(); err != nil {
		t.Fatal(err)
	}
	p2, _, err := cli.Create("cli-side", messages.LevelUser, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.MarkUsed(k1.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	re, _ := OpenKeyStore(dir)
	if len(re.List()) != 2 {
		t.Fatalf("file has %d keys, want 2", len(re.List()))
	}
	if _, err := daemon.Lookup(p2); err != nil {
		t.Fatalf("daemon lost the CLI's key: %v", err)
	}
}

func TestMarkUsedGranularity(t *testing.T) {
	e := newEnv(t, Config{})
	_, k := e.key(t, "k", messages.LevelUser)
	if err := e.store.MarkUsed(k.ID, t0); err != nil {
		t.Fatal(err)
	}
	fi1, _ := os.Stat(e.store.Path())
	if err := e.store.MarkUsed(k.ID, t0.Add(59*time.Second)); err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(e.store.Path())
	if !os.SameFile(fi1, fi2) {
		t.Fatal("MarkUsed rewrote the file within a minute")
	}
	if err := e.store.MarkUsed(k.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ := e.store.ByID(k.ID)
	if !got.LastUsed.Equal(t0.Add(time.Minute)) {
		t.Fatalf("LastUsed = %v", got.LastUsed)
	}
	wantErr(t, e.store.MarkUsed("00000000", t0), ErrUnknownKey)
}

func TestRevokeResolve(t *testing.T) {
	e := newEnv(t, Config{})
	p1, k1 := e.key(t, "a", messages.LevelUser)
	_, k2 := e.key(t, "b", messages.LevelUser)
	tests := []struct {
		name string
		arg  string
		want error
	}{
		{"unknown", "ffffffff", ErrUnknownKey},
		{"not hex", "zzzz", ErrUnknownKey},
		{"too short prefix", k1.ID[:3], ErrUnknownKey},
		{"empty", "", ErrUnknownKey},
		{"full key", p1, nil},
		{"already revoked", k1.ID, ErrAlreadyRevoked},
		{"rmk_ prefixed id", "rmk_" + k2.ID[:6], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.store.Revoke(tt.arg, t0)
			wantErr(t, err, tt.want)
			if err != nil && strings.Contains(err.Error(), p1[13:]) {
				t.Fatal("error echoes a secret")
			}
		})
	}
	for _, k := range e.store.List() {
		if k.RevokedAt == nil {
			t.Errorf("key %s not revoked", k.ID)
		}
	}
	// Ambiguous prefixes: craft two ids sharing 4 digits.
	dir := t.TempDir()
	f := `{"version":1,"keys":[` +
		`{"id":"abcd0001","name":"x","level":30,"hash":"` + strings.Repeat("0", 64) + `","created_at":"2025-01-01T00:00:00Z"},` +
		`{"id":"abcd0002","name":"y","level":30,"hash":"` + strings.Repeat("1", 64) + `","created_at":"2025-01-01T00:00:00Z"}]}`
	os.WriteFile(filepath.Join(dir, KeysFileName), []byte(f), 0o600)
	ks, err := OpenKeyStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, ks.Revoke("abcd", t0), ErrAmbiguousKeyID)
	wantErr(t, ks.Revoke("abcd0002", t0), nil)
}

func findKey(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, KeyPrefix) {
			return line
		}
	}
	t.Fatalf("no key in output:\n%s", out)
	return ""
}
