// Package store installs, lists, launches and removes Reachy Mini apps on
// disk, and talks to the Hugging Face catalogue.
//
// Layout under Store.Root, one folder per installed app:
//
//	<Root>/<name>/reachyd-app.json  metadata (see Installed)
//	<Root>/<name>/venv/             Python apps: the app's own virtual environment
//	<Root>/<name>/files/            executable apps: the copied app folder
//	<Root>/.staging/                installs in progress and folders being removed
//
// Every install is built in a fresh folder under .staging and renamed into
// place only once it fully succeeded, so a failed install leaves nothing
// behind and never touches an installed app of the same name.
//
// Python apps get one venv each (the reference shares one apps_venv; one
// per app keeps removal and reinstall from disturbing other apps). pip runs
// offline by default (--no-index --no-build-isolation --no-deps): an app's
// dependencies are then NOT installed and must already be importable, e.g.
// from the system with Store.SystemSitePackages. Store.AllowNetwork gives
// the reference's plain `pip install <dir>` for a robot with network.
//
// The package runs subprocesses (python3, pip) and does I/O but starts no
// long-lived goroutines: callers run it from their own job goroutines.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Errors, wrapped with %w and a reason; test them with errors.Is.
var (
	ErrNotInstalled  = errors.New("app is not installed")
	ErrInvalidName   = errors.New("invalid app name")
	ErrInvalidApp    = errors.New("invalid app")
	ErrTooLarge      = errors.New("app too large")
	ErrSpaceNotFound = errors.New("space not found")
	ErrNotAuthorized = errors.New("not authorized")
)

// App kinds.
const (
	KindPython = "python"
	KindExec   = "exec"
)

// MetadataFile is the name of the metadata file in each app folder.
const MetadataFile = "reachyd-app.json"

const (
	metadataFormat = 1
	stagingDir     = ".staging"
)

// Limits bound what an install may unpack or download. Zero fields take the
// defaults (DefaultLimits).
type Limits struct {
	MaxTotalBytes int64 // sum of all regular files
	MaxFiles      int   // entries of any type
	MaxFileBytes  int64 // one regular file
}

// DefaultLimits: generous for an app (code, web assets, a small model) yet
// far below what would fill the robot's SD card.
var DefaultLimits = Limits{MaxTotalBytes: 512 << 20, MaxFiles: 20000, MaxFileBytes: 256 << 20}

func (l Limits) withDefaults() Limits {
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultLimits.MaxTotalBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultLimits.MaxFileBytes
	}
	return l
}

// Store is the installed-apps folder. Use it by pointer; the zero values of
// the options are the defaults.
type Store struct {
	Root string

	// Python creates the per-app virtual environments. If empty, the first
	// of "python3" on PATH and /usr/bin/python3 that can build a wheel
	// offline is used (see FindPython), else "python3".
	Python string
	// AllowNetwork lets pip reach its index: dependencies get installed and
	// the build backend is fetched in an isolated build environment. Off by
	// default: the robot may be offline, so pip runs with --no-index
	// --no-build-isolation --no-deps and an app's dependencies must already be
	// importable (see SystemSitePackages).
	AllowNetwork bool
	// SystemSitePackages creates the venvs with --system-site-packages so
	// offline apps can use the SDK and libraries installed system-wide.
	SystemSitePackages bool
	// Limits for archives, folders and downloads.
	Limits Limits

	mu sync.Mutex // serialises the final swap, Remove and reads of it

	pyOnce sync.Once
	pyAuto string
}

// Source records where an installed app came from.
type Source struct {
	Kind    string `json:"kind"` // "local" or "hf_space"
	Path    string `json:"path,omitempty"`
	SpaceID string `json:"space_id,omitempty"`
	SHA     string `json:"sha,omitempty"`
	Private bool   `json:"private,omitempty"`
}

