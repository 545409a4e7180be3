package gst

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// RTP payload types of the pipelines.
const (
	// PayloadVideo is the video pipeline's payload type (VP8 or H.264).
	PayloadVideo = 96
	// PayloadOpus is the microphone's payload type, and the one the
	// speaker inputs expect: the daemon rewrites consumers' packets to it.
	PayloadOpus = 111
	// PayloadL16 is the sound player's payload type.
	PayloadL16 = 96
)

// audioCaps is the format inside the audio process: what the mixer,
// echo canceller (S16LE at 48 kHz) and level meter work on. Mono: the
// robot has one speaker, and the microphone is sent as one channel.
const audioCaps = "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved"

// VideoConfig describes the video encoder pipeline.
type VideoConfig struct {
	// Encoder picks the encoder (default EncoderVP8).
	Encoder Encoder
	// Port is the daemon's UDPReceiver port on 127.0.0.1 (required).
	Port int
	// Framerate is the camera's nominal rate (default 30): it sets the
	// encoder's time base and rate control. Timestamps are taken when each
	// frame arrives, so a camera slower than announced is still right.
	Framerate int
	// Bitrate in bits per second (default 1.5 Mb/s).
	Bitrate int
	// KeyframeInterval in frames (default Framerate: about one keyframe a
	// second). gst-launch-1.0 cannot be asked for a keyframe when a peer
	// sends a PLI, so a new viewer or a lost packet waits at most this.
	KeyframeInterval int
	// MTU bounds an RTP packet (default 1200, safe inside WebRTC's SRTP
	// and TURN overheads).
	MTU int
	// Threads for the software encoders (default 2).
	Threads int
}

func (c *VideoConfig) defaults() error {
	if c.Encoder == "" {
		c.Encoder = EncoderVP8
	}
	if c.Framerate == 0 {
		c.Framerate = 30
	}
	if c.Bitrate == 0 {
		c.Bitrate = 1_500_000
	}
	if c.KeyframeInterval == 0 {
		c.KeyframeInterval = c.Framerate
	}
	if c.MTU == 0 {
		c.MTU = 1200
	}
	if c.Threads == 0 {
		c.Threads = 2
	}
	switch {
	case c.Encoder != EncoderVP8 && c.Encoder != EncoderX264 && c.Encoder != EncoderV4L2H264:
		return fmt.Errorf("gst: unknown video encoder %q", c.Encoder)
	case !validPort(c.Port):
		return fmt.Errorf("gst: video port %d out of range", c.Port)
	case c.Framerate < 1 || c.Framerate > 240:
		return fmt.Errorf("gst: framerate %d out of range 1..240", c.Framerate)
	case c.Bitrate < 50_000 || c.Bitrate > 50_000_000:
		return fmt.Errorf("gst: bitrate %d out of range 50k..50M", c.Bitrate)
	case c.KeyframeInterval < 1 || c.KeyframeInterval > 1000:
		return fmt.Errorf("gst: keyframe interval %d out of range 1..1000", c.KeyframeInterval)
	case c.MTU < 200 || c.MTU > 1500:
		return fmt.Errorf("gst: MTU %d out of range 200..1500", c.MTU)
	case c.Threads < 1 || c.Threads > 16:
		return fmt.Errorf("gst: threads %d out of range 1..16", c.Threads)
	}
	return nil
}

