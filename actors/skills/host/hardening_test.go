package host

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodSkill = "def good():\n    return 'good'\ngood.skill_info = {}\n"

// quickImports sets a short import deadline and IMPORTS_FILE, which the
// test files append to at each import.
func quickImports(imports string) func(*Options) {
	return func(o *Options) {
		o.ImportTimeout = time.Second
		o.Env = append(os.Environ(), "IMPORTS_FILE="+imports)
	}
}

func contains(sub ...string) func(string) bool {
	return func(s string) bool {
		for _, x := range sub {
			if !strings.Contains(s, x) {
				return false
			}
		}
		return true
	}
}

// TestBlockingImportIsReportedAndSkipped: a file that blocks at import (a
// sleep, an endless loop) is reported on skill_manager_errors; the host
// exits with ErrImportStuck and the next host skips the file until it
// changes, so the other files' skills are listed and run.
func TestBlockingImportIsReportedAndSkipped(t *testing.T) {
	t.Parallel()
	imports := filepath.Join(t.TempDir(), "imports")
	opt := quickImports(imports)
	h := startHost(t, map[string]string{
		"block.py": "import os, time\nopen(os.environ['IMPORTS_FILE'], 'a').write('b')\ntime.sleep(3600)\n",
		"good.py":  goodSkill,
		"spin.py":  "import os\nopen(os.environ['IMPORTS_FILE'], 'a').write('s')\nwhile True:\n    pass\n",
	}, opt)

	// Files import in path order: block.py hangs the first host.
	h.managerError("block.py reported", 0, "block.py", contains("block.py: ImportTimeout: ", "within 1 s", "skipped until it changes"))
	if err := h.waitDone(); !errors.Is(err, ErrImportStuck) {
		t.Fatalf("first host: %v, want ErrImportStuck", err)
	}
	// The second skips block.py, imports good.py, and hangs on spin.py.
	h2 := h.restart(opt)
	h2.managerError("spin.py reported", 0, "spin.py", contains("spin.py: ImportTimeout: "))
	if err := h2.waitDone(); !errors.Is(err, ErrImportStuck) {
		t.Fatalf("second host: %v, want ErrImportStuck", err)
	}
	// The third skips both: good is listed and runs.
	h3 := h2.restart(opt)
	h3.list("good listed", 0, has("good"))
	h3.managerError("block.py reported", 0, "block.py", contains("ImportTimeout"))
	h3.managerError("spin.py reported", 0, "spin.py", contains("ImportTimeout"))
	h3.run("good", nil, "g-1")
	if v := value[string](t, h3.result("g-1")); v != "good" {
		t.Fatalf("good ran %q", v)
	}
	if b, _ := os.ReadFile(imports); string(b) != "bs" {
		t.Errorf("imports %q, want each blocking file imported once (bs)", b)
	}
	// Changed, a skipped file is imported again.
	from := h3.count()
	h3.write("block.py", "def fixed():\n    return 'fixed'\nfixed.skill_info = {}\n")
	h3.managerError("block.py cleared", from, "block.py", func(s string) bool { return s == "" })
	h3.list("fixed listed", from, has("good", "fixed"))

	// A file that blocks, added while a skill runs: the run ends in ERROR
	// (nobody cancelled it), and the host exits for a new one.
	h3.write("wait.py", "import asyncio\nasync def wait():\n    await asyncio.sleep(60)\nwait.skill_info = {}\n")
	h3.list("wait listed", from, has("wait"))
	h3.run("wait", nil, "w-1")
	h3.waitUntil("wait started", func() bool { return h3.logged("run wait") })
	h3.write("late.py", "import time\ntime.sleep(3600)\n")
	r := h3.result("w-1")
	if r.Result == nil || r.Result.Status != "ERROR" || r.Result.Exception == nil ||
		*r.Result.Exception != "SkillHostRestart: skill file late.py blocked at import" {
		t.Errorf("run during the restart: %+v", r.Result)
	}
	if err := h3.waitDone(); !errors.Is(err, ErrImportStuck) {
		t.Fatalf("third host: %v, want ErrImportStuck", err)
	}
}

