package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/pan"
	"github.com/posbridge/posbridge/store"
)

const (
	// callTimeout bounds one provider call, also during shutdown.
	callTimeout = 20 * time.Second
	// closeGrace is how long past expires an order still waiting on the
	// terminal (status 9) is left before posbridge closes it.
	closeGrace = 5 * time.Second
	// maxPoll bounds the back-off between queries.
	maxPoll = 15 * time.Second
	// minResendWindow is the least time a re-sent create must leave the
	// customer to pay; with less, "not found" fails the payment instead.
	minResendWindow = 15 * time.Second
	// journalRetry is the pause after the journal refused a write (disk
	// full, read-only): nothing moves until it takes writes again.
	journalRetry = time.Second
)

// worker drives one terminal's payments, one at a time, in FIFO order.
type worker struct {
	a    *Agent
	term device.Terminal
	wake chan struct{}
	// turn is held (a one-slot semaphore) while a payment is driven; a batch
	// close holds it to keep payments off the terminal while it runs.
	turn chan struct{}
}

func (w *worker) lock()   { w.turn <- struct{}{} }
func (w *worker) unlock() { <-w.turn }

// lockWithin takes the terminal's turn, waiting at most d.
func (w *worker) lockWithin(ctx context.Context, d time.Duration) bool {
	select {
	case w.turn <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	case <-w.a.after(d):
		return false
	}
}

func newWorker(a *Agent, t device.Terminal) *worker {
	return &worker{a: a, term: t, wake: make(chan struct{}, 1), turn: make(chan struct{}, 1)}
}

func (a *Agent) wake(sn string) {
	if w, ok := a.workers[sn]; ok {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// run serves the terminal until ctx ends: first the payment already in flight
// (after a restart: reconcile it), then the queue.
func (w *worker) run(ctx context.Context) {
	log := w.a.log.With("terminal_sn", w.term.SN)
	w.a.publishTerminal(w.term.SN)
	for ctx.Err() == nil {
		w.lock()
		p, err := w.a.db.Active(ctx, w.term.SN)
		if errors.Is(err, store.ErrNotFound) {
			if w.batchClosing(ctx) {
				// A batch close is in flight or its outcome unknown: new
				// payments wait until it is settled.
				w.unlock()
				w.idle(ctx)
				continue
			}
			p, err = w.a.db.NextQueued(ctx, w.term.SN)
		}
		if errors.Is(err, store.ErrNotFound) {
			w.unlock()
			w.idle(ctx)
			continue
		}
		if err != nil {
			w.unlock()
			log.Error("read journal", "err", err)
			w.sleep(ctx, journalRetry)
			continue
		}
		w.drive(ctx, p)
		w.unlock()
		w.a.publishTerminal(w.term.SN)
	}
}

// idle waits for a wake-up or the end of ctx.
func (w *worker) idle(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-w.wake:
	}
}

func (w *worker) batchClosing(ctx context.Context) bool {
	closing, err := w.a.db.BatchClosing(ctx, w.term.SN)
	return err == nil && closing
}

// sleep waits for d, a wake-up or the end of ctx.
func (w *worker) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-w.wake:
	case <-w.a.after(d):
	}
}

// follow is what the worker remembers about the payment it drives, beyond
// the journal: how often it polls and what it last reported.
type follow struct {
	interval time.Duration
	lastErr  string // the last query error journaled, to journal changes only
	failures int    // queries without an answer in a row
}

// drive moves one payment forward until it is final, parked for the
// background reconciler, or ctx ends.
func (w *worker) drive(ctx context.Context, p *store.Payment) {
	a := w.a
	f := &follow{interval: a.cfg.PollInterval}
	for ctx.Err() == nil {
		cur, err := a.db.GetPayment(ctx, p.MerchantOrderNo)
		if err != nil {
			a.log.Error("read payment", "merchant_order_no", p.MerchantOrderNo, "err", err)
			w.sleep(ctx, journalRetry)
			continue
		}
		p = cur
		if IsFinal(p.State) || !p.NextCheckAt.IsZero() {
			return
		}
		switch p.State {
		case StateQueued, StateSending:
			if p.State == StateSending && p.CreateSent {
				// A create may have left before a crash: find out by query.
				err = a.toUnknown(ctx, p, "a create order may have left before its answer was journaled (restart or journal failure); reconciling by query")
			} else {
				err = w.send(ctx, p)
			}
			f.interval = a.cfg.PollInterval
		case StateOnTerminal, StateUnknown:
			w.sleep(ctx, w.pollDelay(p, f))
			if ctx.Err() != nil {
				return
			}
			err = w.poll(ctx, p, f)
		default:
			a.log.Error("payment in unexpected state", "merchant_order_no", p.MerchantOrderNo, "state", p.State)
			return
		}
		if err != nil && !errors.Is(err, store.ErrStateChanged) {
			// The journal refused a write: nothing may move until it takes
			// writes again (never a provider call whose intent is not written).
			w.sleep(ctx, journalRetry)
		}
	}
}

