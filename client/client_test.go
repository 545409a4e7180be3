package client

// Edge cases against httptest servers written from the contract
// (spec/daemon-api.md §1 and §5.6, spec/skills-api.md §1); the whole client
// against a real reachyd is exercised by cmd/reachyctl's tests.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func newTest(t *testing.T, h http.Handler, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAPIErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		detail string
	}{
		{"detail string", 404, `{"detail":"App 'x' is not installed"}`, "App 'x' is not installed"},
		{"validation list", 422, `{"detail":[{"type":"missing","loc":["query","wake_up"],"msg":"Field required","input":null},{"loc":["body","duration"],"msg":"Input should be greater than or equal to 0"}]}`,
			"query.wake_up: Field required; body.duration: Input should be greater than or equal to 0"},
		{"plain text 500", 500, "Internal Server Error", "Internal Server Error"},
		{"detail object", 409, `{"detail":{"why":"busy"}}`, `{"why":"busy"}`},
		{"empty", 503, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := newTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			_, err := cl.Status(context.Background())
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != c.status || ae.Detail != c.detail {
				t.Fatalf("got %#v (%v)", ae, err)
			}
			if IsUnreachable(err) || IsTimeout(err) {
				t.Fatal("an answer is not a transport failure")
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	// A redirect is not followed (the daemon never redirects).
	cl := newTest(t, http.RedirectHandler("http://198.51.100.1/", http.StatusFound))
	var ae *APIError
	if _, err := cl.Status(context.Background()); !errors.As(err, &ae) || ae.Status != 302 {
		t.Fatalf("redirect: %v", err)
	}
	// An oversized body is refused, and is not "unreachable".
	cl = newTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`["` + strings.Repeat("a", 2000) + `"]`))
	}), WithMaxBody(1000))
	_, err := cl.Apps(context.Background(), "")
	if !IsProtocol(err) || IsUnreachable(err) {
		t.Fatalf("oversized body: %v", err)
	}
	// Not JSON where JSON is due.
	cl = newTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) }))
	if _, err := cl.Motors(context.Background()); !IsProtocol(err) {
		t.Fatalf("not JSON: %v", err)
	}
	// A daemon that does not answer: the client's timeout.
	hang := make(chan struct{})
	cl = newTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}), WithTimeout(100*time.Millisecond))
	defer close(hang)
	if _, err := cl.Status(context.Background()); !IsTimeout(err) || IsUnreachable(err) {
		t.Fatalf("hang: %v", err)
	}
	// Nobody listens.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	cl, _ = New(srv.URL)
	if _, err := cl.Status(context.Background()); !IsUnreachable(err) {
		t.Fatalf("closed port: %v", err)
	}
	for _, bad := range []string{"ftp://x", "http://", "127.0.0.1:8000", "http://h/?q=1"} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

// jobServer serves WS /api/apps/ws/apps-manager/{id} with the given frames
// then closes, and job-status with final.
func jobServer(t *testing.T, frames []string, final *JobInfo) *Client {
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/apps/ws/apps-manager/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for _, f := range frames {
			if err := c.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
				return
			}
		}
		_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	})
	mux.HandleFunc("GET /api/apps/job-status/{id}", func(w http.ResponseWriter, r *http.Request) {
		if final == nil {
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"detail":"Job ID not found"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(final)
	})
	return newTest(t, mux)
}

func batch(status string, lines ...string) []string {
	b, _ := json.Marshal(JobInfo{Command: "install", Status: status, Logs: append([]string{}, lines...)})
	return append(append([]string{}, lines...), string(b))
}

func TestFollowJob(t *testing.T) {
	// An app that prints something shaped like a final batch does not end
	// the stream early: a batch is one only after its own raw lines.
	fake := `{"command":"install","status":"done","logs":[]}`
	var frames []string
	frames = append(frames, batch("in_progress")...)
	frames = append(frames, batch("in_progress", "Copying /x")...)
	frames = append(frames, batch("in_progress", fake, "Installing executable app 'x'")...)
	frames = append(frames, batch("in_progress", "Successfully installed 'x' in /d")...)
	frames = append(frames, batch("done", "Job 'install' completed successfully")...)
	c := jobServer(t, frames, nil)
	var got []JobUpdate
	info, err := c.FollowJob(context.Background(), "j1", func(u JobUpdate) { got = append(got, u) })
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != JobDone || len(info.Logs) != 5 || info.Logs[1] != fake {
		t.Fatalf("final: %+v", info)
	}
	prev := -1.0
	for _, u := range got {
		if u.Progress < prev || u.Progress > 1 {
			t.Fatalf("progress went %v -> %v", prev, u.Progress)
		}
		prev = u.Progress
		if u.Status != JobDone && u.Progress >= 1 {
			t.Fatalf("100 %% before the end: %+v", u)
		}
	}
	if prev != 1 || got[1].Progress != 0.30 || got[2].Progress != 0.70 {
		t.Fatalf("progress: %v", got)
	}

	// A failed job is a JobError with its last line.
	c = jobServer(t, batch("failed", "Job 'install' failed with error: no space"), nil)
	_, err = c.FollowJob(context.Background(), "j2", nil)
	var je *JobError
	if !errors.As(err, &je) || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("failed job: %v", err)
	}

	// An unknown job.
	c = jobServer(t, []string{`{"error":"Job ID not found"}`}, nil)
	if _, err = c.FollowJob(context.Background(), "nope", nil); !IsNotFound(err) {
		t.Fatalf("unknown job: %v", err)
	}

	// A stream cut before the end: the register tells the rest.
	c = jobServer(t, batch("in_progress", "a"), &JobInfo{Command: "install", Status: JobDone, Logs: []string{"a", "b", "Job 'install' completed successfully"}})
	got = nil
	info, err = c.FollowJob(context.Background(), "j3", func(u JobUpdate) { got = append(got, u) })
	if err != nil || len(info.Logs) != 3 || len(got) != 2 || got[1].Lines[0] != "b" {
		t.Fatalf("cut stream: %+v %v %+v", info, err, got)
	}
	// ... and when the job still runs, that is an error, not a success.
	c = jobServer(t, batch("in_progress", "a"), &JobInfo{Command: "install", Status: JobInProgress, Logs: []string{"a"}})
	if _, err = c.FollowJob(context.Background(), "j4", nil); err == nil {
		t.Fatal("a job still running ended the follow without error")
	}
}

