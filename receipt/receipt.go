// Package receipt is the receipt of a payment: the fields a printed slip
// shows, taken from what the provider returned and the journal holds, and
// their layout as text lines for 32-, 40- and 48-column printers (or any
// width from MinWidth to MaxWidth).
//
// A receipt never holds card data beyond the masked PAN (first 6, last 4):
// it is built from the journal, which holds no more. The agent builds
// receipts (agent/receipt.go); the front ends show them: the WebSocket's
// payment.receipt, ZVT print lines (06 D1) and text blocks (06 D3), and the
// console's receipt view.
package receipt

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posbridge/posbridge/money"
)

// Copy says for whom a receipt is printed.
type Copy string

// The two copies of a receipt.
const (
	CopyMerchant Copy = "merchant"
	CopyCustomer Copy = "customer"
)

// ParseCopy accepts "merchant" and "customer"; "" means the customer copy.
func ParseCopy(s string) (Copy, error) {
	switch Copy(s) {
	case "", CopyCustomer:
		return CopyCustomer, nil
	case CopyMerchant:
		return CopyMerchant, nil
	}
	return "", fmt.Errorf("copy %q: want \"merchant\" or \"customer\"", s)
}

// Widths of printers: the common paper rolls hold 32 (58 mm), 40 or 48
// (80 mm) characters per line.
const (
	MinWidth     = 20
	MaxWidth     = 80
	DefaultWidth = 40
)

// ErrWidth is returned for a width outside MinWidth..MaxWidth.
var ErrWidth = errors.New("receipt width out of range")

// Receipt is one copy of a payment's receipt. Amounts are minor units of
// Currency; a zero Tip or Cashback is not printed.
type Receipt struct {
	Copy Copy
	// Kind is the payment type: sale, refund, void, cashback, …
	Kind string
	// Method is card, qr, va or link.
	Method string
	// Result is the payment's final state (approved, declined, failed,
	// cancelled, expired); ResultText says why when it is not approved.
	Result     string
	ResultText string

	MerchantName  string
	MerchantLines []string // address, tax number: printed under the name
	MerchantID    string   // the provider's merchant number, when known
	TerminalSN    string
	// TerminalID is the provider's terminal id (TID) when it differs from
	// the serial number.
	TerminalID string

	MerchantOrderNo     string
	OrigMerchantOrderNo string // the sale a refund or void names
	TransNo             string // the provider's transaction number
	RefNo               string // retrieval reference
	AuthCode            string
	At                  time.Time // when the payment ended (shown in At's location)

	Currency money.Currency
	Amount   int64 // the payment's amount, without tip and cashback
	Tip      int64
	Cashback int64

	MaskedPAN string // first 6 and last 4 at most
	Brand     string
	EntryMode string // chip, contactless, swipe, manual, qr, …
	AID       string // EMV application identifier, when known
	AppLabel  string // EMV application label, when known

	Footer []string // printed last (e.g. "Thank you")
}

// Total is what the customer paid (or got back): amount, tip and cashback.
func (r Receipt) Total() int64 { return r.Amount + r.Tip + r.Cashback }

// Lines lays the receipt out for a printer of width characters per line.
// No line is longer than width (counted in runes); a value too long for its
// label's line continues, right-aligned, on the next.
func (r Receipt) Lines(width int) ([]string, error) {
	if width < MinWidth || width > MaxWidth {
		return nil, fmt.Errorf("%w: %d, want %d to %d characters", ErrWidth, width, MinWidth, MaxWidth)
	}
	b := &builder{w: width}
	if r.MerchantName != "" {
		b.center(r.MerchantName)
	}
	for _, l := range r.MerchantLines {
		b.center(l)
	}
	if r.MerchantID != "" {
		b.pair("Merchant", r.MerchantID)
	}
	b.rule()
	b.center(strings.ToUpper(kindTitle(r)))
	b.blank()
	if !r.At.IsZero() {
		b.pair("Date", r.At.Format("2006-01-02 15:04:05"))
	}
	b.pair("Terminal", r.TerminalSN)
	if r.TerminalID != "" && r.TerminalID != r.TerminalSN {
		b.pair("TID", r.TerminalID)
	}
	b.pair("Order", r.MerchantOrderNo)
	if r.OrigMerchantOrderNo != "" {
		b.pair("Original", r.OrigMerchantOrderNo)
	}
	r.cardLines(b)
	b.pair("Auth code", r.AuthCode)
	b.pair("Reference", r.RefNo)
	b.pair("Transaction", r.TransNo)
	b.rule()
	r.amountLines(b)
	b.rule()
	b.center(strings.ToUpper(resultTitle(r.Kind, r.Result)))
	if r.ResultText != "" && r.Result != "approved" {
		b.wrap(r.ResultText)
	}
	b.blank()
	if r.Copy == CopyMerchant {
		b.center("MERCHANT COPY")
	} else {
		b.center("CUSTOMER COPY")
	}
	for _, l := range r.Footer {
		b.center(l)
	}
	return b.lines, nil
}