// TestImportThatKillsOrHoldsTheHost: a file that exits the interpreter at
// import, and one whose import holds the interpreter (the host's own
// deadline cannot fire: the Process kills it), are skipped by the next
// host.
func TestImportThatKillsOrHoldsTheHost(t *testing.T) {
	t.Parallel()
	opt := quickImports(filepath.Join(t.TempDir(), "imports"))
	h := startHost(t, map[string]string{
		"exit.py": "import os\nos._exit(7)\n",
		"good.py": goodSkill,
		// sum over a range runs in C and never lets another thread run.
		"hog.py": "total = sum(range(10**15))\n",
	}, opt)
	if err := h.waitDone(); err == nil || errors.Is(err, ErrImportStuck) || !strings.Contains(err.Error(), "exit status 7") {
		t.Fatalf("first host: %v, want exit status 7", err)
	}
	h2 := h.restart(opt)
	if err := h2.waitDone(); !errors.Is(err, ErrImportStuck) {
		t.Fatalf("second host: %v, want ErrImportStuck", err)
	}
	h2.mu.Lock()
	killed := h2.logged("the import of hog.py has run for more than")
	h2.mu.Unlock()
	if !killed {
		t.Error("the kill was not logged")
	}
	h3 := h2.restart(opt)
	h3.list("good listed", 0, has("good"))
	h3.managerError("hog.py reported", 0, "hog.py", contains("hog.py: ImportCrash: "))
	h3.managerError("exit.py reported", 0, "exit.py", contains("exit.py: ImportCrash: ", "skipped until it changes"))
	h3.run("good", nil, "g-1")
	if v := value[string](t, h3.result("g-1")); v != "good" {
		t.Fatalf("good ran %q", v)
	}
}

// TestForgetSkipped: the first host of a daemon starts with a clean slate.
func TestForgetSkipped(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	for _, name := range []string{importingFile, skippedFile} {
		if err := os.WriteFile(filepath.Join(work, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Start(Options{Python: "/bin/true", SkillsDir: t.TempDir(), WorkDir: work, ForgetSkipped: true})
	if err != nil {
		t.Fatal(err)
	}
	p.Stop(time.Second)
	for _, name := range []string{importingFile, skippedFile} {
		if _, err := os.Stat(filepath.Join(work, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", name, err)
		}
	}
}

// TestCancelledSyncSkillCannotRestartWhileItsThreadRuns: a cancelled sync
// skill reports CANCELLED at once, is listed as finishing while its thread
// runs, and a new run is refused until the thread returns.
func TestCancelledSyncSkillCannotRestartWhileItsThreadRuns(t *testing.T) {
	t.Parallel()
	release := filepath.Join(t.TempDir(), "release")
	h := startHost(t, map[string]string{"hold.py": `
import os, time

def hold(release: str):
    print("hold started", flush=True)
    while not os.path.exists(release):
        time.sleep(0.02)
    return "released"
hold.skill_info = {}
`})
	h.list("hold", 0, has("hold"))
	h.run("hold", map[string]any{"release": release}, "h-1")
	h.waitUntil("hold started", func() bool { return h.logged("hold started") })
	from := h.count()
	h.cancel("hold", "rq-1")
	if r := h.result("h-1"); r.Result == nil || r.Result.Status != "CANCELLED" {
		t.Fatalf("cancelled run: %+v", r.Result)
	}
	// Listed as finishing no later than the CANCELLED result.
	_, at := h.waitFrame("finishing list", from, func(g got) bool {
		return g.f.Topic == "skills_list_result" && strings.Join(g.inner.Finishing, ",") == "hold"
	})
	_, res := h.waitFrame("h-1 result", from, func(g got) bool {
		return g.f.Topic == "RPC_result" && strings.Contains(string(g.inner.Data), `h-1`)
	})
	if at > res {
		t.Errorf("finishing listed after the result (frames %d, %d)", at, res)
	}

	h.run("hold", map[string]any{"release": release}, "h-2")
	if r := h.result("h-2"); r.Error == nil || !strings.Contains(r.Error.Message, "Skill 'hold' is still finishing a cancelled run") {
		t.Fatalf("second start while the thread runs: %+v %+v", r.Error, r.Result)
	}

	// The thread returns: no longer finishing, and it runs again.
	from = h.count()
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	h.waitFrame("a list without finishing", from, func(g got) bool {
		return g.f.Topic == "skills_list_result" && len(g.inner.Finishing) == 0
	})
	h.run("hold", map[string]any{"release": release}, "h-3")
	if v := value[string](t, h.result("h-3")); v != "released" {
		t.Fatalf("run after the thread ended: %q", v)
	}
}
