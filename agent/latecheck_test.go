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
	ch := make(chan agent.Payment, 1)
	unsub := e.Agent.Subscribe(func(ev agent.Event) {
		if ev.Payment != nil && ev.Payment.MerchantOrderNo == orderNo && ev.Payment.Alert != "" {
			select {
			case ch <- *ev.Payment:
			default:
			}
		}
	})
	defer unsub()
	if p, err := e.Agent.Get(context.Background(), orderNo); err == nil && p.Alert != "" {
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
