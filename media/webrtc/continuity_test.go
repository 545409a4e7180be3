package webrtc

import (
	"encoding/binary"
	"testing"
	"time"
)

func rtpHeader(seq uint16, ts, ssrc uint32) []byte {
	b := make([]byte, 13)
	b[0] = 0x80
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

func seqTS(b []byte) (uint16, uint32) {
	return binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:])
}

// A stream goes through unchanged until its source changes SSRC; then the
// sequence goes on from the last packet sent and the timestamp advances by
// the time that passed, whatever the new source starts from.
func TestContinuityAcrossANewSource(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newContinuity(90000)
	c.now = func() time.Time { return now }
	for i, in := range []uint16{65534, 65535, 0} { // a wrap on the way
		pkt := rtpHeader(in, 3000*uint32(i)+100, 7)
		c.rewrite(pkt)
		if seq, ts := seqTS(pkt); seq != in || ts != 3000*uint32(i)+100 {
			t.Fatalf("first source, packet %d rewritten to %d/%d", i, seq, ts)
		}
		now = now.Add(33 * time.Millisecond)
	}
	// The last sent: seq 0, ts 6100, 33 ms ago. Then 100 ms without
	// packets while the pipeline restarts; the new source starts lower.
	now = now.Add(100 * time.Millisecond)
	pkt := rtpHeader(12, 5, 9)
	c.rewrite(pkt)
	seq, ts := seqTS(pkt)
	if seq != 1 {
		t.Errorf("new source's first packet has seq %d, want 1", seq)
	}
	if want := uint32(6100 + 133*90); ts != want {
		t.Errorf("new source's first packet has ts %d, want %d (6100 + 133 ms at 90 kHz)", ts, want)
	}
	// Its next packets keep its own spacing.
	pkt = rtpHeader(13, 3005, 9)
	c.rewrite(pkt)
	if seq2, ts2 := seqTS(pkt); seq2 != 2 || ts2 != ts+3000 {
		t.Errorf("second packet %d/%d, want 2/%d", seq2, ts2, ts+3000)
	}
	// Not RTP: left alone.
	if c.rewrite([]byte{0x80, 1, 2}) {
		t.Error("a 3-byte packet was taken for RTP")
	}
}
