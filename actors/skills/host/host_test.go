package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const plainSkills = `
import asyncio
import datetime


def ping(count: int = 2, tag="t"):
    """Answer pong, count times."""
    return {"pong": count, "tag": tag}

ping.skill_info = {"description": "ping", "auto_start": False}


async def hello(robot, name: str):
    await asyncio.sleep(0)
    return ["hello", name]

hello.skill_info = {}


def when():
    return datetime.date(2024, 5, 17)

when.skill_info = {}


def helper():
    """Not a skill: no skill_info."""
`

const mirokaiSkills = `
from pymirokai.decorators.skill import skill, ParameterDescription
from pymirokai.enums import AccessLevel
from pymirokai.enums.enums import FaceAnim
from pymirokai.robot import Robot


@skill(
    access_level=AccessLevel.ADMIN,
    verbal_descriptions={"en": ["find rhymes"], "fr": ["rimes"]},
    parameters=[ParameterDescription(name="word", description="The word to rhyme.")],
    can_be_triggered_by_llm=True,
    auto_start=True,
    face=FaceAnim.HAPPY,
)
async def rhyme(robot: Robot, word: str, max_results: int = 5, level=AccessLevel.USER):
    return {"llm_output": word}


@skill
def bare():
    return "bare"


@skill()
def paren():
    return "paren"
`

func TestSkillsList(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{
		"plain.py":        plainSkills,
		"mirokai.py":      mirokaiSkills,
		"sub/deep/low.py": "def low():\n    return 1\nlow.skill_info = {'access_level': 'USER'}\n",
		"sub/notes.txt":   "not python",
	})
	m, _ := h.list("all skills", 0, has("ping", "hello", "when", "rhyme", "bare", "paren", "low"))
	if len(m) != 7 {
		t.Errorf("listed %d skills, want 7: %v", len(m), keys(m))
	}

	ping := m["ping"]
	if ping.Filename != "plain.py" || ping.Doc != "Answer pong, count times." {
		t.Errorf("ping: filename %q doc %q", ping.Filename, ping.Doc)
	}
	if string(ping.SkillInfo["description"]) != `"ping"` || string(ping.SkillInfo["auto_start"]) != "false" {
		t.Errorf("ping skill_info: %v", ping.SkillInfo)
	}
	wantParams := []string{`count|2|<class 'int'>|false`, `tag|"t"||false`}
	checkParams(t, "ping", ping, wantParams)

	rhyme := m["rhyme"]
	if rhyme.Filename != "mirokai.py" {
		t.Errorf("rhyme filename %q", rhyme.Filename)
	}
	// robot is injected, never listed; a missing default is "null".
	checkParams(t, "rhyme", rhyme, []string{
		`word|"null"|<class 'str'>|true`,
		`max_results|5|<class 'int'>|false`,
		`level|"AccessLevel.USER"||false`,
	})
	info := rhyme.SkillInfo
	for k, want := range map[string]string{
		"access_level":            `"AccessLevel.ADMIN"`,
		"verbal_descriptions":     `{"en":["find rhymes"],"fr":["rimes"]}`,
		"parameters":              `[{"name":"word","description":"The word to rhyme."}]`,
		"can_be_triggered_by_llm": "true",
		"auto_start":              "true",
		"face":                    `"FaceAnim.HAPPY"`,
	} {
		if got := compact(t, info[k]); got != want {
			t.Errorf("rhyme skill_info[%s] = %s, want %s", k, got, want)
		}
	}
	for _, n := range []string{"bare", "paren"} {
		if len(m[n].SkillInfo) != 0 || m[n].Parameters == nil {
			t.Errorf("%s: skill_info %v parameters %v", n, m[n].SkillInfo, m[n].Parameters)
		}
	}
	if m["low"].Filename != "sub/deep/low.py" {
		t.Errorf("low filename %q", m["low"].Filename)
	}
	// Imports must not leave bytecode caches in the served folder.
	filepath.WalkDir(h.dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "__pycache__" {
			t.Errorf("bytecode cache written in the skills folder: %s", path)
		}
		return nil
	})
}

