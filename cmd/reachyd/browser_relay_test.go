package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"reachyd/actors/relay/centraltest"
)

// centralReport is what testdata/browser/central.html posts to /result.
type centralReport struct {
	Errors                 []string       `json:"errors"`
	Welcome                bool           `json:"welcome"`
	FoundInList            bool           `json:"foundInList"`
	FoundInStatus          bool           `json:"foundInStatus"`
	SessionID              string         `json:"sessionId"`
	SessionStartedOnStream bool           `json:"sessionStartedOnStream"`
	OfferHasMsid           bool           `json:"offerHasMsid"`
	SDPAudioSendrecv       bool           `json:"sdpAudioSendrecv"`
	CandidatesSent         int            `json:"candidatesSent"`
	CandidatesReceived     int            `json:"candidatesReceived"`
	CandidatesHeld         int            `json:"candidatesHeld"`
	ICEConnected           bool           `json:"iceConnected"`
	DataChannel            bool           `json:"dataChannel"`
	DataOrdered            *bool          `json:"dataOrdered"`
	Streams                int            `json:"streams"`
	Tracks                 []string       `json:"tracks"`
	Frames                 int            `json:"frames"`
	DistinctSeqs           int            `json:"distinctSeqs"`
	StateReply             map[string]any `json:"stateReply"`
	MotorReply             map[string]any `json:"motorReply"`
	GotoReply              map[string]any `json:"gotoReply"`
	StateAfterGoto         map[string]any `json:"stateAfterGoto"`
	EndEchoed              bool           `json:"endEchoed"`
	EndReasons             []string       `json:"endReasons"`
	Gathered               []any          `json:"gathered"`
	EarlyMessages          int            `json:"earlyMessages"`
	Pings                  int            `json:"pings"`
}

// TestRelayBrowser: a browser as a remote client through central. In a
// network namespace with only loopback up: the fake central server
// (centraltest, writing its stream and answering CORS preflights as the
// real server does: SpaceLike), reachyd on the simulator with media signed in to it
// (HF_TOKEN, --central-url), and a headless Chromium opening
// testdata/browser/central.html from a third origin. The page speaks
// central's protocol as the TypeScript SDK does (spec 6.5b), answers the
// robot's offer, and on the robot's `data` channel asks get_state and
// moves the head with goto_target; the daemon's own state must follow.
func TestRelayBrowser(t *testing.T) {
	requireMedia(t)
	if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
		requireMedia(t, "chromium") // CI installs it (.ci/run): missing is a failure there
	}
	chromium := findChromium(t)
	ns := newNetns(t)

	centralLn := listenInNetns(t, ns)
	central := centraltest.NewOn(centralLn, "hf_robot", "hf_browser")
	t.Cleanup(central.Close)
	// The stream as the real server writes it, with its ping event after
	// 1 s without a message instead of 30 s, so that both sides see some.
	central.SpaceLike.Store(true)
	central.PingIdle.Store(int64(time.Second))
	centralURL := "http://" + centralLn.Addr().String()

	const api = "127.0.0.1:8000"
	t.Setenv("HF_TOKEN", "hf_robot")
	dlog := startNetnsDaemon(t, ns, api, "--fastapi-host", "127.0.0.1", "--fastapi-port", "8000", "--no-media=false",
		"--camera", "test", "--camera-size", "640x480", "--camera-fps", "30", "--no-mdns", "--no-turn",
		"--central-url", centralURL, "--robot-name", "browser_bot")
	client := netnsClient(ns)
	getJSON := func(path string, v any) error {
		resp, err := client.Get("http://" + api + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}
	if !central.WaitFor(30*time.Second, func() bool {
		for _, meta := range central.Robots() {
			var m struct{ Name string }
			if json.Unmarshal(meta, &m) == nil && m.Name == "browser_bot" {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("reachyd never registered at the fake central: %v", central.Robots())
	}
	var pose struct{ Z float64 }
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := getJSON("/api/state/present_head_pose", &pose) // 503 until the backend runs
		if err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatal(err)
		}
	}
	target := 0.01 // m; away from where the head is
	if math.Abs(pose.Z-target) < 0.005 {
		target = -0.005
	}

	page, err := os.ReadFile("testdata/browser/central.html")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan []byte, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("/result", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		select {
		case results <- b:
		default:
		}
	})
	pageLn := listenInNetns(t, ns)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(pageLn) }()
	t.Cleanup(func() { _ = srv.Close() })

	const seconds = 4
	q := url.Values{"central": {centralURL}, "token": {"hf_browser"}, "robot": {"browser_bot"},
		"z": {fmt.Sprint(target)}, "seconds": {fmt.Sprint(seconds)}}
	runChromiumIn(t, []string{"ip", "netns", "exec", ns}, chromium, "http://"+pageLn.Addr().String()+"/?"+q.Encode(),
		"--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
		"--disable-features=WebRtcHideLocalIpsWithMdns")

	// While the page watches the video, the remote session holds the lock.
	lockSeen := ""
	var rep centralReport
	deadline := time.After(time.Duration(seconds+90) * time.Second)
