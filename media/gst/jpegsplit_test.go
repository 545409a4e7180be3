package gst

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"slices"
	"testing"
)

// testJPEG encodes a w x h picture that varies with seed.
func testJPEG(t testing.TB, w, h, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x*3 + seed), uint8(y * 5), uint8(r.IntN(256)), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// split feeds stream to a fresh splitter in chunks of the given sizes
// (cycled; the rest in one chunk when sizes is empty).
func split(max int, stream []byte, sizes ...int) ([]JPEGFrame, *JPEGSplitter) {
	s := NewJPEGSplitter(max)
	var out []JPEGFrame
	emit := func(f JPEGFrame) { out = append(out, f) }
	for k := 0; len(stream) > 0; k++ {
		n := len(stream)
		if len(sizes) > 0 {
			n = min(n, sizes[k%len(sizes)])
		}
		s.Feed(stream[:n], emit)
		stream = stream[n:]
	}
	return out, s
}

func datas(fs []JPEGFrame) [][]byte {
	var out [][]byte
	for _, f := range fs {
		out = append(out, f.Data)
	}
	return out
}

func sameFrames(t *testing.T, what string, got []JPEGFrame, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Data, want[i]) {
			t.Fatalf("%s: frame %d differs (%d bytes, want %d)", what, i, len(got[i].Data), len(want[i]))
		}
	}
}

func TestJPEGSplitterChunkBoundaries(t *testing.T) {
	frames := [][]byte{testJPEG(t, 64, 48, 1), testJPEG(t, 32, 24, 2), testJPEG(t, 80, 16, 3)}
	stream := slices.Concat(frames...)
	for _, sizes := range [][]int{nil, {1}, {2}, {3}, {7}, {64}, {1, 1000, 3}, {len(frames[0]) - 1}, {len(frames[0]) + 1}} {
		got, s := split(0, stream, sizes...)
		sameFrames(t, "chunks", got, frames)
		for i, f := range got {
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(f.Data))
			if err != nil || f.Width != cfg.Width || f.Height != cfg.Height {
				t.Fatalf("frame %d: %dx%d, decoded %v %v", i, f.Width, f.Height, cfg, err)
			}
		}
		if st := s.Stats(); st.Frames != 3 || st.Dropped != 0 || st.Discarded != 0 || s.Pending() != 0 {
			t.Fatalf("chunks %v: stats %v pending %d", sizes, st, s.Pending())
		}
	}
	// Emitted frames are the receiver's: the splitter never writes into
	// them again.
	got, _ := split(0, stream, 5)
	keep := bytes.Clone(got[0].Data)
	if !bytes.Equal(got[0].Data, keep) || &got[0].Data[0] == &got[1].Data[0] {
		t.Fatal("frames share memory")
	}
}

func TestJPEGSplitterGarbage(t *testing.T) {
	a, b := testJPEG(t, 40, 30, 4), testJPEG(t, 40, 30, 5)
	garbage := []byte("Setting pipeline to PLAYING ...\n\xff\xff\xd9\x00\xff")
	stream := slices.Concat(garbage, a, []byte("\x00\xff\xd9junk\xff"), b, []byte("trailing"))
	for _, sizes := range [][]int{nil, {1}, {5}} {
		got, s := split(0, stream, sizes...)
		sameFrames(t, "garbage", got, [][]byte{a, b})
		if st := s.Stats(); st.Discarded != int64(len(stream)-len(a)-len(b)) {
			t.Fatalf("stats %v, want %d discarded", st, len(stream)-len(a)-len(b))
		}
	}

	// A fake SOI whose header breaks off is dropped, and the search for
	// the next SOI resumes at the byte that broke it.
	stream = slices.Concat([]byte{0xff, 0xd8, 0x12}, a, []byte{0xff, 0xd8, 0xff, 0x00}, b)
	got, s := split(0, stream)
	sameFrames(t, "broken headers", got, [][]byte{a, b})
	if st := s.Stats(); st.Dropped != 2 {
		t.Fatalf("stats %v, want 2 dropped", st)
	}
}

