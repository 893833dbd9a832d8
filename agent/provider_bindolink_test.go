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
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// bindoLinkEnv is an agent whose link provider is Bindo pre-create, against
// bindosim over real HTTP.
func bindoLinkEnv(t *testing.T, o agenttest.Opts) *agenttest.Env {
	t.Helper()
	o.Bindo, o.LinkProvider = true, agent.LinkProviderBindo
	return agenttest.New(t, o)
}

// actOnLink is the customer's action on the hosted page of payment no.
func actOnLink(t *testing.T, e *agenttest.Env, no string, a bindosim.LinkAction) {
	t.Helper()
	if err := e.BindoSim.ActOnLink(e.BindoClient.UUIDFor(no), a, ""); err != nil {
		t.Fatalf("%s %s: %v", a, no, err)
	}
}

func TestBindoLinkPaidApprovedOnPseudoDesk(t *testing.T) {
	e := bindoLinkEnv(t, agenttest.Opts{})
	before := time.Now()
	p := e.MustCreate(linkSale("BLK1", "25.00"))
	uuid := e.BindoClient.UUIDFor("BLK1")
	if p.State != agent.StateOnTerminal || p.Method != agent.MethodLink || p.Route != agent.RouteBindoLink ||
		p.TerminalSN != agent.RouteBindoLink || p.TransNo != uuid || !strings.Contains(p.PayURL, "/gateway/v3/payment/precreate/link?X-CLIENT-SECRET=") {
		t.Fatalf("create = %+v; want on_terminal with a pay_url on the bindo_link pseudo-desk, trans_no the uuid", p)
	}
	if d := p.ExpiresAt.Sub(before); d < 14*time.Minute || d > 16*time.Minute {
		t.Fatalf("expires_at = %v, want Bindo's default of 15 minutes from now", p.ExpiresAt)
	}
	reqs := e.BindoSim.Requests(bindosim.OpPreCreate, uuid)
	if len(reqs) != 1 {
		t.Fatalf("pre-create sent %d times", len(reqs))
	}
	if tx, _ := reqs[0].Body["transaction"].(map[string]any); tx["txn_exp_at"] != nil || tx["amount"] != "25.00" || tx["currency"] != "USD" {
		t.Fatalf("pre-create body = %v; want 25.00 USD without txn_exp_at", reqs[0].Body)
	}
	actOnLink(t, e, "BLK1", bindosim.LinkPay)
	if got := e.WaitFinal("BLK1"); got.State != agent.StateApproved || got.TransNo != uuid {
		t.Fatalf("final = %+v (%v)", got, e.States("BLK1"))
	}
	if n := e.BindoSim.Count(bindosim.OpPreCreate, uuid); n != 1 {
		t.Fatalf("pre-create sent %d times", n)
	}
	if n := e.Sim.Count("", "BLK1"); n != 0 {
		t.Fatalf("%d CodePay requests for a Bindo link", n)
	}
	b, err := e.Agent.BatchGet(context.Background(), agent.RouteBindoLink)
	if err != nil {
		t.Fatal(err)
	}
	if m := b.Local.ByMethod[agent.MethodLink]; m.Count != 1 || m.Amount != "25.00" {
		t.Fatalf("by_method = %+v", b.Local.ByMethod)
	}
}

