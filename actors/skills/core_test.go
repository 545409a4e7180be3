package skills

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"reachyd/messages"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func newTestCore() *Core {
	n := 0
	return NewCore([]Skill{{Name: "wake_up", Level: messages.LevelUser, Params: []Param{}}}, func() string {
		n++
		return fmt.Sprintf("m-%04x", n)
	})
}

func reqID() string { return "r-1" }

var user = Principal{ClientID: "c-user", Level: messages.LevelUser}
var admin = Principal{ClientID: "c-admin", Level: messages.LevelAdmin}

// A skills_list_result as the SkillManager publishes it.
const listFrame = `{
 "greet": {"skill_info": {"access_level": "AccessLevel.USER", "verbal_descriptions": {"en": ["say hi"]}},
           "parameters": [{"name": "who", "default": "null", "annotation": "<class 'str'>", "questions": []},
                          {"name": "loud", "default": false, "annotation": "<class 'bool'>", "questions": []}],
           "filename": "greet.py"},
 "reboot_world": {"skill_info": {"access_level": 20}, "parameters": [], "filename": "admin.py"},
 "heartbeat": {"skill_info": {"auto_start": true}, "parameters": [], "filename": "beat.py"}
}`

func listed(t *testing.T, c *Core) {
	t.Helper()
	list, err := ParseSkillsList(json.RawMessage(listFrame))
	if err != nil {
		t.Fatal(err)
	}
	c.SkillsListed("host", list, reqID, t0)
}

func TestParseSkillsList(t *testing.T) {
	quoted, _ := json.Marshal(listFrame)
	for _, data := range []string{listFrame, string(quoted)} {
		list, err := ParseSkillsList(json.RawMessage(data))
		if err != nil {
			t.Fatal(err)
		}
		g := list["greet"]
		if g.Filename != "greet.py" || g.Level != messages.LevelUser || len(g.Params) != 2 || !isRequired(g.Params[0]) || isRequired(g.Params[1]) {
			t.Fatalf("greet: %+v", g)
		}
		if list["reboot_world"].Level != messages.LevelAdmin || !list["heartbeat"].AutoStart || list["greet"].AutoStart {
			t.Fatalf("levels or auto_start: %+v", list)
		}
	}
	if _, err := ParseSkillsList(json.RawMessage(`[1]`)); err == nil {
		t.Fatal("a list is not a skills list")
	}
}

func TestCallChecksBeforeDispatch(t *testing.T) {
	c := newTestCore()
	listed(t, c)
	cases := []struct {
		p      Principal
		name   string
		params string
		msg    string
	}{
		{user, "nope", `{}`, "Skill 'nope' not found."},
		{user, "reboot_world", `{}`, "Access denied: skill 'reboot_world' needs the ADMIN access level"},
		{user, "greet", `{}`, "Skill 'greet' needs the parameter 'who'."},
		{user, "greet", `{"who":"x","volume":3}`, "Skill 'greet' has no parameter 'volume'."},
	}
	for _, k := range cases {
		var params map[string]json.RawMessage
		_ = json.Unmarshal([]byte(k.params), &params)
		r, fx := c.Call(k.p, k.name, params, t0)
		if r.Called || r.Msg != k.msg || fx != nil {
			t.Errorf("%s: %+v %v", k.name, r, fx)
		}
	}
	r, fx := c.Call(admin, "reboot_world", nil, t0)
	if !r.Called || len(fx) != 1 {
		t.Fatalf("admin call: %+v %v", r, fx)
	}
	if d, ok := fx[0].(Dispatch); !ok || d.Skill != "reboot_world" || d.MissionID != r.Msg {
		t.Fatalf("effect %#v", fx[0])
	}
}

