// Package qrwalletsim is an in-process emulator of the QR wallet payment
// API (/work/shared/specs/qr-wallet-pay-api.txt, "the spec" below, cited by
// line) for posbridge's tests and demos. It is built from the spec, not
// from posbridge's client: every endpoint the spec documents (token login,
// native pay, quick pay, JSAPI pay, refund to buyer, payment status,
// refund status), every field it shows, the value forms it shows (numbers
// and strings where the samples use both), token expiry, the
// customer-scans flow of native pay, quick pay payers that take time to
// enter a PIN (line 58), refunds bounded by the paid amount, a request log
// and transport faults. docs/providers.md ("QR wallet") documents it.
//
// The spec names no URL for any endpoint, documents no error answer and
// defines no signature and no notifications. The emulator's choices for
// those are its Paths, its Mode (error shape and status, amount style) and
// the absence of notifications; the fault kind "forged" (an answer about
// another order) stands in for a bad signature, which this API cannot
// have.
//
// The admin API under /sim/ has no authentication: serve the emulator on
// a loopback address only.
package qrwalletsim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
	"github.com/posbridge/posbridge/money"
)

// Sentinel errors of the Go API.
var (
	ErrInvalidConfig  = errors.New("invalid emulator config")
	ErrUnknownPayment = errors.New("unknown payment")
	// ErrNotScannable: the payment is not a native QR payment waiting for
	// the customer, or its QR code expired.
	ErrNotScannable = errors.New("payment cannot be scanned")
	// ErrNoPIN: the payment does not wait for the payer's PIN.
	ErrNoPIN = errors.New("payment waits for no PIN")
)

// Clock tells the emulator the time; nil in Config means real time.
type Clock = simkit.Clock

// Paths are the endpoints. The spec names none; these defaults match
// qrwallet.DefaultPaths.
type Paths struct {
	Token, NativePay, QuickPay, JSAPIPay, Refund, PaymentStatus, RefundStatus string
}

// DefaultPaths are the emulator's endpoint paths.
var DefaultPaths = Paths{
	Token:         "/api/token",
	NativePay:     "/api/native-pay",
	QuickPay:      "/api/quick-pay",
	JSAPIPay:      "/api/jsapi-pay",
	Refund:        "/api/refund",
	PaymentStatus: "/api/payment-status",
	RefundStatus:  "/api/refund-status",
}

// Endpoint names: the keys of faults and of the request log.
const (
	EndpointToken         = "token"
	EndpointNativePay     = "native_pay"
	EndpointQuickPay      = "quick_pay"
	EndpointJSAPIPay      = "jsapi_pay"
	EndpointRefund        = "refund"
	EndpointPaymentStatus = "payment_status"
	EndpointRefundStatus  = "refund_status"
)

// Defaults of Config.
const (
	DefaultUser     = "posbridge-sim"
	DefaultPassword = "sim-password"
	DefaultStoreID  = "109038" // line 133
	DefaultCurrency = "USD"    // lines 84, 148, 180
	// DefaultTokenTTL: "This token will expire in a minute" (line 3).
	DefaultTokenTTL = time.Minute
	// DefaultQRLifetime: the spec gives native QR codes no expiry; the
	// emulator refuses a scan after this.
	DefaultQRLifetime = 5 * time.Minute
	// DefaultPINDelay is how long a scripted payer takes to enter the PIN.
	DefaultPINDelay = 10 * time.Second
	// DefaultPINTimeout: a payer who never enters the PIN fails after the
	// spec's 45 s (line 58).
	DefaultPINTimeout = 45 * time.Second
)

// Amount suffixes (amount in minor units mod 100) that script a quick or
// JSAPI payment's outcome when no Script is set.
const (
	SuffixDeclined     = 51 // refused at once: "success": false
	SuffixPIN          = 52 // pending while the payer enters the PIN, then paid
	SuffixPINAbandoned = 53 // pending, then failed after PINTimeout
)

// Config configures the emulator; zero values mean the defaults above.
type Config struct {
	User, Password string
	StoreID        string
	Currency       string
	Paths          Paths
	TokenTTL       time.Duration
	QRLifetime     time.Duration
	PINDelay       time.Duration
	PINTimeout     time.Duration
	Mode           Mode
	Clock          Clock
	Logger         *slog.Logger
}

// Sim is the emulator, an http.Handler.
type Sim struct {
	cfg   Config
	cur   money.Currency
	clock Clock
	log   *slog.Logger
	mux   *http.ServeMux

	mu       sync.Mutex
	mode     Mode
	tokens   map[string]time.Time // token → expiry
	secret   []byte
	payments map[string]*payment
	order    []*payment
	scripts  map[string]Script
	faults   simkit.Faults[Fault]
	requests simkit.Log[Request]
	seq      uint64
}

var _ http.Handler = (*Sim)(nil)

