package codepay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
)

// HeaderRequestPSN is the optional trace header: 20 characters, MMddHHmmss
// plus random digits (reference/codepay.md §2.3).
const HeaderRequestPSN = "Http-Request-Psn"

// call sends one API request and returns the decoded, trusted envelope of a
// successful (code "0") response. p holds the business fields; the common
// fields are added here. orderNo is only used for logging.
//
// Error classes: ErrNotSent (nothing was written), ErrUnknownOutcome
// (anything after the request may have been written, including untrusted
// responses), ErrBadSignature (which also matches ErrUnknownOutcome),
// *GatewayError (a trusted refusal), *ValidationError.
func (c *Client) call(ctx context.Context, method, orderNo string, p Params) (*envelope, error) {
	start := c.now()
	c.addCommon(p, method, start)
	for k, v := range p {
		if !utf8.ValidString(v) {
			return nil, &ValidationError{Field: k, Reason: "not valid UTF-8"}
		}
	}
	if c.basic == nil {
		if err := Sign(c.key, p); err != nil {
			return nil, fmt.Errorf("call %s: %w", method, err)
		}
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]string(p)); err != nil {
		return nil, fmt.Errorf("encode %s request: %w", method, err)
	}

	psn := requestPSN(start)
	log := c.log.With("method", method, "http_psn", psn)
	if orderNo != "" {
		log = log.With("merchant_order_no", orderNo)
	}
	env, variant, err := c.roundTrip(ctx, method, psn, body.Bytes())
	elapsed := c.now().Sub(start)
	if c.observe != nil {
		c.observe(method, elapsed, err)
	}
	attrs := []any{"duration", elapsed}
	if env != nil {
		attrs = append(attrs, "code", env.Code, "psn", env.PSN)
	}
	if variant != "" {
		attrs = append(attrs, "verified", variant)
	}
	if err != nil {
		var ge *GatewayError
		if errors.As(err, &ge) {
			attrs = append(attrs, "code", ge.Code, "psn", ge.PSN)
		}
		log.Warn("codepay call failed", append(attrs, "error", err)...)
		return nil, err
	}
	level := slog.LevelInfo
	if method == MethodOrderQuery || method == MethodRefundQuery {
		level = slog.LevelDebug // polled every few seconds
	}
	log.Log(ctx, level, "codepay call", attrs...)
	return env, nil
}

// addCommon fills in the common request fields.
func (c *Client) addCommon(p Params, method string, now time.Time) {
	p["app_id"] = c.appID
	p["format"] = FormatJSON
	p["charset"] = CharsetUTF8
	p["version"] = Version
	p["timestamp"] = strconv.FormatInt(now.UnixMilli(), 10)
	p["method"] = method
	p["merchant_no"] = c.merchantNo
	if c.storeNo != "" {
		p["store_no"] = c.storeNo
	}
	if c.basic != nil {
		p["sign_type"] = SignTypeNone
	} else {
		p["sign_type"] = SignTypeRSA2
	}
}

// requestPSN builds the 20-character Http-Request-Psn: MMddHHmmss plus ten
// random digits.
func requestPSN(t time.Time) string {
	var b strings.Builder
	b.WriteString(t.Format("0102150405"))
	for b.Len() < 20 {
		b.WriteByte(byte('0' + rand.IntN(10)))
	}
	return b.String()
}

// outcomes are this package's error values for a failed exchange.
var outcomes = httpx.NewClasses("request was not sent")

var (
	// ErrNotSent is httpx.Classes' NotSent: the request was never written
	// to the network, so the gateway cannot have acted on it and it may be
	// sent again.
	ErrNotSent = outcomes.NotSent
	// ErrUnknownOutcome is httpx.Classes' UnknownOutcome. For CodePay it
	// also covers a response whose signature did not verify (which matches
	// ErrBadSignature too); the caller reconciles with a query and never
	// resends a create order.
	ErrUnknownOutcome = outcomes.UnknownOutcome
)

// roundTrip posts body and classifies the result. variant names the form
// of the signed fields that verified ("raw", "compact" or "fastjson"), for
// certification logs.
func (c *Client) roundTrip(ctx context.Context, method, psn string, body []byte) (*envelope, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, "", fmt.Errorf("build %s request: %w: %w", method, ErrNotSent, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(HeaderRequestPSN, psn)
	if c.basic != nil {
		req.SetBasicAuth(c.basic.Username, c.basic.Password)
	}
	status, raw, err := outcomes.RoundTrip(c.hc, req, method)
	if err != nil {
		return nil, "", err
	}

	// Classify the HTTP exchange once, here. Only a 2xx or 4xx carrying a
	// gateway envelope can be an answer; a 4xx envelope can only be a
	// refusal (never a success). 408, 429 and every 5xx are "no answer" even
	// with an envelope: they describe the moment, not the order.
	switch {
	case status >= 200 && status <= 299:
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests,
		status < 400 || status > 499, !looksLikeEnvelope(raw):
		return nil, "", &HTTPError{Method: method, Status: status, Text: httpx.ErrorText(status, raw)}
	default:
		_, variant, err := c.decodeResponse(method, raw)
		if err == nil {
			return nil, variant, fmt.Errorf("decode %s response: %w: success envelope with HTTP status %d", method, ErrUnknownOutcome, status)
		}
		return nil, variant, c.classify(method, err)
	}
	env, variant, err := c.decodeResponse(method, raw)
	return env, variant, c.classify(method, err)
}

// classify marks a query's trusted refusal that says the order does not exist.
func (c *Client) classify(method string, err error) error {
	var ge *GatewayError
	if errors.As(err, &ge) && (method == MethodOrderQuery || method == MethodRefundQuery) {
		ge.NotFound = c.orderNotFound(ge.Code, ge.Msg)
	}
	return err
}

// verifyKey returns the key responses are verified with, or nil when
// responses are not verified (Basic Auth mode, or no gateway key).
func (c *Client) verifyKey() *verifier {
	if c.basic != nil || c.gatewayKey == nil {
		return nil
	}
	return &verifier{key: c.gatewayKey}
}

// looksLikeEnvelope reports whether a 4xx body is a gateway envelope: a JSON
// object with a "code" member.
func looksLikeEnvelope(raw []byte) bool {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return false
	}
	code, ok := probe["code"]
	return ok && len(bytes.TrimSpace(code)) > 0 && string(bytes.TrimSpace(code)) != "null"
}
