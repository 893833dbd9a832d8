package card

import "strings"

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
		if c < '0' || c > '9' {
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

// Mask returns pan with everything but the first six and the last four digits
// replaced by '*', e.g. "476173******0119". Anything that is not 12 to 19
// ASCII digits is not a PAN this package accepts: it is masked entirely, so
// Mask never returns its input unchanged when the input contains a digit.
func Mask(pan string) string {
	if !isPAN(pan) {
		return strings.Repeat("*", len(pan))
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

// BrandOf names the card scheme of pan from its leading digits (the BIN):
// "Visa", "Mastercard", "Amex", "Discover", "JCB", "UnionPay", "Diners",
// "Maestro", or "Unknown" (also for input that does not start with digits).
func BrandOf(pan string) string {
	p := func(n int) int { return prefix(pan, n) }
	in := func(n, lo, hi int) bool { v := p(n); return v >= lo && v <= hi }
	switch {
	case p(1) == 4:
		return "Visa"
	case in(2, 51, 55), in(4, 2221, 2720):
		return "Mastercard"
	case p(2) == 34, p(2) == 37:
		return "Amex"
	case p(4) == 6011, in(3, 644, 649), p(2) == 65:
		return "Discover"
	case in(4, 3528, 3589):
		return "JCB"
	case p(2) == 62:
		return "UnionPay"
	case in(3, 300, 305), p(2) == 36, in(2, 38, 39):
		return "Diners"
	case p(2) == 50, in(2, 56, 58), p(1) == 6:
		return "Maestro"
	}
	return "Unknown"
}

// prefix returns the number formed by the first n characters of s, or -1 when
// s is shorter than n or one of them is not an ASCII digit.
func prefix(s string, n int) int {
	if len(s) < n {
		return -1
	}
	v := 0
	for i := range n {
		c := s[i]
		if c < '0' || c > '9' {
			return -1
		}
		v = v*10 + int(c-'0')
	}
	return v
}

// isPAN reports whether s is 12 to 19 ASCII digits.
func isPAN(s string) bool {
	return len(s) >= minPAN && len(s) <= maxPAN && allDigits(s)
}

// allDigits reports whether s is non-empty and only ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// PAN length limits (ISO/IEC 7812).
const (
	minPAN = 12
	maxPAN = 19
)
