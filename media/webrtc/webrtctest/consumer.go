// Package webrtctest is a consumer of reachyd's WebRTC producer that
// behaves as gstwebrtc-api (the desktop app's library, npm 3.0.0) does, for
// tests and the benchmark tool (cmd/reachyd-bench). It is not for robots in
// use: ICE gathers loopback candidates only (UDP4, no mDNS), so nothing it
// does leaves the machine.
//
// Dial follows the library's steps over the webrtcsink signalling protocol:
// welcome, setPeerStatus as a listener, wait for its own
// peerStatusChanged, list, startSession with the producer named
// "reachymini", then answer the robot's offer. It checks on the way what
// the library relies on, and returns an error where the library would fail:
// no ICE candidate before the offer (gstwebrtc-api closes the session on
// one), sessionStarted carries the producer's peerId and a sessionId, the
// first SDP is an offer. Dial returns once the robot's `data` channel is
// open. The Consumer then exposes the received RTP (channels, or callbacks
// on pion's reading goroutines), the `data` channel as commands and
// replies, the `pose` channel's frames, and the signalling's endSession.
// An optional microphone track answers the robot's sendrecv audio.
//
// Tested against reachyd's producer (media/webrtc) in-process here, and
// through the whole daemon with GStreamer decoders in cmd/reachyd's media
// tests; the browser test there runs gstwebrtc-api itself against the same
// producer.
package webrtctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

// ProducerName is the meta name of reachyd's producer (and the reference
// daemon's webrtcsink): what the desktop app and the SDK look for.
const ProducerName = "reachymini"

// Errors of Dial for protocol violations.
var (
	// ErrNoProducer: the list had no producer with the wanted name.
	ErrNoProducer = errors.New("webrtctest: no producer with the wanted name in the list")
	// ErrICEBeforeOffer: an ICE candidate came before the offer, which
	// gstwebrtc-api treats as a fatal error for the session.
	ErrICEBeforeOffer = errors.New("webrtctest: an ICE candidate came before the offer (gstwebrtc-api closes the session on it)")
	// ErrProtocol wraps any other departure from the protocol.
	ErrProtocol = errors.New("webrtctest: protocol violation")
)

// Limits.
const (
	// DefaultDialTimeout bounds Dial when ctx has no deadline.
	DefaultDialTimeout = 20 * time.Second
	// maxSignalling is the largest signalling message read (the producer's
	// own cap is 256 KiB).
	maxSignalling = 1 << 20
	// maxReplies bounds the unclaimed data channel replies kept (oldest
	// dropped).
	maxReplies = 1024
	// maxPose bounds the pose sequence numbers kept.
	maxPose = 1 << 16
	// maxCandidates bounds the robot's candidates kept.
	maxCandidates = 256
)

// Options configure a consumer. The zero value is the desktop app's
// behaviour with channels for the media.
type Options struct {
	// Name is this consumer's meta name (default "reachyd-webrtctest").
	Name string
	// Producer is the meta name of the producer to start a session with
	// (default ProducerName).
	Producer string
	// Mic, when set, is sent on the robot's sendrecv audio transceiver:
	// the consumer's microphone (Opus RTP).
	Mic pion.TrackLocal
	// OnVideo and OnAudio, when set, get every received RTP packet, on
	// pion's reading goroutine of that track (do not block). When nil,
	// packets go to Consumer.Video and Consumer.Audio, QueueLen deep, and
	// are dropped while the queue is full.
	OnVideo, OnAudio func(*rtp.Packet)
	// QueueLen is the depth of Video and Audio (default 4096).
	QueueLen int
	// ICEServers are the consumer's STUN/TURN servers (loopback ones in
	// tests: a TURN server on 127.0.0.1).
	ICEServers []pion.ICEServer
	// RelayOnly sets the ICE transport policy to relay: the consumer
	// reaches the robot only through its TURN server's relayed address.
	RelayOnly bool
}

// Consumer is one connected consumer session.
type Consumer struct {
	// Video and Audio receive the robot's RTP when Options.OnVideo and
	// OnAudio are nil (VP8 or H.264, and Opus, as negotiated).
	Video <-chan *rtp.Packet
	Audio <-chan *rtp.Packet

	ws      *websocket.Conn
	wmu     sync.Mutex
	pc      *pion.PeerConnection
	session string
	offer   string
	opened  chan struct{}
	closing sync.Once

	mu      sync.Mutex
	data    *pion.DataChannel
	replies []map[string]any
	pose    []int64
	poseDC  *pion.DataChannel
	ended   string
	endedC  chan struct{}
	cands   []string // the robot's trickled candidates
}

