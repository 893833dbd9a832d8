package card

import "github.com/posbridge/posbridge/pan"

// Luhn reports whether digits is a non-empty string of ASCII digits whose
// last digit is a valid Luhn (mod 10) check digit (pan.Luhn).
func Luhn(digits string) bool { return pan.Luhn(digits) }

// Mask returns p masked for display and logs by the rule of pan.Mask: a PAN
// of 13 to 19 digits keeps its first six and last four digits, e.g.
// "476173******0119"; anything else (a 12-digit PAN included) is masked
// entirely, so Mask never returns its input unchanged when the input
// contains a digit.
func Mask(p string) string { return pan.Mask(p) }

// BrandOf names the card scheme of p from its leading digits (the BIN):
// "Visa", "Mastercard", "Amex", "Discover", "JCB", "UnionPay", "Diners",
// "Maestro", or "Unknown" (pan.BrandOf).
func BrandOf(p string) string { return pan.BrandOf(p) }

// isPAN reports whether s is 12 to 19 ASCII digits: the PANs this package
// accepts on a card.
func isPAN(s string) bool {
	return len(s) >= minPAN && len(s) <= maxPAN && pan.AllDigits(s)
}

// prefix is pan.Prefix: the number formed by the first n characters of s,
// or -1.
func prefix(s string, n int) int { return pan.Prefix(s, n) }

// allDigits reports whether s is non-empty and only ASCII digits.
func allDigits(s string) bool { return pan.AllDigits(s) }

// PAN length limits (ISO/IEC 7812) of the cards this package accepts.
const (
	minPAN = 12
	maxPAN = 19
)
