package selfupdate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a Semantic Versioning 2.0.0 version. reachyd's versions are
// semver (main.Version, set with -ldflags at release), so a release index
// can be ordered by precedence without guessing, unlike PyPI's PEP 440
// strings the reference converts.
type Version struct {
	Major, Minor, Patch uint64
	// Pre are the dot-separated pre-release identifiers ("rc", "1").
	Pre []string
	// Build is the build metadata after "+" (ignored in comparisons).
	Build string
}

// maxVersionLen bounds a version string: a version comes from the network.
const maxVersionLen = 128

// ParseVersion parses a strict semver string ("1.2.3", "1.2.3-rc.1",
// "1.2.3+build.5"). A leading "v" is not accepted here: refs may carry one
// (see Index.Resolve), versions do not.
func ParseVersion(s string) (Version, error) {
	var v Version
	if s == "" || len(s) > maxVersionLen {
		return v, fmt.Errorf("invalid version %q: empty or longer than %d bytes", clip(s), maxVersionLen)
	}
	rest := s
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		v.Build = rest[i+1:]
		rest = rest[:i]
		if err := identifiers(v.Build, false); err != nil {
			return Version{}, fmt.Errorf("invalid version %q: build metadata: %w", clip(s), err)
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		pre := rest[i+1:]
		rest = rest[:i]
		if err := identifiers(pre, true); err != nil {
			return Version{}, fmt.Errorf("invalid version %q: pre-release: %w", clip(s), err)
		}
		v.Pre = strings.Split(pre, ".")
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("invalid version %q: want MAJOR.MINOR.PATCH", clip(s))
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		n, err := numeric(p)
		if err != nil {
			return Version{}, fmt.Errorf("invalid version %q: %w", clip(s), err)
		}
		*nums[i] = n
	}
	return v, nil
}

// numeric parses a numeric identifier: digits, no leading zero.
func numeric(p string) (uint64, error) {
	if p == "" || (len(p) > 1 && p[0] == '0') {
		return 0, fmt.Errorf("%q is not a number without leading zeros", p)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return 0, fmt.Errorf("%q is not a number", p)
		}
	}
	return strconv.ParseUint(p, 10, 64)
}

// identifiers checks dot-separated identifiers of [0-9A-Za-z-]; numeric
// pre-release identifiers may not have leading zeros.
func identifiers(s string, pre bool) error {
	if s == "" {
		return errors.New("empty")
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return errors.New("empty identifier")
		}
		digits := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				digits = false
			default:
				return fmt.Errorf("identifier %q has a character other than [0-9A-Za-z-]", id)
			}
		}
		if pre && digits && len(id) > 1 && id[0] == '0' {
			return fmt.Errorf("numeric identifier %q has a leading zero", id)
		}
	}
	return nil
}

// Prerelease reports whether v has pre-release identifiers.
func (v Version) Prerelease() bool { return len(v.Pre) > 0 }

// String formats v as semver.
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// Compare orders versions by semver precedence: -1, 0 or 1. Build
// metadata is ignored, as the specification says.
func (v Version) Compare(w Version) int {
	for _, d := range [3][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			return cmp(d[0] < d[1])
		}
	}
	// A version without pre-release identifiers ranks above one with them.
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		a, b := v.Pre[i], w.Pre[i]
		if a == b {
			continue
		}
		da, db := allDigits(a), allDigits(b)
		switch {
		case da && db:
			// Numerically, at any length: no leading zeros, so the
			// longer is the larger.
			if len(a) != len(b) {
				return cmp(len(a) < len(b))
			}
			return cmp(a < b)
		case da: // numeric identifiers rank below alphanumeric ones
			return -1
		case db:
			return 1
		default:
			return cmp(a < b)
		}
	}
	switch {
	case len(v.Pre) == len(w.Pre):
		return 0
	case len(v.Pre) < len(w.Pre):
		return -1
	}
	return 1
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func cmp(less bool) int {
	if less {
		return -1
	}
	return 1
}

// clip shortens a string quoted in an error (it may come from the network).
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