// A paid Bindo link is refunded through Bindo's refund (by the paid order's
// uuid/brn): journaled first, sent once, followed by query; partial,
// never above what was paid.
func TestBindoLinkRefunded(t *testing.T) {
	e := bindoLinkEnv(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(linkSale("BLKR", "25.00"))
	actOnLink(t, e, "BLKR", bindosim.LinkPay)
	if got := e.WaitFinal("BLKR"); got.State != agent.StateApproved {
		t.Fatalf("sale = %+v", got)
	}
	var fe *agent.FieldError
	if _, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: "BLKR-C", OrigMerchantOrderNo: "BLKR", Via: agent.ViaCloud, Source: agent.SourceWS}); !errors.As(err, &fe) || fe.Field != "via" {
		t.Fatalf("refund via cloud = %v", err)
	}
	r, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: "BLKR-R1", OrigMerchantOrderNo: "BLKR", Amount: "10.00", Source: agent.SourceWS})
	if err != nil {
		t.Fatal(err)
	}
	if r.TerminalSN != agent.RouteBindoLink || r.Route != agent.RouteBindoLink {
		t.Fatalf("refund = %+v", r)
	}
	if got := e.WaitFinal("BLKR-R1"); got.State != agent.StateApproved {
		t.Fatalf("refund = %+v (%v)", got, e.States("BLKR-R1"))
	}
	if n := e.BindoSim.Count(bindosim.OpRefund, e.BindoClient.UUIDFor("BLKR-R1")); n != 1 {
		t.Fatalf("refund sent %d times", n)
	}
	if _, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: "BLKR-R2", OrigMerchantOrderNo: "BLKR", Amount: "15.01", Source: agent.SourceWS}); !errors.As(err, &fe) || fe.Field != "amount" {
		t.Fatalf("refund above what is left = %v", err)
	}
	b, err := e.Agent.BatchGet(ctx, agent.RouteBindoLink)
	if err != nil {
		t.Fatal(err)
	}
	if b.Local.TotalAmount != "15.00" {
		t.Fatalf("bindo_link desk total = %s, want 15.00 after the refund", b.Local.TotalAmount)
	}
}

func TestBindoLinkExpiresInAndDeclined(t *testing.T) {
	e := bindoLinkEnv(t, agenttest.Opts{})
	r := linkSale("BLKD", "3.00")
	r.LinkExpiresIn = 600
	before := time.Now()
	p := e.MustCreate(r)
	if d := p.ExpiresAt.Sub(before); d < 590*time.Second || d > 601*time.Second {
		t.Fatalf("expires_at = %v, want 600 s from now", p.ExpiresAt)
	}
	reqs := e.BindoSim.Requests(bindosim.OpPreCreate, p.TransNo)
	if tx, _ := reqs[0].Body["transaction"].(map[string]any); tx["txn_exp_at"] != p.ExpiresAt.Format(time.RFC3339) {
		t.Fatalf("txn_exp_at = %v, want %s", tx["txn_exp_at"], p.ExpiresAt.Format(time.RFC3339))
	}
	actOnLink(t, e, "BLKD", bindosim.LinkDecline)
	got := e.WaitFinal("BLKD")
	if got.State != agent.StateDeclined || got.Error == nil || !strings.Contains(got.Error.Message, bindo.CodeRejectedByIssuer) {
		t.Fatalf("final = %+v", got)
	}
}

func TestBindoLinkAbandonedThenExpired(t *testing.T) {
	e := bindoLinkEnv(t, agenttest.Opts{})
	e.MustCreate(linkSale("BLKX", "5.00"))
	actOnLink(t, e, "BLKX", bindosim.LinkAbandon)
	_, err := e.Agent.Cancel(context.Background(), "BLKX")
	if !errors.Is(err, agent.ErrNotCancellable) || !strings.Contains(err.Error(), "Bindo offers no way to close") || !strings.Contains(err.Error(), "expires at") {
		t.Fatalf("cancel = %v", err)
	}
	time.Sleep(100 * time.Millisecond) // a few polls: still waiting
	if got, _ := e.Agent.Get(context.Background(), "BLKX"); got.State != agent.StateOnTerminal {
		t.Fatalf("abandoned = %s, want on_terminal", got.State)
	}
	actOnLink(t, e, "BLKX", bindosim.LinkExpire)
	if got := e.WaitFinal("BLKX"); got.State != agent.StateExpired || got.Error == nil || got.Error.Code != "expired" {
		t.Fatalf("final = %+v", got)
	}
	if _, ok, err := e.DB.NextLateCheck(context.Background()); ok || err != nil {
		t.Fatalf("late check scheduled (%v) for a link Bindo closed itself", err)
	}
}

