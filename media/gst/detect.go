package gst

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// ErrNotInstalled says GStreamer's command-line tools are missing. The
// daemon logs it once and reports no_media.
var ErrNotInstalled = errors.New("gstreamer not installed")

// LaunchName and InspectName are the tools this package runs.
const (
	LaunchName  = "gst-launch-1.0"
	InspectName = "gst-inspect-1.0"
)

// inspectTimeout bounds one gst-inspect-1.0 or --version run. The first
// run after an install rebuilds GStreamer's plugin registry, which takes a
// few seconds on a Pi; later runs take about 10 ms.
var inspectTimeout = 15 * time.Second

// maxToolOutput bounds what is read from a detection command.
const maxToolOutput = 64 << 10

// Elements is the fixed list Detect asks gst-inspect-1.0 about: every
// element the pipelines of this package use, and the alternatives they
// choose between.
var Elements = []string{
	// video
	"fdsrc", "jpegparse", "jpegdec", "videoconvert",
	"vp8enc", "rtpvp8pay", "x264enc", "v4l2h264enc", "h264parse", "rtph264pay",
	// transport
	"udpsrc", "udpsink", "rtpjitterbuffer",
	// audio
	"audiotestsrc", "audioconvert", "audioresample", "audiomixer", "level",
	"opusenc", "opusdec", "rtpopuspay", "rtpopusdepay", "rtpL16pay", "rtpL16depay",
	"webrtcdsp", "webrtcechoprobe",
	"alsasrc", "alsasink", "pulsesrc", "pulsesink", "autoaudiosrc", "autoaudiosink",
	"fakesink", "decodebin",
	// camera capture (CameraArgs) and its sources: the wireless robot's
	// CSI camera (libcamerasrc), V4L2, and the test source
	"videorate", "videoscale", "jpegenc", "fdsink",
	"libcamerasrc", "v4l2src", "videotestsrc",
}

// CameraElements are the elements CameraArgs needs besides its source.
var CameraElements = []string{"videorate", "videoscale", "videoconvert", "jpegenc", "fdsink"}

// Info is what Detect found: the tools' paths, GStreamer's version and
// which elements of Elements are installed. The methods say which
// pipelines are usable.
type Info struct {
	// Launch and Inspect are the absolute paths of the tools.
	Launch, Inspect string
	// Version is GStreamer's version, e.g. "1.22.0".
	Version string
	// Elements maps every name of Elements to whether it is installed.
	Elements map[string]bool
}

// Has reports whether all the named elements are installed.
func (i Info) Has(names ...string) bool {
	for _, n := range names {
		if !i.Elements[n] {
			return false
		}
	}
	return true
}

// Encoder names a video encoder element VideoArgs knows.
type Encoder string

const (
	// VP8 in software (libvpx), realtime settings. Every browser decodes it.
	EncoderVP8 Encoder = "vp8enc"
	// H.264 in software (x264), zerolatency, constrained baseline.
	EncoderX264 Encoder = "x264enc"
	// H.264 in the Raspberry Pi's hardware encoder (V4L2 M2M). Untested
	// here: no such device.
	EncoderV4L2H264 Encoder = "v4l2h264enc"
)

// Codec is the RTP encoding name: "VP8" or "H264".
func (e Encoder) Codec() string {
	if e == EncoderVP8 {
		return "VP8"
	}
	return "H264"
}

// Hardware reports whether the encoder runs on dedicated hardware.
func (e Encoder) Hardware() bool { return e == EncoderV4L2H264 }

// elements is what VideoArgs needs for this encoder.
func (e Encoder) elements() []string {
	base := []string{"fdsrc", "jpegparse", "jpegdec", "videoconvert", "udpsink", string(e)}
	switch e {
	case EncoderVP8:
		return append(base, "rtpvp8pay")
	case EncoderV4L2H264:
		return append(base, "h264parse", "rtph264pay")
	}
	return append(base, "rtph264pay")
}

// VideoEncoders lists the encoders whose whole pipeline is installed,
// best first: the hardware H.264 encoder, then VP8 (the codec every WebRTC
// peer accepts), then x264.
func (i Info) VideoEncoders() []Encoder {
	var out []Encoder
	for _, e := range []Encoder{EncoderV4L2H264, EncoderVP8, EncoderX264} {
		if i.Has(e.elements()...) {
			out = append(out, e)
		}
	}
	return out
}

// Audio reports whether AudioArgs can build its pipeline with the test
// source and fake sink (the simulator's); real devices also need
// AudioSources and AudioSinks.
func (i Info) Audio() bool {
	return i.Has("audiotestsrc", "audioconvert", "audioresample", "audiomixer", "level",
		"opusenc", "opusdec", "rtpopuspay", "rtpopusdepay", "rtpjitterbuffer",
		"rtpL16depay", "udpsrc", "udpsink", "fakesink")
}

// AEC reports whether echo cancellation (webrtcdsp with its probe) is
// installed.
func (i Info) AEC() bool { return i.Has("webrtcdsp", "webrtcechoprobe") }

// Sounds reports whether sound files can be probed and played.
func (i Info) Sounds() bool {
	return i.Has("fdsrc", "decodebin", "audioconvert", "audioresample", "rtpL16pay", "udpsink", "fakesink")
}

