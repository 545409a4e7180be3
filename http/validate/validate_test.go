package validate

import (
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"reachyd/hw/geom"
)

// The expected bodies are FastAPI 0.13x + pydantic 2.12 output for the
// reference models, written from pydantic-core's sources (error types,
// messages, union/tuple/model behaviour) and CPython 3.11's json module.

const modelAttrs = `"msg":"Input should be a valid dictionary or object to extract fields from"`
const interpEnum = `"msg":"Input should be 'linear', 'minjerk', 'ease_in_out' or 'cartoon'"`
const interpCtx = `"ctx":{"expected":"'linear', 'minjerk', 'ease_in_out' or 'cartoon'"}`

type bodyCase struct {
	name   string
	body   string
	status int
	want   string
}

var gotoErrorCases = []bodyCase{
	{"missing duration", `{}`, 422,
		`{"detail":[{"type":"missing","loc":["body","duration"],"msg":"Field required","input":{}}]}`},
	{"missing duration echoes the object", `{"antennas":[0,0.50], "x":"é"}`, 422,
		`{"detail":[{"type":"missing","loc":["body","duration"],"msg":"Field required","input":{"antennas":[0,0.5],"x":"é"}}]}`},
	{"duration abc", `{"duration":"abc"}`, 422,
		`{"detail":[{"type":"float_parsing","loc":["body","duration"],"msg":"Input should be a valid number, unable to parse string as a number","input":"abc"}]}`},
	{"duration list", `{"duration":[1]}`, 422,
		`{"detail":[{"type":"float_type","loc":["body","duration"],"msg":"Input should be a valid number","input":[1]}]}`},
	{"duration null", `{"duration":null}`, 422,
		`{"detail":[{"type":"float_type","loc":["body","duration"],"msg":"Input should be a valid number","input":null}]}`},
	{"duration NaN (deviation: pydantic accepts)", `{"duration":NaN}`, 422,
		`{"detail":[{"type":"finite_number","loc":["body","duration"],"msg":"Input should be a finite number","input":null}]}`},
	{"duration 1e400 (deviation: pydantic accepts inf)", `{"duration":1e400}`, 422,
		`{"detail":[{"type":"finite_number","loc":["body","duration"],"msg":"Input should be a finite number","input":null}]}`},
	{"duration negative", `{"duration":-0.5}`, 422,
		`{"detail":[{"type":"greater_than_equal","loc":["body","duration"],"msg":"Input should be greater than or equal to 0","input":-0.5,"ctx":{"ge":0.0}}]}`},
	{"duration over an hour", `{"duration":"3600.5"}`, 422,
		`{"detail":[{"type":"less_than_equal","loc":["body","duration"],"msg":"Input should be less than or equal to 3600","input":"3600.5","ctx":{"le":3600.0}}]}`},
	{"antennas beyond a half turn", `{"duration":1,"antennas":[3.2,-100]}`, 422,
		`{"detail":[{"type":"less_than_equal","loc":["body","antennas",0],"msg":"Input should be less than or equal to 3.141592653589793","input":3.2,"ctx":{"le":3.141592653589793}},` +
			`{"type":"greater_than_equal","loc":["body","antennas",1],"msg":"Input should be greater than or equal to -3.141592653589793","input":-100,"ctx":{"ge":-3.141592653589793}}]}`},
	{"body_yaw beyond the joint limit", `{"duration":1,"body_yaw":2.8}`, 422,
		`{"detail":[{"type":"less_than_equal","loc":["body","body_yaw"],"msg":"Input should be less than or equal to 2.792526803190927","input":2.8,"ctx":{"le":2.792526803190927}}]}`},
	{"antennas too long", `{"duration":1,"antennas":[1,2,3]}`, 422,
		`{"detail":[{"type":"too_long","loc":["body","antennas"],"msg":"Tuple should have at most 2 items after validation, not 3","input":[1,2,3],"ctx":{"field_type":"Tuple","max_length":2,"actual_length":3}}]}`},
	{"antennas too long replaces item errors", `{"duration":1,"antennas":["a","b","c"]}`, 422,
		`{"detail":[{"type":"too_long","loc":["body","antennas"],"msg":"Tuple should have at most 2 items after validation, not 3","input":["a","b","c"],"ctx":{"field_type":"Tuple","max_length":2,"actual_length":3}}]}`},
	{"antennas too short", `{"duration":1,"antennas":[1]}`, 422,
		`{"detail":[{"type":"missing","loc":["body","antennas",1],"msg":"Field required","input":[1]}]}`},
	{"antennas empty", `{"duration":1,"antennas":[]}`, 422,
		`{"detail":[{"type":"missing","loc":["body","antennas",0],"msg":"Field required","input":[]},{"type":"missing","loc":["body","antennas",1],"msg":"Field required","input":[]}]}`},
	{"antennas item", `{"duration":1,"antennas":["a",2]}`, 422,
		`{"detail":[{"type":"float_parsing","loc":["body","antennas",0],"msg":"Input should be a valid number, unable to parse string as a number","input":"a"}]}`},
	{"antennas string", `{"duration":1,"antennas":"ab"}`, 422,
		`{"detail":[{"type":"tuple_type","loc":["body","antennas"],"msg":"Input should be a valid tuple","input":"ab"}]}`},
	{"interpolation fast", `{"duration":1,"interpolation":"fast"}`, 422,
		`{"detail":[{"type":"enum","loc":["body","interpolation"],` + interpEnum + `,"input":"fast",` + interpCtx + `}]}`},
	{"head_pose x=a", `{"duration":1,"head_pose":{"x":"a"}}`, 422,
		`{"detail":[{"type":"float_parsing","loc":["body","head_pose","XYZRPYPose","x"],"msg":"Input should be a valid number, unable to parse string as a number","input":"a"},` +
			`{"type":"missing","loc":["body","head_pose","Matrix4x4Pose","m"],"msg":"Field required","input":{"x":"a"}}]}`},
	{"head_pose bad m and bad x", `{"duration":1,"head_pose":{"m":"abc","x":"b"}}`, 422,
		`{"detail":[{"type":"float_parsing","loc":["body","head_pose","XYZRPYPose","x"],"msg":"Input should be a valid number, unable to parse string as a number","input":"b"},` +
			`{"type":"tuple_type","loc":["body","head_pose","Matrix4x4Pose","m"],"msg":"Input should be a valid tuple","input":"abc"}]}`},
	{"head_pose not an object", `{"duration":1,"head_pose":"abc"}`, 422,
		`{"detail":[{"type":"model_attributes_type","loc":["body","head_pose","XYZRPYPose"],` + modelAttrs + `,"input":"abc"},` +
			`{"type":"model_attributes_type","loc":["body","head_pose","Matrix4x4Pose"],` + modelAttrs + `,"input":"abc"}]}`},
	{"errors in field order", `{"head_pose":5,"antennas":"x","body_yaw":"y","interpolation":null}`, 422,
		`{"detail":[{"type":"model_attributes_type","loc":["body","head_pose","XYZRPYPose"],` + modelAttrs + `,"input":5},` +
			`{"type":"model_attributes_type","loc":["body","head_pose","Matrix4x4Pose"],` + modelAttrs + `,"input":5},` +
			`{"type":"tuple_type","loc":["body","antennas"],"msg":"Input should be a valid tuple","input":"x"},` +
			`{"type":"float_parsing","loc":["body","body_yaw"],"msg":"Input should be a valid number, unable to parse string as a number","input":"y"},` +
			`{"type":"missing","loc":["body","duration"],"msg":"Field required","input":{"head_pose":5,"antennas":"x","body_yaw":"y","interpolation":null}},` +
			`{"type":"enum","loc":["body","interpolation"],` + interpEnum + `,"input":null,` + interpCtx + `}]}`},
	{"body is a list", `[1]`, 422,
		`{"detail":[{"type":"model_attributes_type","loc":["body"],` + modelAttrs + `,"input":[1]}]}`},
	{"body is a string", `"s"`, 422,
		`{"detail":[{"type":"model_attributes_type","loc":["body"],` + modelAttrs + `,"input":"s"}]}`},
	{"body is a number", ` 5.0 `, 422,
		`{"detail":[{"type":"model_attributes_type","loc":["body"],` + modelAttrs + `,"input":5.0}]}`},
	{"malformed JSON", `{"duration":`, 422,
		`{"detail":[{"type":"json_invalid","loc":["body",12],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting value"}}]}`},
	{"trailing comma", `{"duration":1,}`, 422,
		`{"detail":[{"type":"json_invalid","loc":["body",14],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting property name enclosed in double quotes"}}]}`},
	{"position counts characters", `{"é":1,"duration":x}`, 422,
		`{"detail":[{"type":"json_invalid","loc":["body",18],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting value"}}]}`},
	{"bad escape", `{"a":"\x"}`, 422,
		`{"detail":[{"type":"json_invalid","loc":["body",6],"msg":"JSON decode error","input":{},"ctx":{"error":"Invalid \\escape"}}]}`},
	{"extra data", `{} {}`, 422,
		`{"detail":[{"type":"json_invalid","loc":["body",3],"msg":"JSON decode error","input":{},"ctx":{"error":"Extra data"}}]}`},
	{"empty body", ``, 422,
		`{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`},
	{"null body", `null`, 422,
		`{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`},
	{"not UTF-8", "{\"duration\":\"\xff\"}", 400,
		`{"detail":"There was an error parsing the body"}`},
	{"int over 4300 digits", `{"duration":` + strings.Repeat("1", 4301) + `}`, 400,
		`{"detail":"There was an error parsing the body"}`},
	{"too deep", strings.Repeat("[", 2000), 400,
		`{"detail":"There was an error parsing the body"}`},
}

