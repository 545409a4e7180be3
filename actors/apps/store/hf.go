package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reachyd/internal/hflink"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Hugging Face constants, as the reference uses them (hf_space.py).
const (
	DefaultHFEndpoint  = "https://huggingface.co"
	HFSpacesFilter     = "reachy_mini_python_app"
	HFSpacesLimit      = 500
	DashboardAppList   = "/datasets/pollen-robotics/reachy-mini-official-app-store/raw/main/app-list.json"
	hfAPITimeout       = 30 * time.Second
	hfUpdateTimeout    = 10 * time.Second
	hfDownloadTimeout  = 10 * time.Minute
	hfParallel         = 8
	hfUpdateParallel   = 3
	maxListBody        = 64 << 20
	maxSpaceBody       = 8 << 20
	maxAppListBody     = 1 << 20
	maxErrorBodyLogged = 512
)

// HF is a Hugging Face Hub client for the app catalogue and downloads. The
// token only ever travels in the Authorization header.
type HF struct {
	Endpoint string // default DefaultHFEndpoint
	HTTP     *http.Client
	Token    string
	Limits   Limits // for DownloadSpace; zero fields take DefaultLimits
}

// Space is what the catalogue code needs from /api/spaces/<id>.
type Space struct {
	ID           string
	SHA          string
	Private      bool
	LastModified string
	Files        []string       // siblings[].rfilename
	Raw          map[string]any // the whole JSON
}

// spaceIDRe follows huggingface_hub's validate_repo_id, in ASCII: word
// characters at both ends, '.', '-' inside, 96 characters at most a part.
var spacePartRe = regexp.MustCompile(`^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$`)

// ValidSpaceID checks an "owner/name" space id.
func ValidSpaceID(id string) error {
	owner, name, ok := strings.Cut(id, "/")
	if !ok || !spacePartRe.MatchString(owner) || !spacePartRe.MatchString(name) ||
		strings.Contains(id, "--") || strings.Contains(id, "..") || strings.HasSuffix(id, ".git") {
		return fmt.Errorf("%w: bad space id %q (want owner/name)", ErrInvalidName, id)
	}
	return nil
}

// SpaceIDFromAppInfo finds the space id of an install request as the
// reference does: from url (".../spaces/<owner>/<name>"), else extra.id.
func SpaceIDFromAppInfo(a AppInfo) (id string, private bool, err error) {
	if a.URL != nil {
		parts := strings.Split(strings.TrimRight(*a.URL, "/"), "/")
		if len(parts) >= 2 {
			id = parts[len(parts)-2] + "/" + parts[len(parts)-1]
		}
	}
	if id == "" || ValidSpaceID(id) != nil {
		if s, ok := a.Extra["id"].(string); ok {
			id = s
		}
	}
	if p, ok := a.Extra["private"].(bool); ok {
		private = p
	}
	if id == "" {
		id = a.Name
	}
	return id, private, ValidSpaceID(id)
}

func (h HF) endpoint() string {
	if h.Endpoint == "" {
		return DefaultHFEndpoint
	}
	return strings.TrimRight(h.Endpoint, "/")
}

func (h HF) client() *http.Client {
	if h.HTTP != nil {
		return h.HTTP
	}
	return http.DefaultClient
}

// SpaceURL is the page of a space.
func (h HF) SpaceURL(id string) string { return h.endpoint() + "/spaces/" + id }

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// get fetches u and returns its body (at most max bytes). Status errors are
// mapped to ErrSpaceNotFound / ErrNotAuthorized for space requests.
func (h HF) get(ctx context.Context, u string, auth bool, timeout time.Duration, max int64, what string) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if auth && h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	resp, err := h.client().Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if err := h.statusErr(resp, what, auth); err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if int64(len(b)) > max {
		return nil, nil, fmt.Errorf("%w: %s: response larger than %d bytes", ErrTooLarge, what, max)
	}
	return b, resp.Header, nil
}

