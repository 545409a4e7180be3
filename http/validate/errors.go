// Package validate decodes request bodies, query strings and path
// parameters the way the reference daemon's FastAPI + pydantic v2 stack does,
// and reports failures with the same 422 {"detail":[...]} bodies, byte for
// byte where the reference's output is deterministic.
//
// Decoded JSON is represented as Python's json module would hand it to
// pydantic: nil, bool, string, json.Number (the literal, so ints and floats
// stay distinct, as they are in Python), []any and *Object (a dict that keeps
// key order, needed to echo inputs exactly). Validators also accept
// map[string]any and Go numbers so callers can feed them other sources.
package validate

import (
	"encoding/json"
	"math"
	"net/http"
	"reachyd/internal/pyfmt"
	"sort"
	"strconv"
	"strings"

	"reachyd/messages/wire"
)

// Error is one pydantic error as FastAPI reports it (include_url=False).
type Error struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"` // strings and ints
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// Errors is a list of pydantic errors, in the order pydantic reports them
// (model field order, union members in declaration order).
type Errors []Error

// typeBodyParse marks the one body failure FastAPI answers with 400 instead
// of 422: bytes that are not text in the detected encoding, integers over
// Python's 4300-digit limit, nesting deeper than Python's recursion limit.
const typeBodyParse = "reachyd.body_parse"

func bodyParseError() Errors {
	return Errors{{Type: typeBodyParse, Msg: "There was an error parsing the body"}}
}

// Status is the HTTP status FastAPI would answer with: 422, or 400 for a
// body Python's json.loads cannot even decode (see DecodeBody).
func (e Errors) Status() int {
	if len(e) == 1 && e[0].Type == typeBodyParse {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

// Body returns the response body: {"detail":[...]} as FastAPI's JSONResponse
// writes it (compact, ensure_ascii=False, keys type, loc, msg, input, ctx),
// or {"detail":"There was an error parsing the body"} for the 400 case.
func (e Errors) Body() []byte {
	if e.Status() == http.StatusBadRequest {
		return []byte(`{"detail":"There was an error parsing the body"}`)
	}
	b := make([]byte, 0, 128*len(e)+16)
	b = append(b, `{"detail":[`...)
	for i := range e {
		if i > 0 {
			b = append(b, ',')
		}
		b = e[i].appendJSON(b)
	}
	return append(b, "]}"...)
}

// MarshalJSON writes the error with FastAPI's key order.
func (e Error) MarshalJSON() ([]byte, error) { return e.appendJSON(nil), nil }

func (e *Error) appendJSON(b []byte) []byte {
	o := wire.ObjStart(b)
	o.String("type", e.Type)
	o.Key("loc")
	o.B = append(o.B, '[')
	for i, l := range e.Loc {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		o.B = appendValue(o.B, l)
	}
	o.B = append(o.B, ']')
	o.String("msg", e.Msg)
	o.Key("input")
	o.B = appendValue(o.B, e.Input)
	if e.Ctx != nil {
		o.Key("ctx")
		o.B = appendCtx(o.B, e.Ctx)
	}
	return o.End()
}

// ctxOrder is the order pydantic-core lists the context keys it defines
// (struct field order of its ErrorType variants); others follow, sorted.
var ctxOrder = []string{"field_type", "min_length", "max_length", "actual_length", "expected", "error", "class_name", "gt", "ge", "lt", "le", "multiple_of"}

func appendCtx(b []byte, ctx map[string]any) []byte {
	o := wire.ObjStart(b)
	for _, k := range ctxOrder {
		if v, ok := ctx[k]; ok {
			o.Key(k)
			o.B = appendValue(o.B, v)
		}
	}
	var rest []string
	for k := range ctx {
		if !containsString(ctxOrder, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		o.Key(k)
		o.B = appendValue(o.B, ctx[k])
	}
	return o.End()
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// appendValue echoes a decoded input the way FastAPI's jsonable_encoder +
// json.dumps would print the Python object json.loads made of it: ints as
// ints, floats in repr form (1e5 comes back as 100000.0), strings with
// ensure_ascii=False, dicts in their original key order.
//
// A non-finite float is written as null: Python would fail to serialise it
// (allow_nan=False) and answer 500 instead.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return wire.AppendNull(b)
	case bool:
		return wire.AppendBool(b, x)
	case string:
		return wire.AppendString(b, x)
	case json.Number:
		return appendNumber(b, string(x))
	case float64:
		return wire.AppendFloat(b, x)
	case float32:
		return wire.AppendFloat(b, float64(x))
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case []byte: // jsonable_encoder decodes bytes (a non-JSON body) to str
		return wire.AppendString(b, string(x))
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	case []float64:
		return wire.AppendFloats(b, x)
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = wire.AppendString(b, e)
		}
		return append(b, ']')
	case *Object:
		return x.appendJSON(b)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := wire.ObjStart(b)
		for _, k := range keys {
			o.Key(k)
			o.B = appendValue(o.B, x[k])
		}
		return o.End()
	default:
		raw, err := json.Marshal(x)
		if err != nil {
			return wire.AppendNull(b)
		}
		return append(b, raw...)
	}
}

// appendNumber prints a JSON number literal as Python re-serialises it.
func appendNumber(b []byte, lit string) []byte {
	if isIntLiteral(lit) {
		if lit == "-0" {
			return append(b, '0')
		}
		return append(b, lit...)
	}
	f, _ := strconv.ParseFloat(lit, 64) // NaN/Infinity spellings parse too
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return wire.AppendNull(b)
	}
	return wire.AppendFloat(b, f)
}

// isIntLiteral reports whether a JSON number literal is an int for Python's
// json module (no fraction, no exponent, not a NaN/Infinity constant).
func isIntLiteral(lit string) bool {
	if lit == "" {
		return false
	}
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if (c < '0' || c > '9') && !(i == 0 && c == '-') {
			return false
		}
	}
	return lit != "-"
}

// at returns loc extended with more elements, never aliasing loc.
func at(loc []any, more ...any) []any {
	out := make([]any, len(loc), len(loc)+len(more))
	copy(out, loc)
	return append(out, more...)
}

func (e *Errors) add(typ string, loc []any, msg string, input any, ctx map[string]any) {
	*e = append(*e, Error{Type: typ, Loc: loc, Msg: msg, Input: input, Ctx: ctx})
}

// expectedList formats choices as pydantic does: 'a', 'b' or 'c'.
func expectedList(choices []string) string {
	parts := make([]string, len(choices))
	for i, c := range choices {
		parts[i] = pyfmt.Repr(c)
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}
