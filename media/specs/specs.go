// Package specs describes the cameras a Reachy Mini can carry: for each
// model, the modes it can stream, the one it starts in, and its calibration
// (intrinsic matrix K and distortion coefficients D). GET /api/camera/specs
// serves one of these, chosen by the name the media actor detected
// (status camera_specs_name), and the Python SDK undistorts frames and
// projects points with the numbers it gets, so they must be the reference
// daemon's numbers, not approximations.
//
// The table is this project's own, written from the facts in the reference's
// camera constants (pollen-robotics/reachy_mini, media/camera_constants.py
// at 70a7c0b): the mode list of each model, its default mode, K and D. As
// there, an empty or unknown name falls back to the Lite camera, the model
// most clients meet, so that an older or newer peer still gets usable numbers.
//
// The Lite and Wireless cameras share one calibration (the reference's
// wireless and older_rpi specs inherit the Lite's K and D): a 12-coefficient
// rational model calibrated at full sensor resolution; the SDK rescales K to
// the mode in use with the mode's crop factor.
//
// Tested: every model has its default among its modes, K is a proper
// intrinsic matrix, D has 5 or 12 coefficients, unknown and empty names give
// the Lite, callers cannot change the table through what they are given, and
// a few numbers are pinned against the reference.
package specs

import (
	"strings"

	"reachyd/messages"
)

// The model names of the reference's camera_specs_name.
const (
	Lite     = "lite"
	Wireless = "wireless"
	Arducam  = "arducam"
	OlderRPi = "older_rpi"
	MuJoCo   = "mujoco"
	Generic  = "generic"
)

// The reference's camera modes (its CameraResolution enum): name, width,
// height, frames per second, crop factor. The name is the enum member's,
// which clients see in available_resolutions. (The reference's enum also
// has R1536x864at40fps, which no model lists.)
var (
	r1280x720at60  = mode("R1280x720at60fps", 1280, 720, 60, 1.0)
	r1280x720at30  = mode("R1280x720at30fps", 1280, 720, 30, 1.0)
	r1920x1080at30 = mode("R1920x1080at30fps", 1920, 1080, 30, 1.115)
	r1920x1080at60 = mode("R1920x1080at60fps", 1920, 1080, 60, 1.115)
	r2304x1296at30 = mode("R2304x1296at30fps", 2304, 1296, 30, 1.0)
	r1600x1200at30 = mode("R1600x1200at30fps", 1600, 1200, 30, 1.0)
	r3264x2448at30 = mode("R3264x2448at30fps", 3264, 2448, 30, 1.115)
	r3264x2448at10 = mode("R3264x2448at10fps", 3264, 2448, 10, 1.115)
	r3840x2592at30 = mode("R3840x2592at30fps", 3840, 2592, 30, 1.0)
	r3840x2592at10 = mode("R3840x2592at10fps", 3840, 2592, 10, 1.0)
	r3840x2160at30 = mode("R3840x2160at30fps", 3840, 2160, 30, 1.109)
	r3840x2160at10 = mode("R3840x2160at10fps", 3840, 2160, 10, 1.109)
	r3072x1728at10 = mode("R3072x1728at10fps", 3072, 1728, 10, 1.0)
	r4608x2592at10 = mode("R4608x2592at10fps", 4608, 2592, 10, 1.0)
	noDistortion   = []float64{0, 0, 0, 0, 0}
)

func mode(name string, w, h int, fps, crop float64) messages.CameraResolution {
	return messages.CameraResolution{Name: name, Width: w, Height: h, FPS: fps, CropFactor: crop}
}

// liteK and liteD: the Lite camera's calibration, also used by the Wireless
// and older Raspberry Pi cameras.
var (
	liteK = [3][3]float64{
		{2001.8076426486707, 0.0, 1905.876059826701},
		{0.0, 2003.0778885944105, 1328.3239717935594},
		{0.0, 0.0, 1.0},
	}
	liteD = []float64{
		-1.4652320301298614,
		0.6542714131667414,
		0.012147809271745049,
		-0.002677286460143648,
		0.3035939941825349,
		-1.4300809080461876,
		0.570024082887235,
		0.3567299243352951,
		0.003057363348400015,
		0.0003357614008682464,
		-0.009897126394310923,
		-0.002050919484589521,
	}
)

