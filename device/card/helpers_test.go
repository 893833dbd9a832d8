package card

import (
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// now is the fixed clock of the tests: cards expiring 2611 or later are valid.
var now = time.Date(2026, time.November, 22, 10, 0, 0, 0, time.UTC)

// tagBytes returns the tag's bytes without leading zeros.
func tagBytes(tag uint32) []byte {
	var b []byte
	for s := 24; s >= 0; s -= 8 {
		if c := byte(tag >> s); c != 0 || len(b) > 0 || s == 0 {
			b = append(b, c)
		}
	}
	return b
}

// enc encodes one BER-TLV object with the shortest length form.
func enc(tag uint32, v []byte) []byte {
	b := tagBytes(tag)
	switch n := len(v); {
	case n < 0x80:
		b = append(b, byte(n))
	case n <= 0xFF:
		b = append(b, 0x81, byte(n))
	default:
		b = append(b, 0x82, byte(n>>8), byte(n))
	}
	return append(b, v...)
}

// encAll encodes a tree of TLVs; constructed objects are encoded from their
// Children.
func encAll(ts []TLV) []byte {
	var b []byte
	for _, t := range ts {
		if t.Constructed() {
			b = append(b, enc(t.Tag, encAll(t.Children))...)
		} else {
			b = append(b, enc(t.Tag, t.Value)...)
		}
	}
	return b
}

// h decodes hex for test literals, ignoring spaces.
func h(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex literal %q: %v", s, err)
	}
	return b
}

// bcdF packs digits (and 'D') into nibbles, padding with F to whole bytes.
func bcdF(t testing.TB, s string) []byte {
	t.Helper()
	if len(s)%2 == 1 {
		s += "F"
	}
	return h(t, s)
}

// iccParts are the data objects of a realistic contact EMV authorisation
// request (ISO 8583 field 55 style) for a card.
type iccParts struct {
	pan, t2eq, yymmdd, psn string // "" leaves the tag out
}

// emvICC builds a realistic ICC request blob: card data (5A, 57, 5F24, 5F34)
// plus the cryptogram data an acquirer needs (82, 84, 95, 9A, 9C, 5F2A, 9F02,
// 9F03, 9F10, 9F1A, 9F26, 9F27, 9F33, 9F34, 9F35, 9F36, 9F37, 9F09), as
// upper-case hex.
func emvICC(t testing.TB, p iccParts) string {
	t.Helper()
	var b []byte
	if p.pan != "" {
		b = append(b, enc(0x5A, bcdF(t, p.pan))...)
	}
	if p.yymmdd != "" {
		b = append(b, enc(0x5F24, h(t, p.yymmdd))...)
	}
	if p.psn != "" {
		b = append(b, enc(0x5F34, h(t, p.psn))...)
	}
	if p.t2eq != "" {
		b = append(b, enc(0x57, bcdF(t, p.t2eq))...)
	}
	for _, o := range []struct {
		tag uint32
		v   string
	}{
		{0x82, "3900"},
		{0x84, "A0000000031010"},
		{0x95, "0000008000"},
		{0x9A, "261122"},
		{0x9C, "00"},
		{0x5F2A, "0978"},
		{0x9F02, "000000001234"},
		{0x9F03, "000000000000"},
		{0x9F10, "06011203A00000"},
		{0x9F1A, "0276"},
		{0x9F26, "1C3E6BA4F0D2E715"},
		{0x9F27, "80"},
		{0x9F33, "E0F8C8"},
		{0x9F34, "1F0302"},
		{0x9F35, "22"},
		{0x9F36, "0027"},
		{0x9F37, "9BADBCAB"},
		{0x9F09, "008C"},
	} {
		b = append(b, enc(o.tag, h(t, o.v))...)
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// visaICC is the hand-assembled field 55 of the Visa test card
// 4761739001010119 (expiry 2812, PSN 01); emvICC must produce the same.
const visaICC = "5A084761739001010119" + "5F2403281231" + "5F340101" +
	"57114761739001010119D2812201175892888F" +
	"82023900" + "8407A0000000031010" + "95050000008000" + "9A03261122" + "9C0100" +
	"5F2A020978" + "9F0206000000001234" + "9F0306000000000000" + "9F100706011203A00000" +
	"9F1A020276" + "9F26081C3E6BA4F0D2E715" + "9F270180" + "9F3303E0F8C8" + "9F34031F0302" +
	"9F350122" + "9F36020027" + "9F37049BADBCAB" + "9F0902008C"

const (
	visaPAN    = "4761739001010119"
	visaTrack2 = visaPAN + "=2812201175892888"
	visaTrack1 = "%B" + visaPAN + "^VISA ACQUIRER TEST/CARD 01^2812201175890000000000000?"
)

var longDigits = regexp.MustCompile(`[0-9]{5,}`)

// assertClean fails when s leaks card data (see leak).
func assertClean(t *testing.T, what, s, pan string, secrets ...string) {
	t.Helper()
	if why := leak(s, pan, secrets...); why != "" {
		t.Errorf("%s %s: %q", what, why, s)
	}
}

// leak says how s leaks card data: it contains one of secrets (in either
// case), or a run of five or more digits of pan outside its masked form.
func leak(s, pan string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" && strings.Contains(strings.ToUpper(s), strings.ToUpper(sec)) {
			return "contains card data"
		}
	}
	if pan == "" {
		return ""
	}
	// Heap addresses (0xc000123456, or c000123456 under %x) are not card
	// data; they would make the digit check below match by chance.
	rest := heapAddr.ReplaceAllString(strings.ReplaceAll(s, Mask(pan), ""), "ADDR")
	for i := 0; i+5 <= len(pan); i++ {
		if strings.Contains(rest, pan[i:i+5]) {
			return "contains PAN digits " + pan[i:i+5]
		}
		// The same digits dumped as byte values: "52 55 54 49 55" for "47617".
		codes := make([]string, 5)
		for k, d := range []byte(pan[i : i+5]) {
			codes[k] = strconv.Itoa(int(d))
		}
		if strings.Contains(rest, strings.Join(codes, " ")) {
			return "contains PAN digits as bytes " + pan[i:i+5]
		}
	}
	return ""
}

var heapAddr = regexp.MustCompile(`(0x)?c[0-9a-f]{9}\b`)

func TestLeakDetector(t *testing.T) {
	tests := []struct {
		s    string
		leak bool
	}{
		{"card Visa 476173******0119 (contact)", false},
		{"{contact " + visaTrack2 + "}", true},
		{"icc=" + strings.ToLower(visaICC), true},
		{"pan tail 9001010119", true},
		{"pan middle 73900", true},
		{"only masked 476173******0119 and 0119", false},
		{"bytes [52 55 54 49 55 51 57 48]", true},
		{"pointer 0xc0001012c0 and %x c000220960", false},
	}
	for _, tc := range tests {
		if got := leak(tc.s, visaPAN, visaTrack2, visaICC); (got != "") != tc.leak {
			t.Errorf("leak(%q) = %q, want leak %v", tc.s, got, tc.leak)
		}
	}
}
