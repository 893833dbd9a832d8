package money

import (
	"errors"
	"testing"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in, cur string
		want    int64
		err     error
		out     string
	}{
		{"12.34", "USD", 1234, nil, "12.34"},
		{"12.3", "USD", 1230, nil, "12.30"},
		{"12", "USD", 1200, nil, "12.00"},
		{"0.01", "USD", 1, nil, "0.01"},
		{"500", "JPY", 500, nil, "500"},
		{"1.5", "JPY", 0, ErrTooManyDecimals, ""},
		{"500.0", "JPY", 0, ErrTooManyDecimals, ""},
		{"12.345", "USD", 0, ErrTooManyDecimals, ""},
		{"1.234", "KWD", 1234, nil, "1.234"},
		{"-1.00", "USD", 0, ErrBadAmount, ""},
		{"1e3", "USD", 0, ErrBadAmount, ""},
		{"", "USD", 0, ErrBadAmount, ""},
		{" 1.00", "USD", 0, ErrBadAmount, ""},
		{"1,00", "USD", 0, ErrBadAmount, ""},
		{".5", "USD", 0, ErrBadAmount, ""},
		{"999999999999999.99", "USD", 0, ErrOutOfRange, ""},
		{"9999999999999.99", "USD", 999999999999999, nil, "9999999999999.99"},
	}
	for _, tc := range tests {
		t.Run(tc.in+"_"+tc.cur, func(t *testing.T) {
			cur := MustCurrency(tc.cur)
			got, err := Parse(tc.in, cur)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse(%q, %s) error = %v, want %v", tc.in, tc.cur, err, tc.err)
			}
			if err != nil {
				return
			}
			if got != tc.want {
				t.Fatalf("Parse(%q, %s) = %d, want %d", tc.in, tc.cur, got, tc.want)
			}
			if s := Format(got, cur); s != tc.out {
				t.Fatalf("Format(%d, %s) = %q, want %q", got, tc.cur, s, tc.out)
			}
		})
	}
}

func TestParseLenient(t *testing.T) {
	tests := []struct {
		in, cur string
		want    int64
		err     error
	}{
		{"200", "JPY", 200, nil},
		{"200.00", "JPY", 200, nil},
		{"100.5", "USD", 10050, nil},
		{"144.34", "USD", 14434, nil},
		{"150.0", "USD", 15000, nil},
		{"1.005", "USD", 0, ErrTooManyDecimals},
		{"abc", "USD", 0, ErrBadAmount},
		{"", "USD", 0, ErrBadAmount},
	}
	for _, tc := range tests {
		got, err := ParseLenient(tc.in, MustCurrency(tc.cur))
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("ParseLenient(%q, %s) = %d, %v; want %d, %v", tc.in, tc.cur, got, err, tc.want, tc.err)
		}
	}
}

func TestLookupCurrency(t *testing.T) {
	if _, err := LookupCurrency("usd"); !errors.Is(err, ErrUnknownCurrency) {
		t.Errorf("LookupCurrency(usd) error = %v, want ErrUnknownCurrency", err)
	}
	if c, err := LookupCurrency("KWD"); err != nil || c.Exponent != 3 {
		t.Errorf("LookupCurrency(KWD) = %v, %v", c, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"12.34", "0", "1e3", "-1", "99999999999999999999", "0.001"} {
		f.Add(s)
	}
	cur := MustCurrency("USD")
	f.Fuzz(func(t *testing.T, s string) {
		minor, err := Parse(s, cur)
		if err != nil {
			return
		}
		if minor < 0 || minor > MaxMinor {
			t.Fatalf("Parse(%q) = %d out of range", s, minor)
		}
		back, err := Parse(Format(minor, cur), cur)
		if err != nil || back != minor {
			t.Fatalf("round trip %q → %d → %q → %d, %v", s, minor, Format(minor, cur), back, err)
		}
	})
}
