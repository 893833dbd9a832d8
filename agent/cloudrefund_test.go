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
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

func newCloudEnv(t *testing.T, o agenttest.Opts) *agenttest.Env {
	o.InMemory = true
	return agenttest.New(t, o)
}

func refundReq(no, orig, amount, via string) agent.RefundRequest {
	return agent.RefundRequest{MerchantOrderNo: no, OrigMerchantOrderNo: orig, Amount: amount, Via: via, Source: agent.SourceWS}
}

func mustRefund(t *testing.T, e *agenttest.Env, r agent.RefundRequest) agent.Payment {
	t.Helper()
	p, err := e.Agent.Refund(context.Background(), r)
	if err != nil {
		t.Fatalf("Refund(%s) = %v", r.MerchantOrderNo, err)
	}
	return p
}

// acceptedRefundSubmits counts the order.refund.submit requests the
// emulator turned into a refund (code "0"); never more than one per refund.
func acceptedRefundSubmits(e *agenttest.Env, no string) int {
	n := 0
	for _, r := range e.Sim.Requests(codepay.MethodRefundSubmit, no) {
		if r.Code == codepaysim.CodeOK {
			n++
		}
	}
	return n
}

func wantFieldErr(t *testing.T, err error, field string, contains ...string) {
	t.Helper()
	var fe *agent.FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("error = %v, want a FieldError on %s", err, field)
	}
	for _, c := range contains {
		if !strings.Contains(fe.Msg, c) {
			t.Errorf("error %q does not say %q", fe.Msg, c)
		}
	}
}

func approvedQRSale(t *testing.T, e *agenttest.Env, no, amount string) agent.Payment {
	t.Helper()
	e.Sim.ScriptPayScenario(no, codepay.ScenarioBScanQR) // the customer pays with a wallet
	e.MustCreate(e.Sale(no, agenttest.TermA, amount))
	p := e.WaitFinal(no)
	if p.State != agent.StateApproved {
		t.Fatalf("sale %s = %+v", no, p)
	}
	if o, _ := e.Sim.Order(no); o.PayScenario != codepay.ScenarioBScanQR {
		t.Fatalf("sale %s has pay_scenario %q at CodePay, want a QR payment", no, o.PayScenario)
	}
	return p
}

