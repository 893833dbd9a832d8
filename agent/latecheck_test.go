package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/qrwallet/qrwalletsim"
)

// waitAlert waits until the payment carries an alert (by its published
// events) and returns it.
func waitAlert(t *testing.T, e *agenttest.Env, orderNo string) agent.Payment {
	t.Helper()
	return waitAlertWith(t, e, orderNo, "")
}

// waitAlertWith waits until the payment carries an alert beginning with
// prefix and returns it.
func waitAlertWith(t *testing.T, e *agenttest.Env, orderNo, prefix string) agent.Payment {
	t.Helper()
	has := func(p *agent.Payment) bool { return p.Alert != "" && strings.HasPrefix(p.Alert, prefix) }
	ch := make(chan agent.Payment, 1)
	unsub := e.Agent.Subscribe(func(ev agent.Event) {
		if ev.Payment != nil && ev.Payment.MerchantOrderNo == orderNo && has(ev.Payment) {
			select {
			case ch <- *ev.Payment:
			default:
			}
		}
	})
	defer unsub()
	if p, err := e.Agent.Get(context.Background(), orderNo); err == nil && has(&p) {
		return p
	}
	select {
	case p := <-ch:
		return p
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never got an alert (events %v)", orderNo, e.States(orderNo))
	}
	return agent.Payment{}
}

// The QR wallet never closes an order (its document gives native codes no
// expiry and no cancel): a customer who pays after posbridge marked the
// payment expired must not go unrecorded.
func TestQRPaidAfterExpiryRaisesAlert(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	e.MustCreate(qrSale("QRLATE1", "7.50"))
	if got := e.WaitFinal("QRLATE1"); got.State != agent.StateExpired {
		t.Fatalf("final = %+v", got)
	}
	if _, ok, err := e.DB.NextLateCheck(context.Background()); err != nil || !ok {
		t.Fatalf("no late check scheduled: %v %v", ok, err)
	}
	if _, err := e.Prov.QRSim.ScanLate("QRLATE1"); err != nil {
		t.Fatal(err)
	}
	p := waitAlert(t, e, "QRLATE1")
	if p.State != agent.StateExpired || !strings.Contains(p.Alert, "Paid after it expired: the QR wallet shows this order paid") {
		t.Fatalf("after the late payment: state %s, alert %q", p.State, p.Alert)
	}
	// The batch still counts it as expired (nothing approved by posbridge);
	// the alert is what a person acts on.
	b, err := e.Agent.BatchGet(context.Background(), agent.RouteQRWallet)
	if err != nil {
		t.Fatal(err)
	}
	if m := b.Local.ByMethod[agent.MethodQR]; m.Count != 0 {
		t.Fatalf("by_method = %+v", b.Local.ByMethod)
	}
	// The watch ends right after the alert is journaled.
	waitLateChecksEnded(t, e)
	if n := e.Prov.QRSim.Count(qrwalletsim.EndpointNativePay, "QRLATE1"); n != 1 {
		t.Fatalf("native pay sent %d times", n)
	}
}

// A code nobody pays is watched for the window only, and says so.
func TestQRLateCheckEndsAfterWindow(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true, LateCheckWindow: 300 * time.Millisecond})
	e.MustCreate(qrSale("QRLATE2", "3.00"))
	if got := e.WaitFinal("QRLATE2"); got.State != agent.StateExpired {
		t.Fatalf("final = %+v", got)
	}
	waitLateChecksEnded(t, e)
	evs, err := e.DB.Events(context.Background(), "QRLATE2")
	if err != nil || !strings.Contains(evs[len(evs)-1].Detail, "no longer checked for a late payment") {
		t.Fatalf("last event = %+v, %v", evs[len(evs)-1], err)
	}
	if p, _ := e.Agent.Get(context.Background(), "QRLATE2"); p.Alert != "" || p.State != agent.StateExpired {
		t.Fatalf("payment = %+v", p)
	}
}

// waitLateChecksEnded waits until no late check is open (the journal is
// polled: ending one publishes nothing).
func waitLateChecksEnded(t *testing.T, e *agenttest.Env) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, ok, err := e.DB.NextLateCheck(context.Background()); err != nil || !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the late check never ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The VA/QRIS gateway's document has no expired status and never says a
// transfer arriving after the order's expiry is refused. A VA payment the
// gateway still showed unpaid past its expiry (and expiry_grace) ends
// expired with no late checks; if the gateway then posts a signed SUCCESS
// callback, it is not acknowledged and dropped: the agent asks the gateway
// at once, and the payment gets the alert.
func TestVAPaidAfterExpiryByCallbackRaisesAlert(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true, JumpClock: true})
	expiredVA(t, e, "VALATE1", "30000")
	// A transfer the gateway accepts late; its callback reaches /hooks/idpay.
	queries := e.Prov.IDSim.Count("query", "VALATE1")
	if _, err := e.Prov.IDSim.Pay("VALATE1"); err != nil {
		t.Fatal(err)
	}
	p := waitAlert(t, e, "VALATE1")
	if p.State != agent.StateExpired || !strings.Contains(p.Alert, "Paid after it expired: the VA/QRIS gateway shows this order paid") {
		t.Fatalf("after the late callback: state %s, alert %q", p.State, p.Alert)
	}
	if e.Prov.IDSim.Count("query", "VALATE1") <= queries {
		t.Fatal("alert raised without asking the gateway")
	}
	waitLateChecksEnded(t, e)
	// The callback's repeats change nothing more.
	if err := e.Prov.IDSim.RepeatCallback("VALATE1"); err != nil {
		t.Fatal(err)
	}
	if n := alertsJournaled(t, e, "VALATE1"); n != 1 {
		t.Fatalf("%d alerts journaled, want 1", n)
	}
	if n := e.Prov.IDSim.Count("create", "VALATE1"); n != 1 {
		t.Fatalf("created %d times", n)
	}
}

