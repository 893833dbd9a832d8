// Package agent owns the payment lifecycle: it writes every accepted payment to
// the journal before anything goes to a provider, runs one FIFO queue per
// terminal, follows each payment to a final state, reconciles unknown outcomes
// by querying (never by sending a create twice), and publishes every change.
//
// Front ends (the WebSocket API, ZVT, the console, the CLI) turn their input into
// a CreateRequest and call the agent; they never call a provider or write the
// journal themselves.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/device/card"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// Sentinel errors returned by the agent's operations.
var (
	// ErrInvalidParams is wrapped by every *FieldError.
	ErrInvalidParams = errors.New("invalid params")
	// ErrOrderNoReused means the merchant_order_no exists with different parameters.
	ErrOrderNoReused = errors.New("merchant_order_no already used with different parameters")
	// ErrNotFound means there is no payment with that merchant_order_no.
	ErrNotFound = errors.New("payment not found")
	// ErrNotCancellable means the payment cannot be cancelled in its current state.
	ErrNotCancellable = errors.New("payment cannot be cancelled")
	// ErrStopping means the agent is shutting down and accepts no new work.
	ErrStopping = errors.New("agent is stopping")
)

// CodePay is the part of the CodePay Cloud client the agent uses.
type CodePay interface {
	CreateOrder(ctx context.Context, r codepay.CreateOrderRequest) (*codepay.CreateOrderResponse, error)
	QueryOrder(ctx context.Context, merchantOrderNo, transNo string) (*codepay.Order, error)
	CloseOrder(ctx context.Context, r codepay.CloseOrderRequest) (*codepay.CloseOrderResponse, error)
	CloseBatch(ctx context.Context, terminalSN string) (*codepay.BatchCloseResponse, error)
	AdjustTip(ctx context.Context, merchantOrderNo string, tip money.Amount) error
}

var _ CodePay = (*codepay.Client)(nil)

// Metrics receives lifecycle counts; nil means none.
type Metrics interface {
	// PaymentState is called after every committed transition into state.
	PaymentState(state, route string)
	// Reconciliation is called when a payment's outcome has to be
	// established by query (unknown create outcome, or found unfinished at start).
	Reconciliation()
}

// Clock tells the time; tests inject a fake.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Config holds the agent's dependencies and settings.
type Config struct {
	Store     *store.DB
	CodePay   CodePay
	Terminals []device.Terminal
	// OrderExpires is the CodePay order's expires; a queued payment not sent
	// within it expires locally too.
	OrderExpires time.Duration
	// PollInterval is the first interval between order.query calls.
	PollInterval time.Duration
	// UnknownGiveUp is how long past expires a Bindo payment whose outcome is
	// unknown keeps being queried before Bindo's definite "no such
	// transaction" fails it as never received (default 60s).
	UnknownGiveUp time.Duration
	// QueueTimeout is how long a payment may wait in its terminal's queue
	// before it expires there, unsent (default 10m). It is independent of
	// OrderExpires: a payment never expires because the one before it was slow.
	QueueTimeout time.Duration
	// CreateSettle is how long after a create order's HTTP exchange ended a
	// definitive "order not found" is trusted to mean CodePay did not take
	// the order (default 5s). Then the same create is sent again.
	CreateSettle time.Duration
	// MaxResends bounds how often the same create is sent again after
	// "order not found" (default 3); after that the payment fails, nothing
	// charged.
	MaxResends int
	// Bindo, when set, enables the native card-present route and fallback.
	Bindo Bindo
	// QRWallet, when set, enables method qr (provider.go).
	QRWallet QRWallet
	// IDPay, when set, enables method va (the VA/QRIS gateway).
	IDPay IDPay
	// IDPayExpiry is how long a va payment may be paid (whole minutes,
	// 15 min to 97200 min); 0 lets the gateway use its default (4320 min).
	IDPayExpiry time.Duration
	// IDPayDefaultName is the account name shown to the customer when a va
	// payment.create gives no customer_name.
	IDPayDefaultName string
	// Link, when set, enables method link (pay-by-link through CodePay
	// Hosted Checkout, provider_link.go; *codepay.Client). Its results are
	// read with CodePay.QueryOrder and CodePay notifications.
	Link LinkCheckout
	// LinkCurrency is the currency of link payments; zero means the first
	// terminal's.
	LinkCurrency money.Currency
	// LinkExpiry is how long a payment link may be paid when the request
	// gives no link_expires_in; 0 means DefaultLinkExpiry.
	LinkExpiry time.Duration
	// LinkProvider chooses who hosts new payment links: LinkProviderCodePay
	// (the default; needs Link) or LinkProviderBindo (needs BindoLink and
	// LinkClientIP). Links already in the journal are followed by the
	// provider that created them.
	LinkProvider string
	// BindoLink, when set, pre-creates Bindo links (LinkProvider bindo) and
	// follows the Bindo links in the journal (*bindo.Client;
	// provider_bindolink.go).
	BindoLink BindoLink
	// LinkClientIP is sent as X-CLIENT-IP with every Bindo pre-create
	// ([bindo] link_client_ip).
	LinkClientIP string
	// BindoLinkPoll is the least time between two queries of a waiting
	// Bindo link; 0 means DefaultBindoLinkPoll (the spec's 20 s).
	BindoLinkPoll time.Duration
	// FallbackMode is "auto" (default when Bindo is set) or "never".
	FallbackMode string
	// UnreachableGrace is how long CodePay may stay unreachable (nothing
	// sent) before a payment that may fall back fails with
	// codepay_unavailable (default 30s). Without a fallback the payment keeps
	// trying until it expires.
	UnreachableGrace time.Duration
	// OfflineGrace is how long an order may wait for an offline terminal
	// before, when a fallback is possible, it is withdrawn at CodePay and
	// fails with codepay_unavailable (default 60s).
	OfflineGrace time.Duration
	// ProbeInterval is how long the agent may make no CodePay call before it
	// sends a light probe (an order.query for ProbeOrderNo), so the
	// reachability state never goes stale while the store is idle (default
	// 30s; negative disables the probe).
	ProbeInterval time.Duration
	// LateCheckWindow is how long the agent keeps asking whether money
	// arrived after all for a payment that ended while it still could
	// (latecheck.go): a QR wallet or VA payment that expired unpaid, a
	// CodePay card payment failed on "no record" (default 24h).
	LateCheckWindow time.Duration
	// Metrics, when set, is told about transitions and reconciliations.
	Metrics Metrics
	// Receipt is what receipts print besides the payment (receipt.go).
	Receipt ReceiptConfig
	// NotifyURL, when set, is sent with every create order.
	NotifyURL string
	Clock     Clock
	Logger    *slog.Logger
	// After replaces time.After in the workers (tests inject a fake clock's timers).
	After func(d time.Duration) <-chan time.Time
}

