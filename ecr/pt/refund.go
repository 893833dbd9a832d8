package pt

import (
	"context"
	"fmt"
	"strings"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/money"
)

// A refund (06 31) as PA00P015 §2.15 lists it names no original, but CodePay
// refunds only against one (orig_merchant_order_no). Without BMP 87 the PT
// looks for the sale the ECR means by its amount: the one approved sale of
// this ECR of exactly that amount in the terminal's open batch that has no
// refund or void (approved or running). None, or more than one (the refund
// would go to whichever card paid for the sale, so posbridge never guesses),
// is refused with 83 "function not possible", a refusal receipt saying why,
// and the extended error code 1F16 (extNoOriginal, extAmbiguous) with its
// text in 1F17 where the ECR takes TLV. A match is journaled on the refund
// (matchNotePrefix) and printed on its receipt.

// Extended error codes (tag 1F16) of a refund without receipt number.
const (
	extNoAmount   byte = 0x01 // neither receipt number nor amount
	extNoOriginal byte = 0x02 // no sale of that amount to refund
	extAmbiguous  byte = 0x03 // more than one sale of that amount
)

// matchNotePrefix starts the journal note of a refund whose original was
// found by its amount.
const matchNotePrefix = "refund without receipt number (BMP 87): matched by amount"

// refundByAmount finds the original of a refund without BMP 87: it returns
// the sale, its receipt number and the journal note for the refund.
func (p *PT) refundByAmount(ctx context.Context, c zvt.Refund) (agent.Original, int, string, *refusal) {
	if c.Amount == nil {
		return agent.Original{}, 0, "", &refusal{code: zvt.ResultFunctionNotPossible, ext: extNoAmount,
			why:  "a refund without receipt number (BMP 87) needs an amount (BMP 04) to find its sale",
			text: "refund needs the receipt number or the amount of the sale"}
	}
	amount := *c.Amount
	cur := p.term.Currency
	shown := money.Format(amount, cur) + " " + cur.Code
	cands, ref := p.refundCandidates(ctx, amount)
	if ref != nil {
		return agent.Original{}, 0, "", ref
	}
	switch len(cands) {
	case 0:
		text := fmt.Sprintf("no sale of %s without refund in the open batch: refund it by receipt number or on the posbridge console", shown)
		return agent.Original{}, 0, "", &refusal{code: zvt.ResultFunctionNotPossible, ext: extNoOriginal, why: "refund without receipt number: " + text, text: text}
	case 1:
	default:
		rns := make([]string, len(cands))
		for i, s := range cands {
			seq, _ := parseOrderNo(p.cfg.Name, s.MerchantOrderNo)
			rns[len(cands)-1-i] = fmt.Sprintf("%04d", receiptOf(seq)) // oldest first
		}
		text := fmt.Sprintf("%d sales of %s in the open batch (receipts %s): refund by receipt number or on the posbridge console",
			len(cands), shown, strings.Join(rns, ", "))
		return agent.Original{}, 0, "", &refusal{code: zvt.ResultFunctionNotPossible, ext: extAmbiguous, why: "refund without receipt number: " + text, text: text}
	}
	sale := cands[0]
	seq, _ := parseOrderNo(p.cfg.Name, sale.MerchantOrderNo)
	rn := receiptOf(seq)
	note := fmt.Sprintf("%s to %s (receipt %04d, trace %06d), the only approved sale of %s by %s in the open batch without a refund or void",
		matchNotePrefix, sale.MerchantOrderNo, rn, traceOf(seq), shown, p.cfg.Name)
	p.log.Info("refund without receipt number matched by amount", "orig_merchant_order_no", sale.MerchantOrderNo, "receipt_no", rn)
	return agent.Original{Payment: sale, AmountMinor: amount}, rn, note, nil
}

// refundCandidates are this ECR's approved sales of exactly amount in the
// terminal's open batch with no refund or void approved or running, newest
// first.
func (p *PT) refundCandidates(ctx context.Context, amount int64) ([]agent.Payment, *refusal) {
	sysErr := func(what string, err error) *refusal {
		return &refusal{code: zvt.ResultSystemError, why: fmt.Sprintf("refund without receipt number: %s: %v", what, err)}
	}
	batch, err := p.ag.BatchGet(ctx, p.term.SN)
	if err != nil {
		return nil, sysErr("reading the open batch", err)
	}
	inBatch, err := p.ag.BatchPayments(ctx, p.term.SN, batch.BatchNo)
	if err != nil {
		return nil, sysErr("reading the open batch's payments", err)
	}
	// Refunds and voids still running are not in the batch yet.
	recent, err := p.ag.List(ctx, agent.ListFilter{TerminalSN: p.term.SN, Limit: listLimit})
	if err != nil {
		return nil, sysErr("listing payments", err)
	}
	taken := map[string]bool{}
	for _, list := range [][]agent.Payment{inBatch, recent} {
		for _, q := range list {
			if (q.Type == agent.TypeRefund || q.Type == agent.TypeVoid) && q.OrigMerchantOrderNo != "" && (q.State == agent.StateApproved || !q.Final()) {
				taken[q.OrigMerchantOrderNo] = true
			}
		}
	}
	var out []agent.Payment
	for i := len(inBatch) - 1; i >= 0; i-- {
		q := inBatch[i]
		if q.Type != agent.TypeSale || q.State != agent.StateApproved || taken[q.MerchantOrderNo] {
			continue
		}
		if _, mine := parseOrderNo(p.cfg.Name, q.MerchantOrderNo); !mine {
			continue
		}
		if v, err := money.ParseLenient(q.Amount, p.term.Currency); err == nil && v == amount {
			out = append(out, q)
		}
	}
	return out, nil
}

// matchedByAmount reports whether a refund's original was found by amount.
func (p *PT) matchedByAmount(ctx context.Context, orderNo string) bool {
	found, err := p.hasNote(ctx, orderNo, matchNotePrefix)
	return found && err == nil
}
