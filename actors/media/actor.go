package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	hwcam "reachyd/hw/camera"
	"reachyd/media/doa"
	"reachyd/media/gst"
	"reachyd/media/mixer"
	"reachyd/media/sounds"
	"reachyd/media/specs"
	"reachyd/media/webrtc"
	"reachyd/messages"
)

// Options configure the media actor.
type Options struct {
	Cell *Cell
	Log  *slog.Logger
	// Launch is gst-launch-1.0's path and Info what Detect found.
	Launch string
	Info   gst.Info

	// Camera is the camera's broadcaster (nil: no video track is fed).
	Camera       *hwcam.Broadcaster
	CameraFPS    int
	VideoEncoder gst.Encoder
	// KeyframeInterval is the encoder's keyframe interval in frames
	// (default CameraFPS: one a second). A consumer that asks for a
	// keyframe (PLI, FIR) gets one at once, by a renewal of the video
	// pipeline, at most once per RenewEvery.
	KeyframeInterval int
	// Audio configures the audio pipeline's devices (ports are the actor's).
	Audio gst.AudioConfig
	// SpeakerInputs is the number of consumers heard at once (default 4).
	SpeakerInputs int

	Sounds *sounds.Store
	Mixer  mixer.Mixer // nil: volume requests fail as "unavailable"
	// MixerErr says why there is no mixer.
	MixerErr error
	DoA      doa.Source // nil: DoA is null
	Board    *doa.Device
	// SpecsName is the camera model of /api/camera/specs.
	SpecsName string

	// Listen opens the WebRTC signalling listener (:8443) when media is
	// acquired; the actor closes it on release.
	Listen func() (net.Listener, error)
	// WebRTC configures the producer; its OnSessionEnd and OnRemoteAudio
	// are the actor's, OnCommand and PoseState the Hooks'.
	WebRTC webrtc.Config
	Hooks  *Hooks

	// Moves receives the wobbler's speech offsets.
	Moves *actor.PID
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Hooks are what the producer calls into the gateway for, set once the
// gateway exists (it is built after the actor tree): the data channel's
// commands and the pose channel's state.
type Hooks struct {
	commands atomic.Pointer[func(*webrtc.Session, []byte)]
	state    atomic.Pointer[func() []byte]
}

// SetCommands sets the data channel's command handler.
func (h *Hooks) SetCommands(f func(*webrtc.Session, []byte)) { h.commands.Store(&f) }

// SetState sets the source of the pose channel's state snapshots.
func (h *Hooks) SetState(f func() []byte) { h.state.Store(&f) }

func (h *Hooks) command(s *webrtc.Session, msg []byte) {
	if f := h.commands.Load(); f != nil {
		(*f)(s, msg)
	}
}

func (h *Hooks) pose() []byte {
	if f := h.state.Load(); f != nil {
		return (*f)()
	}
	return nil
}

// Actor is the media actor.
type Actor struct {
	opt  Options
	log  *slog.Logger
	cell *Cell
	run  *running
	wob  *Wobbler
	self *actor.PID
	root *actor.RootContext

	sound    *gst.Process
	soundGen uint64
}

// Props returns the media actor's props.
func Props(opt Options) *actor.Props {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SpeakerInputs <= 0 {
		opt.SpeakerInputs = 4
	}
	if opt.Cell == nil {
		opt.Cell = NewCell("")
	}
	if opt.Hooks == nil {
		opt.Hooks = new(Hooks)
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, log: opt.Log.With("actor", "media"), cell: opt.Cell, wob: NewWobbler()}
	}, kit.CrashOption())
}

