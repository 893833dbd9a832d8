// Package idpay is posbridge's client for the Indonesian VA/QRIS payment
// gateway described in /work/shared/specs/id-va-qris-gateway.txt (the
// document does not name the gateway; "spec line N" below cites it). It
// creates payment orders for every method the document lists — bank
// virtual accounts, QRIS, Alfamart and the DANA and OVO wallets — queries
// them, and verifies the form-encoded callbacks the gateway sends after a
// payment. Every request is RSA-signed with the merchant key and every
// response and callback is verified with the platform key (spec line 36).
//
// Amounts are integer rupiah on the wire (spec lines 35, 60); a fraction
// of a rupiah is refused before anything is sent. The platform has no
// refund or cancel operation ("Currently, the platform does not support
// refund operations", spec line 71), so this package has none.
//
// The outcome rule of docs/reliability.md applies: the agent journals its
// intent before CreatePayment; any error wrapping ErrUnknownOutcome —
// platRespCode UNKNOWN included — is reconciled with QueryPayment and the
// order is never created again (spec line 104).
//
// Where the document leaves endpoints and field names open, Config.Paths
// and Config.Fields carry them, with the defaults documented in
// docs/providers.md and shared by the emulator (idpaysim).
package idpay

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
	"github.com/posbridge/posbridge/internal/logging"
	"github.com/posbridge/posbridge/internal/netutil"
)

// DefaultHTTPTimeout is the whole-request timeout of the HTTP client New
// builds when Config.HTTPClient is nil.
const DefaultHTTPTimeout = 15 * time.Second

// DefaultExpiryGrace is how long past an order's expiry a query still
// reports it pending rather than expired.
const DefaultExpiryGrace = 15 * time.Minute

// maxIDLen bounds the merchant code and order numbers (the document gives
// no limit; 32 is what gateways of this family accept).
const maxIDLen = 32

// Paths are the endpoint paths under the base URL. The document says
// requests are POSTed as JSON (spec line 32) but names no endpoint.
type Paths struct {
	Create string // default "/api/payment/create"
	Query  string // default "/api/payment/query"
}

// DefaultPaths are the paths used when Config.Paths leaves one empty.
var DefaultPaths = Paths{Create: "/api/payment/create", Query: "/api/payment/query"}

// Fields are the wire names the document leaves open. The names it does
// give are fixed: name, email, phone (spec lines 78-80), expiryPeriod
// (line 81), platRespCode (line 100) and status (line 101).
type Fields struct {
	MerchantCode string // the merchant's account code; default "merchantCode"
	OrderNo      string // the merchant's order number; default "orderNum"
	Method       string // the payment method code (lines 43-56); default "method"
	Amount       string // integer rupiah (line 35); default "payMoney"
	NotifyURL    string // the callback URL; default "notifyUrl"
	Sign         string // the RSA signature (line 36); default "sign"
	RespMessage  string // the text next to platRespCode; default "platRespMessage"
	ErrorCode    string // the exception code (line 13); default "errorCode"
	PlatOrderNo  string // the gateway's order number; default "platOrderNum"
	VANumber     string // the virtual account number; default "vaNumber"
	QRContent    string // the QRIS payload; default "qrContent"
	PaymentCode  string // the retail payment code; default "paymentCode"
	PayURL       string // the e-wallet redirect URL; default "payUrl"
}

// DefaultFields are the names used when Config.Fields leaves one empty.
var DefaultFields = Fields{
	MerchantCode: "merchantCode", OrderNo: "orderNum", Method: "method", Amount: "payMoney",
	NotifyURL: "notifyUrl", Sign: "sign", RespMessage: "platRespMessage", ErrorCode: "errorCode",
	PlatOrderNo: "platOrderNum", VANumber: "vaNumber", QRContent: "qrContent",
	PaymentCode: "paymentCode", PayURL: "payUrl",
}

// The wire names the document gives.
const (
	FieldName         = "name"         // spec line 78
	FieldEmail        = "email"        // spec line 79
	FieldPhone        = "phone"        // spec lines 79-80
	FieldExpiryPeriod = "expiryPeriod" // spec line 81
	FieldRespCode     = "platRespCode" // spec line 100
	FieldStatus       = "status"       // spec line 101
)

