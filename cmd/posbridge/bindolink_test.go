package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
	"github.com/posbridge/posbridge/internal/config"
)

// TestAppBindoLinks builds the app from a file with [bindo] (the emulator)
// and [link] provider = "bindo": method link pre-creates at Bindo with the
// configured X-CLIENT-IP, and /hooks/bindo verifies link webhooks with the
// webhook secret file and webhook_app_id.
func TestAppBindoLinks(t *testing.T) {
	const secret, appID = "hook-secret-0123", "app-8527"
	sim, err := bindosim.New(bindosim.Config{StoreID: "8527", Username: "u@store", Password: "bindo-pass", ClientID: "c", ClientSecret: "s",
		AppID: appID, Logger: newLogger(new(strings.Builder), false)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := newCheckEnv(t)
	pw, hook := filepath.Join(e.dir, "bindo_password"), filepath.Join(e.dir, "bindo_webhook_secret")
	for f, v := range map[string]string{pw: "bindo-pass\n", hook: secret + "\n"} {
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(e.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `
[bindo]
gateway_url = %q
login_url = %q
store_id = "8527"
username = "u@store"
password_file = %q
client_id = "c"
client_secret = "s"
webhook_secret_file = %q
webhook_app_id = %q
link_client_ip = "203.0.113.7"

[link]
provider = "bindo"
`, srv.URL, srv.URL, pw, hook, appID)
	f.Close()
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
	p, err := a.agent.Create(context.Background(), agent.CreateRequest{MerchantOrderNo: "APPL1", Method: agent.MethodLink, Amount: "4.00", Currency: "USD", Source: agent.SourceWS})
	if err != nil || p.Route != agent.RouteBindoLink || p.State != agent.StateOnTerminal || p.PayURL == "" {
		t.Fatalf("create = %+v, %v", p, err)
	}
	if view, ok := sim.Transaction(p.TransNo); !ok || view.PayURL != p.PayURL {
		t.Fatalf("emulator's order = %+v", view)
	}
	if reqs := sim.Requests(bindosim.OpPreCreate, p.TransNo); len(reqs) != 1 {
		t.Fatalf("pre-creates = %d", len(reqs))
	}

	// The hook: a link webhook must carry the store's APP-ID.
	handler := a.httpSrv.Handler
	body := fmt.Sprintf(`{"transaction":{"uuid":%q,"amount":"4","currency":"USD","transaction_type":"sale","transaction_state":"pending"}}`, p.TransNo)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	sig := hex.EncodeToString(mac.Sum(nil))
	for app, want := range map[string]int{appID: http.StatusOK, "another-store": http.StatusUnauthorized} {
		req := httptest.NewRequest("POST", "/hooks/bindo", strings.NewReader(body))
		req.Header.Set(bindo.HeaderSignature, sig)
		req.Header.Set(bindo.HeaderAppID, app)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("webhook with X-APP-ID %s = %d %s, want %d", app, rec.Code, rec.Body, want)
		}
	}
}
