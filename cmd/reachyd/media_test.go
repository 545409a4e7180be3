package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"math"
	"mime/multipart"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"

	"reachyd/internal/deathsig"
	"reachyd/media/gst"
	"reachyd/media/webrtc/webrtctest"
	simcam "reachyd/sim/camera"
)

// requireMedia skips a test that needs GStreamer where it is missing, except
// in CI (REACHYD_REQUIRE_MEDIA=1), where a missing tool is a failure.
func requireMedia(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range append([]string{"gst-launch-1.0"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
				t.Fatalf("%s is required here (REACHYD_REQUIRE_MEDIA is set): %v", tool, err)
			}
			t.Skipf("no %s here: %v", tool, err)
		}
	}
}

// mediaArgs run the daemon with media: the simulator's test pattern at
// 640x480@30, the synthetic microphone and speaker, loopback-only WebRTC
// on a free port.
var mediaArgs = []string{"--gst-launch", "gst-launch-1.0", "--camera", "test", "--camera-size", "640x480", "--camera-fps", "30",
	"--webrtc-port", "0", "--webrtc-loopback"}

func startMediaDaemon(t testing.TB, extra ...string) *testDaemon {
	t.Helper()
	requireMedia(t)
	d := startDaemon(t, append(append([]string(nil), mediaArgs...), extra...)...)
	d.waitRunning()
	d.waitMedia(func(m mediaDetail) bool {
		return m.Signalling != "" && len(m.Pipelines) == 2 && m.Pipelines[0].Running && m.Pipelines[1].Running
	})
	return d
}

// mediaDetail is the "reachyd.media" block of /api/media/status.
type mediaDetail struct {
	Reason     string `json:"reason"`
	Signalling string `json:"signalling"`
	Pipelines  []struct {
		Name     string `json:"name"`
		Pid      int    `json:"pid"`
		Running  bool   `json:"running"`
		Restarts int    `json:"restarts"`
	} `json:"pipelines"`
	Sessions []struct {
		ID         string `json:"id"`
		State      string `json:"state"`
		SendsAudio bool   `json:"sends_audio"`
		Pose       bool   `json:"pose"`
		Messages   uint64 `json:"messages"`
	} `json:"sessions"`
	SpeakerRMS  float64 `json:"speaker_rms_db"`
	SpeakerLoud uint64  `json:"speaker_loud_reports"`
	Sound       string  `json:"sound"`
}

type mediaStatusBody struct {
	Available bool `json:"available"`
	Released  bool `json:"released"`
	NoMedia   bool `json:"no_media"`
	Reachyd   struct {
		Media mediaDetail `json:"media"`
	} `json:"reachyd"`
}

func (d *testDaemon) mediaStatus() mediaStatusBody {
	d.t.Helper()
	var s mediaStatusBody
	d.getJSON("/api/media/status", &s)
	return s
}

