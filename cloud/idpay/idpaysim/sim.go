// Package idpaysim is an in-process emulator of the Indonesian VA/QRIS
// payment gateway described in /work/shared/specs/id-va-qris-gateway.txt
// ("spec line N" cites it), for posbridge's tests and demos. It was built
// from that document, not from the client in cloud/idpay:
//
//   - every payment method of lines 43-56: ten bank virtual accounts, the
//     Alfamart payment code, QRIS, DANA and OVO (OVO expires after 30 s,
//     line 80);
//   - the order statuses of lines 64-68 (INIT_ORDER, NO_PAY, OPEN_PAY_URL,
//     SUCCESS, PAY_CANCEL) and platRespCode SUCCESS / UNKNOWN / FAIL of
//     line 100, including an UNKNOWN it can answer on request;
//   - integer rupiah (lines 35, 60), the name/email/phone rules (lines
//     77-80) and expiryPeriod in minutes, default 4320 (line 81);
//   - RSA: requests are verified with the merchant key, answers and
//     callbacks are signed with the platform key (line 36);
//   - callbacks only after a payment succeeded (line 87), form-encoded,
//     repeated at 1 s, 30 s, 60 s, 90 s, 1 h, 2 h (six in all) until
//     answered with the string SUCCESS (line 112), and repeated on demand
//     even after that (line 116);
//   - no refund (line 71): there is no refund endpoint.
//
// Points the document leaves open (endpoints, most field names, the
// signing string) use the defaults of wire.go. The admin API under /sim/
// has no authentication: serve the emulator on a loopback address only.
package idpaysim

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// Sentinel errors of the Go API.
var (
	// ErrInvalidConfig means New was given an unusable Config.
	ErrInvalidConfig = errors.New("invalid emulator config")
	// ErrUnknownOrder means no order has that number.
	ErrUnknownOrder = errors.New("unknown order")
	// ErrNotPayable means the order cannot be paid now: it is not pending,
	// or it has expired.
	ErrNotPayable = errors.New("order cannot be paid")
	// ErrNoCallback means the order has no callback to send (not paid, or
	// no notify URL).
	ErrNoCallback = errors.New("no callback to send")
)

// Clock tells the emulator the time. A nil Clock in Config means real time.
type Clock = simkit.Clock

// Config configures the emulator. MerchantCode, MerchantPublicKey and
// PlatformKey are required.
type Config struct {
	MerchantCode string
	// MerchantPublicKey verifies request signatures.
	MerchantPublicKey *rsa.PublicKey
	// PlatformKey signs answers and callbacks.
	PlatformKey *rsa.PrivateKey
	Clock       Clock
	Logger      *slog.Logger
	// HTTPClient delivers callbacks; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Sim is the emulator: an http.Handler. Run Serve alongside it to deliver
// callbacks in real time, or call RunDue after moving a fake clock.
type Sim struct {
	simkit.Runner // ServeHTTP, Serve, RunDue

	cfg   Config
	clock Clock
	log   *slog.Logger
	httpc *http.Client

	callbacks *simkit.Outbox

	mu        sync.Mutex
	orders    map[string]*order
	orderList []*order
	creates   map[string]CreateScript
	queries   map[string]*QueryScript
	faults    simkit.Faults[Fault]
	requests  simkit.Log[Request]
	seq       uint64
}

// New builds an emulator.
func New(cfg Config) (*Sim, error) {
	if cfg.MerchantCode == "" {
		return nil, fmt.Errorf("%w: merchant code is required", ErrInvalidConfig)
	}
	if cfg.MerchantPublicKey == nil || cfg.PlatformKey == nil {
		return nil, fmt.Errorf("%w: the merchant public key and the platform private key are required (spec line 36)", ErrInvalidConfig)
	}
	s := &Sim{
		cfg:    cfg,
		orders: make(map[string]*order), creates: make(map[string]CreateScript), queries: make(map[string]*QueryScript),
	}
	s.clock, s.log, s.httpc = simkit.Defaults("idpaysim", cfg.Clock, cfg.Logger, cfg.HTTPClient)
	s.callbacks = &simkit.Outbox{
		Source: "idpaysim", Noun: "callback", IDKey: "order_no",
		Retries: callbackRetries[:], Timeout: callbackTimeout, Post: s.post, Log: s.log,
	}
	// Nothing changes by itself with time (an expired order keeps its
	// status): the loop only delivers callbacks.
	s.Bind(s.routes(), simkit.Loop{Lock: &s.mu, Clock: s.clock, Advance: func(time.Time) {}, Outbox: s.callbacks})
	return s, nil
}

var _ http.Handler = (*Sim)(nil)

// CreateScript scripts the answer to the create of one order number.
type CreateScript struct {
	// RespCode is "UNKNOWN" or "FAIL" (spec line 100).
	RespCode string `json:"resp_code"`
	// Process: for UNKNOWN, create the order anyway (the system was
	// abnormal after taking it), so a query finds it. FAIL never creates.
	Process   bool   `json:"process"`
	ErrorCode string `json:"error_code"` // FAIL; default "SYSTEM_ERROR"
	Message   string `json:"message"`
}

// QueryScript scripts the next Count answers to queries of one order.
type QueryScript struct {
	// RespCode "UNKNOWN" answers platRespCode UNKNOWN without order
	// fields; "" answers SUCCESS with Status instead of the order's status
	// (e.g. a status the document does not list).
	RespCode string `json:"resp_code"`
	Status   string `json:"status"`
	Count    int    `json:"count"` // ≤ 0 means 1
}

// ScriptCreate scripts the answer to the create of orderNo (made later).
func (s *Sim) ScriptCreate(orderNo string, sc CreateScript) error {
	if sc.RespCode != respUnknown && sc.RespCode != respFail {
		return fmt.Errorf("%w: create script resp_code must be UNKNOWN or FAIL", ErrInvalidConfig)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates[orderNo] = sc
	return nil
}

// ScriptQuery scripts the next answers to queries of orderNo.
func (s *Sim) ScriptQuery(orderNo string, sc QueryScript) error {
	if sc.RespCode != "" && sc.RespCode != respUnknown {
		return fmt.Errorf("%w: query script resp_code must be UNKNOWN or empty", ErrInvalidConfig)
	}
	if sc.RespCode == "" && sc.Status == "" {
		return fmt.Errorf("%w: query script needs resp_code UNKNOWN or a status", ErrInvalidConfig)
	}
	sc.Count = max(sc.Count, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries[orderNo] = &sc
	return nil
}

// Pay pays a pending order as the customer would: a transfer to the
// virtual account (real-time arrival, spec line 86), a QRIS scan, payment
// at an Alfamart counter, or confirming in the wallet app. The order
// becomes SUCCESS and its callback is queued (line 87), first due 1 s
// later (line 112).
func (s *Sim) Pay(orderNo string) (OrderView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderNo]
	if !ok {
		return OrderView{}, fmt.Errorf("pay: %w %q", ErrUnknownOrder, orderNo)
	}
	now := s.clock.Now()
	if !o.pending() || !now.Before(o.expiresAt) {
		return s.viewLocked(o), fmt.Errorf("pay %q: %w (status %s, expired %t)", orderNo, ErrNotPayable, o.status, !now.Before(o.expiresAt))
	}
	o.status, o.paidAt = statusSuccess, now
	s.queueCallbackLocked(o, now.Add(firstCallbackDelay))
	s.log.Info("order paid", "order_no", orderNo, "method", o.method)
	return s.viewLocked(o), nil
}

// Expire ends a pending order's payable time now. The document has no
// expired status: the order keeps NO_PAY / OPEN_PAY_URL, and paying it is
// refused.
func (s *Sim) Expire(orderNo string) (OrderView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderNo]
	if !ok {
		return OrderView{}, fmt.Errorf("expire: %w %q", ErrUnknownOrder, orderNo)
	}
	if now := s.clock.Now(); o.pending() && o.expiresAt.After(now) {
		o.expiresAt = now
	}
	return s.viewLocked(o), nil
}

// Cancel makes the order PAY_CANCEL: "The order has been canceled, if the
// payment is successful, it means that a refund has been made" (spec line
// 68). No callback follows (callbacks are only sent after a success, line
// 87).
func (s *Sim) Cancel(orderNo string) (OrderView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderNo]
	if !ok {
		return OrderView{}, fmt.Errorf("cancel: %w %q", ErrUnknownOrder, orderNo)
	}
	o.status = statusPayCancel
	return s.viewLocked(o), nil
}

