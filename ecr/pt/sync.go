package pt

import (
	"context"
	"fmt"
	"strings"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
)

// Receipt-number synchronisation (PA00P015 §4, tag 1F1F). An ECR that sends
// 1F1F in a transaction command (06 01, 06 30, 06 31, 06 50) decides itself
// whether a transaction whose result it may have missed stands: the PT sends
// the receipt number in 1F1F of the status information, and the ECR mirrors
// the last one it got in its next transaction command. So for such a
// transaction the PT does not reverse on communication problems (§4.2); the
// next command settles it:
//
//   - mirrored = the receipt number of the PT's last transaction: in sync,
//     the result stands;
//   - mirrored = the one before: the ECR never got the last result, which
//     the PT reverses (an implicit reversal, like an auto-reversal);
//   - anything else, or 1F1F empty (the ECR has no receipt number yet):
//     ignored.
//
// The receipt number goes as 2 bytes binary, big-endian (§9.4.2: "binary,
// length variable"); what the ECR mirrors is read as a big-endian number.

// Journal notes and alert of synchronised transactions.
const (
	syncNotePrefix = "the ECR uses receipt-number synchronisation (1F1F)"
	alertSync      = "result not acknowledged by the ECR; it uses receipt-number synchronisation (1F1F): its next transaction decides whether this payment stands (PA00P015 §4.2)"
)

// syncTag is tag 1F1F of a request: whether it is there and its value.
func syncTag(tlv []zvt.TLV) (value []byte, ok bool) {
	t, ok := zvt.FindTLV(tlv, zvt.TagTransactionID)
	return t.Value, ok
}

// syncTLV is the status information's 1F1F: the payment's receipt number.
func (p *PT) syncTLV(orderNo string) []zvt.TLV {
	seq, ok := parseOrderNo(p.cfg.Name, orderNo)
	if !ok {
		return nil
	}
	rn := receiptOf(seq)
	return []zvt.TLV{{Tag: zvt.TagTransactionID, Value: []byte{byte(rn >> 8), byte(rn)}}}
}

// usesSync reports whether a payment's request carried 1F1F.
func (p *PT) usesSync(ctx context.Context, orderNo string) bool {
	found, err := p.hasNote(ctx, orderNo, syncNotePrefix)
	return found && err == nil
}

// deferReversal leaves an approval the ECR did not acknowledge to the ECR's
// next transaction (§4.2) and says so on the payment.
func (p *PT) deferReversal(ctx context.Context, pay agent.Payment) {
	p.log.Warn("result not acknowledged; the ECR synchronises by receipt number (1F1F), so its next transaction decides", "merchant_order_no", pay.MerchantOrderNo)
	p.note(ctx, pay.MerchantOrderNo, "not reversed: the ECR synchronises by receipt number (1F1F); its next transaction decides (PA00P015 §4.2)")
	p.alert(ctx, pay.MerchantOrderNo, alertSync)
}

// syncCheck acts on the receipt number an ECR mirrored in 1F1F of a new
// transaction command, before that command runs.
func (p *PT) syncCheck(ctx context.Context, mirrored []byte) {
	if len(mirrored) == 0 || len(mirrored) > 4 {
		return // no receipt number yet (a new installation), or not one of ours
	}
	n := 0
	for _, b := range mirrored {
		n = n<<8 | int(b)
	}
	last, ok := p.newestPayment(ctx)
	if !ok {
		return
	}
	seq, _ := parseOrderNo(p.cfg.Name, last.MerchantOrderNo)
	if !p.usesSync(ctx, last.MerchantOrderNo) {
		return
	}
	switch {
	case n == receiptOf(seq):
		if strings.HasPrefix(last.Alert, alertSync) {
			p.note(ctx, last.MerchantOrderNo, fmt.Sprintf("the ECR's next transaction mirrored receipt number %04d (1F1F): in sync, the result stands", n))
			p.alert(ctx, last.MerchantOrderNo, "the ECR confirmed the result through receipt-number synchronisation (1F1F): the payment stands")
		}
	case seq > 1 && n == receiptOf(seq-1):
		p.log.Warn("the ECR mirrored the previous receipt number (1F1F): it never got the last result; reversing it", "merchant_order_no", last.MerchantOrderNo)
		p.note(ctx, last.MerchantOrderNo, fmt.Sprintf("the ECR's next transaction mirrored receipt number %04d (1F1F), the one before this payment's: it never got this result (PA00P015 §4.2)", n))
		if last.State == agent.StateApproved {
			if tried, _ := p.ag.Get(ctx, reversalOrderNo(last.MerchantOrderNo)); tried.MerchantOrderNo == "" {
				p.goSafe("implicit reversal", func() {
					p.autoReverse(p.ctx, last, "the ECR never got the result (receipt-number synchronisation, 1F1F)")
				})
			}
		}
	default:
		p.log.Info("the ECR mirrored a receipt number (1F1F) the PT does not know as its last; ignored", "receipt_no", n, "last", receiptOf(seq))
	}
}

// newestPayment is this ECR's newest payment (final or not).
func (p *PT) newestPayment(ctx context.Context) (agent.Payment, bool) {
	list, err := p.ag.List(ctx, agent.ListFilter{TerminalSN: p.term.SN, Limit: listLimit})
	if err != nil {
		p.log.Warn("listing payments", "err", err)
		return agent.Payment{}, false
	}
	for _, pay := range list {
		if _, ok := parseOrderNo(p.cfg.Name, pay.MerchantOrderNo); ok {
			return pay, true
		}
	}
	return agent.Payment{}, false
}
