package idpay

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

	"github.com/posbridge/posbridge/cloud/idpay/idpaysim"
	"github.com/posbridge/posbridge/money"
)

const testMerchant = "M20240001"

// fakeClock is a manually advanced clock shared by the client and the emulator.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 6, 2, 3, 4, 5, 0, time.UTC)} }

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

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

func platformPriv(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := ParsePrivateKey(readTestdata(t, "platform_private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func merchantPriv(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := ParsePrivateKey(readTestdata(t, "merchant_private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func merchantPub(t testing.TB) *rsa.PublicKey {
	t.Helper()
	k, err := ParsePublicKey(readTestdata(t, "merchant_public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyFiles copies the merchant private key to a 0600 file (git does not
// keep modes) and returns it with the platform public key's path.
func keyFiles(t testing.TB) (priv, platform string) {
	t.Helper()
	priv = filepath.Join(t.TempDir(), "merchant_private.pem")
	if err := os.WriteFile(priv, readTestdata(t, "merchant_private.pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	return priv, filepath.Join("testdata", "platform_public.pem")
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is a client talking to the emulator over real HTTP, and a callback
// receiver served by the client's CallbackHandler.
type env struct {
	t       *testing.T
	clock   *fakeClock
	sim     *idpaysim.Sim
	srv     *httptest.Server
	client  *Client
	hooks   *httptest.Server
	mu      sync.Mutex
	applied []*Callback
	failing int // the next failing applies return an error
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clock: newFakeClock()}
	sim, err := idpaysim.New(idpaysim.Config{
		MerchantCode: testMerchant, MerchantPublicKey: merchantPub(t), PlatformKey: platformPriv(t),
		Clock: e.clock, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.sim = sim
	e.srv = httptest.NewServer(sim)
	t.Cleanup(e.srv.Close)
	priv, plat := keyFiles(t)
	cfg := Config{
		BaseURL: e.srv.URL, MerchantCode: testMerchant, PrivateKeyFile: priv, PlatformPublicKeyFile: plat,
		Now: e.clock.Now, Logger: quietLogger(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e.client, err = New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.hooks = httptest.NewServer(e.client.CallbackHandler(e.apply))
	t.Cleanup(e.hooks.Close)
	return e
}

func (e *env) apply(_ context.Context, cb *Callback) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failing > 0 {
		e.failing--
		return io.ErrUnexpectedEOF
	}
	e.applied = append(e.applied, cb)
	return nil
}

func (e *env) appliedCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.applied)
}

func idr(rupiah int64) money.Amount { return FromRupiah(rupiah) }

func (e *env) create(no string, m Method) (*Payment, error) {
	r := CreateRequest{OrderNo: no, Method: m, Amount: idr(30000), Name: "Toko Maju 1", NotifyURL: e.hooks.URL + "/hooks/idpay"}
	if m == MethodEWalletOVO {
		r.Phone = "082113086611"
	}
	return e.client.CreatePayment(context.Background(), r)
}

func (e *env) mustCreate(no string, m Method) *Payment {
	e.t.Helper()
	p, err := e.create(no, m)
	if err != nil {
		e.t.Fatalf("CreatePayment(%s, %s): %v", no, m, err)
	}
	return p
}

func (e *env) query(no string) (*Payment, error) {
	return e.client.QueryPayment(context.Background(), QueryRequest{OrderNo: no})
}

func (e *env) mustQuery(no string) *Payment {
	e.t.Helper()
	p, err := e.query(no)
	if err != nil {
		e.t.Fatalf("QueryPayment(%s): %v", no, err)
	}
	return p
}
