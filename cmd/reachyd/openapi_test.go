package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// openAPI is the part of the reference's OpenAPI document the contract
// test reads.
type openAPI struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

type operation struct {
	Parameters []struct {
		Name     string         `json:"name"`
		In       string         `json:"in"`
		Required bool           `json:"required"`
		Schema   map[string]any `json:"schema"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

func loadOpenAPI(t *testing.T) *openAPI {
	b, err := os.ReadFile("testdata/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

// check validates a decoded JSON value against an OpenAPI (JSON Schema)
// schema, resolving references; it returns the first mismatch.
func (doc *openAPI) check(v any, s map[string]any, path string) error {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		return doc.check(v, doc.Components.Schemas[name], path)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		var errs []string
		for _, alt := range alts {
			if err := doc.check(v, alt.(map[string]any), path); err == nil {
				return nil
			} else {
				errs = append(errs, err.Error())
			}
		}
		return fmt.Errorf("%s: matches no alternative: %s", path, strings.Join(errs, " | "))
	}
	if c, ok := s["const"]; ok && v != c {
		return fmt.Errorf("%s: %v, want const %v", path, v, c)
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, x := range e {
			if x == v {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: %v not in %v", path, v, e)
		}
	}
	switch s["type"] {
	case nil:
		return nil
	case "null":
		if v != nil {
			return fmt.Errorf("%s: %v, want null", path, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %v, want boolean", path, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %v, want number", path, v)
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return fmt.Errorf("%s: %v, want integer", path, v)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %v, want string", path, v)
		}
		switch s["format"] {
		case "uuid":
			if _, err := uuid.Parse(str); err != nil {
				return fmt.Errorf("%s: %q is not a UUID", path, str)
			}
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				return fmt.Errorf("%s: %q is not an RFC 3339 date-time", path, str)
			}
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %v, want array", path, v)
		}
		if n, ok := s["minItems"].(float64); ok && float64(len(list)) < n {
			return fmt.Errorf("%s: %d items, want at least %v", path, len(list), n)
		}
		if n, ok := s["maxItems"].(float64); ok && float64(len(list)) > n {
			return fmt.Errorf("%s: %d items, want at most %v", path, len(list), n)
		}
		prefix, _ := s["prefixItems"].([]any)
		for i, x := range list {
			var is map[string]any
			if i < len(prefix) {
				is = prefix[i].(map[string]any)
			} else if it, ok := s["items"].(map[string]any); ok {
				is = it
			}
			if is != nil {
				if err := doc.check(x, is, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %v, want object", path, v)
		}
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					return fmt.Errorf("%s: missing required %q", path, r)
				}
			}
		}
		for k, x := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				if err := doc.check(x, ps, path+"."+k); err != nil {
					return err
				}
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				if err := doc.check(x, ap, path+"."+k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// covered lists the reference's operations the foundation serves. The
// others are checked by their own tests (mediaCovered, hfAuthCovered) or
// listed by the test's log.
var covered = []string{
	"GET /", "POST /health-check",
	"POST /api/daemon/start", "POST /api/daemon/stop", "POST /api/daemon/restart",
	"GET /api/daemon/status", "GET /api/daemon/robot-name", "POST /api/daemon/robot-name",
	"GET /api/daemon/hardware-id", "GET /api/daemon/robot-app-lock-status",
	"GET /api/apps/job-status/{job_id}",
	"GET /api/state/present_head_pose", "GET /api/state/present_body_yaw",
	"GET /api/state/present_antenna_joint_positions", "GET /api/state/doa", "GET /api/state/full",
	"GET /api/move/running", "POST /api/move/goto", "POST /api/move/play/wake_up",
	"POST /api/move/play/goto_sleep", "GET /api/move/recorded-move-datasets/list/{dataset_name}",
	"POST /api/move/play/recorded-move-dataset/{dataset_name}/{move_name}", "POST /api/move/stop",
	"POST /api/move/set_target",
	"GET /api/motors/status", "POST /api/motors/set_mode/{mode}",
	"GET /api/kinematics/info", "GET /api/kinematics/urdf", "GET /api/kinematics/stl/{filename}",
	"GET /api/media/status", "POST /api/media/release", "POST /api/media/acquire",
	"GET /api/apps/list-available/{source_kind}", "GET /api/apps/list-available", "POST /api/apps/install",
	"POST /api/apps/remove/{app_name}", "POST /api/apps/start-app/{app_name}", "POST /api/apps/start-app/{app_name}/no-evict",
	"POST /api/apps/restart-current-app", "POST /api/apps/stop-current-app", "GET /api/apps/current-app-status",
	"GET /api/apps/startup-app", "PUT /api/apps/startup-app", "POST /api/apps/install-private-space",
	"GET /api/apps/check-updates", "POST /api/apps/update/{app_name}",
}

// writeDataset makes a datasets folder with one tiny recorded move.
func writeDataset(t *testing.T) string {
	dir := t.TempDir()
	ds := filepath.Join(dir, "test-org", "moves")
	if err := os.MkdirAll(ds, 0o755); err != nil {
		t.Fatal(err)
	}
	id := [][]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
	move := map[string]any{"description": "a nod", "time": []float64{0, 0.5, 1},
		"set_target_data": []any{
			map[string]any{"head": id, "antennas": []float64{0, 0}},
			map[string]any{"head": id, "antennas": []float64{0.3, -0.3}, "body_yaw": 0.1},
			map[string]any{"head": id, "antennas": []float64{0, 0}},
		}}
	b, _ := json.Marshal(move)
	if err := os.WriteFile(filepath.Join(ds, "nod.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRoutesMatchTheReferenceOpenAPI calls every covered operation with
// valid input and checks status 200 and the body against the reference's
// response schema; then checks that each required parameter, when missing,
// gives 422.
func TestRoutesMatchTheReferenceOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	hf, _ := fakeSpaces(t)
	tokenPath := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenPath, []byte(fakeToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_TOKEN_PATH", tokenPath)
	desc := t.TempDir() // a tiny robot description (the reference's is not in this repository)
	if err := os.MkdirAll(filepath.Join(desc, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(desc, "robot.urdf"), []byte(`<robot name="fake"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(desc, "assets", "head.stl"), []byte("solid head"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--datasets-dir", writeDataset(t), "--hf-endpoint", hf.URL, "--app-stop-grace", "2", "--description-dir", desc)
	d.waitRunning()

	type call struct {
		op, path string
		body     any
	}
	moveID := func() string {
		var r map[string]any
		_, b := d.do("POST", "/api/move/goto", map[string]any{"antennas": []float64{0.2, -0.2}, "duration": 5})
		_ = json.Unmarshal(b, &r)
		return r["uuid"].(string)
	}
	var jobID string
	calls := []call{
		{"GET /", "/", nil},
		{"POST /health-check", "/health-check", nil},
		{"GET /api/daemon/status", "/api/daemon/status", nil},
		{"GET /api/daemon/robot-name", "/api/daemon/robot-name", nil},
		{"POST /api/daemon/robot-name", "/api/daemon/robot-name", map[string]any{"name": "  mini  "}},
		{"GET /api/daemon/hardware-id", "/api/daemon/hardware-id", nil},
		{"GET /api/daemon/robot-app-lock-status", "/api/daemon/robot-app-lock-status", nil},
		{"GET /api/state/present_head_pose", "/api/state/present_head_pose", nil},
		{"GET /api/state/present_head_pose", "/api/state/present_head_pose?use_pose_matrix=true", nil},
		{"GET /api/state/present_body_yaw", "/api/state/present_body_yaw", nil},
		{"GET /api/state/present_antenna_joint_positions", "/api/state/present_antenna_joint_positions", nil},
		{"GET /api/state/doa", "/api/state/doa", nil},
		{"GET /api/state/full", "/api/state/full?with_head_joints=1&with_target_head_pose=yes&use_pose_matrix=on", nil},
		{"GET /api/motors/status", "/api/motors/status", nil},
		{"POST /api/motors/set_mode/{mode}", "/api/motors/set_mode/enabled", nil},
		{"GET /api/kinematics/info", "/api/kinematics/info", nil},
		{"GET /api/kinematics/urdf", "/api/kinematics/urdf", nil},
		{"GET /api/kinematics/stl/{filename}", "/api/kinematics/stl/head.stl", nil},
		{"GET /api/media/status", "/api/media/status", nil},
		{"POST /api/media/release", "/api/media/release", nil},
		{"POST /api/media/acquire", "/api/media/acquire", nil},
		{"GET /api/move/running", "/api/move/running", nil},
		{"POST /api/move/set_target", "/api/move/set_target", map[string]any{"target_antennas": []float64{0.1, -0.1}, "target_body_yaw": 0.0,
			"target_head_pose": map[string]any{"x": 0, "y": 0, "z": 0, "roll": 0, "pitch": 0, "yaw": 0}}},
		{"POST /api/move/goto", "/api/move/goto", map[string]any{"antennas": []float64{0, 0}, "duration": 0.2, "interpolation": "linear"}},
		{"GET /api/move/recorded-move-datasets/list/{dataset_name}", "/api/move/recorded-move-datasets/list/test-org/moves", nil},
	}
	run := func(c call) []byte {
		t.Helper()
		method, tmpl, _ := strings.Cut(c.op, " ")
		code, body := d.do(method, c.path, c.body)
		if code != 200 {
			t.Errorf("%s (%s): %d %s", c.op, c.path, code, body)
			return body
		}
		op := doc.Paths[tmpl][strings.ToLower(method)]
		resp := op.Responses["200"].Content["application/json"]
		if resp.Schema == nil || len(resp.Schema) == 0 {
			return body // HTML or untyped
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("%s: body is not JSON: %s", c.op, body)
			return body
		}
		if err := doc.check(v, resp.Schema, c.op); err != nil {
			t.Errorf("%s: %v\n%s", c.op, err, body)
		}
		return body
	}
	exercised := map[string]bool{}
	for _, c := range calls {
		run(c)
		exercised[c.op] = true
	}
	// Moves that need the previous one to end.
	time.Sleep(300 * time.Millisecond)
	id := moveID()
	run(call{"POST /api/move/stop", "/api/move/stop", map[string]any{"uuid": id}})
	run(call{"POST /api/move/play/recorded-move-dataset/{dataset_name}/{move_name}", "/api/move/play/recorded-move-dataset/test-org/moves/nod", nil})
	time.Sleep(1200 * time.Millisecond)
	run(call{"POST /api/move/play/wake_up", "/api/move/play/wake_up", nil})
	time.Sleep(2500 * time.Millisecond)
	run(call{"POST /api/move/play/goto_sleep", "/api/move/play/goto_sleep", nil})
	for _, op := range []string{"POST /api/move/stop", "POST /api/move/play/recorded-move-dataset/{dataset_name}/{move_name}",
		"POST /api/move/play/wake_up", "POST /api/move/play/goto_sleep"} {
		exercised[op] = true
	}
	// The daemon routes, then a job.
	var j map[string]any
	_ = json.Unmarshal(run(call{"POST /api/daemon/restart", "/api/daemon/restart", nil}), &j)
	jobID, _ = j["job_id"].(string)
	d.waitRunning()
	run(call{"GET /api/apps/job-status/{job_id}", "/api/apps/job-status/" + jobID, nil})
	run(call{"POST /api/daemon/stop", "/api/daemon/stop?goto_sleep=false", nil})
	d.waitState("stopped")
	run(call{"POST /api/daemon/start", "/api/daemon/start?wake_up=false", nil})
	d.waitRunning()
	for _, op := range []string{"POST /api/daemon/restart", "GET /api/apps/job-status/{job_id}", "POST /api/daemon/stop", "POST /api/daemon/start"} {
		exercised[op] = true
	}

	// The apps, installed from the fake Hugging Face service.
	jobOf := func(b []byte) string {
		var j map[string]string
		_ = json.Unmarshal(b, &j)
		return j["job_id"]
	}
	d.waitJob(jobOf(run(call{"POST /api/apps/install", "/api/apps/install",
		map[string]any{"name": "wave", "source_kind": "hf_space", "extra": map[string]any{"id": "me/wave"}}})), "done")
	for _, src := range []string{"hf_space", "dashboard_selection", "installed", "local"} {
		run(call{"GET /api/apps/list-available/{source_kind}", "/api/apps/list-available/" + src, nil})
	}
	if b := run(call{"GET /api/apps/list-available", "/api/apps/list-available", nil}); strings.Count(string(b), `"name":"wave"`) != 2 {
		t.Errorf("list-available: want the space once and the installed app once: %s", b)
	}
	run(call{"POST /api/apps/start-app/{app_name}", "/api/apps/start-app/wave", nil})
	d.waitAppState("running")
	run(call{"GET /api/apps/current-app-status", "/api/apps/current-app-status", nil})
	run(call{"POST /api/apps/restart-current-app", "/api/apps/restart-current-app", nil})
	d.waitAppState("running")
	run(call{"POST /api/apps/stop-current-app", "/api/apps/stop-current-app", nil})
	run(call{"GET /api/apps/current-app-status", "/api/apps/current-app-status", nil}) // null
	run(call{"POST /api/apps/start-app/{app_name}/no-evict", "/api/apps/start-app/wave/no-evict", nil})
	d.waitAppState("running")
	run(call{"POST /api/apps/stop-current-app", "/api/apps/stop-current-app", nil})
	run(call{"PUT /api/apps/startup-app", "/api/apps/startup-app", map[string]any{"startup_app": "wave"}})
	if b := run(call{"GET /api/apps/startup-app", "/api/apps/startup-app", nil}); string(b) != `{"startup_app":"wave"}` {
		t.Errorf("startup-app: %s", b)
	}
	run(call{"GET /api/apps/check-updates", "/api/apps/check-updates?force=true", nil})
	d.waitJob(jobOf(run(call{"POST /api/apps/update/{app_name}", "/api/apps/update/wave", nil})), "done")
	d.waitJob(jobOf(run(call{"POST /api/apps/install-private-space", "/api/apps/install-private-space", map[string]any{"space_id": "me/secret"}})), "done")
	d.waitJob(jobOf(run(call{"POST /api/apps/remove/{app_name}", "/api/apps/remove/wave", nil})), "done")
	if b := run(call{"GET /api/apps/startup-app", "/api/apps/startup-app", nil}); string(b) != `{"startup_app":null}` {
		t.Errorf("startup-app after removing it: %s", b)
	}
	for _, c := range covered {
		if strings.Contains(c, "/api/apps/") {
			exercised[c] = true
		}
	}

	// Every covered operation exists in the reference and was exercised.
	var missing []string
	for _, op := range covered {
		method, tmpl, _ := strings.Cut(op, " ")
		if _, ok := doc.Paths[tmpl][strings.ToLower(method)]; !ok {
			t.Errorf("%s is not in the reference's OpenAPI document", op)
		}
		if !exercised[op] {
			missing = append(missing, op)
		}
	}
	if len(missing) > 0 {
		t.Errorf("covered but not exercised: %v", missing)
	}

	// Required parameters: missing query parameters and bodies give 422.
	for _, op := range covered {
		method, tmpl, _ := strings.Cut(op, " ")
		spec := doc.Paths[tmpl][strings.ToLower(method)]
		concrete := strings.NewReplacer("{job_id}", jobID, "{mode}", "enabled", "{dataset_name}", "test-org/moves", "{move_name}", "nod",
			"{source_kind}", "installed", "{app_name}", "secret", "{filename}", "head.stl").Replace(tmpl)
		for _, p := range spec.Parameters {
			if p.In == "query" && p.Required {
				code, body := d.do(method, concrete, nil)
				if code != 422 || !strings.Contains(string(body), `"loc":["query","`+p.Name+`"]`) {
					t.Errorf("%s without %s: %d %s", op, p.Name, code, body)
				}
			}
		}
		if spec.RequestBody != nil && !strings.Contains(op, "robot-name") {
			code, body := d.do(method, concrete, "")
			if code != 422 {
				t.Errorf("%s without a body: %d %s", op, code, body)
			}
		}
	}

	// What the foundation leaves to later work, for the record.
	var later []string
	cov := map[string]bool{}
	for _, op := range append(append(append([]string(nil), covered...), mediaCovered...), hfAuthCovered...) {
		cov[op] = true
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if op := strings.ToUpper(m) + " " + p; !cov[op] {
				later = append(later, op)
			}
		}
	}
	sort.Strings(later)
	n := len(covered) + len(mediaCovered) + len(hfAuthCovered)
	t.Logf("%d of %d reference operations covered; not yet: %v", n, n+len(later), later)
}
