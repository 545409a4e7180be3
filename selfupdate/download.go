package selfupdate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Download fetches one release binary into a file, checking its size and
// SHA-256 against the signed index as it arrives.
type Download struct {
	Client *http.Client
	URL    string
	Size   int64
	SHA256 string
	// Dest is the final path: the file appears there, mode 0700, only once
	// its size and checksum are right. Until then it is a temporary file
	// beside it, removed on failure.
	Dest string
	// Idle ends a download that receives nothing for this long (default
	// 30 s); Timeout bounds the whole download (default 15 min).
	Idle, Timeout time.Duration
	// Progress, if set, is called as bytes arrive (done of Size).
	Progress func(done, total int64)
}

// ErrChecksum is returned when a downloaded binary is not the one the
// index signed.
var ErrChecksum = errors.New("the downloaded binary's SHA-256 does not match the signed index")

// Run downloads. On any error nothing is left at Dest or beside it.
func (d Download) Run(ctx context.Context) (err error) {
	idle, total := d.Idle, d.Timeout
	if idle <= 0 {
		idle = 30 * time.Second
	}
	if total <= 0 {
		total = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeoutCause(ctx, total, fmt.Errorf("download took longer than %s", total))
	defer cancel()
	// The stall timer: every read that brings bytes pushes it back.
	ctx, stall := context.WithCancelCause(ctx)
	defer stall(nil)
	timer := time.AfterFunc(idle, func() { stall(fmt.Errorf("download stalled: nothing received for %s", idle)) })
	defer timer.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL, nil)
	if err != nil {
		return err
	}
	c := d.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return withCause(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", d.URL, resp.StatusCode)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != d.Size {
		return fmt.Errorf("GET %s: the server announces %d bytes, the signed index %d", d.URL, resp.ContentLength, d.Size)
	}

	f, err := os.CreateTemp(filepath.Dir(d.Dest), "."+filepath.Base(d.Dest)+".part-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	w := &progressWriter{h: h, f: f, total: d.Size, fn: d.Progress, timer: timer, idle: idle}
	// One byte more than announced would be a different file: stop there.
	n, err := io.Copy(w, io.LimitReader(resp.Body, d.Size+1))
	switch {
	case err != nil:
		return fmt.Errorf("download interrupted after %d of %d bytes: %w", n, d.Size, withCause(ctx, err))
	case n < d.Size:
		return fmt.Errorf("download interrupted after %d of %d bytes", n, d.Size)
	case n > d.Size:
		return fmt.Errorf("GET %s: more bytes than the signed index's %d", d.URL, d.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.SHA256 {
		return fmt.Errorf("%w (got %s, want %s)", ErrChecksum, got, d.SHA256)
	}
	if err = f.Chmod(0o700); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), d.Dest)
}

// withCause prefers the reason a context ended (a stall, the total
// timeout) to the transport's "context canceled".
func withCause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) && !errors.Is(c, context.DeadlineExceeded) {
		return c
	}
	return err
}

type progressWriter struct {
	h     hash.Hash
	f     *os.File
	done  int64
	total int64
	fn    func(done, total int64)
	timer *time.Timer
	idle  time.Duration
}

func (w *progressWriter) Write(p []byte) (int, error) {
	w.timer.Reset(w.idle)
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.done += int64(n)
	if w.fn != nil && n > 0 {
		w.fn(w.done, w.total)
	}
	return n, err
}
