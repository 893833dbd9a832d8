package qrwallet

import (
	"errors"
	"fmt"
)

// Error classes callers branch on with errors.Is / errors.As. The rule of
// docs/reliability.md applies: only a success answer about an order, or a
// definitive not-found (IsNotFound), says anything about whether money
// moved; a transport error, a rate limit, an unknown code or an answer that
// does not match the request never proves that nothing was charged.
var (
	// ErrNotSent means no byte of the request left this machine (the
	// connection could not be made, the context ended first, or the token
	// login that must precede every call failed). The provider cannot have
	// acted on it; the same request may be sent again. It deliberately does
	// NOT match ErrUnknownOutcome.
	ErrNotSent = errors.New("request was not sent")
	// ErrUnknownOutcome means the request may have been processed and no
	// usable answer came back: a timeout, reset or EOF after the request
	// may have left, an HTTP 408, 429 or 5xx, a body that is not the
	// provider's envelope, or an answer that does not match the request
	// (*MismatchError). Reconcile with PaymentStatus or RefundStatus; never
	// send a payment again under a new out_trade_no because of it.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrInvalidRequest means local validation refused the request; nothing
	// was sent. The error is a *ValidationError naming the field.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrInvalidConfig means New refused the configuration; the error is a
	// *ConfigError naming the key.
	ErrInvalidConfig = errors.New("invalid qrwallet configuration")
	// ErrLoginFailed marks the failure of the token login (spec lines
	// 1-17) that must precede a call. It always comes with ErrNotSent: the
	// call itself was not sent. The login's own error is in
	// (*LoginError).Err.
	ErrLoginFailed = errors.New("token login failed")
	// ErrOtherRefund means a refund status answer reports a different
	// refund of the payment than the one asked about: the spec's refund
	// status query names only the payment (lines 193-196), so the state of
	// the asked refund is not known from it.
	ErrOtherRefund = errors.New("refund status reports another refund")
)

// GatewayError is a definite refusal by the provider: an envelope with
// "success": false (or an HTTP 401 that persisted after a fresh login). It
// says the provider decided something about this request; it does not by
// itself prove that an order does not exist — except when NotFound is set
// on a status query (IsNotFound). A refused payment should be confirmed
// with PaymentStatus before it is reported as failed.
type GatewayError struct {
	Op         string // "native_pay", "quick_pay", "refund", "payment_status", "refund_status", "token"
	HTTPStatus int
	Message    string // the provider's message, scrubbed
	// AuthRefused: HTTP 401 twice, the second time with a fresh token.
	AuthRefused bool
	// NotFound is set on a refusal of a status query whose message says the
	// order (refund) does not exist (Config.NotFoundMessages, or the built-in
	// wording test; see docs/providers.md). It is the only definitive "the
	// provider has no such order".
	NotFound bool
}

func (e *GatewayError) Error() string {
	switch {
	case e.AuthRefused:
		return fmt.Sprintf("qrwallet %s refused: authentication refused (HTTP %d): %s", e.Op, e.HTTPStatus, e.Message)
	case e.NotFound:
		return fmt.Sprintf("qrwallet %s: not found (HTTP %d): %s", e.Op, e.HTTPStatus, e.Message)
	}
	return fmt.Sprintf("qrwallet %s refused (HTTP %d): %s", e.Op, e.HTTPStatus, e.Message)
}

// IsNotFound reports whether err is a definitive answer that the payment
// (or, for RefundStatus, the refund) asked about does not exist.
func IsNotFound(err error) bool {
	var ge *GatewayError
	return errors.As(err, &ge) && ge.NotFound
}

// HTTPError is an HTTP status without a usable provider answer (a proxy's
// error page, a rate limit, a 5xx). It wraps ErrUnknownOutcome.
type HTTPError struct {
	Op     string
	Status int
	Text   string // status text and a scrubbed one-line snippet of the body
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("qrwallet %s: HTTP %d without a provider answer: %s", e.Op, e.Status, e.Text)
}

// Unwrap makes errors.Is(err, ErrUnknownOutcome) true.
func (e *HTTPError) Unwrap() error { return ErrUnknownOutcome }

// MismatchError is an answer that does not belong to the request: another
// out_trade_no or out_refund_no, another amount, currency, store or
// service, or a JSON object repeating a key with different values. The
// spec defines no signature on answers (docs/providers.md), so these checks
// are what stands between a forged or misrouted answer and the journal. It
// wraps ErrUnknownOutcome: the request may have been processed.
type MismatchError struct {
	Op     string
	Field  string
	Reason string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("qrwallet %s: answer not trusted: %s: %s", e.Op, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrUnknownOutcome) true.
func (e *MismatchError) Unwrap() error { return ErrUnknownOutcome }

// ValidationError names the request field that failed local validation.
// It wraps ErrInvalidRequest; nothing was sent.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid request field %s: %s", e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidRequest) match.
func (e *ValidationError) Unwrap() error { return ErrInvalidRequest }

// ConfigError names the [qrwallet] configuration key New refused. It wraps
// ErrInvalidConfig.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("qrwallet.%s: %s", e.Field, e.Reason) }

// Unwrap lets errors.Is(err, ErrInvalidConfig) match.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// LoginError is the failure of the token login that precedes a call. The
// call was not sent: it matches ErrNotSent and ErrLoginFailed, and
// deliberately not the login's own classes (a refused login is not a
// refused payment). Err is the login's error.
type LoginError struct {
	Op  string // the call that needed the token
	Err error
}

func (e *LoginError) Error() string {
	return fmt.Sprintf("qrwallet %s not sent: token login: %v", e.Op, e.Err)
}

// Unwrap makes errors.Is match ErrNotSent and ErrLoginFailed only.
func (e *LoginError) Unwrap() []error { return []error{ErrNotSent, ErrLoginFailed} }