// TestBindoLinkPendingPastExpiryKeepsWaiting: Bindo closes an order at its
// expiry (110010), so a pending answer past the local expiry is not taken
// as expired.
func TestBindoLinkPendingPastExpiryKeepsWaiting(t *testing.T) {
	e := bindoLinkEnv(t, agenttest.Opts{})
	r := linkSale("BLKP", "5.00")
	r.LinkExpiresIn = 60
	e.MustCreate(r)
	// The journal's expiry moved into the past; the emulator's order is
	// still pending.
	if _, err := e.DB.Transition(context.Background(), "BLKP", []string{agent.StateOnTerminal}, func(p *store.Payment) error {
		p.ExpiresAt, p.NextCheckAt = time.Now().Add(-time.Minute), time.Now()
		return nil
	}, store.Event{Kind: "test", ToState: agent.StateOnTerminal}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if got, _ := e.Agent.Get(context.Background(), "BLKP"); got.State != agent.StateOnTerminal {
		t.Fatalf("pending past the local expiry = %s, want on_terminal (Bindo says when it expired)", got.State)
	}
	actOnLink(t, e, "BLKP", bindosim.LinkPay)
	if got := e.WaitFinal("BLKP"); got.State != agent.StateApproved {
		t.Fatalf("final = %+v", got)
	}
}

func TestBindoLinkWebhookTriggersQuery(t *testing.T) {
	// Polls far apart: only the webhook can make it final quickly.
	e := bindoLinkEnv(t, agenttest.Opts{Poll: 30 * time.Second})
	ctx := context.Background()
	p := e.MustCreate(linkSale("BLKN", "8.00"))
	actOnLink(t, e, "BLKN", bindosim.LinkPay)
	tx, err := e.BindoClient.QueryPreCreate(ctx, p.TransNo)
	if err != nil {
		t.Fatal(err)
	}
	bad := *tx
	amt := *tx.Amount + 1
	bad.Amount = &amt
	noAmount := *tx
	noAmount.Amount = nil
	other := *tx
	other.UUID = bindo.DeriveUUID("another order")
	for name, w := range map[string]*bindo.Transaction{"another amount": &bad, "no amount": &noAmount, "another uuid": &other} {
		if err := e.Agent.ApplyBindoLinkWebhook(ctx, w); !errors.Is(err, agent.ErrNotificationRejected) {
			t.Errorf("webhook with %s = %v, want rejected", name, err)
		}
	}
	if got, _ := e.Agent.Get(ctx, "BLKN"); got.State != agent.StateOnTerminal {
		t.Fatalf("rejected webhooks moved the payment to %s", got.State)
	}
	if err := e.Agent.ApplyBindoLinkWebhook(ctx, tx); err != nil {
		t.Fatalf("webhook: %v", err)
	}
	e.WaitState("BLKN", agent.StateApproved) // within 20 s: before the first poll
	if err := e.Agent.ApplyBindoLinkWebhook(ctx, tx); err != nil {
		t.Fatalf("repeated webhook: %v", err)
	}
	if got, _ := e.Agent.Get(ctx, "BLKN"); got.State != agent.StateApproved {
		t.Fatalf("repeated webhook: %s", got.State)
	}
	if ok, err := e.Agent.IsBindoLink(ctx, strings.ToUpper(tx.UUID)); !ok || err != nil {
		t.Fatalf("IsBindoLink(uuid) = %v, %v", ok, err)
	}
	if ok, err := e.Agent.IsBindoLink(ctx, other.UUID); ok || err != nil {
		t.Fatalf("IsBindoLink(another uuid) = %v, %v", ok, err)
	}
}

func TestBindoLinkUnknownOutcomeReconciledWithOnePreCreate(t *testing.T) {
	e := bindoLinkEnv(t, agenttest.Opts{})
	e.BindoSim.InjectFault(bindosim.Fault{Op: bindosim.OpPreCreate, Kind: bindosim.FaultDropAfterProcess})
	p := e.MustCreate(linkSale("BLKU", "7.00"))
	if p.State != agent.StateUnknown || p.PayURL != "" {
		t.Fatalf("create = %+v, want unknown without a pay_url", p)
	}
	if d := time.Until(p.ExpiresAt); d < 14*time.Minute || d > 16*time.Minute {
		t.Fatalf("expires_at = %v, want the link's 15 minutes (journaled with the intent)", p.ExpiresAt)
	}
	e.WaitState("BLKU", agent.StateOnTerminal)
	got, _ := e.Agent.Get(context.Background(), "BLKU")
	view, _ := e.BindoSim.Transaction(p.TransNo)
	if got.PayURL == "" || got.PayURL != view.PayURL {
		t.Fatalf("pay_url after the query = %q, want the link the emulator made (%q)", got.PayURL, view.PayURL)
	}
	actOnLink(t, e, "BLKU", bindosim.LinkPay)
	if got := e.WaitFinal("BLKU"); got.State != agent.StateApproved {
		t.Fatalf("final = %+v (%v)", got, e.States("BLKU"))
	}
	if n := e.BindoSim.Count(bindosim.OpPreCreate, p.TransNo); n != 1 {
		t.Fatalf("pre-create sent %d times, want 1", n)
	}
}

func TestBindoLinkServerErrorThenNotFoundFails(t *testing.T) {
	e := bindoLinkEnv(t, agenttest.Opts{})
	e.BindoSim.InjectFault(bindosim.Fault{Op: bindosim.OpPreCreate, Kind: bindosim.FaultHTTP500})
	p := e.MustCreate(linkSale("BLKF", "7.00"))
	if p.State != agent.StateUnknown {
		t.Fatalf("create = %s, want unknown", p.State)
	}
	got := e.WaitFinal("BLKF")
	if got.State != agent.StateFailed || got.Error == nil || got.Error.Code != agent.CodeProviderUnavailable || !strings.Contains(got.Error.Message, "nothing was charged") {
		t.Fatalf("final = %+v (%v)", got, e.States("BLKF"))
	}
	if n := e.BindoSim.Count(bindosim.OpPreCreate, p.TransNo); n != 1 {
		t.Fatalf("pre-create sent %d times, want 1 (never again after not found)", n)
	}
}

// TestBindoLinkSendingAtRestartIsQueried: a payment journaled sending (the
// process died around the pre-create) is queried after the restart, never
// pre-created again: found → waiting for the customer, its link recovered;
// not found → failed, nothing charged.
func TestBindoLinkSendingAtRestartIsQueried(t *testing.T) {
	e := bindoLinkEnv(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(linkSale("BLS0", "1.00"))
	row, err := e.DB.GetPayment(ctx, "BLS0")
	if err != nil {
		t.Fatal(err)
	}
	// BLS1: the pre-create never arrived. BLS2: it arrived, its answer was
	// never journaled.
	usd := money.MustCurrency("USD")
	uuid2 := e.BindoClient.UUIDFor("BLS2")
	if _, err := e.BindoClient.PreCreate(ctx, bindo.PreCreateRequest{UUID: uuid2, MerchantOrderNo: "BLS2",
		Amount: money.Amount{Minor: 100, Currency: usd}, ClientIP: agenttest.BindoLinkClientIP}); err != nil {
		t.Fatal(err)
	}
	for _, no := range []string{"BLS1", "BLS2"} {
		insertSending(t, e, row, no, e.BindoClient.UUIDFor(no))
	}
	e.Restart(agenttest.Opts{})
	got := e.WaitFinal("BLS1")
	if got.State != agent.StateFailed || got.Error == nil || got.Error.Code != agent.CodeProviderUnavailable {
		t.Fatalf("BLS1 final = %+v (%v)", got, e.States("BLS1"))
	}
	e.WaitState("BLS2", agent.StateOnTerminal)
	if got, _ := e.Agent.Get(ctx, "BLS2"); got.PayURL == "" {
		t.Fatalf("BLS2 = %+v, want its link recovered by the query", got)
	}
	if n := e.BindoSim.Count(bindosim.OpPreCreate, e.BindoClient.UUIDFor("BLS1")); n != 0 {
		t.Fatalf("BLS1 pre-created %d times after restart", n)
	}
	if n := e.BindoSim.Count(bindosim.OpPreCreate, uuid2); n != 1 {
		t.Fatalf("BLS2 pre-created %d times, want only the test's", n)
	}
}

func TestBindoLinkBadInputNothingJournaled(t *testing.T) {
	e := bindoLinkEnv(t, agenttest.Opts{})
	long, short, cur, card := linkSale("BBAD2", "1.00"), linkSale("BBAD3", "1.00"), linkSale("BBAD4", "1.00"), e.Sale("BBAD5", agenttest.TermA, "1.00")
	long.LinkExpiresIn = 901 // Bindo: at most 15 minutes
	short.LinkExpiresIn = 30 // at least a minute
	cur.Currency = "EUR"
	card.LinkExpiresIn = 60
	va := linkSale("BBAD6", "1.00")
	va.VAMethod = "VA_BCA"
	for _, c := range []struct {
		r     agent.CreateRequest
		field string
	}{
		{linkSale("BBAD1", "1.001"), "amount"},
		{long, "link_expires_in"},
		{short, "link_expires_in"},
		{cur, "currency"},
		{card, "link_expires_in"},
		{va, "va_method"},
		{linkSale("BBAD7", "0.00"), "amount"},
	} {
		refusedNothingJournaled(t, e, c.r, c.field)
	}
	if n := e.BindoSim.Count(bindosim.OpPreCreate, ""); n != 0 {
		t.Fatalf("%d pre-creates sent for refused requests", n)
	}
}

func TestBindoLinkWithoutBindoRefused(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{LinkProvider: agent.LinkProviderBindo})
	refusedNothingJournaled(t, e, linkSale("BNOB", "1.00"), "method")
	if _, err := e.Agent.Create(context.Background(), linkSale("BNOB", "1.00")); err == nil || !strings.Contains(err.Error(), "[bindo]") {
		t.Fatalf("err = %v, want it to name [bindo]", err)
	}
}

// TestLinkCodePayWithBindoConfigured: with [bindo] present but the link
// provider left at its default, links stay CodePay's.
func TestLinkCodePayWithBindoConfigured(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Bindo: true})
	p := e.MustCreate(linkSale("BCPL", "2.00"))
	if p.Route != agent.RouteCodePayLink || p.PayURL == "" {
		t.Fatalf("create = %+v, want a CodePay link", p)
	}
	if n := e.BindoSim.Count(bindosim.OpPreCreate, ""); n != 0 {
		t.Fatalf("%d Bindo pre-creates", n)
	}
}

