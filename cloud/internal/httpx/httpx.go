// Package httpx holds the HTTP rules the provider clients (cloud/codepay,
// cloud/bindo) share: the HTTP client they build (no redirects, bounded
// time), the classification of a failed exchange into "not sent" and
// "outcome unknown", the bound on a response body, and how an HTTP error
// body is summarised for an error message. The gateway URL rule is
// netutil.ParseGatewayURL, shared with the configuration.
package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"

	"github.com/posbridge/posbridge/pan"
)

// MaxResponseBytes bounds a response body; anything longer is not trusted.
const MaxResponseBytes = 1 << 20

// maxIdlePerHost is how many idle connections to a gateway PooledTransport
// keeps: one per terminal that polls at the same time, up to this. Go's
// default of 2 makes every further concurrent call open (and, over TLS,
// handshake) a new connection and drop it afterwards.
const maxIdlePerHost = 64

// PooledTransport is http.DefaultTransport's configuration with connection
// reuse for many terminals.
func PooledTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxIdlePerHost
	t.MaxIdleConns = maxIdlePerHost
	return t
}

// NewClient returns the client a provider client sends with: a copy of hc,
// or, when hc is nil, a client with timeout and transport (nil means
// http.DefaultTransport). It never follows a redirect: a redirected POST
// would be replayed (as a GET, or re-POSTed with our credentials) to a URL
// we did not choose.
func NewClient(hc *http.Client, timeout time.Duration, transport http.RoundTripper) *http.Client {
	c := &http.Client{Timeout: timeout, Transport: transport}
	if hc != nil {
		copied := *hc
		c = &copied
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// Classes are a client's error values for the two ways an exchange can
// fail once the request is built. Each client makes its own (NewClasses)
// and exports them as its ErrNotSent and ErrUnknownOutcome, documenting
// there only what its gateway adds; this is where the two are defined.
// The two never match each other, and no client's class matches
// another's.
type Classes struct {
	// NotSent: the gateway cannot have acted on the request, so nothing
	// was charged and the same request may be sent again. RoundTrip
	// returns it when no request byte was written (the connection could
	// not be made, the context ended first); a client also uses it when it
	// could not build the request, or when the gateway refused it before
	// processing it. The outcome is known: nothing happened.
	NotSent error
	// UnknownOutcome: the request may have been written and no usable
	// answer came back (a timeout or connection reset after writing, an
	// HTTP 5xx, a response that could not be read, decoded or trusted), so
	// it may or may not have been processed. The caller must reconcile
	// with a query and must never send a second payment in its place.
	UnknownOutcome error
}

// NewClasses returns new values for a client's classes: NotSent with the
// text notSent, UnknownOutcome with "outcome unknown".
func NewClasses(notSent string) Classes {
	return Classes{NotSent: errors.New(notSent), UnknownOutcome: errors.New("outcome unknown")}
}

// RoundTrip sends req with hc and reads the answer, at most
// MaxResponseBytes. what names the call in error texts ("send <what>: ",
// "read <what> response"). A failure before any request byte was written
// wraps c.NotSent; any later failure (including an over-long body) wraps
// c.UnknownOutcome. The status is returned for the caller to classify.
func (c Classes) RoundTrip(hc *http.Client, req *http.Request, what string) (status int, body []byte, err error) {
	// wrote is set as soon as the transport has produced request bytes;
	// until then a failure means the gateway cannot have seen the request.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := hc.Do(req)
	if err != nil {
		if !wrote.Load() {
			return 0, nil, fmt.Errorf("send %s: %w: %w", what, c.NotSent, err)
		}
		return 0, nil, fmt.Errorf("send %s: %w: %w", what, c.UnknownOutcome, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return 0, nil, fmt.Errorf("read %s response (HTTP %d): %w: %w", what, resp.StatusCode, c.UnknownOutcome, err)
	}
	if len(raw) > MaxResponseBytes {
		return 0, nil, fmt.Errorf("read %s response: %w: body larger than %d bytes", what, c.UnknownOutcome, MaxResponseBytes)
	}
	return resp.StatusCode, raw, nil
}

// minDigitRun is the shortest run of digits Scrub treats as a possible
// card number.
const minDigitRun = 12

// Scrub returns gateway-supplied text made safe for an error or a log: one
// line (control characters become spaces), valid UTF-8, every run of 12 or
// more digits masked as a card number (pan.MaskRuns), and, when max > 0, at
// most max bytes followed by "...".
func Scrub(s string, max int) string {
	s = pan.MaskRuns(strings.ToValidUTF8(s, ""), minDigitRun)
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return bound(s, max)
}

// bound cuts s to at most max bytes (and valid UTF-8) plus "...".
func bound(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "..."
}

// errorSnippet is how much of an HTTP error body ErrorText keeps.
const errorSnippet = 120

// ErrorText summarises an HTTP error body that is not a gateway answer (a
// proxy's error page, a rate limit) for an error message: the status text
// and a scrubbed one-line snippet of at most 120 bytes.
func ErrorText(status int, raw []byte) string {
	text := http.StatusText(status)
	if snippet := bound(strings.TrimSpace(Scrub(string(raw), 0)), errorSnippet); snippet != "" {
		text += ": " + snippet
	}
	return text
}
