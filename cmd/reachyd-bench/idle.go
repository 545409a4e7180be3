package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"reachyd/internal/cpuload"
)

// The idle scenario (docs/benchmarks.md, "Idle cost (issue 13)"): what the
// daemon costs when nobody uses it. bin/reachyd runs at 50 Hz with the
// camera's test pattern (640x480@15, the simulator's default) and the
// skill host allowed, as on a robot out of the box; after it has settled,
// the CPU time (utime + stime from /proc) of the daemon and of every
// descendant (skill host, GStreamer pipelines) over -idle-window, and the
// sum of their resident memory at its end. Configurations:
//
//   - sim, media off: --backend sim, GStreamer not found;
//   - sim, media on: the same with GStreamer's pipelines (when
//     gst-launch-1.0 is installed);
//   - serial (pty): --backend robot on a pseudo-terminal served by
//     `reachyd sim-bus`, in another process, media off: the real serial
//     port code. The sim-bus process stands for the motors and is reported
//     apart, not counted in the daemon's figures.
//
// CPU time is what the processes used, whatever else the machine ran
// meanwhile (other processes only add scheduling noise), so the figures
// hold on a shared machine better than wall-clock ones; medians of -runs.

// idleRow is one measured window.
type idleRow struct {
	cpu   float64 // % of one core, the daemon and its descendants
	rssKB int     // the same processes' VmRSS summed
	procs string  // name:MB of each process
	bus   float64 // % of one core, the sim-bus process (serial only)
}

// measureIdle samples the tree of pid (and extra, reported apart) over
// window.
func measureIdle(pid, extra int, window time.Duration) idleRow {
	cpu := func(pids []int) time.Duration {
		var t time.Duration
		for _, p := range pids {
			if d, err := cpuload.CPUTime(p); err == nil {
				t += d
			}
		}
		return t
	}
	before := map[int]time.Duration{}
	for _, p := range cpuload.TreeOf(pid) {
		before[p], _ = cpuload.CPUTime(p)
	}
	var x0 time.Duration
	if extra > 0 {
		x0 = cpu([]int{extra})
	}
	w0 := time.Now()
	time.Sleep(window)
	wall := time.Since(w0)
	var used time.Duration
	var r idleRow
	var names []string
	for _, p := range cpuload.TreeOf(pid) {
		t, err := cpuload.CPUTime(p)
		if err != nil {
			continue
		}
		used += t - before[p] // a process started meanwhile counts whole
		kb, _ := procStatus(p)
		r.rssKB += kb
		comm, _ := os.ReadFile(filepath.Join("/proc", fmt.Sprint(p), "comm"))
		names = append(names, fmt.Sprintf("%s:%.1f", strings.TrimSpace(string(comm)), float64(kb)/1024))
	}
	r.cpu = 100 * float64(used) / float64(wall)
	r.procs = strings.Join(names, " ")
	if extra > 0 {
		r.bus = 100 * float64(cpu([]int{extra})-x0) / float64(wall)
	}
	return r
}

// idleDaemonArgs run the daemon as a robot out of the box would, offline:
// the camera's test pattern, the skill host allowed, no mDNS, no RTSP or
// WebRTC ports of its own, no Hub.
func idleDaemonArgs() []string {
	return []string{"--camera", "test", "--skill-host", "--rtsp-port", "0", "--webrtc-port", "0", "--webrtc-loopback",
		"--no-mdns", "--hf-endpoint", "http://127.0.0.1:1"}
}

// idle is the idle scenario.
func idle(bin string, window time.Duration, runs int) {
	const settle = 5 * time.Second
	type config struct {
		name  string
		start func() (d *proc, bus *exec.Cmd)
	}
	noGst := []string{"--gst-launch", "/nonexistent/gst-launch-1.0"}
	configs := []config{
		{"sim, media off", func() (*proc, *exec.Cmd) {
			return startDaemon(bin, 50, append(idleDaemonArgs(), noGst...)...), nil
		}},
	}
	if _, err := exec.LookPath("gst-launch-1.0"); err == nil {
		configs = append(configs, config{"sim, media on", func() (*proc, *exec.Cmd) {
			return startDaemon(bin, 50, idleDaemonArgs()...), nil
		}})
	}
	configs = append(configs, config{"serial (pty), media off", func() (*proc, *exec.Cmd) {
		dir, err := os.MkdirTemp("", "reachyd-bench-simbus")
		if err != nil {
			fail(err)
		}
		link := filepath.Join(dir, "tty")
		bus := exec.Command(bin, "sim-bus", "--link", link)
		bus.Stderr = os.Stderr
		if err := bus.Start(); err != nil {
			fail(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(link); err == nil {
				break
			}
			if time.Now().After(deadline) {
				_ = bus.Process.Kill()
				fail(fmt.Errorf("sim-bus never served %s", link))
			}
		}
		args := append(idleDaemonArgs(), noGst...)
		return startDaemon(bin, 50, append(args, "--backend", "robot", "-p", link)...), bus
	}})

	fmt.Printf("idle: control 50 Hz, camera test pattern 640x480@15, skill host allowed (empty skills folder); %v windows after %v to settle; CPU %% of one core and RSS of the daemon with its children\n", window, settle)
	rows := make([][]idleRow, len(configs))
	for run := 1; run <= runs; run++ {
		for i, c := range configs {
			d, bus := c.start()
			time.Sleep(settle)
			extra := 0
			if bus != nil {
				extra = bus.Process.Pid
			}
			r := measureIdle(d.cmd.Process.Pid, extra, window)
			d.stop()
			if bus != nil {
				_ = bus.Process.Signal(os.Interrupt)
				_ = bus.Wait()
			}
			rows[i] = append(rows[i], r)
			line := fmt.Sprintf("%-3d %-24s CPU %5.1f%%  RSS %6.1f MB  (%s)", run, c.name, r.cpu, float64(r.rssKB)/1024, r.procs)
			if bus != nil {
				line += fmt.Sprintf("; sim-bus process %.1f%%", r.bus)
			}
			fmt.Println(line)
		}
	}
	fmt.Printf("medians of %d runs:\n", runs)
	for i, c := range configs {
		cpu := make([]float64, len(rows[i]))
		mem := make([]int, len(rows[i]))
		for j, r := range rows[i] {
			cpu[j], mem[j] = r.cpu, r.rssKB
		}
		sort.Ints(mem)
		fmt.Printf("    %-24s CPU %5.1f%%  RSS %6.1f MB\n", c.name, medianF(cpu), float64(mem[len(mem)/2])/1024)
	}
}