func checkBody(t *testing.T, c bodyCase, errs Errors) {
	t.Helper()
	if errs == nil {
		t.Fatalf("%s: no errors", c.name)
	}
	if got := errs.Status(); got != c.status {
		t.Errorf("%s: status %d, want %d", c.name, got, c.status)
	}
	body := errs.Body()
	if string(body) != c.want {
		t.Errorf("%s:\n got %s\nwant %s", c.name, body, c.want)
	}
	if !json.Valid(body) {
		t.Errorf("%s: body is not valid JSON", c.name)
	}
}

func TestDecodeGotoErrors(t *testing.T) {
	for _, c := range gotoErrorCases {
		_, errs := DecodeGoto([]byte(c.body))
		checkBody(t, c, errs)
	}
}

func near(a, b geom.Mat4) bool { return a.MaxAbsDiff(b) < 1e-12 }

func TestDecodeGotoOK(t *testing.T) {
	r, errs := DecodeGoto([]byte(`{"head_pose":{"x":0.01,"y":"2e-2","z":0,"roll":0.1,"pitch":-0.2,"yaw":0.3,"extra":1},` +
		`"antennas":[true,"-1_0e-1"],"body_yaw":null,"duration":2,"interpolation":"linear"}`))
	if errs != nil {
		t.Fatal(string(errs.Body()))
	}
	if r.HeadPose == nil || !near(*r.HeadPose, geom.PoseXYZRPY(0.01, 0.02, 0, 0.1, -0.2, 0.3)) {
		t.Errorf("head pose %v", r.HeadPose)
	}
	if r.Antennas == nil || *r.Antennas != [2]float64{1, -1} || r.BodyYaw != nil || r.Duration != 2 || r.Interpolation != "linear" {
		t.Errorf("got %+v", r)
	}

	flat := [16]float64{0, -1, 0, 0.1, 1, 0, 0, 0.2, 0, 0, 1, 0.3, 0, 0, 0, 1}
	body, _ := json.Marshal(map[string]any{"duration": 0.5, "body_yaw": -1, "head_pose": map[string]any{"m": flat, "unknown": "x"}})
	r, errs = DecodeGoto(body)
	if errs != nil {
		t.Fatal(string(errs.Body()))
	}
	if r.HeadPose == nil || *r.HeadPose != geom.FromFlat(flat) || r.BodyYaw == nil || *r.BodyYaw != -1 || r.Interpolation != "minjerk" || r.Antennas != nil {
		t.Errorf("matrix goto %+v", r)
	}
}

