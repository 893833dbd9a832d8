package idpay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
)

// Operations, as named in errors, logs and the emulator's request log.
const (
	opCreate = "create"
	opQuery  = "query"
)

// maxMsg bounds gateway text kept in an error.
const maxMsg = 200

// call signs p, POSTs it as JSON (spec line 32) and returns the verified
// fields of an answer with platRespCode SUCCESS.
func (c *Client) call(ctx context.Context, op, endpoint, orderNo string, p Params) (Params, error) {
	start := c.now()
	if err := SignParams(c.key.priv, p, c.f.Sign); err != nil {
		return nil, fmt.Errorf("idpay %s: %w", op, err)
	}
	body, err := c.encodeRequest(p)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", op, err)
	}
	ans, err := c.exchange(ctx, op, endpoint, orderNo, body)
	attrs := []any{"op", op, "order_no", orderNo, "duration", c.now().Sub(start)}
	if err != nil {
		c.log.Warn("idpay call failed", append(attrs, "error", err)...)
		return nil, err
	}
	attrs = append(attrs, "status", ans[FieldStatus], "plat_order_no", ans[c.f.PlatOrderNo])
	if op == opQuery {
		c.log.Debug("idpay call", attrs...) // polled
	} else {
		c.log.Info("idpay call", attrs...)
	}
	return ans, nil
}

// encodeRequest writes p as a JSON object. The amount and expiryPeriod are
// JSON integers ("a positive integer", spec line 35; minutes, line 81);
// every other value is a string. The signature covers the same text.
func (c *Client) encodeRequest(p Params) ([]byte, error) {
	obj := make(map[string]any, len(p))
	for k, v := range p {
		if k == c.f.Amount || k == FieldExpiryPeriod {
			obj[k] = json.Number(v)
		} else {
			obj[k] = v
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// exchange posts body and classifies the answer.
func (c *Client) exchange(ctx context.Context, op, endpoint, orderNo string, body []byte) (Params, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w: %w", op, ErrNotSent, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8") // spec line 32
	req.Header.Set("Accept", "application/json")
	status, raw, err := outcomes.RoundTrip(c.hc, req, op)
	if err != nil {
		return nil, err
	}
	// Only a 2xx, or a 4xx carrying a signed answer, can be an answer; a
	// 4xx can only refuse. 408, 429 and every 5xx describe the moment, not
	// the order: no answer, whatever the body.
	switch {
	case status >= 200 && status <= 299:
		return c.decodeAnswer(op, orderNo, raw)
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests,
		status < 400 || status > 499, !c.looksLikeAnswer(raw):
		return nil, &HTTPError{Op: op, Status: status, Text: httpx.ErrorText(status, raw)}
	}
	ans, err := c.decodeAnswer(op, orderNo, raw)
	if err == nil {
		return nil, fmt.Errorf("idpay %s: %w: %s answer with HTTP status %d", op, ErrUnknownOutcome, RespSuccess, status)
	}
	return ans, err
}

// looksLikeAnswer reports whether a 4xx body is a gateway answer: a JSON
// object with platRespCode.
func (c *Client) looksLikeAnswer(raw []byte) bool {
	p, err := JSONParams(raw)
	return err == nil && p[FieldRespCode] != ""
}

// decodeAnswer verifies a response body and classifies platRespCode (spec
// line 100). It is the response parser the fuzz test drives.
func (c *Client) decodeAnswer(op, orderNo string, raw []byte) (Params, error) {
	p, err := JSONParams(raw)
	if err != nil {
		return nil, fmt.Errorf("idpay %s: %w: %w", op, ErrUnknownOutcome, err)
	}
	if err := VerifyParams(c.key.platform, p, c.f.Sign); err != nil {
		return nil, fmt.Errorf("idpay %s: verify response: %w: %w", op, ErrUnknownOutcome, err)
	}
	// A signed answer about another merchant or order says nothing about ours.
	if got := p[c.f.MerchantCode]; got != "" && got != c.merchant {
		return nil, fmt.Errorf("idpay %s: %w: answer for merchant %q, not this one", op, ErrUnknownOutcome, httpx.Scrub(got, maxIDLen))
	}
	if got := p[c.f.OrderNo]; got != "" && got != orderNo {
		return nil, fmt.Errorf("idpay %s: %w: answer for order %q, not %q", op, ErrUnknownOutcome, httpx.Scrub(got, maxIDLen), orderNo)
	}
	switch code := p[FieldRespCode]; code {
	case RespSuccess:
		return p, nil
	case RespFail:
		ge := &GatewayError{Op: op, Code: httpx.Scrub(p[c.f.ErrorCode], maxIDLen), Msg: httpx.Scrub(p[c.f.RespMessage], maxMsg), OrderNo: orderNo}
		ge.NotFound = op == opQuery && ge.Code != "" && slices.Contains(c.notFound, ge.Code)
		return nil, ge
	case RespUnknown:
		// "UNKNOWN-system is abnormal and needs to be inquired" (line 100);
		// "the order cannot be considered as a failure, and do not repeat
		// the initiation" (line 104).
		return nil, fmt.Errorf("idpay %s: %w: platRespCode UNKNOWN (%s): query the order, never create it again",
			op, ErrUnknownOutcome, httpx.Scrub(p[c.f.RespMessage], maxMsg))
	default:
		return nil, fmt.Errorf("idpay %s: %w: platRespCode %q is not one the document lists", op, ErrUnknownOutcome, httpx.Scrub(code, maxIDLen))
	}
}
