//go:build mujoco

package mujoco

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"os"
	"runtime"
	"testing"
	"time"

	"reachyd/hw"
	"reachyd/hw/camera"
	"reachyd/sim"
)

// requireRender skips when this machine cannot render offscreen, unless
// REACHYD_REQUIRE_MEDIA says it must (CI).
func requireRender(t testing.TB) {
	if err := ProbeRender(); err != nil {
		if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
			t.Fatalf("offscreen rendering: %v", err)
		}
		t.Skipf("no offscreen rendering here: %v", err)
	}
}

// meanDiff is the mean absolute difference of two pictures' luma.
func meanDiff(a, b image.Image) float64 {
	ya, yb := a.(*image.YCbCr), b.(*image.YCbCr)
	var sum float64
	for i := range ya.Y {
		d := int(ya.Y[i]) - int(yb.Y[i])
		sum += float64(max(d, -d))
	}
	return sum / float64(len(ya.Y))
}

// The eye camera renders the scene as the head sees it: a JPEG of the size
// asked with something in it, and turning the body turns the view.
func TestRenderEyeCamera(t *testing.T) {
	requireRender(t)
	start := sim.SleepPositions
	s, err := New(Options{Paused: true, Start: &start})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := newRenderer(s, 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	shot := func() image.Image {
		var buf bytes.Buffer
		if err := r.frame(&buf); err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 240 {
			t.Fatalf("picture %v, want 320x240", b)
		}
		return img
	}
	a := shot()
	var lo, hi uint8 = 255, 0
	for _, v := range a.(*image.YCbCr).Y {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi-lo < 40 {
		t.Errorf("a flat picture (luma %d..%d)", lo, hi)
	}
	if d := meanDiff(a, shot()); d > 0.5 {
		t.Errorf("the same state rendered twice differs by %.2f", d)
	}
	goal := start
	goal[hw.Body] = 1.2
	s.WriteGoalPositions(goal, hw.AllMotors)
	stepSeconds(s, 1.5)
	if d := meanDiff(a, shot()); d < 3 {
		t.Errorf("the view did not change when the body turned (mean difference %.2f)", d)
	}
}

// The Camera source emits numbered JPEG frames of the robot's open
// simulation.
func TestCameraSource(t *testing.T) {
	requireRender(t)
	start := sim.SleepPositions
	rb, err := NewRobot(Options{Start: &start})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := rb.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	c := &Camera{Robot: rb, Width: 160, Height: 120, FPS: 25}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	frames := make(chan camera.Frame, 100)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func(f camera.Frame) { frames <- f }) }()
	for want := uint64(1); want <= 3; want++ {
		select {
		case f := <-frames:
			if f.Seq != want || f.Width != 160 || f.Height != 120 {
				t.Errorf("frame %d: seq %d %dx%d", want, f.Seq, f.Width, f.Height)
			}
			if _, err := jpeg.Decode(bytes.NewReader(f.JPEG)); err != nil {
				t.Errorf("frame %d: %v", want, err)
			}
		case err := <-done:
			t.Fatalf("camera stopped: %v", err)
		case <-ctx.Done():
			t.Fatal("no frame in 10 s")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// BenchmarkRenderFrame is the cost of one eye camera frame (render, read
// back, JPEG) at the reference's 1280x720 and at 640x480.
func BenchmarkRenderFrame(b *testing.B) {
	requireRender(b)
	for _, sz := range [][2]int{{1280, 720}, {640, 480}} {
		b.Run(image.Pt(sz[0], sz[1]).String(), func(b *testing.B) {
			s, err := New(Options{Paused: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			r, err := newRenderer(s, sz[0], sz[1])
			if err != nil {
				b.Fatal(err)
			}
			defer r.close()
			var buf bytes.Buffer
			b.ResetTimer()
			for range b.N {
				if err := r.frame(&buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
