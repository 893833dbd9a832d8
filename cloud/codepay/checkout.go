package codepay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/posbridge/posbridge/internal/netutil"
	"github.com/posbridge/posbridge/money"
)

// MethodPayCheckout is CodePay Hosted Checkout
// (shared/specs/codepay-cloud-open-api.txt:130-181): the gateway keeps the
// order and answers with pay_url, the checkout page the customer pays on.
const MethodPayCheckout = "pay.checkout"

// MaxCheckoutExpires is the longest payment validity a hosted checkout may
// have: "Maximum expiration time is 7 days" (spec:150).
const MaxCheckoutExpires = 7 * 24 * time.Hour

// Field limits of pay.checkout (spec:145-158).
const (
	maxTermIP     = 32
	maxReturnURL  = 256
	maxCoordinate = 32 // longitude, latitude: no limit printed; posbridge's bound
	maxPayURL     = 4096
)

// CheckoutRequest is a CodePay Hosted Checkout (pay.checkout). Zero values
// of optional fields are omitted from the request.
type CheckoutRequest struct {
	// MerchantOrderNo is the order's number, unique per merchant: persist it
	// before the call; it is the key for QueryOrder and notifications.
	MerchantOrderNo string
	// Amount is order_amount; its currency is price_currency.
	Amount money.Amount
	// Description is required, ≤ 128 characters.
	Description string
	// Expires is how long the order may be paid (expires): required, whole
	// seconds from 1s to MaxCheckoutExpires.
	Expires time.Duration

	ReturnURL string // ≤ 256, absolute http(s); where the page sends the customer afterwards
	NotifyURL string // ≤ 256, absolute http(s) without query
	Attach    string // ≤ 128, echoed in queries and notifications
	TermIP    string // the terminal's IP address (term_ip)

	Longitude, Latitude string

	// OrderDetail and ExtParams are JSON objects sent as JSON text, as the
	// SDK declares them (String order_detail, ext_params in
	// PayCheckoutRequest.java; reference/codepay.md §4.3): compacted, and
	// signed as that text. nil omits them.
	OrderDetail, ExtParams json.RawMessage
}

// CheckoutResponse is a hosted-checkout order the gateway accepted.
type CheckoutResponse struct {
	// PayURL is the checkout page (pay_url): redirect the customer to it or
	// show it as a QR code. It is kept only when it is an absolute https URL
	// (or http on a loopback host, the emulator).
	PayURL string
	// ExpiresAt is the request's timestamp plus Expires: after it the order
	// can no longer be paid and is closed (spec:150).
	ExpiresAt time.Time
	PSN       string
}

// Checkout creates a hosted-checkout order (pay-by-link). Like CreateOrder
// it is sent exactly once: on an error wrapping ErrUnknownOutcome the caller
// reconciles with QueryOrder by MerchantOrderNo and sends the same request
// again only after a signed "not found". The result arrives by
// notification (ParseNotification) and by QueryOrder: trans_status 2 paid,
// 9 or 0 not yet, 1 failed or expired.
func (c *Client) Checkout(ctx context.Context, r CheckoutRequest) (*CheckoutResponse, error) {
	p, err := r.params()
	if err != nil {
		return nil, err
	}
	env, err := c.call(ctx, MethodPayCheckout, r.MerchantOrderNo, p)
	if err != nil {
		return nil, err
	}
	// A signed success: the order exists. Without a usable page the
	// customer cannot pay it; the caller reconciles (and may revoke it).
	payURL := checkoutPageURL(env.Data.str("pay_url"))
	if payURL == "" {
		return nil, fmt.Errorf("decode %s response: %w: pay_url missing or not an absolute https URL", MethodPayCheckout, ErrUnknownOutcome)
	}
	ms, err := strconv.ParseInt(p["timestamp"], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("read %s timestamp: %w", MethodPayCheckout, err)
	}
	return &CheckoutResponse{PayURL: payURL, ExpiresAt: time.UnixMilli(ms).Add(r.Expires), PSN: env.PSN}, nil
}

