package gst

// JPEG stream splitting: a pipeline ending in "jpegenc ! fdsink" writes
// JPEG images back to back on its stdout, with nothing between them to
// say where one ends. The splitter finds the boundaries by following the
// JPEG structure (ITU T.81 annex B), not by searching for the two bytes
// of the end marker: header segments carry their length and are skipped
// whole (an APP or COM segment may hold any bytes, 0xFFD9 included), and
// in entropy-coded data every 0xFF byte is followed by 0x00 (stuffing), a
// restart marker RST0..RST7, fill bytes or the marker that ends the scan.
// So the first 0xFFD9 in marker position after SOI is the image's EOI.
//
// The assumption this rests on: the producer follows T.81's byte
// stuffing, as GStreamer's jpegenc (libjpeg) always does; it never writes
// a raw 0xFFD9 inside entropy-coded data, and it writes no embedded
// thumbnail images outside length-prefixed segments. An encoder that
// broke this would lose frames (they would be cut short and dropped as
// invalid), never make the splitter read out of bounds or hold more than
// its maximum.
//
// Anything that does not fit (text before an SOI, a frame cut short by a
// new SOI, a broken segment, a frame over the size limit) is dropped and
// the splitter looks for the next SOI: a torn stream costs the frames it
// tore, nothing more.

import (
	"bytes"
	"fmt"
)

// MaxJPEGFrame is the default bound of one image in a stream: a 4096x4096
// picture at quality 100 is about 6 MiB.
const MaxJPEGFrame = 8 << 20

// JPEGFrame is one image cut out of a stream.
type JPEGFrame struct {
	// Data holds the image from SOI to EOI inclusive. It is a fresh slice
	// the splitter never touches again: the receiver owns it.
	Data []byte
	// Width and Height come from the image's start-of-frame segment.
	Width, Height int
}

// splitter states.
const (
	seekSOI     = iota // outside an image: looking for FF D8
	wantFF             // inside an image's headers: a marker's FF must come
	wantMarker         // after FF (and fill FFs): the marker code
	lenHi              // the high byte of a segment length
	lenLo              // the low byte
	skipSegment        // inside a segment's body
	entropy            // inside a scan's entropy-coded data
	entropyFF          // entropy data, just after an FF
)

// JPEGSplitter cuts a byte stream into JPEG images. Feed it the stream in
// chunks of any size. The zero value is not ready: use NewJPEGSplitter.
// Not safe for concurrent use.
type JPEGSplitter struct {
	max    int
	state  int
	prevFF bool // seekSOI: the previous byte was FF

	frame   []byte // the current image's bytes held from earlier chunks
	marker  byte   // the segment being read
	segLen  int    // its length field
	remain  int    // bytes of its body still to skip
	sofAt   int    // offset of the SOF body in the image, -1 until seen
	scans   int    // SOS segments seen in the image
	lastLen int    // size of the last image, to size the next buffer

	stats JPEGSplitStats
}

// NewJPEGSplitter returns a splitter that drops images over max bytes
// (max <= 0: MaxJPEGFrame).
func NewJPEGSplitter(max int) *JPEGSplitter {
	if max <= 0 {
		max = MaxJPEGFrame
	}
	return &JPEGSplitter{max: max, sofAt: -1}
}

// JPEGSplitStats counts what a splitter did.
type JPEGSplitStats struct {
	// Frames is how many images were emitted.
	Frames int
	// Dropped counts images begun (SOI seen) and abandoned: broken
	// structure, a new SOI before the EOI, no scan or no usable SOF, or
	// over the size limit. Oversize counts the latter among them.
	Dropped, Oversize int
	// Discarded counts the bytes outside any image (garbage before an
	// SOI) and the bytes of dropped images.
	Discarded int64
}

// String describes the counters, for logs.
func (st JPEGSplitStats) String() string {
	return fmt.Sprintf("%d frames, %d dropped (%d oversize), %d bytes discarded", st.Frames, st.Dropped, st.Oversize, st.Discarded)
}

// Stats returns the splitter's counters.
func (s *JPEGSplitter) Stats() JPEGSplitStats { return s.stats }

// Pending reports how many bytes of an unfinished image the splitter
// holds (at most the size limit); at the end of a stream they are a
// truncated image, never emitted.
func (s *JPEGSplitter) Pending() int { return len(s.frame) }

