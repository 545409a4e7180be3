package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	authcore "reachyd/actors/auth/core"
	"reachyd/messages"
)

// v1 is a client of the skills API that never follows redirects (the
// pymirokai client breaks on them) and shows every header.
type v1 struct {
	t     *testing.T
	base  string
	hc    *http.Client
	token string
}

func newV1(t *testing.T, base string, hc *http.Client) *v1 {
	if hc == nil {
		hc = &http.Client{}
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &v1{t: t, base: base, hc: hc}
}

type v1Resp struct {
	code int
	hdr  http.Header
	body []byte
}

func (r v1Resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.code, r.body)
	}
	return m
}

func (c *v1) do(method, path string, body []byte, hdr map[string]string) v1Resp {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		if v == "<none>" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return v1Resp{resp.StatusCode, resp.Header, b}
}

// login exchanges a key for a token, as RestAPI.authentify does.
func (c *v1) login(key string) map[string]any {
	c.t.Helper()
	r := c.do("GET", "/api/v1/auth/", nil, map[string]string{"X-API-Key": key})
	if r.code != 200 {
		c.t.Fatalf("auth: %d %s", r.code, r.body)
	}
	m := r.json(c.t)
	c.token = m["token"].(string)
	return m
}

// command is send_command: POST /api/v1/<kind>/ {"command","value"}; it
// follows the rolling token like the client does.
func (c *v1) command(kind, command string, value any) map[string]any {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"command": command, "value": value})
	r := c.do("POST", "/api/v1/"+kind+"/", b, nil)
	if r.code != 200 {
		c.t.Fatalf("%s %s: %d %s", kind, command, r.code, r.body)
	}
	c.roll(r)
	return r.json(c.t)
}

func (c *v1) get(command string) map[string]any {
	c.t.Helper()
	r := c.do("GET", "/api/v1/get/"+command, nil, nil)
	if r.code != 200 {
		c.t.Fatalf("get %s: %d %s", command, r.code, r.body)
	}
	c.roll(r)
	return r.json(c.t)
}

func (c *v1) roll(r v1Resp) {
	c.t.Helper()
	h := r.hdr.Get("Authorization")
	f := strings.Fields(h)
	if len(f) != 2 || f[0] != "Bearer" {
		c.t.Fatalf("command response without a rolling token: %q", h)
	}
	c.token = f[1]
}