wait:
	for {
		select {
		case b := <-results:
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatalf("report %s: %v", b, err)
			}
			break wait
		case <-deadline:
			t.Fatal("the page never reported")
		case <-time.After(100 * time.Millisecond):
			if lockSeen != "remote_session" && central.Sessions() == 1 {
				var st struct{ State string }
				if getJSON("/api/daemon/robot-app-lock-status", &st) == nil {
					lockSeen = st.State
				}
			}
		}
	}
	js, _ := json.MarshalIndent(rep, "", " ")
	defer func() {
		if t.Failed() {
			t.Logf("report: %.6000s", js)
		}
	}()

	if len(rep.Errors) > 0 {
		t.Errorf("page errors: %v", rep.Errors)
	}
	// Central's side of the SDK: found by name in list and robot-status,
	// the session id in startSession's answer, trickle both ways.
	if !rep.Welcome || !rep.FoundInList || !rep.FoundInStatus || rep.SessionID == "" {
		t.Errorf("central: welcome %v, in list %v, in robot-status %v, session %q",
			rep.Welcome, rep.FoundInList, rep.FoundInStatus, rep.SessionID)
	}
	// The robot's candidates reach the page. Chromium gathers none of its
	// own with only loopback up (ICE connects on the robot's loopback
	// candidate, the page's address learnt as peer-reflexive): whatever it
	// gathers is sent.
	gathered := 0
	for _, c := range rep.Gathered {
		if c != nil {
			gathered++
		}
	}
	if rep.CandidatesReceived == 0 || rep.CandidatesSent != gathered {
		t.Errorf("candidates: %d received; %d sent of %d gathered", rep.CandidatesReceived, rep.CandidatesSent, gathered)
	}
	// Every fetch of the page sends Authorization to another origin: the
	// browser asked first, and the fake's CORS answers let it through.
	if central.Preflights() == 0 {
		t.Error("no CORS preflight: the page did not reach central cross-origin")
	}
	// The SDK's readiness and what it reads in the offer.
	if !rep.ICEConnected || !rep.DataChannel || rep.DataOrdered == nil || !*rep.DataOrdered {
		t.Errorf("ICE connected %v, data channel %v (ordered %v)", rep.ICEConnected, rep.DataChannel, rep.DataOrdered)
	}
	if !rep.OfferHasMsid || !rep.SDPAudioSendrecv || rep.Streams != 1 || len(rep.Tracks) != 2 {
		t.Errorf("offer msid %v audio sendrecv %v; %d streams with tracks %v, want one with audio and video",
			rep.OfferHasMsid, rep.SDPAudioSendrecv, rep.Streams, rep.Tracks)
	}
	// Video decodes and changes: about 30 distinct frames a second on a
	// quiet machine, fewer under load.
	if rep.DistinctSeqs < 10 {
		t.Errorf("%d distinct frames decoded in %d s (of %d presented)", rep.DistinctSeqs, seconds, rep.Frames)
	}
	// Commands on `data`.
	if st, ok := rep.StateReply["state"].(map[string]any); !ok || st["head_pose"] == nil {
		t.Errorf("get_state reply %v", rep.StateReply)
	}
	if rep.GotoReply["status"] != "ok" || rep.GotoReply["completed"] != true {
		t.Errorf("goto_target reply %v (set_motor_mode %v)", rep.GotoReply, rep.MotorReply)
	}
	if z, ok := headZ(rep.StateAfterGoto); !ok || math.Abs(z-target) > 0.002 {
		t.Errorf("get_state after the goto: head z %v (ok %v), want %.3f", z, ok, target)
	}
	if err := getJSON("/api/state/present_head_pose", &pose); err != nil || math.Abs(pose.Z-target) > 0.002 {
		t.Errorf("the daemon's head z %.4f after the remote goto (%v), want %.3f", pose.Z, err, target)
	}
	if lockSeen != "remote_session" {
		t.Errorf("lock %q during the remote session", lockSeen)
	}
	// The page ended the session: central echoed it, the robot let go.
	if !rep.EndEchoed {
		t.Error("central did not echo the page's endSession")
	}
	if !central.WaitFor(10*time.Second, func() bool { return central.Sessions() == 0 }) {
		t.Errorf("%d sessions left at central", central.Sessions())
	}
	for end := time.Now().Add(25 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var st struct{ State string }
		if getJSON("/api/daemon/robot-app-lock-status", &st) == nil && st.State == "free" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the lock was not released after the session: %q", st.State)
		}
	}
	// The ping events are keep-alives, not messages to warn about.
	if rep.Pings == 0 {
		t.Error("the page saw no ping event: the fake's SpaceLike stream is not exercised")
	}
	if strings.Contains(dlog.String(), "message from central skipped") {
		t.Error("the relay warned about a line of central's stream (the ping event?)")
	}
	t.Logf("%d distinct frames, %d robot messages before the session id, %d robot candidates held for the offer, %d ping events",
		rep.DistinctSeqs, rep.EarlyMessages, rep.CandidatesHeld, rep.Pings)
	if n := central.TokenInURL(); n != 0 {
		t.Errorf("a token appeared in %d URLs", n)
	}
}

// headZ is the z translation of a get_state reply's head_pose (a 4x4
// matrix, row-major nested arrays, as the SDK reads it).
func headZ(reply map[string]any) (float64, bool) {
	st, _ := reply["state"].(map[string]any)
	rows, _ := st["head_pose"].([]any)
	if len(rows) != 4 {
		return 0, false
	}
	row, _ := rows[2].([]any)
	if len(row) != 4 {
		return 0, false
	}
	z, ok := row[3].(float64)
	return z, ok
}
