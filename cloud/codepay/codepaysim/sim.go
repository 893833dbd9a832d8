// Package codepaysim is an in-process emulator of the CodePay Cloud Open API
// (POST /api/entry) with emulated payment terminals, for posbridge's tests,
// `posbridge demo` and `posbridge sim codepay`.
//
// It verifies request signatures with the app public key exactly as the
// gateway does (codepay.Canonical over every received field), enforces the
// common fields, the per-method required fields and lengths and the business
// rules of trans_type, drives each order through 9 → 0 → 2|1 on an injected
// clock, signs its responses with a gateway key, delivers notifications with
// the documented retry schedule, records every request and can inject
// transport and signature faults. docs/codepay-sim.md describes it for users.
//
// The admin API under /sim/ has no authentication: serve the emulator on a
// loopback address only.
package codepaysim

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// Sentinel errors of the Go API.
var (
	// ErrInvalidConfig means New was given an unusable Config.
	ErrInvalidConfig = errors.New("invalid emulator config")
	// ErrUnknownTerminal means no terminal with that serial number is configured.
	ErrUnknownTerminal = errors.New("unknown terminal")
)

// Clock tells the emulator the time. A nil Clock in Config means real time.
type Clock = simkit.Clock

// TerminalConfig is one emulated terminal.
type TerminalConfig struct {
	SN     string
	Online bool
}

// Config configures the emulator. AppID, MerchantNo, GatewayKey and at least
// one of AppPublicKey (RSA2 requests) or BasicAuth (sign_type NONE) are required.
type Config struct {
	AppID, MerchantNo, StoreNo string
	// AppPublicKey verifies RSA2 request signatures.
	AppPublicKey *rsa.PublicKey
	// GatewayKey signs responses and notifications.
	GatewayKey *rsa.PrivateKey
	// BasicAuth enables sign_type NONE with these credentials; nil refuses NONE.
	BasicAuth *struct{ Username, Password string }
	Terminals []TerminalConfig
	// PickupDelay is how long an online terminal takes to pick up an order
	// (9 → 0); ProcessDelay how long it takes to finish it (0 → 2|1).
	// Zero means the defaults 500ms and 1500ms.
	PickupDelay, ProcessDelay time.Duration
	// DeclineMinorSuffix: a payment whose order_amount in minor units mod 100
	// equals this value declines with trans_error_code "51". 0 means the
	// default 51; -1 turns off every magic amount (MagicAmounts).
	DeclineMinorSuffix int
	Clock              Clock
	Logger             *slog.Logger
	// HTTPClient delivers notifications; nil means a client with a 10s timeout.
	HTTPClient *http.Client
	// BatchShape is the data of a batch.close answer: BatchShapeTotals
	// ("" too), BatchShapeSDK or BatchShapeEmpty. SetMode changes it later.
	BatchShape string
	// AmountStyle is how every amount the emulator emits is written:
	// AmountStyleString ("" too) or AmountStyleNumber. SetMode changes it later.
	AmountStyle string
}

// Batch answer shapes (Config.BatchShape). The Cloud Open API documents
// two (/work/shared/specs/codepay-cloud-open-api.txt): the merchant-level
// "Batch Close" answers data {"count": 1, "total_amount": 100}, the
// terminal-level batch.close data { }. CodePay's Java SDK reads the
// batch.close answer as one String field settle_list
// (response/BatchCloseResponse.java).
const (
	// BatchShapeTotals answers {"count", "total_amount", "price_currency"}
	// (the merchant-level Batch Close sample). The default.
	BatchShapeTotals = "totals"
	// BatchShapeSDK answers {"settle_list": "<JSON text>"}: the text is a
	// JSON array of one object {"count", "total_amount", "price_currency"}.
	BatchShapeSDK = "sdk"
	// BatchShapeEmpty answers data {} (the batch.close sample).
	BatchShapeEmpty = "empty"
)

// Amount styles (Config.AmountStyle).
const (
	// AmountStyleString writes amounts as JSON strings, "12.34". The default.
	AmountStyleString = "string"
	// AmountStyleNumber writes amounts as JSON numbers, 12.34, as the Java
	// SDK's Double fields expect (written exactly from minor units, never
	// through a float).
	AmountStyleNumber = "number"
)