// waitMedia polls the media status until ok says yes (10 s at most).
func (d *testDaemon) waitMedia(ok func(mediaDetail) bool) mediaDetail {
	d.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := d.mediaStatus().Reachyd.Media
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("media status never reached the expected state: %+v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *testDaemon) signallingURL() string {
	return "ws://" + d.mediaStatus().Reachyd.Media.Signalling
}

// ---- a Go consumer, as gstwebrtc-api behaves (media/webrtc/webrtctest) ---------

// dialConsumer connects like the desktop app (welcome, listener status,
// list, startSession with the producer named reachymini, then answers the
// robot's offer; see webrtctest.Dial for the protocol checks) and fails the
// test on any error. mic, when set, is sent on the robot's sendrecv audio.
// The consumer is closed at the end of the test.
func dialConsumer(t testing.TB, url string, mic pion.TrackLocal) *webrtctest.Consumer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := webrtctest.Dial(ctx, url, webrtctest.Options{Name: "reachyd-go-test", Mic: mic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// command sends a command on the data channel and waits (10 s at most)
// for the first reply that match accepts.
func command(t testing.TB, c *webrtctest.Consumer, v any, match func(map[string]any) bool) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Command(ctx, v, match)
	if err != nil {
		t.Fatalf("command %v: %v", v, err)
	}
	return r
}

// ---- real GStreamer on the consumer's side ------------------------------------

// micSource runs a GStreamer pipeline that encodes a 440 Hz tone as Opus
// RTP into a Go socket, and writes each packet to the returned track: the
// consumer's microphone.
func micSource(t testing.TB) *pion.TrackLocalStaticRTP {
	t.Helper()
	track, err := pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "consumer")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	port := conn.LocalAddr().(*net.UDPAddr).Port
	runGst(t, nil, "audiotestsrc", "is-live=true", "wave=sine", "freq=440", "volume=0.5", "!",
		"audioconvert", "!", "audioresample", "!", "opusenc", "!", "rtpopuspay", "pt=111", "!",
		"udpsink", "host=127.0.0.1", "port="+strconv.Itoa(port))
	go func() {
		buf := make([]byte, 1500)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if p.Unmarshal(buf[:n]) == nil {
				_ = track.WriteRTP(&p)
			}
		}
	}()
	return track
}

// runGst starts gst-launch-1.0 with args; its stdout lines go to lines
// (when not nil). It is killed at the end of the test.
func runGst(t testing.TB, lines chan<- string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("gst-launch-1.0", append([]string{"-q"}, args...)...)
	if lines != nil {
		cmd.Args = append([]string{"gst-launch-1.0", "-m"}, args...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out *bufio.Scanner
	if lines != nil {
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		out = bufio.NewScanner(pipe)
		out.Buffer(make([]byte, 64<<10), 64<<10)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("gst-launch %s: %s", strings.Join(args[:2], " "), stderr.String())
		}
	})
	if out != nil {
		go func() {
			for out.Scan() {
				select {
				case lines <- out.Text():
				default:
				}
			}
		}()
	}
	return cmd
}

// decodeRTP feeds packets to a GStreamer decoder listening on a free port.
func forwardRTP(t testing.TB, in <-chan *rtp.Packet, port int, pt uint8, stop <-chan struct{}) {
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	for {
		select {
		case <-stop:
			return
		case p := <-in:
			p.PayloadType = pt
			b, err := p.Marshal()
			if err == nil {
				_, _ = conn.Write(b)
			}
		}
	}
}

// ---- tests ---------------------------------------------------------------------

