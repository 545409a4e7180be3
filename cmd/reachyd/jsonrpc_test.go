package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reachyd/media/webrtc/webrtctest"
)

// rpcAppPy is an app whose settings server hosts /rpc: a WebSocket server
// written with Python's standard library only (RFC 6455 handshake and
// framing), as the reference's apps serve it. Methods:
//
//	demo.echo   -> {"echo": params, "pid": <pid>}
//	demo.notify -> the notification demo.event {"n": 1}, then {"ok": true}
//	a notification (no id) -> the notification demo.noted {"method": m}
//	anything else -> error -32601 (reason method_not_found)
//
// SIGINT (the app manager's stop) ends it cleanly.
const rpcAppPy = `import base64, hashlib, json, os, socket, struct, sys, threading, time

PORT = %d
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

def recv_exact(c, n):
    b = b""
    while len(b) < n:
        chunk = c.recv(n - len(b))
        if not chunk:
            raise EOFError()
        b += chunk
    return b

def send_frame(c, lock, text, opcode=1):
    data = text.encode() if isinstance(text, str) else text
    head = bytes([0x80 | opcode])
    n = len(data)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    with lock:
        c.sendall(head + data)

def serve(c):
    lock = threading.Lock()
    req = b""
    while b"\r\n\r\n" not in req:
        chunk = c.recv(4096)
        if not chunk:
            return
        req += chunk
    lines = req.split(b"\r\n")
    path = lines[0].split(b" ")[1]
    key = None
    for l in lines[1:]:
        if l.lower().startswith(b"sec-websocket-key:"):
            key = l.split(b":", 1)[1].strip().decode()
    if path != b"/rpc" or key is None:
        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        return
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %%s\r\n\r\n" %% accept).encode())
    while True:
        b0, b1 = recv_exact(c, 2)
        op, n = b0 & 0x0F, b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", recv_exact(c, 2))[0]
        elif n == 127:
            n = struct.unpack(">Q", recv_exact(c, 8))[0]
        mask = recv_exact(c, 4) if b1 & 0x80 else b"\0\0\0\0"
        data = bytes(x ^ mask[i %% 4] for i, x in enumerate(recv_exact(c, n)))
        if op == 8:
            return
        if op == 9:
            send_frame(c, lock, data, 10)
            continue
        if op != 1:
            continue
        msg = json.loads(data)
        mid, method, params = msg.get("id"), msg.get("method"), msg.get("params", {})
        if mid is None:
            send_frame(c, lock, json.dumps({"jsonrpc": "2.0", "method": "demo.noted", "params": {"method": method}}))
        elif method == "demo.echo":
            send_frame(c, lock, json.dumps({"jsonrpc": "2.0", "id": mid, "result": {"echo": params, "pid": os.getpid()}}))
        elif method == "demo.notify":
            send_frame(c, lock, json.dumps({"jsonrpc": "2.0", "method": "demo.event", "params": {"n": 1}}))
            send_frame(c, lock, json.dumps({"jsonrpc": "2.0", "id": mid, "result": {"ok": True}}))
        else:
            send_frame(c, lock, json.dumps({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "no such method", "data": {"reason": "method_not_found"}}}))

def handle(c):
    try:
        serve(c)
    except Exception:
        pass
    finally:
        c.close()

def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", PORT))
    s.listen(8)
    def accept():
        while True:
            c, _ = s.accept()
            threading.Thread(target=handle, args=(c,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    print("rpc app listening", PORT, flush=True)
    try:
        while True:
            time.sleep(0.1)
    except KeyboardInterrupt:
        print("stopping cleanly", flush=True)
        sys.exit(0)

main()
`

