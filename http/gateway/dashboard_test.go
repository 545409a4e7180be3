package gateway

import (
	"regexp"
	"strings"
	"testing"
)

// cspSource is what connect-src may list besides 'self'.
var cspSource = regexp.MustCompile(`^wss?://[A-Za-z0-9.-]+:[0-9]{1,5}$`)

// checkCSP asserts the shape of a dashboard policy: the fixed directives,
// and connect-src with only 'self' and ws:/wss: origins.
func checkCSP(t *testing.T, host, csp string) []string {
	t.Helper()
	dirs := strings.Split(csp, "; ")
	if len(dirs) != 9 || dirs[0] != "default-src 'none'" || dirs[1] != "script-src 'self'" || dirs[8] != "frame-ancestors 'none'" {
		t.Fatalf("Host %q: policy %q", host, csp)
	}
	f := strings.Fields(dirs[5])
	if f[0] != "connect-src" || f[1] != "'self'" {
		t.Fatalf("Host %q: %q", host, dirs[5])
	}
	for _, s := range f[2:] {
		if !cspSource.MatchString(s) {
			t.Fatalf("Host %q: connect-src source %q", host, s)
		}
	}
	return f[2:]
}

func TestDashboardCSP(t *testing.T) {
	for _, c := range []struct {
		host string
		sig  int
		want []string
	}{
		{"127.0.0.1:8000", 8443, []string{"ws://127.0.0.1:8000", "wss://127.0.0.1:8000", "ws://127.0.0.1:8443", "wss://127.0.0.1:8443"}},
		{"reachy-mini.local:8000", 0, []string{"ws://reachy-mini.local:8000", "wss://reachy-mini.local:8000"}},
		{"reachy-mini.local", 8443, []string{"ws://reachy-mini.local:80", "wss://reachy-mini.local:80", "ws://reachy-mini.local:8443", "wss://reachy-mini.local:8443"}},
		{"[::1]:8000", 8443, nil},                // CSP has no IPv6 literals: 'self' only
		{"127.0.0.1:80;script-src *", 8443, nil}, // not a port
		{"evil.test;script-src *:80", 8443, nil}, // not a name
		{"127.0.0.1:0", 8443, nil},               // not a port either
		{"127.0.0.1:8000", 70000, []string{"ws://127.0.0.1:8000", "wss://127.0.0.1:8000"}},
		{"LOCALHOST:08000", 0, []string{"ws://LOCALHOST:8000", "wss://LOCALHOST:8000"}},
	} {
		got := checkCSP(t, c.host, dashboardCSP(c.host, c.sig))
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("Host %q: connect-src extras %q, want %q", c.host, got, c.want)
		}
	}
}

// FuzzDashboardCSP: whatever the Host header, the policy keeps its shape.
func FuzzDashboardCSP(f *testing.F) {
	for _, h := range []string{"127.0.0.1:8000", "[::1]:8000", "a.local", "x:1;y", "a b:1", ":", "a:65536"} {
		f.Add(h, 8443)
	}
	f.Fuzz(func(t *testing.T, host string, sig int) {
		checkCSP(t, host, dashboardCSP(host, sig))
	})
}