// Defaults of the reconciliation settings (docs/reliability.md).
const (
	DefaultQueueTimeout = 10 * time.Minute
	DefaultCreateSettle = 5 * time.Second
	DefaultMaxResends   = 3
	// DefaultLateCheckWindow: how long an ended payment is still checked
	// for a late payment.
	DefaultLateCheckWindow = 24 * time.Hour
)

// Agent runs the payment lifecycle. Create it with New, run it with Serve.
type Agent struct {
	cfg   Config
	db    *store.DB
	cp    CodePay
	reg   *device.Registry
	log   *slog.Logger
	clock Clock
	after func(time.Duration) <-chan time.Time

	termMu sync.Mutex // makes publishTerminal's read-and-update atomic

	busMu   sync.RWMutex
	subs    map[uint64]func(Event)
	nextSub uint64

	workers map[string]*worker
	// reconcileWake wakes the background reconciler of parked payments.
	reconcileWake chan struct{}
	reach         *reach

	// tasks are the goroutines started outside Serve's own loops (a Bindo
	// payment's send and follow-up, from Create): they run under Serve's
	// context and Serve waits for them (see tasks in bindo.go).
	tasks tasks
	// bindoLive holds the order numbers some goroutine of this process is
	// taking through Bindo (creating, sending or following): resuming the
	// journal at start skips them, so a payment created while Serve starts
	// is neither failed as "restarted" nor followed twice.
	bindoMu   sync.Mutex
	bindoLive map[string]int

	refreshMu sync.Mutex
	refresh   map[string]*termRefresh // publishTerminalLater's per terminal

	// refundMu makes a cloud refund's check of what is left to refund and
	// its journaling one step (cloudrefund.go).
	refundMu sync.Mutex
	// revoking holds the order numbers a payment.cancel call is sending an
	// order.revoker for; the reconciler leaves them alone.
	revokeMu sync.Mutex
	revoking map[string]bool
	// live holds the qr/va payments a goroutine of this process is sending.
	live providerLive

	runMu    sync.Mutex
	running  bool
	stopping bool
}

