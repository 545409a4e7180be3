// Package hubtest is a fake Hugging Face Hub for tests: an httptest server
// that serves dataset repos through the part of the Hub's API that
// huggingface_hub's snapshot_download uses, written from its client code
// (hf_api.py: repo_info, list_repo_tree with Link pagination;
// file_download.py: resolve URLs, LFS files redirected to a CDN host):
//
//	GET /api/datasets/<owner>/<name>/revision/<rev>    {"id","sha","private",...}
//	GET /api/datasets/<owner>/<name>/tree/<rev>?recursive=true
//	                                                  [{"type","path","size","oid","lfs"?}]
//	POST /api/datasets/<owner>/<name>/paths-info/<rev> {"paths":[...]} (JSON, or a form as
//	                                                  huggingface_hub sends it): those entries
//	GET /datasets/<owner>/<name>/resolve/<rev>/<path>  the file (LFS: 302 to the CDN)
//
// (paths-info is what Hugging Face's JavaScript client, @huggingface/hub,
// asks before each file.)
//
// Private repos answer 401 without the token. Faults (corrupt or truncated
// files, raw listing entries, a stalled file) are injected per test.
package hubtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// File is a file of a repo.
type File struct {
	Path string
	Data []byte
	// LFS files are listed with their sha256 and served from the CDN.
	LFS bool
}

// Repo is a dataset repo at one commit.
type Repo struct {
	ID      string // owner/name
	SHA     string // 40 hex; default: derived from the files
	Private bool
	Files   []File
}

// Server is the fake Hub.
type Server struct {
	URL string
	// Token is the token private repos require.
	Token string
	// PageSize, when positive, splits tree listings into pages of that many
	// entries, chained by Link headers.
	PageSize int

	t   testing.TB
	srv *httptest.Server
	cdn *httptest.Server

	mu       sync.Mutex
	repos    map[string]*Repo
	corrupt  map[string]bool
	truncate map[string]bool
	short    map[string]bool
	extra    []map[string]any
	hits     map[string]int
	cdnAuth  int
	hold     chan struct{}
}

// New starts a fake Hub (and its CDN), closed at the test's end.
func New(t testing.TB) *Server {
	s := &Server{t: t, Token: "hf_fake_dataset_token", repos: map[string]*Repo{}, corrupt: map[string]bool{},
		truncate: map[string]bool{}, short: map[string]bool{}, hits: map[string]int{}}
	s.cdn = httptest.NewServer(http.HandlerFunc(s.serveCDN))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/datasets/{owner}/{name}/revision/{rev}", s.revision)
	mux.HandleFunc("GET /api/datasets/{owner}/{name}/tree/{rev}", s.tree)
	mux.HandleFunc("POST /api/datasets/{owner}/{name}/paths-info/{rev}", s.pathsInfo)
	mux.HandleFunc("GET /datasets/{owner}/{name}/resolve/{rev}/{path...}", s.resolve)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(func() {
		s.Release()
		s.srv.Close()
		s.cdn.Close()
	})
	return s
}

// Close stops the server (the Hub goes offline).
func (s *Server) Close() { s.srv.Close() }

