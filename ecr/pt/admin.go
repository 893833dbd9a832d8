package pt

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/receipt"
)

// runRegistration answers 06 00: 80 00 00, then 06 0F with status byte,
// terminal ID, the currency if the ECR sent one (PA00P015 §2.1) and, if it
// sent a TLV container, the PT's answer to it (registrationTLV).
func (j *job) runRegistration(ctx context.Context, c zvt.Registration, reg registration) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	_, prints := p.printing(false, nil)
	_, printsAdmin := p.printing(true, nil)
	p.log.Info("ECR registered", "config_byte", c.ConfigByte, "intermediate_status", c.ConfigByte&zvt.ConfigIntermediateStatus != 0,
		"print_payment_receipts", prints, "print_admin_receipts", printsAdmin, "text_blocks", reg.textBlock)
	currency := 0
	if c.Currency != 0 {
		currency = p.numeric
	}
	a, err := registrationCompletion(p.tid, currency, p.registrationTLV(c, reg))
	if err != nil {
		p.log.Error("building registration completion", "err", err)
		return
	}
	j.finish(ctx, a, "registration completion not acknowledged")
}

// registrationTLV is the TLV container of the registration's completion,
// nil when the ECR sent none (§9.2.2). It echoes from tag 26 the print
// command posbridge will use (06 D3 if listed, else 06 D1 if listed; §5.1
// shows the echo) and gives the line width receipts are laid out with in
// tag 12 (§2.1). It leaves out 1F73 (message sequence ids are not used,
// §5.1) and 27/14 (the character set stays CP437, tag 27).
func (p *PT) registrationTLV(c zvt.Registration, reg registration) []zvt.TLV {
	if c.TLV == nil {
		return nil
	}
	var out []zvt.TLV
	switch {
	case reg.textBlock:
		if t, err := zvt.CommandList(zvt.CtrlPrintTextBlock); err == nil {
			out = append(out, t)
		}
	case reg.listsLines:
		if t, err := zvt.CommandList(zvt.CtrlPrintLine); err == nil {
			out = append(out, t)
		}
	}
	m, prints := p.printing(false, nil)
	if !prints {
		m, prints = p.printing(true, nil)
	}
	if prints || reg.width > 0 {
		w := m.width
		if !prints {
			w = min(max(reg.width, receipt.MinWidth), receipt.MaxWidth)
		}
		if t, err := zvt.PrinterWidthTLV(w); err == nil {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil // nothing to answer: no container, as before
	}
	return out
}

// runStatusEnquiry answers 05 01: 80 00 00, then 06 0F with the software
// version (unless service-byte bit 02 says not to), the terminal status — 00
// ready, DF out of order while the CodePay terminal is known offline — and,
// with service-byte bit 04, further status information in a TLV container
// (§2.56.5: "The TLV-container is sent if the service-byte is set to
// xxxx x1xx").
func (j *job) runStatusEnquiry(ctx context.Context, c zvt.StatusEnquiry) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	status := zvt.TerminalReady
	if st, err := p.ag.Registry().Status(p.term.SN); err == nil && st.OnlineKnown && !st.Online {
		status = zvt.TerminalOutOfOrder
	}
	sb := deref(c.ServiceByte)
	sw := ""
	if sb&zvt.EnquiryNoSWVersion == 0 {
		sw = p.cfg.SWVersion
	}
	var tlv []zvt.TLV
	if sb&zvt.EnquiryWithTLV != 0 {
		tlv = p.statusTLV(status)
	}
	a, err := statusEnquiryCompletion(sw, status, tlv)
	if err != nil {
		p.log.Error("building status enquiry completion", "err", err)
		return
	}
	j.finish(ctx, a, "status enquiry completion not acknowledged")
}

