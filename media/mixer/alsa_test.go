package mixer

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Outputs in amixer's format (alsa-utils show_selem): a stereo playback
// control with the empty "Mono:" line USB cards print, a mono capture
// control, a control with both sides on one line, a common volume.
const (
	sgetStereoPCM = `Simple mixer control 'PCM',0
  Capabilities: pvolume pswitch pswitch-joined
  Playback channels: Front Left - Front Right
  Limits: Playback 0 - 87
  Mono:
  Front Left: Playback 65 [75%] [-16.00dB] [on]
  Front Right: Playback 66 [76%] [-15.50dB] [on]
`
	sgetMonoCapture = `Simple mixer control 'Mic',0
  Capabilities: cvolume cvolume-joined cswitch cswitch-joined
  Capture channels: Mono
  Limits: Capture 0 - 127
  Mono: Capture 79 [62%] [-12.00dB] [on]
`
	sgetStereoCapture = `Simple mixer control 'Mic',0
  Capabilities: cvolume cswitch
  Capture channels: Front Left - Front Right
  Limits: Capture 0 - 127
  Front Left: Capture 127 [100%] [0.00dB] [on]
  Front Right: Capture 127 [100%] [0.00dB] [on]
`
	sgetBothSides = `Simple mixer control 'Mic',0
  Capabilities: pvolume pvolume-joined cvolume cvolume-joined pswitch pswitch-joined cswitch cswitch-joined
  Playback channels: Mono
  Capture channels: Mono
  Limits: Playback 0 - 31 Capture 0 - 15
  Mono: Playback 0 [0%] [-34.50dB] [off] Capture 8 [53%] [12.00dB] [on]
`
	sgetCommon = `Simple mixer control 'Master',0
  Capabilities: volume volume-joined switch switch-joined
  Playback channels: Mono
  Capture channels: Mono
  Limits: 0 - 65536
  Mono: 26214 [40%] [off]
`
	sgetMuted = `Simple mixer control 'Speaker',0
  Capabilities: pvolume pswitch
  Playback channels: Front Left - Front Right
  Limits: Playback 0 - 37
  Mono:
  Front Left: Playback 13 [35%] [-14.00dB] [off]
  Front Right: Playback 13 [35%] [-14.00dB] [off]
`
)

func TestParseAmixerVolume(t *testing.T) {
	cases := []struct {
		name string
		out  string
		dir  Direction
		want int
		err  bool
	}{
		{"stereo playback", sgetStereoPCM, Playback, 75, false},
		{"stereo has no capture", sgetStereoPCM, Capture, 0, true},
		{"mono capture", sgetMonoCapture, Capture, 62, false},
		{"capture-only has no playback", sgetMonoCapture, Playback, 0, true},
		{"stereo capture", sgetStereoCapture, Capture, 100, false},
		{"both sides: playback", sgetBothSides, Playback, 0, false},
		{"both sides: capture", sgetBothSides, Capture, 53, false},
		{"common volume, playback", sgetCommon, Playback, 40, false},
		{"common volume, capture", sgetCommon, Capture, 40, false},
		{"muted keeps its volume", sgetMuted, Playback, 35, false},
		{"empty", "", Playback, 0, true},
		{"error text", "amixer: Unable to find simple control 'Nope',0\n", Playback, 0, true},
		{"no percentage", "  Front Left: Playback 65 [-16.00dB] [on]\n", Playback, 0, true},
		{"over 100 ignored", "  Mono: Playback 1 [250%] [on]\n", Playback, 0, true},
		{"limits line only", "  Limits: Playback 0 - 87 [5%]\n", Playback, 0, true},
	}
	for _, c := range cases {
		got, err := ParseAmixerVolume([]byte(c.out), c.dir)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%s: got %d, %v; want %d, error %v", c.name, got, err, c.want, c.err)
		}
	}
	if _, err := ParseAmixerVolume(make([]byte, maxParseInput+1), Playback); err == nil {
		t.Error("an oversized output parsed")
	}
}