// Internal messages.
type (
	levelReport  struct{ rms float64 }
	pipeEvent    struct{ ev gst.Event }
	soundEnded   struct{ gen uint64 }
	saveProbed   struct{ err error }
	wobbleSilent struct{}
)

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.self, a.root = ctx.Self(), ctx.ActorSystem().Root
		if a.cell.reason == "" && !a.cell.released.Load() {
			a.acquire()
		}
	case *actor.Stopping, *actor.Restarting:
		a.stopSound()
		a.release()

	case *messages.GetMediaStatus:
		kit.Reply(ctx, a.cell.Status())
	case *messages.SetMediaReleased:
		if a.cell.reason == "" {
			a.cell.released.Store(m.Released)
			if m.Released {
				a.stopSound()
				a.release()
			} else if a.run == nil {
				a.acquire()
			}
		}
		kit.Reply(ctx, a.cell.Status())

	case *messages.PlaySound:
		if err := a.playSound(m.File); err != nil {
			kit.Reply(ctx, err)
			return
		}
		kit.Reply(ctx, messages.MediaOK{})
	case *messages.StopSound:
		a.stopSound()
		kit.Reply(ctx, messages.MediaOK{})
	case *messages.PlayTestSound:
		if err := a.playSound(sounds.TestSound); err != nil {
			kit.Reply(ctx, err)
			return
		}
		kit.Reply(ctx, messages.TestSound{})
	case *messages.ClearIncomingAudio:
		// Consumers' audio waits only in the speaker's jitter buffers (tens
		// of milliseconds); there is no queue to flush.
		kit.Reply(ctx, messages.MediaOK{})
	case *soundEnded:
		if m.gen == a.soundGen {
			a.sound = nil
			a.cell.setSound("")
		}

	case *messages.GetVolume:
		kit.Reply(ctx, a.getVolume(m.Microphone))
	case *messages.SetVolume:
		kit.Reply(ctx, a.setVolume(m))

	case *messages.SetWobbling:
		a.cell.wobbling.Store(m.On)
		if !m.On {
			a.wob.Reset()
			a.tellOffsets([6]float64{})
		}
		kit.Reply(ctx, messages.MediaOK{})
	case *levelReport:
		if a.cell.wobbling.Load() {
			a.tellOffsets(a.wob.Step(m.rms, a.opt.Now()))
		}

	case *messages.ListSounds:
		a.listSounds(ctx)
	case *messages.SaveSound:
		a.saveSound(ctx, m)
	case *messages.DeleteSound:
		if a.opt.Sounds == nil {
			kit.Reply(ctx, errNoMedia)
			return
		}
		if err := a.opt.Sounds.Delete(m.Name); err != nil {
			kit.Reply(ctx, err)
			return
		}
		kit.Reply(ctx, messages.MediaOK{})

	case *messages.GetCameraSpecs:
		kit.Reply(ctx, specs.Get(a.opt.SpecsName))
	case *messages.GetDoA:
		if d, ok := a.cell.DoA(a.opt.Now()); ok {
			kit.Reply(ctx, d)
			return
		}
		kit.Reply(ctx, a.readDoA())
	case *messages.ApplyAudioConfig:
		if a.opt.Board == nil {
			kit.Reply(ctx, doa.ErrNoDevice)
			return
		}
		applied, fails := a.opt.Board.Apply(m.Params, m.Verify)
		if len(fails) > 0 && !applied {
			kit.Reply(ctx, messages.Errorf(messages.KindInternal, "apply_audio_config failed: %v", errors.Join(fails...)))
			return
		}
		kit.Reply(ctx, messages.AudioConfigApplied{Applied: applied})
	case *messages.ReadAudioParameter:
		if a.opt.Board == nil {
			kit.Reply(ctx, doa.ErrNoDevice)
			return
		}
		v, err := a.opt.Board.ReadParameter(m.Name)
		if err != nil {
			var me *messages.Error
			if errors.As(err, &me) {
				kit.Reply(ctx, err)
			} else {
				kit.Reply(ctx, messages.Errorf(messages.KindInternal, "read_audio_parameter failed: %v", err))
			}
			return
		}
		kit.Reply(ctx, messages.AudioParam{Name: m.Name, Values: v})

	case *messages.ListMediaSessions:
		kit.Reply(ctx, messages.MediaSessions{Sessions: a.cell.Sessions()})
	case *messages.EndMediaSessions:
		if p := a.cell.producer.Load(); p != nil {
			if m.ID != "" {
				p.EndSession(m.ID, m.Reason)
			} else {
				p.EndAll(m.Reason)
			}
		}
		kit.Reply(ctx, messages.MediaOK{})

	case *pipeEvent:
		a.pipelineEvent(m.ev)
	}
}

