package bindo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/posbridge/posbridge/money"
)

// Operation names, used in errors, logs and GatewayError.Op.
const (
	OpSale   = "sale"
	OpQuery  = "query"
	OpVoid   = "void"
	OpRefund = "refund"
	OpTips   = "tips"
)

// Wire values of transaction_type and payment_method. "void" and "tips"
// are assumptions (the spec's appendix lists only sale and refund).
const (
	TypeSale   = "sale"
	TypeRefund = "refund"
	TypeVoid   = "void"
	TypeTips   = "tips"

	PaymentMethodCreditCard = "credit_card"
)

// SaleRequest is a native card-present sale.
type SaleRequest struct {
	// UUID identifies the transaction at the gateway and is the key for
	// Query: derive it with Client.UUIDFor or DeriveUUID and persist it
	// before calling Sale. Required.
	UUID string
	// MerchantOrderNo is posbridge's order number, for logs only (the V3
	// API has no such field).
	MerchantOrderNo string
	// TerminalSN is sent as sn and X-USER-DEVICE-ID. Required.
	TerminalSN string
	Amount     money.Amount
	// Tip, in minor units of Amount's currency, is sent as tips_amount.
	Tip *int64
	// Description is not sent (the V3 API has no such field); kept for the
	// caller's journal.
	Description string
	Card        Card
}

// VoidRequest voids an unsettled sale in full.
type VoidRequest struct {
	// UUID is the new void transaction's uuid (derive it from the void's own
	// merchant_order_no). Required.
	UUID string
	// OrigBRN is the sale's brn; when empty, OrigUUID is queried first to
	// find it.
	OrigUUID, OrigBRN string
	TerminalSN        string // optional: sn and device headers
	// Amount, when set, is sent as amount and currency (the full amount of
	// the original). The void body is not documented; see docs/bindo.md.
	Amount *money.Amount
}

// RefundRequest refunds all or part of a sale.
type RefundRequest struct {
	UUID              string // the new refund transaction's uuid; required
	OrigUUID, OrigBRN string // as in VoidRequest
	Amount            money.Amount
	TerminalSN        string // optional
}

// TipRequest sets the tip of an approved, unsettled sale.
type TipRequest struct {
	// UUID is optional; empty means DeriveUUID("tips/" + brn + "/" + tip
	// in minor units), so resending the same adjustment is idempotent.
	UUID              string
	OrigUUID, OrigBRN string
	Tip               money.Amount
	TerminalSN        string // optional
}

type txnBody struct {
	Transaction txnFields `json:"transaction"`
	NotifyURL   string    `json:"notify_url,omitempty"`
}

type txnFields struct {
	UUID          string      `json:"uuid"`
	Type          string      `json:"transaction_type"`
	PaymentMethod string      `json:"payment_method,omitempty"`
	SN            string      `json:"sn,omitempty"`
	OriginBRN     string      `json:"origin_brn,omitempty"`
	Amount        string      `json:"amount,omitempty"`
	TipsAmount    string      `json:"tips_amount,omitempty"`
	Currency      string      `json:"currency,omitempty"`
	CreditCard    *creditCard `json:"credit_card,omitempty"`
}

var idPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)

// Sale sends a native card-present sale. The result is usually pending
// (poll Query by req.UUID until Final) or final. Errors: *ValidationError
// (nothing sent), ErrNotSent, ErrAuth, *GatewayError (refused, nothing
// charged), ErrUnknownOutcome (resolve with Query(req.UUID); never send the
// sale again).
func (c *Client) Sale(ctx context.Context, req SaleRequest) (*Transaction, error) {
	if err := checkUUID("uuid", req.UUID); err != nil {
		return nil, err
	}
	if err := checkSN(req.TerminalSN, true); err != nil {
		return nil, err
	}
	cur, err := checkAmount("amount", req.Amount)
	if err != nil {
		return nil, err
	}
	f := txnFields{
		UUID: strings.ToLower(req.UUID), Type: TypeSale, PaymentMethod: PaymentMethodCreditCard, SN: req.TerminalSN,
		Amount: money.Format(req.Amount.Minor, cur), Currency: cur.Code,
	}
	if req.Tip != nil {
		if *req.Tip < 0 || *req.Tip > money.MaxMinor {
			return nil, &ValidationError{Field: "tip_amount", Reason: "must be between 0 and the maximum amount"}
		}
		f.TipsAmount = money.Format(*req.Tip, cur)
	}
	cc, err := buildCreditCard(req.Card)
	if err != nil {
		return nil, err
	}
	f.CreditCard = cc
	log := c.log.With("op", OpSale, "uuid", f.UUID, "merchant_order_no", req.MerchantOrderNo, "terminal_sn", req.TerminalSN,
		"amount", req.Amount.String(), "masked_pan", req.Card.Masked(), "brand", req.Card.Brand(), "entry_mode", req.Card.EntryMode())
	return c.mutate(ctx, log, OpSale, "/payment/transactions", txnBody{Transaction: f, NotifyURL: c.notifyURL}, req.TerminalSN, ident{uuid: f.UUID})
}

