package datasets

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reachyd/internal/hflink"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"reachyd/actors/moves/motion"
)

// DefaultEndpoint is the Hugging Face Hub.
const DefaultEndpoint = "https://huggingface.co"

// Errors of Hub.Download; returned errors wrap one of them with the details.
var (
	// ErrNotOnHub: the Hub answered 401, 403 or 404 for the dataset
	// (huggingface_hub's RepositoryNotFoundError: missing, private or
	// gated without access).
	ErrNotOnHub = errors.New("not found on the Hub")
	// ErrUnreachable: no answer (offline, refused, timed out) or a server
	// error.
	ErrUnreachable = errors.New("the Hub cannot be reached")
	// ErrBadDownload: the Hub's answer does not check out (a listing that
	// cannot be read or names an unsafe path, a file whose size or hash
	// differs from the listing's) or is over the limits.
	ErrBadDownload = errors.New("bad download")
)

// Limits bound one dataset download. Zero fields take DefaultLimits'.
type Limits struct {
	// MaxFiles is the number of files downloaded (after the filter).
	MaxFiles int
	// MaxEntries is the number of entries the listing may hold.
	MaxEntries int
	// MaxFileBytes and MaxTotalBytes bound one file and the dataset.
	MaxFileBytes  int64
	MaxTotalBytes int64
	// MaxPages and MaxPageBytes bound the listing's pages.
	MaxPages     int
	MaxPageBytes int64
	// APITimeout bounds each API request, FileTimeout each file, Total the
	// whole download.
	APITimeout  time.Duration
	FileTimeout time.Duration
	Total       time.Duration
	// Parallel is the number of files downloaded at once.
	Parallel int
}

// DefaultLimits fit the reference's libraries (the emotions library: about
// 80 moves, each a JSON file and a sound) with a wide margin, and keep a
// download within messages.DatasetWait.
var DefaultLimits = Limits{
	MaxFiles:      2000,
	MaxEntries:    20000,
	MaxFileBytes:  256 << 20,
	MaxTotalBytes: 1 << 30,
	MaxPages:      100,
	MaxPageBytes:  16 << 20,
	APITimeout:    30 * time.Second,
	FileTimeout:   10 * time.Minute,
	Total:         25 * time.Minute,
	Parallel:      4,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v, def int64) int64 {
		if v > 0 {
			return v
		}
		return def
	}
	l.MaxFiles = int(pick(int64(l.MaxFiles), int64(d.MaxFiles)))
	l.MaxEntries = int(pick(int64(l.MaxEntries), int64(d.MaxEntries)))
	l.MaxFileBytes = pick(l.MaxFileBytes, d.MaxFileBytes)
	l.MaxTotalBytes = pick(l.MaxTotalBytes, d.MaxTotalBytes)
	l.MaxPages = int(pick(int64(l.MaxPages), int64(d.MaxPages)))
	l.MaxPageBytes = pick(l.MaxPageBytes, d.MaxPageBytes)
	l.APITimeout = time.Duration(pick(int64(l.APITimeout), int64(d.APITimeout)))
	l.FileTimeout = time.Duration(pick(int64(l.FileTimeout), int64(d.FileTimeout)))
	l.Total = time.Duration(pick(int64(l.Total), int64(d.Total)))
	l.Parallel = int(pick(int64(l.Parallel), int64(d.Parallel)))
	return l
}

// Hub downloads dataset repos from a Hugging Face endpoint into a hub cache
// laid out as huggingface_hub lays it out, so that both read one copy:
//
//	<Cache>/datasets--<owner>--<name>/
//	    blobs/<etag>                       the files' contents, by etag: the
//	                                       LFS sha256, else the git blob id
//	    snapshots/<commit>/<path>          relative symlinks into blobs/
//	    refs/main                          the commit main points to
//
// A download is atomic: each blob is written to a temporary file, its size
// and hash checked against the listing, synced and renamed into blobs/; the
// snapshot folder is built aside and renamed into snapshots/ only when
// every file is in; refs/main is written (temp, rename) last. A failed
// download leaves no snapshot, ref or temporary file: only complete,
// verified blobs, which a retry reuses. Every write goes through an
// os.Root on the repo folder, so a symlink planted in the cache cannot send
// one elsewhere.
type Hub struct {
	// Endpoint is the Hub's base URL (default DefaultEndpoint).
	Endpoint string
	// HTTP's transport is used (default: http.DefaultTransport), with at
	// most 5 redirects and the token kept off every host but the
	// endpoint's (the Hub redirects large files to a CDN).
	HTTP *http.Client
	// Cache is the hub cache folder (motion.DefaultHubCache()).
	Cache string
	// Token returns the Hugging Face token sent to the endpoint, "" for
	// none; read at each download (a login or logout applies at once).
	Token  func() string
	Limits Limits
}

