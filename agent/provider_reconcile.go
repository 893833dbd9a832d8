package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/posbridge/posbridge/cloud/idpay"
	"github.com/posbridge/posbridge/cloud/qrwallet"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// providerAnswer is a provider's answer about one order, reduced to what
// the agent acts on.
type providerAnswer struct {
	paid     bool
	failed   bool // the provider closed the order unpaid (PAY_CANCEL)
	declined bool // the provider refused the customer's payment (link: trans_status 1)
	expired  bool // derived: still unpaid past its expiry
	pending  bool
	transNo  string
	notFound bool
	what     string // for the journal
	// closesItself: the provider closes an unpaid order at its expiry and
	// says so (CodePay: trans_status 1 ORDER_EXPIRED; Bindo: failed 110010);
	// a pending answer past the expiry is not taken as expired.
	closesItself bool
	// payURL is the customer's page as the query reports it (Bindo's
	// pay_redirect_url): it recovers a link whose create answer was lost.
	payURL string
}

// reconcileProvider takes one step of a parked qr or va payment (sale or
// refund) in the background reconciler.
func (a *Agent) reconcileProvider(ctx context.Context, p *store.Payment, lastErr map[string]string) {
	now := a.clock.Now()
	if a.live.live(p.MerchantOrderNo) {
		_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, now.Add(a.cfg.PollInterval), p.Attempts))
		return
	}
	if (p.Route == RouteQRWallet && a.cfg.QRWallet == nil) || (p.Route == RouteIDPay && a.cfg.IDPay == nil) || (p.Route == RouteBindoLink && a.cfg.BindoLink == nil) {
		a.log.Error("provider payment in the journal but its provider is not configured", "merchant_order_no", p.MerchantOrderNo, "route", p.Route)
		_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, now.Add(maxParkedInterval), p.Attempts))
		return
	}
	if p.Type == TypeRefund && p.Route == RouteBindoLink {
		a.reconcileBindoLinkRefund(ctx, p, lastErr) // provider_bindorefund.go
		return
	}
	if p.Type == TypeRefund {
		a.reconcileQRRefund(ctx, p, lastErr)
		return
	}
	if p.State == StateSending {
		// Journaled as "may have left" but no answer journaled: a restart or
		// a journal failure. Only a query can tell; never a second create.
		_, _ = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateUnknown
			if p.CreateEndedAt.IsZero() {
				p.CreateEndedAt = now
			}
			p.NextCheckAt = now
			return nil
		}, "the create may have left before its answer was journaled (restart or journal failure); reconciling by query, never by a second create")
		return
	}
	ans, err := a.queryProvider(ctx, p)
	if err != nil {
		if msg := err.Error(); lastErr[p.MerchantOrderNo] != msg {
			lastErr[p.MerchantOrderNo] = msg
			a.event(ctx, p.MerchantOrderNo, "error", "query got no answer: "+msg)
		}
		attempts := p.Attempts + 1
		wait := max(min(backoff(a.cfg.PollInterval, attempts)*2, maxParkedInterval), a.pollFloor(p.Route))
		_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, now.Add(wait), attempts))
		return
	}
	delete(lastErr, p.MerchantOrderNo)
	a.applyProviderAnswer(ctx, p, ans, now)
}

