package sounds

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parseWAV checks a canonical 16-bit mono PCM WAV and returns its samples.
func parseWAV(t *testing.T, name string, b []byte) []int16 {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("%s: not a canonical WAV header: %q", name, b[:min(len(b), 44)])
	}
	if got := le.Uint32(b[4:]); int(got) != len(b)-8 {
		t.Errorf("%s: RIFF size %d for %d bytes", name, got, len(b))
	}
	fmtSize, format, channels := le.Uint32(b[16:]), le.Uint16(b[20:]), le.Uint16(b[22:])
	rate, byteRate, align, bits := le.Uint32(b[24:]), le.Uint32(b[28:]), le.Uint16(b[32:]), le.Uint16(b[34:])
	if fmtSize != 16 || format != 1 || channels != 1 || rate != 48000 || byteRate != 96000 || align != 2 || bits != 16 {
		t.Errorf("%s: fmt %d/%d/%d/%d/%d/%d/%d", name, fmtSize, format, channels, rate, byteRate, align, bits)
	}
	dataLen := int(le.Uint32(b[40:]))
	if dataLen != len(b)-44 || dataLen%2 != 0 {
		t.Fatalf("%s: data size %d for %d bytes after the header", name, dataLen, len(b)-44)
	}
	s := make([]int16, dataLen/2)
	binary.Read(bytes.NewReader(b[44:]), le, s)
	return s
}

func TestCuesAreShortAudibleAndClickFree(t *testing.T) {
	for _, name := range CueNames() {
		b, ok := Cue(name)
		if !ok {
			t.Fatalf("no cue %s", name)
		}
		s := parseWAV(t, name, b)
		dur := float64(len(s)) / CueRate
		if dur < 0.1 || dur >= 1 {
			t.Errorf("%s: %.3f s long", name, dur)
		}
		var sum float64
		peak := 0
		for _, v := range s {
			sum += float64(v) * float64(v)
			peak = max(peak, abs(int(v)))
		}
		if rms := math.Sqrt(sum / float64(len(s))); rms < 1000 {
			t.Errorf("%s: RMS %.0f: too quiet", name, rms)
		}
		if peak >= 32000 {
			t.Errorf("%s: peak %d: clipping", name, peak)
		}
		// Fades: the first and last milliseconds are near silence, and no
		// step between samples is a click.
		for _, i := range []int{0, 1, len(s) - 2, len(s) - 1} {
			if abs(int(s[i])) > 200 {
				t.Errorf("%s: sample %d is %d: no fade", name, i, s[i])
			}
		}
		for i := 1; i < len(s); i++ {
			if d := abs(int(s[i]) - int(s[i-1])); d > 6000 {
				t.Errorf("%s: jump of %d at sample %d", name, d, i)
				break
			}
		}
	}
}

// The cues are the same at every run (computed, not random).
func TestCuesAreDeterministic(t *testing.T) {
	for name, notes := range cueNotes {
		a, b := encodeWAV(render(notes)), encodeWAV(render(notes))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two renderings", name)
		}
		if c, _ := Cue(name); !bytes.Equal(a, c) {
			t.Errorf("%s: Cue differs from a rendering", name)
		}
	}
}

// The wake-up cue rises and the sleep cue falls: the zero-crossing rate
// (about twice the pitch) of the first and last tenth of a second.
func TestCuesPitchDirection(t *testing.T) {
	rate := func(s []int16) float64 {
		n := 0
		for i := 1; i < len(s); i++ {
			if (s[i-1] < 0) != (s[i] < 0) {
				n++
			}
		}
		return float64(n) / (float64(len(s)) / CueRate) / 2
	}
	tenth := CueRate / 10
	edges := func(name string) (float64, float64) {
		b, _ := Cue(name)
		s := parseWAV(t, name, b)
		return rate(s[:tenth]), rate(s[len(s)-tenth:])
	}
	if first, last := edges(WakeUp); last < first*1.3 {
		t.Errorf("wake-up: %.0f Hz then %.0f Hz: not rising", first, last)
	}
	if first, last := edges(GoSleep); last > first/1.3 {
		t.Errorf("sleep: %.0f Hz then %.0f Hz: not falling", first, last)
	}
}

func TestWriteCues(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cues")
	if err := WriteCues(dir); err != nil {
		t.Fatal(err)
	}
	// A damaged cue is rewritten, the others are left alone.
	p := filepath.Join(dir, WakeUp)
	os.WriteFile(p, []byte("junk"), 0o644)
	if err := WriteCues(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(CueNames()) {
		t.Errorf("cues folder holds %d entries", len(entries))
	}
	for _, name := range CueNames() {
		got, err := os.ReadFile(filepath.Join(dir, name))
		want, _ := Cue(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s on disk differs (%v)", name, err)
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// GStreamer, what the media actor plays the cues with, reads each one as
// WAV and measures it: loud enough, and shorter than a second.
func TestCuesPlayInGStreamer(t *testing.T) {
	gst, err := exec.LookPath("gst-launch-1.0")
	if err != nil {
		t.Skip("gst-launch-1.0 not installed")
	}
	dir := t.TempDir()
	if err := WriteCues(dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "junk.wav"), bytes.Repeat([]byte("RIFFjunk"), 20), 0o644)
	peakRe := regexp.MustCompile(`endtime=\(guint64\)(\d+).*peak=\(GValueArray\)< (-?[0-9.inf]+) >`)
	measure := func(name string) (peakDB float64, endNS int64, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, gst, "-m", "filesrc", "location="+filepath.Join(dir, name),
			"!", "wavparse", "!", "audioconvert", "!", "level", "interval=50000000", "post-messages=true", "!", "fakesink").CombinedOutput()
		if err != nil {
			return 0, 0, fmt.Errorf("%v: %s", err, out)
		}
		peakDB = math.Inf(-1)
		for _, m := range peakRe.FindAllStringSubmatch(string(out), -1) {
			end, _ := strconv.ParseInt(m[1], 10, 64)
			p, _ := strconv.ParseFloat(m[2], 64)
			peakDB, endNS = max(peakDB, p), max(endNS, end)
		}
		return peakDB, endNS, nil
	}
	if _, _, err := measure("junk.wav"); err == nil {
		t.Fatal("GStreamer accepted junk: this test cannot tell a bad cue")
	}
	for _, name := range CueNames() {
		peak, end, err := measure(name)
		if err != nil {
			if strings.Contains(err.Error(), "no element") {
				t.Skipf("GStreamer lacks an element: %v", err)
			}
			t.Fatalf("%s: %v", name, err)
		}
		if peak < -20 || peak > -1 {
			t.Errorf("%s: peak %.1f dBFS", name, peak)
		}
		if end <= 0 || end >= int64(time.Second) {
			t.Errorf("%s: ends at %d ns", name, end)
		}
	}
}
