package bindosim

import (
	"strconv"
	"strings"

	"github.com/posbridge/posbridge/pan"
)

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

// validYYMM reports a YYMM date with a month 01-12.
func validYYMM(s string) bool {
	if len(s) != 4 || !pan.AllDigits(s) {
		return false
	}
	m, _ := strconv.Atoi(s[2:])
	return m >= 1 && m <= 12
}

// parseTrack2 returns the PAN and YYMM expiry of track 2 data: optional ';'
// and '?' sentinels, PAN of 12-19 digits, '=' or 'D' separator, YYMM.
func parseTrack2(t2 string) (number, exp string, ok bool) {
	t2 = strings.TrimPrefix(t2, ";")
	if i := strings.IndexByte(t2, '?'); i >= 0 {
		t2 = t2[:i]
	}
	t2 = strings.TrimRight(t2, "Ff") // hex form from tag 57 is F-padded
	sep := strings.IndexAny(t2, "=Dd")
	if sep < 12 || sep > 19 || !pan.AllDigits(t2[:sep]) {
		return "", "", false
	}
	rest := t2[sep+1:]
	if len(rest) < 4 || !pan.AllDigits(rest[:4]) {
		return "", "", false
	}
	return t2[:sep], rest[:4], true
}

// acquirerType maps a PAN's BIN (pan.BrandOf) to the appendix's
// acquire_type values; "" for other schemes.
func acquirerType(p string) string {
	if len(p) < 6 {
		return ""
	}
	switch pan.BrandOf(p) {
	case pan.Visa:
		return "visa"
	case pan.Mastercard:
		return "mastercard"
	case pan.Amex:
		return "amex"
	case pan.JCB:
		return "jcb"
	case pan.UnionPay:
		return "cup"
	case pan.Discover:
		return "discover"
	}
	return ""
}