func TestJPEGSplitterSegmentsMayHoldEOI(t *testing.T) {
	// A comment segment holding FF D9 (and FF D8) right after SOI: a
	// splitter searching for the end marker would cut the image there.
	a := testJPEG(t, 32, 32, 6)
	com := []byte{0xff, 0xfe, 0x00, 0x08, 0xff, 0xd9, 0xff, 0xd8, 'h', 'i'}
	withCom := slices.Concat(a[:2], com, a[2:])
	if _, err := jpeg.Decode(bytes.NewReader(withCom)); err != nil {
		t.Fatalf("test image: %v", err)
	}
	for _, sizes := range [][]int{nil, {1}, {3}} {
		got, _ := split(0, slices.Concat(withCom, a), sizes...)
		sameFrames(t, "COM with EOI", got, [][]byte{withCom, a})
	}
}

func TestJPEGSplitterEntropyData(t *testing.T) {
	// Hand-made image: stuffed FFs, restart markers and fill bytes in the
	// scan, then a second (progressive-style) scan before EOI.
	sof := []byte{0xff, 0xc0, 0x00, 0x0b, 8, 0x01, 0x20, 0x02, 0x80, 1, 1, 0x11, 0}
	sos := []byte{0xff, 0xda, 0x00, 0x08, 1, 1, 0, 0, 63, 0}
	scan := []byte{0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xff, 0xd1, 0x78, 0xff, 0x00}
	img := slices.Concat([]byte{0xff, 0xd8}, sof, sos, scan, sos, scan, []byte{0xff, 0xff, 0xd9})
	for _, sizes := range [][]int{nil, {1}, {2}} {
		got, _ := split(0, slices.Concat(img, img), sizes...)
		sameFrames(t, "entropy", got, [][]byte{img, img})
		if got[0].Width != 640 || got[0].Height != 288 {
			t.Fatalf("size %dx%d, want 640x288", got[0].Width, got[0].Height)
		}
	}

	// No scan, or no frame header: not an image.
	noScan := slices.Concat([]byte{0xff, 0xd8}, sof, []byte{0xff, 0xd9})
	noSOF := slices.Concat([]byte{0xff, 0xd8}, sos, scan, []byte{0xff, 0xd9})
	zero := slices.Concat([]byte{0xff, 0xd8}, sof[:5], []byte{0, 0}, sof[7:], sos, scan, []byte{0xff, 0xd9})
	got, s := split(0, slices.Concat(noScan, noSOF, zero, img))
	sameFrames(t, "incomplete", got, [][]byte{img})
	if st := s.Stats(); st.Dropped != 3 {
		t.Fatalf("stats %v, want 3 dropped", st)
	}
}

func TestJPEGSplitterOversize(t *testing.T) {
	small, big := testJPEG(t, 16, 16, 7), testJPEG(t, 160, 120, 8)
	if len(big) < 2*len(small) {
		t.Fatalf("test images: %d and %d bytes", len(small), len(big))
	}
	max := len(big) - 1
	stream := slices.Concat(small, big, small, big[:len(big)/2], small)
	for _, sizes := range [][]int{nil, {1}, {100}, {max}} {
		got, s := split(max, stream, sizes...)
		// The truncated half of big is under the limit: it is cut short
		// by the next SOI.
		sameFrames(t, "oversize", got, [][]byte{small, small, small})
		if st := s.Stats(); st.Oversize != 1 || st.Dropped != 2 {
			t.Fatalf("chunks %v: stats %v, want 1 oversize of 2 dropped", sizes, st)
		}
		if s.Pending() != 0 {
			t.Fatalf("pending %d", s.Pending())
		}
	}
	// An image of exactly the limit passes.
	got, _ := split(len(big), slices.Concat(big, small), 1000)
	sameFrames(t, "at the limit", got, [][]byte{big, small})
	// Endless fill bytes inside an image never grow past the limit.
	s := NewJPEGSplitter(1000)
	s.Feed([]byte{0xff, 0xd8}, func(JPEGFrame) { t.Fatal("emitted") })
	for range 100 {
		s.Feed(bytes.Repeat([]byte{0xff}, 100), func(JPEGFrame) { t.Fatal("emitted") })
		if s.Pending() > 1000 {
			t.Fatalf("pending %d over the limit", s.Pending())
		}
	}
}

