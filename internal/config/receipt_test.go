package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestReceiptTable(t *testing.T) {
	c, err := Parse(testFile, []byte(good+`
[receipt]
merchant_name = "Bäckerei Müller – Filiale 3"
lines = ["12 Market Street", "Springfield", "VAT DE123456789"]
footer = ["Thank you", "Danke ☕"]
`))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	r := c.Receipt
	if r.MerchantName != "Bäckerei Müller – Filiale 3" || !slices.Equal(r.Lines, []string{"12 Market Street", "Springfield", "VAT DE123456789"}) ||
		!slices.Equal(r.Footer, []string{"Thank you", "Danke ☕"}) {
		t.Errorf("[receipt] = %+v", r)
	}
	if c := validConfig(t); c.Receipt.MerchantName != "" || c.Receipt.Lines != nil {
		t.Errorf("without [receipt]: %+v", c.Receipt)
	}
}

func TestReceiptTableRefused(t *testing.T) {
	for _, tc := range []struct {
		name, table, field, msg string
	}{
		{"control character", `merchant_name = "Bakery\u001b[2J"`, "receipt.merchant_name", "control character (U+001B)"},
		{"too long", `merchant_name = "` + strings.Repeat("x", MaxReceiptText+1) + `"`, "receipt.merchant_name", "at most 64 characters, got 65"},
		{"line with a newline", `lines = ["ok", "two\nlines"]`, "receipt.lines[1]", "control character (U+000A)"},
		{"too many lines", `footer = ["1","2","3","4","5","6","7","8","9"]`, "receipt.footer", "at most 8 lines, got 9"},
		{"unknown key", `header = "x"`, "receipt.header", "unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(testFile, []byte(good+"\n[receipt]\n"+tc.table+"\n"))
			var ce *Error
			if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(ce.Msg, tc.msg) {
				t.Fatalf("Parse = %v, want %s: …%s…", err, tc.field, tc.msg)
			}
		})
	}
}