var errNoMedia = &messages.Error{Kind: messages.KindUnavailable, Detail: "Media is not available", Reason: "no_media"}

func (a *Actor) tellOffsets(o [6]float64) {
	if a.opt.Moves != nil {
		a.root.Send(a.opt.Moves, &messages.SetSpeechOffsets{Offsets: o})
	}
}

// ---- lifecycle -------------------------------------------------------------------

// running is everything acquire opened; release closes it.
type running struct {
	ctx       context.Context
	cancel    context.CancelFunc
	videoRx   *gst.UDPReceiver
	micRx     *gst.UDPReceiver
	video     *gst.Process
	audio     *gst.Process
	router    *speakerRouter
	producer  *webrtc.Producer
	ln        net.Listener
	srv       *http.Server
	soundPort atomic.Int32
	feedDone  chan struct{}
	// viewers counts the producer's sessions: the encoder is fed only
	// while someone watches, so an idle robot does not encode video.
	viewers atomic.Int32
	// viewersChanged wakes the camera feeder when viewers changed.
	viewersChanged chan struct{}
	// keyframe carries consumers' keyframe requests to the camera feeder
	// (one pending at most).
	keyframe chan struct{}
}

// RenewEvery bounds the video pipeline's renewals for keyframe requests:
// each costs every viewer about a frame, so a consumer on a lossy link
// that keeps asking costs the others one a second at most. A request
// within RenewEvery of a renewal is served when it has passed.
const RenewEvery = time.Second

// viewersDelta counts a session in or out and wakes the camera feeder.
func (r *running) viewersDelta(d int32) {
	r.viewers.Add(d)
	select {
	case r.viewersChanged <- struct{}{}:
	default:
	}
}

