package server_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/server"
	"github.com/posbridge/posbridge/cloud/idpay"
)

// idpayCallback is a form-encoded gateway callback for order no, signed
// with key under the default field names.
func idpayCallback(t *testing.T, key *rsa.PrivateKey, no, platNo, method, amount, status string) string {
	t.Helper()
	f := idpay.DefaultFields
	p := idpay.Params{f.MerchantCode: agenttest.IDPayMerchant, f.OrderNo: no, f.PlatOrderNo: platNo, f.Method: method,
		f.Amount: amount, idpay.FieldStatus: status}
	if err := idpay.SignParams(key, p, f.Sign); err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	return form.Encode()
}

func notificationEvents(t *testing.T, a *agent.Agent, no string) int {
	t.Helper()
	evs, err := a.Events(context.Background(), no)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Kind == "notification" {
			n++
		}
	}
	return n
}

// TestIDPayHook: POST /hooks/idpay over HTTP. A forged signature is
// refused with 400 and changes nothing; a callback signed with the
// platform key is answered SUCCESS and the payment is confirmed by a query
// of the gateway; a repeated callback is answered SUCCESS again and
// applied once.
func TestIDPayHook(t *testing.T) {
	// Polling is slow, so only the callback can make the agent query soon.
	e := agenttest.New(t, agenttest.Opts{Providers: true, Poll: time.Minute})
	e.Prov.Hooks.Close() // the emulator's own deliveries go nowhere: this test posts the callbacks
	srv := httptest.NewServer(server.Handler(server.Config{Agent: e.Agent, IDPay: e.Prov.IDClient}))
	t.Cleanup(srv.Close)
	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/hooks/idpay", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	text, err := os.ReadFile(filepath.Join("..", "..", "cloud", "idpay", "testdata", "platform_private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	platform, err := idpay.ParsePrivateKey(text)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	p := e.MustCreate(agent.CreateRequest{MerchantOrderNo: "VAHOOK1", Method: agent.MethodVA, VAMethod: "VA_BCA", Amount: "30000",
		Currency: "IDR", CustomerName: "Hook Test", Source: agent.SourceWS})
	if p.State != agent.StateOnTerminal || p.VANumber == "" {
		t.Fatalf("create = %+v", p)
	}
	view, err := e.Prov.IDSim.Pay("VAHOOK1")
	if err != nil {
		t.Fatal(err)
	}
	platNo := view.PlatOrderNo

	// Forged: refused, nothing changes.
	before, _ := e.Agent.Events(ctx, "VAHOOK1")
	if code, body := post(idpayCallback(t, forger, "VAHOOK1", platNo, "VA_BCA", "30000", "SUCCESS")); code != http.StatusBadRequest || strings.Contains(body, "SUCCESS") {
		t.Fatalf("forged callback = %d %q, want 400", code, body)
	}
	time.Sleep(100 * time.Millisecond)
	after, _ := e.Agent.Events(ctx, "VAHOOK1")
	if got, _ := e.Agent.Get(ctx, "VAHOOK1"); got.State != agent.StateOnTerminal || len(after) != len(before) {
		t.Fatalf("forged callback changed the payment: %s, events %d → %d", got.State, len(before), len(after))
	}

	// Signed: SUCCESS, then confirmed by query.
	valid := idpayCallback(t, platform, "VAHOOK1", platNo, "VA_BCA", "30000", "SUCCESS")
	if code, body := post(valid); code != http.StatusOK || body != idpay.CallbackAck {
		t.Fatalf("callback = %d %q, want 200 %s", code, body, idpay.CallbackAck)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := e.Agent.Wait(waitCtx, "VAHOOK1", 10*time.Second)
	if err != nil || got.State != agent.StateApproved {
		t.Fatalf("after callback: %+v, %v (states %v)", got, err, e.States("VAHOOK1"))
	}
	if n := notificationEvents(t, e.Agent, "VAHOOK1"); n != 1 {
		t.Fatalf("notification events = %d, want 1", n)
	}
	queried := false
	evs, _ := e.Agent.Events(ctx, "VAHOOK1")
	for _, ev := range evs {
		queried = queried || ev.ToState == agent.StateApproved
	}
	if !queried {
		t.Fatalf("no approved transition in %+v", evs)
	}

	// Repeated: SUCCESS again, applied once.
	n := len(evs)
	if code, body := post(valid); code != http.StatusOK || body != idpay.CallbackAck {
		t.Fatalf("repeated callback = %d %q", code, body)
	}
	time.Sleep(100 * time.Millisecond)
	evs, _ = e.Agent.Events(ctx, "VAHOOK1")
	if len(evs) != n || notificationEvents(t, e.Agent, "VAHOOK1") != 1 {
		t.Fatalf("repeated callback applied again: events %d → %d", n, len(evs))
	}
	if got, _ := e.Agent.Get(ctx, "VAHOOK1"); got.State != agent.StateApproved {
		t.Fatalf("after repeat: %s", got.State)
	}
}
