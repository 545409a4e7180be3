package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"testing"
	"time"

	"reachyd/internal/deathsig"
)

// gstwebrtcAPI is the desktop app's WebRTC library as npm installs it
// (.ci/run: npm ci in testdata/browser).
const gstwebrtcAPI = "testdata/browser/node_modules/gstwebrtc-api/dist/gstwebrtc-api-3.0.0.min.js"

// browserReport is what testdata/browser/media.html posts to /result.
type browserReport struct {
	Errors           []string          `json:"errors"`
	Producers        []json.RawMessage `json:"producers"`
	Streams          int               `json:"streams"`
	Tracks           []string          `json:"tracks"`
	Frames           int               `json:"frames"`
	DistinctSeqs     int               `json:"distinctSeqs"`
	LatenciesMs      []float64         `json:"latenciesMs"`
	LatencyAtMs      []float64         `json:"latencyAtMs"`  // when each latency was read, ms after the first frame
	FirstFrameMs     float64           `json:"firstFrameMs"` // from the consumer session's creation to its first picture
	AudioPeak        float64           `json:"audioPeak"`
	SDPAudioSendrecv bool              `json:"sdpAudioSendrecv"`
	MicSent          bool              `json:"micSent"`
	DataChannel      bool              `json:"dataChannel"`
	MotorReply       map[string]any    `json:"motorReply"`
	GotoReply        map[string]any    `json:"gotoReply"`
	StateReply       map[string]any    `json:"stateReply"`
	PoseFrames       int               `json:"poseFrames"`
	PoseRate         float64           `json:"poseRate"`
	PoseOrdered      *bool             `json:"poseOrdered"`
	PoseMaxRetrans   *float64          `json:"poseMaxRetransmits"`
}

// browserSession runs reachyd on the simulator and a headless Chromium
// with a page using gstwebrtc-api, both in a network namespace of their
// own where only loopback is up: reachyd serves WebRTC on the reference's
// port 8443 and offers loopback candidates by itself, as on a robot with
// no network. It returns the page's report and the daemon's media status
// before and after.
func browserSession(t testing.TB, seconds int) (rep browserReport, before, after mediaDetail) {
	t.Helper()
	requireMedia(t)
	chromium := findChromium(t)
	if _, err := os.Stat(gstwebrtcAPI); err != nil {
		if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
			t.Fatalf("gstwebrtc-api missing (npm ci --prefix cmd/reachyd/testdata/browser): %v", err)
		}
		t.Skipf("gstwebrtc-api not installed (npm ci --prefix cmd/reachyd/testdata/browser): %v", err)
	}
	ns := newNetns(t)

	// reachyd, re-executed from the test binary, inside the namespace.
	args := []string{"netns", "exec", ns, os.Args[0], "--backend", "sim", "--fastapi-host", "127.0.0.1", "--fastapi-port", "8000",
		"--data-dir", t.TempDir(), "--log-level", "INFO", "--no-goto-sleep-on-stop", "--no-wake-up-on-start", "--uds", "",
		"--topics-port", "0", "--no-skill-host", "--rtsp-port", "0", "--camera", "test", "--camera-size", "640x480", "--camera-fps", "30"}
	daemon := exec.Command("ip", args...)
	daemon.Env = append(os.Environ(), asDaemon+"=1")
	var dlog lockedBuffer
	daemon.Stdout, daemon.Stderr = &dlog, &dlog
	if err := deathsig.Start(daemon, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = daemon.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = daemon.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = daemon.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("reachyd said:\n%s", dlog.String())
		}
	})
	client := netnsClient(ns)
	status := func() (mediaStatusBody, error) {
		var s mediaStatusBody
		resp, err := client.Get("http://127.0.0.1:8000/api/media/status")
		if err != nil {
			return s, err
		}
		defer resp.Body.Close()
		return s, json.NewDecoder(resp.Body).Decode(&s)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := status()
		if err == nil && s.Available && len(s.Reachyd.Media.Pipelines) == 2 {
			before = s.Reachyd.Media
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reachyd's media never came up in the namespace: %v %+v", err, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if before.Signalling != "127.0.0.1:8443" {
		t.Fatalf("signalling on %q, want the reference's 127.0.0.1:8443", before.Signalling)
	}

	// The page, served from inside the namespace by this process.
	page, err := os.ReadFile("testdata/browser/media.html")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan []byte, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("/gstwebrtc-api.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, gstwebrtcAPI)
	})
	mux.HandleFunc("/result", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		select {
		case results <- b:
		default:
		}
	})
	ln := listenInNetns(t, ns)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	url := fmt.Sprintf("http://%s/?ws=%s&seconds=%d", ln.Addr(), "ws://127.0.0.1:8443", seconds)
	runChromiumIn(t, []string{"ip", "netns", "exec", ns}, chromium, url,
		"--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
		"--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
		"--disable-features=WebRtcHideLocalIpsWithMdns")
	select {
	case b := <-results:
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("report %s: %v", b, err)
		}
	case <-time.After(time.Duration(seconds+60) * time.Second):
		t.Fatal("the page never reported")
	}
	s, err := status()
	if err != nil {
		t.Fatal(err)
	}
	return rep, before, s.Reachyd.Media
}

// percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// TestMediaBrowser: the desktop app's library, gstwebrtc-api, in a real
// browser, against reachyd's producer on :8443.
func TestMediaBrowser(t *testing.T) {
	rep, before, after := browserSession(t, 5)
	js, _ := json.MarshalIndent(rep, "", " ")
	if len(js) > 4000 {
		js = append(js[:4000], "..."...)
	}
	if len(rep.Errors) > 0 {
		t.Errorf("page errors: %v", rep.Errors)
	}
	if rep.Streams != 1 || len(rep.Tracks) != 2 {
		t.Errorf("streams %d with tracks %v, want one stream with audio and video", rep.Streams, rep.Tracks)
	}
	// Video frames decode and change: about 150 (30 fps for 5 s) on a quiet machine; fewer under load (CI
	// runs the race-instrumented daemon beside other tests). The frame
	// rate and latency are the benchmarks' (BenchmarkMediaGlassToGlass).
	if rep.DistinctSeqs < 10 {
		t.Errorf("%d distinct frames decoded in 5 s (of %d presented), want about 150", rep.DistinctSeqs, rep.Frames)
	}
	lat := append([]float64(nil), rep.LatenciesMs...)
	sort.Float64s(lat)
	if len(lat) == 0 || percentile(lat, 0.5) > 2000 {
		t.Errorf("the stamp's capture times read back make no sense: median %v ms", percentile(lat, 0.5))
	}
	t.Logf("glass-to-glass over %d frames: p50 %.0f ms, p95 %.0f ms, max %.0f ms", len(lat), percentile(lat, 0.5), percentile(lat, 0.95), percentile(lat, 1))
	// The robot's microphone (the simulator's tone) is heard.
	if rep.AudioPeak < 0.05 {
		t.Errorf("robot microphone peak %.3f in the browser, want a tone", rep.AudioPeak)
	}
	// The browser's fake microphone reaches the simulated speaker.
	if !rep.SDPAudioSendrecv || !rep.MicSent {
		t.Errorf("offer audio sendrecv %v, browser microphone sent %v", rep.SDPAudioSendrecv, rep.MicSent)
	}
	if after.SpeakerLoud < before.SpeakerLoud+5 {
		t.Errorf("the speaker heard nothing from the browser: loud reports %d -> %d", before.SpeakerLoud, after.SpeakerLoud)
	}
	// The data channel.
	if !rep.DataChannel || rep.MotorReply["status"] != "ok" {
		t.Errorf("data channel %v, set_motor_mode reply %v", rep.DataChannel, rep.MotorReply)
	}
	if rep.GotoReply["status"] != "ok" || rep.GotoReply["completed"] != true {
		t.Errorf("goto_target reply %v", rep.GotoReply)
	}
	if st, ok := rep.StateReply["state"].(map[string]any); !ok || st["head_pose"] == nil {
		t.Errorf("get_state reply %v", rep.StateReply)
	}
	// The pose channel.
	if rep.PoseOrdered == nil || *rep.PoseOrdered || rep.PoseMaxRetrans == nil || *rep.PoseMaxRetrans != 0 {
		t.Errorf("pose channel ordered %v maxRetransmits %v", rep.PoseOrdered, rep.PoseMaxRetrans)
	}
	if rep.PoseRate < 5 || rep.PoseRate > 60 {
		t.Errorf("pose frames at %.1f Hz, want about 30", rep.PoseRate)
	}
	if t.Failed() {
		t.Logf("report: %s", js)
	}
}