// pollDelay is the wait before the next query: poll_interval growing by 25%
// per query, up to 4× the interval while the order can still be paid and up
// to 15 s after. While a "not found" is waiting for its settle time, the
// wait ends when the settle time does.
func (w *worker) pollDelay(p *store.Payment, f *follow) time.Duration {
	a := w.a
	d := f.interval
	if f.interval = f.interval * 5 / 4; f.interval > maxPoll {
		f.interval = maxPoll
	}
	if limit := 4 * a.cfg.PollInterval; f.interval > limit && a.clock.Now().Before(p.ExpiresAt) {
		f.interval = limit
	}
	return d
}

// toUnknown moves a payment whose create may have reached CodePay to unknown,
// recording when the create's exchange ended (now).
func (a *Agent) toUnknown(ctx context.Context, p *store.Payment, detail string) error {
	now := a.clock.Now()
	_, err := a.transition(ctx, p.MerchantOrderNo, []string{StateSending, StateOnTerminal}, func(p *store.Payment) error {
		p.State = StateUnknown
		p.CreateEndedAt = now
		return nil
	}, detail)
	return err
}

// send pushes the create order to CodePay. The journal says "sending, create
// may have been sent" before the call, so a crash at any point leads to a
// query first. A create is sent again only after CodePay definitively
// answered that it has no such order (poll), and always with the same
// merchant_order_no: CodePay keeps it unique, so a second order is impossible.
func (w *worker) send(ctx context.Context, p *store.Payment) error {
	a := w.a
	now := a.clock.Now()
	if p.State == StateQueued && !now.Before(p.ExpiresAt) {
		_, err := a.transition(ctx, p.MerchantOrderNo, []string{StateQueued}, func(p *store.Payment) error {
			p.State = StateExpired
			p.ErrorCode = "expired"
			p.ErrorMessage = fmt.Sprintf("expired in the queue after waiting %s for the terminal; nothing was charged", a.cfg.QueueTimeout)
			return nil
		}, "expired in the queue")
		return err
	}
	p, err := a.transition(ctx, p.MerchantOrderNo, []string{StateQueued, StateSending}, func(p *store.Payment) error {
		p.State = StateSending
		p.CreateSent = true
		if p.TransNo == "" && p.Attempts == 0 && p.Resends == 0 {
			p.ExpiresAt = now.Add(a.cfg.OrderExpires)
		}
		return nil
	}, "sending create order")
	if err != nil {
		return err
	}
	a.publishTerminalLater(p.TerminalSN)
	req, err := w.createRequest(p, now)
	if err != nil {
		_, err = a.fail(ctx, p, []string{StateSending}, "invalid_request", err.Error())
		return err
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	resp, err := a.cp.CreateOrder(callCtx, req)
	cancel()
	ended := a.clock.Now()
	var ge *codepay.GatewayError
	switch {
	case err == nil:
		online := resp.TerminalOnlineStatus != codepay.TerminalOffline
		a.setOnline(p.TerminalSN, online)
		detail := "on the terminal, trans_no " + resp.TransNo
		if !online {
			detail = "queued at CodePay; terminal is offline, waiting for it"
		}
		_, err = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateOnTerminal
			p.TransNo = resp.TransNo
			p.TransStatus = "9"
			p.CreateEndedAt = ended
			return nil
		}, detail)
		return err
	case errors.Is(err, codepay.ErrNotSent):
		return w.notSent(ctx, p, err)
	case errors.Is(err, codepay.ErrInvalidRequest):
		_, err = a.fail(ctx, p, []string{StateSending}, "invalid_request", err.Error())
		return err
	case errors.As(err, &ge):
		return w.refused(ctx, p, ge, ended)
	default:
		// Unknown outcome: reconcile by query.
		_, err = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateUnknown
			p.CreateEndedAt = ended
			return nil
		}, "outcome of create order unknown ("+err.Error()+"); reconciling by query")
		return err
	}
}

