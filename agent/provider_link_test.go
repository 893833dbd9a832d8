package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/store"
)

func linkSale(no, amount string) agent.CreateRequest {
	return agent.CreateRequest{MerchantOrderNo: no, Method: agent.MethodLink, Amount: amount, Currency: "USD", Description: "phone order", Source: agent.SourceWS}
}

// refusedNothingJournaled checks that r is refused naming field and that
// nothing was journaled.
func refusedNothingJournaled(t *testing.T, e *agenttest.Env, r agent.CreateRequest, field string) {
	t.Helper()
	_, err := e.Agent.Create(context.Background(), r)
	var fe *agent.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Errorf("%s: err = %v, want field %s", r.MerchantOrderNo, err, field)
	}
	if _, err := e.DB.GetPayment(context.Background(), r.MerchantOrderNo); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s journaled", r.MerchantOrderNo)
	}
}

// insertSending journals a link payment like row as no, state sending with
// create_sent, as a process that died around the create leaves it.
func insertSending(t *testing.T, e *agenttest.Env, row *store.Payment, no, transNo string) {
	t.Helper()
	r := *row
	r.MerchantOrderNo, r.State, r.OptionsJSON, r.ID, r.TransNo = no, agent.StateSending, `{"method":"link"}`, 0, transNo
	r.CreateSent, r.NextCheckAt = true, r.CreatedAt
	if _, err := e.DB.InsertPayment(context.Background(), &r, store.Event{Kind: "created", ToState: agent.StateSending}); err != nil {
		t.Fatal(err)
	}
}

func TestLinkPaidApprovedOnPseudoDesk(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	before := time.Now()
	p := e.MustCreate(linkSale("LNK1", "25.00"))
	if p.State != agent.StateOnTerminal || p.Method != agent.MethodLink || p.PayURL == "" || p.Route != agent.RouteCodePayLink || p.TerminalSN != agent.RouteCodePayLink {
		t.Fatalf("create = %+v; want on_terminal with a pay_url on the codepay_link pseudo-desk", p)
	}
	if d := p.ExpiresAt.Sub(before); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("expires_at = %v, want about 24h from now", p.ExpiresAt)
	}
	if err := e.Sim.Customer("LNK1", codepaysim.CustomerPays, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := e.WaitFinal("LNK1"); got.State != agent.StateApproved || got.TransNo == "" {
		t.Fatalf("final = %+v (%v)", got, e.States("LNK1"))
	}
	if n := e.Sim.Count(codepay.MethodPayCheckout, "LNK1"); n != 1 {
		t.Fatalf("checkout sent %d times", n)
	}
	b, err := e.Agent.BatchGet(context.Background(), agent.RouteCodePayLink)
	if err != nil {
		t.Fatal(err)
	}
	if m := b.Local.ByMethod[agent.MethodLink]; m.Count != 1 || m.Amount != "25.00" {
		t.Fatalf("by_method = %+v", b.Local.ByMethod)
	}
}

// A link payment is refunded through CodePay's cloud (order.refund.submit):
// partial, never above what was paid, never on a terminal.
func TestLinkRefundedInCloud(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(linkSale("LNKR1", "25.00"))
	if err := e.Sim.Customer("LNKR1", codepaysim.CustomerPays, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := e.WaitFinal("LNKR1"); got.State != agent.StateApproved {
		t.Fatalf("sale = %+v", got)
	}
	var fe *agent.FieldError
	if _, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: "LNKR1-T", OrigMerchantOrderNo: "LNKR1", Via: agent.ViaTerminal, Source: agent.SourceWS}); !errors.As(err, &fe) || fe.Field != "via" {
		t.Fatalf("refund via terminal = %v", err)
	}
	r, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: "LNKR1-R1", OrigMerchantOrderNo: "LNKR1", Amount: "10.00", Source: agent.SourceWS})
	if err != nil {
		t.Fatal(err)
	}
	if r.TerminalSN != agent.RouteCodePayLink {
		t.Fatalf("refund on %q, want the link pseudo-desk", r.TerminalSN)
	}
	if got := e.WaitFinal("LNKR1-R1"); got.State != agent.StateApproved {
		t.Fatalf("refund = %+v (%v)", got, e.States("LNKR1-R1"))
	}
	if n := e.Sim.Count(codepay.MethodRefundSubmit, "LNKR1-R1"); n != 1 {
		t.Fatalf("refund submitted %d times", n)
	}
	if _, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: "LNKR1-R2", OrigMerchantOrderNo: "LNKR1", Amount: "15.01", Source: agent.SourceWS}); !errors.As(err, &fe) || fe.Field != "amount" {
		t.Fatalf("refund above what is left = %v", err)
	}
	b, err := e.Agent.BatchGet(ctx, agent.RouteCodePayLink)
	if err != nil {
		t.Fatal(err)
	}
	if b.Local.TotalAmount != "15.00" {
		t.Fatalf("link desk total = %s, want 15.00 after the refund", b.Local.TotalAmount)
	}
}

