package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/store"
)

// Late checks (migration 0009, docs/reliability.md "Payments paid after
// they expired"). The QR wallet never closes an order: its document gives
// native QR codes no expiry and offers no cancel. A qr payment still unpaid
// past its local expiry ends expired — the cashier must be able to move on —
// but the customer may still pay the code later. So the order stays under
// watch for Config.LateCheckWindow: the reconciler asks with back-off, and
// if the provider shows it paid, the payment gets an alert (a person records
// the sale or refunds it). The payment's state never changes again: final
// states are final.

// A verified notification about a payment that ended expired starts a
// late check at once (checkLateNow): the VA/QRIS gateway's document gives
// its orders no expired status and never says a late transfer is refused,
// and a signed "paid" must never be acknowledged and dropped.

// lateProviderName names a provider in an alert a person reads.
func lateProviderName(route string) string {
	switch route {
	case RouteQRWallet:
		return "the QR wallet"
	case RouteIDPay:
		return "the VA/QRIS gateway"
	case RouteCodePayLink, RouteCodePay:
		return "CodePay"
	case RouteBindoLink, RouteBindo:
		return "Bindo"
	}
	return route
}

// checkLateNow takes a verified notification (detail says what it said)
// about a payment that ended expired as a reason to ask the provider at
// once: the reconciler's late check asks, only its answer counts, and a
// payment found paid gets the alert (its state stays expired). It reports
// whether p was such a payment; an error means the journal refused, and the
// notification should be answered so that the provider sends it again.
func (a *Agent) checkLateNow(ctx context.Context, p *store.Payment, detail string) (bool, error) {
	if p.State != StateExpired || hasLateAlert(p) || !isProviderRoute(p.Route) {
		return false, nil
	}
	return true, a.askLateNow(ctx, p, detail+", after the payment expired")
}

// askLateNow makes a late check of p due at once (adding one, or bringing
// it forward), journals why (detail) and wakes the reconciler, which asks
// the provider (reconcileLateCheck). An error means the journal refused.
func (a *Agent) askLateNow(ctx context.Context, p *store.Payment, detail string) error {
	now := a.clock.Now()
	if err := a.db.LateCheckNow(ctx, p.MerchantOrderNo, now, now.Add(a.cfg.LateCheckWindow)); err != nil {
		return fmt.Errorf("check %s for a late payment: %w", p.MerchantOrderNo, err)
	}
	a.event(ctx, p.MerchantOrderNo, "notification", detail+"; asking "+watchedProvider(p)+" whether the customer paid late")
	a.wakeReconciler()
	return nil
}

// spoken is a watch's length as a person says it: "10 minutes", "24 hours".
func spoken(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return "moments"
}

// endedAs says how a watched payment ended, after "after it".
func endedAs(state string) string {
	if state == StateDeclined {
		return "was declined"
	}
	return state
}

// lateCheckMax bounds the back-off between late checks.
const lateCheckMax = 30 * time.Minute

// lateCheckInterval is the wait before the attempts-th late check.
func (a *Agent) lateCheckInterval(attempts int) time.Duration {
	d := 4 * a.cfg.PollInterval
	for i := 0; i < attempts && d < lateCheckMax; i++ {
		d *= 2
	}
	return min(d, lateCheckMax)
}

// declinedQuickPayWatch is how long a quick pay the wallet refused while
// its status showed it unpaid is still checked for a late payment: the
// payer may have been entering the PIN (the spec's 45 s wait, line 58).
const declinedQuickPayWatch = 10 * time.Minute

// scheduleLateCheck records, before the payment is marked expired (or
// declined), that its order stays under watch for window (0: the
// configured late_check_window); false when the journal refused (the
// payment is then left open and looked at again).
func (a *Agent) scheduleLateCheck(ctx context.Context, p *store.Payment, now time.Time, window time.Duration) bool {
	if window <= 0 {
		window = a.cfg.LateCheckWindow
	}
	if err := a.db.AddLateCheck(ctx, p.MerchantOrderNo, now.Add(a.lateCheckInterval(0)), now.Add(window)); err != nil {
		a.log.Error("schedule late checks; the payment stays open", "merchant_order_no", p.MerchantOrderNo, "err", err)
		_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, now.Add(journalRetry), p.Attempts))
		return false
	}
	a.wakeReconciler() // it may be asleep until later than the first check
	return true
}

