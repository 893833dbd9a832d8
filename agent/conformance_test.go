package agent_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/money"
)

// TestConformanceModes runs a sale and two batch closes against every
// emulator conformance mode (batch answer shape × amount style): the sale
// is approved with its amount whatever the style, and the batch report
// says agree, differ or not_compared, with cloud null exactly when nothing
// was compared. The second close differs on purpose: CodePay knows a sale
// the journal does not (made straight at the emulator, as on the terminal
// itself).
func TestConformanceModes(t *testing.T) {
	for _, shape := range codepaysim.BatchShapes() {
		for _, style := range codepaysim.AmountStyles() {
			t.Run(shape+"/"+style, func(t *testing.T) {
				t.Parallel()
				compared := shape != codepaysim.BatchShapeEmpty
				e := agenttest.New(t, agenttest.Opts{BatchShape: shape, AmountStyle: style})
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				sn := agenttest.TermA

				// A sale: approved, with its amount, in both amount styles.
				e.MustCreate(e.Sale("CF1", sn, "12.34"))
				p := e.WaitFinal("CF1")
				if p.State != agent.StateApproved || p.Amount != "12.34" || p.Currency != "USD" {
					t.Fatalf("sale = %s %s %s, want approved 12.34 USD", p.State, p.Amount, p.Currency)
				}

				// Close 1: CodePay and the journal hold the same sale.
				r, err := e.Agent.BatchClose(ctx, sn, agent.SourceCLI)
				if err != nil {
					t.Fatalf("BatchClose: %v", err)
				}
				want := agent.ComparisonNotCompared
				if compared {
					want = agent.ComparisonAgree
				}
				checkReport(t, r, want, nil)
				if compared && (r.Cloud.Count == nil || *r.Cloud.Count != 1 || mustMinor(t, r.Cloud.TotalAmount) != 1234) {
					t.Errorf("cloud totals = %+v, want 1 transaction of 12.34", *r.Cloud)
				}
				if (shape == codepaysim.BatchShapeSDK) != (r.CloudSettleList != "") {
					t.Errorf("cloud_settle_list = %q", r.CloudSettleList)
				}

				// Close 2: a sale the journal does not know.
				_, err = e.Client.CreateOrder(ctx, codepay.CreateOrderRequest{
					TerminalSN: sn, MerchantOrderNo: "CF-OUTSIDE", TransType: codepay.TransSale,
					Amount:      money.Amount{Minor: 500, Currency: money.MustCurrency("USD")},
					Description: "made outside posbridge", Expires: time.Minute,
				})
				if err != nil {
					t.Fatalf("sale outside posbridge: %v", err)
				}
				for deadline := time.Now().Add(10 * time.Second); ; {
					if v, ok := e.Sim.Order("CF-OUTSIDE"); ok && v.Status == codepay.StatusCompleted {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the outside sale never completed")
					}
					time.Sleep(10 * time.Millisecond)
				}
				e.MustCreate(e.Sale("CF2", sn, "2.00"))
				if p := e.WaitFinal("CF2"); p.State != agent.StateApproved {
					t.Fatalf("CF2 = %s", p.State)
				}
				r2, err := e.Agent.BatchClose(ctx, sn, agent.SourceCLI)
				if err != nil {
					t.Fatalf("BatchClose: %v", err)
				}
				want = agent.ComparisonNotCompared
				var lines []string
				if compared {
					want = agent.ComparisonDiffer
					lines = []string{"count: CodePay has 2 transactions, posbridge 1",
						"total: CodePay has 7.00 USD, posbridge 2.00 USD (difference 5.00)"}
				}
				checkReport(t, r2, want, lines)

				// Stored reports read back the same.
				for _, rr := range []agent.BatchReport{r, r2} {
					back, err := e.Agent.BatchReportOf(ctx, sn, rr.BatchNo)
					if err != nil {
						t.Fatal(err)
					}
					if back.Comparison != rr.Comparison || !reflect.DeepEqual(back.Differences, rr.Differences) ||
						!reflect.DeepEqual(back.Cloud, rr.Cloud) || back.CloudSettleList != rr.CloudSettleList {
						t.Errorf("stored report %d = %+v\nclosed as %+v", rr.BatchNo, back, rr)
					}
				}
			})
		}
	}
}

