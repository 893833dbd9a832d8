package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/posbridge/posbridge/store"
)

// Alerts (migration 0012, docs/console.md "Alerts"): a payment's alert is
// something a person must act on — paid after it expired, approved after
// posbridge gave up on it, paid twice, an ECR result never acknowledged. It
// stays open, listed by OpenAlerts and counted in /metrics, until someone
// marks it handled (HandleAlert); a new alert on the payment opens it again.

// maxAlertNote bounds the note a person leaves when handling an alert.
const maxAlertNote = 200

// OpenAlerts returns the payments with an open alert, the most recently
// changed first (at most limit; ≤ 0: 100), and how many are open in all.
func (a *Agent) OpenAlerts(ctx context.Context, limit int) ([]Payment, int, error) {
	if limit > 500 {
		return nil, 0, fieldErr("limit", "at most 500, got %d", limit)
	}
	ps, err := a.db.OpenAlerts(ctx, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("open alerts: %w", err)
	}
	n, err := a.db.CountOpenAlerts(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("open alerts: %w", err)
	}
	out := make([]Payment, len(ps))
	for i := range ps {
		out[i] = a.view(&ps[i])
	}
	return out, n, nil
}

// HandleAlert marks a payment's alert handled, journaling who (source) and
// the note. The alert's text stays on the payment. Handling one already
// handled changes nothing.
func (a *Agent) HandleAlert(ctx context.Context, orderNo, source, note string) (Payment, error) {
	if source == "" {
		source = SourceWS
	}
	if validateSource(source) != nil {
		return Payment{}, fieldErr("source", "want ws, console or cli, got %q", source)
	}
	note = strings.TrimSpace(note)
	if !utf8.ValidString(note) || utf8.RuneCountInString(note) > maxAlertNote {
		return Payment{}, fieldErr("note", "at most %d characters of text", maxAlertNote)
	}
	p, err := a.db.GetPayment(ctx, orderNo)
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("%w: %s", ErrNotFound, orderNo)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("handle alert: %w", err)
	}
	switch {
	case p.Alert == "":
		return Payment{}, fieldErr("merchant_order_no", "%s has no alert", orderNo)
	case !p.AlertHandledAt.IsZero():
		return a.view(p), nil
	}
	detail := "alert handled from " + source
	if note != "" {
		detail += ": " + note
	}
	alert := p.Alert
	np, err := a.transition(ctx, orderNo, nil, func(p *store.Payment) error {
		if p.Alert != alert {
			return fmt.Errorf("%w: the alert changed meanwhile; read it again", errAlertChanged)
		}
		p.AlertHandledAt = a.clock.Now()
		return nil
	}, detail)
	if errors.Is(err, errAlertChanged) {
		return Payment{}, fieldErr("merchant_order_no", "%s has a new alert; read it before marking it handled", orderNo)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("handle alert: %w", err)
	}
	a.log.Info("payment alert handled", "merchant_order_no", orderNo, "source", source)
	return a.view(np), nil
}

var errAlertChanged = errors.New("alert changed")
