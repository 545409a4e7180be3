package webrtc

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"
)

// maxPendingRemote bounds the consumer's candidates held until its answer
// arrives.
const maxPendingRemote = 64

// Session is one consumer's PeerConnection to the robot. The daemon gets it
// in its callbacks; its methods are safe for concurrent use.
type Session struct {
	p        *Producer
	id       string
	consumer *peer
	since    time.Time

	// startDone is closed once the start callback has run (or setup failed);
	// the end callback waits for it, so OnSessionStart always comes first.
	startDone   chan struct{}
	startCalled bool // written before startDone is closed
	// done is closed once the session's PeerConnection is closed and its
	// OnSessionEnd has run (Done).
	done chan struct{}

	mu            sync.Mutex
	pc            *pion.PeerConnection
	data          *pion.DataChannel
	pose          *pion.DataChannel
	poseOn        bool
	poseSeq       uint64
	ended         bool
	offerSent     bool
	pendingLocal  [][]byte // candidates gathered before the offer went out
	answered      bool
	pendingRemote []pion.ICECandidateInit
	iceTimer      *time.Timer

	poseMu      sync.Mutex // serialises creation of the pose channel
	remoteAudio atomic.Bool
	msgs        atomic.Uint64
}

// Info describes a session for status and the daemon's session list.
type Info struct {
	ID          string    // signalling session id
	PeerID      string    // the consumer's signalling peer id
	Remote      string    // the consumer's signalling address ("inproc" for an in-process peer)
	InProc      bool      // the consumer is an in-process peer (the central relay)
	State       string    // PeerConnection state: new, connecting, connected, disconnected, failed, closed
	RemoteAudio bool      // the consumer sends audio
	Since       time.Time // session start
	Pose        bool      // subscribed to pose frames
	Messages    uint64    // text messages received on the data channel
}

// ID is the signalling session id.
func (s *Session) ID() string { return s.id }

// PeerID is the consumer's signalling peer id.
func (s *Session) PeerID() string { return s.consumer.id }

// Info describes the session now.
func (s *Session) Info() Info {
	s.mu.Lock()
	pc, ended, pose := s.pc, s.ended, s.poseOn
	s.mu.Unlock()
	state := "new"
	switch {
	case ended:
		state = "closed"
	case pc != nil:
		state = pc.ConnectionState().String()
	}
	return Info{
		ID:          s.id,
		PeerID:      s.consumer.id,
		Remote:      s.consumer.remote,
		InProc:      s.consumer.inproc,
		State:       state,
		RemoteAudio: s.remoteAudio.Load(),
		Since:       s.since,
		Pose:        pose,
		Messages:    s.msgs.Load(),
	}
}

// Done is closed once the session has ended for good: its PeerConnection
// is closed (no more commands come from its data channel) and
// OnSessionEnd has run. The central relay waits on it before it lets a
// local app start after evicting a remote session.
func (s *Session) Done() <-chan struct{} { return s.done }

// End ends the session and tells the consumer why.
func (s *Session) End(reason string) { s.end(reason, true) }

// start builds the PeerConnection and sends the offer: the video and audio
// tracks with one msid stream, audio sendrecv for the consumer's microphone,
// and the reliable ordered `data` channel, which puts SCTP in the offer so
// that `pose` can be opened later without renegotiation.
func (s *Session) start() error {
	p := s.p
	conf := pion.Configuration{}
	p.mu.Lock()
	servers := p.iceServers
	p.mu.Unlock()
	for _, is := range servers {
		srv := pion.ICEServer{URLs: is.URLs, Username: is.Username}
		if is.Credential != "" {
			srv.Credential = is.Credential
		}
		conf.ICEServers = append(conf.ICEServers, srv)
	}
	pc, err := p.api.NewPeerConnection(conf)
	if err != nil {
		return fmt.Errorf("new peer connection: %w", err)
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return pc.Close()
	}
	s.pc = pc
	s.mu.Unlock()

	vt, err := pc.AddTransceiverFromTrack(p.video, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("video transceiver: %w", err)
	}
	at, err := pc.AddTransceiverFromTrack(p.audio, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendrecv})
	if err != nil {
		return fmt.Errorf("audio transceiver: %w", err)
	}
	ordered := true
	dc, err := pc.CreateDataChannel("data", &pion.DataChannelInit{Ordered: &ordered})
	if err != nil {
		return fmt.Errorf("data channel: %w", err)
	}
	dc.OnMessage(s.onData)

	pc.OnICECandidate(s.onLocalCandidate)
	pc.OnConnectionStateChange(s.onState)
	pc.OnTrack(s.onTrack)
	s.readRTCP(vt.Sender(), true)
	s.readRTCP(at.Sender(), false)

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local description: %w", err)
	}
	if p.beforeOffer != nil {
		p.beforeOffer(pc)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil
	}
	s.data = dc
	// The offer goes out before any candidate: gstwebrtc-api applies a
	// candidate as soon as it arrives and closes the session when there is
	// no remote description to apply it to.
	s.consumer.enqueue(encOffer(s.id, offer.SDP))
	s.offerSent = true
	for _, c := range s.pendingLocal {
		s.consumer.enqueue(c)
	}
	s.pendingLocal = nil
	s.iceTimer = time.AfterFunc(p.cfg.ICEDeadline, func() { s.end(ReasonICETimeout, true) })
	return nil
}

