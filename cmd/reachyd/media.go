package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"reachyd/actors/media"
	"reachyd/actors/system"
	"reachyd/http/gateway"
	hwcam "reachyd/hw/camera"
	"reachyd/media/doa"
	"reachyd/media/gst"
	"reachyd/media/mixer"
	"reachyd/media/sounds"
	"reachyd/media/webrtc"
)

// parseICEServer reads --ice-server: URL[,username,credential].
func parseICEServer(v string) (webrtc.ICEServer, error) {
	parts := strings.Split(v, ",")
	if len(parts) != 1 && len(parts) != 3 {
		return webrtc.ICEServer{}, fmt.Errorf("--ice-server wants URL or URL,username,credential, got %q", v)
	}
	u := parts[0]
	if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
		return webrtc.ICEServer{}, fmt.Errorf("--ice-server URL must start with stun:, stuns:, turn: or turns:, got %q", u)
	}
	s := webrtc.ICEServer{URLs: []string{u}}
	if len(parts) == 3 {
		s.Username, s.Credential = parts[1], parts[2]
	}
	return s, nil
}

// parseAudioDevice reads --audio-source and --audio-sink: auto, sim,
// alsa[:DEVICE], pulse[:DEVICE].
func parseAudioDevice(v string) (gst.DeviceKind, string, error) {
	kind, dev, _ := strings.Cut(v, ":")
	switch kind {
	case "auto", "sim":
		if dev != "" {
			break
		}
		return gst.DeviceKind(kind), "", nil
	case "alsa":
		return gst.DeviceALSA, dev, nil
	case "pulse":
		return gst.DevicePulse, dev, nil
	}
	return "", "", fmt.Errorf("want auto, sim, alsa[:DEVICE] or pulse[:DEVICE], got %q", v)
}

// mediaSetup is the media actor's configuration, or nil with the reason
// media is off (--no-media, or no GStreamer: then one clear line says so).
// commands is filled in once the gateway exists.
func mediaSetup(o *Options, log *slog.Logger, cam *hwcam.Broadcaster, hooks *media.Hooks) (*system.MediaConfig, string) {
	if o.NoMedia {
		return nil, "--no-media"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := gst.Detect(ctx, o.GstLaunch)
	if err != nil {
		reason := "GStreamer not usable: " + err.Error()
		if errors.Is(err, gst.ErrNotInstalled) {
			reason = "GStreamer is not installed (apt-get install gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly)"
		}
		log.Warn("media off: no camera stream, microphone, speaker or WebRTC; " + reason)
		return nil, reason
	}
	log.Info("media: GStreamer found", "gstreamer", info.Summary())

	sim := o.Backend == "sim"
	opt := media.Options{Launch: o.GstLaunch, Info: info, Camera: cam, CameraFPS: o.CameraFPS, KeyframeInterval: o.KeyframeEvery, Hooks: hooks}

	// Video encoder: hardware H.264 where present (the robot's Pi), else VP8.
	encs := info.VideoEncoders()
	switch o.VideoEncoder {
	case "auto":
		if len(encs) > 0 {
			opt.VideoEncoder = encs[0]
		}
	case "vp8":
		opt.VideoEncoder = gst.EncoderVP8
	case "x264":
		opt.VideoEncoder = gst.EncoderX264
	case "v4l2h264":
		opt.VideoEncoder = gst.EncoderV4L2H264
	}

	// Audio devices: synthetic on the simulator.
	src, srcDev, _ := parseAudioDevice(o.AudioSource)
	sink, sinkDev, _ := parseAudioDevice(o.AudioSink)
	if src == gst.DeviceAuto && sim {
		src = gst.DeviceSim
	}
	if sink == gst.DeviceAuto && sim {
		sink = gst.DeviceSim
	}
	opt.Audio = gst.AudioConfig{Source: src, Sink: sink, SourceDevice: srcDev, SinkDevice: sinkDev,
		AEC: o.AEC && src != gst.DeviceSim && info.AEC(), SpeakerFEC: o.AudioFEC}

	// Volume: a simulated mixer on the simulator, else the sound server or
	// ALSA.
	if sim {
		opt.Mixer, err = mixer.NewSim(filepath.Join(o.DataDir, "volume.json"))
		if err != nil {
			log.Warn("media: simulated mixer state unreadable; starting from defaults", "err", err)
		}
	} else {
		opt.Mixer, err = mixer.Auto(mixer.AutoConfig{Warn: func(err error) { log.Warn("media: mixer", "err", err) }})
		if err != nil {
			opt.Mixer, opt.MixerErr = nil, err
			log.Warn("media: no volume control", "err", err)
		}
	}

	// Sounds and the robot's own cues.
	cues := filepath.Join(o.DataDir, "cues")
	if err := sounds.WriteCues(cues); err != nil {
		log.Warn("media: cannot write the cue sounds", "err", err)
	}
	opt.Sounds, err = sounds.Open(filepath.Join(o.DataDir, "sounds"), sounds.Options{CuesDir: cues})
	if err != nil {
		log.Warn("media: sounds folder unusable; uploads are off", "err", err)
		opt.Sounds = nil
	}

	// Direction of arrival and the audio board.
	if sim {
		opt.DoA = doa.NewSim(time.Now)
		opt.SpecsName = "mujoco"
	} else if board, err := doa.OpenBoard(); err == nil {
		opt.Board, opt.DoA = board, board
		log.Info("media: ReSpeaker audio board found")
	} else {
		log.Info("media: no ReSpeaker audio board: no direction of arrival", "err", err)
	}

	// WebRTC.
	for _, v := range o.ICEServers {
		s, _ := parseICEServer(v)
		opt.WebRTC.ICEServers = append(opt.WebRTC.ICEServers, s)
	}
	opt.WebRTC.LoopbackOnly = o.WebRTCLoopback
	opt.WebRTC.CheckOrigin = gateway.SignallingCheck(o.RobotName, hostNames(o.Host))
	addr := net.JoinHostPort(o.WebRTCHost, strconv.Itoa(o.WebRTCPort))
	opt.Listen = func() (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("WebRTC signalling on %s: %w (choose another --webrtc-port)", addr, err)
		}
		return ln, nil
	}
	return &system.MediaConfig{Options: opt}, ""
}

// peer adapts a producer session to the gateway's data-channel peer.
type peer struct{ s *webrtc.Session }

func (p peer) ID() string            { return p.s.ID() }
func (p peer) Send(msg []byte)       { _ = p.s.Send(msg) }
func (p peer) SubscribePose(on bool) { _ = p.s.SubscribePose(on) }

var _ http.Handler = (*webrtc.Producer)(nil)
