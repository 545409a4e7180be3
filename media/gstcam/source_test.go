package gstcam

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"reachyd/hw/camera"
	"reachyd/media/gst"
)

// needLaunch returns gst-launch-1.0's path; without it the test is skipped,
// or fails when REACHYD_REQUIRE_MEDIA is set (CI).
func needLaunch(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath(gst.LaunchName)
	if err != nil {
		if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
			t.Fatalf("%s is required here (REACHYD_REQUIRE_MEDIA is set): %v", gst.LaunchName, err)
		}
		t.Skipf("no %s here: %v", gst.LaunchName, err)
	}
	return p
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// frames collects what a Source emits.
type frames struct {
	mu  sync.Mutex
	all []camera.Frame
}

func (f *frames) emit(fr camera.Frame) {
	f.mu.Lock()
	f.all = append(f.all, fr)
	f.mu.Unlock()
}

func (f *frames) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.all)
}

func (f *frames) get() []camera.Frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]camera.Frame(nil), f.all...)
}

// runSource runs s in a goroutine; the returned channel gets Run's result.
// The test ends it if the test does not.
func runSource(t *testing.T, s *Source, out *frames) (context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done, ended := make(chan error, 1), make(chan struct{})
	go func() {
		done <- s.Run(ctx, out.emit)
		close(ended)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ended:
		case <-time.After(20 * time.Second):
			t.Error("Run did not return")
		}
	})
	return cancel, done
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20 s")
		return nil
	}
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	rp := bytes.LastIndexByte(b, ')')
	if rp < 0 || rp+2 >= len(b) {
		return false
	}
	st := b[rp+2]
	return st != 'Z' && st != 'X' && st != 'x'
}

