package main

import (
	"slices"
	"strings"
	"testing"

	"reachyd/media/gst"
)

// TestRewriteAudioArgs: the wrapper finds the simulated microphone and the
// speaker's level meter in the audio process media/gst builds today, and
// refuses an audio process it does not understand.
func TestRewriteAudioArgs(t *testing.T) {
	args, err := gst.AudioArgs("gst-launch-1.0", gst.AudioConfig{MicPort: 5000, SpeakerPorts: []int{5001, 5002}, SoundPort: 5003})
	if err != nil {
		t.Fatal(err)
	}
	out, err := rewriteAudioArgs(args[1:], gstWrapConfig{MicPort: 6000, LevelNs: 10_000_000})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(out, " ")
	for _, want := range []string{
		"udpsrc address=127.0.0.1 port=6000 caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=L16,channels=1,payload=96 ! rtpL16depay ! audioconvert",
		"name=" + gst.LevelElement + " interval=10000000 ",
		"port=5001", "port=5002", "port=5003", "port=5000",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("rewritten audio process lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "wave=sine") || strings.Contains(line, "interval=50000000") {
		t.Errorf("left in place:\n%s", line)
	}
	// Only the audio process is touched.
	video, err := gst.VideoArgs("gst-launch-1.0", gst.VideoConfig{Port: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := rewriteAudioArgs(video[1:], gstWrapConfig{MicPort: 6000, LevelNs: 1}); err != nil || !slices.Equal(out, video[1:]) {
		t.Errorf("video process rewritten: %v %v", out, err)
	}
	threads, err := rewriteVideoArgs(video[1:], gstWrapConfig{VideoThreads: 1})
	if err != nil || !strings.Contains(strings.Join(threads, " "), "vp8enc deadline=1") || !slices.Contains(threads, "threads=1") || slices.Contains(threads, "threads=2") {
		t.Errorf("video threads: %v %v", threads, err)
	}
	if out, err := rewriteVideoArgs(args[1:], gstWrapConfig{VideoThreads: 1}); err != nil || !slices.Equal(out, args[1:]) {
		t.Errorf("audio process rewritten for the video: %v %v", out, err)
	}
	// A microphone that is not the simulator's cannot be fed.
	real, err := gst.AudioArgs("gst-launch-1.0", gst.AudioConfig{MicPort: 5000, Source: gst.DeviceALSA})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rewriteAudioArgs(real[1:], gstWrapConfig{MicPort: 6000}); err == nil {
		t.Error("an ALSA microphone was accepted as the simulator's")
	}
}