// sigMsg is a signalling message as the consumer reads it.
type sigMsg struct {
	Type      string          `json:"type"`
	PeerID    string          `json:"peerId,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Roles     []string        `json:"roles,omitempty"`
	Meta      json.RawMessage `json:"meta,omitempty"`
	Producers []struct {
		ID   string          `json:"id"`
		Meta json.RawMessage `json:"meta"`
	} `json:"producers,omitempty"`
	SDP *struct {
		Type string `json:"type"`
		SDP  string `json:"sdp"`
	} `json:"sdp,omitempty"`
	ICE *struct {
		Candidate     string  `json:"candidate"`
		SDPMLineIndex *uint16 `json:"sdpMLineIndex"`
		SDPMid        *string `json:"sdpMid"`
	} `json:"ice,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Details string `json:"details,omitempty"`
}

// Dial connects to the signalling server at url (ws://host:port) and
// starts a session with the robot, as gstwebrtc-api does. It returns when
// the `data` channel is open, or an error when ctx ends first (after
// DefaultDialTimeout when ctx has no deadline) or the server departs from
// the protocol.
func Dial(ctx context.Context, url string, opt Options) (_ *Consumer, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultDialTimeout)
		defer cancel()
	}
	if opt.Name == "" {
		opt.Name = "reachyd-webrtctest"
	}
	if opt.Producer == "" {
		opt.Producer = ProducerName
	}
	if opt.QueueLen <= 0 {
		opt.QueueLen = 4096
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("webrtctest: dial %s: %w", url, err)
	}
	ws.SetReadLimit(maxSignalling)
	video, audio := make(chan *rtp.Packet, opt.QueueLen), make(chan *rtp.Packet, opt.QueueLen)
	c := &Consumer{Video: video, Audio: audio, ws: ws, opened: make(chan struct{}), endedC: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	// The handshake's reads end with ctx: a deadline, and a close when ctx
	// is cancelled.
	if d, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()
	wrap := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("webrtctest: %w (%v)", ctx.Err(), err)
		}
		// The read deadline is ctx's: it may fire a moment before ctx's own
		// timer says so.
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			return fmt.Errorf("webrtctest: %w (%v)", context.DeadlineExceeded, err)
		}
		return err
	}

	welcome, err := c.readUntil("welcome")
	if err != nil {
		return nil, wrap(err)
	}
	if err := c.send(map[string]any{"type": "setPeerStatus", "roles": []string{"listener"}, "meta": map[string]string{"name": opt.Name}}); err != nil {
		return nil, wrap(err)
	}
	for {
		m, err := c.readUntil("peerStatusChanged")
		if err != nil {
			return nil, wrap(err)
		}
		if m.PeerID == welcome.PeerID {
			break
		}
	}
	if err := c.send(map[string]string{"type": "list"}); err != nil {
		return nil, wrap(err)
	}
	list, err := c.readUntil("list")
	if err != nil {
		return nil, wrap(err)
	}
	producer := ""
	for _, p := range list.Producers {
		var meta struct{ Name string }
		_ = json.Unmarshal(p.Meta, &meta)
		if meta.Name == opt.Producer {
			producer = p.ID
		}
	}
	if producer == "" {
		return nil, fmt.Errorf("%w: %q among %d producers", ErrNoProducer, opt.Producer, len(list.Producers))
	}
	if err := c.send(map[string]string{"type": "startSession", "peerId": producer}); err != nil {
		return nil, wrap(err)
	}
	started, err := c.readUntil("sessionStarted")
	if err != nil {
		return nil, wrap(err)
	}
	if started.PeerID != producer || started.SessionID == "" {
		return nil, fmt.Errorf("%w: sessionStarted with peerId %q and sessionId %q, want peerId %s and a sessionId",
			ErrProtocol, started.PeerID, started.SessionID, producer)
	}
	c.session = started.SessionID
	var offer sigMsg
	for {
		if offer, err = c.read(); err != nil {
			return nil, wrap(err)
		}
		if offer.Type == "peer" && offer.ICE != nil {
			return nil, ErrICEBeforeOffer
		}
		if offer.Type == "peer" && offer.SDP != nil {
			break
		}
		if offer.Type == "error" || offer.Type == "endSession" {
			return nil, fmt.Errorf("%w: waiting for the offer, got %s %s%s", ErrProtocol, offer.Type, offer.Details, offer.Reason)
		}
	}
	if offer.SDP.Type != "offer" {
		return nil, fmt.Errorf("%w: first SDP is %q, want offer", ErrProtocol, offer.SDP.Type)
	}
	c.offer = offer.SDP.SDP

	if c.pc, err = NewPeerConnection(opt); err != nil {
		return nil, err
	}
	c.pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		on, out := opt.OnVideo, video
		if tr.Kind() == pion.RTPCodecTypeAudio {
			on, out = opt.OnAudio, audio
		}
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if on != nil {
				on(p)
				continue
			}
			select {
			case out <- p:
			default:
			}
		}
	})
	c.pc.OnDataChannel(c.onDataChannel)
	c.pc.OnICECandidate(func(cand *pion.ICECandidate) {
		if cand == nil {
			return
		}
		j := cand.ToJSON()
		_ = c.send(map[string]any{"type": "peer", "sessionId": c.session, "ice": map[string]any{
			"candidate": j.Candidate, "sdpMLineIndex": j.SDPMLineIndex, "sdpMid": j.SDPMid}})
	})
	if err := c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: c.offer}); err != nil {
		return nil, fmt.Errorf("webrtctest: the robot's offer: %w", err)
	}
	if opt.Mic != nil {
		if _, err := c.pc.AddTrack(opt.Mic); err != nil {
			return nil, fmt.Errorf("webrtctest: microphone track: %w", err)
		}
	}
	answer, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return nil, fmt.Errorf("webrtctest: answer: %w", err)
	}
	if err := c.pc.SetLocalDescription(answer); err != nil {
		return nil, fmt.Errorf("webrtctest: answer: %w", err)
	}
	if err := c.send(map[string]any{"type": "peer", "sessionId": c.session, "sdp": map[string]string{"type": "answer", "sdp": answer.SDP}}); err != nil {
		return nil, wrap(err)
	}
	// From here on the reader runs in the background until Close: the
	// robot's candidates and its endSession.
	_ = ws.SetReadDeadline(time.Time{})
	if !stop() {
		return nil, wrap(errors.New("cancelled"))
	}
	go c.readLoop()
	select {
	case <-c.opened:
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("webrtctest: the data channel did not open (ICE state %s): %w", c.pc.ICEConnectionState(), ctx.Err())
	case <-c.endedC:
		return nil, fmt.Errorf("webrtctest: the robot ended the session before the data channel opened: %s", c.Ended())
	}
}