// Result describes a finished download.
type Result struct {
	// Path is the snapshot folder.
	Path   string
	Commit string
	// Files and Bytes count the files the snapshot got from the listing
	// (after the filter); Fetched and FetchedBytes the blobs that came over
	// the network (the rest were in the cache already, or shared).
	Files        int
	Bytes        int64
	Fetched      int
	FetchedBytes int64
}

func (h *Hub) endpoint() string {
	if h.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(h.Endpoint, "/")
}

// redirects follows at most 5 redirects, and sends the token only to the
// endpoint's own host and port: Go's client keeps it for the same domain on
// another port, or a subdomain, which may not be the Hub.
func redirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
		req.Header.Del("Authorization")
	}
	return nil
}

// client is h.HTTP's transport with the redirect policy.
func (h *Hub) client() *http.Client {
	c := &http.Client{CheckRedirect: redirects}
	if h.HTTP != nil {
		c.Transport, c.Jar = h.HTTP.Transport, h.HTTP.Jar
	}
	return c
}

// Where reports the snapshot folder a dataset has in the cache at refs/main
// and its commit, or ok false.
func (h *Hub) Where(dataset string) (dir, commit string, ok bool) {
	owner, name, _ := strings.Cut(dataset, "/")
	repo := filepath.Join(h.Cache, "datasets--"+owner+"--"+name)
	b, err := os.ReadFile(filepath.Join(repo, "refs", "main"))
	if err != nil || len(b) > 64 {
		return "", "", false
	}
	commit = strings.TrimSpace(string(b))
	if !isHex(commit, 40) {
		return "", "", false
	}
	dir = filepath.Join(repo, "snapshots", commit)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", "", false
	}
	return dir, commit, true
}

// Download fetches the dataset's current commit on main into the cache,
// unless the cache has it all already, and returns its snapshot. Progress
// lines (files done of total, bytes) go to logf, which may be called from
// several goroutines.
func (h *Hub) Download(ctx context.Context, dataset string, logf func(string)) (Result, error) {
	if logf == nil {
		logf = func(string) {}
	}
	if err := motion.ValidateDatasetName(dataset); err != nil {
		return Result{}, err
	}
	if h.Cache == "" {
		return Result{}, errors.New("no hub cache folder configured")
	}
	lim := h.Limits.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, lim.Total)
	defer cancel()
	token := ""
	if h.Token != nil {
		token = h.Token()
	}
	s := &session{h: h, lim: lim, token: token, dataset: dataset, logf: logf}

	commit, err := s.revision(ctx)
	if err != nil {
		return Result{}, err
	}
	s.commit = commit
	files, skipped, err := s.listing(ctx, commit)
	if err != nil {
		return Result{}, err
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	logf(fmt.Sprintf("Dataset %s at commit %s on %s: %d files, %s", dataset, commit, h.endpoint(), len(files), sizeText(total)))
	if len(skipped) > 0 {
		logf(fmt.Sprintf("Not downloaded (neither moves nor sounds): %s", listText(skipped, 10)))
	}
	if len(files) == 0 {
		return Result{}, fmt.Errorf("%w: dataset %s has no move files (*.json at its root or in data/)", ErrBadDownload, dataset)
	}

	owner, name, _ := strings.Cut(dataset, "/")
	repoDir := filepath.Join(h.Cache, "datasets--"+owner+"--"+name)
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("hub cache: %w", err)
	}
	root, err := os.OpenRoot(repoDir)
	if err != nil {
		return Result{}, fmt.Errorf("hub cache: %w", err)
	}
	defer root.Close()
	w := &writer{root: root, lim: lim}
	w.clean()
	for _, d := range []string{"blobs", "snapshots", "refs"} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return Result{}, fmt.Errorf("hub cache: %w", err)
		}
	}
	snap := "snapshots/" + commit
	res := Result{Path: filepath.Join(repoDir, "snapshots", commit), Commit: commit, Files: len(files), Bytes: total}

	// What the cache lacks: blobs to fetch (once each: files with the same
	// content share a blob), links to make.
	var fetch []file
	var fetchBytes int64
	queued := map[string]bool{}
	for _, f := range files {
		if !queued[f.etag] && !w.haveBlob(f) {
			queued[f.etag] = true
			fetch = append(fetch, f)
			fetchBytes += f.size
		}
	}
	if len(fetch) < len(files) {
		logf(fmt.Sprintf("%d of %d files are in the cache already (or the same as another)", len(files)-len(fetch), len(files)))
	}
	if err := s.fetchAll(ctx, w, fetch, fetchBytes); err != nil {
		return Result{}, err
	}
	res.Fetched, res.FetchedBytes = len(fetch), fetchBytes
	if err := w.snapshot(snap, files); err != nil {
		return Result{}, fmt.Errorf("hub cache: %w", err)
	}
	if err := w.writeRef(commit); err != nil {
		return Result{}, fmt.Errorf("hub cache: %w", err)
	}
	logf(fmt.Sprintf("Dataset %s ready (commit %s): %d files downloaded, %s", dataset, commit, res.Fetched, sizeText(res.FetchedBytes)))
	return res, nil
}

