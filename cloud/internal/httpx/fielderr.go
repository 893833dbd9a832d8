package httpx

import "fmt"

// Provider is a provider client in its field errors (ValidationError,
// ConfigError): a type without fields whose methods name the client and
// return the classes the errors wrap. Each client's own type makes its
// field errors types of their own, so errors.As never takes one client's
// error for another's.
type Provider interface {
	// Name is the client's configuration section ("codepay"): a
	// ConfigError's text starts "<name>.".
	Name() string
	// InvalidRequest is the class every ValidationError wraps.
	InvalidRequest() error
	// InvalidConfig is the class every ConfigError wraps.
	InvalidConfig() error
}

// ValidationError names the request field that failed a client's local
// validation; nothing was sent. Its text is "invalid request field <Field>:
// <Reason>" and it wraps C's InvalidRequest class.
type ValidationError[C Provider] struct {
	Field  string
	Reason string
}

func (e *ValidationError[C]) Error() string {
	return fmt.Sprintf("invalid request field %s: %s", e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, <the client's ErrInvalidRequest>) match.
func (e *ValidationError[C]) Unwrap() error {
	var c C
	return c.InvalidRequest()
}

// ConfigError names the configuration key a client's New refused. Its text
// is "<client>.<Field>: <Reason>" and it wraps C's InvalidConfig class.
type ConfigError[C Provider] struct {
	Field  string // e.g. "gateway_url"
	Reason string
}

func (e *ConfigError[C]) Error() string {
	var c C
	return fmt.Sprintf("%s.%s: %s", c.Name(), e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, <the client's ErrInvalidConfig>) match.
func (e *ConfigError[C]) Unwrap() error {
	var c C
	return c.InvalidConfig()
}
