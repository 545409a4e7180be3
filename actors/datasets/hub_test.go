package datasets

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"reachyd/actors/datasets/hubtest"
	"reachyd/actors/moves/motion"
)

const testDataset = "test-org/emotions"

// moveJSON is a small recorded move.
func moveJSON(t testing.TB, antenna float64) []byte {
	id := [][]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
	b, err := json.Marshal(map[string]any{"description": "test", "time": []float64{0, 0.1, 0.2},
		"set_target_data": []any{
			map[string]any{"head": id, "antennas": []float64{0, 0}},
			map[string]any{"head": id, "antennas": []float64{antenna, -antenna}},
			map[string]any{"head": id, "antennas": []float64{0, 0}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testRepo is a dataset as the reference's libraries lay them out: moves
// and sounds in data/ (sounds in LFS), a move at the root, and files the
// library does not read.
func testRepo(t testing.TB) hubtest.Repo {
	return hubtest.Repo{ID: testDataset, Files: []hubtest.File{
		{Path: ".gitattributes", Data: []byte("*.wav filter=lfs diff=lfs merge=lfs -text\n")},
		{Path: "README.md", Data: []byte("# emotions\n")},
		{Path: "data/happy.json", Data: moveJSON(t, 0.3)},
		{Path: "data/happy.wav", Data: []byte("RIFF....WAVEfmt fake sound data"), LFS: true},
		{Path: "sad.json", Data: moveJSON(t, -0.2)},
	}}
}

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) { l.mu.Lock(); l.l = append(l.l, s); l.mu.Unlock() }
func (l *lines) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.l {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func newHub(fake *hubtest.Server, cache string) *Hub {
	return &Hub{Endpoint: fake.URL, Cache: cache, Token: func() string { return fake.Token }}
}

// leftovers lists what a download must never leave: temporary files and
// staging folders.
func leftovers(t *testing.T, cache string) []string {
	t.Helper()
	var bad []string
	_ = filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, tmpSuffix) || strings.Contains(p, stagingDir) || strings.HasSuffix(p, ".incomplete")) {
			bad = append(bad, p)
		}
		return nil
	})
	return bad
}

// notVisible checks that the dataset is not there for the library (nor a
// snapshot nor a ref for huggingface_hub), and nothing half-written is.
func notVisible(t *testing.T, cache, commit string) {
	t.Helper()
	repo := filepath.Join(cache, "datasets--test-org--emotions")
	if _, err := os.Lstat(filepath.Join(repo, "snapshots", commit)); err == nil {
		t.Error("a snapshot was left")
	}
	if _, err := os.Lstat(filepath.Join(repo, "refs", "main")); err == nil {
		t.Error("refs/main was written")
	}
	if _, err := (motion.Library{Dirs: []string{cache}}).Locate(testDataset); err == nil {
		t.Error("the library sees the dataset")
	}
	if l := leftovers(t, cache); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
	// Whatever is in blobs/ is complete and checks out.
	ents, _ := os.ReadDir(filepath.Join(repo, "blobs"))
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(repo, "blobs", e.Name()))
		if err != nil || (hubtest.GitOID(b) != e.Name() && hubtest.SHA256(b) != e.Name()) {
			t.Errorf("blob %s does not match its name", e.Name())
		}
	}
}

