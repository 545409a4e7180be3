package mjpeg

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"reachyd/hw/camera"
)

// frame makes a small JPEG whose colour encodes n, so a decoded frame
// tells which one it was.
func frame(t testing.TB, n int) camera.Frame {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(n*40), 255-uint8(n*40), 128, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return camera.Frame{JPEG: b.Bytes(), Width: 32, Height: 24, Seq: uint64(n), At: time.Now()}
}

// frameIndex decodes a part and returns the n it was made from.
func frameIndex(t testing.TB, b []byte) int {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode part: %v", err)
	}
	r, _, _, _ := color.RGBAModel.Convert(img.At(16, 12)).RGBA()
	return int((r>>8)+20) / 40
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// publish feeds frames 1..5 in a loop until the test ends.
func publish(t *testing.T, b *camera.Broadcaster) {
	frames := make([]camera.Frame, 5)
	for i := range frames {
		frames[i] = frame(t, i+1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				b.Publish(frames[i%len(frames)])
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func TestHandlerStream(t *testing.T) {
	b := camera.NewBroadcaster()
	publish(t, b)
	srv := httptest.NewServer(Handler(b))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Cache-Control") == "" {
		t.Error("no Cache-Control")
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	seen := map[int]bool{}
	for i := 0; i < 20; i++ {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if ct := part.Header.Get("Content-Type"); ct != "image/jpeg" {
			t.Fatalf("part Content-Type %q", ct)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := strconv.Atoi(part.Header.Get("Content-Length")); n != len(body) {
			t.Fatalf("Content-Length %d, part has %d bytes", n, len(body))
		}
		n := frameIndex(t, body)
		if n < 1 || n > 5 {
			t.Fatalf("part %d decodes to no published frame (%d)", i, n)
		}
		seen[n] = true
	}
	if len(seen) < 2 {
		t.Fatalf("20 parts but only frames %v: the stream does not follow the camera", seen)
	}

	// The client goes away: the handler stops and unsubscribes.
	cancel()
	resp.Body.Close()
	waitFor(t, "the handler to unsubscribe", func() bool { return b.Subscribers() == 0 })
}

// The latest frame is sent at once, complete with its closing boundary,
// even when the camera produces nothing more.
func TestHandlerSendsLatestAtOnce(t *testing.T) {
	b := camera.NewBroadcaster()
	b.Publish(frame(t, 3))
	srv := httptest.NewServer(Handler(b))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	part, err := multipart.NewReader(resp.Body, params["boundary"]).NextPart()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(part) // returns only once the next boundary has arrived
	if err != nil {
		t.Fatal(err)
	}
	if n := frameIndex(t, body); n != 3 {
		t.Fatalf("first part is frame %d, want the latest, 3", n)
	}
}

func TestSnapshot(t *testing.T) {
	b := camera.NewBroadcaster()
	h := Snapshot(b)

	snapshotWait = 100 * time.Millisecond
	defer func() { snapshotWait = 5 * time.Second }()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/snapshot", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("before any frame: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	// A stale frame (a camera that stopped) is not served; the next one is.
	old := frame(t, 9)
	old.At = time.Now().Add(-time.Minute)
	b.Publish(old)
	snapshotWait = 10 * time.Second
	go func() {
		for b.Subscribers() == 0 {
			time.Sleep(time.Millisecond)
		}
		b.Publish(frame(t, 2))
	}()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/snapshot", nil))
	if rec.Code != http.StatusOK || frameIndex(t, rec.Body.Bytes()) != 2 {
		t.Fatalf("after a stale frame: %d", rec.Code)
	}

	b.Publish(frame(t, 1))
	latest := frame(t, 4)
	b.Publish(latest)
	tests := []struct {
		method   string
		status   int
		wantBody bool
	}{
		{http.MethodGet, http.StatusOK, true},
		{http.MethodHead, http.StatusOK, false},
		{http.MethodPost, http.StatusMethodNotAllowed, false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/snapshot", nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != http.StatusOK {
				if rec.Header().Get("Allow") != "GET, HEAD" {
					t.Errorf("Allow %q", rec.Header().Get("Allow"))
				}
				return
			}
			if rec.Header().Get("Content-Type") != "image/jpeg" || rec.Header().Get("Content-Length") != strconv.Itoa(len(latest.JPEG)) {
				t.Fatalf("headers %v", rec.Header())
			}
			if got := rec.Body.Bytes(); tt.wantBody != (len(got) > 0) || (tt.wantBody && !bytes.Equal(got, latest.JPEG)) {
				t.Fatalf("body of %d bytes, want the latest frame: %v", len(got), tt.wantBody)
			}
		})
	}
}

func TestHandlerMethods(t *testing.T) {
	b := camera.NewBroadcaster()
	b.Publish(frame(t, 1))
	h := Handler(b)
	tests := []struct {
		method string
		status int
	}{
		{http.MethodHead, http.StatusOK},
		{http.MethodPost, http.StatusMethodNotAllowed},
		{http.MethodDelete, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/stream", nil))
		if rec.Code != tt.status || rec.Body.Len() != 0 && tt.status == http.StatusOK {
			t.Errorf("%s: %d with %d body bytes, want %d and none", tt.method, rec.Code, rec.Body.Len(), tt.status)
		}
	}
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
}

// The handler also works on a ResponseWriter that cannot set deadlines
// (httptest.ResponseRecorder): it ends with the request context.
func TestHandlerWithoutDeadlines(t *testing.T) {
	b := camera.NewBroadcaster()
	b.Publish(frame(t, 2))
	ctx, cancel := context.WithCancel(context.Background())
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		Handler(b).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stream", nil).WithContext(ctx))
		close(done)
	}()
	waitFor(t, "the handler to subscribe", func() bool { return b.Subscribers() == 1 })
	cancel()
	<-done
	if !bytes.Contains(rec.Body.Bytes(), frame(t, 2).JPEG) {
		t.Fatal("latest frame not written")
	}
}