// notSent handles a create that never left this machine: it may be sent
// again after a pause, until the payment expires (or, when a fallback is
// possible, until the unreachable grace has passed).
func (w *worker) notSent(ctx context.Context, p *store.Payment, cause error) error {
	a := w.a
	a.event(ctx, p.MerchantOrderNo, "error", "CodePay unreachable, create not sent: "+cause.Error())
	if p.Resends == 0 && a.fallbackAllowed(optionsOf(p)) && a.sinceSent(p) >= a.cfg.UnreachableGrace {
		_, err := a.fail(ctx, p, []string{StateSending}, CodeCodePayUnavailable, "CodePay could not be reached; nothing was charged")
		return err
	}
	if !a.clock.Now().Before(p.ExpiresAt) {
		_, err := a.fail(ctx, p, []string{StateSending}, CodeCodePayUnavailable, "CodePay could not be reached before the payment expired; nothing was charged")
		return err
	}
	np, err := a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
		p.CreateSent = false
		p.Attempts++
		return nil
	}, "will retry: nothing was sent")
	if err != nil {
		return err
	}
	w.sleep(ctx, backoff(a.cfg.PollInterval, np.Attempts))
	return nil
}

// refused handles a signed refusal of a create. A refusal answers the
// request, not the order: if CodePay already holds an order with this number
// (an earlier create did arrive) the refusal says "duplicate", in a code we
// cannot know. So the refusal is confirmed by one query: "not found" means
// nothing was charged; an order found is followed; no answer is reconciled
// like any unknown outcome.
func (w *worker) refused(ctx context.Context, p *store.Payment, ge *codepay.GatewayError, ended time.Time) error {
	a := w.a
	a.event(ctx, p.MerchantOrderNo, "error", fmt.Sprintf("CodePay refused the create: %s (code %s); confirming by query", ge.Msg, ge.Code))
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	o, err := a.cp.QueryOrder(callCtx, p.MerchantOrderNo, "")
	cancel()
	switch {
	case err == nil:
		_, err = a.applyOrder(ctx, p, o)
		return err
	case codepay.IsOrderNotFound(err):
		msg := fmt.Sprintf("CodePay refused the order: %s (code %s); nothing was charged", ge.Msg, ge.Code)
		if p.Resends > 0 {
			msg = fmt.Sprintf("CodePay has no record of this order and refused it when sent again: %s (code %s); nothing was charged", ge.Msg, ge.Code)
		}
		_, err = a.fail(ctx, p, []string{StateSending}, "codepay_refused", msg)
		return err
	default:
		_, err = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateUnknown
			p.CreateEndedAt = ended
			return nil
		}, fmt.Sprintf("create refused (%s: %s) but the query got no answer (%v); reconciling by query", ge.Code, ge.Msg, err))
		return err
	}
}

func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxPoll; i++ {
		d *= 2
	}
	return min(d, maxPoll)
}

func (w *worker) createRequest(p *store.Payment, now time.Time) (codepay.CreateOrderRequest, error) {
	a := w.a
	var opts Options
	if p.OptionsJSON != "" {
		if err := jsonUnmarshal([]byte(p.OptionsJSON), &opts); err != nil {
			return codepay.CreateOrderRequest{}, fmt.Errorf("decode stored options: %w", err)
		}
	}
	tt := transTypes[p.Type]
	// The order may be paid until the payment's deadline: a re-sent create
	// gets the time that is left, in whole seconds.
	expires := a.cfg.OrderExpires
	if left := p.ExpiresAt.Sub(now); p.Resends > 0 && left < expires {
		expires = max((left + time.Second - 1).Truncate(time.Second), time.Second)
	}
	r := codepay.CreateOrderRequest{
		TerminalSN:          p.TerminalSN,
		MerchantOrderNo:     p.MerchantOrderNo,
		TransType:           tt,
		Amount:              moneyAmount(p.AmountMinor, w.term),
		OrigMerchantOrderNo: p.OrigMerchantOrderNo,
		Description:         p.Description,
		NotifyURL:           a.cfg.NotifyURL,
		Expires:             expires,
		ConfirmOnTerminal:   opts.ConfirmOnTerminal,
	}
	if tt.AllowsOnScreenTip() {
		r.OnScreenTip = opts.OnScreenTip // CodePay refuses the field on other types, even false
	}
	if p.TipMinor > 0 {
		tip := p.TipMinor
		r.TipAmount = &tip
	}
	if p.CashbackMinor > 0 {
		cb := p.CashbackMinor
		r.CashbackAmount = &cb
	}
	if opts.ReceiptPrintMode != nil {
		m := codepay.ReceiptPrintMode(*opts.ReceiptPrintMode)
		r.ReceiptPrintMode = &m
	}
	return r, nil
}

