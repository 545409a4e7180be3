package gst

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	info := needGst(t)
	if !filepath.IsAbs(info.Launch) || filepath.Base(info.Launch) != LaunchName ||
		filepath.Base(info.Inspect) != InspectName {
		t.Fatalf("tools %q %q", info.Launch, info.Inspect)
	}
	if !strings.HasPrefix(info.Version, "1.") {
		t.Fatalf("version %q", info.Version)
	}
	if len(info.Elements) != len(Elements) {
		t.Fatalf("%d elements reported, %d asked", len(info.Elements), len(Elements))
	}
	// What this machine has (GStreamer 1.22 with base/good/bad/ugly/libav)
	// and what no desktop has.
	for _, el := range []string{"fdsrc", "jpegdec", "vp8enc", "x264enc", "opusenc", "webrtcdsp", "audiomixer", "level", "decodebin"} {
		if !info.Elements[el] {
			t.Errorf("%s not found", el)
		}
	}
	if info.Elements["v4l2h264enc"] {
		t.Log("v4l2h264enc present: a Pi?")
	}
	encs := info.VideoEncoders()
	if !slices.Contains(encs, EncoderVP8) || !slices.Contains(encs, EncoderX264) {
		t.Errorf("video encoders %v", encs)
	}
	if !info.Camera() || !info.Elements["videotestsrc"] {
		t.Errorf("camera capture %v, videotestsrc %v", info.Camera(), info.Elements["videotestsrc"])
	}
	if !info.Audio() || !info.AEC() || !info.Sounds() {
		t.Errorf("audio %v aec %v sounds %v", info.Audio(), info.AEC(), info.Sounds())
	}
	if !slices.Contains(info.AudioSources(), DeviceALSA) || !slices.Contains(info.AudioSinks(), DeviceAuto) {
		t.Errorf("sources %v sinks %v", info.AudioSources(), info.AudioSinks())
	}
	t.Log(info.Summary())
}

func TestDetectConfiguredPath(t *testing.T) {
	info := needGst(t)
	got, err := Detect(t.Context(), info.Launch)
	if err != nil || got.Launch != info.Launch || got.Version != info.Version {
		t.Fatalf("Detect(%q) = %+v, %v", info.Launch, got, err)
	}
}

func TestDetectMissing(t *testing.T) {
	_, err := Detect(context.Background(), filepath.Join(t.TempDir(), "gst-launch-1.0"))
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("missing path: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Detect(context.Background(), ""); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("empty PATH: %v", err)
	}
	// gst-launch-1.0 without gst-inspect-1.0
	dir := t.TempDir()
	fake := filepath.Join(dir, LaunchName)
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'GStreamer 1.22.0'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Detect(context.Background(), fake); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), InspectName) {
		t.Fatalf("no gst-inspect-1.0: %v", err)
	}
}

func TestDetectBrokenTools(t *testing.T) {
	dir := t.TempDir()
	launch := filepath.Join(dir, LaunchName)
	inspect := filepath.Join(dir, InspectName)
	write := func(path, script string) {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(launch, "echo 'no version here'")
	write(inspect, "exit 0")
	if _, err := Detect(context.Background(), launch); err == nil || errors.Is(err, ErrNotInstalled) {
		t.Fatalf("no version: %v", err)
	}
	// gst-inspect-1.0 that crashes is an error, not "element missing"
	write(launch, "echo 'gst-launch-1.0 version 1.22.0'; echo 'GStreamer 1.22.0'")
	write(inspect, "kill -SEGV $$")
	if _, err := Detect(context.Background(), launch); err == nil {
		t.Fatal("crashing gst-inspect-1.0 accepted")
	}
	// exit 1 means "no such element"
	write(inspect, `case "$2" in vp8enc|rtpvp8pay|fdsrc|jpegparse|jpegdec|videoconvert|udpsink) exit 0;; esac; exit 1`)
	info, err := Detect(context.Background(), launch)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "1.22.0" || !slices.Equal(info.VideoEncoders(), []Encoder{EncoderVP8}) || info.Audio() {
		t.Fatalf("info %+v: encoders %v audio %v", info, info.VideoEncoders(), info.Audio())
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"gst-launch-1.0 version 1.22.0\nGStreamer 1.22.0\nhttps://tracker.debian.org/pkg/gstreamer1.0\n": "1.22.0",
		"GStreamer 1.24.2\n": "1.24.2",
		"GStreamer \n":       "",
		"GStreamer abc\n":    "",
		"":                   "",
	} {
		if got := parseVersion([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
