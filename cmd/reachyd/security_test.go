package main

// Attacks on the daemon, as a web page, a client on the network or a bad
// packet would try them (issue 8). Each test fails without its defence.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/internal/deathsig"
)

// motorMode reads the motors' mode.
func (d *testDaemon) motorMode() string {
	d.t.Helper()
	var st map[string]any
	d.getJSON("/api/motors/status", &st)
	m, _ := st["mode"].(string)
	return m
}

// A page on another origin cannot change the robot's state with a form or a
// no-cors fetch; the SDKs, curl and the desktop and mobile apps can.
func TestCrossOriginStateChangesRefused(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	if m := d.motorMode(); m != "enabled" {
		t.Fatalf("motors start %q", m)
	}
	foreign := []map[string]string{
		{"Origin": "https://evil.example"},
		{"Origin": "null"}, // sandboxed frames, file:// pages
		{"Origin": "http://192.168.1.20:8000"},
		{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site", "Origin": "http://robot.example:3000"},
		{"Origin": "http://localhost.evil.example"},
	}
	routes := []struct{ method, path, ctype, body string }{
		{"POST", "/api/motors/set_mode/disabled", "", ""},
		{"POST", "/api/motors/set_mode/disabled", "application/x-www-form-urlencoded", "a=b"},
		{"POST", "/api/motors/set_mode/disabled", "text/plain", "{}"},
		{"POST", "/api/daemon/robot-name", "application/json", `{"name":"pwned"}`},
		{"POST", "/api/daemon/stop", "", ""},
		{"POST", "/api/apps/remove/anything", "", ""},
		{"PUT", "/api/apps/startup-app", "application/json", `{"name":"x"}`},
		{"POST", "/api/move/play/goto_sleep", "", ""},
		{"DELETE", "/api/daemon/status", "", ""},
	}
	for _, hdr := range foreign {
		for _, r := range routes {
			code, body := d.doHeaders(r.method, r.path, r.ctype, r.body, hdr)
			if code != http.StatusForbidden || !strings.Contains(string(body), `"detail":"Cross-origin request refused`) {
				t.Errorf("%s %s with %v: %d %s, want 403", r.method, r.path, hdr, code, body)
			}
		}
	}
	if m := d.motorMode(); m != "enabled" {
		t.Fatalf("a refused request changed the motors to %q", m)
	}
	var name map[string]any
	d.getJSON("/api/daemon/robot-name", &name)
	if name["name"] == "pwned" {
		t.Fatal("a refused request renamed the robot")
	}
	if st := d.waitState("running"); st["state"] != "running" {
		t.Fatal("a refused request stopped the daemon")
	}
	// Reads are not refused: CORS keeps their answer from a foreign page.
	if code, _ := d.doHeaders("GET", "/api/daemon/status", "", "", foreign[0]); code != 200 {
		t.Fatalf("GET from a foreign origin: %d", code)
	}

	// The clients that must keep working, each with what it sends: the
	// Python SDK and curl (no Origin), the desktop app (Tauri webviews, whose
	// Chromium-based ones say cross-site), the mobile app (Capacitor), a
	// development page on localhost, and a page served by the robot itself.
	allowed := []map[string]string{
		nil,
		{"User-Agent": "curl/8.5.0"},
		{"Origin": "tauri://localhost", "Sec-Fetch-Site": "cross-site"},
		{"Origin": "http://tauri.localhost", "Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://tauri.localhost"},
		{"Origin": "capacitor://localhost"},
		{"Origin": "http://localhost:5173", "Sec-Fetch-Site": "same-site"},
		{"Origin": d.base, "Sec-Fetch-Site": "same-origin"},
		{"Origin": d.base},
		{"Sec-Fetch-Site": "none"}, // typed in the address bar
	}
	for i, hdr := range allowed {
		mode := []string{"disabled", "enabled"}[i%2]
		code, body := d.doHeaders("POST", "/api/motors/set_mode/"+mode, "", "", hdr)
		if code != 200 {
			t.Fatalf("set_mode/%s with %v: %d %s", mode, hdr, code, body)
		}
		if m := d.motorMode(); m != mode {
			t.Fatalf("set_mode/%s with %v left the motors %q", mode, hdr, m)
		}
	}
}

// The same attack from a real browser: a page on another origin posts a
// form and a no-cors fetch to the robot on localhost.
func TestCrossSiteAttackFromBrowser(t *testing.T) {
	chromium := findChromium(t)
	d := startDaemon(t)
	d.waitRunning()

	done := make(chan string, 4)
	page := fmt.Sprintf(`<!doctype html><html><body>
<form id="f" method="POST" action="%[1]s/api/motors/set_mode/disabled" target="sink"><input name="a" value="b"></form>
<iframe name="sink"></iframe>
<script>
fetch("%[1]s/api/motors/set_mode/disabled", {method: "POST", mode: "no-cors"})
  .catch(() => {})
  .finally(() => {
    document.querySelector("iframe").onload = () => fetch("/done?step=form");
    document.getElementById("f").submit();
    fetch("/done?step=fetch");
  });
</script></body></html>`, d.base)
	attacker := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/done" {
			done <- r.URL.Query().Get("step")
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go attacker.Serve(ln)
	defer attacker.Close()
	// The page's origin is http://attacker.test:<port>, a name the browser
	// resolves to loopback: a foreign site, as far as it knows.
	url := "http://attacker.test:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) + "/"
	stopBrowser := runChromium(t, chromium, url, "--host-resolver-rules=MAP attacker.test 127.0.0.1")
	defer stopBrowser()
	seen := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for len(seen) < 2 {
		select {
		case s := <-done:
			seen[s] = true
		case <-deadline:
			t.Fatalf("the attack page did not finish (saw %v)", seen)
		}
	}
	// The form's answer has loaded and the fetch has settled: had either
	// reached the handler, the motors would now be off.
	if m := d.motorMode(); m != "enabled" {
		t.Fatalf("a page on another origin turned the motors %s", m)
	}
}

// findChromium returns the browser the tests drive, or skips (CI installs
// it: .ci/run).
func findChromium(t testing.TB) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Skip("no Chromium here (apt-get install chromium)")
	return ""
}

