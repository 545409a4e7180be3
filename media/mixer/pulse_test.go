package mixer

import (
	"errors"
	"reflect"
	"testing"
)

// pactl outputs in the C locale: PulseAudio's and PipeWire's (pipewire-pulse
// answers pactl with the same layout).
const (
	pactlInfo = `Server String: /run/user/1000/pulse/native
Library Protocol Version: 35
Server Protocol Version: 35
Is Local: yes
Client Index: 112
Tile Size: 65472
User Name: pollen
Host Name: reachy-mini
Server Name: PulseAudio (on PipeWire 1.0.5)
Server Version: 15.0.0
Default Sample Specification: float32le 2ch 48000Hz
Default Channel Map: front-left,front-right
Default Sink: alsa_output.platform-bcm2835_audio.stereo-fallback
Default Source: alsa_input.usb-Pollen_Robotics_Reachy_Mini_Audio_000000-00.analog-stereo
Cookie: 3a5c:0e4f
`
	pactlSinks = `Sink #47
	State: SUSPENDED
	Name: alsa_output.platform-bcm2835_audio.stereo-fallback
	Description: Built-in Audio Stereo
	Driver: PipeWire
	Sample Specification: s16le 2ch 48000Hz
	Channel Map: front-left,front-right
	Owner Module: 4294967295
	Mute: no
	Volume: front-left: 65536 / 100% / 0.00 dB,   front-right: 65536 / 100% / 0.00 dB
	        balance 0.00
	Base Volume: 65536 / 100% / 0.00 dB
	Monitor Source: alsa_output.platform-bcm2835_audio.stereo-fallback.monitor
	Latency: 0 usec, configured 0 usec
	Flags: HARDWARE HW_MUTE_CTRL HW_VOLUME_CTRL DECIBEL_VOLUME LATENCY
	Properties:
		alsa.card_name = "bcm2835 Headphones"
		device.description = "Built-in Audio Stereo"
	Formats:
		pcm

Sink #52
	State: RUNNING
	Name: alsa_output.usb-Pollen_Robotics_Reachy_Mini_Audio_000000-00.analog-stereo
	Description: Reachy Mini Audio Analog Stereo
	Driver: PipeWire
	Mute: no
	Volume: front-left: 45875 /  70% / -9.29 dB,   front-right: 45875 /  70% / -9.29 dB
	Properties:
		device.description = "Reachy Mini Audio Analog Stereo"
`
	pactlSources = `Source #48
	State: SUSPENDED
	Name: alsa_output.usb-Pollen_Robotics_Reachy_Mini_Audio_000000-00.analog-stereo.monitor
	Description: Monitor of Reachy Mini Audio Analog Stereo
	Driver: PipeWire
	Monitor of Sink: alsa_output.usb-Pollen_Robotics_Reachy_Mini_Audio_000000-00.analog-stereo
	Properties:
		device.class = "monitor"

Source #53
	State: RUNNING
	Name: alsa_input.usb-Pollen_Robotics_Reachy_Mini_Audio_000000-00.analog-stereo
	Description: Reachy Mini Audio Analog Stereo
	Driver: PipeWire
	Monitor of Sink: n/a
	Volume: front-left: 52429 /  80% / -5.81 dB,   front-right: 52429 /  80% / -5.81 dB
`
	getVolumeStereo = "Volume: front-left: 32768 /  50% / -18.06 dB,   front-right: 32768 /  50% / -18.06 dB\n        balance 0.00\n"
	getVolumeMono   = "Volume: mono: 52429 /  80% / -5.81 dB\n"
	getVolumeBoost  = "Volume: front-left: 100000 / 153% / 11.00 dB,   front-right: 100000 / 153% / 11.00 dB\n        balance 0.00\n"
)

const (
	reachySink   = "alsa_output.usb-Pollen_Robotics_Reachy_Mini_Audio_000000-00.analog-stereo"
	reachySource = "alsa_input.usb-Pollen_Robotics_Reachy_Mini_Audio_000000-00.analog-stereo"
)

func TestParsePactlVolume(t *testing.T) {
	cases := []struct {
		out  string
		want int
		err  bool
	}{
		{getVolumeStereo, 50, false},
		{getVolumeMono, 80, false},
		{getVolumeBoost, 100, false},
		{"Volume: front-left: 0 /   0% / -inf dB,   front-right: 0 /   0% / -inf dB\n", 0, false},
		{"", 0, true},
		{"Failed to get sink volume: No such entity\n", 0, true},
		{"Volume: front-left: 32768 / % / -18.06 dB\n", 0, true},
		{"Volume: front-left: 32768\n 50%\n", 0, true},
		{"Volume: 123456% \n", 0, true},
	}
	for _, c := range cases {
		got, err := ParsePactlVolume([]byte(c.out))
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%q: got %d, %v; want %d, error %v", c.out, got, err, c.want, c.err)
		}
	}
}