// createKey makes an API key in a data folder, as `reachyd keys create`.
func createKey(t *testing.T, dataDir, name string, level messages.AccessLevel) string {
	t.Helper()
	ks, err := authcore.OpenKeyStore(authcore.StoreDir(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := ks.Create(name, level, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestSkillsAPIContract checks each MUST of the pymirokai client's contract
// (../shared/spec/skills-api.md) and the authentication rules.
func TestSkillsAPIContract(t *testing.T) {
	dataDir := t.TempDir()
	admin := createKey(t, dataDir, "laptop", messages.LevelAdmin)
	user := createKey(t, dataDir, "kid", messages.LevelUser)
	d := startDaemon(t, "--data-dir", dataDir, "--no-skill-host")
	d.waitRunning()
	c := newV1(t, d.base, nil)

	t.Run("status is exactly 200 with JSON", func(t *testing.T) {
		r := c.do("GET", "/status", nil, nil)
		if r.code != 200 || r.hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("%d %q", r.code, r.hdr.Get("Content-Type"))
		}
	})

	t.Run("key exchange", func(t *testing.T) {
		m := c.login(admin)
		cid, _ := m["client_id"].(string)
		if m["access_level"] != "ADMIN" || !strings.HasPrefix(cid, "c-") || json.Valid([]byte(cid)) {
			t.Fatalf("auth body %v", m)
		}
		// Both spellings, never a redirect.
		if r := c.do("GET", "/api/v1/auth", nil, map[string]string{"X-API-Key": user}); r.code != 200 || r.json(t)["access_level"] != "USER" {
			t.Fatalf("without the slash: %d %s", r.code, r.body)
		}
		for _, k := range []struct {
			name, key string
			code      int
		}{
			{"bad key", admin[:len(admin)-2] + "xx", 401},
			{"unknown id", "rmk_00000000_" + strings.Repeat("A", 43), 401},
			{"garbage", "hello", 401},
			{"empty key over TCP", "", 401},
			{"oversized", strings.Repeat("k", 10000), 431},
		} {
			r := c.do("GET", "/api/v1/auth/", nil, map[string]string{"X-API-Key": k.key})
			if r.code != k.code || r.hdr.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %d %s", k.name, r.code, r.body)
			}
			if strings.Contains(string(r.body), admin) {
				t.Errorf("%s: the key is echoed", k.name)
			}
		}
		if r := c.do("GET", "/api/v1/auth/", nil, map[string]string{"X-API-Key": "<none>"}); r.code != 401 {
			t.Errorf("no key header: %d", r.code)
		}
	})

	t.Run("bearer tokens", func(t *testing.T) {
		good := c.login(admin)["token"].(string)
		signer, err := authcore.OpenSigner(authcore.StoreDir(dataDir), nil)
		if err != nil {
			t.Fatal(err)
		}
		expired, _, err := signer.Issue(authcore.Identity{Subject: strings.Split(admin, "_")[1], SessionID: "s-" + strings.Repeat("a", 32),
			ClientID: "c-" + strings.Repeat("b", 16), Level: messages.LevelAdmin}, time.Now().Add(-2*time.Hour), 15*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(good, ".")
		payload := []byte(parts[1])
		payload[5] ^= 1
		tampered := parts[0] + "." + string(payload) + "." + parts[2]
		raw, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "x"}).SignedString([]byte("guess"))
		none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "x"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
		for _, k := range []struct {
			name, header string
			code         int
		}{
			{"no header", "<none>", 401},
			{"basic scheme", "Basic " + good, 401},
			{"bare token", good, 401},
			{"expired, session unknown", "Bearer " + expired, 401},
			{"tampered", "Bearer " + tampered, 401},
			{"wrong algorithm", "Bearer " + raw, 401},
			{"alg none", "Bearer " + none, 401},
			{"oversized", "Bearer " + strings.Repeat("a", 20000), 431},
			{"good", "Bearer " + good, 200},
		} {
			saved := c.token
			c.token = ""
			r := c.do("GET", "/api/v1/get/get_language", nil, map[string]string{"Authorization": k.header})
			c.token = saved
			if r.code != k.code {
				t.Errorf("%s: %d %s", k.name, r.code, r.body)
			}
			if r.code == 401 && r.hdr.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("%s: no WWW-Authenticate", k.name)
			}
		}
		// A header far beyond any token is refused by the server itself.
		r := c.do("GET", "/api/v1/get/get_language", nil, map[string]string{"Authorization": "Bearer " + strings.Repeat("a", 100<<10)})
		if r.code != 431 {
			t.Errorf("100 KiB header: %d", r.code)
		}
	})

	t.Run("rolling tokens stay valid for the session", func(t *testing.T) {
		first := c.login(admin)["token"].(string)
		var seen []string
		for i := 0; i < 3; i++ {
			m := c.get("get_language")
			if m["result"] != "en" {
				t.Fatalf("result %v", m)
			}
			seen = append(seen, c.token)
		}
		if seen[0] == first || seen[1] == seen[0] {
			t.Fatal("the token did not roll")
		}
		// Every token of the session still works (the WebSocket keeps its first).
		for _, tok := range append(seen, first) {
			r := c.do("GET", "/api/v1/get/get_language", nil, map[string]string{"Authorization": "Bearer " + tok})
			if r.code != 200 {
				t.Fatalf("an older token of the session: %d", r.code)
			}
		}
		// The skill-file endpoints authenticate but do not roll.
		r := c.do("GET", "/api/v1/skill/list/", nil, nil)
		if r.code != 200 || r.hdr.Get("Authorization") != "" || string(r.body) != `{"skills":[]}` {
			t.Fatalf("skill list: %d %q %s", r.code, r.hdr.Get("Authorization"), r.body)
		}
	})

	t.Run("commands", func(t *testing.T) {
		c.login(admin)
		// Paths as the client spells them, no redirects.
		for _, p := range []string{"/api/v1/get/get_language", "/api/v1/get/get_language/"} {
			if r := c.do("GET", p, nil, nil); r.code != 200 || r.hdr.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %d", p, r.code)
			}
		}
		for _, p := range []string{"/api/v1/str/", "/api/v1/str"} {
			b, _ := json.Marshal(map[string]any{"command": "cancel_skill", "value": "m-00"})
			r := c.do("POST", p, b, nil)
			if r.code != 200 {
				t.Errorf("%s: %d %s", p, r.code, r.body)
				continue
			}
			res := r.json(t)["result"].(map[string]any)
			if res["cancelled"] != false || res["msg"] != "Mission not found" {
				t.Errorf("cancel of an unknown mission: %v", res)
			}
		}
		bad := []struct {
			kind, body, want string
			code             int
		}{
			{"str", `{"command":"cancel_skill"}`, `"loc":["body","value"]`, 422},
			{"str", `{"value":"x"}`, `"loc":["body","command"]`, 422},
			{"int", `{"command":"sound_level","value":"loud"}`, `"int_parsing"`, 422},
			{"dict", `{"command":"skill","value":[1]}`, `"dict_type"`, 422},
			{"dict", `{"command":"skill","value":{"who":1}}`, `must hold the skill's`, 422},
			{"int", `{"command":"sound_level","value":3}`, `not available on Reachy Mini`, 501},
			{"str", `{"command":"dance","value":"x"}`, `Unknown command 'dance'`, 404},
		}
		for _, k := range bad {
			r := c.do("POST", "/api/v1/"+k.kind+"/", []byte(k.body), nil)
			if r.code != k.code || !strings.Contains(string(r.body), k.want) {
				t.Errorf("%s %s: %d %s", k.kind, k.body, r.code, r.body)
			}
		}
		if r := c.do("GET", "/api/v1/get/pddl_domain", nil, nil); r.code != 501 {
			t.Errorf("a Mirokai command: %d", r.code)
		}
		if m := c.get("cancel_client_missions"); m["result"] == nil {
			t.Errorf("cancel_client_missions: %v", m)
		}
		skillsList := c.get("get_skills")["result"].(map[string]any)
		if _, ok := skillsList["wake_up"]; !ok {
			t.Errorf("built-in skills not listed: %v", skillsList)
		}
	})

	t.Run("missions of built-in skills", func(t *testing.T) {
		c.login(admin)
		call := func(name string, kw map[string]any) map[string]any {
			v := map[string]any{"name": name}
			for k, x := range kw {
				v[k] = x
			}
			return c.command("dict", "skill", v)["result"].(map[string]any)
		}
		// wake_up first: the daemon started asleep, motors off.
		w := call("wake_up", nil)
		if rep := c.command("str", "wait_for_skill", w["msg"])["result"].(map[string]any); rep["status"] != "COMPLETED" {
			t.Fatalf("wake_up: %v", rep)
		}
		r := call("move_antennas", map[string]any{"left": 0.4, "right": -0.4, "duration": 0.3})
		id, _ := r["msg"].(string)
		if r["called"] != true || !strings.HasPrefix(id, "m-") || json.Valid([]byte(id)) {
			t.Fatalf("call: %v", r)
		}
		started := c.command("str", "wait_for_skill_started", id)["result"].(map[string]any)
		if started["started"] != true {
			t.Fatalf("started: %v", started)
		}
		done := c.command("str", "wait_for_skill", id)["result"].(map[string]any)
		if done["awaited"] != true || done["status"] != "COMPLETED" || done["start_result"].(map[string]any)["started"] != true {
			t.Fatalf("wait: %v", done)
		}
		var ant []float64
		d.getJSON("/api/state/present_antenna_joint_positions", &ant)
		if len(ant) != 2 || ant[1] < 0.3 || ant[0] > -0.3 { // [right, left]
			t.Fatalf("the antennas did not move: %v", ant)
		}
		// A long move, cancelled and awaited.
		r = call("goto", map[string]any{"yaw": 0.3, "duration": 10})
		res := c.command("str", "cancel_and_wait_for_mission", r["msg"])["result"].(map[string]any)
		if res["cancelled"] != true {
			t.Fatalf("cancel and wait: %v", res)
		}
		if rep := c.command("str", "wait_for_skill", r["msg"])["result"].(map[string]any); rep["status"] != "CANCELLED" {
			t.Fatalf("cancelled mission: %v", rep)
		}
		for _, k := range []struct {
			name string
			kw   map[string]any
			msg  string
		}{
			{"nope", nil, "Skill 'nope' not found."},
			{"look_at", map[string]any{"x": 1}, "Skill 'look_at' needs the parameter 'y'."},
			{"goto", map[string]any{"speed": 3}, "Skill 'goto' has no parameter 'speed'."},
		} {
			if r := call(k.name, k.kw); r["called"] != false || r["msg"] != k.msg {
				t.Errorf("%s: %v", k.name, r)
			}
		}
		// A bad duration is a mission that fails to start.
		r = call("goto", map[string]any{"duration": -1})
		if rep := c.command("str", "wait_for_skill", r["msg"])["result"].(map[string]any); rep["status"] != "ERROR" || !strings.Contains(rep["exception"].(string), "duration") {
			t.Fatalf("bad duration: %v", rep)
		}
		if rep := c.command("str", "wait_for_skill", "m-unknown")["result"].(map[string]any); rep["awaited"] != false || rep["msg"] != "Mission not found" {
			t.Fatalf("unknown mission: %v", rep)
		}
	})

	t.Run("services need no token", func(t *testing.T) {
		anon := newV1(t, d.base, nil)
		r := anon.do("GET", "/api/v1/service/get_services_list", nil, nil)
		if r.code != 200 || !strings.Contains(string(r.body), `"motorbus"`) {
			t.Fatalf("services list: %d %s", r.code, r.body)
		}
		r = anon.do("GET", "/api/v1/service/head/auth", nil, nil)
		m := r.json(t)
		if r.code != 200 || m["service"] != "auth" || m["state"] != "running" {
			t.Fatalf("service: %d %s", r.code, r.body)
		}
		if strings.Contains(string(r.body), admin) || strings.Contains(string(r.body), c.token) {
			t.Fatal("the service log shows a key or a token")
		}
		if r := anon.do("GET", "/api/v1/service/base/wheels", nil, nil); r.code != 404 {
			t.Fatalf("unknown service: %d", r.code)
		}
	})

	t.Run("failed attempts are rate limited", func(t *testing.T) {
		// A client on 127.0.0.1 retrying a wrong key, as pymirokai does
		// forever, ends up with 429...
		valid := newV1(t, d.base, nil)
		valid.login(user)
		anon := newV1(t, d.base, nil)
		var last v1Resp
		for i := 0; i < 30; i++ {
			last = anon.do("GET", "/api/v1/auth/", nil, map[string]string{"X-API-Key": "rmk_00000000_" + strings.Repeat("B", 43)})
		}
		if last.code != 429 || last.hdr.Get("Retry-After") == "" || last.hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("after 30 failures: %d %v", last.code, last.hdr)
		}
		// ...and so does a forged token retried from there.
		forged := valid.token[:len(valid.token)-4] + "AAAA"
		for i := 0; i < 30; i++ {
			last = anon.do("GET", "/api/v1/get/get_language", nil, map[string]string{"Authorization": "Bearer " + forged})
		}
		if last.code != 429 {
			t.Fatalf("after 30 forged tokens: %d", last.code)
		}
		// But the valid keys and tokens of the same address still work.
		for _, k := range []string{admin, user} {
			if r := anon.do("GET", "/api/v1/auth/", nil, map[string]string{"X-API-Key": k}); r.code != 200 {
				t.Fatalf("valid key from the limited address: %d %s", r.code, r.body)
			}
		}
		if r := valid.do("GET", "/api/v1/get/get_language", nil, nil); r.code != 200 {
			t.Fatalf("valid token from the limited address: %d %s", r.code, r.body)
		}
	})
}

