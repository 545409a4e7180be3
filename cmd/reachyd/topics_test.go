package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gorilla/websocket"

	"reachyd/actors/kit"
	"reachyd/messages"
)

// topicsDaemon starts a daemon with an ADMIN key and its topic listener on
// a known port.
func topicsDaemon(t *testing.T, extra ...string) (*testDaemon, string, string) {
	t.Helper()
	dataDir := t.TempDir()
	key := createKey(t, dataDir, "topics", messages.LevelAdmin)
	port := freePort(t)
	d := startDaemon(t, append([]string{"--data-dir", dataDir, "--topics-port", fmt.Sprint(port), "--no-skill-host"}, extra...)...)
	d.waitRunning()
	return d, fmt.Sprintf("ws://127.0.0.1:%d/", port), key
}

// topicClient is a pymirokai WebSocketAPI-like client.
type topicClient struct {
	t      *testing.T
	c      *websocket.Conn
	frames chan map[string]any
	closed chan struct{}
	err    atomic.Value
}

func dialTopics(t *testing.T, url, token string) (*topicClient, *http.Response, error) {
	c, resp, err := websocket.DefaultDialer.Dial(url+"?token="+token, nil)
	if err != nil {
		return nil, resp, err
	}
	tc := &topicClient{t: t, c: c, frames: make(chan map[string]any, 4096), closed: make(chan struct{})}
	go func() {
		defer close(tc.closed)
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				tc.err.Store(err)
				return
			}
			var m map[string]any
			if json.Unmarshal(b, &m) != nil {
				t.Errorf("server frame is not a JSON object: %s", b)
				continue
			}
			for _, k := range []string{"name", "type", "data"} {
				if _, ok := m[k]; !ok {
					t.Errorf("server frame without %q: %s", k, b)
				}
			}
			select {
			case tc.frames <- m:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return tc, resp, nil
}

func (tc *topicClient) send(v any) {
	tc.t.Helper()
	if err := tc.c.WriteJSON(v); err != nil {
		tc.t.Fatal(err)
	}
}

// next waits for a frame whose name is name.
func (tc *topicClient) next(name string) map[string]any {
	tc.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-tc.frames:
			if m["name"] == name {
				return m
			}
		case <-deadline:
			tc.t.Fatalf("no %s frame", name)
		}
	}
}

// none checks that no frame named name arrives for a while.
func (tc *topicClient) none(name string, within time.Duration) {
	tc.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-tc.frames:
			if m["name"] == name {
				tc.t.Fatalf("unexpected %s frame: %v", name, m)
			}
		case <-deadline:
			return
		}
	}
}

func publishFrame(topic string, data any) map[string]any {
	inner, _ := json.Marshal(map[string]any{"name": topic, "type": "str", "data": data})
	// Double-encoded, as every pymirokai caller publishes.
	return map[string]any{"action": "publish", "topic": topic, "data": string(inner)}
}

