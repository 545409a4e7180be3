package selfupdate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"runtime"
	"strings"
)

// IndexFormat is the version of the index format this reachyd reads. A
// change that old daemons would misread bumps it; new fields that they may
// ignore do not (unknown fields are ignored, so that an index can grow
// without locking out the daemons that must update through it).
const IndexFormat = 1

// IndexName is the product an index describes: an index for another
// program, signed by the same key, is refused.
const IndexName = "reachyd"

// Limits of an index: it comes from the network.
const (
	MaxIndexBytes      = 1 << 20
	maxReleases        = 1000
	maxBinaries        = 32
	maxRefs            = 32
	maxURLLen          = 2048
	DefaultMaxBinary   = 256 << 20
	maxRefLen          = 128
	maxCommitLen       = 64
	maxPlatformKeyPart = 32
)

// Index is the release index served at --update-url: every release of
// reachyd with its binaries. It is signed as a whole (see Sign); nothing in
// it is trusted before its signature is checked.
type Index struct {
	Format   int       `json:"format"`
	Name     string    `json:"name"`
	Releases []Release `json:"releases"`
}

// Release is one version of reachyd.
type Release struct {
	// Version is the release's semver; it must be what the binary prints
	// for --version.
	Version string `json:"version"`
	// Prerelease marks a release offered only with pre_release=true (a
	// version with pre-release identifiers is one too).
	Prerelease bool `json:"prerelease,omitempty"`
	// Refs are further names that validate-ref and start-from-ref accept
	// for this release (a tag, a branch name such as "main" or "beta"), as
	// the reference accepts git refs. The version itself and "v"+version
	// always name it.
	Refs []string `json:"refs,omitempty"`
	// Commit is the source commit the release was built from (reported by
	// /update/install-source after a ref install).
	Commit string `json:"commit,omitempty"`
	// Binaries maps "GOOS/GOARCH" (as runtime.GOOS and runtime.GOARCH) to
	// the binary for that platform.
	Binaries map[string]Binary `json:"binaries"`

	v Version
}

