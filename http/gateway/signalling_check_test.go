package gateway

import (
	"net/http/httptest"
	"testing"
)

func TestSignallingCheck(t *testing.T) {
	check := SignallingCheck("reachy-mini", nil)
	for _, tt := range []struct {
		host, origin string
		want         bool
	}{
		{"192.168.1.20:8443", "", true},                         // the SDK's webrtcsrc, no Origin
		{"192.168.1.20:8443", "tauri://localhost", true},        // the desktop app
		{"192.168.1.20:8443", "http://localhost:1420", true},    // the desktop app in development
		{"192.168.1.20:8443", "http://192.168.1.20:8000", true}, // the robot's own dashboard
		{"reachy-mini.local:8443", "http://reachy-mini.local", true},
		{"192.168.1.20:8443", "https://evil.example", false},     // a foreign page
		{"192.168.1.20:8443", "http://192.168.1.21:8000", false}, // another host
		{"192.168.1.20:8443", "null", false},                     // a sandboxed frame
		{"evil.example:8443", "http://evil.example:8443", false}, // DNS rebinding
		{"evil.example:8443", "", false},                         // DNS rebinding, no Origin
		{"[::1]:8443", "http://[::1]:8000", true},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = tt.host
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := check(r); got != tt.want {
			t.Errorf("Host %q Origin %q: %v, want %v", tt.host, tt.origin, got, tt.want)
		}
	}
}
