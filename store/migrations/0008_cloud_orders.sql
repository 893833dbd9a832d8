-- Refunds and cancels through CodePay's cloud, without the terminal
-- (order.refund.submit, order.revoker; docs/reliability.md, "Cloud refunds
-- and cancels").
--
-- A cloud refund is an ordinary payments row (type refund, options_json
-- {"via":"cloud"}); it is parked (next_check_at > 0) for as long as it is
-- open, so it never occupies its terminal and the background reconciler
-- drives it. Checking that refunds never exceed the original reads every
-- refund of an original: payments_orig keeps that bounded.
CREATE INDEX payments_orig ON payments (orig_merchant_order_no) WHERE orig_merchant_order_no <> '';

-- cloud_revokes: an order.revoker (payment.cancel of a QR/wallet order after
-- the terminal took it) that may have reached CodePay and whose effect is not
-- confirmed yet. The row is written, with a journal event on the payment,
-- before the call; it is deleted once a signed order.query shows the order
-- cancelled (the payment is then cancelled) or shows that the cancel did not
-- take effect. state: 'sending' (the call may be under way or the process
-- died during it), 'unknown' (its answer was lost; the reconciler queries at
-- next_check_at). ended_at: when the call's exchange ended (0 = not known).
CREATE TABLE cloud_revokes (
    merchant_order_no TEXT PRIMARY KEY,
    state             TEXT NOT NULL CHECK (state IN ('sending', 'unknown')),
    ended_at          INTEGER NOT NULL DEFAULT 0,
    next_check_at     INTEGER NOT NULL DEFAULT 0,
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX cloud_revokes_next_check ON cloud_revokes (next_check_at);
