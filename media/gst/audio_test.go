package gst

import (
	"errors"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

const (
	silentDB = -60.0 // below: silence
	loudDB   = -30.0 // above: a tone (the tests' tones are about -14 dB)
)

func silent(db float64) bool { return db < silentDB }
func loud(db float64) bool   { return db > loudDB }

// startAudio starts a simulated audio process with 4 speaker inputs and a
// sound input, its microphone sent to mic's port.
func startAudio(t *testing.T, info Info, micPort int, aec bool, lv *levels) (AudioConfig, *Process) {
	t.Helper()
	if !info.Audio() {
		t.Skip("audio elements not installed")
	}
	ports, err := FreeUDPPorts(5)
	if err != nil {
		t.Fatal(err)
	}
	cfg := AudioConfig{MicPort: micPort, SpeakerPorts: ports[:4], SoundPort: ports[4], AEC: aec}
	argv, err := AudioArgs(info.Launch, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := startProc(t, Spec{Name: "audio", Argv: Fixed(argv), OnStdout: LevelHandler(lv.on)})
	killAtEnd(t, p.Pid())
	return cfg, p
}

// startMicMeter runs a second gst-launch-1.0 that decodes Opus RTP sent
// to the returned port and reports its level as element "miclevel".
func startMicMeter(t *testing.T, info Info, lv *levels) int {
	t.Helper()
	ports, err := FreeUDPPorts(1)
	if err != nil {
		t.Fatal(err)
	}
	argv := []string{info.Launch, "-m",
		"udpsrc", "address=127.0.0.1", "port=" + strconv.Itoa(ports[0]),
		"caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111",
		"!", "rtpjitterbuffer", "latency=40", "!", "rtpopusdepay", "!", "opusdec", "!", "audioconvert",
		"!", "level", "name=miclevel", "interval=50000000", "!", "fakesink", "sync=false"}
	p := startProc(t, Spec{Name: "micmeter", Argv: Fixed(argv), OnStdout: LevelHandler(lv.on)})
	killAtEnd(t, p.Pid())
	return ports[0]
}

func TestAudioProcess(t *testing.T) {
	info := needGst(t)
	lv := newLevels()

	// The daemon's side: the microphone's RTP arrives on mic, is checked,
	// and forwarded to a meter and, when asked, to a speaker input.
	meter, err := NewUDPSender(startMicMeter(t, info, lv))
	if err != nil {
		t.Fatal(err)
	}
	defer meter.Close()
	var loop atomic.Pointer[UDPSender]
	micPackets := make(chan []byte, 256)
	mic := newReceiver(t, func(b []byte) {
		meter.Write(b)
		if s := loop.Load(); s != nil {
			s.Write(b)
		}
		select {
		case micPackets <- append([]byte(nil), b...):
		default:
		}
	})
	cfg, _ := startAudio(t, info, mic.Port(), false, lv)

	// Microphone: Opus RTP, 20 ms per packet, and a tone in it. (The
	// first step is shorter: the encoder's look-ahead.)
	<-micPackets
	prev := parseRTP(t, <-micPackets)
	for range 10 {
		pkt := parseRTP(t, <-micPackets)
		if pkt.pt != PayloadOpus || pkt.seq != prev.seq+1 || pkt.ts-prev.ts != 960 {
			t.Fatalf("mic packet pt %d seq %d ts %d after seq %d ts %d: want pt %d, 20 ms steps",
				pkt.pt, pkt.seq, pkt.ts, prev.seq, prev.ts, PayloadOpus)
		}
		prev = pkt
	}
	lv.waitRun(t, "miclevel", 0, 5, "the microphone's tone", loud)

	// Speaker: silence while nobody sends.
	at := lv.waitRun(t, LevelElement, 0, 5, "speaker silence", silent)

	// A consumer's Opus (the microphone, looped back) into slot 3.
	slot, err := NewUDPSender(cfg.SpeakerPorts[2])
	if err != nil {
		t.Fatal(err)
	}
	defer slot.Close()
	loop.Store(slot)
	at = lv.waitRun(t, LevelElement, at, 5, "the consumer's audio on the speaker", loud)
	loop.Store(nil)
	at = lv.waitRun(t, LevelElement, at, 5, "speaker silence after the consumer", silent)

	// A sound file through the sound player: 44.1 kHz stereo, resampled.
	wav := filepath.Join(t.TempDir(), "tone.wav")
	writeWAV(t, wav, 44100, 2, 1000, 1500*time.Millisecond, 0.3)
	player, err := PlaySound(t.Context(), info.Launch, wav, cfg.SoundPort, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(player.Stop)
	killAtEnd(t, player.Pid())
	at = lv.waitRun(t, LevelElement, at, 5, "the sound on the speaker", loud)
	select {
	case <-player.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the sound player did not end")
	}
	if player.Err() != nil {
		t.Fatalf("sound player: %v", player.Err())
	}
	lv.waitRun(t, LevelElement, at, 5, "speaker silence after the sound", silent)
}

func TestAudioProcessWithEchoCancellation(t *testing.T) {
	info := needGst(t)
	if !info.AEC() {
		t.Skip("webrtcdsp not installed")
	}
	lv := newLevels()
	q := newPacketQueue()
	mic := newReceiver(t, q.put)
	cfg, _ := startAudio(t, info, mic.Port(), true, lv)
	for range 10 {
		if pkt := parseRTP(t, q.next(t)); pkt.pt != PayloadOpus {
			t.Fatalf("payload type %d", pkt.pt)
		}
	}
	// The speaker side, through the echo probe, still plays what it gets.
	wav := filepath.Join(t.TempDir(), "tone.wav")
	writeWAV(t, wav, 48000, 1, 600, time.Second, 0.3)
	player, err := PlaySound(t.Context(), info.Launch, wav, cfg.SoundPort, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(player.Stop)
	lv.waitRun(t, LevelElement, 0, 3, "the sound through the echo probe", loud)
}

func TestSoundPlayerStopAndBadFile(t *testing.T) {
	info := needGst(t)
	if !info.Sounds() {
		t.Skip("decodebin not installed")
	}
	ports, err := FreeUDPPorts(1)
	if err != nil {
		t.Fatal(err)
	}
	// A long sound stopped early.
	wav := filepath.Join(t.TempDir(), "long.wav")
	writeWAV(t, wav, 48000, 1, 440, 30*time.Second, 0.3)
	q := newPacketQueue()
	rx := newReceiver(t, q.put)
	p, err := PlaySound(t.Context(), info.Launch, wav, rx.Port(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Pid()
	killAtEnd(t, pid)
	if pkt := parseRTP(t, q.next(t)); pkt.pt != PayloadL16 {
		t.Fatalf("payload type %d", pkt.pt)
	}
	p.Stop()
	if !errors.Is(p.Err(), ErrStopped) || alive(pid) {
		t.Fatalf("Err %v, alive %v", p.Err(), alive(pid))
	}
	// Not audio: the player fails with GStreamer's reason.
	txt := filepath.Join(t.TempDir(), "notes.wav")
	writeFile(t, txt, []byte("not a sound\n"))
	p, err = PlaySound(t.Context(), info.Launch, txt, ports[0], testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	var ee *ExitError
	if !errors.As(p.Err(), &ee) || ee.Code == 0 {
		t.Fatalf("Err %v, want an ExitError", p.Err())
	}
}

// With no input at all the mixer has no input to time its output by; the
// silent source keeps the speaker (and its level) running.
func TestAudioProcessWithoutInputs(t *testing.T) {
	info := needGst(t)
	if !info.Audio() {
		t.Skip("audio elements not installed")
	}
	argv, err := AudioArgs(info.Launch, AudioConfig{})
	if err != nil {
		t.Fatal(err)
	}
	lv := newLevels()
	p := startProc(t, Spec{Name: "audio", Argv: Fixed(argv), OnStdout: LevelHandler(lv.on)})
	killAtEnd(t, p.Pid())
	lv.waitRun(t, LevelElement, 0, 5, "speaker silence", silent)
}
