package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reachyd/messages"
)

const greetSkills = `import asyncio
from pymirokai.decorators.skill import skill, ParameterDescription
from pymirokai.enums import AccessLevel

@skill(access_level=AccessLevel.USER, verbal_descriptions={"en": ["greet someone"]},
       parameters=[ParameterDescription(name="who", description="whom")])
async def greet(who: str, loud: bool = False):
    text = f"hello {who}"
    return {"llm_output": text.upper() if loud else text}

@skill(access_level=AccessLevel.USER)
def add(a: int, b: int = 2):
    return a + b

@skill(access_level=AccessLevel.USER)
async def slow(seconds: float = 30):
    await asyncio.sleep(seconds)
    return "slept"

@skill(access_level=AccessLevel.USER)
async def boom():
    raise ValueError("it broke")

@skill(access_level=AccessLevel.ADMIN)
async def secret():
    return 42

@skill(access_level=AccessLevel.USER)
async def wake(robot):
    await robot.wake_up()
    return "awake"
`

// upload sends a skill file as pymirokai's upload_skill_file does.
func (c *v1) upload(name, content string) v1Resp {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	part, _ := w.CreateFormFile("skill", name)
	_, _ = part.Write([]byte(content))
	_ = w.Close()
	return c.do("POST", "/api/v1/skill/upload/", buf.Bytes(), map[string]string{"Content-Type": w.FormDataContentType()})
}

func (c *v1) call(name string, kw map[string]any) map[string]any {
	c.t.Helper()
	v := map[string]any{"name": name}
	for k, x := range kw {
		v[k] = x
	}
	return c.command("dict", "skill", v)["result"].(map[string]any)
}

func (c *v1) wait(id any) map[string]any {
	c.t.Helper()
	return c.command("str", "wait_for_skill", id)["result"].(map[string]any)
}

