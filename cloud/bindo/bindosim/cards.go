package bindosim

import (
	"strconv"
	"strings"
)

func isDigits(s string) bool {
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

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// luhn reports whether the digit string passes the Luhn check.
func luhn(pan string) bool {
	if !isDigits(pan) {
		return false
	}
	sum := 0
	double := false
	for i := len(pan) - 1; i >= 0; i-- {
		d := int(pan[i] - '0')
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

// maskPAN is first 6 + '*' + last 4.
func maskPAN(pan string) string {
	if len(pan) < 13 {
		if len(pan) <= 4 {
			return strings.Repeat("*", len(pan))
		}
		return strings.Repeat("*", len(pan)-4) + pan[len(pan)-4:]
	}
	return pan[:6] + strings.Repeat("*", len(pan)-10) + pan[len(pan)-4:]
}

// validYYMM reports a YYMM date with a month 01-12.
func validYYMM(s string) bool {
	if len(s) != 4 || !isDigits(s) {
		return false
	}
	m, _ := strconv.Atoi(s[2:])
	return m >= 1 && m <= 12
}

// parseTrack2 returns the PAN and YYMM expiry of track 2 data: optional ';'
// and '?' sentinels, PAN of 12-19 digits, '=' or 'D' separator, YYMM.
func parseTrack2(t2 string) (pan, exp string, ok bool) {
	t2 = strings.TrimPrefix(t2, ";")
	if i := strings.IndexByte(t2, '?'); i >= 0 {
		t2 = t2[:i]
	}
	t2 = strings.TrimRight(t2, "Ff") // hex form from tag 57 is F-padded
	sep := strings.IndexAny(t2, "=Dd")
	if sep < 12 || sep > 19 || !isDigits(t2[:sep]) {
		return "", "", false
	}
	rest := t2[sep+1:]
	if len(rest) < 4 || !isDigits(rest[:4]) {
		return "", "", false
	}
	return t2[:sep], rest[:4], true
}

// acquirerType maps a PAN's BIN to the appendix's acquire_type values.
func acquirerType(pan string) string {
	if len(pan) < 6 {
		return ""
	}
	p2, _ := strconv.Atoi(pan[:2])
	p3, _ := strconv.Atoi(pan[:3])
	p4, _ := strconv.Atoi(pan[:4])
	switch {
	case pan[0] == '4':
		return "visa"
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return "mastercard"
	case p2 == 34 || p2 == 37:
		return "amex"
	case p4 >= 3528 && p4 <= 3589:
		return "jcb"
	case p2 == 62:
		return "cup"
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65:
		return "discover"
	}
	return ""
}
