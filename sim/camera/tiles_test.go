package camera

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
	"time"
)

// TestTileEncoderMatchesWholeEncoding checks that the tiled JPEG of the
// pattern decodes to exactly the pixels of a plain encoding of the same
// picture, frame after frame (tiles reused and re-encoded), for sizes
// whose width is and is not a multiple of the tile.
func TestTileEncoderMatchesWholeEncoding(t *testing.T) {
	for _, sz := range [][2]int{{640, 480}, {320, 240}, {100, 70}, {33, 32}} {
		p := NewTestPattern(sz[0], sz[1], 15).(*testPattern)
		e, err := newTileEncoder(p.img.Rect, quality)
		if err != nil {
			t.Fatal(err)
		}
		at := time.UnixMilli(1_000_000)
		for seq := uint64(1); seq <= 5; seq++ {
			p.render(seq, int64(seq)*7, at.Add(time.Duration(seq)*time.Millisecond*67))
			tiled, err := e.Encode(p.img)
			if err != nil {
				t.Fatal(err)
			}
			var plain bytes.Buffer
			if err := jpeg.Encode(&plain, p.img, &jpeg.Options{Quality: quality}); err != nil {
				t.Fatal(err)
			}
			got, err := jpeg.Decode(bytes.NewReader(tiled))
			if err != nil {
				t.Fatalf("%dx%d frame %d: %v", sz[0], sz[1], seq, err)
			}
			want, _ := jpeg.Decode(bytes.NewReader(plain.Bytes()))
			g, w := got.(*image.YCbCr), want.(*image.YCbCr)
			if g.Rect != w.Rect || !bytes.Equal(g.Y, w.Y) || !bytes.Equal(g.Cb, w.Cb) || !bytes.Equal(g.Cr, w.Cr) {
				t.Fatalf("%dx%d frame %d: the tiled JPEG decodes to other pixels than a plain encoding", sz[0], sz[1], seq)
			}
		}
	}
}

// TestTileEncoderReusesStillTiles checks that tiles whose pixels did not
// change are not encoded again: a second identical frame re-encodes none.
func TestTileEncoderReusesStillTiles(t *testing.T) {
	p := NewTestPattern(640, 480, 15).(*testPattern)
	e, err := newTileEncoder(p.img.Rect, quality)
	if err != nil {
		t.Fatal(err)
	}
	p.render(1, 1, time.UnixMilli(5000))
	first, _ := e.Encode(p.img)
	before := make([][]byte, len(e.tiles))
	for i := range e.tiles {
		before[i] = e.tiles[i].data
	}
	again, _ := e.Encode(p.img)
	if !bytes.Equal(first, again) {
		t.Fatal("the same picture encoded twice differs")
	}
	for i := range e.tiles {
		if &e.tiles[i].data[0] != &before[i][0] {
			t.Fatalf("tile %d was encoded again though unchanged", i)
		}
	}
}