// The smart union: a valid m wins only when no XYZRPY field is set. A broken
// m with no XYZRPY field is refused (the reference would take it as an
// all-default XYZRPYPose and move the head to neutral).
func TestPoseUnion(t *testing.T) {
	identity := geom.Identity4()
	shifted := geom.FromFlat([16]float64{1, 0, 0, 5, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1})
	m := `[1,0,0,5,0,1,0,0,0,0,1,0,0,0,0,1]`
	cases := []struct {
		in   string
		want geom.Mat4
	}{
		{`{"m":` + m + `}`, shifted},
		{`{"m":` + m + `,"x":0}`, identity}, // tie on fields set: first member wins
		{`{"m":` + m + `,"x":"a"}`, shifted},
		{`{}`, identity},
	}
	for _, c := range cases {
		v, _ := DecodeBody([]byte(c.in))
		got, errs := Pose(v, []any{"body", "head_pose"})
		if errs != nil || !near(got, c.want) {
			t.Errorf("%s: got %v %s", c.in, got, errs.Body())
		}
	}
	v, _ := DecodeBody([]byte(`{"m":[1,2]}`))
	if _, errs := Pose(v, []any{"p"}); len(errs) != 14 || errs[0].Type != "missing" || errs[0].Loc[1] != "Matrix4x4Pose" {
		t.Errorf("broken m: %s", errs.Body())
	}
	v, _ = DecodeBody([]byte(`{"m":[1,2],"x":"b"}`))
	_, errs := Pose(v, []any{"p"})
	if len(errs) != 15 || errs[0].Type != "float_parsing" || errs[1].Type != "missing" || errs[14].Loc[3] != 15 {
		t.Errorf("union errors: %s", errs.Body())
	}
}

