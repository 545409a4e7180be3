package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gstChildren lists this process's gst-launch children.
func gstChildren(t *testing.T) []string {
	t.Helper()
	var out []string
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "(gst-launch") {
			continue
		}
		if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == self {
			out = append(out, filepath.Base(filepath.Dir(p)))
		}
	}
	return out
}

// TestNoGStreamer: without GStreamer reachyd starts, says why in one line,
// and reports no_media.
func TestNoGStreamer(t *testing.T) {
	var log lockedBuffer
	d := startDaemonLog(t, &log, "--log-level", "WARNING", "--gst-launch", "/nonexistent/gst-launch-1.0", "--camera", "test")
	d.waitRunning()
	s := d.mediaStatus()
	if s.Available || !s.NoMedia {
		t.Fatalf("media status %+v, want no_media", s)
	}
	var st map[string]any
	d.getJSON("/api/daemon/status", &st)
	if st["no_media"] != true {
		t.Fatalf("daemon status no_media %v", st["no_media"])
	}
	if n := strings.Count(log.String(), "media off"); n != 1 || !strings.Contains(log.String(), "GStreamer is not installed") {
		t.Fatalf("want one clear line about GStreamer, got %d in:\n%s", n, log.String())
	}
	if code, _ := d.do("GET", "/api/volume/current", nil); code != 503 {
		t.Fatalf("volume without media: %d, want 503", code)
	}
}

// TestNoMediaOpensNothing: --no-media starts no pipeline and no signalling
// server, even with GStreamer present.
func TestNoMediaOpensNothing(t *testing.T) {
	requireMedia(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	before := len(gstChildren(t))
	d := startDaemon(t, "--no-media", "--gst-launch", "gst-launch-1.0", "--webrtc-port", strconv.Itoa(port), "--camera", "test")
	d.waitRunning()
	time.Sleep(300 * time.Millisecond) // what would have started has
	if s := d.mediaStatus(); !s.NoMedia || s.Available {
		t.Fatalf("media status %+v, want no_media", s)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		c.Close()
		t.Fatalf("something listens on the WebRTC port %d with --no-media", port)
	}
	if n := len(gstChildren(t)); n != before {
		t.Fatalf("%d gst-launch children with --no-media (had %d)", n, before)
	}
}