// TestMediaGoConsumer connects a pion consumer the way the desktop app does
// and checks, with real GStreamer decoders on the consumer's side, what a
// consumer gets: the camera's moving pattern, the microphone's tone, its
// own microphone on the robot's speaker, and the data and pose channels.
func TestMediaGoConsumer(t *testing.T) {
	d := startMediaDaemon(t)
	mic := micSource(t)
	c := dialConsumer(t, d.signallingURL(), mic)

	for _, want := range []string{"a=msid:", "m=audio", "a=sendrecv", "m=application"} {
		if !strings.Contains(c.Offer(), want) {
			t.Errorf("offer lacks %q", want)
		}
	}

	// Video: decode the RTP with GStreamer into JPEG files, and read the
	// stamp of the simulator's pattern back from them.
	ports, err := gst.FreeUDPPorts(2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	runGst(t, nil, "udpsrc", "port="+strconv.Itoa(ports[0]),
		"caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=96", "!",
		"rtpjitterbuffer", "latency=100", "!", "rtpvp8depay", "!", "vp8dec", "!", "videoconvert", "!", "jpegenc", "!",
		"multifilesink", "location="+filepath.Join(dir, "f%05d.jpg"))
	levels := make(chan string, 1024)
	runGst(t, levels, "udpsrc", "port="+strconv.Itoa(ports[1]),
		"caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111", "!",
		"rtpjitterbuffer", "latency=100", "!", "rtpopusdepay", "!", "opusdec", "!", "audioconvert", "!",
		"level", "name=robotmic", "interval=100000000", "!", "fakesink", "sync=false")
	stop := make(chan struct{})
	var fw sync.WaitGroup
	fw.Add(2)
	go func() { defer fw.Done(); forwardRTP(t, c.Video, ports[0], 96, stop) }()
	go func() { defer fw.Done(); forwardRTP(t, c.Audio, ports[1], 111, stop) }()

	// The robot's microphone (a tone on the simulator) is heard.
	loud := false
	deadline := time.After(10 * time.Second)
	for !loud {
		select {
		case line := <-levels:
			if l, ok := gst.ParseLevel([]byte(line)); ok && l.Element == "robotmic" && l.RMS > -30 {
				loud = true
			}
		case <-deadline:
			t.Fatal("the robot's microphone tone never reached the consumer")
		}
	}

	// The consumer's microphone reaches the speaker.
	d.waitMedia(func(m mediaDetail) bool {
		return m.SpeakerLoud > 5 && len(m.Sessions) == 1 && m.Sessions[0].SendsAudio
	})

	// The data channel: motors on, a goto with its completion, the state.
	if r := command(t, c, map[string]any{"type": "set_motor_mode", "mode": "enabled"}, func(r map[string]any) bool { return r["motor_mode"] != nil }); r["status"] != "ok" {
		t.Fatalf("set_motor_mode reply %v", r)
	}
	head := []float64{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0.01, 0, 0, 0, 1}
	r := command(t, c, map[string]any{"type": "goto_target", "head": head, "antennas": []float64{0.4, -0.4}, "duration": 0.5}, webrtctest.ByCommand("goto_target"))
	if r["status"] != "ok" || r["completed"] != true {
		t.Fatalf("goto_target reply %v", r)
	}
	// The simulated motors follow their goals with a lag (longer on a
	// loaded machine): the state reaches the goto's end shortly after.
	var ant []any
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st := command(t, c, map[string]any{"type": "get_state"}, func(r map[string]any) bool { return r["state"] != nil })
		ant = st["state"].(map[string]any)["antennas"].([]any)
		if math.Abs(ant[0].(float64)-0.4) <= 0.05 || time.Now().After(end) {
			break
		}
	}
	if math.Abs(ant[0].(float64)-0.4) > 0.05 {
		t.Fatalf("antennas after the goto: %v, want [0.4, -0.4]", ant)
	}

	// The pose channel: lazily created, unordered, no retransmits, ~30 Hz.
	command(t, c, map[string]any{"type": "subscribe_pose"}, webrtctest.ByCommand("subscribe_pose"))
	time.Sleep(1500 * time.Millisecond)
	seqs, dc := c.PoseSeqs(), c.PoseChannel()
	n := len(seqs)
	if dc == nil {
		t.Fatal("no pose channel after subscribe_pose")
	}
	if dc.Ordered() || dc.MaxRetransmits() == nil || *dc.MaxRetransmits() != 0 {
		t.Errorf("pose channel ordered=%v maxRetransmits=%v, want unordered with 0", dc.Ordered(), dc.MaxRetransmits())
	}
	// About 45 at 30 Hz; a loaded machine delays the timer (the rate is
	// measured by the benchmarks, not here).
	if n < 8 || n > 90 {
		t.Errorf("%d pose frames in about 1.5 s, want about 45 (30 Hz)", n)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i := 1; i < len(seqs); i++ {
		if seqs[i] == seqs[i-1] {
			t.Fatalf("pose seq %d repeated", seqs[i])
		}
	}

	// Decoded frames: the pattern moves (several frame numbers). A loaded
	// machine may decode slowly: wait for enough frames.
	var files []string
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		files, _ = filepath.Glob(filepath.Join(dir, "*.jpg"))
		if len(files) >= 12 || time.Now().After(end) {
			break
		}
	}
	close(stop)
	fw.Wait()
	if len(files) < 12 {
		t.Fatalf("only %d decoded video frames", len(files))
	}
	seen := map[uint16]bool{}
	for _, f := range files[len(files)-10:] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			continue // the file being written when the pipeline was stopped
		}
		if img.Bounds().Dx() != 640 || img.Bounds().Dy() != 480 {
			t.Fatalf("decoded frame %v, want 640x480", img.Bounds())
		}
		seq, _ := simcam.ReadStamp(img)
		seen[seq] = true
	}
	if len(seen) < 5 {
		t.Fatalf("the last 10 decoded frames carry only %d frame numbers: %v", len(seen), seen)
	}

	// The session is listed, with its pose subscription.
	m := d.mediaStatus().Reachyd.Media
	if len(m.Sessions) != 1 || !m.Sessions[0].Pose || m.Sessions[0].Messages < 4 {
		t.Fatalf("sessions %+v", m.Sessions)
	}
	var ds struct {
		NoMedia bool `json:"no_media"`
		Reachyd struct {
			Media mediaDetail `json:"media"`
		} `json:"reachyd"`
	}
	d.getJSON("/api/daemon/status", &ds)
	if ds.NoMedia || len(ds.Reachyd.Media.Sessions) != 1 {
		t.Fatalf("daemon status no_media %v, media sessions %+v", ds.NoMedia, ds.Reachyd.Media.Sessions)
	}
}

