// Package bindo is posbridge's client for the Bindo V3 payment gateway's
// native card-present API: it logs in (keeping one access token across
// restarts), sends card-present sales with track 2 and EMV ICC data, and
// queries, voids, refunds and tip-adjusts them. It also verifies and parses
// Bindo webhooks.
//
// The wire rules, the token behaviour, the status mapping and the error
// classes are described in docs/bindo.md. In short: a sale is never resent
// by this package after its bytes may have reached the gateway; anything
// that leaves the outcome open wraps ErrUnknownOutcome and must be resolved
// with Query by the sale's uuid. Card data never appears in logs or errors:
// only Card.Masked() does.
package bindo

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
	"github.com/posbridge/posbridge/internal/netutil"
)

// DefaultHTTPTimeout is the whole-request timeout of the HTTP client New
// builds when Config.HTTPClient is nil. A card-present sale goes to the
// acquirer before the gateway answers, so it is longer than CodePay's.
const DefaultHTTPTimeout = 30 * time.Second

// Hosts of the two Bindo environments (reference/bindo.md §1).
const (
	StagingGatewayURL    = "https://stg-payment.bindo.co"
	StagingLoginURL      = "https://stg.bindo.co"
	ProductionGatewayURL = "https://payment.bindo.co"
	ProductionLoginURL   = "https://bindo.com"
)

// Defaults of the native-payment device headers (X-USER-APP-TYPE and
// friends); the spec lets the integrator choose them.
const (
	DefaultAppType     = "posbridge"
	DefaultAppVersion  = "v1"
	DefaultDeviceType  = "PAYMENT_POS"
	DefaultDeviceModel = "posbridge"
)

// TokenStore persists the access token across restarts. LoadToken returns
// "" (or an error matching ErrNoToken) when none is stored. The agent backs
// it with the SQLite settings table. The token is a credential: implementations
// must not log it.
type TokenStore interface {
	LoadToken(ctx context.Context) (string, error)
	SaveToken(ctx context.Context, token string) error
}

// Config configures a Client. GatewayURL, LoginURL, StoreID, Username,
// Password, ClientID and ClientSecret are required.
type Config struct {
	// GatewayURL is the gateway base ({base_url}), e.g. StagingGatewayURL.
	// LoginURL is the login host ({login_url}), e.g. StagingLoginURL. Both
	// must be https unless the host is loopback or AllowInsecureHTTP is set.
	GatewayURL, LoginURL string
	StoreID              string
	Username, Password   string
	// ClientID and ClientSecret are the environment's login constants.
	ClientID, ClientSecret string
	// NotifyURL, when set, is sent as notify_url with every sale, void and
	// refund so the gateway posts the result to the agent's /hooks/bindo.
	NotifyURL string

	// WebhookAppID and WebhookSecret are the store's APP-ID and secret_key
	// issued by Bindo "for Webhook" (reference/bindo.md §1). ParseLinkWebhook
	// verifies X-SIGNATURE with WebhookSecret and requires X-APP-ID to equal
	// WebhookAppID when it is set; with no secret it refuses every webhook.
	WebhookAppID, WebhookSecret string

	// Tokens persists the access token; nil keeps it in memory only (every
	// restart then logs in again, which invalidates the previous token).
	Tokens TokenStore

	// Native-payment headers; empty means the Default* constants.
	AppType, AppVersion, DeviceType, DeviceModel string

	// HTTPClient sends the requests; nil means a client with Timeout 30s.
	// Redirects are never followed (a copy of the client is used).
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one record per call (op, uuid, HTTP status, state,
	// duration, masked card); nil means slog.Default(). Card data, tokens and
	// passwords are never logged.
	Logger *slog.Logger
	// AllowInsecureHTTP permits plain-http URLs on non-loopback hosts.
	AllowInsecureHTTP bool
}

// Client talks to the Bindo V3 gateway. It is safe for concurrent use.
type Client struct {
	gatewayBase string // scheme://host[/prefix] without trailing slash
	loginURL    string
	storeID     string
	username    string
	password    string
	clientID    string
	secret      string
	notifyURL   string
	hookAppID   string
	hookSecret  []byte
	tokens      TokenStore
	headers     deviceHeaders
	hc          *http.Client
	now         func() time.Time
	log         *slog.Logger

	// loginSem is a one-slot semaphore: loading the stored token and logging
	// in happen under it, so exactly one login is ever in flight.
	loginSem chan struct{}
	mu       sync.Mutex
	token    string
	loaded   bool // the TokenStore has been consulted
}

type deviceHeaders struct{ appType, appVersion, deviceType, deviceModel string }

var storeIDPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)

