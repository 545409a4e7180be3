package camera

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"reachyd/hw/camera"
)

func decode(t testing.TB, f camera.Frame) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(f.JPEG))
	if err != nil {
		t.Fatalf("frame %d: %v", f.Seq, err)
	}
	if img.Bounds() != image.Rect(0, 0, f.Width, f.Height) {
		t.Fatalf("frame %d decodes to %v, says %dx%d", f.Seq, img.Bounds(), f.Width, f.Height)
	}
	return img
}

func luma(img image.Image, x, y int) uint8 {
	return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
}

func near(a, b color.Color, tol int) bool {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	d := func(x, y uint32) bool { v := int(x>>8) - int(y>>8); return v >= -tol && v <= tol }
	return d(r1, r2) && d(g1, g2) && d(b1, b2)
}

// readCounter reads the frame number back from a decoded frame, by sampling
// the centre of each glyph cell and matching the glyph table.
func readCounter(p *testPattern, img image.Image) string {
	x0, y0 := p.counterOrigin()
	adv := (glyphW + 1) * p.scale
	var out []byte
	for i := 0; ; i++ {
		var cells [glyphH][glyphW]bool
		for gy := range glyphH {
			for gx := range glyphW {
				cells[gy][gx] = luma(img, x0+i*adv+gx*p.scale+p.scale/2, y0+gy*p.scale+p.scale/2) > 128
			}
		}
		d := -1
		for n, g := range glyphs {
			match := true
			for gy := range glyphH {
				for gx := range glyphW {
					match = match && cells[gy][gx] == (g[gy][gx] != ' ')
				}
			}
			if match {
				d = n
			}
		}
		if d < 0 {
			return string(out)
		}
		out = append(out, byte('0'+d))
	}
}

func TestGlyphsDistinct(t *testing.T) {
	for i := range glyphs {
		for j := range i {
			if glyphs[i] == glyphs[j] {
				t.Errorf("glyphs %d and %d are the same", i, j)
			}
		}
		for _, row := range glyphs[i] {
			if len(row) != glyphW {
				t.Errorf("glyph %d row %q is not %d wide", i, row, glyphW)
			}
		}
	}
}

func TestPatternContent(t *testing.T) {
	tests := []struct {
		name          string
		width, height int
		seq           uint64
		tick          int64
	}{
		{"VGA", 640, 480, 1234567890, 0},
		{"small, odd size", 99, 75, 7, 13},
		{"HD", 1280, 720, 42, 29},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewTestPattern(tt.width, tt.height, 15).(*testPattern)
			at := time.UnixMilli(1_764_000_000_000 + int64(tt.seq)*37)
			f, err := p.frame(tt.seq, tt.tick, at)
			if err != nil {
				t.Fatal(err)
			}
			if !f.At.Equal(at) {
				t.Errorf("At = %v, want %v", f.At, at)
			}
			if f.Seq != tt.seq || f.Width != tt.width || f.Height != tt.height {
				t.Fatalf("frame %+v", f)
			}
			img := decode(t, f)
			// Bars: sample each bar's centre, below the counter.
			barW := (p.width + len(bars) - 1) / len(bars)
			y := p.band * 3 / 4
			for i := range bars {
				x := i*barW + barW/2
				if x >= p.width {
					break
				}
				if !near(img.At(x, y), p.barColor(x), 12) {
					t.Errorf("bar %d at (%d,%d) = %v, want %v", i, x, y, img.At(x, y), p.barColor(x))
				}
			}
			// The block is bright on the dark band.
			bx, by := p.blockX(tt.tick)+p.block/2, p.blockY()+p.block/2
			if l := luma(img, bx, by); l < 200 {
				t.Errorf("block centre (%d,%d) luma %d, want bright", bx, by, l)
			}
			otherX := (bx + p.width/2) % p.width
			if d := otherX - bx; d > p.block || d < -p.block {
				if l := luma(img, otherX, by); l > 80 {
					t.Errorf("band at (%d,%d) luma %d, want dark", otherX, by, l)
				}
			}
			want := fmtSeq(tt.seq, p.maxDigits())
			if got := readCounter(p, img); got != want {
				t.Errorf("counter reads %q, want %q", got, want)
			}
			if seq, ms := ReadStamp(img); seq != uint16(tt.seq) || ms != uint16(at.UnixMilli()) {
				t.Errorf("stamp reads seq %d ms %d, want %d %d", seq, ms, uint16(tt.seq), uint16(at.UnixMilli()))
			}
		})
	}
}