func checkParams(t *testing.T, skill string, e entry, want []string) {
	t.Helper()
	var got []string
	for _, p := range e.Parameters {
		if p.Questions == nil || len(p.Questions) != 0 {
			t.Errorf("%s.%s questions = %v, want []", skill, p.Name, p.Questions)
		}
		got = append(got, strings.Join([]string{p.Name, compact(t, p.Default), p.Annotation, boolStr(p.Required)}, "|"))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s parameters:\n%s\nwant:\n%s", skill, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "<" + string(raw) + ">"
	}
	return b.String()
}

func keys(m map[string]entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRunSyncAndAsync(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{"plain.py": plainSkills})
	h.list("skills", 0, has("ping", "hello"))

	h.run("ping", map[string]any{"count": 7}, "m-1")
	h.run("hello", map[string]any{"name": "Ada"}, "m-2")
	h.run("when", nil, "m-3")

	r := h.result("m-1")
	if r.JSONRPC != "2.0" || r.Result == nil || r.Result.Status != "COMPLETED" || r.Result.Exception != nil {
		t.Fatalf("sync run: %+v", r)
	}
	if v := value[map[string]any](t, r); v["pong"] != 7.0 || v["tag"] != "t" {
		t.Errorf("sync value %v", v)
	}
	r = h.result("m-2")
	if r.Result == nil || r.Result.Status != "COMPLETED" {
		t.Fatalf("async run: %+v", r)
	}
	if v := value[[]string](t, r); strings.Join(v, ",") != "hello,Ada" {
		t.Errorf("async value %v", v)
	}
	// Values that are not JSON are sent as their str().
	if v := value[string](t, h.result("m-3")); v != "2024-05-17" {
		t.Errorf("non-JSON value %q", v)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{"fail.py": `
import sys

def boom(x: int = 1):
    raise ValueError("boom %d" % x)
boom.skill_info = {}

async def aboom():
    raise KeyError("k")
aboom.skill_info = {}

def leave():
    sys.exit(3)
leave.skill_info = {}

def big():
    return "x" * 2000000
big.skill_info = {}
`})
	h.list("skills", 0, has("boom", "aboom", "leave", "big"))
	h.run("boom", map[string]any{"x": 4}, "e-1")
	h.run("aboom", nil, "e-2")
	h.run("leave", nil, "e-3")
	h.run("big", nil, "e-4")
	for id, want := range map[string]string{
		"e-1": "ValueError: boom 4",
		"e-2": "KeyError: 'k'",
		"e-3": "SystemExit: 3",
		"e-4": "ValueError: result too large",
	} {
		r := h.result(id)
		if r.Result == nil || r.Result.Status != "ERROR" || string(r.Result.Value) != "null" ||
			r.Result.Exception == nil || !strings.HasPrefix(*r.Result.Exception, want) {
			t.Errorf("%s: %+v, want ERROR %q", id, r.Result, want)
		}
	}
	// The host survived sys.exit in a skill.
	h.run("boom", nil, "e-5")
	if r := h.result("e-5"); r.Result == nil || r.Result.Status != "ERROR" {
		t.Errorf("after sys.exit: %+v", r)
	}
}

