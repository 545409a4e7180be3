package store

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

const testToken = "hf_secret_token_123"

type fakeSpace struct {
	sha     string
	private bool
	broken  bool
	files   map[string]string
	extra   map[string]any
}

type fakeReq struct{ url, auth string }

// fakeHF serves the subset of the Hugging Face API the store uses.
type fakeHF struct {
	t      *testing.T
	mu     sync.Mutex
	spaces map[string]*fakeSpace
	list   []any // app-list.json
	reqs   []fakeReq
	srv    *httptest.Server
}

func newFakeHF(t *testing.T) *fakeHF {
	f := &fakeHF{t: t, spaces: map[string]*fakeSpace{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/spaces", f.listSpaces)
	mux.HandleFunc("GET /api/spaces/{owner}/{name}", f.spaceInfo)
	mux.HandleFunc("GET /spaces/{owner}/{name}/resolve/{sha}/{path...}", f.resolve)
	mux.HandleFunc("GET "+DashboardAppList, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(f.list)
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, fakeReq{r.URL.String(), r.Header.Get("Authorization")})
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeHF) hf(token string) HF {
	return HF{Endpoint: f.srv.URL, HTTP: f.srv.Client(), Token: token}
}

func (f *fakeHF) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func (f *fakeHF) setSHA(id, sha string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.spaces[id].sha = sha
}

func (f *fakeHF) json(id string, sp *fakeSpace) map[string]any {
	var sib []any
	names := []string{".gitattributes"}
	for n := range sp.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sib = append(sib, map[string]any{"rfilename": n})
	}
	m := map[string]any{
		"_id": "65f0", "id": id, "author": strings.Split(id, "/")[0], "sha": sp.sha,
		"lastModified": "2026-01-02T03:04:05.000Z", "private": sp.private, "likes": 7,
		"sdk": "static", "tags": []any{"reachy_mini_python_app"}, "siblings": sib,
		"created_at": "2025-01-01T00:00:00.000Z", // snake_case, as huggingface_hub's SpaceInfo
	}
	for k, v := range sp.extra {
		m[k] = v
	}
	return m
}

func (f *fakeHF) authorized(r *http.Request, sp *fakeSpace) bool {
	return !sp.private || r.Header.Get("Authorization") == "Bearer "+testToken
}

func (f *fakeHF) listSpaces(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("filter") != HFSpacesFilter || q.Get("sort") != "likes" || q.Get("limit") != "500" || q.Get("full") != "true" {
		http.Error(w, "bad query "+r.URL.RawQuery, 400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id, sp := range f.spaces {
		if !sp.private && !sp.broken {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []any
	if q.Get("cursor") == "" { // first page: one space, an item without id, then a link
		out = append(out, f.json(ids[0], f.spaces[ids[0]]), map[string]any{"noid": true})
		q.Set("cursor", "2")
		w.Header().Set("Link", `<`+f.srv.URL+`/api/spaces?`+q.Encode()+`>; rel="next"`)
	} else {
		for _, id := range ids[1:] {
			out = append(out, f.json(id, f.spaces[id]))
		}
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeHF) space(r *http.Request) (string, *fakeSpace) {
	id := r.PathValue("owner") + "/" + r.PathValue("name")
	f.mu.Lock()
	defer f.mu.Unlock()
	return id, f.spaces[id]
}

func (f *fakeHF) spaceInfo(w http.ResponseWriter, r *http.Request) {
	id, sp := f.space(r)
	switch {
	case sp == nil:
		http.Error(w, `{"error":"Repository not found"}`, 404)
	case !f.authorized(r, sp):
		http.Error(w, `{"error":"Invalid credentials"}`, 401)
	case sp.broken:
		http.Error(w, "boom", 500)
	default:
		f.mu.Lock()
		m := f.json(id, sp)
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(m)
	}
}

func (f *fakeHF) resolve(w http.ResponseWriter, r *http.Request) {
	_, sp := f.space(r)
	if sp == nil {
		http.Error(w, "not found", 404)
		return
	}
	if !f.authorized(r, sp) {
		http.Error(w, "unauthorized", 401)
		return
	}
	f.mu.Lock()
	body, ok := sp.files[r.PathValue("path")]
	sha := sp.sha
	f.mu.Unlock()
	if !ok || r.PathValue("sha") != sha {
		http.Error(w, "not found", 404)
		return
	}
	_, _ = w.Write([]byte(body))
}

const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"
)

func catalogue(t *testing.T) *fakeHF {
	f := newFakeHF(t)
	f.spaces["pollen-robotics/hello"] = &fakeSpace{sha: sha1, files: helloApp("v1", "reachy_mini_apps"),
		extra: map[string]any{"cardData": map[string]any{"title": "Hello", "short_description": "Says hello"}}}
	f.spaces["pollen-robotics/waver"] = &fakeSpace{sha: sha1, files: waverApp("waver"),
		extra: map[string]any{"cardData": map[string]any{"short_description": "Waves"}}}
	f.spaces["pollen-robotics/broken"] = &fakeSpace{sha: sha1, broken: true}
	secret := waverApp("secret")
	secret["bin/run.sh"] = "#!/bin/sh\necho secret $GREETING\n"
	f.spaces["alice/secret"] = &fakeSpace{sha: sha1, private: true, files: secret}
	f.spaces["pollen-robotics/evil"] = &fakeSpace{sha: sha1, files: map[string]string{"ok.txt": "x", "../evil": "x"}}
	f.spaces["pollen-robotics/huge"] = &fakeSpace{sha: sha1, files: map[string]string{"big": strings.Repeat("x", 5000)}}
	f.list = []any{"pollen-robotics/hello", "pollen-robotics/broken", "pollen-robotics/missing", 42, "bad id!", "pollen-robotics/waver"}
	return f
}

func TestHFCatalogue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := catalogue(t)

	t.Run("list spaces", func(t *testing.T) {
		apps, err := f.hf(testToken).ListSpaces(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range apps {
			got = append(got, a.Name)
		}
		// evil, hello (page 1: first id, item without id skipped), huge, waver
		if !slices.Equal(got, []string{"evil", "hello", "huge", "waver"}) {
			t.Fatalf("names = %v", got)
		}
		h := apps[1]
		if h.SourceKind != SourceHFSpace || h.Description != "Says hello" || h.URL == nil ||
			*h.URL != f.srv.URL+"/spaces/pollen-robotics/hello" || h.Extra["id"] != "pollen-robotics/hello" {
			t.Fatalf("hello = %+v", h)
		}
		if _, snake := h.Extra["created_at"]; snake || h.Extra["createdAt"] != "2025-01-01T00:00:00.000Z" {
			t.Fatalf("created_at not renamed: %v", h.Extra)
		}
		b, _ := json.Marshal(h)
		if !strings.HasPrefix(string(b), `{"name":"hello","source_kind":"hf_space","description":"Says hello","url":"`) {
			t.Fatalf("json = %s", b)
		}
		if reqs := f.requests(); reqs[0].auth != "Bearer "+testToken {
			t.Fatalf("list without token: %+v", reqs[0])
		}
	})

	t.Run("dashboard selection skips broken spaces", func(t *testing.T) {
		apps, err := f.hf("").DashboardSelection(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(apps) != 2 || apps[0].Name != "hello" || apps[1].Name != "waver" ||
			apps[0].SourceKind != SourceDashboardSelection || apps[1].Description != "Waves" {
			t.Fatalf("apps = %+v", apps)
		}
	})

	t.Run("space errors", func(t *testing.T) {
		_, err := f.hf("").SpaceInfo(ctx, "pollen-robotics/missing")
		if !errors.Is(err, ErrSpaceNotFound) || !strings.Contains(err.Error(), "space not found") {
			t.Fatalf("missing: %v", err)
		}
		_, err = f.hf("").SpaceInfo(ctx, "alice/secret")
		if !errors.Is(err, ErrNotAuthorized) || !strings.Contains(err.Error(), "token") {
			t.Fatalf("private without token: %v", err)
		}
		_, err = f.hf("wrong").SpaceInfo(ctx, "alice/secret")
		if !errors.Is(err, ErrNotAuthorized) || !strings.Contains(err.Error(), "token") {
			t.Fatalf("private with a wrong token: %v", err)
		}
		sp, err := f.hf(testToken).SpaceInfo(ctx, "alice/secret")
		if err != nil || sp.SHA != sha1 || !sp.Private || !slices.Contains(sp.Files, "bin/run.sh") {
			t.Fatalf("private with token: %+v %v", sp, err)
		}
		n := len(f.requests())
		for _, id := range []string{"", "a", "a/b/c", "../x", "a/..", "a/b?x=1", "a/b#c", "-a/b", "a/b.git", "a--b/c", "a/b c"} {
			if _, err := f.hf("").SpaceInfo(ctx, id); !errors.Is(err, ErrInvalidName) {
				t.Errorf("SpaceInfo(%q) = %v", id, err)
			}
		}
		if len(f.requests()) != n {
			t.Fatal("a request was made for an invalid id")
		}
	})

	t.Run("download validates paths and sizes", func(t *testing.T) {
		_, err := f.hf("").DownloadSpace(ctx, "pollen-robotics/evil", filepath.Join(t.TempDir(), "d"), nil)
		if !errors.Is(err, ErrInvalidApp) {
			t.Fatalf("traversal: %v", err)
		}
		hf := f.hf("")
		hf.Limits = Limits{MaxFileBytes: 1000}
		_, err = hf.DownloadSpace(ctx, "pollen-robotics/huge", filepath.Join(t.TempDir(), "d"), nil)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("huge: %v", err)
		}
		dest := filepath.Join(t.TempDir(), "d")
		sha, err := f.hf("").DownloadSpace(ctx, "pollen-robotics/waver", dest, nil)
		if err != nil || sha != sha1 {
			t.Fatal(sha, err)
		}
		if _, err := os.Stat(filepath.Join(dest, ".gitattributes")); !os.IsNotExist(err) {
			t.Fatal(".gitattributes downloaded")
		}
	})

	t.Run("space id from an install request", func(t *testing.T) {
		u := "https://huggingface.co/spaces/pollen-robotics/hello"
		id, priv, err := SpaceIDFromAppInfo(AppInfo{Name: "hello", URL: &u})
		if err != nil || id != "pollen-robotics/hello" || priv {
			t.Fatal(id, priv, err)
		}
		id, priv, err = SpaceIDFromAppInfo(AppInfo{Name: "secret", Extra: map[string]any{"id": "alice/secret", "private": true}})
		if err != nil || id != "alice/secret" || !priv {
			t.Fatal(id, priv, err)
		}
		if _, _, err := SpaceIDFromAppInfo(AppInfo{Name: "hello"}); !errors.Is(err, ErrInvalidName) {
			t.Fatal(err)
		}
	})

	for _, r := range f.requests() {
		if strings.Contains(r.url, testToken) {
			t.Fatalf("token in URL %s", r.url)
		}
	}
}

func TestHFInstallSpaceAndCheckUpdates(t *testing.T) {
	py := testPython(t)
	t.Parallel()
	ctx := context.Background()
	f := catalogue(t)
	// System site packages let the venv build the wheel itself: the other
	// offline path than TestPythonApp's.
	s := &Store{Root: filepath.Join(t.TempDir(), "apps"), Python: py, SystemSitePackages: true}

	t.Run("public python space", func(t *testing.T) {
		var logs []string
		i, err := s.InstallSpace(ctx, f.hf(testToken), "pollen-robotics/hello", false, Guard{}, func(l string) { logs = append(logs, l) })
		if err != nil {
			t.Fatalf("%v\n%s", err, strings.Join(logs, "\n"))
		}
		if i.Name != "hello" || i.Kind != KindPython || i.Description != "Says hello" ||
			i.Source != (Source{Kind: SourceHFSpace, SpaceID: "pollen-robotics/hello", SHA: sha1}) ||
			i.URL == nil || *i.URL != f.srv.URL+"/spaces/pollen-robotics/hello" || i.Extra["id"] != "pollen-robotics/hello" {
			t.Fatalf("installed = %+v", i)
		}
		if joined := strings.Join(logs, "\n"); strings.Contains(joined, "building the wheel with") ||
			!strings.Contains(joined, "Successfully installed hello") {
			t.Errorf("expected pip to build in the venv itself:\n%s", joined)
		}
		l, err := s.Launch("hello")
		if err != nil {
			t.Fatal(err)
		}
		if out := run(t, l); out != "hello from hello_app v1 scrubbed" {
			t.Fatalf("output %q", out)
		}
		for _, r := range f.requests() {
			if strings.Contains(r.url, "/resolve/") && r.auth != "" {
				t.Fatalf("token sent for a public file: %s", r.url)
			}
			if strings.HasSuffix(r.url, ".gitattributes") {
				t.Fatal(".gitattributes requested")
			}
		}
		assertNoStaging(t, s)
	})

	t.Run("private space needs the token", func(t *testing.T) {
		_, err := s.InstallSpace(ctx, f.hf(""), "alice/secret", true, Guard{}, nil)
		if !errors.Is(err, ErrNotAuthorized) || !strings.Contains(err.Error(), "token") {
			t.Fatalf("no token: %v", err)
		}
		_, err = s.InstallSpace(ctx, f.hf(""), "alice/secret", false, Guard{}, nil)
		if !errors.Is(err, ErrNotAuthorized) || !strings.Contains(err.Error(), "401") {
			t.Fatalf("401 expected: %v", err)
		}
		if n := names(t, s); !slices.Equal(n, []string{"hello"}) {
			t.Fatalf("store changed: %v", n)
		}
		i, err := s.InstallSpace(ctx, f.hf(testToken), "alice/secret", true, Guard{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i.Name != "secret" || i.Kind != KindExec || !i.Source.Private || i.Extra["private"] != true {
			t.Fatalf("installed = %+v", i)
		}
		st, err := os.Stat(filepath.Join(i.Dir, MetadataFile))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("private metadata mode %v %v", st.Mode(), err)
		}
		l, err := s.Launch("secret")
		if err != nil {
			t.Fatal(err)
		}
		if out := run(t, l); out != "secret hi" {
			t.Fatalf("output %q", out)
		}
		if b, _ := os.ReadFile(filepath.Join(i.Dir, MetadataFile)); strings.Contains(string(b), testToken) {
			t.Fatal("token stored in metadata")
		}
	})

	t.Run("space not found", func(t *testing.T) {
		_, err := s.InstallSpace(ctx, f.hf(""), "nobody/missing", false, Guard{}, nil)
		if !errors.Is(err, ErrSpaceNotFound) {
			t.Fatalf("err = %v", err)
		}
		if _, err := s.InstallSpace(ctx, f.hf(""), "../etc", false, Guard{}, nil); !errors.Is(err, ErrInvalidName) {
			t.Fatalf("bad id: %v", err)
		}
		assertNoStaging(t, s)
	})

	t.Run("check updates", func(t *testing.T) {
		local := t.TempDir()
		writeFiles(t, local, waverApp("waver"))
		if _, err := s.InstallLocal(ctx, local, nil); err != nil {
			t.Fatal(err)
		}
		ups, skipped, err := s.CheckUpdates(ctx, f.hf(testToken))
		if err != nil || skipped != 1 || len(ups) != 2 || ups[0].UpdateAvailable || ups[1].UpdateAvailable {
			t.Fatalf("before: %+v %d %v", ups, skipped, err)
		}
		f.setSHA("pollen-robotics/hello", sha2)
		ups, skipped, err = s.CheckUpdates(ctx, f.hf(testToken))
		if err != nil || skipped != 1 || len(ups) != 2 {
			t.Fatalf("after: %+v %d %v", ups, skipped, err)
		}
		want := Update{AppName: "hello", SpaceID: "pollen-robotics/hello", InstalledSHA: sha1, LatestSHA: sha2,
			UpdateAvailable: true, LastModified: "2026-01-02T03:04:05.000Z"}
		if ups[0] != want || ups[1].AppName != "secret" || ups[1].UpdateAvailable {
			t.Fatalf("updates = %+v", ups)
		}
		// Without the token the private space cannot be checked: skipped.
		ups, skipped, _ = s.CheckUpdates(ctx, f.hf(""))
		if skipped != 2 || len(ups) != 1 {
			t.Fatalf("no token: %+v %d", ups, skipped)
		}
		b, _ := json.Marshal(Update{AppName: "a"})
		if !strings.Contains(string(b), `"last_modified":null`) || strings.Count(string(b), "last_modified") != 1 {
			t.Fatalf("update json %s", b)
		}
		// A reinstall records the new sha.
		if _, err := s.InstallSpace(ctx, f.hf(""), "pollen-robotics/hello", false, Guard{}, nil); err != nil {
			t.Fatal(err)
		}
		if i, _ := s.Get("hello"); i.Source.SHA != sha2 {
			t.Fatalf("sha = %s", i.Source.SHA)
		}
	})

	for _, r := range f.requests() {
		if strings.Contains(r.url, testToken) {
			t.Fatalf("token in URL %s", r.url)
		}
	}
}