// securityProbe is a raw WebSocket client: it offers permessage-deflate and
// can send frames no library would.
type securityProbe struct {
	nc   net.Conn
	br   *bufio.Reader
	resp *http.Response
}

func dialProbe(t *testing.T, hostport, path string) *securityProbe {
	t.Helper()
	nc, err := net.Dial("tcp", hostport)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n\r\n", path, hostport)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &securityProbe{nc: nc, br: br, resp: resp}
}

// sendFrame writes one masked client frame.
func (p *securityProbe) sendFrame(first byte, payload []byte) error {
	hdr := []byte{first, 0x80 | 127}
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(len(payload)))
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ mask[i%4]
	}
	_, err := p.nc.Write(append(hdr, masked...))
	return err
}

// closed waits for the server to end the connection (a close frame or
// EOF), reading and dropping what it sends meanwhile.
func (p *securityProbe) closed(within time.Duration) bool {
	_ = p.nc.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, p.br)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

// deflateBomb returns a permessage-deflate payload under 1 MiB that
// inflates to n bytes of zeros.
func deflateBomb(t *testing.T, n int) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	zeros := make([]byte, 1<<20)
	for left := n; left > 0; left -= len(zeros) {
		_, _ = w.Write(zeros[:min(left, len(zeros))])
	}
	_ = w.Flush()
	b := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff}) // RFC 7692 7.2.1
	if len(b) >= 1<<20 {
		t.Fatalf("bomb of %d bytes does not fit the read limit", len(b))
	}
	return b
}

// A compressed frame of under 1 MiB that would inflate to 768 MiB, sent to
// every WebSocket endpoint: compression is never negotiated, the frame is
// refused, and the daemon allocates next to nothing for it.
func TestCompressedWebSocketFramesBounded(t *testing.T) {
	d, topicsURL, key := topicsDaemon(t, "--allow-raw-bus")
	token := newV1(t, d.base, http.DefaultClient).login(key)["token"].(string)
	var job map[string]any
	code, body := d.do("POST", "/api/daemon/restart", nil)
	if code != 200 || json.Unmarshal(body, &job) != nil {
		t.Fatalf("restart: %d %s", code, body)
	}
	d.waitRunning()
	bomb := deflateBomb(t, 768<<20)
	apiHost := strings.TrimPrefix(d.base, "http://")
	topicsHost := strings.TrimSuffix(strings.TrimPrefix(topicsURL, "ws://"), "/")
	endpoints := []struct{ host, path string }{
		{apiHost, "/ws/sdk"},
		{apiHost, "/api/move/ws/set_target"},
		{apiHost, "/api/move/ws/updates"},
		{apiHost, "/api/state/ws/full"},
		{apiHost, "/api/move/ws/raw/write"},
		{apiHost, "/api/apps/ws/apps-manager/" + job["job_id"].(string)},
		{topicsHost, "/?token=" + token},
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, e := range endpoints {
		p := dialProbe(t, e.host, e.path)
		if p.resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%s: handshake %d", e.path, p.resp.StatusCode)
		}
		if ext := p.resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
			t.Errorf("%s negotiated %q", e.path, ext)
		}
		opcode := byte(0x1)
		if strings.Contains(e.path, "raw") {
			opcode = 0x2
		}
		// FIN, RSV1 (compressed). A write error means the server has
		// closed the connection already (a finished job's log ends at once).
		if err := p.sendFrame(0x80|0x40|opcode, bomb); err != nil {
			t.Logf("%s: %v", e.path, err)
			continue
		}
		if !p.closed(10 * time.Second) {
			t.Errorf("%s kept a connection that sent a compressed frame", e.path)
		}
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %.1f MiB while %d endpoints each received a frame inflating to 768 MiB", float64(allocated)/(1<<20), len(endpoints))
	if allocated > 64<<20 {
		t.Fatalf("the daemon allocated %d MiB under the inflate attack", allocated>>20)
	}
	d.waitRunning()
}

