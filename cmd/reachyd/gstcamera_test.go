package main

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"reachyd/hw/camera"
	"reachyd/media/gst"
	"reachyd/messages"
)

func TestCameraFlagGst(t *testing.T) {
	for _, ok := range []string{"gst:libcamerasrc", "gst:videotestsrc pattern=ball is-live=true",
		"gst:libcamerasrc camera-name=/base/soc/i2c0mux/i2c@1/imx708@1a", "gst:v4l2src device=/dev/video0"} {
		if _, err := parseFlags([]string{"--camera", ok}, io.Discard); err != nil {
			t.Errorf("--camera %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"gst:", "gst:videotestsrc ! fakesink", `gst:videotestsrc pattern="ball"`,
		"gst:videotestsrc; reboot", "gst:videotestsrc pattern=ball;", "gst:videotestsrc name=a a."} {
		if _, err := parseFlags([]string{"--camera", bad}, io.Discard); err == nil {
			t.Errorf("--camera %q accepted", bad)
		}
	}
}

// fakeGst writes a gst-launch-1.0 that is never run and a gst-inspect-1.0
// that knows the camera pipeline's elements, and libcamerasrc when
// withLibcamera.
func fakeGst(t *testing.T, withLibcamera bool) string {
	t.Helper()
	dir := t.TempDir()
	known := strings.Join(gst.CameraElements, "|")
	if withLibcamera {
		known += "|libcamerasrc"
	}
	for name, script := range map[string]string{
		gst.LaunchName:  "exit 1",
		gst.InspectName: `case "$2" in ` + known + `) exit 0;; esac; exit 1`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, gst.LaunchName)
}

func TestCameraAutoOnTheRobot(t *testing.T) {
	if devs := camera.ListV4L2(); len(devs) > 0 {
		t.Skipf("this machine has V4L2 cameras (%v): auto would choose one", devs)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	opts := func(launch string, extra ...string) *Options {
		o, err := parseFlags(append([]string{"--backend", "robot", "--gst-launch", launch, "--camera-size", "1280x720", "--camera-fps", "30"}, extra...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}

	// No V4L2 camera, libcamerasrc installed: the CSI camera.
	src, err := cameraSource(opts(fakeGst(t, true)), log)
	if err != nil || src == nil || src.Describe() != "gstreamer libcamerasrc 1280x720@30" {
		t.Fatalf("auto with libcamerasrc: %v %v", src, err)
	}
	if !strings.Contains(logs.String(), "libcamerasrc") {
		t.Errorf("the choice is not logged: %s", logs.String())
	}

	// Neither: no camera, and no error (the daemon runs without video).
	logs.Reset()
	src, err = cameraSource(opts(fakeGst(t, false)), log)
	if err != nil || src != nil {
		t.Fatalf("auto without libcamerasrc: %v %v", src, err)
	}
	if !strings.Contains(logs.String(), "libcamerasrc") || !strings.Contains(logs.String(), "no video") {
		t.Errorf("the absence is not explained: %s", logs.String())
	}
	src, err = cameraSource(opts(filepath.Join(t.TempDir(), "gst-launch-1.0")), log)
	if err != nil || src != nil {
		t.Fatalf("auto without GStreamer: %v %v", src, err)
	}

	// Asked for explicitly, a missing element or GStreamer is an error.
	if _, err := cameraSource(opts(fakeGst(t, false), "--camera", "gst:libcamerasrc"), log); err == nil || !strings.Contains(err.Error(), "libcamerasrc") {
		t.Fatalf("gst:libcamerasrc without it: %v", err)
	}
	if _, err := cameraSource(opts(filepath.Join(t.TempDir(), "gst-launch-1.0"), "--camera", "gst:videotestsrc"), log); !errors.Is(err, gst.ErrNotInstalled) {
		t.Fatalf("gst: without GStreamer: %v", err)
	}
}

// childrenMatching lists the live processes whose command line holds s.
func childrenMatching(s string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmd, []byte(s)) {
			if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
				if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
					continue
				}
			}
			out = append(out, pid)
		}
	}
	return out
}

// TestGstCameraStreams runs a GStreamer source (videotestsrc through the
// real capture pipeline) from --camera to the MJPEG routes.
func TestGstCameraStreams(t *testing.T) {
	requireMedia(t)
	dataDir := t.TempDir()
	key := createKey(t, dataDir, "viewer", messages.LevelUser)
	// A name only this test uses, to find the pipeline's process.
	marker := fmt.Sprintf("reachydgstcam%d", os.Getpid())
	d := startDaemon(t, "--data-dir", dataDir, "--gst-launch", "gst-launch-1.0",
		"--camera", "gst:videotestsrc pattern=ball is-live=true name="+marker, "--camera-size", "320x240", "--camera-fps", "15")
	d.waitRunning()
	c := newV1(t, d.base, nil)
	c.login(key)

	var snap v1Resp
	deadline := time.Now().Add(20 * time.Second)
	for {
		snap = c.do("GET", "/api/v1/video/head_color.jpg", nil, nil)
		if snap.code == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if snap.code != 200 || snap.hdr.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("snapshot: %d %q", snap.code, snap.hdr.Get("Content-Type"))
	}
	img, err := jpeg.Decode(bytes.NewReader(snap.body))
	if err != nil || img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
		t.Fatalf("snapshot image: %v %v", err, img.Bounds())
	}

	resp, err := http.Get(d.base + "/api/v1/video/head_color.mjpg?token=" + c.token)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" {
		t.Fatalf("stream type %q", resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var parts [][]byte
	for i := 0; i < 3; i++ {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if img, err := jpeg.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() != 320 {
			t.Fatalf("part %d: %v", i, err)
		}
		parts = append(parts, b)
	}
	if bytes.Equal(parts[0], parts[2]) {
		t.Fatal("the stream does not move")
	}

	r := c.do("GET", "/api/v1/video/status", nil, nil)
	if r.code != 200 {
		t.Fatalf("status: %d %s", r.code, r.body)
	}
	st := r.json(t)
	if st["running"] != true || st["frames"].(float64) < 3 ||
		st["source"] != "gstreamer videotestsrc pattern=ball is-live=true name="+marker+" 320x240@15" {
		t.Fatalf("camera status %v", st)
	}
	pids := childrenMatching(marker)
	if len(pids) != 1 {
		t.Fatalf("%d pipelines named %s running, want 1", len(pids), marker)
	}

	// Stopping the daemon ends the pipeline.
	resp.Body.Close()
	d.stop()
	waitGone := time.Now().Add(10 * time.Second)
	for len(childrenMatching(marker)) > 0 {
		if time.Now().After(waitGone) {
			t.Fatalf("the camera pipeline outlived the daemon: %v", childrenMatching(marker))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
