package pt

import (
	"context"
	"errors"
	"strings"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/money"
)

// runRegistration answers 06 00: 80 00 00, then 06 0F with status byte,
// terminal ID and — if the ECR sent one — the currency (PA00P015 §2.1).
func (j *job) runRegistration(ctx context.Context, c zvt.Registration) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	p.log.Info("ECR registered", "config_byte", c.ConfigByte, "intermediate_status", c.ConfigByte&zvt.ConfigIntermediateStatus != 0)
	currency := 0
	if c.Currency != 0 {
		currency = p.numeric
	}
	a, err := registrationCompletion(p.tid, currency)
	if err != nil {
		p.log.Error("building registration completion", "err", err)
		return
	}
	j.finish(ctx, a, "registration completion not acknowledged")
}

// runStatusEnquiry answers 05 01: 80 00 00, then 06 0F with the software
// version (unless service-byte bit 02 says not to) and the terminal status:
// 00 ready, DF out of order while the CodePay terminal is known offline.
func (j *job) runStatusEnquiry(ctx context.Context, c zvt.StatusEnquiry) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	status := zvt.TerminalReady
	if st, err := p.ag.Registry().Status(p.term.SN); err == nil && st.OnlineKnown && !st.Online {
		status = zvt.TerminalOutOfOrder
	}
	sw := ""
	if c.ServiceByte == nil || *c.ServiceByte&0x02 == 0 {
		sw = p.cfg.SWVersion
	}
	a, err := statusEnquiryCompletion(sw, status)
	if err != nil {
		p.log.Error("building status enquiry completion", "err", err)
		return
	}
	j.finish(ctx, a, "status enquiry completion not acknowledged")
}

// runEndOfDay answers 06 50: closes the terminal's batch through the agent,
// reports the totals in 04 0F (BMP 04 and 60) and ends with 06 0F, or 06 1E
// when the batch cannot close.
func (j *job) runEndOfDay(ctx context.Context) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	type result struct {
		r   agent.BatchReport
		err error
	}
	done := make(chan result, 1)
	p.goSafe("batch close", func() {
		r, err := p.ag.BatchClose(ctx, p.term.SN, agent.SourceECR)
		done <- result{r, err}
	})
	res, ok := waitWithStatus(ctx, j, statusWaiting, done)
	if !ok {
		return
	}
	if res.err != nil {
		code := ResultEndOfDayNotPossible
		switch {
		case errors.Is(res.err, agent.ErrTerminalBusy):
			code = zvt.ResultReceiverNotReady
		case errors.Is(res.err, agent.ErrBatchCloseUnknown):
			code = zvt.ResultCommunicationError
		}
		p.log.Warn("end-of-day refused", "err", res.err)
		j.abort(ctx, code, 0)
		return
	}
	si := p.endOfDayInfo(ctx, res.r)
	if !j.deliverStatus(ctx, si, -1) {
		p.log.Warn("the ECR did not acknowledge the end-of-day totals; the batch is closed anyway", "batch_no", res.r.BatchNo)
	}
	j.complete(ctx, zvt.ResultOK)
}

