// Package mixer reads and sets the robot's speaker and microphone volumes,
// the numbers behind /api/volume/* and the set_volume / get_volume family of
// data-channel commands.
//
// Three implementations share the Mixer interface:
//
//   - Pulse drives the sound server (PulseAudio, or PipeWire's pulse
//     service) through pactl. Where a server runs, it owns the device and
//     its own volume sits on top of the card's, so that is the one to set.
//     Like the reference (volume_control_linux.py), it picks the sink and
//     source whose description names the Reachy Mini Audio card (or a
//     reSpeaker), else the defaults.
//   - ALSA drives the card's mixer through amixer (Debian package
//     alsa-utils), for a robot without a sound server. It finds the card in
//     /proc/asound/cards by the same names and picks its playback and capture
//     controls by capability, as the reference does with amixer scontents.
//   - Sim keeps the two numbers in memory, optionally in a small JSON file,
//     for the simulated robot and for machines without audio.
//
// Auto chooses as the reference does: the sound server if one answers, else
// ALSA, else an error the media actor turns into "Volume control
// unavailable". Both command-line backends run their tool with a deadline,
// LC_ALL=C (pactl translates its labels) and a cap on what they read back;
// their output parsers have limits and fuzz targets.
//
// Deliberate differences from the reference: a setter refuses values
// outside 0..100 instead of clamping them (the gateway validates first, so
// no client sees this); the ALSA backend reads mono controls and the capture
// side of a control that has both (the reference reads only a "Left:" line,
// so it fails on mono controls); it primes the card's secondary ("PCM",1)
// controls only on a card it recognised by name, never on another card.
//
// Tested against real-looking amixer and pactl outputs (mono, stereo,
// playback and capture on one control, muted channels, PipeWire's pactl),
// and end to end against fake amixer and pactl scripts put on PATH that
// record their arguments, so the exact command lines are checked. Not tested
// here: a real card or sound server (none on the build machine).
package mixer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Mixer reads and sets the speaker and microphone volumes, 0..100. The
// implementations are safe for concurrent use.
type Mixer interface {
	// Speaker returns the output volume.
	Speaker() (int, error)
	// SetSpeaker sets the output volume.
	SetSpeaker(int) error
	// Mic returns the input volume.
	Mic() (int, error)
	// SetMic sets the input volume.
	SetMic(int) error
	// Device names the output device, as VolumeResponse's "device".
	Device() string
	// MicDevice names the input device (the reference answers the
	// microphone routes with it).
	MicDevice() string
	// Platform is the reference's platform.system(): "Linux", "Darwin",
	// "Windows".
	Platform() string
}

// ErrRange is returned by a setter given a volume outside 0..100.
var ErrRange = errors.New("mixer: volume must be between 0 and 100")

// ErrNoMixer is returned by Auto when no backend can work here.
var ErrNoMixer = errors.New("mixer: no volume control available")

// DefaultTimeout bounds each amixer or pactl run (the reference's 2 s).
const DefaultTimeout = 2 * time.Second

// DefaultCardNames are matched, case-insensitively, against card and device
// names to find the robot's audio board (the reference's SOUND_CARD_NAMES).
var DefaultCardNames = []string{"reachy mini audio", "respeaker"}

// PlatformName is the reference's platform.system() for the system this
// runs on.
func PlatformName() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "Darwin"
	case "windows":
		return "Windows"
	case "freebsd":
		return "FreeBSD"
	}
	return strings.ToUpper(runtime.GOOS[:1]) + runtime.GOOS[1:]
}

func checkRange(v int) error {
	if v < 0 || v > 100 {
		return fmt.Errorf("%w (got %d)", ErrRange, v)
	}
	return nil
}

// matchesCard reports whether name contains one of names, ignoring case.
func matchesCard(name string, names []string) bool {
	low := strings.ToLower(name)
	for _, n := range names {
		if n != "" && strings.Contains(low, strings.ToLower(n)) {
			return true
		}
	}
	return false
}

// runner runs one command-line tool with a deadline and bounded output.
type runner struct {
	bin     string // resolved path
	timeout time.Duration
}

func newRunner(name string, timeout time.Duration) (runner, error) {
	bin, err := exec.LookPath(name)
	if err != nil {
		return runner{}, err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return runner{bin: bin, timeout: timeout}, nil
}

// maxOutput caps what a tool may print: pactl list with every property of a
// dozen devices stays well below it.
const maxOutput = 1 << 20

// errOutputTooLarge marks a tool that printed more than maxOutput.
var errOutputTooLarge = errors.New("output too large")

type capped struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); len(p) > room {
		c.over = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil // keep draining so the child never blocks
	}
	return c.buf.Write(p)
}

func (r runner) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.WaitDelay = time.Second
	out := &capped{max: maxOutput}
	errOut := &capped{max: 4096}
	cmd.Stdout, cmd.Stderr = out, errOut
	err := cmd.Run()
	name := filepath.Base(r.bin)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s %s: timed out after %v", name, strings.Join(args, " "), r.timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(errOut.buf.String())
		if msg == "" {
			return nil, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	if out.over {
		return nil, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), errOutputTooLarge)
	}
	return out.buf.Bytes(), nil
}
