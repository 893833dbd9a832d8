package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/cloud/idpay"
	"github.com/posbridge/posbridge/cloud/idpay/idpaysim"
	"github.com/posbridge/posbridge/cloud/qrwallet/qrwalletsim"
	"github.com/posbridge/posbridge/internal/config"
)

// Demo identities: the emulator accepts exactly these.
const (
	demoAppID      = "wzdemo0000000001"
	demoMerchantNo = "302300000001"
	demoStoreNo    = "402300000001"
	demoOnline     = "DEMO000001"
	demoOffline    = "DEMO000002"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8765", "address of the agent's HTTP and WebSocket listener")
	dataDir := fs.String("data", "", "data directory (default: a new temporary directory)")
	debug := fs.Bool("debug", false, "log at debug level")
	var zvt demoZVT
	fs.StringVar(&zvt.tcp, "zvt-tcp", defaultZVTTCP, `address of the ZVT TCP listener for ECRs ("" or "off" disables it)`)
	fs.StringVar(&zvt.serial, "zvt-serial", "", "serial port of a ZVT ECR, e.g. /dev/ttyUSB0 or COM3 (9600 8N2)")
	linkProvider := fs.String("link-provider", config.LinkProviderCodePay, `pay-by-link provider: "codepay" (hosted checkout) or "bindo" (pre-create)`)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *linkProvider != config.LinkProviderCodePay && *linkProvider != config.LinkProviderBindo {
		fmt.Fprintf(stderr, "posbridge demo: --link-provider %q: want codepay or bindo\n", *linkProvider)
		return exitUsage
	}
	fs.Visit(func(f *flag.Flag) { zvt.tcpSet = zvt.tcpSet || f.Name == "zvt-tcp" })
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "posbridge demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if err := runDemo(ctx, *listen, *dataDir, *debug, zvt, *linkProvider, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "posbridge demo: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func runDemo(ctx context.Context, listen, dataDir string, debug bool, zvt demoZVT, linkProvider string, stdout, stderr io.Writer) error {
	if dataDir == "" {
		d, err := os.MkdirTemp("", "posbridge-demo-")
		if err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
		dataDir = d
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("resolve data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	log := newLogger(stderr, debug)

	// The embedded CodePay cloud, on its own loopback port, over real HTTP.
	keys, err := codepaysim.EnsureKeys(filepath.Join(dataDir, "codepay-sim"))
	if err != nil {
		return fmt.Errorf("emulator keys: %w", err)
	}
	sim, err := codepaysim.New(codepaysim.Config{
		AppID: demoAppID, MerchantNo: demoMerchantNo, StoreNo: demoStoreNo,
		AppPublicKey: keys.AppPublic, GatewayKey: keys.GatewayPrivate,
		Terminals: []codepaysim.TerminalConfig{{SN: demoOnline, Online: true}, {SN: demoOffline, Online: false}},
		Logger:    log,
	})
	if err != nil {
		return fmt.Errorf("start emulator: %w", err)
	}
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("emulator listener: %w", err)
	}
	defer simLn.Close() // in case the supervisor never serves it
	simSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	// The emulators run under the app's supervisor, in the last stage: they
	// outlive the agent while it stops.
	emulators := []part{
		{name: "CodePay emulator", serve: sim.Serve},
		httpPart("CodePay emulator HTTP server", simSrv, simLn, log, nil),
	}

	tokenFile := filepath.Join(dataDir, "token")
	token, err := ensureToken(tokenFile)
	if err != nil {
		return err
	}
	// The agent's listener comes first: the emulators post their
	// notifications and webhooks to it.
	agentLn, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("agent.listen: %w; choose another address with --listen 127.0.0.1:PORT", err)
	}
	bindoCfg, bindoParts, closeBindo, err := startDemoBindo(dataDir, "http://"+agentLn.Addr().String()+"/hooks/bindo", log)
	if err != nil {
		agentLn.Close()
		return err
	}
	defer closeBindo()
	emulators = append(emulators, bindoParts...)
	if linkProvider == config.LinkProviderBindo {
		bindoCfg.LinkClientIP = "127.0.0.1" // X-CLIENT-IP: the customer's address is not known here
	}
	prov, err := startDemoProviders(dataDir, "http://"+agentLn.Addr().String()+"/hooks/idpay", log)
	if err != nil {
		agentLn.Close()
		return err
	}
	defer prov.close()
	emulators = append(emulators, prov.parts...)
	cfg := &config.Config{
		Path: "(demo)",
		Agent: config.Agent{
			Listen: listen, DataDir: dataDir, TokenFile: tokenFile,
		},
		CodePay: config.CodePay{
			GatewayURL: "http://" + simLn.Addr().String(),
			AppID:      demoAppID, MerchantNo: demoMerchantNo, StoreNo: demoStoreNo,
			PrivateKeyFile:       filepath.Join(keys.Dir, "app_private_key.pem"),
			GatewayPublicKeyFile: filepath.Join(keys.Dir, "gateway_public_key.pem"),
			OrderExpires:         config.Duration{Duration: 180 * time.Second},
			PollInterval:         config.Duration{Duration: 500 * time.Millisecond},
			// The emulator posts its signed notifications to the agent, as
			// CodePay does through a store's proxy; polling stays on.
			NotifyURL: "http://" + agentLn.Addr().String() + "/hooks/codepay",
		},
		Bindo:    bindoCfg,
		Link:     config.Link{Provider: linkProvider},
		QRWallet: prov.qr,
		IDPay:    prov.id,
		Fallback: config.Fallback{Mode: "auto", OfflineGrace: config.Duration{Duration: 20 * time.Second}, UnreachableGrace: config.Duration{Duration: 15 * time.Second}},
		Terminals: []config.Terminal{
			{SN: demoOnline, Lane: "1", Name: "Demo counter (online)", Currency: "USD"},
			{SN: demoOffline, Lane: "2", Name: "Demo back office (offline)", Currency: "USD"},
		},
	}
	cfg.ECRs = zvt.ecrs(log)
	a, err := newApp(ctx, cfg, log, agentLn, true)
	if err != nil {
		var addrErr *net.OpError
		if errors.As(err, &addrErr) {
			return fmt.Errorf("%w; choose another address with --listen 127.0.0.1:PORT", err)
		}
		return err
	}
	// Client commands in another terminal find the demo through this file.
	clientFile, stopClient, cerr := writeDemoClient(a.wsURL(), token)
	clientNote := "Client commands in another terminal need --url " + a.wsURL() + " --token " + token
	if cerr != nil {
		log.Warn("the client commands will not find the demo by themselves", "err", cerr)
	} else {
		defer stopClient()
		clientNote = "Client commands in another terminal find this demo by themselves (" + clientFile + "):\n" +
			"  go run ./cmd/posbridge payments list        go run ./cmd/posbridge batch show"
	}
	fmt.Fprintf(stdout, `posbridge demo is running (Ctrl-C stops it)

  Console        %s
  WebSocket API  %s
  Token          %s
  Health         %shealthz
  CodePay cloud  http://%s  (emulator; terminals %s online, %s offline)
  Bindo gateway  %s  (emulator for the native card-present fallback; test card 4111111111111111)
  Data           %s
%s
Take a test payment from another terminal:
  go run ./cmd/posbridge pay --url %s --token %s --amount 12.34

%s

%s

A payment on lane 2 (offline terminal) fails after 20 s with codepay_unavailable; send it
again with the same --order and --track2 4111111111111111=30122011758928889 to take it
through the Bindo fallback. See docs/websocket-api.md for the API and docs/fallback.md for
the fallback.

%s
%s`, a.httpURL(), a.wsURL(), token, a.httpURL(), simLn.Addr(), demoOnline, demoOffline, bindoCfg.GatewayURL, dataDir, zvt.banner(a), a.wsURL(), token,
		clientNote, sandboxBanner(), demoLinkBanner(linkProvider, "http://"+simLn.Addr().String(), bindoCfg), prov.banner())
	return a.serve(ctx, emulators...)
}

// ensureToken reads the token file or creates it with a random token (0600).
func ensureToken(path string) (string, error) {
	if toks, err := config.ReadTokens(path); err == nil {
		return toks[0], nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	tok := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write token file: %w", err)
	}
	return tok, nil
}

// demoLinkBanner is the demo's pay-by-link example for the chosen provider.
func demoLinkBanner(provider, codepayURL string, b *config.Bindo) string {
	const create = `    {"jsonrpc":"2.0","id":4,"method":"payment.create","params":{"merchant_order_no":"LINK1","method":"link","amount":"25.00","currency":"USD","description":"phone order"}}` + "\n"
	if provider == config.LinkProviderBindo {
		uuid := bindo.DeriveUUID(b.StoreID + "/" + b.Username + "/LINK1")
		return "Pay-by-link for phone orders (method link, Bindo pre-create; the answer carries pay_url, trans_no is the Bindo uuid):\n" + create +
			"    pay LINK1 as the customer: curl -X POST " + b.GatewayURL + "/sim/links/" + uuid + ` -d '{"action":"pay"}'   (or open pay_url)` + "\n"
	}
	return "Pay-by-link for phone orders (method link, CodePay hosted checkout; the answer carries pay_url;\n" +
		"--link-provider bindo uses Bindo pre-create instead):\n" + create +
		"    pay LINK1 as the customer: curl -X POST " + codepayURL + `/sim/checkout/LINK1 -d '{"action":"pay"}'   (or open pay_url)` + "\n"
}

// startDemoBindo binds the Bindo gateway emulator to a loopback port and
// returns the [bindo] configuration that points the agent at it, the parts
// that serve it (run by the app's supervisor) and a function that releases
// the port.
func startDemoBindo(dataDir, webhookURL string, log *slog.Logger) (*config.Bindo, []part, func(), error) {
	const user, pass, clientID, clientSecret, secret = "demo@posbridge.local", "demo-password", "demo-client", "demo-client-secret", "demo-webhook-secret"
	sim, err := bindosim.New(bindosim.Config{StoreID: "8527", Username: user, Password: pass, ClientID: clientID, ClientSecret: clientSecret,
		WebhookURL: webhookURL, WebhookSecret: secret, Logger: log})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("start Bindo emulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listen for the Bindo emulator: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	passFile, secretFile := filepath.Join(dataDir, "bindo_password"), filepath.Join(dataDir, "bindo_webhook_secret")
	for f, v := range map[string]string{passFile: pass, secretFile: secret} {
		if err := os.WriteFile(f, []byte(v+"\n"), 0o600); err != nil {
			ln.Close()
			return nil, nil, nil, fmt.Errorf("write %s: %w", f, err)
		}
	}
	url := "http://" + ln.Addr().String()
	parts := []part{
		{name: "Bindo emulator", serve: sim.Serve},
		httpPart("Bindo emulator HTTP server", srv, ln, log, nil),
	}
	return &config.Bindo{GatewayURL: url, LoginURL: url, StoreID: "8527", Username: user, PasswordFile: passFile,
			ClientID: clientID, ClientSecret: clientSecret, WebhookSecretFile: secretFile},
		parts, func() { ln.Close() }, nil
}

// defaultZVTTCP is the demo's ZVT listener (PA00P016's port 20007, loopback).
const defaultZVTTCP = "127.0.0.1:20007"

// demoZVT is the demo's legacy-ECR side: a ZVT TCP listener and optionally
// a serial port, both paying on the online demo terminal.
type demoZVT struct {
	tcp, serial string
	tcpSet      bool // --zvt-tcp given explicitly
}

// ecrs returns the [[ecr]] entries. The default TCP address is skipped with
// a warning when another program holds it; an explicit one must work.
func (z demoZVT) ecrs(log *slog.Logger) []config.ECR {
	var out []config.ECR
	if z.tcp != "" && z.tcp != "off" {
		ok := true
		if !z.tcpSet {
			if ln, err := net.Listen("tcp", z.tcp); err != nil {
				log.Warn("ZVT TCP listener disabled: the default address is in use; choose one with --zvt-tcp", "addr", z.tcp, "err", err)
				ok = false
			} else {
				ln.Close()
			}
		}
		if ok {
			out = append(out, config.ECR{Protocol: "zvt", TCPListen: z.tcp, TerminalSN: demoOnline})
		}
	}
	if z.serial != "" {
		e := config.ECR{Protocol: config.ECRProtocolZVT, Serial: z.serial, TerminalSN: demoOnline}
		e.SetDefaults() // 9600 8N2
		out = append(out, e)
	}
	return out
}

// banner lists the ZVT endpoints for the start-up text.
func (z demoZVT) banner(a *app) string {
	var b strings.Builder
	for _, addr := range a.ecr.TCPAddrs() {
		fmt.Fprintf(&b, "  ZVT (TCP)      %s  (ECRs pay on %s; see docs/zvt.md)\n", addr, demoOnline)
	}
	if z.serial != "" {
		fmt.Fprintf(&b, "  ZVT (serial)   %s  9600 8N2  (ECR pays on %s)\n", z.serial, demoOnline)
	}
	return b.String()
}

// demoProviders are the demo's QR wallet and VA/QRIS gateway emulators: the
// tables that point the agent at them and the parts that serve them.
type demoProviders struct {
	qr           *config.QRWallet
	id           *config.IDPay
	qrURL, idURL string
	parts        []part
	lns          []net.Listener
}

// close releases the emulators' ports (in case the supervisor never serves them).
func (d *demoProviders) close() {
	for _, ln := range d.lns {
		ln.Close()
	}
}

// startDemoProviders binds the QR wallet emulator (method qr) and the
// VA/QRIS gateway emulator (method va) to loopback ports; the gateway posts
// its callbacks to notifyURL, the agent's /hooks/idpay.
func startDemoProviders(dataDir, notifyURL string, log *slog.Logger) (*demoProviders, error) {
	d := &demoProviders{}
	listen := func() (net.Listener, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			d.lns = append(d.lns, ln)
		}
		return ln, err
	}
	qs, err := qrwalletsim.New(qrwalletsim.Config{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("start QR wallet emulator: %w", err)
	}
	qln, err := listen()
	if err != nil {
		return nil, fmt.Errorf("listen for the QR wallet emulator: %w", err)
	}
	d.qrURL = "http://" + qln.Addr().String()
	passFile := filepath.Join(dataDir, "qrwallet_password")
	if err := os.WriteFile(passFile, []byte(qrwalletsim.DefaultPassword+"\n"), 0o600); err != nil {
		d.close()
		return nil, fmt.Errorf("write %s: %w", passFile, err)
	}
	d.qr = &config.QRWallet{BaseURL: d.qrURL, User: qrwalletsim.DefaultUser, PasswordFile: passFile,
		StoreID: qrwalletsim.DefaultStoreID, Currency: qrwalletsim.DefaultCurrency, PollInterval: config.Duration{Duration: time.Second}}
	keys, err := ensureDemoIDPayKeys(filepath.Join(dataDir, "idpay-sim"))
	if err != nil {
		d.close()
		return nil, err
	}
	is, err := idpaysim.New(idpaysim.Config{MerchantCode: demoIDPayMerchant, MerchantPublicKey: keys.merchantPub, PlatformKey: keys.platformPriv, Logger: log})
	if err != nil {
		d.close()
		return nil, fmt.Errorf("start VA/QRIS gateway emulator: %w", err)
	}
	iln, err := listen()
	if err != nil {
		d.close()
		return nil, fmt.Errorf("listen for the VA/QRIS gateway emulator: %w", err)
	}
	d.idURL = "http://" + iln.Addr().String()
	d.id = &config.IDPay{BaseURL: d.idURL, MerchantCode: demoIDPayMerchant, PrivateKeyFile: keys.merchantPrivFile,
		PlatformPublicKeyFile: keys.platformPubFile, NotifyURL: notifyURL, DefaultName: "Posbridge Demo"}
	d.parts = []part{
		httpPart("QR wallet emulator HTTP server", &http.Server{Handler: qs, ReadHeaderTimeout: 10 * time.Second}, qln, log, nil),
		{name: "VA/QRIS gateway emulator", serve: is.Serve},
		httpPart("VA/QRIS gateway emulator HTTP server", &http.Server{Handler: is, ReadHeaderTimeout: 10 * time.Second}, iln, log, nil),
	}
	return d, nil
}

// banner tells how to try methods qr and va, and where to pay as the customer.
func (d *demoProviders) banner() string {
	return fmt.Sprintf(`
Other payment methods (docs/providers.md), as JSON-RPC over the WebSocket API:
  QR wallet      %[1]s  (emulator; method qr, USD)
    {"jsonrpc":"2.0","id":1,"method":"payment.create","params":{"merchant_order_no":"QR1","method":"qr","amount":"5.00","currency":"USD"}}
    {"jsonrpc":"2.0","id":2,"method":"payment.create","params":{"merchant_order_no":"QR2","method":"qr","qr_mode":"quick","customer_code":"134567890123456789","amount":"3.00","currency":"USD"}}
    pay QR1 as the customer: curl -X POST %[1]s/sim/payments/QR1/scan   (admin: %[1]s/sim/)
  VA/QRIS gateway %[2]s  (emulator; method va, whole IDR)
    {"jsonrpc":"2.0","id":3,"method":"payment.create","params":{"merchant_order_no":"VA1","method":"va","va_method":"VA_BCA","amount":"30000","currency":"IDR"}}
    pay VA1 as the customer: curl -X POST %[2]s/sim/orders/VA1/pay   (admin: %[2]s/sim/)
`, d.qrURL, d.idURL)
}

// demoIDPayMerchant is the demo's VA/QRIS gateway merchant code.
const demoIDPayMerchant = "DEMOMERCHANT01"

// demoIDPayKeys are the demo's VA/QRIS gateway key pairs.
type demoIDPayKeys struct {
	merchantPrivFile, platformPubFile string
	merchantPub                       *rsa.PublicKey
	platformPriv                      *rsa.PrivateKey
}

// ensureDemoIDPayKeys reads or creates (0600, in dir) the merchant and
// platform key pairs the demo's gateway emulator and the agent share.
func ensureDemoIDPayKeys(dir string) (*demoIDPayKeys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("VA/QRIS emulator keys: %w", err)
	}
	k := &demoIDPayKeys{merchantPrivFile: filepath.Join(dir, "merchant_private.pem"), platformPubFile: filepath.Join(dir, "platform_public.pem")}
	merchant, err := ensureRSAKey(k.merchantPrivFile, filepath.Join(dir, "merchant_public.pem"))
	if err != nil {
		return nil, err
	}
	platform, err := ensureRSAKey(filepath.Join(dir, "platform_private.pem"), k.platformPubFile)
	if err != nil {
		return nil, err
	}
	k.merchantPub, k.platformPriv = &merchant.PublicKey, platform
	return k, nil
}

// ensureRSAKey reads the PEM private key at privFile or creates it (PKCS#8)
// with its public key (PKIX) at pubFile.
func ensureRSAKey(privFile, pubFile string) (*rsa.PrivateKey, error) {
	if b, err := os.ReadFile(privFile); err == nil {
		if _, err := os.Stat(pubFile); err == nil {
			if k, err := idpay.ParsePrivateKey(b); err == nil {
				return k, nil
			}
		}
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", privFile, err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", pubFile, err)
	}
	return k, nil
}

