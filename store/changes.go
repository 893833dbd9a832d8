package store

import (
	"context"
	"fmt"
)

// Limits of ChangedSince.
const (
	DefaultChangesLimit = 100
	MaxChangesLimit     = 500
)

// ChangeFilter selects payments for ChangedSince.
type ChangeFilter struct {
	After      int64  // only payments whose EventID is greater than this
	TerminalSN string // "" = every terminal
	Limit      int    // default DefaultChangesLimit, at most MaxChangesLimit
}

// changedSinceTail is ChangedSince's query after "SELECT ... FROM payments",
// asking for one row more than the limit to learn whether more follow. Both
// forms are bounded by an index on last_event_id (TestChangedSinceUsesIndex).
func changedSinceTail(f ChangeFilter) (tail string, args []any, limit int) {
	limit = f.Limit
	switch {
	case limit <= 0:
		limit = DefaultChangesLimit
	case limit > MaxChangesLimit:
		limit = MaxChangesLimit
	}
	if f.TerminalSN == "" {
		return `WHERE last_event_id > ? ORDER BY last_event_id LIMIT ?`, []any{f.After, limit + 1}, limit
	}
	return `WHERE terminal_sn = ? AND last_event_id > ? ORDER BY last_event_id LIMIT ?`,
		[]any{f.TerminalSN, f.After, limit + 1}, limit
}

// ChangedSince returns, in ascending EventID order, the payments whose
// EventID is greater than f.After — every payment changed since that event,
// each once, as it stands now — at most f.Limit of them, and whether more
// follow. It reads one snapshot of the journal: a page never mixes states
// from before and after a write. Since EventIDs only grow, a payment that
// changes while a client pages through its changes moves to a later page
// and is not missed.
func (db *DB) ChangedSince(ctx context.Context, f ChangeFilter) ([]Payment, bool, error) {
	if f.After < 0 {
		return nil, false, fmt.Errorf("payments changed since %d: negative event id: %w", f.After, ErrInvalid)
	}
	tail, args, limit := changedSinceTail(f)
	ps, err := db.queryPayments(ctx, tail, args...)
	if err != nil {
		return nil, false, fmt.Errorf("payments changed since %d: %w", f.After, err)
	}
	if len(ps) > limit {
		return ps[:limit], true, nil
	}
	return ps, false, nil
}

// latestEventIDQuery reads the newest EventID from the end of an index.
const latestEventIDQuery = `SELECT COALESCE(MAX(last_event_id), 0) FROM payments`

// LatestEventID returns the highest EventID of any payment (0 for an empty
// journal): every EventID a client has seen from this journal is at most
// this.
func (db *DB) LatestEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := db.reader.QueryRowContext(ctx, latestEventIDQuery).Scan(&id); err != nil {
		return 0, fmt.Errorf("latest event id: %w", err)
	}
	return id, nil
}
