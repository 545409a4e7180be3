package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// api is a small client of one daemon.
type api struct{ base string }

func (a api) call(method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (a api) get(path string, v any) {
	code, b := a.call("GET", path, nil)
	if code != 200 {
		fail(fmt.Errorf("GET %s: %d %s", path, code, b))
	}
	if err := json.Unmarshal(b, v); err != nil {
		fail(fmt.Errorf("GET %s: %v", path, err))
	}
}

func (a api) waitJob(id string) {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var info struct {
			Status string   `json:"status"`
			Logs   []string `json:"logs"`
		}
		a.get("/api/apps/job-status/"+id, &info)
		switch info.Status {
		case "done":
			return
		case "failed":
			fail(fmt.Errorf("job %s failed: %s", id, strings.Join(info.Logs, "\n")))
		}
		time.Sleep(20 * time.Millisecond)
	}
	fail(fmt.Errorf("job %s did not end", id))
}

// install installs the app folder dir (reachyd's local-install extension).
func (a api) install(name, dir string) {
	code, b := a.call("POST", "/api/apps/install", map[string]any{"name": name, "source_kind": "local", "extra": map[string]any{"path": dir}})
	if code != 200 {
		fail(fmt.Errorf("install %s: %d %s", name, code, b))
	}
	var j struct {
		JobID string `json:"job_id"`
	}
	_ = json.Unmarshal(b, &j)
	a.waitJob(j.JobID)
}

func (a api) appState() (state, job string) {
	var st *struct {
		State   string `json:"state"`
		Reachyd struct {
			JobID string `json:"job_id"`
		} `json:"reachyd"`
	}
	a.get("/api/apps/current-app-status", &st)
	if st == nil {
		return "", ""
	}
	return st.State, st.Reachyd.JobID
}

func (a api) lockFree() bool {
	var st struct {
		State string `json:"state"`
	}
	a.get("/api/daemon/robot-app-lock-status", &st)
	return st.State == "free"
}

func writeFiles(dir string, files map[string]string, mode os.FileMode) {
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fail(err)
		}
		m := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") || strings.HasSuffix(name, ".py") {
			m = mode
		}
		if err := os.WriteFile(p, []byte(body), m); err != nil {
			fail(err)
		}
	}
}

// benchApps writes the apps the scenarios install.
func benchApps() (root string) {
	root, _ = os.MkdirTemp("", "reachyd-bench-apps")
	writeFiles(filepath.Join(root, "idle_sh"), map[string]string{
		"reachy-app.yaml": "name: idle_sh\ncommand: [\"./run.sh\"]\n",
		"run.sh":          "#!/bin/sh\ntrap 'exit 0' INT\necho up\nwhile :; do sleep 0.01; done\n",
	}, 0o755)
	writeFiles(filepath.Join(root, "idle_py"), map[string]string{
		"pyproject.toml": "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n" +
			"[project]\nname = \"idle_py\"\nversion = \"0.1.0\"\n\n[project.entry-points.reachy_mini_apps]\nidle_py = \"idle_py.main:App\"\n\n" +
			"[tool.setuptools]\npackages = [\"idle_py\"]\n",
		"idle_py/__init__.py": "",
		"idle_py/main.py": "import time\nclass App: pass\nif __name__ == '__main__':\n    print('up', flush=True)\n" +
			"    try:\n        while True: time.sleep(0.01)\n    except KeyboardInterrupt:\n        pass\n",
	}, 0o644)
	// 10 000 lines a second, 100 every 10 ms, each numbered.
	writeFiles(filepath.Join(root, "flood"), map[string]string{
		"reachy-app.yaml": "name: flood\ncommand: [\"./flood.py\"]\n",
		"flood.py": "#!/usr/bin/env python3\nimport sys, time\nn = 0\nt = time.monotonic()\ntry:\n" +
			"    while True:\n        out = []\n        for _ in range(100):\n" +
			"            out.append('line %d of the flood app, padded to about eighty bytes ........\\n' % n)\n            n += 1\n" +
			"        sys.stdout.write(''.join(out)); sys.stdout.flush()\n        t += 0.01\n" +
			"        d = t - time.monotonic()\n        if d > 0: time.sleep(d)\nexcept KeyboardInterrupt:\n    pass\n",
	}, 0o755)
	return root
}

