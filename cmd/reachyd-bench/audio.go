package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"reachyd/internal/deathsig"
	"reachyd/media/gst"
	"reachyd/media/webrtc/webrtctest"
)

// Audio mouth-to-ear latency on loopback, each way, through the daemon's
// real audio process (media/gst AudioArgs: one gst-launch-1.0 holding the
// microphone and the speaker mix) with two elements of it swapped, because
// the simulator's devices cannot be driven:
//
//   - robot -> consumer: the simulated microphone (a constant audiotestsrc
//     tone) becomes a udpsrc of L16 RTP that this program feeds in 10 ms
//     packets, as a capture device delivers 10 ms periods: silence, then a
//     tone from a known instant (the send of its first packet). A
//     webrtctest consumer receives the robot's Opus and hands it to two
//     GStreamer decoders here, one without a jitter buffer and one with
//     40 ms (the robot's own speaker inputs' setting), each with a level
//     meter every 10 ms; the first level above -40 dBFS ends the trial.
//   - consumer -> robot: the consumer's microphone track sends Opus packets
//     encoded beforehand by GStreamer (20 ms frames): silence, then a tone
//     from a known instant (the send of its first packet). The speaker's
//     level meter, reporting every 10 ms instead of 50 ms, is read through
//     GET /api/media/status every 2 ms; the first new loud report (above
//     -40 dBFS, media.Cell's count) ends the trial.
//
// The swap is done by running the daemon with --gst-launch pointing at this
// program, which rewrites the audio process's arguments (gstWrap) and execs
// the real gst-launch-1.0; every other pipeline passes through unchanged.

// gstWrapEnv carries gstWrapConfig (JSON) from this program to itself run
// as the daemon's gst-launch-1.0.
const gstWrapEnv = "REACHYD_BENCH_GST_WRAP"

type gstWrapConfig struct {
	// MicPort, when set, replaces the simulated microphone with a udpsrc
	// of L16 RTP (48 kHz mono, payload type 96) on 127.0.0.1:MicPort.
	MicPort int `json:"mic_port"`
	// LevelNs, when set, is the speaker level meter's interval.
	LevelNs int64 `json:"level_ns"`
	// VideoThreads, an experiment, sets the VP8 encoder's threads.
	VideoThreads int `json:"video_threads"`
}

// gstWrap runs this program as gst-launch-1.0: the audio process's
// arguments are rewritten, then the real gst-launch-1.0 is executed in
// place (same pid, so the daemon supervises and kills it as usual).
func gstWrap(conf string) {
	var c gstWrapConfig
	if err := json.Unmarshal([]byte(conf), &c); err != nil {
		fmt.Fprintln(os.Stderr, "reachyd-bench gst wrapper:", err)
		os.Exit(2)
	}
	args, err := rewriteAudioArgs(os.Args[1:], c)
	if err == nil {
		args, err = rewriteVideoArgs(args, c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reachyd-bench gst wrapper:", err)
		os.Exit(2)
	}
	real, err := exec.LookPath(gst.LaunchName)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reachyd-bench gst wrapper:", err)
		os.Exit(2)
	}
	err = syscall.Exec(real, append([]string{real}, args...), os.Environ())
	fmt.Fprintln(os.Stderr, "reachyd-bench gst wrapper:", err)
	os.Exit(2)
}

// rewriteVideoArgs sets the VP8 encoder's threads in the video process's
// arguments when c says so; others are returned unchanged.
func rewriteVideoArgs(args []string, c gstWrapConfig) ([]string, error) {
	i := slices.Index(args, "vp8enc")
	if c.VideoThreads <= 0 || i < 0 {
		return args, nil
	}
	out := append([]string(nil), args...)
	for j := i + 1; j < len(out) && out[j] != "!"; j++ {
		if strings.HasPrefix(out[j], "threads=") {
			out[j] = "threads=" + strconv.Itoa(c.VideoThreads)
			return out, nil
		}
	}
	return nil, errors.New("the VP8 encoder has no threads property")
}

