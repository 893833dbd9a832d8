// Package qrwallet is posbridge's client for the QR wallet payment API
// (/work/shared/specs/qr-wallet-pay-api.txt, "the spec" below, cited by
// line): token login, native pay (a dynamic QR code the customer scans),
// quick pay (the cashier scans the customer's payment code), refund to
// buyer, and payment and refund status.
//
// # Authenticity
//
// The spec defines no signature or other authenticity mechanism for
// answers, and no notifications (callbacks) at all. Answers are trusted
// only as far as TLS to the configured base URL goes; on top of that every
// answer must name the out_trade_no (and out_refund_no) asked about and
// carry the amount, currency, store and service sent, or it is refused as
// a *MismatchError (which wraps ErrUnknownOutcome). There is nothing to
// verify on notifications because the spec has none: the agent follows a
// payment by querying (WaitPayment).
//
// # Outcome classes
//
// ErrNotSent: nothing left the machine. ErrUnknownOutcome (with *HTTPError
// and *MismatchError): the request may have been processed; reconcile with
// PaymentStatus / RefundStatus. *GatewayError: a definite refusal
// ("success": false); IsNotFound on a status query is the only definitive
// "no such order". ErrInvalidRequest (*ValidationError): refused locally,
// nothing sent. docs/providers.md ("QR wallet") lists what the spec leaves
// open and the defaults chosen here.
package qrwallet

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
	"github.com/posbridge/posbridge/internal/netutil"
	"github.com/posbridge/posbridge/money"
)

// Defaults for what the spec leaves open or advises (docs/providers.md).
const (
	// DefaultHTTPTimeout bounds one call other than quick pay.
	DefaultHTTPTimeout = 15 * time.Second
	// DefaultQuickPayTimeout bounds a quick pay call: "Request timeout
	// should be increase to 45s" (spec line 58).
	DefaultQuickPayTimeout = 45 * time.Second
	// DefaultPollInterval and DefaultPollTotal are the spec's polling
	// advice: "advised timeout time is 45s, advised calling frequency is 3s
	// once" (line 58).
	DefaultPollInterval = 3 * time.Second
	DefaultPollTotal    = 45 * time.Second
	// DefaultTokenTTL: "This token will expire in a minute" (line 3).
	DefaultTokenTTL = time.Minute
	// DefaultTokenRefreshMargin: a cached token is replaced this long
	// before its TTL ends.
	DefaultTokenRefreshMargin = 15 * time.Second
	// DefaultQRLifetime is how long a native pay QR code is shown. The spec
	// gives no expiry (lines 43-53); the provider may accept a scan later.
	DefaultQRLifetime = 5 * time.Minute
	// DefaultNativeServiceID and DefaultQuickPayServiceID are the spec's
	// sample service_id values (lines 33 and 68); the spec does not say
	// what they mean.
	DefaultNativeServiceID   = 30
	DefaultQuickPayServiceID = 2
	// DefaultCustomerCodeMinLen and DefaultCustomerCodeMaxLen bound the
	// customer's payment code (auth_code). The spec shows only a masked
	// all-digit sample (line 74); wallet payment codes are 16-24 digits.
	DefaultCustomerCodeMinLen = 10
	DefaultCustomerCodeMaxLen = 24
)

// Paths are the endpoints under the base URL. The spec names no URL or
// method for any endpoint: these are placeholders to be confirmed with the
// provider and configured. Every call is a POST with a JSON body (line 26).
type Paths struct {
	Token         string `toml:"token"`
	NativePay     string `toml:"native_pay"`
	QuickPay      string `toml:"quick_pay"`
	Refund        string `toml:"refund"`
	PaymentStatus string `toml:"payment_status"`
	RefundStatus  string `toml:"refund_status"`
}

// DefaultPaths are the placeholder endpoint paths, relative to the base URL.
var DefaultPaths = Paths{
	Token:         "api/token",
	NativePay:     "api/native-pay",
	QuickPay:      "api/quick-pay",
	Refund:        "api/refund",
	PaymentStatus: "api/payment-status",
	RefundStatus:  "api/refund-status",
}