func TestPoseIsRigid(t *testing.T) {
	rigid := geom.PoseXYZRPY(0.1, -0.2, 0.3, 0.4, -0.5, 0.6)
	if !PoseIsRigid(rigid, 1e-3) {
		t.Error("rigid pose refused")
	}
	bad := []geom.Mat4{
		geom.FromFlat([16]float64{1, 2}),
		geom.FromFlat([16]float64{2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}),  // scale
		geom.FromFlat([16]float64{-1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}), // mirror
		geom.FromFlat([16]float64{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1}),  // last row
		geom.FromFlat([16]float64{1, 0, 0, math.NaN(), 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}),
	}
	for i, m := range bad {
		if PoseIsRigid(m, 1e-3) {
			t.Errorf("bad[%d] accepted", i)
		}
	}
	slightly := rigid
	slightly[0][0] += 5e-4
	if !PoseIsRigid(slightly, 1e-3) {
		t.Error("tolerance not applied")
	}
}

func TestDecodeFullBodyTarget(t *testing.T) {
	errCases := []bodyCase{
		{"timestamp too short", `{"timestamp":"abc"}`, 422,
			`{"detail":[{"type":"datetime_from_date_parsing","loc":["body","timestamp"],"msg":"Input should be a valid datetime or date, input is too short","input":"abc","ctx":{"error":"input is too short"}}]}`},
		{"timestamp bad hour", `{"timestamp":"2026-01-01T25:00:00"}`, 422,
			`{"detail":[{"type":"datetime_from_date_parsing","loc":["body","timestamp"],"msg":"Input should be a valid datetime or date, unexpected extra characters at the end of the input","input":"2026-01-01T25:00:00","ctx":{"error":"unexpected extra characters at the end of the input"}}]}`},
		{"timestamp bad month", `{"timestamp":"2026-13-01"}`, 422,
			`{"detail":[{"type":"datetime_from_date_parsing","loc":["body","timestamp"],"msg":"Input should be a valid datetime or date, month value is outside expected range of 1-12","input":"2026-13-01","ctx":{"error":"month value is outside expected range of 1-12"}}]}`},
		{"timestamp bool", `{"timestamp":true}`, 422,
			`{"detail":[{"type":"datetime_type","loc":["body","timestamp"],"msg":"Input should be a valid datetime","input":true}]}`},
		{"timestamp huge", `{"timestamp":1e30}`, 422,
			`{"detail":[{"type":"datetime_parsing","loc":["body","timestamp"],"msg":"Input should be a valid datetime, dates after 9999 are not supported as unix timestamps","input":1e+30,"ctx":{"error":"dates after 9999 are not supported as unix timestamps"}}]}`},
		{"target pose", `{"target_head_pose":[],"target_antennas":[1,2],"target_body_yaw":"x"}`, 422,
			`{"detail":[{"type":"model_attributes_type","loc":["body","target_head_pose","XYZRPYPose"],` + modelAttrs + `,"input":[]},` +
				`{"type":"model_attributes_type","loc":["body","target_head_pose","Matrix4x4Pose"],` + modelAttrs + `,"input":[]},` +
				`{"type":"float_parsing","loc":["body","target_body_yaw"],"msg":"Input should be a valid number, unable to parse string as a number","input":"x"}]}`},
		{"empty body", ``, 422, `{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`},
		{"out of range", `{"target_antennas":[0,7],"target_body_yaw":-3}`, 422,
			`{"detail":[{"type":"less_than_equal","loc":["body","target_antennas",1],"msg":"Input should be less than or equal to 3.141592653589793","input":7,"ctx":{"le":3.141592653589793}},` +
				`{"type":"greater_than_equal","loc":["body","target_body_yaw"],"msg":"Input should be greater than or equal to -2.792526803190927","input":-3,"ctx":{"ge":-2.792526803190927}}]}`},
	}
	for _, c := range errCases {
		_, errs := DecodeFullBodyTarget([]byte(c.body))
		checkBody(t, c, errs)
	}

	okCases := []struct {
		body string
		ts   time.Time
	}{
		{`{"timestamp":"2026-01-01T10:00:00.123456789+02:00"}`, time.Date(2026, 1, 1, 8, 0, 0, 123456000, time.UTC)},
		{`{"timestamp":"2026-01-01 10:00Z"}`, time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)},
		{`{"timestamp":"2026-01-01"}`, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{`{"timestamp":1700000000.5}`, time.Unix(1700000000, 500000000)},
		{`{"timestamp":1700000000123}`, time.Unix(1700000000, 123000000)},
		{`{"timestamp":"1700000000"}`, time.Unix(1700000000, 0)},
	}
	for _, c := range okCases {
		r, errs := DecodeFullBodyTarget([]byte(c.body))
		if errs != nil || r.Timestamp == nil || !r.Timestamp.Equal(c.ts) {
			t.Errorf("%s: %v %s", c.body, r.Timestamp, errs.Body())
		}
	}
	r, errs := DecodeFullBodyTarget([]byte(`{"target_head_pose":null,"target_antennas":[0,"1"],"target_body_yaw":1,"timestamp":null}`))
	if errs != nil || r.HeadPose != nil || *r.Antennas != [2]float64{0, 1} || *r.BodyYaw != 1 || r.Timestamp != nil {
		t.Errorf("got %+v %s", r, errs.Body())
	}
}