// session is one download's requests.
type session struct {
	h       *Hub
	lim     Limits
	token   string
	dataset string
	commit  string
	logf    func(string)
}

func (s *session) apiURL(rest string) string {
	owner, name, _ := strings.Cut(s.dataset, "/")
	return s.h.endpoint() + "/api/datasets/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + rest
}

// get sends an authenticated GET and returns the response when it is 200;
// other statuses and transport failures become ErrNotOnHub/ErrUnreachable.
func (s *session) get(ctx context.Context, u, what string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, what, err)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	req.Header.Set("User-Agent", "reachyd")
	resp, err := s.h.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, what, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	msg := strings.TrimSpace(string(bytes.ToValidUTF8(body, nil)))
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		hint := ""
		if s.token == "" {
			hint = "; if it is private or gated, log in to Hugging Face first"
		}
		return nil, fmt.Errorf("%w: %s: HTTP %d%s", ErrNotOnHub, what, resp.StatusCode, hint)
	case http.StatusTooManyRequests:
		return nil, fmt.Errorf("%w: %s: HTTP 429 (rate limited): %s", ErrUnreachable, what, msg)
	}
	if resp.StatusCode >= 500 {
		return nil, fmt.Errorf("%w: %s: HTTP %d: %s", ErrUnreachable, what, resp.StatusCode, msg)
	}
	return nil, fmt.Errorf("%w: %s: HTTP %d: %s", ErrBadDownload, what, resp.StatusCode, msg)
}

// getJSON reads a 200 JSON answer of at most MaxPageBytes, and its Link
// header.
func (s *session) getJSON(ctx context.Context, u, what string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.lim.APITimeout)
	defer cancel()
	resp, err := s.get(ctx, u, what)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, s.lim.MaxPageBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %v", ErrUnreachable, what, err)
	}
	if int64(len(b)) > s.lim.MaxPageBytes {
		return nil, "", fmt.Errorf("%w: %s: answer over %d bytes", ErrBadDownload, what, s.lim.MaxPageBytes)
	}
	return b, resp.Header.Get("Link"), nil
}

// revision resolves main to a commit (GET /api/datasets/<id>/revision/main,
// as huggingface_hub's repo_info does).
func (s *session) revision(ctx context.Context) (string, error) {
	b, _, err := s.getJSON(ctx, s.apiURL("/revision/main"), "dataset info")
	if err != nil {
		return "", err
	}
	return parseRevision(b)
}

// parseRevision reads the commit of a repo_info answer.
func parseRevision(b []byte) (string, error) {
	var info struct {
		SHA string `json:"sha"`
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return "", fmt.Errorf("%w: dataset info: %v", ErrBadDownload, err)
	}
	if !isHex(info.SHA, 40) {
		return "", fmt.Errorf("%w: dataset info: bad commit %q", ErrBadDownload, clip(info.SHA))
	}
	return info.SHA, nil
}

