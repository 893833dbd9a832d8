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
	ecrCurrency bool   // the ECR sent BMP 49, so 04 0F carries it too (PA00P015 §3.1.1)
	maxWaits    int    // BMP 02: how often the ECR may answer 84 9C; -1 = not sent
	printParams []byte // tag 1F04 of the request: its receipt copies; nil = the registration's
	sync        bool   // the request carried 1F1F: receipt-number synchronisation (sync.go)

	acked bool // p.mu: the ECR acknowledged a Status-Information of it
}

// refusal is a request posbridge refuses before any payment exists.
type refusal struct {
	code byte
	why  string // for the log
	// text is what the refusal receipt says ("" = the result code's text);
	// ext, when not 0, goes with text as extended error code and text (tags
	// 1F16, 1F17) in the 06 1E, where the ECR may receive a TLV container.
	text string
	ext  byte
}

// refusalTexts are what a refusal receipt says for a result code.
var refusalTexts = map[byte]string{
	zvt.ResultWrongCurrency:       "wrong currency",
	ResultAmountTooSmall:          "amount too small",
	zvt.ResultMaxAmountExceeded:   "maximum amount exceeded",
	ResultPCIDSS:                  "card data from the cash register is not accepted",
	zvt.ResultReversalNotPossible: "reversal not possible",
	zvt.ResultAlreadyReversed:     "already reversed",
	zvt.ResultFunctionNotPossible: "function not possible",
	zvt.ResultReceiverNotReady:    "terminal busy, try again",
}

// printText is what the refusal receipt says.
func (r *refusal) printText() string {
	if r.text != "" {
		return r.text
	}
	if t, ok := refusalTexts[r.code]; ok {
		return t
	}
	return "system error"
}

// tlv is the extended error of the refusal (tags 1F16, 1F17), nil when it
// has none or the ECR may not receive a TLV container.
func (p *PT) refusalTLV(r *refusal, request []zvt.TLV) []zvt.TLV {
	if r.ext == 0 || !p.tlvAllowed(request) {
		return nil
	}
	return []zvt.TLV{{Tag: zvt.TagExtendedErrorCode, Value: []byte{r.ext}}, {Tag: zvt.TagExtendedErrorText, Value: zvt.EncodeText(r.printText())}}
}

