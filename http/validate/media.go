package validate

import "strconv"

// The request models of the reference's media, volume and audio-config
// routers (routers/media.py, volume.py, audio_config.py), validated as
// pydantic validates them.

// VolumeFromValue validates a VolumeRequest body ({"volume": int 0..100}).
func VolumeFromValue(v any) (int, Errors) {
	var errs Errors
	get, ok := bodyModel(v, &errs)
	if !ok {
		return 0, errs
	}
	x, ok := get("volume")
	if !ok {
		Missing([]any{"body", "volume"}, v, &errs)
		return 0, errs
	}
	n, ok := IntInRange(x, []any{"body", "volume"}, 0, 100, &errs)
	if !ok {
		return 0, errs
	}
	return int(n), nil
}

// PlaySoundFromValue validates a PlaySoundRequest body ({"file": str}).
func PlaySoundFromValue(v any) (string, Errors) {
	return requiredField(v, "file", String)
}

var one = 1.0

// TrackingWeightFromValue validates the optional EnableTrackingRequest body
// ({"weight": 0..1 = 1.0}); an absent body or JSON null is the default.
func TrackingWeightFromValue(v any) (float64, Errors) {
	if v == nil {
		return 1, nil
	}
	var errs Errors
	get, ok := ModelObject(v, []any{"body"}, &errs)
	if !ok {
		return 0, errs
	}
	x, ok := get("weight")
	if !ok {
		return 1, nil
	}
	w, ok := FloatRange(x, []any{"body", "weight"}, &zero, nil, &one, &errs)
	if !ok {
		return 0, errs
	}
	return w, nil
}

// AudioParam is one AudioParamPair of an audio-board configuration.
type AudioParam struct {
	Name   string
	Values []float64
}

// AudioConfig is the reference's ApplyAudioConfigRequest.
type AudioConfig struct {
	Params []AudioParam
	Verify bool
}

// maxAudioParams bounds a configuration (the XVF3800 has about a hundred
// parameters; the reference has no bound), and maxAudioValues the values of
// one parameter (the longest the board takes is a few dozen).
const (
	maxAudioParams = 256
	maxAudioValues = 256
)

// AudioConfigFromValue validates an ApplyAudioConfigRequest body
// ({"config": [{"name": str, "values": [float]}], "verify": bool = true}).
func AudioConfigFromValue(v any) (AudioConfig, Errors) {
	var errs Errors
	get, ok := bodyModel(v, &errs)
	if !ok {
		return AudioConfig{}, errs
	}
	return AudioConfigFields(get, v, []any{"body"})
}

// AudioConfigFields validates the fields of an ApplyAudioConfigRequest read
// through get (parent is the object they come from, loc its location: nil
// for a data-channel command, whose fields sit beside "type").
func AudioConfigFields(get func(string) (any, bool), parent any, loc []any) (AudioConfig, Errors) {
	var errs Errors
	out := AudioConfig{Verify: true}
	if x, ok := get("config"); !ok {
		Missing(at(loc, "config"), parent, &errs)
	} else if list, ok := List(x, at(loc, "config"), &errs); ok {
		if len(list) > maxAudioParams {
			tooLong(&errs, at(loc, "config"), x, len(list), maxAudioParams)
		} else {
			for i, item := range list {
				if p, ok := audioParam(item, at(loc, "config", i), &errs); ok {
					out.Params = append(out.Params, p)
				}
			}
		}
	}
	if x, ok := get("verify"); ok {
		out.Verify, _ = Bool(x, at(loc, "verify"), &errs)
	}
	if errs != nil {
		return AudioConfig{}, errs
	}
	if out.Params == nil {
		out.Params = []AudioParam{}
	}
	return out, nil
}

func tooLong(errs *Errors, loc []any, input any, n, max int) {
	errs.add("too_long", loc, "List should have at most "+strconv.Itoa(max)+" items after validation, not "+strconv.Itoa(n), input,
		map[string]any{"field_type": "List", "max_length": max, "actual_length": n})
}

func audioParam(v any, loc []any, errs *Errors) (AudioParam, bool) {
	var p AudioParam
	get, ok := ModelObject(v, loc, errs)
	if !ok {
		return p, false
	}
	good := true
	if x, ok := get("name"); !ok {
		Missing(at(loc, "name"), v, errs)
		good = false
	} else if p.Name, ok = String(x, at(loc, "name"), errs); !ok {
		good = false
	}
	if x, ok := get("values"); !ok {
		Missing(at(loc, "values"), v, errs)
		good = false
	} else if list, ok := List(x, at(loc, "values"), errs); !ok {
		good = false
	} else if len(list) > maxAudioValues {
		tooLong(errs, at(loc, "values"), x, len(list), maxAudioValues)
		good = false
	} else {
		p.Values = make([]float64, len(list))
		for i, e := range list {
			f, ok := Float(e, at(loc, "values", i), errs)
			if !ok {
				good = false
			}
			p.Values[i] = f
		}
	}
	return p, good
}
