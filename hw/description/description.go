// Package description finds the robot's description, the reference's
// descriptions/reachy_mini/urdf folder (robot.urdf and the STL meshes in
// assets/), for GET /api/kinematics/urdf and /api/kinematics/stl/{file}
// (daemon-api 1.4.6). reachyd does not ship the meshes or the URDF (they are
// the reference's, and large): it serves them from a folder given with
// --description-dir, or from where the reference's Python package keeps
// them: the reachy_mini package of the Python interpreter (asked without
// importing it), the usual site-packages folders, the virtual environments
// of reachyd's installed apps (which depend on the SDK), or a repository
// snapshot in the Hugging Face hub cache.
//
// Files are opened through os.Root on the folder, so a name cannot leave it
// (no "..", no absolute path, no symbolic link pointing out).
//
// Tested with fake description folders: each place it is found, the order
// of the search, traversal and symbolic links refused, sizes bounded.
package description

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// URDFFile is the description's robot file, AssetsDir its meshes' folder.
const (
	URDFFile  = "robot.urdf"
	AssetsDir = "assets"
)

// MaxURDF bounds the robot file read into memory.
const MaxURDF = 8 << 20

// packageRel is the description folder inside the reachy_mini package.
var packageRel = filepath.Join("descriptions", "reachy_mini", "urdf")

// Errors.
var (
	// ErrNotInstalled: no description folder was found.
	ErrNotInstalled = errors.New("no robot description installed")
	// ErrBadName: an asset name that is not a plain file name.
	ErrBadName = errors.New("not a file name")
)

// Finder locates the description folder. The zero value searches the
// standard places; use it by pointer.
type Finder struct {
	// Dir, when set, is the only place looked at: the urdf folder itself,
	// or a folder holding descriptions/reachy_mini/urdf,
	// reachy_mini/descriptions/reachy_mini/urdf or urdf.
	Dir string
	// Python is asked where its reachy_mini package is (default python3;
	// "none" skips it).
	Python string
	// AppsDir is reachyd's installed apps (<data-dir>/apps): their
	// virtual environments may hold the package.
	AppsDir string
	// HubCache is the Hugging Face hub cache, whose repository snapshots
	// may hold the reference's source tree.
	HubCache string
	// SitePackages are further site-packages folders (globs allowed); nil
	// means the usual system and user ones.
	SitePackages []string
	Log          *slog.Logger

	mu       sync.Mutex
	found    string
	searched time.Time
}

// retryAfter is how long a failed search is remembered (the search may run
// Python).
const retryAfter = 30 * time.Second

// defaultSitePackages are the places pip puts packages on Linux and in the
// reference's images (/venvs/<name>).
func defaultSitePackages() []string {
	pats := []string{
		"/usr/lib/python3*/site-packages", "/usr/lib/python3*/dist-packages",
		"/usr/local/lib/python3*/site-packages", "/usr/local/lib/python3*/dist-packages",
		"/venvs/*/lib/python3*/site-packages",
	}
	if h, err := os.UserHomeDir(); err == nil {
		pats = append(pats, filepath.Join(h, ".local", "lib", "python3*", "site-packages"))
	}
	return pats
}

// Find returns the description folder (the one holding robot.urdf), or
// ErrNotInstalled.
func (f *Finder) Find(ctx context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.found != "" {
		if isDescription(f.found) {
			return f.found, nil
		}
		f.found = "" // removed since: search again
	}
	if !f.searched.IsZero() && time.Since(f.searched) < retryAfter {
		return "", ErrNotInstalled
	}
	for _, d := range f.candidates(ctx) {
		if isDescription(d) {
			f.found = d
			f.searched = time.Time{}
			f.log().Info("robot description found", "dir", d)
			return d, nil
		}
	}
	f.searched = time.Now()
	return "", ErrNotInstalled
}

func (f *Finder) log() *slog.Logger {
	if f.Log == nil {
		return slog.Default()
	}
	return f.Log
}

// isDescription: dir holds a regular robot.urdf.
func isDescription(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, URDFFile))
	return err == nil && fi.Mode().IsRegular()
}

