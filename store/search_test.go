package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func searchNos(ps []Payment) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.MerchantOrderNo
	}
	return out
}

func TestSearchPayments(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	day := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	// Ten payments an hour apart from 20:00 the day before; every third
	// approved with a card ending in 0119.
	for i := 0; i < 10; i++ {
		p := newPayment(fmt.Sprintf("S%02d", i), fmt.Sprintf("SN%d", i%2))
		p.CreatedAt = day.Add(time.Duration(i-4) * time.Hour)
		p.AmountMinor = int64(1000 + i%3)
		mustInsert(t, db, p)
		if i%3 == 0 {
			if _, err := db.Transition(ctx, p.MerchantOrderNo, []string{StateQueued}, func(p *Payment) error {
				p.State, p.MaskedPAN, p.CardBrand = StateApproved, "476173******0119", "VISA"
				return nil
			}, Event{Kind: "state"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	search := func(f SearchFilter) []string {
		t.Helper()
		ps, err := db.SearchPayments(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return searchNos(ps)
	}
	eq := func(name string, got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	eq("all", search(SearchFilter{}), "S09", "S08", "S07", "S06", "S05", "S04", "S03", "S02", "S01", "S00")
	eq("the day", search(SearchFilter{From: day, To: day.AddDate(0, 0, 1)}), "S09", "S08", "S07", "S06", "S05", "S04")
	eq("the day before", search(SearchFilter{To: day}), "S03", "S02", "S01", "S00")
	eq("terminal", search(SearchFilter{TerminalSN: "SN1", From: day}), "S09", "S07", "S05")
	eq("state", search(SearchFilter{State: StateApproved}), "S09", "S06", "S03", "S00")
	eq("last 4", search(SearchFilter{Last4: "0119", From: day}), "S09", "S06")
	eq("amount", search(SearchFilter{Amounts: []int64{1001, 9999}}), "S07", "S04", "S01")
	eq("order prefix", search(SearchFilter{OrderPrefix: "S0"}), "S09", "S08", "S07", "S06", "S05", "S04", "S03", "S02", "S01", "S00")
	eq("any term", search(SearchFilter{OrderPrefix: "S05", Last4: "0119", Amounts: []int64{1001}, From: day}), "S09", "S07", "S06", "S05", "S04")
	eq("nothing", search(SearchFilter{Last4: "4242"}))

	// Paging: pages of 4 by the cursor of the last row, over the whole range.
	var all []string
	f := SearchFilter{Limit: 4}
	for {
		ps, err := db.SearchPayments(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, searchNos(ps)...)
		if len(ps) < f.Limit {
			break
		}
		f.After = CursorOf(&ps[len(ps)-1])
	}
	eq("pages", all, "S09", "S08", "S07", "S06", "S05", "S04", "S03", "S02", "S01", "S00")

	for _, bad := range []SearchFilter{{Last4: "119"}, {Last4: "01a9"}, {Amounts: make([]int64, 9)}} {
		if _, err := db.SearchPayments(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("SearchPayments(%+v) = %v, want ErrInvalid", bad, err)
		}
	}

	got, err := db.PaymentsCreatedBetween(ctx, day, day.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	eq("created between", searchNos(got), "S04", "S05")
}