// RepeatCallback queues one more copy of a paid order's callback, due now,
// even when an earlier one was acknowledged: "the situation of repeated
// notifications is not excluded" (spec line 116).
func (s *Sim) RepeatCallback(orderNo string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderNo]
	if !ok {
		return fmt.Errorf("repeat callback: %w %q", ErrUnknownOrder, orderNo)
	}
	if o.status != statusSuccess || o.notifyURL == "" {
		return fmt.Errorf("repeat callback %q: %w", orderNo, ErrNoCallback)
	}
	s.queueCallbackLocked(o, s.clock.Now())
	return nil
}

// Order returns an order's state.
func (s *Sim) Order(orderNo string) (OrderView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderNo]
	if !ok {
		return OrderView{}, false
	}
	return s.viewLocked(o), true
}

// Orders returns every order, oldest first.
func (s *Sim) Orders() []OrderView {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]OrderView, 0, len(s.orderList))
	for _, o := range s.orderList {
		out = append(out, s.viewLocked(o))
	}
	return out
}

// Requests returns the recorded gateway requests, oldest first, filtered
// by op ("create", "query") and order number ("" matches any).
func (s *Sim) Requests(op, orderNo string) []Request {
	return s.requests.Read(&s.mu, matcher(op, orderNo), (*Request).clone)
}

// Count is len(Requests(op, orderNo)).
func (s *Sim) Count(op, orderNo string) int {
	return s.requests.Tally(&s.mu, matcher(op, orderNo))
}

func matcher(op, orderNo string) func(*Request) bool {
	return func(r *Request) bool {
		return (op == "" || r.Op == op) && (orderNo == "" || r.OrderNo == orderNo)
	}
}

// Request is one recorded gateway request.
type Request struct {
	Time      time.Time         `json:"time"`
	Op        string            `json:"op"` // "create", "query" or "" (unknown path)
	OrderNo   string            `json:"order_no,omitempty"`
	Params    map[string]string `json:"params"` // as received; name, email and phone redacted
	Fault     FaultKind         `json:"fault,omitempty"`
	RespCode  string            `json:"resp_code,omitempty"` // "" when no answer was built
	ErrorCode string            `json:"error_code,omitempty"`
	Message   string            `json:"message,omitempty"`
}

func (r *Request) clone() Request {
	c := *r
	c.Params = maps.Clone(r.Params)
	return c
}

// redactedFields are customer data kept out of the request log.
var redactedFields = []string{fName, fEmail, fPhone}

func redact(p params) map[string]string {
	c := maps.Clone(map[string]string(p))
	for _, k := range redactedFields {
		if _, ok := c[k]; ok {
			c[k] = simkit.Redacted
		}
	}
	return c
}