func TestRunRefused(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{"plain.py": plainSkills, "long.py": `
import asyncio
async def long():
    await asyncio.sleep(60)
long.skill_info = {}
`})
	h.list("skills", 0, has("ping", "long"))
	h.run("long", nil, "busy-1")
	h.run("nope", nil, "r-1")
	h.run("ping", map[string]any{"zzz": 1}, "r-2")
	h.run("hello", map[string]any{}, "r-3")
	h.run("hello", map[string]any{"name": "x", "robot": "me"}, "r-4")
	h.send(map[string]any{"name": "RPC_command", "type": "dict", "command": "run",
		"data": map[string]any{"jsonrpc": "2.0", "method": "ping", "params": []any{1}, "id": "r-5"}})
	h.run("long", nil, "r-6")
	for id, want := range map[string]string{
		"r-1": "Skill 'nope' not found.",
		"r-2": "unexpected keyword argument 'zzz'",
		"r-3": "'name'",
		"r-4": "'robot'",
		"r-5": "keyword parameters only",
		"r-6": "Skill 'long' is already running.",
	} {
		r := h.result(id)
		if r.Error == nil || r.Error.Code != -32603 || !strings.Contains(r.Error.Message, want) || r.Result != nil {
			t.Errorf("%s: %+v, want -32603 with %q", id, r.Error, want)
		}
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{"long.py": `
import asyncio, time

async def long_async(seconds: float = 60):
    await asyncio.sleep(seconds)
    return "finished"
long_async.skill_info = {}

def long_sync(seconds: float = 60):
    time.sleep(seconds)
    return "finished"
long_sync.skill_info = {}
`})
	h.list("skills", 0, has("long_async", "long_sync"))
	h.run("long_async", nil, "c-1")
	h.run("long_sync", nil, "c-2")
	h.cancel("long_async", "rq-1")
	h.cancel("long_sync", "rq-2")
	for _, pair := range [][2]string{{"c-1", "rq-1"}, {"c-2", "rq-2"}} {
		r := h.result(pair[0])
		if r.Result == nil || r.Result.Status != "CANCELLED" || string(r.Result.Value) != "null" {
			t.Errorf("%s: %+v, want CANCELLED", pair[0], r.Result)
		}
		reply := h.cancelReply(pair[1])
		if reply.Name != "RPC_result" || reply.Type != "dict" || string(reply.Data) != "null" {
			t.Errorf("cancel reply %+v", reply)
		}
	}
	// An async skill's name is free again at once (a sync one's only when
	// its thread returns: TestCancelledSyncSkillCannotRestartWhileItsThreadRuns).
	h.run("long_async", map[string]any{"seconds": 0}, "c-3")
	if r := h.result("c-3"); r.Result == nil || r.Result.Status != "COMPLETED" {
		t.Errorf("rerun after cancel: %+v", r)
	}
	// Cancelling what is not running still gets its reply.
	h.cancel("long_async", "rq-3")
	h.cancelReply("rq-3")
}

func TestImportErrorsAreIsolated(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{
		"good.py":    "def good():\n    return 'ok'\ngood.skill_info = {}\n",
		"bad.py":     "def fixed():\n    return (\n",
		"missing.py": "import does_not_exist_xyz\n",
		"raises.py":  "x = 1\nraise RuntimeError('at import')\n",
	})
	text, _ := h.managerError("bad.py error", 0, "bad.py", func(s string) bool { return s != "" })
	if !strings.HasPrefix(text, "bad.py: SyntaxError: ") || !strings.HasSuffix(text, "(line 2)") {
		t.Errorf("syntax error text %q", text)
	}
	text, _ = h.managerError("missing.py error", 0, "missing.py", func(s string) bool { return s != "" })
	if text != "missing.py: ModuleNotFoundError: No module named 'does_not_exist_xyz' (line 1)" {
		t.Errorf("missing module text %q", text)
	}
	text, _ = h.managerError("raises.py error", 0, "raises.py", func(s string) bool { return s != "" })
	if text != "raises.py: RuntimeError: at import (line 2)" {
		t.Errorf("import exception text %q", text)
	}
	// The other file's skills stay listed.
	_, at := h.list("good listed", 0, has("good"))

	// Published once per change of the file, not on every scan.
	for range 3 {
		_, at = h.list("another list", at+1, anyList)
	}
	h.mu.Lock()
	n := 0
	for _, g := range h.frames {
		if g.f.Topic == "skill_manager_errors" && g.inner.Filename != nil && *g.inner.Filename == "bad.py" {
			n++
		}
	}
	h.mu.Unlock()
	if n != 1 {
		t.Errorf("bad.py error published %d times, want once", n)
	}

	// Fixed: the error is cleared with an empty text and its skill appears.
	from := h.count()
	h.write("bad.py", "def fixed():\n    return 'fixed'\nfixed.skill_info = {}\n")
	h.managerError("bad.py cleared", from, "bad.py", func(s string) bool { return s == "" })
	h.list("fixed listed", from, has("good", "fixed"))
	h.run("fixed", nil, "f-1")
	if v := value[string](t, h.result("f-1")); v != "fixed" {
		t.Errorf("fixed value %q", v)
	}
	// Removed: cleared too.
	from = h.count()
	os.Remove(filepath.Join(h.dir, "missing.py"))
	h.managerError("missing.py cleared", from, "missing.py", func(s string) bool { return s == "" })
}