func TestParsePactlInfoAndList(t *testing.T) {
	info, err := ParsePactlInfo([]byte(pactlInfo))
	if err != nil {
		t.Fatal(err)
	}
	want := PulseInfo{
		Server:        "PulseAudio (on PipeWire 1.0.5)",
		DefaultSink:   "alsa_output.platform-bcm2835_audio.stereo-fallback",
		DefaultSource: reachySource,
	}
	if info != want {
		t.Fatalf("info %+v", info)
	}
	if _, err := ParsePactlInfo([]byte("Connection failure: Connection refused\n")); err == nil {
		t.Error("a connection failure parsed as info")
	}
	sinks, err := ParsePactlList([]byte(pactlSinks))
	if err != nil {
		t.Fatal(err)
	}
	wantSinks := []PulseDevice{
		{Name: "alsa_output.platform-bcm2835_audio.stereo-fallback", Description: "Built-in Audio Stereo"},
		{Name: reachySink, Description: "Reachy Mini Audio Analog Stereo"},
	}
	if !reflect.DeepEqual(sinks, wantSinks) {
		t.Fatalf("sinks %+v", sinks)
	}
	sources, err := ParsePactlList([]byte(pactlSources))
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 2 || !sources[0].Monitor || sources[1].Monitor || sources[1].Name != reachySource {
		t.Fatalf("sources %+v", sources)
	}
}

// The robot's sink and source are found by description (the monitor of
// its sink is skipped), and the volume commands name them.
func TestPulseAgainstFakePactl(t *testing.T) {
	dir := onPath(t)
	calls := fakeTool(t, dir, "pactl", map[string]reply{
		"info":                                        {out: pactlInfo},
		"list sinks":                                  {out: pactlSinks},
		"list sources":                                {out: pactlSources},
		"get-sink-volume " + reachySink:               {out: getVolumeStereo},
		"set-sink-volume " + reachySink + " 35%":      {},
		"get-source-volume " + reachySource:           {out: getVolumeMono},
		"set-source-volume " + reachySource + " 100%": {},
	})
	p, err := NewPulse(PulseConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Sink() != reachySink || p.Source() != reachySource {
		t.Fatalf("sink %q source %q", p.Sink(), p.Source())
	}
	if p.Device() != "Reachy Mini Audio Analog Stereo" || p.MicDevice() != "Reachy Mini Audio Analog Stereo" {
		t.Fatalf("devices %q %q", p.Device(), p.MicDevice())
	}
	if v, err := p.Speaker(); err != nil || v != 50 {
		t.Fatalf("Speaker = %d, %v", v, err)
	}
	if err := p.SetSpeaker(35); err != nil {
		t.Fatal(err)
	}
	if v, err := p.Mic(); err != nil || v != 80 {
		t.Fatalf("Mic = %d, %v", v, err)
	}
	if err := p.SetMic(100); err != nil {
		t.Fatal(err)
	}
	if err := p.SetMic(101); !errors.Is(err, ErrRange) {
		t.Fatalf("SetMic(101) = %v", err)
	}
	wantCalls(t, calls(),
		"info", "list sinks", "list sources",
		"get-sink-volume "+reachySink,
		"set-sink-volume "+reachySink+" 35%",
		"get-source-volume "+reachySource,
		"set-source-volume "+reachySource+" 100%",
	)
}

// Without the robot's board, the server's defaults are driven by their
// aliases, and named after the default devices' descriptions.
func TestPulseDefaults(t *testing.T) {
	dir := onPath(t)
	calls := fakeTool(t, dir, "pactl", map[string]reply{
		"info":                                  {out: pactlInfo},
		"list sinks":                            {out: pactlSinks[:len(pactlSinks)/2]},
		"list sources":                          {code: 1, err: "Failed\n"},
		"get-sink-volume @DEFAULT_SINK@":        {out: getVolumeBoost},
		"set-source-volume @DEFAULT_SOURCE@ 5%": {},
	})
	p, err := NewPulse(PulseConfig{CardNames: []string{"no such board"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Sink() != DefaultSink || p.Source() != DefaultSource {
		t.Fatalf("sink %q source %q", p.Sink(), p.Source())
	}
	if p.Device() != "Built-in Audio Stereo" {
		t.Errorf("device %q", p.Device())
	}
	if p.MicDevice() != "Unknown device (id="+reachySource+")" {
		t.Errorf("mic device %q", p.MicDevice())
	}
	if v, err := p.Speaker(); err != nil || v != 100 {
		t.Fatalf("Speaker = %d, %v", v, err)
	}
	if err := p.SetMic(5); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, calls(), "info", "list sinks", "list sources",
		"get-sink-volume @DEFAULT_SINK@", "set-source-volume @DEFAULT_SOURCE@ 5%")
}

func TestPulseNoServer(t *testing.T) {
	dir := onPath(t)
	fakeTool(t, dir, "pactl", map[string]reply{
		"info": {code: 1, err: "Connection failure: Connection refused\npa_context_connect() failed: Connection refused\n"},
	})
	if _, err := NewPulse(PulseConfig{}); !errors.Is(err, ErrNoPulseServer) {
		t.Fatalf("NewPulse without a server: %v", err)
	}
	emptyPath(t)
	if _, err := NewPulse(PulseConfig{}); !errors.Is(err, ErrNoPactl) {
		t.Fatalf("NewPulse without pactl: %v", err)
	}
}
