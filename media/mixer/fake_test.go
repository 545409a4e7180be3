package mixer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// reply is what a fake tool answers to one exact command line.
type reply struct {
	out, err string
	code     int
	hang     bool // never answer (exec sleep, so a kill ends it)
}

// fakeTool writes a shell script called name into dir that records every
// command line it gets (with the LC_ALL it saw) and answers the command
// lines in replies; any other command line fails with code 99, so a test
// also catches commands it did not expect. It returns a function giving the
// recorded command lines.
func fakeTool(t *testing.T, dir, name string, replies map[string]reply) func() []string {
	t.Helper()
	calls := filepath.Join(dir, name+".calls")
	cat, sleep := toolPaths(t)
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/sh\nprintf '%%s\\n' \"LC_ALL=$LC_ALL|$*\" >> '%s'\ncase \"$*\" in\n", calls)
	i := 0
	for args, r := range replies {
		i++
		outFile := filepath.Join(dir, fmt.Sprintf("%s.%d.out", name, i))
		errFile := filepath.Join(dir, fmt.Sprintf("%s.%d.err", name, i))
		if err := os.WriteFile(outFile, []byte(r.out), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(errFile, []byte(r.err), 0o600); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(args, "'*?[") {
			t.Fatalf("fakeTool: keep command lines simple: %q", args)
		}
		if r.hang {
			fmt.Fprintf(&b, "'%s') exec '%s' 30;;\n", args, sleep)
			continue
		}
		fmt.Fprintf(&b, "'%s') '%s' '%s'; '%s' '%s' >&2; exit %d;;\n", args, cat, outFile, cat, errFile, r.code)
	}
	b.WriteString("*) echo \"fake: unexpected command line: $*\" >&2; exit 99;;\nesac\n")
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	return func() []string {
		data, err := os.ReadFile(calls)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	}
}

var catPath, sleepPath string

// toolPaths finds cat and sleep once, while PATH is still the system's:
// the fake scripts name them in full, so that PATH can hold nothing but the
// fakes (a real amixer or pactl on the machine must never answer a test).
func toolPaths(t *testing.T) (string, string) {
	if catPath == "" {
		c, err1 := exec.LookPath("cat")
		s, err2 := exec.LookPath("sleep")
		if err1 != nil || err2 != nil {
			t.Skip("no cat or sleep for the fake tools")
		}
		catPath, sleepPath = c, s
	}
	return catPath, sleepPath
}

// onPath makes a fresh folder the only one on PATH and returns it.
func onPath(t *testing.T) string {
	toolPaths(t)
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	return dir
}

// emptyPath leaves nothing useful on PATH.
func emptyPath(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
}

func wantCalls(t *testing.T, got []string, want ...string) {
	t.Helper()
	for i := range want {
		want[i] = "LC_ALL=C|" + want[i]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("command lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
