package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/store"
)

// maxParkedInterval bounds the background reconciler's back-off.
const maxParkedInterval = time.Minute

// wakeReconciler makes the background reconciler look at due payments now.
func (a *Agent) wakeReconciler() {
	select {
	case a.reconcileWake <- struct{}{}:
	default:
	}
}

// runReconciler settles parked payments: CodePay payments whose order can no
// longer occupy the terminal (past the lane deadline) but whose outcome is
// still open because CodePay gave no answer. The terminal's queue has moved
// on; only a signed answer ends such a payment. It also sends and follows
// cloud refunds (parked from the start, cloudrefund.go), confirms cancels
// sent with order.revoker whose answer was lost, and watches expired orders
// the customer may still pay (latecheck.go).
func (a *Agent) runReconciler(ctx context.Context) {
	lastErr := map[string]string{} // per order: the last error journaled
	for ctx.Err() == nil {
		full := a.reconcileDue(ctx, lastErr)
		wait := time.Duration(0)
		if !full {
			wait = a.nextReconcile(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-a.reconcileWake:
		case <-a.after(wait):
		}
	}
}

// reconcileBatch is how many items of each kind one round takes.
const reconcileBatch = 50

// reconcileDue takes one round of what is due: parked payments, cancels
// sent with order.revoker whose answer was lost, and expired orders the
// customer may still pay (latecheck.go). It reports whether a kind had a
// full batch (more may be due at once).
func (a *Agent) reconcileDue(ctx context.Context, lastErr map[string]string) (full bool) {
	now := a.clock.Now()
	due, err := a.db.ParkedDue(ctx, now, reconcileBatch)
	a.logReadErr(ctx, "read parked payments", err)
	for i := range due {
		if ctx.Err() != nil {
			return false
		}
		a.reconcileParked(ctx, &due[i], lastErr)
	}
	revokes, err := a.db.RevokesDue(ctx, now, reconcileBatch)
	a.logReadErr(ctx, "read open revokes", err)
	for _, r := range revokes {
		if ctx.Err() != nil {
			return false
		}
		a.reconcileRevoke(ctx, r, lastErr)
	}
	late, err := a.db.LateChecksDue(ctx, now, reconcileBatch)
	a.logReadErr(ctx, "read late checks", err)
	for _, c := range late {
		if ctx.Err() != nil {
			return false
		}
		a.reconcileLateCheck(ctx, c)
	}
	return len(due) == reconcileBatch || len(revokes) == reconcileBatch || len(late) == reconcileBatch
}

func (a *Agent) logReadErr(ctx context.Context, what string, err error) {
	if err != nil && ctx.Err() == nil {
		a.log.Error(what, "err", err)
	}
}

// nextReconcile is how long the reconciler may sleep: until the earliest
// scheduled item, at most maxParkedInterval.
func (a *Agent) nextReconcile(ctx context.Context) time.Duration {
	wait := maxParkedInterval
	if next, err := a.db.NextParked(ctx); err == nil && !next.IsZero() {
		wait = min(max(next.Sub(a.clock.Now()), 0), wait)
	}
	for _, nextOf := range []func(context.Context) (time.Time, bool, error){a.db.NextRevoke, a.db.NextLateCheck} {
		if next, ok, err := nextOf(ctx); err == nil && ok {
			wait = min(max(next.Sub(a.clock.Now()), 0), wait)
		}
	}
	return wait
}

// reconcileParked asks CodePay once about a parked payment and applies the
// answer by the outcome rule (docs/reliability.md).
func (a *Agent) reconcileParked(ctx context.Context, p *store.Payment, lastErr map[string]string) {
	if isProviderRoute(p.Route) {
		a.reconcileProvider(ctx, p, lastErr) // qr/va sales and refunds (provider.go)
		return
	}
	if isCloudRefund(p) {
		a.reconcileCloudRefund(ctx, p, lastErr) // sent and followed here, never by a terminal
		return
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	o, err := a.cp.QueryOrder(callCtx, p.MerchantOrderNo, "")
	cancel()
	now := a.clock.Now()
	switch {
	case err == nil:
		delete(lastErr, p.MerchantOrderNo)
		np, err := a.applyOrder(ctx, p, o)
		if err != nil || np == nil || IsFinal(np.State) {
			return
		}
		if !np.NextCheckAt.IsZero() && np.TransStatus == "9" && now.After(np.ExpiresAt.Add(closeGrace)) {
			if err := a.closeAt(ctx, np, "expired", func(p *store.Payment) {
				p.State, p.TransStatus = StateExpired, "3"
				p.ErrorCode, p.ErrorMessage = "expired", "the terminal did not take the payment before it expired; nothing was charged"
			}, "expired: closed at CodePay"); err != nil {
				return
			}
		}
		if np.NextCheckAt.IsZero() {
			a.wake(np.TerminalSN) // the terminal is working on it again
			return
		}
	case codepay.IsOrderNotFound(err) && p.State == StateUnknown:
		delete(lastErr, p.MerchantOrderNo)
		var ge *codepay.GatewayError
		errors.As(err, &ge)
		_ = a.failNoRecord(ctx, p,
			fmt.Sprintf("CodePay has no record of this order (%s: %s) and its deadline has passed; nothing was charged", ge.Code, ge.Msg))
		return
	default:
		if msg := err.Error(); lastErr[p.MerchantOrderNo] != msg {
			lastErr[p.MerchantOrderNo] = msg
			a.event(ctx, p.MerchantOrderNo, "error", "background query got no answer: "+msg)
		}
	}
	attempts := p.Attempts + 1
	next := now.Add(min(backoff(a.cfg.PollInterval, attempts)*4, maxParkedInterval))
	if err := a.db.Reschedule(ctx, p.MerchantOrderNo, next, attempts); err != nil && !errors.Is(err, store.ErrStateChanged) {
		a.log.Error("reschedule parked payment", "merchant_order_no", p.MerchantOrderNo, "err", err)
	}
}
