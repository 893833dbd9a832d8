package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.bug.st/serial"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/idpay"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/internal/secretfile"
	"github.com/posbridge/posbridge/store"
)

// checkResult is one line of `posbridge check`: passed (ok says what was
// found), failed (err) or skipped (skipped says why; not a failure).
type checkResult struct {
	name    string
	err     error
	ok      string
	skipped string
}

// skippedWithoutConfig are the checks that need a configuration that loads.
var skippedWithoutConfig = []string{"token file", "private key", "gateway key", "database", "listen address", "codepay"}

// cmdCheck validates a configuration and its surroundings, one line per check.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (required)")
	offline := fs.Bool("offline", false, "skip the signed call that proves the CodePay credentials")
	if code, done := parseCommand("check", fs, args, stdout, stderr, fs.Parse); done {
		return code
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "posbridge check: --config FILE is required")
		return exitUsage
	}
	results := runChecks(ctx, *cfgPath, *offline, true)
	failed, skipped := 0, 0
	for _, r := range results {
		switch {
		case r.err != nil:
			failed++
			fmt.Fprintf(stdout, "FAIL  %-18s %v\n", r.name, r.err)
		case r.skipped != "":
			skipped++
			fmt.Fprintf(stdout, "skip  %-18s skipped: %s\n", r.name, r.skipped)
		default:
			fmt.Fprintf(stdout, "ok    %-18s %s\n", r.name, r.ok)
		}
	}
	ran := len(results) - skipped
	var skipNote string
	if skipped > 0 {
		skipNote = fmt.Sprintf(", %d skipped", skipped)
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d of %d checks failed%s\n", failed, ran, skipNote)
		return exitFailure
	}
	fmt.Fprintf(stdout, "all %d checks passed%s\n", ran, skipNote)
	return exitOK
}

// runChecks runs the checks in order; later checks that need an earlier
// result are skipped when it failed. listenFree is false when the agent is
// expected to be running (so its port is in use).
func runChecks(ctx context.Context, cfgPath string, offline, listenFree bool) []checkResult {
	var out []checkResult
	add := func(name, ok string, err error) bool {
		out = append(out, checkResult{name: name, ok: ok, err: err})
		return err == nil
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		// One line per problem: a file with several gets them all at once.
		for _, p := range config.Problems(err) {
			add("config", "", p)
		}
		for _, name := range skippedWithoutConfig {
			out = append(out, checkResult{name: name, skipped: "the configuration above must be fixed first"})
		}
		return out
	}
	add("config", fmt.Sprintf("%s (%d terminals, %d ECRs)", cfgPath, len(cfg.Terminals), len(cfg.ECRs)), nil)
	if toks, err := readTokens(cfg.Agent.TokenFile); err != nil {
		add("token file", "", err)
	} else {
		add("token file", fmt.Sprintf("%s (%d tokens)", cfg.Agent.TokenFile, len(toks)), nil)
	}
	keysOK := true
	if b, err := secretfile.Read(cfg.CodePay.PrivateKeyFile); err != nil {
		keysOK = add("private key", "", fmt.Errorf("codepay.private_key_file: %w", err))
	} else if k, err := codepay.ParsePrivateKey(b); err != nil {
		keysOK = add("private key", "", fmt.Errorf("codepay.private_key_file %s: %w", cfg.CodePay.PrivateKeyFile, err))
	} else {
		add("private key", fmt.Sprintf("RSA %d bits, %s", k.N.BitLen(), cfg.CodePay.PrivateKeyFile), nil)
	}
	if b, err := os.ReadFile(cfg.CodePay.GatewayPublicKeyFile); err != nil {
		keysOK = add("gateway key", "", fmt.Errorf("codepay.gateway_public_key_file: %w", err)) && keysOK
	} else if k, err := codepay.ParsePublicKey(b); err != nil {
		keysOK = add("gateway key", "", fmt.Errorf("codepay.gateway_public_key_file %s: %w", cfg.CodePay.GatewayPublicKeyFile, err)) && keysOK
	} else {
		add("gateway key", fmt.Sprintf("RSA %d bits", k.N.BitLen()), nil)
	}
	if b := cfg.Bindo; b != nil {
		for _, f := range []struct{ field, path string }{{"bindo.password_file", b.PasswordFile}, {"bindo.webhook_secret_file", b.WebhookSecretFile}} {
			if f.path == "" {
				continue
			}
			if _, err := readSecret(f.field, f.path); err != nil {
				add("bindo secrets", "", err)
			} else {
				add("bindo secrets", f.path, nil)
			}
		}
	}
	if cfg.QRWallet != nil {
		out = append(out, checkQRWallet(cfg.QRWallet))
	}
	if cfg.IDPay != nil {
		out = append(out, checkIDPay(cfg.IDPay))
	}
	add("database", "", nil)
	out[len(out)-1] = checkDatabase(ctx, cfg.Agent.DataDir)
	for i, e := range cfg.ECRs {
		if e.Serial == "" {
			continue
		}
		add(fmt.Sprintf("ecr[%d] port", i), e.Serial, serialPresent(e.Serial))
	}
	if listenFree {
		ln, err := net.Listen("tcp", cfg.Agent.Listen)
		if err != nil {
			add("listen address", "", fmt.Errorf("agent.listen %s is not free: %w (is posbridge already running? stop it or choose another port)", cfg.Agent.Listen, err))
		} else {
			ln.Close()
			add("listen address", cfg.Agent.Listen+" is free", nil)
		}
	}
	switch {
	case offline:
		out = append(out, checkResult{name: "codepay", skipped: "--offline (the signed call that proves the credentials was not made)"})
	case !keysOK:
		out = append(out, checkResult{name: "codepay", skipped: "the keys above must be fixed first"})
	default:
		add("codepay", "", nil)
		out[len(out)-1] = checkCodePay(ctx, cfg)
	}
	return out
}