// statusTLV is the further status information of a Status Enquiry
// (§2.56.5, tags of §9.4.12): 1F44 the terminal ID, E4 the device (1F40
// name, 1F41 software version, 1F43 state 00 "ready" while ready), 1F55 the
// terminal locks (first byte bit 3 "out of order" while the CodePay
// terminal is offline) and 34 the PT's date (1F0E) and time (1F0F).
func (p *PT) statusTLV(status byte) []zvt.TLV {
	var out []zvt.TLV
	if n, err := strconv.ParseUint(p.tid, 10, 32); err == nil {
		if b, err := zvt.EncodeBCD(n, 4); err == nil {
			out = append(out, zvt.TLV{Tag: zvt.TagTerminalIdent, Value: b})
		}
	}
	dev := []zvt.TLV{{Tag: zvt.TagDeviceName, Value: []byte(DefaultSWVersion)}, {Tag: zvt.TagSoftwareVersion, Value: zvt.EncodeText(p.cfg.SWVersion)}}
	var locks byte
	if status == zvt.TerminalReady {
		dev = append(dev, zvt.TLV{Tag: zvt.TagDeviceState, Value: []byte{0x00}})
	} else {
		locks = 0x08 // b3: out of order
	}
	if t, err := zvt.NewConstructed(zvt.TagDeviceInfo, dev...); err == nil {
		out = append(out, t)
	}
	out = append(out, zvt.TLV{Tag: zvt.TagTerminalLocks, Value: []byte{locks, 0x00}})
	now := p.clock.Now().In(p.loc)
	date, _ := zvt.EncodeBCD(uint64(now.Year()*10000+int(now.Month())*100+now.Day()), 4)
	clock, _ := zvt.EncodeBCD(uint64(now.Hour()*10000+now.Minute()*100+now.Second()), 3)
	if t, err := zvt.NewConstructed(zvt.TagTerminalDateTime, zvt.TLV{Tag: zvt.TagDate, Value: date}, zvt.TLV{Tag: zvt.TagTime, Value: clock}); err == nil {
		out = append(out, t)
	}
	return out
}

// runEndOfDay answers 06 50: closes the terminal's batch through the agent,
// reports the totals in 04 0F (BMP 04 and 60) and ends with 06 0F, or 06 1E
// when the batch cannot close.
func (j *job) runEndOfDay(ctx context.Context, c zvt.EndOfDay) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	if v, ok := syncTag(c.TLV); ok {
		p.syncCheck(ctx, v)
	}
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
		j.abort(ctx, code, 0, nil)
		return
	}
	si := p.endOfDayInfo(ctx, res.r, true)
	if !j.deliverStatus(ctx, si, -1) {
		p.log.Warn("the ECR did not acknowledge the end-of-day totals; the batch is closed anyway", "batch_no", res.r.BatchNo)
	} else if m, ok := p.printing(true, nil); ok {
		// The administration receipt (§2.16.5), if the ECR prints those.
		r := p.endOfDayReceipt(res.r, si, m.width)
		p.mu.Lock()
		p.lastAdmin = &r
		p.mu.Unlock()
		if !j.printReceipts(ctx, m, []printed{r}) {
			p.log.Warn("the ECR did not take the end-of-day receipt; the batch is closed anyway", "batch_no", res.r.BatchNo)
		}
	}
	j.complete(ctx, zvt.ResultOK)
}

