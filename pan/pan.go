// Package pan holds posbridge's one set of rules for primary account
// numbers: how a PAN is masked for display, logs and storage, the Luhn
// check, and the scheme (brand) of a BIN. It is a bottom-layer package: it
// imports no posbridge package.
//
// The masking rule (Mask): a PAN of 13 to 19 ASCII digits keeps its first
// six and last four digits, the PCI DSS display maximum; anything else is
// not shown at all. A 12-digit number shows nothing either, because six and
// four of twelve would leave only two digits hidden.
package pan

import "strings"

// PAN lengths (ISO/IEC 7812) that Mask shows as first 6 + last 4.
const (
	MinLen = 13
	MaxLen = 19
)

// Mask returns s with every character but the first six and the last four
// replaced by '*' when s is a PAN of MinLen to MaxLen ASCII digits, e.g.
// "476173******0119". Other all-digit input keeps only its last four
// ("********9012"; four digits or fewer are at most a PAN's last four and
// stay as they are); input with any other character becomes '*' throughout.
// The result has as many bytes as s.
func Mask(s string) string {
	switch {
	case !AllDigits(s):
		return strings.Repeat("*", len(s))
	case len(s) >= MinLen && len(s) <= MaxLen:
		return s[:6] + strings.Repeat("*", len(s)-10) + s[len(s)-4:]
	case len(s) <= 4:
		return s // at most a PAN's last four, which may always be shown
	default:
		return strings.Repeat("*", len(s)-4) + s[len(s)-4:]
	}
}

// MaskRuns returns s with every run of at least minRun consecutive ASCII
// digits replaced by Mask of that run: a number in free text (a gateway's
// error message, an HTTP error page) that could be a card number. Shorter
// runs and all other bytes are kept.
func MaskRuns(s string, minRun int) string {
	var b strings.Builder
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		if run := s[start:end]; len(run) >= minRun {
			b.WriteString(Mask(run))
		} else {
			b.WriteString(run)
		}
		start = -1
	}
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
		b.WriteByte(s[i])
	}
	flush(len(s))
	return b.String()
}

// Luhn reports whether digits is a non-empty string of ASCII digits whose
// last digit is a valid Luhn (mod 10) check digit.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if !isDigit(c) {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// AllDigits reports whether s is non-empty and only ASCII digits.
func AllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Card schemes BrandOf returns.
const (
	Visa       = "Visa"
	Mastercard = "Mastercard"
	Amex       = "Amex"
	Discover   = "Discover"
	JCB        = "JCB"
	UnionPay   = "UnionPay"
	Diners     = "Diners"
	Maestro    = "Maestro"
	Unknown    = "Unknown"
)

// BrandOf names the card scheme of pan from its leading digits (the BIN):
// Visa, Mastercard, Amex, Discover, JCB, UnionPay, Diners, Maestro, or
// Unknown (also for input that does not start with digits).
func BrandOf(pan string) string {
	p := func(n int) int { return Prefix(pan, n) }
	in := func(n, lo, hi int) bool { v := p(n); return v >= lo && v <= hi }
	switch {
	case p(1) == 4:
		return Visa
	case in(2, 51, 55), in(4, 2221, 2720):
		return Mastercard
	case p(2) == 34, p(2) == 37:
		return Amex
	case p(4) == 6011, in(3, 644, 649), p(2) == 65:
		return Discover
	case in(4, 3528, 3589):
		return JCB
	case p(2) == 62:
		return UnionPay
	case in(3, 300, 305), p(2) == 36, in(2, 38, 39):
		return Diners
	case p(2) == 50, in(2, 56, 58), p(1) == 6:
		return Maestro
	}
	return Unknown
}

// Prefix returns the number formed by the first n characters of s (the BIN
// of a PAN when n is 6 or 8), or -1 when s is shorter than n or one of them
// is not an ASCII digit.
func Prefix(s string, n int) int {
	if len(s) < n {
		return -1
	}
	v := 0
	for i := range n {
		c := s[i]
		if !isDigit(c) {
			return -1
		}
		v = v*10 + int(c-'0')
	}
	return v
}
