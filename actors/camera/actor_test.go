package camera

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"reachyd/actors/kit"
	hwcam "reachyd/hw/camera"
	"reachyd/messages"
)

// flaky fails its first runs (an unplugged camera), then streams.
type flaky struct {
	fails atomic.Int32
	runs  atomic.Int32
}

func (f *flaky) Describe() string { return "flaky test camera" }

func (f *flaky) Run(ctx context.Context, emit func(hwcam.Frame)) error {
	f.runs.Add(1)
	if f.fails.Add(-1) >= 0 {
		return errors.New("device unplugged")
	}
	for i := uint64(1); ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Millisecond):
			emit(hwcam.Frame{Seq: i, Width: 1, Height: 1})
		}
	}
}

func TestAFailingCameraComesBack(t *testing.T) {
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer s.Shutdown()
	src := &flaky{}
	src.fails.Store(2)
	out := hwcam.NewBroadcaster()
	frames, stop := out.Subscribe()
	defer stop()
	pid, err := s.Root.SpawnNamed(Props(Options{Source: src, Out: out}), "camera")
	if err != nil {
		t.Fatal(err)
	}
	// Two failures: restarts after 0.5 s then 1 s, then frames flow.
	select {
	case f := <-frames:
		if f.Seq == 0 {
			t.Fatal("empty frame")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no frame after the camera came back")
	}
	st, err := kit.Ask[messages.CameraStatus](context.Background(), s, pid, &messages.GetCameraStatus{})
	if err != nil || !st.Running || st.Failures != 2 || st.LastError != "device unplugged" || src.runs.Load() != 3 {
		t.Fatalf("status %+v %v, runs %d", st, err, src.runs.Load())
	}
	// Stopping the actor stops the source.
	_ = s.Root.StopFuture(pid).Wait()
	time.Sleep(20 * time.Millisecond)
	for len(frames) > 0 {
		<-frames
	}
	select {
	case <-frames:
		t.Fatal("frames after the actor stopped")
	case <-time.After(100 * time.Millisecond):
	}
}

// device counts how often it is opened and closed, and is busy while open,
// as a V4L2 device is.
type device struct {
	opens, closes atomic.Int32
	open          atomic.Bool
	seq           atomic.Uint64
}

func (d *device) Describe() string { return "counting test camera" }

func (d *device) Run(ctx context.Context, emit func(hwcam.Frame)) error {
	if !d.open.CompareAndSwap(false, true) {
		return errors.New("device busy")
	}
	d.opens.Add(1)
	defer func() {
		d.closes.Add(1)
		d.open.Store(false)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Millisecond):
			emit(hwcam.Frame{Seq: d.seq.Add(1), Width: 1, Height: 1})
		}
	}
}

// TestARestartedCameraReopensItsSource: a crash closes the source the old
// incarnation opened, and the new one opens it again and streams.
func TestARestartedCameraReopensItsSource(t *testing.T) {
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer s.Shutdown()
	src := &device{}
	out := hwcam.NewBroadcaster()
	frames, stop := out.Subscribe()
	defer stop()
	pid, err := s.Root.SpawnNamed(Props(Options{Source: src, Out: out}), "camera")
	if err != nil {
		t.Fatal(err)
	}
	next := func() hwcam.Frame {
		t.Helper()
		select {
		case f := <-frames:
			return f
		case <-time.After(5 * time.Second):
			t.Fatalf("no frame (opens %d, closes %d)", src.opens.Load(), src.closes.Load())
		}
		return hwcam.Frame{}
	}
	next()
	for i := 1; i <= 3; i++ {
		s.Tell(pid, &kit.Crash{Reason: "test"})
		// Frames flow again, from a source opened once more.
		deadline := time.Now().Add(5 * time.Second)
		for src.opens.Load() < int32(i+1) && time.Now().Before(deadline) {
			next()
		}
		if o, c := src.opens.Load(), src.closes.Load(); o != int32(i+1) || c != int32(i) {
			t.Fatalf("after crash %d: opened %d times, closed %d times; want %d and %d", i, o, c, i+1, i)
		}
		last := src.seq.Load()
		for next().Seq <= last {
		}
	}
	st, err := kit.Ask[messages.CameraStatus](context.Background(), s, pid, &messages.GetCameraStatus{})
	if err != nil || !st.Running || st.Failures != 0 || st.LastError != "" {
		t.Fatalf("status after the crashes: %+v %v", st, err)
	}
	_ = s.Root.StopFuture(pid).Wait()
	if o, c := src.opens.Load(), src.closes.Load(); o != c {
		t.Fatalf("after the stop: opened %d times, closed %d times", o, c)
	}
}

// TestTheCameraRunsWhileWatched: with Linger, nothing is opened until a
// first subscriber, the source is closed Linger after the last one left
// (not before, and not while another still watches), and it opens again
// for the next viewer.
func TestTheCameraRunsWhileWatched(t *testing.T) {
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer s.Shutdown()
	dev := &device{}
	out := hwcam.NewBroadcaster()
	pid, err := s.Root.SpawnNamed(Props(Options{Source: dev, Out: out, Linger: 300 * time.Millisecond}), "camera")
	if err != nil {
		t.Fatal(err)
	}
	status := func() messages.CameraStatus {
		st, err := kit.Ask[messages.CameraStatus](context.Background(), s, pid, &messages.GetCameraStatus{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := status(); st.Running || dev.opens.Load() != 0 {
		t.Fatalf("unwatched camera runs: %+v, opened %d", st, dev.opens.Load())
	}
	waitFrame := func(ch <-chan hwcam.Frame) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("no frame for a viewer")
		}
	}
	first, stop1 := out.Subscribe()
	waitFrame(first)
	second, stop2 := out.Subscribe()
	stop1()
	time.Sleep(600 * time.Millisecond) // past Linger: the second viewer still watches
	waitFrame(second)
	if dev.opens.Load() != 1 || dev.closes.Load() != 0 {
		t.Fatalf("opened %d closed %d while watched", dev.opens.Load(), dev.closes.Load())
	}
	stop2()
	deadline := time.Now().Add(10 * time.Second)
	for dev.closes.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the camera was not closed after its last viewer left")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := status(); st.Running {
		t.Fatalf("closed camera reported running: %+v", st)
	}
	// A snapshot (Next) is a viewer too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := out.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if dev.opens.Load() != 2 {
		t.Fatalf("opened %d times, want 2", dev.opens.Load())
	}
}
