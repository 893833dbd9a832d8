package qrwallet

import (
	"context"
	"errors"
	"time"
)

// WaitResult is what WaitPayment saw.
type WaitResult struct {
	// Final is set when the payment was reported paid: Status.Paid. When it
	// is not set the outcome is still unknown: the spec has no final
	// failure state and no way to close an order, so "not successful" at
	// the end of the window proves nothing. Keep reconciling.
	Final bool
	// Status is the last status answer; nil when no query was answered.
	Status *PaymentStatus
	// LastErr is the error of the last query when it failed (e.g. a
	// not-found: IsNotFound(LastErr) while the create is still in flight).
	LastErr error
	Queries int
}

// WaitPayment follows a payment as the spec advises for quick pay (line
// 58): a status query every Config.PollInterval (3 s) until it is paid or
// Config.PollTotal (45 s) has passed since since (zero: now). It always
// makes at least one query. Errors of single queries do not stop it; it
// returns an error only when ctx ends (with what it saw so far) or the
// order number is invalid. Time is Config.Clock's.
func (c *Client) WaitPayment(ctx context.Context, outTradeNo string, since time.Time) (*WaitResult, error) {
	if err := checkOrderNo("out_trade_no", outTradeNo); err != nil {
		return nil, err
	}
	if since.IsZero() {
		since = c.clock.Now()
	}
	deadline := since.Add(c.cfg.PollTotal)
	res := &WaitResult{}
	for {
		if err := c.clock.Sleep(ctx, c.cfg.PollInterval); err != nil {
			return res, err
		}
		st, err := c.PaymentStatus(ctx, outTradeNo)
		res.Queries++
		switch {
		case err == nil:
			res.Status, res.LastErr = st, nil
			if st.Paid {
				res.Final = true
				return res, nil
			}
		case ctx.Err() != nil:
			res.LastErr = err
			return res, ctx.Err()
		case errors.Is(err, ErrInvalidRequest):
			return res, err
		default:
			res.LastErr = err
		}
		if c.clock.Now().Add(c.cfg.PollInterval).After(deadline) {
			return res, nil
		}
	}
}
