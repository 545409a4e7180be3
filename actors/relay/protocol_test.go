package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDecodeCentral(t *testing.T) {
	for _, tc := range []struct {
		in  string
		ok  bool
		typ string
	}{
		{`{"type":"welcome","peerId":"p","recommended_heartbeat_interval_seconds":2}`, true, "welcome"},
		{`{"type":"peer","sessionId":"s","sdp":{"type":"answer","sdp":"v=0"},"extra":1}`, true, "peer"},
		{`{"type":"peer","sessionId":"s","ice":null}`, true, "peer"},
		{`{"type":"peer","sessionId":"s","sdp":"v=0"}`, false, ""},
		{`{"peerId":"p"}`, false, ""},
		{`[1,2]`, false, ""},
		{`{"type":"x","sessionId":"` + strings.Repeat("a", 300) + `"}`, false, ""},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), false, ""},
		{`{"type":"endSession","sessionId":"s","reason":"r"}`, true, "endSession"},
	} {
		m, err := DecodeCentral([]byte(tc.in))
		if (err == nil) != tc.ok || (err == nil && m.Type != tc.typ) {
			t.Errorf("DecodeCentral(%.60s) = %+v, %v", tc.in, m, err)
		}
		if err != nil && !errors.Is(err, ErrBadMessage) {
			t.Errorf("error %v does not wrap ErrBadMessage", err)
		}
	}
}

func TestSSEData(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"data: {\"a\":1}\r\n", `{"a":1}`, true},
		{"data:{}\n", `{}`, true},
		{": keep-alive\n", "", false},
		{"event: message\n", "", false},
		{"\n", "", false},
	} {
		got, ok := SSEData([]byte(tc.in))
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("SSEData(%q) = %q, %v", tc.in, got, ok)
		}
	}
}

// A line longer than MaxLine ends the stream instead of growing a buffer.
func TestReadSSELineLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || strings.Contains(r.URL.String(), "tok") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "data: {\"type\":\"welcome\",\"peerId\":\"p\"}\n\n")
		fmt.Fprintf(w, "data: {\"type\":\"x\",\"pad\":\"%s\"}\n\n", strings.Repeat("a", MaxLine+10))
		fmt.Fprintf(w, "data: {\"type\":\"after\"}\n\n")
	}))
	defer srv.Close()
	var got []string
	var failure string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	readSSE(ctx, srv.Client(), srv.URL, "tok", slog.New(slog.NewTextHandler(io.Discard, nil)), sseEvents{
		opened: func() { got = append(got, "opened") },
		data:   func(m CentralMsg) { got = append(got, m.Type) },
		alive:  func() {},
		failed: func(status int, err string) { failure = fmt.Sprint(status, " ", err) },
	})
	if strings.Join(got, ",") != "opened,welcome" || !strings.Contains(failure, "a line of more than") {
		t.Fatalf("events %v, failure %q", got, failure)
	}
}

func FuzzDecodeCentral(f *testing.F) {
	for _, s := range []string{
		`{"type":"welcome","peerId":"p","lease_seconds":30}`,
		`{"type":"startSession","peerId":"c","sessionId":"s"}`,
		`{"type":"peer","sessionId":"s","ice":{"candidate":"c","sdpMLineIndex":0}}`,
		`{"type":"endSession","sessionId":"s"}`,
		`[[[[`, `"x"`, `{"type":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeCentral(b)
		if err != nil {
			return
		}
		if m.Type == "" || len(m.SessionID) > maxIDLen || len(m.PeerID) > maxIDLen {
			t.Fatalf("accepted %+v", m)
		}
		// The core takes anything DecodeCentral accepts without panicking.
		c := NewCore()
		now := time.Now()
		c.Step(now, 0, InStart{})
		c.Step(now, 0, InToken{Token: "t"})
		c.Step(now, 0, InLocalUp{ProducerID: "p"})
		c.Step(now, 0, InSSEData{Gen: c.gen, Msg: CentralMsg{Type: "welcome", PeerID: "me"}})
		c.Step(now, 0, InSSEData{Gen: c.gen, Msg: m})
	})
}

func FuzzDecodeRobots(f *testing.F) {
	f.Add([]byte(`{"robots":[{"peerId":"a","meta":{"name":"r"}}]}`))
	f.Add([]byte(`{"robots":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		robots, err := DecodeRobots(b)
		if err != nil {
			return
		}
		_ = listsPeer(robots, "a")
	})
}

// The stream as the central server writes it (sse-starlette: CRLF, an
// event line before each data line, comment pings, and after 30 s without
// a message an `event: ping` whose data line is empty): the empty data
// line is a keep-alive, not a message to warn about.
func TestReadSSEPingEvent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "event: message\r\ndata: {\"type\":\"welcome\",\"peerId\":\"p\",\"username\":\"u\"}\r\n\r\n")
		io.WriteString(w, "event: message\r\ndata: {\"type\":\"list\",\"producers\":[]}\r\n\r\n")
		io.WriteString(w, ": ping - 2026-12-05 15:00:00.000000+00:00\r\n\r\n")
		io.WriteString(w, "event: ping\r\ndata: \r\n\r\n")
		io.WriteString(w, "event: message\r\ndata: {\"type\":\"endSession\",\"sessionId\":\"s\"}\r\n\r\n")
	}))
	defer srv.Close()
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var got []string
	alive := 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	readSSE(ctx, srv.Client(), srv.URL, "tok", log, sseEvents{
		opened: func() {},
		data:   func(m CentralMsg) { got = append(got, m.Type) },
		alive:  func() { alive++ },
		failed: func(int, string) {},
	})
	if strings.Join(got, ",") != "welcome,list,endSession" || alive == 0 {
		t.Fatalf("messages %v, alive reports %d", got, alive)
	}
	if logs.Len() > 0 {
		t.Fatalf("the ping event was logged: %s", logs.String())
	}
}