// New builds an emulator.
func New(cfg Config) (*Sim, error) {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&cfg.User, DefaultUser)
	def(&cfg.Password, DefaultPassword)
	def(&cfg.StoreID, DefaultStoreID)
	def(&cfg.Currency, DefaultCurrency)
	dp := DefaultPaths
	for _, pp := range []struct {
		dst *string
		v   string
	}{
		{&cfg.Paths.Token, dp.Token}, {&cfg.Paths.NativePay, dp.NativePay}, {&cfg.Paths.QuickPay, dp.QuickPay},
		{&cfg.Paths.JSAPIPay, dp.JSAPIPay}, {&cfg.Paths.Refund, dp.Refund},
		{&cfg.Paths.PaymentStatus, dp.PaymentStatus}, {&cfg.Paths.RefundStatus, dp.RefundStatus},
	} {
		def(pp.dst, pp.v)
		if !strings.HasPrefix(*pp.dst, "/") || strings.ContainsAny(*pp.dst, " {}?#") {
			return nil, fmt.Errorf("%w: path %q must start with / and hold no pattern characters", ErrInvalidConfig, *pp.dst)
		}
	}
	dur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	dur(&cfg.TokenTTL, DefaultTokenTTL)
	dur(&cfg.QRLifetime, DefaultQRLifetime)
	dur(&cfg.PINDelay, DefaultPINDelay)
	dur(&cfg.PINTimeout, DefaultPINTimeout)
	cur, err := money.LookupCurrency(cfg.Currency)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	mode, err := cfg.Mode.normalize()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	s := &Sim{
		cfg: cfg, cur: cur, clock: cfg.Clock, log: cfg.Logger, mode: mode, secret: secret,
		tokens: make(map[string]time.Time), payments: make(map[string]*payment), scripts: make(map[string]Script),
	}
	if s.clock == nil {
		s.clock = simkit.RealClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.mux = s.routes()
	return s, nil
}

// ServeHTTP serves the API and the admin API under /sim/.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Config returns the configuration in use, defaults filled in.
func (s *Sim) Config() Config { return s.cfg }

// Mode is the emulator's conformance mode: the forms the spec leaves open.
type Mode struct {
	// AmountStyle: "number" (as every sample, e.g. line 49; the default) or
	// "string".
	AmountStyle string `json:"amount_style"`
	// ErrorShape: "top" ({"success": false, "message": "..."}, the default)
	// or "data" ({"success": false, "data": {"message": "..."}}). The spec
	// shows no failure answer.
	ErrorShape string `json:"error_shape"`
	// ErrorStatus is the HTTP status of a refusal: 200 (the default) or 400.
	ErrorStatus int `json:"error_status"`
	// Sparse omits the answer fields a client may not rely on: currency,
	// transaction_id, service_id, store_id, result_code, message, and
	// out_refund_no in payment status answers.
	Sparse bool `json:"sparse"`
	// PlainSlashes writes "/" unescaped; by default it is written "\/", as
	// the native pay sample does (line 48).
	PlainSlashes bool `json:"plain_slashes"`
	// SingleKeys writes out_trade_no once in status answers; by default it
	// is repeated, as the samples do (lines 176 and 178).
	SingleKeys bool `json:"single_keys"`
	// PendingCode is the result_code of a quick pay still waiting for the
	// payer's PIN; the spec names none (default "USERPAYING").
	PendingCode string `json:"pending_code"`
	// PendingAsRefusal answers a quick pay still waiting for the payer's
	// PIN with a refusal (success false, the pending code as its message)
	// while the payment stays pending and is paid once the PIN is entered:
	// the spec shows no error answers, and a wallet whose server gives up
	// waiting (its 45 s, line 58) before the payer confirms answers so.
	PendingAsRefusal bool `json:"pending_as_refusal"`
	// NotFoundMessage is the message of a status query's refusal for an
	// unknown out_trade_no (default "Transaction not found").
	NotFoundMessage string `json:"not_found_message"`
}

func (m Mode) normalize() (Mode, error) {
	if m.AmountStyle == "" {
		m.AmountStyle = "number"
	}
	if m.ErrorShape == "" {
		m.ErrorShape = "top"
	}
	if m.ErrorStatus == 0 {
		m.ErrorStatus = http.StatusOK
	}
	if m.PendingCode == "" {
		m.PendingCode = "USERPAYING"
	}
	if m.NotFoundMessage == "" {
		m.NotFoundMessage = "Transaction not found"
	}
	switch {
	case m.AmountStyle != "number" && m.AmountStyle != "string":
		return m, fmt.Errorf("%w: amount_style %q: want number or string", ErrInvalidConfig, m.AmountStyle)
	case m.ErrorShape != "top" && m.ErrorShape != "data":
		return m, fmt.Errorf("%w: error_shape %q: want top or data", ErrInvalidConfig, m.ErrorShape)
	case m.ErrorStatus != http.StatusOK && m.ErrorStatus != http.StatusBadRequest:
		return m, fmt.Errorf("%w: error_status %d: want 200 or 400", ErrInvalidConfig, m.ErrorStatus)
	}
	return m, nil
}

// Mode returns the current mode.
func (s *Sim) Mode() Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

