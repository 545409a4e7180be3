package gst

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// encodeWith makes a test file with gst-launch-1.0: elems, then a
// filesink, unless elems place it with "SINK".
func encodeWith(t *testing.T, info Info, path string, elems ...string) {
	t.Helper()
	if !info.Has("audiotestsrc", "audioconvert") {
		t.Skip("audiotestsrc not installed")
	}
	argv := []string{info.Launch, "-q"}
	sink := false
	for _, e := range elems {
		if e == "SINK" { // the file goes here, not at the end
			argv, sink = append(argv, "filesink", "location="+path), true
		} else {
			argv = append(argv, e)
		}
	}
	if !sink {
		argv = append(argv, "!", "filesink", "location="+path)
	}
	p := startProc(t, Spec{Name: "encode", Argv: Fixed(argv), Restart: RestartNever})
	<-p.Done()
	if p.Err() != nil {
		t.Fatalf("making %s: %v", filepath.Base(path), p.Err())
	}
}

func TestProbe(t *testing.T) {
	info := needGst(t)
	if !info.Sounds() {
		t.Skip("decodebin not installed")
	}
	dir := t.TempDir()
	// A name that would break a pipeline description if it were written
	// into one: files go to GStreamer as stdin.
	wav := filepath.Join(dir, `tone "1" ! x=y.wav`)
	writeWAV(t, wav, 44100, 2, 440, 500*time.Millisecond, 0.3)
	good := []string{wav}
	if info.Has("opusenc") && gstHas(info, "oggmux") {
		ogg := filepath.Join(dir, "tone.ogg")
		encodeWith(t, info, ogg, "audiotestsrc", "num-buffers=50", "!", "audioconvert", "!", "opusenc", "!", "oggmux")
		good = append(good, ogg)
	}
	if gstHas(info, "avenc_aac") && gstHas(info, "mp4mux") {
		// moov at the end: decodebin must seek, which stdin allows when it
		// is the file itself
		m4a := filepath.Join(dir, "tone.m4a")
		encodeWith(t, info, m4a, "audiotestsrc", "num-buffers=50", "!", "audioconvert", "!", "avenc_aac", "!", "mp4mux")
		good = append(good, m4a)
	}
	if gstHas(info, "videotestsrc") && info.Has("x264enc") && gstHas(info, "avenc_aac") && gstHas(info, "mp4mux") {
		// audio and video: the audio counts, the video is ignored
		av := filepath.Join(dir, "clip.m4a")
		encodeWith(t, info, av, "videotestsrc", "num-buffers=10", "!", "x264enc", "!", "mp4mux", "name=m", "!", "SINK",
			"audiotestsrc", "num-buffers=50", "!", "audioconvert", "!", "avenc_aac", "!", "m.")
		good = append(good, av)
	}
	for _, f := range good {
		start := time.Now()
		err := Probe(t.Context(), info.Launch, f)
		t.Logf("%s: %v in %v", filepath.Base(f), err, time.Since(start))
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}

	text := filepath.Join(dir, "notes.wav")
	writeFile(t, text, []byte(strings.Repeat("this is not a sound\n", 100)))
	noise := filepath.Join(dir, "noise.mp3")
	random := make([]byte, 64<<10)
	rand.Read(random)
	writeFile(t, noise, random)
	empty := filepath.Join(dir, "empty.ogg")
	writeFile(t, empty, nil)
	bad := []string{text, noise}
	if gstHas(info, "videotestsrc") && info.Has("x264enc") && gstHas(info, "mp4mux") {
		video := filepath.Join(dir, "video.m4a")
		encodeWith(t, info, video, "videotestsrc", "num-buffers=10", "!", "x264enc", "!", "mp4mux")
		bad = append(bad, video)
	}
	for _, f := range bad {
		start := time.Now()
		err := Probe(t.Context(), info.Launch, f)
		t.Logf("%s: in %v", filepath.Base(f), time.Since(start))
		if !errors.Is(err, ErrNotAudio) || !strings.Contains(err.Error(), "ERROR: from element") {
			t.Errorf("%s: %v, want ErrNotAudio with GStreamer's reason", filepath.Base(f), err)
		} else {
			t.Logf("%s: %v", filepath.Base(f), err)
		}
	}

	if err := Probe(t.Context(), info.Launch, empty); !errors.Is(err, ErrNotAudio) || !strings.Contains(err.Error(), "empty file") {
		t.Errorf("empty file: %v, want ErrNotAudio (empty file)", err)
	}
	if err := Probe(t.Context(), info.Launch, filepath.Join(dir, "missing.wav")); err == nil || errors.Is(err, ErrNotAudio) {
		t.Errorf("missing file: %v", err)
	}
}

func TestProbeTimesOut(t *testing.T) {
	info := needGst(t)
	old := probeTimeout
	probeTimeout = 300 * time.Millisecond
	t.Cleanup(func() { probeTimeout = old })
	// A FIFO whose writer never writes: GStreamer waits for data forever.
	fifo := filepath.Join(t.TempDir(), "stuck.wav")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = Probe(ctx, info.Launch, fifo)
	if !errors.Is(err, ErrNotAudio) || !strings.Contains(err.Error(), "no decision") {
		t.Fatalf("err %v", err)
	}
}

// gstHas asks gst-inspect-1.0 about an element outside Elements.
func gstHas(info Info, name string) bool {
	if v, ok := info.Elements[name]; ok {
		return v
	}
	_, _, err := runTool(context.Background(), info.Inspect, "--exists", name)
	return err == nil
}
