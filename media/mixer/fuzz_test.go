package mixer

import "testing"

func FuzzParseAmixer(f *testing.F) {
	for _, s := range []string{sgetStereoPCM, sgetMonoCapture, sgetBothSides, sgetCommon, sgetMuted, scontentsBoard, cardsFile, "Mono: [%]", "[100%]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, dir := range []Direction{Playback, Capture} {
			v, err := ParseAmixerVolume(data, dir)
			if err == nil && (v < 0 || v > 100) {
				t.Fatalf("volume %d", v)
			}
		}
		ctls, err := ParseScontents(data)
		if err == nil && len(ctls) > maxControls {
			t.Fatalf("%d controls", len(ctls))
		}
		for _, c := range ctls {
			if c.Index < 0 {
				t.Fatalf("index %d", c.Index)
			}
		}
		ParseCards(data)
	})
}

func FuzzParsePactl(f *testing.F) {
	for _, s := range []string{pactlInfo, pactlSinks, pactlSources, getVolumeStereo, getVolumeMono, getVolumeBoost, "Volume: 5%"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParsePactlVolume(data)
		if err == nil && (v < 0 || v > 100) {
			t.Fatalf("volume %d", v)
		}
		ParsePactlInfo(data)
		ParsePactlList(data)
	})
}
