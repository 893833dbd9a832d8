package pt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/money"
)

// collisionAge: a Create that returns a payment older than this did not
// create it; the order number was used before (a restored journal).
const collisionAge = 10 * time.Minute

// payJob is one ECR payment request (06 01, 06 30 or 06 31) and the payment
// it became.
type payJob struct {
	raw []byte // the request APDU; a byte-identical request maps to this payment

	// Set by the job goroutine before the payment exists elsewhere; read
	// under p.mu.
	orderNo     string
	ecrCurrency bool // the ECR sent BMP 49, so 04 0F carries it too (PA00P015 §3.1.1)
	maxWaits    int  // BMP 02: how often the ECR may answer 84 9C; -1 = not sent

	acked bool // p.mu: the ECR acknowledged a Status-Information of it
}

// refusal is a request posbridge refuses before any payment exists.
type refusal struct {
	code byte
	why  string
}

// runPayment handles 06 01, 06 30 and 06 31: 80 00 00, payment through the
// agent, 04 FF while it runs, then the result.
func (j *job) runPayment(ctx context.Context, cmd zvt.Command, a zvt.APDU) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	started := p.clock.Now()
	pay, ref := p.createPayment(ctx, j.pay, cmd, a)
	if ref != nil {
		p.log.Warn("ECR request refused", "msg", zvt.ControlName(a.Control()), "result", fmt.Sprintf("%02X", ref.code), "reason", ref.why)
		j.abort(ctx, ref.code, p.numeric)
		return
	}
	final, ok := j.awaitFinal(ctx, pay, started)
	if !ok {
		return
	}
	j.settle(ctx, final)
}

// runReplay answers a re-sent request whose payment ended without the ECR
// acknowledging its result: the ECR gets that result now.
func (j *job) runReplay(ctx context.Context) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	p.mu.Lock()
	orderNo := j.pay.orderNo
	p.mu.Unlock()
	p.log.Info("ECR sent the same request again; repeating the result of its payment", "merchant_order_no", orderNo)
	p.note(ctx, orderNo, "the ECR sent the same request again; it gets this payment's result (no second payment)")
	pay, err := p.ag.Get(ctx, orderNo)
	if err != nil {
		p.log.Error("reading payment for a re-sent request", "merchant_order_no", orderNo, "err", err)
		j.complete(ctx, zvt.ResultSystemError)
		return
	}
	if !pay.Final() {
		var ok bool
		if pay, ok = j.awaitFinal(ctx, pay, p.clock.Now()); !ok {
			return
		}
	}
	j.settle(ctx, pay)
}