// appCycles starts and stops each trivial app 20 times.
func appCycles(bin string) {
	d := startDaemon(bin, 50, "--app-stop-grace", "5", "--apps-local-dir", os.TempDir())
	defer d.stop()
	a := api{"http://" + d.addr}
	root := benchApps()
	defer os.RemoveAll(root)
	for _, name := range []string{"idle_sh", "idle_py"} {
		a.install(name, filepath.Join(root, name))
		var toRunning, toReleased []time.Duration
		for i := 0; i < 20; i++ {
			for !a.lockFree() {
				time.Sleep(time.Millisecond)
			}
			// Let the previous stop's rest-pose move end.
			time.Sleep(300 * time.Millisecond)
			t0 := time.Now()
			if code, b := a.call("POST", "/api/apps/start-app/"+name, nil); code != 200 {
				fail(fmt.Errorf("start %s: %d %s", name, code, b))
			}
			for {
				if st, _ := a.appState(); st == "running" {
					break
				}
				time.Sleep(time.Millisecond)
			}
			toRunning = append(toRunning, time.Since(t0))
			time.Sleep(200 * time.Millisecond) // the app is up and idle
			t0 = time.Now()
			if code, b := a.call("POST", "/api/apps/stop-current-app", nil); code != 200 {
				fail(fmt.Errorf("stop %s: %d %s", name, code, b))
			}
			for !a.lockFree() {
				time.Sleep(time.Millisecond)
			}
			toReleased = append(toReleased, time.Since(t0))
		}
		fmt.Printf("app %s (20 cycles): start-to-running median %v max %v; stop-to-released median %v max %v\n", name,
			median(toRunning), maxD(toRunning), median(toReleased), maxD(toReleased))
	}
}

// jobLog runs the flood app with 10 subscribers on its job's log stream
// (and one that never reads) and samples the daemon's resident memory every second.
func jobLog(bin string, dur time.Duration) {
	d := startDaemon(bin, 50, "--app-stop-grace", "5", "--apps-local-dir", os.TempDir())
	defer d.stop()
	a := api{"http://" + d.addr}
	root := benchApps()
	defer os.RemoveAll(root)
	a.install("flood", filepath.Join(root, "flood"))
	if code, b := a.call("POST", "/api/apps/start-app/flood", nil); code != 200 {
		fail(fmt.Errorf("start flood: %d %s", code, b))
	}
	_, job := a.appState()
	// One more subscriber never reads: the daemon must drop it, not buffer
	// for it.
	stalled, _, err := websocket.DefaultDialer.Dial("ws://"+d.addr+"/api/apps/ws/apps-manager/"+job, nil)
	if err != nil {
		fail(err)
	}
	defer stalled.Close()
	const subs = 10
	var lines [subs]atomic.Int64
	var last [subs]atomic.Int64
	var gaps atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, subs)
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+d.addr+"/api/apps/ws/apps-manager/"+job, nil)
		if err != nil {
			fail(err)
		}
		conns[i] = c
		wg.Add(1)
		go func(i int, c *websocket.Conn) {
			defer wg.Done()
			prev := int64(-1)
			for {
				_, m, err := c.ReadMessage()
				if err != nil {
					return
				}
				if !bytes.HasPrefix(m, []byte("line ")) {
					continue
				}
				f := bytes.Fields(m)
				n, _ := strconv.ParseInt(string(f[1]), 10, 64)
				if prev >= 0 && n != prev+1 {
					gaps.Add(1)
				}
				prev = n
				lines[i].Add(1)
				last[i].Store(n)
			}
		}(i, c)
	}
	var samples []int
	start := time.Now()
	for time.Since(start) < dur {
		time.Sleep(time.Second)
		kb, err := rss(d.cmd.Process.Pid)
		if err != nil {
			fail(err)
		}
		samples = append(samples, kb)
	}
	elapsed := time.Since(start)
	var total, minL int64
	minL = -1
	for i := range lines {
		n := lines[i].Load()
		total += n
		if minL < 0 || n < minL {
			minL = n
		}
	}
	var status struct {
		Logs []string `json:"logs"`
	}
	a.get("/api/apps/job-status/"+job, &status)
	_, _ = a.call("POST", "/api/apps/stop-current-app", nil)
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	peak := 0
	for _, s := range samples {
		peak = max(peak, s)
	}
	q := len(samples) / 4
	fmt.Printf("job log stream, flood app at 10000 lines/s, %d subscribers + 1 that never reads, %v: %.0f lines/s per subscriber (slowest %.0f), %d gaps; "+
		"daemon RSS %.1f MB after %ds, %.1f MB at the end, peak %.1f MB; job-status keeps %d lines\n",
		subs, elapsed.Round(time.Second), float64(total)/subs/elapsed.Seconds(), float64(minL)/elapsed.Seconds(), gaps.Load(),
		float64(samples[q])/1024, q+1, float64(samples[len(samples)-1])/1024, float64(peak)/1024, len(status.Logs))
}
