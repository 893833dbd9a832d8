package codepay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
)

// NotificationAck is the body (with HTTP 200) that acknowledges a notification.
const NotificationAck = "success"

// maxNotificationBytes bounds a notification body.
const maxNotificationBytes = 64 << 10

// ErrBadNotification means a notification body could not be decoded or
// lacks the fields an order needs.
var ErrBadNotification = errors.New("malformed notification")

// ParseNotification verifies and decodes a result notification pushed to
// notify_url. The body may be JSON (values as strings, numbers or booleans)
// or application/x-www-form-urlencoded; the signature is checked with the
// gateway key over whatever top-level fields arrived, by the same canonical
// rule as requests. A "data" object, if any, may also verify in compact form
// or re-serialised as CodePay's Java SDK does (fastjson, HashMap order; see
// verifier.verify), and its members then describe the order.
//
// Notifications are always verified: without a gateway public key, or
// without a sign, the result is ErrBadSignature. Malformed bodies are
// ErrBadNotification; so are a missing or unreadable trans_status, an
// unreadable amount, price_currency or trans_type (amounts need
// price_currency), and a notification naming neither merchant_order_no nor
// trans_no. Unlike a response, a notification is a hint that is checked
// against the journal and confirmed by a query, so a malformed one is
// refused whole (checkOrderFields) rather than read in part.
func (c *Client) ParseNotification(body []byte, contentType string) (*Order, error) {
	if len(body) > maxNotificationBytes {
		return nil, fmt.Errorf("parse notification: %w: body larger than %d bytes", ErrBadNotification, maxNotificationBytes)
	}
	p, jsonBody, err := notificationParams(body, contentType)
	if err != nil {
		return nil, fmt.Errorf("parse notification: %w: %w", ErrBadNotification, err)
	}
	if c.gatewayKey == nil {
		return nil, fmt.Errorf("verify notification: %w: no gateway public key configured", ErrBadSignature)
	}
	v := &verifier{key: c.gatewayKey}
	variant, err := v.verify(p, jsonBody)
	if err != nil {
		return nil, fmt.Errorf("verify notification: %w", err)
	}
	f := fields(p)
	if f.str("trans_status", "merchant_order_no", "trans_no") == "" && p["data"] != "" {
		if f, err = objectFields(p["data"]); err != nil {
			return nil, fmt.Errorf("parse notification: %w: %w", ErrBadNotification, err)
		}
	}
	// A gateway-signed notification may still be about another app or
	// merchant (the gateway key is the same for everyone): bind it to ours.
	for _, src := range []fields{fields(p), f} {
		for _, id := range []struct{ key, want string }{{"app_id", c.appID}, {"merchant_no", c.merchantNo}, {"store_no", c.storeNo}} {
			if got := src.str(id.key); got != "" && id.want != "" && got != id.want {
				return nil, fmt.Errorf("parse notification: %w: %s %q is not this installation's", ErrBadNotification, id.key, oneLine(got))
			}
		}
	}
	if err := checkOrderFields(f, ""); err != nil {
		return nil, fmt.Errorf("parse notification: %w: %w", ErrBadNotification, err)
	}
	o, err := decodeOrderLog("notification", f, "", c.log)
	if err != nil {
		return nil, fmt.Errorf("parse notification: %w: %w", ErrBadNotification, err)
	}
	if o.MerchantOrderNo == "" && o.TransNo == "" {
		return nil, fmt.Errorf("parse notification: %w: neither merchant_order_no nor trans_no", ErrBadNotification)
	}
	c.log.Info("codepay notification", "merchant_order_no", o.MerchantOrderNo, "trans_status", int(o.TransStatus), "verified", variant)
	return o, nil
}

// notificationParams decodes a notification body into the signed strings;
// jsonBody is the body when it is JSON (nil for a form).
func notificationParams(body []byte, contentType string) (p Params, jsonBody []byte, err error) {
	mediaType := ""
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, nil, fmt.Errorf("content type %q: %w", contentType, err)
		}
		mediaType = mt
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case mediaType == "application/x-www-form-urlencoded",
		mediaType != "application/json" && len(trimmed) > 0 && trimmed[0] != '{':
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil, fmt.Errorf("decode form body: %w", err)
		}
		p = make(Params, len(values))
		for k, vs := range values {
			if len(vs) != 1 {
				return nil, nil, fmt.Errorf("form field %q appears %d times", k, len(vs))
			}
			if vs[0] != "" {
				p[k] = vs[0]
			}
		}
		return p, nil, nil
	default:
		if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
			return nil, nil, errors.New("body is not a JSON object")
		}
		p, err := ResponseParams(trimmed)
		if err != nil {
			return nil, nil, err
		}
		return p, trimmed, nil
	}
}