func (h HF) statusErr(resp *http.Response, what string, auth bool) error {
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s (HTTP 404)", ErrSpaceNotFound, what)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		hint := "no Hugging Face token is set; authenticate first"
		if auth && h.Token != "" {
			hint = "check that the Hugging Face token has access to it"
		}
		return fmt.Errorf("%w: %s (HTTP %d): %s", ErrNotAuthorized, what, resp.StatusCode, hint)
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyLogged))
		return fmt.Errorf("%s: HTTP %d: %s", what, resp.StatusCode, strings.TrimSpace(string(b)))
	}
}

func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// normalizeSpace renames the snake_case keys huggingface_hub's SpaceInfo
// uses to the API's camelCase, as the reference's _normalize_space_data.
func normalizeSpace(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for snake, camel := range map[string]string{"created_at": "createdAt", "last_modified": "lastModified", "card_data": "cardData"} {
		v, ok := out[snake]
		if !ok {
			continue
		}
		delete(out, snake)
		if cur, has := out[camel]; (!has || isFalsy(cur)) && v != nil {
			out[camel] = v
		}
	}
	return out
}

func isFalsy(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// appInfoFromSpace builds the reference's HF AppInfo; nil without a string id.
func (h HF) appInfoFromSpace(m map[string]any, kind string) *AppInfo {
	m = normalizeSpace(m)
	id, ok := m["id"].(string)
	if !ok {
		return nil
	}
	desc := ""
	if cd, ok := m["cardData"].(map[string]any); ok {
		if s, ok := cd["short_description"].(string); ok {
			desc = s
		}
	}
	u := h.SpaceURL(id)
	return &AppInfo{Name: id[strings.LastIndex(id, "/")+1:], SourceKind: kind, Description: desc, URL: &u, Extra: m}
}

// ListSpaces lists the spaces tagged reachy_mini_python_app, most liked
// first (the reference's hf_space source), following the API's pagination
// up to 500 spaces.
func (h HF) ListSpaces(ctx context.Context) ([]AppInfo, error) {
	q := url.Values{"filter": {HFSpacesFilter}, "sort": {"likes"}, "limit": {fmt.Sprint(HFSpacesLimit)}, "full": {"true"}}
	next := h.endpoint() + "/api/spaces?" + q.Encode()
	base, _ := url.Parse(h.endpoint())
	var out []AppInfo
	for next != "" && len(out) < HFSpacesLimit {
		b, hdr, err := h.get(ctx, next, true, hfAPITimeout, maxListBody, "list spaces")
		if err != nil {
			return nil, err
		}
		var items []any
		if err := decodeJSON(b, &items); err != nil {
			return nil, fmt.Errorf("list spaces: %w", err)
		}
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				if a := h.appInfoFromSpace(m, SourceHFSpace); a != nil && len(out) < HFSpacesLimit {
					out = append(out, *a)
				}
			}
		}
		next = hflink.Next(hdr.Get("Link"), base)
	}
	return out, nil
}

// DashboardSelection lists the curated app store: the ids of app-list.json,
// each fetched from /api/spaces/<id> in parallel. Spaces that fail (or have
// a bad id) are skipped, as in the reference; no token is sent.
func (h HF) DashboardSelection(ctx context.Context) ([]AppInfo, error) {
	b, _, err := h.get(ctx, h.endpoint()+DashboardAppList, false, hfAPITimeout, maxAppListBody, "app list")
	if err != nil {
		return nil, err
	}
	var raw []any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("app list: %w", err)
	}
	var ids []string
	for _, v := range raw {
		if s, ok := v.(string); ok && ValidSpaceID(s) == nil {
			ids = append(ids, s)
		}
	}
	res := make([]*AppInfo, len(ids))
	parallel(len(ids), hfParallel, func(i int) {
		b, _, err := h.get(ctx, h.endpoint()+"/api/spaces/"+ids[i], false, hfAPITimeout, maxSpaceBody, "space "+ids[i])
		if err != nil {
			return
		}
		var m map[string]any
		if decodeJSON(b, &m) == nil && m != nil {
			res[i] = h.appInfoFromSpace(m, SourceDashboardSelection)
		}
	})
	out := []AppInfo{}
	for _, a := range res {
		if a != nil {
			out = append(out, *a)
		}
	}
	return out, nil
}