// A refund whose answer is lost after Bindo processed it is settled by
// query: approved, sent exactly once.
func TestBindoLinkRefundLostAnswer(t *testing.T) {
	e := bindoLinkEnv(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(linkSale("BLKL", "8.00"))
	actOnLink(t, e, "BLKL", bindosim.LinkPay)
	if got := e.WaitFinal("BLKL"); got.State != agent.StateApproved {
		t.Fatalf("sale = %+v", got)
	}
	e.BindoSim.InjectFault(bindosim.Fault{Op: bindosim.OpRefund, Kind: bindosim.FaultDropAfterProcess})
	if _, err := e.Agent.Refund(ctx, agent.RefundRequest{MerchantOrderNo: "BLKL-R", OrigMerchantOrderNo: "BLKL", Source: agent.SourceWS}); err != nil {
		t.Fatal(err)
	}
	if got := e.WaitFinal("BLKL-R"); got.State != agent.StateApproved || got.Amount != "8.00" {
		t.Fatalf("refund = %+v (%v)", got, e.States("BLKL-R"))
	}
	if n := e.BindoSim.Count(bindosim.OpRefund, e.BindoClient.UUIDFor("BLKL-R")); n != 1 {
		t.Fatalf("refund sent %d times", n)
	}
	if !strings.Contains(strings.Join(e.States("BLKL-R"), ","), agent.StateUnknown) {
		t.Fatalf("the lost answer never made it unknown: %v", e.States("BLKL-R"))
	}
}
