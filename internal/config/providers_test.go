package config

import (
	"slices"
	"testing"
	"time"
)

// goodProviders is the good configuration with both provider tables.
const goodProviders = good + `
[qrwallet]
base_url = "https://wallet.example.com/v1/"
user = "merchant-api"
password_file = "/etc/posbridge/qrwallet_password"
store_id = "109038"
currency = "USD"
quick_pay_timeout = "50s"
not_found_messages = ["order does not exist"]

[qrwallet.paths]
native_pay = "pay/native"

[idpay]
base_url = "https://gateway.example.co.id"
merchant_code = "M2026TEST01"
private_key_file = "/etc/posbridge/idpay_private.pem"
platform_public_key_file = "/etc/posbridge/idpay_platform.pem"
notify_url = "https://pos.example.com/hooks/idpay"
expiry = "60m"
default_name = "Toko Demo"

[idpay.fields]
order_no = "orderNo"
`

func validProviderConfig(t *testing.T) *Config {
	t.Helper()
	c, err := Parse(testFile, []byte(goodProviders))
	if err != nil {
		t.Fatalf("Parse(goodProviders) = %v", err)
	}
	return c
}

func TestParseProvidersGood(t *testing.T) {
	c := validProviderConfig(t)
	q := c.QRWallet
	if q == nil || q.Paths.NativePay != "pay/native" || q.Paths.Token != "api/token" || q.QuickPayTimeout.Duration != 50*time.Second ||
		q.HTTPTimeout.Duration != DefaultQRHTTPTimeout || q.PollInterval.Duration != 3*time.Second || q.PollTotal.Duration != 45*time.Second ||
		q.QRLifetime.Duration != 5*time.Minute || q.NativeServiceID != 30 || q.QuickPayServiceID != 2 || q.CustomerCodeMaxLen != 24 {
		t.Errorf("[qrwallet] = %+v", q)
	}
	ip := c.IDPay
	if ip == nil || ip.Fields.OrderNo != "orderNo" || ip.Fields.Amount != "payMoney" || ip.Paths.Create != "/api/payment/create" ||
		ip.Expiry.Duration != time.Hour || ip.ExpiryGrace.Duration != 15*time.Minute || ip.HTTPTimeout.Duration != 15*time.Second ||
		!slices.Equal(ip.OrderNotFoundCodes, []string{"ORDER_NOT_FOUND"}) {
		t.Errorf("[idpay] = %+v", ip)
	}
	// Without the tables nothing is configured.
	if c := validConfig(t); c.QRWallet != nil || c.IDPay != nil {
		t.Errorf("providers without tables: %+v %+v", c.QRWallet, c.IDPay)
	}
}

func TestParseProvidersRejectsPlainSecrets(t *testing.T) {
	for _, extra := range []string{"password = \"x\"", "private_key = \"x\""} {
		table := "[qrwallet]"
		if extra == "private_key = \"x\"" {
			table = "[idpay]"
		}
		_, err := Parse(testFile, []byte(good+"\n"+table+"\n"+extra+"\n"))
		if err == nil {
			t.Errorf("%s %s accepted", table, extra)
		}
	}
}

func runProviderCases(t *testing.T, validator func(*Config) error, cases []validatorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validProviderConfig(t)
			tc.mutate(c)
			got := problemFields(t, validator(c))
			if !slices.Equal(got, tc.want) {
				t.Errorf("fields = %q, want %q (err: %v)", got, tc.want, validator(c))
			}
		})
	}
}

