package agent_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/store"
)

func TestSaleLifecycle(t *testing.T) {
	e := newEnv(t, envOpts{})
	p := e.mustCreate(e.sale("SALE1", termA, "12.34"))
	if p.State != agent.StateQueued || p.Amount != "12.34" || p.Currency != "USD" || p.Route != agent.RouteCodePay {
		t.Fatalf("accepted payment = %+v", p)
	}
	got := e.waitFinal("SALE1")
	if got.State != agent.StateApproved || got.TransNo == "" || got.TransStatus == nil || *got.TransStatus != 2 {
		t.Fatalf("final payment = %+v", got)
	}
	if got.Card == nil || got.Card.MaskedPAN == "" || got.AuthCode == "" {
		t.Errorf("approved payment lacks card/auth details: %+v", got)
	}
	want := []string{"queued", "sending", "on_terminal", "approved"}
	if s := e.states("SALE1"); !reflect.DeepEqual(s, want) {
		t.Errorf("states = %v, want %v", s, want)
	}
	if n := e.sim.Count(codepay.MethodPayOrder, "SALE1"); n != 1 {
		t.Errorf("emulator saw %d creates, want 1", n)
	}
	evs, err := e.agent.Events(context.Background(), "SALE1")
	if err != nil || len(evs) < 4 {
		t.Fatalf("journal events = %v, %v", evs, err)
	}
}

func TestResubmitIsIdempotent(t *testing.T) {
	e := newEnv(t, envOpts{})
	first := e.mustCreate(e.sale("IDEM1", termA, "5.00"))
	again := e.mustCreate(e.sale("IDEM1", termA, "5.00"))
	if again.MerchantOrderNo != first.MerchantOrderNo || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("resubmit returned %+v, want the same payment %+v", again, first)
	}
	e.waitFinal("IDEM1")
	again = e.mustCreate(e.sale("IDEM1", termA, "5.00"))
	if again.State != agent.StateApproved {
		t.Fatalf("resubmit after approval = %s, want approved", again.State)
	}
	_, err := e.agent.Create(context.Background(), e.sale("IDEM1", termA, "6.00"))
	if !errors.Is(err, agent.ErrOrderNoReused) {
		t.Fatalf("reuse with other amount: error = %v, want ErrOrderNoReused", err)
	}
	if p, _ := e.agent.Get(context.Background(), "IDEM1"); p.Amount != "5.00" || p.State != agent.StateApproved {
		t.Fatalf("original changed: %+v", p)
	}
	if n := e.sim.Count(codepay.MethodPayOrder, "IDEM1"); n != 1 {
		t.Errorf("emulator saw %d creates, want 1", n)
	}
}

func TestFIFOOnOneTerminalParallelAcross(t *testing.T) {
	e := newEnv(t, envOpts{pickup: 80 * time.Millisecond, process: 150 * time.Millisecond})
	e.mustCreate(e.sale("FIFO1", termA, "1.00"))
	e.mustCreate(e.sale("FIFO2", termA, "2.00"))
	e.mustCreate(e.sale("PAR1", termB, "3.00"))
	for _, no := range []string{"FIFO1", "FIFO2", "PAR1"} {
		if p := e.waitFinal(no); p.State != agent.StateApproved {
			t.Fatalf("%s = %s", no, p.State)
		}
	}
	// The order of publication is the order of commits in the journal.
	e.mu.Lock()
	idx := func(no, state string) int {
		for i, p := range e.events {
			if p.MerchantOrderNo == no && p.State == state {
				return i
			}
		}
		return -1
	}
	f1Done, f2Send := idx("FIFO1", "approved"), idx("FIFO2", "sending")
	p1Term, f1Term := idx("PAR1", "on_terminal"), idx("FIFO1", "on_terminal")
	e.mu.Unlock()
	if f2Send < f1Done {
		t.Errorf("FIFO2 was sent (event %d) before FIFO1 was final (event %d)", f2Send, f1Done)
	}
	if p1Term > f1Done || f1Term > f1Done {
		t.Errorf("terminal B's payment did not run in parallel with A's: PAR1 on_terminal at %d, FIFO1 approved at %d", p1Term, f1Done)
	}
}

