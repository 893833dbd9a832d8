-- posbridge journal, schema version 1.
--
-- Conventions: money is INTEGER minor units next to a TEXT ISO 4217 code (never
-- NUMERIC, DECIMAL or REAL); times are INTEGER unix milliseconds UTC, 0 meaning
-- "none"; text columns are NOT NULL with '' meaning "none". Tables are STRICT so
-- SQLite refuses a value of the wrong type instead of converting it.

CREATE TABLE payments (
    id                     INTEGER PRIMARY KEY,
    merchant_order_no      TEXT    NOT NULL UNIQUE
                           CHECK (length(merchant_order_no) BETWEEN 1 AND 64),
    type                   TEXT    NOT NULL
                           CHECK (type IN ('sale', 'refund', 'void', 'preauth', 'completion', 'cashback')),
    state                  TEXT    NOT NULL
                           CHECK (state IN ('queued', 'sending', 'on_terminal', 'approved', 'declined',
                                            'cancelled', 'expired', 'failed', 'unknown')),
    source                 TEXT    NOT NULL DEFAULT '',
    terminal_sn            TEXT    NOT NULL DEFAULT '',
    currency               TEXT    NOT NULL CHECK (length(currency) = 3),
    amount_minor           INTEGER NOT NULL CHECK (amount_minor >= 0),
    tip_minor              INTEGER NOT NULL DEFAULT 0 CHECK (tip_minor >= 0),
    cashback_minor         INTEGER NOT NULL DEFAULT 0 CHECK (cashback_minor >= 0),
    orig_merchant_order_no TEXT    NOT NULL DEFAULT '',
    description            TEXT    NOT NULL DEFAULT '',
    route                  TEXT    NOT NULL DEFAULT '',
    request_hash           TEXT    NOT NULL DEFAULT '',
    options_json           TEXT    NOT NULL DEFAULT ''
                           CHECK (options_json = '' OR json_valid(options_json)),
    queue_seq              INTEGER NOT NULL CHECK (queue_seq > 0),
    create_sent            INTEGER NOT NULL DEFAULT 0 CHECK (create_sent IN (0, 1)),
    trans_no               TEXT    NOT NULL DEFAULT '',
    trans_status           TEXT    NOT NULL DEFAULT '',
    auth_code              TEXT    NOT NULL DEFAULT '',
    ref_no                 TEXT    NOT NULL DEFAULT '',
    card_brand             TEXT    NOT NULL DEFAULT '',
    masked_pan             TEXT    NOT NULL DEFAULT '',
    entry_mode             TEXT    NOT NULL DEFAULT '',
    error_code             TEXT    NOT NULL DEFAULT '',
    error_message          TEXT    NOT NULL DEFAULT '',
    expires_at             INTEGER NOT NULL DEFAULT 0,
    next_check_at          INTEGER NOT NULL DEFAULT 0,
    attempts               INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    UNIQUE (terminal_sn, queue_seq)
) STRICT;

-- The per-terminal queue and the dispatcher's look-ups: by terminal, state, FIFO order.
CREATE INDEX payments_terminal_state_seq ON payments (terminal_sn, state, queue_seq);
-- Start-up recovery (NonFinal) and state filters in listings.
CREATE INDEX payments_state ON payments (state);

-- Append-only history of every payment. Rows are never updated or deleted.
CREATE TABLE payment_events (
    id                INTEGER PRIMARY KEY,
    payment_id        INTEGER NOT NULL REFERENCES payments (id),
    merchant_order_no TEXT    NOT NULL,
    kind              TEXT    NOT NULL CHECK (kind <> ''),
    from_state        TEXT    NOT NULL DEFAULT '',
    to_state          TEXT    NOT NULL DEFAULT '',
    detail            TEXT    NOT NULL DEFAULT '',
    at                INTEGER NOT NULL
) STRICT;

CREATE INDEX payment_events_payment ON payment_events (payment_id, id);

CREATE TRIGGER payment_events_no_update BEFORE UPDATE ON payment_events
BEGIN
    SELECT RAISE(ABORT, 'payment_events is append-only: update refused');
END;

CREATE TRIGGER payment_events_no_delete BEFORE DELETE ON payment_events
BEGIN
    SELECT RAISE(ABORT, 'payment_events is append-only: delete refused');
END;

-- Terminals as configured, plus their last known online state (online NULL = not known yet).
CREATE TABLE terminals (
    sn         TEXT    PRIMARY KEY CHECK (sn <> ''),
    lane       TEXT    NOT NULL DEFAULT '',
    name       TEXT    NOT NULL DEFAULT '',
    currency   TEXT    NOT NULL DEFAULT '' CHECK (currency = '' OR length(currency) = 3),
    online     INTEGER CHECK (online IN (0, 1)),
    updated_at INTEGER NOT NULL
) STRICT;

-- Small key/value settings (agent state that must survive restarts; "ping" for /readyz).
CREATE TABLE settings (
    k          TEXT    PRIMARY KEY CHECK (k <> ''),
    v          TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Per-terminal batches (used from issue 6). At most one open batch per terminal.
CREATE TABLE batches (
    id          INTEGER PRIMARY KEY,
    terminal_sn TEXT    NOT NULL CHECK (terminal_sn <> ''),
    batch_no    INTEGER NOT NULL CHECK (batch_no > 0),
    state       TEXT    NOT NULL CHECK (state IN ('open', 'closed')),
    opened_at   INTEGER NOT NULL,
    closed_at   INTEGER,
    report_json TEXT    NOT NULL DEFAULT '' CHECK (report_json = '' OR json_valid(report_json)),
    UNIQUE (terminal_sn, batch_no),
    CHECK ((state = 'open' AND closed_at IS NULL) OR (state = 'closed' AND closed_at IS NOT NULL))
) STRICT;

CREATE UNIQUE INDEX batches_one_open ON batches (terminal_sn) WHERE state = 'open';
