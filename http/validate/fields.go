package validate

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pydantic-core's messages (src/errors/types.rs).
const (
	msgMissing         = "Field required"
	msgFloatType       = "Input should be a valid number"
	msgFloatParsing    = "Input should be a valid number, unable to parse string as a number"
	msgFiniteNumber    = "Input should be a finite number"
	msgIntType         = "Input should be a valid integer"
	msgIntParsing      = "Input should be a valid integer, unable to parse string as an integer"
	msgIntFromFloat    = "Input should be a valid integer, got a number with a fractional part"
	msgIntParsingSize  = "Unable to parse input string as an integer, exceeded maximum size"
	msgStringType      = "Input should be a valid string"
	msgBoolType        = "Input should be a valid boolean"
	msgBoolParsing     = "Input should be a valid boolean, unable to interpret input"
	msgTupleType       = "Input should be a valid tuple"
	msgModelAttributes = "Input should be a valid dictionary or object to extract fields from"
	msgUUIDType        = "UUID input should be a string, bytes or UUID object"
	msgDatetimeType    = "Input should be a valid datetime"
)

// Missing appends pydantic's "Field required" error. For a model field,
// input is the whole parent object; for an absent body or query parameter
// FastAPI reports null.
func Missing(loc []any, input any, errs *Errors) {
	errs.add("missing", loc, msgMissing, input, nil)
}

// Float validates a float field in lax mode (pydantic's default): JSON
// numbers, numeric strings ("1.5", " 2 ", "1_000.5", "1e3"), and booleans
// (True is 1.0, as in pydantic's conversion table).
//
// Deviation: pydantic's float accepts inf and nan (allow_inf_nan defaults to
// True, and json.loads turns 1e400 and NaN into them); here they fail with
// finite_number, since no robot command can use them and Python could not
// even serialise them back.
func Float(v any, loc []any, errs *Errors) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		lit := string(x)
		p, err := strconv.ParseFloat(lit, 64)
		if err != nil && !isRangeErr(err) {
			errs.add("float_type", loc, msgFloatType, v, nil)
			return 0, false
		}
		if isIntLiteral(lit) && math.IsInf(p, 0) {
			// float(10**400) raises OverflowError: pydantic says float_type.
			errs.add("float_type", loc, msgFloatType, v, nil)
			return 0, false
		}
		f = p
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case bool:
		if x {
			f = 1
		}
	case string:
		p, ok := pyStrAsFloat(x)
		if !ok {
			errs.add("float_parsing", loc, msgFloatParsing, v, nil)
			return 0, false
		}
		f = p
	default:
		errs.add("float_type", loc, msgFloatType, v, nil)
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		errs.add("finite_number", loc, msgFiniteNumber, v, nil)
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// pyStrAsFloat is pydantic-core's str_as_float: Rust's f64::from_str on the
// trimmed string, then on the untrimmed string with single underscores
// between characters removed.
func pyStrAsFloat(s string) (float64, bool) {
	if f, ok := rustParseFloat(strings.TrimSpace(s)); ok {
		return f, true
	}
	if u, ok := stripUnderscores(s); ok {
		return rustParseFloat(u)
	}
	return 0, false
}

// stripUnderscores is pydantic-core's strip_underscores.
func stripUnderscores(s string) (string, bool) {
	if strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || !strings.Contains(s, "_") || strings.Contains(s, "__") {
		return "", false
	}
	return strings.ReplaceAll(s, "_", ""), true
}

