package mixer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNoPactl is returned by NewPulse when pactl is not installed.
var ErrNoPactl = errors.New("mixer: pactl not found (install pulseaudio-utils)")

// ErrNoPulseServer is returned by NewPulse when pactl finds no server.
var ErrNoPulseServer = errors.New("mixer: no PulseAudio or PipeWire server answers")

// The sound server's names for its current default devices.
const (
	DefaultSink   = "@DEFAULT_SINK@"
	DefaultSource = "@DEFAULT_SOURCE@"
)

// PulseConfig configures a Pulse mixer. The zero value finds everything.
type PulseConfig struct {
	// Sink and Source name the devices to drive. Empty: the one whose
	// description matches CardNames, else the server's default.
	Sink, Source string
	// CardNames are matched against device descriptions; DefaultCardNames
	// if nil.
	CardNames []string
	// Pactl is the command to run; "pactl" (found on PATH) if empty.
	Pactl string
	// Timeout bounds each pactl run; DefaultTimeout if zero.
	Timeout time.Duration
}

// Pulse is a Mixer that drives a PulseAudio or PipeWire server through
// pactl. The devices are chosen once, when it is made; a name that matched
// nothing is the server's default, which follows the server's choice.
type Pulse struct {
	r                 runner
	sink, source      string
	sinkDesc, srcDesc string
}

// NewPulse returns a Pulse mixer if pactl is installed and a server
// answers (pactl info), else ErrNoPactl or ErrNoPulseServer.
func NewPulse(cfg PulseConfig) (*Pulse, error) {
	name := cfg.Pactl
	if name == "" {
		name = "pactl"
	}
	r, err := newRunner(name, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPactl, err)
	}
	if cfg.CardNames == nil {
		cfg.CardNames = DefaultCardNames
	}
	out, err := r.run("info")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPulseServer, err)
	}
	info, err := ParsePactlInfo(out)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPulseServer, err)
	}
	p := &Pulse{r: r}
	var sinks, sources []PulseDevice
	if out, err := r.run("list", "sinks"); err == nil {
		sinks, _ = ParsePactlList(out)
	}
	if out, err := r.run("list", "sources"); err == nil {
		sources, _ = ParsePactlList(out)
	}
	p.sink, p.sinkDesc = choose(cfg.Sink, sinks, cfg.CardNames, DefaultSink, info.DefaultSink)
	p.source, p.srcDesc = choose(cfg.Source, sources, cfg.CardNames, DefaultSource, info.DefaultSource)
	return p, nil
}

// choose returns the device to drive and its description: the configured
// one, else the first (non-monitor) one whose description matches, else the
// server's default.
func choose(configured string, devs []PulseDevice, names []string, alias, def string) (string, string) {
	describe := func(name string) string {
		for _, d := range devs {
			if d.Name == name && d.Description != "" {
				return d.Description
			}
		}
		return "Unknown device (id=" + name + ")"
	}
	if configured != "" {
		return configured, describe(configured)
	}
	for _, d := range devs {
		if !d.Monitor && matchesCard(d.Description, names) {
			return d.Name, d.Description
		}
	}
	if def == "" {
		return alias, "Default"
	}
	return alias, describe(def)
}

// Sink is the sink the speaker volume is set on.
func (p *Pulse) Sink() string { return p.sink }

// Source is the source the microphone volume is set on.
func (p *Pulse) Source() string { return p.source }

func (p *Pulse) get(kind, dev string) (int, error) {
	out, err := p.r.run("get-"+kind+"-volume", dev)
	if err != nil {
		return 0, err
	}
	return ParsePactlVolume(out)
}

func (p *Pulse) set(kind, dev string, v int) error {
	if err := checkRange(v); err != nil {
		return err
	}
	_, err := p.r.run("set-"+kind+"-volume", dev, strconv.Itoa(v)+"%")
	return err
}

// Speaker implements Mixer.
func (p *Pulse) Speaker() (int, error) { return p.get("sink", p.sink) }

// SetSpeaker implements Mixer.
func (p *Pulse) SetSpeaker(v int) error { return p.set("sink", p.sink, v) }

// Mic implements Mixer.
func (p *Pulse) Mic() (int, error) { return p.get("source", p.source) }

// SetMic implements Mixer.
func (p *Pulse) SetMic(v int) error { return p.set("source", p.source, v) }

