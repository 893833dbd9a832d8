// Package bindosim is an in-process emulator of the Bindo V3 payment
// gateway's native card-present API and its login endpoint, for posbridge's
// tests, `posbridge demo` and `posbridge sim bindo`.
//
// It is built from the vendor's spec, independently of package bindo: the
// login with token invalidation on re-login, the required headers and
// credit_card fields per card_reader_mode, the documented error codes, the
// spec's test cards, a pending → success lifecycle on an injected clock,
// query by uuid or brn, void / refund / tips rules, webhooks signed with
// X-SIGNATURE, fault injection and a request log with card data redacted.
// docs/bindo.md describes it for users; where the spec is silent the
// emulator's choice is listed there.
//
// Card data is never kept: a transaction stores the masked PAN only, and
// the request log redacts tracks, ICC data, CVV, PIN and expiry. The admin
// API under /sim/ has no authentication: serve the emulator on loopback only.
package bindosim

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
	"github.com/posbridge/posbridge/money"
)

// ErrInvalidConfig means New was given an unusable Config.
var ErrInvalidConfig = errors.New("invalid emulator config")

// Clock tells the emulator the time. A nil Clock in Config means real time.
type Clock = simkit.Clock

// Defaults.
const (
	// DefaultPendingDelay is how long a sale stays pending before it is
	// approved or declined.
	DefaultPendingDelay = time.Second
	// DefaultDeclineMinorSuffix makes amounts such as "10.51" decline.
	DefaultDeclineMinorSuffix = 51
	// DefaultAppID is the X-APP-ID sent with webhooks.
	DefaultAppID = "bindosim"
	// MerchantID and TerminalID appear in every transaction.
	MerchantID = "987654321"
	TerminalID = "SIM00001"
)

// Webhook signature encodings.
const (
	EncodingHex    = "hex"
	EncodingBase64 = "base64"
)

// Config configures the emulator. StoreID, Username, Password, ClientID and
// ClientSecret are required.
type Config struct {
	StoreID, Username, Password, ClientID, ClientSecret string
	// WebhookURL receives the webhook of every transaction that reaches a
	// final state and carried no notify_url of its own; "" sends none.
	WebhookURL string
	// WebhookSecret keys the X-SIGNATURE HMAC-SHA256; required when webhooks
	// are sent (WebhookURL set or notify_url in a request).
	WebhookSecret string
	// WebhookEncoding is EncodingHex (default, lower case) or EncodingBase64.
	WebhookEncoding string
	// AppID is sent as X-APP-ID with webhooks; "" means DefaultAppID.
	AppID  string
	Clock  Clock
	Logger *slog.Logger
	// PendingDelay is how long a sale stays pending: 0 means
	// DefaultPendingDelay, a negative value answers sales final at once.
	PendingDelay time.Duration
	// DeclineMinorSuffix: a sale with a card that is not a test card whose
	// amount in minor units mod 100 equals this value is declined with
	// 110004. 0 means 51; -1 disables the rule.
	DeclineMinorSuffix int
	// HTTPClient delivers webhooks; nil means a client with a 10s timeout.
	HTTPClient *http.Client
}

// Sim is the emulator. It is an http.Handler serving the login endpoint,
// the gateway endpoints and /sim/; run Serve alongside it for the
// background transaction lifecycle and webhook delivery (RunDue does one
// round of it, for tests that move a fake clock).
type Sim struct {
	simkit.Runner
	held simkit.Held // requests a process_late fault holds

	cfg     Config
	clock   Clock
	log     *slog.Logger
	httpc   *http.Client
	pending time.Duration
	decline int

	webhooks *simkit.Outbox

	mu       sync.Mutex
	token    string
	logins   int
	txns     map[string]*txn // by lower-case uuid
	byBRN    map[string]*txn
	list     []*txn
	tips     map[string]tipRecord // tips request uuid → adjustment
	links    map[string]*txn      // pre-created orders by X-CLIENT-SECRET
	scripts  map[string]Outcome   // by lower-case uuid
	faults   simkit.Faults[Fault]
	requests simkit.Log[Request]
	seq      uint64
	batchNo  int
}