func TestOfflineTerminalWaitsAndCancels(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.mustCreate(e.sale("OFF1", termOff, "7.00"))
	e.waitState("OFF1", agent.StateOnTerminal)
	p, _ := e.agent.Get(context.Background(), "OFF1")
	if p.Notice == "" {
		t.Errorf("payment on an offline terminal has no notice: %+v", p)
	}
	var st []string
	for _, ts := range e.agent.Terminals() {
		if ts.SN == termOff {
			if ts.Online || !ts.OnlineKnown || !ts.Busy || ts.CurrentOrderNo != "OFF1" {
				t.Errorf("offline terminal status = %+v", ts)
			}
			st = append(st, ts.SN)
		}
	}
	if len(st) != 1 {
		t.Fatal("offline terminal missing from Terminals()")
	}
	got, err := e.agent.Cancel(context.Background(), "OFF1")
	if err != nil || got.State != agent.StateCancelled {
		t.Fatalf("Cancel = %+v, %v", got, err)
	}
	if n := e.sim.Count(codepay.MethodPayClose, "OFF1"); n != 1 {
		t.Errorf("emulator saw %d closes, want 1", n)
	}
	if _, err := e.agent.Cancel(context.Background(), "OFF1"); !errors.Is(err, agent.ErrNotCancellable) {
		t.Errorf("second cancel error = %v, want ErrNotCancellable", err)
	}
}

func TestCancelQueued(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.mustCreate(e.sale("BLOCK", termOff, "1.00"))
	e.mustCreate(e.sale("BEHIND", termOff, "2.00"))
	e.waitState("BLOCK", agent.StateOnTerminal)
	p, err := e.agent.Cancel(context.Background(), "BEHIND")
	if err != nil || p.State != agent.StateCancelled {
		t.Fatalf("Cancel(queued) = %+v, %v", p, err)
	}
	if n := e.sim.Count("", "BEHIND"); n != 0 {
		t.Errorf("emulator saw %d requests for a payment cancelled in the queue", n)
	}
}

func TestDecline(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.mustCreate(e.sale("DECL1", termA, "10.51"))
	p := e.waitFinal("DECL1")
	if p.State != agent.StateDeclined || p.Error == nil || p.Error.Code != "51" {
		t.Fatalf("declined payment = %+v", p)
	}
}

func TestHTTP500OnCreateNeverResends(t *testing.T) {
	e := newEnv(t, envOpts{expires: 2 * time.Second, unknownGiveUp: 200 * time.Millisecond})
	e.sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayOrder, Kind: codepaysim.FaultHTTP500, Count: 1})
	e.mustCreate(e.sale("H500", termA, "3.00"))
	p := e.waitFinal("H500")
	if p.State != agent.StateFailed || p.Error == nil || p.Error.Code != "codepay_unavailable" {
		t.Fatalf("payment after HTTP 500 = %+v (states %v)", p, e.states("H500"))
	}
	if n := e.sim.Count(codepay.MethodPayOrder, "H500"); n != 1 {
		t.Errorf("emulator saw %d creates, want exactly 1", n)
	}
	if s := e.states("H500"); !contains(s, agent.StateUnknown) {
		t.Errorf("states %v never went through unknown", s)
	}
}

func TestDroppedConnectionOnCreateReconciles(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayOrder, Kind: codepaysim.FaultDropAfterProcess, Count: 1})
	e.mustCreate(e.sale("DROP1", termA, "4.00"))
	p := e.waitFinal("DROP1")
	if p.State != agent.StateApproved {
		t.Fatalf("payment after dropped connection = %+v (states %v)", p, e.states("DROP1"))
	}
	if n := e.sim.Count(codepay.MethodPayOrder, "DROP1"); n != 1 {
		t.Errorf("emulator saw %d creates, want exactly 1", n)
	}
	if s := e.states("DROP1"); !contains(s, agent.StateUnknown) {
		t.Errorf("states %v never went through unknown", s)
	}
}

func TestBadSignatureIsNeverSuccess(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayOrder, Kind: codepaysim.FaultBadSignature, Count: 1})
	e.mustCreate(e.sale("BADSIG", termA, "4.00"))
	p := e.waitFinal("BADSIG")
	if p.State != agent.StateApproved || !contains(e.states("BADSIG"), agent.StateUnknown) {
		t.Fatalf("payment = %s, states %v; want approved through unknown", p.State, e.states("BADSIG"))
	}
	if n := e.sim.Count(codepay.MethodPayOrder, "BADSIG"); n != 1 {
		t.Errorf("emulator saw %d creates, want exactly 1", n)
	}
}

func TestRestartReconcilesWithoutSecondCreate(t *testing.T) {
	e := newEnv(t, envOpts{pickup: 300 * time.Millisecond, process: 300 * time.Millisecond})
	e.mustCreate(e.sale("RST1", termA, "8.00"))
	e.mustCreate(e.sale("RST2", termA, "9.00"))
	e.waitState("RST1", agent.StateOnTerminal)
	e.restart(envOpts{})
	for _, no := range []string{"RST1", "RST2"} {
		if p := e.waitFinal(no); p.State != agent.StateApproved {
			t.Fatalf("%s after restart = %+v", no, p)
		}
		if n := e.sim.Count(codepay.MethodPayOrder, no); n != 1 {
			t.Errorf("%s: emulator saw %d creates, want 1", no, n)
		}
	}
}

