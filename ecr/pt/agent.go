package pt

import (
	"context"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/receipt"
)

// Agent is what the PT needs from the payment agent: payments and their
// lifecycle. *agent.Agent satisfies it.
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
	// LatestOriginal finds the newest payment a void or refund names by
	// order-number prefix (agent.ErrNotFound when there is none).
	LatestOriginal(ctx context.Context, q agent.OriginalQuery) (agent.Original, error)
	// CheckOriginal applies the agent's rules for a void or refund of an
	// original; a broken rule is an *agent.FieldError.
	CheckOriginal(ctx context.Context, c agent.OriginalCheck) error
	// BatchGet returns the terminal's open batch with its running totals.
	BatchGet(ctx context.Context, sn string) (agent.BatchReport, error)
	// BatchClose closes the terminal's batch (end of day).
	BatchClose(ctx context.Context, sn, by string) (agent.BatchReport, error)
	// BatchPayments returns the payments of one batch.
	BatchPayments(ctx context.Context, sn string, batchNo int64) ([]agent.Payment, error)
	// SetAlert records something a person must see on a payment.
	SetAlert(ctx context.Context, orderNo, alert string) (agent.Payment, error)
	// Receipt returns one copy of a payment's receipt (agent.ErrNotFound for
	// an unknown payment, an error wrapping agent.ErrNoReceipt when the
	// payment has none).
	Receipt(ctx context.Context, orderNo string, c receipt.Copy) (receipt.Receipt, error)
	// Subscribe registers a non-blocking callback for every published event.
	Subscribe(fn func(agent.Event)) (unsubscribe func())
	// Registry is the terminal registry (currency, online state).
	Registry() *device.Registry
}

var _ Agent = (*agent.Agent)(nil)

// Memory is what the PT keeps durably besides payments: its sequence counter
// (trace and receipt numbers), protocol notes on payments (the ECR's
// acknowledgements) and its settings (the ECR's registration).
// store.ECRMemory satisfies it.
type Memory interface {
	// NextCounter returns the next value of a durable named counter (1, 2, …;
	// wrapping after wrap when wrap > 0).
	NextCounter(ctx context.Context, name string, wrap int64) (int64, error)
	// Counter returns the counter's last value, 0 before its first use.
	Counter(ctx context.Context, name string) (int64, error)
	// Note appends a protocol fact of kind to a payment's journal.
	Note(ctx context.Context, orderNo, kind, detail string) error
	// Notes returns a payment's notes of one kind, oldest first.
	Notes(ctx context.Context, orderNo, kind string) ([]string, error)
	// Setting returns a durable setting, "" when unset.
	Setting(ctx context.Context, key string) (string, error)
	// SetSetting stores a durable setting.
	SetSetting(ctx context.Context, key, value string) error
}