// reconcileLateCheck takes one late check: it asks the provider about an
// expired order once.
func (a *Agent) reconcileLateCheck(ctx context.Context, c store.LateCheck) {
	now := a.clock.Now()
	end := func(detail string) {
		ev := store.Event{}
		if detail != "" {
			ev = store.Event{Kind: "late_check", Detail: detail, At: now}
		}
		if err := a.db.EndLateCheck(ctx, c.MerchantOrderNo, ev); err != nil {
			a.log.Error("end late check", "merchant_order_no", c.MerchantOrderNo, "err", err)
		}
	}
	p, err := a.db.GetPayment(ctx, c.MerchantOrderNo)
	switch {
	case errors.Is(err, store.ErrNotFound):
		end("") // archived: nothing left to watch
		return
	case err != nil:
		_ = a.db.RescheduleLateCheck(ctx, c.MerchantOrderNo, now.Add(journalRetry), c.Attempts)
		return
	case !IsFinal(p.State):
		// Scheduled just before the payment was to expire, and it has not
		// (a restart in between): the reconciler still follows it.
		_ = a.db.RescheduleLateCheck(ctx, c.MerchantOrderNo, now.Add(a.lateCheckInterval(c.Attempts)), c.Attempts)
		return
	case !lateWatched(p) || hasLateAlert(p):
		end("")
		return
	case !now.Before(c.Until):
		end(fmt.Sprintf("no longer checked for a late payment: %s still showed the order unpaid %s after it %s", watchedProvider(p), spoken(c.Until.Sub(c.CreatedAt)), endedAs(p.State)))
		return
	case p.Route == RouteCodePay || p.Route == RouteBindo:
		if a.lateCheckCodePay(ctx, p, end) {
			return
		}
		_ = a.db.RescheduleLateCheck(ctx, c.MerchantOrderNo, now.Add(a.lateCheckInterval(c.Attempts+1)), c.Attempts+1)
		return
	}
	ans, err := a.queryProvider(ctx, p)
	switch {
	case err != nil:
		a.log.Warn("late check got no answer", "merchant_order_no", p.MerchantOrderNo, "err", err)
	case ans.paid:
		if a.lateCheckPaid(ctx, p, ans, now) {
			end("")
			return
		}
	case ans.notFound:
		end(lateProviderName(p.Route) + " no longer knows the order (" + ans.what + "); no longer checked for a late payment")
		return
	case !ans.pending:
		end("the order ended unpaid at " + lateProviderName(p.Route) + " (" + ans.what + "); no longer checked for a late payment")
		return
	}
	_ = a.db.RescheduleLateCheck(ctx, c.MerchantOrderNo, now.Add(a.lateCheckInterval(c.Attempts+1)), c.Attempts+1)
}

// lateWatched reports whether a late check still has something to watch:
// a provider order that ended expired (or a refused quick pay, declined),
// or a CodePay card payment posbridge failed on CodePay's "no record" —
// in whatever state the Bindo fallback has taken it since.
func lateWatched(p *store.Payment) bool {
	if p.Route == RouteCodePay || p.Route == RouteBindo {
		return IsFinal(p.State)
	}
	return p.State == StateExpired || p.State == StateDeclined
}

// watchedProvider names the provider a late check asks about p.
func watchedProvider(p *store.Payment) string {
	if p.Route == RouteBindo {
		return "CodePay" // a card payment CodePay was given up on
	}
	return lateProviderName(p.Route)
}