func TestMissionLifecycleUserSkill(t *testing.T) {
	c := newTestCore()
	listed(t, c)
	params := map[string]json.RawMessage{"who": json.RawMessage(`"Ada"`)}
	r, _ := c.Call(user, "greet", params, t0)
	id := r.Msg
	if m, _ := c.Mission(id); !m.Started || m.Done || m.Owner != "c-user" {
		t.Fatalf("mission %+v", m)
	}
	// One instance per skill at a time, as the SkillManager runs them.
	if r2, _ := c.Call(user, "greet", params, t0); r2.Called {
		t.Fatal("second concurrent call accepted")
	}
	frame := []byte(`{"name":"RPC_result","type":"dict","data":"{\"jsonrpc\": \"2.0\", \"result\": {\"value\": {\"llm_output\": \"hi Ada\"}, \"status\": \"COMPLETED\"}, \"id\": \"` + id + `\"}"}`)
	res, ok := ParseRPCResult(frame)
	if !ok || res.ID != id || res.Status != StatusCompleted {
		t.Fatalf("parse %+v %v", res, ok)
	}
	fx := c.Finish(res.ID, res.Status, res.Value, res.Exception, t0.Add(time.Second))
	if !reflect.DeepEqual(fx, []Effect{Ended{MissionID: id}}) {
		t.Fatalf("finish effects %v", fx)
	}
	m, _ := c.Mission(id)
	if !m.Done || string(m.Value) != `{"llm_output": "hi Ada"}` {
		t.Fatalf("done mission %+v %s", m, m.Value)
	}
	// A late duplicate result changes nothing.
	if fx := c.Finish(id, StatusError, nil, "late", t0); fx != nil {
		t.Fatal("second finish")
	}
	if r, _ := c.Cancel(id, "r", t0); r.Cancelled {
		t.Fatal("cancelled a finished mission")
	}
	if r, _ := c.Cancel("m-nope", "r", t0); r.Cancelled || r.Msg != MsgMissionNotFound {
		t.Fatalf("cancel unknown: %+v", r)
	}
}

func TestCancelUserAndBuiltinSkills(t *testing.T) {
	c := newTestCore()
	listed(t, c)
	r, _ := c.Call(user, "greet", map[string]json.RawMessage{"who": json.RawMessage(`"x"`)}, t0)
	res, fx := c.Cancel(r.Msg, "r-9", t0)
	if !res.Cancelled || !reflect.DeepEqual(fx, []Effect{SendCancel{Skill: "greet", RequestID: "r-9", Manager: "host"}}) {
		t.Fatalf("cancel user skill: %+v %v", res, fx)
	}
	if _, fx := c.Cancel(r.Msg, "r-10", t0); fx != nil {
		t.Fatal("second cancel sent again")
	}
	// A built-in cancelled before it started stops once it starts.
	b, fx := c.Call(user, "wake_up", nil, t0)
	if _, ok := fx[0].(StartBuiltin); !ok {
		t.Fatalf("builtin effect %v", fx)
	}
	if _, fx := c.Cancel(b.Msg, "r", t0); fx != nil {
		t.Fatalf("cancel before start: %v", fx)
	}
	if fx := c.BuiltinStarted(b.Msg, nil, t0); !reflect.DeepEqual(fx, []Effect{StopBuiltin{MissionID: b.Msg}}) {
		t.Fatalf("started after cancel: %v", fx)
	}
	// A built-in that cannot start ends in ERROR.
	b2, _ := c.Call(user, "wake_up", nil, t0)
	c.BuiltinStarted(b2.Msg, fmt.Errorf("Backend not running"), t0)
	if m, _ := c.Mission(b2.Msg); !m.Done || m.Status != StatusError || m.Exception != "Backend not running" {
		t.Fatalf("failed start: %+v", m)
	}
}

func TestCancelClientMissions(t *testing.T) {
	c := newTestCore()
	listed(t, c)
	a, _ := c.Call(user, "greet", map[string]json.RawMessage{"who": json.RawMessage(`"x"`)}, t0)
	b, _ := c.Call(admin, "reboot_world", nil, t0)
	ids, fx := c.CancelClient("c-user", reqID, t0)
	if !reflect.DeepEqual(ids, []string{a.Msg}) || len(fx) != 1 {
		t.Fatalf("cancel client: %v %v", ids, fx)
	}
	if m, _ := c.Mission(b.Msg); m.CancelRequested {
		t.Fatal("another client's mission cancelled")
	}
}

