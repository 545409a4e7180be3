// Package jsondepth bounds the nesting of JSON from the network before
// encoding/json decodes it: its own limit is 10 000 levels, a lot of
// recursion for a message from a stranger. The scan is one pass over the
// bytes, aware of strings and escapes, and allocates nothing; it does not
// validate the JSON (the decoder does that next).
package jsondepth

import (
	"errors"
	"fmt"
)

// ErrTooDeep is what Check returns (wrapped, with the limit).
var ErrTooDeep = errors.New("JSON nested too deep")

// Check returns an error wrapping ErrTooDeep when b opens more than max
// objects or arrays at once.
func Check(b []byte, max int) error {
	depth, inStr, esc := 0, false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr:
			switch c {
			case '\\':
				esc = true
			case '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return fmt.Errorf("%w: nested deeper than %d", ErrTooDeep, max)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
