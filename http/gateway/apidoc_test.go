package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/actors/system"
	"reachyd/http/logstream"
	"reachyd/hw/camera"
)

// routeOnlyGateway builds a gateway whose routes are registered as the
// daemon registers them, over no actors (its handlers are not called).
// full turns on every optional group: the skills API and the camera, the
// wireless routes, the log stream, the app manager.
func routeOnlyGateway(full bool) *Gateway {
	sys := &system.System{}
	cfg := Config{Version: "1.10.0.dev0", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if full {
		sys.Auth = actor.NewPID("test", "auth")
		sys.Apps = actor.NewPID("test", "apps")
		sys.Update = actor.NewPID("test", "update")
		sys.Wifi = actor.NewPID("test", "wifi")
		sys.Media = actor.NewPID("test", "media")
		cfg.Video = camera.NewBroadcaster()
		cfg.AllowRawBus = true
		cfg.Surface = SurfaceConfig{Wireless: true, Logs: &logstream.Ring{Logs: kit.NewLogRing(1)}}
		cfg.Metrics = &MetricsConfig{Handler: http.NotFoundHandler()}
	}
	return New(sys, cfg)
}

// The document lists every registered route with its entry, and every
// entry is a route some configuration registers: neither can drift.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	g := routeOnlyGateway(true)
	if u := g.undocumented(); len(u) > 0 {
		t.Fatalf("routes without an entry in apiDocs (apidoc.go): %v", u)
	}
	registered := map[string]bool{}
	for _, r := range g.routeTable() {
		key, _, _ := docFor(r.Method, openAPIPath(r.Path))
		registered[key] = true
	}
	var stale []string
	for key := range apiDocs {
		if !registered[key] {
			stale = append(stale, key)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Fatalf("entries of apiDocs that no route serves: %v", stale)
	}
	// The document has an operation for each route (twins of the skills
	// API's trailing slash once).
	doc := g.OpenAPI()
	n := 0
	for _, ops := range doc["paths"].(map[string]map[string]any) {
		for _, op := range ops {
			n++
			if op.(map[string]any)["x-undocumented"] != nil {
				t.Errorf("an undocumented operation: %v", op)
			}
		}
	}
	if n != len(apiDocs) {
		t.Fatalf("%d operations for %d entries", n, len(apiDocs))
	}
	// A route added without an entry shows as undocumented, and the test
	// above names it.
	g.e.GET("/api/new-thing", func(c echo.Context) error { return nil })
	if u := g.undocumented(); len(u) != 1 || u[0] != "GET /api/new-thing" {
		t.Fatalf("a new route: %v", u)
	}
	if op := g.OpenAPI()["paths"].(map[string]map[string]any)["/api/new-thing"]["get"].(map[string]any); op["x-undocumented"] != true {
		t.Fatalf("a new route is listed as %v", op)
	}
}

// The document follows the configuration: no skills API, camera, wireless
// routes or log stream when they are off.
func TestOpenAPIFollowsTheConfiguration(t *testing.T) {
	paths := routeOnlyGateway(false).OpenAPI()["paths"].(map[string]map[string]any)
	for _, p := range []string{"/cache/clear-hf", "/cache/reset-apps", "/logs/ws/daemon", "/api/v1/auth/", "/api/v1/video/status", "/status"} {
		if _, ok := paths[p]; ok {
			t.Errorf("%s is documented but not served", p)
		}
	}
	for _, p := range []string{"/api/daemon/status", "/openapi.json", "/docs", "/api/kinematics/urdf", "/api/move/recorded-move-datasets/list/{dataset_name}"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("%s is served but not documented", p)
		}
	}
}

// collectRefs walks a decoded document and returns every $ref.
func collectRefs(v any, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" {
				out[s] = true
			}
			collectRefs(x, out)
		}
	case []any:
		for _, x := range v {
			collectRefs(x, out)
		}
	}
}