// TestCloudRefundPartials: two partial refunds of a QR sale through the
// cloud, a third above what is left refused before anything is sent, the
// rest by default, then nothing left; repeats are idempotent.
func TestCloudRefundPartials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCloudEnv(t, agenttest.Opts{})
		ctx := context.Background()
		approvedQRSale(t, e, "QR1", "10.00")

		r1 := mustRefund(t, e, refundReq("QR1-R1", "QR1", "3.00", agent.ViaCloud))
		if r1.State != agent.StateSending || r1.Type != agent.TypeRefund || r1.TerminalSN != agenttest.TermA || r1.Amount != "3.00" || r1.Route != agent.RouteCodePay {
			t.Fatalf("accepted refund = %+v", r1)
		}
		if got := e.WaitFinal("QR1-R1"); got.State != agent.StateApproved || got.TransNo == "" || got.TransStatus == nil || *got.TransStatus != 2 {
			t.Fatalf("refund 1 = %+v (states %v)", got, e.States("QR1-R1"))
		}
		// via defaults to cloud for a QR original.
		mustRefund(t, e, refundReq("QR1-R2", "QR1", "4.00", ""))
		if got := e.WaitFinal("QR1-R2"); got.State != agent.StateApproved {
			t.Fatalf("refund 2 = %+v", got)
		}
		for _, no := range []string{"QR1-R1", "QR1-R2"} {
			if n := acceptedRefundSubmits(e, no); n != 1 {
				t.Errorf("%s: CodePay accepted %d refund submits, want 1", no, n)
			}
			if n := e.Sim.Count(codepay.MethodPayOrder, no); n != 0 {
				t.Errorf("%s went to the terminal (%d create orders)", no, n)
			}
			req := e.Sim.Requests(codepay.MethodRefundSubmit, no)[0].Params
			if req["trans_amount"] == "" || req["trans_amount"] != req["order_amount"] || req["orig_merchant_order_no"] != "QR1" || req["description"] != "refund" {
				t.Errorf("%s: order.refund.submit sent %v", no, req)
			}
		}
		if s := e.States("QR1-R1"); len(s) < 2 || s[0] != agent.StateSending || s[len(s)-1] != agent.StateApproved {
			t.Errorf("refund states = %v", s)
		}

		// 3.00 is left: 4.00 is refused, and nothing reaches CodePay or the journal.
		_, err := e.Agent.Refund(ctx, refundReq("QR1-R3", "QR1", "4.00", agent.ViaCloud))
		wantFieldErr(t, err, "amount", "exceeds", "3.00", "7.00")
		if n := e.Sim.Count("", "QR1-R3"); n != 0 {
			t.Errorf("CodePay saw %d requests for a refused refund", n)
		}
		if _, err := e.Agent.Get(ctx, "QR1-R3"); !errors.Is(err, agent.ErrNotFound) {
			t.Errorf("refused refund was journaled: %v", err)
		}

		// No amount: what is left.
		r4 := mustRefund(t, e, refundReq("QR1-R4", "QR1", "", ""))
		if r4.Amount != "3.00" {
			t.Errorf("default refund amount = %s, want 3.00", r4.Amount)
		}
		e.WaitFinal("QR1-R4")
		_, err = e.Agent.Refund(ctx, refundReq("QR1-R5", "QR1", "", ""))
		wantFieldErr(t, err, "amount", "nothing is left")
		if o, _ := e.Sim.Order("QR1"); o.RefundedAmount != 1000 {
			t.Errorf("CodePay refunded %d of QR1, want 1000", o.RefundedAmount)
		}

		// The same request again is the same refund; other parameters are a reuse.
		again := mustRefund(t, e, refundReq("QR1-R1", "QR1", "3.00", agent.ViaCloud))
		if again.State != agent.StateApproved || again.Seq == 0 {
			t.Errorf("repeat = %+v", again)
		}
		if _, err := e.Agent.Refund(ctx, refundReq("QR1-R1", "QR1", "2.00", agent.ViaCloud)); !errors.Is(err, agent.ErrOrderNoReused) {
			t.Errorf("reuse with another amount: %v", err)
		}
		if _, err := e.Agent.Refund(ctx, refundReq("QR1-R1", "QR1", "", agent.ViaTerminal)); !errors.Is(err, agent.ErrOrderNoReused) {
			t.Errorf("reuse via terminal: %v", err)
		}
		if n := acceptedRefundSubmits(e, "QR1-R1"); n != 1 {
			t.Errorf("repeats sent the refund again: %d accepted", n)
		}
		// A cloud refund is never cancelled (nor closed at CodePay).
		if _, err := e.Agent.Cancel(ctx, "QR1-R1"); !errors.Is(err, agent.ErrNotCancellable) {
			t.Errorf("cancel of an approved refund: %v", err)
		}
	})
}

// TestCloudRefundQueryShowsOriginal: a gateway whose order.refund.query
// answers with the original payment's merchant_order_no (as the spec's sample
// does) still ends the refund: the answer is bound by the refund's trans_no.
func TestCloudRefundQueryShowsOriginal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCloudEnv(t, agenttest.Opts{})
		if _, err := e.Sim.SetMode(codepaysim.Mode{RefundQueryNumber: codepaysim.RefundQueryShowsOriginal}); err != nil {
			t.Fatal(err)
		}
		approvedQRSale(t, e, "QRO1", "10.00")
		mustRefund(t, e, refundReq("QRO1-R1", "QRO1", "2.00", agent.ViaCloud))
		got := e.WaitFinal("QRO1-R1")
		if got.State != agent.StateApproved || got.TransNo == "" {
			t.Fatalf("refund = %+v (states %v)", got, e.States("QRO1-R1"))
		}
		if n := acceptedRefundSubmits(e, "QRO1-R1"); n != 1 {
			t.Errorf("CodePay accepted %d refund submits, want 1", n)
		}
		for _, r := range e.Sim.Requests(codepay.MethodRefundQuery, "QRO1-R1") {
			if r.Params["trans_no"] != got.TransNo {
				t.Errorf("refund query without the refund's trans_no: %v", r.Params)
			}
		}
	})
}

