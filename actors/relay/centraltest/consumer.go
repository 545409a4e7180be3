package centraltest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"reachyd/media/webrtc/webrtctest"
)

// Consumer is a remote client of a robot through central, as the
// TypeScript SDK behaves (spec 6.5b): it reads /events with a Bearer
// header, registers as listener, finds the robot by its meta name in
// /api/robot-status, POSTs startSession, never offers and never opens a
// channel: it answers the robot's offer, trickles its candidates once it
// knows the session id, holds the robot's candidates until the offer is
// applied, and is ready when the robot's `data` channel is open. ICE is
// loopback only (UDP4, no mDNS).
type Consumer struct {
	// Video receives the robot's video RTP (dropped while full).
	Video <-chan *rtp.Packet

	base, token string
	client      *http.Client
	cancel      context.CancelFunc
	msgs        chan map[string]any
	streamDone  chan struct{}

	// StartedAt is when startSession was posted; firstVideo the arrival
	// of the first video packet (unix ns; the benchmark's numbers).
	StartedAt  time.Time
	firstVideo atomic.Int64

	pc      *pion.PeerConnection
	session string
	robotID string
	opened  chan struct{}

	mu      sync.Mutex
	data    *pion.DataChannel
	replies []map[string]any
	ended   *string
	endedC  chan struct{}
}

// ConsumerOptions configure Dial.
type ConsumerOptions struct {
	// Name is the consumer's meta name (default "centraltest").
	Name string
	// Robot is the robot's meta name to look for (default: the first robot).
	Robot string
	// NoAnswer stops after receiving the offer (the robot's ICE deadline
	// then ends the session).
	NoAnswer bool
}

// EndedError is Dial's error when the session ended before it was ready.
type EndedError struct{ Reason string }

func (e *EndedError) Error() string { return "centraltest: session ended: " + e.Reason }

// Dial connects to central at base with token and starts a session with
// a robot. It returns once the robot's data channel is open (or, with
// NoAnswer, once the offer came), or an *EndedError when the robot ended
// the session first.
func Dial(ctx context.Context, base, token string, opt ConsumerOptions) (_ *Consumer, err error) {
	if opt.Name == "" {
		opt.Name = "centraltest"
	}
	sctx, cancel := context.WithCancel(context.Background())
	video := make(chan *rtp.Packet, 1024)
	c := &Consumer{Video: video, base: strings.TrimRight(base, "/"), token: token, client: &http.Client{Timeout: 0},
		cancel: cancel, msgs: make(chan map[string]any, 1024), streamDone: make(chan struct{}),
		opened: make(chan struct{}), endedC: make(chan struct{})}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, c.base+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.client.Do(req)
	if err != nil {
		close(c.streamDone)
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		close(c.streamDone)
		return nil, fmt.Errorf("centraltest: /events: HTTP %d", resp.StatusCode)
	}
	go c.read(resp.Body)

	welcome, err := c.next(ctx, "welcome")
	if err != nil {
		return nil, err
	}
	_ = welcome
	if _, err := c.post(ctx, map[string]any{"type": "setPeerStatus", "roles": []string{"listener"}, "meta": map[string]string{"name": opt.Name}}); err != nil {
		return nil, err
	}
	if c.robotID, err = c.findRobot(ctx, opt.Robot); err != nil {
		return nil, err
	}
	c.StartedAt = time.Now()
	reply, err := c.post(ctx, map[string]any{"type": "startSession", "peerId": c.robotID})
	if err != nil {
		return nil, err
	}
	var started struct {
		SessionID string `json:"sessionId"`
	}
	if json.Unmarshal(reply, &started) != nil || started.SessionID == "" {
		return nil, fmt.Errorf("centraltest: startSession answered %s", reply)
	}
	c.session = started.SessionID

	// Wait for the offer; candidates before it are held.
	var pending []pion.ICECandidateInit
	var offer string
	for offer == "" {
		m, err := c.next(ctx, "")
		if err != nil {
			return nil, err
		}
		if m["sessionId"] != c.session {
			continue
		}
		switch m["type"] {
		case "endSession":
			reason, _ := m["reason"].(string)
			c.setEnded(reason)
			return nil, &EndedError{Reason: reason}
		case "peer":
			if sdp, ok := m["sdp"].(map[string]any); ok {
				if sdp["type"] != "offer" {
					return nil, fmt.Errorf("centraltest: the robot sent a %v, want an offer", sdp["type"])
				}
				offer, _ = sdp["sdp"].(string)
			} else if ice, ok := m["ice"].(map[string]any); ok {
				pending = append(pending, candidate(ice))
			}
		}
	}
	if opt.NoAnswer {
		go c.dispatch()
		return c, nil
	}

	if c.pc, err = webrtctest.NewPeerConnection(webrtctest.Options{}); err != nil {
		return nil, err
	}
	c.pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if tr.Kind() == pion.RTPCodecTypeVideo {
				c.firstVideo.CompareAndSwap(0, time.Now().UnixNano())
				select {
				case video <- p:
				default:
				}
			}
		}
	})
	c.pc.OnDataChannel(func(dc *pion.DataChannel) {
		if dc.Label() != "data" {
			return
		}
		c.mu.Lock()
		c.data = dc
		c.mu.Unlock()
		var once sync.Once
		dc.OnOpen(func() { once.Do(func() { close(c.opened) }) })
		dc.OnMessage(func(m pion.DataChannelMessage) {
			var v map[string]any
			if json.Unmarshal(m.Data, &v) == nil {
				c.mu.Lock()
				c.replies = append(c.replies, v)
				c.mu.Unlock()
			}
		})
	})
	c.pc.OnICECandidate(func(cand *pion.ICECandidate) {
		if cand == nil {
			return
		}
		j := cand.ToJSON()
		_, _ = c.post(context.Background(), map[string]any{"type": "peer", "sessionId": c.session,
			"ice": map[string]any{"candidate": j.Candidate, "sdpMLineIndex": j.SDPMLineIndex, "sdpMid": j.SDPMid}})
	})
	if err := c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offer}); err != nil {
		return nil, fmt.Errorf("centraltest: the robot's offer: %w", err)
	}
	for _, cand := range pending {
		_ = c.pc.AddICECandidate(cand)
	}
	// The offer is applied: the robot's next candidates go in as they come.
	go c.dispatch()
	answer, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return nil, err
	}
	if err := c.pc.SetLocalDescription(answer); err != nil {
		return nil, err
	}
	if _, err := c.post(ctx, map[string]any{"type": "peer", "sessionId": c.session, "sdp": map[string]string{"type": "answer", "sdp": answer.SDP}}); err != nil {
		return nil, err
	}
	select {
	case <-c.opened:
		return c, nil
	case <-c.endedC:
		return nil, &EndedError{Reason: c.Ended()}
	case <-ctx.Done():
		return nil, fmt.Errorf("centraltest: the data channel did not open: %w", ctx.Err())
	}
}