func TestTopicBus(t *testing.T) {
	d, url, key := topicsDaemon(t)
	rest := newV1(t, d.base, nil)
	rest.login(key)
	first := rest.token

	t.Run("bad tokens are refused at the handshake", func(t *testing.T) {
		for _, tok := range []string{"", "nope", first[:len(first)-3] + "abc"} {
			_, resp, err := dialTopics(t, url, tok)
			if err == nil || resp == nil || resp.StatusCode != 401 {
				t.Errorf("token %q: %v %v", tok, err, resp)
			}
		}
	})

	t.Run("subscribe, publish, unsubscribe", func(t *testing.T) {
		a, _, err := dialTopics(t, url, first)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := dialTopics(t, url, first)
		if err != nil {
			t.Fatal(err)
		}
		a.send(map[string]any{"action": "subscribe", "topic": "chat"})
		b.send(map[string]any{"action": "subscribe", "topic": "chat"})
		time.Sleep(50 * time.Millisecond) // both subscriptions reach the broker first
		a.send(publishFrame("chat", "hello"))
		for _, c := range []*topicClient{a, b} {
			if m := c.next("chat"); m["data"] != "hello" || m["type"] != "str" {
				t.Fatalf("frame %v", m)
			}
		}
		b.send(map[string]any{"action": "unsubscribe", "topic": "chat"})
		time.Sleep(50 * time.Millisecond)
		a.send(publishFrame("chat", "again"))
		if m := a.next("chat"); m["data"] != "again" {
			t.Fatalf("frame %v", m)
		}
		b.none("chat", 200*time.Millisecond)
		// Refused frames come back as topic_error, the connection stays.
		a.send(map[string]any{"action": "publish", "topic": "robot_state", "data": map[string]any{"name": "robot_state", "type": "dict", "data": 1}})
		if m := a.next("topic_error"); !strings.Contains(m["data"].(string), "published by the daemon only") {
			t.Fatalf("error frame %v", m)
		}
		a.send(map[string]any{"action": "publish", "topic": "chat", "data": "{\"name\":\"chat\"}"})
		if m := a.next("topic_error"); !strings.Contains(m["data"].(string), `no "type"`) {
			t.Fatalf("error frame %v", m)
		}
		a.send(map[string]any{"action": "dance"})
		a.next("topic_error")
	})

	t.Run("a reconnect with the first token of a rolling session", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			rest.get("get_language") // the REST token rolls
		}
		for round := 0; round < 2; round++ {
			c, _, err := dialTopics(t, url, first)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			c.send(map[string]any{"action": "subscribe", "topic": "news"})
			time.Sleep(50 * time.Millisecond)
			c.send(publishFrame("news", round))
			if m := c.next("news"); m["data"] != float64(round) {
				t.Fatalf("round %d: %v", round, m)
			}
			c.c.Close()
		}
	})

	t.Run("robot topics", func(t *testing.T) {
		c, _, err := dialTopics(t, url, first)
		if err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{"robot_state", "daemon_status", "app_status"} {
			c.send(map[string]any{"action": "subscribe", "topic": topic})
		}
		// Status topics come once (then on change): collect until each came.
		got := map[string]map[string]any{}
		deadline := time.After(10 * time.Second)
		for len(got) < 3 {
			select {
			case m := <-c.frames:
				got[m["name"].(string)] = m
			case <-deadline:
				t.Fatalf("frames seen: %v", got)
			}
		}
		if _, ok := got["robot_state"]["data"].(map[string]any)["head_pose"]; !ok {
			t.Fatalf("robot_state %v", got["robot_state"])
		}
		if ds := got["daemon_status"]["data"].(map[string]any); ds["state"] != "running" {
			t.Fatalf("daemon_status %v", ds)
		}
		if got["app_status"]["data"] != nil {
			t.Fatalf("app_status with no app: %v", got["app_status"])
		}
	})

	t.Run("a slow subscriber does not slow the others", func(t *testing.T) {
		fast, _, _ := dialTopics(t, url, first)
		slow, _, err := websocket.DefaultDialer.Dial(url+"?token="+first, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		_ = slow.WriteJSON(map[string]any{"action": "subscribe", "topic": "flood"})
		fast.send(map[string]any{"action": "subscribe", "topic": "flood"})
		time.Sleep(50 * time.Millisecond)
		pub, _, _ := dialTopics(t, url, first)
		pad := strings.Repeat("x", 8<<10)
		const n = 4000
		for i := 0; i < n; i++ {
			pub.send(map[string]any{"action": "publish", "topic": "flood", "data": map[string]any{"name": "flood", "type": "int", "data": i, "pad": pad}})
		}
		for i := 0; i < n; i++ {
			m := fast.next("flood")
			if m["data"] != float64(i) {
				t.Fatalf("fast subscriber got %v, want %d", m["data"], i)
			}
		}
		// The stalled one was closed as a slow consumer: with a close frame
		// (1008) when its socket had room for it, else by the connection
		// ending; never by a read timeout.
		_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
		var closeErr error
		for {
			if _, _, err := slow.ReadMessage(); err != nil {
				if !websocket.IsCloseError(err, websocket.ClosePolicyViolation, websocket.CloseAbnormalClosure) {
					t.Fatalf("slow subscriber ended with %v, want 1008 or the connection closed", err)
				}
				closeErr = err
				break
			}
		}
		// Dropped by the broker when its queue overflowed (counted), or, on
		// a machine so loaded that the publisher took longer than the write
		// deadline to fill that queue, by the write deadline first.
		var st messages.TopicStats
		d.askTopics(&st)
		if st.DroppedClient == 0 && !websocket.IsCloseError(closeErr, websocket.CloseAbnormalClosure) {
			t.Fatalf("closed with %v but not counted as dropped: stats %+v", closeErr, st)
		}
	})
}

func (d *testDaemon) askTopics(st *messages.TopicStats) {
	d.t.Helper()
	r, err := d.sys.Kit.AskAny(d.t.Context(), d.sys.Topics, &messages.GetTopicStats{})
	if err != nil {
		d.t.Fatal(err)
	}
	*st = r.(messages.TopicStats)
}