// New builds an agent; it does no I/O until Serve.
func New(cfg Config) (*Agent, error) {
	if cfg.Store == nil || cfg.CodePay == nil {
		return nil, errors.New("new agent: store and codepay client are required")
	}
	if cfg.OrderExpires <= 0 {
		cfg.OrderExpires = 180 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.UnreachableGrace <= 0 {
		cfg.UnreachableGrace = 30 * time.Second
	}
	if cfg.OfflineGrace <= 0 {
		cfg.OfflineGrace = 60 * time.Second
	}
	if cfg.FallbackMode == "" {
		cfg.FallbackMode = "auto"
	}
	if cfg.UnknownGiveUp <= 0 {
		cfg.UnknownGiveUp = 60 * time.Second
	}
	if cfg.QueueTimeout <= 0 {
		cfg.QueueTimeout = DefaultQueueTimeout
	}
	if cfg.CreateSettle <= 0 {
		cfg.CreateSettle = DefaultCreateSettle
	}
	if cfg.MaxResends <= 0 {
		cfg.MaxResends = DefaultMaxResends
	}
	if cfg.LateCheckWindow <= 0 {
		cfg.LateCheckWindow = DefaultLateCheckWindow
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = defaultProbeInterval
	}
	linkDefaults(&cfg)
	reg, err := device.NewRegistry(cfg.Terminals)
	if err != nil {
		return nil, fmt.Errorf("new agent: %w", err)
	}
	a := &Agent{
		cfg: cfg, db: cfg.Store, reg: reg, log: cfg.Logger.With("component", "agent"),
		clock: cfg.Clock, after: cfg.After, subs: map[uint64]func(Event){}, workers: map[string]*worker{},
		reconcileWake: make(chan struct{}, 1), revoking: map[string]bool{},
	}
	// Every CodePay call records whether it reached CodePay.
	a.reach = &reach{reg: reg, now: cfg.Clock.Now, publish: a.publishCodePay, log: a.log}
	a.cp = &reachCodePay{next: cfg.CodePay, r: a.reach}
	for _, t := range cfg.Terminals {
		a.workers[t.SN] = newWorker(a, t)
	}
	return a, nil
}

// Registry returns the terminal registry (read-only use by front ends).
func (a *Agent) Registry() *device.Registry { return a.reg }

// Serve records the configured terminals, reconciles what the journal holds,
// and runs one worker per terminal until ctx is cancelled. Each worker first
// drives its unfinished payment (if any) to a final state, then its queue.
func (a *Agent) Serve(ctx context.Context) error {
	a.runMu.Lock()
	if a.running {
		a.runMu.Unlock()
		return errors.New("serve agent: already running")
	}
	a.running = true
	a.runMu.Unlock()
	// Tasks (Bindo sends and follow-ups) run under Serve's context, also
	// those Create started before Serve; Serve returns only after they end.
	taskCtx, stopTasks := context.WithCancel(ctx)
	a.tasks.start(taskCtx)
	defer a.tasks.stop(stopTasks)

	for _, t := range a.reg.Terminals() {
		// A journal that refuses writes at start (full disk, read-only
		// medium) is waited out, not a reason to stop: payments accepted
		// before are served as soon as it takes writes again.
		for {
			err := a.db.UpsertTerminal(ctx, store.Terminal{SN: t.SN, Lane: t.Lane, Name: t.Name, Currency: t.Currency.Code})
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, store.ErrInvalid) {
				return fmt.Errorf("serve agent: %w", err)
			}
			a.log.Error("journal refused a write; retrying", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-a.after(journalRetry):
			}
		}
	}
	if ts, err := a.db.Terminals(ctx); err == nil {
		for _, t := range ts {
			if t.OnlineKnown {
				a.reg.SetOnline(t.SN, t.Online)
			}
		}
	}
	nonFinal, err := a.db.NonFinal(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("serve agent: %w", err)
	}
	if len(nonFinal) > 0 {
		a.log.Info("reconciling unfinished payments from the journal", "count", len(nonFinal))
		if a.cfg.Metrics != nil {
			for range nonFinal {
				a.cfg.Metrics.Reconciliation()
			}
		}
	}
	a.resumeBindo(ctx, nonFinal)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.runReconciler(ctx)
	}()
	if a.cfg.ProbeInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.probeIdle(ctx, a.cfg.ProbeInterval)
		}()
	}
	for _, w := range a.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	<-ctx.Done()
	a.runMu.Lock()
	a.stopping = true
	a.runMu.Unlock()
	wg.Wait()
	return nil // the deferred tasks.stop waits for the Bindo goroutines
}