// rustParseFloat accepts Rust's float grammar: sign? (inf | infinity | nan |
// (digits [. digits?] | . digits) ([eE] sign? digits)?), case-insensitive
// for the words.
func rustParseFloat(s string) (float64, bool) {
	body := s
	neg := false
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		return math.NaN(), true
	}
	i, n := 0, len(body)
	intDigits := 0
	for i < n && isDigit(body[i]) {
		i++
		intDigits++
	}
	fracDigits := 0
	if i < n && body[i] == '.' {
		i++
		for i < n && isDigit(body[i]) {
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return 0, false
	}
	if i < n && (body[i] == 'e' || body[i] == 'E') {
		i++
		if i < n && (body[i] == '+' || body[i] == '-') {
			i++
		}
		expDigits := 0
		for i < n && isDigit(body[i]) {
			i++
			expDigits++
		}
		if expDigits == 0 {
			return 0, false
		}
	}
	if i != n {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	return f, true
}

// intResult classifies an int conversion; big means beyond int64 (pydantic
// itself has arbitrary-precision ints), with n clamped to the int64 range.
type intResult struct {
	n   int64
	big bool
	typ string // "" on success, else the pydantic error type
}

var intMsgs = map[string]string{
	"int_type":         msgIntType,
	"int_parsing":      msgIntParsing,
	"int_from_float":   msgIntFromFloat,
	"int_parsing_size": msgIntParsingSize,
	"finite_number":    msgFiniteNumber,
}

func intValue(v any) intResult {
	switch x := v.(type) {
	case json.Number:
		lit := string(x)
		if isIntLiteral(lit) {
			return parseIntDigits(lit)
		}
		f, _ := strconv.ParseFloat(lit, 64)
		return floatAsInt(f)
	case float64:
		return floatAsInt(x)
	case int:
		return intResult{n: int64(x)}
	case int64:
		return intResult{n: x}
	case bool:
		if x {
			return intResult{n: 1}
		}
		return intResult{}
	case string:
		return strAsInt(x)
	}
	return intResult{typ: "int_type"}
}

// parseIntDigits parses an optionally signed run of digits, clamping
// integers that do not fit in int64.
func parseIntDigits(s string) intResult {
	n, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return intResult{n: n}
	}
	if strings.HasPrefix(s, "-") {
		return intResult{n: math.MinInt64, big: true}
	}
	return intResult{n: math.MaxInt64, big: true}
}

// floatAsInt is pydantic-core's float_as_int.
func floatAsInt(f float64) intResult {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return intResult{typ: "finite_number"}
	case f != math.Trunc(f):
		return intResult{typ: "int_from_float"}
	case f <= math.MinInt64 || f >= math.MaxInt64:
		return intResult{typ: "int_parsing_size"}
	}
	return intResult{n: int64(f)}
}

// strAsInt follows pydantic-core's str_as_int / clean_int_str: surrounding
// whitespace, a leading '+', leading zeros, a ".000" suffix and single
// underscores between digits are all tolerated.
func strAsInt(s string) intResult {
	fail := intResult{typ: "int_parsing"}
	if len(s) > maxIntDigits {
		return intResult{typ: "int_parsing_size"}
	}
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "+") {
		if strings.HasPrefix(t[1:], "-") {
			return fail
		}
		t = t[1:]
	}
	neg := false
	if strings.HasPrefix(t, "-") {
		if strings.HasPrefix(t[1:], "-") || strings.HasPrefix(t[1:], "+") {
			return fail
		}
		neg = true
		t = t[1:]
	}
	t, ok := stripLeadingZeros(t)
	if !ok {
		return fail
	}
	if i := strings.IndexByte(t, '.'); i >= 0 {
		if dec := t[i+1:]; dec != "" && strings.Trim(dec, "0") == "" {
			t = t[:i]
		}
	}
	if u, ok := stripUnderscores(t); ok {
		t = u
	}
	if t == "" {
		return fail
	}
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) {
			return fail
		}
	}
	if neg {
		t = "-" + t
	}
	return parseIntDigits(t)
}

// stripLeadingZeros is pydantic-core's strip_leading_zeros.
func stripLeadingZeros(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	switch c := s[0]; {
	case c == '0':
	case (c >= '1' && c <= '9') || c == '-':
		return s, true
	default:
		return "", false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '0' || c == '_':
		case (c >= '1' && c <= '9') || c == '-':
			return s[i:], true
		case c == '.':
			return s[i-1:], true
		default:
			return "", false
		}
	}
	return s[len(s)-1:], true
}

// Int validates an int field in lax mode: JSON ints, floats without a
// fractional part (2.0), numeric strings ("12", " 012 ", "1_000", "3.00"),
// booleans. Deviation: integers beyond int64, which pydantic accepts, fail
// here with int_parsing_size.
func Int(v any, loc []any, errs *Errors) (int64, bool) {
	r := intValue(v)
	if r.typ == "" && r.big {
		r.typ = "int_parsing_size"
	}
	if r.typ != "" {
		errs.add(r.typ, loc, intMsgs[r.typ], v, nil)
		return 0, false
	}
	return r.n, true
}

