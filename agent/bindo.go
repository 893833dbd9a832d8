package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/device/card"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// Bindo is the part of the Bindo V3 gateway client the agent uses for the
// native card-present fallback.
type Bindo interface {
	UUIDFor(merchantOrderNo string) string
	Sale(ctx context.Context, r bindo.SaleRequest) (*bindo.Transaction, error)
	Query(ctx context.Context, uuid, brn string) (*bindo.Transaction, error)
	Void(ctx context.Context, r bindo.VoidRequest) (*bindo.Transaction, error)
	Refund(ctx context.Context, r bindo.RefundRequest) (*bindo.Transaction, error)
	AdjustTip(ctx context.Context, r bindo.TipRequest) (*bindo.Transaction, error)
}

var _ Bindo = (*bindo.Client)(nil)

// Fallback error codes and hints.
const (
	// CodeCodePayUnavailable: CodePay could not serve the payment and nothing was charged.
	CodeCodePayUnavailable = "codepay_unavailable"
	// CodeCardNotSent: a native payment lost its card data (restart) before
	// anything reached Bindo; nothing was charged.
	CodeCardNotSent = "card_not_sent"
	// HintNative is the error's fallback hint: send payment.create again with
	// the same merchant_order_no plus card to take it through Bindo.
	HintNative = "native"
)

// ErrFallbackRefused means a payment.create with card for an existing order
// cannot go through Bindo (the earlier attempt may have charged, or is not over).
var ErrFallbackRefused = errors.New("fallback refused")

// bindoCard adapts *card.Card to the Bindo client's Card.
type bindoCard struct{ *card.Card }

func (c bindoCard) Mode() string { return string(c.ReaderMode()) }

// fallbackAllowed reports whether this payment may be offered the Bindo fallback.
func (a *Agent) fallbackAllowed(opts Options) bool {
	if a.cfg.Bindo == nil || a.cfg.FallbackMode == "never" {
		return false
	}
	return opts.Fallback != "never"
}

// retryableWithCard reports whether a failed payment provably charged nothing,
// so it may be sent again with the same number through Bindo.
func retryableWithCard(p *store.Payment) bool {
	return p.State == StateFailed && (p.ErrorCode == CodeCodePayUnavailable || p.ErrorCode == CodeCardNotSent)
}

// startBindo takes a journaled payment through Bindo: it records "sending"
// with the derived uuid before returning (so the caller's answer already shows
// the Bindo route), then sends once and follows the payment in a task under
// Serve. c is the card for a sale (nil for voids and refunds of Bindo
// payments); it is wiped as soon as the sale call returns. Once Serve is
// stopping it changes nothing and returns ErrStopping (the payment stays
// queued, and the next start settles it).
func (a *Agent) startBindo(ctx context.Context, p *store.Payment, c *card.Card) (*store.Payment, error) {
	if !a.tasks.reserve() {
		if c != nil {
			c.Wipe()
		}
		return nil, ErrStopping
	}
	uuid := a.cfg.Bindo.UUIDFor(p.MerchantOrderNo)
	from := p.State
	// The caller going away (a closed WebSocket) must not stop the journal
	// write half-way.
	np, err := a.transition(context.WithoutCancel(ctx), p.MerchantOrderNo, []string{from}, func(p *store.Payment) error {
		p.State, p.Route, p.CreateSent, p.TransNo = StateSending, RouteBindo, true, uuid
		p.ErrorCode, p.ErrorMessage, p.TransStatus = "", "", ""
		p.ExpiresAt = a.clock.Now().Add(a.cfg.OrderExpires)
		p.CardAID, p.CardAppLabel = emvApplication(c) // for the receipt
		return nil
	}, "sending to Bindo (native card-present), uuid "+uuid)
	if err != nil {
		a.tasks.unreserve()
		if c != nil {
			c.Wipe()
		}
		return nil, err
	}
	a.claimBindo(np.MerchantOrderNo)
	a.tasks.run(func(ctx context.Context) {
		defer a.releaseBindo(np.MerchantOrderNo)
		tx, err := a.bindoSend(ctx, np, c, uuid)
		if c != nil {
			c.Wipe()
		}
		if done := a.bindoAfterSend(ctx, np, tx, err); done {
			return
		}
		a.bindoFollow(ctx, np.MerchantOrderNo, uuid)
	})
	return np, nil
}

