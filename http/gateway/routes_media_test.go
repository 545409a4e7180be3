package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"reachyd/messages"
)

// ---- the reference's OpenAPI document ---------------------------------------

// refSchemas checks bodies against the reference's own OpenAPI document
// (the copy cmd/reachyd's contract test reads).
type refSchemas struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

func loadRefSchemas(t *testing.T) *refSchemas {
	t.Helper()
	b, err := os.ReadFile("../../cmd/reachyd/testdata/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc refSchemas
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

// response200 returns the 200 schema of an operation.
func (d *refSchemas) response200(t *testing.T, method, path string) map[string]any {
	t.Helper()
	var op struct {
		Responses map[string]struct {
			Content map[string]struct {
				Schema map[string]any `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	}
	raw, ok := d.Paths[path][strings.ToLower(method)]
	if !ok {
		t.Fatalf("%s %s is not in the reference's OpenAPI document", method, path)
	}
	if err := json.Unmarshal(raw, &op); err != nil {
		t.Fatal(err)
	}
	return op.Responses["200"].Content["application/json"].Schema
}

// check validates v against schema s: types, required keys, nested
// references; enough to catch a misnamed or mistyped field.
func (d *refSchemas) check(v any, s map[string]any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		return d.check(v, d.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")], at)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		for _, a := range alts {
			if d.check(v, a.(map[string]any), at) == nil {
				return nil
			}
		}
		return fmt.Errorf("%s: %v matches no alternative", at, v)
	}
	switch s["type"] {
	case "null":
		if v != nil {
			return fmt.Errorf("%s: want null", at)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %v, want boolean", at, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %v, want number", at, v)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			return fmt.Errorf("%s: %v, want integer", at, v)
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %v, want string", at, v)
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %v, want array", at, v)
		}
		if it, ok := s["items"].(map[string]any); ok {
			for i, x := range list {
				if err := d.check(x, it, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %v, want object", at, v)
		}
		for _, r := range asList(s["required"]) {
			if _, ok := o[r.(string)]; !ok {
				return fmt.Errorf("%s: missing %q", at, r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, x := range o {
			if ps, ok := props[k].(map[string]any); ok {
				if err := d.check(x, ps, at+"."+k); err != nil {
					return err
				}
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				if err := d.check(x, ap, at+"."+k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

// conforms checks a 200 answer of an operation against the reference.
func (tg *testGW) conforms(doc *refSchemas, method, tmpl, path string, body any) string {
	tg.t.Helper()
	code, got := tg.do(method, path, body)
	if code != 200 {
		tg.t.Errorf("%s %s: %d %s", method, path, code, got)
		return got
	}
	var v any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		tg.t.Errorf("%s %s: not JSON: %s", method, path, got)
		return got
	}
	if err := doc.check(v, doc.response200(tg.t, method, tmpl), method+" "+tmpl); err != nil {
		tg.t.Errorf("%v\n%s", err, got)
	}
	return got
}

// ---- routes with media ------------------------------------------------------------

func TestMediaRoutesWithMedia(t *testing.T) {
	doc := loadRefSchemas(t)
	tg := startGW(t, gwOptions{media: true, autostart: true})
	f := tg.media

	// Every route's 200 has the reference's shape.
	tg.conforms(doc, "POST", "/api/media/play_sound", "/api/media/play_sound", map[string]any{"file": "wake_up.wav"})
	if m := wait[*messages.PlaySound](t, f); m.File != "wake_up.wav" {
		t.Errorf("play_sound sent %+v", m)
	}
	tg.conforms(doc, "POST", "/api/media/stop_sound", "/api/media/stop_sound", nil)
	wait[*messages.StopSound](t, f)
	tg.conforms(doc, "POST", "/api/media/clear_incoming_audio", "/api/media/clear_incoming_audio", nil)
	wait[*messages.ClearIncomingAudio](t, f)
	tg.conforms(doc, "POST", "/api/media/wobbling/enable", "/api/media/wobbling/enable", nil)
	if m := wait[*messages.SetWobbling](t, f); !m.On {
		t.Error("wobbling/enable sent On=false")
	}
	tg.conforms(doc, "POST", "/api/media/wobbling/disable", "/api/media/wobbling/disable", nil)
	if m := wait[*messages.SetWobbling](t, f); m.On {
		t.Error("wobbling/disable sent On=true")
	}
	tg.conforms(doc, "GET", "/api/media/sounds", "/api/media/sounds", nil)
	tg.conforms(doc, "GET", "/api/volume/current", "/api/volume/current", nil)
	tg.conforms(doc, "POST", "/api/volume/set", "/api/volume/set", map[string]any{"volume": 55})
	tg.conforms(doc, "GET", "/api/volume/microphone/current", "/api/volume/microphone/current", nil)
	tg.conforms(doc, "POST", "/api/volume/microphone/set", "/api/volume/microphone/set", map[string]any{"volume": 0})
	tg.conforms(doc, "POST", "/api/volume/test-sound", "/api/volume/test-sound", nil)
	tg.conforms(doc, "GET", "/api/camera/specs", "/api/camera/specs", nil)
	tg.conforms(doc, "POST", "/api/audio/config/apply", "/api/audio/config/apply", map[string]any{"config": []any{map[string]any{"name": "AEC_X", "values": []any{1, 2.5}}}})
	tg.conforms(doc, "GET", "/api/audio/config/parameter/{name}", "/api/audio/config/parameter/AEC_AZIMUTH_VALUES", nil)
	tg.conforms(doc, "GET", "/api/state/doa", "/api/state/doa", nil)
	tg.conforms(doc, "POST", "/api/media/tracking/enable", "/api/media/tracking/enable", nil)
	tg.conforms(doc, "POST", "/api/media/tracking/disable", "/api/media/tracking/disable", nil)
	tg.conforms(doc, "GET", "/api/media/tracking/face", "/api/media/tracking/face", nil)

	// Exact bodies.
	tg.expect("POST", "/api/media/play_sound", map[string]any{"file": "x.wav"}, 200, `{"status":"ok"}`)
	tg.expect("POST", "/api/media/play_sound", `{}`, 422,
		`{"detail":[{"type":"missing","loc":["body","file"],"msg":"Field required","input":{}}]}`)
	// No face detector: tracking is unavailable, as the reference says
	// without a camera; the weight is still validated.
	tg.expect("POST", "/api/media/tracking/enable", map[string]any{"weight": 0.5}, 200, `{"status":"unavailable","enabled":false}`)
	tg.expect("POST", "/api/media/tracking/enable", map[string]any{"weight": 2}, 422,
		`{"detail":[{"type":"less_than_equal","loc":["body","weight"],"msg":"Input should be less than or equal to 1","input":2,"ctx":{"le":1.0}}]}`)
	tg.expect("POST", "/api/media/tracking/disable", nil, 200, `{"status":"ok","enabled":false}`)
	tg.expect("GET", "/api/media/tracking/face", nil, 200,
		`{"status":"ok","face_target":{"detected":false,"x":null,"y":null,"roll":null,"ts":null}}`)

	// Volume.
	tg.expect("GET", "/api/volume/current", nil, 200, `{"volume":55,"platform":"Linux","device":"fake card"}`)
	tg.expect("POST", "/api/volume/set", map[string]any{"volume": 101}, 422,
		`{"detail":[{"type":"less_than_equal","loc":["body","volume"],"msg":"Input should be less than or equal to 100","input":101,"ctx":{"le":100}}]}`)
	tg.expect("POST", "/api/volume/set", map[string]any{"volume": -1}, 422,
		`{"detail":[{"type":"greater_than_equal","loc":["body","volume"],"msg":"Input should be greater than or equal to 0","input":-1,"ctx":{"ge":0}}]}`)
	tg.expect("POST", "/api/volume/microphone/set", map[string]any{"volume": "loud"}, 422,
		`{"detail":[{"type":"int_parsing","loc":["body","volume"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"loud"}]}`)
	// No confirmation sound unless asked (upstream #1325).
	tg.expect("POST", "/api/volume/set", map[string]any{"volume": 20}, 200, `{"volume":20,"platform":"Linux","device":"fake card"}`)
	if m := lastOf[*messages.SetVolume](f); m == nil || m.TestSound || m.Volume != 20 || m.Microphone {
		t.Errorf("volume/set sent %+v", m)
	}
	tg.expect("POST", "/api/volume/set?test_sound=true", map[string]any{"volume": 21}, 200, `{"volume":21,"platform":"Linux","device":"fake card"}`)
	if m := lastOf[*messages.SetVolume](f); m == nil || !m.TestSound {
		t.Errorf("volume/set?test_sound=true sent %+v", m)
	}
	tg.expect("POST", "/api/volume/microphone/set", map[string]any{"volume": 70}, 200, `{"volume":70,"platform":"Linux","device":"fake card"}`)
	if m := lastOf[*messages.SetVolume](f); m == nil || !m.Microphone || m.TestSound {
		t.Errorf("microphone/set sent %+v", m)
	}
	tg.expect("GET", "/api/volume/microphone/current", nil, 200, `{"volume":70,"platform":"Linux","device":"fake card"}`)
	tg.expect("POST", "/api/volume/test-sound", nil, 200, `{"status":"ok","message":"Test sound played"}`)
	f.set(func(f *fakeMedia) { f.busy = true })
	tg.expect("POST", "/api/volume/test-sound", nil, 200, `{"status":"busy","message":"Audio device is currently in use, test sound was skipped."}`)
	f.set(func(f *fakeMedia) { f.failSet = true })
	tg.expect("POST", "/api/volume/set", map[string]any{"volume": 5}, 500, `{"detail":"Failed to set volume"}`)
	f.set(func(f *fakeMedia) { f.noMixer = true })
	tg.expect("GET", "/api/volume/current", nil, 503, `{"detail":"no mixer found"}`)

	// Camera specs, in the reference's shape (fps an integer).
	tg.expect("GET", "/api/camera/specs", nil, 200, `{"name":"lite","available_resolutions":[`+
		`{"name":"R1280x720at30fps","width":1280,"height":720,"fps":30,"crop_factor":1.0},`+
		`{"name":"R1920x1080at60fps","width":1920,"height":1080,"fps":60,"crop_factor":1.25}],`+
		`"default_resolution":{"name":"R1280x720at30fps","width":1280,"height":720,"fps":30,"crop_factor":1.0},`+
		`"K":[[821.5,0.0,640.0],[0.0,821.5,360.0],[0.0,0.0,1.0]],"D":[-0.01,0.002,0.0,0.0,0.0]}`)

	// Audio board.
	tg.expect("POST", "/api/audio/config/apply", map[string]any{"config": []any{map[string]any{"name": "A", "values": []any{1}}}, "verify": false}, 200, `{"applied":true}`)
	if m := lastOf[*messages.ApplyAudioConfig](f); m == nil || m.Verify || len(m.Params) != 1 || m.Params[0].Name != "A" || m.Params[0].Values[0] != 1 {
		t.Errorf("apply sent %+v", m)
	}
	tg.expect("POST", "/api/audio/config/apply", map[string]any{"config": []any{map[string]any{"name": "A"}}}, 422,
		`{"detail":[{"type":"missing","loc":["body","config",0,"values"],"msg":"Field required","input":{"name":"A"}}]}`)
	tg.expect("GET", "/api/audio/config/parameter/AEC_AZIMUTH_VALUES", nil, 200, `{"name":"AEC_AZIMUTH_VALUES","values":[0.5,1.0,-2.25]}`)
	tg.expect("GET", "/api/audio/config/parameter/NOPE", nil, 404, `{"detail":"Parameter 'NOPE' could not be read"}`)
	tg.expect("GET", "/api/audio/config/parameter/BROKEN", nil, 500, `{"detail":"read_audio_parameter failed: usb transfer timed out"}`)
	f.set(func(f *fakeMedia) { f.noBoard = true })
	tg.expect("GET", "/api/audio/config/parameter/X", nil, 503, `{"detail":"ReSpeaker audio board not available"}`)
	tg.expect("POST", "/api/audio/config/apply", map[string]any{"config": []any{}}, 503, `{"detail":"ReSpeaker audio board not available"}`)

	// Direction of arrival: /api/state/doa, and in /api/state/full when
	// asked.
	tg.expect("GET", "/api/state/doa", nil, 200, `{"angle":1.5,"speech_detected":true}`)
	if _, body := tg.do("GET", "/api/state/full?with_doa=true", nil); !strings.Contains(body, `"doa":{"angle":1.5,"speech_detected":true}`) {
		t.Errorf("state/full with_doa: %s", body)
	}
	if _, body := tg.do("GET", "/api/state/full", nil); !strings.Contains(body, `"doa":null`) {
		t.Errorf("state/full without with_doa: %s", body)
	}
	f.set(func(f *fakeMedia) { f.doa = messages.DoA{} })
	tg.expect("GET", "/api/state/doa", nil, 200, `null`)
}

// lastOf returns the last message of type T the fake media actor got.
func lastOf[T any](f *fakeMedia) T {
	f.mu.Lock()
	defer f.mu.Unlock()
	var zero T
	for i := len(f.got) - 1; i >= 0; i-- {
		if v, ok := f.got[i].(T); ok {
			return v
		}
	}
	return zero
}

// A network client plays sounds by name or by the path an upload gave; any
// other path is only for a trusted local caller.
func TestPlaySoundByPath(t *testing.T) {
	tg := startGW(t, gwOptions{media: true, autostart: true})
	in := filepath.Join(tg.dir, "x.wav")
	tg.expect("POST", "/api/media/play_sound", map[string]any{"file": in}, 200, `{"status":"ok"}`)
	if m := wait[*messages.PlaySound](t, tg.media); m.File != in {
		t.Errorf("play_sound by the upload's path sent %q", m.File)
	}
	refused := `{"detail":"Playing a file by its path is only allowed over the daemon's unix socket; upload the sound (POST /api/media/sounds/upload) and play it by name"}`
	for _, p := range []string{"/dev/watchdog", tg.dir + "/../x.wav", tg.dir + "/sub/x.wav", "sub/x.wav", `..\x.wav`} {
		tg.expect("POST", "/api/media/play_sound", map[string]any{"file": p}, 403, refused)
	}
	tg.expect("POST", "/api/media/play_sound", map[string]any{"file": ".."}, 400, `{"detail":"Invalid sound file name"}`)
	if m := lastOf[*messages.PlaySound](tg.media); m.File != in {
		t.Errorf("a refused path reached the media actor: %q", m.File)
	}
	// A trusted caller may name any file.
	if ref, err := tg.g.soundRef("/usr/share/sounds/a.wav", true); err != nil || ref != "/usr/share/sounds/a.wav" {
		t.Errorf("trusted: %q %v", ref, err)
	}
}

// ---- uploads --------------------------------------------------------------------

// multipartBody builds a form with one file part.
func multipartBody(t *testing.T, field, filename string, content []byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, filename))
	h.Set("Content-Type", "application/octet-stream")
	p, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	p.Write(content)
	w.Close()
	return w.FormDataContentType(), &buf
}

func (tg *testGW) upload(field, filename string, content []byte) (int, string) {
	tg.t.Helper()
	ct, body := multipartBody(tg.t, field, filename, content)
	req, _ := http.NewRequest("POST", tg.base+"/api/media/sounds/upload", body)
	req.Header.Set("Content-Type", ct)
	return tg.send(req)
}

func (tg *testGW) stagingEmpty() {
	tg.t.Helper()
	ents, err := os.ReadDir(tg.g.cfg.SoundsStaging)
	if err != nil && !os.IsNotExist(err) {
		tg.t.Fatal(err)
	}
	if len(ents) != 0 {
		tg.t.Errorf("staging folder not empty: %v", ents)
	}
}

var wav = append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 64)...)

func TestSoundUploads(t *testing.T) {
	doc := loadRefSchemas(t)
	tg := startGW(t, gwOptions{media: true, autostart: true})

	// A good upload: stored under its base name, the answer gives its path.
	code, body := tg.upload("file", "../../etc/hello.wav", wav)
	want := fmt.Sprintf(`{"status":"ok","path":%q}`, filepath.Join(tg.dir, "hello.wav"))
	if code != 200 || body != want {
		t.Fatalf("upload: %d %s, want %s", code, body, want)
	}
	var v any
	_ = json.Unmarshal([]byte(body), &v)
	if err := doc.check(v, doc.response200(t, "POST", "/api/media/sounds/upload"), "upload"); err != nil {
		t.Error(err)
	}
	if b, err := os.ReadFile(filepath.Join(tg.dir, "hello.wav")); err != nil || !bytes.Equal(b, wav) {
		t.Fatalf("stored sound: %v", err)
	}
	fi, err := os.Stat(tg.g.cfg.SoundsStaging)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("staging folder: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(tg.dir, "hello.wav")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("stored sound's mode: %v %v", fi.Mode(), err)
	}
	tg.stagingEmpty()
	tg.expect("GET", "/api/media/sounds", nil, 200, `{"files":["hello.wav"]}`)
	// Windows-style folders are cut too.
	if code, body := tg.upload("file", `C:\Users\me\Song.MP3`, wav); code != 200 || !strings.Contains(body, `Song.MP3"`) {
		t.Errorf("backslash name: %d %s", code, body)
	}

	// Refusals, with the reference's details; nothing is left behind.
	for _, c := range []struct {
		field, name string
		content     []byte
		code        int
		want        string
	}{
		{"file", "..", wav, 400, `{"detail":"Invalid filename"}`},
		{"file", "a/..", wav, 400, `{"detail":"Invalid filename"}`},
		{"file", "a/", wav, 400, `{"detail":"Invalid filename"}`},
		{"file", "", wav, 400, `{"detail":"Filename is required"}`},
		{"file", "evil.sh", wav, 400, `{"detail":"Unsupported file extension; allowed: .aac, .flac, .m4a, .mp3, .oga, .ogg, .opus, .wav"}`},
		{"file", "noext", wav, 400, `{"detail":"Unsupported file extension; allowed: .aac, .flac, .m4a, .mp3, .oga, .ogg, .opus, .wav"}`},
		{"file", "fake.wav", []byte("#!/bin/sh\n"), 400, `{"detail":"Unsupported or invalid audio file"}`},
		{"other", "x.wav", wav, 422, `{"detail":[{"type":"missing","loc":["body","file"],"msg":"Field required","input":null}]}`},
	} {
		code, body := tg.upload(c.field, c.name, c.content)
		if code != c.code || body != c.want {
			t.Errorf("upload %q: %d %s, want %d %s", c.name, code, body, c.code, c.want)
		}
	}
	tg.stagingEmpty()
	tg.expect("POST", "/api/media/sounds/upload", `{"file":"x"}`, 422,
		`{"detail":[{"type":"missing","loc":["body","file"],"msg":"Field required","input":null}]}`)

	// Deletes.
	tg.expect("DELETE", "/api/media/sounds/hello.wav", nil, 200, `{"status":"ok"}`)
	tg.expect("DELETE", "/api/media/sounds/hello.wav", nil, 404, `{"detail":"File 'hello.wav' not found"}`)
	tg.expect("DELETE", "/api/media/sounds/..%2Fsounds.staging", nil, 400, `{"detail":"Invalid filename"}`)
	tg.expect("DELETE", "/api/media/sounds/a%5Cb.wav", nil, 400, `{"detail":"Invalid filename"}`)
	tg.expect("DELETE", "/api/media/sounds/..", nil, 400, `{"detail":"Invalid filename"}`)
	tg.expect("GET", "/api/media/sounds", nil, 200, `{"files":["Song.MP3"]}`)
}

// failingBody fails the test if anything reads it.
type failingBody struct {
	t    *testing.T
	read bool
}

func (b *failingBody) Read([]byte) (int, error) {
	b.read = true
	return 0, io.ErrUnexpectedEOF
}
func (b *failingBody) Close() error { return nil }

// An upload whose Content-Length is over the cap is refused before a byte
// of it is read; one without Content-Length is cut off at the cap, and its
// staging file removed.
func TestSoundUploadCap(t *testing.T) {
	tg := startGW(t, gwOptions{media: true, autostart: true})
	body := &failingBody{t: t}
	req := httptest.NewRequest("POST", "/api/media/sounds/upload", nil)
	req.Host = "localhost"
	req.Body = body
	req.ContentLength = 30_000_000
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	rec := httptest.NewRecorder()
	tg.g.Handler().ServeHTTP(rec, req)
	if rec.Code != 413 || rec.Body.String() != `{"detail":"Request body too large; maximum is 26214400 bytes"}` {
		t.Errorf("declared 30 MB: %d %s", rec.Code, rec.Body)
	}
	if body.read {
		t.Error("the body of a request refused for its Content-Length was read")
	}

	// Streamed (chunked): cut at 25 MiB.
	big := append(append([]byte(nil), wav...), make([]byte, maxSoundUpload)...)
	ct, form := multipartBody(t, "file", "big.wav", big)
	req2, _ := http.NewRequest("POST", tg.base+"/api/media/sounds/upload", io.MultiReader(form)) // no length: chunked
	req2.Header.Set("Content-Type", ct)
	code, got := tg.send(req2)
	if code != 413 || got != `{"detail":"Request body too large; maximum is 26214400 bytes"}` {
		t.Errorf("streamed 25 MiB+: %d %s", code, got)
	}
	tg.stagingEmpty()
	tg.expect("GET", "/api/media/sounds", nil, 200, `{"files":[]}`)

	// Just under the cap is fine.
	ok := append(append([]byte(nil), wav...), make([]byte, maxSoundUpload-1024)...)
	ct, form = multipartBody(t, "file", "ok.wav", ok)
	req3, _ := http.NewRequest("POST", tg.base+"/api/media/sounds/upload", io.MultiReader(form))
	req3.Header.Set("Content-Type", ct)
	if code, got := tg.send(req3); code != 200 {
		t.Errorf("just under the cap: %d %s", code, got)
	}
	// Other routes keep the 1 MiB default.
	req4 := httptest.NewRequest("POST", "/api/media/play_sound", nil)
	req4.Host = "localhost"
	req4.Body = &failingBody{t: t}
	req4.ContentLength = 2 << 20
	rec = httptest.NewRecorder()
	tg.g.Handler().ServeHTTP(rec, req4)
	if rec.Code != 413 || rec.Body.String() != `{"detail":"Request body too large"}` {
		t.Errorf("play_sound with 2 MiB: %d %s", rec.Code, rec.Body)
	}
}

// The staging folder is refused when it is not this user's private folder.
func TestStagingFolderChecks(t *testing.T) {
	g := &Gateway{cfg: Config{SoundsStaging: filepath.Join(t.TempDir(), "st")}}
	if _, err := g.stagingDir(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(g.cfg.SoundsStaging, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := g.stagingDir(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(g.cfg.SoundsStaging); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode not restored: %v", fi.Mode())
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(g.cfg.SoundsStaging, link); err != nil {
		t.Fatal(err)
	}
	g.cfg.SoundsStaging = link
	if _, err := g.stagingDir(); err == nil {
		t.Error("a symbolic link was accepted as the staging folder")
	}
}

// soundName keeps the last element of a client's file name, and nothing
// that could leave the folder or hide in a listing.
func TestSoundName(t *testing.T) {
	for in, want := range map[string]string{
		"a.wav": "a.wav", "../../etc/a.wav": "a.wav", `C:\x\b.mp3`: "b.mp3", "..": "", ".": "", "a/..": "", "a/": "",
		"x\x01.wav": "", "x\n.wav": "", strings.Repeat("a", 252) + ".wav": "", "\xff.wav": "", "é.wav": "é.wav",
	} {
		if got := soundName(in); got != want {
			t.Errorf("soundName(%q) = %q, want %q", in, got, want)
		}
	}
}

// ---- without media ------------------------------------------------------------------

func TestMediaRoutesWithoutMedia(t *testing.T) {
	doc := loadRefSchemas(t)
	tg := startGW(t, gwOptions{autostart: true})
	// As the reference without a media server: sound commands accepted.
	for _, p := range []string{"/api/media/stop_sound", "/api/media/clear_incoming_audio", "/api/media/wobbling/enable", "/api/media/wobbling/disable"} {
		tg.expect("POST", p, nil, 200, `{"status":"ok"}`)
	}
	tg.expect("POST", "/api/media/play_sound", map[string]any{"file": "wake_up.wav"}, 200, `{"status":"ok"}`)
	tg.expect("POST", "/api/media/tracking/enable", nil, 200, `{"status":"unavailable","enabled":false}`)
	tg.expect("GET", "/api/state/doa", nil, 200, `null`)
	tg.conforms(doc, "GET", "/api/state/doa", "/api/state/doa", nil)
	tg.expect("POST", "/api/audio/config/apply", map[string]any{"config": []any{}}, 503, `{"detail":"ReSpeaker audio board not available"}`)
	tg.expect("GET", "/api/audio/config/parameter/X", nil, 503, `{"detail":"ReSpeaker audio board not available"}`)
	// What reachyd reaches only through the media actor: a clear 503.
	tg.expect("GET", "/api/volume/current", nil, 503, `{"detail":"Volume control unavailable: the daemon runs without media (no_media)"}`)
	tg.expect("POST", "/api/volume/set", map[string]any{"volume": 10}, 503, `{"detail":"Volume control unavailable: the daemon runs without media (no_media)"}`)
	tg.expect("POST", "/api/volume/set", map[string]any{"volume": 200}, 422,
		`{"detail":[{"type":"less_than_equal","loc":["body","volume"],"msg":"Input should be less than or equal to 100","input":200,"ctx":{"le":100}}]}`)
	tg.expect("GET", "/api/volume/microphone/current", nil, 503, `{"detail":"Volume control unavailable: the daemon runs without media (no_media)"}`)
	tg.expect("POST", "/api/volume/test-sound", nil, 503, `{"detail":"No audio output: the daemon runs without media (no_media)"}`)
	tg.expect("GET", "/api/camera/specs", nil, 503, `{"detail":"Camera specifications unavailable: the daemon runs without media (no_media)"}`)
	tg.expect("GET", "/api/media/sounds", nil, 200, `{"files":[]}`)
	tg.expect("DELETE", "/api/media/sounds/a.wav", nil, 404, `{"detail":"File 'a.wav' not found"}`)
	if code, body := tg.upload("file", "a.wav", wav); code != 503 || body != `{"detail":"Sound uploads are unavailable: the daemon runs without media (no_media)"}` {
		t.Errorf("upload without media: %d %s", code, body)
	}
	tg.stagingEmpty()
}

// The routes the reference gates on its backend answer 503 before it runs.
func TestMediaRoutesNeedTheBackend(t *testing.T) {
	tg := startGW(t, gwOptions{media: true})
	const down = `{"detail":"Backend not running"}`
	tg.expect("POST", "/api/media/play_sound", map[string]any{"file": "a.wav"}, 503, down)
	for _, p := range []string{"/api/media/stop_sound", "/api/media/clear_incoming_audio", "/api/media/wobbling/enable",
		"/api/media/tracking/enable", "/api/media/tracking/disable", "/api/volume/test-sound"} {
		tg.expect("POST", p, nil, 503, down)
	}
	tg.expect("GET", "/api/media/tracking/face", nil, 503, down)
	tg.expect("GET", "/api/state/doa", nil, 503, down)
	// Those that do not need it still answer.
	tg.expect("GET", "/api/volume/current", nil, 200, `{"volume":40,"platform":"Linux","device":"fake card"}`)
	tg.expect("GET", "/api/media/sounds", nil, 200, `{"files":[]}`)
}