// runPayment handles 06 01, 06 30 and 06 31: 80 00 00, payment through the
// agent, 04 FF while it runs, then the result.
func (j *job) runPayment(ctx context.Context, cmd zvt.Command, a zvt.APDU) {
	p := j.p
	j.reply(ctx, zvt.Ack())
	started := p.clock.Now()
	_, _, tlv := commandSummary(cmd)
	if v, ok := syncTag(tlv); ok {
		p.syncCheck(ctx, v)
		p.mu.Lock()
		j.pay.sync = true
		p.mu.Unlock()
	}
	pay, ref := p.createPayment(ctx, j.pay, cmd, a)
	if ref != nil {
		p.log.Warn("ECR request refused", "msg", zvt.ControlName(a.Control()), "result", fmt.Sprintf("%02X", ref.code), "reason", ref.why)
		j.printRefusal(ctx, cmd, ref)
		j.abort(ctx, ref.code, p.numeric, p.refusalTLV(ref, tlv))
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

// payRequest is an ECR payment request that passed the per-command checks,
// before it has a sequence number.
type payRequest struct {
	typ    string
	amount int64  // minor units of the terminal's currency
	ecrCC  int    // BMP 49 as the ECR sent it; 0 = not sent
	orig   string // void and refund: the original's merchant_order_no
	note   string // journaled on the payment once it exists ("" = none)
}

// createPayment validates the request and creates its payment.
func (p *PT) createPayment(ctx context.Context, pj *payJob, cmd zvt.Command, a zvt.APDU) (agent.Payment, *refusal) {
	_, _, tlv := commandSummary(cmd)
	p.mu.Lock()
	pj.printParams = receiptParams(tlv)
	p.mu.Unlock()
	req, ref := p.paymentRequest(ctx, pj, cmd, a)
	if ref == nil {
		ref = p.checkLimits(req)
	}
	if ref != nil {
		return agent.Payment{}, ref
	}
	return p.create(ctx, pj, req)
}

// paymentRequest applies the checks of one payment command.
func (p *PT) paymentRequest(ctx context.Context, pj *payJob, cmd zvt.Command, a zvt.APDU) (payRequest, *refusal) {
	switch c := cmd.(type) {
	case zvt.Authorization:
		return p.saleRequest(pj, c)
	case zvt.Reversal:
		return p.reversalRequest(ctx, c)
	case zvt.Refund:
		return p.refundRequest(ctx, c, a)
	}
	return payRequest{}, &refusal{code: zvt.ResultFunctionNotPossible, why: "not a payment command"}
}

// refusalCardData refuses card data typed into the ECR: posbridge never
// forwards it.
var refusalCardData = &refusal{code: ResultPCIDSS, why: "the ECR sent card data; posbridge takes cards only on the CodePay terminal"}

// saleRequest checks an authorisation (06 01).
func (p *PT) saleRequest(pj *payJob, c zvt.Authorization) (payRequest, *refusal) {
	if c.MaxStatusInfos != nil {
		p.mu.Lock()
		pj.maxWaits = int(*c.MaxStatusInfos)
		p.mu.Unlock()
	}
	if c.Card.Present() {
		return payRequest{}, refusalCardData
	}
	return payRequest{typ: agent.TypeSale, amount: *c.Amount, ecrCC: c.Currency}, nil
}

// reversalRequest checks a reversal (06 30): the sale of that receipt number,
// approved, not voided yet, for its whole amount, in the open batch.
func (p *PT) reversalRequest(ctx context.Context, c zvt.Reversal) (payRequest, *refusal) {
	o, ref := p.original(ctx, c.ReceiptNo, zvt.ResultReversalNotPossible)
	if ref != nil {
		return payRequest{}, ref
	}
	if o.State == agent.StateApproved && o.VoidedBy != "" {
		return payRequest{}, &refusal{code: zvt.ResultAlreadyReversed, why: fmt.Sprintf("payment %s was already reversed by %s", o.MerchantOrderNo, o.VoidedBy),
			text: fmt.Sprintf("receipt %04d was already reversed", c.ReceiptNo)}
	}
	req := payRequest{typ: agent.TypeVoid, amount: o.AmountMinor, ecrCC: c.Currency, orig: o.MerchantOrderNo}
	if c.Amount != nil {
		req.amount = *c.Amount
	}
	return req, p.checkOriginal(ctx, req, c.ReceiptNo, func(*agent.FieldError) byte { return zvt.ResultReversalNotPossible })
}

// refundRequest checks a refund (06 31): the sale of the receipt number in
// BMP 87, approved, refunded by at most its amount (by default all of it).
func (p *PT) refundRequest(ctx context.Context, c zvt.Refund, a zvt.APDU) (payRequest, *refusal) {
	if c.Card.Present() {
		return payRequest{}, refusalCardData
	}
	rn, ok := refundReceipt(a)
	var o agent.Original
	var ref *refusal
	var note string
	if ok {
		o, ref = p.original(ctx, rn, zvt.ResultFunctionNotPossible)
	} else {
		o, rn, note, ref = p.refundByAmount(ctx, c)
	}
	if ref != nil {
		return payRequest{}, ref
	}
	req := payRequest{typ: agent.TypeRefund, amount: o.AmountMinor, ecrCC: c.Currency, orig: o.MerchantOrderNo, note: note}
	if c.Amount != nil {
		req.amount = *c.Amount
	}
	return req, p.checkOriginal(ctx, req, rn, func(fe *agent.FieldError) byte {
		if fe.Field == "amount" {
			return zvt.ResultMaxAmountExceeded // more than the sale
		}
		return zvt.ResultFunctionNotPossible
	})
}

// checkOriginal has the agent check a void or refund against its original;
// code picks the result code of a broken rule.
func (p *PT) checkOriginal(ctx context.Context, req payRequest, rn int, code func(*agent.FieldError) byte) *refusal {
	err := p.ag.CheckOriginal(ctx, agent.OriginalCheck{Type: req.typ, TerminalSN: p.term.SN, Orig: req.orig,
		Currency: p.term.Currency.Code, Amount: req.amount})
	if err == nil {
		return nil
	}
	var fe *agent.FieldError
	if errors.As(err, &fe) {
		return &refusal{code: code(fe), why: fmt.Sprintf("%s of receipt %04d (payment %s): %v", req.typ, rn, req.orig, err),
			text: fmt.Sprintf("receipt %04d: %s", rn, fe.Msg)}
	}
	return &refusal{code: zvt.ResultSystemError, why: "checking the original payment: " + err.Error()}
}

// checkLimits checks the currency the ECR named and the amount's bounds.
func (p *PT) checkLimits(req payRequest) *refusal {
	cur := p.term.Currency
	if req.ecrCC != 0 {
		if alpha, ok := CurrencyAlpha(req.ecrCC); !ok || alpha != cur.Code {
			return &refusal{code: zvt.ResultWrongCurrency, why: fmt.Sprintf("ECR currency %03d, terminal takes %s", req.ecrCC, cur.Code)}
		}
	}
	switch {
	case req.amount <= 0:
		return &refusal{code: ResultAmountTooSmall, why: "amount is zero"}
	case req.amount > p.maxMinor:
		return &refusal{code: zvt.ResultMaxAmountExceeded, why: fmt.Sprintf("amount %s %s exceeds the maximum %s", money.Format(req.amount, cur), cur.Code, p.cfg.MaxAmount)}
	}
	return nil
}

// create takes the next sequence number and creates the payment through the
// agent.
func (p *PT) create(ctx context.Context, pj *payJob, req payRequest) (agent.Payment, *refusal) {
	cur := p.term.Currency
	seq, err := p.mem.NextCounter(ctx, p.seqCounter(), counterWrap)
	if err != nil {
		return agent.Payment{}, &refusal{code: zvt.ResultSystemError, why: "allocating trace number: " + err.Error()}
	}
	no := orderNo(p.cfg.Name, seq, p.clock.Now())
	pay, err := p.ag.Create(ctx, agent.CreateRequest{
		MerchantOrderNo:     no,
		Type:                req.typ,
		TerminalSN:          p.term.SN,
		Amount:              money.Format(req.amount, cur),
		Currency:            cur.Code,
		OrigMerchantOrderNo: req.orig,
		Description:         fmt.Sprintf("ZVT %s from %s, trace %06d, receipt %04d", req.typ, p.cfg.Name, traceOf(seq), receiptOf(seq)),
		Source:              agent.SourceECR,
	})
	if err != nil {
		return agent.Payment{}, &refusal{code: createRefusalCode(req.typ, err), why: "agent refused the payment: " + err.Error()}
	}
	if age := p.clock.Now().Sub(pay.CreatedAt); age > collisionAge {
		return agent.Payment{}, &refusal{code: zvt.ResultSystemError, why: fmt.Sprintf("order number %s already existed (created %s ago); the ZVT counter went back", no, age.Round(time.Second))}
	}
	if req.note != "" {
		p.note(ctx, no, req.note)
	}
	p.mu.Lock()
	bySync := pj.sync
	p.mu.Unlock()
	if bySync {
		p.note(ctx, no, syncNotePrefix+": the result is not reversed on communication problems; the next transaction settles it")
	}
	p.mu.Lock()
	pj.orderNo, pj.ecrCurrency = no, req.ecrCC != 0
	p.last = pj
	p.mu.Unlock()
	p.log.Info("ECR payment accepted", "merchant_order_no", no, "type", req.typ, "amount", pay.Amount, "currency", pay.Currency)
	return pay, nil
}

// createRefusalCode is the result code when the agent refuses to create a
// payment of type typ.
func createRefusalCode(typ string, err error) byte {
	var fe *agent.FieldError
	switch {
	case errors.Is(err, agent.ErrStopping):
		return zvt.ResultReceiverNotReady
	case errors.As(err, &fe) && typ == agent.TypeVoid:
		return zvt.ResultReversalNotPossible
	case errors.As(err, &fe) && typ == agent.TypeRefund:
		return zvt.ResultFunctionNotPossible
	}
	return zvt.ResultSystemError
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

// original finds this ECR's sale with receipt number rn: the payment of the
// newest sequence number that gives rn (receipt numbers wrap after 9999),
// looked up by its order number, not by scanning.
func (p *PT) original(ctx context.Context, rn int, notFound byte) (agent.Original, *refusal) {
	last, err := p.mem.Counter(ctx, p.seqCounter())
	if err != nil {
		return agent.Original{}, &refusal{code: zvt.ResultSystemError, why: "reading the trace counter: " + err.Error()}
	}
	text := fmt.Sprintf("no sale with receipt number %04d", rn)
	seq := seqOfReceipt(last, rn)
	if seq == 0 {
		return agent.Original{}, &refusal{code: notFound, why: fmt.Sprintf("%s: the ECR's last trace number is %06d", text, traceOf(max(last, 1))), text: text}
	}
	o, err := p.ag.LatestOriginal(ctx, agent.OriginalQuery{TerminalSN: p.term.SN, OrderNoPrefix: seqPrefix(p.cfg.Name, seq), Type: agent.TypeSale})
	if errors.Is(err, agent.ErrNotFound) {
		return agent.Original{}, &refusal{code: notFound, why: fmt.Sprintf("%s (trace %06d) on this terminal", text, traceOf(seq)), text: text}
	}
	if err != nil {
		return agent.Original{}, &refusal{code: zvt.ResultSystemError, why: "finding the original payment: " + err.Error()}
	}
	return o, nil
}

// awaitFinal follows the payment to a final state. While it runs it sends
// 04 FF at once, on every state change and every KeepAlive (if the ECR asked
// for intermediate status), passes an ECR abort to the agent, and — when no
// 04 FF keeps the ECR's T4 alive — cancels the payment NoStatusDeadline after
// 80 00 00 if it is still cancellable.
func (j *job) awaitFinal(ctx context.Context, pay agent.Payment, started time.Time) (agent.Payment, bool) {
	p := j.p
	f := &follower{j: j, ctx: ctx, no: pay.MerchantOrderNo, cur: pay, want: p.wantStatus(), lastCode: -1, cancelDone: make(chan error, 1)}
	kick := make(chan struct{}, 1)
	unsub := p.ag.Subscribe(func(e agent.Event) {
		if e.Payment != nil && e.Payment.MerchantOrderNo == f.no {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()
	if f.refresh() {
		return f.cur, true
	}
	f.status(true)

	var deadline <-chan time.Time
	if !f.want {
		dt := p.clock.NewTimer(max(p.cfg.NoStatusDeadline-p.clock.Now().Sub(started), 0))
		defer dt.Stop()
		deadline = dt.C()
	}
	for {
		keep := p.clock.NewTimer(p.cfg.KeepAlive)
		final, stop := false, false
		select {
		case <-ctx.Done():
			stop = true
		case <-kick:
			final = f.changed(false)
		case <-keep.C():
			final = f.changed(true)
		case <-j.abortReq:
			f.abortRequested()
		case err := <-f.cancelDone:
			final = f.cancelAnswered(err)
		case <-deadline:
			deadline = nil
			f.deadlineReached()
		case <-j.wake:
			f.status(true) // tell a newly attached line where things are
		}
		keep.Stop()
		switch {
		case stop:
			return f.cur, false
		case final:
			return f.cur, true
		}
	}
}

// follower is the state of awaitFinal: the payment as last read, the last
// 04 FF code sent and the ECR's abort. An abort (06 B0, or the T4 deadline)
// stays wanted until the payment is final: a cancel refused while the payment
// is only being sent is tried again when it reaches the terminal.
type follower struct {
	j          *job
	ctx        context.Context
	no         string
	cur        agent.Payment
	want       bool // the ECR asked for intermediate status
	lastCode   int  // the last 04 FF code sent, -1 = none
	cancelDone chan error

	cancelling, abortWanted bool
	cancelSeq               int64 // the payment's seq when the cancel in flight was sent
}

// refresh reads the payment again and reports whether it is final.
func (f *follower) refresh() bool {
	if np, err := f.j.p.ag.Get(f.ctx, f.no); err == nil {
		f.cur = np
	}
	return f.cur.Final()
}

// status sends 04 FF when the ECR wants it and the code changed (or force).
func (f *follower) status(force bool) {
	if !f.want {
		return
	}
	code := intermediateStatus(f.cur)
	if force || int(code) != f.lastCode {
		f.j.sendStatus(f.ctx, code)
		f.lastCode = int(code)
	}
}

// tryCancel asks the agent to cancel, once at a time, while an abort is wanted.
func (f *follower) tryCancel() {
	if !f.abortWanted || f.cancelling || f.cur.Final() {
		return
	}
	f.cancelling = true
	f.cancelSeq = f.cur.Seq
	f.j.p.goSafe("cancel", func() {
		_, err := f.j.p.ag.Cancel(f.ctx, f.no)
		f.cancelDone <- err
	})
}

// changed handles a published change (or the keep-alive timer, force) and
// reports whether the payment is final.
func (f *follower) changed(force bool) bool {
	if f.refresh() {
		return true
	}
	f.status(force)
	f.tryCancel()
	return false
}

// abortRequested handles the ECR's 06 B0.
func (f *follower) abortRequested() {
	if !f.abortWanted {
		f.abortWanted = true
		f.j.p.log.Info("ECR asked to abort the payment; cancelling it if it has not started on the terminal", "merchant_order_no", f.no)
		f.j.p.note(f.ctx, f.no, "the ECR sent abort (06 B0); cancelling if the terminal has not started the payment")
	}
	f.tryCancel()
}

// cancelAnswered handles the agent's answer to a cancel and reports whether
// the payment is final.
func (f *follower) cancelAnswered(err error) bool {
	p := f.j.p
	f.cancelling = false
	if f.refresh() {
		return true
	}
	if err == nil {
		return false
	}
	if f.cur.Seq != f.cancelSeq {
		// The payment moved while the cancel was on its way (say from
		// sending to waiting on the terminal): the refusal was about the
		// state it left. Ask again about the state it is in.
		p.log.Info("payment moved while its cancel was refused; trying again", "merchant_order_no", f.no, "state", f.cur.State)
		f.tryCancel()
		return false
	}
	switch f.cur.State {
	case agent.StateQueued, agent.StateSending, agent.StateUnknown:
		p.log.Info("payment not cancellable yet; trying again when it moves", "merchant_order_no", f.no, "state", f.cur.State)
	default:
		f.abortWanted = false
		p.log.Info("payment cannot be cancelled; its result goes to the ECR as usual", "merchant_order_no", f.no, "err", err)
		p.note(f.ctx, f.no, "cancel refused, the payment continues: "+err.Error())
	}
	return false
}

// deadlineReached cancels a payment still running near the ECR's T4 when no
// 04 FF keeps it alive.
func (f *follower) deadlineReached() {
	p := f.j.p
	p.log.Warn("payment still running close to the ECR's T4 and no intermediate status was requested; cancelling it if possible", "merchant_order_no", f.no)
	p.note(f.ctx, f.no, "still running near the ECR's time-out T4 (no intermediate status requested); cancelling if possible")
	f.abortWanted = true
	f.tryCancel()
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
		if j.resultTaken(ctx, pay, code, ecrCC, maxWaits) {
			p.acknowledged(ctx, pay, j.pay, code, "")
			j.complete(ctx, code)
			return
		}
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("the ECR did not acknowledge the result", "merchant_order_no", pay.MerchantOrderNo, "result", fmt.Sprintf("%02X", code))
		p.mu.Lock()
		bySync := j.pay.sync
		p.mu.Unlock()
		if pay.State == agent.StateApproved {
			if tried, _ := p.ag.Get(ctx, reversalOrderNo(pay.MerchantOrderNo)); tried.MerchantOrderNo == "" {
				if bySync {
					p.deferReversal(ctx, pay)
				} else {
					p.autoReverse(ctx, pay, "the ECR never acknowledged the result")
				}
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

// resultTaken delivers a payment's result, its status information and,
// when the ECR prints, its receipts (PA00P015 §2.2.6–2.2.7), and reports
// whether the ECR took it: §2.2.8 makes the answers to the status
// information and to every print line the definitive acknowledgement, so an
// approval whose receipt the ECR did not take is not stored (the caller
// reverses it). A failed payment's receipt is printed for information only.
func (j *job) resultTaken(ctx context.Context, pay agent.Payment, code byte, ecrCC bool, maxWaits int) bool {
	p := j.p
	p.mu.Lock()
	params, bySync := j.pay.printParams, j.pay.sync
	p.mu.Unlock()
	si := p.statusInfo(pay, code, ecrCC)
	if bySync {
		si.TLV = p.syncTLV(pay.MerchantOrderNo)
	}
	if !j.deliverStatus(ctx, si, maxWaits) {
		if ctx.Err() == nil {
			p.note(ctx, pay.MerchantOrderNo, "the ECR never acknowledged the status information after the repeats")
		}
		return false
	}
	if j.printPayment(ctx, pay, code, params, false, nil) || code != zvt.ResultOK {
		return true
	}
	if ctx.Err() == nil {
		p.note(ctx, pay.MerchantOrderNo, "the ECR acknowledged the status information but did not take the receipt (print lines); "+
			"PA00P015 §2.2.8: the transaction is not stored")
	}
	return false
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
