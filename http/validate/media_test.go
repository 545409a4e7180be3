package validate

import "testing"

// The media models: VolumeRequest, PlaySoundRequest, EnableTrackingRequest
// and ApplyAudioConfigRequest, with pydantic's errors.
func TestMediaModels(t *testing.T) {
	check := func(name string, errs Errors, want string) {
		t.Helper()
		got := ""
		if errs != nil {
			got = string(errs.Body())
		}
		if got != want {
			t.Errorf("%s:\n got  %s\n want %s", name, got, want)
		}
	}
	decode := func(s string) any {
		v, errs := DecodeBody([]byte(s))
		if errs != nil {
			t.Fatalf("%s: %s", s, errs.Body())
		}
		return v
	}

	n, errs := VolumeFromValue(decode(`{"volume":100}`))
	check("volume 100", errs, "")
	if n != 100 {
		t.Errorf("volume: %d", n)
	}
	_, errs = VolumeFromValue(decode(`{"volume":1.5}`))
	check("volume 1.5", errs, `{"detail":[{"type":"int_from_float","loc":["body","volume"],"msg":"Input should be a valid integer, got a number with a fractional part","input":1.5}]}`)
	_, errs = VolumeFromValue(nil)
	check("no body", errs, `{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`)
	_, errs = VolumeFromValue(decode(`{}`))
	check("no volume", errs, `{"detail":[{"type":"missing","loc":["body","volume"],"msg":"Field required","input":{}}]}`)

	f, errs := PlaySoundFromValue(decode(`{"file":"a.wav"}`))
	check("file", errs, "")
	if f != "a.wav" {
		t.Errorf("file: %q", f)
	}
	_, errs = PlaySoundFromValue(decode(`{"file":3}`))
	check("file 3", errs, `{"detail":[{"type":"string_type","loc":["body","file"],"msg":"Input should be a valid string","input":3}]}`)

	for body, want := range map[string]float64{`null`: 1, `{}`: 1, `{"weight":0}`: 0, `{"weight":"0.25"}`: 0.25} {
		w, errs := TrackingWeightFromValue(decode(body))
		check("weight "+body, errs, "")
		if w != want {
			t.Errorf("weight %s: %v", body, w)
		}
	}
	_, errs = TrackingWeightFromValue(decode(`{"weight":-0.5}`))
	check("weight -0.5", errs, `{"detail":[{"type":"greater_than_equal","loc":["body","weight"],"msg":"Input should be greater than or equal to 0","input":-0.5,"ctx":{"ge":0.0}}]}`)

	cfg, errs := AudioConfigFromValue(decode(`{"config":[{"name":"A","values":[1,"2.5"]}]}`))
	check("config", errs, "")
	if !cfg.Verify || len(cfg.Params) != 1 || cfg.Params[0].Name != "A" || cfg.Params[0].Values[1] != 2.5 {
		t.Errorf("config: %+v", cfg)
	}
	cfg, errs = AudioConfigFromValue(decode(`{"config":[],"verify":"no"}`))
	check("empty config", errs, "")
	if cfg.Verify || cfg.Params == nil {
		t.Errorf("empty config: %+v", cfg)
	}
	_, errs = AudioConfigFromValue(decode(`{"config":[{"name":1,"values":["x"]},3]}`))
	check("bad config", errs, `{"detail":[`+
		`{"type":"string_type","loc":["body","config",0,"name"],"msg":"Input should be a valid string","input":1},`+
		`{"type":"float_parsing","loc":["body","config",0,"values",0],"msg":"Input should be a valid number, unable to parse string as a number","input":"x"},`+
		`{"type":"model_attributes_type","loc":["body","config",1],"msg":"Input should be a valid dictionary or object to extract fields from","input":3}]}`)
	_, errs = AudioConfigFromValue(decode(`{"verify":true}`))
	check("no config", errs, `{"detail":[{"type":"missing","loc":["body","config"],"msg":"Field required","input":{"verify":true}}]}`)
}