// acquire starts the pipelines and the producer. A part that fails to
// start is logged and left out (a robot without a speaker still streams
// its camera); the signalling listener failing leaves media unavailable.
func (a *Actor) acquire() {
	if a.run != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{ctx: ctx, cancel: cancel, feedDone: make(chan struct{}), viewersChanged: make(chan struct{}, 1),
		keyframe: make(chan struct{}, 1)}
	a.run = r
	self, root := a.self, a.root
	onEvent := func(ev gst.Event) { root.Send(self, &pipeEvent{ev: ev}) }

	// The producer first: the pipelines' receivers write into it.
	var err error
	r.router, err = newSpeakerRouter(a.opt.SpeakerInputs)
	if err != nil {
		a.log.Error("media: speaker inputs", "err", err)
	}
	wcfg := a.opt.WebRTC
	wcfg.Logger = a.log.With("component", "webrtc")
	wcfg.OnCommand = a.opt.Hooks.command
	wcfg.PoseState = a.opt.Hooks.pose
	router := r.router
	wcfg.OnRemoteAudio = func(session string, pkt []byte) {
		if router != nil {
			router.forward(session, pkt)
		}
	}
	userEnd := wcfg.OnSessionEnd
	wcfg.OnSessionEnd = func(s *webrtc.Session, reason string) {
		r.viewersDelta(-1)
		if router != nil {
			router.end(s.ID())
		}
		a.log.Info("media: session ended", "session", s.ID(), "reason", reason)
		if userEnd != nil {
			userEnd(s, reason)
		}
	}
	userStart := wcfg.OnSessionStart
	wcfg.OnSessionStart = func(s *webrtc.Session) {
		r.viewersDelta(1)
		a.log.Info("media: session started", "session", s.ID(), "peer", s.PeerID())
		if userStart != nil {
			userStart(s)
		}
	}
	userKeyframe := wcfg.OnKeyframeRequest
	wcfg.OnKeyframeRequest = func(session string) {
		select {
		case r.keyframe <- struct{}{}:
		default:
		}
		if userKeyframe != nil {
			userKeyframe(session)
		}
	}
	if a.opt.VideoEncoder.Codec() == "h264" {
		wcfg.VideoMimeType = "video/H264"
	}
	r.producer, err = webrtc.New(wcfg)
	if err != nil {
		a.log.Error("media: WebRTC producer", "err", err)
		a.release()
		return
	}
	if err := a.cell.attachICE(r.producer, wcfg.ICEServers); err != nil {
		a.log.Warn("media: extra ICE servers refused; new sessions get the static ones", "err", err)
	}
	if a.opt.Listen != nil {
		r.ln, err = a.opt.Listen()
		if err != nil {
			a.log.Error("media: WebRTC signalling listener; media unavailable until acquired again", "err", err)
			a.release()
			return
		}
		addr := r.ln.Addr().String()
		a.cell.signalling.Store(&addr)
		r.srv = &http.Server{Handler: r.producer, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}
		go func(srv *http.Server, ln net.Listener) { _ = srv.Serve(ln) }(r.srv, r.ln)
	}
	a.cell.producer.Store(r.producer)
	producer := r.producer

	// Video: camera frames -> encoder -> RTP -> producer.
	if a.opt.Camera != nil && len(a.opt.Info.VideoEncoders()) > 0 {
		r.videoRx, err = gst.NewUDPReceiver(func(pkt []byte) { _ = producer.WriteVideoRTP(pkt) })
		if err == nil {
			argv, aerr := gst.VideoArgs(a.opt.Launch, gst.VideoConfig{Encoder: a.opt.VideoEncoder, Port: r.videoRx.Port(), Framerate: a.opt.CameraFPS,
				KeyframeInterval: a.opt.KeyframeInterval})
			if aerr != nil {
				err = aerr
			} else {
				r.video, err = gst.Start(ctx, gst.Spec{Name: "video", Argv: gst.Fixed(argv), Restart: gst.RestartAlways, Nice: gst.BackgroundNice, Slice: gst.PipelineSlice,
					StdinPipe: true, OnEvent: onEvent, Logger: a.log.With("pipeline", "video")})
			}
		}
		if err != nil {
			a.log.Error("media: video pipeline", "err", err)
		} else {
			go func(p *gst.Process) {
				defer close(r.feedDone)
				// Subscribed to the camera only while someone watches: a
				// camera that runs on demand then stops when nobody does.
				var frames <-chan hwcam.Frame
				unsubscribe := func() {}
				defer func() { unsubscribe() }()
				// gst-launch-1.0 cannot be asked for a keyframe; a new
				// encoder starts with one. Requests within RenewEvery of
				// a renewal wait for its end, coalesced (later: a timer's
				// channel, nil when none waits).
				var renewed time.Time
				var later <-chan time.Time
				renew := func() {
					if frames != nil {
						renewed = time.Now()
						p.Renew()
					}
				}
				for {
					switch watched := r.viewers.Load() > 0; {
					case watched && frames == nil:
						frames, unsubscribe = a.opt.Camera.Subscribe()
					case !watched && frames != nil:
						unsubscribe()
						frames, unsubscribe = nil, func() {}
					}
					select {
					case <-ctx.Done():
						return
					case <-r.viewersChanged:
					case <-r.keyframe:
						switch wait := RenewEvery - time.Since(renewed); {
						case later != nil: // one is waiting already
						case wait <= 0:
							renew()
						default:
							later = time.After(wait)
						}
					case <-later:
						later = nil
						renew()
					case f, ok := <-frames:
						if !ok {
							frames, unsubscribe = nil, func() {}
							continue
						}
						p.Write(f.JPEG)
					}
				}
			}(r.video)
		}
	} else {
		close(r.feedDone)
	}
	if r.video == nil {
		select {
		case <-r.feedDone:
		default:
			close(r.feedDone)
		}
	}

	// Audio: microphone -> Opus RTP -> producer; consumers and sounds ->
	// speaker.
	if a.opt.Info.Audio() {
		r.micRx, err = gst.NewUDPReceiver(func(pkt []byte) { _ = producer.WriteAudioRTP(pkt) })
		if err != nil {
			a.log.Error("media: microphone receiver", "err", err)
		}
		cell := a.cell
		acfg := a.opt.Audio
		if r.micRx != nil {
			acfg.MicPort = r.micRx.Port()
		}
		argv := func() ([]string, error) {
			ports, err := gst.FreeUDPPorts(a.opt.SpeakerInputs + 1)
			if err != nil {
				return nil, err
			}
			c := acfg
			c.SpeakerPorts, c.SoundPort = ports[:len(ports)-1], ports[len(ports)-1]
			if router != nil {
				router.setPorts(c.SpeakerPorts)
			}
			r.soundPort.Store(int32(c.SoundPort))
			return gst.AudioArgs(a.opt.Launch, c)
		}
		level := gst.LevelHandler(func(l gst.Level) {
			if l.Element != gst.LevelElement {
				return
			}
			cell.setLevel(l.RMS)
			if cell.wobbling.Load() {
				root.Send(self, &levelReport{rms: l.RMS})
			}
		})
		r.audio, err = gst.Start(ctx, gst.Spec{Name: "audio", Argv: argv, Restart: gst.RestartAlways, Slice: gst.PipelineSlice,
			OnStdout: level, OnEvent: onEvent, Logger: a.log.With("pipeline", "audio")})
		if err != nil {
			a.log.Error("media: audio pipeline", "err", err)
		}
	}
	if a.opt.DoA != nil {
		go pollDoA(ctx, a.cell, a.opt.DoA, a.opt.Now)
	}
	a.log.Info("media acquired", "signalling", a.signalling(), "video", r.video != nil, "audio", r.audio != nil)
}