// candidates lists the folders to try, in order.
func (f *Finder) candidates(ctx context.Context) []string {
	if f.Dir != "" {
		return []string{
			f.Dir,
			filepath.Join(f.Dir, packageRel),
			filepath.Join(f.Dir, "reachy_mini", packageRel),
			filepath.Join(f.Dir, "urdf"),
		}
	}
	var out []string
	if pkg := f.pythonPackage(ctx); pkg != "" {
		out = append(out, filepath.Join(pkg, packageRel))
	}
	sites := f.SitePackages
	if sites == nil {
		sites = defaultSitePackages()
	}
	if f.AppsDir != "" {
		sites = append(sites, filepath.Join(f.AppsDir, "*", "venv", "lib", "python3*", "site-packages"))
	}
	for _, pat := range sites {
		out = append(out, glob(filepath.Join(pat, "reachy_mini", packageRel))...)
	}
	if f.HubCache != "" {
		snaps := glob(filepath.Join(f.HubCache, "*", "snapshots", "*"))
		for _, s := range snaps {
			out = append(out,
				filepath.Join(s, "src", "reachy_mini", packageRel),
				filepath.Join(s, "reachy_mini", packageRel),
				filepath.Join(s, packageRel))
		}
	}
	return out
}

// glob is filepath.Glob without its error (patterns here are well formed),
// at most 64 matches.
func glob(pat string) []string {
	m, _ := filepath.Glob(pat)
	if len(m) > 64 {
		m = m[:64]
	}
	return m
}

// pythonPackage asks the interpreter where the reachy_mini package is,
// without importing it (find_spec of a top-level package runs none of its
// code). "" when there is no interpreter or no package.
func (f *Finder) pythonPackage(ctx context.Context) string {
	py := f.Python
	if py == "" {
		py = "python3"
	}
	if py == "none" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	const script = `import importlib.util
s = importlib.util.find_spec("reachy_mini")
print(list(s.submodule_search_locations)[0] if s and s.submodule_search_locations else "")`
	cmd := exec.CommandContext(ctx, py, "-I", "-c", script)
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	p := strings.TrimSpace(string(out))
	if len(p) > 4096 || !filepath.IsAbs(p) {
		return ""
	}
	return p
}

// URDF reads robot.urdf (at most MaxURDF bytes).
func (f *Finder) URDF(ctx context.Context) ([]byte, error) {
	dir, err := f.Find(ctx)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	file, err := root.Open(URDFFile)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, MaxURDF+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxURDF {
		return nil, fmt.Errorf("%s is larger than %d bytes", URDFFile, MaxURDF)
	}
	return b, nil
}

// ValidName reports whether name is a plain file name: one path element,
// not "." or "..", no separator or NUL.
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= 255 &&
		!strings.ContainsAny(name, "/\\\x00")
}

// Asset opens a mesh of the assets folder for reading: a regular file
// inside it (symbolic links are followed only within it). path is where it
// is (or would be), for messages; a missing file is fs.ErrNotExist.
func (f *Finder) Asset(ctx context.Context, name string) (file *os.File, info fs.FileInfo, path string, err error) {
	dir, err := f.Find(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	assets := filepath.Join(dir, AssetsDir)
	path = filepath.Join(assets, name)
	if !ValidName(name) {
		return nil, nil, path, ErrBadName
	}
	root, err := os.OpenRoot(assets)
	if err != nil {
		return nil, nil, path, err
	}
	defer root.Close()
	file, err = root.Open(name)
	if err != nil {
		// A link that leads out of the folder is as good as missing.
		if !errors.Is(err, fs.ErrNotExist) {
			f.log().Info("robot description: asset refused", "name", name, "err", err)
			err = fmt.Errorf("%w: %v", fs.ErrNotExist, err)
		}
		return nil, nil, path, err
	}
	info, err = file.Stat()
	if err != nil || !info.Mode().IsRegular() {
		file.Close()
		return nil, nil, path, fs.ErrNotExist
	}
	return file, info, path, nil
}
