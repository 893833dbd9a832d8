package codepay

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/shopspring/decimal"

	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/pan"
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

// Names of the form of the signed fields that verified, logged as
// "verified" for certification (docs/codepay.md, "Response signatures:
// the three variants").
const (
	// variantRaw: every member as received, data as its raw JSON bytes (or
	// the contents of a data string, which is also what the C# and PHP
	// demos sign: gateway-api-demo-csharp MainTest.cs reads the response
	// into Dictionary<string,string>, gateway-api-demo-php MainTest.php
	// json_decodes and ksorts).
	variantRaw = "raw"
	// variantCompact: data re-encoded without insignificant whitespace.
	variantCompact = "compact"
	// variantFastjson: every member as CodePay's Java SDK re-serialises it
	// with fastjson 1.2.74 (fastjson.go): objects in Java HashMap order.
	variantFastjson = "fastjson"
)

// verify checks p's sign over the canonical string of p in up to three
// forms, in this order: raw, compact (data re-encoded compactly), fastjson
// (every member as the Java SDK's SignHandler.verifySign sees it after
// JSONObject.parseObject, gateway-api-sdk-java OpenApiClient.java lines
// 143-148 and SignHandler.java lines 82-122). body is the JSON body p was
// decoded from; nil for a form body, where only members holding JSON
// objects or arrays are re-serialised. A form that gives the same string
// as an earlier one is not verified twice. It returns the variant that
// verified, or an error wrapping ErrBadSignature.
//
// Unlike the SDK (SignHandler.java lines 42-49, which returns true when
// sign is blank), a missing sign never verifies here; decodeEnvelope
// holds the policy for unsigned answers.
func (v *verifier) verify(p Params, body []byte) (string, error) {
	sig := p["sign"]
	if sig == "" {
		return "", fmt.Errorf("%w: no sign field", ErrBadSignature)
	}
	tried := make(map[string]bool, 3)
	try := func(q Params) bool {
		s := Canonical(q)
		if tried[s] {
			return false
		}
		tried[s] = true
		return VerifyString(v.key, s, sig) == nil
	}
	if try(p) {
		return variantRaw, nil
	}
	if data, ok := p["data"]; ok {
		if compact, differs := CompactJSON(data); differs && try(withValue(p, "data", compact)) {
			return variantCompact, nil
		}
	}
	if q, ok := fastjsonForm(p, body); ok && try(q) {
		return variantFastjson, nil
	}
	return "", ErrBadSignature
}

// withValue returns a copy of p with p[k] = val.
func withValue(p Params, k, val string) Params {
	q := make(Params, len(p))
	for key, v := range p {
		q[key] = v
	}
	q[k] = val
	return q
}

// fastjsonForm returns the members as the Java SDK would sign them: from
// the JSON body when there is one, else p with every JSON object or array
// value re-serialised. ok is false when fastjson's rendering is unknown
// (fastjson.go lists the cases).
func fastjsonForm(p Params, body []byte) (Params, bool) {
	if body != nil {
		q, err := fastjsonParams(body)
		return q, err == nil
	}
	q := make(Params, len(p))
	for k, v := range p {
		if t := strings.TrimSpace(v); t != "" && (t[0] == '{' || t[0] == '[') {
			if s, err := fastjsonString(t); err == nil {
				v = s
			}
		}
		q[k] = v
	}
	return q, true
}

// decodeEnvelope parses and (when v is non-nil) verifies a response body,
// reporting dropped optional fields to slog.Default(); the Client's calls
// go through (*Client).decodeResponse, which uses the Client's logger.
func decodeEnvelope(method string, body []byte, v *verifier) (*envelope, string, error) {
	return decodeEnvelopeLog(method, body, v, nil)
}

// decodeResponse is decodeEnvelope with the Client's key and logger.
func (c *Client) decodeResponse(method string, body []byte) (*envelope, string, error) {
	return decodeEnvelopeLog(method, body, c.verifyKey(), c.log)
}

// decodeEnvelopeLog parses and (when v is non-nil) verifies a response
// body. It returns the envelope of a trusted success, a *GatewayError for a
// trusted refusal, and otherwise an error wrapping ErrUnknownOutcome (bad
// signatures additionally wrap ErrBadSignature). The unsigned-response
// policy lives here: an unsigned refusal is "unknown", an unsigned success
// is a bad signature. (The Java SDK accepts an unsigned answer as genuine;
// posbridge never trusts one.)
//
// Only the code, the signature and data being an object can make a success
// unusable here. Optional members of data that do not parse (an amount
// that is not a number, an unknown price_currency, ...) are dropped and
// logged once per method and field at Warn to log (nil: slog.Default());
// see lenientData.
func decodeEnvelopeLog(method string, body []byte, v *verifier, log *slog.Logger) (*envelope, string, error) {
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
		variant, err = v.verify(p, body)
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
	if method != MethodBatchClose { // batch.go reads its answer leniently itself
		lenientData(method, env.Data, log)
	}
	return env, variant, nil
}