// wav is a 16-bit mono 48 kHz WAV of a tone.
func wav(seconds float64) []byte {
	n := int(48000 * seconds)
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(48000), uint32(96000), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(2*n))
	for i := range n {
		_ = binary.Write(&b, binary.LittleEndian, int16(12000*math.Sin(2*math.Pi*600*float64(i)/48000)))
	}
	return b.Bytes()
}

func (d *testDaemon) upload(name string, content []byte) (int, []byte) {
	d.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(content)
	_ = mw.Close()
	return d.doHeaders("POST", "/api/media/sounds/upload", mw.FormDataContentType(), body.String(), nil)
}

// TestMediaSoundsVolumeRelease: sounds upload, list, play (the speaker
// hears it), delete, refusal of a non-audio file; the simulated mixer; and
// release/acquire twice, the signalling port closing and opening.
func TestMediaSoundsVolumeRelease(t *testing.T) {
	d := startMediaDaemon(t)

	if code, body := d.upload("tone.wav", wav(1.5)); code != 200 {
		t.Fatalf("upload: %d %s", code, body)
	}
	if code, body := d.upload("notes.wav", []byte("this is not audio\n")); code != 400 || !strings.Contains(string(body), "Unsupported or invalid audio file") {
		t.Fatalf("upload of text: %d %s", code, body)
	}
	var list struct {
		Files []string `json:"files"`
	}
	code, body := d.do("GET", "/api/media/sounds", nil)
	if code != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	if fmt.Sprint(list.Files) != "[tone.wav]" {
		t.Fatalf("sounds %s, want only tone.wav", body)
	}
	before := d.mediaStatus().Reachyd.Media.SpeakerLoud
	if code, body := d.do("POST", "/api/media/play_sound", map[string]string{"file": "tone.wav"}); code != 200 {
		t.Fatalf("play_sound: %d %s", code, body)
	}
	d.waitMedia(func(m mediaDetail) bool { return m.SpeakerLoud > before+5 })
	if code, _ := d.do("POST", "/api/media/stop_sound", nil); code != 200 {
		t.Fatalf("stop_sound: %d", code)
	}
	d.waitMedia(func(m mediaDetail) bool { return m.Sound == "" })
	if code, body := d.do("DELETE", "/api/media/sounds/tone.wav", nil); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := d.do("DELETE", "/api/media/sounds/tone.wav", nil); code != 404 {
		t.Fatalf("second delete: %d, want 404", code)
	}

	// Volume round trip on the simulated mixer.
	if code, body := d.do("POST", "/api/volume/set", map[string]int{"volume": 23}); code != 200 || !strings.Contains(string(body), `"volume":23`) {
		t.Fatalf("volume set: %d %s", code, body)
	}
	if _, body := d.do("GET", "/api/volume/current", nil); !strings.Contains(string(body), `"volume":23`) {
		t.Fatalf("volume now %s", body)
	}
	if code, body := d.do("POST", "/api/volume/microphone/set", map[string]int{"volume": 71}); code != 200 || !strings.Contains(string(body), `"volume":71`) {
		t.Fatalf("microphone volume set: %d %s", code, body)
	}

	// Release and acquire, twice: the pipelines and the signalling server
	// stop and come back, and a consumer connects again.
	for range 2 {
		addr := d.mediaStatus().Reachyd.Media.Signalling
		if code, _ := d.do("POST", "/api/media/release", nil); code != 200 {
			t.Fatal("release")
		}
		s := d.mediaStatus()
		if s.Available || !s.Released || len(s.Reachyd.Media.Pipelines) != 0 {
			t.Fatalf("after release: %+v", s)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatalf("the signalling server still answers on %s after release", addr)
		}
		if code, _ := d.do("POST", "/api/media/release", nil); code != 200 {
			t.Fatal("second release")
		}
		if code, _ := d.do("POST", "/api/media/acquire", nil); code != 200 {
			t.Fatal("acquire")
		}
		if code, _ := d.do("POST", "/api/media/acquire", nil); code != 200 {
			t.Fatal("second acquire")
		}
		d.waitMedia(func(m mediaDetail) bool { return m.Signalling != "" && len(m.Pipelines) == 2 })
		if s := d.mediaStatus(); !s.Available || s.Released {
			t.Fatalf("after acquire: %+v", s)
		}
	}
	c := dialConsumer(t, d.signallingURL(), nil)
	select {
	case <-c.Video:
	case <-time.After(10 * time.Second):
		t.Fatal("no video after release and acquire")
	}
}

