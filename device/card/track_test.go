package card

import (
	"strings"
	"testing"
)

func TestParseTrack2(t *testing.T) {
	tests := []struct {
		name, in                      string
		pan, expiry, service, disc, n string
	}{
		{"plain", "4761739001010119=2812201175892888", visaPAN, "2812", "201", "175892888", visaTrack2},
		{"sentinels", ";4761739001010119=2812201175892888?", visaPAN, "2812", "201", "175892888", visaTrack2},
		{"sentinels and LRC", ";4761739001010119=2812201175892888?7", visaPAN, "2812", "201", "175892888", visaTrack2},
		{"LRC is a sentinel-range char", ";4761739001010119=2812201175892888?>", visaPAN, "2812", "201", "175892888", visaTrack2},
		{"end sentinel only", "4761739001010119=2812201175892888?", visaPAN, "2812", "201", "175892888", visaTrack2},
		{"D separator", "4761739001010119D2812201175892888", visaPAN, "2812", "201", "175892888", visaTrack2},
		{"d separator", "4761739001010119d2812201175892888", visaPAN, "2812", "201", "175892888", visaTrack2},
		{"hex form with F padding", "4761739001010119D2812201175892888F", visaPAN, "2812", "201", "175892888", visaTrack2},
		{"hex form lower-case padding", "4761739001010119d2812201175892888f", visaPAN, "2812", "201", "175892888", visaTrack2},
		{"no discretionary data", "4111111111111111=2812101", "4111111111111111", "2812", "101", "", "4111111111111111=2812101"},
		{"12-digit PAN", "123456789012=2812101", "123456789012", "2812", "101", "", "123456789012=2812101"},
		{"19-digit PAN, 37 chars", "1234567890123456789=28121011234567890", "1234567890123456789", "2812", "101", "1234567890", "1234567890123456789=28121011234567890"},
		{"Amex", ";374340095639074=28127011234567890?", "374340095639074", "2812", "701", "1234567890", "374340095639074=28127011234567890"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := parseTrack2(tc.in)
			if why != "" {
				t.Fatalf("parseTrack2 refused: %s", why)
			}
			if got.pan != tc.pan || got.expiry != tc.expiry || got.service != tc.service || got.disc != tc.disc {
				t.Errorf("parseTrack2 = %+v, want pan %s expiry %s service %s disc %s", got, tc.pan, tc.expiry, tc.service, tc.disc)
			}
			if n := got.normalised(); n != tc.n {
				t.Errorf("normalised = %q, want %q", n, tc.n)
			}
		})
	}
}

func TestParseTrack2Errors(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"empty", "", "required"},
		{"sentinels only", ";?", "empty"},
		{"padding only", "FFF", "empty"},
		{"too long", strings.Repeat("4", 41), "too long"},
		{"too long data", "1234567890123456789=2812101123456789012", "too long"},
		{"no separator", "47617390010101192812201", "separator"},
		{"start sentinel without end", ";4761739001010119=2812201", "start sentinel without end sentinel"},
		{"two chars after end", ";4761739001010119=2812201?12", "data after the end sentinel"},
		{"bad LRC char", ";4761739001010119=2812201?A", "invalid character after the end sentinel"},
		{"PAN with space", "4761 739001010119=2812201", "PAN is not all digits"},
		{"PAN empty", "=2812201", "PAN must be 12 to 19 digits"},
		{"PAN 11 digits", "12345678901=2812201", "PAN must be 12 to 19 digits"},
		{"PAN 20 digits", "12345678901234567890=2812201", "PAN must be 12 to 19 digits"},
		{"no expiry", "4761739001010119=", "expiry (YYMM) and service code"},
		{"no service code", "4761739001010119=2812", "expiry (YYMM) and service code"},
		{"short service code", "4761739001010119=281220", "expiry (YYMM) and service code"},
		{"letter in discretionary", "4761739001010119=2812201A88", "non-digit after the separator"},
		{"second separator", "4761739001010119=2812201=88", "non-digit after the separator"},
		{"F inside with sentinels", ";4761739001010119=2812201F?", "non-digit after the separator"},
		{"month 13", "4761739001010119=2813201", "expiry is not a valid YYMM"},
		{"month 00", "4761739001010119=2800201", "expiry is not a valid YYMM"},
		{"track 1 given as track 2", "%B4761739001010119^NAME^2812201?", "separator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := parseTrack2(tc.in)
			if why == "" {
				t.Fatalf("parseTrack2(%q) = %+v, want error %q", tc.in, got, tc.reason)
			}
			if !strings.Contains(why, tc.reason) {
				t.Errorf("parseTrack2(%q) reason = %q, want %q", tc.in, why, tc.reason)
			}
			if longDigits.MatchString(why) {
				t.Errorf("reason %q contains a digit run", why)
			}
		})
	}
}