// Numbers a refund-query answer shows (Mode.RefundQueryNumber). The spec
// asks order.refund.query for "TEST_1623925902130_002" and answers
// "TEST_1686732708342" (specs/codepay-cloud-open-api.txt:668, :679): the
// answer may carry the original payment's merchant_order_no.
const (
	// RefundQueryShowsRefund answers with the refund's own number. The default.
	RefundQueryShowsRefund = "refund"
	// RefundQueryShowsOriginal answers with the original payment's number,
	// as the spec's sample does.
	RefundQueryShowsOriginal = "original"
)

// BatchShapes and AmountStyles list the valid values.
func BatchShapes() []string  { return []string{BatchShapeTotals, BatchShapeSDK, BatchShapeEmpty} }
func AmountStyles() []string { return []string{AmountStyleString, AmountStyleNumber} }

// Mode is the emulator's conformance mode.
type Mode struct {
	BatchShape  string `json:"batch_shape"`
	AmountStyle string `json:"amount_style"`
	// RefundQueryNumber: RefundQueryShowsRefund ("" too) or
	// RefundQueryShowsOriginal.
	RefundQueryNumber string `json:"refund_query_number"`
}

// normalize fills defaults and checks the values.
func (m Mode) normalize() (Mode, error) {
	if m.BatchShape == "" {
		m.BatchShape = BatchShapeTotals
	}
	if m.AmountStyle == "" {
		m.AmountStyle = AmountStyleString
	}
	if m.RefundQueryNumber == "" {
		m.RefundQueryNumber = RefundQueryShowsRefund
	}
	if m.RefundQueryNumber != RefundQueryShowsRefund && m.RefundQueryNumber != RefundQueryShowsOriginal {
		return m, fmt.Errorf("%w: refund query number %q: want %s or %s", ErrInvalidConfig, m.RefundQueryNumber, RefundQueryShowsRefund, RefundQueryShowsOriginal)
	}
	if !slices.Contains(BatchShapes(), m.BatchShape) {
		return m, fmt.Errorf("%w: batch shape %q: want one of %s", ErrInvalidConfig, m.BatchShape, strings.Join(BatchShapes(), ", "))
	}
	if !slices.Contains(AmountStyles(), m.AmountStyle) {
		return m, fmt.Errorf("%w: amount style %q: want one of %s", ErrInvalidConfig, m.AmountStyle, strings.Join(AmountStyles(), ", "))
	}
	return m, nil
}

// Mode returns the current conformance mode.
func (s *Sim) Mode() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

// SetMode changes the conformance mode; empty fields keep their current
// value. Unknown values are refused (ErrInvalidConfig) and change nothing.
func (s *Sim) SetMode(m Mode) (Mode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.BatchShape == "" {
		m.BatchShape = s.mode.BatchShape
	}
	if m.AmountStyle == "" {
		m.AmountStyle = s.mode.AmountStyle
	}
	if m.RefundQueryNumber == "" {
		m.RefundQueryNumber = s.mode.RefundQueryNumber
	}
	m, err := m.normalize()
	if err != nil {
		return s.mode, err
	}
	s.mode = m
	s.log.Info("codepaysim: mode", "batch_shape", m.BatchShape, "amount_style", m.AmountStyle, "refund_query_number", m.RefundQueryNumber)
	return m, nil
}

// Default delays of the emulated terminal.
const (
	DefaultPickupDelay  = 500 * time.Millisecond
	DefaultProcessDelay = 1500 * time.Millisecond
	// DefaultDeclineMinorSuffix makes amounts such as "10.51" decline.
	DefaultDeclineMinorSuffix = 51
)

// Sim is the emulator. It is an http.Handler serving POST /api/entry and
// the admin API under /sim/; run Serve alongside it for the background
// order lifecycle and notification delivery (RunDue does one round of it,
// for tests that move a fake clock).
type Sim struct {
	simkit.Runner
	held simkit.Held // requests a process_late fault holds

	cfg     Config
	pickup  time.Duration
	process time.Duration
	decline int
	clock   Clock
	log     *slog.Logger
	httpc   *http.Client

	notifications *simkit.Outbox

	mu        sync.Mutex
	mode      Mode
	terminals map[string]*terminal
	termOrder []string
	orders    map[string]*order // by merchant_order_no
	byTransNo map[string]*order
	orderList []*order
	active    []*order // not final, in creation order
	scripts   map[string]Outcome
	paidWith  map[string]codepay.PayScenario // ScriptPayScenario
	faults    simkit.Faults[Fault]
	requests  simkit.Log[Request]
	seq       uint64
}