// listing reads the file tree at commit (GET /api/datasets/<id>/tree/
// <commit>?recursive=true, following the Link header's next pages on the
// same host, as huggingface_hub's list_repo_tree does).
func (s *session) listing(ctx context.Context, commit string) ([]file, []string, error) {
	next := s.apiURL("/tree/" + commit + "?recursive=true&expand=false")
	base, err := url.Parse(s.h.endpoint())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: bad endpoint: %v", ErrUnreachable, err)
	}
	var entries []treeEntry
	for page := 0; next != ""; page++ {
		if page >= s.lim.MaxPages {
			return nil, nil, fmt.Errorf("%w: listing: more than %d pages", ErrBadDownload, s.lim.MaxPages)
		}
		b, link, err := s.getJSON(ctx, next, "listing")
		if err != nil {
			return nil, nil, err
		}
		var more []treeEntry
		if err := json.Unmarshal(b, &more); err != nil {
			return nil, nil, fmt.Errorf("%w: listing: %v", ErrBadDownload, err)
		}
		entries = append(entries, more...)
		if len(entries) > s.lim.MaxEntries {
			return nil, nil, fmt.Errorf("%w: listing: more than %d entries", ErrBadDownload, s.lim.MaxEntries)
		}
		next = hflink.Next(link, base)
	}
	return selectFiles(entries, s.lim)
}

// treeEntry is one item of the Hub's tree listing.
type treeEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	Size int64  `json:"size"`
	OID  string `json:"oid"`
	LFS  *struct {
		OID  string `json:"oid"`
		Size int64  `json:"size"`
	} `json:"lfs"`
}

// file is a file to have in the snapshot.
type file struct {
	path string // slash-separated, checked
	size int64
	etag string // the blob's name: LFS sha256 (64 hex), else git blob id (40 hex)
	lfs  bool
}

// soundExts are the sidecar sounds the library attaches to a move.
var soundExts = map[string]bool{".wav": true, ".mp3": true, ".ogg": true, ".oga": true, ".opus": true, ".flac": true, ".m4a": true, ".aac": true}

// wanted reports whether the library reads p: a move (*.json) or a sound at
// the dataset's root or in data/. Other files (README, .gitattributes,
// parquet exports) are not downloaded.
func wanted(p string) bool {
	dir, base := path.Split(p)
	if dir != "" && dir != "data/" {
		return false
	}
	ext := path.Ext(base)
	return ext == ".json" || soundExts[ext]
}

// selectFiles checks a listing and picks the files to download. Any entry
// with an unsafe path refuses the whole listing: a Hub that sends one is
// not trusted with the rest.
func selectFiles(entries []treeEntry, lim Limits) ([]file, []string, error) {
	var files []file
	var skipped []string
	seen := map[string]bool{}
	var total int64
	for _, e := range entries {
		if err := checkPath(e.Path); err != nil {
			return nil, nil, fmt.Errorf("%w: listing: %v", ErrBadDownload, err)
		}
		if seen[e.Path] {
			return nil, nil, fmt.Errorf("%w: listing names %q twice", ErrBadDownload, clip(e.Path))
		}
		seen[e.Path] = true
		if e.Type != "file" {
			continue
		}
		if !wanted(e.Path) {
			skipped = append(skipped, e.Path)
			continue
		}
		f := file{path: e.Path, size: e.Size, etag: e.OID}
		if e.LFS != nil {
			f.size, f.etag, f.lfs = e.LFS.Size, e.LFS.OID, true
		}
		switch {
		case f.lfs && !isHex(f.etag, 64), !f.lfs && !isHex(f.etag, 40):
			return nil, nil, fmt.Errorf("%w: listing: %s has a bad object id %q", ErrBadDownload, e.Path, clip(f.etag))
		case f.size < 0:
			return nil, nil, fmt.Errorf("%w: listing: %s has a negative size", ErrBadDownload, e.Path)
		case f.size > lim.MaxFileBytes:
			return nil, nil, fmt.Errorf("%w: %s is %s, over the %s limit for one file", ErrBadDownload, e.Path, sizeText(f.size), sizeText(lim.MaxFileBytes))
		}
		total += f.size
		files = append(files, f)
		if len(files) > lim.MaxFiles {
			return nil, nil, fmt.Errorf("%w: more than %d files", ErrBadDownload, lim.MaxFiles)
		}
		if total > lim.MaxTotalBytes {
			return nil, nil, fmt.Errorf("%w: more than %s in all, over the limit", ErrBadDownload, sizeText(lim.MaxTotalBytes))
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, skipped, nil
}

// checkPath accepts relative, slash-separated paths of plain components: no
// "..", ".", empty component, backslash, control character or invalid
// UTF-8; at most 512 bytes and 16 levels.
func checkPath(p string) error {
	if p == "" || len(p) > 512 || !utf8.ValidString(p) || strings.HasPrefix(p, "/") {
		return fmt.Errorf("unsafe path %q", clip(p))
	}
	parts := strings.Split(p, "/")
	if len(parts) > 16 {
		return fmt.Errorf("unsafe path %q (too deep)", clip(p))
	}
	for _, c := range parts {
		if c == "" || c == "." || c == ".." || len(c) > 255 {
			return fmt.Errorf("unsafe path %q", clip(p))
		}
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("unsafe path %q", clip(p))
		}
	}
	return nil
}

// fetchAll downloads files, Parallel at once; the first failure stops the
// others.
func (s *session) fetchAll(ctx context.Context, w *writer, files []file, total int64) error {
	if len(files) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		done     atomic.Int64
		got      atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan file)
	for i := 0; i < min(s.lim.Parallel, len(files)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := s.fetch(ctx, w, f); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					continue
				}
				n, b := done.Add(1), got.Add(f.size)
				s.logf(fmt.Sprintf("Downloaded %d/%d files, %s of %s: %s", n, len(files), sizeText(b), sizeText(total), f.path))
			}
		}()
	}
