package mixer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// ErrNoAmixer is returned by NewALSA when amixer is not installed.
var ErrNoAmixer = errors.New("mixer: amixer not found (install alsa-utils: apt-get install alsa-utils)")

// ALSAConfig configures an ALSA mixer. The zero value finds everything.
type ALSAConfig struct {
	// Card is an ALSA card index or id, as amixer -c takes it. Empty: the
	// card whose name matches CardNames, else the default card.
	Card string
	// CardNames are matched against card names; DefaultCardNames if nil.
	CardNames []string
	// SpeakerControl and MicControl name the simple controls to use
	// ("PCM", "Mic,1"). Empty: chosen by capability (see ALSA).
	SpeakerControl string
	MicControl     string
	// Amixer is the command to run; "amixer" (found on PATH) if empty.
	Amixer string
	// CardsFile lists the cards; /proc/asound/cards if empty.
	CardsFile string
	// Timeout bounds each amixer run; DefaultTimeout if zero.
	Timeout time.Duration
}

// Preferred control names, in order, when none is configured. The Reachy
// Mini Audio board's output volume is "PCM" (the reference's documentation:
// leave everything at 100 % except PCM). A control is used only if it has a
// volume on the wanted side; failing these names, the first control with
// one is, as the reference does.
var (
	speakerControlNames = []string{"PCM", "Speaker", "Master", "Headphone"}
	micControlNames     = []string{"Mic", "Capture", "PCM"}
)

// ALSA is a Mixer that drives a sound card's mixer through amixer.
type ALSA struct {
	cfg     ALSAConfig
	r       runner
	card    string // for -c; "" for the default card
	device  string
	matched bool // the card was recognised by name

	mu      sync.Mutex
	speaker string // resolved control refs, "" until found
	mic     string
}

// NewALSA returns an ALSA mixer, or ErrNoAmixer. It reads the cards file to
// find the card but does not run amixer: controls are chosen at first use,
// so a board plugged in later is still found.
func NewALSA(cfg ALSAConfig) (*ALSA, error) {
	name := cfg.Amixer
	if name == "" {
		name = "amixer"
	}
	r, err := newRunner(name, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoAmixer, err)
	}
	if cfg.CardNames == nil {
		cfg.CardNames = DefaultCardNames
	}
	if cfg.CardsFile == "" {
		cfg.CardsFile = "/proc/asound/cards"
	}
	a := &ALSA{cfg: cfg, r: r, device: "Default", speaker: cfg.SpeakerControl, mic: cfg.MicControl}
	cards := readCards(cfg.CardsFile)
	if cfg.Card != "" {
		a.card, a.device = cfg.Card, cfg.Card
		for _, c := range cards {
			if strconv.Itoa(c.Index) == cfg.Card || c.ID == cfg.Card {
				a.device = c.Name
				a.matched = matchesCard(c.Name, cfg.CardNames)
			}
		}
		return a, nil
	}
	for _, c := range cards {
		if matchesCard(c.Name, cfg.CardNames) || matchesCard(c.ID, cfg.CardNames) {
			a.card, a.device, a.matched = strconv.Itoa(c.Index), c.Name, true
			break
		}
	}
	return a, nil
}

// readCards returns the cards listed in path, none if it cannot be read
// (no sound support at all: amixer then fails with its own message).
func readCards(path string) []Card {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, maxParseInput))
	cards, _ := ParseCards(data)
	return cards
}

// Card is the card amixer is pointed at ("" for the default card).
func (a *ALSA) Card() string { return a.card }

// Matched reports whether the card was recognised as the robot's board.
func (a *ALSA) Matched() bool { return a.matched }

func (a *ALSA) args(cmd ...string) []string {
	if a.card == "" {
		return cmd
	}
	return append([]string{"-c", a.card}, cmd...)
}

func (a *ALSA) controls() ([]Control, error) {
	out, err := a.r.run(a.args("scontents")...)
	if err != nil {
		return nil, err
	}
	return ParseScontents(out)
}

// control returns the control for one side, choosing it on first use.
func (a *ALSA) control(dir Direction) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := &a.speaker
	prefs := speakerControlNames
	if dir == Capture {
		cur, prefs = &a.mic, micControlNames
	}
	if *cur != "" {
		return *cur, nil
	}
	ctls, err := a.controls()
	if err != nil {
		return "", err
	}
	if ref := pickControl(ctls, dir, prefs); ref != "" {
		*cur = ref
		return ref, nil
	}
	return "", fmt.Errorf("mixer: card %q has no %s volume control", a.device, dir)
}

// pickControl chooses, among index-0 controls with a volume on that side,
// the first preferred name, else the first listed.
func pickControl(ctls []Control, dir Direction, prefs []string) string {
	for _, p := range prefs {
		for _, c := range ctls {
			if c.Name == p && c.Index == 0 && c.HasVolume(dir) {
				return c.Ref()
			}
		}
	}
	for _, c := range ctls {
		if c.Index == 0 && c.HasVolume(dir) {
			return c.Ref()
		}
	}
	return ""
}

func (a *ALSA) get(dir Direction) (int, error) {
	ctl, err := a.control(dir)
	if err != nil {
		return 0, err
	}
	out, err := a.r.run(a.args("sget", ctl)...)
	if err != nil {
		return 0, err
	}
	return ParseAmixerVolume(out, dir)
}

func (a *ALSA) set(dir Direction, v int) error {
	if err := checkRange(v); err != nil {
		return err
	}
	ctl, err := a.control(dir)
	if err != nil {
		return err
	}
	_, err = a.r.run(a.args("-q", "sset", ctl, dir.String(), strconv.Itoa(v)+"%")...)
	return err
}

// Speaker implements Mixer.
func (a *ALSA) Speaker() (int, error) { return a.get(Playback) }

// SetSpeaker implements Mixer.
func (a *ALSA) SetSpeaker(v int) error { return a.set(Playback, v) }

// Mic implements Mixer.
func (a *ALSA) Mic() (int, error) { return a.get(Capture) }

// SetMic implements Mixer.
func (a *ALSA) SetMic(v int) error { return a.set(Capture, v) }

// Device implements Mixer: the card's name, or "Default" (as the
// reference says when it found no Reachy Mini card).
func (a *ALSA) Device() string { return a.device }

// MicDevice implements Mixer: the same card.
func (a *ALSA) MicDevice() string { return a.device }

// Platform implements Mixer.
func (a *ALSA) Platform() string { return PlatformName() }

// Prime sets the card's secondary controls (index 1, such as "PCM",1) to
// 100 % on each side they have a volume. The XVF3800 board comes up with
// them low, which makes the speaker too quiet whatever the main volume (a
// known issue of the chip the reference works around the same way at
// start). It does nothing on a card not recognised as the robot's board.
func (a *ALSA) Prime() error {
	if !a.matched {
		return nil
	}
	ctls, err := a.controls()
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range ctls {
		if c.Index != 1 {
			continue
		}
		for _, dir := range []Direction{Playback, Capture} {
			if c.HasVolume(dir) {
				if _, err := a.r.run(a.args("-q", "sset", c.Ref(), dir.String(), "100%")...); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// probe checks that amixer answers for the card and that it has a speaker
// volume control.
func (a *ALSA) probe() error {
	_, err := a.control(Playback)
	return err
}