// parallel runs f(0..n-1) with at most k at once and waits for all.
func parallel(n, k int, f func(int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, k)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// SpaceInfo fetches /api/spaces/<id> (with the token when set, as
// huggingface_hub does).
func (h HF) SpaceInfo(ctx context.Context, id string) (Space, error) {
	return h.spaceInfo(ctx, id, true, hfAPITimeout)
}

func (h HF) spaceInfo(ctx context.Context, id string, auth bool, timeout time.Duration) (Space, error) {
	if err := ValidSpaceID(id); err != nil {
		return Space{}, err
	}
	b, _, err := h.get(ctx, h.endpoint()+"/api/spaces/"+id, auth, timeout, maxSpaceBody, "space "+id)
	if err != nil {
		return Space{}, err
	}
	var m map[string]any
	if err := decodeJSON(b, &m); err != nil || m == nil {
		return Space{}, fmt.Errorf("space %s: bad JSON: %v", id, err)
	}
	m = normalizeSpace(m)
	sp := Space{ID: id, Raw: m}
	sp.SHA, _ = m["sha"].(string)
	sp.Private, _ = m["private"].(bool)
	sp.LastModified, _ = m["lastModified"].(string)
	if sib, ok := m["siblings"].([]any); ok {
		for _, s := range sib {
			if sm, ok := s.(map[string]any); ok {
				if f, ok := sm["rfilename"].(string); ok {
					sp.Files = append(sp.Files, f)
				}
			}
		}
	}
	if !shaRe.MatchString(sp.SHA) {
		return Space{}, fmt.Errorf("space %s: missing or bad sha %q", id, sp.SHA)
	}
	return sp, nil
}

var shaRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

// skippedFiles are not downloaded, as the reference's ignore_patterns.
var skippedFiles = map[string]bool{".gitattributes": true, ".gitignore": true}

// DownloadSpace downloads a space's files at its current commit into dest
// (created; must not exist) and returns that commit's sha. The token is sent
// only for a private space.
func (h HF) DownloadSpace(ctx context.Context, id, dest string, logf func(string)) (string, error) {
	sp, err := h.SpaceInfo(ctx, id)
	if err != nil {
		return "", err
	}
	return sp.SHA, h.download(ctx, sp, dest, orNop(logf))
}

func (h HF) download(ctx context.Context, sp Space, dest string, logf func(string)) error {
	x, err := newExtractor(dest, h.Limits)
	if err != nil {
		return err
	}
	logf(fmt.Sprintf("Space found: %s (private=%v, sha=%s)", sp.ID, sp.Private, sp.SHA))
	var got []string
	for _, f := range sp.Files {
		if skippedFiles[path.Base(f)] {
			continue
		}
		rel, err := cleanEntry(f)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		u := h.endpoint() + "/spaces/" + sp.ID + "/resolve/" + sp.SHA + "/" + escapePath(rel)
		if err := h.downloadFile(ctx, x, u, rel, sp.Private); err != nil {
			return err
		}
		got = append(got, rel)
	}
	logf(fmt.Sprintf("Downloaded files: %s", strings.Join(got, ", ")))
	return nil
}

func (h HF) downloadFile(ctx context.Context, x *extractor, u, rel string, auth bool) error {
	ctx, cancel := context.WithTimeout(ctx, hfDownloadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if auth && h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	resp, err := h.client().Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", rel, err)
	}
	defer resp.Body.Close()
	if err := h.statusErr(resp, "download "+rel, auth); err != nil {
		return err
	}
	if err := x.file(rel, 0o644, resp.Body); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	return nil
}

// InstallSpace downloads a Hugging Face space and installs it, checked by g.
// The saved metadata (the installed AppInfo's extra) is the space's JSON,
// with "private": true for a private space, as the reference saves it.
func (s *Store) InstallSpace(ctx context.Context, hf HF, spaceID string, private bool, g Guard, logf func(string)) (Installed, error) {
	logf = orNop(logf)
	if err := ValidSpaceID(spaceID); err != nil {
		return Installed{}, err
	}
	if private && hf.Token == "" {
		return Installed{}, fmt.Errorf("%w: space %s is private and no Hugging Face token is set; authenticate first", ErrNotAuthorized, spaceID)
	}
	logf(fmt.Sprintf("Downloading HuggingFace Space: %s", spaceID))
	sp, err := hf.SpaceInfo(ctx, spaceID)
	if err != nil {
		return Installed{}, err
	}
	sp.Private = sp.Private || private
	stage, err := s.newStage()
	if err != nil {
		return Installed{}, err
	}
	defer os.RemoveAll(stage)
	src := filepath.Join(stage, "src")
	if hf.Limits == (Limits{}) {
		hf.Limits = s.Limits
	}
	if err := hf.download(ctx, sp, src, logf); err != nil {
		return Installed{}, err
	}
	extra := sp.Raw
	if private {
		extra["private"] = true
	}
	desc := ""
	if cd, ok := extra["cardData"].(map[string]any); ok {
		desc, _ = cd["short_description"].(string)
	}
	u := hf.SpaceURL(spaceID)
	return s.installStaged(ctx, stage, src, installReq{
		source:      Source{Kind: SourceHFSpace, SpaceID: spaceID, SHA: sp.SHA, Private: sp.Private},
		extra:       extra,
		description: desc,
		url:         &u,
		nameHint:    spaceID[strings.LastIndex(spaceID, "/")+1:],
		guard:       g,
	}, logf)
}

// Update is one installed space's update check (the reference's
// AppUpdateStatus).
type Update struct {
	AppName         string `json:"app_name"`
	SpaceID         string `json:"space_id"`
	InstalledSHA    string `json:"installed_sha"`
	LatestSHA       string `json:"latest_sha"`
	UpdateAvailable bool   `json:"update_available"`
	LastModified    string `json:"last_modified"`
}

// MarshalJSON writes last_modified as null when unknown, as the reference.
func (u Update) MarshalJSON() ([]byte, error) {
	type plain Update
	var lm *string
	if u.LastModified != "" {
		lm = &u.LastModified
	}
	return json.Marshal(struct {
		plain
		LastModified *string `json:"last_modified"`
	}{plain(u), lm})
}

// CheckUpdates compares each installed space's recorded sha with the
// current one. It returns every app it could check (the caller keeps those
// with UpdateAvailable) and how many it could not: apps not installed from
// a space, and failed requests. The token goes only to private spaces.
func (s *Store) CheckUpdates(ctx context.Context, hf HF) ([]Update, int, error) {
	apps, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	res := make([]*Update, len(apps))
	parallel(len(apps), hfUpdateParallel, func(i int) {
		a := apps[i]
		if a.Source.Kind != SourceHFSpace || a.Source.SpaceID == "" || a.Source.SHA == "" {
			return
		}
		sp, err := hf.spaceInfo(ctx, a.Source.SpaceID, a.Source.Private, hfUpdateTimeout)
		if err != nil {
			return
		}
		res[i] = &Update{AppName: a.Name, SpaceID: a.Source.SpaceID, InstalledSHA: a.Source.SHA,
			LatestSHA: sp.SHA, UpdateAvailable: sp.SHA != a.Source.SHA, LastModified: sp.LastModified}
	})
	out := []Update{}
	for _, u := range res {
		if u != nil {
			out = append(out, *u)
		}
	}
	return out, len(apps) - len(out), nil
}