// laneDeadline is when an order can no longer occupy the terminal: CodePay
// received the create at most callTimeout after it was sent, and closes an
// unpaid order at its expires; closeGrace covers the clocks.
func (a *Agent) laneDeadline(p *store.Payment) time.Time {
	return p.ExpiresAt.Add(callTimeout + closeGrace)
}

// poll queries the order once and applies the answer (the outcome rule of
// docs/reliability.md): a signed order ends an unknown; a signed "not found"
// after the settle time leads to the same create again, or (re-sends used
// up, deadline passed) to failed; anything else is no answer and changes
// nothing but the back-off — and, past the lane deadline, parks the payment
// so the terminal's queue moves on.
func (w *worker) poll(ctx context.Context, p *store.Payment, f *follow) error {
	a := w.a
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	o, err := a.cp.QueryOrder(callCtx, p.MerchantOrderNo, "")
	cancel()
	now := a.clock.Now()
	switch {
	case err == nil:
		f.failures, f.lastErr = 0, ""
		return w.applyAndFollow(ctx, p, o, now)
	case codepay.IsOrderNotFound(err) && p.State == StateUnknown:
		f.failures, f.lastErr = 0, ""
		return w.notFound(ctx, p, err, now, f)
	}
	// No answer (transport, 5xx/429, signature, timestamp window, an
	// unknown code, or "not found" for an order CodePay acknowledged).
	f.failures++
	if msg := err.Error(); msg != f.lastErr || f.failures%20 == 0 {
		f.lastErr = msg
		a.event(ctx, p.MerchantOrderNo, "error", fmt.Sprintf("query got no answer (%d in a row): %s", f.failures, msg))
	}
	if now.After(a.laneDeadline(p)) {
		return a.park(ctx, p, now, "no answer from CodePay past the order's deadline: the terminal moves on; the outcome is reconciled in the background")
	}
	return nil
}

// notFound applies CodePay's definitive "no such order" to an unknown payment.
func (w *worker) notFound(ctx context.Context, p *store.Payment, nf error, now time.Time, f *follow) error {
	a := w.a
	settled := p.CreateEndedAt.Add(a.cfg.CreateSettle)
	if now.Before(settled) {
		// The create may still be on its way inside CodePay: ask again once
		// the settle time has passed.
		f.interval = settled.Sub(now)
		return nil
	}
	var ge *codepay.GatewayError
	errors.As(nf, &ge)
	switch {
	case p.Resends >= a.cfg.MaxResends:
		return a.failNoRecord(ctx, p,
			fmt.Sprintf("CodePay has no record of this order after %d re-sends (%s: %s); nothing was charged", p.Resends, ge.Code, ge.Msg))
	case p.ExpiresAt.Sub(now) < minResendWindow:
		return a.failNoRecord(ctx, p,
			fmt.Sprintf("CodePay has no record of this order (%s: %s) and too little time is left to send it again; nothing was charged", ge.Code, ge.Msg))
	}
	_, err := a.transition(ctx, p.MerchantOrderNo, []string{StateUnknown}, func(p *store.Payment) error {
		p.State = StateSending
		p.CreateSent = false // set again by send, before the call
		p.Resends++
		return nil
	}, fmt.Sprintf("CodePay has no record of this order %s after the create ended (%s: %s): sending the same create again (re-send %d of at most %d)",
		now.Sub(p.CreateEndedAt).Round(time.Second), ge.Code, ge.Msg, p.Resends+1, a.cfg.MaxResends))
	return err
}

// park hands a payment whose order can no longer occupy its terminal, but
// whose outcome is open, to the background reconciler.
func (a *Agent) park(ctx context.Context, p *store.Payment, now time.Time, detail string) error {
	_, err := a.transition(ctx, p.MerchantOrderNo, []string{StateOnTerminal, StateUnknown}, func(p *store.Payment) error {
		p.State = StateUnknown
		p.NextCheckAt = now.Add(a.cfg.PollInterval)
		return nil
	}, detail)
	if err == nil {
		a.wakeReconciler()
	}
	return err
}

