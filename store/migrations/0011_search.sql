-- Searching the whole journal (console and payment.search, issue 16): by
-- date range, newest first, with paging; by order-number prefix (the unique
-- index on merchant_order_no serves it), by the card's last four digits and
-- by amount. Each search term has an index that ends in created_at, so a
-- term within a date range reads only its matches (TestQueryPlansBounded).
CREATE INDEX payments_created ON payments (created_at);
CREATE INDEX payments_terminal_created ON payments (terminal_sn, created_at);
CREATE INDEX payments_last4 ON payments (substr(masked_pan, -4), created_at) WHERE masked_pan <> '';
CREATE INDEX payments_amount ON payments (amount_minor, created_at);
