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
			w.sleep(ctx, time.Second)
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

// drive moves one payment forward until it is final or ctx ends.
func (w *worker) drive(ctx context.Context, p *store.Payment) {
	a := w.a
	interval := a.cfg.PollInterval
	for ctx.Err() == nil {
		cur, err := a.db.GetPayment(ctx, p.MerchantOrderNo)
		if err != nil {
			a.log.Error("read payment", "merchant_order_no", p.MerchantOrderNo, "err", err)
			w.sleep(ctx, time.Second)
			continue
		}
		p = cur
		if IsFinal(p.State) {
			return
		}
		switch p.State {
		case StateQueued:
			w.send(ctx, p)
			interval = a.cfg.PollInterval
		case StateSending:
			if p.CreateSent {
				// A create may have left before a crash: find out, never resend.
				a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
					p.State = StateUnknown
					return nil
				}, "create order may have been sent before a restart; reconciling by query")
				continue
			}
			w.send(ctx, p)
		case StateOnTerminal, StateUnknown:
			w.sleep(ctx, interval)
			if ctx.Err() != nil {
				return
			}
			w.poll(ctx, p)
			if interval = interval * 5 / 4; interval > maxPoll {
				interval = maxPoll
			}
			if limit := 4 * a.cfg.PollInterval; interval > limit && a.clock.Now().Before(p.ExpiresAt) {
				interval = limit
			}
		default:
			a.log.Error("payment in unexpected state", "merchant_order_no", p.MerchantOrderNo, "state", p.State)
			return
		}
	}
}

// send pushes the create order to CodePay. The journal says "sending, create
// may have been sent" before the call, so a crash at any point leads to a
// query, never to a second create.
func (w *worker) send(ctx context.Context, p *store.Payment) {
	a := w.a
	now := a.clock.Now()
	if p.State == StateQueued && !now.Before(p.ExpiresAt) {
		a.transition(ctx, p.MerchantOrderNo, []string{StateQueued}, func(p *store.Payment) error {
			p.State = StateExpired
			p.ErrorCode, p.ErrorMessage = "expired", "expired in the queue before the terminal was free"
			return nil
		}, "expired in the queue")
		return
	}
	p, err := a.transition(ctx, p.MerchantOrderNo, []string{StateQueued, StateSending}, func(p *store.Payment) error {
		p.State = StateSending
		p.CreateSent = true
		if p.TransNo == "" && p.Attempts == 0 {
			p.ExpiresAt = now.Add(a.cfg.OrderExpires)
		}
		return nil
	}, "sending create order")
	if err != nil {
		return
	}
	a.publishTerminal(p.TerminalSN)
	req, err := w.createRequest(p)
	if err != nil {
		a.fail(ctx, p, []string{StateSending}, "invalid_request", err.Error())
		return
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	resp, err := a.cp.CreateOrder(callCtx, req)
	cancel()
	switch {
	case err == nil:
		online := resp.TerminalOnlineStatus != codepay.TerminalOffline
		a.setOnline(p.TerminalSN, online)
		detail := "on the terminal, trans_no " + resp.TransNo
		if !online {
			detail = "queued at CodePay; terminal is offline, waiting for it"
		}
		a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateOnTerminal
			p.TransNo = resp.TransNo
			p.TransStatus = "9"
			return nil
		}, detail)
	case errors.Is(err, codepay.ErrNotSent):
		// Nothing left this machine: safe to send again after a pause,
		// until the payment expires.
		a.event(ctx, p.MerchantOrderNo, "error", "CodePay unreachable, create not sent: "+err.Error())
		if a.fallbackAllowed(optionsOf(p)) && a.sinceSent(p) >= a.cfg.UnreachableGrace {
			a.fail(ctx, p, []string{StateSending}, CodeCodePayUnavailable, "CodePay could not be reached; nothing was charged")
			return
		}
		if !a.clock.Now().Before(p.ExpiresAt) {
			a.fail(ctx, p, []string{StateSending}, "codepay_unavailable", "CodePay could not be reached before the payment expired; nothing was charged")
			return
		}
		a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.CreateSent = false
			p.Attempts++
			return nil
		}, "will retry: nothing was sent")
		w.sleep(ctx, backoff(a.cfg.PollInterval, p.Attempts))
	case errors.Is(err, codepay.ErrInvalidRequest):
		a.fail(ctx, p, []string{StateSending}, "invalid_request", err.Error())
	default:
		var ge *codepay.GatewayError
		if errors.As(err, &ge) {
			a.fail(ctx, p, []string{StateSending}, "codepay_refused", fmt.Sprintf("CodePay refused the order: %s (code %s)", ge.Msg, ge.Code))
			return
		}
		// Unknown outcome: reconcile by query.
		a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateUnknown
			return nil
		}, "outcome of create order unknown ("+err.Error()+"); reconciling by query")
	}
}

func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxPoll; i++ {
		d *= 2
	}
	return min(d, maxPoll)
}

