package codepay

import (
	"errors"
	"fmt"
)

// Error classes callers branch on with errors.Is / errors.As.
var (
	// ErrBadSignature means a signature (on a response or a notification) did not verify.
	// A response that fails verification is never treated as a success.
	ErrBadSignature = errors.New("invalid signature")
	// ErrUnknownOutcome means the request may or may not have been processed:
	// a timeout or connection failure after the request was (possibly) sent,
	// an HTTP 5xx, or a response that could not be read or trusted. The caller
	// must reconcile with a query; it must never resend a create order.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrInvalidRequest means local validation refused the request; nothing was sent.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrNotSent means the request was never written to the network (the
	// connection could not be made, or the context ended first), so the gateway
	// cannot have acted on it. It deliberately does NOT match ErrUnknownOutcome:
	// the outcome is known (nothing happened) and the request may be sent again.
	ErrNotSent = errors.New("request was not sent")
	// ErrInvalidConfig means New or LoadKeys refused the configuration; the
	// error text names the [codepay] key or file at fault.
	ErrInvalidConfig = errors.New("invalid codepay configuration")
	// ErrBadNotification means a notification body could not be decoded or
	// lacks the fields an order needs.
	ErrBadNotification = errors.New("malformed notification")
	// ErrKeyFilePerm means a key file is accessible by group or others.
	ErrKeyFilePerm = errors.New("key file permissions too open")
)

// GatewayError is a refusal by the gateway: a trusted (signed, verified)
// response with code ≠ "0". It is the only error that says the gateway
// decided something; everything else that happens after a request may have
// left this machine wraps ErrUnknownOutcome.
type GatewayError struct {
	Method string
	Code   string
	Msg    string
	PSN    string // gateway serial number, quote it to CodePay support
	// NotFound is set on a refusal of order.query or order.refund.query that
	// says the gateway has no such order (Config.OrderNotFoundCodes, or a
	// message saying so; see docs/codepay.md). It is the only definitive
	// "CodePay did not take this order".
	NotFound bool
}

// IsOrderNotFound reports whether err is a trusted answer that the order
// asked about does not exist at CodePay.
func IsOrderNotFound(err error) bool {
	var ge *GatewayError
	return errors.As(err, &ge) && ge.NotFound
}

// HTTPError is an HTTP status without a trusted gateway envelope (a proxy's
// or load balancer's error page, a rate limit, a 5xx). It says nothing about
// whether the gateway processed the request: it wraps ErrUnknownOutcome.
type HTTPError struct {
	Method string
	Status int
	Text   string // status text and a one-line snippet of the body
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("codepay %s: HTTP %d without a gateway answer: %s", e.Method, e.Status, e.Text)
}

// Unwrap makes errors.Is(err, ErrUnknownOutcome) true.
func (e *HTTPError) Unwrap() error { return ErrUnknownOutcome }

func (e *GatewayError) Error() string {
	if e.PSN == "" {
		return fmt.Sprintf("codepay %s refused: code %s: %s", e.Method, e.Code, e.Msg)
	}
	return fmt.Sprintf("codepay %s refused: code %s: %s (psn %s)", e.Method, e.Code, e.Msg, e.PSN)
}

// ValidationError names the request field that failed local validation.
// It wraps ErrInvalidRequest.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid request field %s: %s", e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidRequest) match.
func (e *ValidationError) Unwrap() error { return ErrInvalidRequest }

// ConfigError names the [codepay] configuration key that New refused.
// It wraps ErrInvalidConfig.
type ConfigError struct {
	Field  string // e.g. "gateway_url"
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("codepay.%s: %s", e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidConfig) match.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