var table = map[string]messages.CameraSpecs{
	Lite: {
		Name: Lite,
		Resolutions: []messages.CameraResolution{
			r1920x1080at60, r3840x2592at30, r3840x2160at30, r3264x2448at30,
		},
		Default: r1920x1080at60,
		K:       liteK,
		D:       liteD,
	},
	Wireless: {
		Name: Wireless,
		// 720p at 30 fps first and by default: the highest mode H.264
		// level 3.1 allows, which Safari needs.
		Resolutions: []messages.CameraResolution{
			r1280x720at30, r1920x1080at30, r1280x720at60, r3840x2592at10,
			r3840x2160at10, r3264x2448at10, r3072x1728at10,
		},
		Default: r1280x720at30,
		K:       liteK,
		D:       liteD,
	},
	OlderRPi: {
		Name: OlderRPi,
		Resolutions: []messages.CameraResolution{
			r1920x1080at60, r3840x2592at30, r3840x2160at30, r3264x2448at30,
		},
		Default: r1920x1080at60,
		K:       liteK,
		D:       liteD,
	},
	Arducam: {
		Name: Arducam,
		Resolutions: []messages.CameraResolution{
			r2304x1296at30, r4608x2592at10, r1920x1080at30, r1600x1200at30, r1280x720at30,
		},
		Default: r1280x720at30,
		K: [3][3]float64{
			{550.3564, 0.0, 638.0112},
			{0.0, 549.1653, 364.589},
			{0.0, 0.0, 1.0},
		},
		D: []float64{-0.0694, 0.1565, -0.0004, 0.0003, -0.0983},
	},
	MuJoCo: {
		Name:        MuJoCo,
		Resolutions: []messages.CameraResolution{r1280x720at60},
		Default:     r1280x720at60,
		// An ideal pinhole: focal lengths equal to the image size, the
		// principal point at the centre, no distortion.
		K: [3][3]float64{
			{1280, 0, 640},
			{0, 720, 360},
			{0, 0, 1},
		},
		D: noDistortion,
	},
	Generic: {
		Name:        Generic,
		Resolutions: []messages.CameraResolution{r1280x720at30, r1920x1080at30},
		Default:     r1280x720at30,
		// A rough 720p webcam: nobody calibrated it.
		K: [3][3]float64{
			{640, 0, 640},
			{0, 640, 360},
			{0, 0, 1},
		},
		D: noDistortion,
	},
}

// names in the reference's order.
var names = []string{Lite, Wireless, Arducam, OlderRPi, Generic, MuJoCo}

// Names lists the known model names.
func Names() []string { return append([]string(nil), names...) }

// Known says whether name is one of Names (Get falls back to the Lite for
// the others).
func Known(name string) bool {
	_, ok := table[name]
	return ok
}

// Get returns the specs of the named model; an empty or unknown name gives
// the Lite's, as the reference does. The result is the caller's: its slices
// are fresh copies.
func Get(name string) messages.CameraSpecs {
	s, ok := table[name]
	if !ok {
		s = table[Lite]
	}
	s.Resolutions = append([]messages.CameraResolution(nil), s.Resolutions...)
	s.D = append([]float64(nil), s.D...)
	return s
}

// ForCamera names the specs for a camera found by its device name, the way
// the reference picks them: "Reachy" (the Lite's UVC camera) before
// "Arducam_12MP" before "imx708" (the Wireless's CSI sensor). It returns ""
// for a device that is none of these; the caller then uses Generic for a
// plain webcam, or Lite when there is no camera at all, as the reference
// does.
func ForCamera(deviceName string) string {
	switch {
	case strings.Contains(deviceName, "Reachy"):
		return Lite
	case strings.Contains(deviceName, "Arducam_12MP"):
		return Arducam
	case strings.Contains(deviceName, "imx708"):
		return Wireless
	}
	return ""
}
