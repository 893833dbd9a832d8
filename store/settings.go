package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Setting returns the value stored under key, or ErrNotFound.
func (db *DB) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.reader.QueryRowContext(ctx, `SELECT v FROM settings WHERE k = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("get setting %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("get setting %q: %w", key, err)
	}
	return v, nil
}

// SetSetting stores value under key, replacing any previous value. The key
// must not be empty.
func (db *DB) SetSetting(ctx context.Context, key, value string) error {
	if key == "" {
		return fmt.Errorf("set setting: empty key: %w", ErrInvalid)
	}
	now := db.now()
	err := db.write(ctx, func(tx *sql.Tx) error { return upsertSetting(ctx, tx, key, value, now) })
	if err != nil {
		return fmt.Errorf("set setting %q: %w", key, err)
	}
	return nil
}

func upsertSetting(ctx context.Context, tx *sql.Tx, key, value string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO settings (k, v, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (k) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at`,
		key, value, toMS(now))
	if err != nil {
		return fmt.Errorf("upsert setting: %w", err)
	}
	return nil
}