// TestMediaPipelineCrash kills the pipelines: they are restarted, a
// consumer gets media again, and the control loop never stopped.
func TestMediaPipelineCrash(t *testing.T) {
	d := startMediaDaemon(t)
	// A session open across the crash: the restarted pipelines' RTP
	// reaches it too (the producer keeps the tracks' sequence going, or
	// the consumer's SRTP replay protection drops it).
	early := dialConsumer(t, d.signallingURL(), nil)
	for _, ch := range []<-chan *rtp.Packet{early.Video, early.Audio} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("no media before the crash")
		}
	}
	before := d.mediaStatus().Reachyd.Media
	for _, p := range before.Pipelines {
		if err := syscall.Kill(p.Pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %s: %v", p.Name, err)
		}
	}
	after := d.waitMedia(func(m mediaDetail) bool {
		if len(m.Pipelines) != 2 {
			return false
		}
		for i, p := range m.Pipelines {
			if !p.Running || p.Restarts < 1 || p.Pid == before.Pipelines[i].Pid {
				return false
			}
		}
		return true
	})
	t.Logf("restarted: %+v", after.Pipelines)
	for name, ch := range map[string]<-chan *rtp.Packet{"video": early.Video, "audio": early.Audio} {
		// What was queued before the restart goes first.
		for n := len(ch); n > 0; n-- {
			<-ch
		}
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("the session open across the crash got no %s from the restarted pipeline", name)
		}
	}
	c := dialConsumer(t, d.signallingURL(), nil)
	for _, ch := range []<-chan *rtp.Packet{c.Video, c.Audio} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("no media from the restarted pipelines")
		}
	}
	var st map[string]any
	d.getJSON("/api/daemon/status", &st)
	if st["state"] != "running" {
		t.Fatalf("daemon state %v after the pipelines crashed", st["state"])
	}
}

