package gst

import (
	"math"
	"strings"
	"testing"
)

// Lines as gst-launch-1.0 1.22.0 -m printed them for this package's
// pipelines (mono), and in the older "(double){ }" list form.
const (
	levelSilence122 = `Got message #108 from element "speakerlevel" (element): level, endtime=(guint64)50000000, timestamp=(guint64)0, stream-time=(guint64)0, running-time=(guint64)0, duration=(guint64)50000000, rms=(GValueArray)< -699.99999984363217 >, peak=(GValueArray)< -349.99999992181608 >, decay=(GValueArray)< -349.99999992181608 >;`
	levelTone122    = `Got message #194 from element "level0" (element): level, endtime=(guint64)1150000000, timestamp=(guint64)1100000000, stream-time=(guint64)1100000000, running-time=(guint64)1100000000, duration=(guint64)50000000, rms=(GValueArray)< -4.9391867182348639 >, peak=(GValueArray)< -1.8700136779367849 >, decay=(GValueArray)< -1.7826781200414645 >;`
	levelStereoOld  = `Got message #12 from element "lv" (element): level, endtime=(guint64)100000000, timestamp=(guint64)0, stream-time=(guint64)0, running-time=(guint64)0, duration=(guint64)100000000, rms=(double){ -20.5, -17.25 }, peak=(double){ -10, -9.5 }, decay=(double){ -10, -9.5 };`
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		line      string
		element   string
		rms, peak float64
		channels  int
	}{
		{levelSilence122, "speakerlevel", -699.99999984363217, -349.99999992181608, 1},
		{levelTone122, "level0", -4.9391867182348639, -1.8700136779367849, 1},
		{levelStereoOld, "lv", -17.25, -9.5, 2},
		// a single value, -inf, and a channel that is NaN
		{`x "a" (element): level, rms=(double)-12.5, peak=(double)-3;`, "a", -12.5, -3, 1},
		{`x "a" (element): level, rms=(GValueArray)< -inf, -inf >;`, "a", math.Inf(-1), math.NaN(), 2},
		{`x "a" (element): level, rms=(GValueArray)< nan, -30 >, peak=(GValueArray)< nan, nan >;`, "a", -30, math.NaN(), 2},
		// translated prefix: only the untranslated parts matter
		{`Message #3 reçu de l'élément "speakerlevel" (element): level, rms=(GValueArray)< -40 >;`, "speakerlevel", -40, math.NaN(), 1},
	} {
		l, ok := ParseLevel([]byte(tc.line))
		if !ok {
			t.Errorf("%.60s: not parsed", tc.line)
			continue
		}
		same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
		if l.Element != tc.element || !same(l.RMS, tc.rms) || !same(l.Peak, tc.peak) || l.Channels != tc.channels {
			t.Errorf("%.60s: %+v, want %s rms %v peak %v channels %d", tc.line, l, tc.element, tc.rms, tc.peak, tc.channels)
		}
	}
}

func TestParseLevelRefuses(t *testing.T) {
	for _, line := range []string{
		"",
		"Setting pipeline to PLAYING ...",
		`Got message #50 from element "mix" (state-changed): GstMessageStateChanged, old-state=(GstState)ready;`,
		`Got message #9 from element "x" (element): GstUDPSrcTimeout, timeout=(guint64)1;`,
		`x "a" (element): level, peak=(double)-3;`,              // no rms
		`x "a" (element): level, xrms=(double)-3;`,              // not the rms field
		`x "a" (element): level, rms=(GValueArray)< -3, -4`,     // unterminated
		`x "a" (element): level, rms=(GValueArray)< >;`,         // empty
		`x "a" (element): level, rms=(GValueArray)< -3,, -4 >;`, // empty item
		`x "a" (element): level, rms=(GValueArray)< loud >;`,    // not a number
		`x "a" (element): level, rms=(GValueArray)< nan >;`,     // no channel with a value
		`x "" (element): level, rms=(double)-3;`,                // no name
		`x "a" (element): level, rms=(averyveryverylongtypenamethatgoesonandon)-3;`,
		`x "a" (element): level, rms=(GValueArray)< ` + strings.Repeat("-3, ", 64) + `-3 >;`, // 65 channels
		`x "a" (element): level, rms=(double)-3;` + strings.Repeat(" ", MaxLineLen),          // too long
	} {
		if l, ok := ParseLevel([]byte(line)); ok {
			t.Errorf("%.80q parsed as %+v", line, l)
		}
	}
}

func TestLevelHandler(t *testing.T) {
	var got []Level
	h := LevelHandler(func(l Level) { got = append(got, l) })
	if !h([]byte(levelTone122)) || h([]byte("Setting pipeline to PLAYING ...")) {
		t.Fatal("handler consumed the wrong lines")
	}
	if len(got) != 1 || got[0].Element != "level0" {
		t.Fatalf("got %+v", got)
	}
}

func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{levelSilence122, levelTone122, levelStereoOld,
		`x "a" (element): level, rms=(double)-12.5, peak=(double)-3;`,
		`x "a" (element): level, rms=(GValueArray)< -inf, nan >;`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		l, ok := ParseLevel(line)
		if !ok {
			return
		}
		if l.Element == "" || len(l.Element) > maxElementName || l.Channels < 1 || l.Channels > maxLevelChannels ||
			math.IsNaN(l.RMS) || len(line) > MaxLineLen {
			t.Fatalf("%q parsed as %+v", line, l)
		}
	})
}