func TestParseTrack1(t *testing.T) {
	tests := []struct {
		name, in, pan, expiry, service, norm string
	}{
		{"full", visaTrack1, visaPAN, "2812", "201", strings.TrimSuffix(strings.TrimPrefix(visaTrack1, "%"), "?")},
		{"LRC", "%B4111111111111111^DOE/JOHN^2812101000?;", "4111111111111111", "2812", "101", "B4111111111111111^DOE/JOHN^2812101000"},
		{"empty name", "%B4111111111111111^^2812101?", "4111111111111111", "2812", "101", "B4111111111111111^^2812101"},
		{"no sentinels", "B4111111111111111^DOE/JOHN^2812101", "4111111111111111", "2812", "101", "B4111111111111111^DOE/JOHN^2812101"},
		{"end sentinel only", "B4111111111111111^DOE/JOHN^2812101?", "4111111111111111", "2812", "101", "B4111111111111111^DOE/JOHN^2812101"},
		{"26-character name", "%B4111111111111111^ABCDEFGHIJKLMNOPQRSTUVWXYZ^2812101?", "4111111111111111", "2812", "101", "B4111111111111111^ABCDEFGHIJKLMNOPQRSTUVWXYZ^2812101"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := parseTrack1(tc.in)
			if why != "" {
				t.Fatalf("parseTrack1 refused: %s", why)
			}
			if got.pan != tc.pan || got.expiry != tc.expiry || got.service != tc.service || got.norm != tc.norm {
				t.Errorf("parseTrack1 = %+v, want pan %s expiry %s service %s norm %s", got, tc.pan, tc.expiry, tc.service, tc.norm)
			}
		})
	}
}

func TestParseTrack1Errors(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"empty", "", "format code 'B' missing"},
		{"format A", "%A4111111111111111^DOE/JOHN^2812101?", "format code 'B' missing"},
		{"too long", "%B" + strings.Repeat("1", 80) + "?", "too long"},
		{"start without end", "%B4111111111111111^DOE/JOHN^2812101", "start sentinel without end sentinel"},
		{"data after end", "%B4111111111111111^DOE/JOHN^2812101?XX", "data after the end sentinel"},
		{"control char LRC", "%B4111111111111111^DOE/JOHN^2812101?\x01", "invalid character after the end sentinel"},
		{"control char", "%B4111111111111111^DOE\x00JOHN^2812101?", "invalid character"},
		{"second start sentinel", "%B4111111111111111^DOE%JOHN^2812101?", "invalid character"},
		{"one separator", "%B4111111111111111^DOE/JOHN 2812101?", "field separator '^' missing"},
		{"no separator", "%B4111111111111111?", "field separator '^' missing"},
		{"PAN letters", "%B41111111111X1111^DOE/JOHN^2812101?", "PAN is not all digits"},
		{"PAN short", "%B41111111111^DOE/JOHN^2812101?", "PAN must be 12 to 19 digits"},
		{"name too long", "%B4111111111111111^ABCDEFGHIJKLMNOPQRSTUVWXYZA^2812101?", "name longer than 26"},
		{"no expiry", "%B4111111111111111^DOE/JOHN^?", "expiry (YYMM) and service code"},
		{"letters in service code", "%B4111111111111111^DOE/JOHN^28121X1?", "expiry (YYMM) and service code"},
		{"bad month", "%B4111111111111111^DOE/JOHN^2899101?", "expiry is not a valid YYMM"},
		{"third separator", "%B4111111111111111^DOE/JOHN^2812101^X?", "too many field separators"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := parseTrack1(tc.in)
			if why == "" {
				t.Fatalf("parseTrack1(%q) = %+v, want error %q", tc.in, got, tc.reason)
			}
			if !strings.Contains(why, tc.reason) {
				t.Errorf("parseTrack1(%q) reason = %q, want %q", tc.in, why, tc.reason)
			}
			if longDigits.MatchString(why) {
				t.Errorf("reason %q contains a digit run", why)
			}
		})
	}
}
