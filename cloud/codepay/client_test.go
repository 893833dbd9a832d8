package codepay

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewConfigValidation(t *testing.T) {
	key := appKey(t)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	base := func() Config {
		return Config{GatewayURL: SandboxGatewayURL, AppID: testAppID, MerchantNo: testMerchantNo, PrivateKey: key, Logger: discard}
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		field  string // "" = valid
		url    string // expected entry URL when valid
	}{
		{"sandbox", func(c *Config) {}, "", "https://codepay-open.codepay.me/api/entry"},
		{"production with trailing slash", func(c *Config) { c.GatewayURL = ProductionGatewayURL + "/" }, "", "https://codepay-open.codepay.us/api/entry"},
		{"older URL that already names the entry", func(c *Config) { c.GatewayURL = "https://gw.codepay.us/api/entry" }, "", "https://gw.codepay.us/api/entry"},
		{"http on 127.0.0.1", func(c *Config) { c.GatewayURL = "http://127.0.0.1:8080" }, "", "http://127.0.0.1:8080/api/entry"},
		{"http on 127.1.2.3", func(c *Config) { c.GatewayURL = "http://127.1.2.3:8080" }, "", "http://127.1.2.3:8080/api/entry"},
		{"http on localhost", func(c *Config) { c.GatewayURL = "http://localhost:9" }, "", "http://localhost:9/api/entry"},
		{"http on ::1", func(c *Config) { c.GatewayURL = "http://[::1]:9" }, "", "http://[::1]:9/api/entry"},
		{"http remote allowed explicitly", func(c *Config) { c.GatewayURL = "http://sim.lan:9"; c.AllowInsecureHTTP = true }, "", "http://sim.lan:9/api/entry"},
		{"basic auth needs no key", func(c *Config) { c.PrivateKey = nil; c.BasicAuth = &BasicAuth{Username: "u", Password: "p"} }, "", "https://codepay-open.codepay.me/api/entry"},
		{"store_no of 32", func(c *Config) { c.StoreNo = strings.Repeat("4", 32) }, "", "https://codepay-open.codepay.me/api/entry"},

		{"gateway_url missing", func(c *Config) { c.GatewayURL = "" }, "gateway_url", ""},
		{"gateway_url http remote", func(c *Config) { c.GatewayURL = "http://codepay-open.codepay.me" }, "gateway_url", ""},
		{"gateway_url http lookalike host", func(c *Config) { c.GatewayURL = "http://127.0.0.1.evil.example" }, "gateway_url", ""},
		{"gateway_url ftp", func(c *Config) { c.GatewayURL = "ftp://codepay-open.codepay.me" }, "gateway_url", ""},
		{"gateway_url no host", func(c *Config) { c.GatewayURL = "https://" }, "gateway_url", ""},
		{"gateway_url not absolute", func(c *Config) { c.GatewayURL = "codepay-open.codepay.me" }, "gateway_url", ""},
		{"gateway_url with query", func(c *Config) { c.GatewayURL = "https://codepay-open.codepay.me/?x=1" }, "gateway_url", ""},
		{"gateway_url with credentials", func(c *Config) { c.GatewayURL = "https://u:p@codepay-open.codepay.me" }, "gateway_url", ""},
		{"app_id missing", func(c *Config) { c.AppID = "" }, "app_id", ""},
		{"app_id too long", func(c *Config) { c.AppID = strings.Repeat("w", 33) }, "app_id", ""},
		{"app_id with space", func(c *Config) { c.AppID = "wz 1" }, "app_id", ""},
		{"merchant_no missing", func(c *Config) { c.MerchantNo = "" }, "merchant_no", ""},
		{"merchant_no too long", func(c *Config) { c.MerchantNo = strings.Repeat("3", 33) }, "merchant_no", ""},
		{"store_no too long", func(c *Config) { c.StoreNo = strings.Repeat("4", 33) }, "store_no", ""},
		{"private key missing", func(c *Config) { c.PrivateKey = nil }, "private_key_file", ""},
		{"basic username with colon", func(c *Config) { c.BasicAuth = &BasicAuth{Username: "a:b", Password: "p"} }, "basic_auth.username", ""},
		{"basic password missing", func(c *Config) { c.BasicAuth = &BasicAuth{Username: "a"} }, "basic_auth.password", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mutate(&cfg)
			c, err := New(cfg)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if c.endpoint != tc.url {
					t.Errorf("endpoint = %q, want %q", c.endpoint, tc.url)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New = %v, want a ConfigError", err)
			}
			if ce.Field != tc.field || !strings.HasPrefix(err.Error(), "codepay."+tc.field+": ") {
				t.Errorf("error %q, want field %s", err, tc.field)
			}
		})
	}
}