// Device implements Mixer: the sink's description.
func (p *Pulse) Device() string { return p.sinkDesc }

// MicDevice implements Mixer: the source's description.
func (p *Pulse) MicDevice() string { return p.srcDesc }

// Platform implements Mixer.
func (p *Pulse) Platform() string { return PlatformName() }

// ParsePactlVolume reads the volume from "pactl get-sink-volume" (or
// get-source-volume): "Volume: front-left: 32768 /  50% / -18.06 dB,
// front-right: ..." gives 50. It takes the first channel; a volume the
// server boosted past 100 % reads as 100, the top of the API's range.
func ParsePactlVolume(out []byte) (int, error) {
	if len(out) > maxParseInput {
		return 0, errors.New("pactl output too large")
	}
	s := string(out)
	i := strings.Index(s, "Volume:")
	if i < 0 {
		return 0, errors.New("no volume in pactl output")
	}
	s = s[i+len("Volume:"):]
	if nl := strings.IndexByte(s, '\n'); nl >= 0 {
		s = s[:nl]
	}
	pct := strings.IndexByte(s, '%')
	if pct < 0 {
		return 0, errors.New("no volume percentage in pactl output")
	}
	start := pct
	for start > 0 && s[start-1] >= '0' && s[start-1] <= '9' {
		start--
	}
	if start == pct || pct-start > 4 {
		return 0, errors.New("bad volume percentage in pactl output")
	}
	v, err := strconv.Atoi(s[start:pct])
	if err != nil {
		return 0, err
	}
	return min(v, 100), nil
}

// PulseInfo is what NewPulse uses of "pactl info".
type PulseInfo struct {
	Server        string
	DefaultSink   string
	DefaultSource string
}

// ParsePactlInfo reads "pactl info" (in the C locale).
func ParsePactlInfo(out []byte) (PulseInfo, error) {
	var info PulseInfo
	err := scanKeyed(out, func(indent int, key, val string) {
		if indent != 0 {
			return
		}
		switch key {
		case "Server Name":
			info.Server = val
		case "Default Sink":
			info.DefaultSink = val
		case "Default Source":
			info.DefaultSource = val
		}
	}, nil)
	if err == nil && info.Server == "" {
		err = errors.New("no server name in pactl info")
	}
	return info, err
}

// PulseDevice is one sink or source of "pactl list sinks" / "sources".
type PulseDevice struct {
	Name        string
	Description string
	// Monitor is true for a source that monitors a sink (what a sink
	// plays): never a microphone.
	Monitor bool
}

// ParsePactlList reads "pactl list sinks" or "pactl list sources" (in the C
// locale): a "Sink #N" or "Source #N" line, then tab-indented "Key: value"
// lines, properties one tab deeper (ignored).
func ParsePactlList(out []byte) ([]PulseDevice, error) {
	var devs []PulseDevice
	err := scanKeyed(out, func(indent int, key, val string) {
		if indent != 1 || len(devs) == 0 {
			return
		}
		d := &devs[len(devs)-1]
		switch key {
		case "Name":
			d.Name = val
		case "Description":
			d.Description = val
		case "Monitor of Sink":
			d.Monitor = val != "" && val != "n/a"
		}
	}, func(line string) error {
		if strings.HasPrefix(line, "Sink #") || strings.HasPrefix(line, "Source #") {
			if len(devs) >= maxControls {
				return errors.New("pactl lists too many devices")
			}
			devs = append(devs, PulseDevice{})
		}
		return nil
	})
	return devs, err
}

// scanKeyed walks pactl's "Key: value" text: kv gets each keyed line with
// its tab depth, header each unindented line.
func scanKeyed(out []byte, kv func(indent int, key, val string), header func(string) error) error {
	if len(out) > maxOutput {
		return errors.New("pactl output too large")
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 0; sc.Scan(); n++ {
		if n >= 8*maxParseLines {
			return errors.New("pactl output has too many lines")
		}
		line := sc.Text()
		indent := 0
		for indent < len(line) && line[indent] == '\t' {
			indent++
		}
		if indent == 0 && header != nil {
			if err := header(line); err != nil {
				return err
			}
		}
		body := line[indent:]
		if k, v, ok := strings.Cut(body, ": "); ok {
			kv(indent, k, strings.TrimSpace(v))
		} else if k, ok := strings.CutSuffix(body, ":"); ok {
			kv(indent, k, "")
		}
	}
	return sc.Err()
}