// TestMediaCuesAndWobbling: the wake-up sequence plays its cue on the
// speaker, and with wobbling on the head follows what the speaker plays.
func TestMediaCuesAndWobbling(t *testing.T) {
	d := startMediaDaemon(t)
	before := d.mediaStatus().Reachyd.Media.SpeakerLoud
	if code, body := d.do("POST", "/api/move/play/wake_up", nil); code != 200 {
		t.Fatalf("wake_up: %d %s", code, body)
	}
	d.waitMedia(func(m mediaDetail) bool { return m.SpeakerLoud > before+3 })
	// Let the wake-up end and its cue fade.
	for end := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, body := d.do("GET", "/api/move/running", nil)
		if m := d.mediaStatus().Reachyd.Media; string(body) == "[]" && m.Sound == "" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the wake-up never ended: %s", body)
		}
	}
	pose := func() (z, pitch float64) {
		var p struct{ Z, Pitch float64 }
		d.getJSON("/api/state/present_head_pose", &p)
		return p.Z, p.Pitch
	}
	z0, p0 := pose()
	if code, _ := d.do("POST", "/api/media/wobbling/enable", nil); code != 200 {
		t.Fatal("wobbling/enable")
	}
	if code, body := d.upload("voice.wav", wav(3)); code != 200 {
		t.Fatalf("upload: %d %s", code, body)
	}
	if code, _ := d.do("POST", "/api/media/play_sound", map[string]string{"file": "voice.wav"}); code != 200 {
		t.Fatal("play_sound")
	}
	moved := 0.0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		z, p := pose()
		moved = math.Max(moved, math.Max(math.Abs(z-z0)*10, math.Abs(p-p0)))
	}
	// Full voice: up to 4 mm and 0.07 rad; the tone is loud.
	if moved < 0.01 {
		t.Fatalf("the head did not follow the sound: largest change %.4f (z*10 m or pitch rad)", moved)
	}
	if code, _ := d.do("POST", "/api/media/wobbling/disable", nil); code != 200 {
		t.Fatal("wobbling/disable")
	}
}

// vp8Keyframe tells whether pkt starts a VP8 keyframe (RFC 7741: the
// first packet of a frame, S=1 and partition 0, whose payload header has
// the P bit clear).
func vp8Keyframe(pkt *rtp.Packet) bool {
	var vp8 codecs.VP8Packet
	payload, err := vp8.Unmarshal(pkt.Payload)
	return err == nil && vp8.S == 1 && vp8.PID == 0 && len(payload) > 0 && payload[0]&0x01 == 0
}

// TestMediaKeyframeOnRequest: gst-launch-1.0 cannot be asked for a
// keyframe, so a consumer's PLI renews the video pipeline, whose new
// encoder starts with one. The encoder's own keyframes are 1000 frames
// (33 s) apart here: a keyframe soon after the PLI is the renewal's.
func TestMediaKeyframeOnRequest(t *testing.T) {
	d := startMediaDaemon(t, "--video-encoder", "vp8", "--video-keyframe-interval", "1000")
	before := d.mediaStatus().Reachyd.Media.Pipelines
	c := dialConsumer(t, d.signallingURL(), nil)
	var ssrc uint32
	select {
	case pkt := <-c.Video:
		ssrc = pkt.SSRC
	case <-time.After(10 * time.Second):
		t.Fatal("no video")
	}
	// Whatever keyframe the session's start brought has gone by; ask.
	for n := len(c.Video); n > 0; n-- {
		<-c.Video
	}
	if err := c.PeerConnection().WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	last := time.Now()
	for got := false; !got; {
		select {
		case pkt := <-c.Video:
			now := time.Now()
			if got = vp8Keyframe(pkt); got {
				t.Logf("the renewal's keyframe came %v after the packet before it", now.Sub(last).Round(time.Millisecond))
			}
			last = now
		case <-deadline:
			t.Fatalf("no keyframe within 10 s of the PLI; pipelines before %+v, now %+v", before, d.mediaStatus().Reachyd.Media.Pipelines)
		}
	}
	// A renewal, not a restart: the status counts no restart.
	after := d.mediaStatus().Reachyd.Media.Pipelines
	for i, p := range after {
		if p.Restarts != before[i].Restarts || !p.Running {
			t.Errorf("pipeline %s after the renewal: %+v (before %+v)", p.Name, p, before[i])
		}
	}
}
