package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/apps/store"
	"reachyd/actors/daemon"
	"reachyd/actors/datasets"
	"reachyd/actors/kit"
	"reachyd/actors/motorbus"
	"reachyd/actors/moves/motion"
	"reachyd/actors/system"
	"reachyd/messages"
	"reachyd/sim"
)

// fakeMedia is a media actor for the gateway's tests: it answers the
// messages of messages/media.go from a little state, keeps uploaded sounds
// in a real folder, and records what it was sent.
type fakeMedia struct {
	dir string // the sounds folder

	mu       sync.Mutex
	got      []any
	volume   int
	mic      int
	busy     bool // the test sound finds the device busy
	noBoard  bool // no ReSpeaker board
	noMixer  bool // volume control unavailable
	failSet  bool // setting the volume fails
	doa      messages.DoA
	received chan any
}

func newFakeMedia(dir string) *fakeMedia {
	return &fakeMedia{dir: dir, volume: 40, mic: 60, received: make(chan any, 1024),
		doa: messages.DoA{Valid: true, Angle: 1.5, SpeechDetected: true}}
}

func (f *fakeMedia) set(fn func(f *fakeMedia)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// wait returns the next message of type T the actor received (skipping
// others), or fails after a few seconds.
func wait[T any](t *testing.T, f *fakeMedia) T {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-f.received:
			if v, ok := m.(T); ok {
				return v
			}
		case <-deadline:
			var zero T
			t.Fatalf("the media actor never received a %T", zero)
			return zero
		}
	}
}

var testSpecs = messages.CameraSpecs{
	Name: "lite",
	Resolutions: []messages.CameraResolution{
		{Name: "R1280x720at30fps", Width: 1280, Height: 720, FPS: 30, CropFactor: 1},
		{Name: "R1920x1080at60fps", Width: 1920, Height: 1080, FPS: 60, CropFactor: 1.25},
	},
	Default: messages.CameraResolution{Name: "R1280x720at30fps", Width: 1280, Height: 720, FPS: 30, CropFactor: 1},
	K:       [3][3]float64{{821.5, 0, 640}, {0, 821.5, 360}, {0, 0, 1}},
	D:       []float64{-0.01, 0.002, 0, 0, 0},
}

func (f *fakeMedia) Receive(ctx actor.Context) {
	m := ctx.Message()
	if _, sys := m.(actor.SystemMessage); sys {
		return
	}
	switch m.(type) {
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		return
	}
	f.mu.Lock()
	f.got = append(f.got, m)
	f.mu.Unlock()
	select {
	case f.received <- m:
	default:
	}
	kit.Reply(ctx, f.answer(m))
}

func (f *fakeMedia) answer(m any) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch m := m.(type) {
	case *messages.PlaySound, *messages.StopSound, *messages.ClearIncomingAudio, *messages.SetWobbling:
		return messages.MediaOK{}
	case *messages.GetVolume:
		if f.noMixer {
			return &messages.Error{Kind: messages.KindUnavailable, Detail: "no mixer found"}
		}
		v := f.volume
		if m.Microphone {
			v = f.mic
		}
		return messages.Volume{Volume: v, Platform: "Linux", Device: "fake card"}
	case *messages.SetVolume:
		if f.noMixer {
			return &messages.Error{Kind: messages.KindUnavailable, Detail: "no mixer found"}
		}
		if f.failSet {
			return &messages.Error{Kind: messages.KindInternal, Detail: "Failed to set volume"}
		}
		if m.Microphone {
			f.mic = m.Volume
		} else {
			f.volume = m.Volume
		}
		return messages.Volume{Volume: m.Volume, Platform: "Linux", Device: "fake card"}
	case *messages.PlayTestSound:
		return messages.TestSound{Busy: f.busy}
	case *messages.ListSounds:
		ents, _ := os.ReadDir(f.dir)
		var names []string
		for _, e := range ents {
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		return messages.Sounds{Names: names}
	case *messages.SaveSound:
		// The probe: a WAV starts with RIFF.
		b, err := os.ReadFile(m.Temp)
		if err != nil || !bytes.HasPrefix(b, []byte("RIFF")) {
			_ = os.Remove(m.Temp)
			return &messages.Error{Kind: messages.KindBadRequest, Detail: "Unsupported or invalid audio file"}
		}
		if err := os.Rename(m.Temp, filepath.Join(f.dir, m.Name)); err != nil {
			return &messages.Error{Kind: messages.KindInternal, Detail: err.Error()}
		}
		return messages.MediaOK{}
	case *messages.DeleteSound:
		if err := os.Remove(filepath.Join(f.dir, m.Name)); err != nil {
			return &messages.Error{Kind: messages.KindNotFound, Detail: "File '" + m.Name + "' not found"}
		}
		return messages.MediaOK{}
	case *messages.GetCameraSpecs:
		return testSpecs
	case *messages.GetDoA:
		return f.doa
	case *messages.ApplyAudioConfig:
		if f.noBoard {
			return &messages.Error{Kind: messages.KindUnavailable, Detail: "ReSpeaker audio board not available"}
		}
		return messages.AudioConfigApplied{Applied: len(m.Params) > 0}
	case *messages.ReadAudioParameter:
		switch {
		case f.noBoard:
			return &messages.Error{Kind: messages.KindUnavailable, Detail: "ReSpeaker audio board not available"}
		case m.Name == "AEC_AZIMUTH_VALUES":
			return messages.AudioParam{Name: m.Name, Values: []float64{0.5, 1, -2.25}}
		case m.Name == "BROKEN":
			return errors.New("usb transfer timed out")
		}
		return &messages.Error{Kind: messages.KindNotFound, Detail: "Parameter '" + m.Name + "' could not be read"}
	}
	return &messages.Error{Kind: messages.KindInternal, Detail: "fake media: unexpected message"}
}