// queryProvider asks the provider about a payment; an error is no answer.
func (a *Agent) queryProvider(ctx context.Context, p *store.Payment) (providerAnswer, error) {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	switch p.Route {
	case RouteCodePayLink:
		return a.queryLink(callCtx, p)
	case RouteBindoLink:
		return a.queryBindoLink(callCtx, p)
	}
	if p.Route == RouteQRWallet {
		st, err := a.cfg.QRWallet.PaymentStatus(callCtx, p.MerchantOrderNo)
		switch {
		case qrwallet.IsNotFound(err):
			return providerAnswer{notFound: true, what: err.Error()}, nil
		case err != nil:
			return providerAnswer{}, err
		case st.Amount.Minor != 0 && st.Amount.Minor != p.AmountMinor:
			return providerAnswer{}, fmt.Errorf("payment status reports amount %s for a payment of %s", money.Format(st.Amount.Minor, st.Amount.Currency), money.Format(p.AmountMinor, st.Amount.Currency))
		}
		return providerAnswer{paid: st.Paid, pending: !st.Paid, transNo: st.TransactionID, what: "payment status is_success " + fmt.Sprint(st.Paid)}, nil
	}
	pay, err := a.cfg.IDPay.QueryPayment(callCtx, idpay.QueryRequest{OrderNo: p.MerchantOrderNo, ExpiresAt: p.ExpiresAt})
	switch {
	case idpay.IsOrderNotFound(err):
		return providerAnswer{notFound: true, what: err.Error()}, nil
	case err != nil:
		return providerAnswer{}, err
	case pay.Amount != nil && pay.Amount.Minor != p.AmountMinor:
		return providerAnswer{}, fmt.Errorf("the gateway reports amount %s for a payment of %s", money.Format(pay.Amount.Minor, idpay.IDR), money.Format(p.AmountMinor, idpay.IDR))
	}
	ans := providerAnswer{transNo: pay.PlatOrderNo, what: "order status " + pay.Status}
	switch pay.State {
	case idpay.StatePaid:
		ans.paid = true
	case idpay.StateFailed:
		ans.failed = true
	case idpay.StateExpired:
		// Derived by the client: still unpaid expiry_grace past the expiry.
		ans.expired = true
		ans.what += ", past its expiry"
	case idpay.StatePending:
		ans.pending = true
	default:
		return providerAnswer{}, fmt.Errorf("the gateway answered status %q, which is not an outcome (never a failure); asking again", pay.Status)
	}
	return ans, nil
}

// applyProviderAnswer moves a payment by an answer about its order.
func (a *Agent) applyProviderAnswer(ctx context.Context, p *store.Payment, ans providerAnswer, now time.Time) {
	open := []string{StateOnTerminal, StateUnknown}
	switch {
	case ans.paid:
		_, _ = a.approveProvider(ctx, p, ans.transNo, "approved: the provider shows the order paid ("+ans.what+")")
	case ans.notFound:
		a.providerNotFound(ctx, p, ans, now)
	case ans.failed:
		_, _ = a.transition(ctx, p.MerchantOrderNo, open, func(p *store.Payment) error {
			p.State = StateCancelled
			p.ErrorCode, p.ErrorMessage = "cancelled", "the provider cancelled the order ("+ans.what+"); the merchant keeps no money"
			return nil
		}, "cancelled at the provider")
	case ans.declined:
		_, _ = a.transition(ctx, p.MerchantOrderNo, open, func(p *store.Payment) error {
			p.State = StateDeclined
			p.ErrorCode, p.ErrorMessage = "declined", "the provider declined the customer's payment ("+ans.what+"); nothing was charged"
			if ans.transNo != "" {
				p.TransNo = ans.transNo
			}
			return nil
		}, "declined at the provider")
	case ans.expired || (ans.pending && !ans.closesItself && now.After(p.ExpiresAt.Add(closeGrace))):
		if !ans.expired && !a.scheduleLateCheck(ctx, p, now, 0) {
			return // asked again at the next tick: never expired without its late checks
		}
		_, _ = a.transition(ctx, p.MerchantOrderNo, open, func(p *store.Payment) error {
			p.State = StateExpired
			p.ErrorCode = "expired"
			p.ErrorMessage = fmt.Sprintf("the customer did not pay before %s (%s); nothing was charged", p.ExpiresAt.UTC().Format(time.RFC3339), ans.what)
			return nil
		}, "expired unpaid")
	default:
		a.providerPending(ctx, p, ans, now)
		if lostLink(p) {
			a.withdrawLostLink(ctx, p.MerchantOrderNo)
		}
	}
}