func TestJPEGSplitterTruncated(t *testing.T) {
	a, b, c := testJPEG(t, 48, 48, 9), testJPEG(t, 48, 48, 10), testJPEG(t, 48, 48, 11)
	for _, cut := range []int{1, 2, 3, 20, 200, len(a) / 2, len(a) - 2, len(a) - 1} {
		got, _ := split(0, slices.Concat(a[:cut], b, c), 17)
		want := [][]byte{b, c}
		if cut == 20 || cut == 200 {
			// Cut inside a header segment (Go's encoder writes DQT
			// and DHT first): the segment's length swallows the start
			// of b, which is lost too; c comes through.
			want = [][]byte{c}
		}
		sameFrames(t, fmt.Sprintf("cut at %d", cut), got, want)
		// Cut short at the end of the stream: nothing is emitted, the
		// rest is pending.
		pending := cut
		if cut < 2 {
			pending = 0 // a lone FF is no image yet
		}
		got, s := split(0, a[:cut], 17)
		if len(got) != 0 || s.Pending() != pending {
			t.Fatalf("end cut at %d: %d frames, pending %d", cut, len(got), s.Pending())
		}
	}
}

// FuzzJPEGSplitter checks, on any input, that the result does not depend
// on how the stream is chunked, that frames are bounded and well framed,
// and that an emitted frame splits into itself.
func FuzzJPEGSplitter(f *testing.F) {
	a, b := testJPEG(f, 16, 16, 1), testJPEG(f, 24, 8, 2)
	f.Add(slices.Concat(a, b), uint64(1), uint16(0))
	f.Add(slices.Concat([]byte("xx\xff"), a, a[:40], b), uint64(2), uint16(300))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xfe, 0, 4, 0xff, 0xd9, 0xff, 0xd9}, uint64(3), uint16(5))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xc0, 0, 8, 8, 0, 1, 0, 1, 1, 0xff, 0xda, 0, 2, 1, 0xff, 0, 0xff, 0xd9}, uint64(4), uint16(0))
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64, max16 uint16) {
		max := int(max16)
		whole, ws := split(max, stream)
		r := rand.New(rand.NewPCG(seed, seed>>32))
		sizes := make([]int, 1+r.IntN(8))
		for i := range sizes {
			sizes[i] = 1 + r.IntN(64)
		}
		chunked, cs := split(max, stream, sizes...)
		if !slices.EqualFunc(datas(whole), datas(chunked), bytes.Equal) || ws.Stats() != cs.Stats() || ws.Pending() != cs.Pending() {
			t.Fatalf("chunks %v change the result: %d vs %d frames, %v vs %v", sizes, len(whole), len(chunked), ws.Stats(), cs.Stats())
		}
		if max <= 0 {
			max = MaxJPEGFrame
		}
		total := int64(ws.Pending()) + ws.Stats().Discarded
		for _, fr := range whole {
			total += int64(len(fr.Data))
			d := fr.Data
			if len(d) > max || len(d) < 4 || d[0] != 0xff || d[1] != 0xd8 || d[len(d)-2] != 0xff || d[len(d)-1] != 0xd9 || fr.Width <= 0 || fr.Height <= 0 {
				t.Fatalf("bad frame: %d bytes, %dx%d, % x...", len(d), fr.Width, fr.Height, d[:min(len(d), 8)])
			}
			again, _ := split(max, d)
			if len(again) != 1 || !bytes.Equal(again[0].Data, d) || again[0].Width != fr.Width {
				t.Fatal("an emitted frame does not split into itself")
			}
		}
		if total != int64(len(stream)) {
			t.Fatalf("accounted for %d bytes of %d", total, len(stream))
		}
	})
}