// Clock is the time source of the token cache and of WaitPayment. Sleep
// waits d or until ctx ends (returning ctx.Err()). A fake clock's Sleep
// advances its time and returns at once.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the system clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx ends.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Config configures a Client. BaseURL, User, Password, StoreID and
// Currency are required; every other zero value means its default.
type Config struct {
	// BaseURL is the provider's base URL (netutil.ParseGatewayURL: https,
	// or http on loopback or with AllowInsecureHTTP). Paths are joined to it.
	BaseURL           string
	AllowInsecureHTTP bool
	Paths             Paths // zero fields mean DefaultPaths

	// User and Password are the token login's credentials (lines 5-7).
	User, Password string
	// StoreID is the merchant's store_id: decimal digits, because the
	// status queries send it as a JSON number (lines 165, 194) while the
	// payment and refund requests send it as a string (lines 34, 69, 133).
	StoreID string
	// Currency is the ISO 4217 code of every amount. Requests carry no
	// currency (lines 32-41): the account's currency is implied; answers
	// that name another one are refused.
	Currency string

	NativeServiceID   int // service_id of native pay; 0 means 30 (line 33)
	QuickPayServiceID int // service_id of quick pay; 0 means 2 (line 68)

	// TokenTTL is how long a token lives (0: 60s, line 3); a negative value
	// means no caching: a login before every call, as line 3 literally
	// says. TokenRefreshMargin (0: 15s) is how long before the end of its
	// life a cached token is replaced.
	TokenTTL           time.Duration
	TokenRefreshMargin time.Duration

	HTTPTimeout     time.Duration // 0: 15s
	QuickPayTimeout time.Duration // 0: 45s (line 58)
	PollInterval    time.Duration // 0: 3s (line 58)
	PollTotal       time.Duration // 0: 45s (line 58)
	QRLifetime      time.Duration // 0: 5 min; the spec gives none

	// CustomerCodeMinLen and CustomerCodeMaxLen bound the digits of a
	// customer code (0: 10 and 24).
	CustomerCodeMinLen, CustomerCodeMaxLen int
	// CustomerCodeAsString sends auth_code as a JSON string. The spec's
	// sample sends a JSON number (line 74), the default; a number cannot
	// carry a leading zero, so such codes are refused unless this is set.
	CustomerCodeAsString bool

	// NotFoundMessages are provider messages that, on a refusal of a status
	// query, mean "no such order/refund". The spec documents no error
	// answers at all; a message saying that the order, trade, transaction,
	// payment or refund is not found / does not exist counts too.
	NotFoundMessages []string

	// HTTPClient sends the requests; nil means a pooled client. Redirects
	// are never followed. Per-call timeouts come from HTTPTimeout and
	// QuickPayTimeout.
	HTTPClient *http.Client
	Clock      Clock // nil means RealClock
	// Logger receives one record per call; nil means slog.Default(). The
	// component "qrwallet" is added. Passwords, tokens and customer codes
	// are never logged.
	Logger *slog.Logger
}

// Client talks to the QR wallet API. It is safe for concurrent use.
type Client struct {
	urls      Paths // absolute URLs
	user      string
	password  string
	storeID   string
	cur       money.Currency
	nativeSvc int
	quickSvc  int
	cfg       Config // timeouts and limits, defaults filled in
	hc        *http.Client
	clock     Clock
	log       *slog.Logger

	tokMu      sync.Mutex // held during a login, so concurrent calls share it
	token      string
	tokenUntil time.Time // refresh at or after this time
}

// New validates cfg and returns a Client. Validation errors are
// *ConfigError values naming the [qrwallet] key.
func New(cfg Config) (*Client, error) {
	cfg = withDefaults(cfg)
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	base, err := netutil.ParseGatewayURL(cfg.BaseURL, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, &ConfigError{Field: "base_url", Reason: err.Error()}
	}
	cur, err := money.LookupCurrency(cfg.Currency)
	if err != nil {
		return nil, &ConfigError{Field: "currency", Reason: err.Error()}
	}
	urls, err := resolvePaths(base, cfg.Paths)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Client{
		urls: urls, user: cfg.User, password: cfg.Password, storeID: cfg.StoreID, cur: cur,
		nativeSvc: cfg.NativeServiceID, quickSvc: cfg.QuickPayServiceID, cfg: cfg,
		// Per-call deadlines come from contexts (15 s, or 45 s for quick pay).
		hc:    httpx.NewClient(cfg.HTTPClient, 0, httpx.PooledTransport()),
		clock: cfg.Clock,
		log:   log.With("component", "qrwallet"),
	}
	return c, nil
}

