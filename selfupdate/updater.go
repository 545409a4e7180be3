package selfupdate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Updater checks a release source and installs a release over a binary.
// It holds no state between calls; the caller (the updater actor) makes
// sure one install runs at a time.
type Updater struct {
	Source *Source
	// Current is the running reachyd's version.
	Current string
	// Platform is the index key of this machine (default Platform()).
	Platform string
	// Dir holds downloads and the install record (<data-dir>/updates).
	Dir string
	// Target is the binary an install replaces (see ResolveTarget).
	Target string
	// Client downloads binaries (default http.DefaultClient).
	Client *http.Client
	// DownloadIdle, DownloadTimeout: see Download. CheckTimeout bounds
	// the new binary's --version (default 10 s).
	DownloadIdle, DownloadTimeout, CheckTimeout time.Duration
	// Hook, if set, is called after each step of an install
	// ("downloaded", "checked", then Swap's steps): a test's window on
	// the files between steps.
	Hook func(step string)
}

// ErrNoUpdate is the reference's "No update available".
var ErrNoUpdate = errors.New("No update available")

func (u *Updater) platform() string {
	if u.Platform != "" {
		return u.Platform
	}
	return Platform()
}

// Availability is what /update/available reports.
type Availability struct {
	Current string
	// Latest is the newest release for this platform (nil: none).
	Latest    *Release
	Available bool
}

// Check fetches the index and compares its newest release for this
// platform (pre-releases included when pre) with the running version.
func (u *Updater) Check(ctx context.Context, pre bool) (Availability, error) {
	a := Availability{Current: u.Current}
	signed, err := u.Source.Fetch(ctx)
	if err != nil {
		return a, err
	}
	a.Latest, a.Available = u.newer(signed.Index, pre)
	return a, nil
}

// newer returns the newest release for this platform and whether it is
// newer than the running version (a running version that does not parse,
// such as a hand-made build's, is older than every release).
func (u *Updater) newer(ix *Index, pre bool) (*Release, bool) {
	r, ok := ix.Latest(u.platform(), pre)
	if !ok {
		return nil, false
	}
	cur, err := ParseVersion(u.Current)
	return r, err != nil || r.Semver().Compare(cur) > 0
}

// refProblem finds the release ref names, or says why there is none for
// this platform (validate-ref's "error").
func (u *Updater) refProblem(ix *Index, ref string) (*Release, string) {
	r, ok := ix.Resolve(ref)
	if !ok {
		return nil, fmt.Sprintf("Ref '%s' not found", ref)
	}
	if _, ok := r.Binaries[u.platform()]; !ok {
		return nil, fmt.Sprintf("Ref '%s' (reachyd %s) has no binary for %s", ref, r.Version, u.platform())
	}
	return r, ""
}

// ValidateRef reports whether ref names a release with a binary for this
// platform; problem says why not.
func (u *Updater) ValidateRef(ctx context.Context, ref string) (rel *Release, problem string, err error) {
	signed, err := u.Source.Fetch(ctx)
	if err != nil {
		return nil, "", err
	}
	rel, problem = u.refProblem(signed.Index, ref)
	return rel, problem, nil
}

// Plan says what to install: the newest release (Ref empty; pre-releases
// included when PreRelease) or the release a ref names (any version, older
// ones included, as the reference installs any git ref).
type Plan struct {
	PreRelease bool
	Ref        string
}