func TestNameClash(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{
		"a.py":     "def dup():\n    return 'a'\ndup.skill_info = {}\n",
		"b/dup.py": "def dup():\n    return 'b'\ndup.skill_info = {}\n",
	})
	m, _ := h.list("dup", 0, has("dup"))
	if m["dup"].Filename != "b/dup.py" {
		t.Errorf("clash winner %q, want the later path b/dup.py", m["dup"].Filename)
	}
	text, _ := h.managerError("clash", 0, "a.py", func(s string) bool { return s != "" })
	if !strings.Contains(text, "'dup'") || !strings.Contains(text, "b/dup.py") {
		t.Errorf("clash text %q", text)
	}
	h.run("dup", nil, "d-1")
	if v := value[string](t, h.result("d-1")); v != "b" {
		t.Errorf("ran %q, want b's", v)
	}
}

func TestReimportOnlyWhenChanged(t *testing.T) {
	t.Parallel()
	count := filepath.Join(t.TempDir(), "imports")
	src := "import os\nopen(os.environ['IMPORTS_FILE'], 'a').write('x')\ndef once():\n    return 1\nonce.skill_info = {}\n"
	h := startHost(t, map[string]string{"once.py": src}, func(o *Options) {
		o.Env = append(os.Environ(), "IMPORTS_FILE="+count)
	})
	_, at := h.list("once", 0, has("once"))
	for range 3 {
		_, at = h.list("another list", at+1, anyList)
	}
	if b, _ := os.ReadFile(count); string(b) != "x" {
		t.Errorf("imported %d times without a change, want 1", len(b))
	}
	h.write("once.py", src+"# changed\n")
	h.waitUntil("reimport", func() bool {
		b, _ := os.ReadFile(count)
		return string(b) == "xx"
	})
}

func TestRemovedFileCancelsItsRun(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{
		"stay.py": "def stay():\n    return 1\nstay.skill_info = {}\n",
		"gone.py": "import asyncio\nasync def gone():\n    await asyncio.sleep(60)\ngone.skill_info = {}\n",
	})
	h.list("skills", 0, has("stay", "gone"))
	h.run("gone", nil, "g-1")
	// The daemon disables a file by moving it out of the folder.
	disabled := t.TempDir()
	if err := os.Rename(filepath.Join(h.dir, "gone.py"), filepath.Join(disabled, "gone.py")); err != nil {
		t.Fatal(err)
	}
	if r := h.result("g-1"); r.Result == nil || r.Result.Status != "CANCELLED" {
		t.Errorf("run of a removed skill: %+v", r.Result)
	}
	h.list("gone unlisted", 0, func(m map[string]entry) bool { _, ok := m["gone"]; return !ok && m["stay"].Filename != "" })
}

func TestPrintsDoNotCorruptProtocol(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{"noisy.py": `
import os, sys
print("printed at import")

def noisy(n: int = 3000):
    for i in range(n):
        print('{"action":"publish","topic":"RPC_result","data":"fake %d"}' % i)
    sys.stdout.write("no newline")
    sys.stdout.flush()
    os.write(1, b"raw fd 1\n")
    try:
        input()
    except EOFError:
        pass
    return "quiet"
noisy.skill_info = {}
`})
	h.list("noisy", 0, has("noisy"))
	h.run("noisy", nil, "p-1")
	if v := value[string](t, h.result("p-1")); v != "quiet" {
		t.Errorf("value %q", v)
	}
	h.waitUntil("prints in the log", func() bool {
		return h.logged("printed at import") && h.logged("fake 2999") && h.logged("raw fd 1")
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bad) > 0 {
		t.Errorf("%d stdout lines are not frames, first %q", len(h.bad), h.bad[0])
	}
	for _, g := range h.frames {
		if g.f.Topic == "RPC_result" && bytes.Contains(g.inner.Data, []byte("fake")) {
			t.Fatalf("a print reached the protocol: %s", g.raw)
		}
	}
}

