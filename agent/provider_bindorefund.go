package agent

// Refunds of Bindo pay-by-link payments. A pre-created order that was paid
// is a Bindo transaction like a card sale: it is refunded with the
// gateway's refund (JS spec:377-470: uuid, amount, currency, origin_brn of
// the paid order — the client finds the brn by the order's uuid) and the
// refund is followed by a query of its own uuid. The discipline is the QR
// wallet refund's (provider_reconcile.go): journaled first (sending), marked
// "may have left" right before the one call, sent and followed by the
// background reconciler, never sent twice; a lost answer is settled by
// query, and only a definitive "no such transaction" past the settle time
// ends it as nothing refunded.

import (
	"context"
	"errors"

	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// refundBindoLink answers payment.refund of a Bindo link payment.
func (a *Agent) refundBindoLink(ctx context.Context, r RefundRequest, orig *store.Payment) (Payment, error) {
	switch {
	case a.cfg.BindoLink == nil:
		return Payment{}, fieldErr("orig_merchant_order_no", "%s was paid by a Bindo link, but Bindo links are not configured on this agent", orig.MerchantOrderNo)
	case r.Via != "":
		return Payment{}, fieldErr("via", "%s was paid by a Bindo link: it is refunded through Bindo; leave via empty", orig.MerchantOrderNo)
	case orig.Type != TypeSale || orig.State != StateApproved:
		return Payment{}, fieldErr("orig_merchant_order_no", "%s is a %s %s: only an approved link sale can be refunded", orig.MerchantOrderNo, orig.State, orig.Type)
	case r.Currency != "" && r.Currency != orig.Currency:
		return Payment{}, fieldErr("currency", "%s was paid in %s, not %s", orig.MerchantOrderNo, orig.Currency, r.Currency)
	}
	uuid := a.cfg.BindoLink.UUIDFor(r.MerchantOrderNo)
	return a.journalProviderRefund(ctx, r, orig, providerRefund{
		route: RouteBindoLink, md: methodData{Method: MethodLink}, transNo: uuid, what: "through Bindo, uuid " + uuid,
	})
}

// reconcileBindoLinkRefund sends or follows a Bindo link refund.
func (a *Agent) reconcileBindoLinkRefund(ctx context.Context, p *store.Payment, lastErr map[string]string) {
	now := a.clock.Now()
	if a.refundUnsettled(ctx, p, now, a.submitBindoLinkRefund) {
		return
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	tx, err := a.cfg.BindoLink.Query(callCtx, p.TransNo, "")
	cancel()
	switch {
	case err == nil:
		delete(lastErr, p.MerchantOrderNo)
		if np, _ := a.applyBindo(ctx, p, tx); np != nil && IsFinal(np.State) {
			return
		}
	case errors.Is(err, bindo.ErrNotFound) && !now.Before(p.CreateEndedAt.Add(a.cfg.CreateSettle)):
		msg := "Bindo has no record of this refund (" + err.Error() + "); nothing was refunded"
		if p.ErrorCode == CodeProviderRefused {
			_, _ = a.fail(ctx, p, []string{StateUnknown, StateOnTerminal}, CodeProviderRefused, p.ErrorMessage+"; "+msg)
			return
		}
		_, _ = a.fail(ctx, p, []string{StateUnknown, StateOnTerminal}, CodeProviderUnavailable, msg)
		return
	case !errors.Is(err, bindo.ErrNotFound):
		a.noteNoAnswer(ctx, p, lastErr, "refund query got no answer: ", err)
	}
	a.askAgainLater(ctx, p, now)
}

// submitBindoLinkRefund journals "may have left", sends the refund once and
// applies the answer.
func (a *Agent) submitBindoLinkRefund(ctx context.Context, p *store.Payment) {
	now := a.clock.Now()
	orig := a.refundOriginal(ctx, p, now, "Bindo")
	if orig == nil {
		return
	}
	cur, err := money.LookupCurrency(p.Currency)
	if err != nil {
		_, _ = a.fail(ctx, p, []string{StateSending}, "invalid_request", err.Error()+"; nothing was sent")
		return
	}
	p, err = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
		p.CreateSent = true
		p.NextCheckAt = now.Add(2 * callTimeout)
		return nil
	}, "sending the refund to Bindo")
	if err != nil {
		return
	}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	tx, err := a.cfg.BindoLink.Refund(callCtx, bindo.RefundRequest{UUID: p.TransNo, OrigUUID: a.bindoLinkUUID(orig), Amount: money.Amount{Minor: p.AmountMinor, Currency: cur}})
	cancel()
	ended := a.clock.Now()
	var ge *bindo.GatewayError
	switch {
	case err == nil:
		if np, _ := a.applyBindo(ctx, p, tx); np != nil && !IsFinal(np.State) {
			_ = ignoreChanged(a.db.Reschedule(ctx, p.MerchantOrderNo, ended.Add(a.cfg.PollInterval), 0))
		}
	case errors.Is(err, bindo.ErrNotSent):
		a.refundNotSent(ctx, p, ended, err)
	case errors.Is(err, bindo.ErrInvalidRequest):
		_, _ = a.fail(ctx, p, []string{StateSending}, "invalid_request", err.Error()+"; nothing was sent")
	default:
		detail := "outcome of the refund unknown (" + err.Error() + "); reconciling by query"
		refused := errors.As(err, &ge)
		if refused {
			detail = "Bindo refused the refund (" + ge.Message + ", code " + ge.Code + "); confirming by query"
		}
		_, _ = a.transition(ctx, p.MerchantOrderNo, []string{StateSending}, func(p *store.Payment) error {
			p.State, p.CreateEndedAt, p.NextCheckAt = StateUnknown, ended, ended
			if refused {
				p.ErrorCode, p.ErrorMessage = CodeProviderRefused, "Bindo refused the refund: "+ge.Message+" (code "+ge.Code+")"
			}
			return nil
		}, detail)
		a.wakeReconciler()
	}
}
