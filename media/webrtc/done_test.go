package webrtc

import (
	"sync/atomic"
	"testing"
	"time"
)

// Session.Done is closed only once the PeerConnection is closed and
// OnSessionEnd has run: the relay waits on it before a local app starts.
func TestSessionDoneAfterEnd(t *testing.T) {
	var ended atomic.Bool
	p, _ := newProducer(t, Config{OnSessionEnd: func(*Session, string) { ended.Store(true) }})
	c := connectConsumer(t, connectInProc(t, p), p, false)
	s := p.Session(c.sessionID)
	if s == nil {
		t.Fatal("no session")
	}
	select {
	case <-s.Done():
		t.Fatal("Done closed while the session runs")
	default:
	}
	p.EndSession(s.ID(), "local_app_started")
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the end")
	}
	if !ended.Load() {
		t.Fatal("Done closed before OnSessionEnd ran")
	}
	if st := s.pc.ConnectionState().String(); st != "closed" {
		t.Fatalf("PeerConnection %s when Done closed", st)
	}
}
