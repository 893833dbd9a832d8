package pan

import (
	"strings"
	"testing"
)

func TestLuhn(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"4111111111111111", true},
		{"5555555555554444", true},
		{"374340095639074", true},
		{"3566111111111113", true},
		{"6250947000000014", true},
		{"4761739001010119", true},
		{"0", true},
		{"18", true},
		{"4111111111111112", false},
		{"4111111111111121", false}, // adjacent transposition of a doubled digit
		{"", false},
		{"4111 1111 1111 1111", false},
		{"411111111111111a", false},
		{"٤١١١", false}, // non-ASCII digits
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := Luhn(tc.in); got != tc.want {
				t.Errorf("Luhn(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"4761739001010119", "476173******0119"},
		{"374340095639074", "374340*****9074"},
		{"4761739001019", "476173***1019"},
		{"1234567890123456789", "123456*********6789"},
		{"123456789012", "********9012"}, // not a PAN length: the last four only (6 + 4 of 12 would hide 2)
		{"12345678901", "*******8901"},
		{"0119", "0119"},                                 // at most a PAN's last four
		{"12345678901234567890", "****************7890"}, // too long: the last four only
		{"4111-1111-1111-1111", "*******************"},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := Mask(tc.in)
			if got != tc.want {
				t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if len(tc.in) > 4 && got == tc.in {
				t.Errorf("Mask(%q) returned its input", tc.in)
			}
		})
	}
}

func TestBrandOf(t *testing.T) {
	tests := []struct {
		pan, want string
	}{
		{"4111111111111111", "Visa"},
		{"4", "Visa"},
		{"5555555555554444", "Mastercard"},
		{"5100000000000000", "Mastercard"},
		{"5500000000000000", "Mastercard"},
		{"2221000000000000", "Mastercard"},
		{"2720990000000000", "Mastercard"},
		{"2220990000000000", "Unknown"},
		{"2721000000000000", "Unknown"},
		{"374340095639074", "Amex"},
		{"340000000000000", "Amex"},
		{"350000000000000", "Unknown"},
		{"6011000000000000", "Discover"},
		{"6440000000000000", "Discover"},
		{"6490000000000000", "Discover"},
		{"6500000000000000", "Discover"},
		{"6430000000000000", "Maestro"},
		{"6012000000000000", "Maestro"},
		{"3566111111111113", "JCB"},
		{"3528000000000000", "JCB"},
		{"3589000000000000", "JCB"},
		{"3527000000000000", "Unknown"},
		{"3590000000000000", "Unknown"},
		{"6250947000000014", "UnionPay"},
		{"6200000000000000", "UnionPay"},
		{"30000000000000", "Diners"},
		{"30500000000000", "Diners"},
		{"30600000000000", "Unknown"},
		{"36000000000000", "Diners"},
		{"38000000000000", "Diners"},
		{"39000000000000", "Diners"},
		{"5000000000000000", "Maestro"},
		{"5600000000000000", "Maestro"},
		{"5800000000000000", "Maestro"},
		{"5900000000000000", "Unknown"},
		{"6000000000000000", "Maestro"},
		{"6700000000000000", "Maestro"},
		{"1000000000000000", "Unknown"},
		{"9000000000000000", "Unknown"},
		{"", "Unknown"},
		{"x4111111111111111", "Unknown"},
		{"22", "Unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.pan, func(t *testing.T) {
			if got := BrandOf(tc.pan); got != tc.want {
				t.Errorf("BrandOf(%q) = %q, want %q", tc.pan, got, tc.want)
			}
		})
	}
}

func TestMaskShape(t *testing.T) {
	for n := MinLen; n <= MaxLen; n++ {
		pan := strings.Repeat("7", n)
		m := Mask(pan)
		if len(m) != n || strings.Count(m, "*") != n-10 || m[:6] != pan[:6] || m[n-4:] != pan[n-4:] {
			t.Errorf("Mask(%d digits) = %q, want first 6, %d stars, last 4", n, m, n-10)
		}
	}
}

func TestMaskRuns(t *testing.T) {
	tests := []struct{ in, want string }{
		{"card 4111111111111111 refused", "card 411111******1111 refused"},
		{"code 110003", "code 110003"},
		{"ref 123456789012", "ref ********9012"},
		{"trans_no 1234567890123456789012", "trans_no ******************9012"},
		{"4761739001010119", "476173******0119"},
		{"a1b22c", "a1b22c"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := MaskRuns(tc.in, 12); got != tc.want {
			t.Errorf("MaskRuns(%q, 12) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAllDigits(t *testing.T) {
	for in, want := range map[string]bool{"0": true, "4111111111111111": true, "": false, "41 11": false, "٤": false} {
		if got := AllDigits(in); got != want {
			t.Errorf("AllDigits(%q) = %v, want %v", in, got, want)
		}
	}
}