// Create accepts a payment: validates it, writes it to the journal as queued
// (or returns the existing payment for a repeated identical request), and
// wakes the terminal's worker. It returns once the payment is durable.
func (a *Agent) Create(ctx context.Context, r CreateRequest) (Payment, error) {
	if r.Method != "" && r.Method != MethodCard {
		return a.createProvider(ctx, r) // provider.go: no terminal queue
	}
	if err := checkCardOnly(r); err != nil {
		return Payment{}, err
	}
	r, err := a.completeVoid(ctx, r)
	if err != nil {
		return Payment{}, err
	}
	n, err := a.validate(r)
	if err != nil {
		return Payment{}, err
	}
	if a.isStopping() {
		return Payment{}, ErrStopping
	}
	if r.Card != nil {
		a.claimBindo(n.orderNo)
		defer a.releaseBindo(n.orderNo)
	}
	if existing, err := a.db.GetPayment(ctx, n.orderNo); err == nil {
		if r.Card != nil {
			return a.fallbackExisting(ctx, existing, n, r.Card)
		}
		return a.sameOrReused(existing, n)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("create payment: %w", err)
	}
	route, err := a.checkOriginal(ctx, n)
	if err != nil {
		return Payment{}, err
	}
	if r.Card != nil {
		route = RouteBindo
	}
	now := a.clock.Now()
	row := &store.Payment{
		MerchantOrderNo:     n.orderNo,
		Type:                n.typ,
		State:               StateQueued,
		Source:              n.source,
		TerminalSN:          n.terminalSN,
		Currency:            n.currency.Code,
		AmountMinor:         n.amount,
		TipMinor:            n.tip,
		CashbackMinor:       n.cashback,
		OrigMerchantOrderNo: n.orig,
		Description:         n.description,
		Route:               route,
		RequestHash:         n.hash(),
		OptionsJSON:         optionsJSON(n.options),
		ExpiresAt:           now.Add(a.cfg.QueueTimeout), // until sent: the queue deadline
		CreatedAt:           now,
		UpdatedAt:           now,
	}
	saved, err := a.db.InsertPaymentThen(ctx, row, store.Event{Kind: "created", ToState: StateQueued, Detail: "accepted from " + n.source, At: now}, a.publishPayment)
	if errors.Is(err, store.ErrDuplicate) && saved != nil {
		return a.sameOrReused(saved, n)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("create payment: %w", err)
	}
	a.log.Info("payment accepted", "merchant_order_no", n.orderNo, "type", n.typ, "terminal_sn", n.terminalSN, "source", n.source, "route", route)
	if route == RouteBindo {
		np, err := a.startBindo(ctx, saved, r.Card)
		if err != nil {
			return Payment{}, fmt.Errorf("create payment: %w", err)
		}
		return a.view(np), nil
	}
	a.wake(n.terminalSN)
	a.publishTerminalLater(n.terminalSN)
	return a.view(saved), nil
}

// fallbackExisting handles payment.create with card for an order number that
// exists: the same request again is idempotent; a payment that failed having
// provably charged nothing goes through Bindo; anything else is refused.
func (a *Agent) fallbackExisting(ctx context.Context, existing *store.Payment, n *normalized, c *card.Card) (Payment, error) {
	if existing.RequestHash != n.hash() {
		c.Wipe()
		return Payment{}, fmt.Errorf("%w: %s", ErrOrderNoReused, n.orderNo)
	}
	if existing.Route == RouteBindo && !retryableWithCard(existing) {
		c.Wipe()
		return a.view(existing), nil
	}
	if !retryableWithCard(existing) {
		c.Wipe()
		if !IsFinal(existing.State) {
			return Payment{}, fmt.Errorf("%w: %s is still %s at CodePay; wait for its result", ErrFallbackRefused, n.orderNo, existing.State)
		}
		return Payment{}, fmt.Errorf("%w: %s ended %s; only a payment that failed with %s (nothing charged) can be sent again with card", ErrFallbackRefused, n.orderNo, existing.State, CodeCodePayUnavailable)
	}
	if !a.fallbackAllowed(n.options) {
		c.Wipe()
		return Payment{}, fieldErr("card", "the Bindo fallback is not available for this payment (fallback never, or [bindo] not configured)")
	}
	a.log.Info("payment falls back to Bindo", "merchant_order_no", n.orderNo)
	np, err := a.startBindo(ctx, existing, c)
	if err != nil {
		return Payment{}, fmt.Errorf("fall back to Bindo: %w", err)
	}
	return a.view(np), nil
}