// createPayment validates the request and creates its payment.
func (p *PT) createPayment(ctx context.Context, pj *payJob, cmd zvt.Command, a zvt.APDU) (agent.Payment, *refusal) {
	cur := p.term.Currency
	var (
		typ, orig string
		amount    int64
		ecrCC     int
	)
	switch c := cmd.(type) {
	case zvt.Authorization:
		typ, ecrCC = agent.TypeSale, c.Currency
		if c.MaxStatusInfos != nil {
			p.mu.Lock()
			pj.maxWaits = int(*c.MaxStatusInfos)
			p.mu.Unlock()
		}
		if c.Card.Present() {
			// Card data typed into the ECR: posbridge never forwards it.
			return agent.Payment{}, &refusal{ResultPCIDSS, "the ECR sent card data; posbridge takes cards only on the CodePay terminal"}
		}
		amount = *c.Amount
	case zvt.Reversal:
		typ, ecrCC = agent.TypeVoid, c.Currency
		o, ref := p.original(ctx, c.ReceiptNo, zvt.ResultReversalNotPossible)
		if ref != nil {
			return agent.Payment{}, ref
		}
		if o.State != agent.StateApproved {
			return agent.Payment{}, &refusal{zvt.ResultReversalNotPossible, fmt.Sprintf("payment %s of receipt %04d is %s", o.MerchantOrderNo, c.ReceiptNo, o.State)}
		}
		if done, err := p.reversedBy(ctx, o); err != nil {
			return agent.Payment{}, &refusal{zvt.ResultSystemError, err.Error()}
		} else if done != "" {
			return agent.Payment{}, &refusal{zvt.ResultAlreadyReversed, fmt.Sprintf("payment %s was already reversed by %s", o.MerchantOrderNo, done)}
		}
		origAmount, err := money.ParseLenient(o.Amount, cur)
		if err != nil {
			return agent.Payment{}, &refusal{zvt.ResultSystemError, err.Error()}
		}
		if c.Amount != nil && *c.Amount != origAmount {
			return agent.Payment{}, &refusal{zvt.ResultReversalNotPossible, fmt.Sprintf("amount %d differs from payment %s (%d)", *c.Amount, o.MerchantOrderNo, origAmount)}
		}
		orig, amount = o.MerchantOrderNo, origAmount
	case zvt.Refund:
		typ, ecrCC = agent.TypeRefund, c.Currency
		if c.Card.Present() {
			return agent.Payment{}, &refusal{ResultPCIDSS, "the ECR sent card data; posbridge takes cards only on the CodePay terminal"}
		}
		rn, ok := refundReceipt(a)
		if !ok {
			return agent.Payment{}, &refusal{zvt.ResultFunctionNotPossible, "a refund needs the receipt number (BMP 87) of the original payment: CodePay refunds only against an original"}
		}
		o, ref := p.original(ctx, rn, zvt.ResultFunctionNotPossible)
		if ref != nil {
			return agent.Payment{}, ref
		}
		if o.State != agent.StateApproved {
			return agent.Payment{}, &refusal{zvt.ResultFunctionNotPossible, fmt.Sprintf("payment %s of receipt %04d is %s", o.MerchantOrderNo, rn, o.State)}
		}
		origAmount, err := money.ParseLenient(o.Amount, cur)
		if err != nil {
			return agent.Payment{}, &refusal{zvt.ResultSystemError, err.Error()}
		}
		amount = origAmount
		if c.Amount != nil {
			amount = *c.Amount
		}
		if amount > origAmount {
			return agent.Payment{}, &refusal{zvt.ResultMaxAmountExceeded, fmt.Sprintf("refund of %d exceeds payment %s (%d)", amount, o.MerchantOrderNo, origAmount)}
		}
		orig = o.MerchantOrderNo
	default:
		return agent.Payment{}, &refusal{zvt.ResultFunctionNotPossible, "not a payment command"}
	}
	if ecrCC != 0 {
		if alpha, ok := CurrencyAlpha(ecrCC); !ok || alpha != cur.Code {
			return agent.Payment{}, &refusal{zvt.ResultWrongCurrency, fmt.Sprintf("ECR currency %03d, terminal takes %s", ecrCC, cur.Code)}
		}
	}
	switch {
	case amount <= 0:
		return agent.Payment{}, &refusal{ResultAmountTooSmall, "amount is zero"}
	case amount > p.maxMinor:
		return agent.Payment{}, &refusal{zvt.ResultMaxAmountExceeded, fmt.Sprintf("amount %s %s exceeds the maximum %s", money.Format(amount, cur), cur.Code, p.cfg.MaxAmount)}
	}
	seq, err := p.ag.NextCounter(ctx, "zvt."+p.cfg.Name+".seq", counterWrap)
	if err != nil {
		return agent.Payment{}, &refusal{zvt.ResultSystemError, "allocating trace number: " + err.Error()}
	}
	no := orderNo(p.cfg.Name, seq, p.clock.Now())
	pay, err := p.ag.Create(ctx, agent.CreateRequest{
		MerchantOrderNo:     no,
		Type:                typ,
		TerminalSN:          p.term.SN,
		Amount:              money.Format(amount, cur),
		Currency:            cur.Code,
		OrigMerchantOrderNo: orig,
		Description:         fmt.Sprintf("ZVT %s from %s, trace %06d, receipt %04d", typ, p.cfg.Name, traceOf(seq), receiptOf(seq)),
		Source:              agent.SourceECR,
	})
	if err != nil {
		code := zvt.ResultSystemError
		var fe *agent.FieldError
		switch {
		case errors.Is(err, agent.ErrStopping):
			code = zvt.ResultReceiverNotReady
		case errors.As(err, &fe) && typ == agent.TypeVoid:
			code = zvt.ResultReversalNotPossible
		case errors.As(err, &fe) && typ == agent.TypeRefund:
			code = zvt.ResultFunctionNotPossible
		}
		return agent.Payment{}, &refusal{code, "agent refused the payment: " + err.Error()}
	}
	if age := p.clock.Now().Sub(pay.CreatedAt); age > collisionAge {
		return agent.Payment{}, &refusal{zvt.ResultSystemError, fmt.Sprintf("order number %s already existed (created %s ago); the ZVT counter went back", no, age.Round(time.Second))}
	}
	p.mu.Lock()
	pj.orderNo, pj.ecrCurrency = no, ecrCC != 0
	p.last = pj
	p.mu.Unlock()
	p.log.Info("ECR payment accepted", "merchant_order_no", no, "type", typ, "amount", pay.Amount, "currency", pay.Currency)
	return pay, nil
}

