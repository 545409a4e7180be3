package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"reachyd/actors/relay/centraltest"
)

// relayBench is the relay scenario: remote session set-up through the
// central relay. The daemon (media on the simulator's test pattern, VP8)
// is signed in to a fake central server (actors/relay/centraltest) on
// loopback; a pion consumer behaving as the TypeScript SDK posts
// startSession, answers the robot's offer and waits for the data channel.
// Each trial measures startSession -> data channel open and startSession
// -> first video RTP packet, then ends the session and waits for the lock
// to be free before the next. Everything is on loopback: this is the
// relay's and the producer's own cost, not a WAN's.
func relayBench(bin string, trials int) {
	central := centraltest.New("hf_bench_robot", "hf_bench_consumer")
	defer central.Close()
	d := startRelayDaemon(bin, central)
	defer d.stop()
	waitMedia(d.addr)
	if !central.WaitFor(20*time.Second, func() bool { return len(central.Robots()) > 0 }) {
		fail(fmt.Errorf("the daemon never registered at the fake central"))
	}
	var ready, video []time.Duration
	for i := 0; i < trials; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := centraltest.Dial(ctx, central.URL(), "hf_bench_consumer", centraltest.ConsumerOptions{Robot: "bench_bot", Name: "reachyd-bench"})
		if err != nil {
			cancel()
			fail(fmt.Errorf("trial %d: %w", i+1, err))
		}
		ready = append(ready, time.Since(c.StartedAt))
		for c.FirstVideoAt().IsZero() && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		if ctx.Err() != nil {
			fail(fmt.Errorf("trial %d: no video", i+1))
		}
		video = append(video, c.FirstVideoAt().Sub(c.StartedAt))
		_ = c.End(ctx)
		c.Close()
		for ctx.Err() == nil && lockState(d.addr) != "free" {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}
	fmt.Printf("relay: %d remote sessions through a fake central on loopback (camera test pattern 640x480@30)\n", trials)
	fmt.Printf("    startSession -> data channel open   p50 %v  p95 %v  max %v\n",
		percentile(ready, 0.5).Round(time.Millisecond), percentile(ready, 0.95).Round(time.Millisecond), maxD(ready).Round(time.Millisecond))
	fmt.Printf("    startSession -> first video packet  p50 %v  p95 %v  max %v\n",
		percentile(video, 0.5).Round(time.Millisecond), percentile(video, 0.95).Round(time.Millisecond), maxD(video).Round(time.Millisecond))
}

func lockState(addr string) string {
	resp, err := statusClient.Get("http://" + addr + "/api/daemon/robot-app-lock-status")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	var st struct {
		State string `json:"state"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st.State
}

// relayDaemonArgs run the daemon for the relay figures: media as the media
// figures (mediaDaemonArgs), signed in to the fake central, and nothing
// that reaches outside the machine (no TURN credentials, no mDNS).
func relayDaemonArgs(central *centraltest.Server) []string {
	return append(mediaDaemonArgs(), "--central-url", central.URL(), "--robot-name", "bench_bot", "--no-turn", "--no-mdns")
}

func startRelayDaemon(bin string, central *centraltest.Server) *proc {
	return startDaemonEnv(bin, 50, []string{"HF_TOKEN=hf_bench_robot"}, relayDaemonArgs(central)...)
}
