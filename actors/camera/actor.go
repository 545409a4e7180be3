// Package camera is the camera actor: it owns the camera source (a V4L2
// device on the robot, a test pattern on the simulator), runs it into the
// head_color broadcaster that the RTSP server and the MJPEG routes read,
// and restarts it with backoff when it fails (an unplugged or stalled
// camera comes back by itself).
package camera

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	hwcam "reachyd/hw/camera"
	"reachyd/messages"
)

// Stream is the one stream reachyd serves, named as pymirokai's video
// clients open it (rtsp://<robot>:8554/head_color).
const Stream = "head_color"

// Options configure the camera actor.
type Options struct {
	Source hwcam.Source
	Out    *hwcam.Broadcaster
	Log    *slog.Logger
}

// Actor is the camera actor.
type Actor struct {
	opt      Options
	log      *slog.Logger
	cell     *cell
	cancel   context.CancelFunc
	done     chan struct{} // closed when the current run's goroutine ends
	gen      uint64
	failures int
	lastErr  string
	running  bool
}

// cell is shared by every incarnation of one camera actor: generations keep
// counting across a restart, so the late end of a previous incarnation's
// run is never taken for the current one, and the frame count goes on.
type cell struct {
	gen    atomic.Uint64
	frames atomic.Uint64
}

type sourceEnded struct {
	gen uint64
	err error
	ran time.Duration
}

type restart struct{ gen uint64 }

// releaseWait bounds how long a stop or restart waits for the source to let
// go of its device (a V4L2 source returns within one poll interval).
const releaseWait = 2 * time.Second

// Props returns the camera actor's props.
func Props(opt Options) *actor.Props {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	c := &cell{}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, log: opt.Log.With("actor", "camera"), cell: c}
	}, kit.CrashOption())
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.run(ctx)
	case *actor.Stopping, *actor.Restarting:
		// The source is this incarnation's: a restarted actor opens it
		// afresh in Started, so the old run must have released the device
		// (a V4L2 device is busy while open; the test pattern runs once).
		a.release()
	case *sourceEnded:
		if m.gen != a.gen {
			return
		}
		a.running = false
		if m.err == nil {
			return
		}
		if m.ran > time.Minute {
			a.failures = 0
		}
		a.failures++
		a.lastErr = m.err.Error()
		d := 500 * time.Millisecond
		for i := 1; i < a.failures && d < 30*time.Second; i++ {
			d *= 2
		}
		d = min(d, 30*time.Second)
		a.log.Warn("camera failed; restarting", "source", a.opt.Source.Describe(), "err", m.err, "in", d)
		self, root, gen := ctx.Self(), ctx.ActorSystem().Root, a.gen
		time.AfterFunc(d, func() { root.Send(self, &restart{gen: gen}) })
	case *restart:
		if m.gen == a.gen {
			a.run(ctx)
		}
	case *messages.GetCameraStatus:
		kit.Reply(ctx, messages.CameraStatus{Source: a.opt.Source.Describe(), Running: a.running, Frames: a.cell.frames.Load(),
			Subscribers: a.opt.Out.Subscribers(), LastError: a.lastErr, Failures: a.failures})
	}
}

// release stops the current run and waits (boundedly) for the source to
// return, so that its device is closed.
func (a *Actor) release() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.cancel, a.running = nil, false
	select {
	case <-a.done:
	case <-time.After(releaseWait):
		a.log.Warn("the camera source did not stop in time", "source", a.opt.Source.Describe(), "waited", releaseWait)
	}
}

// run starts the source in its goroutine; its end comes back as a message.
func (a *Actor) run(ctx actor.Context) {
	a.release()
	a.gen = a.cell.gen.Add(1)
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.cancel, a.done, a.running = cancel, done, true
	gen, self, root, src, out, frames := a.gen, ctx.Self(), ctx.ActorSystem().Root, a.opt.Source, a.opt.Out, &a.cell.frames
	go func() {
		defer close(done)
		t0 := time.Now()
		err := src.Run(rctx, func(f hwcam.Frame) {
			frames.Add(1)
			out.Publish(f)
		})
		if rctx.Err() != nil {
			err = nil // stopped on purpose
		}
		root.Send(self, &sourceEnded{gen: gen, err: err, ran: time.Since(t0)})
	}()
}
