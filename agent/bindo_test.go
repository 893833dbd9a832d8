package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/bindo"
	"github.com/posbridge/posbridge/cloud/bindo/bindosim"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/device/card"
	"github.com/posbridge/posbridge/store"
)

func swipe(t *testing.T, track2 string) *card.Card {
	t.Helper()
	c, err := card.Parse(card.Input{ReaderMode: "swipe", Track2: track2}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const visaTrack2 = "4111111111111111=30122011758928889"

func nativeSale(e *agenttest.Env, no, sn, amount string, c *card.Card) agent.CreateRequest {
	r := e.Sale(no, sn, amount)
	r.Card = c
	r.Options.Route = "native"
	return r
}

func TestNativeSaleVoidRefundTip(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true})
	ctx := context.Background()
	c := swipe(t, visaTrack2)
	p := e.MustCreate(nativeSale(e, "NAT1", agenttest.TermA, "25.00", c))
	if p.Route != agent.RouteBindo {
		t.Fatalf("route = %s, want bindo", p.Route)
	}
	got := e.WaitFinal("NAT1")
	if got.State != agent.StateApproved || got.Card == nil || got.Card.MaskedPAN != "411111******1111" || got.Card.Brand == "" {
		t.Fatalf("native sale = %+v card %+v", got, got.Card)
	}
	if c.PAN() != "" {
		t.Error("card data not wiped after the sale was sent")
	}
	if n := e.Sim.Count("", "NAT1"); n != 0 {
		t.Errorf("CodePay saw %d requests for a native payment", n)
	}
	uuid := got.TransNo
	if n := e.BindoSim.Count(bindosim.OpSale, uuid); n != 1 {
		t.Errorf("Bindo saw %d sales, want 1", n)
	}
	// Resending the same request is idempotent: no second sale.
	again := nativeSale(e, "NAT1", agenttest.TermA, "25.00", swipe(t, visaTrack2))
	if p, err := e.Agent.Create(ctx, again); err != nil || p.State != agent.StateApproved {
		t.Fatalf("resend = %+v, %v", p, err)
	}
	if n := e.BindoSim.Count(bindosim.OpSale, uuid); n != 1 {
		t.Errorf("Bindo saw %d sales after a resend, want 1", n)
	}
	if _, err := e.Agent.TipAdjust(ctx, "NAT1", "3.00"); err != nil {
		t.Fatalf("Bindo tip adjust: %v", err)
	}
	ref := agent.CreateRequest{MerchantOrderNo: "NATR1", Type: agent.TypeRefund, TerminalSN: agenttest.TermA, Amount: "5.00", Currency: "USD", OrigMerchantOrderNo: "NAT1", Source: agent.SourceWS}
	if p := e.MustCreate(ref); p.Route != agent.RouteBindo {
		t.Fatalf("refund of a Bindo payment has route %s", p.Route)
	}
	if p := e.WaitFinal("NATR1"); p.State != agent.StateApproved {
		t.Fatalf("Bindo refund = %+v", p)
	}
	e.MustCreate(nativeSale(e, "NAT2", agenttest.TermA, "9.00", swipe(t, visaTrack2)))
	e.WaitFinal("NAT2")
	void := agent.CreateRequest{MerchantOrderNo: "NATV2", Type: agent.TypeVoid, TerminalSN: agenttest.TermA, Amount: "9.00", Currency: "USD", OrigMerchantOrderNo: "NAT2", Source: agent.SourceWS}
	e.MustCreate(void)
	if p := e.WaitFinal("NATV2"); p.State != agent.StateApproved || p.Route != agent.RouteBindo {
		t.Fatalf("Bindo void = %+v", p)
	}
	if n := e.BindoSim.Count(bindosim.OpVoid, ""); n != 1 {
		t.Errorf("Bindo saw %d voids", n)
	}
	// Batch totals include and mark the Bindo payments.
	b, err := e.Agent.BatchGet(ctx, agenttest.TermA)
	if err != nil || b.Local.ByRoute["bindo"].Count != 2 {
		t.Fatalf("batch = %+v, %v", b.Local, err)
	}
}