// completeVoid fills what a void leaves out from its original in the
// journal: a void is always for the original's amount, in its currency, on
// its terminal, so the POS may name only orig_merchant_order_no. Fields the
// request does give are kept (and checked against the original as before).
func (a *Agent) completeVoid(ctx context.Context, r CreateRequest) (CreateRequest, error) {
	if r.Type != TypeVoid || r.OrigMerchantOrderNo == "" || (r.Amount != "" && r.Currency != "" && (r.TerminalSN != "" || r.Lane != "")) {
		return r, nil
	}
	orig, err := a.db.GetPayment(ctx, r.OrigMerchantOrderNo)
	if errors.Is(err, store.ErrNotFound) {
		missing := "amount"
		switch {
		case r.Amount != "" && r.Currency == "":
			missing = "currency"
		case r.Amount != "" && r.Currency != "":
			missing = "terminal_sn"
		}
		return r, fieldErr(missing, "required: %s is not in this journal, so the void cannot take it from the original", r.OrigMerchantOrderNo)
	}
	if err != nil {
		return r, fmt.Errorf("read original payment: %w", err)
	}
	if r.Amount == "" {
		r.Amount = view(orig, "").Amount
	}
	if r.Currency == "" {
		r.Currency = orig.Currency
	}
	if r.TerminalSN == "" && r.Lane == "" {
		r.TerminalSN = orig.TerminalSN
	}
	return r, nil
}

func (a *Agent) sameOrReused(existing *store.Payment, n *normalized) (Payment, error) {
	if existing.RequestHash != n.hash() {
		return Payment{}, fmt.Errorf("%w: %s", ErrOrderNoReused, n.orderNo)
	}
	return a.view(existing), nil
}

// checkOriginal validates void, refund and completion against the local record
// of the original payment when there is one (the cloud checks the rest), and
// returns the route the new payment takes: that of its original.
func (a *Agent) checkOriginal(ctx context.Context, n *normalized) (string, error) {
	if n.orig == "" {
		return RouteCodePay, nil
	}
	orig, err := a.db.GetPayment(ctx, n.orig)
	if errors.Is(err, store.ErrNotFound) {
		return RouteCodePay, nil // made outside posbridge; CodePay decides
	}
	if err != nil {
		return "", fmt.Errorf("check original payment: %w", err)
	}
	route := orig.Route
	if isProviderRoute(route) {
		return "", fieldErr("orig_merchant_order_no", "%s was paid through %s: refund it with payment.refund (a %s payment cannot be voided or completed on a terminal)", n.orig, route, route)
	}
	if route == RouteBindo {
		if a.cfg.Bindo == nil {
			return "", fieldErr("orig_merchant_order_no", "%s went through Bindo, which is not configured on this agent", n.orig)
		}
		if n.typ == TypeCompletion {
			return "", fieldErr("orig_merchant_order_no", "completions are not supported on the Bindo route")
		}
	}
	if err := a.checkOriginalRules(ctx, n, orig); err != nil {
		return "", err
	}
	return route, nil
}

// checkOriginalRules are the rules an original payment must meet for a
// void, refund or completion of it: approved, same currency, and per type.
func (a *Agent) checkOriginalRules(ctx context.Context, n *normalized, orig *store.Payment) error {
	const f = "orig_merchant_order_no"
	if orig.State != StateApproved {
		return fieldErr(f, "original payment %s is %s, not approved", n.orig, orig.State)
	}
	if orig.Currency != n.currency.Code {
		return fieldErr(f, "original payment %s is in %s, not %s", n.orig, orig.Currency, n.currency.Code)
	}
	switch n.typ {
	case TypeVoid:
		if orig.Type == TypeVoid || orig.Type == TypeRefund {
			return fieldErr(f, "a %s cannot be voided", orig.Type)
		}
		if orig.BatchID != 0 {
			if b, err := a.db.CurrentBatch(ctx, orig.TerminalSN); err == nil && b.ID != orig.BatchID {
				return fieldErr(f, "the batch of %s is closed: refund it instead of voiding", n.orig)
			}
		}
		if orig.TerminalSN != n.terminalSN {
			return fieldErr(f, "original payment %s was made on terminal %s; void it there", n.orig, orig.TerminalSN)
		}
		if n.amount != orig.AmountMinor {
			return fieldErr("amount", "a void must be for the original amount %s", view(orig, "").Amount)
		}
	case TypeRefund:
		if orig.Type != TypeSale && orig.Type != TypeCompletion && orig.Type != TypeCashback {
			return fieldErr(f, "a %s cannot be refunded", orig.Type)
		}
		if n.amount > orig.AmountMinor {
			return fieldErr("amount", "refund exceeds the original amount %s", view(orig, "").Amount)
		}
	case TypeCompletion:
		if orig.Type != TypePreAuth {
			return fieldErr(f, "a completion needs an approved preauth, %s is a %s", n.orig, orig.Type)
		}
	}
	return nil
}

