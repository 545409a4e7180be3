package motion

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The reference's default datasets: emotions is the default library of
// play_recorded_move, both are preloaded with --preload-datasets.
const (
	EmotionsDataset = "pollen-robotics/reachy-mini-emotions-library"
	DancesDataset   = "pollen-robotics/reachy-mini-dances-library"
)

// Errors of Library; returned errors wrap them with the details.
var (
	ErrDatasetNotFound = errors.New("dataset not found")
	ErrMoveNotFound    = errors.New("move not found")
	ErrBadName         = errors.New("bad name")
)

// Library finds recorded-move datasets on disk. Dirs are searched in order
// and the first folder holding the dataset wins (its moves are not merged
// with other folders'). Each dir may be a plain datasets folder (dataset
// "org/name" in <dir>/org/name/) or a Hugging Face hub cache (dataset in
// <dir>/datasets--org--name/snapshots/<commit>/, <commit> read from
// refs/main, else the most recently modified snapshot).
//
// Library only reads. A dataset that no folder has is downloaded, as the
// reference does on a cache miss, by the datasets actor (actors/datasets)
// into the hub cache, one of the folders.
//
// Names are checked before they touch the filesystem, and every file is
// opened through an os.Root on the dataset folder (for a hub cache, the
// datasets--org--name folder, whose snapshots are relative symlinks into its
// blobs/), so neither a crafted name nor a symlink can reach a file outside
// it. The dataset folder itself may be a symlink: where it lives is the
// operator's choice.
type Library struct {
	Dirs []string
}

// DefaultHubCache resolves the Hugging Face hub cache as huggingface_hub does:
// $HF_HUB_CACHE, else the legacy $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub,
// else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub, with
// "~" and $VARS expanded. Unlike Python, a variable set to "" counts as unset
// (Python would turn it into a path relative to the working directory).
func DefaultHubCache() string {
	for _, env := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if v := os.Getenv(env); v != "" {
			return expandPath(v)
		}
	}
	home := os.Getenv("HF_HOME")
	if home == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			cache = filepath.Join("~", ".cache")
		}
		home = filepath.Join(cache, "huggingface")
	}
	return filepath.Join(expandPath(home), "hub")
}

// expandPath is Python's os.path.expandvars(os.path.expanduser(p)).
func expandPath(p string) string { return expandVars(expandUser(p)) }

func expandUser(p string) string {
	if !strings.HasPrefix(p, "~") {
		return p
	}
	name, rest, _ := strings.Cut(p[1:], string(filepath.Separator))
	var home string
	if name == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = h
		} else if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
	} else if u, err := user.Lookup(name); err == nil {
		home = u.HomeDir
	}
	if home == "" {
		return p
	}
	return filepath.Join(home, rest)
}