// SetMode replaces the mode (empty fields take their defaults). An invalid
// mode is refused and changes nothing.
func (s *Sim) SetMode(m Mode) (Mode, error) {
	m, err := m.normalize()
	if err != nil {
		return s.Mode(), err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
	return m, nil
}

// Outcomes a Script can give a quick or JSAPI payment.
const (
	OutcomePaid         = "paid"
	OutcomeDeclined     = "declined"
	OutcomePIN          = "pin"
	OutcomePINAbandoned = "pin_abandoned"
)

// Script fixes how the payer answers a quick or JSAPI payment created
// later; it overrides the amount suffixes.
type Script struct {
	Outcome  string        `json:"outcome"`
	PINDelay time.Duration `json:"-"` // OutcomePIN; ≤ 0 means Config.PINDelay
}

// ScriptPayment sets the payer's answer for out_trade_no.
func (s *Sim) ScriptPayment(outTradeNo string, sc Script) error {
	if !slices.Contains([]string{OutcomePaid, OutcomeDeclined, OutcomePIN, OutcomePINAbandoned}, sc.Outcome) {
		return fmt.Errorf("%w: outcome %q: want paid, declined, pin or pin_abandoned", ErrInvalidConfig, sc.Outcome)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[outTradeNo] = sc
	return nil
}

// ExpireTokens makes every token issued so far expired: the next call with
// one is answered HTTP 401.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Scan is the customer scanning a native QR code with the wallet app and
// paying it.
func (s *Sim) Scan(outTradeNo string) (PaymentView, error) { return s.scan(outTradeNo, false) }

// ScanLate is the customer paying a native QR code after the emulator's QR
// lifetime: the spec gives native codes no expiry and no way to close an
// order, so a real wallet may take a payment long after the POS gave up on
// it.
func (s *Sim) ScanLate(outTradeNo string) (PaymentView, error) { return s.scan(outTradeNo, true) }

func (s *Sim) scan(outTradeNo string, late bool) (PaymentView, error) {
	return s.payerPays(outTradeNo, "scan", "customer paid the QR code", func(p *payment, now time.Time) error {
		switch {
		case p.kind != kindNative || p.state != statePending:
			return fmt.Errorf("%w: %s payment is %s", ErrNotScannable, p.kind, p.state)
		case !late && !now.Before(p.qrExpires):
			return fmt.Errorf("%w: the QR code expired at %s", ErrNotScannable, p.qrExpires.Format(time.RFC3339))
		}
		return nil
	})
}

// EnterPIN is the payer entering the PIN of a quick or JSAPI payment
// waiting for it (a pin script or the 52 ending) now, whatever its delay:
// the payment is paid.
func (s *Sim) EnterPIN(outTradeNo string) (PaymentView, error) {
	return s.payerPays(outTradeNo, "enter PIN", "payer entered the PIN", func(p *payment, _ time.Time) error {
		if p.state != statePending || p.pinAt.IsZero() {
			return fmt.Errorf("%w: it is %s", ErrNoPIN, p.state)
		}
		return nil
	})
}

// payerPays is the payer paying a payment, when may allows it (what names
// the action in errors, done in the log).
func (s *Sim) payerPays(outTradeNo, what, done string, may func(p *payment, now time.Time) error) (PaymentView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	p, ok := s.payments[outTradeNo]
	if !ok {
		return PaymentView{}, fmt.Errorf("%s %q: %w", what, outTradeNo, ErrUnknownPayment)
	}
	s.settleLocked(p, now)
	if err := may(p, now); err != nil {
		return s.viewLocked(p), fmt.Errorf("%s %q: %w", what, outTradeNo, err)
	}
	s.payLocked(p, now)
	s.log.Info("qrwalletsim: "+done, "out_trade_no", outTradeNo)
	return s.viewLocked(p), nil
}

// Payment returns a payment's state.
func (s *Sim) Payment(outTradeNo string) (PaymentView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[outTradeNo]
	if !ok {
		return PaymentView{}, false
	}
	s.settleLocked(p, s.clock.Now())
	return s.viewLocked(p), true
}

// Payments lists every payment, oldest first.
func (s *Sim) Payments() []PaymentView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PaymentView, 0, len(s.order))
	for _, p := range s.order {
		s.settleLocked(p, s.clock.Now())
		out = append(out, s.viewLocked(p))
	}
	return out
}

// Requests returns the recorded API requests, oldest first, filtered by
// endpoint and out_trade_no ("" matches any).
func (s *Sim) Requests(endpoint, outTradeNo string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests.Select(matcher(endpoint, outTradeNo), func(r *Request) Request { return r.clone() })
}

// Count is len(Requests(endpoint, outTradeNo)).
func (s *Sim) Count(endpoint, outTradeNo string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests.Count(matcher(endpoint, outTradeNo))
}

func matcher(endpoint, no string) func(*Request) bool {
	return func(r *Request) bool {
		return (endpoint == "" || r.Endpoint == endpoint) && (no == "" || r.OutTradeNo == no)
	}
}

// newID returns a fresh numeric identifier with a prefix.
func (s *Sim) newIDLocked(prefix string, now time.Time) string {
	s.seq++
	return fmt.Sprintf("%s%s%08d", prefix, now.UTC().Format("060102150405"), s.seq%100_000_000)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
