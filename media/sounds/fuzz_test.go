package sounds

import (
	"path/filepath"
	"strings"
	"testing"
)

// Whatever ValidName (or UploadName) accepts is one plain element: joined
// to the folder it stays in the folder, and it has an allowed extension.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"a.wav", "../a.wav", "a/b.mp3", `a\b.ogg`, ".wav", "..", "x.WAV", "a\x00.wav", "é.flac", "a/./b.opus/"} {
		f.Add(s)
	}
	dir := "/srv/sounds"
	f.Fuzz(func(t *testing.T, name string) {
		check := func(n string) {
			if filepath.Dir(filepath.Join(dir, n)) != dir || filepath.Base(n) != n {
				t.Fatalf("%q escapes or is not a basename", n)
			}
			if strings.ContainsAny(n, "/\\\x00") || n == "." || n == ".." {
				t.Fatalf("accepted %q", n)
			}
			ext := strings.ToLower(filepath.Ext(n))
			if !strings.Contains(" .aac .flac .m4a .mp3 .oga .ogg .opus .wav ", " "+ext+" ") {
				t.Fatalf("accepted extension %q of %q", ext, n)
			}
		}
		if ValidName(name) == nil {
			check(name)
		}
		if n, err := UploadName(name); err == nil {
			check(n)
		}
	})
}
