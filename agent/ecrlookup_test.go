package agent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
)

// TestLatestOriginalAndCheckOriginal: a front end finds an original by its
// order-number prefix and has the agent's void and refund rules applied to it
// before it creates anything.
func TestLatestOriginalAndCheckOriginal(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	e.MustCreate(e.Sale("ZVT-ecr0-1-a", agenttest.TermA, "12.34"))
	e.WaitFinal("ZVT-ecr0-1-a")
	q := agent.OriginalQuery{TerminalSN: agenttest.TermA, OrderNoPrefix: "ZVT-ecr0-1-", Type: agent.TypeSale}
	o, err := e.Agent.LatestOriginal(ctx, q)
	if err != nil || o.MerchantOrderNo != "ZVT-ecr0-1-a" || o.AmountMinor != 1234 || o.State != agent.StateApproved || o.VoidedBy != "" {
		t.Fatalf("LatestOriginal(%+v) = %+v, %v", q, o, err)
	}
	for _, miss := range []agent.OriginalQuery{
		{TerminalSN: agenttest.TermA, OrderNoPrefix: "ZVT-ecr0-2-", Type: agent.TypeSale},
		{TerminalSN: agenttest.TermB, OrderNoPrefix: "ZVT-ecr0-1-", Type: agent.TypeSale},
		{TerminalSN: agenttest.TermA, OrderNoPrefix: "ZVT-ecr0-1-", Type: agent.TypeRefund},
	} {
		if _, err := e.Agent.LatestOriginal(ctx, miss); !errors.Is(err, agent.ErrNotFound) {
			t.Errorf("LatestOriginal(%+v) = %v, want ErrNotFound", miss, err)
		}
	}

	tests := []struct {
		name  string
		c     agent.OriginalCheck
		field string // "" = allowed
	}{
		{"void", agent.OriginalCheck{Type: agent.TypeVoid, Amount: 1234}, ""},
		{"void of part", agent.OriginalCheck{Type: agent.TypeVoid, Amount: 1000}, "amount"},
		{"refund of part", agent.OriginalCheck{Type: agent.TypeRefund, Amount: 1000}, ""},
		{"refund above", agent.OriginalCheck{Type: agent.TypeRefund, Amount: 1235}, "amount"},
		{"other currency", agent.OriginalCheck{Type: agent.TypeRefund, Amount: 1000, Currency: "EUR"}, "orig_merchant_order_no"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.TerminalSN, c.Orig = agenttest.TermA, o.MerchantOrderNo
			if c.Currency == "" {
				c.Currency = o.Currency
			}
			err := e.Agent.CheckOriginal(ctx, c)
			var fe *agent.FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("CheckOriginal(%+v) = %v, want nil", c, err)
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
				t.Fatalf("CheckOriginal(%+v) = %v, want a FieldError on %s", c, err, tc.field)
			}
		})
	}

	void := agent.CreateRequest{MerchantOrderNo: "ZAR-ecr0-1-a", Type: agent.TypeVoid, TerminalSN: agenttest.TermA,
		Amount: "12.34", Currency: o.Currency, OrigMerchantOrderNo: o.MerchantOrderNo, Source: agent.SourceECR}
	e.MustCreate(void)
	if o, err := e.Agent.LatestOriginal(ctx, q); err != nil || o.VoidedBy != "ZAR-ecr0-1-a" {
		t.Fatalf("LatestOriginal after a void = %+v, %v; want VoidedBy ZAR-ecr0-1-a", o, err)
	}
}