// Installed is an installed app's metadata, stored as MetadataFile.
type Installed struct {
	Format      int            `json:"format"`
	Name        string         `json:"name"`
	Kind        string         `json:"kind"` // KindPython or KindExec
	Description string         `json:"description"`
	URL         *string        `json:"url"`
	Extra       map[string]any `json:"extra"` // saved catalogue metadata, as the reference's .app_metadata
	// CustomAppURL is the app's settings page, read from main.py (Python) or
	// the manifest (exec).
	CustomAppURL *string `json:"custom_app_url"`
	// Python apps: the entry point "module:attr" in group reachy_mini_apps
	// and its module, launched as <venv>/bin/python -u -m <module>.
	EntryPoint string `json:"entry_point,omitempty"`
	Module     string `json:"module,omitempty"`
	// Exec apps: program (relative to files/) and arguments, extra env.
	Command     []string          `json:"command,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Source      Source            `json:"source"`
	InstalledAt time.Time         `json:"installed_at"`

	// Dir is the app folder (not stored).
	Dir string `json:"-"`
}

// VenvPath is the app's virtual environment ("" for exec apps).
func (i Installed) VenvPath() string {
	if i.Kind != KindPython {
		return ""
	}
	return filepath.Join(i.Dir, "venv")
}

// Launch says how to start an installed app: exec.Command(Path, Args...)
// with Dir and Env.
type Launch struct {
	Path string
	Args []string // arguments after the program
	Dir  string
	Env  []string
}

// nameRe: the reference's app names are Python entry-point/package names.
// '-' is accepted too (not first): some published entry points use it and
// it is harmless in a folder name; '.' is not, so no name is hidden or "..".
var nameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// ValidName reports whether name is acceptable as an installed app's name.
func ValidName(name string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("%w %q: want a letter then up to 63 letters, digits, '_' or '-'", ErrInvalidName, name)
	}
	return nil
}

func (s *Store) limits() Limits { return s.Limits.withDefaults() }

func (s *Store) python() string {
	if s.Python != "" {
		return s.Python
	}
	// Probed on first use, not at start-up: it runs two interpreters.
	s.pyOnce.Do(func() {
		s.pyAuto = "python3"
		if !s.AllowNetwork {
			if p := FindPython(context.Background(), "python3", "/usr/bin/python3"); p != "" {
				s.pyAuto = p
			}
		}
	})
	return s.pyAuto
}

// root is Root made absolute: launch paths must not depend on the working
// directory (exec resolves a relative program against Launch.Dir).
func (s *Store) root() (string, error) {
	if s.Root == "" {
		return "", errors.New("store: Root is not set")
	}
	return filepath.Abs(s.Root)
}

func (s *Store) appDir(name string) (string, error) {
	r, err := s.root()
	if err != nil {
		return "", err
	}
	return filepath.Join(r, name), nil
}

// List returns the installed apps sorted by name. Folders whose metadata is
// missing or unreadable (e.g. left by a crash) are skipped.
func (s *Store) List() ([]Installed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	root, err := s.root()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	var out []Installed
	for _, e := range ents {
		if !e.IsDir() || ValidName(e.Name()) != nil {
			continue
		}
		i, err := s.readMeta(e.Name())
		if err != nil {
			continue
		}
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// Get returns one installed app.
func (s *Store) Get(name string) (Installed, error) {
	if err := ValidName(name); err != nil {
		return Installed{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readMeta(name)
}

func (s *Store) readMeta(name string) (Installed, error) {
	dir, err := s.appDir(name)
	if err != nil {
		return Installed{}, err
	}
	b, err := readFileLimited(filepath.Join(dir, MetadataFile), 16<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return Installed{}, fmt.Errorf("%w: %q", ErrNotInstalled, name)
	}
	if err != nil {
		return Installed{}, fmt.Errorf("read metadata of %q: %w", name, err)
	}
	var i Installed
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&i); err != nil {
		return Installed{}, fmt.Errorf("%w: metadata of %q: %v", ErrInvalidApp, name, err)
	}
	if i.Name != name || (i.Kind != KindPython && i.Kind != KindExec) {
		return Installed{}, fmt.Errorf("%w: metadata of %q does not match its folder", ErrInvalidApp, name)
	}
	i.Dir = dir
	return i, nil
}

// Remove deletes an installed app: its folder, venv and metadata. It stops
// nothing: an app that g.InUse says runs is refused (ErrInUse).
func (s *Store) Remove(name string, g Guard, logf func(string)) error {
	logf = orNop(logf)
	if err := ValidName(name); err != nil {
		return err
	}
	s.mu.Lock()
	if g.InUse != nil && g.InUse(name) {
		s.mu.Unlock()
		return fmt.Errorf("%w: stop '%s' before removing it", ErrInUse, name)
	}
	if _, err := s.readMeta(name); err != nil && !errors.Is(err, ErrInvalidApp) {
		s.mu.Unlock()
		return err
	}
	dir, _ := s.appDir(name) // readMeta checked it
	trash, err := s.trashPath()
	if err == nil {
		// One rename makes the app disappear at once; the slow delete follows.
		err = os.Rename(dir, trash)
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	logf(fmt.Sprintf("Removing app '%s'", name))
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	logf(fmt.Sprintf("Successfully uninstalled '%s'", name))
	return nil
}

// Cleanup deletes leftovers of interrupted installs and removals. Call it
// at startup, before any install runs.
func (s *Store) Cleanup() error {
	r, err := s.root()
	if err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(r, stagingDir))
}

// scrubbedEnv are the variables the reference removes from an app's
// environment: they point into the daemon's own (bundled) GStreamer/GI.
var scrubbedEnv = []string{
	"GST_PLUGIN_PATH_1_0", "GST_PLUGIN_SYSTEM_PATH_1_0", "GST_REGISTRY_1_0", "GST_PLUGIN_SCANNER_1_0",
	"GI_TYPELIB_PATH", "PYGI_DLL_DIRS", "XDG_DATA_DIRS", "XDG_CONFIG_DIRS",
}

// AppEnv is the parent's environment minus the scrubbed variables, with
// extra overriding.
func AppEnv(extra map[string]string) []string {
	drop := map[string]bool{}
	for _, k := range scrubbedEnv {
		drop[k] = true
	}
	for k := range extra {
		drop[k] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// Launch returns how to start an installed app.
func (s *Store) Launch(name string) (Launch, error) {
	i, err := s.Get(name)
	if err != nil {
		return Launch{}, err
	}
	switch i.Kind {
	case KindPython:
		py := filepath.Join(i.VenvPath(), "bin", "python")
		if _, err := os.Stat(py); err != nil {
			return Launch{}, fmt.Errorf("%w: %q: venv python: %v", ErrInvalidApp, name, err)
		}
		if !moduleRe.MatchString(i.Module) {
			return Launch{}, fmt.Errorf("%w: %q: bad module %q", ErrInvalidApp, name, i.Module)
		}
		return Launch{Path: py, Args: []string{"-u", "-m", i.Module}, Dir: i.Dir, Env: AppEnv(nil)}, nil
	default:
		files := filepath.Join(i.Dir, "files")
		if len(i.Command) == 0 {
			return Launch{}, fmt.Errorf("%w: %q: empty command", ErrInvalidApp, name)
		}
		prog, err := resolveProgram(files, i.Command[0])
		if err != nil {
			return Launch{}, err
		}
		return Launch{Path: prog, Args: append([]string(nil), i.Command[1:]...), Dir: files, Env: AppEnv(i.Env)}, nil
	}
}

// InstalledInfo is the reference's installed AppInfo: empty description, no
// url, extra = {custom_app_url, venv_path} updated with the saved metadata.
func InstalledInfo(i Installed) AppInfo {
	extra := map[string]any{"custom_app_url": nil, "venv_path": nil}
	if i.CustomAppURL != nil {
		extra["custom_app_url"] = *i.CustomAppURL
	}
	if v := i.VenvPath(); v != "" {
		extra["venv_path"] = v
	}
	for k, v := range i.Extra {
		extra[k] = v
	}
	return AppInfo{Name: i.Name, SourceKind: SourceInstalled, Extra: extra}
}

// ---- staging and the final swap ----

func (s *Store) stagingRoot() (string, error) {
	r, err := s.root()
	if err != nil {
		return "", err
	}
	p := filepath.Join(r, stagingDir)
	if err := os.MkdirAll(p, 0o700); err != nil {
		return "", err
	}
	return p, nil
}

func (s *Store) newStage() (string, error) {
	st, err := s.stagingRoot()
	if err != nil {
		return "", err
	}
	return os.MkdirTemp(st, "install-")
}

func (s *Store) trashPath() (string, error) {
	st, err := s.stagingRoot()
	if err != nil {
		return "", err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(st, "trash-"+hex.EncodeToString(b[:])), nil
}

// commit moves a finished stage into place, replacing any installed app of
// the same name unless g says it runs. The old folder is first renamed
// aside and restored if the second rename fails, so a name is never left
// without its last good app.
func (s *Store) commit(stage string, i Installed, g Guard, logf func(string)) (Installed, error) {
	if err := writeMeta(stage, i); err != nil {
		return Installed{}, err
	}
	dst, err := s.appDir(i.Name)
	if err != nil {
		return Installed{}, err
	}
	s.mu.Lock()
	if g.InUse != nil && g.InUse(i.Name) {
		s.mu.Unlock()
		return Installed{}, fmt.Errorf("%w: stop '%s' before installing it again", ErrInUse, i.Name)
	}
	var old string
	if _, err := os.Lstat(dst); err == nil {
		t, err := s.trashPath()
		if err == nil {
			err = os.Rename(dst, t)
		}
		if err != nil {
			s.mu.Unlock()
			return Installed{}, fmt.Errorf("replace %q: %w", i.Name, err)
		}
		old = t
	}
	if err := os.Rename(stage, dst); err != nil {
		if old != "" {
			_ = os.Rename(old, dst)
		}
		s.mu.Unlock()
		return Installed{}, fmt.Errorf("install %q: %w", i.Name, err)
	}
	s.mu.Unlock()
	if old != "" {
		logf(fmt.Sprintf("Replaced the previously installed '%s'", i.Name))
		_ = os.RemoveAll(old)
	}
	i.Dir = dst
	return i, nil
}

// writeMeta writes the metadata atomically (temp file, fsync, rename).
// Private spaces' metadata is 0600: it names a private repository.
func writeMeta(dir string, i Installed) error {
	i.Format = metadataFormat
	if i.Extra == nil {
		i.Extra = map[string]any{}
	}
	b, err := json.MarshalIndent(i, "", "  ")
	if err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if i.Source.Private {
		perm = 0o600
	}
	return writeFileAtomic(filepath.Join(dir, MetadataFile), append(b, '\n'), perm)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

func readFileLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, path, max)
	}
	b := make([]byte, st.Size())
	_, err = io.ReadFull(f, b)
	return b, err
}

func orNop(logf func(string)) func(string) {
	if logf == nil {
		return func(string) {}
	}
	return logf
}

// ---- install ----

// InstallLocal installs an app from a folder or an archive (.tar.gz, .tgz,
// .tar, .zip) at any path reachyd can read, with no guard. A folder holding
// reachy-app.yaml is an executable app; otherwise it must be a Python
// package declaring an entry point in the group reachy_mini_apps.
func (s *Store) InstallLocal(ctx context.Context, src string, logf func(string)) (Installed, error) {
	ls, err := AnyPath(src)
	if err != nil {
		return Installed{}, err
	}
	return s.InstallLocalFrom(ctx, ls, Guard{}, logf)
}

// InstallLocalFrom installs an app from a folder or an archive confined to
// src.Root (see LocalSource), checked by g.
func (s *Store) InstallLocalFrom(ctx context.Context, src LocalSource, g Guard, logf func(string)) (Installed, error) {
	logf = orNop(logf)
	root, err := os.OpenRoot(src.Root)
	if err != nil {
		return Installed{}, fmt.Errorf("%w: %v", ErrInvalidApp, err)
	}
	defer root.Close()
	abs := src.Path()
	st, err := root.Stat(src.Rel)
	if err != nil {
		return Installed{}, fmt.Errorf("%w: %s does not exist or cannot be read", ErrInvalidApp, filepath.Base(abs))
	}
	stage, err := s.newStage()
	if err != nil {
		return Installed{}, err
	}
	defer os.RemoveAll(stage) // after a successful commit it no longer exists
	srcDir := filepath.Join(stage, "src")
	lim := s.limits()
	if st.IsDir() {
		if d, err := filepath.Abs(stage); err == nil {
			if _, in := inside(d, abs); in {
				return Installed{}, invalidf("the source folder %s contains the store", abs)
			}
		}
		logf(fmt.Sprintf("Copying %s", abs))
		var sub *os.Root
		if sub, err = root.OpenRoot(src.Rel); err == nil {
			err = copyFS(sub.FS(), srcDir, lim)
			sub.Close()
		}
	} else {
		logf(fmt.Sprintf("Extracting %s", abs))
		var f *os.File
		if f, err = root.Open(src.Rel); err == nil {
			err = extractArchive(f, abs, srcDir, lim)
			f.Close()
		}
		if err == nil {
			srcDir, err = singleTopDir(srcDir)
		}
	}
	if err != nil {
		return Installed{}, err
	}
	return s.installStaged(ctx, stage, srcDir, installReq{
		source: Source{Kind: SourceLocal, Path: abs},
		extra:  map[string]any{"path": abs},
		guard:  g,
	}, logf)
}

type installReq struct {
	source      Source
	extra       map[string]any
	description string
	url         *string
	nameHint    string // picks among several entry points
	guard       Guard
}

// installStaged installs the tree at srcDir (inside stage) and commits stage.
func (s *Store) installStaged(ctx context.Context, stage, srcDir string, req installReq, logf func(string)) (Installed, error) {
	i := Installed{
		Description: req.description,
		URL:         req.url,
		Extra:       req.extra,
		Source:      req.source,
		InstalledAt: time.Now().UTC(),
	}
	if _, err := os.Lstat(filepath.Join(srcDir, ManifestFile)); err == nil {
		m, err := loadManifest(srcDir, req.source.Kind == SourceHFSpace)
		if err != nil {
			return Installed{}, err
		}
		files := filepath.Join(stage, "files")
		if err := os.Rename(srcDir, files); err != nil {
			return Installed{}, err
		}
		i.Name, i.Kind, i.Command, i.Env, i.CustomAppURL = m.Name, KindExec, m.Command, m.Env, m.CustomAppURL
		if i.Description == "" {
			i.Description = m.Description
		}
		logf(fmt.Sprintf("Installing executable app '%s'", i.Name))
	} else {
		hint := req.nameHint
		if req.guard.Name != "" {
			hint = req.guard.Name
		}
		py, err := s.installPython(ctx, stage, srcDir, hint, logf)
		if err != nil {
			return Installed{}, err
		}
		for _, d := range []string{srcDir, filepath.Join(stage, "wheels")} {
			if err := os.RemoveAll(d); err != nil {
				return Installed{}, err
			}
		}
		i.Name, i.Kind, i.EntryPoint, i.Module, i.CustomAppURL = py.name, KindPython, py.entryPoint, py.module, py.customAppURL
		if i.Description == "" {
			i.Description = py.summary
		}
	}
	what := "the package"
	if i.Kind == KindExec {
		what = ManifestFile
	}
	if err := req.guard.checkName(i.Name, what); err != nil {
		return Installed{}, err
	}
	out, err := s.commit(stage, i, req.guard, logf)
	if err != nil {
		return Installed{}, err
	}
	logf(fmt.Sprintf("Successfully installed '%s' in %s", out.Name, out.Dir))
	return out, nil
}
