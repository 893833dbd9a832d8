package store

import (
	"context"
	"fmt"
)

// StateRouteCount is the number of payments in one state on one route.
type StateRouteCount struct {
	State, Route string
	Count        int
}

// CountPayments counts payments by state and route (for metrics). The
// counts are kept by triggers in payment_counts (migration 0006), so a
// scrape reads a handful of rows however large the journal is.
func (db *DB) CountPayments(ctx context.Context) ([]StateRouteCount, error) {
	rows, err := db.reader.QueryContext(ctx, countsSQL)
	if err != nil {
		return nil, fmt.Errorf("count payments: %w", err)
	}
	defer rows.Close()
	var out []StateRouteCount
	for rows.Next() {
		var c StateRouteCount
		if err := rows.Scan(&c.State, &c.Route, &c.Count); err != nil {
			return nil, fmt.Errorf("count payments: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
