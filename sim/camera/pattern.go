// Package camera is the simulator's camera: a synthetic, moving test
// pattern that stands in for the robot's head camera, so the RTSP and MJPEG
// paths (and clients such as pymirokai's VideoAPI) can be exercised with no
// hardware.
//
// The picture has colour bars (colour decoding and chroma subsampling
// errors show at a glance), a white block sweeping across the bottom band
// (motion: a frozen or stuttering stream shows), and the frame number in
// large digits (dropped and repeated frames can be counted, and tests read
// the number back from decoded frames).
//
// Just above the band, two rows of 16 black or white cells (the stamp)
// carry, most significant bit first, the low 16 bits of the frame number
// (upper row) and of the frame's nominal capture time in Unix milliseconds
// (lower row). The cells are large enough to survive any video codec, so a
// client that decodes the picture (a browser, through WebRTC) reads the
// capture time back and measures glass-to-glass latency against its own
// clock on the same machine. StampLayout says where the cells are.
package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"strconv"
	"sync"
	"time"

	"reachyd/hw/camera"
)

// Limits applied by NewTestPattern.
const (
	minSize    = 32
	maxSize    = 4096
	defaultFPS = 15
	maxFPS     = 120
	quality    = 75
)

// testPattern renders the pattern into a 4:2:0 YCbCr image, the layout
// image/jpeg encodes without any colour conversion, starting each frame
// from a prerendered background.
type testPattern struct {
	width, height, fps int
	period             time.Duration

	running sync.Mutex // Run is not reentrant: it owns the scratch image

	bg    *image.YCbCr       // bars and band, rendered once
	img   *image.YCbCr       // the frame being drawn
	enc   camera.JPEGEncoder // if tiles cannot be had
	tiles *tileEncoder
	scale int // glyph pixel size
	block int // side of the moving block, even
	band  int // y where the bottom band starts, even

	seq uint64 // continues across Runs
}

// NewTestPattern returns a Source producing a moving test pattern of the
// given size at the given rate, JPEG-encoded. Sizes are clamped to 32..4096
// pixels; fps <= 0 means 15, and more than 120 is clamped.
//
// Frames are paced against absolute times (start + n/fps), so the rate does
// not drift with encoding time, and each frame's At is its nominal instant,
// which gives RTP clients perfectly regular timestamps. When encoding is
// slower than the frame period the pattern skips frames rather than
// bursting; the block's position follows time, not the frame count.
func NewTestPattern(width, height, fps int) camera.Source {
	width = min(max(width, minSize), maxSize)
	height = min(max(height, minSize), maxSize)
	if fps <= 0 {
		fps = defaultFPS
	}
	fps = min(fps, maxFPS)
	p := &testPattern{
		width: width, height: height, fps: fps,
		period: time.Second / time.Duration(fps),
		scale:  max(1, height/80),
		band:   (height * 2 / 3) &^ 1,
	}
	p.block = max(2, (height-p.band)/2) &^ 1
	p.enc.Quality = quality
	r := image.Rect(0, 0, width, height)
	p.bg = image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	p.img = image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	p.drawBackground()
	p.tiles, _ = newTileEncoder(r, quality) // fails only if image/jpeg does
	return p
}

// Describe names the source, e.g. "test pattern 640x480@15".
func (p *testPattern) Describe() string {
	return fmt.Sprintf("test pattern %dx%d@%d", p.width, p.height, p.fps)
}

// ErrRunning is returned when Run is called while another Run of the same
// pattern is still going.
var ErrRunning = errors.New("sim/camera: test pattern already running")

// Run emits frames until ctx ends. See camera.Source.
func (p *testPattern) Run(ctx context.Context, emit func(camera.Frame)) error {
	if !p.running.TryLock() {
		return ErrRunning
	}
	defer p.running.Unlock()
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for tick := int64(0); ; tick++ {
		due := start.Add(time.Duration(tick) * p.period)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return nil
		}
		p.seq++
		f, err := p.frame(p.seq, tick, due)
		if err != nil {
			return err
		}
		emit(f)
		// Fallen more than a period behind (slow CPU, stopped process):
		// skip the missed ticks instead of catching up in a burst.
		if late := time.Since(due); late > 2*p.period {
			tick += int64(late/p.period) - 1
		}
	}
}

