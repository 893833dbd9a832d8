package card

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// bindoCards are the test cards of the Bindo JS SDK appendix.
var bindoCards = []struct{ pan, brand string }{
	{"4111111111111111", "Visa"},
	{"5555555555554444", "Mastercard"},
	{"374340095639074", "Amex"},
	{"3566111111111113", "JCB"},
	{"6250947000000014", "UnionPay"},
}

func TestParse(t *testing.T) {
	visaContact := Input{ReaderMode: "contact", Track2: visaTrack2, ICC: visaICC}
	type want struct {
		masked, brand, entry, expiry, track2, track1, icc, sn string
		mode                                                  ReaderMode
	}
	visa := want{masked: "476173******0119", brand: "Visa", expiry: "2812", track2: visaTrack2}
	with := func(w want, f func(*want)) want { f(&w); return w }
	tests := []struct {
		name string
		in   Input
		want want
	}{
		{"swipe plain", Input{ReaderMode: "swipe", Track2: visaTrack2},
			with(visa, func(w *want) { w.entry, w.mode = "swipe", Swipe })},
		{"swipe sentinels and LRC", Input{ReaderMode: "swipe", Track2: ";" + visaTrack2 + "?5"},
			with(visa, func(w *want) { w.entry, w.mode = "swipe", Swipe })},
		{"swipe D separator, hex form", Input{ReaderMode: "swipe", Track2: "4761739001010119D2812201175892888F"},
			with(visa, func(w *want) { w.entry, w.mode = "swipe", Swipe })},
		{"swipe with track 1", Input{ReaderMode: "swipe", Track2: visaTrack2, Track1: visaTrack1},
			with(visa, func(w *want) {
				w.entry, w.mode = "swipe", Swipe
				w.track1 = "B4761739001010119^VISA ACQUIRER TEST/CARD 01^2812201175890000000000000"
			})},
		{"swipe with card_sn", Input{ReaderMode: "swipe", Track2: visaTrack2, CardSN: "1"},
			with(visa, func(w *want) { w.entry, w.mode, w.sn = "swipe", Swipe, "001" })},
		{"fallback swipe", Input{ReaderMode: "swipe", Track2: visaTrack2, Fallback: true},
			with(visa, func(w *want) { w.entry, w.mode = "fallback_swipe", Swipe })},
		{"swipe with ICC (no fallback)", Input{ReaderMode: "swipe", Track2: visaTrack2, ICC: visaICC},
			with(visa, func(w *want) { w.entry, w.mode, w.icc, w.sn = "swipe", Swipe, visaICC, "001" })},
		{"contact, PSN from 5F34", visaContact,
			with(visa, func(w *want) { w.entry, w.mode, w.icc, w.sn = "contact", Contact, visaICC, "001" })},
		{"contact, lower-case hex, card_sn given and equal", Input{ReaderMode: "contact", Track2: ";" + visaTrack2 + "?", ICC: strings.ToLower(visaICC), CardSN: "01"},
			with(visa, func(w *want) { w.entry, w.mode, w.icc, w.sn = "contact", Contact, visaICC, "001" })},
		{"contactless, ICC without card data, card_sn given", Input{ReaderMode: "contactless", Track2: visaTrack2, ICC: emvICC(t, iccParts{}), CardSN: "000"},
			with(visa, func(w *want) { w.entry, w.mode, w.icc, w.sn = "contactless", Contactless, emvICC(t, iccParts{}), "000" })},
		{"contactless, only 57 and 5F34", Input{ReaderMode: "contactless", Track2: visaTrack2, ICC: emvICC(t, iccParts{t2eq: "4761739001010119D2812201", psn: "02"})},
			with(visa, func(w *want) {
				w.entry, w.mode, w.sn = "contactless", Contactless, "002"
				w.icc = emvICC(t, iccParts{t2eq: "4761739001010119D2812201", psn: "02"})
			})},
		{"contact, template 70 with long-form length and padding", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: "708199" + visaICC + "00" + "FFFF"},
			with(visa, func(w *want) { w.entry, w.mode, w.icc, w.sn = "contact", Contact, "708199"+visaICC+"00FFFF", "001" })},
		{"expires this month", Input{ReaderMode: "swipe", Track2: "4111111111111111=2611101"},
			want{masked: "411111******1111", brand: "Visa", entry: "swipe", mode: Swipe, expiry: "2611", track2: "4111111111111111=2611101"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.in, now)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			w := tc.want
			got := want{c.Masked(), c.Brand(), c.EntryMode(), c.Expiry(), c.Track2(), c.Track1(), c.ICCHex(), c.CardSN(), c.ReaderMode()}
			if got != w {
				t.Errorf("Parse =\n %+v\nwant\n %+v", got, w)
			}
			pan := strings.SplitN(w.track2, "=", 2)[0]
			if c.PAN() != pan {
				t.Errorf("PAN() = %q, want %q", c.PAN(), pan)
			}
			if c.Fallback() != (w.entry == "fallback_swipe") {
				t.Errorf("Fallback() = %v for entry mode %s", c.Fallback(), w.entry)
			}
		})
	}
}

