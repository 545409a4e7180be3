// Package gstcam is a camera source (hw/camera.Source) that captures
// through GStreamer: a gst-launch-1.0 child runs the source element (the
// wireless robot's CSI camera through libcamerasrc, which plain V4L2
// cannot drive; v4l2src; videotestsrc; any source element), scales and
// rates it to the configured size and frame rate, encodes JPEG and writes
// the images back to back on its stdout (media/gst CameraArgs). The
// daemon cuts them apart (media/gst JPEGSplitter) and emits each as a
// camera.Frame, stamped with its arrival time, into the camera actor's
// broadcaster, which RTSP, MJPEG and the WebRTC video encoder read: the
// same JPEG frames as from the V4L2 source or the simulator's pattern.
//
// The package sits between hw/camera (the Source interface, which must
// not depend on GStreamer) and media/gst (processes and pipelines).
//
// # Supervision
//
// Run starts one child (media/gst Process, RestartNever) and returns when
// it ends: nil when ctx ends (the child and its process group are gone by
// then), an error otherwise. The camera actor restarts a failed source
// with backoff, so there is no restart loop here. A pipeline that exits
// with status 0 (end of stream) is an error too: a camera never ends. A
// pipeline that stops producing frames is ended and reported as
// hw/camera.ErrStalled: after StallTimeout without a frame, or
// StartTimeout before the first one (libcamera takes a moment to start
// the sensor; GStreamer may rebuild its registry after an update).
//
// # Tested against
//
// GStreamer 1.22.0 on linux/amd64 with videotestsrc through the real
// pipeline (frames decode with image/jpeg at the configured size, Seq
// counts up, cancelling ends the child, a killed child and an ended
// stream are errors, a source that produces nothing and a fake pipeline
// that produces one frame then hangs are stalls), and in cmd/reachyd
// from the daemon's flags to MJPEG clients. Not tested: libcamerasrc
// (no Raspberry Pi or CSI camera here); whether it honours the caps
// itself or leaves the scaling to videoscale on the Pi's CPU is to be
// measured there.
package gstcam

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"reachyd/hw/camera"
	"reachyd/media/gst"
)

// Defaults of Config.
const (
	DefaultStallTimeout = 5 * time.Second
	DefaultStartTimeout = 15 * time.Second
	// grace between SIGTERM and SIGKILL on stop: under the camera
	// actor's wait for a source to let go (2 s). gst-launch-1.0 dies at
	// once on SIGTERM.
	grace = time.Second
	// readSize is one read from the pipe: a 640x480 image is 30-80 KB.
	readSize = 256 << 10
)

// Errors of Run.
var (
	// ErrEnded: the pipeline exited with status 0 (end of stream).
	ErrEnded = errors.New("gstcam: the pipeline ended (end of stream)")
	// ErrRunning: Run was called while another Run of the same Source
	// was still going.
	ErrRunning = errors.New("gstcam: source already running")
)

// Config configures a Source.
type Config struct {
	// Launch is gst-launch-1.0's path (default: gst-launch-1.0 in PATH).
	Launch string
	// Camera is the pipeline: source element, size, rate, JPEG quality.
	Camera gst.CameraConfig
	// StallTimeout ends a run that produced no frame for this long
	// (default DefaultStallTimeout); StartTimeout bounds the wait for
	// the first frame (default DefaultStartTimeout).
	StallTimeout, StartTimeout time.Duration
	// MaxFrame bounds one JPEG image (default gst.MaxJPEGFrame); bigger
	// ones are dropped.
	MaxFrame int
	// Logger receives the pipeline's events and stderr (default
	// slog.Default()).
	Logger *slog.Logger
}

// defaults fills in the zero fields.
func (cfg *Config) defaults() {
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = gst.MaxJPEGFrame
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
}

// Source captures through a gst-launch-1.0 child. See the package doc.
type Source struct {
	cfg  Config
	argv []string
	env  []string // nil: the daemon's
	desc string
	log  *slog.Logger

	running sync.Mutex // held by Run
	seq     atomic.Uint64
	proc    atomic.Pointer[gst.Process]
	stats   atomic.Pointer[gst.JPEGSplitStats]
}

