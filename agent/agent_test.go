package agent_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/device/card"
	"github.com/posbridge/posbridge/store"
)

func TestSaleLifecycle(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	p := e.MustCreate(e.Sale("SALE1", agenttest.TermA, "12.34"))
	if p.State != agent.StateQueued || p.Amount != "12.34" || p.Currency != "USD" || p.Route != agent.RouteCodePay {
		t.Fatalf("accepted payment = %+v", p)
	}
	got := e.WaitFinal("SALE1")
	if got.State != agent.StateApproved || got.TransNo == "" || got.TransStatus == nil || *got.TransStatus != 2 {
		t.Fatalf("final payment = %+v", got)
	}
	if got.Card == nil || got.Card.MaskedPAN == "" || got.AuthCode == "" {
		t.Errorf("approved payment lacks card/auth details: %+v", got)
	}
	want := []string{"queued", "sending", "on_terminal", "approved"}
	if s := e.States("SALE1"); !reflect.DeepEqual(s, want) {
		t.Errorf("states = %v, want %v", s, want)
	}
	if n := e.Sim.Count(codepay.MethodPayOrder, "SALE1"); n != 1 {
		t.Errorf("emulator saw %d creates, want 1", n)
	}
	evs, err := e.Agent.Events(context.Background(), "SALE1")
	if err != nil || len(evs) < 4 {
		t.Fatalf("journal events = %v, %v", evs, err)
	}
}

func TestResubmitIsIdempotent(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	first := e.MustCreate(e.Sale("IDEM1", agenttest.TermA, "5.00"))
	again := e.MustCreate(e.Sale("IDEM1", agenttest.TermA, "5.00"))
	if again.MerchantOrderNo != first.MerchantOrderNo || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("resubmit returned %+v, want the same payment %+v", again, first)
	}
	e.WaitFinal("IDEM1")
	again = e.MustCreate(e.Sale("IDEM1", agenttest.TermA, "5.00"))
	if again.State != agent.StateApproved {
		t.Fatalf("resubmit after approval = %s, want approved", again.State)
	}
	_, err := e.Agent.Create(context.Background(), e.Sale("IDEM1", agenttest.TermA, "6.00"))
	if !errors.Is(err, agent.ErrOrderNoReused) {
		t.Fatalf("reuse with other amount: error = %v, want ErrOrderNoReused", err)
	}
	if p, _ := e.Agent.Get(context.Background(), "IDEM1"); p.Amount != "5.00" || p.State != agent.StateApproved {
		t.Fatalf("original changed: %+v", p)
	}
	if n := e.Sim.Count(codepay.MethodPayOrder, "IDEM1"); n != 1 {
		t.Errorf("emulator saw %d creates, want 1", n)
	}
}

func TestFIFOOnOneTerminalParallelAcross(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Pickup: 80 * time.Millisecond, Process: 150 * time.Millisecond})
	e.MustCreate(e.Sale("FIFO1", agenttest.TermA, "1.00"))
	e.MustCreate(e.Sale("FIFO2", agenttest.TermA, "2.00"))
	e.MustCreate(e.Sale("PAR1", agenttest.TermB, "3.00"))
	for _, no := range []string{"FIFO1", "FIFO2", "PAR1"} {
		if p := e.WaitFinal(no); p.State != agent.StateApproved {
			t.Fatalf("%s = %s", no, p.State)
		}
	}
	// The order of publication is the order of commits in the journal.
	events := e.Events()
	idx := func(no, state string) int {
		for i, p := range events {
			if p.MerchantOrderNo == no && p.State == state {
				return i
			}
		}
		return -1
	}
	f1Done, f2Send := idx("FIFO1", "approved"), idx("FIFO2", "sending")
	p1Term, f1Term := idx("PAR1", "on_terminal"), idx("FIFO1", "on_terminal")
	if f2Send < f1Done {
		t.Errorf("FIFO2 was sent (event %d) before FIFO1 was final (event %d)", f2Send, f1Done)
	}
	if p1Term > f1Done || f1Term > f1Done {
		t.Errorf("terminal B's payment did not run in parallel with A's: PAR1 on_terminal at %d, FIFO1 approved at %d", p1Term, f1Done)
	}
}