// frame renders and encodes frame number seq at tick, taken at the
// nominal instant at.
func (p *testPattern) frame(seq uint64, tick int64, at time.Time) (camera.Frame, error) {
	p.render(seq, tick, at)
	var j []byte
	var err error
	if p.tiles != nil {
		j, err = p.tiles.Encode(p.img)
	} else {
		j, err = p.enc.Encode(p.img)
	}
	if err != nil {
		return camera.Frame{}, fmt.Errorf("sim/camera: %w", err)
	}
	return camera.Frame{JPEG: j, Width: p.width, Height: p.height, Seq: seq, At: at}, nil
}

// The bars, left to right: white, yellow, cyan, green, magenta, red, blue,
// black, at full intensity.
var bars = [...]color.RGBA{
	{255, 255, 255, 255}, {255, 255, 0, 255}, {0, 255, 255, 255}, {0, 255, 0, 255},
	{255, 0, 255, 255}, {255, 0, 0, 255}, {0, 0, 255, 255}, {0, 0, 0, 255},
}

// Band and block colours, as Y (Cb = Cr = 128: grey).
const (
	bandY  = 48
	blockY = 235
	boxY   = 16  // counter background
	digitY = 240 // counter digits
)

func ycc(c color.RGBA) color.YCbCr {
	y, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
	return color.YCbCr{Y: y, Cb: cb, Cr: cr}
}

func (p *testPattern) drawBackground() {
	barW := (p.width + len(bars) - 1) / len(bars)
	for x := 0; x < p.width; x++ {
		c := ycc(bars[min(x/barW, len(bars)-1)])
		fill(p.bg, x, 0, 1, p.band, c)
	}
	fill(p.bg, 0, p.band, p.width, p.height-p.band, color.YCbCr{Y: bandY, Cb: 128, Cr: 128})
}

// barColor returns the colour of the bar at column x, for tests and
// anyone checking a decoded frame.
func (p *testPattern) barColor(x int) color.RGBA {
	barW := (p.width + len(bars) - 1) / len(bars)
	return bars[min(x/barW, len(bars)-1)]
}

// blockX is the block's left edge at tick: a triangle wave across the
// frame with a 4 s period, so the motion speed does not depend on fps.
func (p *testPattern) blockX(tick int64) int {
	travel := p.width - p.block
	if travel <= 0 {
		return 0
	}
	periodTicks := int64(4 * p.fps)
	ph := tick % periodTicks
	pos := int(ph * int64(2*travel) / periodTicks)
	if pos > travel {
		pos = 2*travel - pos
	}
	return pos &^ 1
}

// blockY is the block's top edge: centred in the band.
func (p *testPattern) blockY() int {
	return (p.band + (p.height-p.band-p.block)/2) &^ 1
}

func (p *testPattern) render(seq uint64, tick int64, at time.Time) {
	copy(p.img.Y, p.bg.Y)
	copy(p.img.Cb, p.bg.Cb)
	copy(p.img.Cr, p.bg.Cr)
	fill(p.img, p.blockX(tick), p.blockY(), p.block, p.block, color.YCbCr{Y: blockY, Cb: 128, Cr: 128})
	p.drawCounter(strconv.FormatUint(seq, 10))
	p.drawStamp(uint16(seq), uint16(at.UnixMilli()))
}

// StampBits is the number of cells in each row of the stamp.
const StampBits = 16

// Stamp cell levels (luma; chroma is neutral).
const (
	stampZeroY = 16
	stampOneY  = 235
)

