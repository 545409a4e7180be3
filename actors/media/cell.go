package media

import (
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"reachyd/media/webrtc"
	"reachyd/messages"
)

// Cell is the media actor's state that must outlive a restart of the actor
// (released, wobbling) and what other actors read without asking it (the
// daemon's status is built every second and on every status request): the
// producer, the pipelines' state, the speaker's level.
type Cell struct {
	reason   string // why media is off for good ("" when available)
	released atomic.Bool
	wobbling atomic.Bool

	producer   atomic.Pointer[webrtc.Producer]
	signalling atomic.Pointer[string]

	levelBits atomic.Uint64 // float64 dBFS
	loud      atomic.Uint64

	// The direction of arrival, polled by the actor every 100 ms while
	// someone read it in the last minute (the reference's on-demand poll).
	doa       atomic.Pointer[doaReading]
	doaDemand atomic.Int64 // unix ns of the last read

	mu    sync.Mutex
	pipes map[string]messages.PipelineStatus
	sound string

	// ICE servers beyond the static ones (TURN credentials, refreshed):
	// the producer is recreated on every acquire, so they live here and
	// are applied to the running producer and to each new one.
	iceMu       sync.Mutex
	iceProducer *webrtc.Producer
	iceStatic   []webrtc.ICEServer
	iceExtra    []webrtc.ICEServer
}

// SetExtraICEServers sets the servers new sessions get after the static
// ones (--ice-server): TURN credentials, replaced at each refresh, nil to
// drop them. They apply to the running producer at once and to every
// producer media starts later. A list the producer refuses is an error and
// leaves the previous one in use.
func (c *Cell) SetExtraICEServers(servers []webrtc.ICEServer) error {
	c.iceMu.Lock()
	defer c.iceMu.Unlock()
	if p := c.iceProducer; p != nil {
		if err := p.SetICEServers(append(slices.Clone(c.iceStatic), servers...)); err != nil {
			return err
		}
	}
	c.iceExtra = slices.Clone(servers)
	return nil
}

// attachICE gives a new producer (nil: none) the static servers it was
// built with plus the current extra ones.
func (c *Cell) attachICE(p *webrtc.Producer, static []webrtc.ICEServer) error {
	c.iceMu.Lock()
	defer c.iceMu.Unlock()
	c.iceProducer, c.iceStatic = p, slices.Clone(static)
	if p == nil || len(c.iceExtra) == 0 {
		return nil
	}
	return p.SetICEServers(append(slices.Clone(static), c.iceExtra...))
}

type doaReading struct {
	d  messages.DoA
	at time.Time
}

// DoA is the latest direction of arrival (ok false when there is no fresh
// reading: the caller asks the actor). Reading it keeps the poll going.
func (c *Cell) DoA(now time.Time) (messages.DoA, bool) {
	c.doaDemand.Store(now.UnixNano())
	r := c.doa.Load()
	if r == nil || now.Sub(r.at) > doaFresh {
		return messages.DoA{}, false
	}
	return r.d, true
}

// doaFresh is how old a polled reading may be.
const doaFresh = 500 * time.Millisecond

func (c *Cell) doaWanted(now time.Time) bool {
	return now.Sub(time.Unix(0, c.doaDemand.Load())) < doaIdle
}

// doaIdle stops the poll after a minute without readers.
const doaIdle = time.Minute

// NewCell returns the cell of a media actor. reason, when not empty, says
// why media is off (--no-media, GStreamer missing): the actor then opens
// nothing and every media request is answered as the reference does
// without a media server.
func NewCell(reason string) *Cell {
	c := &Cell{reason: reason, pipes: map[string]messages.PipelineStatus{}}
	c.levelBits.Store(math.Float64bits(math.Inf(-1)))
	return c
}

// Producer is the WebRTC producer while media runs (nil otherwise).
func (c *Cell) Producer() *webrtc.Producer { return c.producer.Load() }

// Reason says why media is off ("" when it is available).
func (c *Cell) Reason() string { return c.reason }

// Status is /api/media/status with reachyd's detail.
func (c *Cell) Status() messages.MediaStatus {
	p := c.producer.Load()
	d := c.Detail()
	return messages.MediaStatus{
		Available: c.reason == "" && !c.released.Load() && p != nil,
		Released:  c.released.Load(),
		NoMedia:   c.reason != "",
		Detail:    d,
	}
}

// Detail is the media block of the daemon status.
func (c *Cell) Detail() *messages.MediaDetail {
	d := &messages.MediaDetail{Reason: c.reason, SpeakerRMS: c.level(), SpeakerLoud: c.loud.Load(), Wobbling: c.wobbling.Load()}
	if s := c.signalling.Load(); s != nil {
		d.Signalling = *s
	}
	if p := c.producer.Load(); p != nil {
		d.Sessions = sessions(p)
	}
	c.mu.Lock()
	for _, ps := range c.pipes {
		d.Pipelines = append(d.Pipelines, ps)
	}
	d.Sound = c.sound
	c.mu.Unlock()
	sort.Slice(d.Pipelines, func(i, j int) bool { return d.Pipelines[i].Name < d.Pipelines[j].Name })
	return d
}

// Sessions lists the producer's consumers.
func (c *Cell) Sessions() []messages.MediaSession {
	if p := c.producer.Load(); p != nil {
		return sessions(p)
	}
	return nil
}

func sessions(p *webrtc.Producer) []messages.MediaSession {
	var out []messages.MediaSession
	for _, i := range p.Sessions() {
		out = append(out, messages.MediaSession{
			ID: i.ID, PeerID: i.PeerID, Remote: i.Remote, State: i.State, Audio: i.RemoteAudio,
			Since: i.Since.UTC().Format(time.RFC3339), Relay: i.InProc, Pose: i.Pose, Messages: i.Messages,
		})
	}
	return out
}

// loudDB is the level above which a report counts as the speaker playing
// something (a tone, a voice; not the noise floor of a codec).
const loudDB = -40

func (c *Cell) setLevel(db float64) {
	c.levelBits.Store(math.Float64bits(db))
	if db > loudDB {
		c.loud.Add(1)
	}
}

func (c *Cell) level() float64 {
	v := math.Float64frombits(c.levelBits.Load())
	if math.IsInf(v, 0) || math.IsNaN(v) || v < -200 {
		return -200 // JSON has no -Inf; GStreamer reports silence near -700
	}
	return v
}

func (c *Cell) setPipe(ps messages.PipelineStatus) {
	c.mu.Lock()
	c.pipes[ps.Name] = ps
	c.mu.Unlock()
}

func (c *Cell) pipe(name string) messages.PipelineStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pipes[name]
	if !ok {
		ps.Name = name
	}
	return ps
}

func (c *Cell) clearPipes() {
	c.mu.Lock()
	clear(c.pipes)
	c.mu.Unlock()
}

func (c *Cell) setSound(s string) {
	c.mu.Lock()
	c.sound = s
	c.mu.Unlock()
}
