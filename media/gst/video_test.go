package gst

import (
	"context"
	"testing"
	"time"
)

// vp8Frame reads the VP8 payload descriptor (RFC 7741 section 4.2): start
// tells the first packet of a frame, key whether that frame is a
// keyframe (the VP8 header's inverse key frame flag).
func vp8Frame(t *testing.T, p []byte) (start, key bool) {
	t.Helper()
	if len(p) < 1 {
		t.Fatal("empty VP8 payload")
	}
	n := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			t.Fatal("short VP8 descriptor")
		}
		x := p[1]
		n++
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(p) < n+1 {
				t.Fatal("short picture id")
			}
			if p[n]&0x80 != 0 {
				n += 2
			} else {
				n++
			}
		}
		if x&0x40 != 0 { // L
			n++
		}
		if x&0x30 != 0 { // T or K
			n++
		}
	}
	if len(p) <= n {
		t.Fatal("VP8 descriptor without payload")
	}
	start = p[0]&0x10 != 0 && p[0]&0x07 == 0
	return start, start && p[n]&0x01 == 0
}

// h264NALs lists the NAL unit types an H.264 RTP packet (RFC 6184)
// starts or carries: single NAL units, STAP-A contents, the first
// fragment of an FU-A.
func h264NALs(t *testing.T, p []byte) []byte {
	t.Helper()
	if len(p) < 2 {
		t.Fatal("short H.264 payload")
	}
	switch typ := p[0] & 0x1f; typ {
	case 24: // STAP-A
		var out []byte
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if i+2+size > len(p) || size == 0 {
				t.Fatal("bad STAP-A")
			}
			out = append(out, p[i+2]&0x1f)
			i += 2 + size
		}
		return out
	case 28: // FU-A
		if p[1]&0x80 != 0 {
			return []byte{p[1] & 0x1f}
		}
		return nil
	default:
		return []byte{typ}
	}
}

// videoFrame is one encoded frame as received.
type videoFrame struct {
	ts      uint32
	packets int
	key     bool
	nals    []byte
}

// runVideo feeds JPEG frames at 30 fps into an encoder process and
// returns the first n frames received as RTP.
func runVideo(t *testing.T, info Info, enc Encoder, n int) []videoFrame {
	t.Helper()
	q := newPacketQueue()
	rx := newReceiver(t, q.put)
	argv, err := VideoArgs(info.Launch, VideoConfig{Encoder: enc, Port: rx.Port()})
	if err != nil {
		t.Fatal(err)
	}
	p := startProc(t, Spec{Name: "video", Argv: Fixed(argv), StdinPipe: true})
	killAtEnd(t, p.Pid())

	// The camera: 30 frames a second until the test ends.
	images := jpegFrames(t, 8)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for i := 0; ; i++ {
			p.Write(images[i%len(images)])
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()

	var frames []videoFrame
	var cur *videoFrame
	var ssrc uint32
	var lastSeq uint16
	for first := true; len(frames) < n; first = false {
		pkt := parseRTP(t, q.next(t))
		if pkt.pt != PayloadVideo {
			t.Fatalf("payload type %d, want %d", pkt.pt, PayloadVideo)
		}
		if len(pkt.payload)+12 > 1200 {
			t.Fatalf("packet of %d bytes exceeds the MTU", len(pkt.payload)+12)
		}
		if first {
			ssrc = pkt.ssrc
		} else {
			if pkt.ssrc != ssrc {
				t.Fatalf("SSRC changed from %x to %x", ssrc, pkt.ssrc)
			}
			if pkt.seq != lastSeq+1 {
				t.Fatalf("sequence jumped from %d to %d", lastSeq, pkt.seq)
			}
		}
		lastSeq = pkt.seq
		if cur == nil {
			cur = &videoFrame{ts: pkt.ts}
			if len(frames) > 0 && int32(pkt.ts-frames[len(frames)-1].ts) <= 0 {
				t.Fatalf("frame timestamp %d not after %d", pkt.ts, frames[len(frames)-1].ts)
			}
		} else if pkt.ts != cur.ts {
			t.Fatalf("timestamp changed inside a frame (%d, %d): marker bit missing", cur.ts, pkt.ts)
		}
		cur.packets++
		switch enc {
		case EncoderVP8:
			start, key := vp8Frame(t, pkt.payload)
			if start != (cur.packets == 1) {
				t.Fatalf("packet %d of a frame has start %v", cur.packets, start)
			}
			cur.key = cur.key || key
		default:
			nals := h264NALs(t, pkt.payload)
			cur.nals = append(cur.nals, nals...)
			for _, typ := range nals {
				cur.key = cur.key || typ == 5
			}
		}
		if pkt.marker {
			frames = append(frames, *cur)
			cur = nil
		}
	}
	return frames
}

// checkKeyframes checks the first frame is a keyframe and no more than
// interval frames pass between two.
func checkKeyframes(t *testing.T, frames []videoFrame, interval int) {
	t.Helper()
	if !frames[0].key {
		t.Fatal("the first frame is not a keyframe")
	}
	keys, last := 0, 0
	var at []int
	for i, f := range frames {
		if f.key {
			keys++
			at = append(at, i)
			if i-last > interval {
				t.Fatalf("%d frames between keyframes %d and %d, want at most %d", i-last, last, i, interval)
			}
			last = i
		}
	}
	t.Logf("keyframes at %v of %d frames", at, len(frames))
	if len(frames)-last > interval {
		t.Fatalf("no keyframe in the last %d frames", len(frames)-last)
	}
	if keys < 2 || keys > len(frames)/2 {
		t.Fatalf("%d keyframes in %d frames", keys, len(frames))
	}
}

func TestVideoVP8(t *testing.T) {
	info := needGst(t)
	if !info.Has(EncoderVP8.elements()...) {
		t.Skip("vp8enc not installed")
	}
	frames := runVideo(t, info, EncoderVP8, 45)
	checkKeyframes(t, frames, 30)
	multi := false
	for _, f := range frames {
		multi = multi || f.packets > 1
	}
	if !multi {
		t.Error("no frame needed more than one packet: are the frames really 640x480?")
	}
}

func TestVideoX264(t *testing.T) {
	info := needGst(t)
	if !info.Has(EncoderX264.elements()...) {
		t.Skip("x264enc not installed")
	}
	frames := runVideo(t, info, EncoderX264, 45)
	checkKeyframes(t, frames, 30)
	// Each keyframe carries its parameter sets (config-interval=-1), so a
	// viewer can start at any of them.
	for i, f := range frames {
		if !f.key {
			continue
		}
		sps, pps := false, false
		for _, typ := range f.nals {
			sps = sps || typ == 7
			pps = pps || typ == 8
		}
		if !sps || !pps {
			t.Fatalf("keyframe %d without SPS/PPS: NAL types %v", i, f.nals)
		}
	}
}
