package agent_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
)

func TestSearchAndDayTotals(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	for i, amt := range []string{"10.00", "12.34", "7.50"} {
		no := fmt.Sprintf("SRCH-%d", i)
		e.MustCreate(e.Sale(no, agenttest.TermA, amt))
		e.WaitFinal(no)
	}
	e.MustCreate(e.Sale("OTHER-1", agenttest.TermB, "12.34"))
	e.WaitFinal("OTHER-1")
	void := agent.CreateRequest{MerchantOrderNo: "SRCH-0-V", Type: agent.TypeVoid, OrigMerchantOrderNo: "SRCH-0", Source: agent.SourceWS}
	e.MustCreate(void)
	e.WaitFinal("SRCH-0-V")
	ref := agent.CreateRequest{MerchantOrderNo: "SRCH-2-R", Type: agent.TypeRefund, TerminalSN: agenttest.TermA, Amount: "2.50", Currency: "USD", OrigMerchantOrderNo: "SRCH-2", Source: agent.SourceWS}
	e.MustCreate(ref)
	e.WaitFinal("SRCH-2-R")

	nos := func(r agent.SearchRequest) []string {
		t.Helper()
		page, err := e.Agent.Search(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range page.Payments {
			out = append(out, p.MerchantOrderNo)
		}
		return out
	}
	if got := nos(agent.SearchRequest{Query: "SRCH-2"}); strings.Join(got, ",") != "SRCH-2-R,SRCH-2" {
		t.Errorf("by order prefix = %v", got)
	}
	if got := nos(agent.SearchRequest{Query: "12.34"}); strings.Join(got, ",") != "OTHER-1,SRCH-1" {
		t.Errorf("by amount = %v", got)
	}
	if got := nos(agent.SearchRequest{Query: "12.34", TerminalSN: agenttest.TermB}); strings.Join(got, ",") != "OTHER-1" {
		t.Errorf("by amount on a terminal = %v", got)
	}
	p, _ := e.Agent.Get(ctx, "SRCH-1")
	if p.Card == nil || len(p.Card.MaskedPAN) < 4 {
		t.Fatalf("the emulator's approval carries no masked PAN: %+v", p)
	}
	last4 := p.Card.MaskedPAN[len(p.Card.MaskedPAN)-4:]
	if got := nos(agent.SearchRequest{Query: last4}); !strings.Contains(strings.Join(got, ","), "SRCH-1") {
		t.Errorf("by last 4 %s = %v", last4, got)
	}
	// Paging over everything, two at a time, sees each payment once.
	seen := map[string]bool{}
	r := agent.SearchRequest{Limit: 2}
	for i := 0; ; i++ {
		page, err := e.Agent.Search(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Payments {
			if seen[p.MerchantOrderNo] {
				t.Fatalf("%s on two pages", p.MerchantOrderNo)
			}
			seen[p.MerchantOrderNo] = true
		}
		if page.Next == "" || i > 10 {
			break
		}
		r.Cursor = page.Next
	}
	if len(seen) != 6 {
		t.Errorf("paging saw %d payments, want 6", len(seen))
	}
	// Bad input names the field.
	var fe *agent.FieldError
	for field, bad := range map[string]agent.SearchRequest{
		"query":  {Query: "no such thing!"},
		"state":  {State: "paid"},
		"cursor": {Cursor: "x"},
		"limit":  {Limit: 501},
		"to":     {From: time.Now(), To: time.Now().Add(-time.Hour)},
	} {
		if _, err := e.Agent.Search(ctx, bad); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("Search(%+v) = %v, want a %s error", bad, err, field)
		}
	}

	day, err := e.Agent.Day(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if day.Payments != 6 || len(day.Terminals) != 2 || len(day.Store) != 1 {
		t.Fatalf("day = %+v", day)
	}
	// Store: 12.34 + 7.50 + 12.34 − 2.50 (the voided 10.00 counts nothing).
	if s := day.Store[0]; s.TotalAmount != "29.68" || s.Currency != "USD" || s.Count != 4 {
		t.Errorf("store totals = %+v", s)
	}
	if a := day.Terminals[0]; a.TerminalSN != agenttest.TermA || a.Totals.TotalAmount != "17.34" {
		t.Errorf("terminal A = %+v", a)
	}
	if y, err := e.Agent.Day(ctx, time.Now().AddDate(0, 0, -1)); err != nil || y.Payments != 0 || len(y.Store) != 0 {
		t.Errorf("yesterday = %+v, %v", y, err)
	}
}

// A void made after midnight of an earlier day's sale counts on its own
// day as the sale's reversal; the sale's day keeps the sale. The days add
// up to the batch.
func TestDayTotalsVoidAfterMidnight(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{JumpClock: true})
	ctx := context.Background()
	e.MustCreate(e.Sale("NIGHT-1", agenttest.TermA, "10.00"))
	e.MustCreate(e.Sale("NIGHT-2", agenttest.TermA, "4.00"))
	e.WaitFinal("NIGHT-1")
	e.WaitFinal("NIGHT-2")
	sale, err := e.Agent.Get(ctx, "NIGHT-1")
	if err != nil {
		t.Fatal(err)
	}
	e.JumpClock(24 * time.Hour)
	e.MustCreate(agent.CreateRequest{MerchantOrderNo: "NIGHT-1-V", Type: agent.TypeVoid, OrigMerchantOrderNo: "NIGHT-1", Source: agent.SourceWS})
	if v := e.WaitFinal("NIGHT-1-V"); v.State != agent.StateApproved {
		t.Fatalf("void = %+v", v)
	}
	day1, err := e.Agent.Day(ctx, sale.CreatedAt.Local())
	if err != nil {
		t.Fatal(err)
	}
	day2, err := e.Agent.Day(ctx, sale.CreatedAt.Local().AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if s := day1.Store[0]; s.TotalAmount != "14.00" || s.Count != 2 {
		t.Errorf("the sale's day = %+v, want 14.00 in 2 (it never changes once over)", s)
	}
	s := day2.Store[0]
	if s.TotalAmount != "-10.00" || s.Count != 1 || s.ByType[agent.TypeVoid].Amount != "-10.00" || len(s.NotInTotal) != 0 {
		t.Errorf("the void's day = %+v, want -10.00: the reversal of the earlier sale", s)
	}
	b, err := e.Agent.BatchGet(ctx, agenttest.TermA)
	if err != nil {
		t.Fatal(err)
	}
	if b.Local.TotalAmount != "4.00" {
		t.Errorf("batch = %s, want 4.00 (14.00 − 10.00 over the two days)", b.Local.TotalAmount)
	}
}