func (s *Session) onLocalCandidate(c *pion.ICECandidate) {
	if c == nil {
		return // gathering complete; the protocol has no end-of-candidates
	}
	init := c.ToJSON()
	mid, index := "", uint16(0)
	if init.SDPMid != nil {
		mid = *init.SDPMid
	}
	if init.SDPMLineIndex != nil {
		index = *init.SDPMLineIndex
	}
	msg := encICE(s.id, init.Candidate, mid, index)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ended:
	case !s.offerSent:
		s.pendingLocal = append(s.pendingLocal, msg)
	default:
		s.consumer.enqueue(msg)
	}
}

func (s *Session) onState(st pion.PeerConnectionState) {
	switch st {
	case pion.PeerConnectionStateConnected:
		s.mu.Lock()
		if s.iceTimer != nil {
			s.iceTimer.Stop()
		}
		s.mu.Unlock()
		// The session's video can be decoded from a keyframe on: ask for
		// one now that it can be received, rather than wait for the
		// consumer to find it missing (a browser asks after 200 ms, a
		// GStreamer webrtcsrc may never ask).
		if cb := s.p.cfg.OnKeyframeRequest; cb != nil {
			cb(s.id)
		}
	case pion.PeerConnectionStateFailed:
		s.end(ReasonConnectionFailed, true)
	case pion.PeerConnectionStateClosed:
		s.end(ReasonPeerClosed, true)
	}
}

// onTrack delivers the consumer's audio (its microphone) to OnRemoteAudio.
func (s *Session) onTrack(t *pion.TrackRemote, _ *pion.RTPReceiver) {
	if t.Kind() != pion.RTPCodecTypeAudio {
		return
	}
	s.remoteAudio.Store(true)
	s.p.wg.Add(1)
	go func() {
		defer s.p.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := t.Read(buf)
			if err != nil {
				return
			}
			if cb := s.p.cfg.OnRemoteAudio; cb != nil {
				cb(s.id, buf[:n])
			}
		}
	}()
}

// readRTCP drains a sender's RTCP (the interceptors act on it as it is read:
// NACK, receiver reports) and turns PLI and FIR into keyframe requests.
func (s *Session) readRTCP(sender *pion.RTPSender, video bool) {
	s.p.wg.Add(1)
	go func() {
		defer s.p.wg.Done()
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			if !video || s.p.cfg.OnKeyframeRequest == nil {
				continue
			}
			for _, pkt := range pkts {
				switch pkt.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					s.p.cfg.OnKeyframeRequest(s.id)
				}
			}
		}
	}()
}

func (s *Session) onData(msg pion.DataChannelMessage) {
	if !msg.IsString {
		return
	}
	s.msgs.Add(1)
	if cb := s.p.cfg.OnCommand; cb != nil {
		cb(s, msg.Data)
	}
}

// applyAnswer sets the consumer's answer and the candidates that came before it.
func (s *Session) applyAnswer(sdp string) error {
	s.mu.Lock()
	pc, answered := s.pc, s.answered
	s.mu.Unlock()
	if pc == nil || answered {
		return errors.New("unexpected answer")
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: sdp}); err != nil {
		return err
	}
	s.mu.Lock()
	s.answered = true
	pending := s.pendingRemote
	s.pendingRemote = nil
	s.mu.Unlock()
	for _, c := range pending {
		if err := pc.AddICECandidate(c); err != nil {
			s.p.log.Debug("webrtc: remote candidate refused", "session", s.id, "err", err)
		}
	}
	return nil
}

