package mixer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Direction is the side of a mixer control: what the card plays or what it
// records.
type Direction int

const (
	// Playback is the speaker side.
	Playback Direction = iota
	// Capture is the microphone side.
	Capture
)

func (d Direction) String() string {
	if d == Capture {
		return "capture"
	}
	return "playback"
}

// Parser limits. amixer prints a few hundred bytes per control and a card
// has tens of controls; anything far beyond is not amixer.
const (
	maxParseInput = 256 << 10
	maxParseLines = 4096
	maxControls   = 512
)

var errNoVolume = errors.New("no volume percentage in amixer output")

// ParseAmixerVolume reads the volume, in percent, of the given side from
// the output of "amixer sget <control>". It takes the first channel that
// reports that side: "Mono:" for a mono control, "Front Left:" for a stereo
// one. A line may carry both sides ("Mono: Playback 0 [0%] [off] Capture 8
// [53%] [on]"); a control with a common volume carries no side word and
// serves both. A muted channel ("[off]") still has its volume.
func ParseAmixerVolume(out []byte, dir Direction) (int, error) {
	if len(out) > maxParseInput {
		return 0, errors.New("amixer output too large")
	}
	want, other := "Playback", "Capture"
	if dir == Capture {
		want, other = other, want
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), maxParseInput)
	for n := 0; sc.Scan(); n++ {
		if n >= maxParseLines {
			return 0, errors.New("amixer output has too many lines")
		}
		line := strings.TrimSpace(sc.Text())
		colon := strings.IndexByte(line, ':')
		if colon < 0 || !strings.Contains(line, "%]") {
			continue
		}
		label, rest := line[:colon], line[colon+1:]
		if label == "Limits" || label == "Capabilities" || strings.HasSuffix(label, "channels") {
			continue
		}
		seg := sideOf(rest, want, other)
		if seg == "" {
			continue
		}
		if v, ok := firstPercent(seg); ok {
			return v, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%w (%s)", errNoVolume, dir)
}

// sideOf returns the part of a channel line that belongs to the wanted side:
// from the word want to the word other (or the end), or the whole line when
// it names no side (a common volume).
func sideOf(rest, want, other string) string {
	wi := wordIndex(rest, want)
	oi := wordIndex(rest, other)
	switch {
	case wi < 0 && oi < 0:
		return rest
	case wi < 0:
		return ""
	}
	seg := rest[wi+len(want):]
	if oi > wi {
		seg = rest[wi+len(want) : oi]
	}
	return seg
}

// wordIndex finds word in s as a whole word (so "Capture" is not found in a
// control name such as "Capture Source" of another line: lines are parsed
// one at a time, but be strict anyway).
func wordIndex(s, word string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], word)
		if i < 0 {
			return -1
		}
		i += off
		end := i + len(word)
		if (i == 0 || s[i-1] == ' ') && (end == len(s) || s[end] == ' ') {
			return i
		}
		off = end
	}
}

// firstPercent finds the first "[N%]" in s.
func firstPercent(s string) (int, bool) {
	for {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			return 0, false
		}
		s = s[i+1:]
		j := strings.IndexByte(s, ']')
		if j < 0 {
			return 0, false
		}
		tok := s[:j]
		s = s[j+1:]
		if !strings.HasSuffix(tok, "%") || len(tok) < 2 || len(tok) > 4 {
			continue
		}
		v, err := strconv.Atoi(tok[:len(tok)-1])
		if err != nil || v < 0 || v > 100 {
			continue
		}
		return v, true
	}
}

// Control is one simple mixer control of a card, from "amixer scontents".
type Control struct {
	Name  string
	Index int
	// Caps are the words of its Capabilities line ("pvolume", "cvolume",
	// "volume", "pswitch", ...).
	Caps []string
}

// Has reports whether the control has the capability.
func (c Control) Has(cap string) bool {
	for _, x := range c.Caps {
		if x == cap {
			return true
		}
	}
	return false
}

// HasVolume reports whether the control sets the volume of that side: a
// pvolume or cvolume, or a volume common to both sides.
func (c Control) HasVolume(dir Direction) bool {
	if c.Has("volume") {
		return true
	}
	if dir == Capture {
		return c.Has("cvolume")
	}
	return c.Has("pvolume")
}

// Ref is how amixer's sget/sset name the control: "Name" for index 0,
// "Name,1" otherwise.
func (c Control) Ref() string {
	if c.Index == 0 {
		return c.Name
	}
	return c.Name + "," + strconv.Itoa(c.Index)
}

const controlHeader = "Simple mixer control '"

// ParseScontents lists the controls in the output of "amixer scontents"
// (or "amixer scontrols", which gives no capabilities).
func ParseScontents(out []byte) ([]Control, error) {
	if len(out) > maxParseInput {
		return nil, errors.New("amixer output too large")
	}
	var ctls []Control
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), maxParseInput)
	for n := 0; sc.Scan(); n++ {
		if n >= maxParseLines {
			return nil, errors.New("amixer output has too many lines")
		}
		line := sc.Text()
		if strings.HasPrefix(line, controlHeader) {
			rest := line[len(controlHeader):]
			q := strings.LastIndex(rest, "',")
			if q < 0 {
				continue
			}
			idx, err := strconv.Atoi(rest[q+2:])
			if err != nil || idx < 0 || idx > 9999 {
				continue
			}
			if len(ctls) >= maxControls {
				return nil, errors.New("amixer lists too many controls")
			}
			ctls = append(ctls, Control{Name: rest[:q], Index: idx})
			continue
		}
		t := strings.TrimSpace(line)
		if len(ctls) > 0 && strings.HasPrefix(t, "Capabilities:") {
			ctls[len(ctls)-1].Caps = strings.Fields(t[len("Capabilities:"):])
		}
	}
	return ctls, sc.Err()
}

// Card is one sound card of /proc/asound/cards.
type Card struct {
	Index  int
	ID     string // what amixer -c also accepts, e.g. "Audio"
	Driver string // e.g. "USB-Audio"
	Name   string // e.g. "Reachy Mini Audio", what aplay -l shows in brackets
}

// ParseCards reads /proc/asound/cards: one line per card,
// " 1 [Audio          ]: USB-Audio - Reachy Mini Audio", each followed by
// a line with the long name, which is skipped.
func ParseCards(data []byte) ([]Card, error) {
	if len(data) > maxParseInput {
		return nil, errors.New("cards file too large")
	}
	var cards []Card
	for n, line := range strings.Split(string(data), "\n") {
		if n >= maxParseLines {
			return nil, errors.New("cards file has too many lines")
		}
		t := strings.TrimLeft(line, " ")
		d := 0
		for d < len(t) && d < 3 && t[d] >= '0' && t[d] <= '9' {
			d++
		}
		if d == 0 || !strings.HasPrefix(t[d:], " [") {
			continue
		}
		idx, _ := strconv.Atoi(t[:d])
		rest := t[d+2:]
		end := strings.Index(rest, "]: ")
		if end < 0 {
			continue
		}
		c := Card{Index: idx, ID: strings.TrimSpace(rest[:end])}
		desc := rest[end+3:]
		if i := strings.Index(desc, " - "); i >= 0 {
			c.Driver, c.Name = strings.TrimSpace(desc[:i]), strings.TrimSpace(desc[i+3:])
		} else {
			c.Name = strings.TrimSpace(desc)
		}
		if len(cards) >= 64 {
			return nil, errors.New("cards file lists too many cards")
		}
		cards = append(cards, c)
	}
	return cards, nil
}
