package bindo

import (
	"errors"
	"fmt"
)

// Error classes callers branch on with errors.Is / errors.As. docs/bindo.md
// lists what each means for a payment.
var (
	// ErrNotSent means the gateway has not acted on the request, so nothing
	// was charged and the same request (same uuid) may be sent again: the
	// request was never written to the network (no token could be obtained,
	// the connection could not be made, the context ended first), or the
	// gateway refused it with HTTP 401 before processing it. It never
	// matches ErrUnknownOutcome.
	ErrNotSent = errors.New("request was not processed by the gateway")
	// ErrUnknownOutcome means the request may or may not have been
	// processed: a timeout or connection reset after the request was
	// (possibly) written, an HTTP 5xx or 408, a redirect, a response that
	// could not be read or decoded, or a failed state with an error code
	// the spec does not list. The caller must reconcile with Query by uuid
	// and must never send a second sale for the same payment.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrAuth means the gateway refused our credentials: the login endpoint
	// rejected them, or a request was still refused with HTTP 401 after one
	// fresh login. Errors of this class also match ErrNotSent.
	ErrAuth = errors.New("bindo authentication failed")
	// ErrInvalidRequest means local validation refused the request before
	// anything was sent. The error is a *ValidationError naming the field.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrInvalidConfig means New refused the configuration; the error is a
	// *ConfigError naming the [bindo] key.
	ErrInvalidConfig = errors.New("invalid bindo configuration")
	// ErrNotFound means the gateway has no record of the transaction
	// (error code 100013). It is matched by the *GatewayError carrying it.
	ErrNotFound = errors.New("transaction not found")
	// ErrBadSignature means a webhook's X-SIGNATURE did not verify.
	ErrBadSignature = errors.New("invalid webhook signature")
	// ErrNoToken may be returned by TokenStore.LoadToken when no token is
	// stored (returning "" with a nil error means the same).
	ErrNoToken = errors.New("no bindo access token stored")
	// ErrBadWebhook means a webhook body could not be decoded or lacks the
	// fields a transaction needs.
	ErrBadWebhook = errors.New("malformed webhook")
)

// Documented gateway error codes (JS SDK spec, "Error Code And Error
// message"); see docs/bindo.md for how the client classifies each.
const (
	CodeSuccess           = "100000"
	CodeParameters        = "100001"
	CodeMerchantDisabled  = "100003"
	CodeRuleRequired      = "100005"
	CodeTerminalBusy      = "100007"
	CodeRiskFlagged       = "100011"
	CodeNoRecord          = "100013"
	CodeAmountExceeded    = "100015"
	CodeCurrencyMismatch  = "100016"
	CodeOrderClosing      = "100024"
	CodeFraudCard         = "110001"
	CodeRejectedByIssuer  = "110003"
	CodeInsufficientFunds = "110004"
	CodeBankKeyNotActive  = "110007"
	CodeTimeoutPayFailed  = "110010"
)

// maxErrorMessageLength bounds the gateway text kept in errors.
const maxErrorMessageLength = 200

// GatewayError is a definite refusal by the gateway: an HTTP 4xx (other than
// 401 and 408), or a failed state carrying one of the documented refusal
// codes. The request was not processed; nothing was charged. Code is the
// gateway's error_code, or "HTTP_<status>" when the body carried none.
type GatewayError struct {
	Op         string // "sale", "query", "void", "refund", "tips"
	Code       string
	Message    string // error_desc, with digit runs that could be card numbers masked
	HTTPStatus int
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("bindo %s refused: code %s: %s (HTTP %d)", e.Op, e.Code, e.Message, e.HTTPStatus)
}

// Unwrap lets errors.Is(err, ErrNotFound) match code 100013.
func (e *GatewayError) Unwrap() error {
	if e.Code == CodeNoRecord {
		return ErrNotFound
	}
	return nil
}

// ValidationError names the request field that failed local validation.
// Card fields are named after the contract's card object ("card.track2",
// "card.icc", "card.card_sn", "card.reader_mode", "card.fallback",
// "card.expiry"); the reason never contains card data. It wraps
// ErrInvalidRequest.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid request field %s: %s", e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidRequest) match.
func (e *ValidationError) Unwrap() error { return ErrInvalidRequest }

// ConfigError names the [bindo] configuration key New refused. It wraps
// ErrInvalidConfig.
type ConfigError struct {
	Field  string // e.g. "gateway_url"
	Reason string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("bindo.%s: %s", e.Field, e.Reason) }

// Unwrap lets errors.Is(err, ErrInvalidConfig) match.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// authError is a refusal of our credentials; it matches ErrAuth and ErrNotSent.
type authError struct{ reason string }

func (e *authError) Error() string { return "bindo authentication failed: " + e.reason }

func (e *authError) Unwrap() []error { return []error{ErrAuth, ErrNotSent} }