func TestOfflineTerminalWaitsAndCancels(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	e.MustCreate(e.Sale("OFF1", agenttest.TermOff, "7.00"))
	e.WaitState("OFF1", agent.StateOnTerminal)
	p, _ := e.Agent.Get(context.Background(), "OFF1")
	if p.Notice == "" {
		t.Errorf("payment on an offline terminal has no notice: %+v", p)
	}
	var st []string
	for _, ts := range e.Agent.Terminals() {
		if ts.SN == agenttest.TermOff {
			if ts.Online || !ts.OnlineKnown || !ts.Busy || ts.CurrentOrderNo != "OFF1" {
				t.Errorf("offline terminal status = %+v", ts)
			}
			st = append(st, ts.SN)
		}
	}
	if len(st) != 1 {
		t.Fatal("offline terminal missing from Terminals()")
	}
	got, err := e.Agent.Cancel(context.Background(), "OFF1")
	if err != nil || got.State != agent.StateCancelled {
		t.Fatalf("Cancel = %+v, %v", got, err)
	}
	if n := e.Sim.Count(codepay.MethodPayClose, "OFF1"); n != 1 {
		t.Errorf("emulator saw %d closes, want 1", n)
	}
	if _, err := e.Agent.Cancel(context.Background(), "OFF1"); !errors.Is(err, agent.ErrNotCancellable) {
		t.Errorf("second cancel error = %v, want ErrNotCancellable", err)
	}
}

func TestCancelQueued(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	e.MustCreate(e.Sale("BLOCK", agenttest.TermOff, "1.00"))
	e.MustCreate(e.Sale("BEHIND", agenttest.TermOff, "2.00"))
	e.WaitState("BLOCK", agent.StateOnTerminal)
	p, err := e.Agent.Cancel(context.Background(), "BEHIND")
	if err != nil || p.State != agent.StateCancelled {
		t.Fatalf("Cancel(queued) = %+v, %v", p, err)
	}
	if n := e.Sim.Count("", "BEHIND"); n != 0 {
		t.Errorf("emulator saw %d requests for a payment cancelled in the queue", n)
	}
}

func TestDecline(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	e.MustCreate(e.Sale("DECL1", agenttest.TermA, "10.51"))
	p := e.WaitFinal("DECL1")
	if p.State != agent.StateDeclined || p.Error == nil || p.Error.Code != "51" {
		t.Fatalf("declined payment = %+v", p)
	}
}

// TestLostCreateIsSentAgain: a create that never reached CodePay (HTTP 500
// before processing) is found "not found" by query after the settle time and
// sent again with the same merchant_order_no; the customer pays.
func TestLostCreateIsSentAgain(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayOrder, Kind: codepaysim.FaultHTTP500, Count: 1})
	e.MustCreate(e.Sale("H500", agenttest.TermA, "3.00"))
	p := e.WaitFinal("H500")
	if p.State != agent.StateApproved {
		t.Fatalf("payment after HTTP 500 = %+v (states %v)", p, e.States("H500"))
	}
	if n := e.Sim.Count(codepay.MethodPayOrder, "H500"); n != 2 {
		t.Errorf("emulator saw %d creates, want 2 (the lost one and the re-send)", n)
	}
	if n := e.AcceptedCreates("H500"); n != 1 {
		t.Errorf("emulator accepted %d creates, want exactly 1", n)
	}
	if s := e.States("H500"); !contains(s, agent.StateUnknown) {
		t.Errorf("states %v never went through unknown", s)
	}
}

// TestLostCreateTooLateFails: when too little time is left to send the
// create again, CodePay's "not found" ends the payment failed, nothing charged.
func TestLostCreateTooLateFails(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Expires: 2 * time.Second})
	e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayOrder, Kind: codepaysim.FaultHTTP500, Count: 1})
	e.MustCreate(e.Sale("H500LATE", agenttest.TermA, "3.00"))
	p := e.WaitFinal("H500LATE")
	if p.State != agent.StateFailed || p.Error == nil || p.Error.Code != "codepay_unavailable" || !strings.Contains(p.Error.Message, "nothing was charged") {
		t.Fatalf("payment = %+v (states %v)", p, e.States("H500LATE"))
	}
	if n := e.Sim.Count(codepay.MethodPayOrder, "H500LATE"); n != 1 {
		t.Errorf("emulator saw %d creates, want 1", n)
	}
}

func TestDroppedConnectionOnCreateReconciles(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayOrder, Kind: codepaysim.FaultDropAfterProcess, Count: 1})
	e.MustCreate(e.Sale("DROP1", agenttest.TermA, "4.00"))
	p := e.WaitFinal("DROP1")
	if p.State != agent.StateApproved {
		t.Fatalf("payment after dropped connection = %+v (states %v)", p, e.States("DROP1"))
	}
	if n := e.Sim.Count(codepay.MethodPayOrder, "DROP1"); n != 1 {
		t.Errorf("emulator saw %d creates, want exactly 1", n)
	}
	if s := e.States("DROP1"); !contains(s, agent.StateUnknown) {
		t.Errorf("states %v never went through unknown", s)
	}
}