// applyAndFollow applies a signed order and takes the follow-up actions that
// depend on it: withdrawing an order from an offline terminal when a
// fallback is possible, and closing an order still waiting past expires.
func (w *worker) applyAndFollow(ctx context.Context, p *store.Payment, o *codepay.Order, now time.Time) error {
	a := w.a
	np, err := a.applyOrder(ctx, p, o)
	if err != nil || np == nil || IsFinal(np.State) {
		return err
	}
	// Waiting for an offline terminal while a fallback is possible: withdraw
	// the order so the POS can take the card through Bindo.
	if np.TransStatus == "9" && a.fallbackAllowed(optionsOf(np)) && a.sinceSent(np) >= a.cfg.OfflineGrace {
		if st, err := a.reg.Status(np.TerminalSN); err == nil && st.OnlineKnown && !st.Online {
			return a.closeAt(ctx, np, "terminal offline", func(p *store.Payment) {
				p.State, p.TransStatus = StateFailed, "3"
				p.ErrorCode = CodeCodePayUnavailable
				p.ErrorMessage = "terminal " + p.TerminalSN + " stayed offline; the order was withdrawn at CodePay and nothing was charged"
			}, "withdrawn from the offline terminal")
		}
	}
	// Still waiting on the terminal long past expires: take it back.
	if np.TransStatus == "9" && now.After(np.ExpiresAt.Add(closeGrace)) {
		return a.closeAt(ctx, np, "expired", func(p *store.Payment) {
			p.State = StateExpired
			p.TransStatus = "3"
			p.ErrorCode, p.ErrorMessage = "expired", "the terminal did not take the payment before it expired; nothing was charged"
		}, "expired: closed at CodePay")
	}
	return nil
}

// closeAt closes an order still waiting on the terminal (status 9) at
// CodePay and, once CodePay confirmed, applies final. A refused or
// unanswered close changes nothing: the next query tells what happened.
func (a *Agent) closeAt(ctx context.Context, p *store.Payment, reason string, final func(*store.Payment), detail string) error {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	_, err := a.cp.CloseOrder(callCtx, codepay.CloseOrderRequest{TerminalSN: p.TerminalSN, MerchantOrderNo: p.MerchantOrderNo, Description: reason})
	cancel()
	if err != nil {
		a.event(ctx, p.MerchantOrderNo, "error", "closing the order ("+reason+") failed: "+err.Error())
		return nil
	}
	_, err = a.transition(ctx, p.MerchantOrderNo, []string{StateOnTerminal, StateUnknown}, func(p *store.Payment) error {
		final(p)
		return nil
	}, detail)
	return err
}

// applyOrder maps a signed CodePay order (from a query) onto the payment.
// Only non-final payments change, so a final state never regresses.
// closedByCodePay fills a payment CodePay closed with trans_status 1:
// expired when it was never paid in time, declined otherwise.
func closedByCodePay(p *store.Payment, o *codepay.Order, status string, expired bool) {
	fillResult(p, o, status)
	if expired {
		p.State = StateExpired
		p.ErrorCode, p.ErrorMessage = "expired", "the payment expired before the customer paid; nothing was charged"
		if o.TransErrorMsg != "" {
			p.ErrorMessage += " (" + o.TransErrorMsg + ")"
		}
		return
	}
	p.State = StateDeclined
	p.ErrorCode, p.ErrorMessage = o.TransErrorCode, o.TransErrorMsg
	if p.ErrorCode == "" {
		p.ErrorCode = "declined"
	}
}

