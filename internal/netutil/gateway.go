package netutil

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Reasons ParseGatewayURL refuses a URL, matched with errors.Is. The error
// text is the quoted URL (when it carries no credentials) followed by the
// reason, e.g. `"http://gw.example" must use https (plain http is allowed
// only for loopback hosts)`; callers prefix their configuration key.
var (
	// ErrURLRequired: the URL is empty.
	ErrURLRequired = errors.New("required")
	// ErrURLNotAbsolute: no scheme and host.
	ErrURLNotAbsolute = errors.New("is not an absolute URL such as https://host")
	// ErrURLCredentials: user information ("user:password@").
	ErrURLCredentials = errors.New("must not contain credentials")
	// ErrURLQuery: a query or fragment, which a base URL cannot carry.
	ErrURLQuery = errors.New("must not have a query or fragment")
	// ErrURLScheme: a scheme other than https and http.
	ErrURLScheme = errors.New("must be an https URL")
	// ErrURLInsecure: plain http to a host that is not loopback, without
	// the allow_insecure_http opt-in.
	ErrURLInsecure = errors.New("must use https (plain http is allowed only for loopback hosts)")
)

// ParseGatewayURL is the one rule for a payment provider's base URL (a
// gateway or login host), shared by the configuration and the provider
// clients: an absolute URL with a host, without user information, query or
// fragment, whose scheme is https, or http when the host is loopback
// (IsLoopbackHost) or allowInsecureHTTP is set.
func ParseGatewayURL(raw string, allowInsecureHTTP bool) (*url.URL, error) {
	if raw == "" {
		return nil, ErrURLRequired
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		if strings.Contains(raw, "@") {
			// It may hold a password: do not repeat it.
			return nil, fmt.Errorf("the URL %w", ErrURLNotAbsolute)
		}
		return nil, fmt.Errorf("%q %w", raw, ErrURLNotAbsolute)
	}
	if u.User != nil {
		return nil, ErrURLCredentials
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
		return nil, fmt.Errorf("%q %w", raw, ErrURLQuery)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowInsecureHTTP && !IsLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("%q %w", raw, ErrURLInsecure)
		}
	default:
		return nil, fmt.Errorf("%q %w", raw, ErrURLScheme)
	}
	return u, nil
}