// VideoArgs is the video encoder's command: complete JPEG images on stdin
// (Process.Write, one image per write), decoded, encoded, payloaded as RTP
// (PayloadVideo) and sent to 127.0.0.1:Port.
//
// Latency: no queue anywhere, so a frame runs from fdsrc to udpsink in one
// thread and a slow encoder backs up into the pipe, where Process.Write
// drops the oldest frame; fdsrc reads up to 1 MiB at a time, so an image
// already in the pipe is read at once, and jpegparse pushes it as soon as
// its end marker is in, not when the next one starts. fdsrc timestamps
// buffers when they arrive (do-timestamp), which is when the daemon wrote
// the frame; the caps give the nominal rate. The encoders are told not to
// look ahead (lag-in-frames=0, zerolatency) and udpsink does not wait for
// the clock (sync=false).
func VideoArgs(launch string, c VideoConfig) ([]string, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	a := []string{launch, "-e",
		"fdsrc", "fd=0", "blocksize=1048576", "do-timestamp=true", "!",
		fmt.Sprintf("image/jpeg,framerate=%d/1", c.Framerate), "!",
		"jpegparse", "!", "jpegdec", "!", "videoconvert", "!", "video/x-raw,format=I420", "!"}
	switch c.Encoder {
	case EncoderVP8:
		a = append(a, "vp8enc", "deadline=1", "cpu-used=4", "lag-in-frames=0",
			"keyframe-max-dist="+strconv.Itoa(c.KeyframeInterval),
			"end-usage=cbr", "target-bitrate="+strconv.Itoa(c.Bitrate),
			"error-resilient=default", "threads="+strconv.Itoa(c.Threads),
			// small client buffer model (ms): rate control reacts within
			// a second, as WebRTC senders do
			"buffer-size=1000", "buffer-initial-size=500", "buffer-optimal-size=600",
			"!", "rtpvp8pay", "pt="+strconv.Itoa(PayloadVideo), "mtu="+strconv.Itoa(c.MTU),
			"picture-id-mode=15-bit")
	case EncoderX264:
		a = append(a, "x264enc", "tune=zerolatency", "speed-preset=ultrafast",
			"key-int-max="+strconv.Itoa(c.KeyframeInterval),
			"bitrate="+strconv.Itoa(c.Bitrate/1000), "threads="+strconv.Itoa(c.Threads),
			"!", "video/x-h264,profile=constrained-baseline",
			"!", "rtph264pay", "pt="+strconv.Itoa(PayloadVideo), "mtu="+strconv.Itoa(c.MTU),
			"config-interval=-1", "aggregate-mode=zero-latency")
	case EncoderV4L2H264:
		// The Raspberry Pi's encoder, with the reference's settings
		// (constrained baseline level 3.1 for Safari). Untested here.
		a = append(a, "v4l2h264enc",
			quoteValue("extra-controls", fmt.Sprintf("controls,video_bitrate=%d,h264_i_frame_period=%d,repeat_sequence_header=1",
				c.Bitrate, c.KeyframeInterval)),
			"!", "video/x-h264,profile=constrained-baseline,level=(string)3.1",
			"!", "h264parse",
			"!", "rtph264pay", "pt="+strconv.Itoa(PayloadVideo), "mtu="+strconv.Itoa(c.MTU),
			"config-interval=-1", "aggregate-mode=zero-latency")
	}
	a = append(a, "!", "udpsink", "host=127.0.0.1", "port="+strconv.Itoa(c.Port), "sync=false", "async=false")
	return a, nil
}

// CameraConfig describes a camera capture pipeline (CameraArgs).
type CameraConfig struct {
	// Source is the source element and its properties, as on a
	// gst-launch-1.0 command line: "libcamerasrc",
	// "v4l2src device=/dev/video0", "videotestsrc pattern=ball
	// is-live=true". It comes from a flag, so CameraArgs checks it
	// (ValidCameraSource): one element, no links, no quoting.
	Source string
	// Width, Height and FPS are the frames' size and rate; videoscale
	// and videorate make them so when the source offers other ones
	// (default 640x480 at 15).
	Width, Height, FPS int
	// Quality is jpegenc's quality, 1..100 (default 85).
	Quality int
}

