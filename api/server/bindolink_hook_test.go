package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/server"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
)

// TestBindoLinkWebhook: POST /hooks/bindo for a Bindo payment link, over
// HTTP. Forged webhooks (bad signature, another store's APP-ID) are
// refused with 401, an unreadable or non-sale one with 400, a signed one
// about another amount or an unknown uuid with 422; none changes the
// payment. A signed webhook is only a hint: claiming success while Bindo
// still says pending moves nothing; the emulator's own webhook after the
// customer paid makes the agent query at once (polling is 30 s) and the
// payment is approved; a repeat changes nothing.
func TestBindoLinkWebhook(t *testing.T) {
	ts, h := hookServer(t)
	const secret = "hook-secret-0123"
	e := agenttest.New(t, agenttest.Opts{Bindo: true, LinkProvider: agent.LinkProviderBindo, Poll: 30 * time.Second,
		BindoWebhookURL: ts.URL + "/hooks/bindo", BindoWebhookSecret: secret})
	rs, _ := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{"tok-0123456789abcdef"} }})
	h.Store(server.Handler(server.Config{Agent: e.Agent, RPC: rs, BindoWebhookSecret: []byte(secret), BindoLinks: e.BindoClient}))
	ctx := context.Background()

	p := e.MustCreate(agent.CreateRequest{MerchantOrderNo: "BLHOOK", Method: agent.MethodLink, Amount: "9.00", Currency: "USD", Source: agent.SourceWS})
	if p.State != agent.StateOnTerminal || p.Route != agent.RouteBindoLink {
		t.Fatalf("create = %+v", p)
	}
	sign := func(key, b string) string {
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write([]byte(b))
		return hex.EncodeToString(mac.Sum(nil))
	}
	post := func(sig, appID, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", ts.URL+"/hooks/bindo", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(bindo.HeaderSignature, sig)
		req.Header.Set(bindo.HeaderAppID, appID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	hook := func(uuid, amount, typ string) string {
		return fmt.Sprintf(`{"transaction":{"uuid":%q,"brn":"2351687111989594113","amount":%q,"currency":"USD","transaction_type":%q,"transaction_state":"success"}}`, uuid, amount, typ)
	}
	claim := hook(p.TransNo, "9", "sale")
	for _, c := range []struct {
		name      string
		sig, app  string
		body      string
		want      int
		wantEvent bool
	}{
		{"no signature", "", bindosim.DefaultAppID, claim, http.StatusUnauthorized, false},
		{"another secret", sign("not-the-secret", claim), bindosim.DefaultAppID, claim, http.StatusUnauthorized, false},
		{"another store's app id", sign(secret, claim), "another-store", claim, http.StatusUnauthorized, false},
		{"not a sale", sign(secret, hook(p.TransNo, "9", "refund")), bindosim.DefaultAppID, hook(p.TransNo, "9", "refund"), http.StatusBadRequest, false},
		{"unreadable", sign(secret, "{"), bindosim.DefaultAppID, "{", http.StatusBadRequest, false},
		{"another amount", sign(secret, hook(p.TransNo, "0.01", "sale")), bindosim.DefaultAppID, hook(p.TransNo, "0.01", "sale"), http.StatusUnprocessableEntity, false},
		{"unknown uuid", sign(secret, hook(bindo.DeriveUUID("x"), "9", "sale")), bindosim.DefaultAppID, hook(bindo.DeriveUUID("x"), "9", "sale"), http.StatusUnprocessableEntity, false},
		// Verified and bound, but Bindo still says pending: a hint only.
		{"signed claim while pending", sign(secret, claim), bindosim.DefaultAppID, claim, http.StatusOK, true},
	} {
		before := notificationEvents(t, e.Agent, "BLHOOK")
		if code := post(c.sig, c.app, c.body); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
		time.Sleep(50 * time.Millisecond) // the query a hint triggers
		got, _ := e.Agent.Get(ctx, "BLHOOK")
		if got.State != agent.StateOnTerminal {
			t.Fatalf("%s: the payment moved to %s", c.name, got.State)
		}
		if n := notificationEvents(t, e.Agent, "BLHOOK"); (n > before) != c.wantEvent {
			t.Errorf("%s: notification events %d → %d", c.name, before, n)
		}
	}

	// The customer pays; the emulator posts the signed webhook.
	if err := e.BindoSim.ActOnLink(p.TransNo, bindosim.LinkPay, ""); err != nil {
		t.Fatal(err)
	}
	got, err := e.Agent.Wait(ctx, "BLHOOK", 10*time.Second)
	if err != nil || got.State != agent.StateApproved {
		t.Fatalf("after the webhook = %+v, %v (states %v)", got, err, e.States("BLHOOK"))
	}
	view, _ := e.BindoSim.Transaction(p.TransNo)
	if view.Webhook == nil || !view.Webhook.Delivered {
		t.Fatalf("webhook = %+v, want delivered", view.Webhook)
	}
	before := notificationEvents(t, e.Agent, "BLHOOK")
	if code := post(sign(secret, claim), bindosim.DefaultAppID, claim); code != http.StatusOK {
		t.Fatalf("repeated webhook → %d, want 200", code)
	}
	if n := notificationEvents(t, e.Agent, "BLHOOK"); n != before {
		t.Fatalf("a repeated webhook after the end added events: %d → %d", before, n)
	}
	if n := e.BindoSim.Count(bindosim.OpPreCreate, p.TransNo); n != 1 {
		t.Fatalf("pre-create sent %d times", n)
	}
}