// TestUnixSocketTrustsLocalCallers: pymirokai's local connection sends an
// empty key over /tmp/rest_api.sock; the daemon's own user gets in.
func TestUnixSocketTrustsLocalCallers(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "rest_api.sock")
	topicsPort := freePort(t)
	d := startDaemon(t, "--uds", sock, "--no-skill-host", "--topics-port", fmt.Sprint(topicsPort))
	d.waitRunning()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", sock)
	}}}
	c := newV1(t, "http://localhost", hc)
	if r := c.do("GET", "/status", nil, nil); r.code != 200 {
		t.Fatalf("status over the socket: %d", r.code)
	}
	m := c.login("")
	if m["access_level"] != "ADMIN" {
		t.Fatalf("local grant: %v", m)
	}
	if got := c.get("get_language")["result"]; got != "en" {
		t.Fatalf("command over the socket: %v", got)
	}
	// The same empty key over TCP is refused.
	tcp := newV1(t, d.base, nil)
	if r := tcp.do("GET", "/api/v1/auth/", nil, map[string]string{"X-API-Key": ""}); r.code != 401 {
		t.Fatalf("empty key over TCP: %d", r.code)
	}
	// The token minted over the socket is bound to this host: refused by
	// the API over TCP, even from 127.0.0.1...
	tcp.token = c.token
	if r := tcp.do("GET", "/api/v1/get/get_language", nil, nil); r.code != 401 || r.hdr.Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("socket token over TCP: %d %s", r.code, r.body)
	}
	// ...but taken by the topic bus from this host, where pymirokai's
	// SkillManager in unix-socket mode connects with it.
	tc, resp, err := dialTopics(t, fmt.Sprintf("ws://127.0.0.1:%d/", topicsPort), c.token)
	if err != nil {
		t.Fatalf("socket token on the topic bus from this host: %v %v", err, resp)
	}
	tc.send(map[string]any{"action": "subscribe", "topic": "echo"})
	tc.send(publishFrame("echo", "hi"))
	tc.next("echo")
}
