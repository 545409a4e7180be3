package camera

import (
	"context"
	"io"

	"reachyd/hw/camera"
)

// Stream runs the test pattern until ctx ends and writes each frame's JPEG
// image to w, back to back, with nothing in between: the output of
// `reachyd sim-camera`, which the daemon reads as a camera in a child
// process (media/gstcam NewCommand) so that rendering and encoding, about
// a third of a core at 640x480@30, happen outside its Go runtime and at a
// lower priority than the control loop. A write error (the daemon closed
// the pipe) ends it; a slow reader makes the pattern skip frames, as a
// slow encoder does.
func Stream(ctx context.Context, w io.Writer, width, height, fps int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var werr error
	err := NewTestPattern(width, height, fps).Run(ctx, func(f camera.Frame) {
		if werr != nil {
			return
		}
		if _, werr = w.Write(f.JPEG); werr != nil {
			cancel()
		}
	})
	if err != nil {
		return err
	}
	return werr
}
