-- late_checks: payments that ended expired because the provider still showed
-- them unpaid past their local expiry, at a provider that never closes an
-- order by itself (the QR wallet: its document gives native QR codes no
-- expiry and offers no way to close one). A customer may still pay such an
-- order later; the background reconciler keeps asking, with back-off, until
-- until_at, and sets an alert on the payment if it turns up paid (the
-- payment itself stays expired: final states never change). The row is
-- deleted when the order is found paid, when the provider says it no longer
-- knows it, or at until_at. docs/reliability.md, "Payments paid after they
-- expired".
CREATE TABLE late_checks (
    merchant_order_no TEXT PRIMARY KEY,
    next_check_at     INTEGER NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    until_at          INTEGER NOT NULL,
    created_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX late_checks_next_check ON late_checks (next_check_at);
