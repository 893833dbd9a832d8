package agent

// Receipts (docs/receipts.md): a final payment's receipt is built from its
// journal row — which holds what the provider returned (store migration
// 0010 adds the EMV application, the provider's terminal and merchant ids
// and its transaction time) and never card data beyond the masked PAN —
// and the merchant's [receipt] settings. The front ends print it: the
// WebSocket's payment.receipt, the console, ZVT print lines.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/device/card"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/receipt"
	"github.com/posbridge/posbridge/store"
)

// ErrNoReceipt means the payment has no receipt (yet): it is not final, or
// it ended before anything reached a provider. The error says which.
var ErrNoReceipt = errors.New("no receipt")

// ReceiptConfig is what a receipt prints besides the payment: the
// [receipt] table (internal/config/receipt.go).
type ReceiptConfig struct {
	MerchantName string
	Lines        []string // under the name: address, tax number
	Footer       []string // printed last
	// Location is the time zone receipts show times in; nil means the
	// store PC's (time.Local).
	Location *time.Location
}

// Receipt returns a copy (merchant or customer; "" means customer) of the
// receipt of the final payment orderNo. Unknown payments are ErrNotFound;
// payments without a receipt (see noReceipt) ErrNoReceipt with the reason;
// another copy than merchant or customer a *FieldError naming copy.
func (a *Agent) Receipt(ctx context.Context, orderNo string, copy receipt.Copy) (receipt.Receipt, error) {
	cp, err := receipt.ParseCopy(string(copy))
	if err != nil {
		return receipt.Receipt{}, fieldErr("copy", "want merchant or customer, got %q", copy)
	}
	p, err := a.db.GetPayment(ctx, orderNo)
	if errors.Is(err, store.ErrNotFound) {
		return receipt.Receipt{}, fmt.Errorf("%w: %s", ErrNotFound, orderNo)
	}
	if err != nil {
		return receipt.Receipt{}, fmt.Errorf("receipt of %s: %w", orderNo, err)
	}
	if why := noReceipt(p); why != "" {
		return receipt.Receipt{}, fmt.Errorf("%w for payment %s: %s", ErrNoReceipt, orderNo, why)
	}
	r := receiptOf(p, cp, a.cfg.Receipt)
	r.At = a.receiptTime(ctx, p)
	if r.MaskedPAN == "" && r.Brand == "" && p.OrigMerchantOrderNo != "" {
		// A refund or void through the cloud names no card: the original's.
		if orig, err := a.db.GetPayment(ctx, p.OrigMerchantOrderNo); err == nil {
			r.Brand, r.MaskedPAN = orig.CardBrand, orig.MaskedPAN
		}
	}
	return r, nil
}

// noReceipt says why a payment has no receipt, or "" when it has one: every
// approved, declined and cancelled payment; an expired one only once it had
// reached the provider (the terminal showed it, or the customer had the QR
// code or link); a failed one only when the provider refused it. A payment
// that expired in the queue or failed before any provider answered never
// left posbridge: there is nothing to print.
func noReceipt(p *store.Payment) string {
	switch p.State {
	case StateApproved, StateDeclined, StateCancelled:
		return ""
	case StateExpired:
		if p.CreateSent {
			return ""
		}
		return "it expired in the queue before it was sent; nothing reached a provider and nothing was charged"
	case StateFailed:
		if providerRefused(p.ErrorCode) {
			return ""
		}
		return fmt.Sprintf("it failed (%s) before a provider answered; nothing was charged", p.ErrorCode)
	}
	return "it is " + p.State + "; a receipt exists once the payment is final"
}

// providerRefused reports the failure codes that carry a provider's answer.
func providerRefused(code string) bool {
	switch code {
	case "codepay_refused", "bindo_refused", CodeProviderRefused:
		return true
	}
	return false
}

// receiptAvailable reports whether the payment has a receipt (the payment
// object's receipt_available).
func receiptAvailable(p *store.Payment) bool { return noReceipt(p) == "" }

