package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// traceEntry is one line of the official SDK's recorded client trace.
type traceEntry struct {
	T    float64         `json:"t"`
	Step string          `json:"step"`
	Kind string          `json:"kind"`
	Msg  json.RawMessage `json:"msg"`
}

func loadTrace(t *testing.T) []traceEntry {
	f, err := os.Open("testdata/sdk-client-trace.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []traceEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e traceEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// loadServerFrames reads the reference's example frames, by type.
func loadServerFrames(t *testing.T) map[string]map[string]any {
	b, err := os.ReadFile("testdata/sdk-server-frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		name, js, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = v
	}
	return out
}

// jsonKind names a decoded JSON value's type.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return "?"
}

// sameShape checks that got has exactly want's keys (plus allowed extras)
// and the same JSON types, recursively; lists must have the same length
// and element types.
func sameShape(t *testing.T, path string, want, got any, extra map[string]bool) {
	t.Helper()
	if jsonKind(want) != jsonKind(got) {
		// A field the reference happened to send as null may carry a value.
		if jsonKind(want) == "null" || jsonKind(got) == "null" {
			return
		}
		t.Errorf("%s: type %s, reference sends %s", path, jsonKind(got), jsonKind(want))
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k := range w {
			if _, ok := g[k]; !ok {
				t.Errorf("%s: missing field %q", path, k)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok && !extra[k] && !extra[path+"."+k] {
				t.Errorf("%s: unexpected field %q", path, k)
			}
		}
		for k, wv := range w {
			if gv, ok := g[k]; ok {
				sameShape(t, path+"."+k, wv, gv, extra)
			}
		}
	case []any:
		g := got.([]any)
		if path == "recorded_data.data" {
			return // the records are whatever the client appended
		}
		if len(w) != len(g) {
			t.Errorf("%s: %d items, reference sends %d", path, len(g), len(w))
		}
		for i := 0; i < len(w) && i < len(g); i++ {
			sameShape(t, path, w[i], g[i], nil)
		}
	}
}

// TestSDKTraceReplay drives the daemon with every frame the official SDK
// sent for 24 typical calls (connect, motors, wake_up, goto, set_target,
// recording, a recorded move played from the client, goto_sleep) and checks
// what comes back: the readiness frames, every task_progress, the
// recorded_data, the frames' fields and types against the reference's own
// frames, the rates, and that the head went where it was sent.
func TestSDKTraceReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 10 s of SDK traffic")
	}
	replaySDKTrace(t, nil)
}

