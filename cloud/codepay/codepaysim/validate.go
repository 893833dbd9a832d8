package codepaysim

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
)

// Response codes of the emulator. "0" is success; the others are the
// emulator's documented refusals (the real gateway's list is not public, see
// docs/codepay-sim.md).
const (
	CodeOK                 = "0"
	CodeInvalidParameter   = "40001" // missing, malformed or too long parameter; bad body
	CodeBadSignature       = "40002" // RSA2 signature missing or invalid
	CodeTimestamp          = "40003" // timestamp not 13 digits or outside ±15 minutes
	CodeDuplicateOrder     = "40004" // merchant_order_no already used
	CodeOrderNotFound      = "40005" // order (or original order) not found
	CodeUnknownTerminal    = "40006" // terminal_sn not bound to the merchant
	CodeNotClosable        = "40007" // close of an order not in status 9
	CodeVoidNotAllowed     = "40008" // void refused (batch closed: refund instead, ...)
	CodeRefundExceeds      = "40009" // refunds would exceed the original amount
	CodeAuthFailed         = "40010" // app_id / merchant / store / Basic auth mismatch
	CodeMethodNotSupported = "40011" // unknown or unsupported method
	CodeNotAllowed         = "40012" // operation not allowed in the order's state
	CodeTerminalOffline    = "40013" // reject_trade_when_terminal_offline and terminal offline
)