// platRespCode values (spec line 100).
const (
	RespSuccess = "SUCCESS" // acceptance is successful
	RespUnknown = "UNKNOWN" // system is abnormal and needs to be inquired
	RespFail    = "FAIL"    // acceptance failed
)

// DefaultOrderNotFoundCodes are the error codes that, on a signed FAIL of a
// query, mean "no such order". The document's exception code list (line
// 13) is not part of it: this is the emulator's code; confirm the real one
// in the sandbox and configure it.
var DefaultOrderNotFoundCodes = []string{"ORDER_NOT_FOUND"}

// Config configures a Client. BaseURL, MerchantCode, PrivateKeyFile and
// PlatformPublicKeyFile are required.
type Config struct {
	// BaseURL is the gateway base (the document gives none). It must be
	// https unless the host is loopback or AllowInsecureHTTP is set
	// (netutil.ParseGatewayURL).
	BaseURL           string
	AllowInsecureHTTP bool
	// MerchantCode is the merchant account code (spec lines 21-22).
	MerchantCode string
	// PrivateKeyFile is the merchant private key that signs requests
	// (PKCS#8 or PKCS#1, PEM or Base64 DER; not readable by group or
	// others). PlatformPublicKeyFile is the platform key that verifies
	// responses and callbacks. The test and formal environments have
	// different keys (spec line 26).
	PrivateKeyFile, PlatformPublicKeyFile string
	// NotifyURL is sent with every create when set: where the gateway posts
	// its callbacks (spec line 112).
	NotifyURL string

	Paths  Paths  // empty members take DefaultPaths
	Fields Fields // empty members take DefaultFields
	// OrderNotFoundCodes are the error codes of a signed query refusal that
	// mean "no such order"; nil means DefaultOrderNotFoundCodes.
	OrderNotFoundCodes []string
	// ExpiryGrace: see StateExpired; 0 means DefaultExpiryGrace.
	ExpiryGrace time.Duration

	// HTTPClient sends the requests; nil means a client with a 15 s
	// timeout. Redirects are never followed (a copy is used).
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one record per call; nil means slog.Default(). The
	// client adds component=idpay. Keys and customer data are never logged.
	Logger *slog.Logger
}

// Client talks to the gateway. It is safe for concurrent use.
type Client struct {
	createURL, queryURL string
	merchant            string
	notifyURL           string
	key                 keyPair
	f                   Fields
	notFound            []string
	grace               time.Duration
	hc                  *http.Client
	now                 func() time.Time
	log                 *slog.Logger
}

