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
)

// GatewayError is a refusal by the gateway: a trusted response with code ≠ "0".
type GatewayError struct {
	Method string
	Code   string
	Msg    string
	PSN    string // gateway serial number, quote it to CodePay support
}

func (e *GatewayError) Error() string {
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
