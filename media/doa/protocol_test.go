package doa

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"testing"
)

func TestReadRequests(t *testing.T) {
	cases := map[string]Setup{
		// DoA: resource 20, command 19, two floats and the status byte.
		"DOA_VALUE_RADIANS": {RequestType: 0xC0, Request: 0, Value: 0x93, Index: 20, Length: 9},
		"VERSION":           {RequestType: 0xC0, Request: 0, Value: 0x80, Index: 48, Length: 4},
		"AUDIO_MGR_OP_L":    {RequestType: 0xC0, Request: 0, Value: 0x8F, Index: 35, Length: 3},
		"PP_MIN_NS":         {RequestType: 0xC0, Request: 0, Value: 0x95, Index: 17, Length: 5},
		"AEC_MIC_ARRAY_GEO": {RequestType: 0xC0, Request: 0, Value: 0x80 | 74, Index: 33, Length: 49},
		"BLD_MSG":           {RequestType: 0xC0, Request: 0, Value: 0x81, Index: 48, Length: 51},
	}
	for name, want := range cases {
		if got := ReadRequest(Params[name]); got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
}

func TestWriteRequests(t *testing.T) {
	cases := []struct {
		name    string
		values  []float64
		setup   Setup
		payload []byte
	}{
		// 0.15 as a little-endian float32 is 9a 99 19 3e.
		{"PP_MIN_NS", []float64{0.15}, Setup{0x40, 0, 21, 17, 4}, []byte{0x9a, 0x99, 0x19, 0x3e}},
		{"AUDIO_MGR_OP_L", []float64{3, 0}, Setup{0x40, 0, 15, 35, 2}, []byte{3, 0}},
		{"AEC_HPFONOFF", []float64{-1}, Setup{0x40, 0, 1, 33, 4}, []byte{0xff, 0xff, 0xff, 0xff}},
		{"LED_COLOR", []float64{0xff8000}, Setup{0x40, 0, 16, 20, 4}, []byte{0x00, 0x80, 0xff, 0x00}},
		{"AEC_FIXEDBEAMSAZIMUTH_VALUES", []float64{math.Pi / 2, -1}, Setup{0x40, 0, 81, 33, 8},
			[]byte{0xdb, 0x0f, 0xc9, 0x3f, 0x00, 0x00, 0x80, 0xbf}},
	}
	for _, c := range cases {
		s, payload, err := WriteRequest(Params[c.name], c.values)
		if err != nil || s != c.setup || !bytes.Equal(payload, c.payload) {
			t.Errorf("%s: %+v % x %v; want %+v % x", c.name, s, payload, err, c.setup, c.payload)
		}
	}
	bad := []struct {
		name   string
		values []float64
	}{
		{"PP_MIN_NS", nil},
		{"PP_MIN_NS", []float64{1, 2}},
		{"PP_MIN_NS", []float64{math.NaN()}},
		{"PP_MIN_NS", []float64{math.Inf(1)}},
		{"PP_MIN_NS", []float64{1e39}},
		{"AUDIO_MGR_OP_L", []float64{256, 0}},
		{"AUDIO_MGR_OP_L", []float64{-1, 0}},
		{"AUDIO_MGR_OP_L", []float64{1.5, 0}},
		{"AEC_HPFONOFF", []float64{math.MaxInt32 + 1}},
		{"LED_COLOR", []float64{-1}},
		{"LED_COLOR", []float64{math.MaxUint32 + 1}},
	}
	for _, c := range bad {
		if _, _, err := WriteRequest(Params[c.name], c.values); err == nil {
			t.Errorf("%s %v: encoded", c.name, c.values)
		}
	}
}

func f32(vs ...float32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, vs)
	return b.Bytes()
}

func TestDecodeReply(t *testing.T) {
	cases := []struct {
		name  string
		reply []byte
		want  []float64
	}{
		{"DOA_VALUE_RADIANS", append([]byte{0}, f32(1.5, 1)...), []float64{1.5, 1}},
		{"VERSION", []byte{0, 2, 1, 0}, []float64{2, 1, 0}},
		{"AEC_HPFONOFF", []byte{0, 0xfe, 0xff, 0xff, 0xff}, []float64{-2}},
		{"LED_COLOR", []byte{0, 0x01, 0x00, 0x00, 0x80}, []float64{2147483649}},
		// A longer reply than needed is read up to the count.
		{"PP_MIN_NS", append(append([]byte{0}, f32(0.25)...), 9, 9), []float64{0.25}},
	}
	for _, c := range cases {
		status, got, err := DecodeReply(Params[c.name], c.reply)
		if err != nil || status != StatusOK || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %d %v %v; want %v", c.name, status, got, err, c.want)
		}
	}
	if status, v, err := DecodeReply(Params["DOA_VALUE_RADIANS"], []byte{StatusRetry}); status != StatusRetry || v != nil || err != nil {
		t.Errorf("retry: %d %v %v", status, v, err)
	}
	for _, reply := range [][]byte{nil, {0}, {0, 1, 2, 3, 4, 5, 6, 7}} {
		if _, _, err := DecodeReply(Params["DOA_VALUE_RADIANS"], reply); err == nil {
			t.Errorf("short reply % x decoded", reply)
		}
	}
	if _, _, err := DecodeReply(Params["BLD_MSG"], append([]byte{0}, make([]byte, 50)...)); err == nil {
		t.Error("text decoded as numbers")
	}
	if _, text, err := DecodeText([]byte{0, 'v', '2', '.', '1', 0, 'x'}); text != "v2.1" || err != nil {
		t.Errorf("text %q %v", text, err)
	}
}

func TestParamTable(t *testing.T) {
	if len(Params) != 126 {
		t.Errorf("%d parameters", len(Params))
	}
	seen := map[[2]uint8]string{}
	for name, p := range Params {
		if p.Count < 1 || p.Count > 50 || p.Access < ro || p.Access > wo || p.Type < tUint8 || p.Type > tRadians || p.Command >= 0x80 {
			t.Errorf("%s: %+v", name, p)
		}
		key := [2]uint8{p.Resource, p.Command}
		if other, dup := seen[key]; dup {
			t.Errorf("%s and %s share resource %d command %d", name, other, p.Resource, p.Command)
		}
		seen[key] = name
	}
	if p := Params["DOA_VALUE_RADIANS"]; p != (Param{20, 19, 2, ro, tRadians}) {
		t.Errorf("DOA_VALUE_RADIANS %+v", p)
	}
	if !slices.Contains([]Access{rw}, Params["PP_MIN_NS"].Access) || Params["REBOOT"].Access.Readable() || Params["VERSION"].Access.Writable() {
		t.Error("access")
	}
}

func FuzzDecodeReply(f *testing.F) {
	names := make([]string, 0, len(Params))
	for n := range Params {
		names = append(names, n)
	}
	slices.Sort(names)
	f.Add(uint8(0), append([]byte{0}, f32(1, 0)...))
	f.Add(uint8(3), []byte{64})
	f.Add(uint8(9), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, which uint8, reply []byte) {
		p := Params[names[int(which)%len(names)]]
		status, values, err := DecodeReply(p, reply)
		if err == nil && status == StatusOK && len(values) != p.Count {
			t.Fatalf("%d values for a count of %d", len(values), p.Count)
		}
		DecodeText(reply)
	})
}