// TestCloudRefundOfCardSaleRefused: a card-present sale cannot be refunded
// through the cloud; the error names via "terminal", and without via the
// refund goes to the terminal as before.
func TestCloudRefundOfCardSaleRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCloudEnv(t, agenttest.Opts{})
		ctx := context.Background()
		e.MustCreate(e.Sale("CARD1", agenttest.TermA, "10.00"))
		if p := e.WaitFinal("CARD1"); p.State != agent.StateApproved || p.Card == nil {
			t.Fatalf("card sale = %+v", p)
		}
		_, err := e.Agent.Refund(ctx, refundReq("CARD1-R1", "CARD1", "2.00", agent.ViaCloud))
		wantFieldErr(t, err, "via", "card", `via "terminal"`)
		if n := e.Sim.Count(codepay.MethodRefundSubmit, ""); n != 0 {
			t.Errorf("CodePay saw %d refund submits", n)
		}
		p := mustRefund(t, e, refundReq("CARD1-R1", "CARD1", "2.00", ""))
		if p.State != agent.StateQueued || p.TerminalSN != agenttest.TermA {
			t.Fatalf("refund via terminal accepted as %+v", p)
		}
		if got := e.WaitFinal("CARD1-R1"); got.State != agent.StateApproved {
			t.Fatalf("terminal refund = %+v", got)
		}
		reqs := e.Sim.Requests(codepay.MethodPayOrder, "CARD1-R1")
		if len(reqs) != 1 || reqs[0].Params["trans_type"] != "3" || reqs[0].Params["orig_merchant_order_no"] != "CARD1" {
			t.Errorf("terminal refund requests = %+v", reqs)
		}
		// What is left counts terminal refunds too.
		_, err = e.Agent.Refund(ctx, refundReq("CARD1-R2", "CARD1", "8.01", agent.ViaTerminal))
		wantFieldErr(t, err, "amount", "8.00")
		// A Bindo-less original unknown to the journal: via cloud is refused.
		_, err = e.Agent.Refund(ctx, refundReq("X-R1", "ELSEWHERE", "1.00", agent.ViaCloud))
		wantFieldErr(t, err, "orig_merchant_order_no", "not a payment of this agent")
	})
}

// TestCloudRefundLostAnswer: the submit's answer is lost after CodePay
// processed it; the refund is reconciled by order.refund.query and approved,
// with exactly one refund accepted. A submit that never arrived (HTTP 500
// before processing) is sent again with the same number after a signed
// "not found".
func TestCloudRefundLostAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCloudEnv(t, agenttest.Opts{})
		approvedQRSale(t, e, "QR2", "10.00")

		e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodRefundSubmit, Kind: codepaysim.FaultDropAfterProcess})
		mustRefund(t, e, refundReq("QR2-R1", "QR2", "2.50", agent.ViaCloud))
		if got := e.WaitFinal("QR2-R1"); got.State != agent.StateApproved {
			t.Fatalf("refund after a lost answer = %+v (states %v)", got, e.States("QR2-R1"))
		}
		if s := e.States("QR2-R1"); !contains(s, agent.StateUnknown) {
			t.Errorf("states %v never went through unknown", s)
		}
		if n := e.Sim.Count(codepay.MethodRefundSubmit, "QR2-R1"); n != 1 {
			t.Errorf("CodePay saw %d refund submits, want 1", n)
		}
		if n := acceptedRefundSubmits(e, "QR2-R1"); n != 1 {
			t.Errorf("CodePay accepted %d refund submits, want exactly 1", n)
		}
		if n := e.Sim.Count(codepay.MethodRefundQuery, "QR2-R1"); n == 0 {
			t.Error("the refund was not reconciled by order.refund.query")
		}

		e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodRefundSubmit, Kind: codepaysim.FaultHTTP500})
		mustRefund(t, e, refundReq("QR2-R2", "QR2", "1.00", agent.ViaCloud))
		if got := e.WaitFinal("QR2-R2"); got.State != agent.StateApproved {
			t.Fatalf("refund after HTTP 500 = %+v (states %v)", got, e.States("QR2-R2"))
		}
		if n := e.Sim.Count(codepay.MethodRefundSubmit, "QR2-R2"); n != 2 {
			t.Errorf("CodePay saw %d refund submits, want 2 (the lost one and the re-send)", n)
		}
		if n := acceptedRefundSubmits(e, "QR2-R2"); n != 1 {
			t.Errorf("CodePay accepted %d refund submits, want exactly 1", n)
		}
		if o, _ := e.Sim.Order("QR2"); o.RefundedAmount != 350 {
			t.Errorf("CodePay refunded %d of QR2, want 350", o.RefundedAmount)
		}
		if testing.Verbose() {
			for _, no := range []string{"QR2-R1", "QR2-R2"} {
				evs, _ := e.Agent.Events(context.Background(), no)
				for _, ev := range evs {
					t.Logf("%s %s %s→%s %s", no, ev.Kind, ev.FromState, ev.ToState, ev.Detail)
				}
			}
		}
	})
}

