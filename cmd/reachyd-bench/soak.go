package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// soakOptions configure the soak scenario.
type soakOptions struct {
	bin        string
	duration   time.Duration
	chaosEvery time.Duration
	sample     time.Duration
	clients    int
}

// soakSample is one row of the soak table: the process's figures at the
// end of a sampling window, and the rates over it.
type soakSample struct {
	at         time.Duration
	rssKB      int
	fds        int
	threads    int
	goroutines int     // -1: the status did not answer
	heapMB     float64 // the live Go heap after the last GC, from the status
	ticks      float64 // joint_positions frames a second seen by an observer client: the control rate
	clientRate float64 // the same, per streaming client
	statusHz   float64 // mean of the status's control rate (last second's), polled every second
	reconnects int64
	crashes    int
	notRunning int // status polls in the window that did not say running
}

// soak runs the daemon on the simulator with --chaos-every (one actor
// crashed in turn), SDK clients streaming targets at 50 Hz and reading the
// state stream, and samples the daemon's resident memory, open files,
// threads, goroutines and control rate. It prints a table as it goes, then
// the first and last samples side by side and the trends.
func soak(o soakOptions) {
	port := freePort()
	dir, _ := os.MkdirTemp("", "reachyd-soak")
	logPath := filepath.Join(dir, "reachyd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		fail(err)
	}
	defer logFile.Close()
	args := []string{"--backend", "sim", "--fastapi-port", strconv.Itoa(port), "--data-dir", dir,
		"--no-wake-up-on-start", "--no-goto-sleep-on-stop", "--log-level", "WARNING", "--uds", "",
		"--topics-port", "0", "--camera", "test", "--rtsp-port", "0", "--chaos-every", o.chaosEvery.String()}
	skillHost := "on"
	if _, err := exec.LookPath("python3"); err != nil {
		args = append(args, "--no-skill-host")
		skillHost = "off (no python3)"
	}
	cmd := exec.Command(o.bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	p := &proc{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	pid := cmd.Process.Pid
	status := func() (state string, goroutines int, hz, heapMB float64, ok bool) {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + p.addr + "/api/daemon/status")
		if err != nil {
			return "", 0, 0, 0, false
		}
		defer resp.Body.Close()
		var st struct {
			State   string `json:"state"`
			Reachyd struct {
				Runtime *struct {
					Goroutines int      `json:"goroutines"`
					Hz         *float64 `json:"mean_control_loop_frequency"`
					HeapLive   float64  `json:"heap_live_bytes"`
				} `json:"runtime"`
			} `json:"reachyd"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&st) != nil || st.Reachyd.Runtime == nil {
			return "", 0, 0, 0, false
		}
		if st.Reachyd.Runtime.Hz != nil {
			hz = *st.Reachyd.Runtime.Hz
		}
		return st.State, st.Reachyd.Runtime.Goroutines, hz, st.Reachyd.Runtime.HeapLive / (1 << 20), true
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if st, _, _, _, ok := status(); ok && st == "running" {
			break
		}
		if time.Now().After(deadline) {
			p.stop()
			fail(fmt.Errorf("the daemon did not reach running (log: %s)", logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("soak: pid %d, %v, one actor crashed every %v (round robin), %d SDK clients streaming targets at 50 Hz, skill host %s, camera test pattern; log %s\n",
		pid, o.duration, o.chaosEvery, o.clients, skillHost, logPath)

	ctx, cancel := context.WithCancel(context.Background())
	// Client 0 only reads (the observer); the others stream targets.
	frames := make([]atomic.Int64, o.clients+1)
	var reconnects atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i <= o.clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sdkStreamer(ctx, "ws://"+p.addr+"/ws/sdk", i > 0, &frames[i], &reconnects)
		}(i)
	}

	fmt.Printf("%8s %8s %8s %5s %7s %10s %8s %9s %9s %10s %7s %8s\n",
		"t", "RSS MB", "heap MB", "fds", "threads", "goroutines", "ticks/s", "client/s", "status Hz", "reconnects", "crashes", "!running")
	var rows []soakSample
	start := time.Now()
	poll := time.NewTicker(time.Second)
	var window struct {
		sum          float64
		n, notRun    int
		goroutines   int
		heapMB       float64
		lastObserved int64
		lastClients  int64
		lastSampleAt time.Time
	}
	resetWindow := func() {
		window.sum, window.n, window.notRun, window.goroutines = 0, 0, 0, -1
	}
	resetWindow()
	window.lastSampleAt = start
	for time.Since(start) < o.duration {
		<-poll.C
		st, g, hz, heap, ok := status()
		if !ok || st != "running" {
			window.notRun++
		}
		if ok {
			window.goroutines, window.heapMB = g, heap
			window.sum += hz
			window.n++
		}
		if time.Since(window.lastSampleAt) < o.sample-time.Second/2 {
			continue
		}
		now := time.Now()
		observed, clients := frames[0].Load(), int64(0)
		for i := 1; i < len(frames); i++ {
			clients += frames[i].Load()
		}
		dt := now.Sub(window.lastSampleAt).Seconds()
		r := soakSample{at: now.Sub(start).Round(time.Second), goroutines: window.goroutines, heapMB: window.heapMB,
			ticks:      float64(observed-window.lastObserved) / dt,
			clientRate: float64(clients-window.lastClients) / dt / float64(max(1, o.clients)),
			reconnects: reconnects.Load(), crashes: countLines(logPath, "chaos: crashing an actor"), notRunning: window.notRun}
		if window.n > 0 {
			r.statusHz = window.sum / float64(window.n)
		}
		r.rssKB, r.threads = procStatus(pid)
		r.fds = countFDs(pid)
		rows = append(rows, r)
		fmt.Printf("%8v %8.1f %8.2f %5d %7d %10d %8.2f %9.2f %9.2f %10d %7d %8d\n",
			r.at, float64(r.rssKB)/1024, r.heapMB, r.fds, r.threads, r.goroutines, r.ticks, r.clientRate, r.statusHz, r.reconnects, r.crashes, r.notRunning)
		window.lastObserved, window.lastClients, window.lastSampleAt = observed, clients, now
		resetWindow()
	}
	poll.Stop()
	cancel()
	wg.Wait()
	p.stop()
	exit := "exit code " + strconv.Itoa(cmd.ProcessState.ExitCode())
	if len(rows) < 2 {
		fmt.Println("soak: too short for a comparison")
		return
	}
	first, last := rows[0], rows[len(rows)-1]
	fmt.Printf("\nfirst (%v) -> last (%v) sample:\n", first.at, last.at)
	fmt.Printf("  RSS         %.1f MB -> %.1f MB (%+.1f MB; trend %+.2f MB/10 min, max %.1f MB)\n",
		float64(first.rssKB)/1024, float64(last.rssKB)/1024, float64(last.rssKB-first.rssKB)/1024,
		trend(rows, func(r soakSample) float64 { return float64(r.rssKB) / 1024 })*600, maxOf(rows, func(r soakSample) float64 { return float64(r.rssKB) / 1024 }))
	fmt.Printf("  live heap   %.2f MB -> %.2f MB (trend %+.3f MB/10 min, max %.2f MB)\n", first.heapMB, last.heapMB,
		trend(rows, func(r soakSample) float64 { return r.heapMB })*600, maxOf(rows, func(r soakSample) float64 { return r.heapMB }))
	fmt.Printf("  goroutines  %d -> %d (trend %+.2f/10 min, max %.0f)\n", first.goroutines, last.goroutines,
		trend(rows, func(r soakSample) float64 { return float64(r.goroutines) })*600, maxOf(rows, func(r soakSample) float64 { return float64(r.goroutines) }))
	fmt.Printf("  open fds    %d -> %d (trend %+.2f/10 min, max %.0f)\n", first.fds, last.fds,
		trend(rows, func(r soakSample) float64 { return float64(r.fds) })*600, maxOf(rows, func(r soakSample) float64 { return float64(r.fds) }))
	fmt.Printf("  threads     %d -> %d\n", first.threads, last.threads)
	minTicks, minClient, sumTicks := math.Inf(1), math.Inf(1), 0.0
	for _, r := range rows {
		minTicks = math.Min(minTicks, r.ticks)
		minClient = math.Min(minClient, r.clientRate)
		sumTicks += r.ticks
	}
	fmt.Printf("  control rate (state frames/s seen by a reading client): mean %.2f, lowest %v window %.2f\n", sumTicks/float64(len(rows)), o.sample, minTicks)
	fmt.Printf("  streaming clients: lowest %v window %.2f frames/s per client\n", o.sample, minClient)
	fmt.Printf("  %d actor crashes injected, %d client reconnects, respawns %d, unrecoverable %d, daemon %s\n",
		last.crashes, last.reconnects, countLines(logPath, "directive=respawn"), countLines(logPath, "directive=unrecoverable"), exit)
}

// sdkStreamer is one SDK client: it streams a slowly turning head at 50 Hz
// and counts the joint_positions frames it receives, and reconnects when
// the daemon closes it (a crash of the daemon actor restarts the backend,
// which closes /ws/sdk clients with 1001).
func sdkStreamer(ctx context.Context, url string, stream bool, frames *atomic.Int64, reconnects *atomic.Int64) {
	sessions := 0
	for i := 0; ctx.Err() == nil; {
		c, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			got := false
			for {
				_, m, err := c.ReadMessage()
				if err != nil {
					return
				}
				if len(m) > 24 && string(m[9:24]) == "joint_positions" {
					frames.Add(1)
					if !got {
						// A session that streams (a refused one, while the
						// backend restarts, is closed at once with 1013).
						got = true
						if sessions++; sessions > 1 {
							reconnects.Add(1)
						}
					}
				}
			}
		}()
		t := time.NewTicker(20 * time.Millisecond)
		for ; ; i++ {
			select {
			case <-ctx.Done():
			case <-done:
			case <-t.C:
				if !stream {
					continue
				}
				yaw := 0.2 * math.Sin(float64(i)/100)
				s, co := math.Sincos(yaw)
				msg := fmt.Sprintf(`{"type":"set_target","head":[%g,%g,0,0,%g,%g,0,0,0,0,1,0,0,0,0,1]}`, co, -s, s, co)
				if c.WriteMessage(websocket.TextMessage, []byte(msg)) == nil {
					continue
				}
			}
			break
		}
		t.Stop()
		c.Close()
		<-done
		time.Sleep(20 * time.Millisecond)
	}
}

// procStatus reads VmRSS (kB) and Threads from /proc/<pid>/status.
func procStatus(pid int) (rssKB, threads int) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rssKB, _ = strconv.Atoi(f[1])
		case "Threads:":
			threads, _ = strconv.Atoi(f[1])
		}
	}
	return rssKB, threads
}

// countFDs counts the open file descriptors of a process.
func countFDs(pid int) int {
	es, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		return -1
	}
	return len(es)
}

// countLines counts the lines of a file that contain s.
func countLines(path, s string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(io.LimitReader(f, 1<<30))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

// trend is the least-squares slope of a figure over the samples, per
// second.
func trend(rows []soakSample, f func(soakSample) float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, r := range rows {
		x, y := r.at.Seconds(), f(r)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func maxOf(rows []soakSample, f func(soakSample) float64) float64 {
	m := math.Inf(-1)
	for _, r := range rows {
		m = math.Max(m, f(r))
	}
	return m
}