func TestDoubleEncodedData(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{"plain.py": plainSkills, "long.py": `
import asyncio
async def long():
    await asyncio.sleep(60)
long.skill_info = {}
`}, func(o *Options) { o.ListInterval = time.Minute })
	_, at := h.list("first list", 0, has("ping", "long"))
	// pymirokai publishers put a JSON string in data.
	data, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "ping", "params": map[string]any{"count": 3}, "id": "s-1"})
	h.send(map[string]any{"name": "RPC_command", "type": "dict", "command": "run", "data": string(data)})
	if v := value[map[string]any](t, h.result("s-1")); v["pong"] != 3.0 {
		t.Errorf("value %v", v)
	}
	h.run("long", nil, "s-2")
	h.send(map[string]any{"name": "RPC_command", "type": "str", "command": "cancel", "skill_name": "long",
		"request_id": "rq-s", "data": `{"skill_name": "long"}`})
	h.cancelReply("rq-s")
	if r := h.result("s-2"); r.Result == nil || r.Result.Status != "CANCELLED" {
		t.Errorf("cancel: %+v", r.Result)
	}
	// skills_list_command asks for a list now (the interval is a minute).
	h.send(map[string]any{"name": "skills_list_command", "type": "str", "data": `""`})
	h.list("list on demand", at+1, has("ping"))
}

func TestSurvivesGarbage(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{"plain.py": plainSkills})
	h.list("skills", 0, has("ping"))
	for _, line := range []string{
		"not json",
		"[1, 2, 3]",
		`"a string"`,
		"{}",
		`{"name": "RPC_command"}`,
		`{"name": "RPC_command", "command": "run"}`,
		`{"name": "RPC_command", "command": "run", "data": "not json either"}`,
		`{"name": "RPC_command", "command": "explode", "data": {}}`,
		`{"name": "RPC_command", "command": "cancel"}`,
		`{"name": "RPC_command", "command": "run", "data": {"method": ["x"], "id": "bad-method"}}`,
		`{"name": "other_topic", "type": "str", "data": "x"}`,
		"\xff\xfe invalid utf-8",
		`{"name": "RPC_command", "command": "run", "data": {"method": "ping", "params": {"count": {"$deep": [1, [2, [3]]]}}, "id": "g-1"}}`,
	} {
		if err := h.p.Send([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if r := h.result("bad-method"); r.Error == nil {
		t.Errorf("non-string method: %+v", r)
	}
	if r := h.result("g-1"); r.Result == nil || r.Result.Status != "COMPLETED" {
		t.Errorf("after garbage: %+v", r)
	}
	h.run("ping", nil, "g-2")
	if r := h.result("g-2"); r.Result == nil || r.Result.Status != "COMPLETED" {
		t.Errorf("after garbage: %+v", r)
	}
}

func TestRobotProxy(t *testing.T) {
	t.Parallel()
	type req struct{ method, path, body string }
	var mu sync.Mutex
	var reqs []req
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, req{r.Method, r.URL.RequestURI(), string(b)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "POST /api/move/goto", "POST /api/move/play/wake_up":
			io.WriteString(w, `{"uuid":"u-1"}`)
		case "GET /api/move/running":
			io.WriteString(w, `[]`)
		case "GET /api/state/full":
			io.WriteString(w, `{"control_mode":"enabled","body_yaw":0.25}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"detail":"Not Found"}`)
		}
	}))
	defer srv.Close()

	h := startHost(t, map[string]string{"moves.py": `
async def dance(robot, yaw: float = 0.1):
    moved = await robot.goto(head={"z": 0.01, "yaw": yaw}, antennas=[0.5, -0.5], body_yaw=0.2, duration=0.8)
    await robot.set_antennas(left=0.3, right=-0.4)
    await robot.wake_up()
    state = await robot.state()
    try:
        await robot.request("GET", "/api/nope")
    except Exception as exc:
        return {"moved": moved, "yaw": state["body_yaw"], "status": exc.status, "body": exc.body}
    return "no error"
dance.skill_info = {}
`}, func(o *Options) { o.APIURL = srv.URL })
	h.list("dance", 0, has("dance"))
	h.run("dance", map[string]any{"yaw": 0.3}, "rb-1")
	r := h.result("rb-1")
	v := value[map[string]any](t, r)
	if v["yaw"] != 0.25 || v["status"] != 404.0 || !strings.Contains(v["body"].(string), "Not Found") {
		t.Errorf("value %v", v)
	}
	if m, _ := v["moved"].(map[string]any); m["uuid"] != "u-1" {
		t.Errorf("goto returned %v", v["moved"])
	}

	mu.Lock()
	defer mu.Unlock()
	var moves []req
	for _, q := range reqs {
		if q.path != "/api/move/running" {
			moves = append(moves, q)
		}
	}
	want := []req{
		{"POST", "/api/move/goto", `{"duration":0.8,"head_pose":{"x":0.0,"y":0.0,"z":0.01,"roll":0.0,"pitch":0.0,"yaw":0.3},"antennas":[0.5,-0.5],"body_yaw":0.2}`},
		// [right, left]: the daemon's antenna order.
		{"POST", "/api/move/goto", `{"duration":0.5,"antennas":[-0.4,0.3]}`},
		{"POST", "/api/move/play/wake_up", ``},
		{"GET", "/api/state/full", ``},
		{"GET", "/api/nope", ``},
	}
	if len(moves) != len(want) {
		t.Fatalf("requests %+v\nwant %+v", moves, want)
	}
	for i := range want {
		if moves[i].method != want[i].method || moves[i].path != want[i].path || !sameJSON(moves[i].body, want[i].body) {
			t.Errorf("request %d = %+v, want %+v", i, moves[i], want[i])
		}
	}
}

