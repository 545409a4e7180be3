package host

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitLimit bounds every wait for the host's behaviour. It is a deadline,
// not an assertion on timing: the host normally answers in milliseconds.
const waitLimit = 30 * time.Second

// clientFrame is one line of the host's stdout.
type clientFrame struct {
	Action string          `json:"action"`
	Topic  string          `json:"topic"`
	Data   json.RawMessage `json:"data"`
}

// serverFrame is the frame object a publish carries.
type serverFrame struct {
	Name      string          `json:"name"`
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	RequestID json.RawMessage `json:"request_id"`
	Filename  *string         `json:"filename"`
	Finishing []string        `json:"finishing"`
}

// got is one frame read from the host, decoded.
type got struct {
	raw   []byte
	f     clientFrame
	inner serverFrame
}

// rpc is the decoded JSON-RPC text of a run's RPC_result.
type rpc struct {
	JSONRPC string `json:"jsonrpc"`
	ID      any    `json:"id"`
	Result  *struct {
		Value     json.RawMessage `json:"value"`
		Status    string          `json:"status"`
		Exception *string         `json:"exception"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// entry is one skill of a skills list.
type entry struct {
	SkillInfo  map[string]json.RawMessage `json:"skill_info"`
	Parameters []struct {
		Name       string          `json:"name"`
		Default    json.RawMessage `json:"default"`
		Annotation string          `json:"annotation"`
		Questions  []any           `json:"questions"`
		Required   bool            `json:"required"`
	} `json:"parameters"`
	Filename string `json:"filename"`
	Doc      string `json:"doc"`
}

type harness struct {
	t    *testing.T
	dir  string // the skills folder
	work string
	p    *Process

	mu      sync.Mutex
	frames  []got
	bad     []string // stdout lines that are not client frames
	logs    []string
	changed chan struct{} // closed and replaced whenever something arrives
	ended   chan struct{} // the Frames consumer is done
}

// needPython finds the interpreter: $REACHYD_TEST_PYTHON (to try another
// Python version) or python3.
func needPython(t *testing.T) string {
	t.Helper()
	name := os.Getenv("REACHYD_TEST_PYTHON")
	if name == "" {
		name = "python3"
	}
	py, err := exec.LookPath(name)
	if err != nil {
		t.Skip("python3 not found")
	}
	return py
}

// startHost writes files (relative path -> content) in a new skills folder
// and starts the real host on it.
func startHost(t *testing.T, files map[string]string, tweak ...func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), work: t.TempDir()}
	for rel, src := range files {
		h.write(rel, src)
	}
	return launch(t, h.dir, h.work, tweak...)
}

// restart starts a new host on the folders of h (which has exited), as
// the skills actor does after the host exits.
func (h *harness) restart(tweak ...func(*Options)) *harness {
	h.t.Helper()
	return launch(h.t, h.dir, h.work, tweak...)
}

func launch(t *testing.T, dir, work string, tweak ...func(*Options)) *harness {
	t.Helper()
	py := needPython(t)
	h := &harness{t: t, dir: dir, work: work, changed: make(chan struct{}), ended: make(chan struct{})}
	opt := Options{Python: py, SkillsDir: h.dir, WorkDir: h.work, ListInterval: 200 * time.Millisecond, Log: h.addLog}
	for _, f := range tweak {
		f(&opt)
	}
	p, err := Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	go h.consume()
	t.Cleanup(func() {
		p.Stop(5 * time.Second)
		<-h.ended
		if t.Failed() {
			h.mu.Lock()
			t.Logf("host (pid %d, %v) log:\n%s", p.Pid(), p.Err(), strings.Join(h.logs, "\n"))
			h.mu.Unlock()
		}
	})
	return h
}

func (h *harness) addLog(line string) {
	h.mu.Lock()
	h.logs = append(h.logs, line)
	h.mu.Unlock()
	h.poke()
}

func (h *harness) poke() {
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

func (h *harness) consume() {
	defer close(h.ended)
	for line := range h.p.Frames() {
		g := got{raw: line}
		err := json.Unmarshal(line, &g.f)
		if err == nil && g.f.Action == "publish" {
			err = json.Unmarshal(g.f.Data, &g.inner)
		}
		h.mu.Lock()
		if err != nil || g.f.Action == "" {
			h.bad = append(h.bad, string(line))
		} else {
			h.frames = append(h.frames, g)
		}
		h.mu.Unlock()
		h.poke()
	}
}

func (h *harness) write(rel, src string) {
	h.t.Helper()
	path := filepath.Join(h.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		h.t.Fatal(err)
	}
	// Atomic, as the daemon writes uploads: a scan never sees half a file.
	tmp := filepath.Join(h.work, "upload.tmp")
	if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		h.t.Fatal(err)
	}
}

// waitUntil waits for cond (called with h.mu held) to hold.
func (h *harness) waitUntil(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		ok := cond()
		ch := h.changed
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitFrame waits for a frame at index >= from matching pred and returns
// it with its index.
func (h *harness) waitFrame(what string, from int, pred func(got) bool) (got, int) {
	h.t.Helper()
	var found got
	idx := -1
	h.waitUntil(what, func() bool {
		for i := from; i < len(h.frames); i++ {
			if pred(h.frames[i]) {
				found, idx = h.frames[i], i
				return true
			}
		}
		return false
	})
	return found, idx
}

// count is the number of frames received so far.
func (h *harness) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.frames)
}

func (h *harness) send(v any) {
	h.t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := h.p.Send(b); err != nil {
		h.t.Fatal(err)
	}
}

// run sends an RPC_command run, as the daemon relays it.
func (h *harness) run(method string, params map[string]any, id string) {
	h.t.Helper()
	h.send(map[string]any{
		"name": "RPC_command", "type": "dict", "command": "run",
		"data": map[string]any{"jsonrpc": "2.0", "method": method, "params": params, "id": id},
	})
}

func (h *harness) cancel(skill, requestID string) {
	h.t.Helper()
	h.send(map[string]any{"name": "RPC_command", "type": "dict", "data": "", "command": "cancel",
		"skill_name": skill, "request_id": requestID})
}

// result waits for the RPC_result of run id.
func (h *harness) result(id string) rpc {
	h.t.Helper()
	var out rpc
	h.waitFrame("RPC_result "+id, 0, func(g got) bool {
		if g.f.Topic != "RPC_result" || g.inner.Name != "RPC_result" {
			return false
		}
		var text string
		if string(g.inner.Data) == "null" || json.Unmarshal(g.inner.Data, &text) != nil {
			return false // a cancel reply (data null)
		}
		var r rpc
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			h.t.Errorf("RPC_result data is not JSON-RPC text: %q", text)
			return false
		}
		if r.ID == id {
			out = r
			return true
		}
		return false
	})
	return out
}

// cancelReply waits for the reply to cancel request rid.
func (h *harness) cancelReply(rid string) serverFrame {
	h.t.Helper()
	g, _ := h.waitFrame("cancel reply "+rid, 0, func(g got) bool {
		return g.f.Topic == "RPC_result" && string(g.inner.RequestID) == fmt.Sprintf("%q", rid)
	})
	return g.inner
}

// list waits for a skills list (from frame index from) satisfying pred.
func (h *harness) list(what string, from int, pred func(map[string]entry) bool) (map[string]entry, int) {
	h.t.Helper()
	var out map[string]entry
	_, idx := h.waitFrame(what, from, func(g got) bool {
		if g.f.Topic != "skills_list_result" || g.inner.Name != "skills_list_result" || g.inner.Type != "dict" {
			return false
		}
		var m map[string]entry
		if err := json.Unmarshal(g.inner.Data, &m); err != nil {
			h.t.Errorf("skills list data: %v", err)
			return false
		}
		if pred(m) {
			out = m
			return true
		}
		return false
	})
	return out, idx
}

// has is a list predicate: these skills are listed.
func has(names ...string) func(map[string]entry) bool {
	return func(m map[string]entry) bool {
		for _, n := range names {
			if _, ok := m[n]; !ok {
				return false
			}
		}
		return true
	}
}

func anyList(map[string]entry) bool { return true }

// managerError waits for a skill_manager_errors frame for filename.
func (h *harness) managerError(what string, from int, filename string, pred func(string) bool) (string, int) {
	h.t.Helper()
	var text string
	_, idx := h.waitFrame(what, from, func(g got) bool {
		if g.f.Topic != "skill_manager_errors" || g.inner.Type != "str" || g.inner.Filename == nil || *g.inner.Filename != filename {
			return false
		}
		var s string
		if json.Unmarshal(g.inner.Data, &s) != nil || !pred(s) {
			return false
		}
		text = s
		return true
	})
	return text, idx
}

// logged reports whether a stderr line contains s.
func (h *harness) logged(s string) bool {
	for _, l := range h.logs {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// waitDone waits for the process to end and returns Err.
func (h *harness) waitDone() error {
	h.t.Helper()
	select {
	case <-h.p.Done():
	case <-time.After(waitLimit):
		h.t.Fatal("host did not exit")
	}
	<-h.ended
	return h.p.Err()
}

func value[T any](t *testing.T, r rpc) T {
	t.Helper()
	var v T
	if r.Result == nil {
		t.Fatalf("no result in %+v", r)
	}
	if err := json.Unmarshal(r.Result.Value, &v); err != nil {
		t.Fatalf("value %s: %v", r.Result.Value, err)
	}
	return v
}
