package idpay

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
	"github.com/posbridge/posbridge/money"
)

// CallbackAck is the body that acknowledges a callback: "After receiving
// our notification, please return the string SUCCESS, otherwise we will
// notify you every once in a while" (spec line 112).
const CallbackAck = "SUCCESS"

// maxCallbackBytes bounds a callback body.
const maxCallbackBytes = 16 << 10

// Callback is a verified asynchronous notification about one order. It is a
// hint: the agent checks it against the journal and confirms it with
// QueryPayment before moving a payment (docs/reliability.md).
type Callback struct {
	OrderNo     string
	PlatOrderNo string
	Method      Method
	Amount      *money.Amount // nil when absent
	Status      string        // raw (spec lines 64-68)
	State       State         // MapStatus(Status)
}

// ParseCallback verifies and decodes a callback body. "The platform
// callback parameters are submitted in the form of form" (spec line 112):
// the body must be application/x-www-form-urlencoded (a missing content
// type is read as a form), each field once. The signature is checked with
// the platform key over every field received; the merchant code must be
// this client's; the order number and status are required. Errors:
// ErrBadSignature, or ErrBadCallback for anything else.
func (c *Client) ParseCallback(body []byte, contentType string) (*Callback, error) {
	p, err := callbackParams(body, contentType)
	if err != nil {
		return nil, fmt.Errorf("parse idpay callback: %w: %w", ErrBadCallback, err)
	}
	if err := VerifyParams(c.key.platform, p, c.f.Sign); err != nil {
		return nil, fmt.Errorf("verify idpay callback: %w", err)
	}
	// The platform key signs for every merchant: bind the callback to ours.
	if got := p[c.f.MerchantCode]; got != c.merchant {
		return nil, fmt.Errorf("parse idpay callback: %w: %s %q is not this merchant's", ErrBadCallback, c.f.MerchantCode, httpx.Scrub(got, maxIDLen))
	}
	cb := &Callback{
		OrderNo:     p[c.f.OrderNo],
		PlatOrderNo: p[c.f.PlatOrderNo],
		Method:      Method(p[c.f.Method]),
		Status:      p[FieldStatus],
	}
	if checkOrderNo(cb.OrderNo) != nil {
		return nil, fmt.Errorf("parse idpay callback: %w: missing or malformed %s", ErrBadCallback, c.f.OrderNo)
	}
	if cb.Status == "" {
		return nil, fmt.Errorf("parse idpay callback: %w: missing %s", ErrBadCallback, FieldStatus)
	}
	cb.State = MapStatus(cb.Status)
	if v, ok := p[c.f.Amount]; ok {
		a, err := parseWireRupiah(v)
		if err != nil {
			return nil, fmt.Errorf("parse idpay callback: %w: %s: %w", ErrBadCallback, c.f.Amount, err)
		}
		cb.Amount = &a
	}
	return cb, nil
}

// callbackParams decodes a form body into the signed strings.
func callbackParams(body []byte, contentType string) (Params, error) {
	if len(body) > maxCallbackBytes {
		return nil, fmt.Errorf("body larger than %d bytes", maxCallbackBytes)
	}
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, fmt.Errorf("content type: %w", err)
		}
		if mt != "application/x-www-form-urlencoded" {
			return nil, fmt.Errorf("content type %q, want a form (spec line 112)", mt)
		}
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("decode form body: %w", err)
	}
	p := make(Params, len(values))
	for k, vs := range values {
		if len(vs) != 1 {
			return nil, fmt.Errorf("form field %q appears %d times", httpx.Scrub(k, maxIDLen), len(vs))
		}
		if vs[0] != "" {
			p[k] = vs[0]
		}
	}
	return p, nil
}

// maxRemembered bounds the callbacks a CallbackHandler remembers as applied.
const maxRemembered = 10_000

// CallbackHandler serves the callback URL. Each verified callback is passed
// to apply once per order and status: "merchants are required to support
// repeated notifications (that is, orders that have changed their status
// will not be operated, and the characters will be returned directly.
// String SUCCESS)" (spec line 116). A repeat is answered SUCCESS without
// calling apply again. apply must itself be idempotent (the journal is the
// real record; this handler only remembers the last 10,000 callbacks).
//
// Answers: 200 "SUCCESS" when applied or repeated; 400 for a bad signature
// or a malformed callback or one for another merchant (logged, nothing
// applied; the gateway retries, and the agent's queries find the truth);
// 500 when apply fails, so the gateway sends it again.
func (c *Client) CallbackHandler(apply func(context.Context, *Callback) error) http.Handler {
	return &callbackHandler{c: c, apply: apply, seen: make(map[string]bool)}
}

type callbackHandler struct {
	c     *Client
	apply func(context.Context, *Callback) error

	mu    sync.Mutex
	seen  map[string]bool
	order []string
	// inFlight serialises apply per key so two copies of one callback
	// arriving together are applied once.
	inFlight map[string]*sync.Mutex
}

func (h *callbackHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBytes))
	if err != nil {
		http.Error(w, "FAIL: body too large or unreadable", http.StatusBadRequest)
		return
	}
	cb, err := h.c.ParseCallback(body, r.Header.Get("Content-Type"))
	if err != nil {
		h.c.log.Warn("idpay callback refused", "error", err)
		http.Error(w, "FAIL", http.StatusBadRequest)
		return
	}
	key := cb.OrderNo + "\x00" + cb.Status
	lock := h.keyLock(key)
	lock.Lock()
	defer lock.Unlock()
	if h.applied(key) {
		h.c.log.Info("idpay callback repeated", "order_no", cb.OrderNo, "status", cb.Status)
		ack(w)
		return
	}
	if err := h.apply(r.Context(), cb); err != nil {
		h.c.log.Warn("idpay callback not applied", "order_no", cb.OrderNo, "status", cb.Status, "error", err)
		http.Error(w, "FAIL", http.StatusInternalServerError)
		return
	}
	h.remember(key)
	h.c.log.Info("idpay callback", "order_no", cb.OrderNo, "status", cb.Status, "state", string(cb.State))
	ack(w)
}

// ack writes exactly "SUCCESS" (no newline).
func ack(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, CallbackAck)
}

func (h *callbackHandler) keyLock(key string) *sync.Mutex {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inFlight == nil {
		h.inFlight = make(map[string]*sync.Mutex)
	}
	l, ok := h.inFlight[key]
	if !ok {
		l = &sync.Mutex{}
		h.inFlight[key] = l
	}
	return l
}

func (h *callbackHandler) applied(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[key]
}

func (h *callbackHandler) remember(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen[key] = true
	h.order = append(h.order, key)
	delete(h.inFlight, key)
	if len(h.order) > maxRemembered {
		drop := h.order[:maxRemembered/10]
		for _, k := range drop {
			delete(h.seen, k)
		}
		h.order = append([]string(nil), h.order[maxRemembered/10:]...)
	}
}
