// Package camera is the camera actor: it owns the camera source (a V4L2
// device on the robot, a test pattern on the simulator), runs it into the
// head_color broadcaster that the RTSP server, the MJPEG routes and the
// WebRTC encoder read, and restarts it with backoff when it fails (an
// unplugged or stalled camera comes back by itself).
//
// With Options.Linger set, the source runs only while someone watches:
// it starts when the broadcaster gets its first subscriber and stops
// Linger after the last one left. An idle robot then captures and encodes
// nothing (the simulator's pattern is a child process of 26 MB and a few
// per cent of a core; a V4L2 camera draws USB bandwidth and power), and a
// new viewer waits for the source to start (tens of milliseconds for the
// pattern, about half a second for a V4L2 device).
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
	// Linger, when positive, runs the source on demand: it stops that
	// long after the last subscriber left. Zero runs it all the time.
	Linger time.Duration
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
	waiting  bool   // a restart after a failure is scheduled
	idleGen  uint64 // the pending idle stop's generation (0: none)
}

// demand says the broadcaster's subscribers changed; idleStop that the
// last one left Linger ago.
type (
	demand   struct{}
	idleStop struct{ gen uint64 }
)

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
		if a.opt.Linger > 0 {
			self, root := ctx.Self(), ctx.ActorSystem().Root
			a.opt.Out.OnDemand(func() { root.Send(self, demand{}) })
			if a.opt.Out.Subscribers() == 0 {
				return
			}
		}
		a.run(ctx)
	case *actor.Stopping, *actor.Restarting:
		// The source is this incarnation's: a restarted actor opens it
		// afresh in Started, so the old run must have released the device
		// (a V4L2 device is busy while open; the test pattern runs once).
		a.release()
	case demand:
		a.demand(ctx)
	case idleStop:
		if m.gen == a.idleGen && a.opt.Out.Subscribers() == 0 {
			a.idleGen = 0
			if a.running {
				a.log.Info("camera stopped: nobody watches", "source", a.opt.Source.Describe())
				a.release()
			}
			a.waiting = false
			a.gen = a.cell.gen.Add(1) // a scheduled restart is void
		}
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
		a.waiting = true
		time.AfterFunc(d, func() { root.Send(self, &restart{gen: gen}) })
	case *restart:
		if m.gen == a.gen {
			a.waiting = false
			a.run(ctx)
		}
	case *messages.GetCameraStatus:
		kit.Reply(ctx, messages.CameraStatus{Source: a.opt.Source.Describe(), Running: a.running, Frames: a.cell.frames.Load(),
			Subscribers: a.opt.Out.Subscribers(), LastError: a.lastErr, Failures: a.failures})
	}
}

// demand starts the source for a first subscriber, and schedules its stop
// when the last one left.
func (a *Actor) demand(ctx actor.Context) {
	if a.opt.Linger <= 0 {
		return
	}
	if a.opt.Out.Subscribers() > 0 {
		a.idleGen = 0
		if !a.running && !a.waiting {
			a.log.Info("camera started: someone watches", "source", a.opt.Source.Describe())
			a.run(ctx)
		}
		return
	}
	if a.idleGen == 0 && (a.running || a.waiting) {
		a.idleGen = a.cell.gen.Add(1)
		self, root, gen := ctx.Self(), ctx.ActorSystem().Root, a.idleGen
		time.AfterFunc(a.opt.Linger, func() { root.Send(self, idleStop{gen: gen}) })
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
