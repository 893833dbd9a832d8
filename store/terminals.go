package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Terminal is a configured payment terminal and its last known online state.
type Terminal struct {
	SN          string
	Lane        string
	Name        string
	Currency    string
	Online      bool // meaningful only when OnlineKnown
	OnlineKnown bool // false until SetTerminalOnline (or an insert with OnlineKnown) says
	UpdatedAt   time.Time
}

// UpsertTerminal stores a terminal from the configuration. A new terminal
// takes t.Online/t.OnlineKnown; an existing one keeps its online state and only
// gets Lane, Name and Currency updated.
func (db *DB) UpsertTerminal(ctx context.Context, t Terminal) error {
	if t.SN == "" {
		return fmt.Errorf("upsert terminal: empty serial number: %w", ErrInvalid)
	}
	if t.Currency != "" && len(t.Currency) != 3 {
		return fmt.Errorf("upsert terminal %q: currency %q is not a three-letter code: %w", t.SN, t.Currency, ErrInvalid)
	}
	var online any // NULL: not known
	if t.OnlineKnown {
		online = boolInt(t.Online)
	}
	now := db.now()
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO terminals (sn, lane, name, currency, online, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (sn) DO UPDATE SET lane = excluded.lane, name = excluded.name,
				currency = excluded.currency, updated_at = excluded.updated_at`,
			t.SN, t.Lane, t.Name, t.Currency, online, toMS(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("upsert terminal %q: %w", t.SN, err)
	}
	return nil
}

// SetTerminalOnline records whether the terminal is online, or returns
// ErrNotFound for an unknown terminal.
func (db *DB) SetTerminalOnline(ctx context.Context, sn string, online bool) error {
	now := db.now()
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE terminals SET online = ?, updated_at = ? WHERE sn = ?`,
			boolInt(online), toMS(now), sn)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set terminal %q online: %w", sn, err)
	}
	return nil
}

// Terminals returns every stored terminal ordered by serial number.
func (db *DB) Terminals(ctx context.Context) ([]Terminal, error) {
	rows, err := db.reader.QueryContext(ctx,
		`SELECT sn, lane, name, currency, online, updated_at FROM terminals ORDER BY sn`)
	if err != nil {
		return nil, fmt.Errorf("list terminals: %w", err)
	}
	defer rows.Close()
	var out []Terminal
	for rows.Next() {
		var (
			t       Terminal
			online  sql.NullInt64
			updated int64
		)
		if err := rows.Scan(&t.SN, &t.Lane, &t.Name, &t.Currency, &online, &updated); err != nil {
			return nil, fmt.Errorf("list terminals: %w", err)
		}
		t.OnlineKnown = online.Valid
		t.Online = online.Valid && online.Int64 != 0
		t.UpdatedAt = fromMS(updated)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list terminals: %w", err)
	}
	return out, nil
}