feed:
	for _, f := range files {
		select {
		case work <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return nil
}

// fetch downloads one file (GET /datasets/<id>/resolve/<commit>/<path>)
// into its blob.
func (s *session) fetch(ctx context.Context, w *writer, f file) error {
	ctx, cancel := context.WithTimeout(ctx, s.lim.FileTimeout)
	defer cancel()
	owner, name, _ := strings.Cut(s.dataset, "/")
	parts := strings.Split(f.path, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	u := s.h.endpoint() + "/datasets/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/resolve/" + s.commit + "/" + strings.Join(parts, "/")
	resp, err := s.get(ctx, u, f.path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.ContentLength >= 0 && resp.ContentLength != f.size {
		return fmt.Errorf("%w: %s: the server sends %d bytes, the listing says %d", ErrBadDownload, f.path, resp.ContentLength, f.size)
	}
	if err := w.writeBlob(f, resp.Body); err != nil {
		if ctx.Err() != nil && !errors.Is(err, ErrBadDownload) {
			return fmt.Errorf("%w: %s: %v", ErrUnreachable, f.path, ctx.Err())
		}
		return err
	}
	return nil
}

// writer writes into one repo folder of the cache.
type writer struct {
	root *os.Root
	lim  Limits
}

// tmpSuffix marks reachyd's temporary files and folders in the cache.
const tmpSuffix = ".reachyd.incomplete"

// stagingDir holds snapshots being built; two levels deep, as snapshots/<commit>,
// so the relative links made there stay right after the rename.
const stagingDir = ".reachyd-staging"

// clean removes what an interrupted download of reachyd's left: temporary
// blobs and staged snapshots. One download per dataset runs at a time.
func (w *writer) clean() {
	if ents, err := fs.ReadDir(w.root.FS(), "blobs"); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), tmpSuffix) {
				_ = w.root.Remove("blobs/" + e.Name())
			}
		}
	}
	_ = w.root.RemoveAll(stagingDir)
	if ents, err := fs.ReadDir(w.root.FS(), "refs"); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), tmpSuffix) {
				_ = w.root.Remove("refs/" + e.Name())
			}
		}
	}
}

// haveBlob reports whether the blob is in the cache with the listed size
// (blobs only ever appear complete: huggingface_hub and reachyd both
// rename them into place).
func (w *writer) haveBlob(f file) bool {
	fi, err := w.root.Lstat("blobs/" + f.etag)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == f.size
}

