package mixer

import (
	"errors"
	"testing"
)

func TestAutoPrefersTheSoundServer(t *testing.T) {
	dir := onPath(t)
	fakeTool(t, dir, "pactl", map[string]reply{
		"info": {out: pactlInfo}, "list sinks": {out: pactlSinks}, "list sources": {out: pactlSources},
	})
	amixer := fakeTool(t, dir, "amixer", map[string]reply{
		"-c 2 scontents":                   {out: scontentsBoard},
		"-c 2 -q sset PCM,1 playback 100%": {},
		"-c 2 -q sset Mic,1 capture 100%":  {},
	})
	m, err := Auto(AutoConfig{ALSA: ALSAConfig{CardsFile: writeCards(t, cardsFile)}, Warn: func(err error) { t.Errorf("warned: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*Pulse); !ok {
		t.Fatalf("Auto chose %T", m)
	}
	// The board is primed whichever backend wins, as the reference does.
	wantCalls(t, amixer(), "-c 2 scontents", "-c 2 -q sset PCM,1 playback 100%", "-c 2 -q sset Mic,1 capture 100%")
}

func TestAutoFallsBackToALSA(t *testing.T) {
	dir := onPath(t)
	fakeTool(t, dir, "pactl", map[string]reply{"info": {code: 1, err: "Connection failure: Connection refused\n"}})
	fakeTool(t, dir, "amixer", map[string]reply{
		"-c 2 scontents":                   {out: scontentsBoard},
		"-c 2 -q sset PCM,1 playback 100%": {code: 1, err: "busy"},
		"-c 2 -q sset Mic,1 capture 100%":  {},
	})
	var warned error
	m, err := Auto(AutoConfig{ALSA: ALSAConfig{CardsFile: writeCards(t, cardsFile)}, Warn: func(err error) { warned = err }})
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := m.(*ALSA); !ok || a.Device() != "Reachy Mini Audio" {
		t.Fatalf("Auto chose %T %v", m, m)
	}
	if warned == nil {
		t.Error("a failed priming was not reported")
	}
}

func TestAutoWithNothing(t *testing.T) {
	emptyPath(t)
	if _, err := Auto(AutoConfig{}); !errors.Is(err, ErrNoMixer) {
		t.Fatalf("Auto with no tools: %v", err)
	}
	// amixer present but it cannot reach any card.
	dir := onPath(t)
	fakeTool(t, dir, "amixer", map[string]reply{"scontents": {code: 1, err: "amixer: Mixer attach default error: No such file or directory"}})
	if _, err := Auto(AutoConfig{ALSA: ALSAConfig{CardsFile: "/nonexistent"}}); !errors.Is(err, ErrNoMixer) {
		t.Fatalf("Auto with a cardless amixer: %v", err)
	}
}
