package webrtc

import (
	"encoding/binary"
	"sync"
	"time"
)

// continuity keeps one outgoing RTP stream continuous across restarts of
// the pipeline that feeds it. A new pipeline's payloader starts with a new
// SSRC and random sequence numbers and timestamps; pion forwards them as
// they are, under the track's SSRC, so a consumer would see its sequence
// jump, often backwards, and its SRTP replay protection would then drop
// every packet (a restarted camera or microphone went silent for the
// sessions already open). On a new source SSRC the offsets are chosen so
// that the sequence goes on from the last packet sent and the timestamp
// advances by the time that passed.
type continuity struct {
	clockRate uint32
	now       func() time.Time

	mu      sync.Mutex
	started bool
	src     uint32 // the source's SSRC
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16 // the last sent, rewritten
	lastTS  uint32
	lastAt  time.Time
}

func newContinuity(clockRate uint32) *continuity {
	return &continuity{clockRate: clockRate, now: time.Now}
}

// rewrite rewrites pkt's sequence number and timestamp in place. It
// reports false for a packet too short to be RTP, which is left alone.
func (c *continuity) rewrite(pkt []byte) bool {
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		return false
	}
	seq := binary.BigEndian.Uint16(pkt[2:4])
	ts := binary.BigEndian.Uint32(pkt[4:8])
	ssrc := binary.BigEndian.Uint32(pkt[8:12])
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		c.started, c.src = true, ssrc
	} else if ssrc != c.src {
		// A new source: go on from the last packet sent. The first
		// packet of the new source is one after it, and its timestamp as
		// far after the last one as the time since (one tick at least).
		elapsed := now.Sub(c.lastAt)
		ticks := uint32(max(1, elapsed.Seconds()*float64(c.clockRate)))
		c.src = ssrc
		c.seqOff = c.lastSeq + 1 - seq
		c.tsOff = c.lastTS + ticks - ts
	}
	seq += c.seqOff
	ts += c.tsOff
	binary.BigEndian.PutUint16(pkt[2:4], seq)
	binary.BigEndian.PutUint32(pkt[4:8], ts)
	// The newest packet sent is the reference for the next source.
	if int16(seq-c.lastSeq) > 0 || c.lastAt.IsZero() {
		c.lastSeq, c.lastTS, c.lastAt = seq, ts, now
	}
	return true
}