// A verified callback about an expired VA payment that the gateway still
// shows unpaid ends its late check with an event and no alert.
func TestVALateCallbackUnpaidNoAlert(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true, JumpClock: true})
	ctx := context.Background()
	expiredVA(t, e, "VALATE2", "20000")
	// A callback the gateway signed but about an order still unpaid.
	if err := e.Agent.ApplyIDPayCallback(ctx, callback("VALATE2", 2000000)); err != nil {
		t.Fatal(err)
	}
	waitLateChecksEnded(t, e)
	evs, err := e.DB.Events(ctx, "VALATE2")
	if err != nil || !strings.Contains(evs[len(evs)-1].Detail, "the order ended unpaid at the VA/QRIS gateway") {
		t.Fatalf("last event = %+v, %v", evs[len(evs)-1], err)
	}
	if p, _ := e.Agent.Get(ctx, "VALATE2"); p.Alert != "" || p.State != agent.StateExpired {
		t.Fatalf("payment = %+v", p)
	}
}

// expiredVA creates a VA_BNI payment and moves the agent's clock an hour
// past its expiry (the store PC was off from before the expiry until well
// after it): the payment ends expired, with no late check left open.
func expiredVA(t *testing.T, e *agenttest.Env, no, amount string) {
	t.Helper()
	e.MustCreate(vaSale(no, "VA_BNI", amount))
	e.WaitState(no, agent.StateOnTerminal)
	p, err := e.Agent.Get(context.Background(), no)
	if err != nil || p.ExpiresAt.IsZero() {
		t.Fatalf("payment = %+v, %v", p, err)
	}
	e.JumpClock(time.Until(p.ExpiresAt) + time.Hour)
	if got := e.WaitFinal(no); got.State != agent.StateExpired || got.Alert != "" {
		t.Fatalf("final = %+v", got)
	}
	if _, ok, err := e.DB.NextLateCheck(context.Background()); err != nil || ok {
		t.Fatalf("late check open after the gateway's expiry grace: %v %v", ok, err)
	}
}

// alertsJournaled counts the alert events of a payment.
func alertsJournaled(t *testing.T, e *agenttest.Env, no string) int {
	t.Helper()
	evs, err := e.DB.Events(context.Background(), no)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if strings.HasPrefix(ev.Detail, "alert: ") {
			n++
		}
	}
	return n
}

// A wallet may refuse a quick pay while the payer is still entering the
// PIN (its server gave up waiting; the spec shows no error answers): the
// payment is declined at once — the cashier is not kept waiting — but
// watched; when the payer confirms after all, it gets the alert.
func TestQRQuickRefusedThenPaidRaisesAlert(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	m := e.Prov.QRSim.Mode()
	m.PendingAsRefusal = true
	if _, err := e.Prov.QRSim.SetMode(m); err != nil {
		t.Fatal(err)
	}
	// The payer is still entering the PIN when the wallet refuses.
	if err := e.Prov.QRSim.ScriptPayment("QRQLATE", qrwalletsim.Script{Outcome: qrwalletsim.OutcomePIN, PINDelay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	r := qrSale("QRQLATE", "3.00")
	r.QRMode, r.CustomerCode = agent.QRModeQuick, "134567890123456789"
	e.MustCreate(r)
	if got := e.WaitFinal("QRQLATE"); got.State != agent.StateDeclined {
		t.Fatalf("refused quick pay = %+v (%v)", got, e.States("QRQLATE"))
	}
	if _, err := e.Prov.QRSim.EnterPIN("QRQLATE"); err != nil {
		t.Fatal(err)
	}
	p := waitAlert(t, e, "QRQLATE")
	if p.State != agent.StateDeclined || !strings.Contains(p.Alert, "Paid after it was declined: the QR wallet shows this order paid") {
		t.Fatalf("after the PIN: state %s, alert %q", p.State, p.Alert)
	}
	waitLateChecksEnded(t, e)
}

// A quick pay the wallet truly declined is watched for a while and then
// left alone, with an event saying so; no alert.
func TestQRQuickDeclinedWatchEnds(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true, JumpClock: true})
	r := qrSale("QRQDECL", "3.51") // suffix 51: refused by the wallet
	r.QRMode, r.CustomerCode = agent.QRModeQuick, "134567890123456789"
	e.MustCreate(r)
	if got := e.WaitFinal("QRQDECL"); got.State != agent.StateDeclined {
		t.Fatalf("declined = %+v", got)
	}
	if _, ok, err := e.DB.NextLateCheck(context.Background()); err != nil || !ok {
		t.Fatalf("declined quick pay not watched: %v %v", ok, err)
	}
	e.JumpClock(11 * time.Minute)
	waitLateChecksEnded(t, e)
	evs, err := e.DB.Events(context.Background(), "QRQDECL")
	if err != nil || !strings.Contains(evs[len(evs)-1].Detail, "no longer checked for a late payment: the QR wallet still showed the order unpaid 10 minutes after it was declined") {
		t.Fatalf("last event = %+v, %v", evs[len(evs)-1], err)
	}
	if p, _ := e.Agent.Get(context.Background(), "QRQDECL"); p.Alert != "" {
		t.Fatalf("alert = %q", p.Alert)
	}
}