func (c *CameraConfig) defaults() error {
	if c.Width == 0 && c.Height == 0 {
		c.Width, c.Height = 640, 480
	}
	if c.FPS == 0 {
		c.FPS = 15
	}
	if c.Quality == 0 {
		c.Quality = 85
	}
	switch {
	case c.Width < 16 || c.Width > 4096 || c.Height < 16 || c.Height > 4096:
		return fmt.Errorf("gst: camera size %dx%d out of range 16..4096", c.Width, c.Height)
	case c.FPS < 1 || c.FPS > 120:
		return fmt.Errorf("gst: camera frame rate %d out of range 1..120", c.FPS)
	case c.Quality < 1 || c.Quality > 100:
		return fmt.Errorf("gst: JPEG quality %d out of range 1..100", c.Quality)
	}
	_, err := cameraSourceTokens(c.Source)
	return err
}

// Check returns c with its defaults applied, or why it is not valid.
func (c CameraConfig) Check() (CameraConfig, error) {
	err := c.defaults()
	return c, err
}

// CameraSourceElement is the element name of a camera source description
// ("libcamerasrc" for "libcamerasrc camera-name=..."), or "" when the
// description is not valid.
func CameraSourceElement(source string) string {
	t, err := cameraSourceTokens(source)
	if err != nil {
		return ""
	}
	return t[0]
}

// ValidCameraSource checks a camera source description: an element name
// (lower-case letters, digits, '-' and '_', starting with a letter)
// followed by zero or more property=value words separated by spaces.
// Property names are of the same alphabet; values are letters, digits
// and . _ - + : / , @ = (enough for device paths, libcamera camera names
// like /base/soc/i2c0mux/i2c@1/imx708@1a, numbers and enum nicks). No
// '!' (a link: the description would become a pipeline of its own), no
// quotes, brackets, parentheses, semicolons, '$', backslashes or other
// characters gst-launch-1.0's parser or a shell gives meaning to.
func ValidCameraSource(source string) error {
	_, err := cameraSourceTokens(source)
	return err
}

// maxCameraSource bounds a camera source description.
const maxCameraSource = 512

