package sounds

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"reachyd/messages"
)

func TestNames(t *testing.T) {
	good := []string{"a.wav", "A.WAV", "song.Mp3", "x.tar.ogg", ".hidden.flac", "..wav", "voix d'été.opus", "a.m4a", "a.aac", "a.oga"}
	for _, n := range good {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v", n, err)
		}
	}
	invalid := []string{"", ".", "..", "a/b.wav", "/a.wav", `a\b.wav`, "a\x00.wav", "a\n.wav", strings.Repeat("a", 252) + ".wav", "\xff.wav"}
	for _, n := range invalid {
		if err := ValidName(n); err != ErrInvalidName {
			t.Errorf("ValidName(%q) = %v, want Invalid filename", n, err)
		}
	}
	// Python's suffix: a leading dot is no extension, a trailing dot is
	// none either.
	badExt := []string{".wav", "wav", "a.wav.txt", "a.", "a.exe", "a.wave", "a.mp4"}
	for _, n := range badExt {
		if err := ValidName(n); err != ErrExtension {
			t.Errorf("ValidName(%q) = %v, want the extension error", n, err)
		}
	}
	if ErrExtension.Detail != "Unsupported file extension; allowed: .aac, .flac, .m4a, .mp3, .oga, .ogg, .opus, .wav" {
		t.Errorf("extension message %q", ErrExtension.Detail)
	}
	// Uploads keep the last element of what the client sent, as the
	// reference does.
	uploads := map[string]string{"music/song.mp3": "song.mp3", "/": "", "./": "", "x.wav/.": "x.wav", "/tmp/../a.ogg": "a.ogg"}
	for in, want := range uploads {
		got, err := UploadName(in)
		if want == "" {
			if err != ErrInvalidName {
				t.Errorf("UploadName(%q) = %q, %v", in, got, err)
			}
		} else if got != want || err != nil {
			t.Errorf("UploadName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := UploadName(""); err != ErrFilenameRequired {
		t.Errorf("UploadName(\"\") = %v", err)
	}
	if _, err := UploadName("a/.."); err != ErrInvalidName {
		t.Errorf("UploadName(a/..) = %v", err)
	}
	if _, err := UploadName("a/b/"); err != ErrExtension {
		t.Errorf("UploadName(a/b/) = %v", err)
	}
	if messages.KindOf(ErrInvalidAudio) != messages.KindBadRequest {
		t.Error("invalid audio is not a 400")
	}
}

func openStore(t *testing.T, opt Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sounds"), opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stage writes an upload into the staging folder, as the gateway does.
func stage(t *testing.T, s *Store, content string) string {
	t.Helper()
	f, err := s.CreateTemp()
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(content)
	f.Close()
	return f.Name()
}

func okProbe(string) error { return nil }

func TestCommitListDelete(t *testing.T) {
	s := openStore(t, Options{})
	if names, err := s.List(); err != nil || names == nil || len(names) != 0 {
		t.Fatalf("empty store lists %v, %v", names, err)
	}
	var probed []string
	probe := func(p string) error { probed = append(probed, p); return nil }
	for _, n := range []string{"b.wav", "a.mp3", "C.ogg"} {
		tmp := stage(t, s, "audio "+n)
		if err := s.Commit(tmp, n, probe); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("temp %s still there", tmp)
		}
	}
	if len(probed) != 3 || filepath.Dir(probed[0]) != s.Staging() {
		t.Errorf("probe saw %v", probed)
	}
	names, _ := s.List()
	if !reflect.DeepEqual(names, []string{"C.ogg", "a.mp3", "b.wav"}) {
		t.Fatalf("List = %v", names)
	}
	st, _ := os.Stat(filepath.Join(s.Dir(), "a.mp3"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("stored with mode %v", st.Mode().Perm())
	}
	if st, _ := os.Stat(s.Staging()); st.Mode().Perm() != 0o700 {
		t.Errorf("staging mode %v", st.Mode().Perm())
	}
	// Overwrite.
	if err := s.Commit(stage(t, s, "new"), "a.mp3", okProbe); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir(), "a.mp3")); string(b) != "new" {
		t.Errorf("after overwrite: %q", b)
	}
	// Delete.
	if err := s.Delete("a.mp3"); err != nil {
		t.Fatal(err)
	}
	err := s.Delete("a.mp3")
	if !errors.Is(err, ErrNotFound) || err.Error() != "File 'a.mp3' not found" || messages.KindOf(err) != messages.KindNotFound {
		t.Errorf("second delete: %v", err)
	}
	for _, bad := range []string{"../x.wav", "a/b.wav", `a\b`, "", ".", ".."} {
		if err := s.Delete(bad); err != ErrInvalidName {
			t.Errorf("Delete(%q) = %v", bad, err)
		}
	}
	if err := s.Delete(".staging"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete(.staging) = %v", err)
	}
	names, _ = s.List()
	if !reflect.DeepEqual(names, []string{"C.ogg", "b.wav"}) {
		t.Fatalf("List = %v", names)
	}
}