// lateCheckCodePay asks CodePay once about a card payment it failed on
// "no record": a create held on the way may have reached it since. An
// order no terminal has taken yet (status 9) is closed, so nobody pays it;
// a signed "completed" for the payment's amount raises the alert
// ("Approved after it ended", or "Paid twice" when the Bindo fallback
// approved it); an order CodePay closed or cancelled ends the watch. It
// reports whether the watch ended.
func (a *Agent) lateCheckCodePay(ctx context.Context, p *store.Payment, end func(string)) bool {
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	o, err := a.cp.QueryOrder(callCtx, p.MerchantOrderNo, "")
	cancel()
	switch {
	case codepay.IsOrderNotFound(err):
		return false // still no record: keep watching
	case err != nil:
		a.log.Warn("late check got no answer", "merchant_order_no", p.MerchantOrderNo, "err", err)
		return false
	case o.TransStatus == codepay.StatusCompleted && amountMatches(p, o) == nil:
		if err := a.alertApprovedLate(ctx, p, "CodePay", "trans_no "+o.TransNo); err != nil {
			a.log.Error("record a late approval", "merchant_order_no", p.MerchantOrderNo, "err", err)
			return false
		}
		end("")
		return true
	case o.TransStatus == codepay.StatusFailed || o.TransStatus == codepay.StatusCancelled:
		end(fmt.Sprintf("the create reached CodePay after all, and the order ended unpaid (trans_status %d); no longer checked for a late payment", o.TransStatus))
		return true
	case o.TransStatus == codepay.StatusCreated:
		// Not taken by a terminal yet: closed before anyone pays an order
		// posbridge no longer follows (the payment may have been taken
		// through the Bindo fallback meanwhile).
		callCtx, cancel := context.WithTimeout(ctx, callTimeout)
		_, err := a.cp.CloseOrder(callCtx, codepay.CloseOrderRequest{TerminalSN: p.TerminalSN, MerchantOrderNo: p.MerchantOrderNo, Description: "given up by posbridge"})
		cancel()
		if err != nil {
			a.event(ctx, p.MerchantOrderNo, "error", "the create reached CodePay after posbridge gave up on it; closing that order failed: "+err.Error())
			return false // asked again: closed, or taken and followed
		}
		end("the create reached CodePay after posbridge gave up on it; the order was closed at CodePay before a terminal took it, nothing was charged")
		return true
	}
	return false // processing at a terminal: ask again
}

// failNoRecord ends a CodePay card payment failed, codepay_unavailable, on
// CodePay's signed "no record" of it, after scheduling late checks (a
// create held on the way may still reach CodePay and be paid). If the
// journal refuses the late check the payment stays open, to be looked at
// again.
func (a *Agent) failNoRecord(ctx context.Context, p *store.Payment, msg string) error {
	now := a.clock.Now()
	if err := a.db.AddLateCheck(ctx, p.MerchantOrderNo, now.Add(a.lateCheckInterval(0)), now.Add(a.cfg.LateCheckWindow)); err != nil {
		a.log.Error("schedule late checks; the payment stays open", "merchant_order_no", p.MerchantOrderNo, "err", err)
		if !p.NextCheckAt.IsZero() { // parked: not due again at once
			_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, now.Add(journalRetry), p.Attempts))
		}
		return nil
	}
	a.wakeReconciler() // it may be asleep until later than the first check
	_, err := a.fail(ctx, p, []string{StateUnknown}, CodeCodePayUnavailable, msg)
	return err
}

// lateCheckPaid records that an expired payment was paid after all: the
// provider's transaction number and an alert; the state stays expired.
func (a *Agent) lateCheckPaid(ctx context.Context, p *store.Payment, ans providerAnswer, now time.Time) bool {
	txn := ""
	if ans.transNo != "" {
		txn = " (transaction " + ans.transNo + ")"
	}
	alert := fmt.Sprintf(alertPaidAfter+"%s: %s shows this order paid%s after posbridge marked it %s at %s. The money is with the merchant: record the sale, or refund the customer in the provider's merchant portal.",
		endedAs(p.State), lateProviderName(p.Route), txn, p.State, p.UpdatedAt.UTC().Format(time.RFC3339))
	_, err := a.transition(ctx, p.MerchantOrderNo, []string{p.State}, func(p *store.Payment) error {
		p.Alert = alert
		if p.TransNo == "" {
			p.TransNo = ans.transNo
		}
		return nil
	}, "alert: "+alert)
	if err != nil {
		a.log.Error("record a late payment", "merchant_order_no", p.MerchantOrderNo, "err", err)
		return false
	}
	a.log.Warn("payment alert: paid after it ended", "merchant_order_no", p.MerchantOrderNo, "state", p.State, "route", p.Route, "trans_no", ans.transNo, "at", now)
	return true
}

