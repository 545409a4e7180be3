package mixer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Sim is a mixer with no hardware behind it: two numbers, kept in a JSON
// file when given a path so that a simulated robot keeps its volumes across
// restarts, as a real card does.
type Sim struct {
	mu      sync.Mutex
	path    string
	speaker int
	mic     int
}

// DefaultSimVolume is where a new Sim starts.
const DefaultSimVolume = 50

// SimDevice is the device name a Sim reports.
const SimDevice = "Simulated audio"

// maxStateFile bounds what NewSim reads: the file holds two small numbers.
const maxStateFile = 4096

type simState struct {
	Speaker *int `json:"speaker"`
	Mic     *int `json:"microphone"`
}

// NewSim returns a simulated mixer. With a path, it loads the volumes saved
// there (a missing file means the defaults) and saves every change to it.
// A file it cannot use (unreadable, too large, not the expected JSON, values
// outside 0..100) is reported in the error, but the returned Sim is usable
// anyway, at the defaults, and rewrites the file at its first change: a
// damaged state file must not cost the robot its audio.
func NewSim(path string) (*Sim, error) {
	s := &Sim{path: path, speaker: DefaultSimVolume, mic: DefaultSimVolume}
	if path == "" {
		return s, nil
	}
	err := s.load()
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return s, fmt.Errorf("mixer: volume state %s: %w (using defaults)", path, err)
	}
	return s, nil
}

func (s *Sim) load() error {
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return err
	}
	if len(data) > maxStateFile {
		return errors.New("file too large")
	}
	var st simState
	if err := json.Unmarshal(data, &st); err != nil {
		return err
	}
	sp, mic := s.speaker, s.mic
	if st.Speaker != nil {
		if err := checkRange(*st.Speaker); err != nil {
			return err
		}
		sp = *st.Speaker
	}
	if st.Mic != nil {
		if err := checkRange(*st.Mic); err != nil {
			return err
		}
		mic = *st.Mic
	}
	s.speaker, s.mic = sp, mic
	return nil
}

// save writes the volumes atomically (temp file, fsync, rename, fsync of
// the folder) with owner-only permissions. Called with s.mu held.
func (s *Sim) save(speaker, mic int) error {
	if s.path == "" {
		return nil
	}
	data, err := json.Marshal(simState{Speaker: &speaker, Mic: &mic})
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, s.path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Speaker implements Mixer.
func (s *Sim) Speaker() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.speaker, nil
}

// Mic implements Mixer.
func (s *Sim) Mic() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mic, nil
}

// SetSpeaker implements Mixer. When the state cannot be saved the volume
// does not change, so what Speaker answers is what survives a restart.
func (s *Sim) SetSpeaker(v int) error {
	if err := checkRange(v); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.save(v, s.mic); err != nil {
		return fmt.Errorf("mixer: saving volume: %w", err)
	}
	s.speaker = v
	return nil
}

// SetMic implements Mixer, like SetSpeaker.
func (s *Sim) SetMic(v int) error {
	if err := checkRange(v); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.save(s.speaker, v); err != nil {
		return fmt.Errorf("mixer: saving volume: %w", err)
	}
	s.mic = v
	return nil
}

// Device implements Mixer.
func (s *Sim) Device() string { return SimDevice }

// MicDevice implements Mixer.
func (s *Sim) MicDevice() string { return SimDevice }

// Platform implements Mixer.
func (s *Sim) Platform() string { return PlatformName() }