// StampLayout returns the geometry of the stamp in a width x height
// pattern: the top of the upper row, the height of a row and the width of
// a cell. Cell i of a row spans x in [i*cellW, (i+1)*cellW); bit 15 is
// cell 0.
func StampLayout(width, height int) (top, rowH, cellW int) {
	band := (height * 2 / 3) &^ 1
	rowH = max(2, band/12) &^ 1
	return band - 2*rowH, rowH, width / StampBits
}

// drawStamp paints the two rows of the stamp: seq, then ms.
func (p *testPattern) drawStamp(seq, ms uint16) {
	top, rowH, cellW := StampLayout(p.width, p.height)
	for r, v := range [2]uint16{seq, ms} {
		for i := range StampBits {
			y := uint8(stampZeroY)
			if v&(1<<(StampBits-1-i)) != 0 {
				y = stampOneY
			}
			fill(p.img, i*cellW, top+r*rowH, cellW, rowH, color.YCbCr{Y: y, Cb: 128, Cr: 128})
		}
	}
}

// ReadStamp reads the stamp back from a decoded picture of the pattern:
// the low 16 bits of the frame number and of the capture time in Unix
// milliseconds. Each cell is sampled at its centre.
func ReadStamp(img image.Image) (seq, ms uint16) {
	b := img.Bounds()
	top, rowH, cellW := StampLayout(b.Dx(), b.Dy())
	for r, v := range [2]*uint16{&seq, &ms} {
		for i := range StampBits {
			y, _, _, _ := color.GrayModel.Convert(img.At(b.Min.X+i*cellW+cellW/2, b.Min.Y+top+r*rowH+rowH/2)).RGBA()
			if y>>8 >= 128 {
				*v |= 1 << (StampBits - 1 - i)
			}
		}
	}
	return seq, ms
}

// counterOrigin is where the first digit's top-left pixel goes.
func (p *testPattern) counterOrigin() (x, y int) { return 2 * p.scale, 2 * p.scale }

// drawCounter draws s (digits only) on a dark box at the top left.
func (p *testPattern) drawCounter(s string) {
	s = s[max(0, len(s)-p.maxDigits()):] // keep the low digits if it does not fit
	x0, y0 := p.counterOrigin()
	adv := (glyphW + 1) * p.scale
	fill(p.img, x0-p.scale, y0-p.scale, len(s)*adv+p.scale, (glyphH+2)*p.scale, color.YCbCr{Y: boxY, Cb: 128, Cr: 128})
	for i := 0; i < len(s); i++ {
		g := &glyphs[s[i]-'0']
		for gy := range glyphH {
			for gx := range glyphW {
				if g[gy][gx] != ' ' {
					fillY(p.img, x0+i*adv+gx*p.scale, y0+gy*p.scale, p.scale, p.scale, digitY)
				}
			}
		}
	}
}

func (p *testPattern) maxDigits() int {
	return max(1, (p.width-4*p.scale)/((glyphW+1)*p.scale))
}

// fill paints a rectangle, clipped to the image. Chroma is painted for every
// chroma sample whose top-left luma pixel is inside the rectangle, which is
// exact for even coordinates.
func fill(img *image.YCbCr, x, y, w, h int, c color.YCbCr) {
	fillY(img, x, y, w, h, c.Y)
	r := image.Rect(x, y, x+w, y+h).Intersect(img.Rect)
	for yy := r.Min.Y + r.Min.Y&1; yy < r.Max.Y; yy += 2 {
		for xx := r.Min.X + r.Min.X&1; xx < r.Max.X; xx += 2 {
			o := img.COffset(xx, yy)
			img.Cb[o], img.Cr[o] = c.Cb, c.Cr
		}
	}
}

// fillY paints luma only: the digits, whose chroma is the box's grey.
func fillY(img *image.YCbCr, x, y, w, h int, v uint8) {
	r := image.Rect(x, y, x+w, y+h).Intersect(img.Rect)
	for yy := r.Min.Y; yy < r.Max.Y; yy++ {
		row := img.Y[img.YOffset(r.Min.X, yy):][:r.Dx()]
		for i := range row {
			row[i] = v
		}
	}
}
