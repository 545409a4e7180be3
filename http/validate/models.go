package validate

import (
	"math"
	"net/url"
	"time"
	"unicode"
	"unicode/utf8"

	"reachyd/hw/geom"
	"reachyd/hw/kinematics"
	"reachyd/messages"
)

// Interpolations are the InterpolationTechnique values, in declaration order
// (the order of the enum error message).
var Interpolations = []string{"linear", "minjerk", "ease_in_out", "cartoon"}

var xyzrpyFields = [6]string{"x", "y", "z", "roll", "pitch", "yaw"}

// Pose validates an AnyPose (XYZRPYPose | Matrix4x4Pose) as pydantic's smart
// union does. Both members are tried; when both succeed the one that set more
// fields wins, the first on a tie. So an object with a valid "m" and none of
// x..yaw is a matrix (row-major), and anything else that validates as
// XYZRPYPose is one, unknown keys ignored, missing ones 0.0. Quirk kept from
// the reference: {"m":[1,2]} is a valid XYZRPYPose with every field at its
// default, i.e. the identity pose.
//
// When neither validates, the errors of both members are reported, each
// under loc + member name, XYZRPYPose first.
//
// The matrix is not checked for rigidity (neither does the reference); see
// PoseIsRigid.
func Pose(v any, loc []any) (geom.Mat4, Errors) {
	var xyzErrs, matErrs Errors
	xyz, set, okXYZ := xyzrpyPose(v, at(loc, "XYZRPYPose"), &xyzErrs)
	mat, okMat := matrixPose(v, at(loc, "Matrix4x4Pose"), &matErrs)
	switch {
	case okMat && (!okXYZ || set == 0):
		return mat, nil
	case okXYZ && set == 0 && hasKey(v, "m"):
		// Deliberate fix: the reference takes an object with a broken "m"
		// as an XYZRPYPose of defaults, i.e. the neutral pose, and moves
		// the head there. Refuse it with the matrix's errors instead.
		return geom.Mat4{}, matErrs
	case okXYZ:
		return xyz, nil
	}
	return geom.Mat4{}, append(xyzErrs, matErrs...)
}

func hasKey(v any, k string) bool {
	switch o := v.(type) {
	case *Object:
		_, ok := o.Get(k)
		return ok
	case map[string]any:
		_, ok := o[k]
		return ok
	}
	return false
}

// xyzrpyPose returns the pose and how many fields the input set.
func xyzrpyPose(v any, loc []any, errs *Errors) (geom.Mat4, int, bool) {
	get, ok := ModelObject(v, loc, errs)
	if !ok {
		return geom.Mat4{}, 0, false
	}
	var vals [6]float64
	set, good := 0, true
	for i, name := range xyzrpyFields {
		x, present := get(name)
		if !present {
			continue
		}
		f, ok := Float(x, at(loc, name), errs)
		if !ok {
			good = false
			continue
		}
		vals[i] = f
		set++
	}
	if !good {
		return geom.Mat4{}, 0, false
	}
	return geom.PoseXYZRPY(vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]), set, true
}

func matrixPose(v any, loc []any, errs *Errors) (geom.Mat4, bool) {
	get, ok := ModelObject(v, loc, errs)
	if !ok {
		return geom.Mat4{}, false
	}
	m, present := get("m")
	if !present {
		Missing(at(loc, "m"), v, errs)
		return geom.Mat4{}, false
	}
	flat, ok := FloatTuple(m, at(loc, "m"), 16, errs)
	if !ok {
		return geom.Mat4{}, false
	}
	var f [16]float64
	copy(f[:], flat)
	return geom.FromFlat(f), true
}

