package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/api/console"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/server"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/idpay"
	"github.com/posbridge/posbridge/cloud/qrwallet"
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/ecr"
	"github.com/posbridge/posbridge/ecr/pt"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/internal/metrics"
	"github.com/posbridge/posbridge/internal/secretfile"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// app is a running agent with its listener.
type app struct {
	cfg      *config.Config
	log      *slog.Logger
	db       *store.DB
	agent    *agent.Agent
	rpc      *rpc.Server
	ln       net.Listener
	httpSrv  *http.Server
	tokens   []string
	cpClient *codepay.Client
	ecr      *ecr.Service // legacy ECRs ([[ecr]]), ZVT
}

// newApp opens the journal, loads keys and wires the parts; it listens but
// serves nothing until serve. ln may be nil to listen on cfg.Agent.Listen;
// demo shows the console's test-sale form.
func newApp(ctx context.Context, cfg *config.Config, log *slog.Logger, ln net.Listener, demo bool) (*app, error) {
	tokens, err := readTokens(cfg.Agent.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("agent.token_file: %w", err)
	}
	if err := codepay.CheckKeyFilePerm(cfg.CodePay.PrivateKeyFile); err != nil {
		return nil, fmt.Errorf("codepay.private_key_file: %w", err)
	}
	priv, pub, err := codepay.LoadKeys(cfg.CodePay.PrivateKeyFile, cfg.CodePay.GatewayPublicKeyFile)
	if err != nil {
		return nil, err
	}
	var mets *metrics.Metrics // created below; the hook reads it lazily
	client, err := codepay.New(codepay.Config{
		GatewayURL:         cfg.CodePay.GatewayURL,
		AppID:              cfg.CodePay.AppID,
		MerchantNo:         cfg.CodePay.MerchantNo,
		StoreNo:            cfg.CodePay.StoreNo,
		PrivateKey:         priv,
		GatewayPublicKey:   pub,
		OrderNotFoundCodes: cfg.CodePay.OrderNotFoundCodes,
		AllowInsecureHTTP:  cfg.CodePay.AllowInsecureHTTP,
		Logger:             log, // the client adds component=codepay
		Observe: func(method string, d time.Duration, err error) {
			if mets != nil {
				mets.ObserveCloud("codepay")(method, d, err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Agent.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent.data_dir: create %s: %w", cfg.Agent.DataDir, err)
	}
	db, err := store.Open(ctx, filepath.Join(cfg.Agent.DataDir, "posbridge.db"))
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	terms := make([]device.Terminal, len(cfg.Terminals))
	for i, t := range cfg.Terminals {
		terms[i] = device.Terminal{SN: t.SN, Lane: t.Lane, Name: t.Name, Currency: money.MustCurrency(t.Currency)}
	}
	notifyURL := cfg.CodePay.NotifyURL
	bindoClient, webhookSecret, err := newBindo(cfg, db, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	var bc agent.Bindo
	var bl agent.BindoLink // follows Bindo links whatever [link] provider says now
	var linkClientIP string
	var bindoLinks server.BindoLinkWebhooks
	if bindoClient != nil {
		bc, bl, linkClientIP = bindoClient, bindoClient, cfg.Bindo.LinkClientIP
		bindoLinks = bindoClient
	}
	prov, err := newProviders(cfg, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	acfg := agent.Config{
		Store: db, CodePay: client, Terminals: terms,
		Link:         client, // method link: CodePay hosted checkout, or Bindo pre-create with [link] provider = "bindo"
		LinkProvider: cfg.Link.Provider, BindoLink: bl, LinkClientIP: linkClientIP,
		OrderExpires: cfg.CodePay.OrderExpires.Duration, PollInterval: cfg.CodePay.PollInterval.Duration,
		QueueTimeout: cfg.CodePay.QueueTimeout.Duration, CreateSettle: cfg.CodePay.CreateSettle.Duration,
		NotifyURL: notifyURL, Logger: log, // the agent adds component=agent
		Bindo: bc, FallbackMode: cfg.Fallback.Mode,
		OfflineGrace: cfg.Fallback.OfflineGrace.Duration, UnreachableGrace: cfg.Fallback.UnreachableGrace.Duration,
		QRWallet: prov.qr, IDPay: prov.id, IDPayExpiry: prov.idExpiry, IDPayDefaultName: prov.idDefaultName,
		LateCheckWindow: cfg.Agent.LateCheckWindow.Duration,
		Receipt:         receiptConfig(cfg.Receipt, demo),
	}
	ag, err := agent.New(acfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db, agent: ag, tokens: tokens, cpClient: client}
	var mu sync.Mutex
	a.rpc, err = rpc.NewServer(rpc.Config{
		Handler:        wsapi.New(ag, log), // wsapi adds component=wsapi
		Tokens:         func() []string { mu.Lock(); defer mu.Unlock(); return a.tokens },
		AllowedOrigins: cfg.Agent.AllowedOrigins,
		Logger:         log, // rpc.NewServer adds component=rpc
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	mets = metrics.New(metrics.Source{Terminals: ag.Terminals, CountPayments: db.CountPayments, CountOpenAlerts: db.CountOpenAlerts, WSConns: a.rpc.Conns, CodePay: ag.CodePayStatus})
	ag.SetMetrics(mets)
	var hooks server.NotificationParser
	if notifyURL != "" {
		hooks = client
	}
	handler := server.Handler(server.Config{
		Agent: ag, RPC: a.rpc, Notifications: hooks, Logger: log,
		Metrics: mets.Handler(), BindoWebhookSecret: webhookSecret, BindoLinks: bindoLinks, IDPay: prov.idHooks,
		Console: console.New(console.Config{Agent: ag, CheckToken: a.rpc.CheckToken, Demo: demo, Version: version, Logger: log,
			StoreName: acfg.Receipt.MerchantName}),
		Ready: func(ctx context.Context) error {
			if err := db.Ping(ctx); err != nil {
				return fmt.Errorf("database not writable: %w", err)
			}
			return server.CodePayReady(ctx, ag)
		},
	})
	if ln == nil {
		ln, err = net.Listen("tcp", cfg.Agent.Listen)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("agent.listen: %w (is another posbridge running?)", err)
		}
	}
	a.ln = ln
	// Legacy ECRs: bind their TCP listeners now (a busy port fails the start)
	// and find ECR payments left running, before the agent reconciles them.
	if a.ecr, err = ecr.New(ecr.Config{Agent: ag, PT: pt.Config{Memory: store.ECRMemory{DB: db}}, ECRs: cfg.ECRs, Logger: log, FrameError: mets.ECRFrameError}); err == nil {
		err = a.ecr.Prepare(ctx)
	}
	if err != nil {
		ln.Close()
		db.Close()
		return nil, fmt.Errorf("[[ecr]]: %w", err)
	}
	a.httpSrv = server.NewHTTPServer(handler, server.Timeouts{}, slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	return a, nil
}

// serve runs the agent, the HTTP listener, the ECR side and the journal
// archive under one supervisor until ctx ends or one of them fails (see
// supervise), then stops them: the front ends first (no new work), then the
// agent's workers, which finish the step they are in and persist it, then
// the stages in after (the demo's emulators). The journal is closed last.
func (a *app) serve(ctx context.Context, after ...part) error {
	front := []part{
		httpPart("HTTP server", a.httpSrv, a.ln, a.log, func(ctx context.Context) { _ = a.rpc.Shutdown(ctx) }),
		{name: "ECR side", serve: a.ecr.Serve},
	}
	// [journal] keep: the daily archive of old payments.
	if keep := a.cfg.Journal.Keep.Duration; keep > 0 {
		ja := newJournalArchiver(a.db, a.cfg.Agent.DataDir, keep, a.log)
		front = append(front, part{name: "journal archive", serve: ja.Serve})
	}
	stages := [][]part{front, {{name: "agent", serve: a.agent.Serve}}}
	if len(after) > 0 {
		stages = append(stages, after)
	}
	err := supervise(ctx, a.log, shutdownTimeout, stages...)
	if cerr := a.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// wsURL is the WebSocket URL of the listener.
func (a *app) wsURL() string { return "ws://" + a.ln.Addr().String() + "/v1/ws" }

// httpURL is the base URL of the listener.
func (a *app) httpURL() string { return "http://" + a.ln.Addr().String() + "/" }

// newBindo builds the Bindo client from [bindo] (nil when absent) and reads
// the webhook secret (nil when not configured), which the client also uses
// for pay-by-link webhooks. Secret files must not be readable by others.
func newBindo(cfg *config.Config, db *store.DB, log *slog.Logger) (*bindo.Client, []byte, error) {
	b := cfg.Bindo
	if b == nil {
		return nil, nil, nil
	}
	password, err := readSecret("bindo.password_file", b.PasswordFile)
	if err != nil {
		return nil, nil, err
	}
	var secret []byte
	if b.WebhookSecretFile != "" {
		s, err := readSecret("bindo.webhook_secret_file", b.WebhookSecretFile)
		if err != nil {
			return nil, nil, err
		}
		secret = []byte(s)
	}
	c, err := bindo.New(bindo.Config{
		GatewayURL: b.GatewayURL, LoginURL: b.LoginURL, StoreID: b.StoreID, Username: b.Username, Password: password,
		ClientID: b.ClientID, ClientSecret: b.ClientSecret, NotifyURL: b.NotifyURL, AllowInsecureHTTP: b.AllowInsecureHTTP,
		// The link webhooks' checks (ParseLinkWebhook): the secret and the
		// store's APP-ID.
		WebhookAppID: b.WebhookAppID, WebhookSecret: string(secret),
		Tokens: store.SettingToken{DB: db, Key: "bindo.access_token"}, Logger: log, // the client adds component=bindo
	})
	if err != nil {
		return nil, nil, err
	}
	return c, secret, nil
}

// providers are the clients of [qrwallet] and [idpay], nil when absent.
type providers struct {
	qr            agent.QRWallet
	id            agent.IDPay
	idHooks       server.IDPayCallbacks // set when [idpay] notify_url is
	idExpiry      time.Duration
	idDefaultName string
}

// newProviders builds the QR wallet and VA/QRIS gateway clients from
// [qrwallet] and [idpay]. The QR wallet password is read from its file
// (readSecret); the idpay client reads and checks its own key files.
// /hooks/idpay is served only when [idpay] notify_url is set, as
// /hooks/codepay is only with [codepay] notify_url.
func newProviders(cfg *config.Config, log *slog.Logger) (providers, error) {
	var p providers
	if q := cfg.QRWallet; q != nil {
		c, err := newQRWallet(q, log)
		if err != nil {
			return p, err
		}
		p.qr = c
	}
	if ic := cfg.IDPay; ic != nil {
		c, err := newIDPay(ic, log)
		if err != nil {
			return p, err
		}
		p.id, p.idExpiry, p.idDefaultName = c, ic.Expiry.Duration, ic.DefaultName
		if ic.NotifyURL != "" {
			p.idHooks = c
		}
	}
	return p, nil
}

// newQRWallet builds the QR wallet client from [qrwallet].
func newQRWallet(q *config.QRWallet, log *slog.Logger) (*qrwallet.Client, error) {
	password, err := readSecret("qrwallet.password_file", q.PasswordFile)
	if err != nil {
		return nil, err
	}
	c, err := qrwallet.New(qrwallet.Config{
		BaseURL: q.BaseURL, AllowInsecureHTTP: q.AllowInsecureHTTP,
		Paths: qrwallet.Paths{Token: q.Paths.Token, NativePay: q.Paths.NativePay, QuickPay: q.Paths.QuickPay,
			Refund: q.Paths.Refund, PaymentStatus: q.Paths.PaymentStatus, RefundStatus: q.Paths.RefundStatus},
		User: q.User, Password: password, StoreID: q.StoreID, Currency: q.Currency,
		NativeServiceID: q.NativeServiceID, QuickPayServiceID: q.QuickPayServiceID,
		TokenTTL: q.TokenTTL.Duration, TokenRefreshMargin: q.TokenRefreshMargin.Duration,
		HTTPTimeout: q.HTTPTimeout.Duration, QuickPayTimeout: q.QuickPayTimeout.Duration,
		PollInterval: q.PollInterval.Duration, PollTotal: q.PollTotal.Duration, QRLifetime: q.QRLifetime.Duration,
		CustomerCodeMinLen: q.CustomerCodeMinLen, CustomerCodeMaxLen: q.CustomerCodeMaxLen, CustomerCodeAsString: q.CustomerCodeAsString,
		NotFoundMessages: q.NotFoundMessages,
		Logger:           log, // the client adds component=qrwallet
	})
	if err != nil {
		return nil, err // *qrwallet.ConfigError names the key
	}
	return c, nil
}

// newIDPay builds the VA/QRIS gateway client from [idpay]; the client reads
// the key files and refuses a private key others may read.
func newIDPay(ic *config.IDPay, log *slog.Logger) (*idpay.Client, error) {
	f := ic.Fields
	timeout := ic.HTTPTimeout.Duration
	if timeout <= 0 {
		timeout = config.DefaultIDPayHTTPTimeout
	}
	c, err := idpay.New(idpay.Config{
		BaseURL: ic.BaseURL, AllowInsecureHTTP: ic.AllowInsecureHTTP, MerchantCode: ic.MerchantCode,
		PrivateKeyFile: ic.PrivateKeyFile, PlatformPublicKeyFile: ic.PlatformPublicKeyFile, NotifyURL: ic.NotifyURL,
		Paths: idpay.Paths{Create: ic.Paths.Create, Query: ic.Paths.Query},
		Fields: idpay.Fields{MerchantCode: f.MerchantCode, OrderNo: f.OrderNo, Method: f.Method, Amount: f.Amount,
			NotifyURL: f.NotifyURL, Sign: f.Sign, RespMessage: f.RespMessage, ErrorCode: f.ErrorCode,
			PlatOrderNo: f.PlatOrderNo, VANumber: f.VANumber, QRContent: f.QRContent, PaymentCode: f.PaymentCode, PayURL: f.PayURL},
		OrderNotFoundCodes: ic.OrderNotFoundCodes, ExpiryGrace: ic.ExpiryGrace.Duration,
		HTTPClient: &http.Client{Timeout: timeout},
		Logger:     log, // the client adds component=idpay
	})
	if err != nil {
		return nil, err // *idpay.ConfigError names the key
	}
	return c, nil
}

// readTokens reads the agent's token file, which must not be accessible by
// others (secretfile.Read).
func readTokens(path string) ([]string, error) {
	b, err := secretfile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	return config.ParseTokens(path, b)
}

// readSecret reads a one-line secret file, which must not be accessible by
// others (secretfile.Read).
func readSecret(field, path string) (string, error) {
	b, err := secretfile.Read(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s: %s is empty", field, path)
	}
	return v, nil
}

// receiptConfig is what receipts print besides the payment ([receipt]); the
// demo names itself when the table gives no merchant name.
func receiptConfig(r config.Receipt, demo bool) agent.ReceiptConfig {
	rc := agent.ReceiptConfig{MerchantName: r.MerchantName, Lines: r.Lines, Footer: r.Footer}
	if demo && rc.MerchantName == "" {
		rc.MerchantName = "posbridge demo store"
	}
	if demo && len(rc.Footer) == 0 {
		rc.Footer = []string{"Demo receipt - not a real payment"}
	}
	return rc
}
