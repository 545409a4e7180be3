package wire

import (
	"encoding/json"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"reachyd/hw/geom"
	"reachyd/messages"
)

// Expected strings are CPython 3.11 repr(x) (== json.dumps(x)).
var pythonRepr = []struct {
	f    float64
	want string
}{
	{0.0, "0.0"},
	{math.Copysign(0, -1), "-0.0"},
	{1.0, "1.0"},
	{0.1, "0.1"},
	{1.0 / 3, "0.3333333333333333"},
	{1e-4, "0.0001"},
	{9.999e-5, "9.999e-05"},
	{1e-5, "1e-05"},
	{1e15, "1000000000000000.0"},
	{1e16, "1e+16"},
	{123456789012345678.0, "1.2345678901234568e+17"},
	{5e-324, "5e-324"},
	{1.7976931348623157e308, "1.7976931348623157e+308"},
	{1 << 53, "9007199254740992.0"},
	{-2.5, "-2.5"},
	{1e22, "1e+22"},
	{123456.0, "123456.0"},
	{0.5, "0.5"},
	{-1e-7, "-1e-07"},
	{1.5e-7, "1.5e-07"},
	{9999999999999998.0, "9999999999999998.0"},
	{1e100, "1e+100"},
	{2.2250738585072014e-308, "2.2250738585072014e-308"},
	{0.30000000000000004, "0.30000000000000004"}, // 0.1+0.2 at run time
	{100.0, "100.0"},
	{1e-10, "1e-10"},
	{-7.620680877229331e-10, "-7.620680877229331e-10"},
	{math.Pi, "3.141592653589793"},
	{1e21, "1e+21"},
	{12345678901234567.0, "1.2345678901234568e+16"},
	{0.001, "0.001"},
	{4.35, "4.35"},
	{2.5e-05, "2.5e-05"},
}

func TestAppendFloatMatchesPythonRepr(t *testing.T) {
	for _, c := range pythonRepr {
		if got := string(AppendFloat(nil, c.f)); got != c.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", c.f, got, c.want)
		}
	}
}

// Expected strings follow ryu 1.0.18 pretty::format64 (pydantic-core's
// serializer): fixed for 1e-5 <= |x| < 1e16, else d.ddde[-]N.
func TestAppendFloatPydantic(t *testing.T) {
	cases := []struct {
		f    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{0.1, "0.1"},
		{123456, "123456.0"},
		{1e15, "1000000000000000.0"},
		{9999999999999998.0, "9999999999999998.0"},
		{1e16, "1e16"},
		{123456789012345678.0, "1.2345678901234568e17"},
		{1e-4, "0.0001"},
		{1e-5, "0.00001"},
		{2.5e-5, "0.000025"},
		{9.999e-6, "9.999e-6"},
		{1e-6, "1e-6"},
		{-1.5e-7, "-1.5e-7"},
		{5e-324, "5e-324"},
		{1.7976931348623157e308, "1.7976931348623157e308"},
		{-7.620680877229331e-10, "-7.620680877229331e-10"},
		{math.NaN(), "null"},
	}
	for _, c := range cases {
		if got := string(AppendFloatPydantic(nil, c.f)); got != c.want {
			t.Errorf("AppendFloatPydantic(%v) = %s, want %s", c.f, got, c.want)
		}
	}
}

func TestAppendFloatNonFiniteIsNull(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := string(AppendFloat([]byte("x"), f)); got != "xnull" {
			t.Errorf("AppendFloat(%v) = %q", f, got)
		}
	}
}

// checkFloat verifies the round trip and that the output is a JSON number
// with the layout rules of style s.
func checkFloat(t *testing.T, s FloatStyle, f float64) {
	t.Helper()
	out := s.AppendFloat(nil, f)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		if string(out) != "null" {
			t.Fatalf("%v: got %s", f, out)
		}
		return
	}
	back, err := strconv.ParseFloat(string(out), 64)
	if err != nil || math.Float64bits(back) != math.Float64bits(f) {
		t.Fatalf("%v: %s parses back to %v (%v)", f, out, back, err)
	}
	if !json.Valid(out) {
		t.Fatalf("%v: %s is not valid JSON", f, out)
	}
	var n json.Number
	if err := json.Unmarshal(out, &n); err != nil {
		t.Fatalf("%v: %s is not a JSON number: %v", f, out, err)
	}
	// Layout: fixed with a '.' inside the style's range, exponent outside.
	str := string(out)
	a := math.Abs(f)
	lo := 1e-4
	if s == Pydantic {
		lo = 1e-5
	}
	fixed := a == 0 || (a >= lo && a < 1e16)
	hasE := strings.ContainsRune(str, 'e')
	if fixed == hasE || (fixed && !strings.ContainsRune(str, '.')) {
		t.Fatalf("%v: layout of %s (style %d)", f, str, s)
	}
	if hasE {
		exp := str[strings.IndexByte(str, 'e')+1:]
		if s == Python && (len(exp) < 3 || (exp[0] != '+' && exp[0] != '-')) {
			t.Fatalf("%v: Python exponent in %s", f, str)
		}
		if s == Pydantic && (exp[0] == '+' || (exp[0] == '0') || (exp[0] == '-' && exp[1] == '0')) {
			t.Fatalf("%v: ryu exponent in %s", f, str)
		}
	}
	// Same significant digits as Go's shortest representation.
	if got, want := sigDigits(str), sigDigits(strconv.FormatFloat(f, 'e', -1, 64)); got != want {
		t.Fatalf("%v: digits %s, shortest %s", f, got, want)
	}
}

