package qrwallet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
)

// Operation names, used in errors and logs.
const (
	OpToken         = "token"
	OpNativePay     = "native_pay"
	OpQuickPay      = "quick_pay"
	OpRefund        = "refund"
	OpPaymentStatus = "payment_status"
	OpRefundStatus  = "refund_status"
)

// maxTokenLen bounds a token taken into the Authorization header.
const maxTokenLen = 8192

// maxMessage bounds a provider message kept in an error.
const maxMessage = 200

// outcomes are this package's error values for a failed exchange.
var outcomes = httpx.Classes{NotSent: ErrNotSent, UnknownOutcome: ErrUnknownOutcome}

// call is one authenticated API call: it obtains a token (cached, or a
// fresh login), posts body to url within timeout and returns the decoded
// envelope of a successful answer. An HTTP 401 drops the token, logs in
// again and sends the request once more; a 401 is taken as "not
// processed" (the request was refused before it was looked at).
func (c *Client) call(ctx context.Context, op, url string, body map[string]any, timeout time.Duration, log *slog.Logger) (*envelope, error) {
	raw, err := encodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w: %w", op, ErrNotSent, err)
	}
	start := c.clock.Now()
	env, status, err := c.callOnce(ctx, op, url, raw, timeout)
	if status == http.StatusUnauthorized {
		log.Info("qrwallet: token refused, logging in again")
		env, status, err = c.callOnce(ctx, op, url, raw, timeout)
		if status == http.StatusUnauthorized {
			err = &GatewayError{Op: op, HTTPStatus: status, AuthRefused: true, Message: err.Error()}
		}
	}
	attrs := []any{"op", op, "duration", c.clock.Now().Sub(start), "http_status", status}
	if err != nil {
		log.Warn("qrwallet call failed", append(attrs, "error", err)...)
		return nil, err
	}
	level := slog.LevelInfo
	if op == OpPaymentStatus || op == OpRefundStatus {
		level = slog.LevelDebug // polled every few seconds
	}
	log.Log(ctx, level, "qrwallet call", attrs...)
	return env, nil
}

// callOnce sends raw with a token. On HTTP 401 it returns that status with
// an error carrying the answer's text, having dropped the token.
func (c *Client) callOnce(ctx context.Context, op, url string, raw []byte, timeout time.Duration) (*envelope, int, error) {
	token, err := c.tokenFor(ctx)
	if err != nil {
		return nil, 0, &LoginError{Op: op, Err: err}
	}
	status, body, err := c.post(ctx, op, url, token, raw, timeout)
	if err != nil {
		return nil, 0, err
	}
	if status == http.StatusUnauthorized {
		c.dropToken(token)
		return nil, status, errors.New(httpx.ErrorText(status, body))
	}
	env, err := classify(op, status, body)
	return env, status, err
}

// post sends one request and returns the status and body.
func (c *Client) post(ctx context.Context, op, url, token string, raw []byte, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, fmt.Errorf("build %s request: %w: %w", op, ErrNotSent, err)
	}
	req.Header.Set("Content-Type", "application/json") // spec line 26
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token) // spec line 28
	}
	return outcomes.RoundTrip(c.hc, req, op)
}

// classify turns an HTTP exchange into an envelope or an error class.
// Only a 2xx can be a success; a 2xx or 4xx envelope with "success": false
// is a refusal; 408, 429, every 5xx, any other status and any body that is
// not an envelope are "no answer".
func classify(op string, status int, body []byte) (*envelope, error) {
	switch {
	case status >= 200 && status <= 299, status >= 400 && status <= 499 &&
		status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
	default:
		return nil, &HTTPError{Op: op, Status: status, Text: httpx.ErrorText(status, body)}
	}
	env, err := parseEnvelope(body)
	if err != nil {
		if status >= 400 {
			return nil, &HTTPError{Op: op, Status: status, Text: httpx.ErrorText(status, body)}
		}
		return nil, fmt.Errorf("decode %s answer: %w: %w", op, ErrUnknownOutcome, err)
	}
	if !env.success {
		msg := httpx.Scrub(env.message, maxMessage)
		if msg == "" {
			msg = "no message"
		}
		return nil, &GatewayError{Op: op, HTTPStatus: status, Message: msg}
	}
	if status >= 400 {
		return nil, fmt.Errorf("decode %s answer: %w: success envelope with HTTP status %d", op, ErrUnknownOutcome, status)
	}
	return env, nil
}

// tokenFor returns a token valid for a call: the cached one while it is
// fresh, otherwise a new login. Concurrent callers share one login.
func (c *Client) tokenFor(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.token != "" && c.clock.Now().Before(c.tokenUntil) {
		return c.token, nil
	}
	start := c.clock.Now()
	token, err := c.login(ctx)
	if err != nil {
		c.token = ""
		return "", err
	}
	if c.cfg.TokenTTL > 0 {
		// The life is counted from the login's start: conservative.
		c.token, c.tokenUntil = token, start.Add(c.cfg.TokenTTL-c.cfg.TokenRefreshMargin)
	}
	return token, nil
}

// dropToken forgets token if it is still the cached one.
func (c *Client) dropToken(token string) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.token == token {
		c.token = ""
	}
}

// login is GET API TOKEN (lines 1-17): user and password, answered with
// data.token.
func (c *Client) login(ctx context.Context) (string, error) {
	raw, err := encodeBody(map[string]any{"user": c.user, "password": c.password})
	if err != nil {
		return "", fmt.Errorf("encode token request: %w", err)
	}
	status, body, err := c.post(ctx, OpToken, c.urls.Token, "", raw, c.cfg.HTTPTimeout)
	if err != nil {
		return "", err
	}
	env, err := classify(OpToken, status, body)
	if err != nil {
		var ge *GatewayError
		if errors.As(err, &ge) && status == http.StatusUnauthorized {
			ge.AuthRefused = true
		}
		c.log.Warn("qrwallet token login failed", "http_status", status, "error", err)
		return "", err
	}
	token, _, err := getString(env.data, "token")
	switch {
	case err != nil:
		return "", fmt.Errorf("decode token answer: %w", err)
	case token == "" || len(token) > maxTokenLen || strings.ContainsFunc(token, func(r rune) bool {
		return unicode.IsSpace(r) || r < 0x21 || r > 0x7e
	}):
		return "", errors.New("decode token answer: data.token is missing or not a printable token")
	}
	c.log.Debug("qrwallet token login")
	return token, nil
}

// notFound reports whether a refusal message of a status query says that
// the order (or refund) does not exist: one of Config.NotFoundMessages, or
// a "not found" / "does not exist" wording naming an order, trade,
// transaction, payment or refund.
func (c *Client) notFound(msg string) bool {
	m := strings.ToLower(strings.TrimSpace(msg))
	if slices.ContainsFunc(c.cfg.NotFoundMessages, func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), m) }) {
		return true
	}
	absent := strings.Contains(m, "not found") || strings.Contains(m, "not exist") || strings.Contains(m, "no such") ||
		strings.Contains(m, "doesn't exist")
	subject := strings.Contains(m, "order") || strings.Contains(m, "trade") || strings.Contains(m, "transaction") ||
		strings.Contains(m, "payment") || strings.Contains(m, "refund")
	return absent && subject
}
