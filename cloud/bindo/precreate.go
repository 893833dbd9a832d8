package bindo

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/posbridge/posbridge/internal/netutil"
	"github.com/posbridge/posbridge/money"
)

// Pay-by-link: the JS SDK spec's pre-create order
// (shared/specs/bindo-js-sdk-precreate-webhook.md, "Pre-Create", lines
// 167-240). The gateway keeps the order and answers with pay_redirect_url,
// the page the customer pays on; the result comes by webhook (lines
// 471-527) and by Query (lines 244-374). "Transaction result rely on
// WebHook mainly, assisted by Query API" (line 59).

// OpPreCreate names the pre-create operation in errors, logs and
// GatewayError.Op.
const OpPreCreate = "precreate"

// MaxLinkLifetime is the longest a pre-created order may stay payable, and
// the gateway's default: "If it is not used, the default expiration time
// for order is 15 minutes", and txn_exp_at must lie within 15 minutes of
// creation (spec line 229).
const MaxLinkLifetime = 15 * time.Minute

// maxLinkURL bounds notify_url and the pay_redirect_url kept from answers.
const maxLinkURL = 2048

// ErrLinkMismatch means a transaction (a webhook's or a query's) is not the
// pre-created order it was checked against: another uuid, amount or
// currency. It is never a payment of that order.
var ErrLinkMismatch = errors.New("transaction does not match the payment link")

// PreCreateRequest creates a hosted-payment order (pay-by-link).
type PreCreateRequest struct {
	// UUID identifies the order at the gateway and is the key for Query and
	// the webhook: derive it with Client.UUIDFor and persist it before the
	// call. Required. A pre-created order is paid at most once; after a
	// failure, pre-create again with a new UUID (spec line 61).
	UUID string
	// MerchantOrderNo is posbridge's order number, for logs only.
	MerchantOrderNo string
	Amount          money.Amount
	// ClientIP is sent as X-CLIENT-IP, required on pre-create: "Pre-create
	// and called JS SDK should be from the same client ip" (spec line 85).
	ClientIP string
	// ExpiresAt, when set, is sent as txn_exp_at (RFC 3339, whole seconds):
	// it must be after now and at most MaxLinkLifetime from now (spec line
	// 229). Zero leaves the gateway's default of 15 minutes.
	ExpiresAt time.Time
	// NotifyURL is the webhook target; "" means Config.NotifyURL. The spec
	// requires it to get a webhook at all (spec line 230).
	NotifyURL string
}

// PaymentLink is a pre-created order as the gateway accepted it.
type PaymentLink struct {
	UUID, BRN string
	// URL is pay_redirect_url: the page (the JS SDK's "secret") the customer
	// pays on. It carries the order's X-CLIENT-SECRET: show it to the
	// customer (as a link or QR code), never log it.
	URL string
	// ExpiresAt is when the order stops being payable: ExpiresAt of the
	// request, else 15 minutes after the call by the client's clock.
	ExpiresAt time.Time
	Amount    money.Amount
	// Transaction is the gateway's answer; its Status is normally pending.
	Transaction *Transaction
}

type preCreateBody struct {
	Transaction preCreateFields `json:"transaction"`
	NotifyURL   string          `json:"notify_url,omitempty"`
}