// IntInRange is Int with pydantic's Field(ge=min, le=max) checks
// (less_than_equal is tested first, as pydantic-core does).
func IntInRange(v any, loc []any, min, max int64, errs *Errors) (int64, bool) {
	r := intValue(v)
	if r.typ != "" {
		errs.add(r.typ, loc, intMsgs[r.typ], v, nil)
		return 0, false
	}
	if r.n > max {
		errs.add("less_than_equal", loc, "Input should be less than or equal to "+strconv.FormatInt(max, 10), v, map[string]any{"le": max})
		return 0, false
	}
	if r.n < min {
		errs.add("greater_than_equal", loc, "Input should be greater than or equal to "+strconv.FormatInt(min, 10), v, map[string]any{"ge": min})
		return 0, false
	}
	return r.n, true
}

// FloatRange is Float with pydantic's Field constraints: le and ge bound
// the value inclusively, gt exclusively (a nil bound is absent). As
// pydantic-core, le is tested first, then ge, then gt; the message prints
// the bound as Rust prints a float (3600, 3.141592653589793) and the ctx
// keeps it as a float.
func FloatRange(v any, loc []any, ge, gt, le *float64, errs *Errors) (float64, bool) {
	f, ok := Float(v, loc, errs)
	if !ok {
		return 0, false
	}
	bound := func(b float64) string { return strconv.FormatFloat(b, 'f', -1, 64) }
	switch {
	case le != nil && !(f <= *le):
		errs.add("less_than_equal", loc, "Input should be less than or equal to "+bound(*le), v, map[string]any{"le": *le})
	case ge != nil && !(f >= *ge):
		errs.add("greater_than_equal", loc, "Input should be greater than or equal to "+bound(*ge), v, map[string]any{"ge": *ge})
	case gt != nil && !(f > *gt):
		errs.add("greater_than", loc, "Input should be greater than "+bound(*gt), v, map[string]any{"gt": *gt})
	default:
		return f, true
	}
	return 0, false
}

// String validates a str field: only strings are accepted (pydantic does not
// coerce numbers to str by default).
func String(v any, loc []any, errs *Errors) (string, bool) {
	s, ok := v.(string)
	if !ok {
		errs.add("string_type", loc, msgStringType, v, nil)
		return "", false
	}
	return s, true
}

