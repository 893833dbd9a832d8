package card

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// checkMasked fails unless m is pan masked as first 6, stars, last 4, or,
// for a 12-digit PAN, as stars only.
func checkMasked(t *testing.T, m, pan string) {
	t.Helper()
	if m == pan {
		t.Fatalf("masked form equals the PAN")
	}
	if len(pan) == minPAN { // 12 digits: not a PAN length, so the last four only
		if m != strings.Repeat("*", len(pan)-4)+pan[len(pan)-4:] {
			t.Fatalf("masked form %q of a %d-digit PAN shows more than its last four", m, len(pan))
		}
		return
	}
	if len(m) != len(pan) || m[:6] != pan[:6] || m[len(m)-4:] != pan[len(pan)-4:] ||
		strings.Trim(m[6:len(m)-4], "*") != "" || len(pan)-10 < 3 {
		t.Fatalf("masked form %q has the wrong shape for a %d-digit PAN", m, len(pan))
	}
}

func FuzzTrack2(f *testing.F) {
	for _, s := range []string{
		visaTrack2, ";" + visaTrack2 + "?", ";" + visaTrack2 + "?:", "4761739001010119D2812201175892888F",
		"4761739001010119d2812201", "123456789012=2812101", "=2812101", ";?", "FFFF", "", "%B1^^?",
		"1234567890123456789=28121011234567890",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tr, why := parseTrack2(s)
		if why != "" {
			if longDigits.MatchString(why) {
				t.Fatalf("reason %q contains digits", why)
			}
			return
		}
		if !isPAN(tr.pan) || !validYYMM(tr.expiry) || len(tr.service) != 3 || !allDigits(tr.service) ||
			(tr.disc != "" && !allDigits(tr.disc)) {
			t.Fatalf("accepted a bad track: %+v", tr)
		}
		again, why := parseTrack2(tr.normalised())
		if why != "" || again != tr {
			t.Fatalf("normalised form does not re-parse to the same track: %+v vs %+v (%s)", again, tr, why)
		}
		checkMasked(t, Mask(tr.pan), tr.pan)
	})
}

func FuzzTrack1(f *testing.F) {
	for _, s := range []string{
		visaTrack1, "%B4111111111111111^^2812101?", "B4111111111111111^DOE/JOHN^2812101", "%B4111111111111111^DOE/JOHN^2812101?;",
		"%A", "", "%B^^?", "%B4111111111111111^DOE/JOHN^2812101^X?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tr, why := parseTrack1(s)
		if why != "" {
			if longDigits.MatchString(why) {
				t.Fatalf("reason %q contains digits", why)
			}
			return
		}
		if !isPAN(tr.pan) || !validYYMM(tr.expiry) || !allDigits(tr.service) || !strings.HasPrefix(tr.norm, "B"+tr.pan+"^") {
			t.Fatalf("accepted a bad track: %+v", tr)
		}
		again, why := parseTrack1(tr.norm)
		if why != "" || again != tr {
			t.Fatalf("normalised form does not re-parse to the same track: %+v vs %+v (%s)", again, tr, why)
		}
		checkMasked(t, Mask(tr.pan), tr.pan)
	})
}

// sameTree compares tags and primitive values, ignoring padding and the raw
// values of constructed objects.
func sameTree(a, b []TLV) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Tag != b[i].Tag || a[i].Constructed() != b[i].Constructed() {
			return false
		}
		if a[i].Constructed() {
			if !sameTree(a[i].Children, b[i].Children) {
				return false
			}
		} else if !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func FuzzTLV(f *testing.F) {
	for _, s := range []string{
		visaICC, "708199" + visaICC + "00FFFF", "", "00FF", "9F", "DF81828304", "5A83000001", "7080", "9F108180",
		"77 08 BF0C 04 00 9C 01 00 00", "9C8200010A",
	} {
		f.Add(h(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tlvs, err := ParseTLV(b)
		if err != nil {
			var te *TLVError
			if !errors.As(err, &te) || !errors.Is(err, ErrMalformedTLV) {
				t.Fatalf("error %v is not a *TLVError", err)
			}
			if te.Offset < 0 || te.Offset > len(b) {
				t.Fatalf("offset %d outside the %d-byte input", te.Offset, len(b))
			}
			return
		}
		again, err := ParseTLV(encAll(tlvs))
		if err != nil || !sameTree(tlvs, again) {
			t.Fatalf("re-encoded objects do not parse back the same: %v", err)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add("contact", visaTrack2, visaTrack1, visaICC, "", false)
	f.Add("contact", ";"+visaTrack2+"?", "", strings.ToLower(visaICC), "01", false)
	f.Add("contactless", visaTrack2, "", "708199"+visaICC+"00FFFF", "1", false)
	f.Add("swipe", "4761739001010119D2812201175892888F", "", "", "", true)
	f.Add("swipe", "4111111111111111=2812101", "%B4111111111111111^^2812101?", "", "", false)
	f.Add("swipe", "4761739001010118=2812201", "", "", "", false)
	f.Add("contact", visaTrack2, "", "5A0847617390010101195F3401015F2403281231", "2", false)
	f.Add("manual", "", "", "ZZ", "ABCD", true)
	f.Fuzz(func(t *testing.T, mode, track2, track1, icc, sn string, fallback bool) {
		in := Input{ReaderMode: mode, Track2: track2, Track1: track1, ICC: icc, CardSN: sn, Fallback: fallback}
		_ = in.String()
		if _, err := json.Marshal(in); err != nil {
			t.Fatalf("json.Marshal(Input): %v", err)
		}
		c, err := Parse(in, now)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidCard) || !strings.HasPrefix(fe.Field, "card.") {
				t.Fatalf("error %v is not a card FieldError", err)
			}
			if longDigits.MatchString(err.Error()) {
				t.Fatalf("error %q contains a digit run", err)
			}
			return
		}
		pan := c.PAN()
		if !isPAN(pan) || !Luhn(pan) {
			t.Fatalf("accepted a PAN that is not 12-19 digits passing Luhn")
		}
		checkMasked(t, c.Masked(), pan)
		if !strings.HasPrefix(c.Track2(), pan+"=") {
			t.Fatalf("Track2() does not start with the PAN and '='")
		}
		if (ReaderMode(mode) != Swipe) && (len(c.CardSN()) != 3 || c.ICCHex() == "") {
			t.Fatalf("chip card without 3-digit card_sn or ICC")
		}
		for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%#v", c), fmt.Sprintf("%+v", *c), in.String(), mustJSON(t, c), mustJSON(t, in)} {
			if strings.Contains(s, pan) {
				t.Fatalf("printed form contains the PAN")
			}
		}
		c.Wipe()
		if c.PAN() != "" || c.Track2() != "" || c.ICCHex() != "" {
			t.Fatalf("raw data survives Wipe")
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
