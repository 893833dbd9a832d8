package bindo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
)

// contentType is the request Content-Type the spec prescribes.
const contentType = "application/json; charset=UTF-8"

// Gateway request headers (spec §1.1).
const (
	HeaderAccessToken = "X-USER-ACCESS-TOKEN"
	HeaderAppType     = "X-USER-APP-TYPE"
	HeaderAppVersion  = "X-USER-APP-VERSION"
	HeaderDeviceType  = "X-USER-DEVICE-TYPE"
	HeaderDeviceID    = "X-USER-DEVICE-ID"
	HeaderDeviceModel = "X-USER-DEVICE-MODEL"
	HeaderSignature   = "X-SIGNATURE"
	HeaderAppID       = "X-APP-ID"
	// HeaderClientIP is required on pre-create: the IP of the client that
	// will open the pay_redirect_url (JS SDK spec:85).
	HeaderClientIP = "X-CLIENT-IP"
)

// extraHeaders are the per-request headers beyond the token: sn adds the
// native-payment device headers (X-USER-DEVICE-ID = sn), clientIP adds
// X-CLIENT-IP (pre-create).
type extraHeaders struct{ sn, clientIP string }

// rawResponse is an HTTP answer other than 401.
type rawResponse struct {
	status int
	body   []byte
}

// call sends one gateway request with the access token, and after an HTTP
// 401 logs in again once (single flight) and resends it. Resending is safe
// for every operation, the sale included: a 401 means the gateway refused
// the request before processing it, so at most one of the two attempts can
// have been processed, and both carry the same uuid.
//
// payload is marshalled afresh for each attempt and the bytes are zeroed
// once the transport is done with them (they may hold card data). sn, when
// set, adds the native-payment device headers with X-USER-DEVICE-ID = sn.
//
// Errors: ErrNotSent (nothing processed: not written, no token, or 401
// twice, the last also matching ErrAuth), ErrUnknownOutcome (written, then
// no usable answer). HTTP statuses other than 401 are returned for the
// caller to classify.
func (c *Client) call(ctx context.Context, op, method, url string, payload any, sn string) (*rawResponse, error) {
	return c.callWith(ctx, op, method, url, payload, extraHeaders{sn: sn})
}

// callWith is call with any extra headers.
func (c *Client) callWith(ctx context.Context, op, method, url string, payload any, hx extraHeaders) (*rawResponse, error) {
	tok, err := c.accessToken(ctx)
	if err != nil {
		return nil, notSent(op, err)
	}
	resp, err := c.send(ctx, op, method, url, payload, hx, tok)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusUnauthorized {
		return resp, nil
	}
	c.log.Warn("bindo access token refused; logging in again", "op", op)
	tok, err = c.renewToken(ctx, tok)
	if err != nil {
		return nil, notSent(op, err)
	}
	resp, err = c.send(ctx, op, method, url, payload, hx, tok)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusUnauthorized {
		c.log.Error("bindo access token refused again after a fresh login", "op", op)
		return nil, fmt.Errorf("authenticate bindo %s: %w", op, &authError{reason: "request refused with HTTP 401 after a fresh login"})
	}
	return resp, nil
}

// notSent wraps err (from obtaining a token) so that it matches ErrNotSent
// exactly once.
func notSent(op string, err error) error {
	if errors.Is(err, ErrNotSent) {
		return fmt.Errorf("get access token for bindo %s: %w", op, err)
	}
	return fmt.Errorf("get access token for bindo %s: %w: %w", op, ErrNotSent, err)
}

// send makes one HTTP attempt. A 401 is returned as a response.
func (c *Client) send(ctx context.Context, op, method, url string, payload any, hx extraHeaders, tok string) (*rawResponse, error) {
	var body *wipingReader
	if payload != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(payload); err != nil {
			return nil, fmt.Errorf("encode %s request: %w: %w", op, ErrNotSent, err)
		}
		body = &wipingReader{b: buf.Bytes()}
	}
	var rd io.Reader
	if body != nil {
		rd = body
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, fmt.Errorf("build %s request: %w: %w", op, ErrNotSent, err)
	}
	if body != nil {
		req.ContentLength = int64(len(body.b))
		req.Body = body
		req.GetBody = nil
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set(HeaderAccessToken, tok)
	if hx.sn != "" {
		req.Header.Set(HeaderAppType, c.headers.appType)
		req.Header.Set(HeaderAppVersion, c.headers.appVersion)
		req.Header.Set(HeaderDeviceType, c.headers.deviceType)
		req.Header.Set(HeaderDeviceID, hx.sn)
		req.Header.Set(HeaderDeviceModel, c.headers.deviceModel)
	}
	if hx.clientIP != "" {
		req.Header.Set(HeaderClientIP, hx.clientIP)
	}
	status, raw, err := outcomes.RoundTrip(c.hc, req, "bindo "+op)
	if err != nil {
		return nil, err
	}
	return &rawResponse{status: status, body: raw}, nil
}

// outcomes are this package's error values for a failed exchange.
var outcomes = httpx.NewClasses("request was not processed by the gateway")

// ErrNotSent and ErrUnknownOutcome are the classes of a failed exchange
// that httpx.Classes defines. For Bindo, ErrNotSent also covers a request
// no token could be obtained for and one the gateway refused with HTTP 401
// before processing it: nothing was charged and the same request (same
// uuid) may be sent again. ErrUnknownOutcome also covers an HTTP 408, a
// redirect, and a failed state with an error code the spec does not list:
// reconcile with Query by uuid, never send a second sale for the payment.
var ErrNotSent, ErrUnknownOutcome = outcomes.NotSent, outcomes.UnknownOutcome

// wipingReader is a request body that zeroes its bytes when the transport
// closes it. RoundTrip always closes the body, possibly from another
// goroutine than the one reading it, hence the mutex.
type wipingReader struct {
	mu     sync.Mutex
	b      []byte
	off    int
	closed bool
}

func (r *wipingReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errors.New("request body already closed")
	}
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// Close zeroes the buffer.
func (r *wipingReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		clear(r.b)
	}
	return nil
}