// PoseIsRigid reports whether m is a proper rigid transform within tol:
// finite, last row 0 0 0 1, rotation orthonormal with determinant +1. The
// reference accepts any 16 numbers as a Matrix4x4Pose; callers that want to
// refuse a shear or a mirror before it reaches the kinematics use this.
func PoseIsRigid(m geom.Mat4, tol float64) bool {
	if !m.IsFinite() {
		return false
	}
	last := [4]float64{0, 0, 0, 1}
	for j := 0; j < 4; j++ {
		if math.Abs(m[3][j]-last[j]) > tol {
			return false
		}
	}
	r := m.Rotation()
	rrt := r.Mul(r.T())
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(rrt[i][j]-want) > tol {
				return false
			}
		}
	}
	det := r[0][0]*(r[1][1]*r[2][2]-r[1][2]*r[2][1]) -
		r[0][1]*(r[1][0]*r[2][2]-r[1][2]*r[2][0]) +
		r[0][2]*(r[1][0]*r[2][1]-r[1][1]*r[2][0])
	return math.Abs(det-1) <= tol
}

// bodyModel starts validating a request body model: an absent body (or JSON
// null) is FastAPI's missing error at ["body"], a non-object is
// model_attributes_type.
func bodyModel(v any, errs *Errors) (func(string) (any, bool), bool) {
	loc := []any{"body"}
	if v == nil {
		Missing(loc, nil, errs)
		return nil, false
	}
	return ModelObject(v, loc, errs)
}

// optional runs check on field k when it is present and not null (the
// Optional[...] = None fields).
func optional(get func(string) (any, bool), k string, check func(any, []any)) {
	if x, ok := get(k); ok && x != nil {
		check(x, []any{"body", k})
	}
}

// Motion value bounds (deviations: the reference's models have none). A
// goto lasts 0 (the reference's no-op) to messages.MaxMoveDuration seconds; an
// antenna target stays within ±kinematics.MaxAntenna (the motor's turn); a
// body yaw within ±kinematics.MaxBodyYaw (the joint's ±160°).
var (
	zero        = 0.0
	maxDuration = messages.MaxMoveDuration
	antennaMin  = -kinematics.MaxAntenna
	antennaMax  = kinematics.MaxAntenna
	bodyYawMin  = -kinematics.MaxBodyYaw
	bodyYawMax  = kinematics.MaxBodyYaw
)

// Antennas validates a pair of antenna positions [right, left] in radians,
// each within ±kinematics.MaxAntenna.
func Antennas(v any, loc []any, errs *Errors) (*[2]float64, bool) {
	t, ok := FloatTuple(v, loc, 2, errs)
	if !ok {
		return nil, false
	}
	arr := v.([]any)
	good := true
	for i := range t {
		if _, ok := FloatRange(arr[i], at(loc, i), &antennaMin, nil, &antennaMax, errs); !ok {
			good = false
		}
	}
	if !good {
		return nil, false
	}
	return &[2]float64{t[0], t[1]}, true
}

// BodyYaw validates a body yaw in radians, within ±kinematics.MaxBodyYaw.
func BodyYaw(v any, loc []any, errs *Errors) (float64, bool) {
	return FloatRange(v, loc, &bodyYawMin, nil, &bodyYawMax, errs)
}

// Duration validates a move duration in seconds: 0 (a move that does
// nothing, as in the reference) up to messages.MaxMoveDuration.
func Duration(v any, loc []any, errs *Errors) (float64, bool) {
	return FloatRange(v, loc, &zero, nil, &maxDuration, errs)
}

// GotoRequest is the reference's GotoModelRequest (POST /api/move/goto).
// Nil pointers are absent or null fields.
type GotoRequest struct {
	HeadPose      *geom.Mat4
	Antennas      *[2]float64
	BodyYaw       *float64
	Duration      float64
	Interpolation string // one of Interpolations; "minjerk" when absent
}

// DecodeGoto decodes and validates a GotoModelRequest body.
func DecodeGoto(body []byte) (GotoRequest, Errors) {
	v, errs := DecodeBody(body)
	if errs != nil {
		return GotoRequest{}, errs
	}
	return GotoFromValue(v)
}

