package main

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"strings"
	"testing"
)

// mediaCovered are the reference's media, volume and camera operations,
// served by the media actor: TestMediaRoutesMatchTheReferenceOpenAPI calls
// each against a daemon with media on the simulator.
var mediaCovered = []string{
	"POST /api/media/play_sound", "POST /api/media/stop_sound", "POST /api/media/clear_incoming_audio",
	"POST /api/media/wobbling/enable", "POST /api/media/wobbling/disable",
	"POST /api/media/tracking/enable", "POST /api/media/tracking/disable", "GET /api/media/tracking/face",
	"POST /api/media/sounds/upload", "GET /api/media/sounds", "DELETE /api/media/sounds/{filename}",
	"GET /api/volume/current", "POST /api/volume/set", "POST /api/volume/test-sound",
	"GET /api/volume/microphone/current", "POST /api/volume/microphone/set",
	"GET /api/camera/specs",
}

// TestMediaRoutesMatchTheReferenceOpenAPI calls every media operation with
// valid input and checks status 200 and the body against the reference's
// response schema; the audio board's routes answer the reference's 503
// without a board (the simulator has none).
func TestMediaRoutesMatchTheReferenceOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	d := startMediaDaemon(t)
	exercised := map[string]bool{}
	check := func(op string, code int, body []byte) {
		t.Helper()
		exercised[op] = true
		if code != 200 {
			t.Errorf("%s: %d %s", op, code, body)
			return
		}
		method, tmpl, _ := strings.Cut(op, " ")
		spec, ok := doc.Paths[tmpl][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s is not in the reference's OpenAPI document", op)
			return
		}
		resp := spec.Responses["200"].Content["application/json"]
		if len(resp.Schema) == 0 {
			return
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("%s: not JSON: %s", op, body)
			return
		}
		if err := doc.check(v, resp.Schema, op); err != nil {
			t.Errorf("%s: %v\n%s", op, err, body)
		}
	}
	call := func(op, path string, body any) {
		t.Helper()
		method, _, _ := strings.Cut(op, " ")
		code, b := d.do(method, path, body)
		check(op, code, b)
	}

	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "beep.wav")
	_, _ = fw.Write(wav(0.3))
	_ = mw.Close()
	code, body := d.doHeaders("POST", "/api/media/sounds/upload", mw.FormDataContentType(), form.String(), nil)
	check("POST /api/media/sounds/upload", code, body)
	call("GET /api/media/sounds", "/api/media/sounds", nil)
	call("POST /api/media/play_sound", "/api/media/play_sound", map[string]string{"file": "beep.wav"})
	call("POST /api/media/stop_sound", "/api/media/stop_sound", nil)
	call("POST /api/media/clear_incoming_audio", "/api/media/clear_incoming_audio", nil)
	call("DELETE /api/media/sounds/{filename}", "/api/media/sounds/beep.wav", nil)
	call("POST /api/media/wobbling/enable", "/api/media/wobbling/enable", nil)
	call("POST /api/media/wobbling/disable", "/api/media/wobbling/disable", nil)
	call("POST /api/media/tracking/enable", "/api/media/tracking/enable", map[string]any{"weight": 0.5})
	call("POST /api/media/tracking/disable", "/api/media/tracking/disable", nil)
	call("GET /api/media/tracking/face", "/api/media/tracking/face", nil)
	call("GET /api/volume/current", "/api/volume/current", nil)
	call("POST /api/volume/set", "/api/volume/set", map[string]int{"volume": 40})
	call("POST /api/volume/test-sound", "/api/volume/test-sound", nil)
	call("GET /api/volume/microphone/current", "/api/volume/microphone/current", nil)
	call("POST /api/volume/microphone/set", "/api/volume/microphone/set", map[string]int{"volume": 60})
	call("GET /api/camera/specs", "/api/camera/specs", nil)

	// The simulator's direction of arrival, in the DoA route and the full
	// state.
	var doa struct {
		Angle          *float64 `json:"angle"`
		SpeechDetected *bool    `json:"speech_detected"`
	}
	d.getJSON("/api/state/doa", &doa)
	if doa.Angle == nil || *doa.Angle < 0 || *doa.Angle > 3.2 || doa.SpeechDetected == nil {
		t.Errorf("state/doa %+v, want the simulated talker", doa)
	}
	var full struct {
		DoA *struct {
			Angle float64 `json:"angle"`
		} `json:"doa"`
	}
	d.getJSON("/api/state/full?with_doa=true", &full)
	if full.DoA == nil {
		t.Error("state/full?with_doa=true has no doa")
	}

	for _, op := range mediaCovered {
		if !exercised[op] {
			t.Errorf("%s not exercised", op)
		}
	}
	// Without the ReSpeaker board: the reference's 503.
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/audio/config/apply"}, {"GET", "/api/audio/config/parameter/DOA_VALUE"},
	} {
		var body any
		if c.method == "POST" {
			body = map[string]any{"config": []map[string]any{{"name": "AEC_AECSILENCELEVEL", "values": []float64{0.001}}}}
		}
		if code, b := d.do(c.method, c.path, body); code != 503 || !strings.Contains(string(b), "ReSpeaker audio board not available") {
			t.Errorf("%s %s: %d %s, want 503 without a board", c.method, c.path, code, b)
		}
	}
}