func (a *Actor) signalling() string {
	if s := a.cell.signalling.Load(); s != nil {
		return *s
	}
	return ""
}

// release stops everything acquire started.
func (a *Actor) release() {
	r := a.run
	if r == nil {
		return
	}
	a.run = nil
	a.cell.producer.Store(nil)
	_ = a.cell.attachICE(nil, nil)
	a.cell.signalling.Store(nil)
	if r.srv != nil {
		_ = r.srv.Close() // closes the listener and the signalling connections' HTTP side
	}
	if r.producer != nil {
		_ = r.producer.Close()
	}
	r.cancel()
	for _, p := range []*gst.Process{r.video, r.audio} {
		if p != nil {
			p.Stop()
		}
	}
	<-r.feedDone
	for _, rx := range []*gst.UDPReceiver{r.videoRx, r.micRx} {
		if rx != nil {
			_ = rx.Close()
		}
	}
	if r.router != nil {
		r.router.close()
	}
	a.cell.clearPipes()
	a.log.Info("media released")
}

// pipelineEvent records a pipeline's start, exit and restart in the cell.
func (a *Actor) pipelineEvent(ev gst.Event) {
	ps := a.cell.pipe(ev.Name)
	switch ev.Kind {
	case gst.EventStarted:
		ps.Pid, ps.Running, ps.Restarts = ev.Pid, true, max(0, ev.Run-1)
	case gst.EventExited:
		ps.Running = false
		ps.LastError = ev.Status
		if len(ev.Stderr) > 0 {
			ps.LastError += ": " + ev.Stderr[0]
		}
		a.log.Warn("media pipeline ended", "pipeline", ev.Name, "status", ev.Status, "restart", ev.Restart, "in", ev.Delay)
	case gst.EventStopped, gst.EventGaveUp:
		ps.Running = false
		if ev.Err != nil {
			ps.LastError = ev.Err.Error()
		}
	}
	if a.run == nil && ev.Name != "sound" {
		return // a late event of a released pipeline
	}
	a.cell.setPipe(ps)
}

// ---- sounds ----------------------------------------------------------------------

// playSound starts the sound player for file (resolved as the reference
// does); a missing file is only logged, as the reference does.
func (a *Actor) playSound(file string) error {
	r := a.run
	if r == nil || r.audio == nil {
		return errNoMedia
	}
	path, ok := file, true
	if a.opt.Sounds != nil {
		path, ok = a.opt.Sounds.Resolve(file)
	}
	if !ok {
		a.log.Warn("play_sound: no such sound", "file", filepath.Base(file))
		return nil
	}
	a.stopSound()
	a.soundGen++
	gen, self, root := a.soundGen, a.self, a.root
	p, err := gst.PlaySound(r.ctx, a.opt.Launch, path, int(r.soundPort.Load()), a.log.With("pipeline", "sound"))
	if err != nil {
		a.log.Warn("play_sound failed", "file", filepath.Base(file), "err", err)
		return nil
	}
	a.sound = p
	a.cell.setSound(filepath.Base(path))
	go func() {
		<-p.Done()
		root.Send(self, &soundEnded{gen: gen})
	}()
	return nil
}

func (a *Actor) stopSound() {
	if a.sound != nil {
		a.sound.Stop()
		a.sound = nil
		a.soundGen++
		a.cell.setSound("")
	}
}

func (a *Actor) listSounds(ctx actor.Context) {
	if a.opt.Sounds == nil {
		kit.Reply(ctx, messages.Sounds{})
		return
	}
	names, err := a.opt.Sounds.List()
	if err != nil {
		kit.Reply(ctx, messages.Errorf(messages.KindInternal, "Failed to list sounds: %v", err))
		return
	}
	kit.Reply(ctx, messages.Sounds{Names: names})
}

// saveSound probes and commits an upload off the actor's goroutine (the
// probe may take up to 5 s) and answers when it is done.
func (a *Actor) saveSound(ctx actor.Context, m *messages.SaveSound) {
	if a.opt.Sounds == nil || a.cell.reason != "" {
		kit.Reply(ctx, errNoMedia)
		return
	}
	sender, root, store, launch := ctx.Sender(), a.root, a.opt.Sounds, a.opt.Launch
	go func() {
		err := store.Commit(m.Temp, m.Name, func(path string) error {
			pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return gst.Probe(pctx, launch, path)
		})
		if sender == nil {
			return
		}
		if err != nil {
			root.Send(sender, err)
			return
		}
		root.Send(sender, messages.MediaOK{})
	}()
}

// ---- volume and DoA --------------------------------------------------------------

func (a *Actor) getVolume(mic bool) any {
	mx := a.opt.Mixer
	if mx == nil {
		return a.noMixer()
	}
	var v int
	var err error
	if mic {
		v, err = mx.Mic()
	} else {
		v, err = mx.Speaker()
	}
	if err != nil || v < 0 {
		a.log.Warn("volume read failed", "microphone", mic, "err", err)
		if mic {
			return messages.Errorf(messages.KindInternal, "Failed to get microphone volume")
		}
		return messages.Errorf(messages.KindInternal, "Failed to get volume")
	}
	dev := mx.Device()
	if mic {
		dev = mx.MicDevice()
	}
	return messages.Volume{Volume: v, Platform: mx.Platform(), Device: dev}
}

func (a *Actor) setVolume(m *messages.SetVolume) any {
	mx := a.opt.Mixer
	if mx == nil {
		return a.noMixer()
	}
	var err error
	if m.Microphone {
		err = mx.SetMic(m.Volume)
	} else {
		err = mx.SetSpeaker(m.Volume)
	}
	if err != nil {
		a.log.Warn("volume change failed", "microphone", m.Microphone, "err", err)
		if m.Microphone {
			return messages.Errorf(messages.KindInternal, "Failed to set microphone volume")
		}
		return messages.Errorf(messages.KindInternal, "Failed to set volume")
	}
	if m.TestSound && !m.Microphone {
		_ = a.playSound(sounds.TestSound)
	}
	return a.getVolume(m.Microphone)
}

func (a *Actor) noMixer() error {
	why := "no mixer"
	if a.opt.MixerErr != nil {
		why = a.opt.MixerErr.Error()
	}
	return &messages.Error{Kind: messages.KindUnavailable, Detail: fmt.Sprintf("Volume control unavailable: %s", why), Reason: "no_mixer"}
}

func (a *Actor) readDoA() messages.DoA {
	if a.opt.DoA == nil || a.cell.reason != "" {
		return messages.DoA{}
	}
	d, err := a.opt.DoA.Read()
	if err != nil {
		return messages.DoA{}
	}
	a.cell.doa.Store(&doaReading{d: d, at: a.opt.Now()})
	return d
}

// pollDoA reads the direction of arrival every 100 ms while it is wanted,
// into the cell, until ctx ends. The source is safe for concurrent use (the
// board serialises its USB conversations).
func pollDoA(ctx context.Context, cell *Cell, src doa.Source, now func() time.Time) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !cell.doaWanted(now()) {
			continue
		}
		if d, err := src.Read(); err == nil {
			cell.doa.Store(&doaReading{d: d, at: now()})
		}
	}
}
