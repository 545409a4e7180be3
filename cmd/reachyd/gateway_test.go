package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func header(t *testing.T, d *testDaemon, method, path string, h map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, d.base+path, nil)
	for k, v := range h {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCORSIsTheReferencePolicy(t *testing.T) {
	d := startDaemon(t)
	allowed := []string{"http://localhost", "http://localhost:1420", "https://127.0.0.1:8000", "tauri://localhost",
		"http://tauri.localhost", "https://tauri.localhost", "capacitor://localhost"}
	blocked := []string{"http://evil.com", "http://localhost.evil.com", "https://127.0.0.1.nip.io", "tauri://evil",
		"http://localhost:80x", "null"}
	for _, o := range allowed {
		r := header(t, d, "GET", "/api/daemon/status", map[string]string{"Origin": o})
		if r.Header.Get("Access-Control-Allow-Origin") != o {
			t.Errorf("origin %s not allowed", o)
		}
		p := header(t, d, "OPTIONS", "/api/move/goto", map[string]string{"Origin": o,
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
		if p.StatusCode != 200 || p.Header.Get("Access-Control-Allow-Headers") != "content-type" ||
			!strings.Contains(p.Header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("preflight from %s: %d %v", o, p.StatusCode, p.Header)
		}
	}
	for _, o := range blocked {
		r := header(t, d, "GET", "/api/daemon/status", map[string]string{"Origin": o})
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("origin %s allowed", o)
		}
		p := header(t, d, "OPTIONS", "/api/move/goto", map[string]string{"Origin": o, "Access-Control-Request-Method": "POST"})
		if p.StatusCode != 400 {
			t.Errorf("preflight from %s: %d", o, p.StatusCode)
		}
	}
}

func TestHostHeaderGuardsAgainstDNSRebinding(t *testing.T) {
	d := startDaemon(t, "--robot-name", "reachy_mini")
	for _, h := range []string{"localhost:8000", "127.0.0.1", "[::1]:8000", "192.168.1.20:8000", "reachy-mini.local",
		"REACHY-MINI.LOCAL:8000", "reachy_mini", "reachy-mini", "foo.localhost"} {
		if r := header(t, d, "GET", "/api/daemon/status", map[string]string{"Host": h}); r.StatusCode != 200 {
			t.Errorf("host %s refused: %d", h, r.StatusCode)
		}
	}
	for _, h := range []string{"evil.com", "reachy-mini.local.evil.com", "attacker.example:8000"} {
		if r := header(t, d, "GET", "/api/daemon/status", map[string]string{"Host": h}); r.StatusCode != 400 {
			t.Errorf("host %s accepted: %d", h, r.StatusCode)
		}
	}
}

func TestFastAPIErrorShapes(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	cases := []struct {
		method, path string
		body         any
		code         int
		want         string
	}{
		{"GET", "/api/nope", nil, 404, `{"detail":"Not Found"}`},
		{"DELETE", "/api/daemon/status", nil, 405, `{"detail":"Method Not Allowed"}`},
		{"POST", "/api/move/goto", `{"duration": 1, "antennas": [1, 2, 3]}`, 422,
			`{"detail":[{"type":"too_long","loc":["body","antennas"],"msg":"Tuple should have at most 2 items after validation, not 3","input":[1,2,3],"ctx":{"field_type":"Tuple","max_length":2,"actual_length":3}}]}`},
		{"POST", "/api/move/goto", `{"duration": 1,`, 422, `"type":"json_invalid"`},
		{"POST", "/api/move/goto", `{"duration": 1, "head_pose": {"m": [1, 2]}}`, 422, `"Matrix4x4Pose","m",2]`},
		{"POST", "/api/move/stop", map[string]any{"uuid": "6e4c2f3a-1111-4222-8333-444455556666"}, 404,
			`{"detail":"Running move with UUID 6e4c2f3a-1111-4222-8333-444455556666 not found"}`},
		{"POST", "/api/move/set_target", map[string]any{"target_head_pose": map[string]any{"z": 0.05}}, 400, `Head pose not achievable`},
		{"POST", "/api/daemon/robot-name", map[string]any{"name": "   "}, 422, `{"detail":"Invalid robot name"}`},
		{"POST", "/api/daemon/robot-name", map[string]any{"name": strings.Repeat("x", 65)}, 422, `"string_too_long"`},
		{"GET", "/api/apps/job-status/nope", nil, 404, `{"detail":"Job ID not found"}`},
		{"GET", "/api/move/recorded-move-datasets/list/..%2Fetc/passwd", nil, 404, `"detail"`},
		// Not on disk, and the Hub cannot be reached (the harness's endpoint).
		{"POST", "/api/move/play/recorded-move-dataset/nobody/nothing/x", nil, 503, `could not be downloaded`},
		{"POST", "/api/daemon/start?wake_up=maybe", nil, 422, `"bool_parsing"`},
	}
	for _, c := range cases {
		code, body := d.do(c.method, c.path, c.body)
		if code != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("%s %s: %d %s\nwant %d containing %s", c.method, c.path, code, body, c.code, c.want)
		}
	}
	// FastAPI redirects a trailing slash.
	req, _ := http.NewRequest("GET", d.base+"/api/daemon/status/?x=1", nil)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode != 307 || resp.Header.Get("Location") != "/api/daemon/status?x=1" {
		t.Errorf("trailing slash: %v %v", err, resp)
	}
	// A body over the limit is refused before it is read.
	big := `{"duration":1,"x":"` + strings.Repeat("a", 2<<20) + `"}`
	if code, _ := d.do("POST", "/api/move/goto", big); code != 413 {
		t.Errorf("2 MiB body: %d", code)
	}
	// Nothing was moved by all of this.
	var running []any
	d.getJSON("/api/move/running", &running)
	if len(running) != 0 {
		t.Errorf("running moves after bad requests: %v", running)
	}
}

func TestSetTargetIgnoredWhileAMoveRuns(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	code, body := d.do("POST", "/api/move/goto", map[string]any{"antennas": []float64{0.5, -0.5}, "duration": 2})
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	code, body = d.do("POST", "/api/move/set_target", map[string]any{"target_antennas": []float64{0, 0}})
	if code != 200 || string(body) != `{"status":"ignored","reason":"move_running"}` {
		t.Fatalf("%d %s", code, body)
	}
}

func TestMoveUpdatesStream(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	ws, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/move/ws/updates", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	time.Sleep(50 * time.Millisecond)
	_, b1 := d.do("POST", "/api/move/goto", map[string]any{"antennas": []float64{0.1, -0.1}, "duration": 0.3})
	_, b2 := d.do("POST", "/api/move/goto", map[string]any{"antennas": []float64{0, 0}, "duration": 0.3})
	var g1, g2 map[string]string
	_ = json.Unmarshal(b1, &g1)
	_ = json.Unmarshal(b2, &g2)
	want := []string{
		`{"type":"move_started","uuid":"` + g1["uuid"] + `","details":""}`,
		`{"type":"move_failed","uuid":"` + g2["uuid"] + `","details":"move_running"}`,
		`{"type":"move_completed","uuid":"` + g1["uuid"] + `","details":""}`,
	}
	_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	for i, w := range want {
		_, got, err := ws.ReadMessage()
		if err != nil || string(got) != w {
			t.Fatalf("event %d: %s %v, want %s", i, got, err, w)
		}
	}
}

func TestWSSetTargetAnswersOnlyErrors(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	ws, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/move/ws/set_target", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"target_antennas":[0.4,-0.4]}`))
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"target_antennas":[1]}`))
	_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, msg, err := ws.ReadMessage()
	if err != nil || !strings.HasPrefix(string(msg), `{"status":"error","detail":`) {
		t.Fatalf("error reply: %s %v", msg, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		var a []float64
		d.getJSON("/api/state/present_antenna_joint_positions", &a)
		if a[0] > 0.39 && a[1] < -0.39 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("antennas never reached the streamed target: %v", a)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSDKSocketRules(t *testing.T) {
	d := startDaemon(t, "--no-autostart")
	// Before the backend ever ran: the reference refuses with 1013.
	ws, _, err := websocket.DefaultDialer.Dial(d.ws+"/ws/sdk", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _, err = ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseTryAgainLater || ce.Text != "Daemon not ready" {
		t.Fatalf("before start: %v", err)
	}
	ws.Close()

	d.do("POST", "/api/daemon/start?wake_up=false", nil)
	d.waitRunning()
	c := d.dialSDK()
	c.waitFrame("head_pose", 2*time.Second, nil)
	// Invalid frames are skipped; the connection stays.
	c.send(`not json`)
	c.send(`{"type":"no_such_command"}`)
	c.send(`{"type":"set_body_yaw","body_yaw":"abc"}`)
	c.send(`{"type":"get_state"}`)
	time.Sleep(200 * time.Millisecond)
	c.waitFrame("joint_positions", time.Second, nil)
	select {
	case <-c.closed:
		t.Fatalf("connection closed by an invalid frame: %v", c.err)
	default:
	}
	// A valid command that fails while dispatching closes it, as in the
	// reference.
	c.send(`{"type":"set_motor_mode","mode":"turbo"}`)
	select {
	case <-c.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("an invalid motor mode did not close the connection")
	}
	// A browser page from another origin cannot open the socket.
	h := http.Header{"Origin": []string{"http://evil.com"}}
	if _, resp, err := websocket.DefaultDialer.Dial(d.ws+"/ws/sdk", h); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("cross-origin WebSocket: %v %v", err, resp)
	}
	// Stopping the backend closes SDK clients with 1001.
	c2 := d.dialSDK()
	c2.waitFrame("head_pose", 2*time.Second, nil)
	d.do("POST", "/api/daemon/stop?goto_sleep=false", nil)
	select {
	case <-c2.closed:
		if ce, ok := c2.err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("close after stop: %v", c2.err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("SDK client not closed when the backend stopped")
	}
	// And the REST state routes answer 503.
	d.waitState("stopped")
	if code, body := d.do("GET", "/api/state/full", nil); code != 503 || string(body) != `{"detail":"Backend not running"}` {
		t.Fatalf("state when stopped: %d %s", code, body)
	}
}

func TestJobLogStream(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	_, b := d.do("POST", "/api/daemon/restart", nil)
	var j map[string]string
	_ = json.Unmarshal(b, &j)
	d.waitRunning()
	// A late client still gets the whole history, then the close.
	ws, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/apps/ws/apps-manager/"+j["job_id"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	var frames []string
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			break
		}
		frames = append(frames, string(m))
	}
	if len(frames) < 2 || !strings.Contains(frames[len(frames)-1], `"status":"done"`) ||
		!strings.Contains(strings.Join(frames, "\n"), "Job 'daemon-restart' completed successfully") {
		t.Fatalf("frames %q", frames)
	}
	// Unknown job: the reference's error frame.
	ws2, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/apps/ws/apps-manager/nope", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := ws2.ReadMessage()
	if err != nil || string(m) != `{"error":"Job ID not found"}` {
		t.Fatalf("%s %v", m, err)
	}
	ws2.Close()
	// A second start while one runs is refused.
	d.do("POST", "/api/daemon/stop?goto_sleep=false", nil)
	d.waitState("stopped")
	code, body := d.do("POST", "/api/daemon/start?wake_up=true", nil)
	code2, body2 := d.do("POST", "/api/daemon/start?wake_up=false", nil)
	if code != 200 || code2 != 409 || string(body2) != `{"detail":"Daemon is busy."}` {
		t.Fatalf("start then start: %d %s, %d %s", code, body, code2, body2)
	}
}