// Install runs a whole update but the restart: fetch and verify the
// index, pick the release, download its binary, check its size and
// SHA-256, run its --version, and swap it in over Target, keeping the
// old one as Target.previous. Each step is reported to logf. On any error
// before the swap, Target is untouched (same file, same bytes).
func (u *Updater) Install(ctx context.Context, plan Plan, logf func(string)) (*Release, error) {
	hook := u.Hook
	if hook == nil {
		hook = func(string) {}
	}
	logf("Fetching the release index " + u.Source.URL)
	signed, err := u.Source.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	logf(fmt.Sprintf("Release index verified: signed by key %s, %d releases", signed.KeyID, len(signed.Releases)))

	var rel *Release
	if plan.Ref != "" {
		var problem string
		if rel, problem = u.refProblem(signed.Index, plan.Ref); rel == nil {
			return nil, errors.New(problem)
		}
		logf(fmt.Sprintf("Ref '%s' is reachyd %s", plan.Ref, rel.Version))
	} else {
		var ok bool
		if rel, ok = u.newer(signed.Index, plan.PreRelease); !ok {
			return nil, ErrNoUpdate
		}
	}
	bin := rel.Binaries[u.platform()]
	url, err := BinaryURL(u.Source.URL, bin)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(u.Dir, 0o700); err != nil {
		return nil, err
	}
	u.cleanDownloads()
	dest := filepath.Join(u.Dir, fmt.Sprintf("reachyd-%s-%s", rel.Version, strings.ReplaceAll(u.platform(), "/", "-")))
	defer os.Remove(dest)

	logf(fmt.Sprintf("Updating reachyd %s to %s (%s)", u.Current, rel.Version, u.platform()))
	logf(fmt.Sprintf("Downloading %s (%s)", url, megabytes(bin.Size)))
	step := int64(-1)
	d := Download{Client: u.Client, URL: url, Size: bin.Size, SHA256: bin.SHA256, Dest: dest,
		Idle: u.DownloadIdle, Timeout: u.DownloadTimeout,
		Progress: func(done, total int64) {
			// A line at every tenth, not at every read.
			if s := done * 10 / total; s != step {
				step = s
				logf(fmt.Sprintf("Downloaded %d%% (%s of %s)", done*100/total, megabytes(done), megabytes(total)))
			}
		}}
	if err := d.Run(ctx); err != nil {
		return nil, err
	}
	logf("SHA-256 verified: " + bin.SHA256)
	hook("downloaded")

	line, err := CheckBinary(ctx, dest, rel.Version, u.CheckTimeout)
	if err != nil {
		return nil, err
	}
	logf("The new binary runs: " + line)
	hook("checked")

	logf(fmt.Sprintf("Installing reachyd %s as %s; the running binary is kept as %s", rel.Version, u.Target, PreviousPath(u.Target)))
	if err := Swap(dest, u.Target, bin.SHA256, hook); err != nil {
		return nil, err
	}
	rec := InstallRecord{Version: rel.Version, Source: "index"}
	if plan.Ref != "" {
		rec.Source, rec.GitRef, rec.Commit = "git", plan.Ref, rel.Commit
	}
	if err := writeRecord(u.Dir, rec); err != nil {
		// The binary is in place; only install-source's detail is lost.
		logf("Could not record the install source: " + err.Error())
	}
	logf(fmt.Sprintf("reachyd %s installed", rel.Version))
	return rel, nil
}

// cleanDownloads removes what earlier downloads left in Dir.
func (u *Updater) cleanDownloads() {
	for _, p := range []string{"reachyd-*", ".reachyd-*", ".check-*"} {
		m, _ := filepath.Glob(filepath.Join(u.Dir, p))
		for _, f := range m {
			os.RemoveAll(f)
		}
	}
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// InstallRecord says where the installed binary came from; it is written
// after a successful swap and read by /update/install-source.
type InstallRecord struct {
	Version string `json:"version"`
	// Source is "index" (the newest release) or "git" (a ref).
	Source string `json:"source"`
	GitRef string `json:"git_ref,omitempty"`
	Commit string `json:"commit,omitempty"`
}

const recordName = "installed.json"

func writeRecord(dir string, r InstallRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+recordName+"-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, recordName))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// InstallSource is /update/install-source: the running version and where
// it came from. A record left by an update counts only if it names the
// running version (the binary may have been replaced by hand since, or
// rolled back); otherwise the source is "local" (built or installed by
// hand, or by deploy/install.sh).
func InstallSource(dir, current string) InstallRecord {
	b, err := os.ReadFile(filepath.Join(dir, recordName))
	var r InstallRecord
	if err != nil || len(b) > 4096 || json.Unmarshal(b, &r) != nil || r.Version != current {
		return InstallRecord{Version: current, Source: "local"}
	}
	if r.Source != "git" {
		return InstallRecord{Version: current, Source: "index"}
	}
	if len(r.Commit) > 8 {
		r.Commit = r.Commit[:8] // short, as the reference reports it
	}
	return r
}