// New builds an emulator from cfg.
func New(cfg Config) (*Sim, error) {
	for _, f := range []struct{ name, v string }{
		{"store_id", cfg.StoreID}, {"username", cfg.Username}, {"password", cfg.Password},
		{"client_id", cfg.ClientID}, {"client_secret", cfg.ClientSecret},
	} {
		if f.v == "" {
			return nil, fmt.Errorf("%w: %s is required", ErrInvalidConfig, f.name)
		}
	}
	switch cfg.WebhookEncoding {
	case "", EncodingHex, EncodingBase64:
	default:
		return nil, fmt.Errorf("%w: webhook encoding must be %q or %q", ErrInvalidConfig, EncodingHex, EncodingBase64)
	}
	if cfg.WebhookURL != "" {
		if !validNotifyURL(cfg.WebhookURL) {
			return nil, fmt.Errorf("%w: webhook URL must be an absolute http(s) URL", ErrInvalidConfig)
		}
		if cfg.WebhookSecret == "" {
			return nil, fmt.Errorf("%w: a webhook secret is required with a webhook URL", ErrInvalidConfig)
		}
	}
	s := &Sim{
		cfg:     cfg,
		pending: cfg.PendingDelay, decline: cfg.DeclineMinorSuffix,
		txns: make(map[string]*txn), byBRN: make(map[string]*txn), tips: make(map[string]tipRecord), links: make(map[string]*txn),
		scripts: make(map[string]Outcome), batchNo: 1,
	}
	s.clock, s.log, s.httpc = simkit.Defaults("bindosim", cfg.Clock, cfg.Logger, cfg.HTTPClient)
	if s.pending == 0 {
		s.pending = DefaultPendingDelay
	}
	if s.decline == 0 {
		s.decline = DefaultDeclineMinorSuffix
	}
	if s.cfg.AppID == "" {
		s.cfg.AppID = DefaultAppID
	}
	if s.cfg.WebhookEncoding == "" {
		s.cfg.WebhookEncoding = EncodingHex
	}
	s.webhooks = &simkit.Outbox{
		Source: "bindosim", Noun: "webhook", IDKey: "uuid",
		Retries: webhookRetries[:], Timeout: webhookTimeout, Post: s.post, Log: s.log,
	}
	s.Bind(s.routes(), simkit.Loop{Lock: &s.mu, Clock: s.clock, Advance: s.advanceLocked, Outbox: s.webhooks})
	return s, nil
}

var _ http.Handler = (*Sim)(nil)

// Outcome scripts how a sale ends: State "success" or "failed" (ErrorCode
// defaults to 110003 "Rejected By Issuer").
type Outcome struct {
	State     string
	ErrorCode string
	ErrorDesc string
}

