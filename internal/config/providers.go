package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/posbridge/posbridge/money"
)

// QRWallet is the optional [qrwallet] table: the QR wallet provider behind
// payment.create method "qr" (cloud/qrwallet, docs/providers.md). Its keys
// mirror qrwallet.Config; zero values take the defaults below, which are
// the client's.
type QRWallet struct {
	// BaseURL is the provider's base URL (https; plain http only for
	// loopback emulators or with AllowInsecureHTTP).
	BaseURL string `toml:"base_url"`
	// User and PasswordFile are the token login's credentials; the
	// password is read from a file only group and others cannot access.
	User         string `toml:"user"`
	PasswordFile string `toml:"password_file"`
	// StoreID is the merchant's store_id: decimal digits, no leading zero.
	StoreID string `toml:"store_id"`
	// Currency is the account's ISO 4217 code (requests carry none).
	Currency string `toml:"currency"`

	NativeServiceID   int `toml:"native_service_id"`    // default 30
	QuickPayServiceID int `toml:"quick_pay_service_id"` // default 2

	TokenTTL           Duration `toml:"token_ttl"`            // default 1m
	TokenRefreshMargin Duration `toml:"token_refresh_margin"` // default 15s
	HTTPTimeout        Duration `toml:"http_timeout"`         // default 15s
	QuickPayTimeout    Duration `toml:"quick_pay_timeout"`    // default 45s
	PollInterval       Duration `toml:"poll_interval"`        // default 3s
	PollTotal          Duration `toml:"poll_total"`           // default 45s
	QRLifetime         Duration `toml:"qr_lifetime"`          // default 5m

	CustomerCodeMinLen   int  `toml:"customer_code_min_len"` // default 10
	CustomerCodeMaxLen   int  `toml:"customer_code_max_len"` // default 24
	CustomerCodeAsString bool `toml:"customer_code_as_string"`
	// NotFoundMessages are provider messages meaning "no such order".
	NotFoundMessages []string `toml:"not_found_messages"`

	// Paths are the endpoints relative to BaseURL; empty ones take
	// DefaultQRWalletPaths.
	Paths QRWalletPaths `toml:"paths"`
	// AllowInsecureHTTP permits a plain-http base_url on a non-loopback host.
	AllowInsecureHTTP bool `toml:"allow_insecure_http"`
}

// QRWalletPaths is [qrwallet.paths] (qrwallet.Paths).
type QRWalletPaths struct {
	Token         string `toml:"token"`
	NativePay     string `toml:"native_pay"`
	QuickPay      string `toml:"quick_pay"`
	Refund        string `toml:"refund"`
	PaymentStatus string `toml:"payment_status"`
	RefundStatus  string `toml:"refund_status"`
}

// DefaultQRWalletPaths are qrwallet.DefaultPaths: the spec names no
// endpoint, so these are placeholders to confirm with the provider.
var DefaultQRWalletPaths = QRWalletPaths{
	Token: "api/token", NativePay: "api/native-pay", QuickPay: "api/quick-pay",
	Refund: "api/refund", PaymentStatus: "api/payment-status", RefundStatus: "api/refund-status",
}

// Defaults of [qrwallet] (the client's, cloud/qrwallet).
const (
	DefaultQRNativeServiceID    = 30
	DefaultQRQuickPayServiceID  = 2
	DefaultQRTokenTTL           = time.Minute
	DefaultQRTokenRefreshMargin = 15 * time.Second
	DefaultQRHTTPTimeout        = 15 * time.Second
	DefaultQRQuickPayTimeout    = 45 * time.Second
	DefaultQRPollInterval       = 3 * time.Second
	DefaultQRPollTotal          = 45 * time.Second
	DefaultQRLifetime           = 5 * time.Minute
	DefaultQRCustomerCodeMinLen = 10
	DefaultQRCustomerCodeMaxLen = 24
)