// checkReport checks the three cases of a closed report: agree (no
// differences), differ (exactly lines), not_compared (cloud null, the one
// line agent.NotComparedLine); and that cloud is never null unless not
// compared (the API's JSON keeps nil as null: api/wsapi's golden tests).
func checkReport(t *testing.T, r agent.BatchReport, comparison string, lines []string) {
	t.Helper()
	if r.State != "closed" || r.Comparison != comparison {
		t.Fatalf("report %d: state %s, comparison %q; want closed, %q (%+v)", r.BatchNo, r.State, r.Comparison, comparison, r)
	}
	switch comparison {
	case agent.ComparisonAgree:
		if r.Cloud == nil || len(r.Differences) != 0 {
			t.Errorf("agree with cloud %v and differences %q", r.Cloud, r.Differences)
		}
	case agent.ComparisonDiffer:
		if r.Cloud == nil || !reflect.DeepEqual(r.Differences, lines) {
			t.Errorf("differ with cloud %v and differences %q, want %q", r.Cloud, r.Differences, lines)
		}
	case agent.ComparisonNotCompared:
		if r.Cloud != nil || !reflect.DeepEqual(r.Differences, []string{agent.NotComparedLine}) {
			t.Errorf("not compared with cloud %+v and differences %q", r.Cloud, r.Differences)
		}
	}
	if (r.Cloud == nil) != (comparison == agent.ComparisonNotCompared) {
		t.Errorf("report: cloud %+v with comparison %v", r.Cloud, r.Comparison)
	}
}

func mustMinor(t *testing.T, s string) int64 {
	t.Helper()
	n, err := money.ParseLenient(s, money.MustCurrency("USD"))
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return n
}

// TestStoredReportsWithoutComparison: reports closed before "comparison"
// existed get one when read back (batch.list, batch by number), and the
// old answer without totals (stored as cloud {"count": null,
// "total_amount": ""} with no differences) no longer reads as agreement.
func TestStoredReportsWithoutComparison(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	ctx := context.Background()
	sn := agenttest.TermB
	bindoNote := "note: 1 Bindo payments (3.00 USD) are settled by Bindo, not in the CodePay batch"
	tests := []struct {
		name       string
		cloud      string // JSON
		diffs      []string
		comparison string
		wantCloud  bool
		wantDiffs  []string
	}{
		{"old empty answer", `{"count":null,"total_amount":""}`, []string{}, agent.ComparisonNotCompared, false, []string{agent.NotComparedLine}},
		{"cloud null", `null`, nil, agent.ComparisonNotCompared, false, []string{agent.NotComparedLine}},
		{"agreeing totals", `{"count":1,"total_amount":"1.00"}`, []string{}, agent.ComparisonAgree, true, []string{}},
		{"agreeing with a Bindo note", `{"count":1,"total_amount":"1.00"}`, []string{bindoNote}, agent.ComparisonAgree, true, []string{bindoNote}},
		{"differing totals", `{"count":2,"total_amount":"1.00"}`, []string{"count: CodePay has 2 transactions, posbridge 1"}, agent.ComparisonDiffer, true,
			[]string{"count: CodePay has 2 transactions, posbridge 1"}},
	}
	for _, tc := range tests {
		b, err := e.DB.BeginBatchClose(ctx, sn, "cli")
		if err != nil {
			t.Fatal(err)
		}
		diffs, _ := json.Marshal(tc.diffs)
		old := `{"terminal_sn":"` + sn + `","batch_no":` + jsonInt(b.BatchNo) + `,"state":"closed","opened_at":"2026-01-01T00:00:00Z",` +
			`"closed_at":"2026-01-01T20:00:00Z","closed_by":"cli","local":{"count":1,"total_amount":"1.00","currency":"USD"},` +
			`"cloud":` + tc.cloud + `,"differences":` + string(diffs) + `,"payments":[]}`
		if _, err := e.DB.FinishBatchClose(ctx, b.ID, old); err != nil {
			t.Fatal(err)
		}
		r, err := e.Agent.BatchReportOf(ctx, sn, b.BatchNo)
		if err != nil {
			t.Fatal(err)
		}
		if r.Comparison != tc.comparison || (r.Cloud != nil) != tc.wantCloud || !reflect.DeepEqual(r.Differences, tc.wantDiffs) {
			t.Errorf("%s: comparison %q, cloud %+v, differences %q; want %q, cloud %v, %q",
				tc.name, r.Comparison, r.Cloud, r.Differences, tc.comparison, tc.wantCloud, tc.wantDiffs)
		}
	}
	list, err := e.Agent.BatchList(ctx, sn, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range list {
		got = append(got, r.Comparison)
	}
	if want := []string{"", "differ", "agree", "agree", "not_compared", "not_compared"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("batch.list comparisons (newest first) = %q, want %q", got, want)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }
