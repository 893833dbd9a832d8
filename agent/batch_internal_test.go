package agent

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
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
