-- Queries that do not grow with history (TestQueryPlansBounded).
--
-- The Bindo webhook and CodePay notifications find a payment by its provider
-- transaction number.
CREATE INDEX payments_route_trans_no ON payments (route, trans_no);

-- Payment counts by state and route for /metrics, kept by triggers instead of
-- counting the journal on every scrape. Rows with n = 0 may remain.
CREATE TABLE payment_counts (
    state TEXT    NOT NULL,
    route TEXT    NOT NULL,
    n     INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (state, route)
) STRICT, WITHOUT ROWID;

INSERT INTO payment_counts (state, route, n)
    SELECT state, route, COUNT(*) FROM payments GROUP BY state, route;

CREATE TRIGGER payment_counts_insert AFTER INSERT ON payments
BEGIN
    INSERT OR IGNORE INTO payment_counts (state, route, n) VALUES (NEW.state, NEW.route, 0);
    UPDATE payment_counts SET n = n + 1 WHERE state = NEW.state AND route = NEW.route;
END;

CREATE TRIGGER payment_counts_update AFTER UPDATE OF state, route ON payments
    WHEN OLD.state IS NOT NEW.state OR OLD.route IS NOT NEW.route
BEGIN
    UPDATE payment_counts SET n = n - 1 WHERE state = OLD.state AND route = OLD.route;
    INSERT OR IGNORE INTO payment_counts (state, route, n) VALUES (NEW.state, NEW.route, 0);
    UPDATE payment_counts SET n = n + 1 WHERE state = NEW.state AND route = NEW.route;
END;

CREATE TRIGGER payment_counts_delete AFTER DELETE ON payments
BEGIN
    UPDATE payment_counts SET n = n - 1 WHERE state = OLD.state AND route = OLD.route;
END;
