-- Journal retention (Archive; docs/operations.md, "Backup and archive").
--
-- payment_events stays append-only and payments and batches are never
-- deleted, with one exception: the archive, which moves old final payments
-- with their events (and old closed batches) into an archive file after
-- copying them there durably. It inserts the single row of archive_guard,
-- deletes, and deletes the row again, all in one transaction, so the row is
-- never committed and no other transaction ever sees it. Even then only rows
-- of final payments and closed batches may go. Nothing else in posbridge
-- writes archive_guard.
CREATE TABLE archive_guard (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    started_at INTEGER NOT NULL
) STRICT;

DROP TRIGGER IF EXISTS payment_events_no_delete;

CREATE TRIGGER payment_events_no_delete BEFORE DELETE ON payment_events
    WHEN NOT EXISTS (SELECT 1 FROM archive_guard)
      OR NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = OLD.payment_id
                     AND p.state IN ('approved', 'declined', 'cancelled', 'expired', 'failed'))
BEGIN
    SELECT RAISE(ABORT, 'payment_events is append-only: delete refused (only the archive removes events, of final payments)');
END;

CREATE TRIGGER payments_no_delete BEFORE DELETE ON payments
    WHEN NOT EXISTS (SELECT 1 FROM archive_guard)
      OR OLD.state NOT IN ('approved', 'declined', 'cancelled', 'expired', 'failed')
BEGIN
    SELECT RAISE(ABORT, 'payments are never deleted: delete refused (only the archive removes final payments)');
END;

CREATE TRIGGER batches_no_delete BEFORE DELETE ON batches
    WHEN NOT EXISTS (SELECT 1 FROM archive_guard) OR OLD.state <> 'closed'
BEGIN
    SELECT RAISE(ABORT, 'batches are never deleted: delete refused (only the archive removes closed batches)');
END;