// NewPeerConnection is a PeerConnection with pion's default codecs and
// interceptors (NACK, RTCP reports, TWCC), as a browser negotiates them,
// and loopback-only ICE; opt's ICEServers and RelayOnly apply. Other test
// consumers (the central relay's) use it too.
func NewPeerConnection(opt Options) (*pion.PeerConnection, error) {
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))
	conf := pion.Configuration{ICEServers: opt.ICEServers}
	if opt.RelayOnly {
		conf.ICETransportPolicy = pion.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(conf)
	if err != nil {
		return nil, fmt.Errorf("webrtctest: %w", err)
	}
	return pc, nil
}

func (c *Consumer) onDataChannel(dc *pion.DataChannel) {
	switch dc.Label() {
	case "data":
		c.mu.Lock()
		c.data = dc
		c.mu.Unlock()
		var once sync.Once
		dc.OnOpen(func() { once.Do(func() { close(c.opened) }) })
		dc.OnMessage(func(m pion.DataChannelMessage) {
			var v map[string]any
			if json.Unmarshal(m.Data, &v) != nil {
				return
			}
			c.mu.Lock()
			if len(c.replies) >= maxReplies {
				c.replies = c.replies[1:]
			}
			c.replies = append(c.replies, v)
			c.mu.Unlock()
		})
	case "pose":
		c.mu.Lock()
		c.poseDC = dc
		c.mu.Unlock()
		dc.OnMessage(func(m pion.DataChannelMessage) {
			var f struct {
				State map[string]any `json:"state"`
				Seq   int64          `json:"seq"`
			}
			if json.Unmarshal(m.Data, &f) == nil && f.State["head_pose"] != nil {
				c.mu.Lock()
				if len(c.pose) < maxPose {
					c.pose = append(c.pose, f.Seq)
				}
				c.mu.Unlock()
			}
		})
	}
}

func (c *Consumer) send(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteJSON(v); err != nil {
		return fmt.Errorf("webrtctest: signalling write: %w", err)
	}
	return nil
}

