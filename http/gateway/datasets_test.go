package gateway

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"reachyd/actors/datasets"
	"reachyd/actors/datasets/hubtest"
)

const nod = `{"description":"nod","time":[0,0.1,0.2],"set_target_data":[` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0,0]},` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0.2,-0.2]},` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0,0]}]}`

// The data channel's preload_dataset and play_recorded_move download a
// dataset that is not on disk; offline, the reference's error reply.
func TestPeerDatasetDownloads(t *testing.T) {
	fake := hubtest.New(t)
	commit := fake.Add(hubtest.Repo{ID: "hub-org/moves", Files: []hubtest.File{
		{Path: "data/nod.json", Data: []byte(nod)},
		{Path: "data/nod.wav", Data: []byte("RIFF fake"), LFS: true},
	}})
	fake.Add(hubtest.Repo{ID: "hub-org/more", Files: []hubtest.File{{Path: "wave.json", Data: []byte(nod)}}})
	cache := t.TempDir()
	tg := startGW(t, gwOptions{media: true, autostart: true, hub: &datasets.Hub{Endpoint: fake.URL, Cache: cache}})
	p := newPeer()

	snap := filepath.Join(cache, "datasets--hub-org--moves", "snapshots", commit)
	tg.call(p, `{"type":"preload_dataset","dataset_name":"hub-org/moves"}`,
		`{"command":"preload_dataset","status":"ok","dataset_name":"hub-org/moves","local_path":"`+snap+`"}`)
	if fake.Hits("resolve") != 2 {
		t.Errorf("resolve hits %d", fake.Hits("resolve"))
	}
	// A preload asks the Hub for updates; the files are not fetched again.
	tg.call(p, `{"type":"preload_dataset","dataset_name":"hub-org/moves"}`,
		`{"command":"preload_dataset","status":"ok","dataset_name":"hub-org/moves","local_path":"`+snap+`"}`)
	if fake.Hits("revision") != 2 || fake.Hits("resolve") != 2 {
		t.Errorf("second preload: revision %d resolve %d", fake.Hits("revision"), fake.Hits("resolve"))
	}
	// play_recorded_move of a dataset not on disk: downloaded, then played.
	tg.call(p, `{"type":"play_recorded_move","move_name":"wave","dataset_name":"hub-org/more"}`,
		`{"command":"play_recorded_move","status":"ok","move_name":"wave"}`)
	// The REST listing of a downloaded dataset.
	if code, body := tg.do("GET", "/api/move/recorded-move-datasets/list/hub-org/more", nil); code != 200 || body != `["wave"]` {
		t.Errorf("list: %d %s", code, body)
	}

	// Offline: a dataset on disk is still preloaded; one that is not gets
	// the reference's error.
	fake.Close()
	tg.call(p, `{"type":"preload_dataset","dataset_name":"hub-org/moves"}`,
		`{"command":"preload_dataset","status":"ok","dataset_name":"hub-org/moves","local_path":"`+snap+`"}`)
	tg.call(p, `{"type":"preload_dataset","dataset_name":"hub-org/other"}`,
		`{"command":"preload_dataset","status":"error","dataset_name":"hub-org/other","error":"download failed (see daemon logs)"}`)
	got := tg.callJSON(p, `{"type":"play_recorded_move","move_name":"x","dataset_name":"hub-org/other"}`)
	if got["status"] != "error" || !strings.Contains(got["error"].(string), "could not be downloaded") {
		t.Errorf("offline play: %v", got)
	}
	code, body := tg.do("GET", "/api/move/recorded-move-datasets/list/hub-org/other", nil)
	var d struct{ Detail string }
	if code != 503 || json.Unmarshal([]byte(body), &d) != nil || !strings.Contains(d.Detail, "could not be downloaded from "+fake.URL) {
		t.Errorf("offline list: %d %s", code, body)
	}
	if strings.Contains(body, cache) {
		t.Errorf("a server path in an answer: %s", body)
	}
}