// TestCloudRefundResumesAfterCrash: the process died after journaling a
// cloud refund's submit as sent and before its answer was written. The
// restarted agent reconciles it by query: sent again after a signed "not
// found" when it never arrived, followed when it did — one refund either way.
func TestCloudRefundResumesAfterCrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCloudEnv(t, agenttest.Opts{})
		ctx := context.Background()
		approvedQRSale(t, e, "QR3", "10.00")
		e.Stop()

		db, err := store.Open(ctx, e.DBPath())
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for _, no := range []string{"QR3-LOST", "QR3-ARRIVED"} {
			if _, err := db.InsertPayment(ctx, &store.Payment{
				MerchantOrderNo: no, Type: store.TypeRefund, State: store.StateSending, Source: agent.SourceWS,
				TerminalSN: agenttest.TermA, Currency: "USD", AmountMinor: 100, OrigMerchantOrderNo: "QR3",
				Description: "refund", Route: agent.RouteCodePay, OptionsJSON: `{"via":"cloud"}`,
				CreateSent: true, ExpiresAt: now.Add(time.Minute), NextCheckAt: now, CreatedAt: now,
			}, store.Event{Kind: "created", Detail: "test: crashed during the submit"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		// The second one reached CodePay before the crash.
		if _, err := e.Client.SubmitRefund(ctx, codepay.RefundRequest{MerchantOrderNo: "QR3-ARRIVED", OrigMerchantOrderNo: "QR3",
			Amount: usdAmount(100), Description: "refund"}); err != nil {
			t.Fatal(err)
		}
		e.Restart(agenttest.Opts{})
		for _, no := range []string{"QR3-LOST", "QR3-ARRIVED"} {
			if got := e.WaitFinal(no); got.State != agent.StateApproved {
				t.Fatalf("%s after restart = %+v (states %v)", no, got, e.States(no))
			}
			if n := acceptedRefundSubmits(e, no); n != 1 {
				t.Errorf("%s: CodePay accepted %d refund submits, want exactly 1", no, n)
			}
		}
		if n := e.Sim.Count(codepay.MethodRefundSubmit, "QR3-ARRIVED"); n != 1 {
			t.Errorf("a refund CodePay had was sent again (%d submits)", n)
		}
		if n := e.Sim.Count(codepay.MethodRefundSubmit, "QR3-LOST"); n != 1 {
			t.Errorf("the lost refund was sent %d times after the restart, want 1", n)
		}
	})
}

func usdAmount(minor int64) money.Amount {
	return money.Amount{Minor: minor, Currency: money.MustCurrency("USD")}
}