func TestCommitRefusals(t *testing.T) {
	s := openStore(t, Options{})
	// A probe failure: 400, temp removed, nothing stored.
	tmp := stage(t, s, "not audio")
	err := s.Commit(tmp, "x.wav", func(string) error { return errors.New("no audio stream") })
	if !errors.Is(err, ErrInvalidAudio) || messages.KindOf(err) != messages.KindBadRequest {
		t.Fatalf("probe failure: %v", err)
	}
	var me *messages.Error
	if !errors.As(err, &me) || me.Detail != "Unsupported or invalid audio file" {
		t.Errorf("probe failure detail: %v", me)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Error("temp kept after a failed probe")
	}
	// A bad name: the temp is removed too, the probe not run.
	tmp = stage(t, s, "x")
	if err := s.Commit(tmp, "x.exe", func(string) error { t.Error("probed"); return nil }); err != ErrExtension {
		t.Fatalf("bad extension: %v", err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Error("temp kept after a bad name")
	}
	// A file outside staging is refused and left alone.
	outside := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(outside, []byte("root"), 0o600)
	if err := s.Commit(outside, "x.wav", okProbe); err == nil {
		t.Fatal("committed a file from outside staging")
	}
	if _, err := os.Stat(outside); err != nil {
		t.Error("a file outside staging was removed")
	}
	sneaky := filepath.Join(s.Staging(), "..", "..", "passwd")
	if err := s.Commit(sneaky, "x.wav", okProbe); err == nil {
		t.Fatal("committed through ..")
	}
	if names, _ := s.List(); len(names) != 0 {
		t.Fatalf("stored %v", names)
	}
}

func TestLimits(t *testing.T) {
	s := openStore(t, Options{MaxFiles: 2, MaxBytes: 11})
	if err := s.Commit(stage(t, s, "12345"), "a.wav", okProbe); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(stage(t, s, "1234"), "b.wav", okProbe); err != nil {
		t.Fatal(err)
	}
	err := s.Commit(stage(t, s, "1"), "c.wav", okProbe)
	if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "Too many sounds") {
		t.Fatalf("third file: %v", err)
	}
	// Replacing a file counts its new size, not both.
	if err := s.Commit(stage(t, s, "123456"), "b.wav", okProbe); err != nil {
		t.Fatalf("replace within the size limit: %v", err)
	}
	err = s.Commit(stage(t, s, "1234567"), "b.wav", okProbe)
	if !errors.Is(err, ErrFull) || messages.KindOf(err) != messages.KindTooLarge {
		t.Fatalf("replace past the size limit: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.Dir(), "b.wav")); string(b) != "123456" {
		t.Errorf("a refused commit changed the file: %q", b)
	}
	entries, _ := os.ReadDir(s.Staging())
	if len(entries) != 0 {
		t.Errorf("staging keeps %d files", len(entries))
	}
}

// Concurrent commits never exceed the count limit.
func TestConcurrentCommits(t *testing.T) {
	s := openStore(t, Options{MaxFiles: 5})
	var wg sync.WaitGroup
	for i := range 12 {
		tmp := stage(t, s, "x")
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Commit(tmp, fmt.Sprintf("s%d.wav", i), okProbe)
		}()
	}
	wg.Wait()
	names, _ := s.List()
	if len(names) != 5 {
		t.Fatalf("%d files stored, limit 5", len(names))
	}
}

func TestOpenClearsStaging(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sounds")
	s, _ := Open(dir, Options{})
	stage(t, s, "left over")
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(s2.Staging()); len(entries) != 0 {
		t.Fatalf("staging keeps %v", entries)
	}
}

func TestResolve(t *testing.T) {
	root := t.TempDir()
	cues := filepath.Join(root, "cues")
	if err := WriteCues(cues); err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(root, "sounds"), Options{CuesDir: cues})
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(root, "secret.wav")
	os.WriteFile(secret, []byte("x"), 0o600)
	os.WriteFile(filepath.Join(root, "sounds", "..hidden"), []byte("x"), 0o600)

	check := func(file, want string) {
		t.Helper()
		got, ok := s.Resolve(file)
		if (want != "") != ok || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", file, got, ok, want)
		}
	}
	check(WakeUp, filepath.Join(cues, WakeUp))
	check(TestSound, filepath.Join(cues, TestSound))
	// An uploaded sound of the same name wins, as in the reference.
	if err := s.Commit(stage(t, s, "mine"), WakeUp, okProbe); err != nil {
		t.Fatal(err)
	}
	check(WakeUp, filepath.Join(s.Dir(), WakeUp))
	check(secret, secret) // an absolute path is played as given
	check(filepath.Join(s.Dir(), "..", "secret.wav"), secret)
	check("../secret.wav", "")
	check("cues/"+GoSleep, "")
	check("./"+GoSleep, "")
	check("..", "")
	check(".staging", "")
	check("nothing.wav", "")
	check("", "")
	check(root, "") // a folder
	check("..hidden", filepath.Join(s.Dir(), "..hidden"))
	// A symlink planted in the sounds folder is not followed.
	os.Symlink(secret, filepath.Join(s.Dir(), "link.wav"))
	check("link.wav", "")
	if names, _ := s.List(); strings.Contains(strings.Join(names, ","), "link") {
		t.Errorf("List shows the symlink: %v", names)
	}
}