func TestDownloadLaysOutTheHubCache(t *testing.T) {
	fake := hubtest.New(t)
	fake.PageSize = 2 // the listing comes in pages
	repo := testRepo(t)
	commit := fake.Add(repo)
	cache := t.TempDir()
	h := newHub(fake, cache)
	var log lines
	res, err := h.Download(context.Background(), testDataset, log.add)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(cache, "datasets--test-org--emotions")
	snap := filepath.Join(root, "snapshots", commit)
	if res.Path != snap || res.Commit != commit || res.Files != 3 || res.Fetched != 3 {
		t.Errorf("result %+v", res)
	}
	if b, err := os.ReadFile(filepath.Join(root, "refs", "main")); err != nil || string(b) != commit {
		t.Errorf("refs/main = %q, %v; want the commit without a newline", b, err)
	}
	// The links are relative, into blobs/, named by LFS sha256 or git blob
	// id, as huggingface_hub makes them.
	byPath := map[string]hubtest.File{}
	for _, f := range repo.Files {
		byPath[f.Path] = f
	}
	for p, want := range map[string]string{
		"data/happy.json": "../../../blobs/" + hubtest.GitOID(byPath["data/happy.json"].Data),
		"data/happy.wav":  "../../../blobs/" + hubtest.SHA256(byPath["data/happy.wav"].Data),
		"sad.json":        "../../blobs/" + hubtest.GitOID(byPath["sad.json"].Data),
	} {
		got, err := os.Readlink(filepath.Join(snap, p))
		if err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", p, got, err, want)
		}
		b, err := os.ReadFile(filepath.Join(snap, p))
		if err != nil || string(b) != string(byPath[p].Data) {
			t.Errorf("%s: content %q, %v", p, b, err)
		}
		if fi, _ := os.Lstat(filepath.Join(root, want[strings.LastIndex(want, "blobs/"):])); fi == nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: blob is not a regular file", p)
		}
	}
	for _, p := range []string{"README.md", ".gitattributes"} {
		if _, err := os.Lstat(filepath.Join(snap, p)); err == nil {
			t.Errorf("%s was downloaded; the library does not read it", p)
		}
	}
	if l := leftovers(t, cache); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
	// The library finds it, with the sidecar sound.
	lib := motion.Library{Dirs: []string{cache}}
	if names, err := lib.List(testDataset); err != nil || !slices.Equal(names, []string{"happy", "sad"}) {
		t.Errorf("List = %v, %v", names, err)
	}
	if rec, err := lib.Load(testDataset, "happy"); err != nil || filepath.Base(rec.Sound()) != "happy.wav" {
		t.Errorf("Load happy: %v", err)
	}
	// Progress: files done of total, bytes.
	for _, want := range []string{"3 files", "Downloaded 1/3 files", "Downloaded 3/3 files", "Not downloaded (neither moves nor sounds): .gitattributes, README.md", "ready"} {
		if !log.has(want) {
			t.Errorf("no progress line with %q in %q", want, log.l)
		}
	}
	if fake.Hits("tree") != 3 { // 6 entries (5 files, data/) in pages of 2
		t.Errorf("tree pages fetched: %d", fake.Hits("tree"))
	}
	// The token went to the endpoint, never to the CDN.
	if fake.Hits("cdn") != 1 || fake.CDNAuth() != 0 {
		t.Errorf("CDN hits %d, with Authorization %d", fake.Hits("cdn"), fake.CDNAuth())
	}

	// Again: nothing is downloaded.
	resolves, cdn := fake.Hits("resolve"), fake.Hits("cdn")
	res, err = h.Download(context.Background(), testDataset, nil)
	if err != nil || res.Fetched != 0 || res.Path != snap {
		t.Errorf("second download: %+v, %v", res, err)
	}
	if fake.Hits("resolve") != resolves || fake.Hits("cdn") != cdn {
		t.Error("the second download fetched files again")
	}
}

func TestDownloadRefusesCorruptFiles(t *testing.T) {
	for _, c := range []struct{ path, want string }{
		{"data/happy.json", "git blob id mismatch"},
		{"data/happy.wav", "sha256 mismatch"},
	} {
		t.Run(c.path, func(t *testing.T) {
			fake := hubtest.New(t)
			commit := fake.Add(testRepo(t))
			fake.Corrupt(c.path)
			cache := t.TempDir()
			h := newHub(fake, cache)
			h.Limits.Parallel = 1 // the other files are complete, and kept
			_, err := h.Download(context.Background(), testDataset, nil)
			if !errors.Is(err, ErrBadDownload) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %s", err, c.want)
			}
			notVisible(t, cache, commit)

			// Once the Hub serves the right file, the download completes.
			fake.Heal()
			res, err := h.Download(context.Background(), testDataset, nil)
			if err != nil || res.Files != 3 {
				t.Fatalf("after healing: %+v, %v", res, err)
			}
		})
	}
}

func TestDownloadRefusesTruncatedFile(t *testing.T) {
	for _, p := range []string{"sad.json", "data/happy.wav"} {
		t.Run(p, func(t *testing.T) {
			fake := hubtest.New(t)
			commit := fake.Add(testRepo(t))
			fake.Truncate(p)
			cache := t.TempDir()
			_, err := newHub(fake, cache).Download(context.Background(), testDataset, nil)
			if err == nil || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v", err)
			}
			notVisible(t, cache, commit)
		})
	}
}

