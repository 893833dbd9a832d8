package pt

import (
	"context"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/device"
)

// Agent is what the PT needs from the payment agent. *agent.Agent satisfies it.
type Agent interface {
	// Create accepts a payment and returns once it is in the journal.
	Create(ctx context.Context, r agent.CreateRequest) (agent.Payment, error)
	// Get returns a payment by merchant_order_no.
	Get(ctx context.Context, orderNo string) (agent.Payment, error)
	// Wait returns the payment once final, or as it stands after timeout.
	Wait(ctx context.Context, orderNo string, timeout time.Duration) (agent.Payment, error)
	// Cancel cancels a payment that has not started on the terminal.
	Cancel(ctx context.Context, orderNo string) (agent.Payment, error)
	// List returns payments, newest first.
	List(ctx context.Context, f agent.ListFilter) ([]agent.Payment, error)
	// BatchClose closes the terminal's batch (end of day).
	BatchClose(ctx context.Context, sn, by string) (agent.BatchReport, error)
	// BatchPayments returns the payments of one batch.
	BatchPayments(ctx context.Context, sn string, batchNo int64) ([]agent.Payment, error)
	// Note appends a protocol fact to a payment's journal.
	Note(ctx context.Context, orderNo, kind, detail string) error
	Notes(ctx context.Context, orderNo, kind string) ([]string, error)
	Setting(ctx context.Context, key string) (string, error)
	SetSetting(ctx context.Context, key, value string) error
	// SetAlert records something a person must see on a payment.
	SetAlert(ctx context.Context, orderNo, alert string) (agent.Payment, error)
	// NextCounter returns the next value of a durable named counter.
	NextCounter(ctx context.Context, name string, wrap int64) (int64, error)
	// Subscribe registers a non-blocking callback for every published event.
	Subscribe(fn func(agent.Event)) (unsubscribe func())
	// Registry is the terminal registry (currency, online state).
	Registry() *device.Registry
}

var _ Agent = (*agent.Agent)(nil)
