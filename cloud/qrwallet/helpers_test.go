package qrwallet

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/qrwallet/qrwalletsim"
	"github.com/posbridge/posbridge/money"
)

// fakeClock is shared by the client and the emulator. Sleep advances it at
// once: tests never wait in real time.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	slept  time.Duration
	sleeps int
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept += d
	c.sleeps++
	return nil
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	sim *qrwalletsim.Sim
	srv *httptest.Server
	clk *fakeClock
	c   *Client
	log *syncBuffer
}

// newEnv starts an emulator over real HTTP and a client for it.
func newEnv(t *testing.T, client func(*Config), sim func(*qrwalletsim.Config)) *testEnv {
	t.Helper()
	clk := newFakeClock()
	scfg := qrwalletsim.Config{Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if sim != nil {
		sim(&scfg)
	}
	s, err := qrwalletsim.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	logs := &syncBuffer{}
	cfg := Config{
		BaseURL: srv.URL, User: qrwalletsim.DefaultUser, Password: qrwalletsim.DefaultPassword,
		StoreID: s.Config().StoreID, Currency: s.Config().Currency, HTTPTimeout: 5 * time.Second,
		Clock: clk, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if client != nil {
		client(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{sim: s, srv: srv, clk: clk, c: c, log: logs}
}

func (e *testEnv) amount(t *testing.T, s string) money.Amount {
	t.Helper()
	a, err := e.c.Amount(s)
	if err != nil {
		t.Fatalf("Amount(%q) = %v", s, err)
	}
	return a
}

func (e *testEnv) quickPay(t *testing.T, no, amount string) *QuickPayResult {
	t.Helper()
	res, err := e.c.QuickPay(context.Background(), QuickPayRequest{OutTradeNo: no, Amount: e.amount(t, amount), CustomerCode: testCode})
	if err != nil {
		t.Fatalf("QuickPay(%s, %s) = %v", no, amount, err)
	}
	return res
}

// testCode is a customer's payment code (18 digits, like a wallet's).
const testCode = "134567890123456789"