func (a *Agent) bindoSend(ctx context.Context, p *store.Payment, c *card.Card, uuid string) (*bindo.Transaction, error) {
	cur, err := a.terminalCurrency(p.TerminalSN)
	if err != nil {
		return nil, err
	}
	amount := money.Amount{Minor: p.AmountMinor, Currency: cur}
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	switch p.Type {
	case TypeSale:
		if c == nil {
			return nil, fmt.Errorf("%w: no card data", bindo.ErrInvalidRequest)
		}
		req := bindo.SaleRequest{UUID: uuid, MerchantOrderNo: p.MerchantOrderNo, TerminalSN: p.TerminalSN, Amount: amount, Description: p.Description, Card: bindoCard{c}}
		if p.TipMinor > 0 {
			tip := p.TipMinor
			req.Tip = &tip
		}
		return a.cfg.Bindo.Sale(callCtx, req)
	case TypeVoid:
		orig, err := a.db.GetPayment(ctx, p.OrigMerchantOrderNo)
		if err != nil {
			return nil, err
		}
		return a.cfg.Bindo.Void(callCtx, bindo.VoidRequest{UUID: uuid, OrigUUID: orig.TransNo, TerminalSN: p.TerminalSN, Amount: &amount})
	case TypeRefund:
		orig, err := a.db.GetPayment(ctx, p.OrigMerchantOrderNo)
		if err != nil {
			return nil, err
		}
		return a.cfg.Bindo.Refund(callCtx, bindo.RefundRequest{UUID: uuid, OrigUUID: orig.TransNo, Amount: amount, TerminalSN: p.TerminalSN})
	}
	return nil, fmt.Errorf("%w: %s is not supported on the Bindo route", bindo.ErrInvalidRequest, p.Type)
}

// bindoAfterSend records the answer to the one send; it reports whether the
// payment is settled (final) without following it by query.
func (a *Agent) bindoAfterSend(ctx context.Context, p *store.Payment, tx *bindo.Transaction, err error) bool {
	from := []string{StateSending}
	var ge *bindo.GatewayError
	switch {
	case err == nil:
		np, _ := a.applyBindo(ctx, p, tx)
		return np != nil && IsFinal(np.State)
	case errors.Is(err, bindo.ErrNotSent) || errors.Is(err, bindo.ErrInvalidRequest):
		a.fail(ctx, p, from, CodeCardNotSent, "the payment did not reach Bindo ("+err.Error()+"); nothing was charged")
		return true
	case errors.As(err, &ge):
		a.fail(ctx, p, from, "bindo_refused", fmt.Sprintf("Bindo refused the payment: %s (code %s)", ge.Message, ge.Code))
		return true
	default:
		a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateUnknown
			return nil
		}, "outcome at Bindo unknown ("+err.Error()+"); reconciling by query")
		return false
	}
}

// bindoFollow queries the Bindo transaction until the payment is final.
func (a *Agent) bindoFollow(ctx context.Context, orderNo, uuid string) {
	interval := a.cfg.PollInterval
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-a.after(interval):
		}
		interval = min(interval*5/4, maxPoll)
		p, err := a.db.GetPayment(ctx, orderNo)
		if err != nil || IsFinal(p.State) {
			return
		}
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
		tx, err := a.cfg.Bindo.Query(callCtx, uuid, "")
		cancel()
		if errors.Is(err, bindo.ErrNotFound) && p.State == StateUnknown && a.clock.Now().After(p.ExpiresAt.Add(a.cfg.UnknownGiveUp)) {
			a.fail(ctx, p, []string{StateUnknown}, CodeCardNotSent, "Bindo has no record of this payment; nothing was charged")
			return
		}
		if err != nil {
			a.event(ctx, orderNo, "error", "Bindo query failed: "+err.Error())
			continue
		}
		if np, _ := a.applyBindo(ctx, p, tx); np != nil && IsFinal(np.State) {
			return
		}
	}
}

// applyBindo maps a Bindo transaction (answer, query or webhook) onto the
// payment; a final state never regresses.
func (a *Agent) applyBindo(ctx context.Context, p *store.Payment, tx *bindo.Transaction) (*store.Payment, error) {
	from := []string{StateSending, StateOnTerminal, StateUnknown}
	fill := func(p *store.Payment) {
		p.TransStatus = ""
		if tx.AuthCode != "" {
			p.AuthCode = tx.AuthCode
		}
		if tx.RefNo != "" {
			p.RefNo = tx.RefNo
		}
		if tx.MaskedPAN != "" {
			p.MaskedPAN = maskPAN(tx.MaskedPAN)
		}
		if tx.Brand != "" {
			p.CardBrand = tx.Brand
		}
		if tx.EntryMode != "" {
			p.EntryMode = tx.EntryMode
		}
		fillReceiptBindo(p, tx)
	}
	switch {
	case !tx.Final:
		if p.State == StateOnTerminal {
			return p, nil
		}
		return a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateOnTerminal
			fill(p)
			return nil
		}, "pending at Bindo")
	case bindoApproved(tx):
		return a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateApproved
			fill(p)
			return nil
		}, "approved by Bindo")
	default:
		return a.transition(ctx, p.MerchantOrderNo, from, func(p *store.Payment) error {
			p.State = StateDeclined
			fill(p)
			p.ErrorCode, p.ErrorMessage = tx.ErrorCode, tx.Message
			if p.ErrorCode == "" {
				p.ErrorCode = "declined"
			}
			return nil
		}, "declined by Bindo")
	}
}