// New validates cfg and returns a Client. It makes no network call: the
// token is loaded (or a login made) on the first request. Validation errors
// are *ConfigError values naming the [bindo] key.
func New(cfg Config) (*Client, error) {
	gw, err := baseURL("gateway_url", cfg.GatewayURL, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	login, err := baseURL("login_url", cfg.LoginURL, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	if !storeIDPattern.MatchString(cfg.StoreID) {
		return nil, &ConfigError{Field: "store_id", Reason: "required: 1-32 letters, digits, '_' or '-'"}
	}
	for _, f := range []struct{ name, v string }{
		{"username", cfg.Username}, {"password_file", cfg.Password},
		{"client_id", cfg.ClientID}, {"client_secret", cfg.ClientSecret},
	} {
		if f.v == "" {
			return nil, &ConfigError{Field: f.name, Reason: "required"}
		}
		if !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, unicode.IsControl) {
			return nil, &ConfigError{Field: f.name, Reason: "contains control characters or invalid UTF-8"}
		}
	}
	if cfg.NotifyURL != "" {
		u, err := url.Parse(cfg.NotifyURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, &ConfigError{Field: "notify_url", Reason: "must be an absolute http(s) URL"}
		}
	}
	if cfg.WebhookAppID != "" && !headerSafe(cfg.WebhookAppID) {
		return nil, &ConfigError{Field: "webhook_app_id", Reason: "must be printable ASCII, at most 128 characters"}
	}
	h := deviceHeaders{
		appType: orDefault(cfg.AppType, DefaultAppType), appVersion: orDefault(cfg.AppVersion, DefaultAppVersion),
		deviceType: orDefault(cfg.DeviceType, DefaultDeviceType), deviceModel: orDefault(cfg.DeviceModel, DefaultDeviceModel),
	}
	for _, v := range []string{h.appType, h.appVersion, h.deviceType, h.deviceModel} {
		if !headerSafe(v) {
			return nil, &ConfigError{Field: "device headers", Reason: fmt.Sprintf("%q is not a valid header value", v)}
		}
	}

	// A redirect is never followed: it would replay a request, with our
	// access token, to a URL we did not choose.
	hc := httpx.NewClient(cfg.HTTPClient, DefaultHTTPTimeout, nil)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Client{
		gatewayBase: gw,
		loginURL:    login + "/api/v2/login",
		storeID:     cfg.StoreID,
		username:    cfg.Username,
		password:    cfg.Password,
		clientID:    cfg.ClientID,
		secret:      cfg.ClientSecret,
		notifyURL:   cfg.NotifyURL,
		hookAppID:   cfg.WebhookAppID,
		hookSecret:  []byte(cfg.WebhookSecret),
		tokens:      cfg.Tokens,
		headers:     h,
		hc:          hc,
		now:         now,
		log:         cmp.Or(cfg.Logger, slog.Default()).With("component", "bindo"),
		loginSem:    make(chan struct{}, 1),
	}, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// headerSafe reports whether v is a non-empty printable ASCII header value.
func headerSafe(v string) bool {
	if v == "" || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// baseURL validates a configured base URL (netutil.ParseGatewayURL) and
// returns it without a trailing slash.
func baseURL(field, raw string, allowInsecure bool) (string, error) {
	if raw == "" {
		return "", &ConfigError{Field: field, Reason: "required (e.g. " + StagingGatewayURL + ")"}
	}
	u, err := netutil.ParseGatewayURL(raw, allowInsecure)
	if err != nil {
		return "", &ConfigError{Field: field, Reason: err.Error()}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// storePath is the gateway URL of a path under /gateway/v3/stores/{store_id}.
func (c *Client) storePath(suffix string) string {
	return c.gatewayBase + "/gateway/v3/stores/" + url.PathEscape(c.storeID) + suffix
}

// UUIDFor returns the transaction uuid for a posbridge merchant_order_no,
// scoped to this client's store and user: DeriveUUID(store_id + "/" +
// username + "/" + merchantOrderNo). Use it (or DeriveUUID) and persist the
// result before the first call; see docs/bindo.md on uuid scope.
func (c *Client) UUIDFor(merchantOrderNo string) string {
	return DeriveUUID(c.storeID + "/" + c.username + "/" + merchantOrderNo)
}
