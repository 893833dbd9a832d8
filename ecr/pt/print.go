package pt

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/receipt"
)

// printed is one receipt ready for the ECR's printer.
type printed struct {
	name  string // for logs: "merchant copy", "end of day" …
	lines []string
	rtype byte // tag 1F07 (zvt.Receipt*)
	info  byte // tag 1F37 (zvt.ReceiptPositive or zvt.ReceiptNegative)
}

// printReceipts sends receipts to the ECR (PA00P015 §2.2.7): each as Print
// Lines (06 D1, attribute 00, then an empty line with the last-line
// attribute 81 that ends the receipt and separates the copies, §3.5) or as
// Print Text-Blocks (06 D3, §3.6) when the ECR asked for them. Every message
// must be acknowledged (repeated like the status information when the answer
// is missing); it reports whether all were (§2.2.8: the definitive
// acknowledgement of a payment includes them).
func (j *job) printReceipts(ctx context.Context, m printMode, rs []printed) bool {
	for _, r := range rs {
		msgs, err := printMessages(m, r)
		if err != nil {
			j.p.log.Error("building receipt print messages", "receipt", r.name, "err", err)
			return false
		}
		for i, a := range msgs {
			if !j.deliver(ctx, a, 0) {
				j.p.log.Warn("the ECR did not take the receipt", "receipt", r.name, "message", i+1, "messages", len(msgs))
				return false
			}
		}
		j.p.log.Debug("receipt printed on the ECR", "receipt", r.name, "lines", len(r.lines), "messages", len(msgs))
	}
	return true
}

// printMessages lays one receipt out as 06 D1 or 06 D3 messages.
func printMessages(m printMode, r printed) ([]zvt.APDU, error) {
	if m.textBlock {
		return textBlockMessages(r.lines, r.rtype, r.info, m.maxData)
	}
	out := make([]zvt.APDU, 0, len(r.lines)+1)
	for _, l := range r.lines {
		a, err := printLineMessage(zvt.PrintNormal, l)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	end, err := printLineMessage(zvt.PrintLastLine, "")
	if err != nil {
		return nil, err
	}
	return append(out, end), nil
}

// fitLines makes sure no line is wider than width: a longer one (which the
// receipt layout never produces) continues on the next line; nothing is cut.
func fitLines(lines []string, width int) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		for utf8.RuneCountInString(l) > width {
			rs := []rune(l)
			out = append(out, string(rs[:width]))
			l = string(rs[width:])
		}
		out = append(out, l)
	}
	return out
}

