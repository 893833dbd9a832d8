package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// ECRMemory is what an ECR front end keeps in the journal besides payments:
// durable counters (ZVT trace and receipt numbers), protocol notes on
// payments, and its settings (e.g. an ECR's registration). It satisfies
// ecr/pt's Memory. Settings live under "frontend."+key, counters under
// "counter."+name (NextCounter), notes are payment events of their kind.
type ECRMemory struct {
	DB *DB
}

// frontendPrefix keeps front-end settings apart from the store's own.
const frontendPrefix = "frontend."

// NextCounter returns the next value of a durable named counter (1, 2, …,
// wrapping after wrap when wrap > 0).
func (m ECRMemory) NextCounter(ctx context.Context, name string, wrap int64) (int64, error) {
	return m.DB.NextCounter(ctx, name, wrap)
}

// Counter returns the last value NextCounter returned for name, 0 if none.
func (m ECRMemory) Counter(ctx context.Context, name string) (int64, error) {
	v, err := m.DB.Setting(ctx, "counter."+name)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read counter %q: %w", name, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("counter %q holds %q: %w", name, v, ErrInvalid)
	}
	return n, nil
}

// Note appends an event of kind to a payment's journal without changing the
// payment (a protocol fact, e.g. "the ECR acknowledged the result").
func (m ECRMemory) Note(ctx context.Context, orderNo, kind, detail string) error {
	if err := m.DB.AppendEvent(ctx, orderNo, Event{Kind: kind, Detail: detail}); err != nil {
		return fmt.Errorf("note payment event: %w", err)
	}
	return nil
}

// Notes returns the details of a payment's events of one kind, oldest first.
func (m ECRMemory) Notes(ctx context.Context, orderNo, kind string) ([]string, error) {
	evs, err := m.DB.Events(ctx, orderNo)
	if err != nil {
		return nil, fmt.Errorf("read notes: %w", err)
	}
	var out []string
	for _, e := range evs {
		if e.Kind == kind {
			out = append(out, e.Detail)
		}
	}
	return out, nil
}

// Setting returns a front end's durable setting ("" when unset).
func (m ECRMemory) Setting(ctx context.Context, key string) (string, error) {
	v, err := m.DB.Setting(ctx, frontendPrefix+key)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return v, err
}

// SetSetting stores a front end's durable setting.
func (m ECRMemory) SetSetting(ctx context.Context, key, value string) error {
	return m.DB.SetSetting(ctx, frontendPrefix+key, value)
}