// Camera reports whether CameraArgs' pipeline, less its source, is
// installed.
func (i Info) Camera() bool { return i.Has(CameraElements...) }

// AudioSources lists the installed microphone kinds among DeviceALSA,
// DevicePulse and DeviceAuto.
func (i Info) AudioSources() []DeviceKind {
	return i.devices("src")
}

// AudioSinks lists the installed speaker kinds among DeviceALSA,
// DevicePulse and DeviceAuto.
func (i Info) AudioSinks() []DeviceKind {
	return i.devices("sink")
}

func (i Info) devices(which string) []DeviceKind {
	var out []DeviceKind
	for _, k := range []DeviceKind{DeviceALSA, DevicePulse, DeviceAuto} {
		el := k.source()
		if which == "sink" {
			el = k.sink()
		}
		if i.Elements[el] {
			out = append(out, k)
		}
	}
	return out
}

// Summary is one line for the daemon's log.
func (i Info) Summary() string {
	var enc []string
	for _, e := range i.VideoEncoders() {
		enc = append(enc, string(e))
	}
	var missing []string
	for _, n := range Elements {
		if !i.Elements[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	return fmt.Sprintf("GStreamer %s (%s): video encoders [%s], audio %v, aec %v, sounds %v, camera capture %v, missing [%s]",
		i.Version, i.Launch, strings.Join(enc, " "), i.Audio(), i.AEC(), i.Sounds(), i.Camera(), strings.Join(missing, " "))
}

// Detect finds gst-launch-1.0 (launch if not empty, else in PATH) and
// gst-inspect-1.0 (next to it, else in PATH), reads GStreamer's version
// and asks gst-inspect-1.0 about each of Elements. Each command is bounded
// by a timeout as well as by ctx. When the tools are missing the error
// wraps ErrNotInstalled.
func Detect(ctx context.Context, launch string) (Info, error) {
	var info Info
	var err error
	if info.Launch, info.Inspect, err = findTools(launch); err != nil {
		return info, err
	}

	out, _, err := runTool(ctx, info.Launch, "--version")
	if err != nil {
		return info, fmt.Errorf("gstreamer: %s --version: %w", info.Launch, err)
	}
	if info.Version = parseVersion(out); info.Version == "" {
		return info, fmt.Errorf("gstreamer: %s --version: no version in %q", info.Launch, truncate(out, 200))
	}

	info.Elements, err = inspectElements(ctx, info.Inspect, Elements)
	return info, err
}

// Installed is the light version of Detect, for a choice to make before
// media starts (which camera to use): it finds the tools as Detect does
// and asks gst-inspect-1.0 about the named elements only. It returns the
// absolute path of gst-launch-1.0 and the elements that are missing.
func Installed(ctx context.Context, launch string, names ...string) (launchPath string, missing []string, err error) {
	launchPath, inspect, err := findTools(launch)
	if err != nil {
		return "", nil, err
	}
	have, err := inspectElements(ctx, inspect, names)
	if err != nil {
		return "", nil, err
	}
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	return launchPath, missing, nil
}

// findTools finds gst-launch-1.0 (launch if not empty, else in PATH) and
// gst-inspect-1.0 (next to it, else in PATH).
func findTools(launch string) (launchPath, inspect string, err error) {
	if launch == "" {
		launch = LaunchName
	}
	if launchPath, err = exec.LookPath(launch); err != nil {
		return "", "", fmt.Errorf("%w: %s not found (install gstreamer1.0-tools): %v", ErrNotInstalled, launch, err)
	}
	if launchPath, err = filepath.Abs(launchPath); err != nil {
		return "", "", err
	}
	inspect = filepath.Join(filepath.Dir(launchPath), InspectName)
	if st, err := os.Stat(inspect); err != nil || st.IsDir() {
		if inspect, err = exec.LookPath(InspectName); err != nil {
			return "", "", fmt.Errorf("%w: %s not found next to %s nor in PATH", ErrNotInstalled, InspectName, launchPath)
		}
	}
	return launchPath, inspect, nil
}

// inspectElements asks gst-inspect-1.0 --exists about each name.
func inspectElements(ctx context.Context, inspect string, names []string) (map[string]bool, error) {
	have := make(map[string]bool, len(names))
	for _, name := range names {
		_, code, err := runTool(ctx, inspect, "--exists", name)
		switch {
		case err == nil:
			have[name] = true
		case code == 1: // --exists: 1 means "no such element"
			have[name] = false
		default:
			return have, fmt.Errorf("gstreamer: %s --exists %s: %w", inspect, name, err)
		}
	}
	return have, nil
}

// runTool runs a short detection command and returns its stdout (bounded)
// and exit code (-1 when it did not exit normally).
func runTool(ctx context.Context, path string, args ...string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = time.Second
	var out limitedBuffer
	out.max = maxToolOutput
	cmd.Stdout = &out
	err := cmd.Run()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return out.Bytes(), code, err
}

// parseVersion finds "GStreamer X.Y.Z" in gst-launch-1.0 --version.
func parseVersion(out []byte) string {
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "GStreamer "); ok {
			v = strings.TrimSpace(v)
			if v != "" && v[0] >= '0' && v[0] <= '9' && len(v) <= 32 {
				return v
			}
		}
	}
	return ""
}

// limitedBuffer keeps the first max bytes written to it and discards the
// rest, so a chatty tool cannot grow the daemon's memory.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
