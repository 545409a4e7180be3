package store

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPythonApp shares one store across steps that depend on each other:
// install, list, launch, two refusals, reinstall, remove.
func TestPythonApp(t *testing.T) {
	py := testPython(t)
	t.Parallel()
	ctx := context.Background()
	s := &Store{Root: filepath.Join(t.TempDir(), "apps"), Python: py}
	src := t.TempDir()
	writeFiles(t, src, helloApp("v1", "reachy_mini_apps"))

	var logs []string
	inst, err := s.InstallLocal(ctx, src, func(l string) { logs = append(logs, l) })
	if err != nil {
		t.Fatalf("install: %v\n%s", err, strings.Join(logs, "\n"))
	}
	joined := strings.Join(logs, "\n")
	if !strings.Contains(joined, "Successfully installed hello") || !strings.Contains(joined, "Successfully installed 'hello'") {
		t.Errorf("pip output not logged:\n%s", joined)
	}
	assertNoStaging(t, s)

	t.Run("list and get", func(t *testing.T) {
		l, err := s.List()
		if err != nil || len(l) != 1 {
			t.Fatalf("List = %v, %v", l, err)
		}
		g, err := s.Get("hello")
		if err != nil {
			t.Fatal(err)
		}
		if g.Name != "hello" || g.Kind != KindPython || g.Module != "hello_app.main" ||
			g.EntryPoint != "hello_app.main:HelloApp" || g.Description != "Says hello" ||
			g.CustomAppURL == nil || *g.CustomAppURL != "http://0.0.0.0:8042" ||
			g.Source.Kind != SourceLocal || g.Source.Path != src || g.Dir != filepath.Join(s.Root, "hello") ||
			g.InstalledAt.IsZero() || inst.Name != "hello" {
			t.Fatalf("Get = %+v", g)
		}
		st, err := os.Stat(filepath.Join(g.Dir, MetadataFile))
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Fatalf("metadata: %v %v", st.Mode(), err)
		}
		b, _ := json.Marshal(InstalledInfo(g))
		var back map[string]any
		_ = json.Unmarshal(b, &back)
		ex := back["extra"].(map[string]any)
		if back["name"] != "hello" || back["source_kind"] != "installed" || back["description"] != "" ||
			back["url"] != nil || ex["custom_app_url"] != "http://0.0.0.0:8042" ||
			ex["venv_path"] != filepath.Join(g.Dir, "venv") || ex["path"] != src {
			t.Fatalf("InstalledInfo = %s", b)
		}
		if !strings.HasPrefix(string(b), `{"name":"hello","source_kind":"installed","description":"","url":null,"extra":{`) {
			t.Fatalf("field order: %s", b)
		}
	})

	t.Run("launch", func(t *testing.T) {
		l, err := s.Launch("hello")
		if err != nil {
			t.Fatal(err)
		}
		if l.Path != filepath.Join(s.Root, "hello", "venv", "bin", "python") ||
			strings.Join(l.Args, " ") != "-u -m hello_app.main" {
			t.Fatalf("Launch = %+v", l)
		}
		if out := run(t, l); out != "hello from hello_app v1 scrubbed" {
			t.Fatalf("output %q", out)
		}
	})

	t.Run("refuse package without entry point", func(t *testing.T) {
		for _, group := range []string{"console_scripts", "reachy_mini_apps_old"} {
			bad := t.TempDir()
			writeFiles(t, bad, helloApp("bad", group))
			_, err := s.InstallLocal(ctx, bad, nil)
			if !errors.Is(err, ErrInvalidApp) || !strings.Contains(err.Error(), "reachy_mini_apps") {
				t.Fatalf("%s: err = %v", group, err)
			}
			assertNoStaging(t, s)
			if n := names(t, s); len(n) != 1 || n[0] != "hello" {
				t.Fatalf("store changed: %v", n)
			}
			l, _ := s.Launch("hello")
			if out := run(t, l); out != "hello from hello_app v1 scrubbed" {
				t.Fatalf("old app broken: %q", out)
			}
		}
	})

	t.Run("reinstall replaces", func(t *testing.T) {
		writeFiles(t, src, helloApp("v2", "reachy_mini_apps"))
		if _, err := s.InstallLocal(ctx, src, nil); err != nil {
			t.Fatal(err)
		}
		l, err := s.Launch("hello")
		if err != nil {
			t.Fatal(err)
		}
		if out := run(t, l); out != "hello from hello_app v2 scrubbed" {
			t.Fatalf("output %q", out)
		}
		assertNoStaging(t, s)
		if n := names(t, s); len(n) != 1 {
			t.Fatalf("List = %v", n)
		}
	})

	t.Run("remove", func(t *testing.T) {
		var logs []string
		if err := s.Remove("hello", Guard{}, func(l string) { logs = append(logs, l) }); err != nil {
			t.Fatal(err)
		}
		if len(logs) == 0 {
			t.Error("no progress logged")
		}
		if _, err := os.Stat(filepath.Join(s.Root, "hello")); !os.IsNotExist(err) {
			t.Fatalf("folder still there: %v", err)
		}
		if _, err := s.Get("hello"); !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("Get after remove: %v", err)
		}
		if _, err := s.Launch("hello"); !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("Launch after remove: %v", err)
		}
		if err := s.Remove("hello", Guard{}, nil); !errors.Is(err, ErrNotInstalled) {
			t.Fatalf("second Remove: %v", err)
		}
		assertNoStaging(t, s)
	})
}

func TestEntryPointsAndCustomURL(t *testing.T) {
	eps := parseEntryPoints(`[console_scripts]
x = y:z

[reachy_mini_apps]
# comment
hello = hello_app.main:HelloApp
other=pkg.mod [extra1]
`, EntryPointGroup)
	if len(eps) != 2 || eps[0] != [2]string{"hello", "hello_app.main:HelloApp"} || eps[1] != [2]string{"other", "pkg.mod"} {
		t.Fatalf("eps = %v", eps)
	}
	for src, want := range map[string]string{
		`    custom_app_url: str | None = "http://0.0.0.0:8042"`: "http://0.0.0.0:8042",
		`custom_app_url = 'http://localhost:9000'`:               "http://localhost:9000",
		`custom_app_url: str = "https://x/y"`:                    "https://x/y",
		`custom_app_url: str | None = None`:                      "",
	} {
		m := customURLRe.FindStringSubmatch(src)
		got := ""
		if m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%s: got %q want %q", src, got, want)
		}
	}
}
