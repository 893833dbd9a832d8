// Package codepay is posbridge's client for the CodePay Cloud Open API: it
// pushes orders to CodePay terminals by serial number and queries, closes,
// revokes, refunds, tip-adjusts and batch-closes them, signing every request
// with the app's RSA key and verifying every response with the gateway's key.
//
// The wire rules, the unsigned-response policy and the error classes are
// described in docs/codepay.md. In short: a create order is never retried by
// this package; any error that leaves the outcome open wraps ErrUnknownOutcome
// and must be reconciled with QueryOrder.
package codepay

import (
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
	"github.com/posbridge/posbridge/internal/netutil"
)

// DefaultHTTPTimeout is the whole-request timeout of the HTTP client New
// builds when Config.HTTPClient is nil.
const DefaultHTTPTimeout = 15 * time.Second

// Gateway base URLs (reference/codepay.md §2.2).
const (
	SandboxGatewayURL    = "https://codepay-open.codepay.me"
	ProductionGatewayURL = "https://codepay-open.codepay.us"
)

// entryPath is the single API entry point under the gateway base URL.
const entryPath = "/api/entry"

// maxIDLen is the longest app_id, merchant_no, store_no, terminal_sn,
// merchant_order_no or trans_no the API accepts.
const maxIDLen = 32

// BasicAuth holds the credentials of the Basic Auth mode (sign_type NONE).
type BasicAuth struct {
	Username, Password string
}

// Config configures a Client. GatewayURL, AppID and MerchantNo are required,
// and PrivateKey unless BasicAuth is set.
type Config struct {
	// GatewayURL is the gateway base, e.g. SandboxGatewayURL. Requests go to
	// GatewayURL + "/api/entry" (a URL already ending in /api/entry is used
	// as is). It must be https unless the host is loopback or
	// AllowInsecureHTTP is set.
	GatewayURL string
	AppID      string
	MerchantNo string
	StoreNo    string // optional; sent with every request when set

	// PrivateKey signs requests (sign_type RSA2).
	PrivateKey *rsa.PrivateKey
	// GatewayPublicKey verifies responses. nil means responses are not
	// verified (a warning is logged once, at New).
	GatewayPublicKey *rsa.PublicKey
	// BasicAuth, when non-nil, selects sign_type NONE with an Authorization
	// header; requests are not signed and responses are not verified.
	BasicAuth *BasicAuth

	// HTTPClient sends the requests; nil means a client with Timeout 15s.
	// Redirects are never followed (a copy of the client is used).
	HTTPClient *http.Client
	// Now is the clock for timestamps; nil means time.Now.
	Now func() time.Time
	// AllowInsecureHTTP permits a plain-http GatewayURL on a non-loopback host.
	AllowInsecureHTTP bool
	// Logger receives one record per call (method, merchant_order_no, code,
	// duration, psn); nil means slog.Default(). Keys are never logged.
	Logger *slog.Logger
	// Observe, when set, is called after every call with the method, its
	// duration and its error (nil on success), e.g. for latency metrics.
	Observe func(method string, d time.Duration, err error)
	// OrderNotFoundCodes are the gateway codes that, on a signed refusal of
	// order.query, mean "no such order" (GatewayError.NotFound). CodePay's
	// code list is not public: nil means DefaultOrderNotFoundCodes, and a
	// signed refusal whose message says the order does not exist counts too.
	OrderNotFoundCodes []string
}

// DefaultOrderNotFoundCodes are the "order not found" codes known to
// posbridge: the emulator's 40005 (docs/codepay-sim.md). Confirm the real
// gateway's code during sandbox certification and configure it.
var DefaultOrderNotFoundCodes = []string{"40005"}

// Client talks to the CodePay Cloud Open API. It is safe for concurrent use.
type Client struct {
	endpoint   string
	appID      string
	merchantNo string
	storeNo    string
	key        *rsa.PrivateKey
	gatewayKey *rsa.PublicKey
	basic      *BasicAuth
	hc         *http.Client
	now        func() time.Time
	log        *slog.Logger
	observe    func(method string, d time.Duration, err error)
	notFound   []string
}