// A file cut short by a server that ends the body cleanly (no length to
// check against) is refused too.
func TestDownloadRefusesShortFile(t *testing.T) {
	fake := hubtest.New(t)
	commit := fake.Add(testRepo(t))
	fake.Short("data/happy.json")
	cache := t.TempDir()
	_, err := newHub(fake, cache).Download(context.Background(), testDataset, nil)
	if !errors.Is(err, ErrBadDownload) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("err = %v", err)
	}
	notVisible(t, cache, commit)
}

func TestDownloadRefusesUnsafeListings(t *testing.T) {
	oid := hubtest.GitOID([]byte("x"))
	for _, e := range []map[string]any{
		{"type": "file", "path": "../evil.json", "size": 1, "oid": oid},
		{"type": "file", "path": "data/../../evil.json", "size": 1, "oid": oid},
		{"type": "file", "path": "/etc/evil.json", "size": 1, "oid": oid},
		{"type": "file", "path": `data\..\..\evil.json`, "size": 1, "oid": oid},
		{"type": "file", "path": "data//evil.json", "size": 1, "oid": oid},
		{"type": "file", "path": "./evil.json", "size": 1, "oid": oid},
		{"type": "file", "path": "evil\x00.json", "size": 1, "oid": oid},
		{"type": "directory", "path": "..", "size": 0, "oid": oid},
		{"type": "file", "path": "evil.json", "size": 1, "oid": "../../../../tmp/evil"},
		{"type": "file", "path": "evil.json", "size": 1, "oid": oid, "lfs": map[string]any{"oid": "../x", "size": 1}},
		{"type": "file", "path": "evil.json", "size": -1, "oid": oid},
		{"type": "file", "path": "sad.json", "size": 1, "oid": oid}, // twice
	} {
		t.Run(strconv.Quote(e["path"].(string)), func(t *testing.T) {
			fake := hubtest.New(t)
			commit := fake.Add(testRepo(t))
			fake.AddEntry(e)
			parent := t.TempDir()
			cache := filepath.Join(parent, "hub")
			_, err := newHub(fake, cache).Download(context.Background(), testDataset, nil)
			if !errors.Is(err, ErrBadDownload) {
				t.Fatalf("err = %v, want ErrBadDownload", err)
			}
			if fake.Hits("resolve") != 0 {
				t.Error("files were fetched from a listing that was refused")
			}
			if ents, _ := os.ReadDir(parent); len(ents) > 1 {
				t.Errorf("something was written beside the cache: %v", ents)
			}
			notVisible(t, cache, commit)
		})
	}
}

func TestDownloadHubErrors(t *testing.T) {
	fake := hubtest.New(t)
	fake.Add(hubtest.Repo{ID: "test-org/private", Private: true, Files: testRepo(t).Files})
	cache := t.TempDir()

	// Not on the Hub, and private without a token: not found.
	for _, ds := range []string{"test-org/missing", "test-org/private"} {
		h := &Hub{Endpoint: fake.URL, Cache: cache}
		_, err := h.Download(context.Background(), ds, nil)
		if !errors.Is(err, ErrNotOnHub) || !strings.Contains(err.Error(), "log in") {
			t.Errorf("%s: err = %v", ds, err)
		}
	}
	// Private with the token: downloaded.
	if _, err := newHub(fake, cache).Download(context.Background(), "test-org/private", nil); err != nil {
		t.Errorf("private with the token: %v", err)
	}
	// Offline.
	fake.Close()
	_, err := newHub(fake, t.TempDir()).Download(context.Background(), testDataset, nil)
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("offline: err = %v", err)
	}
	// Bad names never reach the network or the disk.
	for _, ds := range []string{"../x", "a/b/c", "a--b/c", "org/.."} {
		if _, err := newHub(fake, cache).Download(context.Background(), ds, nil); !errors.Is(err, motion.ErrBadName) {
			t.Errorf("%q: err = %v", ds, err)
		}
	}
}