// New validates cfg, reads the keys and returns a Client. Errors are
// *ConfigError values naming the [idpay] key, e.g. "idpay.base_url: ...".
func New(cfg Config) (*Client, error) {
	base, err := netutil.ParseGatewayURL(cfg.BaseURL, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, &ConfigError{Field: "base_url", Reason: err.Error()}
	}
	if err := checkID("merchant_code", cfg.MerchantCode); err != nil {
		return nil, err
	}
	if cfg.NotifyURL != "" {
		if err := checkNotifyURL("notify_url", cfg.NotifyURL); err != nil {
			return nil, &ConfigError{Field: "notify_url", Reason: err.(*ValidationError).Reason}
		}
	}
	paths, err := mergePaths(cfg.Paths)
	if err != nil {
		return nil, err
	}
	fields, err := mergeFields(cfg.Fields)
	if err != nil {
		return nil, err
	}
	priv, pub, err := loadKeys(cfg.PrivateKeyFile, cfg.PlatformPublicKeyFile)
	if err != nil {
		return nil, err
	}
	if cfg.ExpiryGrace < 0 {
		return nil, &ConfigError{Field: "expiry_grace", Reason: "must not be negative"}
	}
	c := &Client{
		createURL: joinPath(base, paths.Create),
		queryURL:  joinPath(base, paths.Query),
		merchant:  cfg.MerchantCode,
		notifyURL: cfg.NotifyURL,
		key:       keyPair{priv: priv, platform: pub},
		f:         fields,
		notFound:  cfg.OrderNotFoundCodes,
		grace:     cfg.ExpiryGrace,
		hc:        httpx.NewClient(cfg.HTTPClient, DefaultHTTPTimeout, httpx.PooledTransport()),
		now:       cfg.Now,
		log:       cfg.Logger,
	}
	if c.notFound == nil {
		c.notFound = DefaultOrderNotFoundCodes
	}
	if c.grace == 0 {
		c.grace = DefaultExpiryGrace
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With(logging.ComponentKey, "idpay")
	return c, nil
}

// mergePaths fills DefaultPaths into empty members and checks each path.
func mergePaths(p Paths) (Paths, error) {
	if p.Create == "" {
		p.Create = DefaultPaths.Create
	}
	if p.Query == "" {
		p.Query = DefaultPaths.Query
	}
	for _, x := range []struct{ key, v string }{{"paths.create", p.Create}, {"paths.query", p.Query}} {
		if !strings.HasPrefix(x.v, "/") || strings.ContainsAny(x.v, "?# \t\r\n") {
			return p, &ConfigError{Field: x.key, Reason: fmt.Sprintf("%q must be an absolute path such as /api/payment/create", x.v)}
		}
	}
	if p.Create == p.Query {
		return p, &ConfigError{Field: "paths", Reason: "create and query must differ"}
	}
	return p, nil
}

// mergeFields fills DefaultFields into empty members and checks that the
// names are distinct tokens that do not collide with the documented ones.
func mergeFields(f Fields) (Fields, error) {
	pairs := []struct {
		key string
		v   *string
		def string
	}{
		{"merchant_code", &f.MerchantCode, DefaultFields.MerchantCode}, {"order_no", &f.OrderNo, DefaultFields.OrderNo},
		{"method", &f.Method, DefaultFields.Method}, {"amount", &f.Amount, DefaultFields.Amount},
		{"notify_url", &f.NotifyURL, DefaultFields.NotifyURL}, {"sign", &f.Sign, DefaultFields.Sign},
		{"resp_message", &f.RespMessage, DefaultFields.RespMessage}, {"error_code", &f.ErrorCode, DefaultFields.ErrorCode},
		{"plat_order_no", &f.PlatOrderNo, DefaultFields.PlatOrderNo}, {"va_number", &f.VANumber, DefaultFields.VANumber},
		{"qr_content", &f.QRContent, DefaultFields.QRContent}, {"payment_code", &f.PaymentCode, DefaultFields.PaymentCode},
		{"pay_url", &f.PayURL, DefaultFields.PayURL},
	}
	seen := map[string]string{FieldName: "", FieldEmail: "", FieldPhone: "", FieldExpiryPeriod: "", FieldRespCode: "", FieldStatus: ""}
	for _, p := range pairs {
		if *p.v == "" {
			*p.v = p.def
		}
		if strings.ContainsFunc(*p.v, func(r rune) bool {
			return !(r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r))
		}) {
			return f, &ConfigError{Field: "fields." + p.key, Reason: fmt.Sprintf("%q is not a plain field name", *p.v)}
		}
		if other, dup := seen[*p.v]; dup {
			if other == "" {
				other = "a field the document names"
			} else {
				other = "fields." + other
			}
			return f, &ConfigError{Field: "fields." + p.key, Reason: fmt.Sprintf("%q is already used by %s", *p.v, other)}
		}
		seen[*p.v] = p.key
	}
	return f, nil
}

// joinPath returns base with path appended to its own path.
func joinPath(base *url.URL, path string) string {
	u := *base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	return u.String()
}

// checkID validates the merchant code.
func checkID(field, v string) error {
	switch {
	case v == "":
		return &ConfigError{Field: field, Reason: "required"}
	case utf8.RuneCountInString(v) > maxIDLen:
		return &ConfigError{Field: field, Reason: fmt.Sprintf("longer than %d characters", maxIDLen)}
	case !plainToken(v):
		return &ConfigError{Field: field, Reason: "must be ASCII letters, digits, '_' or '-'"}
	}
	return nil
}

// plainToken reports whether s is ASCII letters, digits, '_' and '-' only.
func plainToken(s string) bool {
	for _, r := range s {
		if !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-')) {
			return false
		}
	}
	return s != ""
}