type preCreateFields struct {
	UUID     string `json:"uuid"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Type     string `json:"transaction_type"`
	ExpAt    string `json:"txn_exp_at,omitempty"`
}

// PreCreate creates a pay-by-link order and returns the URL the customer
// pays on and its expiry. Nothing is charged by the call itself.
//
// Errors: *ValidationError (nothing sent), ErrNotSent, ErrAuth,
// *GatewayError (refused: no order exists), ErrUnknownOutcome (the order may
// exist: resolve with QueryPreCreate(req.UUID); its PayURL is the link. A
// "not found" answer means it was not created, and the same request, same
// UUID, may be sent again).
func (c *Client) PreCreate(ctx context.Context, req PreCreateRequest) (*PaymentLink, error) {
	body, expires, err := c.preCreateBody(req)
	if err != nil {
		return nil, err
	}
	want := ident{uuid: body.Transaction.UUID}
	log := c.log.With("op", OpPreCreate, "uuid", want.uuid, "merchant_order_no", req.MerchantOrderNo, "amount", req.Amount.String())
	start := c.now()
	resp, err := c.callWith(ctx, OpPreCreate, http.MethodPost, c.storePath("/payment/precreate"), body, extraHeaders{clientIP: req.ClientIP})
	var t *Transaction
	if err == nil {
		t, err = interpret(OpPreCreate, resp, true, want)
	}
	if err == nil {
		err = checkPreCreated(t, req.Amount)
	}
	c.logResult(ctx, log, slog.LevelInfo, start, resp, t, err)
	if err != nil {
		return nil, err
	}
	if expires.IsZero() {
		expires = start.Add(MaxLinkLifetime)
	}
	return &PaymentLink{UUID: t.UUID, BRN: t.BRN, URL: t.PayURL, ExpiresAt: expires, Amount: req.Amount, Transaction: t}, nil
}

// preCreateBody validates req and builds the request body; expires is the
// txn_exp_at sent (zero when none).
func (c *Client) preCreateBody(req PreCreateRequest) (preCreateBody, time.Time, error) {
	var b preCreateBody
	if err := checkUUID("uuid", req.UUID); err != nil {
		return b, time.Time{}, err
	}
	cur, err := checkAmount("amount", req.Amount)
	if err != nil {
		return b, time.Time{}, err
	}
	if ip, err := netip.ParseAddr(req.ClientIP); err != nil || ip.Zone() != "" || ip.String() != req.ClientIP {
		return b, time.Time{}, &ValidationError{Field: "client_ip", Reason: "required: an IPv4 or IPv6 address in canonical form (X-CLIENT-IP)"}
	}
	var expires time.Time
	if !req.ExpiresAt.IsZero() {
		now := c.now()
		expires = req.ExpiresAt.Truncate(time.Second)
		if !expires.After(now) || expires.After(now.Add(MaxLinkLifetime)) {
			return b, time.Time{}, &ValidationError{Field: "txn_exp_at", Reason: fmt.Sprintf("must be after now and at most %v from now", MaxLinkLifetime)}
		}
	}
	notify := cmpOr(req.NotifyURL, c.notifyURL)
	if notify != "" {
		if err := checkHookURL(notify); err != nil {
			return b, time.Time{}, err
		}
	}
	b = preCreateBody{
		Transaction: preCreateFields{
			UUID: strings.ToLower(req.UUID), Amount: money.Format(req.Amount.Minor, cur), Currency: cur.Code, Type: TypeSale,
		},
		NotifyURL: notify,
	}
	if !expires.IsZero() {
		b.Transaction.ExpAt = expires.Format(time.RFC3339)
	}
	return b, expires, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkHookURL validates a notify_url: an absolute http(s) URL without user
// info or fragment, printable, at most maxLinkURL bytes.
func checkHookURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil, len(raw) > maxLinkURL, !headerSafeLong(raw),
		u.Scheme != "https" && u.Scheme != "http", u.Host == "", u.User != nil, u.Fragment != "":
		return &ValidationError{Field: "notify_url", Reason: "must be an absolute http(s) URL without user info or fragment"}
	}
	return nil
}

// headerSafeLong reports whether v is printable ASCII without spaces.
func headerSafeLong(v string) bool {
	for i := range len(v) {
		if v[i] <= 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return v != ""
}

// linkURL returns a pay_redirect_url worth keeping: an absolute http(s) URL
// without user info; "" otherwise. Plain http is kept only for loopback
// hosts (the emulator).
func linkURL(raw string) string {
	if len(raw) > maxLinkURL || !headerSafeLong(raw) {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return ""
	}
	if u.Scheme == "https" || (u.Scheme == "http" && netutil.IsLoopbackHost(u.Hostname())) {
		return raw
	}
	return ""
}

// checkPreCreated checks the answer to a pre-create: a failed order is a
// refusal, a pending one must carry its link, and the amount must be ours.
func checkPreCreated(t *Transaction, want money.Amount) error {
	if t.State == StateFailed || t.Status == StatusDeclined || t.Status == StatusFailed {
		return &GatewayError{Op: OpPreCreate, Code: orText(t.ErrorCode, "failed"), Message: t.Message, HTTPStatus: http.StatusOK}
	}
	if err := amountMatches(t, want); err != nil {
		return fmt.Errorf("check bindo %s answer: %w: %w", OpPreCreate, ErrUnknownOutcome, err)
	}
	if t.Status == StatusPending && t.PayURL == "" {
		return fmt.Errorf("check bindo %s answer: %w: pay_redirect_url missing or not an absolute https URL", OpPreCreate, ErrUnknownOutcome)
	}
	return nil
}

// amountMatches reports an amount or currency that differs from want (an
// absent one is tolerated).
func amountMatches(t *Transaction, want money.Amount) error {
	if t.Currency != "" && t.Currency != want.Currency.Code {
		return fmt.Errorf("%w: currency %s, not %s", ErrLinkMismatch, t.Currency, want.Currency.Code)
	}
	if t.Amount != nil && *t.Amount != want.Minor {
		return fmt.Errorf("%w: amount %d, not %d minor units", ErrLinkMismatch, *t.Amount, want.Minor)
	}
	return nil
}

// QueryPreCreate returns a pre-created order by its uuid: Query by uuid.
// Status pending means not paid yet (poll no more often than every 20
// seconds, spec line 60); approved means paid; failed with code 110010
// means the link expired unpaid ("Time-Out Payment Failed", spec line 736).
func (c *Client) QueryPreCreate(ctx context.Context, uuid string) (*Transaction, error) {
	if err := checkUUID("uuid", uuid); err != nil {
		return nil, err
	}
	return c.Query(ctx, uuid, "")
}

// Check reports whether t (from a webhook or a query) is this link's order:
// same uuid, and, where t carries them, the same amount and currency.
// Errors match ErrLinkMismatch.
func (l *PaymentLink) Check(t *Transaction) error {
	if t == nil || !strings.EqualFold(t.UUID, l.UUID) {
		return fmt.Errorf("check payment link %s: %w: another uuid", l.UUID, ErrLinkMismatch)
	}
	if err := amountMatches(t, l.Amount); err != nil {
		return fmt.Errorf("check payment link %s: %w", l.UUID, err)
	}
	return nil
}

// ParseLinkWebhook authenticates and decodes the webhook of a pre-created
// order for this store (spec lines 471-527): X-SIGNATURE must be
// HMAC-SHA256 of the raw body keyed with Config.WebhookSecret
// (VerifyWebhook, which accepts hex or Base64), X-APP-ID must equal
// Config.WebhookAppID when one is configured (both are issued per store), and
// the body must be a sale with a uuid. Read the body with a limit of
// MaxWebhookBytes and pass it unchanged. Errors: ErrBadSignature (forged,
// another store's, or no secret configured: answer 401), ErrBadWebhook.
// Check the result against the journal's link with PaymentLink.Check.
func (c *Client) ParseLinkWebhook(header http.Header, body []byte) (*Transaction, error) {
	if err := VerifyWebhook(c.hookSecret, body, header.Get(HeaderSignature)); err != nil {
		return nil, err
	}
	if c.hookAppID != "" && subtle.ConstantTimeCompare([]byte(header.Get(HeaderAppID)), []byte(c.hookAppID)) != 1 {
		return nil, fmt.Errorf("verify webhook: %w: X-APP-ID is not this store's", ErrBadSignature)
	}
	t, err := ParseWebhook(body)
	if err != nil {
		return nil, err
	}
	if t.UUID == "" {
		return nil, fmt.Errorf("parse webhook: %w: a pre-created order's webhook needs its uuid", ErrBadWebhook)
	}
	if t.Type != "" && t.Type != TypeSale {
		return nil, fmt.Errorf("parse webhook: %w: transaction_type %q is not a pre-created sale", ErrBadWebhook, scrubDigits(t.Type))
	}
	c.log.Info("bindo link webhook", "uuid", t.UUID, "brn", t.BRN, "state", t.State, "status", string(t.Status))
	return t, nil
}