// Binary is one release binary.
type Binary struct {
	// URL is absolute (http or https) or relative to the index's URL.
	URL    string `json:"url"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Semver returns the release's parsed version.
func (r *Release) Semver() Version { return r.v }

// IsPrerelease reports whether the release is offered only with
// pre_release=true.
func (r *Release) IsPrerelease() bool { return r.Prerelease || r.v.Prerelease() }

// Platform is this program's platform key in an index.
func Platform() string { return runtime.GOOS + "/" + runtime.GOARCH }

var (
	sha256Hex   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	platformKey = regexp.MustCompile(`^[a-z0-9]{1,32}/[a-z0-9]{1,32}$`)
	commitHex   = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
)

// ParseIndex decodes and checks an index. It does not check a signature:
// call it on bytes whose signature was verified (Source does), or to check
// an index before signing it.
func ParseIndex(data []byte) (*Index, error) {
	if len(data) > MaxIndexBytes {
		return nil, fmt.Errorf("index: larger than %d bytes", MaxIndexBytes)
	}
	var ix Index
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&ix); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if dec.More() {
		return nil, errors.New("index: data after the JSON object")
	}
	if ix.Format != IndexFormat {
		return nil, fmt.Errorf("index: format %d, this reachyd reads format %d", ix.Format, IndexFormat)
	}
	if ix.Name != IndexName {
		return nil, fmt.Errorf("index: name %q, want %q", clip(ix.Name), IndexName)
	}
	if len(ix.Releases) > maxReleases {
		return nil, fmt.Errorf("index: %d releases, at most %d", len(ix.Releases), maxReleases)
	}
	versions := map[string]bool{}
	names := map[string]string{} // every ref name -> its release's version
	for i := range ix.Releases {
		r := &ix.Releases[i]
		v, err := ParseVersion(r.Version)
		if err != nil {
			return nil, fmt.Errorf("index: release %d: %w", i, err)
		}
		r.v = v
		// Build metadata does not order versions: two releases that
		// differ only in it would be a tie.
		key := Version{Major: v.Major, Minor: v.Minor, Patch: v.Patch, Pre: v.Pre}.String()
		if versions[key] {
			return nil, fmt.Errorf("index: version %s listed twice", key)
		}
		versions[key] = true
		if r.Commit != "" && !commitHex.MatchString(r.Commit) {
			return nil, fmt.Errorf("index: release %s: commit %q is not a lowercase hex hash", key, clip(r.Commit))
		}
		if len(r.Refs) > maxRefs {
			return nil, fmt.Errorf("index: release %s: %d refs, at most %d", key, len(r.Refs), maxRefs)
		}
		if len(r.Binaries) == 0 || len(r.Binaries) > maxBinaries {
			return nil, fmt.Errorf("index: release %s: %d binaries, want 1 to %d", key, len(r.Binaries), maxBinaries)
		}
		for p, b := range r.Binaries {
			if !platformKey.MatchString(p) {
				return nil, fmt.Errorf("index: release %s: platform %q is not GOOS/GOARCH", key, clip(p))
			}
			if err := b.check(); err != nil {
				return nil, fmt.Errorf("index: release %s, %s: %w", key, p, err)
			}
		}
		own := []string{r.Version, "v" + r.Version}
		for _, ref := range r.Refs {
			if err := checkRef(ref); err != nil {
				return nil, fmt.Errorf("index: release %s: %w", key, err)
			}
		}
		for _, ref := range append(own, r.Refs...) {
			if prev, ok := names[ref]; ok && prev != key {
				return nil, fmt.Errorf("index: ref %q names both %s and %s", clip(ref), prev, key)
			}
			names[ref] = key
		}
	}
	return &ix, nil
}

func (b Binary) check() error {
	switch {
	case b.URL == "" || len(b.URL) > maxURLLen:
		return fmt.Errorf("url empty or longer than %d bytes", maxURLLen)
	case b.Size <= 0 || b.Size > DefaultMaxBinary:
		return fmt.Errorf("size %d out of 1..%d", b.Size, DefaultMaxBinary)
	case !sha256Hex.MatchString(b.SHA256):
		return errors.New("sha256 is not 64 lowercase hex digits")
	}
	u, err := url.Parse(b.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url scheme %q: only http and https (or a URL relative to the index)", clip(u.Scheme))
	}
	if u.Scheme == "" && u.Host != "" {
		return errors.New("url: a scheme-relative URL is not accepted")
	}
	return nil
}

// checkRef accepts what a git ref name may look like, without spaces or
// control characters.
func checkRef(ref string) error {
	if ref == "" || len(ref) > maxRefLen {
		return fmt.Errorf("ref %q empty or longer than %d bytes", clip(ref), maxRefLen)
	}
	for _, c := range ref {
		if c <= ' ' || c == 0x7f || c == '\\' || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' || c == '[' {
			return fmt.Errorf("ref %q has a character a git ref cannot have", clip(ref))
		}
	}
	return nil
}

// Latest returns the newest release with a binary for platform, among
// stable releases, or every release when pre is true.
func (ix *Index) Latest(platform string, pre bool) (*Release, bool) {
	var best *Release
	for i := range ix.Releases {
		r := &ix.Releases[i]
		if _, ok := r.Binaries[platform]; !ok || (!pre && r.IsPrerelease()) {
			continue
		}
		if best == nil || r.v.Compare(best.v) > 0 {
			best = r
		}
	}
	return best, best != nil
}

// Resolve finds the release a ref names: its version, "v" + its version,
// or one of its refs. Refs are matched exactly (no git-style
// abbreviation): the index is the list of what can be installed.
func (ix *Index) Resolve(ref string) (*Release, bool) {
	ref = strings.TrimSpace(ref)
	for i := range ix.Releases {
		r := &ix.Releases[i]
		if ref == r.Version || ref == "v"+r.Version {
			return r, true
		}
		for _, n := range r.Refs {
			if n == ref {
				return r, true
			}
		}
	}
	return nil, false
}

// BinaryURL resolves a release binary's URL against the index's URL.
func BinaryURL(indexURL string, b Binary) (string, error) {
	base, err := url.Parse(indexURL)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(b.URL)
	if err != nil {
		return "", err
	}
	u := base.ResolveReference(ref)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("binary URL %q is not http or https", clip(u.String()))
	}
	return u.String(), nil
}