// expandVars replaces $name and ${name} by set environment variables and
// leaves the others untouched, as Python's os.path.expandvars does.
func expandVars(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		var name string
		end := i + 1
		if end < len(s) && s[end] == '{' {
			if j := strings.IndexByte(s[end:], '}'); j >= 0 {
				name, end = s[end+1:end+j], end+j+1
			}
		} else {
			for end < len(s) && isWordByte(s[end]) {
				end++
			}
			name = s[i+1 : end]
		}
		if v, ok := os.LookupEnv(name); ok && name != "" {
			b.WriteString(v)
			i = end
			continue
		}
		b.WriteByte('$')
		i++
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ValidateDatasetName accepts Hugging Face repo ids "owner/name". Besides
// "..", it refuses "--", which Hugging Face forbids in repo ids because its
// cache folder names use it as the separator.
func ValidateDatasetName(dataset string) error {
	owner, name, ok := strings.Cut(dataset, "/")
	if !ok || !validDatasetPart(owner) || !validDatasetPart(name) {
		return fmt.Errorf("%w: dataset %q is not a Hugging Face repo id owner/name (letters, digits, '.', '_', '-'; at most 96 each)", ErrBadName, dataset)
	}
	return nil
}

func validDatasetPart(s string) bool {
	if len(s) == 0 || len(s) > 96 || !isAlnum(s[0]) || strings.Contains(s, "..") || strings.Contains(s, "--") {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// ValidateMoveName accepts move names (file stems): a letter or digit then
// up to 127 letters, digits, '.', '_', '-' or spaces.
func ValidateMoveName(move string) error {
	ok := len(move) > 0 && len(move) <= 128 && isAlnum(move[0])
	for i := 1; ok && i < len(move); i++ {
		c := move[i]
		ok = isAlnum(c) || c == '.' || c == '_' || c == '-' || c == ' '
	}
	if !ok {
		return fmt.Errorf("%w: move %q (expected a letter or digit then up to 127 letters, digits, '.', '_', '-' or spaces)", ErrBadName, move)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// location is a found dataset: moves live under base (slash-separated,
// relative to root).
type location struct {
	root *os.Root
	base string
}

func (l *location) close() { l.root.Close() }

// path is the on-disk path of rel, for callers outside the root.
func (l *location) path(rel string) string {
	return filepath.Join(l.root.Name(), filepath.FromSlash(rel))
}

// isRegular reports whether rel is (or links, inside the root, to) a regular file.
func (l *location) isRegular(rel string) bool {
	fi, err := l.root.Stat(filepath.FromSlash(rel))
	return err == nil && fi.Mode().IsRegular()
}

func (lib Library) locate(dataset string) (*location, error) {
	if err := ValidateDatasetName(dataset); err != nil {
		return nil, err
	}
	owner, name, _ := strings.Cut(dataset, "/")
	var searched []string
	for _, dir := range lib.Dirs {
		if dir == "" {
			continue
		}
		plain := filepath.Join(dir, owner, name)
		searched = append(searched, plain)
		if loc := openPlain(plain); loc != nil {
			return loc, nil
		}
		repo := filepath.Join(dir, "datasets--"+owner+"--"+name)
		searched = append(searched, repo)
		if loc := openHub(repo); loc != nil {
			return loc, nil
		}
	}
	if len(searched) == 0 {
		return nil, fmt.Errorf("%w: %q (no dataset folders configured)", ErrDatasetNotFound, dataset)
	}
	return nil, fmt.Errorf("%w: %q (searched %s)", ErrDatasetNotFound, dataset, strings.Join(searched, ", "))
}

func openPlain(dir string) *location {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil
	}
	return &location{root: root, base: "."}
}

// openHub opens a hub cache repo folder at the snapshot refs/main names, or
// at its newest snapshot when that ref is missing or dangling (huggingface_hub
// would go to the network; the newest download is the best local guess).
func openHub(repo string) *location {
	if fi, err := os.Stat(repo); err != nil || !fi.IsDir() {
		return nil
	}
	root, err := os.OpenRoot(repo)
	if err != nil {
		return nil
	}
	isDir := func(rel string) bool {
		fi, err := root.Stat(filepath.FromSlash(rel))
		return err == nil && fi.IsDir()
	}
	if ref, err := readCapped(root, "refs/main", 1024); err == nil {
		if commit := strings.TrimSpace(string(ref)); isCommit(commit) && isDir("snapshots/"+commit) {
			return &location{root: root, base: "snapshots/" + commit}
		}
	}
	entries, _ := fs.ReadDir(root.FS(), "snapshots")
	var best string
	var bestTime time.Time
	for _, e := range entries {
		fi, err := root.Stat(filepath.Join("snapshots", e.Name()))
		if err != nil || !fi.IsDir() {
			continue
		}
		// Ties go to the greater name, so the choice does not depend on
		// directory order.
		if t := fi.ModTime(); best == "" || t.After(bestTime) || t.Equal(bestTime) && e.Name() > best {
			best, bestTime = e.Name(), t
		}
	}
	if best == "" {
		root.Close()
		return nil
	}
	return &location{root: root, base: "snapshots/" + best}
}

// isCommit matches huggingface_hub's REGEX_COMMIT_OID.
func isCommit(s string) bool {
	if len(s) < 5 || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// readCapped reads rel through root, refusing files over limit bytes.
func readCapped(root *os.Root, rel string, limit int64) ([]byte, error) {
	f, err := root.Open(filepath.FromSlash(rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes is over the %d byte limit", rel, fi.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: over the %d byte limit", rel, limit)
	}
	return data, nil
}

// Locate returns the folder holding the dataset's moves (for a hub cache,
// the snapshot folder).
func (lib Library) Locate(dataset string) (string, error) {
	loc, err := lib.locate(dataset)
	if err != nil {
		return "", err
	}
	defer loc.close()
	return loc.path(loc.base), nil
}

// List returns the sorted move names of a dataset: the stems of the *.json
// files at its root and in data/. Files whose stem is not a valid move name,
// or that are not regular files inside the dataset folder, are left out, so
// every listed name can be loaded. The reference lists in directory order.
func (lib Library) List(dataset string) ([]string, error) {
	loc, err := lib.locate(dataset)
	if err != nil {
		return nil, err
	}
	defer loc.close()
	seen := map[string]bool{}
	for _, sub := range []string{"", "data"} {
		dir := path.Join(loc.base, sub)
		entries, err := fs.ReadDir(loc.root.FS(), dir)
		if err != nil {
			if sub == "" {
				return nil, fmt.Errorf("dataset %q: %w", dataset, err)
			}
			continue // no data/ folder
		}
		for _, e := range entries {
			stem, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || ValidateMoveName(stem) != nil || !loc.isRegular(path.Join(dir, e.Name())) {
				continue
			}
			seen[stem] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Load parses a dataset's move and attaches its sidecar sound (same stem,
// first existing extension in the reference's order). When both <move>.json
// and data/<move>.json exist, data/ wins, as in the reference (it reads data/
// last and the later file replaces the earlier).
func (lib Library) Load(dataset, move string) (*Recorded, error) {
	if err := ValidateMoveName(move); err != nil {
		return nil, err
	}
	loc, err := lib.locate(dataset)
	if err != nil {
		return nil, err
	}
	defer loc.close()
	candidates := []string{path.Join(loc.base, "data", move+".json"), path.Join(loc.base, move+".json")}
	var rel string
	for _, c := range candidates {
		if loc.isRegular(c) {
			rel = c
			break
		}
	}
	if rel == "" {
		return nil, fmt.Errorf("%w: %q in dataset %q (looked for %s and %s)", ErrMoveNotFound, move, dataset,
			loc.path(candidates[0]), loc.path(candidates[1]))
	}
	data, err := readCapped(loc.root, rel, MaxRecordedBytes)
	if err != nil {
		return nil, fmt.Errorf("dataset %q move %q: %w", dataset, move, err)
	}
	rec, err := ParseRecorded(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc.path(rel), err)
	}
	stem := strings.TrimSuffix(rel, ".json")
	// The sidecar sound containers, in the reference's order of preference.
	for _, ext := range [...]string{".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac"} {
		if loc.isRegular(stem + ext) {
			return rec.WithSound(loc.path(stem + ext)), nil
		}
	}
	return rec, nil
}
