package authcore

import (
	"fmt"
	"testing"
	"time"

	"reachyd/messages"
)

func BenchmarkIssue(b *testing.B) {
	s := testSigner(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Issue(testIdentity, t0, DefaultTokenTTL); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyLiveSession: the common case, a REST command or a
// WebSocket handshake with a token of a session the Core knows.
func BenchmarkVerifyLiveSession(b *testing.B) {
	e := newEnv(b, Config{})
	key, _ := e.key(b, "k", messages.LevelUser)
	g := e.grant(b, key, t0)
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyColdSession: a token whose session the Core does not
// know (after a restart): the session is re-created from the claims.
func BenchmarkVerifyColdSession(b *testing.B) {
	e := newEnv(b, Config{})
	key, _ := e.key(b, "k", messages.LevelUser)
	g := e.grant(b, key, t0)
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		e.core.drop(e.core.sessions[g.SessionID]) // forget without a tombstone
		b.StartTimer()
		if _, err := e.core.Verify(g.Token, tcp, messages.ChannelNetwork, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	e := newEnv(b, Config{})
	var key string
	for i := 0; i < 100; i++ {
		key, _ = e.key(b, fmt.Sprint("k", i), messages.LevelUser)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.store.Lookup(key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupMalformed(b *testing.B) {
	e := newEnv(b, Config{})
	junk := string(make([]byte, 1<<20))
	b.ReportAllocs()
	for b.Loop() {
		e.store.Lookup(junk)
	}
}