// sigDigits returns the significant digits of a decimal number string.
func sigDigits(s string) string {
	if i := strings.IndexByte(s, 'e'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimLeft(strings.ReplaceAll(strings.TrimPrefix(s, "-"), ".", ""), "0")
	s = strings.TrimRight(s, "0")
	if s == "" {
		return "0"
	}
	return s
}

func TestAppendFloatProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		var f float64
		switch i % 4 {
		case 0:
			f = math.Float64frombits(rng.Uint64())
		case 1:
			f = rng.NormFloat64() * math.Pow(10, float64(rng.Intn(40)-20))
		case 2:
			f = float64(rng.Int63n(1<<53)) * math.Pow(10, float64(rng.Intn(10)-5))
		default:
			f = math.Nextafter(math.Pow(10, float64(rng.Intn(30)-15)), math.Inf(2*rng.Intn(2)-1))
		}
		checkFloat(t, Python, f)
		checkFloat(t, Pydantic, f)
	}
}

func TestAppendString(t *testing.T) {
	// Expected: json.dumps(s, ensure_ascii=False).
	cases := []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{"line\nbreak\r\t", `"line\nbreak\r\t"`},
		{"\b\f", `"\b\f"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"é€😀", `"é€😀"`},
		{"\u2028\u2029", "\"\u2028\u2029\""},
		{"</script>", `"</script>"`},
		{"bad\xffutf8\xc3", "\"bad\uFFFDutf8\uFFFD\""},
	}
	for _, c := range cases {
		got := AppendString(nil, c.in)
		if string(got) != c.want {
			t.Errorf("AppendString(%q) = %s, want %s", c.in, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("AppendString(%q) invalid JSON", c.in)
		}
	}
}

func TestAppendTime(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	cases := []struct {
		t    time.Time
		tz   bool
		want string
	}{
		{time.Date(2026, 11, 21, 7, 19, 52, 726497000, time.UTC), false, `"2026-11-21T07:19:52.726497"`},
		{time.Date(2026, 11, 21, 7, 19, 52, 726497999, time.UTC), false, `"2026-11-21T07:19:52.726497"`},
		{time.Date(2026, 1, 1, 10, 0, 0, 123456000, time.UTC), true, `"2026-01-01T10:00:00.123456Z"`},
		{time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC), true, `"2026-01-01T10:00:00Z"`},
		{time.Date(2026, 1, 1, 10, 0, 0, 500, time.UTC), false, `"2026-01-01T10:00:00"`},
		{time.Date(2026, 1, 1, 11, 0, 0, 1000, paris), true, `"2026-01-01T10:00:00.000001Z"`},
		{time.Date(2026, 1, 1, 11, 0, 0, 1000, paris), false, `"2026-01-01T11:00:00.000001"`},
		{time.Date(999, 3, 4, 5, 6, 7, 0, time.UTC), false, `"0999-03-04T05:06:07"`},
	}
	for _, c := range cases {
		if got := string(AppendTime(nil, c.t, c.tz)); got != c.want {
			t.Errorf("AppendTime(%v, %v) = %s, want %s", c.t, c.tz, got, c.want)
		}
	}
}

func TestCompositeAndObj(t *testing.T) {
	m := geom.Identity4()
	m[0][3] = 0.5
	if got := string(AppendMat4(nil, m)); got != "[[1.0,0.0,0.0,0.5],[0.0,1.0,0.0,0.0],[0.0,0.0,1.0,0.0],[0.0,0.0,0.0,1.0]]" {
		t.Errorf("AppendMat4 = %s", got)
	}
	if got := string(AppendFloats(nil, []float64{})); got != "[]" {
		t.Errorf("empty floats = %s", got)
	}
	yaw := 1e-5
	o := ObjStart(nil)
	o.String("type", "state")
	o.FloatPtr("body_yaw", &yaw)
	o.FloatPtr("none", nil)
	o.Floats("antennas", []float64{math.Copysign(0, -1), 2})
	o.Floats("passive", nil)
	o.Bool("ok", true)
	o.Int("n", -3)
	o.Null("doa")
	o.Time("ts", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true)
	o.Raw("raw", []byte(`{"a":1}`))
	o.Key("nested")
	in := ObjStart(o.B)
	in.Style = Pydantic
	in.Float("x", 1e-5)
	o.B = in.End()
	got := string(o.End())
	want := `{"type":"state","body_yaw":1e-05,"none":null,"antennas":[-0.0,2.0],"passive":null,"ok":true,"n":-3,"doa":null,"ts":"2026-01-01T00:00:00Z","raw":{"a":1},"nested":{"x":0.00001}}`
	if got != want {
		t.Errorf("Obj:\n got %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Error("Obj output is not valid JSON")
	}
	if e := ObjStart(nil); string(e.End()) != "{}" {
		t.Errorf("empty obj = %s", e.End())
	}
}

func TestMarshalers(t *testing.T) {
	type s struct {
		A Float         `json:"a"`
		B PydanticFloat `json:"b"`
		C *Float        `json:"c"`
		T Time          `json:"t"`
		N Float         `json:"n"`
	}
	out, err := json.Marshal(s{A: 1e16, B: 1e16, T: Time{Time: time.Date(2026, 1, 1, 10, 0, 0, 123456000, time.UTC), TZ: true}, N: Float(math.NaN())})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":1e+16,"b":1e16,"c":null,"t":"2026-01-01T10:00:00.123456Z","n":null}`
	if string(out) != want {
		t.Errorf("got %s\nwant %s", out, want)
	}
}

func TestZeroAllocs(t *testing.T) {
	buf := make([]byte, 0, 1024)
	m := geom.Identity4()
	allocs := testing.AllocsPerRun(100, func() {
		b := AppendFloat(buf[:0], 0.123456789)
		b = AppendFloatPydantic(b, 1.5e-7)
		b = AppendMat4(b, m)
		b = AppendString(b, "héllo\n")
		b = AppendTime(b, time.Date(2026, 1, 1, 10, 0, 0, 123456000, time.UTC), true)
		o := ObjStart(b)
		o.Float("x", 1)
		_ = o.End()
	})
	if allocs != 0 {
		t.Errorf("allocs per run = %v, want 0", allocs)
	}
}

func BenchmarkAppendFloat(b *testing.B) {
	buf := make([]byte, 0, 64)
	vals := []float64{0.9110920589828683, -0.0011782501231626277, 1.0, -7.620680877229331e-10, 0.1}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendFloat(buf[:0], vals[i%len(vals)])
	}
}

