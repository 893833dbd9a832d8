-- Batches gain the 'closing' state (a batch.close call in flight: no payment
-- starts on the terminal, a retry never closes a second batch), who closed it,
-- and payments record the batch they were approved into.
CREATE TABLE batches_v2 (
    id               INTEGER PRIMARY KEY,
    terminal_sn      TEXT    NOT NULL CHECK (terminal_sn <> ''),
    batch_no         INTEGER NOT NULL CHECK (batch_no > 0),
    state            TEXT    NOT NULL CHECK (state IN ('open', 'closing', 'closed')),
    opened_at        INTEGER NOT NULL,
    close_started_at INTEGER,
    closed_at        INTEGER,
    closed_by        TEXT    NOT NULL DEFAULT '',
    report_json      TEXT    NOT NULL DEFAULT '' CHECK (report_json = '' OR json_valid(report_json)),
    UNIQUE (terminal_sn, batch_no),
    CHECK ((state = 'closed') = (closed_at IS NOT NULL)),
    CHECK (state = 'open' OR close_started_at IS NOT NULL)
) STRICT;

INSERT INTO batches_v2 (id, terminal_sn, batch_no, state, opened_at, close_started_at, closed_at, report_json)
    SELECT id, terminal_sn, batch_no, state, opened_at, closed_at, closed_at, report_json FROM batches;

DROP TABLE batches;
ALTER TABLE batches_v2 RENAME TO batches;

CREATE UNIQUE INDEX batches_one_current ON batches (terminal_sn) WHERE state IN ('open', 'closing');

ALTER TABLE payments ADD COLUMN batch_id INTEGER REFERENCES batches (id);
CREATE INDEX payments_batch ON payments (batch_id) WHERE batch_id IS NOT NULL;