func TestFallbackAfterOfflineTerminal(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true, OfflineGrace: 300 * time.Millisecond})
	ctx := context.Background()
	e.MustCreate(e.Sale("FB1", agenttest.TermOff, "12.00"))
	p := e.WaitFinal("FB1")
	if p.State != agent.StateFailed || p.Error == nil || p.Error.Code != agent.CodeCodePayUnavailable || p.Error.Fallback != "native" {
		t.Fatalf("offline payment = %+v error %+v", p, p.Error)
	}
	if n := e.Sim.Count(codepay.MethodPayClose, "FB1"); n != 1 {
		t.Fatalf("CodePay saw %d closes; the order must be withdrawn before falling back", n)
	}
	// A different request under the same number is still refused.
	other := e.Sale("FB1", agenttest.TermOff, "13.00")
	other.Card = swipe(t, visaTrack2)
	if _, err := e.Agent.Create(ctx, other); !errors.Is(err, agent.ErrOrderNoReused) {
		t.Fatalf("fallback with other parameters: %v", err)
	}
	retry := e.Sale("FB1", agenttest.TermOff, "12.00")
	retry.Card = swipe(t, visaTrack2)
	if _, err := e.Agent.Create(ctx, retry); err != nil {
		t.Fatalf("fallback: %v", err)
	}
	got := e.WaitFinal("FB1")
	if got.State != agent.StateApproved || got.Route != agent.RouteBindo {
		t.Fatalf("after fallback = %+v", got)
	}
	if n := e.Sim.Count(codepay.MethodPayOrder, "FB1"); n != 1 {
		t.Fatalf("CodePay saw %d creates", n)
	}
}

func TestFallbackRefusedWhenCharged(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true})
	e.MustCreate(e.Sale("FBX", agenttest.TermA, "10.51")) // declined at CodePay
	e.WaitFinal("FBX")
	retry := e.Sale("FBX", agenttest.TermA, "10.51")
	retry.Card = swipe(t, visaTrack2)
	if _, err := e.Agent.Create(context.Background(), retry); !errors.Is(err, agent.ErrFallbackRefused) {
		t.Fatalf("fallback of a declined payment: %v", err)
	}
	if n := e.BindoSim.Count(bindosim.OpSale, ""); n != 0 {
		t.Fatalf("Bindo saw %d sales", n)
	}
}

func TestFallbackWhenCodePayUnreachable(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true, UnreachableGrace: 200 * time.Millisecond})
	e.Srv.Close() // CodePay unreachable: connections are refused, nothing is sent
	e.MustCreate(e.Sale("UNR1", agenttest.TermA, "4.00"))
	p := e.WaitFinal("UNR1")
	if p.State != agent.StateFailed || p.Error.Code != agent.CodeCodePayUnavailable || p.Error.Fallback != "native" {
		t.Fatalf("unreachable = %+v %+v", p, p.Error)
	}
	retry := e.Sale("UNR1", agenttest.TermA, "4.00")
	retry.Card = swipe(t, visaTrack2)
	e.MustCreate(retry)
	if p := e.WaitFinal("UNR1"); p.State != agent.StateApproved || p.Route != agent.RouteBindo {
		t.Fatalf("after fallback = %+v", p)
	}
}

func TestNativeUnknownOutcomeResolvedByQuery(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true})
	e.BindoSim.InjectFault(bindosim.Fault{Op: bindosim.OpSale, Kind: bindosim.FaultDropAfterProcess, Count: 1})
	e.MustCreate(nativeSale(e, "NDROP", agenttest.TermA, "7.00", swipe(t, visaTrack2)))
	p := e.WaitFinal("NDROP")
	if p.State != agent.StateApproved {
		t.Fatalf("after dropped connection = %+v (states %v)", p, e.States("NDROP"))
	}
	if n := e.BindoSim.Count(bindosim.OpSale, p.TransNo); n != 1 {
		t.Fatalf("Bindo saw %d sales, want 1", n)
	}
}