// rewriteAudioArgs rewrites the audio process's arguments (those holding
// the speaker's level meter) as c says; others are returned unchanged.
// A pattern that is not found is an error: the measure would be wrong.
func rewriteAudioArgs(args []string, c gstWrapConfig) ([]string, error) {
	lvl := -1
	for i, a := range args {
		if a == "name="+gst.LevelElement {
			lvl = i
		}
	}
	if lvl < 0 {
		return args, nil
	}
	out := append([]string(nil), args...)
	if c.LevelNs > 0 {
		if lvl+1 >= len(out) || !strings.HasPrefix(out[lvl+1], "interval=") {
			return nil, errors.New("the speaker level meter has no interval after its name")
		}
		out[lvl+1] = "interval=" + strconv.FormatInt(c.LevelNs, 10)
	}
	if c.MicPort > 0 {
		src := -1
		for i := 0; i+2 < len(out); i++ {
			if out[i] == "audiotestsrc" && out[i+2] == "wave=sine" {
				src = i
			}
		}
		if src < 0 {
			return nil, errors.New("no simulated microphone (audiotestsrc wave=sine) in the audio process")
		}
		end := src
		for end < len(out) && out[end] != "!" {
			end++
		}
		mic := []string{"udpsrc", "address=127.0.0.1", "port=" + strconv.Itoa(c.MicPort),
			"caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=L16,channels=1,payload=96", "!", "rtpL16depay"}
		out = append(append(append([]string(nil), out[:src]...), mic...), out[end:]...)
	}
	return out, nil
}

// micFeeder sends the robot's simulated microphone: L16 RTP packets of
// 10 ms, silence or a 440 Hz tone at -13 dBFS RMS, paced by a ticker.
type micFeeder struct {
	conn   *net.UDPConn
	toneOn atomic.Bool
	onset  chan time.Time // the send instant of the first tone packet after toneOn
	done   chan struct{}
	wg     sync.WaitGroup
}

func newMicFeeder(port int) (*micFeeder, error) {
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return nil, err
	}
	f := &micFeeder{conn: conn, onset: make(chan time.Time, 1), done: make(chan struct{})}
	f.wg.Add(1)
	go f.run()
	return f, nil
}

func (f *micFeeder) run() {
	defer f.wg.Done()
	const samples = 480
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var seq uint16
	var ts uint32
	var phase int
	wasOn := false
	buf := make([]byte, samples*2)
	for {
		select {
		case <-f.done:
			return
		case <-tick.C:
		}
		on := f.toneOn.Load()
		for i := range samples {
			v := int16(0)
			if on {
				v = int16(0.3 * 32767 * math.Sin(2*math.Pi*440*float64(phase+i)/48000))
			}
			binary.BigEndian.PutUint16(buf[2*i:], uint16(v))
		}
		phase += samples
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 0x5eed}, Payload: buf}
		b, _ := pkt.Marshal()
		now := time.Now()
		_, _ = f.conn.Write(b) // refused while the audio process (re)starts
		seq++
		ts += samples
		if on && !wasOn {
			select {
			case f.onset <- now:
			default:
			}
		}
		wasOn = on
	}
}

func (f *micFeeder) close() {
	close(f.done)
	f.wg.Wait()
	_ = f.conn.Close()
}

// opusPackets encodes n 20 ms frames of wave (sine: 440 Hz at -9 dBFS RMS,
// or silence) with GStreamer's opusenc and returns the RTP payloads in
// order.
func opusPackets(wave string, n int) ([][]byte, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetReadBuffer(1 << 20)
	cmd := exec.Command(gst.LaunchName, "-q", "audiotestsrc", "wave="+wave, "freq=440", "volume=0.5",
		"num-buffers="+strconv.Itoa(n), "samplesperbuffer=960", "!", "audio/x-raw,rate=48000,channels=1", "!",
		"opusenc", "frame-size=20", "!", "rtpopuspay", "pt=111", "!",
		"udpsink", "host=127.0.0.1", "port="+strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port), "sync=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("encoding %s: %v: %s", wave, err, stderr.String())
	}
	var pkts []rtp.Packet
	buf := make([]byte, 1500)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		m, err := conn.Read(buf)
		if err != nil {
			break
		}
		var p rtp.Packet
		if p.Unmarshal(append([]byte(nil), buf[:m]...)) == nil {
			pkts = append(pkts, p)
		}
	}
	if len(pkts) < n*9/10 {
		return nil, fmt.Errorf("encoding %s: %d packets of %d", wave, len(pkts), n)
	}
	sort.Slice(pkts, func(i, j int) bool { return int16(pkts[i].SequenceNumber-pkts[j].SequenceNumber) < 0 })
	out := make([][]byte, len(pkts))
	for i, p := range pkts {
		out[i] = p.Payload
	}
	return out, nil
}