func TestVisaICCLength(t *testing.T) {
	// The "template 70" case of TestParse wraps visaICC as 70 81 99.
	if n := len(visaICC) / 2; n != 0x99 {
		t.Fatalf("visaICC is %d bytes; update the 70 81 99 test case", n)
	}
}

func TestParseBindoTestCards(t *testing.T) {
	for _, bc := range bindoCards {
		for _, mode := range []ReaderMode{Swipe, Contact, Contactless} {
			t.Run(bc.brand+"/"+string(mode), func(t *testing.T) {
				in := Input{ReaderMode: string(mode), Track2: ";" + bc.pan + "=2812201123?"}
				if mode != Swipe {
					in.ICC = emvICC(t, iccParts{pan: bc.pan, yymmdd: "281231", psn: "00", t2eq: bc.pan + "D2812201123"})
				}
				c, err := Parse(in, now)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if c.Brand() != bc.brand || c.PAN() != bc.pan || c.Masked() != Mask(bc.pan) || c.EntryMode() != string(mode) {
					t.Errorf("got brand %s masked %s entry %s, want %s %s %s", c.Brand(), c.Masked(), c.EntryMode(), bc.brand, Mask(bc.pan), mode)
				}
				if c.Track2() != bc.pan+"=2812201123" {
					t.Errorf("Track2() is not normalised")
				}
				if mode != Swipe && c.CardSN() != "000" {
					t.Errorf("CardSN() = %q, want 000", c.CardSN())
				}
			})
		}
	}
}