func (r Receipt) cardLines(b *builder) {
	if r.Brand != "" {
		label := "Card"
		if r.MaskedPAN == "" {
			label = "Paid with" // a wallet (Alipay+) or a scheme without the card
		}
		b.pair(label, r.Brand)
	}
	b.pair("PAN", r.MaskedPAN)
	if r.EntryMode != "" {
		b.pair("Entry", r.EntryMode)
	}
	b.pair("AID", r.AID)
	b.pair("App", r.AppLabel)
	if r.Method != "" && r.Method != "card" {
		b.pair("Paid by", methodTitle(r.Method))
	}
}

func (r Receipt) amountLines(b *builder) {
	f := func(minor int64) string {
		return money.Format(minor, r.Currency) + " " + r.Currency.Code
	}
	sign := ""
	if r.Kind == "refund" || r.Kind == "void" {
		sign = "-"
	}
	if r.Tip > 0 || r.Cashback > 0 {
		b.pair("Amount", f(r.Amount))
		if r.Tip > 0 {
			b.pair("Tip", f(r.Tip))
		}
		if r.Cashback > 0 {
			b.pair("Cashback", f(r.Cashback))
		}
	}
	b.pair("TOTAL", sign+f(r.Total()))
}

func kindTitle(r Receipt) string {
	switch r.Kind {
	case "":
		return "payment"
	case "preauth":
		return "pre-authorisation"
	}
	return r.Kind
}

func methodTitle(m string) string {
	switch m {
	case "qr":
		return "QR wallet"
	case "va":
		return "VA / QRIS"
	case "link":
		return "payment link"
	}
	return m
}

// resultTitle is the result line: "approved", or the state and what did
// not happen ("declined - not charged", "declined - nothing refunded").
func resultTitle(kind, state string) string {
	switch state {
	case "approved":
		return "approved"
	case "":
		return "not completed"
	}
	switch kind {
	case "refund":
		return state + " - nothing refunded"
	case "void":
		return state + " - not voided"
	}
	return state + " - not charged"
}

// builder collects lines of at most w runes.
type builder struct {
	w     int
	lines []string
}

func (b *builder) add(s string) { b.lines = append(b.lines, s) }
func (b *builder) blank()       { b.add("") }
func (b *builder) rule()        { b.add(strings.Repeat("-", b.w)) }

// center centres s, wrapping it at spaces when too long.
func (b *builder) center(s string) {
	for _, l := range wrapText(clean(s), b.w) {
		pad := (b.w - utf8.RuneCountInString(l)) / 2
		b.add(strings.Repeat(" ", pad) + l)
	}
}

// wrap left-aligns s over as many lines as it needs.
func (b *builder) wrap(s string) {
	for _, l := range wrapText(clean(s), b.w) {
		b.add(l)
	}
}

// pair prints "label ... value" with the value right-aligned; an empty value
// prints nothing. A value that does not fit beside its label goes on the
// next line(s), right-aligned.
func (b *builder) pair(label, value string) {
	value = clean(value)
	if value == "" {
		return
	}
	lw, vw := utf8.RuneCountInString(label), utf8.RuneCountInString(value)
	if lw+1+vw <= b.w {
		b.add(label + strings.Repeat(" ", b.w-lw-vw) + value)
		return
	}
	b.add(label)
	for _, l := range wrapText(value, b.w) {
		b.add(strings.Repeat(" ", b.w-utf8.RuneCountInString(l)) + l)
	}
}

// clean drops control characters, so a provider's text cannot move a
// printer's head or end a ZVT frame early.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// wrapText breaks s into lines of at most w runes, at spaces where it can
// and inside a word where it must.
func wrapText(s string, w int) []string {
	var out []string
	for _, word := range strings.Fields(s) {
		for utf8.RuneCountInString(word) > w {
			rs := []rune(word)
			out = append(out, string(rs[:w])) // a full line of its own
			word = string(rs[w:])
		}
		out = appendWord(out, word, w)
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}

func appendWord(out []string, word string, w int) []string {
	if n := len(out); n > 0 {
		last := out[n-1]
		if utf8.RuneCountInString(last)+1+utf8.RuneCountInString(word) <= w {
			out[n-1] = last + " " + word
			return out
		}
	}
	return append(out, word)
}
