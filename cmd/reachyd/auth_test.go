package main

import (
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