// IDPay is the optional [idpay] table: the Indonesian VA/QRIS gateway
// behind payment.create method "va" (cloud/idpay, docs/providers.md). Its
// keys mirror idpay.Config. Amounts are whole rupiah (IDR).
type IDPay struct {
	// BaseURL is the gateway's base URL (https; plain http only for
	// loopback emulators or with AllowInsecureHTTP).
	BaseURL      string `toml:"base_url"`
	MerchantCode string `toml:"merchant_code"`
	// PrivateKeyFile is the merchant key that signs requests (not
	// readable by group or others); PlatformPublicKeyFile verifies every
	// answer and callback.
	PrivateKeyFile        string `toml:"private_key_file"`
	PlatformPublicKeyFile string `toml:"platform_public_key_file"`
	// NotifyURL, optional: a public URL reaching the agent's /hooks/idpay,
	// sent with every create so the gateway posts its callbacks there
	// (polling stays on). It also enables POST /hooks/idpay.
	NotifyURL string `toml:"notify_url"`
	// Expiry is how long a va payment may be paid (whole minutes, 15m to
	// 97200m); 0, the default, lets the gateway use its own (4320m).
	Expiry Duration `toml:"expiry"`
	// DefaultName is the account name shown to the customer when
	// payment.create gives no customer_name.
	DefaultName string `toml:"default_name"`
	// ExpiryGrace: a pending order this long past its expiry is expired
	// (default 15m).
	ExpiryGrace Duration `toml:"expiry_grace"`
	// HTTPTimeout bounds one call (default 15s).
	HTTPTimeout Duration `toml:"http_timeout"`
	// OrderNotFoundCodes are the error codes of a signed query refusal
	// meaning "no such order" (default ["ORDER_NOT_FOUND"]).
	OrderNotFoundCodes []string `toml:"order_not_found_codes"`

	Paths  IDPayPaths  `toml:"paths"`
	Fields IDPayFields `toml:"fields"`
	// AllowInsecureHTTP permits a plain-http base_url on a non-loopback host.
	AllowInsecureHTTP bool `toml:"allow_insecure_http"`
}

// IDPayPaths is [idpay.paths] (idpay.Paths): absolute paths under base_url.
type IDPayPaths struct {
	Create string `toml:"create"`
	Query  string `toml:"query"`
}

// DefaultIDPayPaths are idpay.DefaultPaths.
var DefaultIDPayPaths = IDPayPaths{Create: "/api/payment/create", Query: "/api/payment/query"}

// IDPayFields is [idpay.fields] (idpay.Fields): the wire names the gateway
// document leaves open.
type IDPayFields struct {
	MerchantCode string `toml:"merchant_code"`
	OrderNo      string `toml:"order_no"`
	Method       string `toml:"method"`
	Amount       string `toml:"amount"`
	NotifyURL    string `toml:"notify_url"`
	Sign         string `toml:"sign"`
	RespMessage  string `toml:"resp_message"`
	ErrorCode    string `toml:"error_code"`
	PlatOrderNo  string `toml:"plat_order_no"`
	VANumber     string `toml:"va_number"`
	QRContent    string `toml:"qr_content"`
	PaymentCode  string `toml:"payment_code"`
	PayURL       string `toml:"pay_url"`
}

// DefaultIDPayFields are idpay.DefaultFields.
var DefaultIDPayFields = IDPayFields{
	MerchantCode: "merchantCode", OrderNo: "orderNum", Method: "method", Amount: "payMoney",
	NotifyURL: "notifyUrl", Sign: "sign", RespMessage: "platRespMessage", ErrorCode: "errorCode",
	PlatOrderNo: "platOrderNum", VANumber: "vaNumber", QRContent: "qrContent",
	PaymentCode: "paymentCode", PayURL: "payUrl",
}

// Defaults of [idpay].
const (
	DefaultIDPayExpiryGrace = 15 * time.Minute
	DefaultIDPayHTTPTimeout = 15 * time.Second
)

// DefaultIDPayOrderNotFoundCodes is idpay.DefaultOrderNotFoundCodes.
var DefaultIDPayOrderNotFoundCodes = []string{"ORDER_NOT_FOUND"}

func setDuration(d *Duration, v time.Duration) {
	if d.Duration == 0 {
		d.Duration = v
	}
}

