package agent_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
)

func TestBatchCloseTotalsMatchCloud(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	sn := agenttest.TermA
	// Empty batch: allowed, empty report.
	r, err := e.Agent.BatchClose(ctx, sn, agent.SourceCLI)
	if err != nil || r.Local.Count != 0 || r.Local.TotalAmount != "0.00" || len(r.Differences) != 0 || r.Cloud == nil {
		t.Fatalf("empty close = %+v, %v", r, err)
	}
	for _, s := range []struct{ no, amount string }{{"BS1", "10.00"}, {"BS2", "5.50"}, {"BS3", "2.00"}} {
		e.MustCreate(e.Sale(s.no, sn, s.amount))
		e.WaitFinal(s.no)
	}
	ref := agent.CreateRequest{MerchantOrderNo: "BR1", Type: agent.TypeRefund, TerminalSN: sn, Amount: "1.00", Currency: "USD", OrigMerchantOrderNo: "BS1", Source: agent.SourceWS}
	e.MustCreate(ref)
	e.WaitFinal("BR1")
	void := agent.CreateRequest{MerchantOrderNo: "BV1", Type: agent.TypeVoid, TerminalSN: sn, Amount: "2.00", Currency: "USD", OrigMerchantOrderNo: "BS3", Source: agent.SourceWS}
	e.MustCreate(void)
	e.WaitFinal("BV1")
	if _, err := e.Agent.TipAdjust(ctx, "BS2", "1.25"); err != nil {
		t.Fatalf("TipAdjust: %v", err)
	}
	if _, err := e.Agent.TipAdjust(ctx, "BR1", "1.00"); !errors.Is(err, agent.ErrNotAdjustable) {
		t.Fatalf("tip on a refund: %v", err)
	}
	open, err := e.Agent.BatchGet(ctx, sn)
	if err != nil || open.State != "open" || open.BatchNo != 2 {
		t.Fatalf("BatchGet = %+v, %v", open, err)
	}
	// 10.00 + (5.50 + 1.25 tip) - 1.00 refund; the voided 2.00 sale and the
	// void are out of the total and of the sale line: sale 15.50 + refund
	// -1.00 + tips 1.25 = 15.75, the void listed apart.
	wantLocal := agent.BatchTotals{Count: 3, TotalAmount: "15.75", Currency: "USD", Tips: "1.25", Cashback: "0.00",
		ByType:     map[string]agent.TypeTotal{"sale": {2, "15.50"}, "refund": {1, "-1.00"}},
		NotInTotal: map[string]agent.TypeTotal{"void": {1, "2.00"}},
		ByRoute:    map[string]agent.TypeTotal{"codepay": {3, "15.75"}}}
	if !reflect.DeepEqual(open.Local, wantLocal) {
		t.Fatalf("open batch totals = %+v, want %+v", open.Local, wantLocal)
	}
	closed, err := e.Agent.BatchClose(ctx, sn, agent.SourceWS)
	if err != nil {
		t.Fatal(err)
	}
	if closed.State != "closed" || closed.ClosedAt == nil || closed.ClosedBy != "ws" || !reflect.DeepEqual(closed.Local, wantLocal) {
		t.Fatalf("closed report = %+v", closed)
	}
	if closed.Cloud == nil || closed.Cloud.Count == nil || *closed.Cloud.Count != 3 || len(closed.Differences) != 0 {
		t.Fatalf("cloud totals = %+v, differences %v", closed.Cloud, closed.Differences)
	}
	// A void of a payment in the closed batch is refused: refund instead.
	late := agent.CreateRequest{MerchantOrderNo: "BV2", Type: agent.TypeVoid, TerminalSN: sn, Amount: "10.00", Currency: "USD", OrigMerchantOrderNo: "BS1", Source: agent.SourceWS}
	var fe *agent.FieldError
	if _, err := e.Agent.Create(ctx, late); !errors.As(err, &fe) || fe.Field != "orig_merchant_order_no" {
		t.Fatalf("void after close: %v", err)
	}
	if _, err := e.Agent.TipAdjust(ctx, "BS2", "2.00"); !errors.Is(err, agent.ErrNotAdjustable) {
		t.Fatalf("tip after close: %v", err)
	}
	list, err := e.Agent.BatchList(ctx, sn, 10)
	if err != nil || len(list) != 3 || list[0].State != "open" || list[1].BatchNo != 2 {
		t.Fatalf("BatchList = %+v, %v", list, err)
	}
	again, err := e.Agent.BatchReportOf(ctx, sn, 2)
	if err != nil || !reflect.DeepEqual(again.Local, closed.Local) {
		t.Fatalf("stored report = %+v, %v", again, err)
	}
	if n := e.Sim.Count(codepay.MethodBatchClose, ""); n != 2 {
		t.Fatalf("emulator saw %d batch closes, want 2", n)
	}
}

func TestBatchCloseRefusedWhileBusy(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(e.Sale("BUSY1", agenttest.TermOff, "1.00"))
	e.WaitState("BUSY1", agent.StateOnTerminal)
	if _, err := e.Agent.BatchClose(ctx, agenttest.TermOff, agent.SourceWS); !errors.Is(err, agent.ErrTerminalBusy) {
		t.Fatalf("close while busy: %v", err)
	}
	var fe *agent.FieldError
	if _, err := e.Agent.BatchClose(ctx, "NOPE", agent.SourceWS); !errors.As(err, &fe) {
		t.Fatalf("close of unknown terminal: %v", err)
	}
	if n := e.Sim.Count(codepay.MethodBatchClose, ""); n != 0 {
		t.Fatalf("emulator saw %d batch closes", n)
	}
}

func TestBatchCloseUnknownOutcomeHoldsPaymentsAndRetryClosesOnce(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	sn := agenttest.TermA
	e.MustCreate(e.Sale("BU1", sn, "3.00"))
	e.WaitFinal("BU1")
	e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodBatchClose, Kind: codepaysim.FaultHTTP500, Count: 1})
	if _, err := e.Agent.BatchClose(ctx, sn, agent.SourceWS); !errors.Is(err, agent.ErrBatchCloseUnknown) {
		t.Fatalf("close with HTTP 500: %v", err)
	}
	// While the close is unsettled, a new payment waits in the queue.
	e.MustCreate(e.Sale("BU2", sn, "4.00"))
	if p, _ := e.Agent.Get(ctx, "BU2"); p.State != agent.StateQueued {
		t.Fatalf("payment during an unsettled close = %s, want queued", p.State)
	}
	r, err := e.Agent.BatchClose(ctx, sn, agent.SourceCLI)
	if err != nil || r.BatchNo != 1 || r.Local.Count != 1 || len(r.Differences) != 0 {
		t.Fatalf("retried close = %+v, %v", r, err)
	}
	if p := e.WaitFinal("BU2"); p.State != agent.StateApproved {
		t.Fatalf("queued payment after the close = %s", p.State)
	}
	list, _ := e.Agent.BatchList(ctx, sn, 10)
	closedCount := 0
	for _, b := range list {
		if b.State == "closed" {
			closedCount++
		}
	}
	if closedCount != 1 {
		t.Fatalf("%d closed batches, want exactly 1: %+v", closedCount, list)
	}
	if cur, _ := e.Agent.BatchGet(ctx, sn); cur.BatchNo != 2 || cur.Local.Count != 1 {
		t.Fatalf("new batch = %+v", cur)
	}
}
