package agent

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/store"
)

// TestCompareCloud: the three cases from CodePay's answer, including totals
// that are present but cannot be compared (another currency, more decimals
// than the terminal's currency): those are not compared, never "agree".
func TestCompareCloud(t *testing.T) {
	usd := money.MustCurrency("USD")
	local := BatchTotals{Count: 2, TotalAmount: "15.00", Currency: "USD",
		ByRoute: map[string]TypeTotal{RouteCodePay: {Count: 1, Amount: "12.00"}, RouteBindo: {Count: 1, Amount: "3.00"}}}
	note := "note: 1 Bindo payments (3.00 USD) are settled by Bindo, not in the CodePay batch"
	one, two := int64(1), int64(2)
	tests := []struct {
		name       string
		resp       codepay.BatchCloseResponse
		comparison string
		cloud      bool
		diffs      []string
		warn       string
	}{
		{"agree", codepay.BatchCloseResponse{Shape: codepay.BatchShapeTotals, Count: &one, TotalAmount: "12"}, ComparisonAgree, true, []string{note}, ""},
		{"agree from a settle list", codepay.BatchCloseResponse{Shape: codepay.BatchShapeSettleList, Count: &one, TotalAmount: "12.00", Currency: "usd", SettleList: "[…]"}, ComparisonAgree, true, []string{note}, ""},
		{"differ", codepay.BatchCloseResponse{Shape: codepay.BatchShapeTotals, Count: &two, TotalAmount: "12.50"}, ComparisonDiffer, true,
			[]string{"count: CodePay has 2 transactions, posbridge 1", "total: CodePay has 12.50 USD, posbridge 12.00 USD (difference 0.50)", note}, ""},
		{"count only, differs", codepay.BatchCloseResponse{Shape: codepay.BatchShapeTotals, Count: &two}, ComparisonDiffer, true,
			[]string{"count: CodePay has 2 transactions, posbridge 1", note}, ""},
		{"empty", codepay.BatchCloseResponse{Shape: codepay.BatchShapeEmpty}, ComparisonNotCompared, false, []string{NotComparedLine, note}, ""},
		{"unknown", codepay.BatchCloseResponse{Shape: codepay.BatchShapeUnknown}, ComparisonNotCompared, false, []string{NotComparedLine, note}, ""},
		{"unreadable", codepay.BatchCloseResponse{Shape: codepay.BatchShapeTotals, Unreadable: "count"}, ComparisonNotCompared, false, []string{NotComparedLine, note}, ""},
		{"other currency", codepay.BatchCloseResponse{Shape: codepay.BatchShapeTotals, Count: &one, TotalAmount: "12.00", Currency: "EUR"},
			ComparisonNotCompared, false, []string{NotComparedLine, note}, "field=price_currency"},
		{"too many decimals", codepay.BatchCloseResponse{Shape: codepay.BatchShapeTotals, Count: &one, TotalAmount: "12.001"},
			ComparisonNotCompared, false, []string{NotComparedLine, note}, "field=total_amount"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			a := &Agent{log: slog.New(slog.NewTextHandler(&logs, nil))}
			cloud, cmp, diffs := a.compareCloud(local, &tc.resp, usd, "T1")
			if cmp != tc.comparison || (cloud != nil) != tc.cloud || !reflect.DeepEqual(diffs, tc.diffs) {
				t.Errorf("= %+v, %q, %q; want cloud %v, %q, %q", cloud, cmp, diffs, tc.cloud, tc.comparison, tc.diffs)
			}
			if tc.warn != "" && (!strings.Contains(logs.String(), tc.warn) || !strings.Contains(logs.String(), "method=batch.close")) {
				t.Errorf("log lacks %q:\n%s", tc.warn, logs.String())
			}
		})
	}
}

