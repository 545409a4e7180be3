package gst

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain doubles as the "dying daemon" of TestChildDiesWithParent: run
// with orphanEnv set, the test binary starts a Process, prints its
// child's pid and waits to be killed.
const orphanEnv = "REACHYD_GST_TEST_ORPHAN_PARENT"

func TestMain(m *testing.M) {
	if os.Getenv(mainThreadEnv) == "1" {
		os.Exit(mainThreadHelper())
	}
	if os.Getenv(orphanEnv) == "1" {
		p, err := Start(context.Background(), Spec{Name: "orphan",
			Argv: Fixed([]string{"sleep", "300"}), Logger: discardLogger})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(p.Pid())
		select {}
	}
	os.Exit(m.Run())
}

var (
	detectOnce sync.Once
	detected   Info
	detectErr  error
)

// needGst returns what Detect found, skipping the test when GStreamer is
// not installed, except in CI (REACHYD_REQUIRE_MEDIA set), where that fails.
func needGst(t *testing.T) Info {
	t.Helper()
	detectOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		detected, detectErr = Detect(ctx, "")
	})
	if detectErr != nil {
		if strings.Contains(detectErr.Error(), ErrNotInstalled.Error()) {
			if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
				t.Fatalf("GStreamer is required here (REACHYD_REQUIRE_MEDIA is set): %v", detectErr)
			}
			t.Skipf("gst-launch-1.0 not installed: %v", detectErr)
		}
		t.Fatalf("Detect: %v", detectErr)
	}
	return detected
}

// testLogger sends a Process's log to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// startProc starts a Process that is stopped when the test ends.
func startProc(t *testing.T, spec Spec) *Process {
	t.Helper()
	if spec.Logger == nil {
		spec.Logger = testLogger(t)
	}
	p, err := Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start %s: %v", spec.Name, err)
	}
	t.Cleanup(p.Stop)
	return p
}

// events collects a Process's events for a test.
type events struct {
	ch  chan Event
	mu  sync.Mutex
	all []EventKind
}

func newEvents() *events { return &events{ch: make(chan Event, 1024)} }

func (e *events) on(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev.Kind)
	e.mu.Unlock()
	e.ch <- ev
}

// kinds lists the kinds of every event so far, in order.
func (e *events) kinds() []EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]EventKind(nil), e.all...)
}

// next waits for the next event of kind, skipping others.
func (e *events) next(t *testing.T, kind EventKind) Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v event within 20 s", kind)
		}
	}
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil // no /proc: best effort
	}
	rp := bytes.LastIndexByte(b, ')')
	if rp < 0 || rp+2 >= len(b) {
		return false
	}
	st := b[rp+2]
	return st != 'Z' && st != 'X' && st != 'x'
}

// killAtEnd SIGKILLs pid when the test ends, in case the code under test
// left it behind.
func killAtEnd(t *testing.T, pid int) {
	t.Cleanup(func() {
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// jpegFrames makes n distinct 640x480 JPEG images of a moving pattern.
func jpegFrames(t *testing.T, n int) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	for i := range n {
		img := image.NewYCbCr(image.Rect(0, 0, 640, 480), image.YCbCrSubsampleRatio420)
		for y := 0; y < 480; y++ {
			for x := 0; x < 640; x++ {
				img.Y[y*img.YStride+x] = uint8((x + 2*y + 16*i) ^ (x*y)>>6)
			}
		}
		for j := range img.Cb {
			img.Cb[j] = uint8(128 + 40*math.Sin(float64(j+i*500)/300))
			img.Cr[j] = uint8(128 + 40*math.Cos(float64(j+i*500)/400))
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
			t.Fatal(err)
		}
		out[i] = b.Bytes()
	}
	return out
}

// writeWAV writes a PCM WAV file of a sine tone.
func writeWAV(t *testing.T, path string, rate, channels int, hz float64, d time.Duration, amp float64) {
	t.Helper()
	frames := int(d.Seconds() * float64(rate))
	data := make([]byte, 0, frames*channels*2)
	for i := range frames {
		v := int16(amp * 32767 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
		for range channels {
			data = binary.LittleEndian.AppendUint16(data, uint16(v))
		}
	}
	var h []byte
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(36+len(data)))
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, 1) // PCM
	h = binary.LittleEndian.AppendUint16(h, uint16(channels))
	h = binary.LittleEndian.AppendUint32(h, uint32(rate))
	h = binary.LittleEndian.AppendUint32(h, uint32(rate*channels*2))
	h = binary.LittleEndian.AppendUint16(h, uint16(channels*2))
	h = binary.LittleEndian.AppendUint16(h, 16)
	h = append(h, "data"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(len(data)))
	if err := os.WriteFile(path, append(h, data...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// rtpPacket is the part of an RTP packet the tests look at.
type rtpPacket struct {
	pt      uint8
	marker  bool
	seq     uint16
	ts      uint32
	ssrc    uint32
	payload []byte
}

func parseRTP(t *testing.T, b []byte) rtpPacket {
	t.Helper()
	if !ValidRTP(b) {
		t.Fatalf("invalid RTP packet % x", b[:min(len(b), 16)])
	}
	n := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		n += 4 + 4*int(binary.BigEndian.Uint16(b[n+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 {
		end -= int(b[len(b)-1])
	}
	return rtpPacket{
		pt:      b[1] & 0x7f,
		marker:  b[1]&0x80 != 0,
		seq:     binary.BigEndian.Uint16(b[2:]),
		ts:      binary.BigEndian.Uint32(b[4:]),
		ssrc:    binary.BigEndian.Uint32(b[8:]),
		payload: b[n:end],
	}
}

// packetQueue is a UDPReceiver callback that keeps copies of the packets.
type packetQueue struct{ ch chan []byte }

func newPacketQueue() *packetQueue { return &packetQueue{ch: make(chan []byte, 4096)} }

func (q *packetQueue) put(b []byte) {
	select {
	case q.ch <- append([]byte(nil), b...):
	default: // the test stopped reading
	}
}

func (q *packetQueue) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-q.ch:
		return b
	case <-time.After(20 * time.Second):
		t.Fatal("no RTP packet within 20 s")
		return nil
	}
}

func newReceiver(t *testing.T, fn func([]byte)) *UDPReceiver {
	t.Helper()
	r, err := NewUDPReceiver(fn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// levels collects level messages, by element.
type levels struct {
	mu  sync.Mutex
	all map[string][]Level
}

func newLevels() *levels { return &levels{all: map[string][]Level{}} }

func (l *levels) on(v Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all[v.Element] = append(l.all[v.Element], v)
}

func (l *levels) count(el string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all[el])
}

// waitRun waits until, after the first from messages of el, n
// consecutive ones satisfy ok; it returns the index after the run.
func (l *levels) waitRun(t *testing.T, el string, from, n int, what string, ok func(float64) bool) int {
	t.Helper()
	idx := -1
	start := time.Now()
	defer func() { t.Logf("%s after %v (message %d)", what, time.Since(start).Round(time.Millisecond), idx) }()
	waitFor(t, what, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		run := 0
		for i := from; i < len(l.all[el]); i++ {
			if ok(l.all[el][i].RMS) {
				if run++; run == n {
					idx = i + 1
					return true
				}
			} else {
				run = 0
			}
		}
		return false
	})
	return idx
}

func (l *levels) last(el string) []float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []float64
	for _, v := range l.all[el][max(0, len(l.all[el])-10):] {
		out = append(out, v.RMS)
	}
	return out
}