// bindoApproved reports whether Bindo's transaction was approved (and may
// have been voided or refunded since).
func bindoApproved(tx *bindo.Transaction) bool {
	return tx.Approved || tx.Status == bindo.StatusVoided || tx.Status == bindo.StatusRefunded || tx.Status == bindo.StatusPartiallyRefunded
}

// ApplyBindoWebhook takes a verified Bindo webhook as a hint: it must name a
// Bindo payment of this journal with the same currency and amount; then the
// transaction is queried at Bindo and only that answer is applied. When the
// query gets no answer, the payment's own follow-up keeps querying.
func (a *Agent) ApplyBindoWebhook(ctx context.Context, tx *bindo.Transaction) error {
	p, err := a.db.GetPaymentByTransNo(ctx, RouteBindo, tx.UUID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: Bindo uuid %s is not a payment of this agent", ErrNotificationRejected, tx.UUID)
	}
	if err != nil {
		return fmt.Errorf("apply bindo webhook: %w", err)
	}
	if err := webhookMatches(p, tx); err != nil {
		a.log.Warn("bindo webhook disagrees with the journal; ignored", "merchant_order_no", p.MerchantOrderNo, "err", err)
		return fmt.Errorf("%w: %s: %w", ErrNotificationRejected, p.MerchantOrderNo, err)
	}
	a.event(ctx, p.MerchantOrderNo, "notification", "Bindo webhook says "+string(tx.Status)+"; confirming by query")
	late := endedUnapproved(p)
	if (IsFinal(p.State) && !late) || a.cfg.Bindo == nil {
		return nil
	}
	callCtx, cancel := context.WithTimeout(ctx, callTimeout) // the caller bounds it to answer in time
	q, err := a.cfg.Bindo.Query(callCtx, tx.UUID, "")
	cancel()
	if err != nil {
		a.event(ctx, p.MerchantOrderNo, "error", "Bindo query after the webhook failed: "+err.Error())
		if late {
			// Answered with an error, Bindo sends the webhook again.
			return fmt.Errorf("apply bindo webhook: ask Bindo about %s, which ended %s: %w", p.MerchantOrderNo, p.State, err)
		}
		return nil
	}
	if late {
		return a.bindoApprovedLate(ctx, p, q)
	}
	_, err = a.applyBindo(ctx, p, q)
	return err
}

// bindoApprovedLate puts the alert on a payment that ended unapproved when
// Bindo's answer q shows it approved; any other answer changes nothing.
func (a *Agent) bindoApprovedLate(ctx context.Context, p *store.Payment, q *bindo.Transaction) error {
	if !q.Final || !bindoApproved(q) {
		a.event(ctx, p.MerchantOrderNo, "notification", "Bindo shows the transaction "+string(q.Status)+"; the payment stays "+p.State)
		return nil
	}
	if err := a.alertApprovedLate(ctx, p, "Bindo", "uuid "+p.TransNo); err != nil {
		return fmt.Errorf("apply bindo webhook: %w", err)
	}
	return nil
}

// webhookMatches checks a Bindo webhook against the journaled payment.
func webhookMatches(p *store.Payment, tx *bindo.Transaction) error {
	switch {
	case tx.Currency != "" && !strings.EqualFold(tx.Currency, p.Currency):
		return fmt.Errorf("currency %q, the payment is in %s", tx.Currency, p.Currency)
	case tx.Amount == nil:
		return errors.New("no amount")
	case *tx.Amount != p.AmountMinor:
		return fmt.Errorf("amount %d minor units, the payment is for %d", *tx.Amount, p.AmountMinor)
	}
	return nil
}

// resumeBindo, at start, settles Bindo payments the journal holds unfinished:
// those whose card data was lost before sending fail (nothing charged, may be
// sent again with the card); the others are followed by query. A payment this
// process is already taking through Bindo (created while Serve started) is
// left to its goroutine.
func (a *Agent) resumeBindo(ctx context.Context, ps []store.Payment) {
	for i := range ps {
		p := &ps[i]
		if p.Route != RouteBindo || !a.claimBindoIfFree(p.MerchantOrderNo) {
			continue
		}
		a.resumeBindoOne(ctx, p)
		a.releaseBindo(p.MerchantOrderNo)
	}
}

