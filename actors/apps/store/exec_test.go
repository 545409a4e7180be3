package store

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestExecAppFolderTarGzZip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &Store{Root: filepath.Join(t.TempDir(), "apps")}
	src := t.TempDir()
	writeFiles(t, src, waverApp("waver"))

	check := func(t *testing.T, i Installed) {
		t.Helper()
		if i.Name != "waver" || i.Kind != KindExec || i.Description != "Waves the antennas" ||
			i.CustomAppURL == nil || *i.CustomAppURL != "http://0.0.0.0:8043" || i.Env["GREETING"] != "hi" {
			t.Fatalf("installed = %+v", i)
		}
		l, err := s.Launch("waver")
		if err != nil {
			t.Fatal(err)
		}
		files := filepath.Join(s.Root, "waver", "files")
		if l.Dir != files || l.Path != filepath.Join(files, "bin", "run.sh") || !slices.Equal(l.Args, []string{"--flag"}) {
			t.Fatalf("launch = %+v", l)
		}
		for _, kv := range l.Env {
			if strings.HasPrefix(kv, "GI_TYPELIB_PATH=") {
				t.Fatalf("GI_TYPELIB_PATH not scrubbed")
			}
		}
		if out := run(t, l); out != "hi from waver --flag "+files {
			t.Fatalf("output %q", out)
		}
		if n := names(t, s); !slices.Equal(n, []string{"waver"}) {
			t.Fatalf("List = %v", n)
		}
		info := InstalledInfo(i)
		if info.Extra["custom_app_url"] != "http://0.0.0.0:8043" || info.Extra["venv_path"] != nil {
			t.Fatalf("info = %+v", info)
		}
		assertNoStaging(t, s)
	}

	t.Run("folder", func(t *testing.T) {
		// Caches and VCS data are not copied.
		writeFiles(t, src, map[string]string{".git/HEAD": "ref", "__pycache__/x.pyc": "x"})
		i, err := s.InstallLocal(ctx, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, i)
		if _, err := os.Stat(filepath.Join(i.Dir, "files", ".git")); !os.IsNotExist(err) {
			t.Fatalf(".git copied: %v", err)
		}
	})
	t.Run("tar.gz with a top folder", func(t *testing.T) {
		p := writeArchive(t, "waver-1.0.tar.gz", tarBytes(t, entriesOf(waverApp("waver"), "waver-1.0/"), true))
		i, err := s.InstallLocal(ctx, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, i)
	})
	t.Run("zip", func(t *testing.T) {
		p := writeArchive(t, "waver.zip", zipBytes(t, entriesOf(waverApp("waver"), "")))
		i, err := s.InstallLocal(ctx, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, i)
	})
	t.Run("tar with inside symlink to the program", func(t *testing.T) {
		files := waverApp("waver")
		files[ManifestFile] = strings.Replace(files[ManifestFile], "bin/run.sh", "start", 1)
		ents := append(entriesOf(files, "./"), entry{name: "./start", typ: tar.TypeSymlink, link: "bin/run.sh"})
		p := writeArchive(t, "waver.tar", tarBytes(t, ents, false))
		i, err := s.InstallLocal(ctx, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Launch(i.Name)
		if err != nil {
			t.Fatal(err)
		}
		if out := run(t, l); !strings.HasPrefix(out, "hi from waver --flag") {
			t.Fatalf("output %q", out)
		}
	})
}