// refundReceipt finds BMP 87 in a refund, which zvt.Refund does not carry.
func refundReceipt(a zvt.APDU) (int, bool) {
	if len(a.Data) < 3 {
		return 0, false
	}
	fields, err := zvt.DecodeFields(a.Data[3:])
	if err != nil {
		return 0, false
	}
	for _, f := range fields {
		if f.BMP == zvt.BMPReceiptNo {
			v, err := zvt.DecodeBCD(f.Value)
			if err != nil || len(f.Value) != 2 {
				return 0, false
			}
			return int(v), true
		}
	}
	return 0, false
}

// original finds this ECR's newest sale with receipt number rn among the
// terminal's newest payments.
func (p *PT) original(ctx context.Context, rn int, notFound byte) (agent.Payment, *refusal) {
	list, err := p.ag.List(ctx, agent.ListFilter{TerminalSN: p.term.SN, Limit: listLimit})
	if err != nil {
		return agent.Payment{}, &refusal{zvt.ResultSystemError, "listing payments: " + err.Error()}
	}
	for _, pay := range list {
		seq, ok := parseOrderNo(p.cfg.Name, pay.MerchantOrderNo)
		if ok && receiptOf(seq) == rn && pay.Type == agent.TypeSale {
			return pay, nil
		}
	}
	return agent.Payment{}, &refusal{notFound, fmt.Sprintf("no sale with receipt number %04d among the terminal's last %d payments", rn, listLimit)}
}

// reversedBy returns the order number of an approved or running void of o
// (the automatic reversal or any other void), or "".
func (p *PT) reversedBy(ctx context.Context, o agent.Payment) (string, error) {
	if v, err := p.ag.Get(ctx, reversalOrderNo(o.MerchantOrderNo)); err == nil && v.State != agent.StateDeclined &&
		v.State != agent.StateFailed && v.State != agent.StateCancelled && v.State != agent.StateExpired {
		return v.MerchantOrderNo, nil
	}
	list, err := p.ag.List(ctx, agent.ListFilter{TerminalSN: p.term.SN, Limit: listLimit})
	if err != nil {
		return "", fmt.Errorf("listing payments: %w", err)
	}
	for _, v := range list {
		if v.Type == agent.TypeVoid && v.OrigMerchantOrderNo == o.MerchantOrderNo && (v.State == agent.StateApproved || !v.Final()) {
			return v.MerchantOrderNo, nil
		}
	}
	return "", nil
}