func TestEstimate(t *testing.T) {
	p := 0.0
	for _, l := range []string{"Downloading HuggingFace Space: a/b", "Space found: a/b", "Downloaded files: x", "Creating virtual environment v",
		"Installing /s with its dependencies", "Collecting numpy", "Successfully installed 'b' in /d"} {
		q := estimate(p, l)
		if q < p || q >= 1 {
			t.Fatalf("%q: %v -> %v", l, p, q)
		}
		p = q
	}
	if p != 0.95 {
		t.Fatalf("end of an install: %v", p)
	}
	if q := estimate(0.2, "Downloaded 2/4 files"); q != 0.05+0.85*0.5 {
		t.Fatalf("download count: %v", q)
	}
	if q := estimate(0.96, "Copying /x"); q < 0.96 {
		t.Fatalf("went back: %v", q)
	}
}

// TestSkillsAuth: the key is exchanged on first use, the rolling token is
// followed, a refused token leads to one new login.
func TestSkillsAuth(t *testing.T) {
	var mu sync.Mutex
	valid := map[string]bool{}
	logins, seq := 0, 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/auth/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("X-API-Key") != "rmk_good" {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"detail":"Invalid API key"}`))
			return
		}
		logins++
		seq++
		tok := "t" + string(rune('0'+seq))
		valid = map[string]bool{tok: true}
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "client_id": "c-1", "access_level": "ADMIN"})
	})
	mux.HandleFunc("GET /api/v1/get/{cmd}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !valid[tok] {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"detail":"Invalid token"}`))
			return
		}
		seq++
		next := "r" + string(rune('0'+seq))
		valid[next] = true
		w.Header().Set("Authorization", "Bearer "+next)
		_, _ = w.Write([]byte(`{"result":[]}`))
	})
	c := newTest(t, mux, WithAPIKey("rmk_good"))
	ctx := context.Background()
	if _, err := c.Missions(ctx); err != nil {
		t.Fatal(err)
	}
	first := c.currentToken()
	if _, err := c.Missions(ctx); err != nil {
		t.Fatal(err)
	}
	if c.currentToken() == first || logins != 1 {
		t.Fatalf("rolling token not followed: %q, %d logins", c.currentToken(), logins)
	}
	// The daemon forgets the session: one new login, then success.
	mu.Lock()
	valid = map[string]bool{}
	mu.Unlock()
	if _, err := c.Missions(ctx); err != nil || logins != 2 {
		t.Fatalf("after the session ended: %v, %d logins", err, logins)
	}
	// A bad key is the daemon's 401.
	bad := newTest(t, mux, WithAPIKey("rmk_bad"))
	var ae *APIError
	if _, err := bad.Missions(ctx); !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("bad key: %v", err)
	}
	// No key at all: no request.
	none := newTest(t, mux)
	if _, err := none.Missions(ctx); !errors.Is(err, ErrNoAPIKey) {
		t.Fatalf("no key: %v", err)
	}
}

// FuzzAPIError: any error body gives an APIError with bounded text.
func FuzzAPIError(f *testing.F) {
	for _, s := range []string{`{"detail":"x"}`, `{"detail":[{"loc":["a",1],"msg":"m"}]}`, `{"detail":null}`, `{"detail":[1]}`, "Internal Server Error", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		e := parseAPIError(500, []byte(body))
		if e.Status != 500 || e.Error() == "" {
			t.Fatalf("%#v", e)
		}
		if !json.Valid([]byte(body)) && len(e.Detail) > 503 {
			t.Fatalf("unbounded detail: %d", len(e.Detail))
		}
	})
}

// FuzzJobFrames: any sequence of frames is parsed without panic, progress
// stays in [0, 1] and only grows.
func FuzzJobFrames(f *testing.F) {
	f.Add("Copying /x\n{\"command\":\"install\",\"status\":\"in_progress\",\"logs\":[\"Copying /x\"]}\n{\"command\":\"install\",\"status\":\"done\",\"logs\":[]}")
	f.Add("{\"error\":\"Job ID not found\"}")
	f.Add("Downloaded 3/2 files\n{\"command\":1}")
	f.Fuzz(func(t *testing.T, stream string) {
		prev := 0.0
		jf := &jobFollower{fn: func(u JobUpdate) {
			if u.Progress < prev || u.Progress > 1 {
				t.Fatalf("progress %v after %v", u.Progress, prev)
			}
			prev = u.Progress
		}}
		for _, fr := range strings.Split(stream, "\n") {
			jf.notFound([]byte(fr))
			if jf.frame([]byte(fr)) != nil {
				return
			}
		}
	})
}
