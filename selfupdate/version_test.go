package selfupdate

import (
	"testing"
)

func TestParseVersion(t *testing.T) {
	good := map[string]string{
		"0.1.0":              "0.1.0",
		"1.10.0-dev":         "1.10.0-dev",
		"1.2.3-rc.1+build.5": "1.2.3-rc.1+build.5",
		"1.0.0-0A.is.legal":  "1.0.0-0A.is.legal",
		"1.0.0+0.build.1-rc": "1.0.0+0.build.1-rc",
	}
	for in, want := range good {
		v, err := ParseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseVersion(%q) = %v, %v", in, v, err)
		}
	}
	for _, in := range []string{"", "1", "1.2", "1.2.3.4", "v1.2.3", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01",
		"1.2.3-a..b", "1.2.3+", "1.2.3-a_b", "1.2.-3", "1.2.3 ", "99999999999999999999999.0.0"} {
		if _, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) accepted", in)
		}
	}
}

// The precedence list of semver.org, section 11, plus numeric identifiers
// longer than 64 bits.
func TestVersionOrder(t *testing.T) {
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0-rc.99999999999999999999", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0"}
	vs := make([]Version, len(order))
	for i, s := range order {
		v, err := ParseVersion(s)
		if err != nil {
			t.Fatal(err)
		}
		vs[i] = v
	}
	for i := range vs {
		for j := range vs {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := vs[i].Compare(vs[j]); got != want {
				t.Errorf("%s vs %s: %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	a, _ := ParseVersion("1.0.0+a")
	b, _ := ParseVersion("1.0.0+b")
	if a.Compare(b) != 0 {
		t.Error("build metadata must not order versions")
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "1.0.0-rc.1+b", "0.0.0-0", "1.2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		// What parses prints back to itself and compares equal to itself.
		w, err := ParseVersion(v.String())
		if err != nil || w.String() != v.String() || v.Compare(w) != 0 {
			t.Fatalf("%q -> %q -> %v, %v", s, v.String(), w, err)
		}
	})
}