// Cancelling a skill that waits for a move stops the move.
func TestCancelStopsRobotMove(t *testing.T) {
	t.Parallel()
	polled := make(chan struct{}, 1)
	stopped := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "POST /api/move/goto":
			io.WriteString(w, `{"uuid":"u-9"}`)
		case "GET /api/move/running":
			select {
			case polled <- struct{}{}:
			default:
			}
			io.WriteString(w, `[{"uuid":"u-9"}]`)
		case "POST /api/move/stop":
			stopped <- string(b)
			io.WriteString(w, `{"message":"Stopped move with UUID: u-9"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	h := startHost(t, map[string]string{"slow.py": `
async def slow_move(robot):
    await robot.goto(body_yaw=1.0, duration=60)
slow_move.skill_info = {}
`}, func(o *Options) { o.APIURL = srv.URL })
	h.list("slow_move", 0, has("slow_move"))
	h.run("slow_move", nil, "mv-1")
	select {
	case <-polled:
	case <-time.After(waitLimit):
		t.Fatal("the skill never waited for its move")
	}
	h.cancel("slow_move", "rq-mv")
	if r := h.result("mv-1"); r.Result == nil || r.Result.Status != "CANCELLED" {
		t.Errorf("cancelled move: %+v", r.Result)
	}
	select {
	case body := <-stopped:
		if !sameJSON(body, `{"uuid":"u-9"}`) {
			t.Errorf("stop body %s", body)
		}
	case <-time.After(waitLimit):
		t.Fatal("the move was not stopped")
	}
}

func sameJSON(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

const longSkill = `
import asyncio
async def long():
    await asyncio.sleep(60)
long.skill_info = {}
`

func TestStopCancelsAndExitsCleanly(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{"long.py": longSkill})
	h.list("long", 0, has("long"))
	h.run("long", nil, "st-1")
	h.waitUntil("run started", func() bool { return h.logged("run long") })
	h.p.Stop(10 * time.Second)
	if err := h.waitDone(); err != nil {
		t.Errorf("exit after Stop: %v", err)
	}
	if r := h.result("st-1"); r.Result == nil || r.Result.Status != "CANCELLED" {
		t.Errorf("run at stop: %+v", r.Result)
	}
	if err := h.p.Send([]byte(`{}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Stop: %v, want ErrClosed", err)
	}
}

