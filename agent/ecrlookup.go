package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// OriginalQuery finds the original of a void or refund that a front end names
// by its own numbering rather than by merchant_order_no (a ZVT ECR names its
// sale by receipt number, which its order numbers encode).
type OriginalQuery struct {
	TerminalSN string
	// OrderNoPrefix is how the original's merchant_order_no starts, e.g.
	// "ZVT-ecr0-42-".
	OrderNoPrefix string
	// Type is the original's type, e.g. TypeSale.
	Type string
}

// Original is a payment found by LatestOriginal, with what a void or refund
// of it needs to know.
type Original struct {
	Payment
	// AmountMinor is its amount (without tip and cashback) in minor units of
	// its currency.
	AmountMinor int64
	// VoidedBy is the merchant_order_no of a void of it that is approved or
	// still running, "" when there is none.
	VoidedBy string
}

// LatestOriginal returns the newest payment matching q, or ErrNotFound. It
// reads along indexes, however long the journal's history.
func (a *Agent) LatestOriginal(ctx context.Context, q OriginalQuery) (Original, error) {
	p, err := a.db.LatestByOrderPrefix(ctx, q.TerminalSN, q.OrderNoPrefix, q.Type)
	if errors.Is(err, store.ErrNotFound) {
		return Original{}, fmt.Errorf("%w: no %s on %s numbered %s…", ErrNotFound, q.Type, q.TerminalSN, q.OrderNoPrefix)
	}
	if err != nil {
		return Original{}, fmt.Errorf("find original payment: %w", err)
	}
	o := Original{Payment: a.view(p), AmountMinor: p.AmountMinor}
	v, err := a.db.LiveVoidOf(ctx, p.MerchantOrderNo)
	switch {
	case err == nil:
		o.VoidedBy = v.MerchantOrderNo
	case !errors.Is(err, store.ErrNotFound):
		return Original{}, fmt.Errorf("find original payment: %w", err)
	}
	return o, nil
}

// OriginalCheck is a planned void, refund or completion of an original
// payment, for CheckOriginal.
type OriginalCheck struct {
	Type       string // TypeVoid, TypeRefund or TypeCompletion
	TerminalSN string
	Orig       string // the original's merchant_order_no
	Currency   string // ISO 4217 code of the new payment
	Amount     int64  // the new payment's amount in minor units
}

// CheckOriginal applies the rules Create applies to a void, refund or
// completion and its original (state, type, currency, terminal, batch,
// amount), so a front end can refuse a request before it allocates numbers
// for it. A broken rule is a *FieldError (Field "amount" when only the
// amount is wrong).
func (a *Agent) CheckOriginal(ctx context.Context, c OriginalCheck) error {
	cur, err := money.LookupCurrency(c.Currency)
	if err != nil {
		return fieldErr("currency", "unknown currency %q", c.Currency)
	}
	_, err = a.checkOriginal(ctx, &normalized{typ: c.Type, terminalSN: c.TerminalSN, currency: cur, amount: c.Amount, orig: c.Orig})
	return err
}