// The capabilities of an XMOS XVF3800 USB card as amixer scontents shows
// them: the board's own names, with secondary index-1 controls.
const scontentsBoard = `Simple mixer control 'PCM',0
  Capabilities: pvolume pswitch
  Playback channels: Front Left - Front Right
  Limits: Playback 0 - 127
  Mono:
  Front Left: Playback 100 [79%] [-5.00dB] [on]
  Front Right: Playback 100 [79%] [-5.00dB] [on]
Simple mixer control 'PCM',1
  Capabilities: pvolume pvolume-joined pswitch pswitch-joined
  Playback channels: Mono
  Limits: Playback 0 - 127
  Mono: Playback 40 [31%] [-20.00dB] [on]
Simple mixer control 'Mic',0
  Capabilities: cvolume cswitch
  Capture channels: Front Left - Front Right
  Limits: Capture 0 - 127
  Front Left: Capture 127 [100%] [0.00dB] [on]
  Front Right: Capture 127 [100%] [0.00dB] [on]
Simple mixer control 'Mic',1
  Capabilities: cvolume cvolume-joined cswitch cswitch-joined
  Capture channels: Mono
  Limits: Capture 0 - 127
  Mono: Capture 127 [100%] [0.00dB] [on]
`

func TestParseScontents(t *testing.T) {
	ctls, err := ParseScontents([]byte(scontentsBoard))
	if err != nil {
		t.Fatal(err)
	}
	want := []Control{
		{"PCM", 0, []string{"pvolume", "pswitch"}},
		{"PCM", 1, []string{"pvolume", "pvolume-joined", "pswitch", "pswitch-joined"}},
		{"Mic", 0, []string{"cvolume", "cswitch"}},
		{"Mic", 1, []string{"cvolume", "cvolume-joined", "cswitch", "cswitch-joined"}},
	}
	if !reflect.DeepEqual(ctls, want) {
		t.Fatalf("got %+v", ctls)
	}
	if ctls[1].Ref() != "PCM,1" || ctls[0].Ref() != "PCM" {
		t.Errorf("refs %q %q", ctls[0].Ref(), ctls[1].Ref())
	}
	// A name with a quote and a comma in it, as ALSA allows.
	odd, err := ParseScontents([]byte("Simple mixer control 'Line Out's, A',2\n  Capabilities: volume\n"))
	if err != nil || len(odd) != 1 || odd[0].Name != "Line Out's, A" || odd[0].Index != 2 || !odd[0].HasVolume(Capture) {
		t.Errorf("odd name: %+v %v", odd, err)
	}
	if got := pickControl(ctls, Playback, speakerControlNames); got != "PCM" {
		t.Errorf("speaker control %q", got)
	}
	if got := pickControl(ctls, Capture, micControlNames); got != "Mic" {
		t.Errorf("mic control %q", got)
	}
	xmos := []Control{{"Mic", 0, []string{"cvolume"}}, {"xCORE USB Audio 2.0 Output", 0, []string{"pvolume", "pswitch"}}}
	if got := pickControl(xmos, Playback, speakerControlNames); got != "xCORE USB Audio 2.0 Output" {
		t.Errorf("fallback speaker control %q", got)
	}
	if got := pickControl(xmos[:1], Playback, speakerControlNames); got != "" {
		t.Errorf("capture-only card gave a speaker control %q", got)
	}
}

const cardsFile = ` 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones
                      bcm2835 Headphones
 1 [vc4hdmi0       ]: vc4-hdmi - vc4-hdmi-0
                      vc4-hdmi-0
 2 [Audio          ]: USB-Audio - Reachy Mini Audio
                      Pollen Robotics Reachy Mini Audio at usb-xhci-hcd.0-1, high speed
`

func TestParseCards(t *testing.T) {
	cards, err := ParseCards([]byte(cardsFile))
	if err != nil {
		t.Fatal(err)
	}
	want := []Card{
		{0, "Headphones", "bcm2835_headpho", "bcm2835 Headphones"},
		{1, "vc4hdmi0", "vc4-hdmi", "vc4-hdmi-0"},
		{2, "Audio", "USB-Audio", "Reachy Mini Audio"},
	}
	if !reflect.DeepEqual(cards, want) {
		t.Fatalf("got %+v", cards)
	}
	if cards, _ := ParseCards([]byte("--- no soundcards ---\n")); len(cards) != 0 {
		t.Errorf("no cards: %+v", cards)
	}
}

