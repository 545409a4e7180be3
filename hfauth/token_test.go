package hfauth

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// clearEnv leaves the test with no token in the environment and the token
// files in a temporary HF_HOME.
func clearEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "XDG_CACHE_HOME"} {
		t.Setenv(k, "")
	}
	t.Setenv("HF_HOME", home)
	return home
}

func TestTokenPathFollowsHuggingfaceHub(t *testing.T) {
	clearEnv(t)
	t.Setenv("HF_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got := TokenPath(); got != "/home/u/.cache/huggingface/token" {
		t.Errorf("default: %s", got)
	}
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := TokenPath(); got != "/xdg/huggingface/token" {
		t.Errorf("XDG_CACHE_HOME: %s", got)
	}
	t.Setenv("HF_HOME", "~/hf")
	if got := TokenPath(); got != "/home/u/hf/token" {
		t.Errorf("HF_HOME with ~: %s", got)
	}
	t.Setenv("SOMEWHERE", "/data")
	t.Setenv("HF_TOKEN_PATH", "$SOMEWHERE/tok")
	if got := TokenPath(); got != "/data/tok" {
		t.Errorf("HF_TOKEN_PATH with a variable: %s", got)
	}
	t.Setenv("HF_TOKEN_PATH", "${SOMEWHERE}/$UNSET_X/${UNSET_Y}/$/t")
	if got := TokenPath(); got != "/data/$UNSET_X/${UNSET_Y}/$/t" {
		t.Errorf("unknown variables stay: %s", got)
	}
	t.Setenv("HF_TOKEN_PATH", "$SOMEWHERE/tok")
	if got := (&Store{}).StoredTokensPath(); got != "/data/stored_tokens" {
		t.Errorf("stored_tokens beside the token: %s", got)
	}
}

func TestLoginWritesBothFilesPrivately(t *testing.T) {
	home := filepath.Join(clearEnv(t), "new", "hf")
	t.Setenv("HF_HOME", home)
	s := &Store{}
	if s.Token() != "" {
		t.Fatal("a token before login")
	}
	if err := s.Login(Saved{Token: "hf_one", Name: "laptop"}); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{home: 0o700 | os.ModeDir, filepath.Join(home, "token"): 0o600, filepath.Join(home, "stored_tokens"): 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode(), err, mode)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(home, "token")); string(b) != "hf_one" {
		t.Errorf("token file: %q", b)
	}
	// A second login keeps the other named token, with the OAuth fields.
	if err := s.Login(Saved{Token: "hf_oauth_two", Name: "oauth-alice", RefreshToken: "r2", ExpiresAt: 1700000000}); err != nil {
		t.Fatal(err)
	}
	if got := s.StoredTokens(); !reflect.DeepEqual(got, map[string]string{"laptop": "hf_one", "oauth-alice": "hf_oauth_two"}) {
		t.Errorf("stored tokens: %v", got)
	}
	if s.Token() != "hf_oauth_two" {
		t.Errorf("active token: %q", s.Token())
	}
	b, _ := os.ReadFile(filepath.Join(home, "stored_tokens"))
	want := "[laptop]\nhf_token = hf_one\n\n[oauth-alice]\nhf_token = hf_oauth_two\nexpires_at = 1700000000\nrefresh_token = r2\n\n"
	if string(b) != want {
		t.Errorf("stored_tokens:\n%s\nwant:\n%s", b, want)
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(home)
	if len(entries) != 2 {
		t.Errorf("files in the token folder: %v", entries)
	}
	// Python's configparser (what huggingface_hub reads it with) agrees.
	if _, err := exec.LookPath("python3"); err == nil {
		out, err := exec.Command("python3", "-c", `import configparser, json, sys
c = configparser.ConfigParser(interpolation=None)
c.read(sys.argv[1])
print(json.dumps({s: dict(c.items(s)) for s in c.sections()}))`, filepath.Join(home, "stored_tokens")).Output()
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]map[string]string
		if err := json.Unmarshal(out, &got); err != nil || got["oauth-alice"]["refresh_token"] != "r2" || got["laptop"]["hf_token"] != "hf_one" {
			t.Errorf("configparser reads %s (%v)", out, err)
		}
	}
}