// TestRefusals: every bad install fails with the right error and leaves the
// store exactly as it was, the installed app still working.
func TestRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := t.TempDir()
	s := &Store{Root: filepath.Join(base, "apps")}
	good := t.TempDir()
	writeFiles(t, good, waverApp("waver"))
	if _, err := s.InstallLocal(ctx, good, nil); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(base, "evil")

	manifest := func(body string) map[string]string {
		f := waverApp("waver")
		f[ManifestFile] = body
		return f
	}
	folder := func(files map[string]string) func(t *testing.T) string {
		return func(t *testing.T) string {
			d := t.TempDir()
			writeFiles(t, d, files)
			return d
		}
	}
	archive := func(name string, data func(t *testing.T) []byte) func(t *testing.T) string {
		return func(t *testing.T) string { return writeArchive(t, name, data(t)) }
	}
	tgz := func(ents ...entry) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return tarBytes(t, ents, true) }
	}
	app := entriesOf(waverApp("waver"), "")
	big := strings.Repeat("0", 4000)
	small := Limits{MaxTotalBytes: 3000, MaxFiles: 5, MaxFileBytes: 2000}

	cases := []struct {
		name string
		src  func(t *testing.T) string
		lim  Limits
		want error
	}{
		{"name with dot", folder(manifest("name: x.y\ncommand: [bin/run.sh]\n")), Limits{}, ErrInvalidName},
		{"name with slash", folder(manifest("name: ../evil\ncommand: [bin/run.sh]\n")), Limits{}, ErrInvalidName},
		{"name starting with digit", folder(manifest("name: 1abc\ncommand: [bin/run.sh]\n")), Limits{}, ErrInvalidName},
		{"name too long", folder(manifest("name: a" + strings.Repeat("b", 64) + "\ncommand: [bin/run.sh]\n")), Limits{}, ErrInvalidName},
		{"manifest unknown key", folder(manifest("name: waver\ncommand: [bin/run.sh]\nenviron: {A: b}\n")), Limits{}, ErrInvalidApp},
		{"manifest command is a string", folder(manifest("name: waver\ncommand: bin/run.sh\n")), Limits{}, ErrInvalidApp},
		{"manifest empty", folder(manifest("")), Limits{}, ErrInvalidApp},
		{"manifest bad env key", folder(manifest("name: waver\ncommand: [bin/run.sh]\nenv: {\"A=B\": c}\n")), Limits{}, ErrInvalidApp},
		{"command with ..", folder(manifest("name: waver\ncommand: [../run.sh]\n")), Limits{}, ErrInvalidApp},
		{"command absolute", folder(manifest("name: waver\ncommand: [/bin/sh, -c, id]\n")), Limits{}, ErrInvalidApp},
		{"command missing", folder(manifest("name: waver\ncommand: [bin/nope]\n")), Limits{}, ErrInvalidApp},
		{"command not executable", folder(map[string]string{ManifestFile: "name: waver\ncommand: [run]\n", "run": "x"}), Limits{}, ErrInvalidApp},
		{"command symlink outside", archive("a.tgz", tgz(append(entriesOf(manifest("name: waver\ncommand: [sh]\n"), ""),
			entry{name: "sh", typ: tar.TypeSymlink, link: "/bin/sh"})...)), Limits{}, ErrInvalidApp},
		{"folder with absolute symlink", func(t *testing.T) string {
			d := folder(waverApp("waver"))(t)
			if err := os.Symlink("/etc/passwd", filepath.Join(d, "passwd")); err != nil {
				t.Fatal(err)
			}
			return d
		}, Limits{}, ErrInvalidApp},
		{"python without entry point", folder(map[string]string{"pyproject.toml": "[project]\nname='x'\n", "x/__init__.py": ""}), Limits{}, ErrInvalidApp},
		{"nothing recognisable", folder(map[string]string{"README.md": "hi"}), Limits{}, ErrInvalidApp},
		{"traversal ../evil", archive("a.tgz", tgz(append(app, file("../evil", "x"))...)), Limits{}, ErrInvalidApp},
		{"traversal inside path", archive("a.tgz", tgz(append(app, file("bin/../../evil", "x"))...)), Limits{}, ErrInvalidApp},
		{"absolute path", archive("a.tgz", tgz(append(app, file(outside, "x"))...)), Limits{}, ErrInvalidApp},
		{"symlink escaping", archive("a.tgz", tgz(append(app, entry{name: "bin/up", typ: tar.TypeSymlink, link: "../../evil"})...)), Limits{}, ErrInvalidApp},
		{"symlink absolute", archive("a.tgz", tgz(append(app, entry{name: "etc", typ: tar.TypeSymlink, link: "/etc"})...)), Limits{}, ErrInvalidApp},
		{"write through symlink", archive("a.tgz", tgz(append(app,
			entry{name: "d/b", typ: tar.TypeSymlink, link: ".."},
			entry{name: "d/b/c", typ: tar.TypeSymlink, link: "../evil"})...)), Limits{}, ErrInvalidApp},
		{"hardlink outside", archive("a.tgz", tgz(append(app, entry{name: "h", typ: tar.TypeLink, link: "../evil"})...)), Limits{}, ErrInvalidApp},
		{"device file", archive("a.tgz", tgz(append(app, entry{name: "null", typ: tar.TypeChar})...)), Limits{}, ErrInvalidApp},
		{"fifo", archive("a.tgz", tgz(append(app, entry{name: "fifo", typ: tar.TypeFifo})...)), Limits{}, ErrInvalidApp},
		{"duplicate entry", archive("a.tgz", tgz(append(app, app[0])...)), Limits{}, ErrInvalidApp},
		{"zip traversal", archive("a.zip", func(t *testing.T) []byte { return zipBytes(t, append(app, file("../evil", "x"))) }), Limits{}, ErrInvalidApp},
		{"zip symlink escaping", archive("a.zip", func(t *testing.T) []byte {
			return zipBytes(t, append(app, entry{name: "x", typ: tar.TypeSymlink, link: "../../evil"}))
		}), Limits{}, ErrInvalidApp},
		{"unsupported archive", archive("a.rar", func(*testing.T) []byte { return []byte("Rar!") }), Limits{}, ErrInvalidApp},
		{"corrupt gzip", archive("a.tgz", func(*testing.T) []byte { return []byte("\x1f\x8bnot gzip") }), Limits{}, ErrInvalidApp},
		{"file too large", archive("a.tgz", tgz(append(app, file("big", big))...)), small, ErrTooLarge},
		{"total too large", archive("a.tgz", tgz(append(app, file("b1", big[:1900]), file("b2", big[:1900]))...)), small, ErrTooLarge},
		{"too many files", archive("a.tgz", tgz(append(app, file("1", ""), file("2", ""), file("3", ""), file("4", ""))...)), small, ErrTooLarge},
		{"zip bomb", archive("a.zip", func(t *testing.T) []byte {
			return zipBytes(t, append(app, file("bomb", string(bytes.Repeat([]byte{0}, 8<<20)))))
		}), Limits{MaxTotalBytes: 1 << 20}, ErrTooLarge},
		{"gzip bomb", archive("a.tgz", tgz(append(app, file("bomb", string(bytes.Repeat([]byte{0}, 8<<20))))...)), Limits{MaxTotalBytes: 1 << 20}, ErrTooLarge},
		{"folder too large", folder(map[string]string{ManifestFile: "name: waver\ncommand: [bin/run.sh]\n", "bin/run.sh": big}), small, ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := s
			if c.lim != (Limits{}) {
				st = &Store{Root: s.Root, Limits: c.lim}
			}
			_, err := st.InstallLocal(ctx, c.src(t), nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if _, err := os.Lstat(outside); !os.IsNotExist(err) {
				t.Fatalf("wrote outside: %v", err)
			}
			assertNoStaging(t, s)
			if n := names(t, s); !slices.Equal(n, []string{"waver"}) {
				t.Fatalf("store changed: %v", n)
			}
			l, err := s.Launch("waver")
			if err != nil {
				t.Fatal(err)
			}
			if out := run(t, l); !strings.HasPrefix(out, "hi from waver") {
				t.Fatalf("installed app broken: %q", out)
			}
		})
	}

	t.Run("bad names elsewhere", func(t *testing.T) {
		for _, n := range []string{"", "..", ".hidden", "a/b", "a b", "é", "-x", "_x", "x\x00"} {
			if _, err := s.Get(n); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Get(%q) = %v", n, err)
			}
			if err := s.Remove(n, Guard{}, nil); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Remove(%q) = %v", n, err)
			}
			if _, err := s.Launch(n); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Launch(%q) = %v", n, err)
			}
		}
		for _, n := range []string{"a", "hello_app", "my-app", "A1_b-2"} {
			if err := ValidName(n); err != nil {
				t.Errorf("ValidName(%q) = %v", n, err)
			}
		}
	})
}