func TestRefundAndVoid(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.mustCreate(e.sale("ORIG1", termA, "20.00"))
	e.waitFinal("ORIG1")
	ctx := context.Background()
	over := agent.CreateRequest{MerchantOrderNo: "REF1", Type: agent.TypeRefund, TerminalSN: termA, Amount: "25.00", Currency: "USD", OrigMerchantOrderNo: "ORIG1", Source: agent.SourceWS}
	var fe *agent.FieldError
	if _, err := e.agent.Create(ctx, over); !errors.As(err, &fe) || fe.Field != "amount" {
		t.Fatalf("refund over original: error = %v, want field amount", err)
	}
	ref := over
	ref.Amount = "5.00"
	e.mustCreate(ref)
	if p := e.waitFinal("REF1"); p.State != agent.StateApproved {
		t.Fatalf("refund = %+v", p)
	}
	e.mustCreate(e.sale("ORIG2", termA, "20.00"))
	e.waitFinal("ORIG2")
	badVoid := agent.CreateRequest{MerchantOrderNo: "VOID1", Type: agent.TypeVoid, TerminalSN: termA, Amount: "19.00", Currency: "USD", OrigMerchantOrderNo: "ORIG2", Source: agent.SourceWS}
	if _, err := e.agent.Create(ctx, badVoid); !errors.As(err, &fe) || fe.Field != "amount" {
		t.Fatalf("partial void: error = %v, want field amount", err)
	}
	void := badVoid
	void.Amount = "20.00"
	e.mustCreate(void)
	if p := e.waitFinal("VOID1"); p.State != agent.StateApproved {
		t.Fatalf("void = %+v", p)
	}
	noOrig := agent.CreateRequest{MerchantOrderNo: "REF2", Type: agent.TypeRefund, TerminalSN: termA, Amount: "1.00", Currency: "USD", Source: agent.SourceWS}
	if _, err := e.agent.Create(ctx, noOrig); !errors.As(err, &fe) || fe.Field != "orig_merchant_order_no" {
		t.Fatalf("refund without original: error = %v", err)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	base := e.sale("GOOD1", termA, "1.00")
	tests := []struct {
		name  string
		edit  func(*agent.CreateRequest)
		field string
	}{
		{"too many decimals", func(r *agent.CreateRequest) { r.Amount = "1.001" }, "amount"},
		{"negative", func(r *agent.CreateRequest) { r.Amount = "-1.00" }, "amount"},
		{"zero", func(r *agent.CreateRequest) { r.Amount = "0.00" }, "amount"},
		{"exponent", func(r *agent.CreateRequest) { r.Amount = "1e3" }, "amount"},
		{"long order no", func(r *agent.CreateRequest) { r.MerchantOrderNo = "123456789012345678901234567890123" }, "merchant_order_no"},
		{"bad chars", func(r *agent.CreateRequest) { r.MerchantOrderNo = "A B" }, "merchant_order_no"},
		{"unknown terminal", func(r *agent.CreateRequest) { r.TerminalSN = "NOPE" }, "terminal_sn"},
		{"unknown lane", func(r *agent.CreateRequest) { r.TerminalSN, r.Lane = "", "9" }, "lane"},
		{"no terminal", func(r *agent.CreateRequest) { r.TerminalSN = "" }, "terminal_sn"},
		{"wrong currency", func(r *agent.CreateRequest) { r.Currency = "EUR" }, "currency"},
		{"bad type", func(r *agent.CreateRequest) { r.Type = "gift" }, "type"},
		{"card without bindo", func(r *agent.CreateRequest) { r.HasCard = true }, "card"},
		{"cashback on sale", func(r *agent.CreateRequest) { r.CashbackAmount = "1.00" }, "cashback_amount"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.edit(&r)
			_, err := e.agent.Create(ctx, r)
			var fe *agent.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Create() error = %v, want field %s", err, tc.field)
			}
		})
	}
	list, err := e.db.ListPayments(ctx, store.ListFilter{})
	if err != nil || len(list) != 0 {
		t.Fatalf("journal after bad input: %d payments, %v", len(list), err)
	}
	if n := len(e.sim.Requests("", "")); n != 0 {
		t.Fatalf("emulator saw %d requests after bad input", n)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
