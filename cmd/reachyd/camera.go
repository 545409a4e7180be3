package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"reachyd/hw/camera"
	"reachyd/media/gst"
	"reachyd/media/gstcam"
)

// gstCameraPrefix introduces a GStreamer source in --camera:
// "gst:libcamerasrc", "gst:videotestsrc pattern=ball is-live=true".
const gstCameraPrefix = "gst:"

// libcamera is the GStreamer source of the wireless robot's CSI camera,
// which plain V4L2 cannot drive.
const libcamera = "libcamerasrc"

// cameraSource picks the camera source from --camera: nil for none.
func cameraSource(o *Options, log *slog.Logger) (camera.Source, error) {
	w, h, _ := o.cameraSize()
	if o.Camera == "auto" && o.mujoco != nil { // --sim on MuJoCo: its eye camera (mujoco.go)
		if src, ok := mujocoCamera(o, w, h, log); ok {
			return src, nil
		}
	}
	switch c := o.Camera; {
	case c == "none":
		return nil, nil
	case c == "test" || (c == "auto" && o.Backend == "sim"):
		return simCamera(w, h, o.CameraFPS, log), nil
	case c == "auto":
		for _, d := range camera.ListV4L2() {
			src, err := camera.OpenV4L2(d.Path, w, h, o.CameraFPS)
			if err == nil {
				log.Info("camera: using the first usable V4L2 device", "device", d.Path, "card", d.Card)
				return src, nil
			}
			log.Warn("camera not usable", "device", d.Path, "err", err)
		}
		src, err := gstCamera(o, libcamera, log)
		if err != nil {
			log.Warn("no V4L2 camera, and no libcamera camera through GStreamer: no video (use --camera /dev/videoN, --camera gst:ELEMENT or --camera test)",
				"libcamera", err)
			return nil, nil
		}
		log.Info("camera: no V4L2 camera; capturing through GStreamer's libcamerasrc (the wireless robot's CSI camera)")
		return src, nil
	case strings.HasPrefix(c, "/dev/"):
		src, err := camera.OpenV4L2(c, w, h, o.CameraFPS)
		if err != nil {
			return nil, fmt.Errorf("--camera %s: %w", c, err)
		}
		return src, nil
	case strings.HasPrefix(c, gstCameraPrefix):
		src, err := gstCamera(o, strings.TrimPrefix(c, gstCameraPrefix), log)
		if err != nil {
			return nil, fmt.Errorf("--camera %s: %w", c, err)
		}
		return src, nil
	}
	return nil, fmt.Errorf("--camera must be auto, test, none, a /dev/video device or gst:ELEMENT [PROP=VALUE...], got %q", o.Camera)
}

// gstCamera is a GStreamer capture of source (an element and its
// properties), once gst-inspect-1.0 has confirmed that the element and
// the rest of the pipeline are installed: a missing plugin is a clear
// error now rather than a pipeline failing over and over.
func gstCamera(o *Options, source string, log *slog.Logger) (*gstcam.Source, error) {
	w, h, _ := o.cameraSize()
	cfg := gstcam.Config{Camera: gst.CameraConfig{Source: source, Width: w, Height: h, FPS: o.CameraFPS},
		Logger: log.With("component", "camera")}
	if _, err := gstcam.New(cfg); err != nil { // the description, before asking GStreamer
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	launch, missing, err := gst.Installed(ctx, o.GstLaunch,
		append([]string{gst.CameraSourceElement(source)}, gst.CameraElements...)...)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("GStreamer elements not installed: %s", strings.Join(missing, ", "))
	}
	cfg.Launch = launch
	return gstcam.New(cfg)
}
