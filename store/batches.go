package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Batch states.
const (
	BatchOpen    = "open"
	BatchClosing = "closing"
	BatchClosed  = "closed"
)

// ErrBatchState means the batch is not in the state the operation needs.
var ErrBatchState = errors.New("batch is not in the required state")

// Batch is one terminal batch. Each terminal has exactly one current batch
// (open, or closing while a batch.close call is in flight); closed batches
// keep their report.
type Batch struct {
	ID             int64
	TerminalSN     string
	BatchNo        int64
	State          string
	OpenedAt       time.Time
	CloseStartedAt time.Time // zero while open
	ClosedAt       time.Time // zero until closed
	ClosedBy       string
	ReportJSON     string // the closed batch's report ("" until closed)
}

const batchCols = `id, terminal_sn, batch_no, state, opened_at, close_started_at, closed_at, closed_by, report_json`

func scanBatch(s scanner) (*Batch, error) {
	var (
		b                Batch
		opened           int64
		started, closedN sql.NullInt64
	)
	if err := s.Scan(&b.ID, &b.TerminalSN, &b.BatchNo, &b.State, &opened, &started, &closedN, &b.ClosedBy, &b.ReportJSON); err != nil {
		return nil, err
	}
	b.OpenedAt = fromMS(opened)
	if started.Valid {
		b.CloseStartedAt = fromMS(started.Int64)
	}
	if closedN.Valid {
		b.ClosedAt = fromMS(closedN.Int64)
	}
	return &b, nil
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// currentBatch returns the terminal's open or closing batch, creating batch 1
// (or the next number) when there is none. It runs inside a write transaction.
func currentBatch(ctx context.Context, tx *sql.Tx, sn string, now time.Time) (*Batch, error) {
	b, err := scanBatch(tx.QueryRowContext(ctx, `SELECT `+batchCols+` FROM batches WHERE terminal_sn = ? AND state IN ('open', 'closing')`, sn))
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read current batch: %w", err)
	}
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(batch_no), 0) + 1 FROM batches WHERE terminal_sn = ?`, sn).Scan(&next); err != nil {
		return nil, fmt.Errorf("number new batch: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO batches (terminal_sn, batch_no, state, opened_at) VALUES (?, ?, 'open', ?)`, sn, next, toMS(now)); err != nil {
		return nil, fmt.Errorf("open batch: %w", err)
	}
	return scanBatch(tx.QueryRowContext(ctx, `SELECT `+batchCols+` FROM batches WHERE terminal_sn = ? AND batch_no = ?`, sn, next))
}

// CurrentBatch returns the terminal's open (or closing) batch, opening one if
// the terminal has none yet.
func (db *DB) CurrentBatch(ctx context.Context, sn string) (*Batch, error) {
	var out *Batch
	err := db.write(ctx, func(tx *sql.Tx) error {
		b, err := currentBatch(ctx, tx, sn, db.now())
		out = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("current batch of %s: %w", sn, err)
	}
	return out, nil
}

// BeginBatchClose moves the terminal's current batch from open to closing and
// records who asked. A batch already closing is returned as it is (a retry
// continues the same close), so a terminal never has two closes in flight.
func (db *DB) BeginBatchClose(ctx context.Context, sn, by string) (*Batch, error) {
	var out *Batch
	err := db.write(ctx, func(tx *sql.Tx) error {
		b, err := currentBatch(ctx, tx, sn, db.now())
		if err != nil {
			return err
		}
		if b.State == BatchOpen {
			if _, err := tx.ExecContext(ctx, `UPDATE batches SET state = 'closing', close_started_at = ?, closed_by = ? WHERE id = ?`,
				toMS(db.now()), by, b.ID); err != nil {
				return fmt.Errorf("mark batch closing: %w", err)
			}
		}
		out, err = scanBatch(tx.QueryRowContext(ctx, `SELECT `+batchCols+` FROM batches WHERE id = ?`, b.ID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("begin closing batch of %s: %w", sn, err)
	}
	return out, nil
}

// AbortBatchClose returns a closing batch to open (the provider refused the close).
func (db *DB) AbortBatchClose(ctx context.Context, batchID int64) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE batches SET state = 'open', close_started_at = NULL, closed_by = '' WHERE id = ? AND state = 'closing'`, batchID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrBatchState
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("abort closing batch %d: %w", batchID, err)
	}
	return nil
}

// FinishBatchClose closes a closing batch with its report and opens the
// terminal's next batch, in one transaction. It returns the closed batch.
func (db *DB) FinishBatchClose(ctx context.Context, batchID int64, reportJSON string) (*Batch, error) {
	var out *Batch
	err := db.write(ctx, func(tx *sql.Tx) error {
		b, err := scanBatch(tx.QueryRowContext(ctx, `SELECT `+batchCols+` FROM batches WHERE id = ?`, batchID))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if b.State != BatchClosing {
			return fmt.Errorf("batch %d is %s: %w", batchID, b.State, ErrBatchState)
		}
		now := db.now()
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET state = 'closed', closed_at = ?, report_json = ? WHERE id = ?`,
			toMS(now), reportJSON, batchID); err != nil {
			return fmt.Errorf("close batch: %w", err)
		}
		if _, err := currentBatch(ctx, tx, b.TerminalSN, now); err != nil {
			return err
		}
		out, err = scanBatch(tx.QueryRowContext(ctx, `SELECT `+batchCols+` FROM batches WHERE id = ?`, batchID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("finish closing batch %d: %w", batchID, err)
	}
	return out, nil
}

// GetBatch returns one batch of a terminal by number.
func (db *DB) GetBatch(ctx context.Context, sn string, batchNo int64) (*Batch, error) {
	b, err := scanBatch(db.reader.QueryRowContext(ctx, `SELECT `+batchCols+` FROM batches WHERE terminal_sn = ? AND batch_no = ?`, sn, batchNo))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("batch %d of %s: %w", batchNo, sn, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read batch %d of %s: %w", batchNo, sn, err)
	}
	return b, nil
}

// ListBatches returns batches newest first, for one terminal or all ("").
func (db *DB) ListBatches(ctx context.Context, sn string, limit int) ([]Batch, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	q := `SELECT ` + batchCols + ` FROM batches`
	args := []any{}
	if sn != "" {
		q += ` WHERE terminal_sn = ?`
		args = append(args, sn)
	}
	q += ` ORDER BY opened_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, fmt.Errorf("list batches: %w", err)
		}
		out = append(out, *b)
	}
	return out, rows.Err()
}

// BatchPayments returns the approved payments of a batch, oldest first.
func (db *DB) BatchPayments(ctx context.Context, batchID int64) ([]Payment, error) {
	ps, err := db.queryPayments(ctx, `WHERE batch_id = ? ORDER BY id`, batchID)
	if err != nil {
		return nil, fmt.Errorf("payments of batch %d: %w", batchID, err)
	}
	return ps, nil
}

// BatchClosing reports whether the terminal's current batch is closing
// (a read-only check for the payment workers).
func (db *DB) BatchClosing(ctx context.Context, sn string) (bool, error) {
	var n int
	err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM batches WHERE terminal_sn = ? AND state = 'closing'`, sn).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check closing batch of %s: %w", sn, err)
	}
	return n > 0, nil
}
