package gst

import (
	"strings"
	"testing"
	"time"
)

func desc(t *testing.T, argv []string, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if argv[0] != "/usr/bin/gst-launch-1.0" {
		t.Fatalf("argv[0] = %q", argv[0])
	}
	return strings.Join(argv[1:], " ")
}

const launch = "/usr/bin/gst-launch-1.0"

func TestVideoArgs(t *testing.T) {
	for _, tc := range []struct {
		cfg  VideoConfig
		want string
	}{
		{VideoConfig{Port: 5000},
			"-e fdsrc fd=0 blocksize=1048576 do-timestamp=true ! image/jpeg,framerate=30/1 ! jpegparse ! jpegdec ! " +
				"videoconvert ! video/x-raw,format=I420 ! vp8enc deadline=1 cpu-used=4 lag-in-frames=0 keyframe-max-dist=30 " +
				"end-usage=cbr target-bitrate=1500000 error-resilient=default threads=2 buffer-size=1000 buffer-initial-size=500 " +
				"buffer-optimal-size=600 ! rtpvp8pay pt=96 mtu=1200 picture-id-mode=15-bit ! " +
				"udpsink host=127.0.0.1 port=5000 sync=false async=false"},
		{VideoConfig{Encoder: EncoderX264, Port: 5001, Framerate: 15, Bitrate: 800_000},
			"-e fdsrc fd=0 blocksize=1048576 do-timestamp=true ! image/jpeg,framerate=15/1 ! jpegparse ! jpegdec ! " +
				"videoconvert ! video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 " +
				"bitrate=800 threads=2 ! video/x-h264,profile=constrained-baseline ! rtph264pay pt=96 mtu=1200 " +
				"config-interval=-1 aggregate-mode=zero-latency ! udpsink host=127.0.0.1 port=5001 sync=false async=false"},
		{VideoConfig{Encoder: EncoderV4L2H264, Port: 5002, Bitrate: 5_000_000, KeyframeInterval: 60},
			"-e fdsrc fd=0 blocksize=1048576 do-timestamp=true ! image/jpeg,framerate=30/1 ! jpegparse ! jpegdec ! " +
				"videoconvert ! video/x-raw,format=I420 ! v4l2h264enc " +
				`extra-controls="controls,video_bitrate=5000000,h264_i_frame_period=60,repeat_sequence_header=1" ! ` +
				"video/x-h264,profile=constrained-baseline,level=(string)3.1 ! h264parse ! rtph264pay pt=96 mtu=1200 " +
				"config-interval=-1 aggregate-mode=zero-latency ! udpsink host=127.0.0.1 port=5002 sync=false async=false"},
	} {
		argv, err := VideoArgs(launch, tc.cfg)
		if got := desc(t, argv, err); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.cfg.Encoder, got, tc.want)
		}
	}
	for _, bad := range []VideoConfig{
		{},
		{Port: 70000},
		{Port: 5000, Encoder: "theoraenc"},
		{Port: 5000, Framerate: 500},
		{Port: 5000, Bitrate: 1000},
		{Port: 5000, MTU: 9000},
		{Port: 5000, KeyframeInterval: -1},
	} {
		if _, err := VideoArgs(launch, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestAudioArgs(t *testing.T) {
	sim, err := AudioArgs(launch, AudioConfig{MicPort: 6000, SpeakerPorts: []int{6001, 6002}, SoundPort: 6003})
	want := "-e -m audiomixer name=mix ! " + audioCaps + " ! level name=speakerlevel interval=50000000 post-messages=true ! " +
		"fakesink sync=true " +
		"audiotestsrc is-live=true wave=silence samplesperbuffer=480 ! " + audioCaps + " ! mix. " +
		"udpsrc address=127.0.0.1 port=6001 caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111 ! " +
		"rtpjitterbuffer latency=40 drop-on-latency=true do-lost=true ! rtpopusdepay ! opusdec use-inband-fec=false plc=true ! " +
		"audioconvert ! audioresample ! mix. " +
		"udpsrc address=127.0.0.1 port=6002 caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111 ! " +
		"rtpjitterbuffer latency=40 drop-on-latency=true do-lost=true ! rtpopusdepay ! opusdec use-inband-fec=false plc=true ! " +
		"audioconvert ! audioresample ! mix. " +
		"udpsrc address=127.0.0.1 port=6003 caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=L16,channels=1,payload=96 ! " +
		"rtpjitterbuffer latency=40 ! rtpL16depay ! audioconvert ! audioresample ! mix. " +
		"audiotestsrc is-live=true wave=sine freq=440 volume=0.3 samplesperbuffer=480 ! audioconvert ! audioresample ! " +
		audioCaps + " ! opusenc bitrate=32000 inband-fec=true packet-loss-percentage=20 frame-size=20 ! " +
		"rtpopuspay pt=111 ! udpsink host=127.0.0.1 port=6000 sync=false async=false"
	if got := desc(t, sim, err); got != want {
		t.Errorf("simulated:\n got %s\nwant %s", got, want)
	}

	fec, err := AudioArgs(launch, AudioConfig{SpeakerPorts: []int{6001}, SpeakerFEC: true})
	if got := desc(t, fec, err); !strings.Contains(got, "opusdec use-inband-fec=true plc=true") {
		t.Errorf("SpeakerFEC: %s", got)
	}

	alsa, err := AudioArgs(launch, AudioConfig{MicPort: 6000, Source: DeviceALSA, SourceDevice: "reachymini_audio_src",
		Sink: DeviceALSA, SinkDevice: "hw:CARD=Audio,DEV=0", AEC: true, JitterLatency: 60 * time.Millisecond})
	want = "-e -m audiomixer name=mix ! " + audioCaps + " ! webrtcechoprobe name=echoprobe ! " +
		"level name=speakerlevel interval=50000000 post-messages=true ! audioconvert ! audioresample ! " +
		`alsasink device="hw:CARD=Audio,DEV=0" ` +
		"audiotestsrc is-live=true wave=silence samplesperbuffer=480 ! " + audioCaps + " ! mix. " +
		`alsasrc device="reachymini_audio_src" ! audioconvert ! audioresample ! ` + audioCaps + " ! " +
		"webrtcdsp probe=echoprobe ! audioconvert ! opusenc bitrate=32000 inband-fec=true packet-loss-percentage=20 " +
		"frame-size=20 ! rtpopuspay pt=111 ! udpsink host=127.0.0.1 port=6000 sync=false async=false"
	if got := desc(t, alsa, err); got != want {
		t.Errorf("ALSA with AEC:\n got %s\nwant %s", got, want)
	}

	auto, err := AudioArgs(launch, AudioConfig{Source: DeviceAuto, Sink: DevicePulse})
	if got := desc(t, auto, err); !strings.Contains(got, "audioresample ! pulsesink audiotestsrc") || strings.Contains(got, "autoaudiosrc") {
		t.Errorf("no microphone, pulse speaker: %s", got)
	}

	for _, bad := range []AudioConfig{
		{MicPort: -1},
		{SpeakerPorts: []int{7000, 7000}},
		{SpeakerPorts: []int{7000}, SoundPort: 7000},
		{SpeakerPorts: make([]int, MaxSpeakerPorts+1)},
		{AEC: true},
		{Source: "jack"},
		{MicPort: 6000, Source: DeviceALSA, SourceDevice: `hw:0" ! filesink location="/etc/passwd`},
		{Sink: DeviceALSA, SinkDevice: `a\b`},
		{ToneHz: 1e6},
		{LevelInterval: time.Millisecond},
	} {
		if _, err := AudioArgs(launch, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestSoundAndProbeArgs(t *testing.T) {
	argv, err := SoundArgs(launch, 6003)
	want := "-e fdsrc fd=0 ! decodebin caps=audio/x-raw expose-all-streams=false ! audioconvert ! audioresample ! " +
		"audio/x-raw,format=S16BE,rate=48000,channels=1 ! rtpL16pay pt=96 mtu=1200 ! udpsink host=127.0.0.1 port=6003"
	if got := desc(t, argv, err); got != want {
		t.Errorf("sound:\n got %s\nwant %s", got, want)
	}
	if _, err := SoundArgs(launch, 0); err == nil {
		t.Error("port 0 accepted")
	}
	want = "fdsrc fd=0 ! decodebin caps=audio/x-raw expose-all-streams=false ! audioconvert ! fakesink sync=false num-buffers=20"
	if got := desc(t, ProbeArgs(launch), nil); got != want {
		t.Errorf("probe:\n got %s\nwant %s", got, want)
	}
}