// TestConcurrentInstallsAndBrokenMetadata: the apps actor may run several
// jobs at once; the store stays consistent (run with -race).
func TestConcurrentInstallsAndBrokenMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &Store{Root: filepath.Join(t.TempDir(), "apps")}
	src := t.TempDir()
	writeFiles(t, src, waverApp("waver"))
	done := make(chan error, 8)
	for i := 0; i < 4; i++ {
		go func() { _, err := s.InstallLocal(ctx, src, nil); done <- err }()
		go func() { _, err := s.List(); done <- err }()
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := names(t, s); !slices.Equal(n, []string{"waver"}) {
		t.Fatalf("List = %v", n)
	}
	assertNoStaging(t, s)

	// A folder with unreadable metadata is not listed, but can be removed.
	if err := os.WriteFile(filepath.Join(s.Root, "waver", MetadataFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := names(t, s); len(n) != 0 {
		t.Fatalf("List = %v", n)
	}
	if _, err := s.Get("waver"); !errors.Is(err, ErrInvalidApp) {
		t.Fatalf("Get = %v", err)
	}
	if err := s.Remove("waver", Guard{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("waver"); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Get = %v", err)
	}
	if _, err := (&Store{}).List(); err == nil {
		t.Fatal("List without Root")
	}
}
