package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LateCheck is an expired payment whose provider never closes an order by
// itself, so the customer may still pay it; the background reconciler keeps
// asking until Until (migration 0009).
type LateCheck struct {
	MerchantOrderNo string
	NextCheckAt     time.Time
	Attempts        int
	Until           time.Time
	CreatedAt       time.Time
}

const (
	lateCheckCols = `merchant_order_no, next_check_at, attempts, until_at, created_at`
	lateDueSQL    = `SELECT ` + lateCheckCols + ` FROM late_checks WHERE next_check_at <= ? ORDER BY next_check_at LIMIT ?`
	nextLateSQL   = `SELECT MIN(next_check_at) FROM late_checks`
)

// AddLateCheck schedules late checks of a payment from next until until. It
// is idempotent: a payment already scheduled keeps its schedule.
func (db *DB) AddLateCheck(ctx context.Context, merchantOrderNo string, next, until time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO late_checks (`+lateCheckCols+`) VALUES (?, ?, 0, ?, ?)
			ON CONFLICT (merchant_order_no) DO NOTHING`, merchantOrderNo, toMS(next), toMS(until), toMS(db.now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("add late check of %q: %w", merchantOrderNo, err)
	}
	return nil
}

// LateCheckNow makes the late check of a payment due at now: it adds one
// running until until, or moves an existing one's next check to now and its
// end to until if that is later (a verified notification about an expired
// payment: the customer may have paid after all).
func (db *DB) LateCheckNow(ctx context.Context, merchantOrderNo string, now, until time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO late_checks (`+lateCheckCols+`) VALUES (?, ?, 0, ?, ?)
			ON CONFLICT (merchant_order_no) DO UPDATE SET next_check_at = excluded.next_check_at,
				until_at = MAX(until_at, excluded.until_at)`, merchantOrderNo, toMS(now), toMS(until), toMS(db.now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("check %q for a late payment now: %w", merchantOrderNo, err)
	}
	return nil
}

// LateChecksDue returns the late checks due at now, earliest first, at most
// limit (≤ 0: 100).
func (db *DB) LateChecksDue(ctx context.Context, now time.Time, limit int) ([]LateCheck, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.r().QueryContext(ctx, lateDueSQL, toMS(now), limit)
	if err != nil {
		return nil, fmt.Errorf("late checks due: %w", err)
	}
	defer rows.Close()
	var out []LateCheck
	for rows.Next() {
		var (
			c                       LateCheck
			next, until, created, n int64
		)
		if err := rows.Scan(&c.MerchantOrderNo, &next, &n, &until, &created); err != nil {
			return nil, fmt.Errorf("late checks due: %w", err)
		}
		c.NextCheckAt, c.Attempts, c.Until, c.CreatedAt = fromMS(next), int(n), fromMS(until), fromMS(created)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("late checks due: %w", err)
	}
	return out, nil
}

// NextLateCheck returns when the earliest late check is due (false: none).
func (db *DB) NextLateCheck(ctx context.Context) (time.Time, bool, error) {
	var ms sql.NullInt64
	if err := db.r().QueryRowContext(ctx, nextLateSQL).Scan(&ms); err != nil {
		return time.Time{}, false, fmt.Errorf("next late check: %w", err)
	}
	if !ms.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(ms.Int64), true, nil
}

// RescheduleLateCheck sets when a late check runs next and how many ran;
// one that has ended is left alone.
func (db *DB) RescheduleLateCheck(ctx context.Context, merchantOrderNo string, next time.Time, attempts int) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE late_checks SET next_check_at = ?, attempts = ? WHERE merchant_order_no = ?`,
			toMS(next), max(attempts, 0), merchantOrderNo)
		return err
	})
	if err != nil {
		return fmt.Errorf("reschedule late check of %q: %w", merchantOrderNo, err)
	}
	return nil
}

// EndLateCheck ends the late checks of a payment, appending ev to its
// history in the same transaction when ev.Kind is set (and the payment is
// still in the journal). Ending one that has ended is not an error.
func (db *DB) EndLateCheck(ctx context.Context, merchantOrderNo string, ev Event) error {
	if ev.At.IsZero() {
		ev.At = db.now()
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM late_checks WHERE merchant_order_no = ?`, merchantOrderNo)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 || ev.Kind == "" {
			return err
		}
		var id int64
		err = tx.QueryRowContext(ctx, `SELECT id FROM payments WHERE merchant_order_no = ?`, merchantOrderNo).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // archived meanwhile: nothing to note it on
		}
		if err != nil {
			return fmt.Errorf("find payment: %w", err)
		}
		_, err = insertEvent(ctx, db.wtx(tx), id, merchantOrderNo, ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("end late check of %q: %w", merchantOrderNo, err)
	}
	return nil
}
