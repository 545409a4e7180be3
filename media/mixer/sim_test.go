package mixer

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestSimInMemory(t *testing.T) {
	s, err := NewSim("")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Speaker(); v != DefaultSimVolume {
		t.Fatalf("speaker starts at %d", v)
	}
	if err := s.SetSpeaker(0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMic(100); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSpeaker(101); !errors.Is(err, ErrRange) {
		t.Fatalf("SetSpeaker(101) = %v", err)
	}
	sp, _ := s.Speaker()
	mic, _ := s.Mic()
	if sp != 0 || mic != 100 {
		t.Fatalf("speaker %d mic %d", sp, mic)
	}
	if s.Device() != SimDevice || s.MicDevice() != SimDevice || s.Platform() != PlatformName() {
		t.Errorf("names %q %q %q", s.Device(), s.MicDevice(), s.Platform())
	}
}

func TestSimPersists(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "volume.json")
	s, err := NewSim(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetSpeaker(73); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMic(12); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	again, err := NewSim(path)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := again.Speaker()
	mic, _ := again.Mic()
	if sp != 73 || mic != 12 {
		t.Fatalf("after restart: speaker %d mic %d", sp, mic)
	}
}

func TestSimDamagedState(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":      "{not json",
		"out of range": `{"speaker": 400, "microphone": 10}`,
		"too large":    string(make([]byte, maxStateFile+10)),
	} {
		path := filepath.Join(t.TempDir(), "volume.json")
		os.WriteFile(path, []byte(content), 0o600)
		s, err := NewSim(path)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if s == nil {
			t.Fatalf("%s: no mixer", name)
		}
		if v, _ := s.Speaker(); v != DefaultSimVolume {
			t.Errorf("%s: speaker %d", name, v)
		}
		if err := s.SetMic(20); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if again, err := NewSim(path); err != nil {
			t.Errorf("%s: not repaired: %v", name, err)
		} else if v, _ := again.Mic(); v != 20 {
			t.Errorf("%s: mic %d after repair", name, v)
		}
	}
	// Only one side saved: the other keeps its default.
	path := filepath.Join(t.TempDir(), "volume.json")
	os.WriteFile(path, []byte(`{"speaker": 9}`), 0o600)
	s, err := NewSim(path)
	if err != nil {
		t.Fatal(err)
	}
	if sp, _ := s.Speaker(); sp != 9 {
		t.Errorf("speaker %d", sp)
	}
	if mic, _ := s.Mic(); mic != DefaultSimVolume {
		t.Errorf("mic %d", mic)
	}
}

// A volume that cannot be saved is not taken.
func TestSimSaveFailureKeepsTheOldValue(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o600)
	s, _ := NewSim(filepath.Join(blocker, "volume.json")) // reports the unreadable path
	if err := s.SetSpeaker(10); err == nil {
		t.Fatal("a save under a regular file succeeded")
	}
	if v, _ := s.Speaker(); v != DefaultSimVolume {
		t.Fatalf("speaker %d after a failed save", v)
	}
}

func TestSimConcurrent(t *testing.T) {
	s, _ := NewSim(filepath.Join(t.TempDir(), "v.json"))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				if err := s.SetSpeaker((i + j) % 101); err != nil {
					t.Error(err)
				}
				s.Mic()
				s.Speaker()
			}
		}()
	}
	wg.Wait()
	v, _ := s.Speaker()
	again, err := NewSim(s.path)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := again.Speaker(); w != v {
		t.Fatalf("memory says %d, file says %d", v, w)
	}
}
