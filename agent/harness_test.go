package agent_test

import (
	"context"
	"crypto/rsa"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/internal/money"
	"github.com/posbridge/posbridge/store"
)

const (
	termA   = "TERM0000000A"
	termB   = "TERM0000000B"
	termOff = "TERM000000OFF"
)

func readKey(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "cloud", "codepay", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type keys struct {
	appPriv *rsa.PrivateKey
	appPub  *rsa.PublicKey
	gwPriv  *rsa.PrivateKey
	gwPub   *rsa.PublicKey
}

func testKeys(t *testing.T) keys {
	t.Helper()
	var k keys
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
type env struct {
	t      *testing.T
	keys   keys
	sim    *codepaysim.Sim
	srv    *httptest.Server
	dbPath string
	db     *store.DB
	client *codepay.Client
	agent  *agent.Agent
	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	events []agent.Payment
}

type envOpts struct {
	expires       time.Duration
	poll          time.Duration
	pickup        time.Duration
	process       time.Duration
	unknownGiveUp time.Duration
	notifyURL     string
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.expires == 0 {
		o.expires = 30 * time.Second
	}
	if o.poll == 0 {
		o.poll = 20 * time.Millisecond
	}
	if o.pickup == 0 {
		o.pickup = 30 * time.Millisecond
	}
	if o.process == 0 {
		o.process = 60 * time.Millisecond
	}
	k := testKeys(t)
	sim, err := codepaysim.New(codepaysim.Config{
		AppID: "wztest0000000001", MerchantNo: "302300000001", StoreNo: "402300000001",
		AppPublicKey: k.appPub, GatewayKey: k.gwPriv,
		Terminals:   []codepaysim.TerminalConfig{{SN: termA, Online: true}, {SN: termB, Online: true}, {SN: termOff, Online: false}},
		PickupDelay: o.pickup, ProcessDelay: o.process, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	simCtx, simCancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() { sim.Serve(simCtx); close(simDone) }()
	t.Cleanup(func() { simCancel(); <-simDone; srv.Close() })

	e := &env{t: t, keys: k, sim: sim, srv: srv, dbPath: filepath.Join(t.TempDir(), "posbridge.db")}
	e.start(o)
	return e
}

func (e *env) start(o envOpts) {
	t := e.t
	t.Helper()
	client, err := codepay.New(codepay.Config{
		GatewayURL: e.srv.URL, AppID: "wztest0000000001", MerchantNo: "302300000001", StoreNo: "402300000001",
		PrivateKey: e.keys.appPriv, GatewayPublicKey: e.keys.gwPub, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	usd := money.MustCurrency("USD")
	a, err := agent.New(agent.Config{
		Store: db, CodePay: client,
		Terminals: []device.Terminal{
			{SN: termA, Lane: "1", Name: "A", Currency: usd},
			{SN: termB, Lane: "2", Name: "B", Currency: usd},
			{SN: termOff, Lane: "3", Name: "Offline", Currency: usd},
		},
		OrderExpires: o.expires, PollInterval: o.poll, UnknownGiveUp: o.unknownGiveUp, NotifyURL: o.notifyURL,
		Logger: testLogger(),
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
	e.db, e.client, e.agent, e.cancel, e.done = db, client, a, cancel, make(chan error, 1)
	go func() { e.done <- a.Serve(ctx) }()
	t.Cleanup(e.stop)
}

// stop stops the agent and closes the journal (idempotent).
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("agent.Serve() = %v", err)
	}
	e.db.Close()
	e.cancel = nil
}

func (e *env) restart(o envOpts) {
	e.stop()
	e.mu.Lock()
	e.events = nil
	e.mu.Unlock()
	e.start(o)
}

// states returns the sequence of published states of one payment, with
// consecutive repeats collapsed.
func (e *env) states(orderNo string) []string {
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

func (e *env) sale(orderNo, sn, amount string) agent.CreateRequest {
	return agent.CreateRequest{MerchantOrderNo: orderNo, Type: agent.TypeSale, TerminalSN: sn, Amount: amount, Currency: "USD", Source: agent.SourceWS}
}

func (e *env) mustCreate(r agent.CreateRequest) agent.Payment {
	e.t.Helper()
	p, err := e.agent.Create(context.Background(), r)
	if err != nil {
		e.t.Fatalf("Create(%s) error = %v", r.MerchantOrderNo, err)
	}
	return p
}

func (e *env) waitFinal(orderNo string) agent.Payment {
	e.t.Helper()
	p, err := e.agent.Wait(context.Background(), orderNo, 20*time.Second)
	if err != nil {
		e.t.Fatalf("Wait(%s) error = %v", orderNo, err)
	}
	if !p.Final() {
		e.t.Fatalf("payment %s not final after 20s: %s (events %v)", orderNo, p.State, e.states(orderNo))
	}
	return p
}

// waitState waits until the payment reaches state (by its published events).
func (e *env) waitState(orderNo, state string) {
	e.t.Helper()
	ch := make(chan struct{}, 1)
	unsub := e.agent.Subscribe(func(ev agent.Event) {
		if ev.Payment != nil && ev.Payment.MerchantOrderNo == orderNo && ev.Payment.State == state {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()
	if p, err := e.agent.Get(context.Background(), orderNo); err == nil && p.State == state {
		return
	}
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		e.t.Fatalf("payment %s never reached %s (events %v)", orderNo, state, e.states(orderNo))
	}
}

// testLogger discards logs unless POSBRIDGE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("POSBRIDGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