// receiptOf builds the receipt of a journal row (without its time).
func receiptOf(p *store.Payment, cp receipt.Copy, cfg ReceiptConfig) receipt.Receipt {
	cur, err := money.LookupCurrency(p.Currency)
	if err != nil {
		cur = money.Currency{Code: p.Currency, Exponent: 2}
	}
	method := MethodCard
	if md, ok := methodOf(p); ok {
		method = md.Method
	}
	return receipt.Receipt{
		Copy: cp, Kind: p.Type, Method: method, Result: p.State, ResultText: resultText(p),
		// Copies: a caller may append to them (ZVT adds lines to the footer).
		MerchantName: cfg.MerchantName, MerchantLines: slices.Clone(cfg.Lines), Footer: slices.Clone(cfg.Footer),
		MerchantID: p.ProviderMID, TerminalSN: p.TerminalSN, TerminalID: p.ProviderTID,
		MerchantOrderNo: p.MerchantOrderNo, OrigMerchantOrderNo: p.OrigMerchantOrderNo,
		TransNo: p.TransNo, RefNo: p.RefNo, AuthCode: p.AuthCode,
		Currency: cur, Amount: p.AmountMinor, Tip: p.TipMinor, Cashback: p.CashbackMinor,
		MaskedPAN: p.MaskedPAN, Brand: p.CardBrand, EntryMode: p.EntryMode, AID: p.CardAID, AppLabel: p.CardAppLabel,
	}
}

// resultText is why a payment was not approved: the provider's message
// with its code ("Insufficient funds (51)").
func resultText(p *store.Payment) string {
	if p.State == StateApproved {
		return ""
	}
	msg, code := strings.TrimSpace(p.ErrorMessage), p.ErrorCode
	switch {
	case msg == "":
		return code
	case code == "" || code == p.State || strings.Contains(msg, code):
		return msg
	}
	return msg + " (" + code + ")"
}

// receiptTime is when the payment ended, in the receipt's time zone: the
// provider's time when it said one, else when the journal recorded the
// final state.
func (a *Agent) receiptTime(ctx context.Context, p *store.Payment) time.Time {
	at := p.ProviderAt
	if at.IsZero() {
		at = p.UpdatedAt
		if evs, err := a.db.Events(ctx, p.MerchantOrderNo); err == nil {
			for _, ev := range evs {
				if ev.ToState == p.State && IsFinal(ev.ToState) {
					at = ev.At
					break
				}
			}
		}
	}
	loc := a.cfg.Receipt.Location
	if loc == nil {
		loc = time.Local
	}
	return at.In(loc)
}

// fillReceiptCodePay keeps what a CodePay order says for the receipt: when
// the transaction ended (trans_end_time, UTC).
func fillReceiptCodePay(p *store.Payment, o *codepay.Order) {
	if t, err := time.Parse(time.DateTime, o.TransEndTime); err == nil {
		p.ProviderAt = t
	}
}

// fillReceiptBindo keeps what a Bindo transaction says for the receipt:
// its terminal and merchant ids and its time. An id that could not be
// printed as one line is left out rather than failing the write.
func fillReceiptBindo(p *store.Payment, tx *bindo.Transaction) {
	if s := receiptID(tx.TerminalID, 64); s != "" {
		p.ProviderTID = s
	}
	if s := receiptID(tx.MerchantID, 64); s != "" {
		p.ProviderMID = s
	}
	if !tx.Time.IsZero() {
		p.ProviderAt = tx.Time
	}
}

// receiptID is s when it is one printable line of at most max characters,
// else "".
func receiptID(s string, max int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max || strings.ContainsFunc(s, unicode.IsControl) || !utf8.ValidString(s) {
		return ""
	}
	return s
}

// EMV tags of the card's application, printed on chip receipts.
const (
	tagAID      = 0x4F // application identifier (ADF name)
	tagDFName   = 0x84 // dedicated file name: the AID when 4F is absent
	tagAppLabel = 0x50 // application label
)

// emvApplication returns the application identifier (upper-case hex) and
// label of a chip card's ICC data, "" for what it does not hold or what
// store.CardAIDOK and CardAppLabelOK refuse. They name the card's
// application (A0000000031010, "VISA CREDIT"), not the card; the decoded
// ICC data is cleared before returning.
func emvApplication(c *card.Card) (aid, label string) {
	if c == nil {
		return "", ""
	}
	b, err := hex.DecodeString(c.ICCHex())
	defer clear(b)
	if err != nil || len(b) == 0 {
		return "", ""
	}
	tlvs, err := card.ParseTLV(b)
	if err != nil {
		return "", ""
	}
	for _, tag := range []uint32{tagAID, tagDFName} {
		if t, ok := card.Find(tlvs, tag); ok {
			aid = strings.ToUpper(hex.EncodeToString(t.Value))
			break
		}
	}
	if t, ok := card.Find(tlvs, tagAppLabel); ok {
		label = strings.TrimSpace(string(t.Value))
	}
	// What the journal would refuse — or what could hide a card number —
	// is not printed.
	if !store.CardAIDOK(aid) {
		aid = ""
	}
	if !store.CardAppLabelOK(label) {
		label = ""
	}
	return aid, label
}
