package bindo

import (
	"errors"
	"fmt"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
)

// The error classes callers branch on with errors.Is / errors.As stand
// beside what they classify: ErrNotSent and ErrUnknownOutcome in
// transport.go, ErrAuth and ErrNoToken in auth.go, ErrBadSignature and
// ErrBadWebhook in webhook.go, the others below. docs/bindo.md lists what
// each means for a payment. None matches an error of another client.

// ErrInvalidRequest means local validation refused the request before
// anything was sent. The error is a *ValidationError naming the field.
var ErrInvalidRequest = errors.New("invalid request")

// ValidationError names the request field that failed local validation
// ("invalid request field <Field>: <Reason>"). Card fields are named after
// the contract's card object ("card.track2", "card.icc", "card.card_sn",
// "card.reader_mode", "card.fallback", "card.expiry"); the reason never
// contains card data. It wraps ErrInvalidRequest.
type ValidationError = httpx.ValidationError[provider]

// ErrInvalidConfig means New refused the configuration; the error is a
// *ConfigError naming the [bindo] key.
var ErrInvalidConfig = errors.New("invalid bindo configuration")

// ConfigError names the [bindo] configuration key New refused
// ("bindo.<Field>: <Reason>", Field e.g. "gateway_url"). It wraps
// ErrInvalidConfig.
type ConfigError = httpx.ConfigError[provider]

// ErrNotFound means the gateway has no record of the transaction (error
// code 100013). It is matched by the *GatewayError carrying it.
var ErrNotFound = errors.New("transaction not found")

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

// provider is Bindo in httpx's field errors.
type provider struct{}

func (provider) Name() string          { return "bindo" }
func (provider) InvalidRequest() error { return ErrInvalidRequest }
func (provider) InvalidConfig() error  { return ErrInvalidConfig }
