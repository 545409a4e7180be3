package main

import (
	"bufio"
	"bytes"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"reachyd/media/gst"
	"reachyd/messages"
)

// TestCameraStreams runs the simulator's test pattern through the camera
// actor to the MJPEG routes and the RTSP server pymirokai's VideoAPI opens.
func TestCameraStreams(t *testing.T) {
	dataDir := t.TempDir()
	key := createKey(t, dataDir, "viewer", messages.LevelUser)
	rtspPort := freePort(t)
	d := startDaemon(t, "--data-dir", dataDir, "--camera", "test", "--camera-size", "320x240", "--camera-fps", "10",
		"--rtsp-port", fmt.Sprint(rtspPort))
	d.waitRunning()
	c := newV1(t, d.base, nil)

	if r := c.do("GET", "/api/v1/video/head_color.jpg", nil, nil); r.code != 401 {
		t.Fatalf("snapshot without a token: %d", r.code)
	}
	c.login(key)
	token := c.token

	t.Run("snapshot and MJPEG stream", func(t *testing.T) {
		var snap v1Resp
		deadline := time.Now().Add(10 * time.Second)
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
		// A browser's <img src> carries the token in the query.
		resp, err := http.Get(d.base + "/api/v1/video/head_color.mjpg?token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/x-mixed-replace" {
			t.Fatalf("stream type %q", resp.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(resp.Body, params["boundary"])
		for i := 0; i < 3; i++ {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			if _, err := jpeg.Decode(p); err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
		}
		var st map[string]any
		r := c.do("GET", "/api/v1/video/status", nil, nil)
		if r.code != 200 {
			t.Fatalf("status: %d %s", r.code, r.body)
		}
		st = r.json(t)
		if st["running"] != true || st["frames"].(float64) < 3 || !strings.Contains(st["source"].(string), "test pattern") {
			t.Fatalf("camera status %v", st)
		}
	})

	t.Run("the pattern runs in a child below the daemon's priority, while watched", func(t *testing.T) {
		// A viewer for the whole subtest: the camera runs on demand.
		resp, err := http.Get(d.base + "/api/v1/video/head_color.mjpg?token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		mr := multipart.NewReader(resp.Body, params["boundary"])
		pid := simCameraChild(t)
		if n := procNice(t, pid); n != gst.BackgroundNice {
			t.Errorf("sim-camera child at nice %d, want %d", n, gst.BackgroundNice)
		}
		if n := procNice(t, os.Getpid()); n != 0 {
			t.Errorf("the daemon at nice %d", n)
		}
		// A child that dies is replaced, and frames come again.
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if p := findSimCamera(t); p != 0 && p != pid {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no new sim-camera child after the first was killed")
			}
			time.Sleep(50 * time.Millisecond)
		}
		for i := 0; i < 3; i++ {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatalf("part %d after the restart: %v", i, err)
			}
			if _, err := jpeg.Decode(p); err != nil {
				t.Fatalf("part %d after the restart: %v", i, err)
			}
		}
		// Nobody watching: the child goes (after the 5 s linger).
		resp.Body.Close()
		deadline = time.Now().Add(30 * time.Second)
		for findSimCamera(t) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the sim-camera child still runs with nobody watching")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// A snapshot brings it back for a frame.
		if r := c.do("GET", "/api/v1/video/head_color.jpg", nil, nil); r.code != 200 {
			t.Fatalf("snapshot of a stopped camera: %d", r.code)
		} else if _, err := jpeg.Decode(bytes.NewReader(r.body)); err != nil {
			t.Fatal(err)
		}
	})

	url := fmt.Sprintf("rtsp://127.0.0.1:%d/head_color", rtspPort)
	t.Run("RTSP describe", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", rtspPort), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n", url)
		br := bufio.NewReader(conn)
		status, _ := br.ReadString('\n')
		if !strings.HasPrefix(status, "RTSP/1.0 200") {
			t.Fatalf("DESCRIBE: %q", status)
		}
		length := 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			line = strings.TrimSpace(line)
			if line == "" {
				break
			}
			if v, ok := strings.CutPrefix(line, "Content-Length:"); ok {
				fmt.Sscan(strings.TrimSpace(v), &length)
			}
		}
		sdp := make([]byte, length)
		if _, err := io.ReadFull(br, sdp); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(sdp), "m=video 0 RTP/AVP 26") {
			t.Fatalf("SDP %s", sdp)
		}
	})

	t.Run("ffprobe opens the stream", func(t *testing.T) {
		if _, err := exec.LookPath("ffprobe"); err != nil {
			t.Skip("ffprobe not installed (Debian's ffmpeg package; .ci/run installs it)")
		}
		out, err := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
			"-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", url).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "mjpeg,320,240" {
			t.Fatalf("ffprobe: %v %s", err, out)
		}
	})
}

// findSimCamera is the pid of this process's sim-camera child (0: none).
func findSimCamera(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	me := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmd, []byte("\x00sim-camera\x00")) {
			continue
		}
		if stat := procStat(pid); len(stat) > 1 && stat[1] == strconv.Itoa(me) {
			return pid
		}
	}
	return 0
}

func simCameraChild(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pid := findSimCamera(t); pid != 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatal("no sim-camera child process")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// procStat is /proc/pid/stat's fields from the third on (state, ppid, ...).
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
}

func procNice(t *testing.T, pid int) int {
	t.Helper()
	f := procStat(pid)
	if len(f) < 17 {
		t.Fatalf("no stat for %d", pid)
	}
	n, _ := strconv.Atoi(f[16])
	return n
}