// Members of data read as amounts in price_currency (reference/codepay.md
// §3.2; OrderQueryResponse.java declares them Double) and as integers.
// trans_status is not here: it decides the outcome, so an unreadable one
// makes the answer unusable (decodeOrder).
var (
	amountFields  = []string{"order_amount", "trans_amount", "paid_amount", "tip_amount", "cashback_amount", "trans_fee_c", "vat_amount", "discount_bpc", "discount_bmopc"}
	integerFields = []string{"trans_type"}
)

// lenientData drops the optional members of a success's data that cannot
// be read, so that they can never make an answer the gateway signed
// "unknown": a price_currency that is not a known ISO 4217 code, an
// integer member that is not an integer, and an amount member that is not
// a decimal number (a JSON number or a string), has more decimals than
// price_currency allows, or, for a query (which has no other currency to
// fall back on), comes without a usable price_currency. Each drop is
// logged once per process per (method, field).
func lenientData(method string, f fields, log *slog.Logger) {
	var cur *money.Currency
	if code := f.str("price_currency"); code != "" {
		if c, err := money.LookupCurrency(strings.ToUpper(code)); err == nil {
			cur = &c
		} else {
			delete(f, "price_currency")
			warnField(log, method, "price_currency", "not a known currency code")
		}
	}
	noFallback := method == MethodOrderQuery || method == MethodRefundQuery
	for _, k := range amountFields {
		v, ok := f[k]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var reason string
		switch {
		case v == "":
			delete(f, k)
			continue
		case cur != nil:
			if _, err := money.ParseLenient(v, *cur); err != nil {
				reason = "not an amount in " + cur.Code
			}
		default:
			if _, err := decimal.NewFromString(v); err != nil || len(v) > maxAmountText {
				reason = "not a decimal amount"
			} else if noFallback {
				reason = "amount without a known price_currency"
			}
		}
		if reason != "" {
			delete(f, k)
			warnField(log, method, k, reason)
		}
	}
	for _, k := range integerFields {
		if _, ok := f[k]; !ok {
			continue
		}
		if _, err := f.integer(k); err != nil {
			delete(f, k)
			warnField(log, method, k, "not an integer")
		}
	}
}

// maxAmountText bounds an amount's text (decimal.NewFromString of a huge
// exponent is cheap, of a million digits is not).
const maxAmountText = 64

// warnedFields holds the (method, field) pairs already warned about.
var warnedFields sync.Map

