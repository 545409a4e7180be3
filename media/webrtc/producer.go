// Package webrtc is the robot's WebRTC producer: pion PeerConnections that
// send the camera and microphone and carry the SDK's command channel, behind
// a signalling server that speaks the protocol of GStreamer's webrtcsink
// (gst-plugins-rs net/webrtc, crate gst-plugin-webrtc-protocol). The
// reference daemon runs webrtcsink with run-signalling-server=true on :8443;
// its clients — the desktop app through npm gstwebrtc-api 3.0.0, the Python
// SDK through GStreamer's webrtcsrc, the daemon's own central relay — connect
// to ws://<robot>:8443 and must find the same server here.
//
// # Shape
//
// One Producer owns one pion API (media engine with VP8, H.264 and Opus,
// pion's default interceptors: NACK, RTCP reports, TWCC; one setting
// engine) and two shared tracks. WriteVideoRTP and WriteAudioRTP take RTP
// packets from the media pipelines and fan them out to every session; pion
// rewrites SSRC and payload type per session. Each session is a
// PeerConnection in which the robot offers: a video track (sendonly) and an
// audio track (sendrecv, so a consumer may answer with its microphone, whose
// RTP goes to Config.OnRemoteAudio), both in one msid stream, and the
// reliable ordered `data` channel, created before the offer. The daemon sees
// sessions through callbacks (OnSessionStart, OnCommand for each text
// message on `data`, OnSessionEnd) and drives them with Session.Send,
// Producer.Broadcast, Session.SubscribePose and Producer.EndSession. The
// first SubscribePose opens `pose` (unordered, maxRetransmits 0) in-band:
// SCTP is already negotiated for `data`, so DCEP opens it without a new
// offer. Every Config.PoseInterval (33 ms) subscribed sessions get
// {"state":<Config.PoseState()>,"seq":<per-session counter>}; a frame is
// dropped while the channel has more than MaxPoseBuffered queued.
//
// Signalling connections (WebSocket on any path of ServeHTTP, or in-process
// through Connect for the central relay) each have a bounded send queue
// drained by one writer: a peer that lets it fill is cut off with a reason,
// so a slow client never holds up the robot or other clients (the
// nats-server pattern). WebSocket limits: Config.MaxMessageSize per message
// (256 KiB; larger closes with 1009), HandshakeTimeout for the upgrade and
// for the first message after welcome, pings every PingInterval with the
// connection dropped after 2.5 intervals without a pong, WriteTimeout per
// message, no compression, MaxConns connections (503 beyond), and
// Config.CheckOrigin on the upgrade (403): the data channel moves the robot,
// so a web page from a foreign origin must not reach it. Every decoded
// message goes through DecodeMessage (size, nesting depth 32, field limits;
// fuzzed by FuzzDecodeMessage).
//
// # Protocol as implemented (server side)
//
//   - On connect: welcome {peerId}.
//   - setProtocolVersion {version: "v1_0"|"v1_1"}: only as the first message
//     (else error), as webrtcsrc sends it. A v1_1 peer is sent
//     endSessionV1_1 {sessionId, error} instead of endSession.
//   - setPeerStatus {roles, meta}: listener and consumer roles are recorded;
//     when the status changed, every listener (the sender too when it
//     listens) gets peerStatusChanged {peerId, roles, meta}; gstwebrtc-api
//     waits for its own before it sends list. Role producer is refused with
//     error {details}: the in-process producer is the only one. A peer that
//     leaves is announced to listeners with roles [].
//   - list -> list {producers: [{id: Producer.ID(), meta: Config.Meta}]},
//     meta {"name":"reachymini"} by default.
//   - listConsumers -> listConsumers {consumers: []}.
//   - startSession {peerId: producer id} -> sessionStarted {peerId,
//     sessionId}, then peer {sessionId, sdp: {type: "offer", sdp}}, then the
//     robot's candidates as peer {sessionId, ice: {candidate, sdpMLineIndex,
//     sdpMid}}. Candidates gathered before the offer is queued are held and
//     sent after it (gstwebrtc-api closes the session on a candidate that
//     comes before the offer). Another peer id -> error "not found".
//   - peer from the consumer: an answer is applied (a bad one ends the
//     session, invalid_sdp); candidates that come before it are held (at most
//     64). An offer is refused with error, as the reference server refuses an
//     offer from a consumer. A message for another peer's session -> error;
//     for an unknown session it is dropped.
//   - endSession / endSessionV1_1 {sessionId} from the consumer ends the
//     session (no echo, as the reference server forwards it only to the
//     other side). The robot ends a session with endSession {sessionId,
//     reason} (v1_1: error = the reason for failures, else null).
//   - Session end reasons: ice_negotiation_timeout (not connected within
//     Config.ICEDeadline, 12 s, of the offer), peer_connection_failed,
//     peer_closed (the consumer's DTLS close), consumer_ended,
//     consumer_disconnected (its signalling connection ended; not sent),
//     slow_consumer, invalid_sdp, too_many_sessions, internal_error,
//     producer_closed, and whatever the daemon passes to EndSession (the
//     relay's local_app_started).
//   - Unknown types are logged (one record per 10 s per connection) and
//     ignored; malformed JSON, binary frames and bad fields -> error {details}.
//
// # Deviations from webrtcsink's server
//
//   - endSession carries a reason field (reachyd's, as on the central
//     relay); the reference clients ignore unknown fields.
//   - A consumer-initiated session (startSession with an offer, gstwebrtc-api
//     createConsumerSession with offerOptions) is refused with error: the
//     robot always offers. Remote producers are refused.
//   - Past Config.MaxSessions (4) a startSession gets sessionStarted followed
//     at once by endSession reason too_many_sessions, so that the client's
//     session closes instead of waiting for an offer.
//   - Video is offered sendonly (webrtcsink offers everything sendrecv);
//     audio is sendrecv. VP9 and AV1 are not offered: the pipelines feed one
//     codec, VP8 (default) or H.264 (Config.VideoMimeType).
//
// # Tested against
//
// The tests run pion (v4) consumers on loopback only (loopback candidates,
// UDP4, no mDNS) against an httptest server on 127.0.0.1, speaking the
// protocol as gstwebrtc-api 3.0.0's source does (welcome, setPeerStatus
// listener, peerStatusChanged, list, listConsumers, startSession, answer,
// trickled candidates in RTCIceCandidate.toJSON() form) and as webrtcsrc
// does (setProtocolVersion v1_1 first, roles [], endSessionV1_1); one
// consumer goes through an in-process Conn. They check the offer's SDP
// (shared msid stream, audio sendrecv, SCTP m-line, CRLF), the candidate
// order, video and audio RTP end to end, consumer audio at OnRemoteAudio,
// PLI at OnKeyframeRequest, commands, replies and broadcasts on `data`,
// the lazily opened `pose` channel and its frame cadence, every end path,
// the connection limits, CheckOrigin, and that Close leaves no goroutine.
// Not yet tested against a browser or GStreamer: a headless Chromium test
// running gstwebrtc-api, and webrtcsrc, are the next step.
package webrtc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/stun/v4"
	pion "github.com/pion/webrtc/v4"
)

