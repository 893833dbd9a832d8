package server_test

import (
	"context"
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
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/store"
)

// TestNotificationBoundToThisInstallation: a notification signed with the
// real gateway key is still refused (4xx, nothing changed) unless it names
// this app, merchant and store and a CodePay payment of this journal with its
// trans_no, amount and currency; and even a matching one is only a hint: the
// payment follows CodePay's signed query answer, not the notification.
func TestNotificationBoundToThisInstallation(t *testing.T) {
	ts, h := hookServer(t)
	e := agenttest.New(t, agenttest.Opts{Poll: 30 * time.Second, Pickup: 100 * time.Millisecond, Process: 3 * time.Second,
		NotifyURL: ts.URL + "/hooks/codepay"})
	rs, err := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{"tok-0123456789abcdef"} }})
	if err != nil {
		t.Fatal(err)
	}
	h.Store(server.Handler(server.Config{Agent: e.Agent, RPC: rs, Notifications: e.Client}))
	ctx := context.Background()

	// The cloud will decline this payment.
	e.Sim.ScriptOutcome("BIND1", codepaysim.Outcome{Status: codepay.StatusFailed, ErrorCode: "51", ErrorMsg: "Insufficient funds"})
	e.MustCreate(e.Sale("BIND1", agenttest.TermA, "9.52"))
	e.WaitState("BIND1", agent.StateOnTerminal)
	p, _ := e.Agent.Get(ctx, "BIND1")
	if p.TransNo == "" {
		t.Fatal("no trans_no on the terminal")
	}
	eventsBefore, _ := e.Agent.Events(ctx, "BIND1")

	approved := func(over map[string]string) map[string]string {
		m := map[string]string{"merchant_order_no": "BIND1", "trans_no": p.TransNo, "trans_status": "2", "trans_type": "1",
			"order_amount": "9.52", "trans_amount": "9.52", "price_currency": "USD",
			"merchant_no": "302300000001", "store_no": "402300000001"}
		for k, v := range over {
			m[k] = v
		}
		return m
	}
	post := func(body []byte) (int, string) {
		resp, err := http.Post(ts.URL+"/hooks/codepay", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		name string
		over map[string]string
		drop string // a field left out
		want int
	}{
		{"another app_id", map[string]string{"app_id": "wzother000000001"}, "", http.StatusBadRequest},
		{"another merchant_no", map[string]string{"merchant_no": "302399999999"}, "", http.StatusBadRequest},
		{"another store_no", map[string]string{"store_no": "402399999999"}, "", http.StatusBadRequest},
		{"an order not in the journal", map[string]string{"merchant_order_no": "NOT-OURS-1"}, "", http.StatusUnprocessableEntity},
		{"another trans_no", map[string]string{"trans_no": "5026120100000000009999"}, "", http.StatusUnprocessableEntity},
		{"another amount", map[string]string{"order_amount": "0.01", "trans_amount": "0.01"}, "", http.StatusUnprocessableEntity},
		{"another currency", map[string]string{"price_currency": "EUR"}, "", http.StatusUnprocessableEntity},
		{"no amount", nil, "order_amount", http.StatusUnprocessableEntity},
	} {
		params := approved(c.over)
		delete(params, c.drop)
		code, body := post(e.GatewayNotification(params))
		if code != c.want {
			t.Errorf("%s: HTTP %d %q, want %d", c.name, code, body, c.want)
		}
		if got, _ := e.Agent.Get(ctx, "BIND1"); got.State != agent.StateOnTerminal {
			t.Fatalf("%s: the payment moved to %s", c.name, got.State)
		}
	}
	// Other events may come meanwhile (the terminal picking the order up, a
	// reachability probe): only what a notification writes counts.
	if evs, _ := e.Agent.Events(ctx, "BIND1"); countKind(evs, "notification") != countKind(eventsBefore, "notification") {
		t.Errorf("refused notifications left events in the journal: %+v", evs[len(eventsBefore):])
	}
	if _, err := e.Agent.Get(ctx, "NOT-OURS-1"); err == nil {
		t.Error("a notification for an unknown order created a payment")
	}

	// A matching notification that claims approval is acknowledged but only
	// triggers a query: the payment ends as the cloud decided.
	if code, body := post(e.GatewayNotification(approved(nil))); code != http.StatusOK || body != codepay.NotificationAck {
		t.Fatalf("matching notification → %d %q", code, body)
	}
	final, err := e.Agent.Wait(ctx, "BIND1", 20*time.Second)
	if err != nil || final.State != agent.StateDeclined {
		t.Fatalf("after a lying notification the payment is %+v, %v; the cloud declined it", final, err)
	}
}

// countKind counts the events of one kind.
func countKind(evs []store.Event, kind string) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}