func TestDecodeMoveUUID(t *testing.T) {
	const want = "abcdef01-2345-6789-abcd-ef0123456789"
	for _, in := range []string{"ABCDEF01-2345-6789-abcd-ef0123456789", "abcdef0123456789ABCDEF0123456789", "{" + want + "}", "urn:uuid:" + want} {
		got, errs := DecodeMoveUUID([]byte(`{"uuid":"` + in + `"}`))
		if errs != nil || got != want {
			t.Errorf("%s: %q %s", in, got, errs.Body())
		}
	}
	parsing := func(in, reason string) string {
		return `{"detail":[{"type":"uuid_parsing","loc":["body","uuid"],"msg":"Input should be a valid UUID, ` + reason + `","input":"` + in + `","ctx":{"error":"` + reason + `"}}]}`
	}
	cases := []bodyCase{
		{"short", `{"uuid":"abc"}`, 422, parsing("abc", "invalid length: expected length 32 for simple format, found 3")},
		{"bad char", `{"uuid":"xyz"}`, 422, parsing("xyz", "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `x` at 1")},
		{"group count", `{"uuid":"abcdef01-2345-6789-abcdef0123456789"}`, 422, parsing("abcdef01-2345-6789-abcdef0123456789", "invalid group count: expected 5, found 4")},
		{"group length", `{"uuid":"abcdef01-2345-6789-abcd-ef012345678"}`, 422, parsing("abcdef01-2345-6789-abcd-ef012345678", "invalid group length in group 4: expected 12, found 11")},
		{"group 1 length", `{"uuid":"abcdef01-235-6789-abcd-ef0123456789"}`, 422, parsing("abcdef01-235-6789-abcd-ef0123456789", "invalid group length in group 1: expected 4, found 3")},
		{"braced bad char", `{"uuid":"{abcdef01-2345-6789-abcd-ef012345678g}"}`, 422, parsing("{abcdef01-2345-6789-abcd-ef012345678g}", "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `g` at 37")},
		{"not a string", `{"uuid":5}`, 422, `{"detail":[{"type":"uuid_type","loc":["body","uuid"],"msg":"UUID input should be a string, bytes or UUID object","input":5}]}`},
		{"missing", `{"id":"x"}`, 422, `{"detail":[{"type":"missing","loc":["body","uuid"],"msg":"Field required","input":{"id":"x"}}]}`},
	}
	for _, c := range cases {
		_, errs := DecodeMoveUUID([]byte(c.body))
		checkBody(t, c, errs)
	}
}

func TestDecodeRobotName(t *testing.T) {
	long := strings.Repeat("a", 65)
	cases := []bodyCase{
		{"empty", `{"name":""}`, 422, `{"detail":[{"type":"string_too_short","loc":["body","name"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]}`},
		{"long", `{"name":"` + long + `"}`, 422, `{"detail":[{"type":"string_too_long","loc":["body","name"],"msg":"String should have at most 64 characters","input":"` + long + `","ctx":{"max_length":64}}]}`},
		{"number", `{"name":5}`, 422, `{"detail":[{"type":"string_type","loc":["body","name"],"msg":"Input should be a valid string","input":5}]}`},
		{"missing", `{}`, 422, `{"detail":[{"type":"missing","loc":["body","name"],"msg":"Field required","input":{}}]}`},
	}
	for _, c := range cases {
		_, errs := DecodeRobotName([]byte(c.body))
		checkBody(t, c, errs)
	}
	// 64 characters, 128 bytes: length is counted in characters.
	name := strings.Repeat("é", 64)
	if got, errs := DecodeRobotName([]byte(`{"name":"` + name + `"}`)); errs != nil || got != name {
		t.Errorf("64 runes refused: %s", errs.Body())
	}
}