// consumerMic is the consumer's microphone: Opus packets every 20 ms on a
// pion track, silence, or the tone once from its first packet when asked.
type consumerMic struct {
	track         *pion.TrackLocalStaticRTP
	tone, silence [][]byte
	start         atomic.Bool
	onset         chan time.Time
	done          chan struct{}
	wg            sync.WaitGroup
}

func newConsumerMic() (*consumerMic, error) {
	tone, err := opusPackets("sine", 20) // 400 ms
	if err != nil {
		return nil, err
	}
	silence, err := opusPackets("silence", 10)
	if err != nil {
		return nil, err
	}
	track, err := pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "bench")
	if err != nil {
		return nil, err
	}
	m := &consumerMic{track: track, tone: tone, silence: silence, onset: make(chan time.Time, 1), done: make(chan struct{})}
	m.wg.Add(1)
	go m.run()
	return m, nil
}

func (m *consumerMic) run() {
	defer m.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var seq uint16
	var ts uint32
	toneAt, silentAt := -1, 0
	for {
		select {
		case <-m.done:
			return
		case <-tick.C:
		}
		if toneAt < 0 && m.start.CompareAndSwap(true, false) {
			toneAt = 0
		}
		var payload []byte
		if toneAt >= 0 {
			payload = m.tone[toneAt]
		} else {
			payload = m.silence[silentAt%len(m.silence)]
			silentAt++
		}
		now := time.Now()
		_ = m.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts}, Payload: payload})
		seq++
		ts += 960
		if toneAt == 0 {
			m.onset <- now
		}
		if toneAt >= 0 {
			if toneAt++; toneAt == len(m.tone) {
				toneAt = -1
			}
		}
	}
}

func (m *consumerMic) close() {
	close(m.done)
	m.wg.Wait()
}

// levelEvent is one level message of an ear decoder, when it was read.
type levelEvent struct {
	at  time.Time
	rms float64
}

// ear is a GStreamer decoder of the consumer's received Opus with a level
// meter every 10 ms.
type ear struct {
	name   string
	conn   *net.UDPConn
	cmd    *exec.Cmd
	levels chan levelEvent
}

func newEar(name string, jitterMs int) (*ear, error) {
	ports, err := gst.FreeUDPPorts(1)
	if err != nil {
		return nil, err
	}
	args := []string{"-m", "udpsrc", "address=127.0.0.1", "port=" + strconv.Itoa(ports[0]),
		"caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111", "!"}
	if jitterMs > 0 {
		args = append(args, "rtpjitterbuffer", "latency="+strconv.Itoa(jitterMs), "!")
	}
	args = append(args, "rtpopusdepay", "!", "opusdec", "!", "audioconvert", "!")
	if jitterMs > 0 {
		// The jitter buffer pushes in-order packets at once; its latency
		// is applied where the audio is played, at the sink's clock. Play
		// each buffer at its time (identity sync, which adds the latency
		// upstream reports) before the meter reads it.
		args = append(args, "identity", "sync=true", "!")
	}
	args = append(args, "level", "name=ear", "interval=10000000", "post-messages=true", "!", "fakesink", "sync=false")
	cmd := exec.Command(gst.LaunchName, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ports[0]})
	if err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return nil, err
	}
	e := &ear{name: name, conn: conn, cmd: cmd, levels: make(chan levelEvent, 4096)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), gst.MaxLineLen)
		for sc.Scan() {
			now := time.Now()
			if l, ok := gst.ParseLevel(sc.Bytes()); ok && l.Element == "ear" {
				select {
				case e.levels <- levelEvent{at: now, rms: l.RMS}:
				default:
				}
			}
		}
	}()
	return e, nil
}

