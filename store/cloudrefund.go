package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RefundsOf returns every refund whose original is origMerchantOrderNo, in
// the order they were accepted (whatever their state and route).
func (db *DB) RefundsOf(ctx context.Context, origMerchantOrderNo string) ([]Payment, error) {
	if origMerchantOrderNo == "" {
		return nil, nil
	}
	ps, err := db.queryPayments(ctx, refundsOfTail, origMerchantOrderNo)
	if err != nil {
		return nil, fmt.Errorf("refunds of %q: %w", origMerchantOrderNo, err)
	}
	return ps, nil
}

// refundsOfTail is bounded by payments_orig (migration 0008).
const refundsOfTail = `WHERE orig_merchant_order_no = ? AND orig_merchant_order_no <> '' AND type = 'refund' ORDER BY id`

// Revoke states (table cloud_revokes).
const (
	RevokeSending = "sending" // order.revoker may be under way
	RevokeUnknown = "unknown" // its answer was lost: confirm by query
)

// Revoke is an order.revoker that may have reached CodePay and whose effect
// is not confirmed yet.
type Revoke struct {
	MerchantOrderNo string
	State           string    // RevokeSending or RevokeUnknown
	EndedAt         time.Time // when the call's exchange ended; zero: not known
	NextCheckAt     time.Time // when the reconciler looks at it (zero: not scheduled)
	Attempts        int
	CreatedAt       time.Time
}

const revokeCols = `merchant_order_no, state, ended_at, next_check_at, attempts, created_at`

func scanRevoke(s scanner) (*Revoke, error) {
	var (
		r                       Revoke
		ended, next, created, n int64
	)
	if err := s.Scan(&r.MerchantOrderNo, &r.State, &ended, &next, &n, &created); err != nil {
		return nil, err
	}
	r.EndedAt, r.NextCheckAt, r.CreatedAt, r.Attempts = fromMS(ended), fromMS(next), fromMS(created), int(n)
	return &r, nil
}

// BeginRevoke records, in one transaction, that an order.revoker for the
// payment is about to be sent (state sending, looked at by the reconciler
// from next on, should the process die meanwhile) and appends ev to the
// payment's history (like AppendEvent: the payment itself is not changed).
// It returns ErrNotFound without such a payment and ErrDuplicate when a
// revoke of it is already open.
func (db *DB) BeginRevoke(ctx context.Context, merchantOrderNo string, next time.Time, ev Event) error {
	if ev.Kind == "" {
		return fmt.Errorf("begin revoke of %q: empty event kind: %w", merchantOrderNo, ErrInvalid)
	}
	if ev.At.IsZero() {
		ev.At = db.now()
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM payments WHERE merchant_order_no = ?`, merchantOrderNo).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("find payment: %w", err)
		}
		var open int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cloud_revokes WHERE merchant_order_no = ?`, merchantOrderNo).Scan(&open); err != nil {
			return fmt.Errorf("read revoke: %w", err)
		}
		if open > 0 {
			return ErrDuplicate
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cloud_revokes (`+revokeCols+`) VALUES (?, ?, 0, ?, 0, ?)`,
			merchantOrderNo, RevokeSending, toMS(next), toMS(ev.At)); err != nil {
			return fmt.Errorf("insert revoke: %w", err)
		}
		_, err = insertEvent(ctx, db.wtx(tx), id, merchantOrderNo, ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("begin revoke of %q: %w", merchantOrderNo, err)
	}
	return nil
}

// UpdateRevoke writes r's state, times and attempts; ErrNotFound when the
// revoke is no longer open.
func (db *DB) UpdateRevoke(ctx context.Context, r Revoke) error {
	if r.State != RevokeSending && r.State != RevokeUnknown {
		return fmt.Errorf("update revoke of %q: state %q: %w", r.MerchantOrderNo, r.State, ErrInvalid)
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE cloud_revokes SET state = ?, ended_at = ?, next_check_at = ?, attempts = ?
			WHERE merchant_order_no = ?`, r.State, toMS(r.EndedAt), toMS(r.NextCheckAt), max(r.Attempts, 0), r.MerchantOrderNo)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update revoke of %q: %w", r.MerchantOrderNo, err)
	}
	return nil
}

// EndRevoke removes an open revoke (confirmed or abandoned); ending one that
// is not open is not an error.
func (db *DB) EndRevoke(ctx context.Context, merchantOrderNo string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM cloud_revokes WHERE merchant_order_no = ?`, merchantOrderNo)
		return err
	})
	if err != nil {
		return fmt.Errorf("end revoke of %q: %w", merchantOrderNo, err)
	}
	return nil
}

// GetRevoke returns the open revoke of a payment, or ErrNotFound.
func (db *DB) GetRevoke(ctx context.Context, merchantOrderNo string) (*Revoke, error) {
	r, err := scanRevoke(db.r().QueryRowContext(ctx, `SELECT `+revokeCols+` FROM cloud_revokes WHERE merchant_order_no = ?`, merchantOrderNo))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("revoke of %q: %w", merchantOrderNo, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("revoke of %q: %w", merchantOrderNo, err)
	}
	return r, nil
}

// RevokesDue returns the open revokes whose next check is due at now,
// earliest first, at most limit (≤ 0: 100).
func (db *DB) RevokesDue(ctx context.Context, now time.Time, limit int) ([]Revoke, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.r().QueryContext(ctx, `SELECT `+revokeCols+` FROM cloud_revokes
		WHERE next_check_at <= ? ORDER BY next_check_at LIMIT ?`, toMS(now), limit)
	if err != nil {
		return nil, fmt.Errorf("revokes due: %w", err)
	}
	defer rows.Close()
	var out []Revoke
	for rows.Next() {
		r, err := scanRevoke(rows)
		if err != nil {
			return nil, fmt.Errorf("revokes due: %w", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("revokes due: %w", err)
	}
	return out, nil
}

// NextRevoke returns when the earliest open revoke is due (zero: none).
func (db *DB) NextRevoke(ctx context.Context) (time.Time, bool, error) {
	var ms sql.NullInt64
	if err := db.r().QueryRowContext(ctx, `SELECT MIN(next_check_at) FROM cloud_revokes`).Scan(&ms); err != nil {
		return time.Time{}, false, fmt.Errorf("next revoke: %w", err)
	}
	if !ms.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(ms.Int64), true, nil
}

// RescheduleRevoke sets only when the reconciler looks at an open revoke
// next; a revoke that is no longer open is left alone.
func (db *DB) RescheduleRevoke(ctx context.Context, merchantOrderNo string, next time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE cloud_revokes SET next_check_at = ? WHERE merchant_order_no = ?`, toMS(next), merchantOrderNo)
		return err
	})
	if err != nil {
		return fmt.Errorf("reschedule revoke of %q: %w", merchantOrderNo, err)
	}
	return nil
}