// params validates r and renders its business fields.
func (r CheckoutRequest) params() (Params, error) {
	if err := checkOrderNo("merchant_order_no", r.MerchantOrderNo, true); err != nil {
		return nil, err
	}
	amount, cur, err := formatAmount("order_amount", r.Amount, false)
	if err != nil {
		return nil, err
	}
	if err := checkText("description", r.Description, true, maxCreateDescription); err != nil {
		return nil, err
	}
	if r.Expires < time.Second || r.Expires > MaxCheckoutExpires || r.Expires%time.Second != 0 {
		return nil, &ValidationError{Field: "expires", Reason: fmt.Sprintf("%v must be whole seconds from 1s to %v", r.Expires, MaxCheckoutExpires)}
	}
	if err := checkText("attach", r.Attach, false, maxAttach); err != nil {
		return nil, err
	}
	if err := checkNotifyURL(r.NotifyURL); err != nil {
		return nil, err
	}
	if err := checkReturnURL(r.ReturnURL); err != nil {
		return nil, err
	}
	if r.TermIP != "" {
		if ip, err := netip.ParseAddr(r.TermIP); err != nil || len(r.TermIP) > maxTermIP || ip.Zone() != "" {
			return nil, &ValidationError{Field: "term_ip", Reason: fmt.Sprintf("%q is not an IP address of at most %d characters", r.TermIP, maxTermIP)}
		}
	}
	for _, g := range []struct{ field, v string }{{"longitude", r.Longitude}, {"latitude", r.Latitude}} {
		if err := checkCoordinate(g.field, g.v); err != nil {
			return nil, err
		}
	}
	p := Params{
		"merchant_order_no": r.MerchantOrderNo,
		"price_currency":    cur.Code,
		"order_amount":      amount,
		"description":       r.Description,
		"expires":           strconv.FormatInt(int64(r.Expires/time.Second), 10),
	}
	setIf(p, "attach", r.Attach)
	setIf(p, "notify_url", r.NotifyURL)
	setIf(p, "return_url", r.ReturnURL)
	setIf(p, "term_ip", r.TermIP)
	setIf(p, "longitude", r.Longitude)
	setIf(p, "latitude", r.Latitude)
	for _, j := range []struct {
		field string
		raw   json.RawMessage
	}{{"order_detail", r.OrderDetail}, {"ext_params", r.ExtParams}} {
		text, err := jsonObjectText(j.field, j.raw)
		if err != nil {
			return nil, err
		}
		setIf(p, j.field, text)
	}
	return p, nil
}

// checkReturnURL validates an optional return_url: absolute http(s), no
// user info or fragment, at most 256 characters. Unlike notify_url it may
// carry a query.
func checkReturnURL(v string) error {
	const field = "return_url"
	if v == "" {
		return nil
	}
	if err := checkText(field, v, false, maxReturnURL); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" || bytes.ContainsAny([]byte(v), " #") {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("%q is not an absolute http(s) URL without user info or fragment", v)}
	}
	return nil
}

// coordinatePattern is a signed decimal number.
var coordinatePattern = regexp.MustCompile(`^-?[0-9]{1,3}(\.[0-9]{1,12})?$`)

// checkCoordinate validates an optional longitude or latitude: a plain
// decimal number such as "-122.4194".
func checkCoordinate(field, v string) error {
	if v == "" {
		return nil
	}
	if len(v) > maxCoordinate || !coordinatePattern.MatchString(v) {
		return &ValidationError{Field: field, Reason: fmt.Sprintf("%q is not a decimal coordinate", v)}
	}
	return nil
}

// jsonObjectText returns raw (a JSON object) compacted, or "" for nil.
func jsonObjectText(field string, raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || !bytes.HasPrefix(buf.Bytes(), []byte("{")) {
		return "", &ValidationError{Field: field, Reason: "must be a JSON object"}
	}
	return buf.String(), nil
}

// checkoutPageURL returns pay_url when it is safe to hand to a customer: an
// absolute https URL without user info (http only on a loopback host);
// otherwise "".
func checkoutPageURL(raw string) string {
	if raw == "" || len(raw) > maxPayURL || !printable(raw) {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return ""
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && netutil.IsLoopbackHost(u.Hostname()):
	default:
		return ""
	}
	return raw
}