// ScriptOutcome fixes the outcome of the sale with this uuid; it may be
// called before the sale arrives and wins over test cards and the decline
// amount. Outcomes with another state are ignored.
func (s *Sim) ScriptOutcome(uuid string, o Outcome) {
	if o.State != stateSuccess && o.State != stateFailed {
		s.log.Warn("bindosim: ignoring scripted outcome with unsupported state", "uuid", uuid, "state", o.State)
		return
	}
	if o.State == stateFailed && o.ErrorCode == "" {
		o.ErrorCode = CodeRejectedByIssuer
	}
	if o.State == stateFailed && o.ErrorDesc == "" {
		o.ErrorDesc = codeText(o.ErrorCode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[lower(uuid)] = o
}

// Settle closes the current settlement batch: every approved transaction
// becomes settled (a settled sale can no longer be voided or tip-adjusted,
// only refunded). It returns how many transactions were settled.
func (s *Sim) Settle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(s.clock.Now())
	n := 0
	for _, t := range s.list {
		if t.state == stateSuccess && !t.settled {
			t.settled = true
			n++
		}
	}
	s.batchNo++
	s.log.Info("bindosim: settled", "transactions", n)
	return n
}

// Logins is the number of successful logins so far.
func (s *Sim) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// TransactionView is an emulated transaction as tests see it. It holds no
// card data beyond the masked PAN.
type TransactionView struct {
	UUID         string       `json:"uuid"`
	BRN          string       `json:"brn"`
	RRN          string       `json:"rrn,omitempty"`
	Type         string       `json:"transaction_type"`  // sale, void, refund
	State        string       `json:"transaction_state"` // pending, success, failed
	ErrorCode    string       `json:"error_code,omitempty"`
	ReaderMode   string       `json:"card_reader_mode"`
	Fallback     bool         `json:"card_fallback"`
	MaskedPAN    string       `json:"masked_pan"`
	AcquirerType string       `json:"acquirer_type,omitempty"`
	TerminalSN   string       `json:"sn,omitempty"`
	OriginBRN    string       `json:"origin_brn,omitempty"`
	Currency     string       `json:"currency"`
	Amount       int64        `json:"amount_minor"`
	Tip          int64        `json:"tip_minor"`
	Refunded     int64        `json:"refunded_minor"`
	RefundCount  int          `json:"refunded_times"`
	Voided       bool         `json:"is_voided"`
	Settled      bool         `json:"settled"`
	CreatedAt    time.Time    `json:"created_at"`
	FinalAt      time.Time    `json:"final_at"` // zero while pending
	Webhook      *WebhookView `json:"webhook,omitempty"`
	// PayURL, ExpiresAt and Abandoned describe a pre-created order only.
	PayURL    string    `json:"pay_redirect_url,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Abandoned bool      `json:"abandoned,omitempty"`
}

// WebhookView is the delivery state of a transaction's webhook.
type WebhookView struct {
	URL       string    `json:"url"`
	Attempts  int       `json:"attempts"`
	Delivered bool      `json:"delivered"`
	GaveUp    bool      `json:"gave_up"`
	NextAt    time.Time `json:"next_at"`
	LastError string    `json:"last_error,omitempty"`
}

// Transactions returns every transaction in creation order, after applying
// the transitions due now.
func (s *Sim) Transactions() []TransactionView {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(s.clock.Now())
	out := make([]TransactionView, 0, len(s.list))
	for _, t := range s.list {
		out = append(out, t.view())
	}
	return out
}

// Transaction returns one transaction by uuid or brn.
func (s *Sim) Transaction(id string) (TransactionView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(s.clock.Now())
	t := s.findLocked(id)
	if t == nil {
		return TransactionView{}, false
	}
	return t.view(), true
}

func (s *Sim) findLocked(id string) *txn {
	if t, ok := s.txns[lower(id)]; ok {
		return t
	}
	return s.byBRN[id]
}

// TestCard is one of the spec's test cards: it always approves, whatever
// the amount.
type TestCard struct {
	Number string
	Scheme string
}

// TestCards returns the spec's test cards (JS SDK appendix).
func TestCards() []TestCard {
	return []TestCard{
		{"4111111111111111", "Visa"},
		{"5555555555554444", "MasterCard"},
		{"374340095639074", "Amex"},
		{"3566111111111113", "JCB"},
		{"6250947000000014", "China UnionPay"},
	}
}

// TestCards returns the spec's test cards (see the package function).
func (s *Sim) TestCards() []TestCard { return TestCards() }

func isTestCard(pan string) bool {
	for _, c := range TestCards() {
		if c.Number == pan {
			return true
		}
	}
	return false
}

// amountText renders minor units the way the gateway's samples do: no
// trailing zeros ("2", "2.1", "10.51").
func amountText(minor int64, cur money.Currency) string {
	return money.Amount{Minor: minor, Currency: cur}.Decimal().String()
}