// Reasons a session ends with. They travel to the consumer in endSession
// (field reason) and to Config.OnSessionEnd. The first two are the reference
// daemon's; the central relay forwards them to remote consumers.
const (
	ReasonICETimeout       = "ice_negotiation_timeout" // not connected within Config.ICEDeadline
	ReasonConnectionFailed = "peer_connection_failed"  // the PeerConnection went to failed
	ReasonPeerClosed       = "peer_closed"             // the consumer closed its PeerConnection
	ReasonConsumerEnded    = "consumer_ended"          // the consumer sent endSession
	ReasonConsumerGone     = "consumer_disconnected"   // the consumer's signalling connection ended
	ReasonSlowConsumer     = "slow_consumer"           // its data channel stopped draining
	ReasonInvalidSDP       = "invalid_sdp"             // its answer could not be applied
	ReasonTooManySessions  = "too_many_sessions"       // Config.MaxSessions reached
	ReasonInternal         = "internal_error"          // the PeerConnection could not be set up
	ReasonProducerClosed   = "producer_closed"         // Producer.Close
)

// failureReasons are the reasons sent as endSessionV1_1's error.
var failureReasons = map[string]bool{
	ReasonICETimeout: true, ReasonConnectionFailed: true, ReasonSlowConsumer: true,
	ReasonInvalidSDP: true, ReasonInternal: true,
}

