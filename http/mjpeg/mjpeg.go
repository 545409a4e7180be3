// Package mjpeg serves camera frames to browsers over plain HTTP: a
// multipart/x-mixed-replace stream (an <img src> that keeps updating, with
// no JavaScript or video codec needed) and single-frame snapshots.
//
// The handlers are standard http.Handlers over a camera.Broadcaster; the
// gateway mounts them (echo.WrapHandler) on the routes it chooses.
package mjpeg

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"reachyd/hw/camera"
)

// Boundary separates the parts of the stream. It is long and unlikely
// enough never to occur inside JPEG data, for clients that look for it
// rather than trust Content-Length.
const Boundary = "reachyd-mjpeg-8f3a1c2e9b7d4f60"

// writeTimeout bounds the write of one frame. A viewer that stops reading
// (a suspended laptop, a dead Wi-Fi link) is dropped after this long, and
// it also lifts the gateway's http.Server WriteTimeout, which would
// otherwise cut every stream at that age.
const writeTimeout = 10 * time.Second

// Handler streams frames from b as multipart/x-mixed-replace, one
// image/jpeg part per frame with its Content-Length, until the client goes
// away. The latest frame is sent at once, so a viewer sees a picture even
// from a slow source; then every new frame, skipping frames when the
// client is slower than the camera (the broadcaster's newest-wins queue),
// never holding back the camera or other viewers.
//
// Each part is followed right away by the next boundary: a multipart
// parser (and browsers) can only tell that a part is complete when the
// next delimiter arrives, so this shows each frame without waiting a frame
// period for the next one.
func Handler(b *camera.Broadcaster) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowGetHead(w, r) {
			return
		}
		h := w.Header()
		h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+Boundary)
		noCache(h)
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		frames, unsubscribe := b.Subscribe()
		defer unsubscribe()

		rc := http.NewResponseController(w)
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write([]byte("--" + Boundary + "\r\n")); err != nil {
			return
		}
		var last *byte // the frame sent last, to avoid sending it twice
		send := func(f camera.Frame) error {
			if len(f.JPEG) == 0 || &f.JPEG[0] == last {
				return nil
			}
			last = &f.JPEG[0]
			if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return err
			}
			head := "Content-Type: image/jpeg\r\nContent-Length: " + strconv.Itoa(len(f.JPEG)) + "\r\n\r\n"
			if _, err := w.Write([]byte(head)); err != nil {
				return err
			}
			if _, err := w.Write(f.JPEG); err != nil {
				return err
			}
			if _, err := w.Write([]byte("\r\n--" + Boundary + "\r\n")); err != nil {
				return err
			}
			return rc.Flush()
		}
		if f, ok := b.Fresh(freshness); ok { // an old one is from a camera now stopped
			if send(f) != nil {
				return
			}
		}
		for {
			select {
			case <-r.Context().Done():
				return
			case f, ok := <-frames:
				if !ok || send(f) != nil {
					return
				}
			}
		}
	})
}

// freshness is how old the latest frame may be to be served as current:
// a camera that runs only while watched leaves an old picture behind.
const freshness = time.Second

// snapshotWait bounds the wait for a frame from a camera that is starting
// (a V4L2 device takes about half a second). A variable for tests.
var snapshotWait = 5 * time.Second

// Snapshot answers with a current frame as image/jpeg: the latest if it is
// recent, else the next one (which starts a camera that runs on demand),
// or 503 Service Unavailable (with Retry-After) when none comes in time.
func Snapshot(b *camera.Broadcaster) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowGetHead(w, r) {
			return
		}
		f, ok := b.Fresh(freshness)
		if !ok {
			ctx, cancel := context.WithTimeout(r.Context(), snapshotWait)
			next, err := b.Next(ctx)
			cancel()
			f, ok = next, err == nil
		}
		if !ok {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "no camera frame yet", http.StatusServiceUnavailable)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "image/jpeg")
		h.Set("Content-Length", strconv.Itoa(len(f.JPEG)))
		noCache(h)
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(f.JPEG)
		}
	})
}

func allowGetHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// noCache keeps browsers and proxies from storing live pictures.
func noCache(h http.Header) {
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
}