func TestNewHTTPClientDefaults(t *testing.T) {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := New(Config{GatewayURL: SandboxGatewayURL, AppID: "a", MerchantNo: "m", PrivateKey: appKey(t), GatewayPublicKey: gatewayPub(t), Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	if c.hc.Timeout != DefaultHTTPTimeout || DefaultHTTPTimeout != 15*time.Second {
		t.Errorf("default timeout = %v", c.hc.Timeout)
	}
	if c.hc.CheckRedirect == nil {
		t.Errorf("redirects would be followed")
	}
	mine := &http.Client{Timeout: time.Second}
	c, err = New(Config{GatewayURL: SandboxGatewayURL, AppID: "a", MerchantNo: "m", PrivateKey: appKey(t), GatewayPublicKey: gatewayPub(t), Logger: discard, HTTPClient: mine})
	if err != nil {
		t.Fatal(err)
	}
	if c.hc.Timeout != time.Second {
		t.Errorf("caller's timeout not used: %v", c.hc.Timeout)
	}
	if mine.CheckRedirect != nil {
		t.Errorf("New modified the caller's http.Client")
	}
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	td := func(name string) string { return filepath.Join("testdata", name) }
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name      string
		priv, pub string
		wantPriv  bool
		wantPub   bool
		errFile   string
		errIs     error
	}{
		{"pkcs8 + gateway", td("app_private_pkcs8.pem"), td("gateway_public.pem"), true, true, "", nil},
		{"pkcs1 + gateway", td("app_private_pkcs1.pem"), td("gateway_public.pem"), true, true, "", nil},
		{"no gateway key", td("app_private_pkcs8.pem"), "", true, false, "", nil},
		{"neither", "", "", false, false, "", nil},
		{"missing private key file", missing, td("gateway_public.pem"), false, false, missing, fs.ErrNotExist},
		{"garbage private key", garbage, "", false, false, garbage, ErrKeyFormat},
		{"public key given as private", td("app_public.pem"), "", false, false, td("app_public.pem"), ErrKeyFormat},
		{"garbage gateway key", td("app_private_pkcs8.pem"), garbage, false, false, garbage, ErrKeyFormat},
		{"private key given as gateway key", td("app_private_pkcs8.pem"), td("gateway_private.pem"), false, false, td("gateway_private.pem"), ErrKeyFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			priv, pub, err := LoadKeys(tc.priv, tc.pub)
			if tc.errFile != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errFile) || !errors.Is(err, tc.errIs) || !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("LoadKeys err = %v, want one naming %s and matching %v", err, tc.errFile, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadKeys: %v", err)
			}
			if (priv != nil) != tc.wantPriv || (pub != nil) != tc.wantPub {
				t.Errorf("LoadKeys = %v, %v", priv != nil, pub != nil)
			}
			if priv != nil && !priv.PublicKey.Equal(appKey(t).Public()) {
				t.Errorf("wrong private key loaded")
			}
			if pub != nil && !pub.Equal(gatewayPub(t)) {
				t.Errorf("wrong gateway key loaded")
			}
		})
	}
}