// providerNotFound applies a definitive "no such order": trusted only
// CreateSettle after the create's exchange ended, then the payment fails,
// nothing charged (never a second create).
func (a *Agent) providerNotFound(ctx context.Context, p *store.Payment, ans providerAnswer, now time.Time) {
	if settled := p.CreateEndedAt.Add(a.cfg.CreateSettle); p.CreateEndedAt.IsZero() || now.Before(settled) {
		next := now.Add(a.cfg.PollInterval)
		if settled.After(next) {
			next = settled
		}
		_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, next, p.Attempts))
		return
	}
	open := []string{StateOnTerminal, StateUnknown}
	msg := fmt.Sprintf("%s has no record of this order (%s) %s after the create ended; nothing was charged", p.Route, ans.what, now.Sub(p.CreateEndedAt).Round(time.Millisecond))
	if p.ErrorCode == CodeProviderRefused {
		_, _ = a.fail(ctx, p, open, CodeProviderRefused, p.ErrorMessage+"; "+msg)
		return
	}
	_, _ = a.fail(ctx, p, open, CodeProviderUnavailable, msg)
}

// providerPending applies "not paid yet": the payment waits for the
// customer (on_terminal) and is asked again with back-off, at least the
// provider's interval apart, and once right after its expiry.
func (a *Agent) providerPending(ctx context.Context, p *store.Payment, ans providerAnswer, now time.Time) {
	attempts := p.Attempts + 1
	next := now.Add(max(min(backoff(a.cfg.PollInterval, attempts), maxParkedInterval), a.pollFloor(p.Route)))
	if deadline := p.ExpiresAt.Add(closeGrace + time.Millisecond); p.ExpiresAt.After(now) && deadline.Before(next) {
		next = deadline
	} else if !p.ExpiresAt.After(now) && !ans.closesItself {
		next = now.Add(closeGrace + time.Millisecond)
	}
	if p.State == StateOnTerminal {
		_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, next, attempts))
		return
	}
	_, _ = a.transition(ctx, p.MerchantOrderNo, []string{StateOnTerminal, StateUnknown}, func(p *store.Payment) error {
		p.State = StateOnTerminal
		p.Attempts = attempts
		p.NextCheckAt = next
		p.ErrorCode, p.ErrorMessage = "", ""
		if ans.transNo != "" {
			p.TransNo = ans.transNo
		}
		if md, _ := methodOf(p); md.PayURL == "" && ans.payURL != "" {
			md.PayURL = ans.payURL // the link whose create answer was lost
			p.OptionsJSON = md.json()
		}
		return nil
	}, "the provider knows the order ("+ans.what+"); waiting for the customer")
}

// cancelProvider answers payment.cancel of a qr, va or link payment. The
// QR wallet, the VA gateway and Bindo pre-create offer no way to close an
// order, so such a waiting payment cannot be cancelled locally without
// risking a charge nobody records; a CodePay link is closed with
// order.revoker (cancelLink).
func (a *Agent) cancelProvider(ctx context.Context, p *store.Payment) (Payment, error) {
	switch p.State {
	case StateSending, StateUnknown:
		return Payment{}, fmt.Errorf("%w: %s is being sent to %s or reconciled; try again in a moment", ErrNotCancellable, p.MerchantOrderNo, p.Route)
	case StateOnTerminal:
		if p.Route == RouteCodePayLink {
			return a.cancelLink(ctx, p)
		}
		if p.Route == RouteBindoLink {
			// The JS SDK spec has no operation that closes or expires a
			// pre-created order (void is for paid, unsettled sales).
			return Payment{}, fmt.Errorf("%w: %s cannot be cancelled: Bindo offers no way to close a pre-created order; the payment link stays payable until it expires at %s (refund it if the customer pays)",
				ErrNotCancellable, p.MerchantOrderNo, p.ExpiresAt.UTC().Format(time.RFC3339))
		}
		return Payment{}, fmt.Errorf("%w: %s cannot be cancelled: %s offers no way to close the order; it expires at %s (refund it if the customer pays)",
			ErrNotCancellable, p.MerchantOrderNo, p.Route, p.ExpiresAt.UTC().Format(time.RFC3339))
	case StateApproved:
		return Payment{}, fmt.Errorf("%w: %s is already approved; refund it instead (payment.refund)", ErrNotCancellable, p.MerchantOrderNo)
	}
	return Payment{}, fmt.Errorf("%w: %s is already %s", ErrNotCancellable, p.MerchantOrderNo, p.State)
}