func (e *ear) close() {
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	_ = e.cmd.Wait()
	_ = e.conn.Close()
}

// drain empties the level queue.
func (e *ear) drain() {
	for {
		select {
		case <-e.levels:
		default:
			return
		}
	}
}

// heardAfter waits for the first loud level read after t0.
func (e *ear) heardAfter(t0 time.Time, within time.Duration) (time.Duration, bool) {
	deadline := time.After(within)
	for {
		select {
		case l := <-e.levels:
			if l.at.After(t0) && l.rms > loudDB {
				return l.at.Sub(t0), true
			}
		case <-deadline:
			return 0, false
		}
	}
}

// quiet waits until the ear has heard only levels below quietDB for d.
func (e *ear) quiet(d, within time.Duration) bool {
	deadline := time.Now().Add(within)
	since := time.Now()
	for time.Now().Before(deadline) {
		select {
		case l := <-e.levels:
			if l.rms > quietDB {
				since = l.at
			} else if l.at.Sub(since) >= d {
				return true
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// Thresholds: loud is what media.Cell counts as the speaker playing; quiet
// is well below any codec noise floor of the tone.
const (
	loudDB  = -40
	quietDB = -60
)

// latencyStats are one run's trials.
type latencyStats struct{ p50, p95, min, max time.Duration }

func statsOf(d []time.Duration) latencyStats {
	if len(d) == 0 {
		return latencyStats{}
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return latencyStats{p50: percentile(s, 0.5), p95: percentile(s, 0.95), min: s[0], max: s[len(s)-1]}
}

// mediaAudio is the audio part.
func mediaAudio(bin string, runs, trials int, fec bool) {
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	fmt.Printf("media audio: %d trials per run, tone 400 ms after >= 600 ms of silence; camera 640x480@30 streaming to the same consumer\n", trials)
	var extra []string
	if fec {
		fmt.Println("media audio: with --audio-fec (the speaker inputs decode in-band FEC, as the reference does)")
		extra = []string{"--audio-fec"}
	}
	var toEar, toEarJB, toSpeaker [][]time.Duration
	for run, attempt := 1, 1; run <= runs; {
		ports, err := gst.FreeUDPPorts(1)
		if err != nil {
			fail(err)
		}
		conf, _ := json.Marshal(gstWrapConfig{MicPort: ports[0], LevelNs: int64(10 * time.Millisecond)})
		feeder, err := newMicFeeder(ports[0])
		if err != nil {
			fail(err)
		}
		d := startDaemonEnv(bin, 50, []string{gstWrapEnv + "=" + string(conf)}, append(append(mediaDaemonArgs(), extra...), "--gst-launch", self)...)
		st := waitMedia(d.addr)
		plain, err := newEar("no jitter buffer", 0)
		if err != nil {
			fail(err)
		}
		buffered, err := newEar("jitter buffer 40 ms", 40)
		if err != nil {
			fail(err)
		}
		mic, err := newConsumerMic()
		if err != nil {
			fail(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := webrtctest.Dial(ctx, "ws://"+st.Reachyd.Media.Signalling, webrtctest.Options{Name: "reachyd-bench-audio", Mic: mic.track,
			OnAudio: func(p *rtp.Packet) {
				p.PayloadType = 111
				if b, err := p.Marshal(); err == nil {
					_, _ = plain.conn.Write(b)
					_, _ = buffered.conn.Write(b)
				}
			}})
		cancel()
		if err != nil {
			fail(err)
		}
		cleanup := func() {
			_ = c.Close()
			mic.close()
			plain.close()
			buffered.close()
			d.stop()
			feeder.close()
		}

		waitQuiet()
		load := startLoad()
		// Robot -> consumer.
		var ear1, ear2 []time.Duration
		for range trials {
			if !plain.quiet(600*time.Millisecond, 10*time.Second) {
				cleanup()
				fail(errors.New("the consumer never heard the robot's microphone go quiet (is its audio flowing?)"))
			}
			buffered.drain()
			feeder.toneOn.Store(true)
			t0 := <-feeder.onset
			l1, ok1 := plain.heardAfter(t0, 3*time.Second)
			l2, ok2 := buffered.heardAfter(t0, 3*time.Second)
			if !ok1 || !ok2 {
				cleanup()
				fail(fmt.Errorf("the robot's tone never reached the consumer (%v %v)", ok1, ok2))
			}
			ear1, ear2 = append(ear1, l1), append(ear2, l2)
			time.Sleep(400*time.Millisecond - time.Since(t0))
			feeder.toneOn.Store(false)
		}

		// Consumer -> robot.
		var spk []time.Duration
		for range trials {
			quietSince := time.Now()
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				s, err := getMediaStatus(d.addr)
				if err == nil && s.Reachyd.Media.SpeakerRMS > quietDB {
					quietSince = time.Now()
				}
				if time.Since(quietSince) >= 600*time.Millisecond {
					break
				}
				if time.Now().After(deadline) {
					cleanup()
					fail(errors.New("the speaker never went quiet"))
				}
			}
			s, err := getMediaStatus(d.addr)
			if err != nil {
				cleanup()
				fail(err)
			}
			loud0 := s.Reachyd.Media.SpeakerLoud
			mic.start.Store(true)
			t0 := <-mic.onset
			var lat time.Duration
			for deadline := t0.Add(3 * time.Second); ; time.Sleep(2 * time.Millisecond) {
				s, err := getMediaStatus(d.addr)
				if err == nil && s.Reachyd.Media.SpeakerLoud > loud0 {
					lat = time.Since(t0)
					break
				}
				if time.Now().After(deadline) {
					cleanup()
					fail(errors.New("the consumer's tone never reached the speaker"))
				}
			}
			spk = append(spk, lat)
			time.Sleep(500 * time.Millisecond)
		}
		others := load.Others()
		cleanup()
		if others > disturbedAbove && attempt < maxAttempts {
			fmt.Printf("    (disturbed: other processes used %.0f%% of a core; measuring again)\n", others)
			attempt++
			continue
		}
		fmt.Printf("%-3d (other processes used %.1f%% of a core meanwhile)\n", run, others)
		toEar, toEarJB, toSpeaker = append(toEar, ear1), append(toEarJB, ear2), append(toSpeaker, spk)
		for _, r := range []struct {
			name string
			d    []time.Duration
		}{{"robot -> consumer's decoder (no jitter buffer)", ear1}, {"robot -> consumer's decoder (jitter buffer 40 ms)", ear2},
			{"consumer -> robot's speaker level", spk}} {
			s := statsOf(r.d)
			fmt.Printf("%-3d %-52s p50 %v p95 %v (min %v, max %v)\n", run, r.name, s.p50.Round(time.Millisecond/10), s.p95.Round(time.Millisecond/10),
				s.min.Round(time.Millisecond/10), s.max.Round(time.Millisecond/10))
		}
		run, attempt = run+1, 1
	}
	fmt.Printf("medians of %d runs:\n", runs)
	for _, r := range []struct {
		name string
		d    [][]time.Duration
	}{{"robot -> consumer's decoder (no jitter buffer)", toEar}, {"robot -> consumer's decoder (jitter buffer 40 ms)", toEarJB},
		{"consumer -> robot's speaker level", toSpeaker}} {
		var p50, p95 []float64
		for _, d := range r.d {
			s := statsOf(d)
			p50, p95 = append(p50, float64(s.p50)), append(p95, float64(s.p95))
		}
		fmt.Printf("    %-52s p50 %v p95 %v\n", r.name, time.Duration(medianF(p50)).Round(time.Millisecond/10), time.Duration(medianF(p95)).Round(time.Millisecond/10))
	}
}
