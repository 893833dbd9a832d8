package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// PrefillHistory adds perTerminal final (approved) CodePay card sales (a
// masked PAN whose last four digits run 0000-9999) with one event each to
// every terminal in sns, as a journal looks after a long
// life: for benchmarks and tests of behaviour with history, never used by
// the agent. The orders are numbered H-<sn>-<n> and dated before at, one
// second apart; queue numbers continue from what the terminal has.
func (db *DB) PrefillHistory(ctx context.Context, sns []string, perTerminal int, at time.Time) error {
	const chunk = 20000
	for _, sn := range sns {
		for done := 0; done < perTerminal; done += chunk {
			n := min(chunk, perTerminal-done)
			err := db.write(ctx, func(tx *sql.Tx) error {
				var base int64
				if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(queue_seq), 0) FROM payments WHERE terminal_sn = ?`, sn).Scan(&base); err != nil {
					return err
				}
				start := toMS(at) - int64(perTerminal-done)*1000
				if _, err := tx.ExecContext(ctx, `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
					INSERT INTO payments (merchant_order_no, type, state, source, terminal_sn, currency, amount_minor,
						route, request_hash, queue_seq, create_sent, trans_no, trans_status, masked_pan, card_brand, created_at, updated_at)
					SELECT printf('H-%s-%08d', ?2, ?3 + i), 'sale', 'approved', 'ws', ?2, 'USD', 100 + i % 9900,
						'codepay', 'prefill', ?4 + i, 1, printf('P%s%08d', ?2, ?3 + i), '2', printf('476173******%04d', (?3 + i) % 10000), 'VISA',
						?5 + i * 1000, ?5 + i * 1000
					FROM seq`, n, sn, done, base, start); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO payment_events (payment_id, merchant_order_no, kind, from_state, to_state, detail, at)
					SELECT id, merchant_order_no, 'state', 'on_terminal', 'approved', 'approved', updated_at
					FROM payments WHERE terminal_sn = ? AND queue_seq > ?`, sn, base); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `UPDATE payments SET last_event_id =
					(SELECT MAX(e.id) FROM payment_events e WHERE e.payment_id = payments.id)
					WHERE terminal_sn = ? AND queue_seq > ?`, sn, base)
				return err
			})
			if err != nil {
				return fmt.Errorf("prefill history of %q: %w", sn, err)
			}
		}
	}
	return nil
}
