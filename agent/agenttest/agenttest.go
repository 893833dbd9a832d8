// Package agenttest runs a real agent against the CodePay emulator over real
// HTTP and a real SQLite file, for tests and benchmarks of the packages that
// sit on top of the agent.
package agenttest

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/internal/memnet"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

const (
	TermA   = "TERM0000000A"
	TermB   = "TERM0000000B"
	TermOff = "TERM000000OFF"
)

func readKey(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "cloud", "codepay", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type Keys struct {
	appPriv *rsa.PrivateKey
	appPub  *rsa.PublicKey
	gwPriv  *rsa.PrivateKey
	gwPub   *rsa.PublicKey
}

func testKeys(t testing.TB) Keys {
	t.Helper()
	var k Keys
	var err error
	if k.appPriv, err = codepay.ParsePrivateKey(readKey(t, "app_private_pkcs8.pem")); err != nil {
		t.Fatal(err)
	}
	if k.appPub, err = codepay.ParsePublicKey(readKey(t, "app_public.pem")); err != nil {
		t.Fatal(err)
	}
	if k.gwPriv, err = codepay.ParsePrivateKey(readKey(t, "gateway_private.pem")); err != nil {
		t.Fatal(err)
	}
	if k.gwPub, err = codepay.ParsePublicKey(readKey(t, "gateway_public.pem")); err != nil {
		t.Fatal(err)
	}
	return k
}

// env is a real agent against the emulator over real HTTP and a real SQLite file.
type Env struct {
	t    testing.TB
	keys Keys
	Sim  *codepaysim.Sim
	// BindoSim and BindoSrv are set with Opts.Bindo; BindoClient is the
	// agent's client of the emulator (it verifies link webhooks signed
	// with Opts.BindoWebhookSecret).
	BindoSim    *bindosim.Sim
	BindoSrv    *httptest.Server
	BindoClient *bindo.Client
	Srv         *httptest.Server
	// Net is the emulator's in-memory listener with Opts.InMemory (Srv is
	// then nil): refuse connections with Net.SetRefusing.
	Net *memnet.Listener
	// URL is the emulator's base URL.
	URL       string
	transport *http.Transport
	skew      atomic.Int64  // added to the client's clock
	clock     *jumpClock    // the agent's, with Opts.JumpClock
	offset    time.Duration // the gateway's and client's clock minus time.Now (InMemory)
	dbPath    string
	DB        *store.DB
	Client    *codepay.Client
	Agent     *agent.Agent
	cancel    context.CancelFunc
	done      chan error

	// Prov holds the provider emulators when Opts.Providers is set.
	Prov *Providers

	opts   Opts
	mu     sync.Mutex
	events []agent.Payment
}

type Opts struct {
	Expires       time.Duration
	Poll          time.Duration
	Pickup        time.Duration
	Process       time.Duration
	UnknownGiveUp time.Duration
	// CreateSettle is the agent's settle time after a create (default 50ms
	// here, to keep tests fast); QueueTimeout its queue limit (agent default).
	CreateSettle, QueueTimeout time.Duration
	NotifyURL                  string
	// Bindo starts the Bindo gateway emulator and gives the agent the
	// native route and fallback.
	Bindo bool
	// BindoWebhookURL and BindoWebhookSecret make the Bindo emulator post
	// webhooks of final transactions.
	BindoWebhookURL, BindoWebhookSecret string
	// LinkProvider is the agent's link provider ("" = codepay; "bindo"
	// needs Bindo), with BindoLinkClientIP as X-CLIENT-IP.
	LinkProvider string
	// OfflineGrace and UnreachableGrace are the agent's fallback graces.
	OfflineGrace, UnreachableGrace time.Duration
	// ProbeInterval is the agent's idle CodePay probe (0: the agent's
	// default, negative: none).
	ProbeInterval time.Duration
	// Logs, when non-nil, receives every log line of the agent and the
	// provider clients (for PCI tests).
	Logs io.Writer
	// Terminals adds that many extra online terminals, BenchSN(0..n-1), for benchmarks.
	Terminals int
	// History prefills the journal with that many final payments on every
	// terminal before the agent starts (benchmarks of a journal's age).
	History int
	// InMemory serves the CodePay emulator on an in-memory network
	// (internal/memnet) instead of a TCP port, so the whole environment can
	// run inside a testing/synctest bubble in virtual time.
	InMemory bool
	// Middleware, with InMemory, wraps the emulator's handler (e.g. to
	// freeze the gateway for a while).
	Middleware func(http.Handler) http.Handler
	// BatchShape and AmountStyle are the emulator's conformance mode
	// (codepaysim.Config; "" = its defaults, totals and string).
	BatchShape, AmountStyle string
	// Providers starts the QR wallet and VA/QRIS gateway emulators and
	// gives the agent their clients (Env.Prov).
	Providers bool
	// LateCheckWindow is the agent's late-check window (0:
	// its default).
	LateCheckWindow time.Duration
	// JumpClock gives the agent and the VA/QRIS gateway's client a clock
	// the test moves forward with Env.JumpClock.
	JumpClock bool
}

func New(t testing.TB, o Opts) *Env {
	t.Helper()
	if o.Expires == 0 {
		o.Expires = 30 * time.Second
	}
	if o.Poll == 0 {
		o.Poll = 20 * time.Millisecond
	}
	if o.CreateSettle == 0 {
		o.CreateSettle = 50 * time.Millisecond
	}
	if o.Pickup == 0 {
		o.Pickup = 30 * time.Millisecond
	}
	if o.Process == 0 {
		o.Process = 60 * time.Millisecond
	}
	k := testKeys(t)
	var simClock codepaysim.Clock
	var offset time.Duration
	if o.InMemory {
		// A synctest bubble starts in the year 2000, whose epoch
		// milliseconds have 12 digits; CodePay wants 13. The gateway and
		// its client agree on a clock moved to the present.
		offset = time.Until(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
		simClock = offsetClock(offset)
	}
	sim, err := codepaysim.New(codepaysim.Config{
		Clock: simClock,
		AppID: "wztest0000000001", MerchantNo: "302300000001", StoreNo: "402300000001",
		AppPublicKey: k.appPub, GatewayKey: k.gwPriv,
		Terminals:   simTerminals(o.Terminals),
		PickupDelay: o.Pickup, ProcessDelay: o.Process, Logger: logger(o),
		BatchShape: o.BatchShape, AmountStyle: o.AmountStyle,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{t: t, keys: k, Sim: sim, offset: offset, dbPath: filepath.Join(t.TempDir(), "posbridge.db")}
	if o.JumpClock {
		e.clock = newJumpClock()
	}
	simCtx, simCancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() { sim.Serve(simCtx); close(simDone) }()
	if o.InMemory {
		e.Net, e.URL = memnet.Listen("127.0.0.1:80"), "http://127.0.0.1"
		var h http.Handler = sim
		if o.Middleware != nil {
			h = o.Middleware(h)
		}
		hs := &http.Server{Handler: h}
		served := make(chan struct{})
		go func() { hs.Serve(e.Net); close(served) }()
		t.Cleanup(func() { simCancel(); <-simDone; hs.Close(); e.Net.Close(); <-served })
	} else {
		e.Srv = httptest.NewServer(sim)
		e.URL = e.Srv.URL
		t.Cleanup(func() { simCancel(); <-simDone; e.Srv.Close() })
	}
	if o.Bindo {
		bs, err := bindosim.New(bindosim.Config{StoreID: BindoStoreID, Username: "demo@store", Password: "bindo-pass",
			ClientID: "bindo-client", ClientSecret: "bindo-secret", PendingDelay: 20 * time.Millisecond, Logger: logger(o),
			WebhookURL: o.BindoWebhookURL, WebhookSecret: o.BindoWebhookSecret})
		if err != nil {
			t.Fatal(err)
		}
		e.BindoSim, e.BindoSrv = bs, httptest.NewServer(bs)
		bctx, bcancel := context.WithCancel(context.Background())
		bdone := make(chan struct{})
		go func() { bs.Serve(bctx); close(bdone) }()
		t.Cleanup(func() { bcancel(); <-bdone; e.BindoSrv.Close() })
	}
	if o.Providers {
		e.Prov = startProviders(t, o, e.clock, func() *agent.Agent {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.Agent
		})
	}
	e.opts = o
	if o.History > 0 {
		e.copyHistory(o)
	}
	e.start(o)
	return e
}

// copyHistory puts a journal with o.History final payments per terminal at
// the environment's journal path. Building one takes about 20 µs per
// payment, so it is built once per (terminals, history) and kept in the
// temporary directory for later runs.
func (e *Env) copyHistory(o Opts) {
	t := e.t
	t.Helper()
	cache := filepath.Join(os.TempDir(), fmt.Sprintf("posbridge-history-v1-%d-%d.db", o.Terminals, o.History))
	if _, err := os.Stat(cache); err != nil {
		tmp := cache + ".building"
		os.Remove(tmp)
		db, err := store.Open(context.Background(), tmp)
		if err != nil {
			t.Fatal(err)
		}
		var sns []string
		for _, term := range agentTerminals(o.Terminals, money.MustCurrency("USD")) {
			sns = append(sns, term.SN)
		}
		t0 := time.Now()
		if err := db.PrefillHistory(context.Background(), sns, o.History, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("built a journal with %d payments on each of %d terminals in %s (%s)", o.History, len(sns), time.Since(t0).Round(time.Second), cache)
		if err := os.Rename(tmp, cache); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.Open(cache)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func (e *Env) start(o Opts) {
	t := e.t
	t.Helper()
	var hc *http.Client
	if e.Net != nil {
		e.transport = &http.Transport{DialContext: e.Net.Dial}
		hc = &http.Client{Transport: e.transport, Timeout: codepay.DefaultHTTPTimeout}
	}
	client, err := codepay.New(codepay.Config{
		GatewayURL: e.URL, AppID: "wztest0000000001", MerchantNo: "302300000001", StoreNo: "402300000001",
		PrivateKey: e.keys.appPriv, GatewayPublicKey: e.keys.gwPub, Logger: logger(o), HTTPClient: hc,
		Now: func() time.Time { return time.Now().Add(e.offset + time.Duration(e.skew.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	usd := money.MustCurrency("USD")
	var bc agent.Bindo
	var bl agent.BindoLink
	var bindoClient *bindo.Client
	if e.BindoSrv != nil {
		c, err := bindo.New(bindo.Config{GatewayURL: e.BindoSrv.URL, LoginURL: e.BindoSrv.URL, StoreID: BindoStoreID,
			Username: "demo@store", Password: "bindo-pass", ClientID: "bindo-client", ClientSecret: "bindo-secret",
			WebhookAppID: bindosim.DefaultAppID, WebhookSecret: o.BindoWebhookSecret,
			Tokens: store.SettingToken{DB: db, Key: "bindo.token"}, Logger: logger(o)})
		if err != nil {
			t.Fatal(err)
		}
		bc, bl, bindoClient = c, c, c
	}
	var qw agent.QRWallet
	var ip agent.IDPay
	if e.Prov != nil {
		qw, ip = e.Prov.QRClient, e.Prov.IDClient
	}
	var clock agent.Clock
	var after func(time.Duration) <-chan time.Time
	if e.clock != nil {
		clock, after = e.clock, e.clock.After
	}
	a, err := agent.New(agent.Config{
		Clock: clock, After: after,
		QRWallet: qw, IDPay: ip, IDPayDefaultName: "Toko Test",
		Bindo: bc, BindoLink: bl, LinkProvider: o.LinkProvider, LinkClientIP: BindoLinkClientIP, BindoLinkPoll: o.Poll,
		OfflineGrace: o.OfflineGrace, UnreachableGrace: o.UnreachableGrace, ProbeInterval: o.ProbeInterval,
		Store: db, CodePay: client, Link: client,
		Terminals:    agentTerminals(o.Terminals, usd),
		OrderExpires: o.Expires, PollInterval: o.Poll, UnknownGiveUp: o.UnknownGiveUp, NotifyURL: o.NotifyURL,
		CreateSettle: o.CreateSettle, QueueTimeout: o.QueueTimeout, LateCheckWindow: o.LateCheckWindow,
		Logger: logger(o),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Subscribe(func(ev agent.Event) {
		if ev.Payment != nil {
			e.mu.Lock()
			e.events = append(e.events, *ev.Payment)
			e.mu.Unlock()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	e.mu.Lock()
	e.DB, e.Client, e.Agent, e.cancel, e.done = db, client, a, cancel, make(chan error, 1)
	e.BindoClient = bindoClient
	e.mu.Unlock()
	go func() { e.done <- a.Serve(ctx) }()
	t.Cleanup(e.Stop)
}

// stop stops the agent and closes the journal (idempotent).
func (e *Env) Stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("agent.Serve() = %v", err)
	}
	e.DB.Close()
	if e.transport != nil {
		e.transport.CloseIdleConnections()
	}
	e.cancel = nil
}

// offsetClock is time.Now moved by a fixed duration.
type offsetClock time.Duration

func (c offsetClock) Now() time.Time { return time.Now().Add(time.Duration(c)) }

// Local converts a time read from the emulator's clock (a request's Time,
// an order's FinalAt) to this process's clock: with InMemory they differ by
// a fixed offset.
func (e *Env) Local(t time.Time) time.Time { return t.Add(-e.offset) }

// SkewClientClock sets the CodePay client's clock off by d (for the
// gateway's ±15 minute timestamp window); 0 puts it right again.
func (e *Env) SkewClientClock(d time.Duration) { e.skew.Store(int64(d)) }

// Restart stops the agent and starts a new one on the same journal; a zero
// Opts keeps the options of New.
func (e *Env) Restart(o Opts) {
	if reflect.ValueOf(o).IsZero() {
		o = e.opts
	}
	e.Stop()
	e.mu.Lock()
	e.events = nil
	e.mu.Unlock()
	e.start(o)
}

// states returns the sequence of published states of one payment, with
// consecutive repeats collapsed.
func (e *Env) States(orderNo string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, p := range e.events {
		if p.MerchantOrderNo == orderNo && (len(out) == 0 || out[len(out)-1] != p.State) {
			out = append(out, p.State)
		}
	}
	return out
}

func (e *Env) Sale(orderNo, sn, amount string) agent.CreateRequest {
	return agent.CreateRequest{MerchantOrderNo: orderNo, Type: agent.TypeSale, TerminalSN: sn, Amount: amount, Currency: "USD", Source: agent.SourceWS}
}

func (e *Env) MustCreate(r agent.CreateRequest) agent.Payment {
	e.t.Helper()
	p, err := e.Agent.Create(context.Background(), r)
	if err != nil {
		e.t.Fatalf("Create(%s) error = %v", r.MerchantOrderNo, err)
	}
	return p
}

func (e *Env) WaitFinal(orderNo string) agent.Payment {
	e.t.Helper()
	p, err := e.Agent.Wait(context.Background(), orderNo, 20*time.Second)
	if err != nil {
		e.t.Fatalf("Wait(%s) error = %v", orderNo, err)
	}
	if !p.Final() {
		e.t.Fatalf("payment %s not final after 20s: %s (events %v)", orderNo, p.State, e.States(orderNo))
	}
	return p
}

// waitState waits until the payment reaches state (by its published events).
func (e *Env) WaitState(orderNo, state string) {
	e.t.Helper()
	ch := make(chan struct{}, 1)
	unsub := e.Agent.Subscribe(func(ev agent.Event) {
		if ev.Payment != nil && ev.Payment.MerchantOrderNo == orderNo && ev.Payment.State == state {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()
	if p, err := e.Agent.Get(context.Background(), orderNo); err == nil && p.State == state {
		return
	}
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		e.t.Fatalf("payment %s never reached %s (events %v)", orderNo, state, e.States(orderNo))
	}
}

// BindoStoreID is the emulated Bindo store.
const BindoStoreID = "8527"

// BindoLinkClientIP is the agent's X-CLIENT-IP for Bindo pre-creates (a
// documentation address).
const BindoLinkClientIP = "203.0.113.10"

// logger writes to Opts.Logs when set, else discards unless POSBRIDGE_TEST_LOG is set.
func logger(o Opts) *slog.Logger {
	if o.Logs != nil {
		return slog.New(slog.NewJSONHandler(o.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return testLogger()
}

// testLogger discards logs unless POSBRIDGE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("POSBRIDGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// repoRoot finds the repository root from this source file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Events returns a copy of every payment event published since the agent started.
func (e *Env) Events() []agent.Payment {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]agent.Payment(nil), e.events...)
}

// AcceptedCreates counts the create orders for orderNo that the emulator
// processed into an order (code "0"); it must never exceed one.
func (e *Env) AcceptedCreates(orderNo string) int {
	n := 0
	for _, r := range e.Sim.Requests(codepay.MethodPayOrder, orderNo) {
		if r.Code == codepaysim.CodeOK {
			n++
		}
	}
	return n
}

// BenchSN is the SN of the i-th extra terminal of Opts.Terminals.
func BenchSN(i int) string { return fmt.Sprintf("BENCH%05d", i) }

func simTerminals(extra int) []codepaysim.TerminalConfig {
	ts := []codepaysim.TerminalConfig{{SN: TermA, Online: true}, {SN: TermB, Online: true}, {SN: TermOff, Online: false}}
	for i := 0; i < extra; i++ {
		ts = append(ts, codepaysim.TerminalConfig{SN: BenchSN(i), Online: true})
	}
	return ts
}

func agentTerminals(extra int, cur money.Currency) []device.Terminal {
	ts := []device.Terminal{
		{SN: TermA, Lane: "1", Name: "A", Currency: cur},
		{SN: TermB, Lane: "2", Name: "B", Currency: cur},
		{SN: TermOff, Lane: "3", Name: "Offline", Currency: cur},
	}
	for i := 0; i < extra; i++ {
		ts = append(ts, device.Terminal{SN: BenchSN(i), Lane: fmt.Sprintf("b%d", i), Name: BenchSN(i), Currency: cur})
	}
	return ts
}

// DBPath is the journal's file (its -wal and -shm files sit beside it).
func (e *Env) DBPath() string { return e.dbPath }

// GatewayNotification is a CodePay notification body for params, signed
// with the emulator's gateway key, as CodePay would POST it to notify_url
// (the envelope fields app_id, sign_type, timestamp are filled in unless
// params sets them).
func (e *Env) GatewayNotification(params map[string]string) []byte {
	e.t.Helper()
	p := codepay.Params{"app_id": "wztest0000000001", "sign_type": codepay.SignTypeRSA2,
		"timestamp": fmt.Sprint(time.Now().Add(e.offset).UnixMilli())}
	for k, v := range params {
		p[k] = v
	}
	if err := codepay.Sign(e.keys.gwPriv, p); err != nil {
		e.t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string(p))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}
