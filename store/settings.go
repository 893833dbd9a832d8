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

// NextCounter increments the named counter (kept in settings under
// "counter."+name) and returns its new value, starting at 1; when the value
// would exceed wrap (if wrap > 0) it starts again at 1. Used for ZVT trace and
// receipt numbers, which must survive restarts.
func (db *DB) NextCounter(ctx context.Context, name string, wrap int64) (int64, error) {
	if name == "" {
		return 0, fmt.Errorf("next counter: empty name: %w", ErrInvalid)
	}
	key := "counter." + name
	var next int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT v FROM settings WHERE k = ?`, key).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var n int64
		if cur != "" {
			if _, err := fmt.Sscan(cur, &n); err != nil {
				return fmt.Errorf("counter %q holds %q: %w", name, cur, ErrInvalid)
			}
		}
		next = n + 1
		if wrap > 0 && next > wrap {
			next = 1
		}
		return upsertSetting(ctx, tx, key, fmt.Sprint(next), db.now())
	})
	if err != nil {
		return 0, fmt.Errorf("next counter %q: %w", name, err)
	}
	return next, nil
}

// SettingToken keeps one secret token (e.g. a provider's access token) in
// settings, so it survives restarts. It satisfies the Bindo client's TokenStore.
type SettingToken struct {
	DB  *DB
	Key string
}

// LoadToken returns the stored token, or "" when there is none.
func (t SettingToken) LoadToken(ctx context.Context) (string, error) {
	v, err := t.DB.Setting(ctx, t.Key)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return v, err
}

// SaveToken stores the token.
func (t SettingToken) SaveToken(ctx context.Context, token string) error {
	return t.DB.SetSetting(ctx, t.Key, token)
}