// isStopping reports whether Serve is shutting down: no new payment is
// accepted then.
func (a *Agent) isStopping() bool {
	a.runMu.Lock()
	defer a.runMu.Unlock()
	return a.stopping
}

// Get returns a payment by merchant_order_no.
func (a *Agent) Get(ctx context.Context, orderNo string) (Payment, error) {
	p, err := a.db.GetPayment(ctx, orderNo)
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("%w: %s", ErrNotFound, orderNo)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("get payment: %w", err)
	}
	return a.view(p), nil
}

// ListFilter selects payments for List.
type ListFilter struct {
	TerminalSN string
	State      string
	Limit      int
}

// List returns payments, newest first.
func (a *Agent) List(ctx context.Context, f ListFilter) ([]Payment, error) {
	rows, err := a.db.ListPayments(ctx, store.ListFilter{TerminalSN: f.TerminalSN, State: f.State, Limit: f.Limit})
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	out := make([]Payment, len(rows))
	for i := range rows {
		out[i] = a.view(&rows[i])
	}
	return out, nil
}

// Wait returns the payment once it is final, or as it stands when timeout
// passes or ctx ends.
func (a *Agent) Wait(ctx context.Context, orderNo string, timeout time.Duration) (Payment, error) {
	ch := make(chan Payment, 1)
	unsub := a.Subscribe(func(e Event) {
		if e.Payment != nil && e.Payment.MerchantOrderNo == orderNo && e.Payment.Final() {
			select {
			case ch <- *e.Payment:
			default:
			}
		}
	})
	defer unsub()
	p, err := a.Get(ctx, orderNo)
	if err != nil || p.Final() {
		return p, err
	}
	select {
	case p := <-ch:
		return p, nil
	case <-a.after(timeout):
	case <-ctx.Done():
	}
	return a.Get(context.WithoutCancel(ctx), orderNo)
}

// Cancel cancels a payment: a queued one is removed from the queue locally; one
// waiting on the terminal is closed at CodePay (only possible while the
// terminal has not started it); a QR/wallet payment the terminal took or
// approved (in the open batch) is cancelled at CodePay with order.revoker;
// anything else gets ErrNotCancellable with the reason.
// CancelFrom is Cancel asked from a front end (SourceWS, SourceConsole,
// SourceCLI; "" means SourceWS): who asked is journaled on the payment
// first, an event "cancel requested from <source>"; the payment keeps the
// source of whoever created it.
func (a *Agent) CancelFrom(ctx context.Context, orderNo, source string) (Payment, error) {
	if source == "" {
		source = SourceWS
	}
	if validateSource(source) != nil {
		return Payment{}, fieldErr("source", "want ws, console or cli, got %q", source)
	}
	err := a.db.AppendEvent(ctx, orderNo, store.Event{Kind: "cancel", Detail: "cancel requested from " + source, At: a.clock.Now()})
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("%w: %s", ErrNotFound, orderNo)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("cancel payment: %w", err)
	}
	return a.Cancel(ctx, orderNo)
}

func (a *Agent) Cancel(ctx context.Context, orderNo string) (Payment, error) {
	p, err := a.db.GetPayment(ctx, orderNo)
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("%w: %s", ErrNotFound, orderNo)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("cancel payment: %w", err)
	}
	if isProviderRoute(p.Route) {
		return a.cancelProvider(ctx, p)
	}
	if isCloudRefund(p) && !IsFinal(p.State) {
		return Payment{}, fmt.Errorf("%w: %s is a refund sent through CodePay's cloud; it cannot be cancelled, wait for its result", ErrNotCancellable, orderNo)
	}
	switch p.State {
	case StateQueued:
		np, err := a.transition(ctx, orderNo, []string{StateQueued}, func(p *store.Payment) error {
			p.State = StateCancelled
			p.ErrorCode, p.ErrorMessage = "cancelled", "cancelled before it reached the terminal"
			return nil
		}, "cancelled in the queue")
		if errors.Is(err, store.ErrStateChanged) {
			return a.Cancel(ctx, orderNo) // it just moved on; try the next way
		}
		if err != nil {
			return Payment{}, fmt.Errorf("cancel payment: %w", err)
		}
		a.publishTerminalLater(p.TerminalSN)
		return a.view(np), nil
	case StateOnTerminal:
		if p.TransStatus != "" && p.TransStatus != "9" {
			// Taken by the terminal: a QR/wallet order is cancelled with
			// order.revoker (cloudrefund.go); a card order cannot be.
			if np, handled, err := a.cancelInCloud(ctx, p); handled {
				return np, err
			}
		}
		return a.cancelOnTerminal(ctx, p)
	case StateSending, StateUnknown:
		return Payment{}, fmt.Errorf("%w: %s is being sent to CodePay or reconciled; try again in a moment", ErrNotCancellable, orderNo)
	case StateApproved:
		// An approved QR/wallet payment in the open batch: order.revoker
		// refunds the customer.
		if np, handled, err := a.cancelInCloud(ctx, p); handled {
			return np, err
		}
		return Payment{}, fmt.Errorf("%w: %s is already %s", ErrNotCancellable, orderNo, p.State)
	default:
		return Payment{}, fmt.Errorf("%w: %s is already %s", ErrNotCancellable, orderNo, p.State)
	}
}