func ball(t *testing.T, launch string) *Source {
	t.Helper()
	s, err := New(Config{Launch: launch, Logger: quietLog(),
		Camera: gst.CameraConfig{Source: "videotestsrc pattern=ball is-live=true", Width: 320, Height: 240, FPS: 15}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVideoTestSrcFrames(t *testing.T) {
	launch := needLaunch(t)
	s := ball(t, launch)
	if d := s.Describe(); d != "gstreamer videotestsrc pattern=ball is-live=true 320x240@15" {
		t.Errorf("Describe %q", d)
	}
	var out frames
	start := time.Now()
	cancel, done := runSource(t, s, &out)
	waitFor(t, "10 frames", func() bool { return out.n() >= 10 })
	pid := s.Pid()
	if pid == 0 || !alive(pid) {
		t.Fatalf("no child while running (pid %d)", pid)
	}
	got := out.get()
	for i, f := range got {
		img, err := jpeg.Decode(bytes.NewReader(f.JPEG))
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 240 || f.Width != 320 || f.Height != 240 {
			t.Fatalf("frame %d: image %v, Frame %dx%d", i, b, f.Width, f.Height)
		}
		if f.Seq != uint64(i+1) {
			t.Fatalf("frame %d: Seq %d", i, f.Seq)
		}
		if f.At.Before(start) || (i > 0 && f.At.Before(got[i-1].At)) {
			t.Fatalf("frame %d: At %v out of order", i, f.At)
		}
		// videotestsrc's ball moves: consecutive frames differ.
		if i > 0 && bytes.Equal(f.JPEG, got[i-1].JPEG) {
			t.Fatalf("frame %d repeats frame %d", i, i-1)
		}
	}
	cancel()
	if err := result(t, done); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if alive(pid) {
		t.Fatalf("child %d outlived Run", pid)
	}
	if s.Pid() != 0 {
		t.Fatalf("Pid %d after Run", s.Pid())
	}
	n := out.n()
	if st := s.Stats(); st.Frames < n || st.Dropped != 0 {
		t.Fatalf("splitter stats %v, %d frames emitted", st, n)
	}

	// A second run goes on counting.
	var more frames
	_, done = runSource(t, s, &more)
	waitFor(t, "a frame of the second run", func() bool { return more.n() >= 1 })
	if f := more.get()[0]; f.Seq <= uint64(n) {
		t.Fatalf("second run starts at Seq %d after %d frames", f.Seq, n)
	}
	if err := s.Run(context.Background(), func(camera.Frame) {}); !errors.Is(err, ErrRunning) {
		t.Fatalf("concurrent Run: %v", err)
	}
}

func TestKilledChildIsAnError(t *testing.T) {
	launch := needLaunch(t)
	s := ball(t, launch)
	var out frames
	_, done := runSource(t, s, &out)
	waitFor(t, "a frame", func() bool { return out.n() >= 1 })
	pid := s.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := result(t, done)
	var ee *gst.ExitError
	if !errors.As(err, &ee) || ee.Status != "signal: killed" {
		t.Fatalf("Run after kill: %v", err)
	}
}

func TestEndOfStreamIsAnError(t *testing.T) {
	launch := needLaunch(t)
	s, err := New(Config{Launch: launch, Logger: quietLog(),
		Camera: gst.CameraConfig{Source: "videotestsrc num-buffers=3", Width: 64, Height: 48, FPS: 30}})
	if err != nil {
		t.Fatal(err)
	}
	var out frames
	_, done := runSource(t, s, &out)
	if err := result(t, done); !errors.Is(err, ErrEnded) {
		t.Fatalf("Run: %v", err)
	}
	if out.n() != 3 {
		t.Fatalf("%d frames, want the 3 buffers", out.n())
	}
}

func TestMissingElementIsAnError(t *testing.T) {
	launch := needLaunch(t)
	s, err := New(Config{Launch: launch, Logger: quietLog(), Camera: gst.CameraConfig{Source: "nosuchcamerasrc"}})
	if err != nil {
		t.Fatal(err)
	}
	_, done := runSource(t, s, &frames{})
	err = result(t, done)
	var ee *gst.ExitError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "nosuchcamerasrc") {
		t.Fatalf("Run: %v", err)
	}
}

func TestNoFrameAtAllIsAStall(t *testing.T) {
	launch := needLaunch(t)
	// A live pipeline that never gets a buffer: udpsrc on a loopback port
	// nobody sends to.
	s, err := New(Config{Launch: launch, Logger: quietLog(), StartTimeout: 500 * time.Millisecond,
		Camera: gst.CameraConfig{Source: "udpsrc address=127.0.0.1 port=0 caps=video/x-raw,format=I420,width=64,height=48,framerate=15/1",
			Width: 64, Height: 48, FPS: 15}})
	if err != nil {
		t.Fatal(err)
	}
	_, done := runSource(t, s, &frames{})
	waitFor(t, "the child", func() bool { return s.Pid() != 0 })
	pid := s.Pid()
	err = result(t, done)
	if !errors.Is(err, camera.ErrStalled) {
		t.Fatalf("Run: %v", err)
	}
	if alive(pid) {
		t.Fatalf("stalled child %d left running", pid)
	}
}

// fakeLaunch writes a stand-in for gst-launch-1.0 that prints the JPEG
// file next to it, then hangs (a camera that stopped mid-stream).
func fakeLaunch(t *testing.T, frame []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "frame.jpg"), frame, 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "gst-launch-1.0")
	body := "#!/bin/sh\ncat '" + filepath.Join(dir, "frame.jpg") + "'\nexec sleep 600\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

func TestStallAfterAFrame(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Launch: fakeLaunch(t, b.Bytes()), Logger: quietLog(), StallTimeout: 300 * time.Millisecond,
		Camera: gst.CameraConfig{Source: "libcamerasrc", Width: 64, Height: 48, FPS: 30}})
	if err != nil {
		t.Fatal(err)
	}
	var out frames
	_, done := runSource(t, s, &out)
	waitFor(t, "the frame", func() bool { return out.n() == 1 })
	pid := s.Pid()
	err = result(t, done)
	if !errors.Is(err, camera.ErrStalled) || !strings.Contains(err.Error(), "300ms") {
		t.Fatalf("Run: %v", err)
	}
	if f := out.get()[0]; !bytes.Equal(f.JPEG, b.Bytes()) || f.Width != 64 || f.Height != 48 || f.Seq != 1 {
		t.Fatalf("frame %dx%d seq %d, %d bytes", f.Width, f.Height, f.Seq, len(f.JPEG))
	}
	if alive(pid) {
		t.Fatalf("stalled child %d left running", pid)
	}
}

func TestNewRefusesBadSources(t *testing.T) {
	for _, src := range []string{"", "videotestsrc ! fakesink", "videotestsrc pattern=\"ball\"", "videotestsrc; rm -rf /",
		"videotestsrc pattern=ball;", "Videotestsrc", "videotestsrc pattern", "videotestsrc name=a ! a."} {
		if _, err := New(Config{Camera: gst.CameraConfig{Source: src}}); err == nil {
			t.Errorf("source %q accepted", src)
		}
	}
	s, err := New(Config{Camera: gst.CameraConfig{Source: "libcamerasrc"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Describe() != "gstreamer libcamerasrc 640x480@15" {
		t.Fatalf("Describe %q", s.Describe())
	}
}
