package sounds

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// The cue names. The reference plays its own sound files by these names
// (wake_up.wav when the robot wakes, go_sleep.wav when it goes to sleep,
// impatient1.wav after a volume change and as the volume panel's test
// sound), and apps call play_sound with them, so reachyd's cues answer to
// the same names. The sounds themselves are this project's: synthesised
// below, not copied.
const (
	WakeUp    = "wake_up.wav"
	GoSleep   = "go_sleep.wav"
	TestSound = "impatient1.wav"
)

// CueRate is the cues' sample rate: 48 kHz mono, 16-bit, what the robot's
// audio pipeline plays without resampling.
const CueRate = 48000

// note is one tone of a cue: a glide from F0 to F1 Hz over Dur seconds,
// then Gap seconds of silence.
type note struct {
	f0, f1, dur, gap float64
}

// Each cue is two or one short tones with a soft harmonic colour. Wake-up
// rises (C5 to E5, then G5 to C6), sleep falls (C6 to G5, then E5 to G4,
// slower), the test sound is a single short A5 blip.
var cueNotes = map[string][]note{
	WakeUp:    {{523.25, 659.25, 0.14, 0.02}, {783.99, 1046.50, 0.26, 0}},
	GoSleep:   {{1046.50, 783.99, 0.16, 0.03}, {659.25, 392.00, 0.40, 0}},
	TestSound: {{880, 880, 0.15, 0}},
}

// CueNames lists the cues.
func CueNames() []string { return []string{WakeUp, GoSleep, TestSound} }

var (
	cuesOnce sync.Once
	cues     map[string][]byte
)

// Cue returns the WAV bytes of a cue. The slice is shared: do not modify it.
func Cue(name string) ([]byte, bool) {
	cuesOnce.Do(func() {
		cues = make(map[string][]byte, len(cueNotes))
		for n, notes := range cueNotes {
			cues[n] = encodeWAV(render(notes))
		}
	})
	b, ok := cues[name]
	return b, ok
}

// WriteCues writes the cues into dir (created if needed), each file
// atomically and only if its content differs, so a restart leaves
// unchanged files alone.
func WriteCues(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sounds: %w", err)
	}
	for _, name := range CueNames() {
		data, _ := Cue(name)
		p := filepath.Join(dir, name)
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := writeAtomic(p, data, 0o644); err != nil {
			return fmt.Errorf("sounds: writing cue %s: %w", name, err)
		}
	}
	return nil
}

func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(dir)
	return nil
}

// Envelope and level: a 6 ms attack, an exponential decay, and a 25 ms
// raised-cosine release at the end of each tone, so no tone starts or stops
// with a click; peaks stay about 8 dB below full scale.
const (
	attack  = 0.006
	release = 0.025
	level   = 0.4
)

// render synthesises the tones into samples. Everything is computed from
// the sample index, so the output is the same at every run.
func render(notes []note) []int16 {
	var out []int16
	for _, n := range notes {
		count := int(n.dur * CueRate)
		// Decay to about a third over the tone: longer tones ring longer.
		tau := n.dur / 1.2
		phase := 0.0
		for i := range count {
			t := float64(i) / CueRate
			frac := float64(i) / float64(count)
			f := n.f0 * math.Pow(n.f1/n.f0, frac) // exponential glide: even in pitch
			env := math.Exp(-t / tau)
			if t < attack {
				env *= t / attack
			}
			if rest := n.dur - t; rest < release {
				env *= 0.5 - 0.5*math.Cos(math.Pi*rest/release)
			}
			v := math.Sin(phase) + 0.25*math.Sin(2*phase) + 0.08*math.Sin(3*phase)
			out = append(out, int16(math.Round(level*env*v/1.33*32767)))
			phase += 2 * math.Pi * f / CueRate
			if phase > 2*math.Pi {
				phase -= 2 * math.Pi
			}
		}
		out = append(out, make([]int16, int(n.gap*CueRate))...)
	}
	return out
}

// encodeWAV wraps 16-bit mono samples in a canonical 44-byte RIFF/WAVE
// header.
func encodeWAV(samples []int16) []byte {
	dataLen := 2 * len(samples)
	var b bytes.Buffer
	b.Grow(44 + dataLen)
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(36+dataLen))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, le, uint32(16))        // fmt chunk size
	binary.Write(&b, le, uint16(1))         // PCM
	binary.Write(&b, le, uint16(1))         // mono
	binary.Write(&b, le, uint32(CueRate))   // sample rate
	binary.Write(&b, le, uint32(CueRate*2)) // byte rate
	binary.Write(&b, le, uint16(2))         // block align
	binary.Write(&b, le, uint16(16))        // bits per sample
	b.WriteString("data")
	binary.Write(&b, le, uint32(dataLen))
	binary.Write(&b, le, samples)
	return b.Bytes()
}
