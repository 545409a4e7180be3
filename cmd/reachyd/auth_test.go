package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/messages"
)

// keyID is the id part of an API key (rmk_<id>_<secret>), as `reachyd keys
// list` shows it.
func keyID(key string) string { return strings.Split(key, "_")[1] }

// TestSkillFilesNeedAdmin: uploading, enabling, disabling and removing
// skill files runs code, so a USER key gets 403 on each (before its body
// is looked at) while ADMIN succeeds; every change is logged at INFO with
// the key id that made it and the skill's name, never the key or a token.
func TestSkillFilesNeedAdmin(t *testing.T) {
	dataDir := t.TempDir()
	admin := createKey(t, dataDir, "dev", messages.LevelAdmin)
	user := createKey(t, dataDir, "guest", messages.LevelUser)
	var log lockedBuffer
	d := startDaemonLog(t, &log, "--data-dir", dataDir, "--log-level", "INFO")
	d.waitRunning()
	a, u := newV1(t, d.base, nil), newV1(t, d.base, nil)
	a.login(admin)
	u.login(user)

	enable := func(c *v1, name string, on bool) v1Resp {
		b, _ := json.Marshal(map[string]any{"command": name, "value": on})
		return c.do("PATCH", "/api/v1/skill/enable/", b, nil)
	}
	remove := func(c *v1, name string) v1Resp {
		return c.do("DELETE", "/api/v1/skill/remove/?skill_name="+name, nil, nil)
	}
	forbidden := func(what string, r v1Resp) {
		t.Helper()
		var m map[string]any
		if r.code != 403 || json.Unmarshal(r.body, &m) != nil || len(m) != 1 || !strings.Contains(fmt.Sprint(m["detail"]), "ADMIN") {
			t.Errorf("USER %s: %d %s, want 403 {\"detail\": ...}", what, r.code, r.body)
		}
	}

	forbidden("upload", u.upload("evil.py", "import os\n"))
	if r := a.upload("greet.py", "def greet():\n    return 1\n"); r.code != 200 {
		t.Fatalf("ADMIN upload: %d %s", r.code, r.body)
	}
	forbidden("disable", enable(u, "greet.py", false))
	forbidden("enable", enable(u, "greet.py", true))
	forbidden("remove", remove(u, "greet.py"))
	// A refused upload wrote nothing; listing stays open to USER.
	r := u.do("GET", "/api/v1/skill/list/", nil, nil)
	if r.code != 200 || strings.Contains(string(r.body), "evil") || !strings.Contains(string(r.body), `"greet.py"`) {
		t.Fatalf("USER list: %d %s", r.code, r.body)
	}
	for _, step := range []struct {
		what string
		r    v1Resp
	}{
		{"disable", enable(a, "greet.py", false)},
		{"enable", enable(a, "greet.py", true)},
		{"remove", remove(a, "greet.py")},
	} {
		if step.r.code != 200 {
			t.Fatalf("ADMIN %s: %d %s", step.what, step.r.code, step.r.body)
		}
	}

	id := keyID(admin)
	for _, op := range []string{"uploaded", "disabled", "enabled", "removed"} {
		want := fmt.Sprintf(`level=INFO msg="skill file changed" component=gateway op=%s skill=greet.py key_id=%s`, op, id)
		found := false
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no log line %q in:\n%s", want, log.String())
		}
	}
	if !strings.Contains(log.String(), "key_id="+keyID(user)) {
		t.Error("the refusals do not name the USER key id")
	}
	for _, secret := range []string{admin, user, a.token, u.token} {
		if strings.Contains(log.String(), secret) {
			t.Fatal("the log shows a key or a token")
		}
	}
}

// TestRevokedKeyEndsItsTopicSocket: `reachyd keys revoke` (which edits
// api_keys.json) closes the open topic WebSockets of the key's sessions
// with 1008 within 2 s, and its tokens are refused on REST from the next
// request; other keys' connections stay up.
func TestRevokedKeyEndsItsTopicSocket(t *testing.T) {
	dataDir := t.TempDir()
	doomed := createKey(t, dataDir, "doomed", messages.LevelUser)
	kept := createKey(t, dataDir, "kept", messages.LevelUser)
	port := freePort(t)
	d := startDaemon(t, "--data-dir", dataDir, "--topics-port", fmt.Sprint(port))
	d.waitRunning()
	url := fmt.Sprintf("ws://127.0.0.1:%d/", port)
	dc, kc := newV1(t, d.base, nil), newV1(t, d.base, nil)
	dc.login(doomed)
	kc.login(kept)
	doomedWS, _, err := dialTopics(t, url, dc.token)
	if err != nil {
		t.Fatal(err)
	}
	keptWS, _, err := dialTopics(t, url, kc.token)
	if err != nil {
		t.Fatal(err)
	}
	// Both are up: each hears its own publish.
	for _, tc := range []*topicClient{doomedWS, keptWS} {
		tc.send(map[string]any{"action": "subscribe", "topic": "chat"})
		tc.send(publishFrame("chat", "hello"))
		tc.next("chat")
	}

	if err := runKeys([]string{"--data-dir", dataDir, "revoke", keyID(doomed)}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	// REST refuses the key's token from the first request on.
	if r := dc.do("GET", "/api/v1/get/get_language", nil, nil); r.code != 401 {
		t.Errorf("token of a revoked key right after the revocation: %d %s", r.code, r.body)
	}
	select {
	case <-doomedWS.closed:
	case <-time.After(2*time.Second - time.Since(revoked)):
		t.Fatal("the revoked key's topic WebSocket is still open 2 s after the revocation")
	}
	var ce *websocket.CloseError
	if err, _ := doomedWS.err.Load().(error); !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "token no longer valid" {
		t.Errorf("close: %v, want 1008 token no longer valid", doomedWS.err.Load())
	}
	// The other key's connection was not touched.
	keptWS.send(publishFrame("chat", "still here"))
	if m := keptWS.next("chat"); m["data"] != "still here" {
		t.Fatalf("kept client: %v", m)
	}
	// The revoked key's token cannot open a new one either.
	if _, resp, err := dialTopics(t, url, dc.token); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("reconnect with a revoked key's token: %v %v", err, resp)
	}
}