// checkQRWallet checks [qrwallet] offline: the password file is readable
// by this user only and the client accepts the table.
func checkQRWallet(q *config.QRWallet) checkResult {
	r := checkResult{name: "qrwallet"}
	if _, err := newQRWallet(q, newLogger(io.Discard, false)); err != nil {
		r.err = err
		return r
	}
	r.ok = fmt.Sprintf("method qr via %s (store %s, %s; password from %s)", q.BaseURL, q.StoreID, q.Currency, q.PasswordFile)
	return r
}

// checkIDPay checks [idpay] offline: the merchant private key is readable
// by this user only and parses, the platform key parses, and the client
// accepts the table.
func checkIDPay(ic *config.IDPay) checkResult {
	r := checkResult{name: "idpay"}
	b, err := secretfile.Read(ic.PrivateKeyFile)
	if err != nil {
		r.err = fmt.Errorf("idpay.private_key_file: %w", err)
		return r
	}
	k, err := idpay.ParsePrivateKey(b)
	if err != nil {
		r.err = fmt.Errorf("idpay.private_key_file %s: %w", ic.PrivateKeyFile, err)
		return r
	}
	if b, err = os.ReadFile(ic.PlatformPublicKeyFile); err == nil {
		_, err = idpay.ParsePublicKey(b)
	}
	if err != nil {
		r.err = fmt.Errorf("idpay.platform_public_key_file %s: %w", ic.PlatformPublicKeyFile, err)
		return r
	}
	if _, err := newIDPay(ic, newLogger(io.Discard, false)); err != nil {
		r.err = err
		return r
	}
	hooks := "no notify_url: followed by polling only"
	if ic.NotifyURL != "" {
		hooks = "callbacks to " + ic.NotifyURL
	}
	r.ok = fmt.Sprintf("method va via %s (merchant %s, RSA %d bits; %s)", ic.BaseURL, ic.MerchantCode, k.N.BitLen(), hooks)
	return r
}