func TestRemovedSkillCancelsItsMissions(t *testing.T) {
	c := newTestCore()
	listed(t, c)
	r, _ := c.Call(user, "greet", map[string]json.RawMessage{"who": json.RawMessage(`"x"`)}, t0)
	list, _ := ParseSkillsList(json.RawMessage(listFrame))
	delete(list, "greet")
	fx := c.SkillsListed("host", list, reqID, t0)
	m, _ := c.Mission(r.Msg)
	if !m.Done || m.Status != StatusCancelled {
		t.Fatalf("mission of a removed skill: %+v", m)
	}
	if len(fx) != 2 || fx[0] != (SendCancel{Skill: "greet", RequestID: "r-1", Manager: "host"}) {
		t.Fatalf("effects %v", fx)
	}
	if _, ok := c.Lookup("greet"); ok {
		t.Fatal("removed skill still listed")
	}
}

func TestManagerGoneEndsItsMissions(t *testing.T) {
	c := newTestCore()
	listed(t, c)
	r, _ := c.Call(user, "greet", map[string]json.RawMessage{"who": json.RawMessage(`"x"`)}, t0)
	c.ManagerGone("host", "the skill host stopped", t0)
	if m, _ := c.Mission(r.Msg); !m.Done || m.Status != StatusError || m.Exception != "the skill host stopped" {
		t.Fatalf("mission after the host died: %+v", m)
	}
	if len(c.Skills()) != 1 {
		t.Fatalf("skills left: %v", c.Skills())
	}
}