// GotoFromValue validates an already decoded body (see DecodeRequest).
func GotoFromValue(v any) (GotoRequest, Errors) {
	var errs Errors
	req := GotoRequest{Interpolation: "minjerk"}
	get, ok := bodyModel(v, &errs)
	if !ok {
		return GotoRequest{}, errs
	}
	optional(get, "head_pose", func(x any, loc []any) {
		m, e := Pose(x, loc)
		if e != nil {
			errs = append(errs, e...)
			return
		}
		req.HeadPose = &m
	})
	optional(get, "antennas", func(x any, loc []any) {
		if a, ok := Antennas(x, loc, &errs); ok {
			req.Antennas = a
		}
	})
	optional(get, "body_yaw", func(x any, loc []any) {
		if f, ok := BodyYaw(x, loc, &errs); ok {
			req.BodyYaw = &f
		}
	})
	if x, ok := get("duration"); ok {
		req.Duration, _ = Duration(x, []any{"body", "duration"}, &errs)
	} else {
		Missing([]any{"body", "duration"}, v, &errs)
	}
	if x, ok := get("interpolation"); ok {
		req.Interpolation, _ = Enum(x, []any{"body", "interpolation"}, Interpolations, &errs)
	}
	if errs != nil {
		return GotoRequest{}, errs
	}
	return req, nil
}

// FullBodyTarget is the reference's FullBodyTarget (POST /api/move/set_target
// and the /api/move/ws/set_target frames). Every field is optional.
type FullBodyTarget struct {
	HeadPose  *geom.Mat4
	Antennas  *[2]float64
	BodyYaw   *float64
	Timestamp *time.Time
}

// DecodeFullBodyTarget decodes and validates a FullBodyTarget body.
func DecodeFullBodyTarget(body []byte) (FullBodyTarget, Errors) {
	v, errs := DecodeBody(body)
	if errs != nil {
		return FullBodyTarget{}, errs
	}
	return FullBodyTargetFromValue(v)
}

// FullBodyTargetFromValue validates an already decoded body.
func FullBodyTargetFromValue(v any) (FullBodyTarget, Errors) {
	var errs Errors
	var t FullBodyTarget
	get, ok := bodyModel(v, &errs)
	if !ok {
		return t, errs
	}
	optional(get, "target_head_pose", func(x any, loc []any) {
		m, e := Pose(x, loc)
		if e != nil {
			errs = append(errs, e...)
			return
		}
		t.HeadPose = &m
	})
	optional(get, "target_antennas", func(x any, loc []any) {
		if a, ok := Antennas(x, loc, &errs); ok {
			t.Antennas = a
		}
	})
	optional(get, "target_body_yaw", func(x any, loc []any) {
		if f, ok := BodyYaw(x, loc, &errs); ok {
			t.BodyYaw = &f
		}
	})
	optional(get, "timestamp", func(x any, loc []any) {
		if ts, ok := Datetime(x, loc, &errs); ok {
			t.Timestamp = &ts
		}
	})
	if errs != nil {
		return FullBodyTarget{}, errs
	}
	return t, nil
}

// DecodeMoveUUID decodes a MoveUUID body ({"uuid": ...}) and returns the
// uuid in canonical lower-case hyphenated form.
func DecodeMoveUUID(body []byte) (string, Errors) {
	v, errs := DecodeBody(body)
	if errs != nil {
		return "", errs
	}
	return MoveUUIDFromValue(v)
}

// MoveUUIDFromValue validates an already decoded MoveUUID body.
func MoveUUIDFromValue(v any) (string, Errors) {
	return requiredField(v, "uuid", func(x any, loc []any, errs *Errors) (string, bool) {
		return UUID(x, loc, errs)
	})
}

// DecodeRobotName decodes a RobotNameRequest body ({"name": 1..64 chars}).
// The name is returned as sent; trimming and the "Invalid robot name" 422
// are the handler's business, as in the reference.
func DecodeRobotName(body []byte) (string, Errors) {
	v, errs := DecodeBody(body)
	if errs != nil {
		return "", errs
	}
	return RobotNameFromValue(v)
}

// RobotNameFromValue validates an already decoded RobotNameRequest body.
func RobotNameFromValue(v any) (string, Errors) {
	return requiredField(v, "name", func(x any, loc []any, errs *Errors) (string, bool) {
		s, ok := StringLen(x, loc, 1, 64, errs)
		if ok && !PrintableName(s) {
			// Not in the reference: the name is shown in apps, logs and
			// mDNS, where a control character or a bidirectional override
			// could disguise it or forge log lines.
			const why = "the name must not contain control characters or bidirectional text controls"
			errs.add("value_error", loc, "Value error, "+why, x, map[string]any{"error": map[string]any{}})
			return "", false
		}
		return s, ok
	})
}