func decodedDoc(t *testing.T, g *Gateway) map[string]any {
	t.Helper()
	b, err := json.Marshal(g.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

var templateParam = regexp.MustCompile(`\{([^}]+)\}`)

// The document holds together: every reference resolves, operation ids are
// unique, each path template's parameters are declared (and no others).
func TestOpenAPIDocumentIsConsistent(t *testing.T) {
	doc := decodedDoc(t, routeOnlyGateway(true))
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	refs := map[string]bool{}
	collectRefs(doc, refs)
	for r := range refs {
		name := strings.TrimPrefix(r, "#/components/schemas/")
		if _, ok := schemas[name]; !ok || name == r {
			t.Errorf("dangling reference %s", r)
		}
	}
	ids := map[string]string{}
	for p, ops := range doc["paths"].(map[string]any) {
		want := map[string]bool{}
		for _, m := range templateParam.FindAllStringSubmatch(p, -1) {
			want[m[1]] = true
		}
		for method, op := range ops.(map[string]any) {
			o := op.(map[string]any)
			id := o["operationId"].(string)
			if other, dup := ids[id]; dup {
				t.Errorf("operationId %s of %s %s and %s", id, method, p, other)
			}
			ids[id] = method + " " + p
			got := map[string]bool{}
			params, _ := o["parameters"].([]any)
			for _, x := range params {
				pm := x.(map[string]any)
				if pm["in"] == "path" {
					got[pm["name"].(string)] = true
					if pm["required"] != true {
						t.Errorf("%s %s: path parameter %v not required", method, p, pm["name"])
					}
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: path parameters %v, template %v", method, p, got, want)
			}
			if len(o["responses"].(map[string]any)) == 0 {
				t.Errorf("%s %s: no responses", method, p)
			}
			if o["summary"] == "" {
				t.Errorf("%s %s: no summary", method, p)
			}
		}
	}
}

// refNames are the schemas a schema names at its top (through anyOf and
// arrays).
func refNames(s map[string]any) []string {
	var out []string
	var walk func(s map[string]any)
	walk = func(s map[string]any) {
		if r, ok := s["$ref"].(string); ok {
			out = append(out, strings.TrimPrefix(r, "#/components/schemas/"))
		}
		if alts, ok := s["anyOf"].([]any); ok {
			for _, a := range alts {
				walk(a.(map[string]any))
			}
		}
		if it, ok := s["items"].(map[string]any); ok {
			walk(it)
		}
	}
	walk(s)
	sort.Strings(out)
	return out
}

func jsonSchemaOf(content any) map[string]any {
	c, _ := content.(map[string]any)
	for _, mt := range c {
		s, _ := mt.(map[string]any)["schema"].(map[string]any)
		return s
	}
	return nil
}

func stringSet(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	sort.Strings(out)
	return out
}

// reachyd's entries for the reference's routes agree with the reference's
// own document: parameters, the models of bodies and answers, and every
// model's fields, required fields and enum values.
func TestOpenAPIAgreesWithTheReference(t *testing.T) {
	b, err := os.ReadFile("../../cmd/reachyd/testdata/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]any
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	ours := decodedDoc(t, routeOnlyGateway(true))
	ourPaths := ours["paths"].(map[string]any)
	var missing []string
	for p, ops := range ref["paths"].(map[string]any) {
		for method, rop := range ops.(map[string]any) {
			ourOps, _ := ourPaths[p].(map[string]any)
			oo, ok := ourOps[method].(map[string]any)
			if !ok {
				missing = append(missing, strings.ToUpper(method)+" "+p)
				continue
			}
			ro := rop.(map[string]any)
			where := strings.ToUpper(method) + " " + p
			params := func(o map[string]any) []string {
				var out []string
				list, _ := o["parameters"].([]any)
				for _, x := range list {
					pm := x.(map[string]any)
					out = append(out, fmt.Sprintf("%s:%s:%v:%v", pm["in"], pm["name"], pm["required"], refNames(pm["schema"].(map[string]any))))
				}
				sort.Strings(out)
				return out
			}
			if rp, op := params(ro), params(oo); !reflect.DeepEqual(rp, op) {
				t.Errorf("%s: parameters %v, the reference's %v", where, op, rp)
			}
			rb, _ := ro["requestBody"].(map[string]any)
			ob, _ := oo["requestBody"].(map[string]any)
			if (rb == nil) != (ob == nil) {
				t.Errorf("%s: body %v, the reference's %v", where, ob, rb)
			} else if rb != nil {
				if r, o := refNames(jsonSchemaOf(rb["content"])), refNames(jsonSchemaOf(ob["content"])); !reflect.DeepEqual(r, o) {
					t.Errorf("%s: body model %v, the reference's %v", where, o, r)
				}
				rreq, _ := rb["required"].(bool)
				oreq, _ := ob["required"].(bool)
				if rreq != oreq {
					t.Errorf("%s: body required %v, the reference's %v", where, oreq, rreq)
				}
			}
			r200 := ro["responses"].(map[string]any)["200"].(map[string]any)
			o200, _ := oo["responses"].(map[string]any)["200"].(map[string]any)
			if r := refNames(jsonSchemaOf(r200["content"])); len(r) > 0 {
				if o := refNames(jsonSchemaOf(o200["content"])); !reflect.DeepEqual(r, o) {
					t.Errorf("%s: answer model %v, the reference's %v", where, o, r)
				}
			}
		}
	}
	sort.Strings(missing)
	t.Logf("reference routes reachyd does not serve (yet): %v", missing)

	ourSchemas := ours["components"].(map[string]any)["schemas"].(map[string]any)
	for name, rs := range ref["components"].(map[string]any)["schemas"].(map[string]any) {
		os, ok := ourSchemas[name].(map[string]any)
		if !ok {
			t.Errorf("schema %s missing", name)
			continue
		}
		r := rs.(map[string]any)
		keys := func(s map[string]any) []string {
			var out []string
			for k := range s {
				out = append(out, k)
			}
			sort.Strings(out)
			return out
		}
		rp, _ := r["properties"].(map[string]any)
		op, _ := os["properties"].(map[string]any)
		if !reflect.DeepEqual(keys(rp), keys(op)) {
			t.Errorf("schema %s: fields %v, the reference's %v", name, keys(op), keys(rp))
		}
		if !reflect.DeepEqual(stringSet(r["required"]), stringSet(os["required"])) {
			t.Errorf("schema %s: required %v, the reference's %v", name, stringSet(os["required"]), stringSet(r["required"]))
		}
		if !reflect.DeepEqual(stringSet(r["enum"]), stringSet(os["enum"])) {
			t.Errorf("schema %s: enum %v, the reference's %v", name, stringSet(os["enum"]), stringSet(r["enum"]))
		}
		for k, rv := range rp {
			if ov, ok := op[k].(map[string]any); ok {
				if a, b := refNames(rv.(map[string]any)), refNames(ov); !reflect.DeepEqual(a, b) {
					t.Errorf("schema %s.%s: models %v, the reference's %v", name, k, b, a)
				}
			}
		}
	}
}

func TestDocsRoutes(t *testing.T) {
	g := routeOnlyGateway(false)
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/openapi.json")
	var doc map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &doc) != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("/openapi.json: %d %.200s", resp.StatusCode, body)
	}
	for _, p := range []string{"/docs", "/redoc"} {
		resp, body = get(p)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(body, `src="/docs/docs.js"`) {
			t.Fatalf("%s: %d %v %.200s", p, resp.StatusCode, resp.Header, body)
		}
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Fatalf("%s loads something from another site", p)
		}
	}
	for _, p := range []string{"/docs/docs.js", "/docs/docs.css"} {
		resp, body = get(p)
		if resp.StatusCode != 200 || len(body) < 100 || strings.Contains(body, "https://") {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
}
