package jsondepth

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		deep bool
	}{
		{`{"a":[1,{"b":2}]}`, 3, false},
		{`{"a":[1,{"b":2}]}`, 2, true},
		{`[[[]]]`, 3, false},
		{`[[[[]]]]`, 3, true},
		{`{"s":"[[[[[[[[["}`, 1, false},         // brackets in a string do not count
		{`{"s":"\"[[[[","t":1}`, 1, false},      // nor after an escaped quote
		{`{"s":"\\","t":[[1]]}`, 2, true},       // an escaped backslash ends the string
		{strings.Repeat("[", 100000), 64, true}, // stops early on a long input
		{`]]]]{`, 1, false},                     // not validation: the decoder refuses it
	} {
		err := Check([]byte(tc.in), tc.max)
		if (err != nil) != tc.deep || (err != nil && !errors.Is(err, ErrTooDeep)) {
			t.Errorf("Check(%.40q, %d) = %v, want deep %v", tc.in, tc.max, err, tc.deep)
		}
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"x\"]"}]}`), 2)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 || max > 100 {
			return
		}
		_ = Check(b, max)
	})
}
