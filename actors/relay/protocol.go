package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"reachyd/internal/jsondepth"
)

// Limits on what central sends. A line of the SSE stream carries one
// message; an SDP offer or answer is a few KiB.
const (
	// MaxLine is the longest SSE line read; a longer one ends the stream.
	MaxLine    = 64 << 10
	maxDepth   = 16
	maxIDLen   = 256
	maxTypeLen = 64
)

// ErrBadMessage wraps every reason DecodeCentral refuses a message.
var ErrBadMessage = errors.New("relay: bad message from central")

// CentralMsg is one message from central (spec 6.2): the union of the
// fields of welcome, startSession, peer and endSession. SDP and ICE are
// kept raw: they are forwarded to the producer, whose decoder checks them.
type CentralMsg struct {
	Type                 string          `json:"type"`
	PeerID               string          `json:"peerId,omitempty"`
	SessionID            string          `json:"sessionId,omitempty"`
	Reason               string          `json:"reason,omitempty"`
	SDP                  json.RawMessage `json:"sdp,omitempty"`
	ICE                  json.RawMessage `json:"ice,omitempty"`
	RecommendedHeartbeat *float64        `json:"recommended_heartbeat_interval_seconds,omitempty"`
	LeaseSeconds         *float64        `json:"lease_seconds,omitempty"`
}

// DecodeCentral parses the JSON of one SSE data line with limits on size,
// nesting and id lengths. Unknown fields are ignored (central adds fields
// for browsers); sdp and ice must be objects when present.
func DecodeCentral(b []byte) (CentralMsg, error) {
	var m CentralMsg
	if len(b) > MaxLine {
		return m, fmt.Errorf("%w: %d bytes", ErrBadMessage, len(b))
	}
	if err := checkDepth(b, maxDepth); err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return CentralMsg{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	switch {
	case m.Type == "" || len(m.Type) > maxTypeLen:
		return CentralMsg{}, fmt.Errorf("%w: type %.64q", ErrBadMessage, m.Type)
	case len(m.PeerID) > maxIDLen || len(m.SessionID) > maxIDLen || len(m.Reason) > maxIDLen:
		return CentralMsg{}, fmt.Errorf("%w: id too long", ErrBadMessage)
	}
	for _, raw := range []json.RawMessage{m.SDP, m.ICE} {
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] != '{' && !bytes.Equal(t, []byte("null")) {
			return CentralMsg{}, fmt.Errorf("%w: sdp or ice is not an object", ErrBadMessage)
		}
	}
	return m, nil
}

// SSEData returns the payload of an SSE line that carries data ("data:"
// then an optional space), and whether it does.
func SSEData(line []byte) ([]byte, bool) {
	line = bytes.TrimRight(line, "\r\n")
	rest, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return nil, false
	}
	return bytes.TrimPrefix(rest, []byte(" ")), true
}

// checkDepth refuses JSON nested deeper than max before it is decoded.
func checkDepth(b []byte, max int) error {
	if err := jsondepth.Check(b, max); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return nil
}
