package gst

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCameraArgs(t *testing.T) {
	for _, tc := range []struct {
		cfg  CameraConfig
		want string
	}{
		{CameraConfig{Source: "libcamerasrc"},
			"-q libcamerasrc ! videorate drop-only=true ! videoscale ! videoconvert ! " +
				"video/x-raw,format=I420,width=640,height=480,framerate=15/1,pixel-aspect-ratio=1/1 ! " +
				"jpegenc quality=85 ! fdsink fd=1 sync=false"},
		{CameraConfig{Source: "  videotestsrc\tpattern=ball  is-live=true ", Width: 320, Height: 240, FPS: 30, Quality: 60},
			"-q videotestsrc pattern=ball is-live=true ! videorate drop-only=true ! videoscale ! videoconvert ! " +
				"video/x-raw,format=I420,width=320,height=240,framerate=30/1,pixel-aspect-ratio=1/1 ! " +
				"jpegenc quality=60 ! fdsink fd=1 sync=false"},
		{CameraConfig{Source: "libcamerasrc camera-name=/base/soc/i2c0mux/i2c@1/imx708@1a", Width: 1280, Height: 720, FPS: 30},
			"-q libcamerasrc camera-name=/base/soc/i2c0mux/i2c@1/imx708@1a ! videorate drop-only=true ! videoscale ! videoconvert ! " +
				"video/x-raw,format=I420,width=1280,height=720,framerate=30/1,pixel-aspect-ratio=1/1 ! " +
				"jpegenc quality=85 ! fdsink fd=1 sync=false"},
	} {
		argv, err := CameraArgs(launch, tc.cfg)
		if got := desc(t, argv, err); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.cfg.Source, got, tc.want)
		}
	}
	if el := CameraSourceElement("v4l2src device=/dev/video0"); el != "v4l2src" {
		t.Errorf("element %q", el)
	}
	for _, src := range []string{
		"", "   ",
		"videotestsrc ! fakesink", "videotestsrc!fakesink", "videotestsrc pattern=ball!fakesink",
		`videotestsrc pattern="ball"`, "videotestsrc pattern='ball'", "videotestsrc; reboot", "videotestsrc pattern=ball;",
		"videotestsrc name=src src.", "videotestsrc pattern=$(reboot)", "videotestsrc pattern=`reboot`",
		"videotestsrc caps=(string)x", "videotestsrc pattern=a\\b", "videotestsrc pattern=[a]", "videotestsrc pattern={a}",
		"VideoTestSrc", "3src", "video.src", "videotestsrc pattern", "videotestsrc =ball", "videotestsrc pattern=",
		"videotestsrc pattern=ball\nfakesink", "videotestsrc pattern=bäll", "videotestsrc " + strings.Repeat("a=b ", 200),
	} {
		if err := ValidCameraSource(src); err == nil {
			t.Errorf("source %q accepted", src)
		}
		if _, err := CameraArgs(launch, CameraConfig{Source: src}); err == nil {
			t.Errorf("CameraArgs accepted source %q", src)
		}
		if CameraSourceElement(src) != "" {
			t.Errorf("source %q has an element", src)
		}
	}
	for _, bad := range []CameraConfig{
		{Source: "libcamerasrc", Width: 640},
		{Source: "libcamerasrc", Width: 8, Height: 8},
		{Source: "libcamerasrc", Width: 8192, Height: 480},
		{Source: "libcamerasrc", FPS: 500},
		{Source: "libcamerasrc", FPS: -1},
		{Source: "libcamerasrc", Quality: 101},
	} {
		if _, err := CameraArgs(launch, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestCameraPipelineOnStdout runs CameraArgs' pipeline for real and cuts
// jpegenc's output with the splitter, through OnStdoutRaw.
func TestCameraPipelineOnStdout(t *testing.T) {
	info := needGst(t)
	if !info.Camera() || !info.Elements["videotestsrc"] {
		t.Fatalf("camera elements missing: %s", info.Summary())
	}
	argv, err := CameraArgs(info.Launch, CameraConfig{Source: "videotestsrc num-buffers=8 pattern=smpte", Width: 176, Height: 144, FPS: 30, Quality: 70})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []JPEGFrame
	var stats JPEGSplitStats
	p := startProc(t, Spec{Name: "camera", Argv: Fixed(argv), Restart: RestartNever,
		OnStdoutRaw: func(r io.Reader) {
			s := NewJPEGSplitter(0)
			buf := make([]byte, 4096) // small reads: frames span them
			for {
				n, err := r.Read(buf)
				s.Feed(buf[:n], func(f JPEGFrame) {
					mu.Lock()
					got = append(got, f)
					mu.Unlock()
				})
				if err != nil {
					break
				}
			}
			mu.Lock()
			stats = s.Stats()
			mu.Unlock()
		}})
	<-p.Done()
	if err := p.Err(); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 8 || stats.Dropped != 0 || stats.Discarded != 0 {
		t.Fatalf("%d frames, stats %v", len(got), stats)
	}
	for i, f := range got {
		img, err := jpeg.Decode(bytes.NewReader(f.Data))
		if err != nil || img.Bounds().Dx() != 176 || img.Bounds().Dy() != 144 || f.Width != 176 || f.Height != 144 {
			t.Fatalf("frame %d: %v %v", i, err, img.Bounds())
		}
	}
}

func TestOnStdoutRaw(t *testing.T) {
	// Bytes with no line structure arrive whole and in order.
	want := make([]byte, 300<<10)
	for i := range want {
		want[i] = byte(i * 7)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "data")
	if err := os.WriteFile(file, want, 0o600); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	p := startProc(t, Spec{Name: "raw", Argv: Fixed([]string{"cat", file}), Restart: RestartNever,
		OnStdoutRaw: func(r io.Reader) { _, _ = io.Copy(&got, r) }})
	<-p.Done()
	if err := p.Err(); err != nil || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("err %v, %d bytes of %d", err, got.Len(), len(want))
	}

	// A reader that gives up early does not block the child: the rest is
	// drained, and the child (writing far more than a pipe holds) ends.
	p = startProc(t, Spec{Name: "raw", Argv: Fixed([]string{"sh", "-c", "head -c 10000000 /dev/zero"}), Restart: RestartNever,
		OnStdoutRaw: func(r io.Reader) { _, _ = r.Read(make([]byte, 10)) }})
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the child blocked on its stdout")
	}
	if err := p.Err(); err != nil {
		t.Fatalf("early return: %v", err)
	}

	if _, err := Start(context.Background(), Spec{Name: "both", Argv: Fixed([]string{"true"}),
		OnStdout: func([]byte) bool { return true }, OnStdoutRaw: func(io.Reader) {}}); err == nil {
		t.Fatal("OnStdout and OnStdoutRaw together accepted")
	}
}