// Errors of the daemon-facing API.
var (
	ErrClosed        = errors.New("webrtc producer closed")
	ErrTooManyConns  = errors.New("too many signalling connections")
	ErrSessionEnded  = errors.New("session ended")
	ErrNotOpen       = errors.New("data channel not open")
	ErrSlowConsumer  = errors.New("data channel not draining: session ended")
	ErrPeerConnClose = errors.New("signalling connection closed")
	ErrCloseTimeout  = errors.New("webrtc producer: goroutines still running after Close")
)

// ICEServer is a STUN or TURN server given to every PeerConnection.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Config configures a Producer. The zero value of every field is a usable
// default except the callbacks, which are optional.
type Config struct {
	// Meta is the producer's meta in list replies; {"name":"reachymini"} by
	// default, the name the Python SDK's webrtcsrc looks for.
	Meta json.RawMessage

	// ICEServers are the STUN/TURN servers of new sessions; SetICEServers
	// replaces them (TURN credentials are refreshed).
	ICEServers []ICEServer
	// LoopbackCandidates adds 127.0.0.1 host candidates (a consumer on the
	// robot itself, tests). It is turned on by itself when no non-loopback
	// interface is up, so that a robot without a network still serves local
	// consumers.
	LoopbackCandidates bool
	// LoopbackOnly gathers loopback candidates only, over UDP4, and turns
	// mDNS off: nothing leaves the machine. For tests and the daemon's test mode.
	LoopbackOnly bool
	// UDPPortMin and UDPPortMax bound the local ports of host candidates
	// (both zero: any port).
	UDPPortMin, UDPPortMax uint16

	// VideoMimeType is the codec the video track is fed in: pion.MimeTypeVP8
	// (default) or pion.MimeTypeH264. Both are offered; the track's codec is
	// what WriteVideoRTP must carry.
	VideoMimeType string
	// StreamID is the msid stream id shared by the video and audio tracks
	// (default "reachymini"): consumers play streams[0] and take its audio
	// from the same stream.
	StreamID string

	MaxSessions int           // concurrent sessions (default 4)
	MaxConns    int           // concurrent signalling connections (default 32)
	ICEDeadline time.Duration // offer sent -> connected, else ice_negotiation_timeout (default 12 s)

	// Signalling connection limits.
	MaxMessageSize   int64         // largest signalling message (default and cap MaxMessageSize)
	SendQueue        int           // messages queued to one peer before it is cut off (default 256)
	HandshakeTimeout time.Duration // upgrade, and welcome -> first message (default 10 s)
	PingInterval     time.Duration // keep-alive pings; no pong within 2.5 intervals ends it (default 20 s)
	WriteTimeout     time.Duration // one message to one peer (default 10 s)
	CloseTimeout     time.Duration // Close waits this long for its goroutines (default 5 s)

	// Data channel limits.
	MaxDataMessage  uint32 // largest incoming data channel message (default 256 KiB; pion's own is 1 GiB)
	MaxDataBuffered uint64 // queued on `data` before the session is ended as slow (default 4 MiB)
	MaxPoseBuffered uint64 // queued on `pose` before frames are dropped (default 64 KiB)

	// PoseInterval is the pose frame period (default 33 ms, the reference's).
	PoseInterval time.Duration
	// PoseState returns the raw JSON state snapshot put in each pose frame;
	// it is called once per tick while some session is subscribed. Nil or an
	// empty result skips the tick.
	PoseState func() []byte

	// The callbacks run on pion's goroutines and must not block for long:
	// OnCommand holds up that session's data channel, OnRemoteAudio and
	// OnKeyframeRequest its RTP and RTCP reading.

	// OnCommand gets each text message of a session's `data` channel, in
	// order. Replies go back with s.Send.
	OnCommand func(s *Session, msg []byte)
	// OnSessionStart is called once the offer is out; OnSessionEnd once the
	// session's PeerConnection is closed, with the reason. Every session that
	// got OnSessionStart gets exactly one OnSessionEnd, after it.
	OnSessionStart func(s *Session)
	OnSessionEnd   func(s *Session, reason string)
	// OnRemoteAudio gets each Opus RTP packet the consumer sends (its
	// microphone), as received (SSRC and payload type are the consumer's).
	// pkt is reused after the call returns.
	OnRemoteAudio func(session string, pkt []byte)
	// OnKeyframeRequest is called when a session's video needs a keyframe:
	// once when the session connects, and for each PLI or FIR its consumer
	// sends about the video.
	OnKeyframeRequest func(session string)

	// CheckOrigin decides whether a WebSocket upgrade may proceed (the
	// daemon's CORS allow-list). Nil: gorilla's default, which refuses an
	// Origin whose host is not the request's Host. The data channel drives
	// the robot, so a page from a foreign origin must not get in.
	CheckOrigin func(*http.Request) bool

	Logger *slog.Logger
}