func TestParseErrors(t *testing.T) {
	otherICC := emvICC(t, iccParts{pan: "4111111111111111", yymmdd: "281231", psn: "01"})
	tests := []struct {
		name          string
		in            Input
		field, reason string
	}{
		{"no reader mode", Input{Track2: visaTrack2}, "card.reader_mode", "required"},
		{"manual reader mode", Input{ReaderMode: "manual", Track2: visaTrack2}, "card.reader_mode", "must be swipe, contact or contactless"},
		{"reader mode with PAN in it", Input{ReaderMode: visaPAN, Track2: visaTrack2}, "card.reader_mode", "must be swipe, contact or contactless"},
		{"fallback with contact", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: visaICC, Fallback: true}, "card.fallback", "only allowed with reader_mode swipe"},
		{"fallback with contactless", Input{ReaderMode: "contactless", Track2: visaTrack2, ICC: visaICC, Fallback: true}, "card.fallback", "only allowed with reader_mode swipe"},
		{"no track 2", Input{ReaderMode: "swipe"}, "card.track2", "required"},
		{"malformed track 2", Input{ReaderMode: "swipe", Track2: "4761739001010119"}, "card.track2", "separator"},
		{"track 2 bad expiry", Input{ReaderMode: "swipe", Track2: "4761739001010119=2813201"}, "card.track2", "expiry is not a valid YYMM"},
		{"Luhn failure", Input{ReaderMode: "swipe", Track2: "4761739001010118=2812201"}, "card.track2", "Luhn"},
		{"expired last month", Input{ReaderMode: "swipe", Track2: "4111111111111111=2610101"}, "card.track2", "card expired"},
		{"expired last year", Input{ReaderMode: "swipe", Track2: "4111111111111111=2512101"}, "card.track2", "card expired"},
		{"malformed track 1", Input{ReaderMode: "swipe", Track2: visaTrack2, Track1: "%B4761739001010119?"}, "card.track1", "field separator"},
		{"track 1 PAN differs", Input{ReaderMode: "swipe", Track2: visaTrack2, Track1: "%B4111111111111111^DOE/JOHN^2812201?"}, "card.track1", "PAN does not match track2"},
		{"track 1 expiry differs", Input{ReaderMode: "swipe", Track2: visaTrack2, Track1: "%B4761739001010119^DOE/JOHN^2912201?"}, "card.track1", "expiry does not match track2"},
		{"card_sn letters", Input{ReaderMode: "swipe", Track2: visaTrack2, CardSN: "A1"}, "card.card_sn", "must be 1 to 3 digits"},
		{"card_sn too long", Input{ReaderMode: "swipe", Track2: visaTrack2, CardSN: "0001"}, "card.card_sn", "must be 1 to 3 digits"},
		{"card_sn holds the PAN", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: visaICC, CardSN: visaPAN}, "card.card_sn", "must be 1 to 3 digits"},
		{"contact without ICC", Input{ReaderMode: "contact", Track2: visaTrack2, CardSN: "001"}, "card.icc", "required for contact and contactless"},
		{"contactless without ICC", Input{ReaderMode: "contactless", Track2: visaTrack2, CardSN: "001"}, "card.icc", "required for contact and contactless"},
		{"ICC on a fallback swipe", Input{ReaderMode: "swipe", Track2: visaTrack2, ICC: visaICC, Fallback: true}, "card.icc", "not allowed on a fallback swipe"},
		{"ICC not hex", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: "5A08" + "476173900101011G"}, "card.icc", "not hexadecimal"},
		{"ICC with spaces", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: "5A 08 4761739001010119"}, "card.icc", "not hexadecimal"},
		{"ICC odd length", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: visaICC + "0"}, "card.icc", "odd number of hex digits"},
		{"ICC too long", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: strings.Repeat("00", maxICC+1)}, "card.icc", "longer than 2048 bytes"},
		{"ICC bad TLV", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: "5A084761739001"}, "card.icc", "malformed BER-TLV at byte 0: value runs past the end"},
		{"ICC truncated blob", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: visaICC[:len(visaICC)-2]}, "card.icc", "malformed BER-TLV"},
		{"ICC only padding", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: "0000FF"}, "card.icc", "contains no data objects"},
		{"ICC PAN differs", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: otherICC}, "card.icc", "tag 5A does not match track2"},
		{"ICC 5A not BCD", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: "5A08476173900101011A"}, "card.icc", "tag 5A is not a valid PAN"},
		{"ICC 5A padding inside", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: "5A084761F39001010119"}, "card.icc", "tag 5A is not a valid PAN"},
		{"ICC 5A too short", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: "5A0547617390FF"}, "card.icc", "tag 5A is not a valid PAN"},
		{"ICC 57 PAN differs", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: emvICC(t, iccParts{t2eq: "4111111111111111D2812201", psn: "01"})}, "card.icc", "tag 57 does not match track2"},
		{"ICC 57 expiry differs", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: emvICC(t, iccParts{t2eq: "4761739001010119D2912201", psn: "01"})}, "card.icc", "tag 57 does not match track2"},
		{"ICC 57 malformed", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: emvICC(t, iccParts{t2eq: "4761739001010119", psn: "01"})}, "card.icc", "tag 57 is not valid track 2 equivalent data: field separator"},
		{"ICC 5F24 differs", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: emvICC(t, iccParts{pan: visaPAN, yymmdd: "291231", psn: "01"})}, "card.icc", "expiry in tag 5F24 does not match track2"},
		{"ICC 5F24 bad month", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: emvICC(t, iccParts{pan: visaPAN, yymmdd: "281331", psn: "01"})}, "card.icc", "tag 5F24 is not a valid YYMMDD date"},
		{"ICC 5F24 bad day", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: emvICC(t, iccParts{pan: visaPAN, yymmdd: "281200", psn: "01"})}, "card.icc", "tag 5F24 is not a valid YYMMDD date"},
		{"ICC 5F24 short", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: emvICC(t, iccParts{pan: visaPAN, yymmdd: "2812", psn: "01"})}, "card.icc", "tag 5F24 is not a valid YYMMDD date"},
		{"ICC 5F34 not BCD", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: emvICC(t, iccParts{pan: visaPAN, psn: "0A"})}, "card.icc", "tag 5F34 is not a valid PAN sequence number"},
		{"ICC 5F34 two bytes", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: emvICC(t, iccParts{pan: visaPAN, psn: "0001"})}, "card.icc", "tag 5F34 is not a valid PAN sequence number"},
		{"card_sn differs from 5F34", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: visaICC, CardSN: "002"}, "card.card_sn", "does not match ICC tag 5F34"},
		{"contact without any card_sn", Input{ReaderMode: "contact", Track2: visaTrack2, ICC: emvICC(t, iccParts{pan: visaPAN})}, "card.card_sn", "required for contact and contactless"},
		{"contactless without any card_sn", Input{ReaderMode: "contactless", Track2: visaTrack2, ICC: emvICC(t, iccParts{})}, "card.card_sn", "required for contact and contactless"},
		{"ICC valid but card expired", Input{ReaderMode: "contact", Track2: "4761739001010119=2609201", ICC: emvICC(t, iccParts{pan: visaPAN, yymmdd: "260930", psn: "01"})}, "card.track2", "card expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.in, now)
			if err == nil {
				t.Fatalf("Parse = %v, want error %s: %s", c, tc.field, tc.reason)
			}
			if c != nil {
				t.Errorf("Parse returned a card with the error")
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %q is not a *FieldError", err)
			}
			if !errors.Is(err, ErrInvalidCard) {
				t.Errorf("error %q does not wrap ErrInvalidCard", err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
				t.Errorf("error = %s: %s, want %s: ...%s...", fe.Field, fe.Reason, tc.field, tc.reason)
			}
			if err.Error() != fe.Field+": "+fe.Reason {
				t.Errorf("Error() = %q, want field: reason", err.Error())
			}
			msg := err.Error()
			if longDigits.MatchString(msg) {
				t.Errorf("error %q contains a run of 5+ digits", msg)
			}
			assertClean(t, "error", msg, "", tc.in.Track2, tc.in.Track1, tc.in.ICC, visaPAN, "4111111111111111")
		})
	}
}

