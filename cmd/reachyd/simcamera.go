package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"reachyd/hw/camera"
	"reachyd/media/gstcam"
	simcam "reachyd/sim/camera"
)

// childEnv is added to the environment of the children reachyd starts
// from its own binary (sim-camera). Tests, whose binary is not reachyd,
// set it so that the child runs reachyd's main instead of the tests.
var childEnv []string

// runSimCamera is `reachyd sim-camera`: the simulator's test pattern, as
// JPEG images back to back on stdout, until stdout is closed or a signal.
func runSimCamera(ctx context.Context, args []string, out io.Writer, errOut io.Writer) error {
	fs := flag.NewFlagSet("reachyd sim-camera", flag.ContinueOnError)
	fs.SetOutput(errOut)
	width := fs.Int("width", 640, "picture width")
	height := fs.Int("height", 480, "picture height")
	fps := fs.Int("fps", 30, "frames per second")
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: reachyd sim-camera [-width W] [-height H] [-fps N] > frames.mjpeg")
		fmt.Fprintln(errOut, "The simulator's moving test pattern, as JPEG images back to back on stdout; the daemon runs it as its camera with --camera test.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 256<<10)
	return simcam.Stream(ctx, flushWriter{w}, *width, *height, *fps)
}

// flushWriter writes each image whole, then flushes it: one image, one
// pipe write (or a few), none held back.
type flushWriter struct{ w *bufio.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.w.Flush()
	}
	return n, err
}

// simCamera is --camera test: the pattern rendered and encoded by a child
// process (reachyd sim-camera), so that its third of a core runs outside
// the daemon's Go runtime and below the control loop's priority; in the
// daemon itself when reachyd cannot find its own binary.
func simCamera(w, h, fps int, log *slog.Logger) camera.Source {
	exe, err := os.Executable()
	if err == nil {
		desc := fmt.Sprintf("test pattern %dx%d@%d (child process)", w, h, fps)
		argv := []string{exe, "sim-camera", "-width", strconv.Itoa(w), "-height", strconv.Itoa(h), "-fps", strconv.Itoa(fps)}
		var env []string
		if len(childEnv) > 0 {
			env = append(os.Environ(), childEnv...)
		}
		src, err := gstcam.NewCommand(argv, env, desc, gstcam.Config{Logger: log.With("component", "camera")})
		if err == nil {
			return src
		}
	}
	log.Warn("camera: the test pattern runs inside the daemon", "err", err)
	return simcam.NewTestPattern(w, h, fps)
}
