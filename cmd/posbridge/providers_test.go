package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/cloud/qrwallet"
	"github.com/posbridge/posbridge/internal/config"
)

// appendProviders adds [qrwallet] and [idpay] tables to e's configuration,
// with a password file and demo key pairs in e.dir.
func appendProviders(t *testing.T, e *checkEnv) (passFile, privFile string) {
	t.Helper()
	keys, err := ensureDemoIDPayKeys(filepath.Join(e.dir, "idpay"))
	if err != nil {
		t.Fatal(err)
	}
	passFile = filepath.Join(e.dir, "qrwallet_password")
	if err := os.WriteFile(passFile, []byte("wallet-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(e.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `
[qrwallet]
base_url = "https://wallet.example.com"
user = "merchant"
password_file = %q
store_id = "109038"
currency = "USD"

[idpay]
base_url = "https://gateway.example.co.id"
merchant_code = "M2026TEST01"
private_key_file = %q
platform_public_key_file = %q
notify_url = "https://pos.example.com/hooks/idpay"
`, passFile, keys.merchantPrivFile, keys.platformPubFile)
	f.Close()
	return passFile, keys.merchantPrivFile
}

func TestCheckProviders(t *testing.T) {
	e := newCheckEnv(t)
	appendProviders(t, e)
	code, out := runCheck(t, "--config", e.cfg, "--offline")
	if code != 0 || !strings.Contains(out, "ok    qrwallet           method qr via https://wallet.example.com") ||
		!strings.Contains(out, "ok    idpay              method va via https://gateway.example.co.id") ||
		!strings.Contains(out, "callbacks to https://pos.example.com/hooks/idpay") {
		t.Fatalf("check = %d\n%s", code, out)
	}
	if strings.Contains(out, "wallet-secret") {
		t.Fatalf("check printed the password:\n%s", out)
	}
}

func TestCheckProvidersLooseFiles(t *testing.T) {
	for _, which := range []string{"qrwallet", "idpay"} {
		t.Run(which, func(t *testing.T) {
			e := newCheckEnv(t)
			pass, priv := appendProviders(t, e)
			loose := map[string]string{"qrwallet": pass, "idpay": priv}[which]
			if err := os.Chmod(loose, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := runCheck(t, "--config", e.cfg, "--offline")
			if code != exitFailure || !strings.Contains(out, "FAIL  "+which) || !strings.Contains(out, which+".") {
				t.Fatalf("check = %d, want FAIL %s:\n%s", code, which, out)
			}
		})
	}
}

func TestNewProvidersWiring(t *testing.T) {
	e := newCheckEnv(t)
	appendProviders(t, e)
	cfg, err := config.Load(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := newLogger(new(strings.Builder), false)
	p, err := newProviders(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if p.qr == nil || p.id == nil || p.idHooks == nil || p.qr.Currency().Code != "USD" {
		t.Fatalf("providers = %+v", p)
	}
	// Without notify_url the callbacks endpoint stays off (as /hooks/codepay).
	cfg.IDPay.NotifyURL = ""
	if p, err = newProviders(cfg, log); err != nil || p.id == nil || p.idHooks != nil {
		t.Fatalf("providers without notify_url = %+v, %v", p, err)
	}
	// Neither table: nothing configured.
	cfg.QRWallet, cfg.IDPay = nil, nil
	if p, err = newProviders(cfg, log); err != nil || p.qr != nil || p.id != nil {
		t.Fatalf("providers without tables = %+v, %v", p, err)
	}
}

// TestAppAcceptsProviderMethods builds the app from a file with both
// tables: methods qr and va reach their providers' validation (a wrong
// qr_mode or va_method is refused for itself, not as "not configured"),
// without anything being sent.
func TestAppAcceptsProviderMethods(t *testing.T) {
	e := newCheckEnv(t)
	appendProviders(t, e)
	cfg, err := config.Load(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, newLogger(new(strings.Builder), false), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.db.Close()
	defer a.ln.Close()
	ctx := context.Background()
	for _, r := range []agent.CreateRequest{
		{MerchantOrderNo: "Q1", Method: agent.MethodQR, QRMode: "bogus", Amount: "1.00", Currency: "USD", Source: agent.SourceWS},
		{MerchantOrderNo: "V1", Method: agent.MethodVA, VAMethod: "BOGUS", Amount: "1000", Currency: "IDR", Source: agent.SourceWS},
	} {
		_, err := a.agent.Create(ctx, r)
		var fe *agent.FieldError
		if !errors.As(err, &fe) || fe.Field == "method" {
			t.Errorf("create %s = %v, want a method-specific field error", r.Method, err)
		}
	}
}

// TestProviderConfigDefaultsMatchClients: internal/config may not import the
// provider clients, so it repeats their defaults for the file's keys; this
// keeps the two from drifting apart.
func TestProviderConfigDefaultsMatchClients(t *testing.T) {
	pairs := []struct {
		name           string
		config, client any
	}{
		{"native service id", config.DefaultQRNativeServiceID, qrwallet.DefaultNativeServiceID},
		{"quick pay service id", config.DefaultQRQuickPayServiceID, qrwallet.DefaultQuickPayServiceID},
		{"token ttl", config.DefaultQRTokenTTL, qrwallet.DefaultTokenTTL},
		{"token refresh margin", config.DefaultQRTokenRefreshMargin, qrwallet.DefaultTokenRefreshMargin},
		{"http timeout", config.DefaultQRHTTPTimeout, qrwallet.DefaultHTTPTimeout},
		{"quick pay timeout", config.DefaultQRQuickPayTimeout, qrwallet.DefaultQuickPayTimeout},
		{"poll interval", config.DefaultQRPollInterval, qrwallet.DefaultPollInterval},
		{"poll total", config.DefaultQRPollTotal, qrwallet.DefaultPollTotal},
		{"qr lifetime", config.DefaultQRLifetime, qrwallet.DefaultQRLifetime},
		{"customer code min", config.DefaultQRCustomerCodeMinLen, qrwallet.DefaultCustomerCodeMinLen},
		{"customer code max", config.DefaultQRCustomerCodeMaxLen, qrwallet.DefaultCustomerCodeMaxLen},
	}
	for _, p := range pairs {
		if fmt.Sprint(p.config) != fmt.Sprint(p.client) {
			t.Errorf("%s: config default %v, client default %v", p.name, p.config, p.client)
		}
	}
}
