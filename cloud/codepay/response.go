package codepay

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/posbridge/posbridge/internal/money"
)

// envelope is a decoded, trusted response: {code, msg, psn, sign, data}.
type envelope struct {
	Code string
	Msg  string
	PSN  string
	Data fields // members of data as strings; empty when data is absent
}

// verifier checks response and notification signatures with the gateway key.
type verifier struct {
	key *rsa.PublicKey
}

// Names of the data form that verified, for certification logs.
const (
	variantRaw     = "raw"
	variantCompact = "compact"
)

// verify checks p's sign over the canonical string, first with data as
// received, then (if different) with data re-encoded compactly. It returns
// the variant that verified, or an error wrapping ErrBadSignature.
func (v *verifier) verify(p Params) (string, error) {
	sig := p["sign"]
	if sig == "" {
		return "", fmt.Errorf("%w: no sign field", ErrBadSignature)
	}
	if VerifyString(v.key, Canonical(p), sig) == nil {
		return variantRaw, nil
	}
	if data, ok := p["data"]; ok {
		if compact, differs := CompactJSON(data); differs {
			q := make(Params, len(p))
			for k, val := range p {
				q[k] = val
			}
			q["data"] = compact
			if VerifyString(v.key, Canonical(q), sig) == nil {
				return variantCompact, nil
			}
		}
	}
	return "", ErrBadSignature
}

// decodeEnvelope parses and (when v is non-nil) verifies a response body.
// It returns the envelope of a trusted success, a *GatewayError for a
// trusted refusal, and otherwise an error wrapping ErrUnknownOutcome (bad
// signatures additionally wrap ErrBadSignature). The unsigned-response
// policy lives here: an unsigned refusal is "unknown", an unsigned success
// is a bad signature.
func decodeEnvelope(method string, body []byte, v *verifier) (*envelope, string, error) {
	if !json.Valid(body) {
		return nil, "", fmt.Errorf("decode %s response: %w: body is not valid JSON", method, ErrUnknownOutcome)
	}
	p, err := ResponseParams(body)
	if err != nil {
		return nil, "", fmt.Errorf("decode %s response: %w: %w", method, ErrUnknownOutcome, err)
	}
	code, ok := p["code"]
	if !ok {
		return nil, "", fmt.Errorf("decode %s response: %w: no code in envelope", method, ErrUnknownOutcome)
	}
	msg := oneLine(p["msg"])
	variant := ""
	if v != nil {
		if p["sign"] == "" {
			if code != "0" {
				return nil, "", fmt.Errorf("decode %s response: %w: unsigned error response code %s: %s (psn %s)",
					method, ErrUnknownOutcome, oneLine(code), msg, oneLine(p["psn"]))
			}
			return nil, "", fmt.Errorf("verify %s response: %w: %w: success response is unsigned", method, ErrBadSignature, ErrUnknownOutcome)
		}
		variant, err = v.verify(p)
		if err != nil {
			return nil, "", fmt.Errorf("verify %s response: %w: %w", method, err, ErrUnknownOutcome)
		}
	}
	env := &envelope{Code: code, Msg: msg, PSN: oneLine(p["psn"])}
	if code != "0" {
		return env, variant, &GatewayError{Method: method, Code: oneLine(code), Msg: msg, PSN: env.PSN}
	}
	env.Data, err = objectFields(p["data"])
	if err != nil {
		return nil, variant, fmt.Errorf("decode %s response data: %w: %w", method, ErrUnknownOutcome, err)
	}
	return env, variant, nil
}

// fields are the members of a JSON object as strings: strings as their
// contents, numbers and booleans as their JSON text, objects and arrays as
// raw JSON, null as absent.
type fields map[string]string

// errNotObject means a data member is not a JSON object.
var errNotObject = errors.New("data is not a JSON object")

// objectFields decodes a JSON object ("" is an empty object).
func objectFields(s string) (fields, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return fields{}, nil
	}
	if !strings.HasPrefix(s, "{") {
		return nil, errNotObject
	}
	p, err := ResponseParams([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotObject, err)
	}
	return fields(p), nil
}

// str returns the first non-empty value among keys.
func (f fields) str(keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(f[k]); v != "" {
			return v
		}
	}
	return ""
}

// integer decodes an integer member given as a JSON number or string
// ("2", 2, "2.0"); nil when absent.
func (f fields) integer(key string) (*int64, error) {
	v := strings.TrimSpace(f[key])
	if v == "" {
		return nil, nil
	}
	n, err := money.ParseLenient(v, money.Currency{Code: "integer", Exponent: 0})
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", key, err)
	}
	return &n, nil
}

