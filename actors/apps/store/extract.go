package store

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Path rules for every file an install writes (archives, folders, Hugging
// Face downloads): relative, '/'-separated, no "..", no NUL or backslash,
// at most maxPathLen bytes. Entries are only created below directories the
// extractor made itself (never through a symlink) and never twice, so no
// entry can redirect a later one outside the destination.
const (
	maxPathLen      = 1024
	maxComponentLen = 255
	maxSymlinkLen   = 1024
)

// ignoredDirs are skipped when copying a local folder: VCS data, caches and
// a developer's own virtual environment (full of absolute symlinks).
var ignoredDirs = map[string]bool{
	".git": true, ".hg": true, ".svn": true, "__pycache__": true, ".venv": true,
	".mypy_cache": true, ".pytest_cache": true, ".ruff_cache": true, ".tox": true,
}

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidApp, fmt.Sprintf(format, a...))
}

// cleanEntry validates an archive path and returns it cleaned ("" is the
// root itself).
func cleanEntry(name string) (string, error) {
	if name == "" || len(name) > maxPathLen || !utf8.ValidString(name) ||
		strings.ContainsAny(name, "\x00\\") {
		return "", invalidf("bad path %q", name)
	}
	if strings.HasPrefix(name, "/") {
		return "", invalidf("absolute path %q", name)
	}
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", invalidf("path %q leaves the app folder", name)
		}
		if len(p) > maxComponentLen {
			return "", invalidf("bad path %q", name)
		}
		parts = append(parts, p)
	}
	if len(parts) > 0 && len(parts[0]) == 2 && parts[0][1] == ':' {
		return "", invalidf("absolute path %q", name)
	}
	return strings.Join(parts, "/"), nil
}

// extractor writes validated entries below root within limits.
type extractor struct {
	root  string
	lim   Limits
	files int
	total int64
}

func newExtractor(root string, lim Limits) (*extractor, error) {
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, err
	}
	return &extractor{root: root, lim: lim.withDefaults()}, nil
}

func (x *extractor) count(name string) error {
	x.files++
	if x.files > x.lim.MaxFiles {
		return fmt.Errorf("%w: more than %d files (at %q)", ErrTooLarge, x.lim.MaxFiles, name)
	}
	return nil
}

// parents makes the parent directories of rel, refusing anything on the way
// that is not a real directory (a symlink or a file).
func (x *extractor) parents(rel string) error {
	dir := x.root
	parts := strings.Split(rel, "/")
	for _, p := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, p)
		st, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(dir, 0o755); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if !st.IsDir() {
			return invalidf("path %q goes through a non-directory", rel)
		}
	}
	return nil
}