// New builds an emulator from cfg.
func New(cfg Config) (*Sim, error) {
	if cfg.AppID == "" || len(cfg.AppID) > 32 {
		return nil, fmt.Errorf("%w: app_id must be 1-32 characters", ErrInvalidConfig)
	}
	if cfg.MerchantNo == "" || len(cfg.MerchantNo) > 32 {
		return nil, fmt.Errorf("%w: merchant_no must be 1-32 characters", ErrInvalidConfig)
	}
	if len(cfg.StoreNo) > 32 {
		return nil, fmt.Errorf("%w: store_no must be at most 32 characters", ErrInvalidConfig)
	}
	if cfg.GatewayKey == nil {
		return nil, fmt.Errorf("%w: gateway key is required to sign responses", ErrInvalidConfig)
	}
	if cfg.AppPublicKey == nil && cfg.BasicAuth == nil {
		return nil, fmt.Errorf("%w: need an app public key (RSA2) or basic auth credentials", ErrInvalidConfig)
	}
	if cfg.PickupDelay < 0 || cfg.ProcessDelay < 0 {
		return nil, fmt.Errorf("%w: delays must not be negative", ErrInvalidConfig)
	}
	mode, err := Mode{BatchShape: cfg.BatchShape, AmountStyle: cfg.AmountStyle}.normalize()
	if err != nil {
		return nil, err
	}
	s := &Sim{
		cfg:       cfg,
		pickup:    cfg.PickupDelay,
		process:   cfg.ProcessDelay,
		decline:   cfg.DeclineMinorSuffix,
		terminals: make(map[string]*terminal),
		orders:    make(map[string]*order),
		byTransNo: make(map[string]*order),
		scripts:   make(map[string]Outcome),
		paidWith:  make(map[string]codepay.PayScenario),
		mode:      mode,
	}
	s.clock, s.log, s.httpc = simkit.Defaults("codepaysim", cfg.Clock, cfg.Logger, cfg.HTTPClient)
	if s.pickup == 0 {
		s.pickup = DefaultPickupDelay
	}
	if s.process == 0 {
		s.process = DefaultProcessDelay
	}
	if s.decline == 0 {
		s.decline = DefaultDeclineMinorSuffix
	}
	s.notifications = &simkit.Outbox{
		Source: "codepaysim", Noun: "notification", IDKey: "merchant_order_no",
		Retries: retrySchedule[:], Timeout: notifyTimeout, Post: s.post, Log: s.log,
	}
	for _, t := range cfg.Terminals {
		if t.SN == "" || len(t.SN) > 32 {
			return nil, fmt.Errorf("%w: terminal SN %q must be 1-32 characters", ErrInvalidConfig, t.SN)
		}
		if _, dup := s.terminals[t.SN]; dup {
			return nil, fmt.Errorf("%w: terminal SN %q listed twice", ErrInvalidConfig, t.SN)
		}
		s.addTerminalLocked(t, s.clock.Now())
	}
	s.Bind(s.routes(), simkit.Loop{Lock: &s.mu, Clock: s.clock, Advance: s.advanceLocked, Outbox: s.notifications})
	return s, nil
}

var _ http.Handler = (*Sim)(nil)

// SetOnline brings a terminal online or takes it offline. Orders waiting for
// an offline terminal stay in status 9; their pickup timer starts when it
// comes online.
func (s *Sim) SetOnline(sn string, online bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advanceLocked(now)
	t, ok := s.terminals[sn]
	if !ok {
		return fmt.Errorf("set terminal online: %w %q", ErrUnknownTerminal, sn)
	}
	if online && !t.online {
		t.onlineSince = now
	}
	t.online = online
	s.log.Info("codepaysim: terminal status", "terminal_sn", sn, "online", online)
	return nil
}

// AddTerminal adds a terminal, or sets the online state of an existing one.
func (s *Sim) AddTerminal(tc TerminalConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.advanceLocked(now)
	if t, ok := s.terminals[tc.SN]; ok {
		if tc.Online && !t.online {
			t.onlineSince = now
		}
		t.online = tc.Online
		return
	}
	s.addTerminalLocked(tc, now)
}