// cancelLink closes a CodePay payment link the customer has not paid with
// order.revoker, which "only supports cancel QR transactions and online
// e-commerce transactions" (spec:691-693): CodePay closes the order, or
// refunds the customer if they paid meanwhile. The intent is journaled
// first and the outcome confirmed by order.query, as for any revoke
// (cloudrefund.go).
func (a *Agent) cancelLink(ctx context.Context, p *store.Payment) (Payment, error) {
	cl, ok := a.cloudOrders()
	if !ok {
		return Payment{}, fmt.Errorf("%w: %s cannot be cancelled: this agent's CodePay client cannot close orders; the payment link stays payable until it expires at %s",
			ErrNotCancellable, p.MerchantOrderNo, p.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if !a.claimRevoke(p.MerchantOrderNo) {
		return Payment{}, fmt.Errorf("%w: a cancel of %s is being sent to CodePay", ErrNotCancellable, p.MerchantOrderNo)
	}
	defer a.releaseRevoke(p.MerchantOrderNo)
	return a.sendRevoke(ctx, cl, p.MerchantOrderNo, "a payment link waiting for the customer")
}

// ApplyIDPayCallback takes a verified VA/QRIS gateway callback as a hint:
// it must name a va payment of this journal with the same amount (and
// method and gateway order number, once known); then the reconciler
// queries the gateway at once, and only that answer moves the payment.
// A repeated callback changes nothing more. Anything else is refused with
// ErrNotificationRejected.
func (a *Agent) ApplyIDPayCallback(ctx context.Context, cb *idpay.Callback) error {
	p, err := a.db.GetPayment(ctx, cb.OrderNo)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s is not a payment of this agent", ErrNotificationRejected, cb.OrderNo)
	}
	if err != nil {
		return fmt.Errorf("apply callback: %w", err)
	}
	md, _ := methodOf(p)
	switch {
	case p.Route != RouteIDPay:
		err = fmt.Errorf("the payment went through %s, not the VA/QRIS gateway", p.Route)
	case cb.Amount == nil || cb.Amount.Minor != p.AmountMinor:
		err = fmt.Errorf("the callback's amount does not match the payment's %s", money.Format(p.AmountMinor, idpay.IDR))
	case cb.Method != "" && string(cb.Method) != md.VAMethod:
		err = fmt.Errorf("method %s, the payment is %s", cb.Method, md.VAMethod)
	case p.TransNo != "" && cb.PlatOrderNo != "" && cb.PlatOrderNo != p.TransNo:
		err = fmt.Errorf("gateway order %q, the journal has %q", cb.PlatOrderNo, p.TransNo)
	}
	if err != nil {
		a.log.Warn("idpay callback disagrees with the journal; ignored", "merchant_order_no", p.MerchantOrderNo, "err", err)
		return fmt.Errorf("%w: %s: %w", ErrNotificationRejected, p.MerchantOrderNo, err)
	}
	return a.queryNow(ctx, p, "signed callback says status "+cb.Status)
}

// queryNow applies a verified provider notification bound to p as a hint:
// the reconciler queries the provider at once and only that answer moves
// the payment. A payment already final is left alone (a repeat after it
// ended: already applied).
func (a *Agent) queryNow(ctx context.Context, p *store.Payment, detail string) error {
	if late, err := a.checkLateNow(ctx, p, detail); late {
		return err
	}
	if IsFinal(p.State) {
		return nil
	}
	a.event(ctx, p.MerchantOrderNo, "notification", detail+"; confirming by query")
	if err := a.db.Reschedule(ctx, p.MerchantOrderNo, a.clock.Now(), p.Attempts); err != nil && !errors.Is(err, store.ErrStateChanged) {
		return fmt.Errorf("schedule the query of %s: %w", p.MerchantOrderNo, err)
	}
	a.wakeReconciler()
	return nil
}

// --- refunds of QR wallet payments ------------------------------------

// checkProviderRefund refuses what a qr or va refund cannot be.
func checkProviderRefund(r RefundRequest, orig *store.Payment) error {
	if orig.Route == RouteIDPay {
		return fieldErr("orig_merchant_order_no", "%s was paid through the VA/QRIS gateway, which has no refund operation (its document: refunds are handled offline); refund the customer outside posbridge", orig.MerchantOrderNo)
	}
	switch {
	case r.Via != "":
		return fieldErr("via", "%s is a QR wallet payment: it is refunded through the QR wallet; leave via empty", orig.MerchantOrderNo)
	case orig.Type != TypeSale || orig.State != StateApproved:
		return fieldErr("orig_merchant_order_no", "%s is a %s %s: only an approved QR wallet sale can be refunded", orig.MerchantOrderNo, orig.State, orig.Type)
	case r.Currency != "" && r.Currency != orig.Currency:
		return fieldErr("currency", "%s was paid in %s, not %s", orig.MerchantOrderNo, orig.Currency, r.Currency)
	case len(r.Description) > 128:
		return fieldErr("description", "at most 128 bytes of UTF-8 for a QR wallet refund reason")
	}
	return nil
}

// refundProvider answers payment.refund of a qr or va payment.
func (a *Agent) refundProvider(ctx context.Context, r RefundRequest, orig *store.Payment) (Payment, error) {
	if orig.Route == RouteBindoLink {
		return a.refundBindoLink(ctx, r, orig)
	}
	if err := checkProviderRefund(r, orig); err != nil {
		return Payment{}, err
	}
	md, _ := methodOf(orig)
	return a.journalProviderRefund(ctx, r, orig, providerRefund{
		route: RouteQRWallet, md: methodData{Method: MethodQR, QRMode: md.QRMode}, what: "to the buyer through the QR wallet",
	})
}

// providerRefund is how a provider refund is journaled.
type providerRefund struct {
	route   string
	md      methodData
	transNo string // the refund's own provider id, when known up front
	what    string // for the journal: "through …"
}

// journalProviderRefund journals a refund of orig through a provider as
// sending and parked (the reconciler sends it once and follows it): the
// amount is checked against what is left of orig in one step with
// journaling it, so two refunds sent together cannot both take it.
func (a *Agent) journalProviderRefund(ctx context.Context, r RefundRequest, orig *store.Payment, pr providerRefund) (Payment, error) {
	cur, err := money.LookupCurrency(orig.Currency)
	if err != nil {
		return Payment{}, fmt.Errorf("refund: %w", err)
	}
	a.refundMu.Lock()
	defer a.refundMu.Unlock()
	amount, err := a.refundAmountLocked(ctx, r.Amount, orig, cur)
	if err != nil {
		return Payment{}, err
	}
	desc := r.Description
	if desc == "" {
		desc = defaultCloudRefundDescription
	}
	now := a.clock.Now()
	n := &normalized{orderNo: r.MerchantOrderNo, typ: TypeRefund, terminalSN: pr.route, currency: cur, amount: amount, orig: orig.MerchantOrderNo, description: desc}
	row := &store.Payment{
		MerchantOrderNo: r.MerchantOrderNo, Type: TypeRefund, State: StateSending, Source: r.Source,
		TerminalSN: orig.TerminalSN, Currency: cur.Code, AmountMinor: amount, OrigMerchantOrderNo: orig.MerchantOrderNo,
		Description: desc, Route: pr.route, RequestHash: n.hash(), OptionsJSON: pr.md.json(), TransNo: pr.transNo,
		ExpiresAt: now.Add(a.cfg.OrderExpires), NextCheckAt: now, CreatedAt: now, UpdatedAt: now,
	}
	saved, err := a.db.InsertPaymentThen(ctx, row, store.Event{Kind: "created", ToState: StateSending,
		Detail: fmt.Sprintf("accepted from %s: a refund of %s %s", r.Source, orig.MerchantOrderNo, pr.what), At: now}, a.publishPayment)
	if errors.Is(err, store.ErrDuplicate) && saved != nil {
		return a.sameRefund(saved, r)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("refund: %w", err)
	}
	a.wakeReconciler()
	return a.view(saved), nil
}

// reconcileQRRefund sends or follows a QR wallet refund.
func (a *Agent) reconcileQRRefund(ctx context.Context, p *store.Payment, lastErr map[string]string) {
	now := a.clock.Now()
	if a.refundUnsettled(ctx, p, now, a.submitQRRefund) {
		return
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	st, err := a.cfg.QRWallet.RefundStatus(callCtx, p.OrigMerchantOrderNo, p.MerchantOrderNo)
	cancel()
	switch {
	case err == nil && st.Refunded:
		delete(lastErr, p.MerchantOrderNo)
		_, _ = a.approveProvider(ctx, p, "", "refund approved: the QR wallet shows it refunded")
		return
	case qrwallet.IsNotFound(err) && !now.Before(p.CreateEndedAt.Add(a.cfg.CreateSettle)):
		_, _ = a.fail(ctx, p, []string{StateUnknown, StateOnTerminal}, CodeProviderUnavailable,
			"the QR wallet has no record of this refund ("+err.Error()+"); nothing was refunded")
		return
	case err != nil && !errors.Is(err, qrwallet.ErrOtherRefund) && !qrwallet.IsNotFound(err):
		a.noteNoAnswer(ctx, p, lastErr, "refund status got no answer: ", err)
	}
	a.askAgainLater(ctx, p, now)
}

// refundUnsettled takes the steps of a provider refund before its status is
// asked: one never sent is sent (submit); one that may have left without
// its answer being journaled becomes unknown. It reports whether it acted.
func (a *Agent) refundUnsettled(ctx context.Context, p *store.Payment, now time.Time, submit func(context.Context, *store.Payment)) bool {
	switch {
	case p.State == StateSending && !p.CreateSent:
		submit(ctx, p)
		return true
	case p.State == StateSending:
		_, _ = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State, p.CreateEndedAt, p.NextCheckAt = StateUnknown, now, now
			return nil
		}, "a refund may have left before its answer was journaled (restart or journal failure); reconciling by query")
		return true
	}
	return false
}