// replaySDKTrace is TestSDKTraceReplay against a daemon started with extra
// arguments (the MuJoCo build runs it on --sim), whose frames may carry the
// further fields allowed (by path, e.g. "daemon_status.backend_status.x").
func replaySDKTrace(t *testing.T, allowed map[string]bool, extra ...string) {
	d := startDaemon(t, extra...)
	d.waitRunning()
	c := d.dialSDK()
	connected := time.Now()

	// The SDK waits for a joint_positions and a head_pose; the reference
	// also sends daemon_status once on connect.
	c.waitFrame("joint_positions", 5*time.Second, nil)
	c.waitFrame("head_pose", 5*time.Second, nil)
	// Sent on connect, not only at the next 1 Hz tick.
	c.waitFrame("daemon_status", 300*time.Millisecond, nil)
	if time.Since(connected) > time.Second {
		t.Errorf("first frames took %v", time.Since(connected))
	}

	trace := loadTrace(t)
	var t0 float64
	start := time.Now()
	records := 0
	recording := false
	tasks := map[string]map[string]any{}
	for _, e := range trace {
		if e.Kind != "ws_recv" && e.Kind != "ws_send" {
			continue
		}
		if t0 == 0 {
			t0 = e.T
		}
		// Keep the SDK's pacing for streamed frames.
		if wait := time.Duration((e.T-t0)*float64(time.Second)) - time.Since(start); wait > 0 && e.Kind == "ws_recv" {
			time.Sleep(wait)
		}
		var msg map[string]any
		if err := json.Unmarshal(e.Msg, &msg); err != nil {
			t.Fatal(err)
		}
		typ := msg["type"].(string)
		switch e.Kind {
		case "ws_recv": // the daemon received it: we send it
			c.send(e.Msg)
			switch typ {
			case "task":
				req := msg["req"].(map[string]any)
				tasks[msg["uuid"].(string)] = req
			case "start_recording":
				recording, records = true, 0
			case "append_record":
				if recording {
					records++
				}
			case "stop_recording":
				recording = false
			}
		case "ws_send": // the daemon sent it: we must receive it
			switch typ {
			case "task_progress":
				id := msg["uuid"].(string)
				req := tasks[id]
				timeout := time.Duration((fnum(req["duration"]) + 2) * float64(time.Second))
				f := c.waitFrame("task_progress", timeout, func(m map[string]any) bool { return m["uuid"] == id })
				if f.data["finished"] != true || f.data["error"] != nil {
					t.Errorf("task %s: %s", id, f.raw)
				}
				if _, err := time.Parse("2006-01-02T15:04:05.999999", f.data["timestamp"].(string)); err != nil {
					t.Errorf("task_progress timestamp: %v", err)
				}
				checkHeadReached(t, c, req)
			case "recorded_data":
				f := c.waitFrame("recorded_data", 5*time.Second, nil)
				data := f.data["data"].([]any)
				if len(data) != records {
					t.Errorf("recorded_data has %d records, %d were appended", len(data), records)
				}
			}
		}
	}

	// Fields and types against the reference's frames.
	ref := loadServerFrames(t)
	for _, typ := range []string{"joint_positions", "head_pose", "daemon_status", "task_progress", "recorded_data"} {
		f, ok := c.latest(typ)
		if !ok {
			t.Errorf("never received %s", typ)
			continue
		}
		extra := map[string]bool{}
		for k, v := range allowed {
			extra[k] = v
		}
		if typ == "daemon_status" {
			extra["reachyd"] = true // reachyd's additions, under one key
		}
		sameShape(t, typ, ref[typ], f.data, extra)
	}

	// Rates: state every tick (50 Hz), status at 1 Hz. The lower bounds are
	// loose (a loaded machine delays ticks); the upper ones catch frames
	// sent more than once a tick.
	from := time.Now().Add(-3 * time.Second)
	to := time.Now()
	if n := c.count("joint_positions", from, to); n < 90 || n > 165 {
		t.Errorf("%d joint_positions in 3 s, want about 150", n)
	}
	if n := c.count("head_pose", from, to); n < 90 || n > 165 {
		t.Errorf("%d head_pose in 3 s, want about 150", n)
	}
	if n := c.count("daemon_status", from, to); n < 2 || n > 4 {
		t.Errorf("%d daemon_status in 3 s, want about 3", n)
	}
	// Commands have no replies on this transport: only these types came.
	types := map[string]bool{}
	for _, f := range c.snapshot() {
		types[f.typ] = true
	}
	var got []string
	for k := range types {
		got = append(got, k)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "daemon_status,head_pose,joint_positions,recorded_data,task_progress" {
		t.Errorf("frame types received: %v", got)
	}
}

// checkHeadReached waits for the head_pose stream to show the task's head
// target (when it has one): the head really moved.
func checkHeadReached(t *testing.T, c *sdkClient, req map[string]any) {
	t.Helper()
	h, ok := req["head"].([]any)
	if !ok || len(h) != 16 {
		return
	}
	deadline := time.Now().Add(time.Second)
	var worst float64
	for time.Now().Before(deadline) {
		f, _ := c.latest("head_pose")
		rows := f.data["head_pose"].([]any)
		worst = 0
		for i := 0; i < 4; i++ {
			row := rows[i].([]any)
			for j := 0; j < 4; j++ {
				worst = math.Max(worst, math.Abs(fnum(row[j])-fnum(h[4*i+j])))
			}
		}
		// Motor positions are quantized to ticks (1.5 mrad, truncated as the
		// reference does), which the linkage turns into a few 1e-3 of pose.
		if worst < 1e-2 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("head_pose %.4f away from the goto target %v", worst, h)
}