func TestNativeSaleInterruptedBeforeSendingFailsSafely(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true})
	ctx := context.Background()
	now := time.Now()
	// As if posbridge died between accepting a native sale and sending it.
	_, err := e.DB.InsertPayment(ctx, &store.Payment{MerchantOrderNo: "NINT", Type: "sale", State: "queued", Source: "ws",
		TerminalSN: agenttest.TermA, Currency: "USD", AmountMinor: 500, Route: "bindo", RequestHash: "x", ExpiresAt: now.Add(time.Minute),
		CreatedAt: now, UpdatedAt: now}, store.Event{Kind: "created"})
	if err != nil {
		t.Fatal(err)
	}
	e.Restart(agenttest.Opts{})
	p := e.WaitFinal("NINT")
	if p.State != agent.StateFailed || p.Error.Code != agent.CodeCardNotSent {
		t.Fatalf("interrupted native sale = %+v %+v", p, p.Error)
	}
	if n := e.BindoSim.Count(bindosim.OpSale, ""); n != 0 {
		t.Fatalf("Bindo saw %d sales", n)
	}
}

// A sale request held on the way reaches Bindo after posbridge gave up on
// it (Bindo had no record past the expiry: "nothing was charged"). Bindo's
// verified webhook about the approval is not acknowledged and dropped: the
// agent asks Bindo, and the payment gets an alert; its state stays.
func TestNativeApprovedAfterGivenUpRaisesAlert(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true, JumpClock: true})
	ctx := context.Background()
	e.BindoSim.InjectFault(bindosim.Fault{Op: bindosim.OpSale, Kind: bindosim.FaultProcessLate, Delay: time.Hour})
	e.MustCreate(nativeSale(e, "NLATE", agenttest.TermA, "9.00", swipe(t, visaTrack2)))
	e.WaitState("NLATE", agent.StateUnknown)
	e.JumpClock(time.Hour) // past the expiry and the give-up time
	p := e.WaitFinal("NLATE")
	if p.State != agent.StateFailed || p.Error == nil || p.Error.Code != agent.CodeCardNotSent {
		t.Fatalf("given up = %+v", p)
	}
	// The held request reaches Bindo; Bindo's webhook names the approval.
	if n := e.BindoSim.ReleaseHeld(); n != 1 {
		t.Fatalf("released %d held requests, want 1", n)
	}
	var tx *bindo.Transaction
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := e.BindoClient.Query(ctx, p.TransNo, "")
		if err == nil && got.Final {
			tx = got
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the held sale never reached Bindo: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := e.Agent.ApplyBindoWebhook(ctx, tx); err != nil {
		t.Fatal(err)
	}
	got, err := e.Agent.Get(ctx, "NLATE")
	if err != nil || got.State != agent.StateFailed || !strings.Contains(got.Alert, "Approved after it ended: Bindo shows this sale approved") {
		t.Fatalf("after the webhook: %+v, %v", got, err)
	}
	// A repeat of the webhook adds nothing.
	if err := e.Agent.ApplyBindoWebhook(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if n := alertsJournaled(t, e, "NLATE"); n != 1 {
		t.Fatalf("%d alerts journaled, want 1", n)
	}
}

// waitCompleted waits until CodePay shows the order completed and returns
// it as CodePay's notification would carry it.
func waitCompleted(t *testing.T, e *agenttest.Env, no string) *codepay.Order {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		o, err := e.Client.QueryOrder(context.Background(), no, "")
		if err == nil && o.TransStatus == codepay.StatusCompleted {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never completed at CodePay: %+v, %v", no, o, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// givenUpOn creates a sale whose create CodePay misses: the first is held
// on the way, every re-send fails unprocessed, so posbridge ends the
// payment failed codepay_unavailable ("no record ... after 3 re-sends").
// arrive then lets the held create reach CodePay, where the terminal
// completes it (or, offline, leaves it at status 9).
func givenUpOn(t *testing.T, e *agenttest.Env, no, sn, amount string) (p agent.Payment, arrive func()) {
	t.Helper()
	e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayOrder, Kind: codepaysim.FaultProcessLate, Delay: time.Hour})
	e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayOrder, Kind: codepaysim.FaultHTTP500, Count: agent.DefaultMaxResends})
	e.MustCreate(e.Sale(no, sn, amount))
	p = e.WaitFinal(no)
	if p.State != agent.StateFailed || p.Error == nil || p.Error.Code != agent.CodeCodePayUnavailable {
		t.Fatalf("given up = %+v (%v)", p, e.States(no))
	}
	return p, func() {
		t.Helper()
		if n := e.Sim.ReleaseHeld(); n != 1 {
			t.Fatalf("released %d held creates, want 1", n)
		}
	}
}