// Add serves a repo (replacing one with the same id) and returns its
// commit.
func (s *Server) Add(r Repo) string {
	if r.SHA == "" {
		h := sha1.New()
		for _, f := range r.Files {
			fmt.Fprintf(h, "%s\x00%d\x00", f.Path, len(f.Data))
			h.Write(f.Data)
		}
		r.SHA = hex.EncodeToString(h.Sum(nil))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := r
	s.repos[r.ID] = &cp
	return r.SHA
}

// Corrupt serves path with one byte changed (the listing keeps its hash).
func (s *Server) Corrupt(path string) { s.mu.Lock(); s.corrupt[path] = true; s.mu.Unlock() }

// Truncate serves half of path, announcing its full length, then drops the
// connection.
func (s *Server) Truncate(path string) { s.mu.Lock(); s.truncate[path] = true; s.mu.Unlock() }

// Short serves half of path, without a length, as if it were whole.
func (s *Server) Short(path string) { s.mu.Lock(); s.short[path] = true; s.mu.Unlock() }

// Heal removes the faults.
func (s *Server) Heal() {
	s.mu.Lock()
	s.corrupt, s.truncate, s.short, s.extra = map[string]bool{}, map[string]bool{}, map[string]bool{}, nil
	s.mu.Unlock()
}

// AddEntry appends a raw entry to every tree listing.
func (s *Server) AddEntry(e map[string]any) { s.mu.Lock(); s.extra = append(s.extra, e); s.mu.Unlock() }

// Hold makes file requests wait until Release.
func (s *Server) Hold() {
	s.mu.Lock()
	if s.hold == nil {
		s.hold = make(chan struct{})
	}
	s.mu.Unlock()
}

// Release lets held file requests go on.
func (s *Server) Release() {
	s.mu.Lock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
	s.mu.Unlock()
}

// Hits counts requests of a kind: "revision", "tree", "resolve", "cdn".
func (s *Server) Hits(kind string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.hits[kind] }

// CDNAuth counts CDN requests that carried an Authorization header (the
// token must not leave the endpoint's host).
func (s *Server) CDNAuth() int { s.mu.Lock(); defer s.mu.Unlock(); return s.cdnAuth }

// GitOID is git's blob id of data: sha1 of "blob <len>\0" and data.
func GitOID(data []byte) string {
	h := sha1.New()
	h.Write([]byte("blob " + strconv.Itoa(len(data)) + "\x00"))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// SHA256 is the hex sha256 of data (an LFS file's oid).
func SHA256(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// lfsPointer is the git-lfs pointer file of data.
func lfsPointer(data []byte) []byte {
	return []byte("version https://git-lfs.github.com/spec/v1\noid sha256:" + SHA256(data) + "\nsize " + strconv.Itoa(len(data)) + "\n")
}

func (s *Server) repo(w http.ResponseWriter, r *http.Request, kind string) (*Repo, bool) {
	s.mu.Lock()
	s.hits[kind]++
	repo := s.repos[r.PathValue("owner")+"/"+r.PathValue("name")]
	s.mu.Unlock()
	auth := r.Header.Get("Authorization") == "Bearer "+s.Token
	if repo == nil || repo.Private && !auth {
		// The Hub answers 401 for a missing repo as for a private one
		// without access, with this error code header.
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"Repository not found"}`))
		return nil, false
	}
	if rev := r.PathValue("rev"); rev != "main" && rev != "HEAD" && rev != repo.SHA {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		http.Error(w, `{"error":"Invalid rev id: `+rev+`"}`, http.StatusNotFound)
		return nil, false
	}
	return repo, true
}

func (s *Server) revision(w http.ResponseWriter, r *http.Request) {
	repo, ok := s.repo(w, r, "revision")
	if !ok {
		return
	}
	sib := []map[string]any{}
	for _, f := range repo.Files {
		sib = append(sib, map[string]any{"rfilename": f.Path})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"_id": "x", "id": repo.ID, "sha": repo.SHA, "private": repo.Private,
		"gated": false, "disabled": false, "downloads": 7, "likes": 3, "tags": []string{}, "siblings": sib,
		"lastModified": "2026-10-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z"})
}

func (s *Server) entries(repo *Repo) []map[string]any {
	dirs := map[string]bool{}
	var out []map[string]any
	for _, f := range repo.Files {
		parts := strings.Split(f.Path, "/")
		for i := 1; i < len(parts); i++ {
			dirs[strings.Join(parts[:i], "/")] = true
		}
		e := map[string]any{"type": "file", "path": f.Path, "size": len(f.Data), "oid": GitOID(f.Data)}
		if f.LFS {
			e["oid"] = GitOID(lfsPointer(f.Data))
			e["lfs"] = map[string]any{"oid": SHA256(f.Data), "size": len(f.Data), "pointerSize": len(lfsPointer(f.Data))}
			e["xetHash"] = nil
		}
		out = append(out, e)
	}
	for d := range dirs {
		out = append(out, map[string]any{"type": "directory", "path": d, "size": 0, "oid": GitOID([]byte(d))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["path"].(string) < out[j]["path"].(string) })
	s.mu.Lock()
	out = append(out, s.extra...)
	s.mu.Unlock()
	return out
}

func (s *Server) tree(w http.ResponseWriter, r *http.Request) {
	repo, ok := s.repo(w, r, "tree")
	if !ok {
		return
	}
	if r.URL.Query().Get("recursive") != "true" {
		http.Error(w, "this fake serves recursive listings only", http.StatusBadRequest)
		return
	}
	all := s.entries(repo)
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	end := len(all)
	if s.PageSize > 0 && start+s.PageSize < end {
		end = start + s.PageSize
		q := r.URL.Query()
		q.Set("cursor", strconv.Itoa(end))
		w.Header().Set("Link", `<`+s.URL+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	if start > len(all) {
		start = len(all)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(all[start:end])
}

func (s *Server) pathsInfo(w http.ResponseWriter, r *http.Request) {
	repo, ok := s.repo(w, r, "paths-info")
	if !ok {
		return
	}
	var paths []string
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct{ Paths []string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		paths = body.Paths
	} else {
		_ = r.ParseForm()
		paths = r.PostForm["paths"]
	}
	out := []map[string]any{}
	for _, e := range s.entries(repo) {
		if p, _ := e["path"].(string); slices.Contains(paths, p) {
			e["lastCommit"] = map[string]any{"id": repo.SHA, "title": "upload", "date": "2026-10-01T00:00:00.000Z"}
			out = append(out, e)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request) {
	repo, ok := s.repo(w, r, "resolve")
	if !ok {
		return
	}
	p := r.PathValue("path")
	for _, f := range repo.Files {
		if f.Path != p {
			continue
		}
		w.Header().Set("X-Repo-Commit", repo.SHA)
		if f.LFS {
			w.Header().Set("X-Linked-Etag", `"`+SHA256(f.Data)+`"`)
			w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.Data)))
			http.Redirect(w, r, s.cdn.URL+"/repos/"+SHA256(f.Data)+"?path="+p, http.StatusFound)
			return
		}
		w.Header().Set("ETag", `"`+GitOID(f.Data)+`"`)
		s.send(w, r, p, f.Data)
		return
	}
	w.Header().Set("X-Error-Code", "EntryNotFound")
	http.Error(w, `{"error":"Entry not found"}`, http.StatusNotFound)
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits["cdn"]++
	if r.Header.Get("Authorization") != "" {
		s.cdnAuth++
	}
	var data []byte
	found := false
	for _, repo := range s.repos {
		for _, f := range repo.Files {
			if f.LFS && r.URL.Path == "/repos/"+SHA256(f.Data) {
				data, found = f.Data, true
			}
		}
	}
	s.mu.Unlock()
	if !found {
		http.NotFound(w, r)
		return
	}
	// As a storage CDN does.
	w.Header().Set("ETag", `"`+SHA256(data)+`"`)
	s.send(w, r, r.URL.Query().Get("path"), data)
}

// send writes a file's content, with the faults asked for.
func (s *Server) send(w http.ResponseWriter, r *http.Request, path string, data []byte) {
	s.mu.Lock()
	hold, corrupt, truncate, short := s.hold, s.corrupt[path], s.truncate[path], s.short[path]
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if short {
		// Chunked, ends cleanly: only the length tells it is cut.
		_, _ = w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	switch {
	case truncate:
		_, _ = w.Write(data[:len(data)/2])
		// Returning short of Content-Length makes the server drop the
		// connection: the client sees an unexpected EOF.
	case corrupt && len(data) > 0:
		bad := append([]byte(nil), data...)
		bad[len(bad)/2] ^= 0x20
		_, _ = w.Write(bad)
	default:
		// Ranges too (the JavaScript client asks bytes=0-0 for the size).
		w.Header().Del("Content-Length")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}
}
