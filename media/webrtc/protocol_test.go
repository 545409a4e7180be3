package webrtc

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeMessage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		err  error
		want func(Message) bool
	}{
		{`{"type":"setPeerStatus","roles":["listener"],"meta":{"name":"reachy-desktop-app"}}`, nil,
			func(m Message) bool {
				return m.Roles[0] == RoleListener && string(m.Meta) == `{"name":"reachy-desktop-app"}`
			}},
		{`{"type":"setPeerStatus","roles":[],"meta":null}`, nil, func(m Message) bool { return m.Meta == nil }},
		{`{"type":"setProtocolVersion","version":"v1_1"}`, nil, func(m Message) bool { return m.Version == Version11 }},
		{`{"type":"startSession","peerId":"p"}`, nil, func(m Message) bool { return m.PeerID == "p" && m.Offer == nil }},
		{`{"type":"peer","sessionId":"s","sdp":{"type":"answer","sdp":"v=0\r\n"}}`, nil,
			func(m Message) bool { return m.SDP.Type == "answer" }},
		// As a browser sends it (RTCIceCandidate.toJSON()) and as GStreamer does.
		{`{"type":"peer","sessionId":"s","ice":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"u"}}`, nil,
			func(m Message) bool { return *m.ICE.SDPMid == "0" && *m.ICE.SDPMLineIndex == 0 }},
		{`{"type":"peer","sessionId":"s","ice":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMLineIndex":1}}`, nil,
			func(m Message) bool { return m.ICE.SDPMid == nil && *m.ICE.SDPMLineIndex == 1 }},
		{`{"type":"endSession","sessionId":"s"}`, nil, func(m Message) bool { return m.SessionID == "s" }},
		{`{"type":"endSessionV1_1","sessionId":"s","error":"boom"}`, nil, func(m Message) bool { return *m.Error == "boom" }},
		{`{"type":"list"}`, nil, nil},
		{`{"type":"listConsumers"}`, nil, nil},
		{`{"type":"welcome","peerId":"x"}`, ErrUnknownType, nil},
		{`{"type":"somethingNew"}`, ErrUnknownType, nil},
		{``, ErrMalformed, nil},
		{`null`, ErrMalformed, nil},
		{`{"type":1}`, ErrMalformed, nil},
		{`{"type":"list"} {}`, ErrMalformed, nil},
		{`{"type":"setProtocolVersion","version":"v9"}`, ErrMalformed, nil},
		{`{"type":"setPeerStatus","roles":["a","b","c","d","e","f","g","h","i"]}`, ErrMalformed, nil},
		{`{"type":"setPeerStatus","meta":{"x":"` + strings.Repeat("a", 5000) + `"}}`, ErrMalformed, nil},
		{`{"type":"setPeerStatus","meta":[1]}`, ErrMalformed, nil},
		{`{"type":"startSession","peerId":""}`, ErrMalformed, nil},
		{`{"type":"startSession","peerId":"` + strings.Repeat("p", 200) + `"}`, ErrMalformed, nil},
		{`{"type":"peer","sessionId":"s"}`, ErrMalformed, nil},
		{`{"type":"peer","sessionId":"s","sdp":{"type":"pranswer","sdp":"v=0"}}`, ErrMalformed, nil},
		{`{"type":"peer","sessionId":"s","sdp":{"type":"answer","sdp":""}}`, ErrMalformed, nil},
		{`{"type":"peer","sessionId":"s","sdp":{"type":"answer","sdp":"v"},"ice":{"candidate":""}}`, ErrMalformed, nil},
		{`{"type":"peer","sessionId":"s","ice":{"candidate":"c","sdpMLineIndex":70000}}`, ErrMalformed, nil},
		{`{"type":"endSession"}`, ErrMalformed, nil},
		{`{"type":"list","x":` + strings.Repeat("[", 33) + strings.Repeat("]", 33) + `}`, ErrMalformed, nil},
		{`{"type":"list","x":"` + strings.Repeat("[", 100) + `"}`, nil, nil}, // brackets in a string are not nesting
		{`{"type":"list","x":"` + strings.Repeat("a", MaxMessageSize) + `"}`, ErrTooLarge, nil},
	} {
		m, err := DecodeMessage([]byte(tc.in))
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%.80s: err %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%.80s: %v", tc.in, err)
			continue
		}
		if tc.want != nil && !tc.want(m) {
			t.Errorf("%.80s: decoded %+v", tc.in, m)
		}
	}
}

// The server's messages carry what clients require even when empty.
func TestEncodedShapes(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{string(encPeerStatusChanged("a", nil, nil)), `{"type":"peerStatusChanged","peerId":"a","roles":[],"meta":null}`},
		{string(encList(TypeListConsumers, "consumers", nil)), `{"consumers":[],"type":"listConsumers"}`},
		{string(encList(TypeList, "producers", []PeerEntry{{ID: "p"}})), `{"producers":[{"id":"p","meta":null}],"type":"list"}`},
		{string(encSessionStarted("p", "s")), `{"type":"sessionStarted","peerId":"p","sessionId":"s"}`},
		{string(encICE("s", "candidate:x", "0", 0)), `{"type":"peer","sessionId":"s","ice":{"candidate":"candidate:x","sdpMLineIndex":0,"sdpMid":"0"}}`},
		{string(encEndSession("s", "", false, false)), `{"type":"endSession","sessionId":"s"}`},
		{string(encEndSession("s", "robot_busy", true, false)), `{"type":"endSessionV1_1","sessionId":"s","error":null,"reason":"robot_busy"}`},
		{string(encEndSession("s", "ice_negotiation_timeout", true, true)), `{"type":"endSessionV1_1","sessionId":"s","error":"ice_negotiation_timeout","reason":"ice_negotiation_timeout"}`},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"setPeerStatus","roles":["listener"],"meta":{"name":"x"}}`,
		`{"type":"setProtocolVersion","version":"v1_0"}`,
		`{"type":"startSession","peerId":"p","offer":"v=0"}`,
		`{"type":"peer","sessionId":"s","sdp":{"type":"answer","sdp":"v=0"}}`,
		`{"type":"peer","sessionId":"s","ice":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host","sdpMLineIndex":0}}`,
		`{"type":"endSession","sessionId":"s"}`,
		`{"type":"list"}`,
		`{"type":"x","a":[[[[{}]]]]}`,
		`{"type":"list","x":"\"[[["}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		switch m.Type {
		case TypeList, TypeListConsumers, TypeSetProtocolVersion, TypeSetPeerStatus, TypeStartSession, TypePeer, TypeEndSession, TypeEndSessionV11:
		default:
			t.Fatalf("accepted type %q", m.Type)
		}
		if len(m.Meta) > maxMetaSize || len(m.Roles) > maxRoles || len(m.PeerID) > maxIDLen || len(m.SessionID) > maxIDLen {
			t.Fatalf("limits not applied: %+v", m)
		}
		if m.Type == TypePeer && (m.SDP == nil) == (m.ICE == nil) {
			t.Fatalf("peer message with sdp %v ice %v", m.SDP, m.ICE)
		}
		// What was accepted can be echoed (meta goes to every listener).
		if b := encPeerStatusChanged("p", m.Roles, m.Meta); !json.Valid(b) {
			t.Fatalf("re-encoded %s", b)
		}
	})
}