func TestLinkExpiresInAndDeclined(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	r := linkSale("LNKD", "3.00")
	r.LinkExpiresIn = 600
	before := time.Now()
	p := e.MustCreate(r)
	if d := p.ExpiresAt.Sub(before); d < 590*time.Second || d > 610*time.Second {
		t.Fatalf("expires_at = %v, want 600 s from now", p.ExpiresAt)
	}
	if err := e.Sim.Customer("LNKD", codepaysim.CustomerDeclined, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := e.WaitFinal("LNKD"); got.State != agent.StateDeclined {
		t.Fatalf("final = %+v", got)
	}
}

func TestLinkAbandonedThenExpired(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	e.MustCreate(linkSale("LNKX", "5.00"))
	if err := e.Sim.Customer("LNKX", codepaysim.CustomerAbandons, "", ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // a few polls: still waiting
	if got, _ := e.Agent.Get(context.Background(), "LNKX"); got.State != agent.StateOnTerminal {
		t.Fatalf("abandoned = %s, want on_terminal", got.State)
	}
	if err := e.Sim.Customer("LNKX", codepaysim.CustomerTooLate, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := e.WaitFinal("LNKX"); got.State != agent.StateExpired || got.Error == nil || got.Error.Code != "expired" {
		t.Fatalf("final = %+v", got)
	}
}

func TestLinkNotificationTriggersQuery(t *testing.T) {
	// Polls far apart: only the notification can make it final quickly.
	e := agenttest.New(t, agenttest.Opts{Poll: 30 * time.Second})
	e.MustCreate(linkSale("LNKN", "8.00"))
	if err := e.Sim.Customer("LNKN", codepaysim.CustomerPays, "", ""); err != nil {
		t.Fatal(err)
	}
	o, err := e.Client.QueryOrder(context.Background(), "LNKN", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Agent.ApplyNotification(context.Background(), o); err != nil {
		t.Fatalf("notification: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		got, _ := e.Agent.Get(ctx, "LNKN")
		if got.State == agent.StateApproved {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("state %s after the notification (%v)", got.State, e.States("LNKN"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	bad := *o
	amt := *o.OrderAmount + 1
	bad.OrderAmount = &amt
	if err := e.Agent.ApplyNotification(context.Background(), &bad); !errors.Is(err, agent.ErrNotificationRejected) {
		t.Fatalf("mismatched notification = %v", err)
	}
}

// A signed notification about a link CodePay already expired is checked
// with CodePay once more (never acknowledged and dropped); CodePay still
// shows it expired, so the check ends with an event and no alert.
func TestLinkNotificationAfterExpiryAsksAgain(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(linkSale("LNKE", "5.00"))
	if err := e.Sim.Customer("LNKE", codepaysim.CustomerTooLate, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := e.WaitFinal("LNKE"); got.State != agent.StateExpired {
		t.Fatalf("final = %+v", got)
	}
	o, err := e.Client.QueryOrder(ctx, "LNKE", "")
	if err != nil {
		t.Fatal(err)
	}
	queries := e.Sim.Count(codepay.MethodOrderQuery, "LNKE")
	if err := e.Agent.ApplyNotification(ctx, o); err != nil {
		t.Fatalf("notification: %v", err)
	}
	waitLateChecksEnded(t, e)
	if e.Sim.Count(codepay.MethodOrderQuery, "LNKE") <= queries {
		t.Fatal("CodePay was not asked again")
	}
	evs, err := e.DB.Events(ctx, "LNKE")
	if err != nil || !strings.Contains(evs[len(evs)-1].Detail, "the order ended unpaid at CodePay") {
		t.Fatalf("last event = %+v, %v", evs[len(evs)-1], err)
	}
	if got, _ := e.Agent.Get(ctx, "LNKE"); got.State != agent.StateExpired || got.Alert != "" {
		t.Fatalf("payment = %+v", got)
	}
}

// A link whose create answer was lost exists at CodePay, but its page
// address (pay_url) came only in that answer: nobody can pay it. The query
// finds it waiting; the agent withdraws it with order.revoker instead of
// letting it wait for a day, the checkout sent once.
func TestLinkUnknownOutcomeReconciledWithOneCheckout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []codepaysim.Fault
	}{
		{"revoked at once", nil},
		// The first order.revoker gets no gateway answer: confirmed by query,
		// or sent again at the payment's next query.
		{"revoke without an answer", []codepaysim.Fault{{Method: codepay.MethodOrderRevoker, Kind: codepaysim.FaultHTTP500, Count: 1}}},
		{"revoke dropped", []codepaysim.Fault{{Method: codepay.MethodOrderRevoker, Kind: codepaysim.FaultDrop, Count: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := agenttest.New(t, agenttest.Opts{InMemory: true})
				e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayCheckout, Kind: codepaysim.FaultDropAfterProcess})
				for _, f := range tc.faults {
					e.Sim.InjectFault(f)
				}
				p := e.MustCreate(linkSale("LNKU", "7.00"))
				if p.State != agent.StateUnknown {
					t.Fatalf("create = %s, want unknown", p.State)
				}
				got := e.WaitFinal("LNKU")
				if got.State != agent.StateCancelled || got.Error == nil || !strings.HasPrefix(got.Error.Message, "withdrawn: CodePay's answer to the link's create was lost") {
					t.Fatalf("final = %+v (%v)", got, e.States("LNKU"))
				}
				// The agent withdraws it by itself, again if need be: nobody
				// is asked to act.
				if got.Alert != "" {
					t.Errorf("alert %q on a withdrawn lost link", got.Alert)
				}
				if n := e.Sim.Count(codepay.MethodPayCheckout, "LNKU"); n != 1 {
					t.Fatalf("checkout sent %d times, want 1", n)
				}
				// Once, or twice when the first got no answer and CodePay still
				// showed the order waiting.
				if n := e.Sim.Count(codepay.MethodOrderRevoker, "LNKU"); n < 1 || n > 1+len(tc.faults) {
					t.Errorf("order.revoker sent %d times, want 1 to %d", n, 1+len(tc.faults))
				}
				if o, ok := e.Sim.Order("LNKU"); !ok || o.Status != codepay.StatusCancelled {
					t.Fatalf("CodePay's order = %+v, %v; want it closed (trans_status 3)", o, ok)
				}
				if err := e.Sim.Customer("LNKU", codepaysim.CustomerPays, "", ""); err == nil {
					t.Fatal("the customer paid a withdrawn link")
				}
				synctest.Wait() // the revoke ends right after the payment does
				if _, err := e.DB.GetRevoke(context.Background(), "LNKU"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("revoke still open: %v", err)
				}
			})
		})
	}
}

func TestLinkSendingAtRestartIsQueried(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(linkSale("LNS0", "1.00"))
	row, err := e.DB.GetPayment(ctx, "LNS0")
	if err != nil {
		t.Fatal(err)
	}
	insertSending(t, e, row, "LNS1", row.TransNo)
	e.Restart(agenttest.Opts{})
	got := e.WaitFinal("LNS1")
	if got.State != agent.StateFailed || got.Error == nil || got.Error.Code != agent.CodeProviderUnavailable {
		t.Fatalf("final = %+v (%v)", got, e.States("LNS1"))
	}
	if n := e.Sim.Count(codepay.MethodPayCheckout, "LNS1"); n != 0 {
		t.Fatalf("re-created %d times after restart", n)
	}
}

func TestLinkBadInputNothingJournaled(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	long, neg, onQR, cur := linkSale("LBAD2", "1.00"), linkSale("LBAD3", "1.00"), qrSale("LBAD4", "1.00"), linkSale("LBAD5", "1.00")
	long.LinkExpiresIn = 7*24*3600 + 1
	neg.LinkExpiresIn = -5
	onQR.LinkExpiresIn = 60
	cur.Currency = "EUR"
	card := e.Sale("LBAD6", agenttest.TermA, "1.00")
	card.LinkExpiresIn = 60
	for _, c := range []struct {
		r     agent.CreateRequest
		field string
	}{
		{linkSale("LBAD1", "1.001"), "amount"},
		{long, "link_expires_in"},
		{neg, "link_expires_in"},
		{onQR, "method"}, // no QR wallet in this environment
		{cur, "currency"},
		{card, "link_expires_in"},
	} {
		refusedNothingJournaled(t, e, c.r, c.field)
	}
	if n := len(e.Sim.Requests(codepay.MethodPayCheckout, "")); n != 0 {
		t.Fatalf("%d checkouts sent for refused requests", n)
	}
}

func TestLinkExpiresInRefusedOnQR(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Providers: true})
	r := qrSale("LBQ1", "1.00")
	r.LinkExpiresIn = 60
	_, err := e.Agent.Create(context.Background(), r)
	var fe *agent.FieldError
	if !errors.As(err, &fe) || fe.Field != "link_expires_in" {
		t.Fatalf("err = %v", err)
	}
}

// payment.cancel closes a waiting CodePay link with order.revoker (intent
// journaled, confirmed by query); the customer can no longer pay it.
func TestLinkCancelledWithRevoker(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(linkSale("LNKC", "9.00"))
	p, err := e.Agent.Cancel(ctx, "LNKC")
	if err != nil || p.State != agent.StateCancelled {
		t.Fatalf("cancel = %+v, %v", p, err)
	}
	if n := e.Sim.Count(codepay.MethodOrderRevoker, "LNKC"); n != 1 {
		t.Fatalf("order.revoker sent %d times", n)
	}
	if err := e.Sim.Customer("LNKC", codepaysim.CustomerPays, "", ""); err == nil {
		t.Fatal("the customer paid a cancelled link")
	}
	if got := e.WaitFinal("LNKC"); got.State != agent.StateCancelled {
		t.Fatalf("final = %+v", got)
	}
	if _, err := e.Agent.Cancel(ctx, "LNKC"); !errors.Is(err, agent.ErrNotCancellable) {
		t.Fatalf("second cancel = %v", err)
	}
	if _, err := e.DB.GetRevoke(ctx, "LNKC"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke still open: %v", err)
	}
}
