package pyfmt

import "testing"

func TestRepr(t *testing.T) {
	for in, want := range map[string]string{
		"PP_MIN_NS": `'PP_MIN_NS'`,
		"it's":      `"it's"`,
		`a'b"c`:     `'a\'b"c'`,
		`a\b`:       `'a\\b'`,
		"a\nb\t\r":  `'a\nb\t\r'`,
		"\x01\x7f":  `'\x01\x7f'`,
		"été":       `'été'`,
		"\u00a0":    `'\xa0'`,
		"\u2028":    `'\u2028'`,
		"\xff":      `'\udcff'`,
		"":          `''`,
	} {
		if got := Repr(in); got != want {
			t.Errorf("Repr(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestList(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, "[]"},
		{[]string{"COM3"}, "['COM3']"},
		{[]string{"/dev/tty.usbmodem1", "/dev/tty.usbmodem2"}, "['/dev/tty.usbmodem1', '/dev/tty.usbmodem2']"},
		{[]string{"it's"}, `["it's"]`},
		{[]string{`\\.\COM10`}, `['\\\\.\\COM10']`},
	} {
		if got := List(c.in); got != c.want {
			t.Errorf("List(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