func (x *extractor) fresh(rel string) (string, error) {
	if err := x.parents(rel); err != nil {
		return "", err
	}
	p := filepath.Join(x.root, filepath.FromSlash(rel))
	if _, err := os.Lstat(p); err == nil {
		return "", invalidf("duplicate entry %q", rel)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return p, nil
}

func (x *extractor) dir(name string) error {
	rel, err := cleanEntry(name)
	if err != nil {
		return err
	}
	if err := x.count(name); err != nil {
		return err
	}
	if rel == "" {
		return nil
	}
	if err := x.parents(rel); err != nil {
		return err
	}
	p := filepath.Join(x.root, filepath.FromSlash(rel))
	st, err := os.Lstat(p)
	if err == nil {
		if st.IsDir() {
			return nil
		}
		return invalidf("duplicate entry %q", rel)
	}
	return os.Mkdir(p, 0o755)
}

// file writes r as a regular file, counting bytes as they come: declared
// sizes in headers are never trusted.
func (x *extractor) file(name string, mode fs.FileMode, r io.Reader) error {
	rel, err := cleanEntry(name)
	if err != nil {
		return err
	}
	if rel == "" {
		return invalidf("file entry without a name")
	}
	if err := x.count(name); err != nil {
		return err
	}
	p, err := x.fresh(rel)
	if err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	budget := x.lim.MaxFileBytes
	if left := x.lim.MaxTotalBytes - x.total; left < budget {
		budget = left
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	er := &errReader{r: io.LimitReader(r, budget+1)}
	n, err := io.Copy(f, er)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	x.total += n
	if er.err != nil { // a corrupt archive, not a local I/O problem
		return invalidf("%s: %v", rel, er.err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if n > budget {
		if x.total > x.lim.MaxTotalBytes {
			return fmt.Errorf("%w: more than %d bytes in all (at %q)", ErrTooLarge, x.lim.MaxTotalBytes, rel)
		}
		return fmt.Errorf("%w: %q is larger than %d bytes", ErrTooLarge, rel, x.lim.MaxFileBytes)
	}
	return nil
}

// symlink creates a relative link that cannot leave root: its target may
// only climb ("..") at its start, no higher than the link's own folder is
// deep, and then only descend. Descending through other links is safe since
// each of them was checked the same way.
func (x *extractor) symlink(name, target string) error {
	rel, err := cleanEntry(name)
	if err != nil {
		return err
	}
	if rel == "" {
		return invalidf("symlink without a name")
	}
	if err := x.count(name); err != nil {
		return err
	}
	if err := checkLinkTarget(rel, target); err != nil {
		return err
	}
	p, err := x.fresh(rel)
	if err != nil {
		return err
	}
	return os.Symlink(target, p)
}

func checkLinkTarget(rel, target string) error {
	if target == "" || len(target) > maxSymlinkLen || strings.ContainsAny(target, "\x00\\") ||
		strings.HasPrefix(target, "/") || !utf8.ValidString(target) {
		return invalidf("symlink %q -> %q points outside the app folder", rel, target)
	}
	depth := strings.Count(rel, "/") // depth of the link's folder below root
	up, descended := 0, false
	for _, p := range strings.Split(target, "/") {
		switch {
		case p == "" || p == ".":
		case p == "..":
			if descended {
				return invalidf("symlink %q -> %q: \"..\" after a folder name", rel, target)
			}
			up++
		default:
			descended = true
		}
	}
	if up > depth {
		return invalidf("symlink %q -> %q points outside the app folder", rel, target)
	}
	return nil
}

// hardlink materialises a tar hard link as a copy of an already extracted
// regular file inside root.
func (x *extractor) hardlink(name, target string) error {
	trel, err := cleanEntry(target)
	if err != nil || trel == "" {
		return invalidf("hard link %q -> %q points outside the app folder", name, target)
	}
	dir := x.root
	for _, p := range strings.Split(trel, "/") {
		dir = filepath.Join(dir, p)
		st, err := os.Lstat(dir)
		if err != nil {
			return invalidf("hard link %q -> %q: target not extracted", name, target)
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return invalidf("hard link %q -> %q goes through a symlink", name, target)
		}
	}
	st, _ := os.Lstat(dir)
	if !st.Mode().IsRegular() {
		return invalidf("hard link %q -> %q: target is not a regular file", name, target)
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return x.file(name, st.Mode(), f)
}

// ExtractTar unpacks a tar stream into dest (created; must not exist).
func ExtractTar(r io.Reader, dest string, lim Limits) error {
	x, err := newExtractor(dest, lim)
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return invalidf("tar: %v", err)
		}
		switch h.Typeflag {
		case tar.TypeReg, '\x00':
			err = x.file(h.Name, h.FileInfo().Mode(), tr)
		case tar.TypeDir:
			err = x.dir(h.Name)
		case tar.TypeSymlink:
			err = x.symlink(h.Name, h.Linkname)
		case tar.TypeLink:
			err = x.hardlink(h.Name, h.Linkname)
		case tar.TypeXGlobalHeader: // git archive's comment header
			err = x.count(h.Name)
		default:
			err = invalidf("unsupported entry %q (type %q): only files, folders and links", h.Name, h.Typeflag)
		}
		if err != nil {
			return err
		}
	}
}

// ExtractZip unpacks a zip archive into dest (created; must not exist).
func ExtractZip(ra io.ReaderAt, size int64, dest string, lim Limits) error {
	lim = lim.withDefaults()
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return invalidf("zip: %v", err)
	}
	if len(zr.File) > lim.MaxFiles {
		return fmt.Errorf("%w: more than %d files", ErrTooLarge, lim.MaxFiles)
	}
	x, err := newExtractor(dest, lim)
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			rc, err := f.Open()
			if err != nil {
				return invalidf("zip %q: %v", f.Name, err)
			}
			b, err := io.ReadAll(io.LimitReader(rc, maxSymlinkLen+1))
			rc.Close()
			if err != nil {
				return invalidf("zip %q: %v", f.Name, err)
			}
			err = x.symlink(f.Name, string(b))
			if err != nil {
				return err
			}
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			if err := x.dir(f.Name); err != nil {
				return err
			}
		case mode.IsRegular():
			rc, err := f.Open()
			if err != nil {
				return invalidf("zip %q: %v", f.Name, err)
			}
			err = x.file(f.Name, mode, rc)
			rc.Close()
			if err != nil {
				return err
			}
		default:
			return invalidf("unsupported entry %q (%v): only files, folders and links", f.Name, mode.Type())
		}
	}
	return nil
}

// archiveKind tells the archive format from the file name.
func archiveKind(path string) string {
	n := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return "tgz"
	case strings.HasSuffix(n, ".tar"):
		return "tar"
	case strings.HasSuffix(n, ".zip"):
		return "zip"
	}
	return ""
}

// extractArchive unpacks the archive f, named name, into dest.
func extractArchive(f *os.File, name, dest string, lim Limits) error {
	kind := archiveKind(name)
	if kind == "" {
		return invalidf("%s: not a folder nor a .tar.gz, .tgz, .tar or .zip archive", filepath.Base(name))
	}
	switch kind {
	case "zip":
		st, err := f.Stat()
		if err != nil {
			return err
		}
		return ExtractZip(f, st.Size(), dest, lim)
	case "tgz":
		zr, err := gzip.NewReader(f)
		if err != nil {
			return invalidf("%v", err)
		}
		defer zr.Close()
		return ExtractTar(zr, dest, lim)
	default:
		return ExtractTar(f, dest, lim)
	}
}

// copyFS copies a local folder, opened as fsys (an os.Root's, so nothing
// outside it is read), with the same rules as an archive. Symlinks are
// copied as links (and checked as an archive's are), never followed.
func copyFS(fsys fs.FS, dest string, lim Limits) error {
	x, err := newExtractor(dest, lim)
	if err != nil {
		return err
	}
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			if ignoredDirs[d.Name()] {
				return fs.SkipDir
			}
			return x.dir(p)
		case t&fs.ModeSymlink != 0:
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				return err
			}
			return x.symlink(p, target)
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			f, err := fsys.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
				return invalidf("%q changed while it was copied", p)
			}
			return x.file(p, info.Mode(), f)
		default:
			return invalidf("unsupported file %q (%v): only files, folders and links", p, t)
		}
	})
}

// singleTopDir descends into an archive's only top-level folder
// ("app-1.0/...") when the app's own files are not at the top.
func singleTopDir(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(ents) == 1 && ents[0].Type().IsDir() {
		return filepath.Join(dir, ents[0].Name()), nil
	}
	return dir, nil
}

// errReader remembers a read error so it is not mistaken for a write error.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
