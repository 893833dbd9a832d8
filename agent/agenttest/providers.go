package agenttest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/cloud/idpay"
	"github.com/posbridge/posbridge/cloud/idpay/idpaysim"
	"github.com/posbridge/posbridge/cloud/qrwallet"
	"github.com/posbridge/posbridge/cloud/qrwallet/qrwalletsim"
)

// IDPayMerchant is the emulated VA/QRIS gateway merchant.
const IDPayMerchant = "M2026TEST01"

// Providers are the QR wallet and VA/QRIS gateway emulators of an Env,
// served over real HTTP, and the clients the agent uses.
type Providers struct {
	QRSim    *qrwalletsim.Sim
	QRSrv    *httptest.Server
	QRClient *qrwallet.Client
	IDSim    *idpaysim.Sim
	IDSrv    *httptest.Server
	IDClient *idpay.Client
	// Hooks serves POST /hooks/idpay the way api/server does (verify,
	// bind to the journal, answer SUCCESS); the gateway emulator posts its
	// callbacks there. Agent is set once the agent exists.
	Hooks *httptest.Server
	agent func() *agent.Agent
}

// QRLifetime is the emulated QR codes' life in the tests.
const QRLifetime = 2 * time.Second

func startProviders(t testing.TB, o Opts, clock *jumpClock, current func() *agent.Agent) *Providers {
	t.Helper()
	p := &Providers{agent: current}
	qs, err := qrwalletsim.New(qrwalletsim.Config{QRLifetime: QRLifetime, PINDelay: 100 * time.Millisecond, PINTimeout: time.Second, Logger: logger(o)})
	if err != nil {
		t.Fatal(err)
	}
	p.QRSim, p.QRSrv = qs, httptest.NewServer(qs)
	t.Cleanup(p.QRSrv.Close)
	p.QRClient, err = qrwallet.New(qrwallet.Config{BaseURL: p.QRSrv.URL, User: qrwalletsim.DefaultUser, Password: qrwalletsim.DefaultPassword,
		StoreID: qrwalletsim.DefaultStoreID, Currency: qrwalletsim.DefaultCurrency, QRLifetime: QRLifetime,
		PollInterval: 20 * time.Millisecond, PollTotal: time.Second, Logger: logger(o)})
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(repoRoot(), "cloud", "idpay", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mpub, err := idpay.ParsePublicKey(read("merchant_public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ppriv, err := idpay.ParsePrivateKey(read("platform_private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	is, err := idpaysim.New(idpaysim.Config{MerchantCode: IDPayMerchant, MerchantPublicKey: mpub, PlatformKey: ppriv, Logger: logger(o)})
	if err != nil {
		t.Fatal(err)
	}
	p.IDSim, p.IDSrv = is, httptest.NewServer(is)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { is.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; p.IDSrv.Close() })
	dir := t.TempDir()
	priv := filepath.Join(dir, "merchant_private.pem")
	plat := filepath.Join(dir, "platform_public.pem")
	if err := os.WriteFile(priv, read("merchant_private.pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plat, read("platform_public.pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Hooks = httptest.NewServer(http.HandlerFunc(p.hook))
	t.Cleanup(p.Hooks.Close)
	var now func() time.Time
	if clock != nil {
		now = clock.Now
	}
	p.IDClient, err = idpay.New(idpay.Config{BaseURL: p.IDSrv.URL, Now: now, MerchantCode: IDPayMerchant, PrivateKeyFile: priv,
		PlatformPublicKeyFile: plat, NotifyURL: p.Hooks.URL + "/hooks/idpay", Logger: logger(o)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hook is api/server's /hooks/idpay in small.
func (p *Providers) hook(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	cb, err := p.IDClient.ParseCallback(body, r.Header.Get("Content-Type"))
	if err != nil {
		http.Error(w, "invalid callback", http.StatusBadRequest)
		return
	}
	a := p.agent()
	if a == nil {
		http.Error(w, "retry later", http.StatusServiceUnavailable)
		return
	}
	if err := a.ApplyIDPayCallback(r.Context(), cb); err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	io.WriteString(w, idpay.CallbackAck)
}
