package webrtc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"reachyd/internal/jsondepth"
)

// Message types of the gst-plugins-rs signalling protocol (net/webrtc/protocol).
const (
	TypeWelcome            = "welcome"
	TypeSetProtocolVersion = "setProtocolVersion"
	TypeSetPeerStatus      = "setPeerStatus"
	TypePeerStatusChanged  = "peerStatusChanged"
	TypeList               = "list"
	TypeListConsumers      = "listConsumers"
	TypeStartSession       = "startSession"
	TypeSessionStarted     = "sessionStarted"
	TypePeer               = "peer"
	TypeEndSession         = "endSession"
	TypeEndSessionV11      = "endSessionV1_1"
	TypeError              = "error"
)

// Peer roles of setPeerStatus.
const (
	RoleProducer = "producer"
	RoleListener = "listener"
	RoleConsumer = "consumer"
)

// Protocol versions of setProtocolVersion. A peer that selects v1_1 gets
// endSessionV1_1 (with an optional error) instead of endSession.
const (
	Version10 = "v1_0"
	Version11 = "v1_1"
)

// Limits on one decoded signalling message. The WebSocket read limit
// (Config.MaxMessageSize) bounds the whole frame before it is decoded; these
// bound the parts we keep or echo to other peers.
const (
	// MaxMessageSize is the largest message DecodeMessage accepts. An SDP
	// answer from a browser is a few KiB; 256 KiB leaves room for any sane one.
	MaxMessageSize = 256 << 10
	maxDepth       = 32      // JSON nesting
	maxMetaSize    = 4 << 10 // meta is stored and echoed to every listener
	maxIDLen       = 128     // peer and session ids
	maxRoles       = 8
	maxSDPSize     = 128 << 10
	maxCandidate   = 2048
	maxMidLen      = 64
)

// Decoding errors. DecodeMessage wraps them with details.
var (
	ErrTooLarge    = errors.New("message too large")
	ErrMalformed   = errors.New("malformed message")
	ErrUnknownType = errors.New("unknown message type")
)

// SDP is the session description of a peer message.
type SDP struct {
	Type string `json:"type"` // "offer" or "answer"
	SDP  string `json:"sdp"`
}

// ICE is a trickled ICE candidate of a peer message. Browsers send
// RTCIceCandidate.toJSON() (candidate, sdpMid, sdpMLineIndex,
// usernameFragment); GStreamer sends candidate and sdpMLineIndex only.
type ICE struct {
	Candidate     string  `json:"candidate"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
	SDPMid        *string `json:"sdpMid,omitempty"`
}

// PeerEntry is one peer of a list or listConsumers reply.
type PeerEntry struct {
	ID   string          `json:"id"`
	Meta json.RawMessage `json:"meta"`
}

// Message is one signalling message, in either direction: the union of the
// fields of every message type. Server-to-client messages can be read into it
// with json.Unmarshal; client-to-server messages go through DecodeMessage,
// which applies the limits and checks the fields the type needs.
type Message struct {
	Type      string          `json:"type"`
	PeerID    string          `json:"peerId,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Roles     []string        `json:"roles,omitempty"`
	Meta      json.RawMessage `json:"meta,omitempty"`
	Offer     *string         `json:"offer,omitempty"`
	SDP       *SDP            `json:"sdp,omitempty"`
	ICE       *ICE            `json:"ice,omitempty"`
	Version   string          `json:"version,omitempty"`
	Error     *string         `json:"error,omitempty"`  // endSessionV1_1
	Reason    string          `json:"reason,omitempty"` // endSession (reachyd and the central relay)
	Details   string          `json:"details,omitempty"`
	Producers []PeerEntry     `json:"producers,omitempty"`
	Consumers []PeerEntry     `json:"consumers,omitempty"`
}

// DecodeMessage parses one client-to-server message with limits on size and
// nesting and checks the fields its type needs. A well-formed message of a
// type the server does not handle is returned with ErrUnknownType, so the
// caller can log it and go on (as the reference server's clients expect of
// each other: unknown types are not fatal).
func DecodeMessage(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxMessageSize {
		return m, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxMessageSize)
	}
	if err := checkDepth(b, maxDepth); err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m.Type == "" {
		return m, fmt.Errorf("%w: no type", ErrMalformed)
	}
	switch m.Type {
	case TypeList, TypeListConsumers:
	case TypeSetProtocolVersion:
		if m.Version != Version10 && m.Version != Version11 {
			return m, fmt.Errorf("%w: unknown protocol version %.32q", ErrMalformed, m.Version)
		}
	case TypeSetPeerStatus:
		if len(m.Roles) > maxRoles {
			return m, fmt.Errorf("%w: %d roles", ErrMalformed, len(m.Roles))
		}
		for _, r := range m.Roles {
			if r != RoleProducer && r != RoleListener && r != RoleConsumer {
				return m, fmt.Errorf("%w: unknown role %.32q", ErrMalformed, r)
			}
		}
		if len(m.Meta) > maxMetaSize {
			return m, fmt.Errorf("%w: meta of %d bytes, limit %d", ErrMalformed, len(m.Meta), maxMetaSize)
		}
		if t := bytes.TrimSpace(m.Meta); len(t) > 0 && t[0] != '{' && !bytes.Equal(t, []byte("null")) {
			return m, fmt.Errorf("%w: meta is not an object", ErrMalformed)
		}
		if bytes.Equal(bytes.TrimSpace(m.Meta), []byte("null")) {
			m.Meta = nil
		}
	case TypeStartSession:
		if err := checkID("peerId", m.PeerID); err != nil {
			return m, err
		}
		if m.Offer != nil && len(*m.Offer) > maxSDPSize {
			return m, fmt.Errorf("%w: offer too large", ErrMalformed)
		}
	case TypePeer:
		if err := checkID("sessionId", m.SessionID); err != nil {
			return m, err
		}
		switch {
		case m.SDP != nil && m.ICE != nil:
			return m, fmt.Errorf("%w: peer message with both sdp and ice", ErrMalformed)
		case m.SDP != nil:
			if m.SDP.Type != "offer" && m.SDP.Type != "answer" {
				return m, fmt.Errorf("%w: sdp type %.32q", ErrMalformed, m.SDP.Type)
			}
			if m.SDP.SDP == "" || len(m.SDP.SDP) > maxSDPSize {
				return m, fmt.Errorf("%w: sdp of %d bytes", ErrMalformed, len(m.SDP.SDP))
			}
		case m.ICE != nil:
			if len(m.ICE.Candidate) > maxCandidate {
				return m, fmt.Errorf("%w: ice candidate too long", ErrMalformed)
			}
			if m.ICE.SDPMid != nil && len(*m.ICE.SDPMid) > maxMidLen {
				return m, fmt.Errorf("%w: sdpMid too long", ErrMalformed)
			}
		default:
			return m, fmt.Errorf("%w: peer message without sdp or ice", ErrMalformed)
		}
	case TypeEndSession, TypeEndSessionV11:
		if err := checkID("sessionId", m.SessionID); err != nil {
			return m, err
		}
	default:
		if len(m.Type) > maxIDLen {
			m.Type = m.Type[:maxIDLen]
		}
		return m, fmt.Errorf("%w: %.64q", ErrUnknownType, m.Type)
	}
	return m, nil
}

