package datasets

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"reachyd/actors/datasets/hubtest"
	"reachyd/actors/moves/motion"
)

// nodeHub runs a script with Hugging Face's own JavaScript client
// (@huggingface/hub, which shares huggingface_hub's cache layout), found in
// $REACHYD_HF_JS/node_modules; the test is skipped without it (it is not
// installed by default: see README.md, Development).
func nodeHub(t *testing.T, script string, env ...string) string {
	t.Helper()
	dir := os.Getenv("REACHYD_HF_JS")
	if dir == "" {
		t.Skip("REACHYD_HF_JS is not set (a folder with node_modules/@huggingface/hub)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node")
	}
	cmd := exec.Command(node, "-e", script)
	cmd.Env = append(os.Environ(), append(env, "NODE_PATH="+filepath.Join(dir, "node_modules"))...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// lastLine is a script's result (the client logs its downloads before).
func lastLine(out string) string { return out[strings.LastIndex(out, "\n")+1:] }

// The real client and reachyd read each other's downloads: what
// @huggingface/hub's snapshotDownload fetched from the fake Hub (which
// checks the fake against a real client too), reachyd lists and does not
// fetch again; what reachyd fetched, the client's cache scan reports as
// the dataset at its commit, on main.
func TestInteropWithHuggingFaceClient(t *testing.T) {
	fake := hubtest.New(t)
	commit := fake.Add(testRepo(t))

	jsCache := t.TempDir()
	got := nodeHub(t, `require("@huggingface/hub").snapshotDownload({repo: {type: "dataset", name: process.env.DS},
		cacheDir: process.env.CACHE, hubUrl: process.env.HUB}).then(p => console.log(p), e => { console.error(e); process.exit(1) })`,
		"DS="+testDataset, "CACHE="+jsCache, "HUB="+fake.URL)
	if want := filepath.Join(jsCache, "datasets--test-org--emotions", "snapshots", commit); lastLine(got) != want {
		t.Errorf("snapshotDownload: %q, want %q", got, want)
	}
	if names, err := (motion.Library{Dirs: []string{jsCache}}).List(testDataset); err != nil || !slices.Equal(names, []string{"happy", "sad"}) {
		t.Errorf("reachyd lists the client's download: %v, %v", names, err)
	}
	resolves := fake.Hits("resolve")
	res, err := newHub(fake, jsCache).Download(context.Background(), testDataset, nil)
	if err != nil || res.Fetched != 0 || fake.Hits("resolve") != resolves {
		t.Errorf("reachyd after the client: %+v, %v (fetched again)", res, err)
	}

	goCache := t.TempDir()
	if _, err := newHub(fake, goCache).Download(context.Background(), testDataset, nil); err != nil {
		t.Fatal(err)
	}
	scan := nodeHub(t, `require("@huggingface/hub").scanCacheDir(process.env.CACHE).then(i => console.log(JSON.stringify(i)),
		e => { console.error(e); process.exit(1) })`, "CACHE="+goCache)
	var info struct {
		Repos []struct {
			ID        struct{ Name, Type string }
			Revisions []struct {
				CommitOid string
				Refs      []string
				Files     []struct {
					Path string
					Blob struct{ Path string }
				}
			}
		}
		Warnings []any
	}
	if err := json.Unmarshal([]byte(scan), &info); err != nil {
		t.Fatalf("%v: %s", err, scan)
	}
	if len(info.Warnings) != 0 || len(info.Repos) != 1 || info.Repos[0].ID.Name != testDataset || info.Repos[0].ID.Type != "dataset" ||
		len(info.Repos[0].Revisions) != 1 {
		t.Fatalf("scanCacheDir: %s", scan)
	}
	// (The JavaScript scan does not go into folders: sad.json is the one
	// file at the root.)
	rev := info.Repos[0].Revisions[0]
	if rev.CommitOid != commit || !slices.Contains(rev.Refs, "main") || len(rev.Files) != 1 ||
		filepath.Base(rev.Files[0].Path) != "sad.json" || filepath.Base(rev.Files[0].Blob.Path) != hubtest.GitOID(testRepo(t).Files[4].Data) {
		t.Errorf("scanCacheDir revision: %+v", rev)
	}
	// The client's snapshotDownload over reachyd's download fetches only
	// the two files reachyd leaves out (README.md, .gitattributes): it
	// takes reachyd's links and blobs for its own.
	got = nodeHub(t, `require("@huggingface/hub").snapshotDownload({repo: {type: "dataset", name: process.env.DS},
		cacheDir: process.env.CACHE, hubUrl: process.env.HUB}).then(p => console.log(p), e => { console.error(e); process.exit(1) })`,
		"DS="+testDataset, "CACHE="+goCache, "HUB="+fake.URL)
	var fetched []string
	for _, l := range strings.Split(got, "\n") {
		if p, ok := strings.CutPrefix(l, "Downloading "); ok {
			fetched = append(fetched, p[:strings.Index(p, " to ")])
		}
	}
	slices.Sort(fetched)
	if !slices.Equal(fetched, []string{".gitattributes", "README.md"}) || !strings.HasSuffix(got, commit) {
		t.Errorf("the client fetched %v over reachyd's download:\n%s", fetched, got)
	}
}