func TestValidateQRWallet(t *testing.T) {
	runProviderCases(t, (*Config).validateQRWallet, []validatorCase{
		{"valid", func(c *Config) {}, nil},
		{"absent", func(c *Config) { c.QRWallet = nil }, nil},
		{"no base url", func(c *Config) { c.QRWallet.BaseURL = "" }, []string{"qrwallet.base_url"}},
		{"remote http", func(c *Config) { c.QRWallet.BaseURL = "http://wallet.example.com" }, []string{"qrwallet.base_url"}},
		{"remote http allowed", func(c *Config) {
			c.QRWallet.BaseURL, c.QRWallet.AllowInsecureHTTP = "http://wallet.example.com", true
		}, nil},
		{"loopback http", func(c *Config) { c.QRWallet.BaseURL = "http://127.0.0.1:9000" }, nil},
		{"credentials in url", func(c *Config) { c.QRWallet.BaseURL = "https://u:p@wallet.example.com" }, []string{"qrwallet.base_url"}},
		{"leading zero store", func(c *Config) { c.QRWallet.StoreID = "0109" }, []string{"qrwallet.store_id"}},
		{"bad currency", func(c *Config) { c.QRWallet.Currency = "usd$" }, []string{"qrwallet.currency"}},
		{"bad service ids", func(c *Config) { c.QRWallet.NativeServiceID, c.QRWallet.QuickPayServiceID = -1, -2 },
			[]string{"qrwallet.native_service_id", "qrwallet.quick_pay_service_id"}},
		{"short token ttl", func(c *Config) { c.QRWallet.TokenTTL.Duration = time.Second },
			[]string{"qrwallet.token_ttl", "qrwallet.token_refresh_margin"}},
		{"margin too long", func(c *Config) { c.QRWallet.TokenRefreshMargin.Duration = 2 * time.Minute }, []string{"qrwallet.token_refresh_margin"}},
		{"poll total below interval", func(c *Config) {
			c.QRWallet.PollTotal.Duration, c.QRWallet.PollInterval.Duration = 2*time.Second, 5*time.Second
		},
			[]string{"qrwallet.poll_total"}},
		{"qr lifetime too short", func(c *Config) { c.QRWallet.QRLifetime.Duration = time.Second }, []string{"qrwallet.qr_lifetime"}},
		{"code lengths", func(c *Config) { c.QRWallet.CustomerCodeMinLen, c.QRWallet.CustomerCodeMaxLen = 20, 12 },
			[]string{"qrwallet.customer_code_max_len"}},
		{"bad path", func(c *Config) { c.QRWallet.Paths.Refund = "https://evil.example.com/refund" }, []string{"qrwallet.paths.refund"}},
		{"empty not-found message", func(c *Config) { c.QRWallet.NotFoundMessages = []string{"ok", " "} },
			[]string{"qrwallet.not_found_messages[1]"}},
		{"all at once", func(c *Config) { c.QRWallet = &QRWallet{} },
			[]string{"qrwallet.base_url", "qrwallet.user", "qrwallet.password_file", "qrwallet.store_id", "qrwallet.currency",
				"qrwallet.native_service_id", "qrwallet.quick_pay_service_id", "qrwallet.token_ttl", "qrwallet.http_timeout",
				"qrwallet.quick_pay_timeout", "qrwallet.poll_interval", "qrwallet.poll_total", "qrwallet.qr_lifetime",
				"qrwallet.token_refresh_margin", "qrwallet.customer_code_max_len",
				"qrwallet.paths.token", "qrwallet.paths.native_pay", "qrwallet.paths.quick_pay", "qrwallet.paths.refund",
				"qrwallet.paths.payment_status", "qrwallet.paths.refund_status"}},
	})
}

func TestValidateIDPay(t *testing.T) {
	runProviderCases(t, (*Config).validateIDPay, []validatorCase{
		{"valid", func(c *Config) {}, nil},
		{"absent", func(c *Config) { c.IDPay = nil }, nil},
		{"remote http", func(c *Config) { c.IDPay.BaseURL = "http://gateway.example.co.id" }, []string{"idpay.base_url"}},
		{"remote http allowed", func(c *Config) { c.IDPay.BaseURL, c.IDPay.AllowInsecureHTTP = "http://gateway.example.co.id", true }, nil},
		{"bad merchant", func(c *Config) { c.IDPay.MerchantCode = "M 1" }, []string{"idpay.merchant_code"}},
		{"no keys", func(c *Config) { c.IDPay.PrivateKeyFile, c.IDPay.PlatformPublicKeyFile = "", "" },
			[]string{"idpay.private_key_file", "idpay.platform_public_key_file"}},
		{"relative notify url", func(c *Config) { c.IDPay.NotifyURL = "/hooks/idpay" }, []string{"idpay.notify_url"}},
		{"no notify url", func(c *Config) { c.IDPay.NotifyURL = "" }, nil},
		{"expiry too short", func(c *Config) { c.IDPay.Expiry.Duration = 5 * time.Minute }, []string{"idpay.expiry"}},
		{"expiry not whole minutes", func(c *Config) { c.IDPay.Expiry.Duration = 20*time.Minute + time.Second }, []string{"idpay.expiry"}},
		{"expiry default", func(c *Config) { c.IDPay.Expiry.Duration = 0 }, nil},
		{"bad default name", func(c *Config) { c.IDPay.DefaultName = "Toko-Demo!" }, []string{"idpay.default_name"}},
		{"bad grace and timeout", func(c *Config) { c.IDPay.ExpiryGrace.Duration, c.IDPay.HTTPTimeout.Duration = time.Second, time.Hour },
			[]string{"idpay.expiry_grace", "idpay.http_timeout"}},
		{"bad not-found code", func(c *Config) { c.IDPay.OrderNotFoundCodes = []string{" X"} }, []string{"idpay.order_not_found_codes[0]"}},
		{"same paths", func(c *Config) { c.IDPay.Paths.Query = c.IDPay.Paths.Create }, []string{"idpay.paths.query"}},
		{"relative path", func(c *Config) { c.IDPay.Paths.Create = "api/create" }, []string{"idpay.paths.create"}},
		{"fixed field name", func(c *Config) { c.IDPay.Fields.Amount = "status" }, []string{"idpay.fields.amount"}},
		{"duplicate field name", func(c *Config) { c.IDPay.Fields.PayURL = "vaNumber" }, []string{"idpay.fields.pay_url"}},
		{"bad field name", func(c *Config) { c.IDPay.Fields.Sign = "si gn" }, []string{"idpay.fields.sign"}},
	})
}

func TestValidateReportsProviderProblemsTogether(t *testing.T) {
	c := validProviderConfig(t)
	c.QRWallet.User = ""
	c.IDPay.MerchantCode = ""
	c.CodePay.AppID = ""
	got := problemFields(t, c.validate())
	if want := []string{"codepay.app_id", "qrwallet.user", "idpay.merchant_code"}; !slices.Equal(got, want) {
		t.Errorf("fields = %q, want %q", got, want)
	}
}