func checkID(field, v string) error {
	if v == "" {
		return fmt.Errorf("%w: no %s", ErrMalformed, field)
	}
	if len(v) > maxIDLen {
		return fmt.Errorf("%w: %s too long", ErrMalformed, field)
	}
	return nil
}

// Encoders for the server-to-client messages. Each has its own struct so that
// the fields a client requires are always present (roles as an array, meta as
// null rather than absent, producers as [] rather than null).

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain strings, slices and validated raw JSON are encoded.
		panic(fmt.Sprintf("webrtc: encoding a signalling message: %v", err))
	}
	return b
}

func rawOrNull(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("null")
	}
	return m
}

func encWelcome(peerID string) []byte {
	return mustJSON(struct {
		Type   string `json:"type"`
		PeerID string `json:"peerId"`
	}{TypeWelcome, peerID})
}

func encPeerStatusChanged(peerID string, roles []string, meta json.RawMessage) []byte {
	if roles == nil {
		roles = []string{}
	}
	return mustJSON(struct {
		Type   string          `json:"type"`
		PeerID string          `json:"peerId"`
		Roles  []string        `json:"roles"`
		Meta   json.RawMessage `json:"meta"`
	}{TypePeerStatusChanged, peerID, roles, rawOrNull(meta)})
}

func encList(typ, field string, peers []PeerEntry) []byte {
	if peers == nil {
		peers = []PeerEntry{}
	}
	for i := range peers {
		peers[i].Meta = rawOrNull(peers[i].Meta)
	}
	return mustJSON(map[string]any{"type": typ, field: peers})
}

func encSessionStarted(producerID, sessionID string) []byte {
	return mustJSON(struct {
		Type      string `json:"type"`
		PeerID    string `json:"peerId"`
		SessionID string `json:"sessionId"`
	}{TypeSessionStarted, producerID, sessionID})
}

func encOffer(sessionID, sdp string) []byte {
	return mustJSON(struct {
		Type      string `json:"type"`
		SessionID string `json:"sessionId"`
		SDP       SDP    `json:"sdp"`
	}{TypePeer, sessionID, SDP{Type: "offer", SDP: sdp}})
}

// encICE always carries sdpMLineIndex: GStreamer's webrtcsrc requires it.
func encICE(sessionID, candidate string, mid string, index uint16) []byte {
	type ice struct {
		Candidate     string `json:"candidate"`
		SDPMLineIndex uint16 `json:"sdpMLineIndex"`
		SDPMid        string `json:"sdpMid"`
	}
	return mustJSON(struct {
		Type      string `json:"type"`
		SessionID string `json:"sessionId"`
		ICE       ice    `json:"ice"`
	}{TypePeer, sessionID, ice{candidate, index, mid}})
}

// encEndSession tells a consumer its session ended. Protocol 1.0 peers get
// endSession {sessionId}; 1.1 peers get endSessionV1_1 {sessionId, error},
// where error is set only for failures (GStreamer's webrtcsrc posts it as an
// element error). Both carry the reachyd-specific reason when there is one,
// in the field the central relay protocol uses; clients of the reference
// server ignore unknown fields.
func encEndSession(sessionID, reason string, v11, failure bool) []byte {
	if v11 {
		var e *string
		if failure && reason != "" {
			e = &reason
		}
		return mustJSON(struct {
			Type      string  `json:"type"`
			SessionID string  `json:"sessionId"`
			Error     *string `json:"error"`
			Reason    string  `json:"reason,omitempty"`
		}{TypeEndSessionV11, sessionID, e, reason})
	}
	return mustJSON(struct {
		Type      string `json:"type"`
		SessionID string `json:"sessionId"`
		Reason    string `json:"reason,omitempty"`
	}{TypeEndSession, sessionID, reason})
}

func encError(details string) []byte {
	return mustJSON(struct {
		Type    string `json:"type"`
		Details string `json:"details"`
	}{TypeError, details})
}

// checkDepth refuses JSON nested deeper than max before it is decoded.
func checkDepth(b []byte, max int) error {
	if err := jsondepth.Check(b, max); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
