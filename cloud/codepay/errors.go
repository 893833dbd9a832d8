package codepay

import (
	"errors"
	"fmt"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
)

// Error classes callers branch on with errors.Is / errors.As. Those of a
// failed exchange, ErrNotSent and ErrUnknownOutcome, are in transport.go,
// ErrBadSignature is in sign.go and ErrBadNotification in notify.go. None
// matches an error of another client.
var (
	// ErrInvalidRequest means local validation refused the request; nothing was sent.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrInvalidConfig means New or LoadKeys refused the configuration; the
	// error text names the [codepay] key or file at fault.
	ErrInvalidConfig = errors.New("invalid codepay configuration")
	// ErrKeyFilePerm means a key file is accessible by group or others.
	ErrKeyFilePerm = errors.New("key file permissions too open")
)

// ValidationError names the request field that failed local validation
// ("invalid request field <Field>: <Reason>"). It wraps ErrInvalidRequest.
type ValidationError = httpx.ValidationError[provider]

// ConfigError names the [codepay] configuration key that New refused
// ("codepay.<Field>: <Reason>", Field e.g. "gateway_url"). It wraps
// ErrInvalidConfig.
type ConfigError = httpx.ConfigError[provider]

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

// provider is CodePay in httpx's field errors.
type provider struct{}

func (provider) Name() string          { return "codepay" }
func (provider) InvalidRequest() error { return ErrInvalidRequest }
func (provider) InvalidConfig() error  { return ErrInvalidConfig }
