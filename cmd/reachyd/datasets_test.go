package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/actors/datasets/hubtest"
	"reachyd/actors/kit"
	"reachyd/messages"
)

const emotions = "pollen-robotics/reachy-mini-emotions-library"
const dances = "pollen-robotics/reachy-mini-dances-library"

// recordedMove is a short recorded move in the reference's format.
const recordedMove = `{"description":"test","time":[0,0.1,0.2],"set_target_data":[` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0,0],"body_yaw":0},` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0.2,-0.2],"body_yaw":0},` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0,0],"body_yaw":0}]}`

// fakeLibraries serves the reference's two libraries, small, laid out as
// on the Hub (moves and their sounds in data/, sounds in LFS).
func fakeLibraries(t *testing.T) *hubtest.Server {
	fake := hubtest.New(t)
	for _, id := range []string{emotions, dances} {
		fake.Add(hubtest.Repo{ID: id, Files: []hubtest.File{
			{Path: ".gitattributes", Data: []byte("*.wav filter=lfs diff=lfs merge=lfs -text\n")},
			{Path: "README.md", Data: []byte("# " + id + "\n")},
			{Path: "data/cheerful1.json", Data: []byte(recordedMove)},
			{Path: "data/cheerful1.wav", Data: []byte("RIFF\x24\x00\x00\x00WAVEfmt fake"), LFS: true},
			{Path: "data/curious1.json", Data: []byte(recordedMove + "\n")},
		}})
	}
	return fake
}

// downloadJobs returns the dataset download jobs of the register.
func (d *testDaemon) downloadJobs() []messages.JobInfo {
	d.t.Helper()
	all, err := kit.Ask[[]messages.JobInfo](context.Background(), d.sys.Kit, d.sys.Jobs, &messages.ListJobs{})
	if err != nil {
		d.t.Fatal(err)
	}
	var out []messages.JobInfo
	for _, j := range all {
		if strings.HasPrefix(j.Command, "download dataset ") {
			out = append(out, j)
		}
	}
	return out
}

// The desktop app's emotion wheel on a fresh robot: the listing downloads
// the library into the hub cache (a job with its progress), a play does not
// download it again, and /ws/sdk's play_recorded_move downloads the one it
// needs.
func TestDatasetsAreDownloadedOnDemand(t *testing.T) {
	fake := fakeLibraries(t)
	cache := t.TempDir()
	d := startDaemon(t, "--hf-endpoint", fake.URL, "--hf-hub-cache", cache)
	d.waitRunning()

	code, body := d.do("GET", "/api/move/recorded-move-datasets/list/"+emotions, nil)
	if code != 200 || string(body) != `["cheerful1","curious1"]` {
		t.Fatalf("list: %d %s", code, body)
	}
	repo := filepath.Join(cache, "datasets--pollen-robotics--reachy-mini-emotions-library")
	commit, err := os.ReadFile(filepath.Join(repo, "refs", "main"))
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(repo, "snapshots", string(commit), "data", "cheerful1.wav")); err != nil ||
		!strings.HasPrefix(target, "../../../blobs/") {
		t.Errorf("cheerful1.wav -> %q, %v", target, err)
	}
	jobs := d.downloadJobs()
	if len(jobs) != 1 || jobs[0].Status != messages.JobDone {
		t.Fatalf("jobs: %+v", jobs)
	}
	// The job's log, as the job-status route gives it.
	var st struct {
		Command, Status string
		Logs            []string
	}
	d.getJSON("/api/apps/job-status/"+jobs[0].ID, &st)
	logs := strings.Join(st.Logs, "\n")
	for _, want := range []string{"3 files", "Downloaded 3/3 files", "completed successfully"} {
		if !strings.Contains(logs, want) {
			t.Errorf("job log lacks %q:\n%s", want, logs)
		}
	}

	resolves := fake.Hits("resolve")
	code, body = d.do("POST", "/api/move/play/recorded-move-dataset/"+emotions+"/cheerful1", nil)
	if code != 200 || !strings.Contains(string(body), `"uuid"`) {
		t.Fatalf("play: %d %s", code, body)
	}
	if fake.Hits("resolve") != resolves || len(d.downloadJobs()) != 1 {
		t.Error("a play downloaded the dataset again")
	}

	// /ws/sdk: a play of a dataset not on disk downloads it, then plays.
	updates, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/move/ws/updates", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer updates.Close()
	sdk := d.dialSDK()
	// The move of the REST play may still run: wait for it to end.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var running []any
		d.getJSON("/api/move/running", &running)
		if len(running) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the move did not end")
		}
	}
	sdk.send(map[string]any{"type": "play_recorded_move", "move_name": "curious1", "dataset_name": dances})
	_ = updates.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := updates.ReadMessage()
		if err != nil {
			t.Fatalf("no move started for the SDK's play: %v", err)
		}
		var ev map[string]string
		if json.Unmarshal(b, &ev) == nil && ev["type"] == "move_started" {
			break
		}
	}
	if _, err := os.Stat(filepath.Join(cache, "datasets--pollen-robotics--reachy-mini-dances-library", "refs", "main")); err != nil {
		t.Errorf("the dances library is not in the cache: %v", err)
	}
	if n := len(d.downloadJobs()); n != 2 {
		t.Errorf("%d download jobs, want 2", n)
	}
}

// Offline, or a Hub that sends a corrupt file: a clear error, nothing left
// in the cache that the daemon or huggingface_hub would read.
func TestDatasetDownloadFailures(t *testing.T) {
	fake := fakeLibraries(t)
	fake.Corrupt("data/cheerful1.wav")
	cache := t.TempDir()
	d := startDaemon(t, "--hf-endpoint", fake.URL, "--hf-hub-cache", cache)
	d.waitRunning()
	detail := func(code int, body []byte) string {
		var v struct{ Detail string }
		if json.Unmarshal(body, &v) != nil {
			t.Fatalf("not the reference's error body: %d %s", code, body)
		}
		return v.Detail
	}
	for _, req := range [][2]string{
		{"GET", "/api/move/recorded-move-datasets/list/" + emotions},
		{"POST", "/api/move/play/recorded-move-dataset/" + emotions + "/cheerful1"},
	} {
		code, body := d.do(req[0], req[1], nil)
		if det := detail(code, body); code != 503 || !strings.Contains(det, "could not be downloaded") || !strings.Contains(det, "sha256 mismatch") {
			t.Errorf("%s %s: %d %s", req[0], req[1], code, body)
		}
	}
	repo := filepath.Join(cache, "datasets--pollen-robotics--reachy-mini-emotions-library")
	for _, p := range []string{"refs/main", "snapshots", ".reachyd-staging"} {
		if ents, err := os.ReadDir(filepath.Join(repo, p)); err == nil && len(ents) > 0 || p == "refs/main" && err == nil {
			t.Errorf("%s left in the cache", p)
		}
	}

	// Unknown on the Hub: 404, as the reference's RepositoryNotFoundError.
	code, body := d.do("GET", "/api/move/recorded-move-datasets/list/pollen-robotics/nothing", nil)
	if det := detail(code, body); code != 404 || !strings.Contains(det, "nothing") {
		t.Errorf("unknown dataset: %d %s", code, body)
	}
	// Offline.
	fake.Close()
	code, body = d.do("GET", "/api/move/recorded-move-datasets/list/"+dances, nil)
	if det := detail(code, body); code != 503 || !strings.Contains(det, "could not be downloaded from "+fake.URL) {
		t.Errorf("offline: %d %s", code, body)
	}
}

// --preload-datasets downloads both libraries at startup; HF_HUB_OFFLINE
// keeps the daemon off the network.
func TestPreloadDatasets(t *testing.T) {
	fake := fakeLibraries(t)
	cache := t.TempDir()
	startDaemon(t, "--hf-endpoint", fake.URL, "--hf-hub-cache", cache, "--preload-datasets")
	for _, name := range []string{"reachy-mini-emotions-library", "reachy-mini-dances-library"} {
		ref := filepath.Join(cache, "datasets--pollen-robotics--"+name, "refs", "main")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(ref); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s was not preloaded", name)
			}
		}
	}

	t.Setenv("HF_HUB_OFFLINE", "1")
	hits := fake.Hits("revision")
	d := startDaemon(t, "--hf-endpoint", fake.URL, "--hf-hub-cache", t.TempDir(), "--preload-datasets")
	d.waitRunning()
	code, body := d.do("GET", "/api/move/recorded-move-datasets/list/"+emotions, nil)
	if code != 404 || !strings.Contains(string(body), "HF_HUB_OFFLINE") {
		t.Errorf("offline mode: %d %s", code, body)
	}
	if fake.Hits("revision") != hits {
		t.Error("HF_HUB_OFFLINE: the Hub was asked")
	}
}