// alertApprovedLate records that a provider shows approved a payment that
// posbridge had ended otherwise (a request that reached the provider after
// it was given up on, "no record" at the time): an alert a person acts on.
// The state stays (final states are final); ref names the provider's
// transaction.
func (a *Agent) alertApprovedLate(ctx context.Context, p *store.Payment, provider, ref string) error {
	alert := fmt.Sprintf(alertApprovedAfter+"%s shows this %s approved (%s) after posbridge recorded it %s at %s (%s). Check it in %s's portal, then record it or reverse it.",
		provider, p.Type, ref, p.State, p.UpdatedAt.UTC().Format(time.RFC3339), p.ErrorMessage, provider)
	if p.State == StateApproved {
		alert = fmt.Sprintf(alertPaidTwice+"%s shows this %s approved (%s) as well as %s, through which posbridge approved it at %s. Refund one of them in its portal.",
			provider, p.Type, ref, lateProviderName(p.Route), p.UpdatedAt.UTC().Format(time.RFC3339))
	}
	_, err := a.transition(ctx, p.MerchantOrderNo, []string{p.State}, func(p *store.Payment) error {
		p.Alert = alert
		return nil
	}, "alert: "+alert)
	if err != nil {
		return fmt.Errorf("record the late approval of %s: %w", p.MerchantOrderNo, err)
	}
	a.log.Warn("payment alert: approved after it ended", "merchant_order_no", p.MerchantOrderNo, "state", p.State, "provider", provider, "ref", ref)
	return nil
}

// The beginnings of the alerts about money found after a payment ended
// (lateCheckPaid, alertApprovedLate): one such alert per payment.
const (
	alertPaidAfter     = "Paid after it "
	alertApprovedAfter = "Approved after it ended: "
	alertPaidTwice     = "Paid twice: "
)

// hasLateAlert reports whether p carries an alert about money found after
// it ended (handled or not): it is not raised twice. Other alerts (an ECR
// result never acknowledged, a cancel that did not take effect) do not
// count; a late payment's alert takes their place (the journal keeps them).
func hasLateAlert(p *store.Payment) bool {
	for _, prefix := range []string{alertPaidAfter, alertApprovedAfter, alertPaidTwice} {
		if strings.HasPrefix(p.Alert, prefix) {
			return true
		}
	}
	return false
}

// endedUnapproved reports whether a verified notification about p may
// reveal a late approval: p ended other than approved and has no such
// alert yet.
func endedUnapproved(p *store.Payment) bool {
	return IsFinal(p.State) && p.State != StateApproved && !hasLateAlert(p)
}

// codepayPaidLate takes a verified notification that CodePay completed an
// order posbridge no longer follows there (paidElsewhere) as a reason for a
// late check at once: its signed query decides (lateCheckCodePay). One
// already recorded in the payment's alert changes nothing more.
func (a *Agent) codepayPaidLate(ctx context.Context, p *store.Payment, said string) error {
	if hasLateAlert(p) {
		a.event(ctx, p.MerchantOrderNo, "notification", said+"; already in the payment's alert")
		return nil
	}
	ended := "ended " + p.State
	if p.Route != RouteCodePay {
		ended += " through " + lateProviderName(p.Route)
	}
	if err := a.askLateNow(ctx, p, said+", but the payment "+ended); err != nil {
		return fmt.Errorf("apply notification: %w", err)
	}
	return nil
}
