-- Reconciliation of unknown create outcomes (docs/reliability.md).
--
-- create_ended_at: when the HTTP exchange of the latest create order ended
-- (answered, reset, timed out, or the process died); "order not found" only
-- counts once a settle time has passed after it. 0 = no create yet.
-- resends: how many times the same create was sent again after CodePay
-- definitively answered "order not found".
-- next_check_at (since 0001) > 0 now marks a payment whose order can no longer
-- occupy its terminal but whose outcome is still open: the background
-- reconciler looks at it then, and the terminal's queue moves on.
ALTER TABLE payments ADD COLUMN create_ended_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN resends INTEGER NOT NULL DEFAULT 0 CHECK (resends >= 0);

CREATE INDEX payments_next_check ON payments (next_check_at) WHERE next_check_at > 0;