func checkDatabase(ctx context.Context, dir string) checkResult {
	r := checkResult{name: "database"}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		r.err = fmt.Errorf("agent.data_dir %s cannot be created: %w", dir, err)
		return r
	}
	path := filepath.Join(dir, "posbridge.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		if errors.Is(err, store.ErrNewerSchema) {
			r.err = fmt.Errorf("%s was written by a newer posbridge: %w; install that version or newer", path, err)
		} else {
			r.err = fmt.Errorf("%s: %w", path, err)
		}
		return r
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		r.err = fmt.Errorf("%s is not writable: %w", path, err)
		return r
	}
	r.ok = path + " is writable"
	return r
}

func serialPresent(name string) error {
	if runtime.GOOS == "windows" {
		ports, err := serial.GetPortsList()
		if err != nil {
			return fmt.Errorf("list serial ports: %w", err)
		}
		for _, p := range ports {
			if strings.EqualFold(p, name) {
				return nil
			}
		}
		return fmt.Errorf("serial port %s not found (present: %s)", name, strings.Join(ports, ", "))
	}
	if _, err := os.Stat(name); err != nil {
		return fmt.Errorf("serial port %s not found: %w (is the USB adapter plugged in?)", name, err)
	}
	return nil
}

// checkCodePay proves the credentials with one harmless signed call: a query
// for an order that does not exist. A verified gateway answer that is not an
// authentication or signature refusal proves app_id, merchant_no and both keys.
func checkCodePay(ctx context.Context, cfg *config.Config) checkResult {
	r := checkResult{name: "codepay"}
	priv, pub, err := codepay.LoadKeys(cfg.CodePay.PrivateKeyFile, cfg.CodePay.GatewayPublicKeyFile)
	if err != nil {
		r.err = err
		return r
	}
	c, err := codepay.New(codepay.Config{
		GatewayURL: cfg.CodePay.GatewayURL, AppID: cfg.CodePay.AppID, MerchantNo: cfg.CodePay.MerchantNo, StoreNo: cfg.CodePay.StoreNo,
		PrivateKey: priv, GatewayPublicKey: pub, AllowInsecureHTTP: cfg.CodePay.AllowInsecureHTTP,
		Logger: newLogger(io.Discard, false),
	})
	if err != nil {
		r.err = err
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	probe := "PBCHECK" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	_, err = c.QueryOrder(ctx, probe, "")
	var (
		ge *codepay.GatewayError
		he *codepay.HTTPError
	)
	switch {
	case err == nil:
		r.ok = "credentials accepted by " + cfg.CodePay.GatewayURL
	case errors.As(err, &ge) && !authRefusal(ge):
		r.ok = fmt.Sprintf("credentials accepted by %s (signed answer %s: %s)", cfg.CodePay.GatewayURL, ge.Code, ge.Msg)
	case errors.As(err, &ge):
		r.err = fmt.Errorf("CodePay refused the credentials (%s: %s): check app_id, merchant_no and that the app public key uploaded to CodePay matches private_key_file", ge.Code, ge.Msg)
	case errors.As(err, &he) && (he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden):
		r.err = fmt.Errorf("CodePay refused the call with HTTP %d (%s): check app_id, merchant_no and the gateway_url's environment", he.Status, he.Text)
	case errors.Is(err, codepay.ErrBadSignature):
		r.err = fmt.Errorf("the answer's signature does not verify with gateway_public_key_file: is it the key of %s? (%v)", cfg.CodePay.GatewayURL, err)
	default:
		r.err = fmt.Errorf("CodePay could not be reached at %s: %w", cfg.CodePay.GatewayURL, err)
	}
	return r
}

// authRefusal reports whether a refusal is about who is calling rather than
// the (deliberately unknown) order.
func authRefusal(ge *codepay.GatewayError) bool {
	msg := strings.ToLower(ge.Msg)
	for _, w := range []string{"sign", "auth", "app_id", "merchant_no", "permission", "forbidden", "timestamp"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}