func (c *Config) defaults() {
	if len(c.Meta) == 0 {
		c.Meta = json.RawMessage(`{"name":"reachymini"}`)
	}
	if c.VideoMimeType == "" {
		c.VideoMimeType = pion.MimeTypeVP8
	}
	if c.StreamID == "" {
		c.StreamID = "reachymini"
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 4
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 32
	}
	if c.ICEDeadline <= 0 {
		c.ICEDeadline = 12 * time.Second
	}
	if c.MaxMessageSize <= 0 || c.MaxMessageSize > MaxMessageSize {
		c.MaxMessageSize = MaxMessageSize
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 256
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = 5 * time.Second
	}
	if c.MaxDataMessage == 0 {
		c.MaxDataMessage = 256 << 10
	}
	if c.MaxDataBuffered == 0 {
		c.MaxDataBuffered = 4 << 20
	}
	if c.MaxPoseBuffered == 0 {
		c.MaxPoseBuffered = 64 << 10
	}
	if c.PoseInterval <= 0 {
		c.PoseInterval = 33 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Producer is the robot's WebRTC producer and the signalling server it sits
// in. It is safe for concurrent use.
type Producer struct {
	cfg   Config
	id    string
	log   *slog.Logger
	api   *pion.API
	video *pion.TrackLocalStaticRTP
	audio *pion.TrackLocalStaticRTP
	// videoSeq and audioSeq keep the tracks continuous when their
	// pipelines are restarted (continuity).
	videoSeq, audioSeq *continuity

	mu         sync.Mutex
	closed     bool
	iceServers []ICEServer
	conns      int
	peers      map[string]*peer
	sessions   map[string]*Session

	wg       sync.WaitGroup // connection goroutines, PeerConnection closers, RTP readers, pose loop
	poseWake chan struct{}
	stop     chan struct{}

	// beforeOffer, when set (tests), runs between SetLocalDescription and
	// sending the offer: a test holds the offer back until gathering is over.
	beforeOffer func(*pion.PeerConnection)
}

// New builds a Producer: one pion API (media engine, interceptors, setting
// engine) shared by every session, and the two shared tracks.
func New(cfg Config) (*Producer, error) {
	cfg.defaults()
	var (
		videoCodec pion.RTPCodecCapability
		feedback   = []pion.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
		vp8        = pion.RTPCodecCapability{MimeType: pion.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: feedback}
		h264       = pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000, RTCPFeedback: feedback,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}
		opus = pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}
	)
	switch cfg.VideoMimeType {
	case pion.MimeTypeVP8:
		videoCodec = vp8
	case pion.MimeTypeH264:
		videoCodec = h264
	default:
		return nil, fmt.Errorf("webrtc: video codec %q: want %s or %s", cfg.VideoMimeType, pion.MimeTypeVP8, pion.MimeTypeH264)
	}
	if m := bytes.TrimSpace(cfg.Meta); !json.Valid(m) || m[0] != '{' {
		return nil, fmt.Errorf("webrtc: meta %.64q is not a JSON object", cfg.Meta)
	}
	if err := checkICEServers(cfg.ICEServers); err != nil {
		return nil, err
	}
	if cfg.UDPPortMin > cfg.UDPPortMax {
		return nil, fmt.Errorf("webrtc: UDP port range %d-%d", cfg.UDPPortMin, cfg.UDPPortMax)
	}

	me := &pion.MediaEngine{}
	for _, c := range []struct {
		cap pion.RTPCodecCapability
		pt  pion.PayloadType
		typ pion.RTPCodecType
	}{
		{vp8, 96, pion.RTPCodecTypeVideo},
		{h264, 102, pion.RTPCodecTypeVideo},
		{opus, 111, pion.RTPCodecTypeAudio},
	} {
		if err := me.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: c.cap, PayloadType: c.pt}, c.typ); err != nil {
			return nil, fmt.Errorf("webrtc: registering %s: %w", c.cap.MimeType, err)
		}
	}
	logs := pionLogs{cfg.Logger}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptorsWithOptions(me, ir, pion.WithInterceptorLoggerFactory(logs)); err != nil {
		return nil, fmt.Errorf("webrtc: interceptors: %w", err)
	}

	se := pion.SettingEngine{LoggerFactory: logs}
	se.SetSCTPMaxMessageSize(cfg.MaxDataMessage)
	if cfg.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	} else if cfg.LoopbackCandidates || !nonLoopbackUp() {
		se.SetIncludeLoopbackCandidate(true)
	}
	if cfg.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("webrtc: UDP port range: %w", err)
		}
	}
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))

	video, err := pion.NewTrackLocalStaticRTP(videoCodec, "video", cfg.StreamID)
	if err != nil {
		return nil, err
	}
	audio, err := pion.NewTrackLocalStaticRTP(opus, "audio", cfg.StreamID)
	if err != nil {
		return nil, err
	}
	p := &Producer{
		cfg:        cfg,
		id:         uuid.NewString(),
		log:        cfg.Logger,
		api:        api,
		video:      video,
		audio:      audio,
		videoSeq:   newContinuity(videoCodec.ClockRate),
		audioSeq:   newContinuity(opus.ClockRate),
		peers:      map[string]*peer{},
		iceServers: slices.Clone(cfg.ICEServers),
		sessions:   map[string]*Session{},
		poseWake:   make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	p.wg.Add(1)
	go p.poseLoop()
	return p, nil
}