// PrintableName reports whether s has no control characters (C0, C1, DEL)
// and no bidirectional text controls (embeddings, overrides, isolates and
// marks: U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), which
// could make a name display as something else.
func PrintableName(s string) bool {
	for _, r := range s {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r):
			return false
		case r == 0x061C, r == 0x200E, r == 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			return false
		}
	}
	return true
}

// requiredField validates a body model with a single required field.
func requiredField(v any, k string, check func(any, []any, *Errors) (string, bool)) (string, Errors) {
	var errs Errors
	get, ok := bodyModel(v, &errs)
	if !ok {
		return "", errs
	}
	x, ok := get(k)
	if !ok {
		Missing([]any{"body", k}, v, &errs)
		return "", errs
	}
	s, ok := check(x, []any{"body", k}, &errs)
	if !ok {
		return "", errs
	}
	return s, nil
}

// queryValue returns the value FastAPI sees for a scalar query parameter:
// Starlette keeps the last of repeated keys.
func queryValue(values url.Values, name string) (string, bool) {
	vs := values[name]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// QueryBool validates a bool query parameter (loc ["query", name]). def nil
// makes it required: absent gives FastAPI's missing error with input null.
// An empty value (?x=) is not absent: it fails bool_parsing like any string.
func QueryBool(values url.Values, name string, def *bool) (bool, Errors) {
	loc := []any{"query", name}
	var errs Errors
	s, ok := queryValue(values, name)
	if !ok {
		if def == nil {
			Missing(loc, nil, &errs)
			return false, errs
		}
		return *def, nil
	}
	b, ok := Bool(s, loc, &errs)
	if !ok {
		return false, errs
	}
	return b, nil
}

// QueryFloat validates a float query parameter; see QueryBool and Float
// (non-finite values are refused, a deviation from pydantic).
func QueryFloat(values url.Values, name string, def *float64) (float64, Errors) {
	loc := []any{"query", name}
	var errs Errors
	s, ok := queryValue(values, name)
	if !ok {
		if def == nil {
			Missing(loc, nil, &errs)
			return 0, errs
		}
		return *def, nil
	}
	f, ok := Float(s, loc, &errs)
	if !ok {
		return 0, errs
	}
	return f, nil
}

// PathEnum validates a path parameter typed as a str Enum (loc ["path",
// name]); nil when value is one of allowed.
func PathEnum(value, name string, allowed []string) Errors {
	var errs Errors
	Enum(value, []any{"path", name}, allowed, &errs)
	return errs
}

// Command is pymirokai's typed command {"command": str, "value": <kind>}
// (StrCommand, IntCommand, FloatCommand, BoolCommand, ListCommand,
// DictCommand); it is also the body of PATCH /api/v1/skill/enable/.
type Command struct {
	Name  string
	Value any // string, int64, float64, bool, []any or *Object, as kind says
}

// CommandFromValue validates a decoded body as a Command whose value is of
// kind: "str", "int", "float", "bool", "list" or "dict".
func CommandFromValue(v any, kind string) (Command, Errors) {
	var errs Errors
	get, ok := bodyModel(v, &errs)
	if !ok {
		return Command{}, errs
	}
	var out Command
	if x, ok := get("command"); ok {
		out.Name, _ = String(x, []any{"body", "command"}, &errs)
	} else {
		Missing([]any{"body", "command"}, v, &errs)
	}
	x, ok := get("value")
	if !ok {
		Missing([]any{"body", "value"}, v, &errs)
		return out, errs
	}
	loc := []any{"body", "value"}
	switch kind {
	case "str":
		out.Value, _ = String(x, loc, &errs)
	case "int":
		out.Value, _ = Int(x, loc, &errs)
	case "float":
		out.Value, _ = Float(x, loc, &errs)
	case "bool":
		out.Value, _ = Bool(x, loc, &errs)
	case "list":
		out.Value, _ = List(x, loc, &errs)
	case "dict":
		out.Value, _ = Dict(x, loc, &errs)
	}
	return out, errs
}