func TestStdinEOFExitsCleanly(t *testing.T) {
	t.Parallel()
	h := startHost(t, map[string]string{"long.py": longSkill})
	h.list("long", 0, has("long"))
	h.run("long", nil, "eof-1")
	h.waitUntil("run started", func() bool { return h.logged("run long") })
	h.p.CloseInput()
	if err := h.waitDone(); err != nil {
		t.Errorf("exit after stdin EOF: %v", err)
	}
	if r := h.result("eof-1"); r.Result == nil || r.Result.Status != "CANCELLED" {
		t.Errorf("run at EOF: %+v", r.Result)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.logged("stdin closed") {
		t.Errorf("no exit reason logged")
	}
}

func TestScript(t *testing.T) {
	t.Parallel()
	s := Script()
	if !bytes.Contains(s, []byte("def main(")) {
		t.Fatal("embedded script looks wrong")
	}
	s[0] = 'X'
	if Script()[0] == 'X' {
		t.Error("Script returns the embedded bytes, not a copy")
	}
	if _, err := Start(Options{WorkDir: t.TempDir()}); err == nil {
		t.Error("Start without a skills folder succeeded")
	}
	if _, err := Start(Options{SkillsDir: t.TempDir(), WorkDir: t.TempDir(), Python: "/nonexistent/python3"}); err == nil {
		t.Error("Start with a missing interpreter succeeded")
	}
}

// fakeHost starts a shell script in place of python3 (it ignores the
// arguments) to drive the Go side alone.
func fakeHost(t *testing.T, body string, log func(string)) *Process {
	t.Helper()
	dir := t.TempDir()
	sh := filepath.Join(dir, "fakepy")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = func(string) {}
	}
	p, err := Start(Options{Python: sh, SkillsDir: dir, WorkDir: dir, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(time.Second) })
	return p
}

func TestLongLinesDropped(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs /bin/sh")
	}
	t.Parallel()
	var mu sync.Mutex
	var logs []string
	p := fakeHost(t, `
head -c 3000000 /dev/zero | tr '\0' a; echo
echo '{"first":1}'
head -c 1048577 /dev/zero | tr '\0' b; echo
head -c 1048576 /dev/zero | tr '\0' c; echo
printf '{"last":1}'
echo to-stderr >&2`, func(l string) {
		mu.Lock()
		logs = append(logs, l)
		mu.Unlock()
	})
	var frames [][]byte
	for f := range p.Frames() {
		frames = append(frames, f)
	}
	<-p.Done()
	if len(frames) != 3 || string(frames[0]) != `{"first":1}` || len(frames[1]) != MaxFrame || string(frames[2]) != `{"last":1}` {
		var lens []int
		for _, f := range frames {
			lens = append(lens, len(f))
		}
		t.Fatalf("frames of lengths %v", lens)
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(logs, "\n")
	if strings.Count(joined, "dropped a stdout line") != 2 || !strings.Contains(joined, "to-stderr") {
		t.Errorf("logs:\n%s", joined)
	}
}

func TestSendQueueFullAndKill(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs /bin/sh")
	}
	t.Parallel()
	// Never reads stdin and ignores SIGTERM (so does sleep: an ignored
	// signal stays ignored across exec).
	p := fakeHost(t, "trap '' TERM\necho '{\"ready\":1}'\nexec sleep 60", nil)
	if f := <-p.Frames(); string(f) != `{"ready":1}` {
		t.Fatalf("first frame %q", f)
	}
	frame := []byte(`{"name":"x","type":"str","data":"` + strings.Repeat("y", 1000) + `"}`)
	var err error
	for range SendQueue * 10 {
		if err = p.Send(frame); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Send to a stuck host: %v, want ErrQueueFull", err)
	}
	if err := p.Send([]byte("a\nb")); !errors.Is(err, ErrBadFrame) {
		t.Errorf("frame with a newline: %v", err)
	}
	if p.Err() != ErrRunning {
		t.Errorf("Err while running: %v", p.Err())
	}
	p.Stop(200 * time.Millisecond)
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned before Done")
	}
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Err after SIGKILL: %v", err)
	}
}

// Not parallel: it counts the goroutines of the whole test binary, and
// parallel tests only start once the serial ones are done.
func TestNoGoroutineLeak(t *testing.T) {
	needPython(t)
	before := runtime.NumGoroutine()
	for range 2 {
		h := startHost(t, map[string]string{"long.py": longSkill})
		h.list("long", 0, has("long"))
		h.run("long", nil, "leak")
		h.waitUntil("run started", func() bool { return h.logged("run long") })
		h.p.Stop(10 * time.Second)
		h.waitDone()
	}
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