func greetList(t *testing.T) map[string]Skill {
	t.Helper()
	list, err := ParseSkillsList(json.RawMessage(listFrame))
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestMissionGoesToOneManager: with several managers listing a skill, a
// mission is sent to one (the preferred, else the one that listed last)
// and only that one's result ends it.
func TestMissionGoesToOneManager(t *testing.T) {
	c := newTestCore()
	c.Prefer("host")
	c.SkillsListed("ext-a", greetList(t), reqID, t0)
	c.SkillsListed("ext-b", greetList(t), reqID, t0.Add(time.Second))
	c.SkillsListed("host", greetList(t), reqID, t0)
	who := map[string]json.RawMessage{"who": json.RawMessage(`"x"`)}

	r, fx := c.Call(user, "greet", who, t0)
	if len(fx) != 1 || fx[0].(Dispatch).Manager != "host" {
		t.Fatalf("routed %v, want to the preferred manager", fx)
	}
	if m, _ := c.Mission(r.Msg); m.Manager != "host" {
		t.Fatalf("mission %+v", m)
	}
	// Another manager's answer (its refusal of a run it did not get, or a
	// run it should not have made) does not end the mission.
	if fx, ok := c.Result("ext-a", RPCResult{ID: r.Msg, Status: StatusError, Exception: "Skill 'greet' not found."}, t0); ok || fx != nil {
		t.Fatalf("result from ext-a accepted: %v", fx)
	}
	if m, _ := c.Mission(r.Msg); m.Done {
		t.Fatalf("ended by another manager: %+v", m)
	}
	if _, ok := c.Result("host", RPCResult{ID: r.Msg, Status: StatusCompleted, Value: json.RawMessage("1")}, t0); !ok {
		t.Fatal("the host's result refused")
	}
	if m, _ := c.Mission(r.Msg); m.Status != StatusCompleted {
		t.Fatalf("mission %+v", m)
	}
	// Nor can any manager end a built-in's mission.
	b, _ := c.Call(user, "wake_up", nil, t0)
	if _, ok := c.Result("", RPCResult{ID: b.Msg, Status: StatusCompleted}, t0); ok {
		t.Fatal("a built-in ended by an RPC_result")
	}

	// The host ends: its mission ends with it, even though others still
	// list the skill; the next goes to the manager that listed last (a
	// disconnected one lists no more).
	r, _ = c.Call(user, "greet", who, t0)
	c.ManagerGone("host", "the skill host stopped", t0)
	if m, _ := c.Mission(r.Msg); m.Status != StatusError {
		t.Fatalf("mission of the gone host %+v", m)
	}
	_, fx = c.Call(user, "greet", who, t0)
	if fx[0].(Dispatch).Manager != "ext-b" {
		t.Fatalf("routed %v, want to ext-b, the last to list", fx)
	}
	// A manager that drops the skill cancels its own mission only.
	id := fx[0].(Dispatch).MissionID
	list := greetList(t)
	delete(list, "greet")
	if fx := c.SkillsListed("ext-a", list, reqID, t0.Add(2*time.Second)); fx != nil {
		t.Fatalf("ext-a dropping greet: %v", fx)
	}
	fx = c.SkillsListed("ext-b", list, reqID, t0.Add(2*time.Second))
	if len(fx) != 2 || fx[0] != (SendCancel{Skill: "greet", RequestID: "r-1", Manager: "ext-b"}) {
		t.Fatalf("ext-b dropping greet: %v", fx)
	}
	if m, _ := c.Mission(id); m.Status != StatusCancelled {
		t.Fatalf("mission %+v", m)
	}
	// A manager that lists it again gets the next mission.
	c.SkillsListed("ext-a", greetList(t), reqID, t0.Add(3*time.Second))
	if _, fx := c.Call(user, "greet", who, t0); len(fx) != 1 || fx[0].(Dispatch).Manager != "ext-a" {
		t.Fatalf("routed %v, want to ext-a", fx)
	}
}

// TestFinishingSkillRefused: a skill whose cancelled run still runs on its
// manager cannot start again until the manager says it ended.
func TestFinishingSkillRefused(t *testing.T) {
	c := newTestCore()
	listed(t, c)
	who := map[string]json.RawMessage{"who": json.RawMessage(`"x"`)}
	c.SetFinishing("host", []string{"greet"})
	r, fx := c.Call(user, "greet", who, t0)
	if r.Called || fx != nil || r.Msg != "Skill 'greet' is still finishing a cancelled run: a sync skill's thread cannot be interrupted, and the skill can start again when it returns." {
		t.Fatalf("call while finishing: %+v %v", r, fx)
	}
	// Finishing elsewhere does not matter.
	c.SetFinishing("host", nil)
	c.SetFinishing("other", []string{"greet"})
	if r, _ := c.Call(user, "greet", who, t0); !r.Called {
		t.Fatalf("call after the thread ended: %+v", r)
	}
}

func TestAutoStartRestartsWithBackoff(t *testing.T) {
	c := newTestCore()
	listed(t, c)
	now := t0
	fx := c.AutoTick(now)
	if len(fx) != 1 {
		t.Fatalf("auto-start effects %v", fx)
	}
	id := fx[0].(Dispatch).MissionID
	if got := c.AutoRunning(); !reflect.DeepEqual(got, []string{"heartbeat"}) {
		t.Fatalf("running %v", got)
	}
	if fx := c.AutoTick(now); fx != nil {
		t.Fatal("started twice")
	}
	// Crashes: restarted after 1 s, then 2 s, then 4 s.
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		now = now.Add(time.Second)
		c.Finish(id, StatusError, nil, "boom", now)
		if fx := c.AutoTick(now.Add(wait - time.Millisecond)); fx != nil {
			t.Fatalf("crash %d: restarted before %v", i, wait)
		}
		now = now.Add(wait)
		fx := c.AutoTick(now)
		if len(fx) != 1 {
			t.Fatalf("crash %d: not restarted after %v", i, wait)
		}
		id = fx[0].(Dispatch).MissionID
	}
	// After a healthy minute a crash restarts after 1 s again.
	now = now.Add(2 * time.Minute)
	c.Finish(id, StatusError, nil, "boom", now)
	if fx := c.AutoTick(now.Add(time.Second)); len(fx) != 1 {
		t.Fatal("backoff not reset after a healthy run")
	}
	// A user cancel stops it for good.
	r, _ := c.CancelAuto("heartbeat", "r", now)
	if !r.Cancelled {
		t.Fatalf("cancel auto: %+v", r)
	}
	m := c.Running()[0]
	c.Finish(m.ID, StatusCancelled, nil, "", now)
	if fx := c.AutoTick(now.Add(time.Hour)); fx != nil || len(c.AutoRunning()) != 0 {
		t.Fatal("restarted after a user cancel")
	}
	if r, _ := c.CancelAuto("greet", "r", now); r.Cancelled {
		t.Fatal("greet is not auto-start")
	}
}