func TestBadSignatureIsNeverSuccess(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayOrder, Kind: codepaysim.FaultBadSignature, Count: 1})
	e.MustCreate(e.Sale("BADSIG", agenttest.TermA, "4.00"))
	p := e.WaitFinal("BADSIG")
	if p.State != agent.StateApproved || !contains(e.States("BADSIG"), agent.StateUnknown) {
		t.Fatalf("payment = %s, states %v; want approved through unknown", p.State, e.States("BADSIG"))
	}
	if n := e.Sim.Count(codepay.MethodPayOrder, "BADSIG"); n != 1 {
		t.Errorf("emulator saw %d creates, want exactly 1", n)
	}
}

func TestRestartReconcilesWithoutSecondCreate(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{Pickup: 300 * time.Millisecond, Process: 300 * time.Millisecond})
	e.MustCreate(e.Sale("RST1", agenttest.TermA, "8.00"))
	e.MustCreate(e.Sale("RST2", agenttest.TermA, "9.00"))
	e.WaitState("RST1", agent.StateOnTerminal)
	e.Restart(agenttest.Opts{})
	for _, no := range []string{"RST1", "RST2"} {
		if p := e.WaitFinal(no); p.State != agent.StateApproved {
			t.Fatalf("%s after restart = %+v", no, p)
		}
		if n := e.Sim.Count(codepay.MethodPayOrder, no); n != 1 {
			t.Errorf("%s: emulator saw %d creates, want 1", no, n)
		}
	}
}

func TestRefundAndVoid(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	e.MustCreate(e.Sale("ORIG1", agenttest.TermA, "20.00"))
	e.WaitFinal("ORIG1")
	ctx := context.Background()
	over := agent.CreateRequest{MerchantOrderNo: "REF1", Type: agent.TypeRefund, TerminalSN: agenttest.TermA, Amount: "25.00", Currency: "USD", OrigMerchantOrderNo: "ORIG1", Source: agent.SourceWS}
	var fe *agent.FieldError
	if _, err := e.Agent.Create(ctx, over); !errors.As(err, &fe) || fe.Field != "amount" {
		t.Fatalf("refund over original: error = %v, want field amount", err)
	}
	ref := over
	ref.Amount = "5.00"
	e.MustCreate(ref)
	if p := e.WaitFinal("REF1"); p.State != agent.StateApproved {
		t.Fatalf("refund = %+v", p)
	}
	e.MustCreate(e.Sale("ORIG2", agenttest.TermA, "20.00"))
	e.WaitFinal("ORIG2")
	badVoid := agent.CreateRequest{MerchantOrderNo: "VOID1", Type: agent.TypeVoid, TerminalSN: agenttest.TermA, Amount: "19.00", Currency: "USD", OrigMerchantOrderNo: "ORIG2", Source: agent.SourceWS}
	if _, err := e.Agent.Create(ctx, badVoid); !errors.As(err, &fe) || fe.Field != "amount" {
		t.Fatalf("partial void: error = %v, want field amount", err)
	}
	void := badVoid
	void.Amount = "20.00"
	e.MustCreate(void)
	if p := e.WaitFinal("VOID1"); p.State != agent.StateApproved {
		t.Fatalf("void = %+v", p)
	}
	noOrig := agent.CreateRequest{MerchantOrderNo: "REF2", Type: agent.TypeRefund, TerminalSN: agenttest.TermA, Amount: "1.00", Currency: "USD", Source: agent.SourceWS}
	if _, err := e.Agent.Create(ctx, noOrig); !errors.As(err, &fe) || fe.Field != "orig_merchant_order_no" {
		t.Fatalf("refund without original: error = %v", err)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	base := e.Sale("GOOD1", agenttest.TermA, "1.00")
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
		{"card without bindo", func(r *agent.CreateRequest) { r.Card = testCard(t) }, "card"},
		{"cashback on sale", func(r *agent.CreateRequest) { r.CashbackAmount = "1.00" }, "cashback_amount"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.edit(&r)
			_, err := e.Agent.Create(ctx, r)
			var fe *agent.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Create() error = %v, want field %s", err, tc.field)
			}
		})
	}
	list, err := e.DB.ListPayments(ctx, store.ListFilter{})
	if err != nil || len(list) != 0 {
		t.Fatalf("journal after bad input: %d payments, %v", len(list), err)
	}
	if n := len(e.Sim.Requests("", "")); n != 0 {
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

func TestAlertAndNote(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(e.Sale("AL1", agenttest.TermA, "1.00"))
	e.WaitFinal("AL1")
	// A front end's note (store.ECRMemory) shows among the agent's events.
	if err := (store.ECRMemory{DB: e.DB}).Note(ctx, "AL1", "ecr", "ECR acknowledged the result"); err != nil {
		t.Fatal(err)
	}
	p, err := e.Agent.SetAlert(ctx, "AL1", "auto-reversed: the ECR never acknowledged the result")
	if err != nil || p.Alert == "" || p.State != agent.StateApproved {
		t.Fatalf("SetAlert = %+v, %v", p, err)
	}
	if got, _ := e.Agent.Get(ctx, "AL1"); got.Alert != p.Alert {
		t.Fatalf("alert not persisted: %+v", got)
	}
	evs, _ := e.Agent.Events(ctx, "AL1")
	kinds := map[string]bool{}
	for _, ev := range evs {
		kinds[ev.Kind] = true
	}
	if !kinds["ecr"] {
		t.Fatalf("note missing from events %+v", evs)
	}
	if _, err := e.Agent.SetAlert(ctx, "NOPE", "x"); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("SetAlert(unknown) = %v", err)
	}
}