func cameraSourceTokens(source string) ([]string, error) {
	if len(source) > maxCameraSource {
		return nil, fmt.Errorf("gst: camera source longer than %d bytes", maxCameraSource)
	}
	words := strings.FieldsFunc(source, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(words) == 0 {
		return nil, errors.New("gst: empty camera source (want an element such as libcamerasrc)")
	}
	if !isIdent(words[0]) {
		return nil, fmt.Errorf("gst: camera source element %q is not an element name (lower-case letters, digits, - and _)", words[0])
	}
	for _, w := range words[1:] {
		name, value, ok := strings.Cut(w, "=")
		if !ok || !isIdent(name) || value == "" {
			return nil, fmt.Errorf("gst: camera source word %q is not property=value", w)
		}
		for _, r := range value {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-+:/,@=", r)
			if !ok {
				return nil, fmt.Errorf("gst: camera source property %s: value %q has a character other than letters, digits and ._-+:/,@=", name, value)
			}
		}
	}
	return words, nil
}

// isIdent: an element or property name as this package accepts them.
func isIdent(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// CameraArgs is the camera capture command: the source, made into
// I420 frames of the configured size and rate, JPEG-encoded and written
// back to back on stdout (split them with JPEGSplitter):
//
//	<source> ! videorate drop-only=true ! videoscale ! videoconvert
//	  ! video/x-raw,format=I420,width=W,height=H,framerate=F/1,pixel-aspect-ratio=1/1
//	  ! jpegenc quality=Q ! fdsink fd=1 sync=false
//
// The converters pass buffers through untouched when the source can
// produce the caps itself (they propose them upstream first, so
// libcamerasrc configures its ISP for the size and v4l2src its device);
// otherwise videorate drops frames from a faster source (drop-only:
// never duplicates, so a slow camera is not dressed up as a fast one) and
// videoscale scales. I420 is the 4:2:0 layout RTP/JPEG (RFC 2435) can
// carry. -q keeps gst-launch-1.0's progress messages off stdout, which
// carries only images (its errors go to stderr).
func CameraArgs(launch string, c CameraConfig) ([]string, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	src, _ := cameraSourceTokens(c.Source)
	a := append([]string{launch, "-q"}, src...)
	a = append(a, "!", "videorate", "drop-only=true", "!", "videoscale", "!", "videoconvert", "!",
		fmt.Sprintf("video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1,pixel-aspect-ratio=1/1", c.Width, c.Height, c.FPS), "!",
		"jpegenc", "quality="+strconv.Itoa(c.Quality), "!", "fdsink", "fd=1", "sync=false")
	return a, nil
}

// DeviceKind names an audio device family.
type DeviceKind string

const (
	// DeviceSim: the simulator's devices. The microphone is a live sine
	// tone (audiotestsrc), the speaker a fakesink that consumes in real
	// time.
	DeviceSim DeviceKind = "sim"
	// DeviceALSA: alsasrc / alsasink, with an optional device name (e.g.
	// the wireless robot's "reachymini_audio_src").
	DeviceALSA DeviceKind = "alsa"
	// DevicePulse: pulsesrc / pulsesink (PulseAudio or PipeWire).
	DevicePulse DeviceKind = "pulse"
	// DeviceAuto: autoaudiosrc / autoaudiosink, GStreamer's choice.
	DeviceAuto DeviceKind = "auto"
)

func (k DeviceKind) source() string {
	switch k {
	case DeviceSim:
		return "audiotestsrc"
	case DeviceAuto:
		return "autoaudiosrc"
	}
	return string(k) + "src"
}

func (k DeviceKind) sink() string {
	switch k {
	case DeviceSim:
		return "fakesink"
	case DeviceAuto:
		return "autoaudiosink"
	}
	return string(k) + "sink"
}

// AudioConfig describes the audio process: the microphone going out and
// the speaker mix coming in, in one gst-launch-1.0 because the echo
// canceller (webrtcdsp) must find its probe (webrtcechoprobe, on what the
// speaker plays) in the same pipeline.
type AudioConfig struct {
	// MicPort is the daemon's UDPReceiver port for the microphone's Opus
	// RTP (PayloadOpus). 0: no microphone branch.
	MicPort int
	// SpeakerPorts are the ports the speaker inputs listen on, one per
	// consumer slot, for Opus RTP of payload type PayloadOpus (pick them
	// with FreeUDPPorts).
	SpeakerPorts []int
	// SoundPort is the port of the sound input, L16 RTP from the sound
	// player (SoundArgs). 0: none.
	SoundPort int

	// Source and Sink pick the devices (DeviceSim for the simulator);
	// SourceDevice and SinkDevice name one (empty: the default).
	Source, Sink             DeviceKind
	SourceDevice, SinkDevice string
	// AEC puts echo cancellation on the microphone (webrtcdsp, with
	// webrtcechoprobe on the speaker mix). Needs a microphone branch.
	AEC bool
	// ToneHz is the simulated microphone's tone (default 440).
	ToneHz float64
	// OpusBitrate in bits per second (default 32 kb/s).
	OpusBitrate int
	// JitterLatency is each input's jitter buffer (default 40 ms).
	JitterLatency time.Duration
	// SpeakerFEC decodes the in-band FEC of the consumers' Opus: a lost
	// packet is rebuilt from the next one. GStreamer 1.22's opusdec then
	// holds one packet (20 ms) but reports 120 ms of latency, which the
	// live mixer and the sink add to everything the speaker plays: about
	// 100 ms more mouth to ear. Off by default (reachyd's choice; the
	// reference decodes FEC): the jitter buffer reports lost packets and
	// opusdec conceals them (PLC), which covers the rare loss of a LAN.
	SpeakerFEC bool
	// LevelInterval is the time between two level messages on stdout
	// (default 50 ms); parse them with LevelHandler.
	LevelInterval time.Duration
}

// MaxSpeakerPorts bounds AudioConfig.SpeakerPorts.
const MaxSpeakerPorts = 16

// LevelElement is the name of the speaker's level meter: Level.Element of
// the messages AudioArgs' pipeline prints.
const LevelElement = "speakerlevel"

func (c *AudioConfig) defaults() error {
	if c.Source == "" {
		c.Source = DeviceSim
	}
	if c.Sink == "" {
		c.Sink = DeviceSim
	}
	if c.ToneHz == 0 {
		c.ToneHz = 440
	}
	if c.OpusBitrate == 0 {
		c.OpusBitrate = 32000
	}
	if c.JitterLatency == 0 {
		c.JitterLatency = 40 * time.Millisecond
	}
	if c.LevelInterval == 0 {
		c.LevelInterval = 50 * time.Millisecond
	}
	if c.MicPort != 0 && !validPort(c.MicPort) {
		return fmt.Errorf("gst: mic port %d out of range", c.MicPort)
	}
	if c.SoundPort != 0 && !validPort(c.SoundPort) {
		return fmt.Errorf("gst: sound port %d out of range", c.SoundPort)
	}
	if len(c.SpeakerPorts) > MaxSpeakerPorts {
		return fmt.Errorf("gst: %d speaker ports, at most %d", len(c.SpeakerPorts), MaxSpeakerPorts)
	}
	seen := map[int]bool{c.SoundPort: c.SoundPort != 0}
	for _, p := range c.SpeakerPorts {
		if !validPort(p) {
			return fmt.Errorf("gst: speaker port %d out of range", p)
		}
		if seen[p] {
			return fmt.Errorf("gst: input port %d used twice", p)
		}
		seen[p] = true
	}
	for _, k := range []DeviceKind{c.Source, c.Sink} {
		if k != DeviceSim && k != DeviceALSA && k != DevicePulse && k != DeviceAuto {
			return fmt.Errorf("gst: unknown audio device kind %q", k)
		}
	}
	for _, d := range []string{c.SourceDevice, c.SinkDevice} {
		if err := validDevice(d); err != nil {
			return err
		}
	}
	switch {
	case c.AEC && c.MicPort == 0:
		return errors.New("gst: echo cancellation needs a microphone branch")
	case c.ToneHz < 20 || c.ToneHz > 20000:
		return fmt.Errorf("gst: tone %g Hz out of range", c.ToneHz)
	case c.OpusBitrate < 6000 || c.OpusBitrate > 510000:
		return fmt.Errorf("gst: opus bitrate %d out of range 6k..510k", c.OpusBitrate)
	case c.JitterLatency < 0 || c.JitterLatency > 2*time.Second:
		return fmt.Errorf("gst: jitter latency %v out of range", c.JitterLatency)
	case c.LevelInterval < 10*time.Millisecond || c.LevelInterval > 10*time.Second:
		return fmt.Errorf("gst: level interval %v out of range", c.LevelInterval)
	}
	return nil
}

// AudioArgs is the audio process's command. It prints bus messages (-m)
// so LevelHandler can follow the speaker's level.
//
//	mic:     source ! convert ! S16LE 48k mono [! webrtcdsp] ! opusenc (FEC,
//	         20 % loss) ! rtpopuspay ! udpsink 127.0.0.1:MicPort
//	speaker: silence + N x (udpsrc ! rtpjitterbuffer (lost packets
//	         reported) ! rtpopusdepay ! opusdec (PLC, FEC if SpeakerFEC))
//	         + udpsrc ! rtpjitterbuffer ! rtpL16depay
//	         ! audiomixer [! webrtcechoprobe] ! level ! sink
//
// A live silent source keeps the mixer (and the level messages, and the
// device) running even with no other input (no speaker ports, no sound
// port): without one, the mixer never produces a buffer. With inputs,
// the mixer times out on the silent ones and plays silence.
func AudioArgs(launch string, c AudioConfig) ([]string, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	jitter := "latency=" + strconv.FormatInt(c.JitterLatency.Milliseconds(), 10)
	a := []string{launch, "-e", "-m",
		// the mix, declared first so the inputs can link to "mix."
		"audiomixer", "name=mix", "!", audioCaps, "!"}
	if c.AEC {
		a = append(a, "webrtcechoprobe", "name=echoprobe", "!")
	}
	a = append(a, "level", "name="+LevelElement,
		"interval="+strconv.FormatInt(c.LevelInterval.Nanoseconds(), 10), "post-messages=true", "!")
	if c.Sink == DeviceSim {
		a = append(a, "fakesink", "sync=true")
	} else {
		a = append(a, "audioconvert", "!", "audioresample", "!", c.Sink.sink())
		if c.SinkDevice != "" {
			a = append(a, quoteValue("device", c.SinkDevice))
		}
	}
	a = append(a,
		"audiotestsrc", "is-live=true", "wave=silence", "samplesperbuffer=480", "!", audioCaps, "!", "mix.")
	for _, p := range c.SpeakerPorts {
		a = append(a, "udpsrc", "address=127.0.0.1", "port="+strconv.Itoa(p),
			"caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload="+strconv.Itoa(PayloadOpus),
			"!", "rtpjitterbuffer", jitter, "drop-on-latency=true", "do-lost=true",
			"!", "rtpopusdepay", "!", "opusdec", "use-inband-fec="+strconv.FormatBool(c.SpeakerFEC), "plc=true",
			"!", "audioconvert", "!", "audioresample", "!", "mix.")
	}
	if c.SoundPort != 0 {
		a = append(a, "udpsrc", "address=127.0.0.1", "port="+strconv.Itoa(c.SoundPort),
			"caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=L16,channels=1,payload="+strconv.Itoa(PayloadL16),
			"!", "rtpjitterbuffer", jitter,
			"!", "rtpL16depay", "!", "audioconvert", "!", "audioresample", "!", "mix.")
	}
	if c.MicPort != 0 {
		if c.Source == DeviceSim {
			a = append(a, "audiotestsrc", "is-live=true", "wave=sine",
				"freq="+strconv.FormatFloat(c.ToneHz, 'f', -1, 64), "volume=0.3", "samplesperbuffer=480")
		} else {
			a = append(a, c.Source.source())
			if c.SourceDevice != "" {
				a = append(a, quoteValue("device", c.SourceDevice))
			}
		}
		a = append(a, "!", "audioconvert", "!", "audioresample", "!", audioCaps, "!")
		if c.AEC {
			a = append(a, "webrtcdsp", "probe=echoprobe", "!", "audioconvert", "!")
		}
		a = append(a, "opusenc", "bitrate="+strconv.Itoa(c.OpusBitrate),
			"inband-fec=true", "packet-loss-percentage=20", "frame-size=20",
			"!", "rtpopuspay", "pt="+strconv.Itoa(PayloadOpus),
			"!", "udpsink", "host=127.0.0.1", "port="+strconv.Itoa(c.MicPort), "sync=false", "async=false")
	}
	return a, nil
}

// SoundArgs is the sound player's command: the sound file on stdin
// (Spec.StdinFile), decoded whatever its format (its audio stream only),
// converted to 48 kHz mono
// L16 and sent as RTP to the audio process's sound port. udpsink keeps
// sync on, so the file is sent in real time; the process exits 0 at the
// end of the file.
func SoundArgs(launch string, port int) ([]string, error) {
	if !validPort(port) {
		return nil, fmt.Errorf("gst: sound port %d out of range", port)
	}
	return []string{launch, "-e",
		"fdsrc", "fd=0", "!", "decodebin", "caps=audio/x-raw", "expose-all-streams=false", "!",
		"audioconvert", "!", "audioresample", "!",
		"audio/x-raw,format=S16BE,rate=48000,channels=1", "!",
		"rtpL16pay", "pt=" + strconv.Itoa(PayloadL16), "mtu=1200", "!",
		"udpsink", "host=127.0.0.1", "port=" + strconv.Itoa(port)}, nil
}

// PlaySound starts the sound player for the file at path, sending to
// port; the returned Process ends (Done, Err nil) at the end of the file,
// or with an *ExitError when the file cannot be decoded. Stop cuts it
// short.
func PlaySound(ctx context.Context, launch, path string, port int, log *slog.Logger) (*Process, error) {
	argv, err := SoundArgs(launch, port)
	if err != nil {
		return nil, err
	}
	return Start(ctx, Spec{Name: "sound", Argv: Fixed(argv), StdinFile: path, Restart: RestartNever, Logger: log})
}

// ProbeTimeout bounds Probe, as the reference does.
const ProbeTimeout = 5 * time.Second

// probeTimeout is ProbeTimeout, shortened by tests.
var probeTimeout = ProbeTimeout

// ErrNotAudio is wrapped by Probe's error when the file is no decodable
// audio.
var ErrNotAudio = errors.New("unsupported or invalid audio file")

// ProbeArgs is Probe's command: the file on stdin, decoded until 20
// audio buffers came out (then fakesink ends the stream) or the file ends.
// Typefinding fails on text or random bytes, and decodebin, told to
// expose audio streams only, fails on a file without one: all exit
// non-zero. (Without expose-all-streams=false, a short video-only file
// stalls instead of failing.)
func ProbeArgs(launch string) []string {
	return []string{launch,
		"fdsrc", "fd=0", "!", "decodebin", "caps=audio/x-raw", "expose-all-streams=false", "!",
		"audioconvert", "!", "fakesink", "sync=false", "num-buffers=20"}
}

// Probe decides within ProbeTimeout whether the file at path is audio
// GStreamer can decode. The error wraps ErrNotAudio when it is not (with
// GStreamer's reason), and says so when no decision came in time.
func Probe(ctx context.Context, launch, path string) error {
	// An empty file is no audio; GStreamer 1.22 sometimes never decides on
	// one (end of stream before typefind), so do not ask it.
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == 0 {
		return fmt.Errorf("%w: empty file", ErrNotAudio)
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	p, err := Start(ctx, Spec{Name: "probe", Argv: Fixed(ProbeArgs(launch)), StdinFile: path,
		Restart: RestartNever, Grace: 100 * time.Millisecond, Logger: discardLogger})
	if err != nil {
		return err
	}
	<-p.Done()
	err = p.Err()
	var ee *ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return fmt.Errorf("%w: %s", ErrNotAudio, firstError(ee.Stderr))
	case errors.Is(err, ErrStopped) && ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("%w: no decision within %v", ErrNotAudio, probeTimeout)
	}
	return err
}

var discardLogger = slog.New(slog.DiscardHandler)

func validPort(p int) bool { return p > 0 && p < 65536 }

// validDevice accepts the device names ALSA and PulseAudio use
// ("hw:CARD=Audio,DEV=0", "reachymini_audio_src",
// "alsa_input.usb-...-00.analog-stereo") and nothing that could break out
// of the quoted property value.
func validDevice(d string) error {
	if len(d) > 256 {
		return errors.New("gst: audio device name too long")
	}
	for _, r := range d {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("_-.:,=@/+ ", r)
		if !ok {
			return fmt.Errorf("gst: audio device name %q has a character other than letters, digits and _-.:,=@/+ and space", d)
		}
	}
	return nil
}

// quoteValue writes a property assignment whose value gst-launch-1.0
// parses back verbatim: double quotes keep spaces, '!' and commas inside
// the value. The value must hold no '"' or '\' (validDevice and the
// callers ensure it).
func quoteValue(prop, value string) string {
	return prop + `="` + value + `"`
}