// apiError is a refusal: a response with code ≠ "0".
type apiError struct {
	code string
	msg  string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func refuse(code, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

type fieldKind int

const (
	kText fieldKind = iota
	kOrderNo
	kAmount
	kInt
	kBool
	kURL
	kPageURL    // absolute http(s) URL; a query is allowed (return_url)
	kJSONObject // a JSON object sent as text (order_detail, ext_params)
)

type field struct {
	name     string
	required bool
	max      int // characters; 0 = no limit
	kind     fieldKind
}

func req(name string, max int, k fieldKind) field { return field{name, true, max, k} }
func opt(name string, max int, k fieldKind) field { return field{name, false, max, k} }

// commonFields are validated for every method (spec tables). sign has no
// length check: the spec's 128 is too short for a 2048-bit signature.
var commonFields = []field{
	req("app_id", 32, kText), req("format", 4, kText), req("charset", 8, kText),
	req("sign_type", 8, kText), req("version", 16, kText), req("timestamp", 0, kText),
	req("method", 32, kText), req("merchant_no", 32, kText), opt("store_no", 32, kText),
}

// methodFields are the business fields of each supported method, from the
// spec's request tables.
var methodFields = map[string][]field{
	codepay.MethodPayOrder: {
		req("terminal_sn", 32, kText), req("message_receiving_application", 32, kText),
		opt("pay_scenario", 32, kText), opt("pay_method_id", 32, kText), opt("card_type", 0, kInt),
		req("price_currency", 8, kText), req("order_amount", 0, kAmount), opt("tip_amount", 0, kAmount),
		opt("on_screen_tip", 0, kBool), opt("cashback_amount", 0, kAmount), req("trans_type", 0, kInt),
		req("merchant_order_no", 32, kOrderNo), opt("orig_merchant_order_no", 32, kOrderNo),
		req("description", 128, kText), opt("attach", 128, kText), opt("notify_url", 256, kURL),
		req("expires", 0, kInt), opt("order_queue_mode", 8, kText),
		opt("reject_trade_when_terminal_offline", 0, kBool), opt("required_terminal_authentication", 0, kBool),
		opt("on_screen_signature", 0, kBool), opt("receipt_print_mode", 0, kInt),
		opt("confirm_on_terminal", 0, kBool), req("api_version", 8, kText),
	},
	codepay.MethodPayClose: {
		req("terminal_sn", 32, kText), req("merchant_order_no", 32, kOrderNo),
		opt("description", 128, kText), req("message_receiving_application", 32, kText),
	},
	codepay.MethodOrderQuery: {
		opt("merchant_order_no", 32, kOrderNo), opt("trans_no", 32, kText),
	},
	codepay.MethodRefundQuery: {
		opt("merchant_order_no", 32, kOrderNo), opt("trans_no", 32, kText),
	},
	codepay.MethodOrderRevoker: {
		req("merchant_order_no", 32, kOrderNo),
	},
	codepay.MethodRefundSubmit: {
		opt("orig_merchant_order_no", 32, kOrderNo), opt("orig_trans_no", 32, kText),
		req("merchant_order_no", 32, kOrderNo), req("price_currency", 8, kText),
		req("order_amount", 0, kAmount), req("description", 64, kText), opt("notify_url", 256, kURL),
	},
	codepay.MethodBatchClose: {
		req("terminal_sn", 32, kText),
	},
	codepay.MethodTipAdjustment: {
		req("merchant_order_no", 32, kOrderNo), req("tip_adjustment_amount", 0, kAmount),
	},
	// pay.checkout, spec:130-181 (its table does not print the name of
	// order_detail; PayCheckoutRequest.java and the sample at spec:163 do).
	codepay.MethodPayCheckout: {
		req("merchant_order_no", 32, kOrderNo), req("price_currency", 8, kText), req("order_amount", 0, kAmount),
		req("expires", 0, kInt), req("description", 128, kText), opt("term_ip", 32, kText),
		opt("longitude", 0, kText), opt("latitude", 0, kText), opt("return_url", 256, kPageURL),
		opt("notify_url", 256, kURL), opt("attach", 128, kText),
		opt("order_detail", 0, kJSONObject), opt("ext_params", 0, kJSONObject),
	},
}

var (
	orderNoPattern = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,32}$`)
	amountPattern  = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	intPattern     = regexp.MustCompile(`^-?[0-9]{1,18}$`)
	tsPattern      = regexp.MustCompile(`^[0-9]{13}$`)
)

// checkFields validates presence, length and syntax of fs in p.
func checkFields(p codepay.Params, fs []field) *apiError {
	for _, f := range fs {
		v, ok := p[f.name]
		if !ok || v == "" {
			if f.required {
				return refuse(CodeInvalidParameter, "missing required parameter: %s", f.name)
			}
			continue
		}
		if f.max > 0 && utf8.RuneCountInString(v) > f.max {
			return refuse(CodeInvalidParameter, "invalid parameter: %s exceeds %d characters", f.name, f.max)
		}
		switch f.kind {
		case kOrderNo:
			if !orderNoPattern.MatchString(v) {
				return refuse(CodeInvalidParameter, "invalid parameter: %s may contain only digits, letters and _-|*@", f.name)
			}
		case kAmount:
			if !amountPattern.MatchString(v) {
				return refuse(CodeInvalidParameter, "invalid parameter: %s must be a plain decimal amount", f.name)
			}
		case kInt:
			if !intPattern.MatchString(v) {
				return refuse(CodeInvalidParameter, "invalid parameter: %s must be an integer", f.name)
			}
		case kBool:
			if v != "true" && v != "false" {
				return refuse(CodeInvalidParameter, "invalid parameter: %s must be true or false", f.name)
			}
		case kURL:
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				return refuse(CodeInvalidParameter, "invalid parameter: %s must be an absolute http(s) URL without query", f.name)
			}
		case kPageURL:
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
				return refuse(CodeInvalidParameter, "invalid parameter: %s must be an absolute http(s) URL", f.name)
			}
		case kJSONObject:
			var obj map[string]any
			if json.Unmarshal([]byte(v), &obj) != nil || obj == nil {
				return refuse(CodeInvalidParameter, "invalid parameter: %s must be a JSON object sent as a string", f.name)
			}
		}
	}
	return nil
}

// authenticate checks app_id, the RSA2 signature or Basic auth, the common
// fields, the timestamp window and the merchant/store binding.
func (s *Sim) authenticate(r *http.Request, p codepay.Params, now time.Time) *apiError {
	if p["app_id"] == "" {
		return refuse(CodeInvalidParameter, "missing required parameter: app_id")
	}
	if p["app_id"] != s.cfg.AppID {
		return refuse(CodeAuthFailed, "authentication failed: unknown app_id")
	}
	switch p["sign_type"] {
	case codepay.SignTypeRSA2:
		if s.cfg.AppPublicKey == nil {
			return refuse(CodeAuthFailed, "authentication failed: no RSA public key uploaded for this app")
		}
		if p["sign"] == "" {
			return refuse(CodeBadSignature, "signature invalid: missing sign")
		}
		if err := codepay.Verify(s.cfg.AppPublicKey, p); err != nil {
			return refuse(CodeBadSignature, "signature invalid: sign does not verify with the app public key")
		}
	case codepay.SignTypeNone:
		ba := s.cfg.BasicAuth
		if ba == nil {
			return refuse(CodeAuthFailed, "authentication failed: sign_type NONE (Basic auth) is not enabled for this app")
		}
		u, pw, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(ba.Username)) != 1 ||
			subtle.ConstantTimeCompare([]byte(pw), []byte(ba.Password)) != 1 {
			return refuse(CodeAuthFailed, "authentication failed: Basic auth credentials missing or wrong")
		}
	case "":
		return refuse(CodeInvalidParameter, "missing required parameter: sign_type")
	default:
		return refuse(CodeInvalidParameter, "invalid parameter: sign_type must be RSA2 or NONE")
	}
	if e := checkFields(p, commonFields); e != nil {
		return e
	}
	if p["format"] != codepay.FormatJSON {
		return refuse(CodeInvalidParameter, "invalid parameter: format must be JSON")
	}
	if !equalFoldASCII(p["charset"], codepay.CharsetUTF8) {
		return refuse(CodeInvalidParameter, "invalid parameter: charset must be UTF-8")
	}
	if p["version"] != codepay.Version {
		return refuse(CodeInvalidParameter, "invalid parameter: version must be 1.0")
	}
	ts := p["timestamp"]
	if !tsPattern.MatchString(ts) {
		return refuse(CodeTimestamp, "invalid timestamp: must be 13-digit epoch milliseconds")
	}
	ms, _ := strconv.ParseInt(ts, 10, 64)
	skew := now.Sub(time.UnixMilli(ms))
	window := codepay.TimestampWindowMinutes * time.Minute
	if skew > window || skew < -window {
		return refuse(CodeTimestamp, "timestamp out of window: %s from server time, allowed ±15m", skew.Round(time.Second))
	}
	if p["merchant_no"] != s.cfg.MerchantNo {
		return refuse(CodeAuthFailed, "authentication failed: merchant_no does not belong to this app")
	}
	if sn, ok := p["store_no"]; ok && sn != "" && sn != s.cfg.StoreNo {
		return refuse(CodeAuthFailed, "authentication failed: store_no does not belong to this merchant")
	}
	return nil
}

// parseAmount converts a validated amount field with the currency's decimals.
func parseAmount(p codepay.Params, name string, cur money.Currency) (int64, bool, *apiError) {
	v, ok := p[name]
	if !ok || v == "" {
		return 0, false, nil
	}
	minor, err := money.Parse(v, cur)
	if err != nil {
		return 0, false, refuse(CodeInvalidParameter, "invalid parameter: %s: %v", name, err)
	}
	return minor, true, nil
}

func parseCurrency(p codepay.Params) (money.Currency, *apiError) {
	cur, err := money.LookupCurrency(p["price_currency"])
	if err != nil {
		return money.Currency{}, refuse(CodeInvalidParameter, "invalid parameter: price_currency %q is not a supported ISO 4217 code", p["price_currency"])
	}
	return cur, nil
}
