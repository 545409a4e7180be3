package mixer

import "fmt"

// AutoConfig configures Auto.
type AutoConfig struct {
	Pulse PulseConfig
	ALSA  ALSAConfig
	// NoPrime skips priming the board's secondary ALSA controls (see
	// ALSA.Prime), which Auto otherwise does, as the reference does at
	// start, whichever backend it picks.
	NoPrime bool
	// Warn, if set, hears of problems that leave the mixer usable: a
	// failure to prime the board (the speaker is then only quieter).
	Warn func(error)
}

// Auto picks a mixer as the reference does on Linux: the sound server
// through pactl if one answers, else the card through amixer if amixer
// answers and the card has a speaker volume control, else ErrNoMixer with
// each backend's reason.
func Auto(cfg AutoConfig) (Mixer, error) {
	a, aerr := NewALSA(cfg.ALSA)
	if aerr == nil && !cfg.NoPrime {
		if err := a.Prime(); err != nil && cfg.Warn != nil {
			cfg.Warn(fmt.Errorf("mixer: priming the audio board: %w", err))
		}
	}
	p, perr := NewPulse(cfg.Pulse)
	if perr == nil {
		return p, nil
	}
	if aerr == nil {
		if aerr = a.probe(); aerr == nil {
			return a, nil
		}
	}
	return nil, fmt.Errorf("%w: %v; %v", ErrNoMixer, perr, aerr)
}