// warnField logs, once per process per method and field, that an optional
// field was dropped. Values are not logged.
func warnField(log *slog.Logger, method, field, reason string) {
	if _, seen := warnedFields.LoadOrStore(method+"\x00"+field, true); seen {
		return
	}
	if log == nil {
		log = slog.Default().With("component", "codepay")
	}
	log.Warn("codepay answer has an unreadable optional field; it is ignored (logged once per method and field)",
		"method", method, "field", field, "reason", reason)
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
// notification. Amounts are minor units of Currency; nil when absent or
// unreadable. The members follow the SDK's OrderQueryResponse.java
// (gateway-api-sdk-java src/main/java/com/codepay/openapi/response/) and
// the spec's order.query sample; of the SDK's members, pay_user_account_id
// (the payer's wallet account), billing_address, shipping_address,
// electron_sign_url and trans_amount_cny are not kept.
type Order struct {
	TransNo         string
	MerchantOrderNo string
	TransType       TransType
	TransStatus     TransStatus
	Currency        string

	OrderAmount, TransAmount, PaidAmount, TipAmount, CashbackAmount *int64

	// TransFee (trans_fee_c), VATAmount (vat_amount), DiscountBPC
	// (discount_bpc) and DiscountBMOPC (discount_bmopc) are further amounts
	// in Currency the SDK and the spec sample carry.
	TransFee, VATAmount, DiscountBPC, DiscountBMOPC *int64

	PayScenario, PayMethodID, PayChannelTransNo, PayPlatformTransNo, TransEndTime string

	// StoreNo, TerminalSN, AppVersion, ExchangeRate (as received) and the
	// settlement amount (minor units of SettlementCurrency) when sent.
	StoreNo, TerminalSN, AppVersion, ExchangeRate string
	SettlementCurrency                            string
	SettlementTransAmount                         *int64

	// Optional extras when the gateway sends them (in neither the SDK nor
	// the spec sample): auth_no|auth_code, card_no (always masked here),
	// entry_mode. RefNo is ref_no (SDK) or rrn.
	AuthCode, RefNo, CardNo, EntryMode string

	TransErrorCode, TransErrorMsg, Attach string

	PSN string // gateway serial number of the response (empty for notifications)
}

// decodeOrder builds an Order from query or notification fields, reporting
// dropped fields to slog.Default(); see decodeOrderLog.
func decodeOrder(f fields, fallbackCurrency string) (*Order, error) {
	return decodeOrderLog("", f, fallbackCurrency, nil)
}

// decodeOrderLog builds an Order from query or notification fields.
// Amounts are parsed leniently (JSON numbers or strings) with
// price_currency, or fallbackCurrency. Only trans_status decides: a missing
// or unreadable one is an error. Every other member is optional, and one
// that cannot be read (an unknown price_currency, an amount that is not a
// number or has too many decimals or no currency, a trans_type that is not
// an integer) is left out and logged once per (method, field) at Warn.
func decodeOrderLog(method string, f fields, fallbackCurrency string, log *slog.Logger) (*Order, error) {
	status, err := f.integer("trans_status")
	if err != nil {
		return nil, err
	}
	if status == nil {
		return nil, errors.New("field trans_status: missing")
	}
	cur, code, err := f.currency(fallbackCurrency)
	if err != nil {
		warnField(log, method, "price_currency", "not a known currency code")
		cur, code, _ = fields{}.currency(fallbackCurrency)
	}
	o := &Order{
		TransNo:            f.str("trans_no"),
		MerchantOrderNo:    f.str("merchant_order_no"),
		TransStatus:        TransStatus(*status),
		Currency:           code,
		PayScenario:        f.str("pay_scenario"),
		PayMethodID:        f.str("pay_method_id"),
		PayChannelTransNo:  f.str("pay_channel_trans_no"),
		PayPlatformTransNo: f.str("pay_platform_trans_no"),
		TransEndTime:       f.str("trans_end_time"),
		StoreNo:            f.str("store_no"),
		TerminalSN:         f.str("terminal_sn"),
		AppVersion:         f.str("app_version"),
		ExchangeRate:       f.str("exchange_rate"),
		AuthCode:           f.str("auth_no", "auth_code"),
		RefNo:              f.str("ref_no", "rrn"),
		CardNo:             MaskCardNo(f.str("card_no")),
		EntryMode:          f.str("entry_mode"),
		TransErrorCode:     f.str("trans_error_code"),
		TransErrorMsg:      f.str("trans_error_msg"),
		Attach:             f["attach"],
	}
	if tt, err := f.integer("trans_type"); err != nil {
		warnField(log, method, "trans_type", "not an integer")
	} else if tt != nil {
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
		{"trans_fee_c", &o.TransFee},
		{"vat_amount", &o.VATAmount},
		{"discount_bpc", &o.DiscountBPC},
		{"discount_bmopc", &o.DiscountBMOPC},
	} {
		n, err := f.amount(a.key, cur)
		if err != nil {
			warnField(log, method, a.key, "not an amount in the order's currency")
			continue
		}
		*a.dst = n
	}
	// The settlement amount is in its own currency, read only when that is known.
	if sc := f.str("settlement_currency"); sc != "" {
		if c, err := money.LookupCurrency(strings.ToUpper(sc)); err != nil {
			warnField(log, method, "settlement_currency", "not a known currency code")
		} else {
			o.SettlementCurrency = c.Code
			if n, err := f.amount("settlement_trans_amount", &c); err != nil {
				warnField(log, method, "settlement_trans_amount", "not an amount in the settlement currency")
			} else {
				o.SettlementTransAmount = n
			}
		}
	}
	return o, nil
}

// checkOrderFields returns an error naming the first member of f that
// decodeOrderLog would drop as unreadable (price_currency, an amount, or
// trans_type). Notifications use it: a notification is only a hint that is
// checked against the journal and confirmed by a query, and one that
// cannot be read whole is refused (so the sender sees it) rather than
// half-read.
func checkOrderFields(f fields, fallbackCurrency string) error {
	cur, _, err := f.currency(fallbackCurrency)
	if err != nil {
		return err
	}
	if _, err := f.integer("trans_type"); err != nil {
		return err
	}
	for _, k := range amountFields {
		if _, err := f.amount(k, cur); err != nil {
			return err
		}
	}
	return nil
}

// MaskCardNo returns a card number safe to log and store: a value that
// already contains a mask character is kept; a bare number of 12–19 digits
// is masked by pan.Mask (first six and last four digits from 13 digits, no
// digit of a 12-digit number); anything else keeps only its last four
// characters.
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
	if pan.AllDigits(digits) && len(digits) >= 12 && len(digits) <= pan.MaxLen {
		return pan.Mask(digits)
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