func (a *Agent) applyOrder(ctx context.Context, p *store.Payment, o *codepay.Order) (*store.Payment, error) {
	if o.MerchantOrderNo != "" && o.MerchantOrderNo != p.MerchantOrderNo {
		return nil, fmt.Errorf("apply order: answer is for %s, not %s", o.MerchantOrderNo, p.MerchantOrderNo)
	}
	status := strconv.Itoa(int(o.TransStatus))
	from := []string{StateSending, StateOnTerminal, StateUnknown}
	switch o.TransStatus {
	case codepay.StatusCreated, codepay.StatusProcessing:
		if o.TransStatus == codepay.StatusProcessing {
			a.setOnline(p.TerminalSN, true)
		}
		if p.State == StateOnTerminal && p.TransStatus == status && p.TransNo == o.TransNo && p.NextCheckAt.IsZero() {
			return p, nil
		}
		return a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateOnTerminal
			p.TransStatus = status
			if o.TransNo != "" {
				p.TransNo = o.TransNo
			}
			if o.TransStatus == codepay.StatusProcessing {
				// The terminal is working on it: it occupies the lane again.
				p.NextCheckAt = time.Time{}
			}
			return nil
		}, "trans_status "+status)
	case codepay.StatusCompleted:
		return a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateApproved
			fillResult(p, o, status)
			if o.TipAmount != nil && *o.TipAmount >= 0 {
				p.TipMinor = *o.TipAmount
			}
			return nil
		}, "approved")
	case codepay.StatusFailed:
		expired := strings.Contains(strings.ToUpper(o.TransErrorCode), "EXPIRE") ||
			(p.TransStatus == "9" && !a.clock.Now().Before(p.ExpiresAt))
		return a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			closedByCodePay(p, o, status, expired)
			return nil
		}, "closed by CodePay with trans_status 1")
	case codepay.StatusCancelled:
		return a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateCancelled
			fillResult(p, o, status)
			if p.ErrorCode == "" {
				p.ErrorCode, p.ErrorMessage = "cancelled", "cancelled at the terminal or at CodePay"
			}
			return nil
		}, "cancelled")
	default:
		return nil, fmt.Errorf("apply order: unknown trans_status %d", o.TransStatus)
	}
}

func fillResult(p *store.Payment, o *codepay.Order, status string) {
	p.TransStatus = status
	if o.TransNo != "" {
		p.TransNo = o.TransNo
	}
	if o.AuthCode != "" {
		p.AuthCode = o.AuthCode
	}
	if o.RefNo != "" {
		p.RefNo = o.RefNo
	}
	if o.CardNo != "" {
		p.MaskedPAN = maskPAN(o.CardNo)
	}
	if o.PayMethodID != "" {
		p.CardBrand = o.PayMethodID
	}
	if o.EntryMode != "" {
		p.EntryMode = o.EntryMode
	}
	fillReceiptCodePay(p, o)
}

// maskPAN keeps at most the first 6 and last 4 digits of whatever the cloud
// returned, so a full PAN can never reach the journal even if a provider sent one.
func maskPAN(s string) string {
	if pan.AllDigits(s) {
		return pan.Mask(s) // a bare number: the one masking rule
	}
	// Already masked or formatted ("476173******0119", "4761 7390 ..."):
	// keep at most the first 6 and last 4 digits.
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits <= 10 {
		return s
	}
	out := []rune(s)
	seen := 0
	for i, r := range out {
		if r >= '0' && r <= '9' {
			seen++
			if seen > 6 && seen <= digits-4 {
				out[i] = '*'
			}
		}
	}
	return string(out)
}

// transition writes one state change with its event and publishes it.
func (a *Agent) transition(ctx context.Context, orderNo string, from []string, mutate func(*store.Payment) error, detail string) (*store.Payment, error) {
	wctx := context.WithoutCancel(ctx)
	// Published from the commit, in seq order with every other change.
	p, err := a.db.TransitionThen(wctx, orderNo, from, mutate, store.Event{Kind: "state", Detail: detail, At: a.clock.Now()}, a.publishPayment)
	if err != nil {
		if !errors.Is(err, store.ErrStateChanged) {
			a.log.Error("journal transition", "merchant_order_no", orderNo, "err", err)
		}
		return p, err
	}
	a.log.Info("payment", "merchant_order_no", orderNo, "state", p.State, "detail", detail)
	if m := a.cfg.Metrics; m != nil {
		m.PaymentState(p.State, p.Route)
		if p.State == StateUnknown {
			m.Reconciliation()
		}
	}
	return p, nil
}

func (a *Agent) fail(ctx context.Context, p *store.Payment, from []string, code, msg string) (*store.Payment, error) {
	return a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
		p.State = StateFailed
		p.ErrorCode, p.ErrorMessage = code, msg
		return nil
	}, "failed: "+code)
}

// event appends a journal event without a state change.
func (a *Agent) event(ctx context.Context, orderNo, kind, detail string) {
	if err := a.db.AppendEvent(context.WithoutCancel(ctx), orderNo, store.Event{Kind: kind, Detail: detail, At: a.clock.Now()}); err != nil {
		a.log.Error("journal event", "merchant_order_no", orderNo, "err", err)
	}
}

// optionsOf decodes a payment's stored options.
func optionsOf(p *store.Payment) Options {
	var o Options
	if p.OptionsJSON != "" {
		_ = jsonUnmarshal([]byte(p.OptionsJSON), &o)
	}
	return o
}