func writeCards(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "cards")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The whole path on the robot's card: found by name, controls chosen once
// from scontents, sget/sset with the right words, secondary controls primed.
func TestALSAAgainstFakeAmixer(t *testing.T) {
	dir := onPath(t)
	calls := fakeTool(t, dir, "amixer", map[string]reply{
		"-c 2 scontents":                   {out: scontentsBoard},
		"-c 2 sget PCM":                    {out: sgetStereoPCM},
		"-c 2 sget Mic":                    {out: sgetStereoCapture},
		"-c 2 -q sset PCM playback 30%":    {},
		"-c 2 -q sset Mic capture 0%":      {},
		"-c 2 -q sset PCM,1 playback 100%": {},
		"-c 2 -q sset Mic,1 capture 100%":  {},
	})
	a, err := NewALSA(ALSAConfig{CardsFile: writeCards(t, cardsFile)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Device() != "Reachy Mini Audio" || a.MicDevice() != "Reachy Mini Audio" || a.Card() != "2" || !a.Matched() {
		t.Fatalf("card %q device %q matched %v", a.Card(), a.Device(), a.Matched())
	}
	if a.Platform() != PlatformName() {
		t.Errorf("platform %q", a.Platform())
	}
	if v, err := a.Speaker(); err != nil || v != 75 {
		t.Fatalf("Speaker = %d, %v", v, err)
	}
	if err := a.SetSpeaker(30); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Mic(); err != nil || v != 100 {
		t.Fatalf("Mic = %d, %v", v, err)
	}
	if err := a.SetMic(0); err != nil {
		t.Fatal(err)
	}
	if err := a.SetSpeaker(101); !errors.Is(err, ErrRange) {
		t.Fatalf("SetSpeaker(101) = %v", err)
	}
	if err := a.SetMic(-1); !errors.Is(err, ErrRange) {
		t.Fatalf("SetMic(-1) = %v", err)
	}
	if err := a.Prime(); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, calls(),
		"-c 2 scontents",
		"-c 2 sget PCM",
		"-c 2 -q sset PCM playback 30%",
		"-c 2 scontents",
		"-c 2 sget Mic",
		"-c 2 -q sset Mic capture 0%",
		"-c 2 scontents",
		"-c 2 -q sset PCM,1 playback 100%",
		"-c 2 -q sset Mic,1 capture 100%",
	)
}

// Configured card and controls are used as given, with no scontents; an
// unknown card is not primed.
func TestALSAConfigured(t *testing.T) {
	dir := onPath(t)
	calls := fakeTool(t, dir, "amixer", map[string]reply{
		"-c Generic sget Master":                 {out: sgetCommon},
		"-c Generic -q sset Master playback 55%": {},
		"-c Generic sget Capture,1":              {out: sgetBothSides},
	})
	a, err := NewALSA(ALSAConfig{Card: "Generic", SpeakerControl: "Master", MicControl: "Capture,1", CardsFile: writeCards(t, cardsFile)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Matched() || a.Device() != "Generic" {
		t.Fatalf("matched %v device %q", a.Matched(), a.Device())
	}
	if v, err := a.Speaker(); err != nil || v != 40 {
		t.Fatalf("Speaker = %d, %v", v, err)
	}
	if err := a.SetSpeaker(55); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Mic(); err != nil || v != 53 {
		t.Fatalf("Mic = %d, %v", v, err)
	}
	if err := a.Prime(); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, calls(),
		"-c Generic sget Master",
		"-c Generic -q sset Master playback 55%",
		"-c Generic sget Capture,1",
	)
}

func TestALSADefaultCardAndFailures(t *testing.T) {
	dir := onPath(t)
	calls := fakeTool(t, dir, "amixer", map[string]reply{
		"scontents": {out: "Simple mixer control 'Mic',0\n  Capabilities: cvolume\n"},
		"sget Mic":  {err: "amixer: Mixer attach default error: No such file or directory\n", code: 1},
	})
	a, err := NewALSA(ALSAConfig{CardsFile: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	if a.Device() != "Default" || a.Card() != "" {
		t.Fatalf("device %q card %q", a.Device(), a.Card())
	}
	if _, err := a.Speaker(); err == nil || !strings.Contains(err.Error(), "no playback volume control") {
		t.Fatalf("Speaker on a capture-only card: %v", err)
	}
	if _, err := a.Mic(); err == nil || !strings.Contains(err.Error(), "No such file or directory") {
		t.Fatalf("Mic on a failing amixer: %v (want amixer's message)", err)
	}
	wantCalls(t, calls(), "scontents", "scontents", "sget Mic")
}

func TestALSATimeout(t *testing.T) {
	dir := onPath(t)
	fakeTool(t, dir, "amixer", map[string]reply{"sget PCM": {hang: true}})
	a, err := NewALSA(ALSAConfig{SpeakerControl: "PCM", Timeout: 100 * time.Millisecond, CardsFile: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Speaker(); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Speaker on a hung amixer: %v", err)
	}
}

func TestNoAmixer(t *testing.T) {
	emptyPath(t)
	if _, err := NewALSA(ALSAConfig{}); !errors.Is(err, ErrNoAmixer) || !strings.Contains(err.Error(), "alsa-utils") {
		t.Fatalf("NewALSA without amixer: %v", err)
	}
}