// noteNoAnswer journals a query's failure once per distinct error.
func (a *Agent) noteNoAnswer(ctx context.Context, p *store.Payment, lastErr map[string]string, what string, err error) {
	if msg := err.Error(); lastErr[p.MerchantOrderNo] != msg {
		lastErr[p.MerchantOrderNo] = msg
		a.event(ctx, p.MerchantOrderNo, "error", what+msg)
	}
}

// askAgainLater schedules the next query of a parked refund, with back-off.
func (a *Agent) askAgainLater(ctx context.Context, p *store.Payment, now time.Time) {
	attempts := p.Attempts + 1
	_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, now.Add(min(backoff(a.cfg.PollInterval, attempts)*2, maxParkedInterval)), attempts))
}

// refundOriginal is the original of a refund about to be sent, or nil when
// the refund must not be sent now: the provider was unreachable for
// QueueTimeout (the refund fails, nothing refunded) or the journal did not
// answer (asked again shortly).
func (a *Agent) refundOriginal(ctx context.Context, p *store.Payment, now time.Time, provider string) *store.Payment {
	if p.Attempts > 0 && now.Sub(p.CreatedAt) >= a.cfg.QueueTimeout {
		_, _ = a.fail(ctx, p, []string{StateSending}, CodeProviderUnavailable, fmt.Sprintf("%s could not be reached for %s; nothing was refunded", provider, a.cfg.QueueTimeout))
		return nil
	}
	orig, err := a.db.GetPayment(ctx, p.OrigMerchantOrderNo)
	if err != nil {
		_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, now.Add(journalRetry), p.Attempts))
		return nil
	}
	return orig
}

