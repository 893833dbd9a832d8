package store

import (
	"context"
	"fmt"
)

// The look-ups of an ECR front end, which names payments by its own
// numbering (a ZVT receipt number) instead of by merchant_order_no. Both are
// bounded by an index whatever the journal's age (TestQueryPlansBounded).
const (
	// latestByPrefixTail: the payments whose merchant_order_no lies in
	// [from, to) — one order-number prefix — along the order number's unique
	// index; normally one row, so the sort is of a bounded set. The unary +
	// keeps the planner off the terminal's index, which would walk its whole
	// history.
	latestByPrefixTail = `WHERE merchant_order_no >= ? AND merchant_order_no < ? AND +terminal_sn = ? AND +type = ? ORDER BY id DESC LIMIT 1`
	// liveVoidTail: the voids of one payment that are approved or still
	// running, newest first, along payments_orig.
	liveVoidTail = `WHERE orig_merchant_order_no = ? AND orig_merchant_order_no <> '' AND type = 'void'
		AND state NOT IN ('declined', 'cancelled', 'expired', 'failed') ORDER BY id DESC LIMIT 1`
)

// LatestByOrderPrefix returns the newest payment of type typ on terminal sn
// whose merchant_order_no starts with prefix, or ErrNotFound.
func (db *DB) LatestByOrderPrefix(ctx context.Context, sn, prefix, typ string) (*Payment, error) {
	if prefix == "" {
		return nil, fmt.Errorf("latest payment by order-number prefix: empty prefix: %w", ErrInvalid)
	}
	ps, err := db.queryPayments(ctx, latestByPrefixTail, prefix, prefixEnd(prefix), sn, typ)
	if err != nil {
		return nil, fmt.Errorf("latest payment with prefix %q: %w", prefix, err)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("latest payment with prefix %q: %w", prefix, ErrNotFound)
	}
	return &ps[0], nil
}

// LiveVoidOf returns the newest void of the payment origNo that is approved
// or not final yet, or ErrNotFound when it has none.
func (db *DB) LiveVoidOf(ctx context.Context, origNo string) (*Payment, error) {
	ps, err := db.queryPayments(ctx, liveVoidTail, origNo)
	if err != nil {
		return nil, fmt.Errorf("voids of %q: %w", origNo, err)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("voids of %q: %w", origNo, ErrNotFound)
	}
	return &ps[0], nil
}

// prefixEnd is the smallest string above every string starting with prefix
// (in SQLite's BINARY collation): the prefix with its last byte below 0xFF
// incremented.
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xFF {
			b[i]++
			return string(b[:i+1])
		}
	}
	return string(b) + "\xff" // all 0xFF: nothing a valid order number holds
}