func (s *Session) addRemoteCandidate(c ICE) error {
	init := pion.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}
	s.mu.Lock()
	if !s.answered {
		defer s.mu.Unlock()
		if len(s.pendingRemote) >= maxPendingRemote {
			return errors.New("too many candidates before the answer")
		}
		s.pendingRemote = append(s.pendingRemote, init)
		return nil
	}
	pc := s.pc
	s.mu.Unlock()
	return pc.AddICECandidate(init)
}

// Send sends a text message to the consumer on the `data` channel (a reply
// to OnCommand, a broadcast). A consumer that lets more than
// Config.MaxDataBuffered pile up is ended as slow.
func (s *Session) Send(msg []byte) error {
	s.mu.Lock()
	dc, ended := s.data, s.ended
	s.mu.Unlock()
	if ended {
		return ErrSessionEnded
	}
	if dc == nil || dc.ReadyState() != pion.DataChannelStateOpen {
		return ErrNotOpen
	}
	if dc.BufferedAmount() > s.p.cfg.MaxDataBuffered {
		s.end(ReasonSlowConsumer, true)
		return ErrSlowConsumer
	}
	return dc.SendText(string(msg))
}

// SubscribePose turns the pose stream on or off. The first subscription
// opens the `pose` channel (unordered, no retransmissions) in-band over the
// SCTP association `data` already set up, so no renegotiation is needed.
func (s *Session) SubscribePose(on bool) error {
	s.poseMu.Lock()
	defer s.poseMu.Unlock()
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return ErrSessionEnded
	}
	s.poseOn = on
	pc, need := s.pc, on && s.pose == nil
	s.mu.Unlock()
	if need && pc != nil {
		ordered, retransmits := false, uint16(0)
		dc, err := pc.CreateDataChannel("pose", &pion.DataChannelInit{Ordered: &ordered, MaxRetransmits: &retransmits})
		if err != nil {
			s.mu.Lock()
			s.poseOn = false
			s.mu.Unlock()
			return fmt.Errorf("pose channel: %w", err)
		}
		dc.OnClose(func() {
			s.mu.Lock()
			if s.pose == dc {
				s.pose, s.poseOn = nil, false
			}
			s.mu.Unlock()
		})
		s.mu.Lock()
		s.pose = dc
		s.mu.Unlock()
	}
	if on {
		s.p.wakePose()
	}
	return nil
}

func (s *Session) poseSubscribed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poseOn && !s.ended
}

// sendPose sends one frame {"state":...,"seq":n}; it drops the frame while
// the channel has more than MaxPoseBuffered queued (a fresh pose beats a
// stale one).
func (s *Session) sendPose(state []byte) {
	s.mu.Lock()
	dc, on := s.pose, s.poseOn && !s.ended
	s.mu.Unlock()
	if !on || dc == nil || dc.ReadyState() != pion.DataChannelStateOpen ||
		dc.BufferedAmount() > s.p.cfg.MaxPoseBuffered {
		return
	}
	s.mu.Lock()
	s.poseSeq++
	seq := s.poseSeq
	s.mu.Unlock()
	frame := make([]byte, 0, len(state)+32)
	frame = append(frame, `{"state":`...)
	frame = append(frame, state...)
	frame = append(frame, `,"seq":`...)
	frame = strconv.AppendUint(frame, seq, 10)
	frame = append(frame, '}')
	_ = dc.SendText(string(frame))
}

// end ends the session once: it leaves the producer's table at once, the
// consumer is told (unless it asked for the end or is gone), and the
// PeerConnection is closed in a goroutine of its own, since end runs inside
// pion's callbacks too. OnSessionEnd follows the close.
func (s *Session) end(reason string, notify bool) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	if s.iceTimer != nil {
		s.iceTimer.Stop()
	}
	pc := s.pc
	s.mu.Unlock()

	p := s.p
	p.mu.Lock()
	delete(p.sessions, s.id)
	v11 := s.consumer.v11
	p.wg.Add(1)
	p.mu.Unlock()
	p.log.Info("webrtc: session ended", "session", s.id, "peer", s.consumer.id, "reason", reason)
	if notify {
		s.consumer.enqueue(encEndSession(s.id, reason, v11, failureReasons[reason]))
	}
	go func() {
		defer p.wg.Done()
		if pc != nil {
			_ = pc.GracefulClose()
		}
		<-s.startDone
		if cb := p.cfg.OnSessionEnd; cb != nil && s.startCalled {
			cb(s, reason)
		}
		if s.done != nil {
			close(s.done)
		}
	}()
}