// amount decodes a major-unit amount into minor units of cur; nil when absent.
func (f fields) amount(key string, cur *money.Currency) (*int64, error) {
	v := strings.TrimSpace(f[key])
	if v == "" {
		return nil, nil
	}
	if cur == nil {
		return nil, fmt.Errorf("field %s: amount without a known price_currency", key)
	}
	n, err := money.ParseLenient(v, *cur)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", key, err)
	}
	return &n, nil
}

// currency returns the currency for amounts: the response's price_currency,
// else fallback. nil (no error) when neither is set.
func (f fields) currency(fallback string) (*money.Currency, string, error) {
	code := f.str("price_currency")
	if code == "" {
		code = fallback
	}
	if code == "" {
		return nil, "", nil
	}
	cur, err := money.LookupCurrency(strings.ToUpper(code))
	if err != nil {
		return nil, code, fmt.Errorf("field price_currency: %w", err)
	}
	return &cur, cur.Code, nil
}

// Order is an order or refund as returned by Query Order, Query Refund or a
// notification. Amounts are minor units of Currency; nil when absent.
type Order struct {
	TransNo         string
	MerchantOrderNo string
	TransType       TransType
	TransStatus     TransStatus
	Currency        string

	OrderAmount, TransAmount, PaidAmount, TipAmount, CashbackAmount *int64

	PayScenario, PayMethodID, PayChannelTransNo, PayPlatformTransNo, TransEndTime string

	// Optional extras when the gateway sends them: auth_no|auth_code,
	// ref_no|rrn, card_no (always masked here), entry_mode.
	AuthCode, RefNo, CardNo, EntryMode string

	TransErrorCode, TransErrorMsg, Attach string

	PSN string // gateway serial number of the response (empty for notifications)
}

// decodeOrder builds an Order from query or notification fields. Amounts
// are parsed leniently with price_currency (or fallbackCurrency); a missing
// trans_status or an unparseable number is an error.
func decodeOrder(f fields, fallbackCurrency string) (*Order, error) {
	cur, code, err := f.currency(fallbackCurrency)
	if err != nil {
		return nil, err
	}
	o := &Order{
		TransNo:            f.str("trans_no"),
		MerchantOrderNo:    f.str("merchant_order_no"),
		Currency:           code,
		PayScenario:        f.str("pay_scenario"),
		PayMethodID:        f.str("pay_method_id"),
		PayChannelTransNo:  f.str("pay_channel_trans_no"),
		PayPlatformTransNo: f.str("pay_platform_trans_no"),
		TransEndTime:       f.str("trans_end_time"),
		AuthCode:           f.str("auth_no", "auth_code"),
		RefNo:              f.str("ref_no", "rrn"),
		CardNo:             MaskCardNo(f.str("card_no")),
		EntryMode:          f.str("entry_mode"),
		TransErrorCode:     f.str("trans_error_code"),
		TransErrorMsg:      f.str("trans_error_msg"),
		Attach:             f["attach"],
	}
	status, err := f.integer("trans_status")
	if err != nil {
		return nil, err
	}
	if status == nil {
		return nil, errors.New("field trans_status: missing")
	}
	o.TransStatus = TransStatus(*status)
	tt, err := f.integer("trans_type")
	if err != nil {
		return nil, err
	}
	if tt != nil {
		o.TransType = TransType(*tt)
	}
	for _, a := range []struct {
		key string
		dst **int64
	}{
		{"order_amount", &o.OrderAmount},
		{"trans_amount", &o.TransAmount},
		{"paid_amount", &o.PaidAmount},
		{"tip_amount", &o.TipAmount},
		{"cashback_amount", &o.CashbackAmount},
	} {
		if *a.dst, err = f.amount(a.key, cur); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// MaskCardNo returns a card number safe to log and store: a value that
// already contains a mask character is kept; a bare number of 12–19 digits
// keeps its first six and last four digits; anything else keeps only its
// last four characters.
func MaskCardNo(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "*Xx•") {
		return s
	}
	digits := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
	allDigits := digits != "" && strings.Trim(digits, "0123456789") == ""
	if allDigits && len(digits) >= 12 && len(digits) <= 19 {
		return digits[:6] + strings.Repeat("*", len(digits)-10) + digits[len(digits)-4:]
	}
	r := []rune(s)
	if len(r) <= 4 {
		return s
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}

// oneLine strips control characters from gateway text used in errors and logs.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