// Query looks a transaction up by uuid (preferred) or, when uuid is empty,
// by brn. A transaction the gateway does not know gives a *GatewayError
// with code 100013 that matches ErrNotFound. Safe to call repeatedly; the
// spec suggests polling no more often than every 20 seconds.
func (c *Client) Query(ctx context.Context, uuid, brn string) (*Transaction, error) {
	id, want := uuid, ident{uuid: uuid}
	if uuid == "" {
		id, want = brn, ident{brn: brn}
	}
	if !idPattern.MatchString(id) {
		return nil, &ValidationError{Field: "uuid", Reason: "a uuid or brn (1-64 letters, digits, '-' or '_') is required"}
	}
	start := c.now()
	log := c.log.With("op", OpQuery, "id", id)
	resp, err := c.call(ctx, OpQuery, http.MethodGet, c.storePath("/query/transactions/"+url.PathEscape(id)), nil, "")
	var t *Transaction
	if err == nil {
		t, err = interpret(OpQuery, resp, false, want)
	}
	c.logResult(ctx, log, slog.LevelDebug, start, resp, t, err)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Void voids an approved, unsettled sale in full. Errors as for Sale;
// ErrUnknownOutcome is resolved with Query(req.UUID).
func (c *Client) Void(ctx context.Context, req VoidRequest) (*Transaction, error) {
	if err := checkUUID("uuid", req.UUID); err != nil {
		return nil, err
	}
	if err := checkSN(req.TerminalSN, false); err != nil {
		return nil, err
	}
	f := txnFields{UUID: strings.ToLower(req.UUID), Type: TypeVoid, SN: req.TerminalSN}
	if req.Amount != nil {
		cur, err := checkAmount("amount", *req.Amount)
		if err != nil {
			return nil, err
		}
		f.Amount, f.Currency = money.Format(req.Amount.Minor, cur), cur.Code
	}
	brn, err := c.originBRN(ctx, OpVoid, req.OrigUUID, req.OrigBRN)
	if err != nil {
		return nil, err
	}
	f.OriginBRN = brn
	log := c.log.With("op", OpVoid, "uuid", f.UUID, "origin_brn", brn, "terminal_sn", req.TerminalSN)
	return c.mutate(ctx, log, OpVoid, "/payment/void", txnBody{Transaction: f, NotifyURL: c.notifyURL}, req.TerminalSN, ident{uuid: f.UUID})
}

// Refund refunds all or part of an approved sale. Errors as for Sale;
// ErrUnknownOutcome is resolved with Query(req.UUID). A refund above what
// is left of the sale is refused with code 100015.
func (c *Client) Refund(ctx context.Context, req RefundRequest) (*Transaction, error) {
	if err := checkUUID("uuid", req.UUID); err != nil {
		return nil, err
	}
	if err := checkSN(req.TerminalSN, false); err != nil {
		return nil, err
	}
	cur, err := checkAmount("amount", req.Amount)
	if err != nil {
		return nil, err
	}
	brn, err := c.originBRN(ctx, OpRefund, req.OrigUUID, req.OrigBRN)
	if err != nil {
		return nil, err
	}
	f := txnFields{
		UUID: strings.ToLower(req.UUID), Type: TypeRefund, SN: req.TerminalSN, OriginBRN: brn,
		Amount: money.Format(req.Amount.Minor, cur), Currency: cur.Code,
	}
	log := c.log.With("op", OpRefund, "uuid", f.UUID, "origin_brn", brn, "amount", req.Amount.String())
	return c.mutate(ctx, log, OpRefund, "/payment/refund", txnBody{Transaction: f, NotifyURL: c.notifyURL}, req.TerminalSN, ident{uuid: f.UUID})
}

// AdjustTip sets the tip of an approved, unsettled sale to req.Tip (not an
// increment; 0 removes it) and returns the sale as updated. Setting the same
// tip twice is harmless.
func (c *Client) AdjustTip(ctx context.Context, req TipRequest) (*Transaction, error) {
	if err := checkSN(req.TerminalSN, false); err != nil {
		return nil, err
	}
	cur, err := money.LookupCurrency(req.Tip.Currency.Code)
	if err != nil || cur.Exponent != req.Tip.Currency.Exponent {
		return nil, &ValidationError{Field: "currency", Reason: "unknown currency or wrong exponent"}
	}
	if req.Tip.Minor < 0 || req.Tip.Minor > money.MaxMinor {
		return nil, &ValidationError{Field: "tip_amount", Reason: "must be between 0 and the maximum amount"}
	}
	brn, err := c.originBRN(ctx, OpTips, req.OrigUUID, req.OrigBRN)
	if err != nil {
		return nil, err
	}
	id := req.UUID
	if id == "" {
		id = DeriveUUID("tips/" + brn + "/" + strconv.FormatInt(req.Tip.Minor, 10))
	}
	if err := checkUUID("uuid", id); err != nil {
		return nil, err
	}
	f := txnFields{
		UUID: strings.ToLower(id), Type: TypeTips, SN: req.TerminalSN, OriginBRN: brn,
		TipsAmount: money.Format(req.Tip.Minor, cur), Currency: cur.Code,
	}
	log := c.log.With("op", OpTips, "uuid", f.UUID, "origin_brn", brn, "tip", req.Tip.String())
	t, err := c.mutate(ctx, log, OpTips, "/payment/tips", txnBody{Transaction: f}, req.TerminalSN, ident{})
	if err != nil {
		return nil, err
	}
	// The answer is the adjusted sale (or, should the gateway answer with
	// a tips transaction, that one): anything else is not ours.
	if t.BRN != brn && !strings.EqualFold(t.UUID, f.UUID) {
		return nil, fmt.Errorf("check bindo %s answer: %w: it is for neither brn %s nor uuid %s", OpTips, ErrUnknownOutcome, brn, f.UUID)
	}
	return t, nil
}

// mutate sends a sale, void, refund or tips request and interprets the answer.
func (c *Client) mutate(ctx context.Context, log *slog.Logger, op, path string, body txnBody, sn string, want ident) (*Transaction, error) {
	start := c.now()
	resp, err := c.call(ctx, op, http.MethodPost, c.storePath(path), body, sn)
	var t *Transaction
	if err == nil {
		t, err = interpret(op, resp, true, want)
	}
	c.logResult(ctx, log, slog.LevelInfo, start, resp, t, err)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// logResult writes one record per call. Nothing here can carry card data:
// the attributes are identifiers, masked values and classified errors.
func (c *Client) logResult(ctx context.Context, log *slog.Logger, level slog.Level, start time.Time, resp *rawResponse, t *Transaction, err error) {
	attrs := []any{"duration", c.now().Sub(start)}
	if resp != nil {
		attrs = append(attrs, "http_status", resp.status)
	}
	if t != nil {
		attrs = append(attrs, "brn", t.BRN, "state", t.State, "status", string(t.Status))
		if t.ErrorCode != "" {
			attrs = append(attrs, "error_code", t.ErrorCode)
		}
	}
	if err != nil {
		var ge *GatewayError
		if errors.As(err, &ge) {
			attrs = append(attrs, "error_code", ge.Code)
		}
		attrs = append(attrs, "error", err)
		level = slog.LevelWarn
		if errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrAuth) {
			level = slog.LevelError
		}
		log.Log(ctx, level, "bindo call failed", attrs...)
		return
	}
	log.Log(ctx, level, "bindo call", attrs...)
}

// originBRN returns origBRN, or looks the original up by origUUID. A lookup
// failure means the operation itself was not sent.
func (c *Client) originBRN(ctx context.Context, op, origUUID, origBRN string) (string, error) {
	if origBRN != "" {
		if !idPattern.MatchString(origBRN) {
			return "", &ValidationError{Field: "orig_brn", Reason: "1-64 letters, digits, '-' or '_'"}
		}
		return origBRN, nil
	}
	if origUUID == "" {
		return "", &ValidationError{Field: "orig_uuid", Reason: "the original's uuid or brn is required"}
	}
	if err := checkUUID("orig_uuid", origUUID); err != nil {
		return "", err
	}
	t, err := c.Query(ctx, origUUID, "")
	if err != nil {
		var ge *GatewayError
		if errors.As(err, &ge) {
			return "", fmt.Errorf("look up original %s for bindo %s: %w", origUUID, op, ge)
		}
		return "", &lookupError{op: op, msg: err.Error(), auth: errors.Is(err, ErrAuth)}
	}
	if t.BRN == "" {
		return "", &lookupError{op: op, msg: "original " + origUUID + " has no brn yet"}
	}
	return t.BRN, nil
}

// lookupError is a failed look-up of the original before a void, refund or
// tips request: that request was not sent, whatever the look-up's class.
type lookupError struct {
	op, msg string
	auth    bool
}

func (e *lookupError) Error() string {
	return fmt.Sprintf("look up original for bindo %s: %s", e.op, e.msg)
}

func (e *lookupError) Unwrap() []error {
	if e.auth {
		return []error{ErrNotSent, ErrAuth}
	}
	return []error{ErrNotSent}
}

func checkUUID(field, v string) error {
	if !ValidUUID(v) {
		return &ValidationError{Field: field, Reason: "must be a UUID (8-4-4-4-12 hex digits)"}
	}
	return nil
}

func checkSN(sn string, required bool) error {
	if sn == "" && !required {
		return nil
	}
	if !idPattern.MatchString(sn) {
		return &ValidationError{Field: "terminal_sn", Reason: "required: 1-64 letters, digits, '-' or '_'"}
	}
	return nil
}

// checkAmount validates a positive amount and returns its currency as the
// money package knows it.
func checkAmount(field string, a money.Amount) (money.Currency, error) {
	cur, err := money.LookupCurrency(a.Currency.Code)
	if err != nil || cur.Exponent != a.Currency.Exponent {
		return money.Currency{}, &ValidationError{Field: "currency", Reason: "unknown currency or wrong exponent"}
	}
	if a.Minor <= 0 || a.Minor > money.MaxMinor {
		return money.Currency{}, &ValidationError{Field: field, Reason: "must be greater than zero and at most the maximum amount"}
	}
	return cur, nil
}