// sandboxOutcome is what posbridge reports for a payment with a magic
// amount of the CodePay emulator (codepaysim.MagicAmounts): its final
// state and error code ("" for none), in short for the banner and in full
// for docs/sandbox.md.
type sandboxOutcome struct {
	state, errorCode string
	short, full      string
}

// sandboxOutcomeOf is the outcome of a payment on an online terminal of
// the demo (fallback auto with [bindo]) with amount m.
func sandboxOutcomeOf(m codepaysim.MagicAmount) sandboxOutcome {
	switch m.Kind {
	case codepaysim.MagicDecline:
		return sandboxOutcome{"declined", m.Code, "declined " + m.Code + " " + m.Message,
			fmt.Sprintf("`declined`, error code `%s`, message %q", m.Code, m.Message)}
	case codepaysim.MagicCancel:
		return sandboxOutcome{"cancelled", "cancelled", "cancelled on the terminal", "`cancelled`"}
	case codepaysim.MagicSlowCustomer:
		return sandboxOutcome{"approved", "", "slow customer: approved 20 s late",
			"`on_terminal` for 20 s longer, then `approved`"}
	case codepaysim.MagicNeverPaid:
		return sandboxOutcome{"expired", "expired", "no card: expired when the order runs out",
			"`on_terminal` until the order runs out (`codepay.order_expires`, 180 s in the demo), then `expired`"}
	case codepaysim.MagicOffline:
		return sandboxOutcome{"failed", "codepay_unavailable", "offline: failed after 20 s, for Bindo",
			"`on_terminal` with the offline notice; after `fallback.offline_grace` (20 s in the demo) withdrawn: `failed`, error code `codepay_unavailable`, ready for the Bindo fallback (without `[bindo]`: `expired` when the order runs out)"}
	case codepaysim.MagicLostAnswer:
		return sandboxOutcome{"approved", "", "lost answer: reconciled, approved",
			"`unknown` until a query finds the order, then `approved`; created once"}
	case codepaysim.MagicSlowGateway:
		return sandboxOutcome{"approved", "", "slow CodePay: approved after 5 s",
			"`sending` for 5 s, then `approved`"}
	case codepaysim.MagicGatewayTimeout:
		return sandboxOutcome{"approved", "", "CodePay timeout: reconciled, approved",
			"`sending` until the 15 s HTTP timeout, `unknown`, then reconciled by query: `approved`; created once"}
	case codepaysim.MagicRefused:
		return sandboxOutcome{"failed", "codepay_refused", "refused by CodePay: failed",
			"`failed`, error code `codepay_refused`; nothing was charged"}
	}
	return sandboxOutcome{state: "approved", short: string(m.Kind), full: string(m.Kind)}
}