// New checks cfg (the source description above all: it comes from a
// flag) and returns the Source.
func New(cfg Config) (*Source, error) {
	if cfg.Launch == "" {
		cfg.Launch = gst.LaunchName
	}
	cfg.defaults()
	cam, err := cfg.Camera.Check()
	if err != nil {
		return nil, err
	}
	argv, err := gst.CameraArgs(cfg.Launch, cam)
	if err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("gstreamer %s %dx%d@%d", strings.Join(strings.Fields(cam.Source), " "), cam.Width, cam.Height, cam.FPS)
	return &Source{cfg: cfg, argv: argv, desc: desc, log: cfg.Logger.With("camera", "gstreamer")}, nil
}

// NewCommand is a Source that runs argv instead of a GStreamer pipeline:
// any program that writes JPEG images back to back on its stdout (the
// simulator's test pattern in a child process: reachyd sim-camera), with
// the same supervision, stall detection and splitting. env is the child's
// environment (nil: the daemon's); desc is what Describe says.
func NewCommand(argv, env []string, desc string, cfg Config) (*Source, error) {
	if len(argv) == 0 {
		return nil, errors.New("gstcam: empty command")
	}
	cfg.defaults()
	return &Source{cfg: cfg, argv: append([]string(nil), argv...), env: env, desc: desc, log: cfg.Logger.With("camera", "child")}, nil
}

// Describe implements camera.Source: "gstreamer libcamerasrc 640x480@15".
func (s *Source) Describe() string { return s.desc }

// Argv is the command Run starts, for logs and tests.
func (s *Source) Argv() []string { return append([]string(nil), s.argv...) }

// Pid is the running child's pid, 0 when none runs.
func (s *Source) Pid() int {
	if p := s.proc.Load(); p != nil {
		return p.Pid()
	}
	return 0
}

// Stats is what the splitter counted in the last run that ended.
func (s *Source) Stats() gst.JPEGSplitStats {
	if st := s.stats.Load(); st != nil {
		return *st
	}
	return gst.JPEGSplitStats{}
}

// Run implements camera.Source: it runs one child until ctx ends (nil),
// the child ends (its error, or ErrEnded) or frames stop coming (an error
// wrapping camera.ErrStalled). emit is called from the goroutine reading
// the child's stdout, never after Run returned.
func (s *Source) Run(ctx context.Context, emit func(camera.Frame)) error {
	if !s.running.TryLock() {
		return ErrRunning
	}
	defer s.running.Unlock()

	framed := make(chan struct{}, 1)
	read := func(r io.Reader) {
		sp := gst.NewJPEGSplitter(s.cfg.MaxFrame)
		defer func() { st := sp.Stats(); s.stats.Store(&st) }()
		buf := make([]byte, readSize)
		for {
			n, err := r.Read(buf)
			sp.Feed(buf[:n], func(f gst.JPEGFrame) {
				emit(camera.Frame{JPEG: f.Data, Width: f.Width, Height: f.Height, Seq: s.seq.Add(1), At: time.Now()})
				select {
				case framed <- struct{}{}:
				default:
				}
			})
			if err != nil {
				return
			}
		}
	}
	p, err := gst.Start(ctx, gst.Spec{Name: "camera", Argv: gst.Fixed(s.argv), Env: s.env, Restart: gst.RestartNever, Nice: gst.BackgroundNice, Slice: gst.PipelineSlice,
		Grace: grace, OnStdoutRaw: read, Logger: s.log})
	if err != nil {
		return fmt.Errorf("gstcam: %w", err)
	}
	s.proc.Store(p)
	defer func() {
		p.Stop() // no-op when it ended; waits for the reader either way
		s.proc.Store(nil)
	}()

	wait := s.cfg.StartTimeout
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-framed:
			wait = s.cfg.StallTimeout
			timer.Reset(wait)
		case <-timer.C:
			p.Stop()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: %s: none for %v", camera.ErrStalled, s.desc, wait)
		case <-p.Done():
			if ctx.Err() != nil {
				return nil
			}
			err := p.Err()
			if err == nil {
				err = ErrEnded
			}
			return fmt.Errorf("gstcam: %s: %w", s.desc, err)
		case <-ctx.Done():
			p.Stop()
			return nil
		}
	}
}
