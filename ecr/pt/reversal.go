package pt

import (
	"context"
	"fmt"

	"github.com/posbridge/posbridge/agent"
)

// Alert texts (the console and the WebSocket API show them on the payment).
const (
	alertReversed       = "auto-reversed: the ECR never acknowledged the result; reversed by "
	alertReversalFailed = "AUTO-REVERSAL FAILED"
)

// autoReverse reverses an approved payment whose result the ECR never
// acknowledged (PA00P015 §2.2.8): a void of the cloud sale, pushed to the
// terminal through the agent, recorded on the original with an alert. A
// refund or void cannot be voided: that raises the failure alert at once. It
// reports whether the reversal succeeded.
func (p *PT) autoReverse(ctx context.Context, orig agent.Payment, why string) bool {
	no := orig.MerchantOrderNo
	p.log.Warn("auto-reversing payment", "merchant_order_no", no, "reason", why)
	if orig.Type != agent.TypeSale {
		text := fmt.Sprintf("%s: %s, and CodePay cannot void a %s; check with the ECR operator and settle it manually", alertReversalFailed, why, orig.Type)
		p.log.Error("auto-reversal impossible", "merchant_order_no", no, "type", orig.Type)
		p.alert(ctx, no, text)
		return false
	}
	revNo := reversalOrderNo(no)
	p.note(ctx, no, "auto-reversal "+revNo+": "+why)
	// Once decided, the void is journaled even if posbridge is stopping: the
	// next start follows it (Recover) and sets the alert.
	_, err := p.ag.Create(context.WithoutCancel(ctx), agent.CreateRequest{
		MerchantOrderNo:     revNo,
		Type:                agent.TypeVoid,
		TerminalSN:          orig.TerminalSN,
		Amount:              orig.Amount,
		Currency:            orig.Currency,
		OrigMerchantOrderNo: no,
		Description:         "ZVT auto-reversal: the ECR never acknowledged the result of " + no,
		Source:              agent.SourceECR,
	})
	if err != nil {
		p.log.Error("auto-reversal refused", "merchant_order_no", no, "void", revNo, "err", err)
		p.alert(ctx, no, fmt.Sprintf("%s: %s and the void %s was refused (%v); void or refund it manually", alertReversalFailed, why, revNo, err))
		return false
	}
	v, ok := p.waitFinal(ctx, revNo)
	if !ok {
		return false
	}
	return p.settleReversal(ctx, no, v)
}

// settleReversal records the outcome of an automatic reversal on the original.
func (p *PT) settleReversal(ctx context.Context, origNo string, v agent.Payment) bool {
	if v.State == agent.StateApproved {
		p.log.Warn("payment auto-reversed", "merchant_order_no", origNo, "void", v.MerchantOrderNo)
		p.alert(ctx, origNo, alertReversed+v.MerchantOrderNo)
		return true
	}
	reason := v.State
	if v.Error != nil && v.Error.Message != "" {
		reason += ": " + v.Error.Message
	}
	p.log.Error("auto-reversal failed; the payment stands and must be voided or refunded manually", "merchant_order_no", origNo, "void", v.MerchantOrderNo, "state", v.State)
	p.alert(ctx, origNo, fmt.Sprintf("%s: the ECR never acknowledged the result and the void %s ended %s; void or refund it manually", alertReversalFailed, v.MerchantOrderNo, reason))
	return false
}
