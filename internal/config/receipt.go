package config

import (
	"fmt"
	"unicode/utf8"
)

// Receipt is the optional [receipt] table: what a payment's receipt prints
// besides the payment itself (docs/receipts.md). Every key is optional; an
// empty table prints receipts without a header or footer.
type Receipt struct {
	// MerchantName is printed first, centred ("Corner Bakery").
	MerchantName string `toml:"merchant_name"`
	// Lines are printed under the name: address, tax number, telephone.
	Lines []string `toml:"lines"`
	// Footer is printed last ("Thank you").
	Footer []string `toml:"footer"`
}

// Limits of the [receipt] texts: each is one printable line, wrapped on
// narrow printers.
const (
	MaxReceiptText  = 64 // characters per text
	MaxReceiptLines = 8  // entries of lines and of footer
)

// validateReceipt checks the [receipt] table.
func (c *Config) validateReceipt() error {
	p := &problems{file: c.Path}
	r := c.Receipt
	checkReceiptText(p, "receipt.merchant_name", r.MerchantName)
	for _, list := range []struct {
		name string
		v    []string
	}{{"receipt.lines", r.Lines}, {"receipt.footer", r.Footer}} {
		if len(list.v) > MaxReceiptLines {
			p.add(list.name, "at most %d lines, got %d", MaxReceiptLines, len(list.v))
			continue
		}
		for i, s := range list.v {
			checkReceiptText(p, fmt.Sprintf("%s[%d]", list.name, i), s)
		}
	}
	return p.err()
}

// checkReceiptText checks one text of [receipt]: printable, one line, at
// most MaxReceiptText characters.
func checkReceiptText(p *problems, field, s string) {
	if err := CheckText(s); err != nil {
		p.add(field, "%v", err)
		return
	}
	if n := utf8.RuneCountInString(s); n > MaxReceiptText {
		p.add(field, "at most %d characters, got %d", MaxReceiptText, n)
	}
}
