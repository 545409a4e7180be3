package specs

import (
	"math"
	"testing"
)

func TestEveryModelIsSane(t *testing.T) {
	for _, name := range Names() {
		s := Get(name)
		if s.Name != name {
			t.Errorf("Get(%q).Name = %q", name, s.Name)
		}
		if len(s.Resolutions) == 0 {
			t.Errorf("%s: no modes", name)
		}
		found := false
		seen := map[string]bool{}
		for _, r := range s.Resolutions {
			if seen[r.Name] {
				t.Errorf("%s: mode %s listed twice", name, r.Name)
			}
			seen[r.Name] = true
			if r.Width <= 0 || r.Height <= 0 || r.FPS <= 0 || r.CropFactor < 1 {
				t.Errorf("%s: bad mode %+v", name, r)
			}
			if r.FPS != math.Trunc(r.FPS) {
				t.Errorf("%s: mode %s has a fractional fps (the reference's is an int)", name, r.Name)
			}
			if r == s.Default {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: default %+v is not among its modes", name, s.Default)
		}
		k := s.K
		if k[0][0] <= 0 || k[1][1] <= 0 || k[0][2] <= 0 || k[1][2] <= 0 {
			t.Errorf("%s: K has a non-positive focal length or principal point: %v", name, k)
		}
		if k[0][1] != 0 || k[1][0] != 0 || k[2][0] != 0 || k[2][1] != 0 || k[2][2] != 1 {
			t.Errorf("%s: K is not an intrinsic matrix: %v", name, k)
		}
		if len(s.D) != 5 && len(s.D) != 12 {
			t.Errorf("%s: %d distortion coefficients", name, len(s.D))
		}
		if !Known(name) {
			t.Errorf("Known(%q) = false", name)
		}
	}
}

func TestUnknownNameGivesLite(t *testing.T) {
	for _, name := range []string{"", "nope", "LITE", "lite "} {
		s := Get(name)
		if s.Name != Lite {
			t.Errorf("Get(%q).Name = %q, want lite", name, s.Name)
		}
		if Known(name) {
			t.Errorf("Known(%q) = true", name)
		}
	}
}

// Pinned against the reference's camera constants, so a typo in the table
// shows.
func TestNumbersFromTheReference(t *testing.T) {
	lite := Get(Lite)
	if lite.Default.Name != "R1920x1080at60fps" || lite.Default.CropFactor != 1.115 {
		t.Errorf("lite default %+v", lite.Default)
	}
	if lite.K[0][0] != 2001.8076426486707 || lite.K[1][2] != 1328.3239717935594 || len(lite.D) != 12 || lite.D[11] != -0.002050919484589521 {
		t.Errorf("lite calibration %v %v", lite.K, lite.D)
	}
	w := Get(Wireless)
	if w.Default.Name != "R1280x720at30fps" || len(w.Resolutions) != 7 || w.K != lite.K {
		t.Errorf("wireless %+v", w)
	}
	a := Get(Arducam)
	if a.K[0][2] != 638.0112 || a.D[4] != -0.0983 || len(a.Resolutions) != 5 {
		t.Errorf("arducam %+v", a)
	}
	if r := Get(Lite).Resolutions[2]; r.Name != "R3840x2160at30fps" || r.CropFactor != 1.109 {
		t.Errorf("lite mode 2 %+v", r)
	}
	if m := Get(MuJoCo); m.K[0][0] != 1280 || m.K[1][1] != 720 || m.Default.FPS != 60 {
		t.Errorf("mujoco %+v", m)
	}
	if o := Get(OlderRPi); o.Default != lite.Default || o.K != lite.K {
		t.Errorf("older_rpi %+v", o)
	}
}

func TestCallersCannotChangeTheTable(t *testing.T) {
	s := Get(Lite)
	s.Resolutions[0].Width = 1
	s.D[0] = 42
	again := Get(Lite)
	if again.Resolutions[0].Width != 1920 || again.D[0] == 42 {
		t.Fatalf("the table changed through a returned value: %+v", again)
	}
	n := Names()
	n[0] = "x"
	if Names()[0] != Lite {
		t.Fatal("Names shares its slice")
	}
}

func TestForCamera(t *testing.T) {
	cases := map[string]string{
		"Reachy Mini Camera: Reachy Mini": Lite,
		"Arducam_12MP: Arducam_12MP":      Arducam,
		"/base/soc/i2c0mux/i2c@1/imx708":  Wireless,
		"Integrated Webcam":               "",
	}
	for in, want := range cases {
		if got := ForCamera(in); got != want {
			t.Errorf("ForCamera(%q) = %q, want %q", in, got, want)
		}
	}
}