// withDefaults fills in every zero value that has a default.
func withDefaults(cfg Config) Config {
	setDur := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	setDur(&cfg.TokenTTL, DefaultTokenTTL)
	setDur(&cfg.TokenRefreshMargin, DefaultTokenRefreshMargin)
	setDur(&cfg.HTTPTimeout, DefaultHTTPTimeout)
	setDur(&cfg.QuickPayTimeout, DefaultQuickPayTimeout)
	setDur(&cfg.PollInterval, DefaultPollInterval)
	setDur(&cfg.PollTotal, DefaultPollTotal)
	setDur(&cfg.QRLifetime, DefaultQRLifetime)
	if cfg.NativeServiceID == 0 {
		cfg.NativeServiceID = DefaultNativeServiceID
	}
	if cfg.QuickPayServiceID == 0 {
		cfg.QuickPayServiceID = DefaultQuickPayServiceID
	}
	if cfg.CustomerCodeMinLen == 0 {
		cfg.CustomerCodeMinLen = DefaultCustomerCodeMinLen
	}
	if cfg.CustomerCodeMaxLen == 0 {
		cfg.CustomerCodeMaxLen = DefaultCustomerCodeMaxLen
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	return cfg
}

// storeIDPattern: digits without a leading zero, so that the status
// queries can send it as a JSON number (lines 165, 194).
var storeIDPattern = regexp.MustCompile(`^[1-9][0-9]{0,17}$`)

// checkConfig validates the fields that need no parsing.
func checkConfig(cfg *Config) error {
	switch {
	case cfg.User == "":
		return &ConfigError{Field: "user", Reason: "required"}
	case cfg.Password == "":
		return &ConfigError{Field: "password", Reason: "required"}
	case !storeIDPattern.MatchString(cfg.StoreID):
		return &ConfigError{Field: "store_id", Reason: "required: decimal digits without a leading zero (the status queries send it as a JSON number)"}
	case cfg.Currency == "":
		return &ConfigError{Field: "currency", Reason: "required: the ISO 4217 code of the account (requests carry none)"}
	case cfg.NativeServiceID < 0 || cfg.QuickPayServiceID < 0:
		return &ConfigError{Field: "service_id", Reason: "must be positive"}
	case cfg.TokenRefreshMargin < 0 || cfg.TokenTTL > 0 && cfg.TokenRefreshMargin >= cfg.TokenTTL:
		return &ConfigError{Field: "token_refresh_margin", Reason: "must be positive and shorter than token_ttl"}
	case cfg.HTTPTimeout < 0 || cfg.QuickPayTimeout < 0 || cfg.QRLifetime < 0:
		return &ConfigError{Field: "timeouts", Reason: "must not be negative"}
	case cfg.PollInterval < 0 || cfg.PollTotal < cfg.PollInterval:
		return &ConfigError{Field: "poll_interval", Reason: "must be positive and at most poll_total"}
	case cfg.CustomerCodeMinLen < 1 || cfg.CustomerCodeMaxLen < cfg.CustomerCodeMinLen || cfg.CustomerCodeMaxLen > 64:
		return &ConfigError{Field: "customer_code_max_len", Reason: "need 1 <= min <= max <= 64"}
	}
	return nil
}

// resolvePaths joins every path to the base URL.
func resolvePaths(base *url.URL, p Paths) (Paths, error) {
	out := p
	pairs := []struct {
		field string
		dst   *string
		def   string
	}{
		{"paths.token", &out.Token, DefaultPaths.Token},
		{"paths.native_pay", &out.NativePay, DefaultPaths.NativePay},
		{"paths.quick_pay", &out.QuickPay, DefaultPaths.QuickPay},
		{"paths.refund", &out.Refund, DefaultPaths.Refund},
		{"paths.payment_status", &out.PaymentStatus, DefaultPaths.PaymentStatus},
		{"paths.refund_status", &out.RefundStatus, DefaultPaths.RefundStatus},
	}
	for _, pr := range pairs {
		if *pr.dst == "" {
			*pr.dst = pr.def
		}
		rel, err := url.Parse(strings.TrimLeft(*pr.dst, "/"))
		if err != nil || rel.IsAbs() || rel.Host != "" || rel.RawQuery != "" || rel.Fragment != "" {
			return Paths{}, &ConfigError{Field: pr.field, Reason: fmt.Sprintf("%q is not a relative path", *pr.dst)}
		}
		u := *base
		u.Path = strings.TrimRight(base.Path, "/") + "/" + rel.Path
		u.RawPath = ""
		*pr.dst = u.String()
	}
	return out, nil
}

// Currency is the currency of every amount the client sends and accepts.
func (c *Client) Currency() money.Currency { return c.cur }

// Amount parses a decimal string in major units ("12.34") as an amount in
// the client's currency, refusing more decimals than the currency has
// (*ValidationError naming field amount).
func (c *Client) Amount(s string) (money.Amount, error) {
	minor, err := money.Parse(s, c.cur)
	if err != nil {
		return money.Amount{}, &ValidationError{Field: "amount", Reason: err.Error()}
	}
	return money.Amount{Minor: minor, Currency: c.cur}, nil
}