// The raw bus route is off unless asked for.
func TestRawBusOffByDefault(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	_, resp, err := websocket.DefaultDialer.Dial(d.ws+"/api/move/ws/raw/write", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("raw bus without --allow-raw-bus: %v %v", resp, err)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "--allow-raw-bus") {
		t.Fatalf("the refusal does not say how to turn it on: %s", b)
	}
}

// At most --max-websockets clients at once; a place frees when one leaves.
func TestWebSocketCap(t *testing.T) {
	d := startDaemon(t, "--max-websockets", "3")
	d.waitRunning()
	var conns []*websocket.Conn
	for i := 0; i < 3; i++ {
		c, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/move/ws/updates", nil)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	_, resp, err := websocket.DefaultDialer.Dial(d.ws+"/ws/sdk", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a 4th client: %v %v", resp, err)
	}
	conns[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _, err := websocket.DefaultDialer.Dial(d.ws+"/ws/sdk", nil)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no place freed after a client left: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// At most --max-connections connections on a listener: the next waits
// until one closes, and is then served.
func TestConnectionCap(t *testing.T) {
	d := startDaemon(t, "--max-connections", "4")
	d.waitRunning()
	http.DefaultClient.CloseIdleConnections() // its kept-alive connection would hold a place
	host := strings.TrimPrefix(d.base, "http://")
	var idle []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /api/daemon/robot-name HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection %d: %v", i, err)
		}
		idle = append(idle, c) // kept alive, holding its place
	}
	served := make(chan int, 1)
	go func() {
		cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := cl.Get(d.base + "/api/daemon/robot-name")
		if err != nil {
			served <- -1
			return
		}
		resp.Body.Close()
		served <- resp.StatusCode
	}()
	select {
	case code := <-served:
		t.Fatalf("a 5th connection was served (%d) while 4 were open", code)
	case <-time.After(500 * time.Millisecond):
	}
	idle[0].Close()
	select {
	case code := <-served:
		if code != 200 {
			t.Fatalf("the waiting connection got %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting connection was not served after a place freed")
	}
}

// The robot name refuses control characters and bidirectional overrides,
// which would disguise it in apps and forge log lines.
func TestRobotNameRefusesControlCharacters(t *testing.T) {
	d := startDaemon(t)
	for _, bad := range []string{"robot\nlevel=ERROR msg=forged", "a\x00b", "a\x1b[31mred", "\u202Eevil", "x\u2066y\u2069", "tab\there", "a\u200fb", "del\x7f"} {
		body, _ := json.Marshal(map[string]string{"name": bad})
		code, out := d.do("POST", "/api/daemon/robot-name", string(body))
		var v struct {
			Detail []struct {
				Type string `json:"type"`
				Loc  []any  `json:"loc"`
			} `json:"detail"`
		}
		if code != 422 || json.Unmarshal(out, &v) != nil || len(v.Detail) != 1 || v.Detail[0].Type != "value_error" {
			t.Errorf("name %q: %d %s", bad, code, out)
		}
	}
	var n map[string]any
	d.getJSON("/api/daemon/robot-name", &n)
	if n["name"] != "reachy_mini" {
		t.Fatalf("a refused name was saved: %v", n)
	}
	for _, good := range []string{"Reachy de l'école", "ロボット", "r2-d2 😀"} {
		body, _ := json.Marshal(map[string]string{"name": good})
		if code, out := d.do("POST", "/api/daemon/robot-name", string(body)); code != 200 {
			t.Errorf("name %q refused: %d %s", good, code, out)
		}
	}
}