func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeBlob streams a file into a temporary blob, checks its size and hash
// against the listing, syncs it and renames it into place.
func (w *writer) writeBlob(f file, body io.Reader) (err error) {
	tmp := "blobs/" + f.etag + "." + randomName() + tmpSuffix
	out, err := w.root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("hub cache: %w", err)
	}
	defer func() {
		if out != nil {
			out.Close()
		}
		if err != nil {
			_ = w.root.Remove(tmp)
		}
	}()
	var h hash.Hash
	if f.lfs {
		h = sha256.New()
	} else {
		// A git blob id: sha1 of "blob <size>\0" and the content.
		h = sha1.New()
		h.Write([]byte("blob " + strconv.FormatInt(f.size, 10) + "\x00"))
	}
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(body, f.size+1))
	switch {
	case err != nil:
		return fmt.Errorf("%w: %s: %v after %d of %d bytes", ErrUnreachable, f.path, err, n, f.size)
	case n < f.size:
		return fmt.Errorf("%w: %s: truncated: %d of %d bytes", ErrBadDownload, f.path, n, f.size)
	case n > f.size:
		return fmt.Errorf("%w: %s: more than the %d bytes the listing says", ErrBadDownload, f.path, f.size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.etag {
		kind := "git blob id"
		if f.lfs {
			kind = "sha256"
		}
		return fmt.Errorf("%w: %s: %s mismatch (got %s, want %s)", ErrBadDownload, f.path, kind, got, f.etag)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("hub cache: %w", err)
	}
	if err := out.Close(); err != nil {
		out = nil
		return fmt.Errorf("hub cache: %w", err)
	}
	out = nil
	if err := w.root.Rename(tmp, "blobs/"+f.etag); err != nil {
		return fmt.Errorf("hub cache: %w", err)
	}
	return nil
}

// linkTarget is the relative link from snapshots/<commit>/<p> to its blob,
// as huggingface_hub makes it.
func linkTarget(p, etag string) string {
	return strings.Repeat("../", 2+strings.Count(p, "/")) + "blobs/" + etag
}

// snapshot makes snapshots/<commit> hold every file. A new snapshot is
// built in the staging folder and renamed into place whole; one that exists
// (made by huggingface_hub, maybe in part) gets its missing links one by
// one, each made aside and renamed in.
func (w *writer) snapshot(snap string, files []file) error {
	if fi, err := w.root.Lstat(snap); err == nil && fi.IsDir() {
		return w.complete(snap, files)
	}
	stage := stagingDir + "/" + randomName()
	if err := w.root.MkdirAll(stage, 0o755); err != nil {
		return err
	}
	defer w.root.RemoveAll(stagingDir)
	for _, f := range files {
		p := stage + "/" + f.path
		if err := w.root.MkdirAll(path.Dir(p), 0o755); err != nil {
			return err
		}
		if err := w.root.Symlink(linkTarget(f.path, f.etag), p); err != nil {
			return err
		}
	}
	if err := w.root.Rename(stage, snap); err != nil {
		// Made meanwhile by someone else: complete theirs.
		if fi, lerr := w.root.Lstat(snap); lerr == nil && fi.IsDir() {
			return w.complete(snap, files)
		}
		return err
	}
	return nil
}

// complete adds the missing or wrong links of an existing snapshot.
func (w *writer) complete(snap string, files []file) error {
	for _, f := range files {
		p := snap + "/" + f.path
		want := linkTarget(f.path, f.etag)
		if got, err := w.root.Readlink(p); err == nil && got == want {
			continue
		}
		if fi, err := w.root.Lstat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == f.size {
			continue // a copy (huggingface_hub without symlinks)
		}
		if err := w.root.MkdirAll(path.Dir(p), 0o755); err != nil {
			return err
		}
		tmp := p + "." + randomName() + tmpSuffix
		if err := w.root.Symlink(want, tmp); err != nil {
			return err
		}
		if err := w.root.Rename(tmp, p); err != nil {
			_ = w.root.Remove(tmp)
			return err
		}
	}
	return nil
}

// writeRef points refs/main at commit (temporary file, sync, rename).
func (w *writer) writeRef(commit string) error {
	tmp := "refs/main." + randomName() + tmpSuffix
	f, err := w.root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(commit) // no newline, as huggingface_hub writes it
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.root.Rename(tmp, "refs/main")
	}
	if err != nil {
		_ = w.root.Remove(tmp)
	}
	return err
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// clip shortens what a server sent before it goes into an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func listText(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}
