package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Errors of the checks an install makes before it touches anything.
var (
	// ErrNotAllowed: a local path outside the folders installs may read.
	ErrNotAllowed = errors.New("local path not allowed")
	// ErrNameMismatch: the app declares another name than the one asked for.
	ErrNameMismatch = errors.New("the app's name does not match")
	// ErrInUse: the app runs; its folder is not replaced or removed.
	ErrInUse = errors.New("the app is running")
)

// LocalSource is a folder or an archive on this machine to install from.
// It is read through an os.Root opened at Root, so nothing outside Root is
// read, even if a folder on the way is swapped for a symlink after
// ResolveLocal checked it.
type LocalSource struct {
	Root string // absolute, without symlinks
	Rel  string // the source inside Root ("." is Root itself), without symlinks when resolved
}

// Path is the source's absolute path.
func (l LocalSource) Path() string { return filepath.Join(l.Root, l.Rel) }

// inside reports whether p is root or below it (both clean and absolute).
func inside(p, root string) (string, bool) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// ResolveLocal resolves path (absolute) after symlinks and returns it
// confined to the first of roots that holds it; the roots are resolved too,
// and one that does not exist holds nothing. A path that resolves outside
// every root is ErrNotAllowed. A path that does not resolve at all is
// ErrInvalidApp if its deepest existing folder resolves inside a root, and
// ErrNotAllowed otherwise: a caller who may not install from a place learns
// nothing about what exists there.
func ResolveLocal(path string, roots []string) (LocalSource, error) {
	if !filepath.IsAbs(path) {
		return LocalSource{}, fmt.Errorf("%w: %q is not an absolute path", ErrNotAllowed, path)
	}
	clean := filepath.Clean(path)
	var rs []string // the roots, resolved
	for _, r := range roots {
		if !filepath.IsAbs(r) {
			continue
		}
		if real, err := filepath.EvalSymlinks(r); err == nil {
			rs = append(rs, real)
		}
	}
	within := func(real string) (LocalSource, bool) {
		for _, r := range rs {
			if rel, ok := inside(real, r); ok {
				return LocalSource{Root: r, Rel: rel}, true
			}
		}
		return LocalSource{}, false
	}
	real, err := filepath.EvalSymlinks(clean)
	if err != nil {
		// Said to be missing only if its deepest existing folder is inside.
		for dir := filepath.Dir(clean); ; dir = filepath.Dir(dir) {
			if rd, err := filepath.EvalSymlinks(dir); err == nil {
				if _, ok := within(rd); ok {
					return LocalSource{}, fmt.Errorf("%w: %s does not exist or cannot be read", ErrInvalidApp, filepath.Base(clean))
				}
				return LocalSource{}, ErrNotAllowed
			}
			if dir == filepath.Dir(dir) {
				return LocalSource{}, ErrNotAllowed
			}
		}
	}
	if src, ok := within(real); ok {
		return src, nil
	}
	return LocalSource{}, ErrNotAllowed
}

// AnyPath is path as a source confined to nothing but the filesystem: for
// callers trusted to read any path reachyd can.
func AnyPath(path string) (LocalSource, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return LocalSource{}, err
	}
	return ResolveLocal(abs, []string{string(filepath.Separator)})
}

// Guard is what an install checks before it puts an app in place. Its zero
// value checks nothing.
type Guard struct {
	// Name, if set, is the app the caller asked for: a package, manifest or
	// space that declares another app is refused with ErrNameMismatch and
	// nothing is installed. Names compare as SameName does.
	Name string
	// InUse, if set, reports whether the app of that name runs: its folder is
	// then neither replaced nor removed (ErrInUse). It is called under the
	// store's lock, which Launch takes too, so an app that starts after the
	// check launches the new files and one that started before keeps its own.
	InUse func(name string) bool
}

func (g Guard) checkName(declared, what string) error {
	if g.Name != "" && !SameName(g.Name, declared) {
		return fmt.Errorf("%w: %s declares the app '%s', not '%s'", ErrNameMismatch, what, declared, g.Name)
	}
	return nil
}

var sepRun = regexp.MustCompile(`[-_.]+`)

// SameName compares app names as Python package names compare (PEP 503):
// case, and runs of '-', '_' and '.', do not matter.
func SameName(a, b string) bool {
	norm := func(s string) string { return sepRun.ReplaceAllString(strings.ToLower(s), "-") }
	return norm(a) == norm(b)
}

// ManifestName reads the app name declared by the manifest of a local
// folder, if it has one ("" and no error when it has none): a caller can
// refuse a mismatch before any job starts.
func ManifestName(src LocalSource) (string, error) {
	r, err := os.OpenRoot(src.Root)
	if err != nil {
		return "", err
	}
	defer r.Close()
	f, err := r.Open(filepath.Join(src.Rel, ManifestFile))
	if err != nil {
		return "", nil // not a folder, or no manifest: decided later
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() > 64<<10 {
		return "", nil
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return "", nil
	}
	m, err := ParseManifest(b)
	if err != nil {
		return "", nil // the install reports it
	}
	return m.Name, nil
}