func checkICEServers(servers []ICEServer) error {
	for _, is := range servers {
		if len(is.URLs) == 0 {
			return errors.New("webrtc: ICE server without URLs")
		}
		for _, u := range is.URLs {
			uri, err := stun.ParseURI(u)
			if err != nil {
				return fmt.Errorf("webrtc: ICE server %q: %w", u, err)
			}
			if (uri.Scheme == stun.SchemeTypeTURN || uri.Scheme == stun.SchemeTypeTURNS) && (is.Username == "" || is.Credential == "") {
				return fmt.Errorf("webrtc: TURN server %q without username and credential", u)
			}
		}
	}
	return nil
}

// SetICEServers replaces the STUN/TURN servers for sessions started from
// now on (TURN credentials expire and are refreshed; running sessions keep
// theirs).
func (p *Producer) SetICEServers(servers []ICEServer) error {
	if err := checkICEServers(servers); err != nil {
		return err
	}
	p.mu.Lock()
	p.iceServers = slices.Clone(servers)
	p.mu.Unlock()
	return nil
}

// nonLoopbackUp reports whether some interface other than loopback is up
// with an address.
func nonLoopbackUp() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return true
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		if addrs, err := i.Addrs(); err == nil && len(addrs) > 0 {
			return true
		}
	}
	return false
}

