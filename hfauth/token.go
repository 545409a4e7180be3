package hfauth

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Where huggingface_hub keeps its token (constants.py): $HF_TOKEN_PATH, else
// $HF_HOME/token, else $XDG_CACHE_HOME/huggingface/token, else
// ~/.cache/huggingface/token, with ~ and $VARS expanded; the named tokens
// ("stored_tokens", an INI file) sit beside it.

// TokenPath is huggingface_hub's token file, from the environment ("" when
// no home folder can be found).
func TokenPath() string {
	if p := os.Getenv("HF_TOKEN_PATH"); p != "" {
		return expand(p)
	}
	home := os.Getenv("HF_HOME")
	if home == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			cache = filepath.Join(h, ".cache")
		}
		home = filepath.Join(cache, "huggingface")
	}
	return filepath.Join(expand(home), "token")
}

// expand is Python's os.path.expandvars(os.path.expanduser(p)).
func expand(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			p = h + p[1:]
		}
	}
	return expandVars(p)
}

// expandVars is Python's os.path.expandvars: $name and ${name} replaced by
// the variable's value when it is set, left as they are otherwise.
func expandVars(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); {
		if p[i] != '$' {
			b.WriteByte(p[i])
			i++
			continue
		}
		name, end := "", i+1
		if end < len(p) && p[end] == '{' {
			if j := strings.IndexByte(p[end:], '}'); j > 0 {
				name, end = p[end+1:end+j], end+j+1
			}
		} else {
			for end < len(p) && (p[end] == '_' || p[end] >= '0' && p[end] <= '9' || p[end]|0x20 >= 'a' && p[end]|0x20 <= 'z') {
				end++
			}
			name = p[i+1 : end]
		}
		if v, ok := os.LookupEnv(name); ok && name != "" {
			b.WriteString(v)
		} else {
			b.WriteString(p[i:end])
		}
		i = end
	}
	return b.String()
}

// EnvToken is the token the environment imposes: $HF_TOKEN, else the legacy
// $HUGGING_FACE_HUB_TOKEN, cleaned as huggingface_hub cleans it ("" when
// neither is set).
func EnvToken() string {
	t := cleanToken(os.Getenv("HF_TOKEN"))
	if t == "" {
		t = cleanToken(os.Getenv("HUGGING_FACE_HUB_TOKEN"))
	}
	return t
}

// cleanToken is huggingface_hub's _clean_token: CR and LF removed, spaces
// trimmed.
func cleanToken(s string) string {
	s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	return strings.TrimSpace(s)
}

// maxTokenFile bounds what is read of the token file and of stored_tokens.
const maxTokenFile = 64 << 10

// Store is huggingface_hub's token storage, shared with `hf auth login`
// (`huggingface-cli login`), the apps the daemon runs and any Python
// program of the same user. The zero value uses the environment's paths,
// looked up at each call.
type Store struct {
	// Path overrides TokenPath(); stored_tokens is beside it.
	Path string

	mu sync.Mutex
}

// TokenPath is the token file this store uses.
func (s *Store) TokenPath() string {
	if s != nil && s.Path != "" {
		return s.Path
	}
	return TokenPath()
}

// StoredTokensPath is the INI file of named tokens, beside the token file.
func (s *Store) StoredTokensPath() string {
	p := s.TokenPath()
	if p == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(p), "stored_tokens")
}

// Token is the token huggingface_hub's get_token() returns: the
// environment's, else the token file's ("" when signed out).
func (s *Store) Token() string {
	if t := EnvToken(); t != "" {
		return t
	}
	return s.FileToken()
}

// FileToken is the token file's token, ignoring the environment.
func (s *Store) FileToken() string {
	b, err := readBounded(s.TokenPath())
	if err != nil {
		return ""
	}
	return cleanToken(string(b))
}

func readBounded(path string) ([]byte, error) {
	if path == "" {
		return nil, os.ErrNotExist
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxTokenFile))
}

// Saved describes a token to save: huggingface_hub's login() stores it in
// stored_tokens under Name (the token's display name, "oauth-<user>" for
// an OAuth token) with its refresh token and expiry (OAuth device flow),
// and makes it the active token (the token file).
type Saved struct {
	Token, Name  string
	RefreshToken string
	ExpiresAt    int64 // unix seconds; 0: unknown
}