// endOfDayInfo builds the 04 0F after End-of-Day (PA00P015 §3.1.3): BMP 04
// the batch's net total, BMP 60 count and turnover per scheme with the range
// of this ECR's receipt numbers in the batch. Refunds count as transactions
// and reduce their scheme's turnover; negative sums are sent as 0.
func (p *PT) endOfDayInfo(ctx context.Context, r agent.BatchReport) zvt.StatusInformation {
	si := zvt.StatusInformation{ResultCode: zvt.ResultOK, TID: p.tid}
	si.SetTimestamp(p.clock.Now().In(p.loc))
	if seq, err := p.mem.NextCounter(ctx, p.seqCounter(), counterWrap); err == nil {
		tr := traceOf(seq)
		si.Trace = &tr
	}
	pays, err := p.ag.BatchPayments(ctx, p.term.SN, r.BatchNo)
	if err != nil {
		p.log.Warn("reading the closed batch's payments; totals from the report only", "err", err)
	}
	var totals zvt.Totals
	sums := map[*zvt.SchemeTotal]int64{}
	voided := map[string]bool{}
	for _, pay := range pays {
		if pay.Type == agent.TypeVoid && pay.State == agent.StateApproved {
			voided[pay.OrigMerchantOrderNo] = true
		}
	}
	var net int64
	for _, pay := range pays {
		if pay.State != agent.StateApproved || voided[pay.MerchantOrderNo] {
			continue
		}
		amt, err := paymentMinor(pay)
		if err != nil {
			continue
		}
		switch pay.Type {
		case agent.TypeSale, agent.TypeCompletion, agent.TypeCashback:
		case agent.TypeRefund:
			amt = -amt
		default:
			continue
		}
		net += amt
		line := scheme(&totals, pay)
		line.Count = min(line.Count+1, 255)
		sums[line] += amt
		if seq, ok := parseOrderNo(p.cfg.Name, pay.MerchantOrderNo); ok {
			rn := receiptOf(seq)
			if totals.ReceiptFrom == 0 || rn < totals.ReceiptFrom {
				totals.ReceiptFrom = rn
			}
			totals.ReceiptTo = max(totals.ReceiptTo, rn)
		}
	}
	for line, sum := range sums {
		line.Amount = min(max(sum, 0), zvt.MaxAmount)
	}
	if pays == nil {
		if v, err := money.ParseLenient(r.Local.TotalAmount, p.term.Currency); err == nil {
			net = v
		}
	}
	net = min(max(net, 0), zvt.MaxAmount)
	si.Amount = &net
	si.Totals = &totals
	return si
}

// scheme picks the BMP 60 line of a payment by its card brand.
func scheme(t *zvt.Totals, pay agent.Payment) *zvt.SchemeTotal {
	b := strings.ToUpper(cardName(pay))
	switch {
	case strings.Contains(b, "GIRO"):
		return &t.Girocard
	case strings.Contains(b, "JCB"):
		return &t.JCB
	case strings.Contains(b, "MASTER"), strings.Contains(b, "MAESTRO"), strings.Contains(b, "EUROCARD"):
		return &t.Eurocard
	case strings.Contains(b, "AMEX"), strings.Contains(b, "AMERICAN"):
		return &t.Amex
	case strings.Contains(b, "VISA"):
		return &t.Visa
	case strings.Contains(b, "DINERS"):
		return &t.Diners
	}
	return &t.Other
}

// runRepeatReceipt answers 06 20. With service-byte bit 01 the ECR gets the
// Status-Information of its last payment again (PA00P015 §2.20.2), from the
// journal, with the outcome as it stands now (an auto-reversed approval as
// 6C); acknowledging it counts as acknowledging that payment's result.
// posbridge prints no receipts on the ECR, so without bit 01 it only
// completes.
func (j *job) runRepeatReceipt(ctx context.Context, c zvt.RepeatReceipt) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	if c.ServiceByte == nil || *c.ServiceByte&zvt.RepeatSendStatusInfo == 0 {
		j.complete(ctx, zvt.ResultOK)
		return
	}
	pay, ok := p.lastPayment(ctx)
	if !ok {
		p.log.Info("repeat receipt: this ECR has no finished payment")
		j.abort(ctx, zvt.ResultFunctionNotPossible, 0)
		return
	}
	var pj *payJob
	ecrCC := false
	p.mu.Lock()
	if p.last != nil && p.last.orderNo == pay.MerchantOrderNo {
		pj, ecrCC = p.last, p.last.ecrCurrency
	}
	p.mu.Unlock()
	code := p.reportCode(ctx, pay)
	if j.deliverStatus(ctx, p.statusInfo(pay, code, ecrCC), -1) {
		p.acknowledged(ctx, pay, pj, code, " (repeat receipt)")
	}
	j.complete(ctx, zvt.ResultOK)
}

// lastPayment is this ECR's newest payment, if it is final.
func (p *PT) lastPayment(ctx context.Context) (agent.Payment, bool) {
	list, err := p.ag.List(ctx, agent.ListFilter{TerminalSN: p.term.SN, Limit: listLimit})
	if err != nil {
		p.log.Warn("listing payments", "err", err)
		return agent.Payment{}, false
	}
	for _, pay := range list {
		if _, ok := parseOrderNo(p.cfg.Name, pay.MerchantOrderNo); ok {
			return pay, pay.Final()
		}
	}
	return agent.Payment{}, false
}