// fmtSeq is the counter text: the low digits when the number does not fit.
func fmtSeq(seq uint64, digits int) string {
	s := []byte(itoa(seq))
	return string(s[max(0, len(s)-digits):])
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

func TestPatternMotion(t *testing.T) {
	p := NewTestPattern(640, 480, 15).(*testPattern)
	period := int64(4 * p.fps)
	seen := map[int]bool{}
	for tick := int64(0); tick < period; tick++ {
		x := p.blockX(tick)
		if x < 0 || x+p.block > p.width || x%2 != 0 {
			t.Fatalf("tick %d: block at %d (size %d) leaves the frame or is odd", tick, x, p.block)
		}
		seen[x] = true
	}
	if len(seen) < int(period)/2 {
		t.Errorf("block took only %d positions in %d ticks", len(seen), period)
	}
	if p.blockX(0) != p.blockX(period) {
		t.Errorf("motion is not periodic: %d vs %d", p.blockX(0), p.blockX(period))
	}
	if p.blockX(period/2) != (p.width-p.block)&^1 {
		t.Errorf("block does not reach the right edge at half period: %d", p.blockX(period/2))
	}
}

func TestNewTestPatternClamps(t *testing.T) {
	tests := []struct {
		w, h, fps int
		want      string
	}{
		{640, 480, 15, "test pattern 640x480@15"},
		{0, -5, 0, "test pattern 32x32@15"},
		{100000, 10, 1000, "test pattern 4096x32@120"},
	}
	for _, tt := range tests {
		if got := NewTestPattern(tt.w, tt.h, tt.fps).Describe(); got != tt.want {
			t.Errorf("NewTestPattern(%d, %d, %d): %q, want %q", tt.w, tt.h, tt.fps, got, tt.want)
		}
	}
}

func TestPatternRun(t *testing.T) {
	src := NewTestPattern(64, 48, 120)
	p := src.(*testPattern)
	ctx, cancel := context.WithCancel(context.Background())
	var frames []camera.Frame
	errc := make(chan error, 1)
	started := make(chan struct{})
	var once sync.Once
	go func() {
		errc <- src.Run(ctx, func(f camera.Frame) {
			once.Do(func() { close(started) })
			if frames = append(frames, f); len(frames) == 5 {
				cancel()
			}
		})
	}()
	<-started
	if err := src.Run(context.Background(), func(camera.Frame) {}); !errors.Is(err, ErrRunning) {
		t.Errorf("concurrent Run: %v, want ErrRunning", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
	if len(frames) != 5 {
		t.Fatalf("%d frames", len(frames))
	}
	for i, f := range frames {
		if f.Seq != uint64(i+1) {
			t.Errorf("frame %d has seq %d", i, f.Seq)
		}
		if got := readCounter(p, decode(t, f)); got != itoa(f.Seq) {
			t.Errorf("frame %d shows %q", f.Seq, got)
		}
		if i > 0 {
			// Nominal instants on the absolute schedule: whole periods apart.
			d := f.At.Sub(frames[i-1].At)
			if d <= 0 || d%p.period != 0 {
				t.Errorf("frames %d and %d are %v apart, not a positive multiple of %v", i-1, i, d, p.period)
			}
		}
	}
	// Numbering continues across Runs.
	ctx, cancel = context.WithCancel(context.Background())
	var next camera.Frame
	if err := src.Run(ctx, func(f camera.Frame) { next = f; cancel() }); err != nil {
		t.Fatal(err)
	}
	if next.Seq != 6 {
		t.Errorf("second Run starts at seq %d, want 6", next.Seq)
	}
	// A cancelled context stops Run before any frame.
	n := 0
	if err := src.Run(ctx, func(camera.Frame) { n++ }); err != nil || n > 1 {
		t.Errorf("Run with a done context: err %v, %d frames", err, n)
	}
}

// BenchmarkTestPatternFrame measures one frame, render plus JPEG encode, at
// the size the robot serves; on a Raspberry Pi, 640x480 at 15 fps needs
// well under 66 ms per frame.
func BenchmarkTestPatternFrame(b *testing.B) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"640x480", 640, 480}, {"1280x720", 1280, 720}} {
		b.Run(sz.name, func(b *testing.B) {
			p := NewTestPattern(sz.w, sz.h, 15).(*testPattern)
			b.ReportAllocs()
			var n uint64
			var bytes int
			for b.Loop() {
				n++
				f, err := p.frame(n, int64(n), time.Unix(0, 0))
				if err != nil {
					b.Fatal(err)
				}
				bytes += len(f.JPEG)
			}
			b.ReportMetric(float64(bytes)/float64(n), "B/frame")
		})
	}
}

// TestStreamWritesWholeImagesBackToBack: what Stream writes cuts into
// complete JPEG images at the pattern's size, numbered in order, and a
// closed reader ends it with the write error.
func TestStreamWritesWholeImagesBackToBack(t *testing.T) {
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Stream(context.Background(), w, 160, 120, 60) }()
	var buf []byte
	chunk := make([]byte, 4096)
	var images [][]byte
	for len(images) < 3 {
		n, err := r.Read(chunk)
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf, chunk[:n]...)
		for {
			end := bytes.Index(buf, []byte{0xff, 0xd9})
			if end < 0 {
				break
			}
			images = append(images, buf[:end+2])
			buf = buf[end+2:]
		}
	}
	for i, img := range images {
		if !bytes.HasPrefix(img, []byte{0xff, 0xd8}) {
			t.Fatalf("image %d does not start with SOI", i)
		}
		m, err := jpeg.Decode(bytes.NewReader(img))
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if b := m.Bounds(); b.Dx() != 160 || b.Dy() != 120 {
			t.Fatalf("image %d is %v", i, b)
		}
	}
	r.CloseWithError(errors.New("reader gone"))
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "reader gone") {
			t.Fatalf("Stream ended with %v, want the write error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stream did not end when its reader went away")
	}
}