// Login saves a token as huggingface_hub's login() does: its section in
// stored_tokens (other named tokens are kept), then the token file. Both
// are written atomically with mode 0600.
func (s *Store) Login(v Saved) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.TokenPath() == "" {
		return errors.New("no folder for the Hugging Face token (no home folder, HF_HOME or HF_TOKEN_PATH)")
	}
	if v.Name != "" {
		stored := s.readStored()
		fields := map[string]string{"hf_token": v.Token}
		if v.RefreshToken != "" {
			fields["refresh_token"] = v.RefreshToken
		}
		if v.ExpiresAt > 0 {
			fields["expires_at"] = fmt.Sprint(v.ExpiresAt)
		}
		stored[sectionName(v.Name)] = fields
		if err := writeSecret(s.StoredTokensPath(), formatINI(stored)); err != nil {
			return err
		}
	}
	return writeSecret(s.TokenPath(), []byte(v.Token))
}

func (s *Store) readStored() map[string]map[string]string {
	b, err := readBounded(s.StoredTokensPath())
	if err != nil {
		return map[string]map[string]string{}
	}
	return ParseINI(b)
}

// StoredTokens returns the named tokens of stored_tokens (name -> token).
func (s *Store) StoredTokens() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for name, f := range s.readStored() {
		out[name] = f["hf_token"]
	}
	return out
}

// ErrEnvToken is Logout's answer when the files are gone but the
// environment still signs the daemon in: huggingface_hub's logout() raises
// then too, since a program cannot unset its parent's environment.
var ErrEnvToken = errors.New("the token files were deleted, but HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) is set in the daemon's environment " +
	"and still signs it in: unset it where the daemon is started to sign out")

// Logout is huggingface_hub's logout() without a token name: it deletes the
// token file and stored_tokens (every named token). When HF_TOKEN is set
// it still deletes them and returns ErrEnvToken.
func (s *Store) Logout() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range []string{s.TokenPath(), s.StoredTokensPath()} {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("delete the Hugging Face token: %w", err)
		}
	}
	if EnvToken() != "" {
		return ErrEnvToken
	}
	return nil
}

// sectionName makes a token name safe as an INI section header (a display
// name is the user's free text).
func sectionName(n string) string {
	n = strings.Map(func(r rune) rune {
		switch {
		case r == '[' || r == ']' || r < 0x20 || r == 0x7f:
			return '_'
		}
		return r
	}, strings.TrimSpace(n))
	if n == "" {
		n = "token"
	}
	return n
}

// writeSecret writes a file atomically (temporary file in the same folder,
// fsync, rename, fsync of the folder) with mode 0600; the folder is created
// with mode 0700 when missing. A reader sees the old file or the new one,
// never a part.
func writeSecret(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write the Hugging Face token: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err == nil {
		if _, err = f.Write(data); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the Hugging Face token: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write the Hugging Face token: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// ParseINI reads the subset of Python's configparser format that
// stored_tokens uses: "[section]" headers, "key = value" (or "key: value")
// lines, "#" and ";" comments, keys lowercased as configparser does, and
// indented continuation lines appended with a newline. Lines before any
// section and malformed lines are skipped. At most maxTokenFile bytes are
// read, and at most 1000 sections kept.
func ParseINI(b []byte) map[string]map[string]string {
	if len(b) > maxTokenFile {
		b = b[:maxTokenFile]
	}
	out := map[string]map[string]string{}
	var cur map[string]string
	var lastKey string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxTokenFile+1)
	for sc.Scan() {
		raw := strings.TrimRight(sc.Text(), "\r")
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			lastKey = ""
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if cur != nil && lastKey != "" {
				cur[lastKey] += "\n" + line
			}
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				cur, lastKey = nil, ""
				continue
			}
			name := line[1:end]
			if _, ok := out[name]; !ok && len(out) >= 1000 {
				cur, lastKey = nil, ""
				continue
			}
			if out[name] == nil {
				out[name] = map[string]string{}
			}
			cur, lastKey = out[name], ""
			continue
		}
		i := strings.IndexAny(line, "=:")
		if cur == nil || i <= 0 {
			lastKey = ""
			continue
		}
		k := strings.ToLower(strings.TrimSpace(line[:i]))
		if k == "" {
			lastKey = ""
			continue
		}
		cur[k] = strings.TrimSpace(line[i+1:])
		lastKey = k
	}
	return out
}

// formatINI writes sections in configparser's format ("[name]", "key =
// value", a blank line), sections sorted by name as huggingface_hub sorts
// them, hf_token first.
func formatINI(m map[string]map[string]string) []byte {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "[%s]\n", n)
		keys := make([]string, 0, len(m[n]))
		for k := range m[n] {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if (keys[i] == "hf_token") != (keys[j] == "hf_token") {
				return keys[i] == "hf_token"
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			v := strings.ReplaceAll(m[n][k], "\n", "\n\t")
			fmt.Fprintf(&b, "%s = %s\n", k, v)
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}