// A create held on the way reaches CodePay after posbridge gave up on the
// order ("no record" after its re-sends; failed, "nothing was charged"),
// and the terminal completes it. posbridge keeps asking CodePay about such
// a payment (late checks), and the signed "completed" puts an alert on it;
// its state stays failed.
func TestCodePayPaidAfterGivenUpFoundByLateCheck(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{JumpClock: true, Poll: time.Second}) // first late check 4 s after giving up
	_, arrive := givenUpOn(t, e, "CPLATE", agenttest.TermA, "4.00")
	if _, ok, err := e.DB.NextLateCheck(context.Background()); err != nil || !ok {
		t.Fatalf("no late check after giving up on CodePay's \"no record\": %v %v", ok, err)
	}
	arrive()
	o := waitCompleted(t, e, "CPLATE")
	e.JumpClock(5 * time.Second) // the late check is due
	got := waitAlertWith(t, e, "CPLATE", "Approved after it ended: ")
	if got.State != agent.StateFailed || !strings.Contains(got.Alert, "CodePay shows this sale approved (trans_no "+o.TransNo+")") {
		t.Fatalf("after the late check: %+v", got)
	}
	waitLateChecksEnded(t, e)
	if n := alertsJournaled(t, e, "CPLATE"); n != 1 {
		t.Fatalf("%d alerts journaled, want 1", n)
	}
}

// A held create that reaches CodePay after posbridge gave up on it, while
// no terminal has taken it (the terminal is offline), is closed at CodePay
// by the next late check: nobody can pay it, and the watch ends.
func TestCodePayLateCreateClosedBeforeTaken(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{JumpClock: true, Poll: time.Second})
	ctx := context.Background()
	_, arrive := givenUpOn(t, e, "CPHELD", agenttest.TermOff, "5.00")
	arrive()
	if o, err := e.Client.QueryOrder(ctx, "CPHELD", ""); err != nil || o.TransStatus != codepay.StatusCreated {
		t.Fatalf("the held create at CodePay = %+v, %v; want status 9", o, err)
	}
	e.JumpClock(5 * time.Second)
	waitLateChecksEnded(t, e)
	if n := e.Sim.Count(codepay.MethodPayClose, "CPHELD"); n != 1 {
		t.Fatalf("CodePay saw %d closes, want 1", n)
	}
	if o, err := e.Client.QueryOrder(ctx, "CPHELD", ""); err != nil || o.TransStatus == codepay.StatusCompleted || o.TransStatus == codepay.StatusCreated {
		t.Fatalf("the order after the late check = %+v, %v", o, err)
	}
	evs, err := e.DB.Events(ctx, "CPHELD")
	if err != nil || !strings.Contains(evs[len(evs)-1].Detail, "the order was closed at CodePay before a terminal took it, nothing was charged") {
		t.Fatalf("last event = %+v, %v", evs[len(evs)-1], err)
	}
	if p, _ := e.Agent.Get(ctx, "CPHELD"); p.State != agent.StateFailed || p.Alert != "" {
		t.Fatalf("payment = %+v", p)
	}
}

