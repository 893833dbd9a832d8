package idpay

import (
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCallbackRepeatedHandledOnce(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCreate("PB-CB", MethodQRIS)
	if _, err := e.sim.Pay("PB-CB"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e.sim.RunDue(ctx)
	if n := e.appliedCount(); n != 0 {
		t.Fatalf("callback before its 1 s delay (spec line 112): applied %d", n)
	}
	e.clock.Advance(time.Second)
	e.sim.RunDue(ctx)
	if n := e.appliedCount(); n != 1 {
		t.Fatalf("applied %d callbacks, want 1", n)
	}
	cb := e.applied[0]
	if cb.OrderNo != "PB-CB" || cb.State != StatePaid || cb.Amount == nil || *cb.Amount != idr(30000) || cb.Method != MethodQRIS {
		t.Fatalf("callback = %+v", cb)
	}
	// The gateway may notify again (spec line 116): answered SUCCESS, not applied again.
	for range 3 {
		if err := e.sim.RepeatCallback("PB-CB"); err != nil {
			t.Fatal(err)
		}
		e.sim.RunDue(ctx)
	}
	if n := e.appliedCount(); n != 1 {
		t.Fatalf("applied %d times after repeats, want 1", n)
	}
	v, _ := e.sim.Order("PB-CB")
	if len(v.Callbacks) != 4 {
		t.Fatalf("deliveries = %d, want 4", len(v.Callbacks))
	}
	for _, d := range v.Callbacks {
		if !d.Delivered || d.Attempts != 1 {
			t.Fatalf("delivery %+v: want acknowledged with SUCCESS at once", d)
		}
	}
}

func TestCallbackRetriedUntilAcknowledged(t *testing.T) {
	e := newEnv(t, nil)
	e.failing = 2
	e.mustCreate("PB-R", MethodVABCA)
	if _, err := e.sim.Pay("PB-R"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, step := range []time.Duration{time.Second, 30 * time.Second, 60 * time.Second} {
		e.clock.Advance(step)
		e.sim.RunDue(ctx)
	}
	v, _ := e.sim.Order("PB-R")
	if n := e.appliedCount(); n != 1 || len(v.Callbacks) != 1 || !v.Callbacks[0].Delivered || v.Callbacks[0].Attempts != 3 {
		t.Fatalf("applied %d, deliveries %+v; want applied once on the third attempt", n, v.Callbacks)
	}
}

func TestCallbackAckIsExactlySUCCESS(t *testing.T) {
	e := newEnv(t, nil)
	body := signedForm(t, platformPriv(t), url.Values{"merchantCode": {testMerchant}, "orderNum": {"PB-A"}, "status": {"SUCCESS"}, "payMoney": {"30000"}})
	resp, err := http.Post(e.hooks.URL, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != CallbackAck || CallbackAck != "SUCCESS" {
		t.Fatalf("ack = %d %q, want 200 \"SUCCESS\"", resp.StatusCode, b)
	}
}

// signedForm signs fields with key and returns the form body.
func signedForm(t testing.TB, key *rsa.PrivateKey, v url.Values) string {
	t.Helper()
	p := Params{}
	for k := range v {
		p[k] = v.Get(k)
	}
	if err := SignParams(key, p, "sign"); err != nil {
		t.Fatal(err)
	}
	v.Set("sign", p["sign"])
	return v.Encode()
}

func TestCallbackForgedRefused(t *testing.T) {
	e := newEnv(t, nil)
	good := url.Values{"merchantCode": {testMerchant}, "orderNum": {"PB-F"}, "status": {"SUCCESS"}, "payMoney": {"30000"}}
	clone := func(edit func(url.Values)) url.Values {
		v := url.Values{}
		for k, vs := range good {
			v[k] = append([]string(nil), vs...)
		}
		edit(v)
		return v
	}
	cases := []struct {
		name  string
		body  string
		ctype string
		want  error
	}{
		{"unsigned", good.Encode(), "application/x-www-form-urlencoded", ErrBadSignature},
		{"merchant key", signedForm(t, merchantPriv(t), clone(func(url.Values) {})), "application/x-www-form-urlencoded", ErrBadSignature},
		{"tampered amount", strings.Replace(signedForm(t, platformPriv(t), clone(func(url.Values) {})), "payMoney=30000", "payMoney=1", 1), "application/x-www-form-urlencoded", ErrBadSignature},
		{"another merchant", signedForm(t, platformPriv(t), clone(func(v url.Values) { v.Set("merchantCode", "OTHER") })), "application/x-www-form-urlencoded", ErrBadCallback},
		{"no order", signedForm(t, platformPriv(t), clone(func(v url.Values) { v.Del("orderNum") })), "application/x-www-form-urlencoded", ErrBadCallback},
		{"no status", signedForm(t, platformPriv(t), clone(func(v url.Values) { v.Del("status") })), "application/x-www-form-urlencoded", ErrBadCallback},
		{"decimal amount", signedForm(t, platformPriv(t), clone(func(v url.Values) { v.Set("payMoney", "30000.5") })), "application/x-www-form-urlencoded", ErrBadCallback},
		{"json", `{"orderNum":"PB-F"}`, "application/json", ErrBadCallback},
		{"field twice", signedForm(t, platformPriv(t), clone(func(url.Values) {})) + "&status=SUCCESS", "", ErrBadCallback},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.client.ParseCallback([]byte(tc.body), tc.ctype); !errors.Is(err, tc.want) {
				t.Fatalf("ParseCallback = %v, want %v", err, tc.want)
			}
			resp, err := http.Post(e.hooks.URL, tc.ctype, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "SUCCESS") {
				t.Fatalf("handler answered %d %q, want 400 without SUCCESS", resp.StatusCode, b)
			}
		})
	}
	if n := e.appliedCount(); n != 0 {
		t.Fatalf("applied %d forged callbacks", n)
	}
	// The genuine one passes.
	cb, err := e.client.ParseCallback([]byte(signedForm(t, platformPriv(t), good)), "application/x-www-form-urlencoded; charset=utf-8")
	if err != nil || cb.State != StatePaid {
		t.Fatalf("genuine callback = %+v, %v", cb, err)
	}
}

func TestConfig(t *testing.T) {
	priv, plat := keyFiles(t)
	ok := Config{BaseURL: "https://gw.example", MerchantCode: testMerchant, PrivateKeyFile: priv, PlatformPublicKeyFile: plat, Logger: quietLogger()}
	open := filepath.Join(t.TempDir(), "open.pem")
	if err := os.WriteFile(open, readTestdata(t, "merchant_private.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"ok", func(*Config) {}, ""},
		{"prefix and paths", func(c *Config) { c.BaseURL = "https://gw.example/v2/"; c.Paths = Paths{Create: "/pay"} }, ""},
		{"no url", func(c *Config) { c.BaseURL = "" }, "base_url"},
		{"http", func(c *Config) { c.BaseURL = "http://gw.example" }, "base_url"},
		{"credentials", func(c *Config) { c.BaseURL = "https://u:p@gw.example" }, "base_url"},
		{"merchant", func(c *Config) { c.MerchantCode = "" }, "merchant_code"},
		{"merchant space", func(c *Config) { c.MerchantCode = "a b" }, "merchant_code"},
		{"no private key", func(c *Config) { c.PrivateKeyFile = "" }, "private_key_file"},
		{"open private key", func(c *Config) { c.PrivateKeyFile = open }, "private_key_file"},
		{"public as private", func(c *Config) { c.PrivateKeyFile = plat }, "private_key_file"},
		{"no platform key", func(c *Config) { c.PlatformPublicKeyFile = "" }, "platform_public_key_file"},
		{"path", func(c *Config) { c.Paths.Query = "query" }, "paths.query"},
		{"same paths", func(c *Config) { c.Paths = Paths{Create: "/x", Query: "/x"} }, "paths"},
		{"field clash", func(c *Config) { c.Fields.Amount = "status" }, "fields.amount"},
		{"field dup", func(c *Config) { c.Fields.VANumber = "orderNum" }, "fields.va_number"},
		{"notify", func(c *Config) { c.NotifyURL = "nope" }, "notify_url"},
		{"grace", func(c *Config) { c.ExpiryGrace = -time.Second }, "expiry_grace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			c, err := New(cfg)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("New = %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrInvalidConfig) || c != nil {
				t.Fatalf("New = %v, want a ConfigError on %s", err, tc.field)
			}
		})
	}
	c, err := New(Config{BaseURL: "https://gw.example/v2/", MerchantCode: "M", PrivateKeyFile: priv, PlatformPublicKeyFile: plat, Paths: Paths{Create: "/pay"}})
	if err != nil || c.createURL != "https://gw.example/v2/pay" || c.queryURL != "https://gw.example/v2/api/payment/query" {
		t.Fatalf("URLs = %q %q, %v", c.createURL, c.queryURL, err)
	}
}

func TestConfiguredFieldNames(t *testing.T) {
	// The emulator speaks the defaults; a client configured otherwise must
	// send the configured names (checked on the emulator's request log).
	e := newEnv(t, func(c *Config) { c.Fields.Amount = "amount"; c.Fields.OrderNo = "merchantOrderNo" })
	_, err := e.create("PB-CFG", MethodQRIS)
	if err == nil {
		t.Fatal("the emulator accepted renamed fields")
	}
	reqs := e.sim.Requests("create", "")
	if len(reqs) != 1 || reqs[0].Params["amount"] != "30000" || reqs[0].Params["merchantOrderNo"] != "PB-CFG" {
		t.Fatalf("sent %+v", reqs)
	}
}