// TestRevokeCancelsQROrder: payment.cancel of an approved QR sale in the
// open batch uses order.revoker; a card sale is refused as before; a lost
// revoker answer is confirmed by query; a QR payment the terminal is
// processing is cancelled too.
func TestRevokeCancelsQROrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newCloudEnv(t, agenttest.Opts{Process: 5 * time.Second})
		ctx := context.Background()
		approvedQRSale(t, e, "QR4", "6.00")
		p, err := e.Agent.Cancel(ctx, "QR4")
		if err != nil || p.State != agent.StateCancelled || p.Error == nil || !strings.Contains(p.Error.Message, "order.revoker") {
			t.Fatalf("Cancel(approved QR) = %+v, %v", p, err)
		}
		if o, _ := e.Sim.Order("QR4"); o.Status != codepay.StatusCancelled || o.VoidedBy != codepay.MethodOrderRevoker {
			t.Errorf("CodePay order = status %d voided by %q", o.Status, o.VoidedBy)
		}
		if n := e.Sim.Count(codepay.MethodOrderRevoker, "QR4"); n != 1 {
			t.Errorf("CodePay saw %d revokers, want 1", n)
		}
		if _, err := e.Agent.Cancel(ctx, "QR4"); !errors.Is(err, agent.ErrNotCancellable) {
			t.Errorf("second cancel: %v", err)
		}

		// A card sale keeps today's answer, and nothing is revoked.
		e.MustCreate(e.Sale("CARD4", agenttest.TermA, "6.00"))
		e.WaitFinal("CARD4")
		if _, err := e.Agent.Cancel(ctx, "CARD4"); !errors.Is(err, agent.ErrNotCancellable) || !strings.Contains(err.Error(), "already approved") {
			t.Errorf("cancel of an approved card sale: %v", err)
		}
		if n := e.Sim.Count(codepay.MethodOrderRevoker, "CARD4"); n != 0 {
			t.Errorf("a card sale was revoked (%d)", n)
		}

		// The revoker's answer is lost after CodePay processed it.
		approvedQRSale(t, e, "QR5", "7.00")
		e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodOrderRevoker, Kind: codepaysim.FaultDropAfterProcess})
		_, err = e.Agent.Cancel(ctx, "QR5")
		if !errors.Is(err, agent.ErrCancelUnconfirmed) {
			t.Fatalf("cancel with a lost answer: %v", err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			got, _ := e.Agent.Get(ctx, "QR5")
			if got.State == agent.StateCancelled {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("QR5 not cancelled a minute after a lost revoker answer: %+v", got)
			}
			time.Sleep(100 * time.Millisecond) // virtual time
		}
		if _, err := e.DB.GetRevoke(ctx, "QR5"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke still open after it was confirmed: %v", err)
		}

		// Taken by the terminal, not finished: order.revoker cancels it.
		e.Sim.ScriptPayScenario("QR6", codepay.ScenarioBScanQR)
		e.MustCreate(e.Sale("QR6", agenttest.TermA, "8.00"))
		e.WaitState("QR6", agent.StateOnTerminal)
		for {
			got, _ := e.Agent.Get(ctx, "QR6")
			if got.TransStatus != nil && *got.TransStatus == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond) // virtual time
		}
		if p, err := e.Agent.Cancel(ctx, "QR6"); err != nil || p.State != agent.StateCancelled {
			t.Fatalf("Cancel(QR being paid) = %+v, %v", p, err)
		}
		e.MustCreate(e.Sale("AFTER", agenttest.TermA, "1.00"))
		if got := e.WaitFinal("AFTER"); got.State != agent.StateApproved {
			t.Errorf("the lane did not move on after the cancel: %+v", got)
		}

		// Once the batch is closed CodePay cannot cancel it: refund instead.
		approvedQRSale(t, e, "QR7", "9.00")
		if _, err := e.Agent.BatchClose(ctx, agenttest.TermA, agent.SourceWS); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Agent.Cancel(ctx, "QR7"); !errors.Is(err, agent.ErrNotCancellable) || !strings.Contains(err.Error(), "refund it instead") {
			t.Errorf("cancel after the batch closed: %v", err)
		}
		if n := e.Sim.Count(codepay.MethodOrderRevoker, "QR7"); n != 0 {
			t.Errorf("revoker sent after the batch closed (%d)", n)
		}
		// A refunded QR sale is not revoked either.
		approvedQRSale(t, e, "QR8", "9.00")
		mustRefund(t, e, refundReq("QR8-R1", "QR8", "1.00", ""))
		e.WaitFinal("QR8-R1")
		if _, err := e.Agent.Cancel(ctx, "QR8"); !errors.Is(err, agent.ErrNotCancellable) || !strings.Contains(err.Error(), "refunds") {
			t.Errorf("cancel of a refunded sale: %v", err)
		}
	})
}
