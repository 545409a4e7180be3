package gst

import (
	"bytes"
	"math"
	"strconv"
)

// Level is one message of a GStreamer level element: the loudness of what
// went through it during one interval.
type Level struct {
	// Element is the level element's name (LevelElement for the speaker).
	Element string
	// RMS and Peak are in dB relative to full scale, for the loudest
	// channel. Digital silence reads about -700 dB (GStreamer 1.22) or
	// -Inf; a tone at full scale about -3 dB.
	RMS, Peak float64
	// Channels is the number of channels the message had.
	Channels int
}

// Limits of ParseLevel.
const (
	maxLevelChannels = 64
	maxElementName   = 256
	maxNumberLen     = 40
)

var levelMarker = []byte(`" (element): level, `)

// ParseLevel reads a level element's message as gst-launch-1.0 -m prints
// it on stdout, e.g.
//
//	Got message #108 from element "speakerlevel" (element): level,
//	endtime=(guint64)50000000, ..., rms=(GValueArray)< -20.5, -21.0 >,
//	peak=(GValueArray)< -17.1, -18.0 >, decay=...;
//
// (one line). It accepts the value lists of GStreamer 1.22
// ("(GValueArray)< a, b >") and of older releases ("(double){ a, b }"),
// and relies only on untranslated parts of the line (the quoted element
// name, the message type and the structure). Lines longer than MaxLineLen,
// without an rms field or with more than 64 channels are refused.
func ParseLevel(line []byte) (Level, bool) {
	var l Level
	if len(line) > MaxLineLen {
		return l, false
	}
	i := bytes.Index(line, levelMarker)
	if i < 0 {
		return l, false
	}
	j := bytes.LastIndexByte(line[:i], '"')
	if j < 0 || i-j-1 == 0 || i-j-1 > maxElementName {
		return l, false
	}
	l.Element = string(line[j+1 : i])
	fields := line[i+len(levelMarker):]
	rms, ok := fieldDoubles(fields, "rms")
	if !ok {
		return Level{}, false
	}
	if l.RMS, ok = loudest(rms); !ok {
		return Level{}, false
	}
	l.Channels = len(rms)
	l.Peak = math.NaN()
	if peak, ok := fieldDoubles(fields, "peak"); ok {
		if v, ok := loudest(peak); ok {
			l.Peak = v
		}
	}
	return l, true
}

// LevelHandler adapts fn to Spec.OnStdout: level messages go to fn (from
// the Process's stdout reader goroutine), other lines are left for the
// log.
func LevelHandler(fn func(Level)) func(line []byte) bool {
	return func(line []byte) bool {
		l, ok := ParseLevel(line)
		if ok {
			fn(l)
		}
		return ok
	}
}

// fieldDoubles finds "key=" at the start of fields or after ", " and
// parses its value: a number or a list of numbers, with an optional
// "(type)" prefix.
func fieldDoubles(fields []byte, key string) ([]float64, bool) {
	k := []byte(key + "=")
	var v []byte
	if bytes.HasPrefix(fields, k) {
		v = fields[len(k):]
	} else {
		i := bytes.Index(fields, append([]byte(", "), k...))
		if i < 0 {
			return nil, false
		}
		v = fields[i+2+len(k):]
	}
	if len(v) > 0 && v[0] == '(' {
		end := bytes.IndexByte(v, ')')
		if end < 0 || end > 32 {
			return nil, false
		}
		v = v[end+1:]
	}
	if len(v) == 0 {
		return nil, false
	}
	var list []byte
	switch v[0] {
	case '<', '{':
		closer := byte('>')
		if v[0] == '{' {
			closer = '}'
		}
		end := bytes.IndexByte(v, closer)
		if end < 0 {
			return nil, false
		}
		list = v[1:end]
	default:
		end := bytes.IndexAny(v, ",;")
		if end < 0 {
			end = len(v)
		}
		list = v[:end]
	}
	var out []float64
	for len(list) > 0 {
		var tok []byte
		if c := bytes.IndexByte(list, ','); c >= 0 {
			tok, list = list[:c], list[c+1:]
		} else {
			tok, list = list, nil
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) == 0 || len(tok) > maxNumberLen || len(out) == maxLevelChannels {
			return nil, false
		}
		f, err := strconv.ParseFloat(string(tok), 64)
		if err != nil {
			return nil, false
		}
		out = append(out, f)
	}
	return out, len(out) > 0
}

// loudest is the largest value that is not NaN.
func loudest(vs []float64) (float64, bool) {
	best, ok := math.Inf(-1), false
	for _, v := range vs {
		if math.IsNaN(v) {
			continue
		}
		if !ok || v > best {
			best, ok = v, true
		}
	}
	return best, ok
}