func candidate(ice map[string]any) pion.ICECandidateInit {
	c := pion.ICECandidateInit{}
	c.Candidate, _ = ice["candidate"].(string)
	if mid, ok := ice["sdpMid"].(string); ok {
		c.SDPMid = &mid
	}
	if idx, ok := ice["sdpMLineIndex"].(float64); ok {
		i := uint16(idx)
		c.SDPMLineIndex = &i
	}
	return c
}

// read parses the SSE stream into msgs until it ends.
func (c *Consumer) read(body io.ReadCloser) {
	defer close(c.streamDone)
	defer body.Close()
	r := bufio.NewReaderSize(body, 256<<10)
	for {
		line, err := r.ReadBytes('\n')
		if rest, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("data:")); ok {
			var m map[string]any
			if json.Unmarshal(bytes.TrimSpace(rest), &m) == nil {
				select {
				case c.msgs <- m:
				default:
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// next returns the next message (of type typ when set).
func (c *Consumer) next(ctx context.Context, typ string) (map[string]any, error) {
	for {
		select {
		case m := <-c.msgs:
			if typ == "" || m["type"] == typ {
				return m, nil
			}
		case <-c.streamDone:
			return nil, errors.New("centraltest: event stream ended")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// dispatch handles the stream once the offer came: the robot's
// candidates and endSession.
func (c *Consumer) dispatch() {
	for {
		var m map[string]any
		select {
		case m = <-c.msgs:
		case <-c.streamDone:
			return
		}
		if m["sessionId"] != c.session {
			continue
		}
		switch m["type"] {
		case "peer":
			if ice, ok := m["ice"].(map[string]any); ok && c.pc != nil {
				_ = c.pc.AddICECandidate(candidate(ice))
			}
		case "endSession":
			reason, _ := m["reason"].(string)
			c.setEnded(reason)
		}
	}
}

func (c *Consumer) setEnded(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended == nil {
		c.ended = &reason
		close(c.endedC)
	}
}

func (c *Consumer) post(ctx context.Context, v any) ([]byte, error) {
	b, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/send", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("centraltest: POST /send: HTTP %d: %s", resp.StatusCode, out)
	}
	return out, nil
}

// findRobot polls /api/robot-status until a robot with this name (any
// when empty) is listed.
func (c *Consumer) findRobot(ctx context.Context, name string) (string, error) {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/robot-status", nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := c.client.Do(req)
		if err == nil {
			var st struct {
				Robots []struct {
					PeerID string `json:"peerId"`
					Meta   struct {
						Name string `json:"name"`
					} `json:"meta"`
				} `json:"robots"`
			}
			_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st)
			resp.Body.Close()
			for _, r := range st.Robots {
				if name == "" || r.Meta.Name == name {
					return r.PeerID, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("centraltest: no robot %q listed: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FirstVideoAt is when the first video packet arrived (zero before).
func (c *Consumer) FirstVideoAt() time.Time {
	if ns := c.firstVideo.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// SessionID is the central session id.
func (c *Consumer) SessionID() string { return c.session }

// Ended is the reason of the endSession received ("" with no reason, or
// while the session lasts: see EndedC).
func (c *Consumer) Ended() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended == nil {
		return ""
	}
	return *c.ended
}

// EndedC is closed when an endSession for the session arrives.
func (c *Consumer) EndedC() <-chan struct{} { return c.endedC }

// Command sends v on the data channel and waits for the first reply that
// match accepts.
func (c *Consumer) Command(ctx context.Context, v any, match func(map[string]any) bool) (map[string]any, error) {
	c.mu.Lock()
	dc := c.data
	c.mu.Unlock()
	if dc == nil {
		return nil, errors.New("centraltest: no data channel")
	}
	b, _ := json.Marshal(v)
	if err := dc.SendText(string(b)); err != nil {
		return nil, err
	}
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
			return nil, fmt.Errorf("centraltest: no reply: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// End ends the session from the consumer's side (POST endSession).
func (c *Consumer) End(ctx context.Context) error {
	_, err := c.post(ctx, map[string]any{"type": "endSession", "sessionId": c.session})
	return err
}

// Close closes the PeerConnection and the event stream.
func (c *Consumer) Close() {
	if c.pc != nil {
		_ = c.pc.Close()
	}
	c.cancel()
	<-c.streamDone
}
