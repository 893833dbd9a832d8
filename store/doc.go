// Package store is posbridge's durable journal: one SQLite file (modernc.org/sqlite,
// pure Go) holding every payment, its history, the per-terminal queues, the
// terminals, small settings and the per-terminal batches.
//
// store knows SQL and the journal's shape, nothing about providers, the agent or
// front ends.
//
// # Connections
//
// Open uses WAL, synchronous=FULL (a committed payment survives power loss),
// foreign keys, a 10 s busy timeout and BEGIN IMMEDIATE for write transactions,
// and checks after opening that these took effect. Writes go through one
// connection under a Go mutex; reads use a small read-only pool. Every state
// change is one transaction that updates the payment and appends its event;
// no transaction is held across anything but SQL.
//
// # Schema
//
// The schema is built by the numbered files in migrations/ (embedded), each
// applied in its own transaction and recorded in schema_migrations. A database
// from a newer posbridge is refused with ErrNewerSchema. All tables are STRICT.
// Money is INTEGER minor units next to a TEXT ISO 4217 code, never NUMERIC,
// DECIMAL or REAL; times are INTEGER unix milliseconds UTC (0 = none).
//
//   - payments: one row per payment, keyed by the unique merchant_order_no (the
//     idempotency key). type, state, amounts and currency are CHECKed;
//     queue_seq orders each terminal's FIFO queue (UNIQUE per terminal);
//     last_event_id is the event behind the current state (Payment.EventID),
//     indexed so that ChangedSince reads only the payments changed after a
//     given event.
//   - payment_events: the append-only history of each payment (kind,
//     from_state, to_state, a short detail, time). Triggers refuse UPDATE and
//     DELETE; the only exception is Archive (below).
//   - terminals: terminals from the configuration and whether each was last
//     seen online (NULL = not known).
//   - settings: key/value text; the key "ping" is written by Ping.
//   - batches: per-terminal batches (terminal_sn, batch_no, state open|closed,
//     opened_at, closed_at, report_json); at most one open batch per terminal.
//   - schema_migrations: the applied migrations.
//   - archive_guard: empty but inside Archive's delete transactions (see
//     Retention).
//
// # Retention
//
// Archive moves old final payments (in a closed batch or none, not the
// original of an open void, refund or completion) with their events, and old
// closed batches, into an archive file: an SQLite database with the same
// columns for payments, payment_events and batches. The journal is in WAL
// mode, where a transaction over two files is not atomic, so each chunk is
// copied into the archive and committed there first, then deleted from the
// journal in a second transaction that checks the archived rows are
// identical; a crash between leaves rows in both files, which the next run
// (into any file: the files in use are listed in settings under
// archive.pending) finishes or undoes. Payments, their events and batches
// can be deleted only while archive_guard holds its one row, which Archive
// inserts and removes inside that transaction, and only final payments and
// closed batches (migration 0007); nothing else removes a row. The newest
// payment, event and seq and each terminal's newest batch stay, so ids and
// seqs are never handed out twice.
//
// Card data (full PAN, track, ICC, PIN, CVV) is never stored: payments keep
// only a masked PAN, which the store checks looks masked.
package store