// Audio uploaded over /ws/sdk is kept in the data folder, not in a fixed
// folder of /tmp that another user could prepare.
func TestAudioUploadsStayInDataDir(t *testing.T) {
	dataDir := t.TempDir()
	d := startDaemon(t, "--data-dir", dataDir)
	d.waitRunning()
	c := d.dialSDK()
	wav := []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
	c.send(map[string]any{"type": "upload_audio_start", "upload_id": "hello", "total_chunks": 1, "encoding": "wav-base64"})
	c.send(map[string]any{"type": "upload_audio_chunk", "upload_id": "hello", "chunk_index": 0, "chunk": wav})
	c.send(map[string]any{"type": "upload_audio_finish", "upload_id": "hello"})
	want := filepath.Join(dataDir, "uploads", "audio", "hello.wav")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if fi, err := os.Stat(want); err == nil {
			if fi.Mode().Perm()&0o077 != 0 {
				t.Fatalf("%s is readable by others: %v", want, fi.Mode())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no upload at %s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), "reachy-mini-uploads", "audio", "hello.wav")); err == nil {
		t.Fatal("the upload went to the system temporary folder")
	}
}

// An error answer names the file that failed, never the server's folders.
func TestErrorsDoNotRevealServerPaths(t *testing.T) {
	dataDir := t.TempDir()
	d := startDaemon(t, "--data-dir", dataDir)
	d.waitRunning()
	// The robot name cannot be saved: its file's place is a non-empty folder.
	if err := os.MkdirAll(filepath.Join(dataDir, "robot_name.json", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	code, body := d.do("POST", "/api/daemon/robot-name", map[string]string{"name": "newname"})
	if code < 400 {
		t.Fatalf("saving over a folder: %d %s", code, body)
	}
	if strings.Contains(string(body), dataDir) || strings.Contains(string(body), os.TempDir()+"/") {
		t.Fatalf("the error reveals a server path: %s", body)
	}
	if !strings.Contains(string(body), "robot_name.json") {
		t.Fatalf("the error does not name the file: %s", body)
	}
}

// Clients that send bad frames as fast as they can get a few log lines a
// second, not one per frame.
func TestBadFramesLoggedAtMostAFewTimesASecond(t *testing.T) {
	var logs lockedBuffer
	d := startDaemonLog(t, &logs, "--log-level", "DEBUG")
	d.waitRunning()
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := websocket.DefaultDialer.Dial(d.ws+"/ws/sdk", nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for j := 0; j < 500; j++ {
				if c.WriteMessage(websocket.TextMessage, []byte(`{"type": 1`)) != nil {
					return
				}
			}
		}()
		for j := 0; j < 50; j++ {
			d.doHeaders("POST", "/api/motors/set_mode/disabled", "", "", map[string]string{"Origin": "https://evil.example"})
		}
	}
	wg.Wait()
	elapsed := time.Since(t0)
	text := logs.String()
	bad := strings.Count(text, `msg="WS invalid message"`) + strings.Count(text, `msg="cross-origin request refused"`)
	if bad == 0 {
		t.Fatal("the bad frames were not logged at all")
	}
	// The gateway's throttle allows 5 lines in each second.
	if limit := 5 * (int(elapsed.Seconds()) + 2); bad > limit {
		t.Fatalf("%d lines for 2200 bad frames and requests in %v (at most %d)", bad, elapsed, limit)
	}
	if !strings.Contains(text, "suppressed=") && elapsed > time.Second {
		t.Fatal("no line says how many were held back")
	}
}

// runChromium opens url in a headless Chromium and returns a function that
// closes it. Loopback only: no background networking.
func runChromium(t *testing.T, bin, url string, extra ...string) func() {
	t.Helper()
	return runChromiumIn(t, nil, bin, url, extra...)
}

// runChromiumIn is runChromium with a command prefix (ip netns exec NS).
func runChromiumIn(t testing.TB, prefix []string, bin, url string, extra ...string) func() {
	t.Helper()
	args := append([]string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
		"--disable-extensions", "--user-data-dir=" + t.TempDir(), "--remote-debugging-port=0"}, extra...)
	argv := append(append(append([]string(nil), prefix...), bin), append(args, url)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("chromium said:\n%s", out.String())
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