// ID is the producer's peer id in the signalling protocol.
func (p *Producer) ID() string { return p.id }

// WriteVideoRTP sends one RTP packet of the configured video codec to every
// session. Pion rewrites SSRC and payload type per session; the sequence
// number and timestamp are rewritten in pkt itself, so that the track stays
// continuous when its pipeline is restarted (a new source SSRC). Safe to
// call from one feeding goroutine while sessions come and go.
func (p *Producer) WriteVideoRTP(pkt []byte) error {
	p.videoSeq.rewrite(pkt)
	_, err := p.video.Write(pkt)
	return err
}

// WriteAudioRTP sends one Opus RTP packet to every session, rewritten as
// WriteVideoRTP does.
func (p *Producer) WriteAudioRTP(pkt []byte) error {
	p.audioSeq.rewrite(pkt)
	_, err := p.audio.Write(pkt)
	return err
}

// Broadcast sends a text message on every session's data channel (skipping
// sessions whose channel is not open yet).
func (p *Producer) Broadcast(msg []byte) {
	for _, s := range p.snapshot() {
		_ = s.Send(msg)
	}
}

// Sessions describes the live sessions.
func (p *Producer) Sessions() []Info {
	ss := p.snapshot()
	out := make([]Info, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.Info())
	}
	return out
}

// Session returns the live session with this id, or nil.
func (p *Producer) Session(id string) *Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions[id]
}

// EndSession ends one session and tells its consumer why. It reports whether
// the session existed.
func (p *Producer) EndSession(id, reason string) bool {
	s := p.Session(id)
	if s == nil {
		return false
	}
	s.end(reason, true)
	return true
}

// EndAll ends every session (the relay's eviction, a media restart).
func (p *Producer) EndAll(reason string) {
	for _, s := range p.snapshot() {
		s.end(reason, true)
	}
}

// Close ends every session, closes every signalling connection and waits up
// to Config.CloseTimeout for every goroutine the producer started (an
// in-process peer stuck in Deliver, say, would otherwise hold the daemon's
// shutdown). Connections that arrive after Close are refused.
func (p *Producer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.wait()
	}
	p.closed = true
	peers := make([]*peer, 0, len(p.peers))
	for _, pe := range p.peers {
		peers = append(peers, pe)
	}
	p.mu.Unlock()

	p.EndAll(ReasonProducerClosed)
	for _, pe := range peers {
		pe.close(closeGoingAway, "producer closed")
	}
	close(p.stop)
	return p.wait()
}

func (p *Producer) wait() error {
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(p.cfg.CloseTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return ErrCloseTimeout
	}
}

func (p *Producer) snapshot() []*Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Session, 0, len(p.sessions))
	for _, s := range p.sessions {
		out = append(out, s)
	}
	return out
}

// poseLoop sends pose frames every PoseInterval while some session is
// subscribed, and sleeps otherwise (SubscribePose wakes it).
func (p *Producer) poseLoop() {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return
		case <-p.poseWake:
		}
		t := time.NewTicker(p.cfg.PoseInterval)
		for active := true; active; {
			select {
			case <-p.stop:
				t.Stop()
				return
			case <-t.C:
				var subs []*Session
				for _, s := range p.snapshot() {
					if s.poseSubscribed() {
						subs = append(subs, s)
					}
				}
				if len(subs) == 0 {
					active = false
					break
				}
				if p.cfg.PoseState == nil {
					continue
				}
				state := p.cfg.PoseState()
				if len(state) == 0 {
					continue
				}
				for _, s := range subs {
					s.sendPose(state)
				}
			}
		}
		t.Stop()
	}
}

func (p *Producer) wakePose() {
	select {
	case p.poseWake <- struct{}{}:
	default:
	}
}
