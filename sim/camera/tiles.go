package camera

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
)

// tileEncoder encodes a 4:2:0 picture that changes little from frame to
// frame, as the test pattern does (its bars and band stay still; the
// counter, the stamp and the block move), re-encoding only what changed.
//
// The JPEG has a restart interval (DRI) of one tile: tiles are runs of
// MCUs (16x16 pixels) of one MCU row, and each is an independently coded
// segment (the DC predictions restart at zero, the segment ends on a byte
// boundary, an RSTn marker follows). So the entropy-coded bytes of a tile
// depend only on its pixels, and those of a tile that did not change are
// reused. A tile is encoded as a picture of its own by image/jpeg, whose
// entropy-coded segment is exactly the tile's restart interval: same
// tables, DC predictions from zero, the last byte padded with 1 bits.
// Decoders decode the result to the same pixels as a plain encoding
// (a test checks, through image/jpeg). Restart markers are standard
// baseline JPEG: real MJPEG cameras emit them, RTP/JPEG carries them
// (RFC 2435's restart header), GStreamer and browsers decode them.
//
// Encoding the 640x480 pattern whole took about 4 ms a frame here (6 % of
// a core at 15 fps for a camera nobody watches); with tiles, about a third
// of that.
type tileEncoder struct {
	quality    int
	rect       image.Rectangle
	tileW      int    // pixels; a multiple of 16 except at the right edge
	cols, rows int    // tiles across and down
	head       []byte // SOI to the end of SOS's header, DRI included
	tiles      []tile
	scratch    flushBuffer
	px         []byte // a tile's samples
}

type tile struct {
	r      image.Rectangle
	pixels []byte // Y, Cb and Cr rows of r when data was encoded
	data   []byte // the entropy-coded segment
}

// flushBuffer gives bytes.Buffer the Flush method image/jpeg looks for, so
// the encoder writes into it directly.
type flushBuffer struct{ bytes.Buffer }

func (*flushBuffer) Flush() error { return nil }

// newTileEncoder prepares an encoder for 4:2:0 pictures of r's size.
func newTileEncoder(r image.Rectangle, quality int) (*tileEncoder, error) {
	mcus := (r.Dx() + 15) / 16
	per := 1 // MCUs per tile: the largest divisor of the row's count up to 8
	for n := 8; n >= 1; n-- {
		if mcus%n == 0 {
			per = n
			break
		}
	}
	e := &tileEncoder{quality: quality, rect: r, tileW: 16 * per, cols: mcus / per, rows: (r.Dy() + 15) / 16}
	// The header of a whole picture of this size, plus the DRI.
	blank := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	whole, err := e.encode(blank)
	if err != nil {
		return nil, err
	}
	sos, data, err := scan(whole)
	if err != nil {
		return nil, err
	}
	e.head = append(e.head, whole[:sos]...)
	e.head = append(e.head, 0xff, 0xdd, 0, 4, byte(per>>8), byte(per)) // DRI
	e.head = append(e.head, whole[sos:data]...)
	for ty := range e.rows {
		for tx := range e.cols {
			tr := image.Rect(r.Min.X+tx*e.tileW, r.Min.Y+ty*16, r.Min.X+(tx+1)*e.tileW, r.Min.Y+(ty+1)*16).Intersect(r)
			e.tiles = append(e.tiles, tile{r: tr})
		}
	}
	return e, nil
}

// encode runs image/jpeg on img into the scratch buffer.
func (e *tileEncoder) encode(img image.Image) ([]byte, error) {
	e.scratch.Reset()
	if err := jpeg.Encode(&e.scratch, img, &jpeg.Options{Quality: e.quality}); err != nil {
		return nil, err
	}
	return e.scratch.Bytes(), nil
}

// scan finds image/jpeg's SOS segment in a JPEG it wrote: where the
// marker starts and where its header ends (the entropy-coded data runs
// from there to the EOI, the last two bytes).
func scan(b []byte) (sos, data int, err error) {
	for p := 2; p+4 <= len(b); {
		if b[p] != 0xff {
			break
		}
		n := int(b[p+2])<<8 | int(b[p+3])
		if b[p+1] == 0xda {
			return p, p + 2 + n, nil
		}
		p += 2 + n
	}
	return 0, 0, fmt.Errorf("sim/camera: no SOS in the encoder's output")
}

// Encode returns img as a fresh JPEG. img must be a 4:2:0 YCbCr picture of
// the encoder's size.
func (e *tileEncoder) Encode(img *image.YCbCr) ([]byte, error) {
	if img.Rect != e.rect || img.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return nil, fmt.Errorf("sim/camera: a %v %v picture for a %v 4:2:0 encoder", img.Rect, img.SubsampleRatio, e.rect)
	}
	size := len(e.head) + 2
	for i := range e.tiles {
		t := &e.tiles[i]
		e.px = tilePixels(img, t.r, e.px[:0])
		if t.data == nil || !bytes.Equal(e.px, t.pixels) {
			t.pixels = append(t.pixels[:0], e.px...)
			j, err := e.encode(img.SubImage(t.r))
			if err != nil {
				return nil, fmt.Errorf("sim/camera: %w", err)
			}
			_, data, err := scan(j)
			if err != nil {
				return nil, err
			}
			t.data = append(t.data[:0], j[data:len(j)-2]...)
		}
		size += len(t.data) + 2
	}
	out := make([]byte, 0, size)
	out = append(out, e.head...)
	for i := range e.tiles {
		out = append(out, e.tiles[i].data...)
		if i < len(e.tiles)-1 {
			out = append(out, 0xff, 0xd0+byte(i%8))
		}
	}
	return append(out, 0xff, 0xd9), nil
}

// tilePixels appends the samples of r (Y rows, then Cb and Cr rows) to dst.
func tilePixels(img *image.YCbCr, r image.Rectangle, dst []byte) []byte {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		o := img.YOffset(r.Min.X, y)
		dst = append(dst, img.Y[o:o+r.Dx()]...)
	}
	cw := (r.Dx() + 1) / 2
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		o := img.COffset(r.Min.X, y)
		dst = append(dst, img.Cb[o:o+cw]...)
		dst = append(dst, img.Cr[o:o+cw]...)
	}
	return dst
}
