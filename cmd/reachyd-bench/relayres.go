package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"reachyd/actors/relay/centraltest"
)

// relayResources is the relay scenario's resources part: what the relay
// costs the daemon process (bin/reachyd) idle and while it reconnects, in
// CPU time (not wall clock: the machine is shared) and memory. Each phase
// is one window on one daemon; the figures of the process (RSS, live heap,
// goroutines, open files, threads) are read at the start of the window
// and at its end, once the relay is connected again and has settled, so
// that what a reconnection leaves behind shows as growth.
//
// Phases:
//   - no relay: the same daemon with --no-relay (media, no session), the
//     base the relay's cost is read against;
//   - idle: the relay connected to the fake central (written as the real
//     server writes its stream, a comment line every 15 s), heartbeats,
//     the split-brain polls, no session;
//   - drops: the fake central ends the relay's event stream every second.
//     The relay reconnects on its own schedule: the first retry after
//     5-5.5 s, and each connection that opens resets the backoff, so about
//     one reconnection every 5 s (the reference's policy), not 1 Hz;
//   - refresh: POST /api/hf-auth/refresh-relay every second, which forces
//     a new connection at once (the old stream closed, a new one opened,
//     welcome, setPeerStatus): reconnections at 1 Hz through the whole
//     path.
func relayResources(bin string, window time.Duration) {
	fmt.Printf("relay resources: the daemon process (%s, media on the test pattern, no remote session), %v windows, load average at start %s\n",
		bin, window, loadAvg())
	fmt.Printf("    %-34s %9s  %-15s  %-13s  %-11s  %-9s  %-9s  %6s  %s\n",
		"phase", "CPU s/min", "RSS MB", "heap MB", "goroutines", "fds", "threads", "conns", "others")

	// The base: no relay.
	base := startDaemonEnv(bin, 50, nil, append(mediaDaemonArgs(), "--no-relay", "--no-turn", "--no-mdns")...)
	waitMedia(base.addr)
	time.Sleep(5 * time.Second) // past start-up
	printPhase("no relay (--no-relay)", relayPhase(base, nil, window, nil))
	base.stop()

	central := centraltest.New("hf_bench_robot")
	// The stream as the real server writes it (SpaceLike: its ping event
	// after 30 s without a message), and a comment line every 15 s. With
	// no line for 60 s the relay would give the stream up (its read
	// timeout) and reconnect, once a minute when idle.
	central.SpaceLike.Store(true)
	central.KeepAlive = 15 * time.Second
	defer central.Close()
	d := startRelayDaemon(bin, central)
	defer d.stop()
	waitMedia(d.addr)
	waitRelayConnected(d.addr)
	time.Sleep(5 * time.Second)
	printPhase("relay connected, idle", relayPhase(d, central, window, nil))
	printPhase("central drops the stream every 1 s", relayPhase(d, central, window, func() { central.Disconnect() }))
	printPhase("refresh-relay every 1 s", relayPhase(d, central, window, func() {
		resp, err := statusClient.Post("http://"+d.addr+"/api/hf-auth/refresh-relay", "application/json", nil)
		if err == nil {
			resp.Body.Close()
		}
	}))
}

// daemonFigures are one reading of the daemon process.
type daemonFigures struct {
	rssKB, fds, threads, goroutines int
	heapMB                          float64
}

func readFigures(d *proc) daemonFigures {
	pid := d.cmd.Process.Pid
	var f daemonFigures
	f.rssKB, f.threads = procStatus(pid)
	f.fds = countFDs(pid)
	f.goroutines, f.heapMB = daemonRuntime(d.addr)
	return f
}

// daemonRuntime reads goroutines and the live heap (after the last GC)
// from GET /api/daemon/status.
func daemonRuntime(addr string) (goroutines int, heapMB float64) {
	resp, err := statusClient.Get("http://" + addr + "/api/daemon/status")
	if err != nil {
		return -1, -1
	}
	defer resp.Body.Close()
	var st struct {
		Reachyd struct {
			Runtime *struct {
				Goroutines int     `json:"goroutines"`
				HeapLive   float64 `json:"heap_live_bytes"`
			} `json:"runtime"`
		} `json:"reachyd"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil || st.Reachyd.Runtime == nil {
		return -1, -1
	}
	return st.Reachyd.Runtime.Goroutines, st.Reachyd.Runtime.HeapLive / (1 << 20)
}

type phaseResult struct {
	start, end daemonFigures
	cpuPerMin  float64 // CPU seconds the daemon used, per minute of window
	conns      int     // GET /events the fake central saw in the window (-1: no central)
	others     float64 // % of one core used by other processes meanwhile
}

// relayPhase runs one window, calling every (when set) each second.
func relayPhase(d *proc, central *centraltest.Server, window time.Duration, every func()) phaseResult {
	var r phaseResult
	r.start = readFigures(d)
	pid := d.cmd.Process.Pid
	events0 := 0
	if central != nil {
		events0 = central.EventsRequests()
	}
	load := startLoad()
	cpu0, err := cpuTime(pid)
	if err != nil {
		fail(err)
	}
	t0 := time.Now()
	if every == nil {
		time.Sleep(window)
	} else {
		tk := time.NewTicker(time.Second)
		for time.Since(t0) < window {
			<-tk.C
			every()
		}
		tk.Stop()
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		fail(err)
	}
	wall := time.Since(t0)
	r.others = load.Others()
	r.cpuPerMin = (cpu1 - cpu0).Seconds() / wall.Minutes()
	r.conns = -1
	if central != nil {
		r.conns = central.EventsRequests() - events0
		waitRelayConnected(d.addr)
	}
	time.Sleep(3 * time.Second) // the last reconnection settles
	r.end = readFigures(d)
	return r
}

func printPhase(name string, r phaseResult) {
	conns := "-"
	if r.conns >= 0 {
		conns = fmt.Sprint(r.conns)
	}
	fmt.Printf("    %-34s %9.2f  %6.1f -> %-6.1f  %5.1f -> %-5.1f  %4d -> %-4d  %3d -> %-3d  %3d -> %-3d  %6s  %.0f%%\n",
		name, r.cpuPerMin, float64(r.start.rssKB)/1024, float64(r.end.rssKB)/1024, r.start.heapMB, r.end.heapMB,
		r.start.goroutines, r.end.goroutines, r.start.fds, r.end.fds, r.start.threads, r.end.threads, conns, r.others)
}

// waitRelayConnected waits until GET /api/hf-auth/relay-status says
// connected.
func waitRelayConnected(addr string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := statusClient.Get("http://" + addr + "/api/hf-auth/relay-status")
		if err == nil {
			var st struct {
				IsConnected bool `json:"is_connected"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.IsConnected {
				return
			}
		}
		if time.Now().After(deadline) {
			fail(fmt.Errorf("the relay did not connect to the fake central again"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