// StringLen is String with Field(min_length, max_length), counted in
// characters as Python's len() does.
func StringLen(v any, loc []any, min, max int, errs *Errors) (string, bool) {
	s, ok := String(v, loc, errs)
	if !ok {
		return "", false
	}
	n := utf8.RuneCountInString(s)
	if n < min {
		errs.add("string_too_short", loc, "String should have at least "+strconv.Itoa(min)+" character"+plural(min), v, map[string]any{"min_length": min})
		return "", false
	}
	if n > max {
		errs.add("string_too_long", loc, "String should have at most "+strconv.Itoa(max)+" character"+plural(max), v, map[string]any{"max_length": max})
		return "", false
	}
	return s, true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Bool validates a bool field in lax mode (pydantic-core validate_bool):
// strings 0/1 and, case-insensitively, f/n/no/off/false and t/y/on/yes/true
// (no trimming); the numbers 0 and 1 (also 0.0 and 1.0). Other strings and
// integral numbers fail with bool_parsing, everything else with bool_type.
func Bool(v any, loc []any, errs *Errors) (bool, bool) {
	b, typ := boolValue(v)
	switch typ {
	case "":
		return b, true
	case "bool_parsing":
		errs.add(typ, loc, msgBoolParsing, v, nil)
	default:
		errs.add(typ, loc, msgBoolType, v, nil)
	}
	return false, false
}

func boolValue(v any) (bool, string) {
	switch x := v.(type) {
	case bool:
		return x, ""
	case string:
		switch {
		case x == "0" || strings.EqualFold(x, "f") || strings.EqualFold(x, "n") || strings.EqualFold(x, "no") || strings.EqualFold(x, "off") || strings.EqualFold(x, "false"):
			return false, ""
		case x == "1" || strings.EqualFold(x, "t") || strings.EqualFold(x, "y") || strings.EqualFold(x, "on") || strings.EqualFold(x, "yes") || strings.EqualFold(x, "true"):
			return true, ""
		}
		return false, "bool_parsing"
	case json.Number, float64, int, int64:
		r := intValue(x)
		if r.typ != "" {
			// float_as_int failed (fraction, non-finite, too big): bool_type.
			return false, "bool_type"
		}
		switch {
		case r.big: // beyond int64, pydantic goes through float_as_int and fails
			return false, "bool_type"
		case r.n == 0:
			return false, ""
		case r.n == 1:
			return true, ""
		}
		return false, "bool_parsing"
	}
	return false, "bool_type"
}

// FloatTuple validates tuple[float, ...] with n positions: a JSON array
// (strings and objects are not sequences for pydantic), each item a Float.
// Too few items: one missing error per absent index, input = the whole list.
// Too many: a single too_long error, which replaces any item errors.
func FloatTuple(v any, loc []any, n int, errs *Errors) ([]float64, bool) {
	arr, ok := v.([]any)
	if !ok {
		errs.add("tuple_type", loc, msgTupleType, v, nil)
		return nil, false
	}
	out := make([]float64, n)
	var local Errors
	for i := 0; i < n; i++ {
		if i >= len(arr) {
			Missing(at(loc, i), v, &local)
			continue
		}
		out[i], _ = Float(arr[i], at(loc, i), &local)
	}
	if len(arr) > n {
		errs.add("too_long", loc, "Tuple should have at most "+strconv.Itoa(n)+" item"+plural(n)+" after validation, not "+strconv.Itoa(len(arr)), v,
			map[string]any{"field_type": "Tuple", "max_length": n, "actual_length": len(arr)})
		return nil, false
	}
	if len(local) > 0 {
		*errs = append(*errs, local...)
		return nil, false
	}
	return out, true
}

// Enum validates a str Enum field: the value must be one of allowed, else
// pydantic's enum error ("Input should be 'a', 'b' or 'c'").
func Enum(v any, loc []any, allowed []string, errs *Errors) (string, bool) {
	if s, ok := v.(string); ok && containsString(allowed, s) {
		return s, true
	}
	exp := expectedList(allowed)
	errs.add("enum", loc, "Input should be "+exp, v, map[string]any{"expected": exp})
	return "", false
}

// UUID validates a uuid.UUID field and returns it in canonical form
// (lower-case, hyphenated). Accepted: hyphenated, 32 hex digits, {braced},
// urn:uuid:-prefixed, any case, as Rust's uuid crate parses them; errors
// carry that crate's explanation, as pydantic's do.
func UUID(v any, loc []any, errs *Errors) (string, bool) {
	s, ok := v.(string)
	if !ok {
		errs.add("uuid_type", loc, msgUUIDType, v, nil)
		return "", false
	}
	u, reason := parseUUID(s)
	if reason != "" {
		errs.add("uuid_parsing", loc, "Input should be a valid UUID, "+reason, v, map[string]any{"error": reason})
		return "", false
	}
	return u, true
}

// ModelObject checks that v can be validated as a pydantic model (FastAPI
// validates with from_attributes=True, hence model_attributes_type rather
// than model_type for anything that is not a dict) and returns a lookup.
func ModelObject(v any, loc []any, errs *Errors) (func(string) (any, bool), bool) {
	switch o := v.(type) {
	case *Object:
		return o.Get, true
	case map[string]any:
		return func(k string) (any, bool) { x, ok := o[k]; return x, ok }, true
	}
	errs.add("model_attributes_type", loc, msgModelAttributes, v, nil)
	return nil, false
}

// List validates a list field: a JSON array (pydantic's list_type
// otherwise).
func List(v any, loc []any, errs *Errors) ([]any, bool) {
	l, ok := v.([]any)
	if !ok {
		errs.add("list_type", loc, "Input should be a valid list", v, nil)
		return nil, false
	}
	return l, true
}

// Dict validates a dict field: a JSON object (pydantic's dict_type
// otherwise).
func Dict(v any, loc []any, errs *Errors) (*Object, bool) {
	o, ok := v.(*Object)
	if !ok {
		errs.add("dict_type", loc, "Input should be a valid dictionary", v, nil)
		return nil, false
	}
	return o, true
}