func setString(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

func setInt(n *int, v int) {
	if *n == 0 {
		*n = v
	}
}

// applyProviderDefaults fills the defaults of [qrwallet], [idpay] and
// [link].
func (c *Config) applyProviderDefaults() {
	setString(&c.Link.Provider, LinkProviderCodePay)
	if q := c.QRWallet; q != nil {
		setInt(&q.NativeServiceID, DefaultQRNativeServiceID)
		setInt(&q.QuickPayServiceID, DefaultQRQuickPayServiceID)
		setDuration(&q.TokenTTL, DefaultQRTokenTTL)
		setDuration(&q.TokenRefreshMargin, DefaultQRTokenRefreshMargin)
		setDuration(&q.HTTPTimeout, DefaultQRHTTPTimeout)
		setDuration(&q.QuickPayTimeout, DefaultQRQuickPayTimeout)
		setDuration(&q.PollInterval, DefaultQRPollInterval)
		setDuration(&q.PollTotal, DefaultQRPollTotal)
		setDuration(&q.QRLifetime, DefaultQRLifetime)
		setInt(&q.CustomerCodeMinLen, DefaultQRCustomerCodeMinLen)
		setInt(&q.CustomerCodeMaxLen, DefaultQRCustomerCodeMaxLen)
		p, d := &q.Paths, DefaultQRWalletPaths
		for _, x := range []struct {
			dst *string
			v   string
		}{
			{&p.Token, d.Token}, {&p.NativePay, d.NativePay}, {&p.QuickPay, d.QuickPay},
			{&p.Refund, d.Refund}, {&p.PaymentStatus, d.PaymentStatus}, {&p.RefundStatus, d.RefundStatus},
		} {
			setString(x.dst, x.v)
		}
	}
	if ip := c.IDPay; ip != nil {
		setDuration(&ip.ExpiryGrace, DefaultIDPayExpiryGrace)
		setDuration(&ip.HTTPTimeout, DefaultIDPayHTTPTimeout)
		if ip.OrderNotFoundCodes == nil {
			ip.OrderNotFoundCodes = append([]string(nil), DefaultIDPayOrderNotFoundCodes...)
		}
		setString(&ip.Paths.Create, DefaultIDPayPaths.Create)
		setString(&ip.Paths.Query, DefaultIDPayPaths.Query)
		for _, f := range ip.Fields.list() {
			setString(f.v, f.def)
		}
	}
}

// namedField is one [idpay.fields] key with its value and default.
type namedField struct {
	key string
	v   *string
	def string
}

func (f *IDPayFields) list() []namedField {
	d := DefaultIDPayFields
	return []namedField{
		{"merchant_code", &f.MerchantCode, d.MerchantCode}, {"order_no", &f.OrderNo, d.OrderNo},
		{"method", &f.Method, d.Method}, {"amount", &f.Amount, d.Amount},
		{"notify_url", &f.NotifyURL, d.NotifyURL}, {"sign", &f.Sign, d.Sign},
		{"resp_message", &f.RespMessage, d.RespMessage}, {"error_code", &f.ErrorCode, d.ErrorCode},
		{"plat_order_no", &f.PlatOrderNo, d.PlatOrderNo}, {"va_number", &f.VANumber, d.VANumber},
		{"qr_content", &f.QRContent, d.QRContent}, {"payment_code", &f.PaymentCode, d.PaymentCode},
		{"pay_url", &f.PayURL, d.PayURL},
	}
}

var (
	qrStoreID    = regexp.MustCompile(`^[1-9][0-9]{0,17}$`)
	plainID      = regexp.MustCompile(`^[0-9A-Za-z_\-]{1,32}$`)
	wireName     = regexp.MustCompile(`^[0-9A-Za-z_.\-]{1,64}$`)
	customerName = regexp.MustCompile(`^[0-9A-Za-z ]{1,30}$`)
)

// durationRange is one duration key with its bounds.
type durationRange struct {
	name     string
	d        time.Duration
	min, max time.Duration
}

func (p *problems) durations(rs []durationRange) {
	for _, r := range rs {
		if r.d < r.min || r.d > r.max {
			p.add(r.name, "want between %s and %s, got %s", r.min, r.max, r.d)
		}
	}
}

// validateQRWallet checks the optional [qrwallet] table.
func (c *Config) validateQRWallet() error {
	q := c.QRWallet
	if q == nil {
		return nil
	}
	p := &problems{file: c.Path}
	if msg := checkGatewayURL(q.BaseURL, q.AllowInsecureHTTP, gatewayURLMessages{
		invalid:  "want an https URL such as \"https://wallet.example.com\"",
		insecure: "https required (plain http only for loopback emulators or with qrwallet.allow_insecure_http = true)",
	}); msg != "" {
		p.add("qrwallet.base_url", "%s", msg)
	}
	if q.User == "" {
		p.add("qrwallet.user", "required when [qrwallet] is configured")
	}
	if q.PasswordFile == "" {
		p.add("qrwallet.password_file", "required: a file holding the token login's password")
	}
	if !qrStoreID.MatchString(q.StoreID) {
		p.add("qrwallet.store_id", "want decimal digits without a leading zero (the status queries send it as a JSON number), got %q", q.StoreID)
	}
	if _, err := money.LookupCurrency(q.Currency); err != nil {
		p.add("qrwallet.currency", "want the account's ISO 4217 code such as \"USD\", got %q", q.Currency)
	}
	for _, s := range []struct {
		name string
		v    int
	}{{"qrwallet.native_service_id", q.NativeServiceID}, {"qrwallet.quick_pay_service_id", q.QuickPayServiceID}} {
		if s.v < 1 {
			p.add(s.name, "want a positive service_id, got %d", s.v)
		}
	}
	p.durations([]durationRange{
		{"qrwallet.token_ttl", q.TokenTTL.Duration, 10 * time.Second, 24 * time.Hour},
		{"qrwallet.http_timeout", q.HTTPTimeout.Duration, time.Second, 5 * time.Minute},
		{"qrwallet.quick_pay_timeout", q.QuickPayTimeout.Duration, time.Second, 5 * time.Minute},
		{"qrwallet.poll_interval", q.PollInterval.Duration, 200 * time.Millisecond, time.Minute},
		{"qrwallet.poll_total", q.PollTotal.Duration, time.Second, 10 * time.Minute},
		{"qrwallet.qr_lifetime", q.QRLifetime.Duration, 30 * time.Second, 24 * time.Hour},
	})
	if m := q.TokenRefreshMargin.Duration; m <= 0 || m >= q.TokenTTL.Duration {
		p.add("qrwallet.token_refresh_margin", "want positive and shorter than token_ttl (%s), got %s", q.TokenTTL.Duration, m)
	}
	if q.PollTotal.Duration < q.PollInterval.Duration {
		p.add("qrwallet.poll_total", "must be at least poll_interval (%s)", q.PollInterval.Duration)
	}
	if lo, hi := q.CustomerCodeMinLen, q.CustomerCodeMaxLen; lo < 1 || hi < lo || hi > 64 {
		p.add("qrwallet.customer_code_max_len", "need 1 <= customer_code_min_len (%d) <= customer_code_max_len (%d) <= 64", lo, hi)
	}
	for i, m := range q.NotFoundMessages {
		if strings.TrimSpace(m) == "" {
			p.add(fmt.Sprintf("qrwallet.not_found_messages[%d]", i), "must not be empty")
		}
	}
	pp := q.Paths
	for _, x := range []struct{ key, v string }{
		{"token", pp.Token}, {"native_pay", pp.NativePay}, {"quick_pay", pp.QuickPay},
		{"refund", pp.Refund}, {"payment_status", pp.PaymentStatus}, {"refund_status", pp.RefundStatus},
	} {
		if u, err := url.Parse(strings.TrimLeft(x.v, "/")); err != nil || x.v == "" || u.IsAbs() || u.Host != "" ||
			strings.ContainsAny(x.v, "?# \t\r\n") {
			p.add("qrwallet.paths."+x.key, "want a path relative to base_url such as %q, got %q", "api/token", x.v)
		}
	}
	return p.err()
}

// validateIDPay checks the optional [idpay] table.
func (c *Config) validateIDPay() error {
	ip := c.IDPay
	if ip == nil {
		return nil
	}
	p := &problems{file: c.Path}
	if msg := checkGatewayURL(ip.BaseURL, ip.AllowInsecureHTTP, gatewayURLMessages{
		invalid:  "want an https URL such as \"https://gateway.example.co.id\"",
		insecure: "https required (plain http only for loopback emulators or with idpay.allow_insecure_http = true)",
	}); msg != "" {
		p.add("idpay.base_url", "%s", msg)
	}
	if !plainID.MatchString(ip.MerchantCode) {
		p.add("idpay.merchant_code", "required: 1-32 ASCII letters, digits, '_' or '-', got %q", ip.MerchantCode)
	}
	if ip.PrivateKeyFile == "" {
		p.add("idpay.private_key_file", "required: the merchant private key that signs every request")
	}
	if ip.PlatformPublicKeyFile == "" {
		p.add("idpay.platform_public_key_file", "required: the platform public key, used to verify every answer and callback")
	}
	if ip.NotifyURL != "" {
		u, err := url.Parse(ip.NotifyURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || len(ip.NotifyURL) > 256 {
			p.add("idpay.notify_url", "want an absolute http(s) URL reaching the agent's /hooks/idpay, at most 256 characters, got %q", ip.NotifyURL)
		}
	}
	if d := ip.Expiry.Duration; d != 0 && (d < 15*time.Minute || d > 97200*time.Minute || d%time.Minute != 0) {
		p.add("idpay.expiry", "want whole minutes between 15m and 97200m (or leave it out for the gateway's 4320m), got %s", d)
	}
	if ip.DefaultName != "" && !customerName.MatchString(ip.DefaultName) {
		p.add("idpay.default_name", "want 1-30 letters, digits and spaces, got %q", ip.DefaultName)
	}
	p.durations([]durationRange{
		{"idpay.expiry_grace", ip.ExpiryGrace.Duration, time.Minute, 24 * time.Hour},
		{"idpay.http_timeout", ip.HTTPTimeout.Duration, time.Second, 5 * time.Minute},
	})
	for i, code := range ip.OrderNotFoundCodes {
		if code == "" || len(code) > 64 || strings.TrimSpace(code) != code {
			p.add(fmt.Sprintf("idpay.order_not_found_codes[%d]", i), "want a gateway error code such as \"ORDER_NOT_FOUND\", got %q", code)
		}
	}
	for _, x := range []struct{ key, v string }{{"create", ip.Paths.Create}, {"query", ip.Paths.Query}} {
		if !strings.HasPrefix(x.v, "/") || strings.ContainsAny(x.v, "?# \t\r\n") {
			p.add("idpay.paths."+x.key, "want an absolute path such as %q, got %q", DefaultIDPayPaths.Create, x.v)
		}
	}
	if ip.Paths.Create == ip.Paths.Query {
		p.add("idpay.paths.query", "must differ from paths.create")
	}
	// The names the document fixes may not be reused.
	seen := map[string]string{"name": "", "email": "", "phone": "", "expiryPeriod": "", "platRespCode": "", "status": ""}
	for _, f := range ip.Fields.list() {
		switch other, dup := seen[*f.v]; {
		case !wireName.MatchString(*f.v):
			p.add("idpay.fields."+f.key, "want a plain field name (letters, digits, '_', '-', '.'), got %q", *f.v)
		case dup && other == "":
			p.add("idpay.fields."+f.key, "%q is a field name the gateway document fixes", *f.v)
		case dup:
			p.add("idpay.fields."+f.key, "%q is already used by idpay.fields.%s", *f.v, other)
		default:
			seen[*f.v] = f.key
		}
	}
	return p.err()
}

// Link is the optional [link] table: who hosts the pages of payment.create
// method "link" (docs/providers.md, "Pay-by-link").
type Link struct {
	// Provider is LinkProviderCodePay (CodePay hosted checkout, the
	// default) or LinkProviderBindo (Bindo pre-create: needs [bindo] with
	// link_client_ip).
	Provider string `toml:"provider"`
}

// Link providers ([link] provider).
const (
	LinkProviderCodePay = "codepay"
	LinkProviderBindo   = "bindo"
)

// validateLink checks the [link] table (against [bindo]).
func (c *Config) validateLink() error {
	p := &problems{file: c.Path}
	switch c.Link.Provider {
	case LinkProviderCodePay:
	case LinkProviderBindo:
		switch {
		case c.Bindo == nil:
			p.add("link.provider", "\"bindo\" needs a [bindo] table (Bindo pre-create uses its gateway and login)")
		case c.Bindo.LinkClientIP == "":
			p.add("bindo.link_client_ip", "required with link.provider = \"bindo\": the IP address sent as X-CLIENT-IP with every pre-create (the store's public IP)")
		}
	default:
		p.add("link.provider", "want \"codepay\" or \"bindo\", got %q", c.Link.Provider)
	}
	return p.err()
}