// waitSkills waits until get_skills lists (or no longer lists) names.
func (c *v1) waitSkills(present bool, names ...string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list := c.get("get_skills")["result"].(map[string]any)
		ok := true
		for _, n := range names {
			if _, has := list[n]; has != present {
				ok = false
			}
		}
		if ok {
			return list
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("skills %v present=%v never: %v", names, present, list)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSkillsEndToEnd runs uploaded skills in the real skill host.
func TestSkillsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Python skill host")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not available")
	}
	dataDir := t.TempDir()
	adminKey := createKey(t, dataDir, "dev", messages.LevelAdmin)
	userKey := createKey(t, dataDir, "guest", messages.LevelUser)
	beats := filepath.Join(t.TempDir(), "beats")
	d := startDaemon(t, "--data-dir", dataDir, "--skill-host")
	d.waitRunning()
	c := newV1(t, d.base, nil)
	c.login(adminKey)

	if r := c.upload("greet.py", greetSkills); r.code != 200 || string(r.body) != `{"status":"uploaded","skill_name":"greet.py"}` {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}
	for _, bad := range []struct{ name, content string }{{"../evil.py", "x=1"}, {"notes.txt", "x=1"}} {
		if r := c.upload(bad.name, bad.content); r.code != 422 {
			t.Errorf("upload %s: %d %s", bad.name, r.code, r.body)
		}
	}
	list := c.waitSkills(true, "greet", "add", "slow", "boom", "secret", "wake")
	greet := list["greet"].(map[string]any)
	if greet["filename"] != "greet.py" || len(greet["parameters"].([]any)) != 2 {
		t.Fatalf("greet entry %v", greet)
	}
	if r := c.do("GET", "/api/v1/skill/list/", nil, nil); r.code != 200 || !strings.Contains(string(r.body), `{"name":"greet.py","enabled":true,"size":`) {
		t.Fatalf("file list: %d %s", r.code, r.body)
	}

	t.Run("sync and async skills complete", func(t *testing.T) {
		r := c.call("greet", map[string]any{"who": "Ada", "loud": true})
		rep := c.wait(r["msg"])
		if rep["status"] != "COMPLETED" || rep["value"].(map[string]any)["llm_output"] != "HELLO ADA" {
			t.Fatalf("greet: %v", rep)
		}
		r = c.call("add", map[string]any{"a": 40})
		if rep := c.wait(r["msg"]); rep["status"] != "COMPLETED" || rep["value"] != float64(42) {
			t.Fatalf("add: %v", rep)
		}
	})

	t.Run("a raising skill, an unknown one, a bad parameter", func(t *testing.T) {
		r := c.call("boom", nil)
		rep := c.wait(r["msg"])
		if rep["status"] != "ERROR" || rep["value"] != nil || !strings.Contains(rep["exception"].(string), "ValueError: it broke") {
			t.Fatalf("boom: %v", rep)
		}
		if r := c.call("nope", nil); r["called"] != false || r["msg"] != "Skill 'nope' not found." {
			t.Fatalf("unknown: %v", r)
		}
		if r := c.call("greet", map[string]any{"whom": "x"}); r["called"] != false {
			t.Fatalf("bad parameter: %v", r)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		r := c.call("slow", nil)
		if s := c.command("str", "wait_for_skill_started", r["msg"])["result"].(map[string]any); s["started"] != true {
			t.Fatalf("started: %v", s)
		}
		if cr := c.command("str", "cancel_skill", r["msg"])["result"].(map[string]any); cr["cancelled"] != true {
			t.Fatalf("cancel: %v", cr)
		}
		if rep := c.wait(r["msg"]); rep["status"] != "CANCELLED" || rep["value"] != nil {
			t.Fatalf("cancelled: %v", rep)
		}
	})

	t.Run("access levels", func(t *testing.T) {
		u := newV1(t, d.base, nil)
		u.login(userKey)
		if r := u.call("secret", nil); r["called"] != false || !strings.Contains(r["msg"].(string), "needs the ADMIN access level") {
			t.Fatalf("USER calls an ADMIN skill: %v", r)
		}
		if rep := c.wait(c.call("secret", nil)["msg"]); rep["value"] != float64(42) {
			t.Fatalf("ADMIN calls it: %v", rep)
		}
	})

	t.Run("a skill drives the robot", func(t *testing.T) {
		rep := c.wait(c.call("wake", nil)["msg"])
		if rep["status"] != "COMPLETED" || rep["value"] != "awake" {
			t.Fatalf("wake: %v", rep)
		}
		var st map[string]any
		d.getJSON("/api/motors/status", &st)
		if st["mode"] != "enabled" {
			t.Fatalf("motors after the skill's wake_up: %v", st["mode"])
		}
	})

	t.Run("a bad file is reported, the good ones stay", func(t *testing.T) {
		c.upload("broken.py", "def oops(:\n")
		deadline := time.Now().Add(30 * time.Second)
		for {
			errs := c.get("get_skill_manager_errors")["result"].(map[string]any)
			if e, ok := errs["broken.py"].(string); ok && strings.Contains(e, "SyntaxError") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no error reported: %v", errs)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.waitSkills(true, "greet")
		c.upload("broken.py", "from pymirokai.decorators.skill import skill\n\n@skill()\ndef fixed():\n    return 1\n")
		c.waitSkills(true, "fixed")
		if errs := c.get("get_skill_manager_errors")["result"].(map[string]any); len(errs) != 0 {
			t.Fatalf("errors after the fix: %v", errs)
		}
	})

	t.Run("disable, enable, remove", func(t *testing.T) {
		r := c.call("slow", nil)
		body, _ := json.Marshal(map[string]any{"command": "greet.py", "value": false})
		if r := c.do("PATCH", "/api/v1/skill/enable/", body, nil); r.code != 200 || !strings.Contains(string(r.body), `"status":"disabled"`) {
			t.Fatalf("disable: %d %s", r.code, r.body)
		}
		// The running mission of a disabled file's skill is cancelled.
		if rep := c.wait(r["msg"]); rep["status"] != "CANCELLED" {
			t.Fatalf("mission of a disabled skill: %v", rep)
		}
		c.waitSkills(false, "greet", "slow")
		body, _ = json.Marshal(map[string]any{"command": "greet.py", "value": true})
		if r := c.do("PATCH", "/api/v1/skill/enable/", body, nil); r.code != 200 {
			t.Fatalf("enable: %d %s", r.code, r.body)
		}
		c.waitSkills(true, "greet")
		r = c.call("slow", nil)
		if r := c.do("DELETE", "/api/v1/skill/remove/?skill_name=greet.py", nil, nil); r.code != 200 || !strings.Contains(string(r.body), `"status":"removed"`) {
			t.Fatalf("remove: %d %s", r.code, r.body)
		}
		if rep := c.wait(r["msg"]); rep["status"] != "CANCELLED" {
			t.Fatalf("mission of a removed skill: %v", rep)
		}
		c.waitSkills(false, "greet")
		if r := c.do("DELETE", "/api/v1/skill/remove/?skill_name=greet.py", nil, nil); r.code != 404 {
			t.Fatalf("remove twice: %d", r.code)
		}
	})

	t.Run("an auto-start skill that crashes comes back", func(t *testing.T) {
		c.upload("heart.py", fmt.Sprintf(`import asyncio
from pymirokai.decorators.skill import skill

@skill(auto_start=True)
async def heartbeat():
    with open(%q, "a") as f:
        f.write("beat\n")
    await asyncio.sleep(0.2)
    raise RuntimeError("heart attack")
`, beats))
		runs := func() int {
			b, _ := os.ReadFile(beats)
			return strings.Count(string(b), "beat")
		}
		deadline := time.Now().Add(30 * time.Second)
		for runs() < 3 {
			if time.Now().After(deadline) {
				t.Fatalf("auto-start runs: %d", runs())
			}
			time.Sleep(100 * time.Millisecond)
		}
		// It is listed while it runs, and a cancel stops it for good.
		for {
			names := c.get("list_running_auto_start_skills")["result"].([]any)
			if len(names) == 1 && names[0] == "heartbeat" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("running auto-start skills: %v", names)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if r := c.command("str", "cancel_auto_start_skill", "heartbeat")["result"].(map[string]any); r["cancelled"] != true {
			t.Fatalf("cancel auto-start: %v", r)
		}
		n := runs()
		time.Sleep(3 * time.Second) // longer than the backoff at this point
		if runs() > n+0 {
			t.Fatalf("restarted after a cancel: %d runs, was %d", runs(), n)
		}
	})
}

// TestSkillHostHardening: a cancelled sync skill cannot start again while
// its thread runs, and a file that blocks at import does not freeze the
// other skills.
func TestSkillHostHardening(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Python skill host")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not available")
	}
	dataDir := t.TempDir()
	key := createKey(t, dataDir, "dev", messages.LevelAdmin)
	d := startDaemon(t, "--data-dir", dataDir, "--skill-host", "--skill-import-timeout", "1")
	d.waitRunning()
	c := newV1(t, d.base, nil)
	c.login(key)
	tmp := t.TempDir()
	started, release := filepath.Join(tmp, "started"), filepath.Join(tmp, "release")
	c.upload("hold.py", fmt.Sprintf(`import os, time

def hold(release: str):
    open(%q, "w").close()
    while not os.path.exists(release):
        time.sleep(0.02)
    return "released"
hold.skill_info = {}

def good():
    return "good"
good.skill_info = {}
`, started))
	c.waitSkills(true, "hold", "good")

	t.Run("a cancelled sync skill is refused until its thread ends", func(t *testing.T) {
		r := c.call("hold", map[string]any{"release": release})
		eventually(t, "hold started", func() bool { _, err := os.Stat(started); return err == nil })
		if cr := c.command("str", "cancel_skill", r["msg"])["result"].(map[string]any); cr["cancelled"] != true {
			t.Fatalf("cancel: %v", cr)
		}
		if rep := c.wait(r["msg"]); rep["status"] != "CANCELLED" {
			t.Fatalf("cancelled: %v", rep)
		}
		again := c.call("hold", map[string]any{"release": release})
		if again["called"] != false || !strings.Contains(again["msg"].(string), "Skill 'hold' is still finishing a cancelled run") {
			t.Fatalf("second start while the thread runs: %v", again)
		}
		if err := os.WriteFile(release, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var id any
		eventually(t, "hold callable again", func() bool {
			r := c.call("hold", map[string]any{"release": release})
			id = r["msg"]
			return r["called"] == true
		})
		if rep := c.wait(id); rep["status"] != "COMPLETED" || rep["value"] != "released" {
			t.Fatalf("run after the thread ended: %v", rep)
		}
	})

	t.Run("a file that blocks at import is reported, the others run", func(t *testing.T) {
		c.upload("block.py", "import time\ntime.sleep(3600)\n")
		eventually(t, "block.py reported", func() bool {
			e, _ := c.get("get_skill_manager_errors")["result"].(map[string]any)["block.py"].(string)
			return strings.Contains(e, "block.py: ImportTimeout: the import did not finish within 1 s")
		})
		// The host restarts without it: good is listed and runs (a call
		// may reach the host that is going away first).
		eventually(t, "good runs", func() bool {
			r := c.call("good", nil)
			return r["called"] == true && c.wait(r["msg"])["value"] == "good"
		})
		eventually(t, "block.py still reported", func() bool {
			e, _ := c.get("get_skill_manager_errors")["result"].(map[string]any)["block.py"].(string)
			return strings.Contains(e, "ImportTimeout")
		})
	})
}

// TestOneManagerPerMission: with reachyd's skill host and an external
// SkillManager listing the same skill (both watch the folder), a mission
// runs on one of them only; a skill only the external one lists runs there.
func TestOneManagerPerMission(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Python skill host")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not available")
	}
	d, url, key := topicsDaemon(t, "--skill-host")
	c := newV1(t, d.base, nil)
	c.login(key)
	runs := filepath.Join(t.TempDir(), "runs")
	c.upload("tally.py", fmt.Sprintf(`def tally():
    with open(%q, "a") as f:
        f.write("run\n")
    return "host"
tally.skill_info = {}
`, runs))
	c.waitSkills(true, "tally")

	// The external manager lists the same file's skill, and one of its own.
	mgr, _, err := dialTopics(t, url, c.token)
	if err != nil {
		t.Fatal(err)
	}
	mgr.send(map[string]any{"action": "subscribe", "topic": "RPC_command"})
	entry := func(file string) map[string]any {
		return map[string]any{"skill_info": map[string]any{}, "parameters": []any{}, "filename": file}
	}
	list, _ := json.Marshal(map[string]any{"name": "skills_list_result", "type": "dict",
		"data": map[string]any{"tally": entry("tally.py"), "ext_only": entry("ext.py")}})
	mgr.send(map[string]any{"action": "publish", "topic": "skills_list_result", "data": string(list)})
	c.waitSkills(true, "ext_only")

	for range 3 {
		if rep := c.wait(c.call("tally", nil)["msg"]); rep["status"] != "COMPLETED" || rep["value"] != "host" {
			t.Fatalf("tally: %v", rep)
		}
	}
	if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") != 3 {
		t.Fatalf("3 missions ran %d times on the host", strings.Count(string(b), "run"))
	}

	// The external manager gets the run of its own skill, and none of
	// tally's before it (the broker keeps a client's frames in order).
	r := c.call("ext_only", nil)
	var rpc map[string]any
	for rpc == nil {
		cmd := mgr.next("RPC_command")
		data, _ := cmd["data"].(map[string]any)
		switch {
		case data["method"] == "tally":
			t.Fatalf("the external manager got a run of tally: %v", cmd)
		case data["id"] == r["msg"]:
			rpc = data
		}
	}
	res, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "result": map[string]any{"value": "ext", "status": "COMPLETED"}, "id": rpc["id"]})
	out, _ := json.Marshal(map[string]any{"name": "RPC_result", "type": "dict", "data": string(res)})
	mgr.send(map[string]any{"action": "publish", "topic": "RPC_result", "data": string(out)})
	if rep := c.wait(r["msg"]); rep["status"] != "COMPLETED" || rep["value"] != "ext" {
		t.Fatalf("ext_only on the external manager: %v", rep)
	}
}