// copies are the copies of a payment's receipt the ECR prints, in order.
// Without tag 1F04: the merchant copy, then the customer copy (1F04's
// default order), for every result (§2.2.7: also for failed payments).
// With 1F04 (PA00P015 §9.4.2): the copies its bits ask for, for a
// successful or a failed payment, the customer copy first if it says so.
func copies(params []byte, ok bool) []receipt.Copy {
	if len(params) == 0 {
		return []receipt.Copy{receipt.CopyMerchant, receipt.CopyCustomer}
	}
	b := params[0]
	cust, merch := zvt.ReceiptParamCustomerNegative, zvt.ReceiptParamMerchantNegative
	if ok {
		cust, merch = zvt.ReceiptParamCustomerPositive, zvt.ReceiptParamMerchantPositive
	}
	var out []receipt.Copy
	if b&merch != 0 {
		out = append(out, receipt.CopyMerchant)
	}
	if b&cust != 0 {
		out = append(out, receipt.CopyCustomer)
	}
	if b&zvt.ReceiptParamCustomerFirst != 0 && len(out) == 2 {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

// paymentReceipts builds the copies of a payment's receipt from the agent,
// laid out for the ECR's printer; a copy the agent cannot give is left out
// (logged). duplicate marks a repeat.
func (p *PT) paymentReceipts(ctx context.Context, pay agent.Payment, code byte, m printMode, want []receipt.Copy, duplicate bool) []printed {
	info := zvt.ReceiptNegative
	if code == zvt.ResultOK {
		info = zvt.ReceiptPositive
	}
	var out []printed
	for _, c := range want {
		r, err := p.ag.Receipt(ctx, pay.MerchantOrderNo, c)
		if err != nil {
			p.log.Warn("no receipt to print on the ECR", "merchant_order_no", pay.MerchantOrderNo, "copy", c, "err", err)
			continue
		}
		p.decorate(ctx, &r, pay, m.width, duplicate)
		lines, err := r.Lines(m.width)
		if err != nil {
			p.log.Error("laying out the receipt", "merchant_order_no", pay.MerchantOrderNo, "copy", c, "err", err)
			continue
		}
		rtype := zvt.ReceiptCustomer
		if c == receipt.CopyMerchant {
			rtype = zvt.ReceiptMerchant
		}
		out = append(out, printed{name: string(c) + " copy", lines: fitLines(lines, m.width), rtype: rtype, info: info})
	}
	return out
}

// decorate adds what a ZVT receipt shows (PA00P015 §6.3) and the agent's
// receipt does not: the terminal ID of BMP 29 (unless the receipt has the
// provider's own terminal ID, which the acquirer knows), the receipt and
// trace numbers
// of BMP 87 and 0B, the receipt number a refund or reversal refers to (and
// how a refund without receipt number found it), and "DUPLICATE" on a
// repeat.
func (p *PT) decorate(ctx context.Context, r *receipt.Receipt, pay agent.Payment, width int, duplicate bool) {
	if r.TerminalID == "" {
		r.TerminalID = p.tid
	}
	var lines []string
	if seq, ok := parseOrderNo(p.cfg.Name, pay.MerchantOrderNo); ok {
		rn, tr := fmt.Sprintf("Receipt %04d", receiptOf(seq)), fmt.Sprintf("Trace %06d", traceOf(seq))
		if len(rn)+1+len(tr) <= width {
			lines = append(lines, rn+" "+tr)
		} else {
			lines = append(lines, rn, tr)
		}
	}
	if oseq, ok := parseOrderNo(p.cfg.Name, pay.OrigMerchantOrderNo); ok {
		l := fmt.Sprintf("Original receipt %04d", receiptOf(oseq))
		if p.matchedByAmount(ctx, pay.MerchantOrderNo) {
			l += " (matched by amount)"
		}
		lines = append(lines, l)
	}
	if duplicate {
		lines = append(lines, "DUPLICATE")
	}
	r.Footer = append(lines, r.Footer...)
}

// printPayment prints a payment's receipts if the ECR takes them as print
// lines; it reports false only when it did not take one of them.
func (j *job) printPayment(ctx context.Context, pay agent.Payment, code byte, params []byte, duplicate bool, want func([]receipt.Copy) []receipt.Copy) bool {
	m, ok := j.p.printing(false, params)
	if !ok {
		return true
	}
	cs := copies(m.params, code == zvt.ResultOK)
	if want != nil {
		cs = want(cs)
	}
	return j.printReceipts(ctx, m, j.p.paymentReceipts(ctx, pay, code, m, cs, duplicate))
}

// printRefusal prints a short receipt for a payment request refused before
// any payment existed (§2.2.7: receipts also for failed payments), when the
// ECR takes payment receipts as print lines: the merchant copy only, since
// nothing was charged. Whether the ECR takes it changes nothing.
func (j *job) printRefusal(ctx context.Context, cmd zvt.Command, ref *refusal) {
	p := j.p
	kind, amount, tlv := commandSummary(cmd)
	m, ok := p.printing(false, receiptParams(tlv))
	if !ok {
		return
	}
	r := receipt.Receipt{Copy: receipt.CopyMerchant, Kind: kind, Result: "refused", ResultText: ref.printText(),
		TerminalSN: p.term.SN, TerminalID: p.tid, Currency: p.term.Currency, Amount: amount, At: p.clock.Now().In(p.loc)}
	lines, err := r.Lines(m.width)
	if err != nil {
		p.log.Error("laying out the refusal receipt", "err", err)
		return
	}
	j.printReceipts(ctx, m, []printed{{name: "refusal", lines: fitLines(lines, m.width), rtype: zvt.ReceiptMerchant, info: zvt.ReceiptNegative}})
}

// commandSummary is a payment command's kind, amount (0 when not sent) and
// TLV container (nil when not sent).
func commandSummary(cmd zvt.Command) (kind string, amount int64, tlv []zvt.TLV) {
	var amt *int64
	switch c := cmd.(type) {
	case zvt.Authorization:
		kind, amt, tlv = agent.TypeSale, c.Amount, c.TLV
	case zvt.Reversal:
		kind, amt, tlv = agent.TypeVoid, c.Amount, c.TLV
	case zvt.Refund:
		kind, amt, tlv = agent.TypeRefund, c.Amount, c.TLV
	}
	if amt != nil {
		amount = *amt
	}
	return kind, amount, tlv
}

// receiptParams is tag 1F04 of a request's TLV container, nil when absent.
func receiptParams(tlv []zvt.TLV) []byte {
	if t, ok := zvt.FindTLV(tlv, zvt.TagReceiptParams); ok && len(t.Value) > 0 {
		return t.Value
	}
	return nil
}

// endOfDayReceipt is the administration receipt of an End-of-Day (PA00P015
// §2.16.5): the batch, the receipt-number range and the totals per scheme as
// the status information reports them.
func (p *PT) endOfDayReceipt(r agent.BatchReport, si zvt.StatusInformation, width int) printed {
	l := &layout{w: width}
	cur := p.term.Currency
	amount := func(minor int64) string { return money.Format(minor, cur) + " " + cur.Code }
	l.center("END OF DAY")
	l.add("")
	l.pair("Date", p.clock.Now().In(p.loc).Format("2006-01-02 15:04:05"))
	l.pair("Terminal", p.term.SN)
	l.pair("TID", p.tid)
	l.pair("Batch", fmt.Sprint(r.BatchNo))
	if t := si.Totals; t != nil {
		if t.ReceiptFrom > 0 {
			l.pair("Receipts", fmt.Sprintf("%04d-%04d", t.ReceiptFrom, t.ReceiptTo))
		}
		l.add(strings.Repeat("-", width))
		for _, s := range []struct {
			name string
			t    zvt.SchemeTotal
		}{{"girocard", t.Girocard}, {"JCB", t.JCB}, {"Mastercard", t.Eurocard}, {"Amex", t.Amex}, {"Visa", t.Visa}, {"Diners", t.Diners}, {"Other", t.Other}} {
			if s.t.Count > 0 {
				l.pair(fmt.Sprintf("%s %d", s.name, s.t.Count), amount(s.t.Amount))
			}
		}
	}
	l.add(strings.Repeat("-", width))
	l.pair("TOTAL", amount(deref(si.Amount)))
	l.add("")
	l.center("BATCH CLOSED")
	return printed{name: "end of day", lines: fitLines(l.lines, width), rtype: zvt.ReceiptAdmin, info: zvt.ReceiptPositive}
}

// layout collects the lines of the end-of-day receipt, none wider than w.
type layout struct {
	w     int
	lines []string
}

func (l *layout) add(s string) { l.lines = append(l.lines, s) }

func (l *layout) center(s string) {
	l.add(strings.Repeat(" ", max(l.w-utf8.RuneCountInString(s), 0)/2) + s)
}

// pair right-aligns value after label, or on its own line when both do not fit.
func (l *layout) pair(label, value string) {
	gap := l.w - utf8.RuneCountInString(label) - utf8.RuneCountInString(value)
	if gap >= 1 {
		l.add(label + strings.Repeat(" ", gap) + value)
		return
	}
	l.add(label)
	l.add(strings.Repeat(" ", max(l.w-utf8.RuneCountInString(value), 0)) + value)
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