// endOfDayInfo builds the 04 0F after End-of-Day or Send Turnover Totals
// (PA00P015 §3.1.3): BMP 04 the batch's net total, BMP 60 count and turnover
// per scheme with the range of this ECR's receipt numbers in the batch.
// Refunds count as transactions and reduce their scheme's turnover; negative
// sums are sent as 0. An end of day (trace) takes a trace number.
func (p *PT) endOfDayInfo(ctx context.Context, r agent.BatchReport, trace bool) zvt.StatusInformation {
	si := zvt.StatusInformation{ResultCode: zvt.ResultOK, TID: p.tid}
	si.SetTimestamp(p.clock.Now().In(p.loc))
	if trace { // Send Turnover Totals is no transaction: no trace number
		if seq, err := p.mem.NextCounter(ctx, p.seqCounter(), counterWrap); err == nil {
			tr := traceOf(seq)
			si.Trace = &tr
		}
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

// runSendTotals answers 06 10 (PA00P015 §2.43): the totals of the open
// batch as after End-of-Day (§3.1.3), without closing it, then 06 0F; 06 1E
// FF when the batch cannot be read.
func (j *job) runSendTotals(ctx context.Context) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	r, err := p.ag.BatchGet(ctx, p.term.SN)
	if err != nil {
		p.log.Warn("send turnover totals: reading the open batch", "err", err)
		j.abort(ctx, zvt.ResultSystemError, 0, nil)
		return
	}
	if !j.deliverStatus(ctx, p.endOfDayInfo(ctx, r, false), -1) {
		p.log.Info("the ECR did not acknowledge the turnover totals")
	}
	j.complete(ctx, zvt.ResultOK)
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

// runRepeatReceipt answers 06 20 (PA00P015 §2.20). With service-byte bit
// 01 the ECR gets the Status-Information of its last payment again
// (§2.20.2), from the journal, with the outcome as it stands now (an
// auto-reversed approval as 6C); acknowledging it counts as acknowledging
// that payment's result. Then, unless bit 02 says "no receipt", the ECR
// that takes payment receipts as print lines gets that payment's receipt
// again, marked DUPLICATE (§2.20.3): both copies, or the one tag 1F01 names
// (02 merchant, 03 customer); 1F01 04 repeats the last end-of-day receipt.
// A receipt the ECR does not take changes nothing: the payment was settled
// before.
func (j *job) runRepeatReceipt(ctx context.Context, c zvt.RepeatReceipt) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	sb := deref(c.ServiceByte)
	id := zvt.ReceiptIDLast
	if t, ok := zvt.FindTLV(c.TLV, zvt.TagReceiptID); ok && len(t.Value) == 1 {
		id = t.Value[0]
	}
	if id == zvt.ReceiptIDEndOfDay {
		j.repeatEndOfDay(ctx, sb&zvt.RepeatNoReceipt != 0)
		return
	}
	_, prints := p.printing(false, nil)
	prints = prints && sb&zvt.RepeatNoReceipt == 0
	if sb&zvt.RepeatSendStatusInfo == 0 && !prints {
		j.complete(ctx, zvt.ResultOK)
		return
	}
	pay, ok := p.lastPayment(ctx)
	if !ok {
		p.log.Info("repeat receipt: this ECR has no finished payment")
		j.abort(ctx, zvt.ResultFunctionNotPossible, 0, nil)
		return
	}
	code := p.reportCode(ctx, pay)
	if sb&zvt.RepeatSendStatusInfo != 0 && !j.repeatStatus(ctx, pay, code, c.TLV) {
		j.complete(ctx, zvt.ResultOK)
		return
	}
	if prints && !j.printPayment(ctx, pay, code, nil, true, onlyCopy(id)) {
		p.log.Warn("the ECR did not take the repeated receipt", "merchant_order_no", pay.MerchantOrderNo)
	}
	j.complete(ctx, zvt.ResultOK)
}

// repeatStatus sends the last payment's Status-Information again and records
// its acknowledgement; it reports whether the ECR acknowledged it.
func (j *job) repeatStatus(ctx context.Context, pay agent.Payment, code byte, tlv []zvt.TLV) bool {
	p := j.p
	var pj *payJob
	ecrCC := false
	p.mu.Lock()
	if p.last != nil && p.last.orderNo == pay.MerchantOrderNo {
		pj, ecrCC = p.last, p.last.ecrCurrency
	}
	p.mu.Unlock()
	si := p.statusInfo(pay, code, ecrCC)
	if p.tlvAllowed(tlv) && p.usesSync(ctx, pay.MerchantOrderNo) {
		si.TLV = p.syncTLV(pay.MerchantOrderNo)
	}
	if !j.deliverStatus(ctx, si, -1) {
		return false
	}
	p.acknowledged(ctx, pay, pj, code, " (repeat receipt)")
	return true
}

// onlyCopy narrows the copies of a repeated receipt to the one tag 1F01
// names; nil keeps them all.
func onlyCopy(id byte) func([]receipt.Copy) []receipt.Copy {
	var c receipt.Copy
	switch id {
	case zvt.ReceiptIDMerchant:
		c = receipt.CopyMerchant
	case zvt.ReceiptIDCustomer:
		c = receipt.CopyCustomer
	default:
		return nil
	}
	return func([]receipt.Copy) []receipt.Copy { return []receipt.Copy{c} }
}

// repeatEndOfDay prints the last end-of-day receipt again (Repeat Receipt
// with 1F01 04) for an ECR that takes administration receipts as print
// lines; without one (none printed since posbridge started) it ends 06 1E 83.
func (j *job) repeatEndOfDay(ctx context.Context, noReceipt bool) {
	p := j.p
	m, prints := p.printing(true, nil)
	p.mu.Lock()
	last := p.lastAdmin
	p.mu.Unlock()
	if !prints || noReceipt {
		j.complete(ctx, zvt.ResultOK)
		return
	}
	if last == nil {
		j.abort(ctx, zvt.ResultFunctionNotPossible, 0, nil)
		return
	}
	r := *last
	dup := strings.Repeat(" ", max(m.width-len("DUPLICATE"), 0)/2) + "DUPLICATE"
	r.lines = fitLines(append(slices.Clone(r.lines), "", dup), m.width)
	j.printReceipts(ctx, m, []printed{r})
	j.complete(ctx, zvt.ResultOK)
}

// lastPayment is this ECR's newest payment, if it is final.
func (p *PT) lastPayment(ctx context.Context) (agent.Payment, bool) {
	pay, ok := p.newestPayment(ctx)
	return pay, ok && pay.Final()
}