// refundNotSent records that a refund never left (connection refused): it
// is sent again with back-off.
func (a *Agent) refundNotSent(ctx context.Context, p *store.Payment, ended time.Time, err error) {
	_, _ = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
		p.CreateSent = false
		p.Attempts++
		p.NextCheckAt = ended.Add(backoff(a.cfg.PollInterval, p.Attempts))
		return nil
	}, "will retry: nothing was sent ("+err.Error()+")")
}

// submitQRRefund journals "may have left", sends the refund and applies the
// answer.
func (a *Agent) submitQRRefund(ctx context.Context, p *store.Payment) {
	now := a.clock.Now()
	orig := a.refundOriginal(ctx, p, now, "the QR wallet")
	if orig == nil {
		return
	}
	var refunded int64
	if refunds, err := a.db.RefundsOf(ctx, orig.MerchantOrderNo); err == nil {
		for _, rf := range refunds {
			if rf.State == StateApproved && rf.MerchantOrderNo != p.MerchantOrderNo {
				refunded += rf.AmountMinor
			}
		}
	} else {
		_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, now.Add(journalRetry), p.Attempts))
		return
	}
	p, err := a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
		p.CreateSent = true
		p.NextCheckAt = now.Add(2 * callTimeout)
		return nil
	}, "sending the refund to the QR wallet")
	if err != nil {
		return
	}
	md, _ := methodOf(orig)
	kind := qrwallet.KindNative
	if md.QRMode == QRModeQuick {
		kind = qrwallet.KindQuickPay
	}
	cur := a.cfg.QRWallet.Currency()
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	res, err := a.cfg.QRWallet.Refund(callCtx, qrwallet.RefundRequest{
		OutTradeNo: orig.MerchantOrderNo, OutRefundNo: p.MerchantOrderNo, Kind: kind,
		Amount:         money.Amount{Minor: p.AmountMinor, Currency: cur},
		PaidAmount:     money.Amount{Minor: orig.AmountMinor, Currency: cur},
		RefundedAmount: money.Amount{Minor: refunded, Currency: cur},
		Reason:         p.Description,
	})
	cancel()
	ended := a.clock.Now()
	var ge *qrwallet.GatewayError
	switch {
	case err == nil && res.Done:
		_, _ = a.approveProvider(ctx, p, res.TransactionID, "refund approved by the QR wallet")
	case errors.Is(err, qrwallet.ErrNotSent):
		a.refundNotSent(ctx, p, ended, err)
	case errors.Is(err, qrwallet.ErrInvalidRequest):
		_, _ = a.fail(ctx, p, []string{StateSending}, "invalid_request", err.Error()+"; nothing was sent")
	default:
		detail := "outcome of the refund unknown; reconciling by refund status"
		if err != nil {
			detail = "outcome of the refund unknown (" + err.Error() + "); reconciling by refund status"
		}
		if errors.As(err, &ge) {
			detail = "the QR wallet refused the refund (" + ge.Message + "); confirming by refund status"
		}
		_, _ = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State = StateUnknown
			p.CreateEndedAt = ended
			p.NextCheckAt = ended
			if ge != nil {
				p.ErrorCode, p.ErrorMessage = CodeProviderRefused, ge.Message
			}
			return nil
		}, detail)
		a.wakeReconciler()
	}
}