func (a *Agent) cancelOnTerminal(ctx context.Context, p *store.Payment) (Payment, error) {
	if p.TransStatus != "" && p.TransStatus != "9" {
		return Payment{}, fmt.Errorf("%w: the terminal is already processing %s; wait for its result (void or refund it afterwards)", ErrNotCancellable, p.MerchantOrderNo)
	}
	_, err := a.cp.CloseOrder(ctx, codepay.CloseOrderRequest{TerminalSN: p.TerminalSN, MerchantOrderNo: p.MerchantOrderNo, Description: "cancelled by cashier"})
	if err != nil {
		var ge *codepay.GatewayError
		a.event(ctx, p.MerchantOrderNo, "error", "close order failed: "+err.Error())
		a.wake(p.TerminalSN)
		if errors.As(err, &ge) {
			return Payment{}, fmt.Errorf("%w: CodePay refused to close %s (%s: %s); the terminal has probably started it — wait for its result", ErrNotCancellable, p.MerchantOrderNo, ge.Code, ge.Msg)
		}
		return Payment{}, fmt.Errorf("cancel payment %s: close order: %w", p.MerchantOrderNo, err)
	}
	np, err := a.transition(ctx, p.MerchantOrderNo, []string{StateOnTerminal}, func(p *store.Payment) error {
		p.State = StateCancelled
		p.TransStatus = "3"
		p.ErrorCode, p.ErrorMessage = "cancelled", "cancelled by the cashier before the terminal started it"
		return nil
	}, "closed at CodePay")
	if errors.Is(err, store.ErrStateChanged) && np != nil {
		return a.view(np), nil
	}
	if err != nil {
		return Payment{}, fmt.Errorf("cancel payment: %w", err)
	}
	a.wake(p.TerminalSN)
	return a.view(np), nil
}

// Terminals returns the live state of every terminal.
func (a *Agent) Terminals() []device.Status { return a.reg.Statuses() }

// Events returns the journal's events of one payment.
func (a *Agent) Events(ctx context.Context, orderNo string) ([]store.Event, error) {
	return a.db.Events(ctx, orderNo)
}

// HistoryEvent is one journaled event of a payment as the front ends show
// it: when, what kind, the state change if any, and the agent's words
// (never card data).
type HistoryEvent struct {
	At                 time.Time
	Kind               string
	FromState, ToState string
	Detail             string
}

// History returns a payment's journaled events, oldest first; ErrNotFound
// when the journal has no such payment.
func (a *Agent) History(ctx context.Context, orderNo string) ([]HistoryEvent, error) {
	evs, err := a.db.Events(ctx, orderNo)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, orderNo)
	}
	if err != nil {
		return nil, fmt.Errorf("payment history: %w", err)
	}
	return HistoryOf(evs), nil
}

// HistoryOf is the front ends' view of journal events (also of an archived
// payment's).
func HistoryOf(evs []store.Event) []HistoryEvent {
	out := make([]HistoryEvent, 0, len(evs))
	for _, e := range evs {
		out = append(out, HistoryEvent{At: e.At.UTC(), Kind: e.Kind, FromState: e.FromState, ToState: e.ToState, Detail: e.Detail})
	}
	return out
}

// ErrNotificationRejected means a verified notification does not belong to
// this installation or disagrees with the journal; nothing was changed.
var ErrNotificationRejected = errors.New("notification rejected")