func BenchmarkAppendMat4(b *testing.B) {
	buf := make([]byte, 0, 512)
	m := geom.Mat4{
		{0.9110920589828683, 0.004009626566896446, 0.4127967816650871, -0.021015938397157274},
		{-0.003929623810805032, 1.0000000848917148, -0.0011782501231626277, 0.0009841800426590658},
		{-0.41279756289284514, -0.000807644875271278, 0.9110919381596351, -0.0439809944062996},
		{0, 0, 0, 1},
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendMat4(buf[:0], m)
	}
}

func FuzzAppendFloat(f *testing.F) {
	for _, c := range pythonRepr {
		f.Add(math.Float64bits(c.f))
	}
	f.Add(math.Float64bits(math.NaN()))
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		checkFloat(t, Python, v)
		checkFloat(t, Pydantic, v)
	})
}

// The direction of arrival in FullState and alone: null unless asked for
// and valid.
func TestFullStateDoA(t *testing.T) {
	s := &messages.RobotState{}
	doa := &messages.DoA{Valid: true, Angle: math.Pi / 2, SpeechDetected: true}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	with := FullStateDoA(nil, s, FullStateFlags{DoA: true}, doa, at, Pydantic)
	if !strings.Contains(string(with), `"doa":{"angle":1.5707963267948966,"speech_detected":true}`) {
		t.Errorf("with_doa: %s", with)
	}
	for _, c := range []struct {
		f   FullStateFlags
		doa *messages.DoA
	}{{FullStateFlags{}, doa}, {FullStateFlags{DoA: true}, nil}, {FullStateFlags{DoA: true}, &messages.DoA{Angle: 1}}} {
		if b := FullStateDoA(nil, s, c.f, c.doa, at, Pydantic); !strings.Contains(string(b), `"doa":null`) {
			t.Errorf("%+v %+v: %s", c.f, c.doa, b)
		}
	}
	if b := FullState(nil, s, FullStateFlags{DoA: true}, at, Pydantic); !strings.Contains(string(b), `"doa":null`) {
		t.Errorf("FullState: %s", b)
	}
}