// TestSkillsActorsSurviveCrashes crashes auth, topics and skills while a
// client holds a session, a topic subscription and a running mission:
// none of them is lost.
func TestSkillsActorsSurviveCrashes(t *testing.T) {
	d, url, key := topicsDaemon(t)
	c := newV1(t, d.base, nil)
	c.login(key)
	token := c.token
	sub, _, err := dialTopics(t, url, token)
	if err != nil {
		t.Fatal(err)
	}
	sub.send(map[string]any{"action": "subscribe", "topic": "chat"})
	wake := c.call("wake_up", nil)["msg"]
	c.wait(wake)
	mission := c.call("goto", map[string]any{"yaw": 0.2, "duration": 20})["msg"]

	for _, pid := range []*actor.PID{d.sys.Auth, d.sys.Topics, d.sys.Skills} {
		d.sys.Kit.Tell(pid, &kit.Crash{Reason: "test " + pid.Id})
	}
	time.Sleep(300 * time.Millisecond) // the supervisor restarts them
	sup := fmt.Sprint(d.waitState("running")["reachyd"].(map[string]any)["supervision"])
	for _, name := range []string{"auth", "topics", "skills"} {
		if !strings.Contains(sup, "reachyd/"+name) {
			t.Fatalf("no supervision event for %s: %s", name, sup)
		}
	}

	// The session: the first token still authenticates.
	c.token = token
	if m := c.get("get_language"); m["result"] != "en" {
		t.Fatalf("after the crash: %v", m)
	}
	// The subscription still delivers.
	pub, _, err := dialTopics(t, url, token)
	if err != nil {
		t.Fatal(err)
	}
	pub.send(publishFrame("chat", "still here"))
	if m := sub.next("chat"); m["data"] != "still here" {
		t.Fatalf("frame %v", m)
	}
	// The mission is still known and can be cancelled and awaited.
	missions := c.get("list_running_missions")["result"].([]any)
	if len(missions) != 1 || missions[0].(map[string]any)["id"] != mission {
		t.Fatalf("missions after the crash: %v", missions)
	}
	if r := c.command("str", "cancel_and_wait_for_mission", mission)["result"].(map[string]any); r["cancelled"] != true {
		t.Fatalf("cancel after the crash: %v", r)
	}
	if rep := c.wait(mission); rep["status"] != "CANCELLED" {
		t.Fatalf("mission: %v", rep)
	}
}

// TestExternalSkillManager: a pymirokai SkillManager attached over the
// WebSocket (not reachyd's own skill host) publishes its skills and answers
// RPC_command; missions run on it like on the host.
func TestExternalSkillManager(t *testing.T) {
	d, url, key := topicsDaemon(t)
	c := newV1(t, d.base, nil)
	c.login(key)
	mgr, _, err := dialTopics(t, url, c.token)
	if err != nil {
		t.Fatal(err)
	}
	// The SkillManager's start: subscribe, then publish its list.
	mgr.send(map[string]any{"action": "subscribe", "topic": "RPC_command"})
	mgr.send(map[string]any{"action": "subscribe", "topic": "skills_list_command"})
	list, _ := json.Marshal(map[string]any{"name": "skills_list_result", "type": "dict", "data": map[string]any{
		"ext_echo": map[string]any{"skill_info": map[string]any{"access_level": "AccessLevel.USER"},
			"parameters": []any{map[string]any{"name": "text", "default": "null", "annotation": "<class 'str'>", "questions": []any{}}},
			"filename":   "ext.py"}}})
	mgr.send(map[string]any{"action": "publish", "topic": "skills_list_result", "data": string(list)})
	c.waitSkills(true, "ext_echo")

	r := c.call("ext_echo", map[string]any{"text": "hi"})
	cmd := mgr.next("RPC_command")
	if cmd["command"] != "run" {
		t.Fatalf("command %v", cmd)
	}
	rpc := cmd["data"].(map[string]any)
	if rpc["method"] != "ext_echo" || rpc["id"] != r["msg"] || rpc["params"].(map[string]any)["text"] != "hi" {
		t.Fatalf("run request %v", rpc)
	}
	// The manager answers as the SkillManager does: data is JSON text.
	res, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "result": map[string]any{"value": "HI", "status": "COMPLETED"}, "id": rpc["id"]})
	out, _ := json.Marshal(map[string]any{"name": "RPC_result", "type": "dict", "data": string(res)})
	mgr.send(map[string]any{"action": "publish", "topic": "RPC_result", "data": string(out)})
	if rep := c.wait(r["msg"]); rep["status"] != "COMPLETED" || rep["value"] != "HI" {
		t.Fatalf("mission on the external manager: %v", rep)
	}
	// The connection answers pings (pymirokai's websockets pings every 20 s).
	pong := make(chan struct{}, 1)
	mgr.c.SetPongHandler(func(string) error { pong <- struct{}{}; return nil })
	if err := mgr.c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pong:
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}