func TestInstalled(t *testing.T) {
	dir := t.TempDir()
	launch := filepath.Join(dir, LaunchName)
	for path, script := range map[string]string{
		launch:                          "exit 0",
		filepath.Join(dir, InspectName): `case "$2" in videotestsrc|jpegenc) exit 0;; esac; exit 1`,
	} {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path, missing, err := Installed(context.Background(), launch, "videotestsrc", "libcamerasrc", "jpegenc", "fdsink")
	if err != nil || path != launch || !slices.Equal(missing, []string{"libcamerasrc", "fdsink"}) {
		t.Fatalf("Installed = %q %v %v", path, missing, err)
	}
	if _, _, err := Installed(context.Background(), filepath.Join(dir, "nope")); err == nil {
		t.Fatal("missing tools accepted")
	}

	info := needGst(t)
	path, missing, err = Installed(context.Background(), "", append([]string{"videotestsrc"}, CameraElements...)...)
	if err != nil || path != info.Launch || len(missing) != 0 {
		t.Fatalf("Installed here = %q %v %v", path, missing, err)
	}
}

// FuzzValidCameraSource: whatever --camera gst:... holds, an accepted
// description is one element and property=value words, with nothing
// gst-launch-1.0 could read as a link, a pad, quoting or caps.
func FuzzValidCameraSource(f *testing.F) {
	for _, s := range []string{"libcamerasrc", "videotestsrc pattern=ball is-live=true", "v4l2src device=/dev/video0",
		"a ! b", `a b="c"`, "a b=c;d", "a b.", "a b=(int)1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		argv, err := CameraArgs(launch, CameraConfig{Source: s})
		if (err == nil) != (ValidCameraSource(s) == nil) {
			t.Fatalf("CameraArgs and ValidCameraSource disagree on %q", s)
		}
		if err != nil {
			return
		}
		words := strings.Fields(s)
		if !slices.Equal(argv[2:2+len(words)], words) || argv[2+len(words)] != "!" {
			t.Fatalf("argv %q for %q", argv, s)
		}
		if CameraSourceElement(s) != words[0] {
			t.Fatalf("element %q for %q", CameraSourceElement(s), s)
		}
		for i, w := range words {
			if strings.ContainsAny(w, "!\"'\\;()[]{}<>$`&|*?# ") || (i > 0 && !strings.Contains(w, "=")) || strings.HasSuffix(w, ".") && i == 0 {
				t.Fatalf("word %q of %q accepted", w, s)
			}
		}
	})
}
