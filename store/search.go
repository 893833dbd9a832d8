package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SearchFilter selects payments over the whole journal, newest first (by
// created_at, then id). The match terms OrderPrefix, Last4 and Amounts are
// alternatives: a payment matches when any given term does; with none, every
// payment in the range matches.
type SearchFilter struct {
	From, To   time.Time // created in [From, To); zero means unbounded
	TerminalSN string
	State      string

	OrderPrefix string  // merchant_order_no starts with it (case-sensitive)
	Last4       string  // the masked PAN ends in these four digits
	Amounts     []int64 // amount_minor is one of these (any currency)

	// After continues a search: only payments older than this cursor (the
	// last row of the previous page).
	After Cursor
	Limit int // default 50, at most 500
}

// Cursor is a position in a search's order.
type Cursor struct {
	CreatedAt time.Time
	ID        int64
}

// IsZero reports whether c is the start of a search.
func (c Cursor) IsZero() bool { return c.ID == 0 }

// CursorOf is the position of a payment in a search's order.
func CursorOf(p *Payment) Cursor { return Cursor{CreatedAt: p.CreatedAt, ID: p.ID} }

// maxSearchAmounts bounds the amount alternatives of one search.
const maxSearchAmounts = 8

// searchTail is SearchPayments' query after "SELECT ... FROM payments".
func searchTail(f SearchFilter) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	if !f.From.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, toMS(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, toMS(f.To))
	}
	if f.TerminalSN != "" {
		where = append(where, "terminal_sn = ?")
		args = append(args, f.TerminalSN)
	}
	if f.State != "" {
		where = append(where, "state = ?")
		args = append(args, f.State)
	}
	// Each match term reads its own index (forced: the planner, without
	// statistics, would rather walk the date range); the payments are then
	// fetched by rowid. A term bounded by the range reads only its matches.
	var terms []string
	rangeSQL, rangeArgs := "", []any{}
	if !f.From.IsZero() {
		rangeSQL += " AND created_at >= ?"
		rangeArgs = append(rangeArgs, toMS(f.From))
	}
	if !f.To.IsZero() {
		rangeSQL += " AND created_at < ?"
		rangeArgs = append(rangeArgs, toMS(f.To))
	}
	if f.OrderPrefix != "" {
		terms = append(terms, "SELECT id FROM payments INDEXED BY sqlite_autoindex_payments_1 WHERE merchant_order_no >= ? AND merchant_order_no < ?")
		args = append(args, f.OrderPrefix, prefixEnd(f.OrderPrefix))
	}
	if f.Last4 != "" {
		if len(f.Last4) != 4 || strings.Trim(f.Last4, "0123456789") != "" {
			return "", nil, fmt.Errorf("last4 %q: want four digits: %w", f.Last4, ErrInvalid)
		}
		terms = append(terms, "SELECT id FROM payments INDEXED BY payments_last4 WHERE masked_pan <> '' AND substr(masked_pan, -4) = ?"+rangeSQL)
		args = append(append(args, f.Last4), rangeArgs...)
	}
	if len(f.Amounts) > maxSearchAmounts {
		return "", nil, fmt.Errorf("%d amounts: at most %d: %w", len(f.Amounts), maxSearchAmounts, ErrInvalid)
	}
	for _, a := range f.Amounts {
		terms = append(terms, "SELECT id FROM payments INDEXED BY payments_amount WHERE amount_minor = ?"+rangeSQL)
		args = append(append(args, a), rangeArgs...)
	}
	if len(terms) > 0 {
		where = append(where, "id IN ("+strings.Join(terms, " UNION ")+")")
	}
	if !f.After.IsZero() {
		where = append(where, "(created_at, id) < (?, ?)")
		args = append(args, toMS(f.After.CreatedAt), f.After.ID)
	}
	return whereTail(where) + "ORDER BY created_at DESC, id DESC LIMIT ?", append(args, pageLimit(f.Limit)), nil
}

// SearchPayments returns the payments f selects, newest first. A page
// shorter than the limit is the last.
func (db *DB) SearchPayments(ctx context.Context, f SearchFilter) ([]Payment, error) {
	tail, args, err := searchTail(f)
	if err != nil {
		return nil, fmt.Errorf("search payments: %w", err)
	}
	ps, err := db.queryPayments(ctx, tail, args...)
	if err != nil {
		return nil, fmt.Errorf("search payments: %w", err)
	}
	return ps, nil
}

// createdBetweenTail reads every payment created in [from, to), oldest
// first: the rows of a day's totals.
const createdBetweenTail = `WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id LIMIT ?`

// MaxDayPayments bounds PaymentsCreatedBetween.
const MaxDayPayments = 100_000

// PaymentsCreatedBetween returns the payments created in [from, to), oldest
// first, at most MaxDayPayments (ErrInvalid beyond: ask for a shorter
// range).
func (db *DB) PaymentsCreatedBetween(ctx context.Context, from, to time.Time) ([]Payment, error) {
	ps, err := db.queryPayments(ctx, createdBetweenTail, toMS(from), toMS(to), MaxDayPayments+1)
	if err != nil {
		return nil, fmt.Errorf("payments created between: %w", err)
	}
	if len(ps) > MaxDayPayments {
		return nil, fmt.Errorf("payments created between %s and %s: more than %d; ask for a shorter range: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), MaxDayPayments, ErrInvalid)
	}
	return ps, nil
}