func (s *Sim) addTerminalLocked(tc TerminalConfig, now time.Time) {
	s.terminals[tc.SN] = &terminal{sn: tc.SN, online: tc.Online, onlineSince: now, batchNo: 1, batchOpened: now}
	s.termOrder = append(s.termOrder, tc.SN)
}

// Terminals lists the terminals in the order they were added.
func (s *Sim) Terminals() []TerminalConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TerminalConfig, 0, len(s.termOrder))
	for _, sn := range s.termOrder {
		out = append(out, TerminalConfig{SN: sn, Online: s.terminals[sn].online})
	}
	return out
}

// Outcome scripts how the terminal finishes an order: Status 2 (approved),
// 1 (declined, with ErrorCode/ErrorMsg; defaults "05"/"Do not honor") or
// 3 (cancelled on the terminal).
type Outcome struct {
	Status    codepay.TransStatus
	ErrorCode string
	ErrorMsg  string
}

func (o Outcome) valid() bool {
	return o.Status == codepay.StatusCompleted || o.Status == codepay.StatusFailed || o.Status == codepay.StatusCancelled
}

// ScriptOutcome fixes the outcome of the order with this number when the
// terminal finishes it; it may be called before the order is created. It
// overrides DeclineMinorSuffix. Outcomes with another status are ignored.
func (s *Sim) ScriptOutcome(merchantOrderNo string, o Outcome) {
	if !o.valid() {
		s.log.Warn("codepaysim: ignoring scripted outcome with unsupported status",
			"merchant_order_no", merchantOrderNo, "status", int(o.Status))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[merchantOrderNo] = o
}

// ScriptPayScenario makes the order with this number (created later) a
// payment the customer makes with scenario — e.g. codepay.ScenarioBScanQR: a
// wallet QR code shown to or scanned by the terminal — instead of a card, as
// if the customer chose it at the terminal. Query answers carry that
// pay_scenario from the start and the order can be revoked
// (order.revoker) and refunded from the cloud. An invalid scenario is
// ignored with a warning.
func (s *Sim) ScriptPayScenario(merchantOrderNo string, scenario codepay.PayScenario) {
	if !scenario.Valid() {
		s.log.Warn("codepaysim: ignoring scripted pay scenario", "merchant_order_no", merchantOrderNo, "pay_scenario", string(scenario))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paidWith[merchantOrderNo] = scenario
}

// Requests returns the recorded /api/entry requests, oldest first, filtered
// by method and merchant_order_no ("" matches any). The log keeps the most
// recent 45,000-50,000 requests.
func (s *Sim) Requests(method, merchantOrderNo string) []Request {
	return s.requests.Read(&s.mu, matcher(method, merchantOrderNo), (*Request).clone)
}

// Count is len(Requests(method, merchantOrderNo)).
func (s *Sim) Count(method, merchantOrderNo string) int {
	return s.requests.Tally(&s.mu, matcher(method, merchantOrderNo))
}

// matcher selects the requests of method and merchantOrderNo; "" matches any.
func matcher(method, merchantOrderNo string) func(*Request) bool {
	return func(r *Request) bool {
		return (method == "" || r.Method == method) && (merchantOrderNo == "" || r.MerchantOrderNo == merchantOrderNo)
	}
}

// Order returns the current state of an order, after applying every
// transition due at the clock's current time.
func (s *Sim) Order(merchantOrderNo string) (OrderView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(s.clock.Now())
	o, ok := s.orders[merchantOrderNo]
	if !ok {
		return OrderView{}, false
	}
	return s.viewLocked(o), true
}

// Batch reports a terminal's open batch and the batches closed so far.
func (s *Sim) Batch(sn string) (BatchReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(s.clock.Now())
	t, ok := s.terminals[sn]
	if !ok {
		return BatchReport{}, fmt.Errorf("report batch: %w %q", ErrUnknownTerminal, sn)
	}
	open, _ := s.batchTotalsLocked(t)
	rep := BatchReport{TerminalSN: sn, Open: open, Closed: append([]BatchSummary(nil), t.closed...)}
	for _, o := range s.orderList {
		if o.terminal == sn && o.batchNo == t.batchNo {
			rep.OpenOrders = append(rep.OpenOrders, o.no)
		}
	}
	sort.Strings(rep.OpenOrders)
	return rep, nil
}