func TestParseExpiryBoundaries(t *testing.T) {
	tests := []struct {
		yymm    string
		now     time.Time
		expired bool
	}{
		{"2611", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), false},
		{"2611", time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC), false},
		{"2611", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true},
		{"2612", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2701", time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), false},
		{"9912", time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), false},
		{"0001", time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), true},
		// The month is taken in now's location.
		{"2611", time.Date(2026, 12, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), true},
		{"2611", time.Date(2026, 11, 30, 23, 30, 0, 0, time.FixedZone("CET", 3600)).UTC(), false},
	}
	for _, tc := range tests {
		t.Run(tc.yymm+"@"+tc.now.Format(time.RFC3339), func(t *testing.T) {
			_, err := Parse(Input{ReaderMode: "swipe", Track2: "4111111111111111=" + tc.yymm + "101"}, tc.now)
			var fe *FieldError
			gotExpired := errors.As(err, &fe) && fe.Reason == "card expired"
			if gotExpired != tc.expired || (err != nil && !gotExpired) {
				t.Errorf("Parse at %s with expiry %s: err = %v, want expired %v", tc.now, tc.yymm, err, tc.expired)
			}
		})
	}
}

func TestWipe(t *testing.T) {
	c, err := Parse(Input{ReaderMode: "contact", Track2: visaTrack2, Track1: visaTrack1, ICC: visaICC}, now)
	if err != nil {
		t.Fatal(err)
	}
	r := c.raw()
	held := [][]byte{r.pan, r.expiry, r.track2, r.track1, r.icc, r.cardSN}
	for i, b := range held {
		if len(b) == 0 {
			t.Fatalf("raw field %d empty before Wipe", i)
		}
	}
	if c.Wiped() {
		t.Fatal("Wiped() before Wipe")
	}
	c.Wipe()
	for i, b := range held {
		for _, x := range b {
			if x != 0 {
				t.Errorf("raw field %d not zeroed: %q", i, b)
				break
			}
		}
	}
	for name, got := range map[string]string{
		"PAN": c.PAN(), "Track2": c.Track2(), "Track1": c.Track1(), "ICCHex": c.ICCHex(),
		"CardSN": c.CardSN(), "Expiry": c.Expiry(),
	} {
		if got != "" {
			t.Errorf("%s() after Wipe = %q, want empty", name, got)
		}
	}
	if !c.Wiped() {
		t.Error("Wiped() = false after Wipe")
	}
	if c.Masked() != "476173******0119" || c.Brand() != "Visa" || c.EntryMode() != "contact" {
		t.Errorf("masked summary lost after Wipe: %v", c)
	}
	c.Wipe() // idempotent
}

func TestWipeConcurrent(t *testing.T) {
	c, err := Parse(Input{ReaderMode: "swipe", Track2: visaTrack2}, now)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		var last string
		for range 1000 {
			if p := c.PAN(); p != "" && p != visaPAN {
				last = p
			}
		}
		done <- last
	}()
	c.Wipe()
	if torn := <-done; torn != "" {
		t.Errorf("PAN() returned a torn value %q", torn)
	}
	if c.PAN() != "" {
		t.Error("PAN() after Wipe is not empty")
	}
}

func TestNilAndZeroCard(t *testing.T) {
	var c *Card
	c.Wipe()
	if c.PAN() != "" || c.Masked() != "" || c.Brand() != "" || c.EntryMode() != "" || c.ReaderMode() != "" || !c.Wiped() {
		t.Error("nil *Card accessors are not empty")
	}
	var z Card
	if z.String() != "card (none)" || z.PAN() != "" || z.Track2() != "" {
		t.Errorf("zero Card = %q", z.String())
	}
	z.Wipe()
}
