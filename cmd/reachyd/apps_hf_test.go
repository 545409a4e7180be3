package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeToken is the Hugging Face token the fake service accepts for the
// private space.
const fakeToken = "hf_fake_token"

// fakeSpaces is a local stand-in for the part of the Hugging Face API the
// app manager uses: the space listing, the curated app list,
// /api/spaces/<id> and the files at a commit. "me/wave" is public,
// "me/secret" private (the token is required), and "me/slow" never
// finishes sending its file.
func fakeSpaces(t *testing.T) (*httptest.Server, *atomic.Int32) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	// Each space holds an executable app named after it.
	files := func(id string) map[string]string {
		name := id[strings.Index(id, "/")+1:]
		return map[string]string{
			"reachy-app.yaml": "name: " + name + "\ndescription: test app\ncommand: [\"./run.sh\"]\n",
			"run.sh":          "#!/bin/sh\ntrap 'exit 0' INT\necho running\nwhile :; do sleep 0.05; done\n",
		}
	}
	spaces := map[string]bool{"me/wave": false, "me/slow": false, "me/secret": true} // id: private
	var slowHits atomic.Int32
	info := func(id string) map[string]any {
		sib := []map[string]string{{"rfilename": ".gitattributes"}}
		for n := range files(id) {
			sib = append(sib, map[string]string{"rfilename": n})
		}
		return map[string]any{"id": id, "sha": sha, "private": spaces[id], "likes": 3, "tags": []string{"reachy_mini_python_app"},
			"lastModified": "2026-11-01T00:00:00.000Z", "siblings": sib, "cardData": map[string]any{"short_description": "waves"}}
	}
	allowed := func(r *http.Request, id string) bool {
		private, ok := spaces[id]
		return ok && (!private || r.Header.Get("Authorization") == "Bearer "+fakeToken)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/spaces", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode([]any{info("me/wave")})
	})
	mux.HandleFunc("GET /datasets/pollen-robotics/reachy-mini-official-app-store/raw/main/app-list.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`["me/wave"]`))
	})
	mux.HandleFunc("GET /api/spaces/{owner}/{name}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("owner") + "/" + r.PathValue("name")
		if !allowed(r, id) {
			http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(info(id))
	})
	mux.HandleFunc("GET /spaces/{owner}/{name}/resolve/{sha}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("owner") + "/" + r.PathValue("name")
		if r.PathValue("sha") != sha || !allowed(r, id) {
			http.NotFound(w, r)
			return
		}
		if id == "me/slow" {
			slowHits.Add(1)
			w.Header().Set("Content-Length", "1000000")
			_, _ = w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			<-r.Context().Done() // until the client gives up
			return
		}
		body, ok := files(id)[r.PathValue("path")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &slowHits
}

// TestAppsFromAHuggingFaceSpace installs an app from a (fake) space through
// the reference's install route, runs it, and cancels a stalled install.
func TestAppsFromAHuggingFaceSpace(t *testing.T) {
	hf, slowHits := fakeSpaces(t)
	d := startDaemon(t, "--hf-endpoint", hf.URL, "--app-stop-grace", "2")
	d.waitRunning()

	install := func(id string) string {
		t.Helper()
		code, body := d.do("POST", "/api/apps/install", map[string]any{"name": id[strings.Index(id, "/")+1:],
			"source_kind": "hf_space", "extra": map[string]any{"id": id}})
		if code != 200 {
			t.Fatalf("install %s: %d %s", id, code, body)
		}
		var j map[string]string
		_ = json.Unmarshal(body, &j)
		return j["job_id"]
	}

	info := d.waitJob(install("me/wave"), "done")
	if logs := strings.Join(toStrings(info["logs"]), "\n"); !strings.Contains(logs, "Job 'install' completed successfully") {
		t.Fatalf("install logs: %s", logs)
	}
	var installed []map[string]any
	d.getJSON("/api/apps/list-available/installed", &installed)
	if len(installed) != 1 || installed[0]["name"] != "wave" {
		t.Fatalf("installed: %v", installed)
	}
	if code, body := d.do("POST", "/api/apps/start-app/wave", nil); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	st := d.waitAppState("running")
	// Cancelling the app's job stops the app.
	job := st["reachyd"].(map[string]any)["job_id"].(string)
	if code, body := d.do("POST", "/api/apps/cancel-job/"+job, nil); code != 200 || !strings.Contains(string(body), `"status":"cancelling"`) {
		t.Fatalf("cancel the app's job: %d %s", code, body)
	}
	d.waitJob(job, "done") // a stop is a clean end
	eventually(t, "the app is forgotten", func() bool { return d.appStatus() == nil })
	if d.lockState() != "free" {
		t.Fatal("lock held after the app was cancelled")
	}

	// An unknown space fails the job with the reason.
	info = d.waitJob(install("me/missing"), "failed")
	if logs := strings.Join(toStrings(info["logs"]), "\n"); !strings.Contains(logs, "Failed to install app 'missing'") {
		t.Fatalf("logs of a missing space: %s", logs)
	}

	// A stalled download is cancelled: the job fails "cancelled" and
	// nothing is installed.
	slow := install("me/slow")
	eventually(t, "the download starts", func() bool { return slowHits.Load() > 0 })
	code, body := d.do("POST", "/api/apps/cancel-job/"+slow, nil)
	if code != 200 {
		t.Fatalf("cancel: %d %s", code, body)
	}
	info = d.waitJob(slow, "failed")
	if logs := toStrings(info["logs"]); logs[len(logs)-1] != "Job 'install' failed with error: cancelled" {
		t.Fatalf("cancelled job logs: %q", logs)
	}
	d.getJSON("/api/apps/list-available/installed", &installed)
	if len(installed) != 1 {
		t.Fatalf("a cancelled install left an app: %v", installed)
	}
	// A finished job, an unknown job, and a job with no runner cannot be
	// cancelled.
	if code, body := d.do("POST", "/api/apps/cancel-job/"+slow, nil); code != 400 || string(body) != `{"detail":"Job already finished"}` {
		t.Fatalf("cancel a finished job: %d %s", code, body)
	}
	if code, body := d.do("POST", "/api/apps/cancel-job/nope", nil); code != 404 || string(body) != `{"detail":"Job ID not found"}` {
		t.Fatalf("cancel an unknown job: %d %s", code, body)
	}
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