// sandboxBanner is the demo's short table of the magic amounts, two columns.
func sandboxBanner() string {
	var b strings.Builder
	b.WriteString("Magic amounts of the CodePay emulator (docs/sandbox.md); any other amount is approved:\n")
	ms := codepaysim.MagicAmounts()
	half := (len(ms) + 1) / 2
	width := 0
	for _, m := range ms[:half] {
		width = max(width, len(sandboxOutcomeOf(m).short))
	}
	for i := range half {
		left := ms[i]
		line := fmt.Sprintf("  %-5s %-*s", left.Label(), width, sandboxOutcomeOf(left).short)
		if j := i + half; j < len(ms) {
			line += fmt.Sprintf("  %-5s %s", ms[j].Label(), sandboxOutcomeOf(ms[j]).short)
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// sandboxMarkdown is the table of docs/sandbox.md, generated from
// codepaysim.MagicAmounts and sandboxOutcomeOf (TestSandboxDocMatchesTable).
func sandboxMarkdown() string {
	var b strings.Builder
	b.WriteString("| amount | the emulator | posbridge reports |\n|---|---|---|\n")
	for _, m := range codepaysim.MagicAmounts() {
		effect := m.Effect
		if m.Kind == codepaysim.MagicDecline {
			effect = fmt.Sprintf("declined on the terminal: status 1, `trans_error_code` `%s`, %q", m.Code, m.Message)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", m.Label(), effect, sandboxOutcomeOf(m).full)
	}
	return b.String()
}