func TestParseRPCResult(t *testing.T) {
	cases := []struct {
		frame string
		want  RPCResult
		ok    bool
	}{
		{`{"name":"RPC_result","type":"dict","data":{"jsonrpc":"2.0","result":{"value":null,"status":"CANCELLED"},"id":"m-1"}}`,
			RPCResult{ID: "m-1", Status: StatusCancelled, Value: json.RawMessage("null")}, true},
		{`{"name":"RPC_result","type":"dict","data":"{\"jsonrpc\":\"2.0\",\"result\":{\"value\":null,\"status\":\"ERROR\",\"exception\":\"ValueError: no\"},\"id\":\"m-2\"}"}`,
			RPCResult{ID: "m-2", Status: StatusError, Value: json.RawMessage("null"), Exception: "ValueError: no"}, true},
		{`{"name":"RPC_result","type":"dict","data":{"jsonrpc":"2.0","error":{"code":-32603,"message":"Skill 'nope' not found."},"id":"m-3"}}`,
			RPCResult{ID: "m-3", Status: StatusError, Exception: "Skill 'nope' not found."}, true},
		{`{"name":"RPC_result","request_id":"r-1","type":"dict","data":null}`, RPCResult{}, false},
		{`{"name":"RPC_result","type":"dict","data":{"result":{"status":"COMPLETED"},"id":7}}`, RPCResult{}, false},
		{`garbage`, RPCResult{}, false},
	}
	for _, k := range cases {
		got, ok := ParseRPCResult([]byte(k.frame))
		if ok != k.ok || !reflect.DeepEqual(got, k.want) {
			t.Errorf("%s: %+v %v", k.frame, got, ok)
		}
	}
}

func TestFinishedMissionsArePruned(t *testing.T) {
	c := newTestCore()
	r, _ := c.Call(user, "wake_up", nil, t0)
	c.Finish(r.Msg, StatusCompleted, json.RawMessage("null"), "", t0)
	c.Call(user, "wake_up", nil, t0.Add(keepFinished+time.Second))
	if _, ok := c.Mission(r.Msg); ok {
		t.Fatal("old finished mission kept")
	}
}

func TestDropFileCancelsAtOnce(t *testing.T) {
	c := newTestCore()
	listed(t, c)
	r, _ := c.Call(user, "greet", map[string]json.RawMessage{"who": json.RawMessage(`"x"`)}, t0)
	c.DropFile("host", "greet.py", reqID, t0)
	if m, _ := c.Mission(r.Msg); m.Status != StatusCancelled {
		t.Fatalf("mission %+v", m)
	}
	if _, ok := c.Lookup("reboot_world"); !ok {
		t.Fatal("skills of other files dropped")
	}
	if fx := c.DropFile("host", "nothing.py", reqID, t0); fx != nil {
		t.Fatal("dropping an unknown file did something")
	}
}

func FuzzParseSkillsList(f *testing.F) {
	f.Add([]byte(listFrame))
	f.Add([]byte(`"{\"a\":{\"skill_info\":\"{}\",\"parameters\":\"[]\"}}"`))
	f.Add([]byte(`{"x":{"skill_info":{"access_level":"nonsense","auto_start":"yes"},"parameters":[{"name":1}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := ParseSkillsList(b)
		if err != nil {
			return
		}
		for name, s := range list {
			if s.Name != name {
				t.Fatalf("entry %q named %q", name, s.Name)
			}
			switch s.Level {
			case messages.LevelEnchanter, messages.LevelAdmin, messages.LevelUser:
			default:
				t.Fatalf("level %d", s.Level)
			}
		}
	})
}

func FuzzParseRPCResult(f *testing.F) {
	f.Add([]byte(`{"name":"RPC_result","type":"dict","data":"{\"jsonrpc\":\"2.0\",\"result\":{\"value\":1,\"status\":\"COMPLETED\"},\"id\":\"m-1\"}"}`))
	f.Add([]byte(`{"data":{"error":{"code":-32603,"message":"x"},"id":"m-2"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := ParseRPCResult(b)
		if !ok {
			return
		}
		if r.ID == "" {
			t.Fatal("result without id")
		}
		switch r.Status {
		case StatusCompleted, StatusCancelled, StatusError:
		default:
			t.Fatalf("status %q", r.Status)
		}
	})
}
