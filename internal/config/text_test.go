package config

import (
	"errors"
	"testing"
)

func TestCheckText(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" for accepted
	}{
		{"empty", "", ""},
		{"ascii", "Table 7, 2 coffees", ""},
		{"non-ASCII printable", "Café ☕ Grüße 日本", ""},
		{"replacement character itself", "a\uFFFDb", ""},
		{"space and tilde", " ~", ""},
		{"U+00A0 after the C1 range", "a\u00a0b", ""},
		{"NUL", "a\x00", "contains a control character (U+0000) at byte 1; use printable text"},
		{"BEL", "\a", "contains a control character (U+0007) at byte 0; use printable text"},
		{"TAB", "a\tb", "contains a control character (U+0009) at byte 1; use printable text"},
		{"LF", "a\nb", "contains a control character (U+000A) at byte 1; use printable text"},
		{"CR", "ab\r", "contains a control character (U+000D) at byte 2; use printable text"},
		{"ESC", "Hello\x1b[2J", "contains a control character (U+001B) at byte 5; use printable text"},
		{"unit separator", "\x1f", "contains a control character (U+001F) at byte 0; use printable text"},
		{"DEL", "x\x7f", "contains a control character (U+007F) at byte 1; use printable text"},
		{"C1 first", "é\u0080", "contains a control character (U+0080) at byte 2; use printable text"},
		{"C1 CSI", "\u009b2J", "contains a control character (U+009B) at byte 0; use printable text"},
		{"C1 last", "\u009f", "contains a control character (U+009F) at byte 0; use printable text"},
		{"invalid byte", "ab\xffc", "is not valid UTF-8 at byte 2; use printable text"},
		{"truncated sequence", "Caf\xc3", "is not valid UTF-8 at byte 3; use printable text"},
		{"raw C1 byte, not UTF-8", "a\x9b", "is not valid UTF-8 at byte 1; use printable text"},
		{"first problem wins", "ok\x00\xff", "contains a control character (U+0000) at byte 2; use printable text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckText(tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckText(%q) = %v, want nil", tc.in, err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("CheckText(%q) = %v, want %q", tc.in, err, tc.want)
			}
			var te *TextError
			if err != nil && !errors.As(err, &te) {
				t.Fatalf("CheckText(%q) = %T, want *TextError", tc.in, err)
			}
		})
	}
}
