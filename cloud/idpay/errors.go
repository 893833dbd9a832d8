package idpay

import (
	"errors"
	"fmt"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
)

// Error classes callers branch on with errors.Is / errors.As. They follow
// docs/reliability.md: only a signed answer about the order is proof of
// anything; a transport error, a rate limit, platRespCode UNKNOWN or an
// answer that cannot be trusted never says that nothing was charged.
// outcomes are this package's classes of a failed exchange (httpx.Classes).
var outcomes = httpx.NewClasses("request was not sent")

var (
	// ErrNotSent means no request byte was written (the connection could
	// not be made, the context ended first): the gateway cannot have acted
	// on it and the same request may be sent again. It does not match
	// ErrUnknownOutcome.
	ErrNotSent = outcomes.NotSent
	// ErrUnknownOutcome means the request may or may not have been
	// processed: a timeout or a connection lost after the request may have
	// left, an HTTP 408/429/5xx, a body that is not a signed answer,
	// platRespCode UNKNOWN ("the order cannot be considered as a failure,
	// and do not repeat the initiation", spec line 104) or any platRespCode
	// the document does not list. Reconcile with QueryPayment; never create
	// the order again.
	ErrUnknownOutcome = outcomes.UnknownOutcome
	// ErrBadSignature means a response or callback signature did not
	// verify, or was missing. On a response it also matches
	// ErrUnknownOutcome: an untrusted answer is no answer.
	ErrBadSignature = errors.New("invalid signature")
	// ErrInvalidRequest means local validation refused the request; nothing
	// was sent. The error is a *ValidationError naming the field.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrInvalidConfig means New refused the configuration; the error is a
	// *ConfigError naming the [idpay] key.
	ErrInvalidConfig = errors.New("invalid idpay configuration")
	// ErrBadCallback means a callback body could not be decoded, lacks the
	// fields an order needs, or is addressed to another merchant.
	ErrBadCallback = errors.New("malformed callback")
)

// GatewayError is a refusal by the gateway: a signed, verified answer with
// platRespCode FAIL ("acceptance failed", spec line 100). It is the only
// error that says the gateway decided something about the request. A
// refused create is still confirmed by a query before the payment fails
// (docs/reliability.md): an earlier attempt may have created the order.
type GatewayError struct {
	Op      string // "create" or "query"
	Code    string // the error code field (Fields.ErrorCode), when present
	Msg     string // the message field (Fields.RespMessage), scrubbed
	OrderNo string
	// NotFound is set on a refused query whose code is one of
	// Config.OrderNotFoundCodes: the definitive "the gateway has no such
	// order". Nothing else counts (IsOrderNotFound).
	NotFound bool
}

func (e *GatewayError) Error() string {
	s := fmt.Sprintf("idpay %s refused (platRespCode FAIL)", e.Op)
	if e.Code != "" {
		s += ": code " + e.Code
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.NotFound {
		s += " (no such order)"
	}
	return s
}

// IsOrderNotFound reports whether err is a signed answer to a query that
// the order does not exist at the gateway.
func IsOrderNotFound(err error) bool {
	var ge *GatewayError
	return errors.As(err, &ge) && ge.NotFound
}

// HTTPError is an HTTP status without a trusted gateway answer (a proxy
// page, a rate limit, a 5xx). It says nothing about whether the gateway
// processed the request: it wraps ErrUnknownOutcome.
type HTTPError struct {
	Op     string
	Status int
	Text   string // status text and a scrubbed one-line snippet of the body
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("idpay %s: HTTP %d without a gateway answer: %s", e.Op, e.Status, e.Text)
}

// Unwrap makes errors.Is(err, ErrUnknownOutcome) true.
func (e *HTTPError) Unwrap() error { return ErrUnknownOutcome }

// ValidationError names the request field that failed local validation
// ("invalid request field <Field>: <Reason>"). It wraps ErrInvalidRequest;
// nothing was sent.
type ValidationError = httpx.ValidationError[provider]

// ConfigError names the [idpay] configuration key that New refused
// ("idpay.<Field>: <Reason>"). It wraps ErrInvalidConfig.
type ConfigError = httpx.ConfigError[provider]

// provider is this client in httpx's field errors.
type provider struct{}

func (provider) Name() string          { return "idpay" }
func (provider) InvalidRequest() error { return ErrInvalidRequest }
func (provider) InvalidConfig() error  { return ErrInvalidConfig }