func TestQueryAndPath(t *testing.T) {
	q, _ := url.ParseQuery("wake_up=maybe&empty=&f=abc&g=inf&h=1&h=off&t=YES")
	tr, fa := true, false
	cases := []struct {
		name string
		errs Errors
		want string
	}{
		{"bool maybe", second(QueryBool(q, "wake_up", nil)),
			`{"detail":[{"type":"bool_parsing","loc":["query","wake_up"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}`},
		{"missing required", second(QueryBool(q, "goto_sleep", nil)),
			`{"detail":[{"type":"missing","loc":["query","goto_sleep"],"msg":"Field required","input":null}]}`},
		{"empty value is not missing", second(QueryBool(q, "empty", &tr)),
			`{"detail":[{"type":"bool_parsing","loc":["query","empty"],"msg":"Input should be a valid boolean, unable to interpret input","input":""}]}`},
		{"float abc", second(QueryFloat(q, "f", nil)),
			`{"detail":[{"type":"float_parsing","loc":["query","f"],"msg":"Input should be a valid number, unable to parse string as a number","input":"abc"}]}`},
		{"float inf", second(QueryFloat(q, "g", nil)),
			`{"detail":[{"type":"finite_number","loc":["query","g"],"msg":"Input should be a finite number","input":"inf"}]}`},
		{"path enum", PathEnum("foo", "mode", []string{"enabled", "disabled", "gravity_compensation"}),
			`{"detail":[{"type":"enum","loc":["path","mode"],"msg":"Input should be 'enabled', 'disabled' or 'gravity_compensation'","input":"foo","ctx":{"expected":"'enabled', 'disabled' or 'gravity_compensation'"}}]}`},
	}
	for _, c := range cases {
		if got := string(c.errs.Body()); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	if v, errs := QueryBool(q, "h", &tr); errs != nil || v {
		t.Error("repeated key: the last value wins (Starlette)")
	}
	if v, errs := QueryBool(q, "t", &fa); errs != nil || !v {
		t.Error("YES is true")
	}
	if v, errs := QueryBool(q, "absent", &tr); errs != nil || !v {
		t.Error("default not used")
	}
	ten := 10.0
	if v, errs := QueryFloat(url.Values{"frequency": {" 50 "}}, "frequency", &ten); errs != nil || v != 50 {
		t.Error("frequency")
	}
	if PathEnum("disabled", "mode", []string{"enabled", "disabled"}) != nil {
		t.Error("valid enum refused")
	}
}

func second[T any](_ T, e Errors) Errors { return e }

func TestBool(t *testing.T) {
	cases := []struct {
		in   any
		want bool
		typ  string
	}{
		{true, true, ""}, {"0", false, ""}, {"off", false, ""}, {"F", false, ""}, {"No", false, ""}, {"FALSE", false, ""}, {"n", false, ""},
		{"1", true, ""}, {"On", true, ""}, {"t", true, ""}, {"Yes", true, ""}, {"TRUE", true, ""}, {"Y", true, ""},
		{" true", false, "bool_parsing"}, {"2", false, "bool_parsing"}, {"", false, "bool_parsing"},
		{json.Number("0"), false, ""}, {json.Number("1"), true, ""}, {json.Number("1.0"), true, ""},
		{json.Number("2"), false, "bool_parsing"}, {json.Number("2.0"), false, "bool_parsing"},
		{json.Number("0.5"), false, "bool_type"}, {json.Number("1e400"), false, "bool_type"},
		{json.Number("100000000000000000000"), false, "bool_type"},
		{nil, false, "bool_type"}, {[]any{}, false, "bool_type"}, {NewObject(), false, "bool_type"},
	}
	for _, c := range cases {
		var errs Errors
		got, ok := Bool(c.in, []any{"q"}, &errs)
		typ := ""
		if !ok {
			typ = errs[0].Type
		}
		if got != c.want || typ != c.typ {
			t.Errorf("Bool(%#v) = %v %q, want %v %q", c.in, got, typ, c.want, c.typ)
		}
	}
}

func TestFloatAndInt(t *testing.T) {
	floats := []struct {
		in   any
		want float64
		typ  string
	}{
		{json.Number("1"), 1, ""}, {json.Number("-2.5e-3"), -2.5e-3, ""}, {true, 1, ""}, {false, 0, ""},
		{"1.5", 1.5, ""}, {" 2 ", 2, ""}, {"+.5", 0.5, ""}, {"1.", 1, ""}, {"1E3", 1000, ""}, {"1_000.5", 1000.5, ""},
		{"1__0", 0, "float_parsing"}, {"_1", 0, "float_parsing"}, {"1e", 0, "float_parsing"}, {".", 0, "float_parsing"},
		{"0x10", 0, "float_parsing"}, {"", 0, "float_parsing"}, {"abc", 0, "float_parsing"},
		{"nan", 0, "finite_number"}, {"-Infinity", 0, "finite_number"}, {json.Number("Infinity"), 0, "finite_number"},
		{json.Number("1" + strings.Repeat("0", 400)), 0, "float_type"},
		{nil, 0, "float_type"}, {[]any{}, 0, "float_type"},
	}
	for _, c := range floats {
		var errs Errors
		got, ok := Float(c.in, nil, &errs)
		typ := ""
		if !ok {
			typ = errs[0].Type
		}
		if got != c.want || typ != c.typ {
			t.Errorf("Float(%#v) = %v %q, want %v %q", c.in, got, typ, c.want, c.typ)
		}
	}
	ints := []struct {
		in   any
		want int64
		typ  string
	}{
		{json.Number("42"), 42, ""}, {json.Number("2.0"), 2, ""}, {json.Number("2.5"), 0, "int_from_float"},
		{json.Number("NaN"), 0, "finite_number"}, {true, 1, ""}, {" 012 ", 12, ""}, {"+5", 5, ""}, {"-0", 0, ""},
		{"3.000", 3, ""}, {"1_000", 1000, ""}, {"1.5", 0, "int_parsing"}, {"1e3", 0, "int_parsing"}, {"--1", 0, "int_parsing"},
		{"", 0, "int_parsing"}, {nil, 0, "int_type"}, {json.Number("1e20"), 0, "int_parsing_size"},
	}
	for _, c := range ints {
		var errs Errors
		got, ok := Int(c.in, nil, &errs)
		typ := ""
		if !ok {
			typ = errs[0].Type
		}
		if got != c.want || typ != c.typ {
			t.Errorf("Int(%#v) = %v %q, want %v %q", c.in, got, typ, c.want, c.typ)
		}
	}
	var errs Errors
	IntInRange(json.Number("150"), []any{"body", "volume"}, 0, 100, &errs)
	IntInRange(json.Number("-5"), []any{"body", "volume"}, 0, 100, &errs)
	IntInRange(json.Number("100000000000000000000000"), []any{"body", "volume"}, 0, 100, &errs)
	want := `{"detail":[{"type":"less_than_equal","loc":["body","volume"],"msg":"Input should be less than or equal to 100","input":150,"ctx":{"le":100}},` +
		`{"type":"greater_than_equal","loc":["body","volume"],"msg":"Input should be greater than or equal to 0","input":-5,"ctx":{"ge":0}},` +
		`{"type":"less_than_equal","loc":["body","volume"],"msg":"Input should be less than or equal to 100","input":100000000000000000000000,"ctx":{"le":100}}]}`
	if got := string(errs.Body()); got != want {
		t.Errorf("IntInRange:\n got %s\nwant %s", got, want)
	}
}

func TestEnumRepr(t *testing.T) {
	var errs Errors
	Enum(5, []any{"x"}, []string{"it's", "a"}, &errs)
	Enum("b", []any{"x"}, []string{"only"}, &errs)
	want := `{"detail":[{"type":"enum","loc":["x"],"msg":"Input should be \"it's\" or 'a'","input":5,"ctx":{"expected":"\"it's\" or 'a'"}},` +
		`{"type":"enum","loc":["x"],"msg":"Input should be 'only'","input":"b","ctx":{"expected":"'only'"}}]}`
	if got := string(errs.Body()); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestDecodeBodyPythonSemantics(t *testing.T) {
	v, errs := DecodeBody([]byte("\xef\xbb\xbf {\"b\":1, \"a\":[1.50, 1e5, -0, 1E-7, \"\\u00e9\\ud83d\\ude00\\n\"], \"b\":{\"c\":null}} "))
	if errs != nil {
		t.Fatal(string(errs.Body()))
	}
	got := string(appendValue(nil, v))
	want := "{\"b\":{\"c\":null},\"a\":[1.5,100000.0,0,1e-07,\"é😀\\n\"]}"
	if got != want {
		t.Errorf("echo:\n got %s\nwant %s", got, want)
	}
	// UTF-16 with BOM, as json.loads(bytes) detects it.
	v, errs = DecodeBody([]byte("\xff\xfe{\x00\"\x00a\x00\"\x00:\x001\x00}\x00"))
	if errs != nil || string(appendValue(nil, v)) != `{"a":1}` {
		t.Errorf("utf-16: %v %s", v, errs.Body())
	}
	msgs := map[string]string{
		`[1,]`:              `Expecting value@3`,
		`{"a" 1}`:           `Expecting ':' delimiter@5`,
		`[1 2]`:             `Expecting ',' delimiter@3`,
		`"abc`:              `Unterminated string starting at@0`,
		`"\u00zz"`:          `Invalid \uXXXX escape@2`,
		`"\ud800\u00zz"`:    `Invalid \uXXXX escape@8`,
		"\"a\nb\"":          `Invalid control character at@2`,
		`01`:                `Extra data@1`,
		`-`:                 `Expecting value@0`,
		`nul`:               `Expecting value@0`,
		` `:                 `Expecting value@1`,
		"\x00\x01":          `Expecting value@0`,
		`{"a":1,"b":2,"c"}`: `Expecting ':' delimiter@16`,
	}
	for in, want := range msgs {
		_, errs := DecodeBody([]byte(in))
		if errs == nil || errs.Status() != 422 {
			t.Errorf("%q: %v", in, errs)
			continue
		}
		got := errs[0].Ctx["error"].(string) + "@" + itoa(errs[0].Loc[1].(int))
		if got != want {
			t.Errorf("%q: got %s want %s", in, got, want)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestDecodeRequestContentType(t *testing.T) {
	body := []byte(`{"uuid":"x"}`)
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"} {
		if v, errs := DecodeRequest(ct, body); errs != nil || v == nil {
			t.Errorf("%s not parsed as JSON", ct)
		} else if _, ok := v.(*Object); !ok {
			t.Errorf("%s: got %T", ct, v)
		}
	}
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "json"} {
		v, errs := DecodeRequest(ct, body)
		if errs != nil || v != string(body) {
			t.Errorf("%q: %v %v", ct, v, errs)
		}
		_, errs = MoveUUIDFromValue(v)
		want := `{"detail":[{"type":"model_attributes_type","loc":["body"],` + modelAttrs + `,"input":"{\"uuid\":\"x\"}"}]}`
		if string(errs.Body()) != want {
			t.Errorf("%q: %s", ct, errs.Body())
		}
	}
	if v, errs := DecodeRequest("text/plain", nil); v != nil || errs != nil {
		t.Error("empty body must be absent")
	}
}

func TestErrorMarshalJSON(t *testing.T) {
	e := Error{Type: "x", Loc: []any{"body", 0}, Msg: "m", Input: map[string]any{"b": 1.0, "a": json.Number("2")},
		Ctx: map[string]any{"zeta": 1, "error": "e", "max_length": 2}}
	got, _ := json.Marshal(Errors{e})
	want := `[{"type":"x","loc":["body",0],"msg":"m","input":{"a":2,"b":1.0},"ctx":{"max_length":2,"error":"e","zeta":1}}]`
	if string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// fuzzCheck asserts the decoder contract: a value, or errors whose Body is
// valid JSON with a 400/422 status.
func fuzzCheck(t *testing.T, errs Errors) {
	if errs == nil {
		return
	}
	if s := errs.Status(); s != 400 && s != 422 {
		t.Fatalf("status %d", s)
	}
	if b := errs.Body(); !json.Valid(b) {
		t.Fatalf("invalid JSON body %q", b)
	}
}

var fuzzSeeds = []string{
	`{"head_pose":{"x":0.1,"y":"2","roll":true},"antennas":[0,1],"body_yaw":null,"duration":1,"interpolation":"linear"}`,
	`{"head_pose":{"m":[1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1]},"duration":1e400}`,
	`{"target_head_pose":{"m":[1,2]},"target_antennas":["a"],"timestamp":"2026-01-01T00:00:00Z"}`,
	`{"timestamp":1700000000.5,"target_body_yaw":NaN}`,
	`[{"a":"\ud83d\ude00"}]`, `{"a":"é\n"`, "\xff\xfe{\x00}\x00", ``, `null`,
}

func FuzzDecodeGoto(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, c := range gotoErrorCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, errs := DecodeGoto(body)
		fuzzCheck(t, errs)
		if errs == nil && (r.Interpolation == "" || math.IsNaN(r.Duration) || math.IsInf(r.Duration, 0)) {
			t.Fatalf("bad result %+v", r)
		}
	})
}

func FuzzDecodeFullBodyTarget(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, errs := DecodeFullBodyTarget(body)
		fuzzCheck(t, errs)
		if errs == nil && r.HeadPose != nil && !r.HeadPose.IsFinite() {
			t.Fatalf("non-finite pose %+v", r.HeadPose)
		}
	})
}