// New validates cfg and returns a Client. Validation errors are
// *ConfigError values naming the [codepay] key, e.g.
// "codepay.gateway_url: must use https".
func New(cfg Config) (*Client, error) {
	endpoint, err := gatewayEndpoint(cfg.GatewayURL, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	if err := checkID("app_id", cfg.AppID, true); err != nil {
		return nil, err
	}
	if err := checkID("merchant_no", cfg.MerchantNo, true); err != nil {
		return nil, err
	}
	if err := checkID("store_no", cfg.StoreNo, false); err != nil {
		return nil, err
	}
	if cfg.BasicAuth != nil {
		if cfg.BasicAuth.Username == "" || strings.Contains(cfg.BasicAuth.Username, ":") {
			return nil, &ConfigError{Field: "basic_auth.username", Reason: "required and must not contain ':'"}
		}
		if cfg.BasicAuth.Password == "" {
			return nil, &ConfigError{Field: "basic_auth.password", Reason: "required"}
		}
	} else if cfg.PrivateKey == nil {
		return nil, &ConfigError{Field: "private_key_file", Reason: "an app private key is required for RSA2 signing"}
	}

	// Connections are pooled for many terminals; redirects are never followed.
	hc := httpx.NewClient(cfg.HTTPClient, DefaultHTTPTimeout, httpx.PooledTransport())

	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "codepay")

	c := &Client{
		endpoint:   endpoint,
		appID:      cfg.AppID,
		merchantNo: cfg.MerchantNo,
		storeNo:    cfg.StoreNo,
		key:        cfg.PrivateKey,
		gatewayKey: cfg.GatewayPublicKey,
		basic:      cfg.BasicAuth,
		hc:         hc,
		now:        now,
		log:        log,
		observe:    cfg.Observe,
		notFound:   cfg.OrderNotFoundCodes,
	}
	if c.notFound == nil {
		c.notFound = DefaultOrderNotFoundCodes
	}
	switch {
	case c.basic != nil:
		log.Info("codepay basic auth mode: requests are not signed and responses are not verified")
	case c.gatewayKey == nil:
		log.Warn("codepay gateway public key not configured: response signatures are NOT verified")
	}
	return c, nil
}

// gatewayEndpoint validates the gateway base URL (netutil.ParseGatewayURL)
// and returns the entry URL.
func gatewayEndpoint(raw string, allowInsecure bool) (string, error) {
	const field = "gateway_url"
	if raw == "" {
		return "", &ConfigError{Field: field, Reason: "required (sandbox " + SandboxGatewayURL + ", production " + ProductionGatewayURL + ")"}
	}
	u, err := netutil.ParseGatewayURL(raw, allowInsecure)
	if err != nil {
		return "", &ConfigError{Field: field, Reason: err.Error()}
	}
	path := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(path, entryPath) {
		path += entryPath
	}
	u.Path = path
	u.RawPath = ""
	return u.String(), nil
}

// checkID validates one identifier of the configuration.
func checkID(field, v string, required bool) error {
	switch {
	case v == "" && required:
		return &ConfigError{Field: field, Reason: "required"}
	case utf8.RuneCountInString(v) > maxIDLen:
		return &ConfigError{Field: field, Reason: fmt.Sprintf("longer than %d characters", maxIDLen)}
	case strings.ContainsFunc(v, unicode.IsSpace) || !printable(v):
		return &ConfigError{Field: field, Reason: "contains whitespace or control characters"}
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// orderNotFound reports whether a signed refusal of a query says the order
// does not exist: its code is one of the configured codes, or its message
// says that an order (trade, transaction) does not exist.
func (c *Client) orderNotFound(code, msg string) bool {
	if slices.Contains(c.notFound, code) {
		return true
	}
	m := strings.ToLower(msg)
	if strings.Contains(m, "不存在") && (strings.Contains(m, "订单") || strings.Contains(m, "交易")) {
		return true
	}
	absent := strings.Contains(m, "not found") || strings.Contains(m, "not exist") || strings.Contains(m, "no such") ||
		strings.Contains(m, "does not exist") || strings.Contains(m, "doesn't exist")
	subject := strings.Contains(m, "order") || strings.Contains(m, "trade") || strings.Contains(m, "transaction")
	return absent && subject && !strings.Contains(m, "original")
}
