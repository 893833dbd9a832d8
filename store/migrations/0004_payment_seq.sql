-- Every payment remembers the journal event behind its current state: the id
-- of the event InsertPayment or Transition wrote last (events appended on
-- their own, AppendEvent's notes, leave it alone). It is the payment's "seq"
-- on the WebSocket API; it only grows, and the index finds the payments
-- changed after a given seq (events.since) without reading the others or
-- their history. Payments written before this migration take their latest
-- event of any kind.
ALTER TABLE payments ADD COLUMN last_event_id INTEGER NOT NULL DEFAULT 0 CHECK (last_event_id >= 0);

UPDATE payments SET last_event_id = COALESCE(
    (SELECT MAX(e.id) FROM payment_events e WHERE e.payment_id = payments.id), 0);

CREATE INDEX payments_last_event ON payments (last_event_id);
-- The same look-up for one terminal (events.since with terminal_sn).
CREATE INDEX payments_terminal_last_event ON payments (terminal_sn, last_event_id);