// writeRPCApp writes an exec app running rpcAppPy, with custom_app_url
// http://0.0.0.0:<port> in its manifest.
func writeRPCApp(t *testing.T, name string, port int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"reachy-app.yaml": fmt.Sprintf("name: %s\ndescription: JSON-RPC test app\ncommand: [\"./run.sh\"]\ncustom_app_url: http://0.0.0.0:%d\n", name, port),
		"run.sh":          "#!/bin/sh\nexec python3 -u \"$(dirname \"$0\")/app.py\"\n",
		"app.py":          fmt.Sprintf(rpcAppPy, port),
	}
	for p, content := range files {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rpc sends a JSON-RPC request on the data channel and waits for the
// reply with its id.
func rpc(t *testing.T, c *webrtctest.Consumer, id any, method string, params map[string]any) map[string]any {
	t.Helper()
	req := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	r, err := c.Command(ctx, req, func(m map[string]any) bool { return m["jsonrpc"] == "2.0" && fmt.Sprint(m["id"]) == fmt.Sprint(id) })
	if err != nil {
		t.Fatalf("%s (id %v): %v", method, id, err)
	}
	return r
}

func rpcReason(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	d, _ := e["data"].(map[string]any)
	s, _ := d["reason"].(string)
	return s
}

func waitFrame(t *testing.T, c *webrtctest.Consumer, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.WaitReply(ctx, match)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return r
}

// TestJSONRPCDataChannel drives the JSON-RPC surface through a real pion
// data channel: apps.start of an app serving /rpc, a method relayed to it,
// its notifications, apps.status, apps.install, apps.stop.
func TestJSONRPCDataChannel(t *testing.T) {
	requireMedia(t)
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no python3")
	}
	port := freePort(t)
	d := startMediaDaemon(t)
	d.installLocal("rpcdemo", writeRPCApp(t, "rpcdemo", port))
	// /ws/sdk takes no JSON-RPC (the reference parses only its command
	// union there): the apps.start is dropped, the command after it runs.
	sdk := d.dialSDK()
	sdk.send(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "apps.start", "params": map[string]any{"name": "rpcdemo"}})
	sdk.send(map[string]any{"type": "set_motor_mode", "mode": "enabled"})
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var st map[string]any
		d.getJSON("/api/motors/status", &st)
		if st["mode"] == "enabled" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the command after the JSON-RPC frame never ran: %v", st)
		}
	}
	if st := d.appStatus(); st != nil {
		t.Fatalf("a JSON-RPC apps.start on /ws/sdk started the app: %v", st)
	}
	for _, f := range sdk.snapshot() {
		if f.data["jsonrpc"] != nil {
			t.Errorf("/ws/sdk answered JSON-RPC: %s", f.raw)
		}
	}

	a := dialConsumer(t, d.signallingURL(), nil)
	b := dialConsumer(t, d.signallingURL(), nil)

	if r := rpc(t, a, 1, "apps.status", nil); fmt.Sprint(r["result"]) != "map[error:<nil> info:<nil> state:idle]" {
		t.Fatalf("idle status %v", r)
	}
	if r := rpc(t, a, 2, "demo.echo", nil); rpcReason(r) != "not_running" {
		t.Fatalf("relay without an app %v", r)
	}
	r := rpc(t, a, "start", "apps.start", map[string]any{"name": "rpcdemo"})
	res, _ := r["result"].(map[string]any)
	if res == nil || res["info"].(map[string]any)["name"] != "rpcdemo" || (res["state"] != "starting" && res["state"] != "running") {
		t.Fatalf("apps.start %v", r)
	}
	if r := rpc(t, a, 3, "apps.start", map[string]any{"name": "rpcdemo"}); rpcReason(r) != "already_running" {
		t.Fatalf("second apps.start %v", r)
	}
	if st := d.lockState(); st != "local_app" {
		t.Errorf("lock %s while the app runs", st)
	}

	// The app's server comes up shortly after its process: retry while it
	// cannot be reached.
	var echo map[string]any
	for end, i := time.Now().Add(20*time.Second), 0; ; i++ {
		echo = rpc(t, a, fmt.Sprintf("e%d", i), "demo.echo", map[string]any{"text": "hello"})
		if rpcReason(echo) != "app_unavailable" || time.Now().After(end) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	er, _ := echo["result"].(map[string]any)
	if er == nil || fmt.Sprint(er["echo"]) != "map[text:hello]" {
		t.Fatalf("relayed echo %v", echo)
	}
	if r := rpc(t, a, 40, "demo.nope", nil); rpcReason(r) != "method_not_found" || r["id"] != float64(40) {
		t.Fatalf("app error %v", r)
	}

	// The app's notification reaches both peers; the reply only the caller.
	if r := rpc(t, a, 41, "demo.notify", nil); fmt.Sprint(r["result"]) != "map[ok:true]" {
		t.Fatalf("demo.notify %v", r)
	}
	isEvent := func(m map[string]any) bool { return m["method"] == "demo.event" }
	waitFrame(t, a, "the app's notification at the caller", isEvent)
	waitFrame(t, b, "the app's notification at the other peer", isEvent)

	// A notification to the app is forwarded and never answered.
	if err := a.Send(map[string]any{"jsonrpc": "2.0", "method": "demo.tell", "params": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	waitFrame(t, b, "the app's acknowledgement of the notification", func(m map[string]any) bool { return m["method"] == "demo.noted" })
	waitFrame(t, a, "the app's acknowledgement of the notification", func(m map[string]any) bool { return m["method"] == "demo.noted" })
	if r := rpc(t, a, 42, "apps.status", nil); r["result"].(map[string]any)["state"] != "running" {
		t.Fatalf("status while running %v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	isResponse := func(m map[string]any) bool {
		_, res := m["result"]
		_, er := m["error"]
		return m["jsonrpc"] == "2.0" && (res || er)
	}
	if stray, err := a.WaitReply(ctx, isResponse); err == nil {
		t.Errorf("an unexpected response at the caller: %v", stray)
	}
	if stray, err := b.WaitReply(ctx, isResponse); err == nil {
		t.Errorf("the other peer got a response: %v", stray)
	}

	// apps.install of an installed app; of one the catalogue cannot give.
	if r := rpc(t, a, 50, "apps.install", map[string]any{"name": "rpcdemo"}); fmt.Sprint(r["result"]) != "map[installed:true]" {
		t.Fatalf("apps.install of an installed app %v", r)
	}
	if r := rpc(t, a, 51, "apps.install", map[string]any{"name": "not-anywhere"}); rpcReason(r) != "install_failed" {
		t.Fatalf("apps.install of an unknown app %v", r)
	}

	// apps.stop: the app ends, the relay's socket with it.
	if r := rpc(t, a, 60, "apps.stop", nil); fmt.Sprint(r["result"]) != "map[stopped:true]" {
		t.Fatalf("apps.stop %v", r)
	}
	if r := rpc(t, a, 61, "apps.status", nil); fmt.Sprint(r["result"]) != "map[error:<nil> info:<nil> state:idle]" {
		t.Fatalf("status after stop %v", r)
	}
	if r := rpc(t, a, 62, "demo.echo", nil); rpcReason(r) != "not_running" {
		t.Fatalf("relay after stop %v", r)
	}
	if st := d.lockState(); st != "free" {
		t.Errorf("lock %s after stop", st)
	}
	if strings.Contains(fmt.Sprint(d.appStatus()), "rpcdemo") {
		t.Errorf("app status after stop: %v", d.appStatus())
	}
}

// TestJSONRPCInstallFromCatalogue: apps.install installs a missing app from
// the (fake) Hugging Face catalogue and answers once it is installed.
func TestJSONRPCInstallFromCatalogue(t *testing.T) {
	requireMedia(t)
	hf, _ := fakeSpaces(t)
	d := startMediaDaemon(t, "--hf-endpoint", hf.URL)
	c := dialConsumer(t, d.signallingURL(), nil)
	if r := rpc(t, c, 1, "apps.install", map[string]any{"name": "wave"}); fmt.Sprint(r["result"]) != "map[installed:true]" {
		t.Fatalf("apps.install %v", r)
	}
	var installed []map[string]any
	d.getJSON("/api/apps/list-available/installed", &installed)
	if len(installed) != 1 || installed[0]["name"] != "wave" {
		t.Fatalf("installed after apps.install: %v", installed)
	}
	if r := rpc(t, c, 2, "apps.install", map[string]any{"name": "wave"}); fmt.Sprint(r["result"]) != "map[installed:true]" {
		t.Fatalf("second apps.install %v", r)
	}
	if r := rpc(t, c, 3, "apps.install", map[string]any{"name": "missing"}); rpcReason(r) != "install_failed" {
		t.Fatalf("apps.install of an app not in the catalogue %v", r)
	}
}
