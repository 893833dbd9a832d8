package bindo

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
	"github.com/posbridge/posbridge/money"
)

const (
	testStore    = "8527"
	testUser     = "abcdtest@bindo.com"
	testPassword = "pw-123456-secret"
	testClientID = "hy89x4gh7b82y9ymhl7s75ucog6j9b"
	testSecret   = "acp02fndjef4ablir1ug1imy6ao6cgm"
	testSN       = "L8188VCA8V6249"

	testWebhookSecret = "whsec-posbridge-test"
)

// Card data used in tests. visaPAN is the spec's Visa test card; otherPAN is
// a Luhn-valid card that is not a test card (so the decline amount applies).
const (
	visaPAN   = "4111111111111111"
	visaT2    = "4111111111111111=28121010000012300000"
	visaT1    = "%B4111111111111111^TEST/CARD^2812101000001230000000?"
	otherPAN  = "4761739001010119"
	otherT2   = "4761739001010119D28122011143804400000"
	visaICC   = "5A0841111111111111115F24032812315F3401019F02060000000012349F2608A1B2C3D4E5F607189F2701809F10120110A00003220000000000000000000000FF9F3704AABBCCDD9505000000800082025C009A032503149C0100"
	otherICC  = "5A0847617390010101195F24032812315F3401019F0206000000001051"
	visaMask  = "411111******1111"
	otherMask = "476173******0119"
)

// testCard implements Card.
type testCard struct {
	track2, track1, icc, cardSN, expiry, masked, brand, mode string
	fallback                                                 bool
}

func (c testCard) Track2() string { return c.track2 }
func (c testCard) Track1() string { return c.track1 }
func (c testCard) ICCHex() string { return c.icc }
func (c testCard) CardSN() string { return c.cardSN }
func (c testCard) Expiry() string { return c.expiry }
func (c testCard) Masked() string { return c.masked }
func (c testCard) Brand() string  { return c.brand }
func (c testCard) EntryMode() string {
	if c.fallback {
		return "fallback_swipe"
	}
	return c.mode
}
func (c testCard) Mode() string   { return c.mode }
func (c testCard) Fallback() bool { return c.fallback }

var _ Card = testCard{}

func visaCard(mode string) testCard {
	c := testCard{track2: visaT2, track1: visaT1, expiry: "2812", masked: visaMask, brand: "Visa", mode: mode}
	if mode != ModeSwipe {
		c.icc, c.cardSN = visaICC, "001"
	}
	return c
}

func otherCard(mode string) testCard {
	c := testCard{track2: otherT2, expiry: "2812", masked: otherMask, brand: "Visa", mode: mode}
	if mode != ModeSwipe {
		c.icc, c.cardSN = otherICC, "001"
	}
	return c
}

// secrets lists the card data no log, error or record may contain.
var secrets = []string{visaPAN, visaT2, visaT1, visaICC, otherPAN, otherT2, otherICC, "41111111111", "47617390010", testPassword, testSecret}

// memTokens is an in-memory TokenStore that counts its calls.
type memTokens struct {
	mu           sync.Mutex
	token        string
	loads, saves int
}

func (m *memTokens) LoadToken(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	if m.token == "" {
		return "", ErrNoToken
	}
	return m.token, nil
}

func (m *memTokens) SaveToken(_ context.Context, tok string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	m.token = tok
	return nil
}

func (m *memTokens) get() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.token
}

type env struct {
	t       *testing.T
	clock   *simtest.Clock
	sim     *bindosim.Sim
	srv     *httptest.Server
	client  *Client
	tokens  *memTokens
	logs    *simtest.LogBuffer // client logs (debug level, JSON)
	simLogs *simtest.LogBuffer // emulator logs
}

type envOption func(*bindosim.Config, *Config)

func withWebhook(url, encoding string) envOption {
	return func(sc *bindosim.Config, _ *Config) { sc.WebhookURL, sc.WebhookEncoding = url, encoding }
}

func withPending(d time.Duration) envOption {
	return func(sc *bindosim.Config, _ *Config) { sc.PendingDelay = d }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, clock: simtest.NewClock(), tokens: &memTokens{}, logs: &simtest.LogBuffer{}, simLogs: &simtest.LogBuffer{}}
	sc := bindosim.Config{
		StoreID: testStore, Username: testUser, Password: testPassword, ClientID: testClientID, ClientSecret: testSecret,
		Clock: e.clock, Logger: slog.New(slog.NewTextHandler(e.simLogs, nil)), PendingDelay: 2 * time.Second,
		WebhookSecret: testWebhookSecret,
	}
	cc := Config{
		StoreID: testStore, Username: testUser, Password: testPassword, ClientID: testClientID, ClientSecret: testSecret,
		Tokens: e.tokens, Now: e.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&sc, &cc)
	}
	sim, err := bindosim.New(sc)
	if err != nil {
		t.Fatalf("bindosim.New: %v", err)
	}
	e.sim = sim
	e.srv = httptest.NewServer(sim)
	t.Cleanup(e.srv.Close)
	cc.GatewayURL, cc.LoginURL = e.srv.URL, e.srv.URL
	e.client = e.newClient(cc)
	return e
}

func (e *env) newClient(cc Config) *Client {
	e.t.Helper()
	c, err := New(cc)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return c
}

// clientConfig is the env's client configuration with another token store.
func (e *env) clientConfig(tokens TokenStore) Config {
	return Config{
		GatewayURL: e.srv.URL, LoginURL: e.srv.URL,
		StoreID: testStore, Username: testUser, Password: testPassword, ClientID: testClientID, ClientSecret: testSecret,
		Tokens: tokens, Now: e.clock.Now, Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func hkd(minor int64) money.Amount {
	return money.Amount{Minor: minor, Currency: money.MustCurrency("HKD")}
}

func saleReq(order string, minor int64, card Card) SaleRequest {
	return SaleRequest{UUID: DeriveUUID(order), MerchantOrderNo: order, TerminalSN: testSN, Amount: hkd(minor), Card: card}
}

// approvedSale runs a sale and moves the clock until it is approved.
func (e *env) approvedSale(order string, minor int64) *Transaction {
	e.t.Helper()
	ctx := context.Background()
	tx, err := e.client.Sale(ctx, saleReq(order, minor, visaCard(ModeContact)))
	if err != nil {
		e.t.Fatalf("Sale(%s): %v", order, err)
	}
	e.clock.Advance(3 * time.Second)
	got, err := e.client.Query(ctx, tx.UUID, "")
	if err != nil {
		e.t.Fatalf("Query(%s): %v", tx.UUID, err)
	}
	if got.Status != StatusApproved {
		e.t.Fatalf("sale %s status = %s, want approved", order, got.Status)
	}
	return got
}

func ptr[T any](v T) *T { return &v }
