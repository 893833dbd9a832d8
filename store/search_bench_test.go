package store

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSearch: payment.search on a journal of 200,000 payments (four
// terminals, 50,000 each, a second apart). Each term reads its own index, so
// the cost follows the matches, not the journal's age (BENCHMARKS.md).
func BenchmarkSearch(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	end := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	sns := []string{"SN0", "SN1", "SN2", "SN3"}
	if err := db.PrefillHistory(ctx, sns, 50_000, end); err != nil {
		b.Fatal(err)
	}
	hour := SearchFilter{From: end.Add(-time.Hour), To: end}
	deep, err := db.SearchPayments(ctx, SearchFilter{Limit: 500})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    SearchFilter
	}{
		{"newest page", SearchFilter{}},
		{"last hour", hour},
		{"after 500 rows", SearchFilter{After: CursorOf(&deep[len(deep)-1])}},
		{"terminal last hour", SearchFilter{TerminalSN: "SN2", From: hour.From, To: hour.To}},
		{"order prefix", SearchFilter{OrderPrefix: "H-SN1-0004"}},
		{"amount, whole journal", SearchFilter{Amounts: []int64{1234}}},
		{"last 4, whole journal", SearchFilter{Last4: "0119"}},
		{"last 4, last hour", SearchFilter{Last4: "0119", From: hour.From, To: hour.To}},
		{"all terms, last hour", SearchFilter{OrderPrefix: "1234", Last4: "1234", Amounts: []int64{123400}, From: hour.From, To: hour.To}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				ps, err := db.SearchPayments(ctx, c.f)
				if err != nil {
					b.Fatal(err)
				}
				n = len(ps)
			}
			b.ReportMetric(float64(n), "rows")
		})
	}
	b.Run("day totals rows", func(b *testing.B) {
		var n int
		for b.Loop() {
			ps, err := db.PaymentsCreatedBetween(ctx, end.Add(-time.Hour), end)
			if err != nil {
				b.Fatal(err)
			}
			n = len(ps)
		}
		b.ReportMetric(float64(n), "rows")
	})
}