// The same, with the late checks over before the create arrives: CodePay's
// verified notification is not dropped, a signed query confirms it, and
// the payment gets the alert — even over an alert of another kind,
// already handled.
func TestCodePayPaidAfterGivenUpRaisesAlert(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{LateCheckWindow: 300 * time.Millisecond})
	ctx := context.Background()
	_, arrive := givenUpOn(t, e, "CPLATE", agenttest.TermA, "4.00")
	waitLateChecksEnded(t, e)
	if _, err := e.Agent.SetAlert(ctx, "CPLATE", "The ECR never acknowledged the result"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Agent.HandleAlert(ctx, "CPLATE", agent.SourceCLI, "checked"); err != nil {
		t.Fatal(err)
	}
	arrive()
	o := waitCompleted(t, e, "CPLATE")
	queries := e.Sim.Count(codepay.MethodOrderQuery, "CPLATE")
	if err := e.Agent.ApplyNotification(ctx, o); err != nil {
		t.Fatal(err)
	}
	got := waitAlertWith(t, e, "CPLATE", "Approved after it ended: ")
	if got.State != agent.StateFailed || !strings.Contains(got.Alert, "CodePay shows this sale approved (trans_no "+o.TransNo+")") {
		t.Fatalf("after the notification: %+v", got)
	}
	if e.Sim.Count(codepay.MethodOrderQuery, "CPLATE") <= queries {
		t.Fatal("alert raised without asking CodePay")
	}
	if !got.AlertHandledAt.IsZero() {
		t.Fatalf("the late approval's alert is not open: %+v", got)
	}
	if err := e.Agent.ApplyNotification(ctx, o); err != nil {
		t.Fatal(err)
	}
	if n := alertsJournaled(t, e, "CPLATE"); n != 2 {
		t.Fatalf("%d alerts journaled, want 2 (the ECR one, the late approval once)", n)
	}
}

// The same lost create, but the cashier took the payment again through
// the Bindo fallback (same order number) before the held create reached
// CodePay: the customer paid twice, and the payment says so (the late
// checks find it; CodePay's notification then adds nothing).
func TestCodePayPaidAfterBindoFallbackRaisesPaidTwice(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true, JumpClock: true, Poll: time.Second})
	ctx := context.Background()
	p, arrive := givenUpOn(t, e, "CPTWICE", agenttest.TermA, "6.00")
	if p.Error.Fallback != "native" {
		t.Fatalf("given up without the fallback hint: %+v", p.Error)
	}
	retry := e.Sale("CPTWICE", agenttest.TermA, "6.00")
	retry.Card = swipe(t, visaTrack2)
	if _, err := e.Agent.Create(ctx, retry); err != nil {
		t.Fatalf("fallback: %v", err)
	}
	if p := e.WaitFinal("CPTWICE"); p.State != agent.StateApproved || p.Route != agent.RouteBindo {
		t.Fatalf("after fallback = %+v", p)
	}
	arrive()
	o := waitCompleted(t, e, "CPTWICE")
	e.JumpClock(5 * time.Second) // the late check is due
	got := waitAlertWith(t, e, "CPTWICE", "Paid twice: ")
	if got.State != agent.StateApproved || !strings.Contains(got.Alert, "Paid twice: CodePay shows this sale approved (trans_no "+o.TransNo+") as well as Bindo") {
		t.Fatalf("after the late check: %+v", got)
	}
	// CodePay's notification of it adds nothing.
	if err := e.Agent.ApplyNotification(ctx, o); err != nil {
		t.Fatal(err)
	}
	if n := alertsJournaled(t, e, "CPTWICE"); n != 1 {
		t.Fatalf("%d alerts journaled, want 1", n)
	}
}