func TestDownloadLimits(t *testing.T) {
	for name, lim := range map[string]Limits{
		"file size":  {MaxFileBytes: 100},
		"file count": {MaxFiles: 2},
		"total size": {MaxTotalBytes: 400},
		"entries":    {MaxEntries: 3},
		"pages":      {MaxPages: 1},
		"page bytes": {MaxPageBytes: 200},
	} {
		t.Run(name, func(t *testing.T) {
			fake := hubtest.New(t)
			fake.PageSize = 4
			commit := fake.Add(testRepo(t))
			cache := t.TempDir()
			h := newHub(fake, cache)
			h.Limits = lim
			if _, err := h.Download(context.Background(), testDataset, nil); !errors.Is(err, ErrBadDownload) {
				t.Fatalf("err = %v", err)
			}
			if fake.Hits("resolve") != 0 {
				t.Error("files were fetched")
			}
			notVisible(t, cache, commit)
		})
	}
}

// A snapshot huggingface_hub left incomplete is completed, link by link.
func TestDownloadCompletesAnExistingSnapshot(t *testing.T) {
	fake := hubtest.New(t)
	repo := testRepo(t)
	commit := fake.Add(repo)
	cache := t.TempDir()
	root := filepath.Join(cache, "datasets--test-org--emotions")
	snap := filepath.Join(root, "snapshots", commit)
	sad := repo.Files[4]
	if err := os.MkdirAll(snap, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "blobs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "blobs", hubtest.GitOID(sad.Data)), sad.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../blobs/"+hubtest.GitOID(sad.Data), filepath.Join(snap, "sad.json")); err != nil {
		t.Fatal(err)
	}
	res, err := newHub(fake, cache).Download(context.Background(), testDataset, nil)
	if err != nil || res.Fetched != 2 || res.Path != snap {
		t.Fatalf("%+v, %v", res, err)
	}
	if names, err := (motion.Library{Dirs: []string{cache}}).List(testDataset); err != nil || len(names) != 2 {
		t.Errorf("List = %v, %v", names, err)
	}
	if l := leftovers(t, cache); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

// A new commit on the Hub: a new snapshot, refs/main moves, unchanged
// files are not fetched again.
func TestDownloadFollowsANewCommit(t *testing.T) {
	fake := hubtest.New(t)
	repo := testRepo(t)
	old := fake.Add(repo)
	cache := t.TempDir()
	h := newHub(fake, cache)
	if _, err := h.Download(context.Background(), testDataset, nil); err != nil {
		t.Fatal(err)
	}
	repo.Files = append(repo.Files, hubtest.File{Path: "data/new.json", Data: moveJSON(t, 0.5)})
	commit := fake.Add(repo)
	res, err := h.Download(context.Background(), testDataset, nil)
	if err != nil || res.Commit != commit || res.Fetched != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	if dir, c, ok := h.Where(testDataset); !ok || c != commit || dir != res.Path {
		t.Errorf("Where = %s %s %v", dir, c, ok)
	}
	if _, err := os.Stat(filepath.Join(cache, "datasets--test-org--emotions", "snapshots", old)); err != nil {
		t.Error("the old snapshot was removed")
	}
	if names, _ := (motion.Library{Dirs: []string{cache}}).List(testDataset); len(names) != 3 {
		t.Errorf("List = %v", names)
	}
}

// Files with the same content share one blob, fetched once.
func TestIdenticalFilesShareABlob(t *testing.T) {
	fake := hubtest.New(t)
	commit := fake.Add(hubtest.Repo{ID: testDataset, Files: []hubtest.File{
		{Path: "data/a.json", Data: moveJSON(t, 0.1)},
		{Path: "data/b.json", Data: moveJSON(t, 0.1)},
	}})
	cache := t.TempDir()
	res, err := newHub(fake, cache).Download(context.Background(), testDataset, nil)
	if err != nil || res.Files != 2 || res.Fetched != 1 || fake.Hits("resolve") != 1 {
		t.Fatalf("%+v, %v; resolve hits %d", res, err, fake.Hits("resolve"))
	}
	snap := filepath.Join(cache, "datasets--test-org--emotions", "snapshots", commit)
	a, _ := os.Readlink(filepath.Join(snap, "data", "a.json"))
	b, _ := os.Readlink(filepath.Join(snap, "data", "b.json"))
	if a == "" || a != b {
		t.Errorf("links %q and %q", a, b)
	}
}