// testGW is a gateway over a running actor tree on the simulated robot.
type testGW struct {
	t     *testing.T
	g     *Gateway
	sys   *system.System
	media *fakeMedia // nil without media
	srv   *httptest.Server
	base  string
	dir   string // sounds folder
}

type gwOptions struct {
	media     bool
	autostart bool
	broadcast func([]byte)
	datasets  string
	// hub downloads datasets (into hub.Cache, searched after datasets).
	hub      *datasets.Hub
	wireless bool
	update   *system.UpdateConfig
	surface  SurfaceConfig
}

// startGW starts the actor tree (mockup simulator, 50 Hz), the fake media
// actor when asked, and the gateway behind an httptest server.
func startGW(t *testing.T, o gwOptions) *testGW {
	t.Helper()
	t.Setenv("HF_TOKEN_PATH", filepath.Join(t.TempDir(), "hf-token"))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	r := sim.New(sim.Options{Mockup: true})
	data := t.TempDir()
	cfg := system.Config{
		Daemon: daemon.Config{RobotName: "reachy_mini", Version: "test", BackendKind: "mockup", ControlHz: 50,
			NoMedia: !o.media, Mockup: true, DataDir: data, WirelessVersion: o.wireless},
		Period:    20 * time.Millisecond,
		Open:      r.Open,
		Motorbus:  motorbus.Config{WriteAlways: true, AllowGravity: true, Controller: "sim"},
		Log:       log,
		Autostart: o.autostart,
		UploadDir: filepath.Join(data, "uploads"),
		Update:    o.update,
		Apps: &system.AppsConfig{Store: &store.Store{Root: filepath.Join(data, "apps")},
			RecordPath: filepath.Join(data, "running-app.json"),
			// No catalogue: a fuzzed apps.install must not reach the Hub.
			HF: store.HF{Endpoint: "http://127.0.0.1:1"}},
	}
	if o.datasets != "" {
		cfg.Library = motion.Library{Dirs: []string{o.datasets}}
	}
	if o.hub != nil {
		cfg.Library.Dirs = append(cfg.Library.Dirs, o.hub.Cache)
		cfg.Datasets = &system.DatasetsConfig{Hub: o.hub}
	}
	sys, err := system.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sys.Shutdown(ctx, false)
	})
	tg := &testGW{t: t, sys: sys, dir: filepath.Join(t.TempDir(), "sounds")}
	if err := os.MkdirAll(tg.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if o.media {
		tg.media = newFakeMedia(tg.dir)
		pid, err := sys.Kit.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return tg.media }), "fake-media")
		if err != nil {
			t.Fatal(err)
		}
		sys.Media = pid
	}
	tg.g = New(sys, Config{RobotName: "reachy_mini", Version: "test", Log: log, AskTimeout: 2 * time.Second,
		SoundsDir: tg.dir, Broadcast: o.broadcast, Surface: o.surface})
	tg.srv = httptest.NewServer(tg.g.Handler())
	t.Cleanup(tg.srv.Close)
	tg.base = tg.srv.URL
	if o.autostart {
		tg.waitRunning()
	}
	return tg
}

func (tg *testGW) waitRunning() {
	tg.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := tg.do("GET", "/api/state/full", nil); code == 200 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tg.t.Fatal("the backend did not start")
}

// do sends a request; body is a string (sent as JSON), or nil.
func (tg *testGW) do(method, path string, body any) (int, string) {
	tg.t.Helper()
	var rd io.Reader
	if body != nil {
		s, ok := body.(string)
		if !ok {
			b, _ := json.Marshal(body)
			s = string(b)
		}
		rd = strings.NewReader(s)
	}
	req, err := http.NewRequest(method, tg.base+path, rd)
	if err != nil {
		tg.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return tg.send(req)
}

func (tg *testGW) send(req *http.Request) (int, string) {
	tg.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tg.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// expect checks a status and an exact body.
func (tg *testGW) expect(method, path string, body any, code int, want string) {
	tg.t.Helper()
	gotCode, got := tg.do(method, path, body)
	if gotCode != code || got != want {
		tg.t.Errorf("%s %s: %d %s\n want %d %s", method, path, gotCode, got, code, want)
	}
}