// resumeBindoOne picks up one Bindo payment the journal held at start; the
// caller holds its claim.
func (a *Agent) resumeBindoOne(ctx context.Context, p *store.Payment) {
	if !p.CreateSent && (p.State == StateQueued || p.State == StateSending) {
		if p.Type == TypeSale {
			a.fail(ctx, p, []string{p.State}, CodeCardNotSent, "posbridge restarted before the card data reached Bindo (card data is never stored); nothing was charged: send the payment again with the card")
			return
		}
		a.startBindo(ctx, p, nil)
		return
	}
	if a.cfg.Bindo == nil {
		a.log.Error("unfinished Bindo payment but [bindo] is not configured", "merchant_order_no", p.MerchantOrderNo)
		return
	}
	uuid := a.cfg.Bindo.UUIDFor(p.MerchantOrderNo)
	if !a.tasks.reserve() {
		return // stopping: the next start follows it
	}
	a.claimBindo(p.MerchantOrderNo)
	a.tasks.run(func(ctx context.Context) {
		defer a.releaseBindo(p.MerchantOrderNo)
		a.bindoFollow(ctx, p.MerchantOrderNo, uuid)
	})
}

// claimBindo records that a goroutine of this process works on the Bindo
// payment orderNo (claims nest; each is released once).
func (a *Agent) claimBindo(orderNo string) {
	a.bindoMu.Lock()
	defer a.bindoMu.Unlock()
	if a.bindoLive == nil {
		a.bindoLive = map[string]int{}
	}
	a.bindoLive[orderNo]++
}

// claimBindoIfFree claims orderNo only if nobody works on it.
func (a *Agent) claimBindoIfFree(orderNo string) bool {
	a.bindoMu.Lock()
	defer a.bindoMu.Unlock()
	if a.bindoLive[orderNo] > 0 {
		return false
	}
	if a.bindoLive == nil {
		a.bindoLive = map[string]int{}
	}
	a.bindoLive[orderNo]++
	return true
}

func (a *Agent) releaseBindo(orderNo string) {
	a.bindoMu.Lock()
	defer a.bindoMu.Unlock()
	if a.bindoLive[orderNo]--; a.bindoLive[orderNo] <= 0 {
		delete(a.bindoLive, orderNo)
	}
}

// bindoTip adjusts the tip of an approved Bindo sale.
func (a *Agent) bindoTip(ctx context.Context, p *store.Payment, minor int64, cur money.Currency) error {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	_, err := a.cfg.Bindo.AdjustTip(callCtx, bindo.TipRequest{OrigUUID: p.TransNo, Tip: money.Amount{Minor: minor, Currency: cur}, TerminalSN: p.TerminalSN})
	return err
}

// sinceSent is how long ago the create order of p was sent (from its expiry).
func (a *Agent) sinceSent(p *store.Payment) time.Duration {
	return a.clock.Now().Sub(p.ExpiresAt.Add(-a.cfg.OrderExpires))
}

// tasks tracks the goroutines the agent starts outside Serve's own loops
// (a Bindo payment's send and follow-up): each runs under Serve's context,
// and Serve returns only once all have ended. A task started before Serve
// runs when Serve starts; none starts once Serve is stopping.
type tasks struct {
	mu      sync.Mutex
	ctx     context.Context // Serve's; nil before Serve starts
	pending []func(context.Context)
	stopped bool
	wg      sync.WaitGroup
}

// reserve makes room for one task; false once Serve is stopping. Each
// reservation is followed by exactly one run or unreserve.
func (t *tasks) reserve() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	t.wg.Add(1)
	return true
}

// unreserve gives back a reservation that will not run.
func (t *tasks) unreserve() { t.wg.Done() }

// run starts fn on a reservation: now under Serve's context, or when Serve
// starts.
func (t *tasks) run(fn func(ctx context.Context)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx == nil {
		t.pending = append(t.pending, fn)
		return
	}
	t.goRun(fn)
}

func (t *tasks) goRun(fn func(ctx context.Context)) {
	ctx := t.ctx
	go func() {
		defer t.wg.Done()
		fn(ctx)
	}()
}

// start runs the tasks under ctx, those waiting for it first (Serve).
func (t *tasks) start(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ctx = ctx
	for _, fn := range t.pending {
		t.goRun(fn)
	}
	t.pending = nil
}

// stop refuses new tasks, cancels the running ones with cancel and waits for
// them (Serve, on its way out).
func (t *tasks) stop(cancel context.CancelFunc) {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
	cancel()
	t.wg.Wait()
}