// awaitFinal follows the payment to a final state. While it runs it sends
// 04 FF at once, on every state change and every KeepAlive (if the ECR asked
// for intermediate status), passes an ECR abort to the agent, and — when no
// 04 FF keeps the ECR's T4 alive — cancels the payment NoStatusDeadline after
// 80 00 00 if it is still cancellable.
func (j *job) awaitFinal(ctx context.Context, pay agent.Payment, started time.Time) (agent.Payment, bool) {
	p := j.p
	no := pay.MerchantOrderNo
	kick := make(chan struct{}, 1)
	unsub := p.ag.Subscribe(func(e agent.Event) {
		if e.Payment != nil && e.Payment.MerchantOrderNo == no {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()

	want := p.wantStatus()
	cur := pay
	refresh := func() bool {
		if np, err := p.ag.Get(ctx, no); err == nil {
			cur = np
		}
		return cur.Final()
	}
	if refresh() {
		return cur, true
	}
	lastCode := -1
	status := func(force bool) {
		if !want {
			return
		}
		code := intermediateStatus(cur)
		if force || int(code) != lastCode {
			j.sendStatus(ctx, code)
			lastCode = int(code)
		}
	}
	status(true)

	var deadline <-chan time.Time
	if !want {
		dt := p.clock.NewTimer(max(p.cfg.NoStatusDeadline-p.clock.Now().Sub(started), 0))
		defer dt.Stop()
		deadline = dt.C()
	}
	// An abort (06 B0, or the T4 deadline) stays wanted until the payment is
	// final: a cancel refused while the payment is only being sent is tried
	// again when it reaches the terminal.
	cancelDone := make(chan error, 1)
	cancelling, abortWanted := false, false
	tryCancel := func() {
		if !abortWanted || cancelling || cur.Final() {
			return
		}
		cancelling = true
		p.goSafe("cancel", func() {
			_, err := p.ag.Cancel(ctx, no)
			cancelDone <- err
		})
	}
	for {
		keep := p.clock.NewTimer(p.cfg.KeepAlive)
		select {
		case <-ctx.Done():
			keep.Stop()
			return cur, false
		case <-kick:
			keep.Stop()
			if refresh() {
				return cur, true
			}
			status(false)
			tryCancel()
		case <-keep.C():
			if refresh() {
				return cur, true
			}
			status(true)
			tryCancel()
		case <-j.abortReq:
			keep.Stop()
			if !abortWanted {
				abortWanted = true
				p.log.Info("ECR asked to abort the payment; cancelling it if it has not started on the terminal", "merchant_order_no", no)
				p.note(ctx, no, "the ECR sent abort (06 B0); cancelling if the terminal has not started the payment")
			}
			tryCancel()
		case err := <-cancelDone:
			keep.Stop()
			cancelling = false
			if refresh() {
				return cur, true
			}
			if err != nil {
				switch cur.State {
				case agent.StateQueued, agent.StateSending, agent.StateUnknown:
					p.log.Info("payment not cancellable yet; trying again when it moves", "merchant_order_no", no, "state", cur.State)
				default:
					abortWanted = false
					p.log.Info("payment cannot be cancelled; its result goes to the ECR as usual", "merchant_order_no", no, "err", err)
					p.note(ctx, no, "cancel refused, the payment continues: "+err.Error())
				}
			}
		case <-deadline:
			keep.Stop()
			deadline = nil
			p.log.Warn("payment still running close to the ECR's T4 and no intermediate status was requested; cancelling it if possible", "merchant_order_no", no)
			p.note(ctx, no, "still running near the ECR's time-out T4 (no intermediate status requested); cancelling if possible")
			abortWanted = true
			tryCancel()
		case <-j.wake:
			keep.Stop()
			status(true) // tell a newly attached line where things are
		}
	}
}

// settle delivers a final payment's result and acts on the ECR's answer: an
// acknowledged result stands; an unacknowledged approval is reversed.
func (j *job) settle(ctx context.Context, pay agent.Payment) {
	p := j.p
	for {
		j.takeReattached()
		code := p.reportCode(ctx, pay)
		p.mu.Lock()
		ecrCC, maxWaits := j.pay.ecrCurrency, j.pay.maxWaits
		p.mu.Unlock()
		p.note(ctx, pay.MerchantOrderNo, fmt.Sprintf("status information to the ECR: result %02X", code))
		if j.deliverStatus(ctx, p.statusInfo(pay, code, ecrCC), maxWaits) {
			p.acknowledged(ctx, pay, j.pay, code, "")
			j.complete(ctx, code)
			return
		}
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("the ECR never acknowledged the result", "merchant_order_no", pay.MerchantOrderNo, "result", fmt.Sprintf("%02X", code))
		p.note(ctx, pay.MerchantOrderNo, "the ECR never acknowledged the status information after the repeats")
		if pay.State == agent.StateApproved {
			if tried, _ := p.ag.Get(ctx, reversalOrderNo(pay.MerchantOrderNo)); tried.MerchantOrderNo == "" {
				p.autoReverse(ctx, pay, "the ECR never acknowledged the result")
			}
		}
		if np, err := p.ag.Get(ctx, pay.MerchantOrderNo); err == nil {
			pay = np
		}
		if !j.takeReattached() {
			if j.line() != nil {
				// Give the master rights back if the ECR still listens.
				j.complete(ctx, p.reportCode(ctx, pay))
			}
			return
		}
		// The ECR re-sent the request meanwhile: give it the (new) outcome.
	}
}

// acknowledged records that the ECR acknowledged a payment's result.
func (p *PT) acknowledged(ctx context.Context, pay agent.Payment, pj *payJob, code byte, how string) {
	if pj != nil {
		p.mu.Lock()
		pj.acked = true
		p.mu.Unlock()
	}
	p.log.Info("ECR acknowledged the result", "merchant_order_no", pay.MerchantOrderNo, "result", fmt.Sprintf("%02X", code))
	p.note(ctx, pay.MerchantOrderNo, fmt.Sprintf(ackNotePrefix+" (result %02X)%s", code, how))
	if code == zvt.ResultOK && strings.HasPrefix(pay.Alert, alertReversalFailed) {
		p.alert(ctx, pay.MerchantOrderNo, "the ECR received the approval later"+how+" and acknowledged it: the payment stands, no manual reversal is needed")
	}
}

// reportCode is the result the ECR gets for a final payment: an approval
// that posbridge reversed automatically is reported as aborted (6C).
func (p *PT) reportCode(ctx context.Context, pay agent.Payment) byte {
	if pay.State == agent.StateApproved {
		if v, err := p.ag.Get(ctx, reversalOrderNo(pay.MerchantOrderNo)); err == nil && v.State == agent.StateApproved {
			return zvt.ResultAbort
		}
	}
	return resultCode(pay)
}

// statusInfo builds the 04 0F of a payment (PA00P015 §3.1.1).
func (p *PT) statusInfo(pay agent.Payment, code byte, ecrCurrency bool) zvt.StatusInformation {
	si := zvt.StatusInformation{ResultCode: code, TID: p.tid}
	if amt, err := paymentMinor(pay); err == nil && amt >= 0 && amt <= zvt.MaxAmount {
		si.Amount = &amt
	}
	if seq, ok := parseOrderNo(p.cfg.Name, pay.MerchantOrderNo); ok {
		tr, rn := traceOf(seq), receiptOf(seq)
		si.Trace, si.ReceiptNo = &tr, &rn
	}
	if pay.Type == agent.TypeVoid {
		if oseq, ok := parseOrderNo(p.cfg.Name, pay.OrigMerchantOrderNo); ok {
			ot := traceOf(oseq)
			si.OrigTrace = &ot
		}
	}
	si.SetTimestamp(pay.UpdatedAt.In(p.loc))
	si.MaskedPAN = maskedPAN(pay)
	si.CardName = cardName(pay)
	if ac := pay.AuthCode; ac != "" && len(ac) <= 8 && isPrintableASCII(ac) {
		si.AID = ac
	}
	if ecrCurrency {
		si.Currency = p.numeric
	}
	return si
}

func isPrintableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}

// adoptAfterPanic treats a payment whose job panicked like one whose result
// could not be delivered: it is followed to its end and an approval reversed.
func (p *PT) adoptAfterPanic(pj *payJob) {
	p.mu.Lock()
	no, acked := pj.orderNo, pj.acked
	p.mu.Unlock()
	if no == "" || acked {
		return
	}
	p.goSafe("orphan watcher", func() { p.watchOrphan(no) })
}

// watchOrphan follows a payment whose result cannot reach the ECR (running
// when posbridge stopped, or its job failed) and reverses it if approved.
func (p *PT) watchOrphan(orderNo string) {
	pay, ok := p.waitFinal(p.ctx, orderNo)
	if !ok {
		return
	}
	if strings.HasPrefix(orderNo, reversalPrefix) {
		p.settleReversal(p.ctx, originalOfReversal(orderNo), pay)
		return
	}
	if pay.State == agent.StateApproved {
		if tried, _ := p.ag.Get(p.ctx, reversalOrderNo(orderNo)); tried.MerchantOrderNo == "" {
			p.autoReverse(p.ctx, pay, "the result could not reach the ECR (posbridge stopped or failed while the payment ran)")
		}
	}
}