func TestEnvironmentTokenWins(t *testing.T) {
	clearEnv(t)
	s := &Store{}
	if err := s.Login(Saved{Token: "hf_file"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUGGING_FACE_HUB_TOKEN", " hf_legacy\n")
	if s.Token() != "hf_legacy" {
		t.Errorf("legacy variable: %q", s.Token())
	}
	t.Setenv("HF_TOKEN", "hf_env")
	if s.Token() != "hf_env" || s.FileToken() != "hf_file" {
		t.Errorf("HF_TOKEN: %q, file %q", s.Token(), s.FileToken())
	}
	// Logout deletes the files but cannot unset the variable: it says so.
	if err := s.Logout(); !errors.Is(err, ErrEnvToken) {
		t.Fatalf("logout with HF_TOKEN: %v", err)
	}
	if s.FileToken() != "" || s.Token() != "hf_env" {
		t.Errorf("after logout: file %q, token %q", s.FileToken(), s.Token())
	}
}

func TestLogoutRemovesEveryStoredToken(t *testing.T) {
	home := clearEnv(t)
	s := &Store{}
	if err := s.Logout(); err != nil {
		t.Fatalf("logout when signed out: %v", err)
	}
	_ = s.Login(Saved{Token: "hf_a", Name: "a"})
	_ = s.Login(Saved{Token: "hf_b", Name: "b"})
	if err := s.Logout(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 || s.Token() != "" {
		t.Errorf("left: %v, token %q", entries, s.Token())
	}
}

// A reader of the token file sees the old token or the new one whole: the
// new file replaces the old by rename, never by rewriting it in place.
func TestTokenReplacementIsAtomic(t *testing.T) {
	home := clearEnv(t)
	s := &Store{}
	_ = s.Login(Saved{Token: "hf_old_token"})
	f, err := os.Open(filepath.Join(home, "token"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.Login(Saved{Token: "hf_new"}); err != nil {
		t.Fatal(err)
	}
	old, _ := io.ReadAll(f)
	if string(old) != "hf_old_token" || s.FileToken() != "hf_new" {
		t.Errorf("open reader sees %q, the path %q", old, s.FileToken())
	}
	// A write that fails leaves the old file and no temporary file.
	bad := filepath.Join(home, "dir-token")
	if err := os.MkdirAll(filepath.Join(bad, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := (&Store{Path: bad}).Login(Saved{Token: "hf_x"}); err == nil {
		t.Fatal("a token written over a folder")
	}
	entries, _ := os.ReadDir(home)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestParseINI(t *testing.T) {
	in := "# comment\nstray = 1\n[a]\nHF_Token = x\nrefresh_token: y\n  more\n; c\n[b]\nhf_token=z\n[broken\nk = v\n"
	got := ParseINI([]byte(in))
	want := map[string]map[string]string{"a": {"hf_token": "x", "refresh_token": "y\nmore"}, "b": {"hf_token": "z"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%v", got)
	}
	if back := ParseINI(formatINI(got)); !reflect.DeepEqual(back, want) {
		t.Errorf("round trip: %v", back)
	}
}

func FuzzParseINI(f *testing.F) {
	f.Add([]byte("[a]\nhf_token = x\n\n[b]\nhf_token = y\nexpires_at = 1\n"))
	f.Add([]byte("[\n]\n=\n  x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := ParseINI(b)
		if len(m) > 1000 {
			t.Fatalf("%d sections", len(m))
		}
		// What it parses, it writes back to the same sections.
		for name := range m {
			if strings.ContainsAny(name, "]\n") {
				return // not a name formatINI can write; sectionName cleans those
			}
		}
		back := ParseINI(formatINI(m))
		if len(back) != len(m) {
			t.Fatalf("round trip lost sections: %v -> %v", m, back)
		}
	})
}