// testCard is a Bindo test card read by swipe.
func testCard(t *testing.T) *card.Card {
	t.Helper()
	c, err := card.Parse(card.Input{ReaderMode: "swipe", Track2: "4111111111111111=30122011758928889"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A void names only its original: amount, currency and terminal follow
// from it (issue 16).
func TestVoidByOriginalOnly(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(e.Sale("VO1", agenttest.TermB, "31.50"))
	e.WaitFinal("VO1")
	void := agent.CreateRequest{MerchantOrderNo: "VO1-V", Type: agent.TypeVoid, OrigMerchantOrderNo: "VO1", Source: agent.SourceWS}
	p := e.MustCreate(void)
	if p.Amount != "31.50" || p.Currency != "USD" || p.TerminalSN != agenttest.TermB {
		t.Fatalf("void = %+v; want the original's amount, currency and terminal", p)
	}
	if p := e.WaitFinal("VO1-V"); p.State != agent.StateApproved {
		t.Fatalf("void = %+v", p)
	}
	// The same request again is the same payment, not a reuse of the number.
	if again, err := e.Agent.Create(ctx, void); err != nil || again.MerchantOrderNo != "VO1-V" {
		t.Fatalf("repeat = %+v, %v", again, err)
	}
	// An original posbridge does not know: the amount must be given.
	var fe *agent.FieldError
	unknown := agent.CreateRequest{MerchantOrderNo: "VO2-V", Type: agent.TypeVoid, OrigMerchantOrderNo: "ELSEWHERE", Source: agent.SourceWS}
	if _, err := e.Agent.Create(ctx, unknown); !errors.As(err, &fe) || fe.Field != "amount" || !strings.Contains(err.Error(), "not in this journal") {
		t.Fatalf("void of an unknown original: %v", err)
	}
	if _, err := e.Agent.Get(ctx, "VO2-V"); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("refused void journaled: %v", err)
	}
}

// payment.cancel from a front end journals who asked.
func TestCancelFromJournalsSource(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(e.Sale("CXS1", agenttest.TermOff, "3.00"))
	e.WaitState("CXS1", agent.StateOnTerminal) // not while it is being sent
	p, err := e.Agent.CancelFrom(ctx, "CXS1", agent.SourceConsole)
	if err != nil || p.State != agent.StateCancelled || p.Source != agent.SourceWS {
		t.Fatalf("cancel = %+v, %v", p, err)
	}
	evs, err := e.DB.Events(ctx, "CXS1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		found = found || ev.Detail == "cancel requested from console"
	}
	if !found {
		t.Fatalf("events = %+v", evs)
	}
	var fe *agent.FieldError
	if _, err := e.Agent.CancelFrom(ctx, "CXS1", "pos"); !errors.As(err, &fe) || fe.Field != "source" {
		t.Fatalf("unknown source = %v", err)
	}
	if _, err := e.Agent.CancelFrom(ctx, "NOPE", agent.SourceCLI); !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("unknown payment = %v", err)
	}
}