// ApplyNotification takes a verified CodePay notification as a hint, never as
// evidence: it must name a CodePay payment of this journal, with the same
// trans_no (once known), currency and amount; then the payment's worker (or
// the background reconciler) queries CodePay at once, and only that signed
// answer moves the payment. A final payment is left alone, unless CodePay's
// answer shows it paid after posbridge ended it otherwise or sent it through
// Bindo (codepayPaidLate: an alert).
func (a *Agent) ApplyNotification(ctx context.Context, o *codepay.Order) error {
	if o.MerchantOrderNo == "" {
		return fmt.Errorf("%w: no merchant_order_no", ErrNotificationRejected)
	}
	p, err := a.db.GetPayment(ctx, o.MerchantOrderNo)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s is not a payment of this agent", ErrNotificationRejected, o.MerchantOrderNo)
	}
	if err != nil {
		return fmt.Errorf("apply notification: %w", err)
	}
	said := fmt.Sprintf("signed notification says trans_status %d", o.TransStatus)
	if paidElsewhere(p, o) {
		return a.codepayPaidLate(ctx, p, said)
	}
	if err := notificationMatches(p, o); err != nil {
		a.log.Warn("codepay notification disagrees with the journal; ignored", "merchant_order_no", p.MerchantOrderNo, "err", err)
		return fmt.Errorf("%w: %s: %w", ErrNotificationRejected, p.MerchantOrderNo, err)
	}
	if late, err := a.checkLateNow(ctx, p, said); late {
		return err
	}
	a.event(ctx, p.MerchantOrderNo, "notification", said+"; confirming by query")
	if IsFinal(p.State) {
		return nil
	}
	if !p.NextCheckAt.IsZero() {
		if err := a.db.Reschedule(ctx, p.MerchantOrderNo, a.clock.Now(), p.Attempts); err != nil && !errors.Is(err, store.ErrStateChanged) {
			return fmt.Errorf("apply notification: %w", err)
		}
		a.wakeReconciler()
		return nil
	}
	a.wake(p.TerminalSN)
	return nil
}

// notificationMatches checks a notification against the journaled payment.
func notificationMatches(p *store.Payment, o *codepay.Order) error {
	switch {
	case p.Route != RouteCodePay && p.Route != RouteCodePayLink:
		return fmt.Errorf("the payment went through %s, not CodePay", p.Route)
	case p.TransNo != "" && o.TransNo != p.TransNo:
		return fmt.Errorf("trans_no %q, the journal has %q", o.TransNo, p.TransNo)
	}
	return amountMatches(p, o)
}

// paidElsewhere reports whether a notification says CodePay completed an
// order of the payment's number and amount that posbridge no longer
// follows at CodePay: a card payment it ended unapproved, or one it sent
// through Bindo after giving up on CodePay. Only a query decides.
func paidElsewhere(p *store.Payment, o *codepay.Order) bool {
	if o.TransStatus != codepay.StatusCompleted || amountMatches(p, o) != nil {
		return false
	}
	return (p.Route == RouteCodePay && IsFinal(p.State) && p.State != StateApproved) || p.Route == RouteBindo
}

// amountMatches checks a notification's currency and amount.
func amountMatches(p *store.Payment, o *codepay.Order) error {
	switch {
	case o.Currency != p.Currency:
		return fmt.Errorf("price_currency %q, the payment is in %s", o.Currency, p.Currency)
	case o.OrderAmount == nil:
		return errors.New("no order_amount")
	case *o.OrderAmount != p.AmountMinor:
		cur, _ := money.LookupCurrency(p.Currency)
		return fmt.Errorf("order_amount %s, the payment is for %s", money.Format(*o.OrderAmount, cur), money.Format(p.AmountMinor, cur))
	}
	return nil
}

func optionsJSON(o Options) string {
	if o == (Options{}) {
		return ""
	}
	b, _ := jsonMarshal(o)
	return string(b)
}

// SetAlert records something a person must see on a payment, in any state
// (shown as "alert" on the API and the console, and published).
func (a *Agent) SetAlert(ctx context.Context, orderNo, alert string) (Payment, error) {
	p, err := a.transition(ctx, orderNo, nil, func(p *store.Payment) error {
		p.Alert = alert
		return nil
	}, "alert: "+alert)
	if errors.Is(err, store.ErrNotFound) {
		return Payment{}, fmt.Errorf("%w: %s", ErrNotFound, orderNo)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("set alert: %w", err)
	}
	a.log.Warn("payment alert", "merchant_order_no", orderNo, "alert", alert)
	return a.view(p), nil
}

// SetMetrics sets the metrics hook; call it before Serve.
func (a *Agent) SetMetrics(m Metrics) { a.cfg.Metrics = m }