func (w *worker) createRequest(p *store.Payment) (codepay.CreateOrderRequest, error) {
	a := w.a
	var opts Options
	if p.OptionsJSON != "" {
		if err := jsonUnmarshal([]byte(p.OptionsJSON), &opts); err != nil {
			return codepay.CreateOrderRequest{}, fmt.Errorf("decode stored options: %w", err)
		}
	}
	tt := transTypes[p.Type]
	r := codepay.CreateOrderRequest{
		TerminalSN:          p.TerminalSN,
		MerchantOrderNo:     p.MerchantOrderNo,
		TransType:           tt,
		Amount:              moneyAmount(p.AmountMinor, w.term),
		OrigMerchantOrderNo: p.OrigMerchantOrderNo,
		Description:         p.Description,
		NotifyURL:           a.cfg.NotifyURL,
		Expires:             a.cfg.OrderExpires,
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

// poll queries the order once and applies the answer.
func (w *worker) poll(ctx context.Context, p *store.Payment) {
	a := w.a
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	o, err := a.cp.QueryOrder(callCtx, p.MerchantOrderNo, "")
	cancel()
	now := a.clock.Now()
	if err != nil {
		var ge *codepay.GatewayError
		if errors.As(err, &ge) && p.State == StateUnknown && now.After(p.ExpiresAt.Add(a.cfg.UnknownGiveUp)) {
			// CodePay answers, definitely, that it knows no such order, long
			// after it could have been paid: the create never arrived.
			a.fail(ctx, p, []string{StateUnknown}, "codepay_unavailable",
				fmt.Sprintf("CodePay has no record of this order (%s: %s); nothing was charged", ge.Code, ge.Msg))
			return
		}
		a.transition(ctx, p.MerchantOrderNo, []string{p.State}, func(p *store.Payment) error {
			p.Attempts++
			return nil
		}, "query failed: "+err.Error())
		return
	}
	np, err := a.applyOrder(ctx, p, o)
	if err != nil || np == nil || IsFinal(np.State) {
		return
	}
	// Waiting for an offline terminal while a fallback is possible: withdraw
	// the order so the POS can take the card through Bindo.
	if np.TransStatus == "9" && a.fallbackAllowed(optionsOf(np)) && a.sinceSent(np) >= a.cfg.OfflineGrace {
		if st, err := a.reg.Status(np.TerminalSN); err == nil && st.OnlineKnown && !st.Online {
			callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
			_, err := a.cp.CloseOrder(callCtx, codepay.CloseOrderRequest{TerminalSN: np.TerminalSN, MerchantOrderNo: np.MerchantOrderNo, Description: "terminal offline"})
			cancel()
			if err != nil {
				a.event(ctx, np.MerchantOrderNo, "error", "withdrawing the order from the offline terminal failed: "+err.Error())
				return
			}
			a.transition(ctx, np.MerchantOrderNo, []string{StateOnTerminal}, func(p *store.Payment) error {
				p.State, p.TransStatus = StateFailed, "3"
				p.ErrorCode = CodeCodePayUnavailable
				p.ErrorMessage = "terminal " + p.TerminalSN + " stayed offline; the order was withdrawn at CodePay and nothing was charged"
				return nil
			}, "withdrawn from the offline terminal")
			return
		}
	}
	// Still waiting on the terminal long past expires: take it back.
	if np.TransStatus == "9" && now.After(np.ExpiresAt.Add(closeGrace)) {
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
		_, err := a.cp.CloseOrder(callCtx, codepay.CloseOrderRequest{TerminalSN: np.TerminalSN, MerchantOrderNo: np.MerchantOrderNo, Description: "expired"})
		cancel()
		if err != nil {
			a.event(ctx, np.MerchantOrderNo, "error", "closing the expired order failed: "+err.Error())
			return
		}
		a.transition(ctx, np.MerchantOrderNo, []string{StateOnTerminal, StateUnknown}, func(p *store.Payment) error {
			p.State = StateExpired
			p.TransStatus = "3"
			p.ErrorCode, p.ErrorMessage = "expired", "the terminal did not take the payment before it expired"
			return nil
		}, "expired: closed at CodePay")
	}
}

// applyOrder maps a CodePay order (from a query or a notification) onto the
// payment. Only non-final payments change, so a final state never regresses.
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
		if p.State == StateOnTerminal && p.TransStatus == status && p.TransNo == o.TransNo {
			return p, nil
		}
		return a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateOnTerminal
			p.TransStatus = status
			if o.TransNo != "" {
				p.TransNo = o.TransNo
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
			fillResult(p, o, status)
			if expired {
				p.State = StateExpired
				p.ErrorCode, p.ErrorMessage = "expired", "the payment expired before the customer paid"
				if o.TransErrorMsg != "" {
					p.ErrorMessage += ": " + o.TransErrorMsg
				}
				return nil
			}
			p.State = StateDeclined
			p.ErrorCode, p.ErrorMessage = o.TransErrorCode, o.TransErrorMsg
			if p.ErrorCode == "" {
				p.ErrorCode = "declined"
			}
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
}

// maskPAN keeps at most the first 6 and last 4 digits of whatever the cloud
// returned, so a full PAN can never reach the journal even if a provider sent one.
func maskPAN(s string) string {
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
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	wctx := context.WithoutCancel(ctx)
	p, err := a.db.Transition(wctx, orderNo, from, mutate, store.Event{Kind: "state", Detail: detail, At: a.clock.Now()})
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
	a.publishPayment(p)
	return p, nil
}

func (a *Agent) fail(ctx context.Context, p *store.Payment, from []string, code, msg string) {
	a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
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
