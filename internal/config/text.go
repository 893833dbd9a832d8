package config

import (
	"fmt"
	"unicode/utf8"
)

// This file holds the one rule for free text that posbridge stores and shows
// on a terminal or a receipt (a payment's description, a terminal's name and
// lane). It lives next to ValidOrderNo because both say what posbridge accepts
// from its inputs, and both the configuration (this package) and the agent
// (which already imports ValidOrderNo from here) need it; it imports nothing
// but the standard library, so any package may use it.

// TextError says why and where a text value breaks the rule of CheckText.
// Its message has no field name: callers prefix the field they checked.
type TextError struct {
	// Offset is the byte offset of the first offending byte, from 0.
	Offset int
	// Rune is the control character found; utf8.RuneError for invalid UTF-8.
	Rune rune
}

func (e *TextError) Error() string {
	if e.Rune == utf8.RuneError {
		return fmt.Sprintf("is not valid UTF-8 at byte %d; use printable text", e.Offset)
	}
	return fmt.Sprintf("contains a control character (%U) at byte %d; use printable text", e.Rune, e.Offset)
}

// CheckText reports the first character of s that does not belong in a
// single line of printable text: a C0 control (U+0000–U+001F, TAB, CR and LF
// included), DEL (U+007F), a C1 control (U+0080–U+009F), or a byte that is
// not valid UTF-8. It returns nil for "" and for any other text, non-ASCII
// letters and symbols included ("Café ☕").
func CheckText(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			// RuneError is also a valid U+FFFD in the input; only a
			// one-byte decode is an invalid byte.
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return &TextError{Offset: i, Rune: utf8.RuneError}
			}
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			return &TextError{Offset: i, Rune: r}
		}
	}
	return nil
}