// Feed consumes p and calls emit for each image completed in it, in
// order. p is not retained.
func (s *JPEGSplitter) Feed(p []byte, emit func(JPEGFrame)) {
	// While inside an image, its bytes are s.frame followed by
	// p[start:i]; they are copied out of p only when the image ends or p
	// does. Outside an image start is -1.
	start := 0
	if s.state == seekSOI {
		start = -1
	}
	for i := 0; i < len(p); i++ {
		if start >= 0 && s.held(p, start, i) >= s.max {
			// p[i] would take the image over the limit. Resync from
			// here: an SOI cannot hide in the rest of an image's
			// entropy-coded data (its FFs are stuffed).
			s.stats.Oversize++
			start = s.abandon(p, start, i)
		}
		b := p[i]
		switch s.state {
		case seekSOI:
			if s.prevFF && b == 0xd8 {
				s.stats.Discarded-- // that FF is the image's
				s.begin()
				start = i + 1
				continue
			}
			s.prevFF = b == 0xff
			s.stats.Discarded++

		case wantFF:
			if b != 0xff {
				start = s.abandon(p, start, i)
				i-- // look at this byte again, for an SOI
				continue
			}
			s.state = wantMarker

		case wantMarker, entropyFF:
			inScan := s.state == entropyFF
			switch {
			case b == 0xff: // fill byte
			case inScan && (b == 0x00 || (b >= 0xd0 && b <= 0xd7)):
				s.state = entropy // a stuffed FF, or a restart marker
			case b == 0xd8:
				// SOI: the current image was cut short; a new one
				// begins with the FF before this byte.
				s.stats.Dropped++
				s.stats.Discarded += int64(s.held(p, start, i) - 1)
				s.frame = s.frame[:0]
				s.begin()
				start = i + 1
			case b == 0xd9:
				start = s.finish(p, start, i, emit)
			case b == 0x01 || (b >= 0xd0 && b <= 0xd7): // standalone markers
				s.state = wantFF
			case b == 0x00:
				start = s.abandon(p, start, i)
				i--
			default:
				s.marker = b
				s.state = lenHi
			}

		case lenHi:
			s.segLen = int(b) << 8
			s.state = lenLo

		case lenLo:
			s.segLen |= int(b)
			if s.segLen < 2 {
				start = s.abandon(p, start, i)
				i--
				continue
			}
			if isSOFMarker(s.marker) && s.sofAt < 0 && s.segLen >= 8 {
				s.sofAt = s.held(p, start, i) + 1
			}
			if s.marker == 0xda {
				s.scans++
			}
			s.remain = s.segLen - 2
			s.state = skipSegment
			if s.remain == 0 {
				s.endSegment()
			}

		// The two bulk steps stop at the size limit, lim, so that the
		// check above drops an oversized image at the same byte however
		// the stream is chunked (i < lim holds here).
		case skipSegment:
			n := min(s.remain, s.limit(p, start)-i)
			s.remain -= n
			i += n - 1
			if s.remain == 0 {
				s.endSegment()
			}

		case entropy:
			lim := s.limit(p, start)
			j := bytes.IndexByte(p[i:lim], 0xff)
			if j < 0 {
				i = lim - 1
				continue
			}
			i += j
			s.state = entropyFF
		}
	}
	if start < 0 {
		return
	}
	s.frame = append(s.frame, p[start:]...)
}

// limit is the end of what the current image may take of p: the index
// of the first byte over the size limit, or len(p).
func (s *JPEGSplitter) limit(p []byte, start int) int {
	return min(len(p), start+s.max-len(s.frame))
}

// held is the size of the current image up to, not including, p[i].
func (s *JPEGSplitter) held(p []byte, start, i int) int {
	return len(s.frame) + i - start
}

// begin starts an image whose SOI was just read.
func (s *JPEGSplitter) begin() {
	if cap(s.frame) == 0 {
		s.frame = make([]byte, 0, min(s.max, max(4096, s.lastLen+s.lastLen/4)))
	}
	s.frame = append(s.frame[:0], 0xff, 0xd8)
	s.sofAt, s.scans = -1, 0
	s.state, s.prevFF = wantFF, false
}

// endSegment follows a segment's body: a scan's data after SOS, else the
// next marker.
func (s *JPEGSplitter) endSegment() {
	if s.marker == 0xda {
		s.state = entropy
		return
	}
	s.state = wantFF
}

// abandon drops the current image, whose bytes before p[i] are held, and
// goes back to looking for an SOI at p[i]. It returns the new start, -1.
func (s *JPEGSplitter) abandon(p []byte, start, i int) int {
	s.stats.Dropped++
	s.stats.Discarded += int64(s.held(p, start, i))
	s.frame = s.frame[:0] // never emitted: the buffer is reused
	s.state, s.prevFF = seekSOI, false
	return -1
}

// finish completes the image whose EOI is p[i], emits it if it has a scan
// and a usable size, and goes back to looking for an SOI. It returns the
// new start, -1.
func (s *JPEGSplitter) finish(p []byte, start, i int, emit func(JPEGFrame)) int {
	data := append(s.frame, p[start:i+1]...)
	s.state, s.prevFF = seekSOI, false
	w, h, ok := sofSize(data, s.sofAt)
	if !ok || s.scans == 0 {
		s.stats.Dropped++
		s.stats.Discarded += int64(len(data))
		s.frame = data[:0]
		return -1
	}
	s.frame = nil // the receiver owns data
	s.stats.Frames++
	s.lastLen = len(data)
	emit(JPEGFrame{Data: data, Width: w, Height: h})
	return -1
}

// sofSize reads the picture size from the SOF body at off.
func sofSize(b []byte, off int) (w, h int, ok bool) {
	if off < 0 || off+5 > len(b) {
		return 0, 0, false
	}
	h = int(b[off+1])<<8 | int(b[off+2])
	w = int(b[off+3])<<8 | int(b[off+4])
	return w, h, w > 0 && h > 0
}

// isSOFMarker: SOF0..SOF15 less DHT (C4), JPG (C8) and DAC (CC).
func isSOFMarker(m byte) bool {
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc
}