// TestLocalTotalsAddUp: the one rule of BatchTotals. The total is the
// cloud's (voided sales and their voids out, refunds minus, pre-auths out),
// and the breakdown adds up to it: the ByType counts to Count, the ByType
// amounts plus Tips plus Cashback to TotalAmount; voids and pre-auths are
// listed apart, in NotInTotal.
func TestLocalTotalsAddUp(t *testing.T) {
	usd := money.MustCurrency("USD")
	pay := func(no, typ, state string, amount, tip, cash int64, orig string) store.Payment {
		return store.Payment{MerchantOrderNo: no, Type: typ, State: state, AmountMinor: amount, TipMinor: tip, CashbackMinor: cash,
			OrigMerchantOrderNo: orig, Route: RouteCodePay}
	}
	sale := func(no string, amount, tip int64) store.Payment {
		return pay(no, TypeSale, StateApproved, amount, tip, 0, "")
	}
	tt := func(n int, amount string) TypeTotal { return TypeTotal{Count: n, Amount: amount} }
	tests := []struct {
		name string
		ps   []store.Payment
		want BatchTotals
	}{
		{"empty", nil, BatchTotals{Count: 0, TotalAmount: "0.00", Currency: "USD", Tips: "0.00", Cashback: "0.00",
			ByType: map[string]TypeTotal{}, ByRoute: map[string]TypeTotal{}}},
		{"voided sale counts nothing, not under sale either", []store.Payment{
			sale("S1", 1000, 0), sale("S2", 550, 125), sale("S3", 200, 0),
			pay("R1", TypeRefund, StateApproved, 100, 0, 0, "S1"),
			pay("V1", TypeVoid, StateApproved, 200, 0, 0, "S3"),
		}, BatchTotals{Count: 3, TotalAmount: "15.75", Currency: "USD", Tips: "1.25", Cashback: "0.00",
			ByType:     map[string]TypeTotal{"sale": tt(2, "15.50"), "refund": tt(1, "-1.00")},
			NotInTotal: map[string]TypeTotal{"void": tt(1, "2.00")},
			ByRoute:    map[string]TypeTotal{"codepay": tt(3, "15.75")}}},
		{"cashback is its own line", []store.Payment{
			sale("S1", 700, 200),
			pay("C1", TypeCashback, StateApproved, 2000, 0, 500, ""),
		}, BatchTotals{Count: 2, TotalAmount: "34.00", Currency: "USD", Tips: "2.00", Cashback: "5.00",
			ByType:  map[string]TypeTotal{"sale": tt(1, "7.00"), "cashback": tt(1, "20.00")},
			ByRoute: map[string]TypeTotal{"codepay": tt(2, "34.00")}}},
		{"pre-auth held, its completion counted; declined and open ones ignored", []store.Payment{
			pay("P1", TypePreAuth, StateApproved, 5000, 0, 0, ""),
			pay("CP1", TypeCompletion, StateApproved, 4200, 300, 0, "P1"),
			pay("D1", TypeSale, StateDeclined, 351, 0, 0, ""),
			pay("Q1", TypeSale, StateQueued, 999, 0, 0, ""),
			pay("V2", TypeVoid, StateDeclined, 4200, 0, 0, "CP1"),
		}, BatchTotals{Count: 1, TotalAmount: "45.00", Currency: "USD", Tips: "3.00", Cashback: "0.00",
			ByType:     map[string]TypeTotal{"completion": tt(1, "42.00")},
			NotInTotal: map[string]TypeTotal{"preauth": tt(1, "50.00")},
			ByRoute:    map[string]TypeTotal{"codepay": tt(1, "45.00")}}},
		{"only a voided sale", []store.Payment{sale("S1", 1234, 0), pay("V1", TypeVoid, StateApproved, 1234, 0, 0, "S1")},
			BatchTotals{Count: 0, TotalAmount: "0.00", Currency: "USD", Tips: "0.00", Cashback: "0.00",
				ByType: map[string]TypeTotal{}, NotInTotal: map[string]TypeTotal{"void": tt(1, "12.34")}, ByRoute: map[string]TypeTotal{}}},
		{"refunds only: a negative total", []store.Payment{pay("R1", TypeRefund, StateApproved, 500, 0, 0, "OLD")},
			BatchTotals{Count: 1, TotalAmount: "-5.00", Currency: "USD", Tips: "0.00", Cashback: "0.00",
				ByType: map[string]TypeTotal{"refund": tt(1, "-5.00")}, ByRoute: map[string]TypeTotal{"codepay": tt(1, "-5.00")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := localTotals(tc.ps, usd)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("localTotals =\n%+v\nwant\n%+v", got, tc.want)
			}
			checkAddsUp(t, got, usd)
		})
	}
}

// checkAddsUp fails unless the breakdown of tot adds up to its total.
func checkAddsUp(t *testing.T, tot BatchTotals, cur money.Currency) {
	t.Helper()
	n, sum := 0, int64(0)
	for typ, v := range tot.ByType {
		m, err := money.ParseLenient(v.Amount, cur)
		if err != nil {
			t.Fatalf("by_type %s amount %q: %v", typ, v.Amount, err)
		}
		n += v.Count
		sum += m
	}
	for _, s := range []string{tot.Tips, tot.Cashback} {
		m, err := money.ParseLenient(s, cur)
		if err != nil {
			t.Fatalf("tips/cashback %q: %v", s, err)
		}
		sum += m
	}
	total, err := money.ParseLenient(tot.TotalAmount, cur)
	if err != nil {
		t.Fatal(err)
	}
	if n != tot.Count || sum != total {
		t.Errorf("breakdown adds up to %d transactions, %s; the total is %d, %s", n, money.Format(sum, cur), tot.Count, tot.TotalAmount)
	}
}

// TestStoredReportKeepsTheBreakdown: a closed report keeps cashback and
// what is not in the total in the journal, and reads them back.
func TestStoredReportKeepsTheBreakdown(t *testing.T) {
	r := BatchReport{TerminalSN: "T1", BatchNo: 2, State: "closed", Differences: []string{}, Payments: []string{},
		Local: BatchTotals{Count: 1, TotalAmount: "25.00", Currency: "USD", Tips: "0.00", Cashback: "5.00",
			ByType:     map[string]TypeTotal{"cashback": {Count: 1, Amount: "20.00"}},
			NotInTotal: map[string]TypeTotal{"void": {Count: 1, Amount: "12.34"}},
			ByRoute:    map[string]TypeTotal{"codepay": {Count: 1, Amount: "25.00"}}}}
	js := encodeReport(r)
	if !strings.Contains(js, `"cashback":"5.00","not_in_total":{"void":{"count":1,"amount":"12.34"}}`) {
		t.Errorf("stored report lacks the cashback and not_in_total: %s", js)
	}
	back, err := decodeReport(js)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("decodeReport = %+v, %v\nwant %+v", back, err, r)
	}
}