func (c *Consumer) read() (sigMsg, error) {
	var m sigMsg
	if err := c.ws.ReadJSON(&m); err != nil {
		return m, fmt.Errorf("webrtctest: signalling read: %w", err)
	}
	return m, nil
}

// readUntil skips messages until one of type typ; an error or endSession
// on the way is a failure.
func (c *Consumer) readUntil(typ string) (sigMsg, error) {
	for {
		m, err := c.read()
		if err != nil {
			return m, err
		}
		if m.Type == typ {
			return m, nil
		}
		if m.Type == "error" || m.Type == "endSession" {
			return m, fmt.Errorf("%w: waiting for %s, got %s %s%s", ErrProtocol, typ, m.Type, m.Details, m.Reason)
		}
	}
}

func (c *Consumer) readLoop() {
	for {
		m, err := c.read()
		if err != nil {
			return
		}
		switch {
		case m.Type == "peer" && m.ICE != nil:
			c.mu.Lock()
			if len(c.cands) < maxCandidates {
				c.cands = append(c.cands, m.ICE.Candidate)
			}
			c.mu.Unlock()
			_ = c.pc.AddICECandidate(pion.ICECandidateInit{Candidate: m.ICE.Candidate, SDPMLineIndex: m.ICE.SDPMLineIndex, SDPMid: m.ICE.SDPMid})
		case m.Type == "endSession" && (m.SessionID == "" || m.SessionID == c.session):
			c.mu.Lock()
			first := c.ended == ""
			c.ended = m.Reason
			if c.ended == "" {
				c.ended = "(no reason)"
			}
			c.mu.Unlock()
			if first {
				close(c.endedC)
			}
		}
	}
}

// RemoteCandidates are the ICE candidates the robot trickled so far (the
// "candidate:..." lines).
func (c *Consumer) RemoteCandidates() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.cands...)
}

// Offer is the robot's SDP offer.
func (c *Consumer) Offer() string { return c.offer }

// SessionID is the session's id.
func (c *Consumer) SessionID() string { return c.session }

// PeerConnection is the consumer's PeerConnection (for its state and
// statistics).
func (c *Consumer) PeerConnection() *pion.PeerConnection { return c.pc }

// Ended is the reason of the robot's endSession, "" while the session
// lasts.
func (c *Consumer) Ended() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

// EndedC is closed when the robot ends the session.
func (c *Consumer) EndedC() <-chan struct{} { return c.endedC }

// Send sends v as JSON on the `data` channel.
func (c *Consumer) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.mu.Lock()
	dc := c.data
	c.mu.Unlock()
	if dc == nil {
		return errors.New("webrtctest: no data channel")
	}
	return dc.SendText(string(b))
}

// Command sends v on the `data` channel and waits for the first reply that
// match accepts (that reply is taken; others stay for later calls), until
// ctx ends.
func (c *Consumer) Command(ctx context.Context, v any, match func(map[string]any) bool) (map[string]any, error) {
	if err := c.Send(v); err != nil {
		return nil, err
	}
	return c.WaitReply(ctx, match)
}

// WaitReply waits for the first reply on `data` that match accepts and
// takes it.
func (c *Consumer) WaitReply(ctx context.Context, match func(map[string]any) bool) (map[string]any, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		c.mu.Lock()
		for i, r := range c.replies {
			if match(r) {
				c.replies = append(c.replies[:i:i], c.replies[i+1:]...)
				c.mu.Unlock()
				return r, nil
			}
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("webrtctest: no matching reply: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// ByCommand matches the reply to the named command ({"command": name}).
func ByCommand(name string) func(map[string]any) bool {
	return func(r map[string]any) bool { return r["command"] == name }
}

// PoseSeqs are the sequence numbers of the pose frames received so far
// (frames with a state.head_pose), in arrival order.
func (c *Consumer) PoseSeqs() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int64(nil), c.pose...)
}

// PoseChannel is the `pose` data channel once the robot opened it
// (after subscribe_pose), else nil.
func (c *Consumer) PoseChannel() *pion.DataChannel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.poseDC
}

// Close ends the session: the PeerConnection (the robot sees its DTLS
// close) and the signalling connection. It may be called more than once.
func (c *Consumer) Close() error {
	var err error
	c.closing.Do(func() {
		if c.pc != nil {
			err = c.pc.Close()
		}
		if cerr := c.ws.Close(); err == nil {
			err = cerr
		}
	})
	return err
}
