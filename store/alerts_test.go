package store

import (
	"context"
	"testing"
	"time"
)

// An alert is open until marked handled; a new alert text opens it again.
// Open alerts are listed newest first and counted.
func TestOpenAlerts(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	set := func(no, alert string, handled time.Time) {
		t.Helper()
		p, err := db.GetPayment(ctx, no)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Transition(ctx, no, []string{p.State}, func(p *Payment) error {
			p.Alert, p.AlertHandledAt = alert, handled
			return nil
		}, Event{Kind: "alert", Detail: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		t.Helper()
		n, err := db.CountOpenAlerts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, no := range []string{"AL1", "AL2", "AL3"} {
		mustInsert(t, db, newPayment(no, "SN1"))
	}
	set("AL1", "first", time.Time{})
	set("AL2", "second", time.Time{})
	if n := count(); n != 2 {
		t.Fatalf("open = %d, want 2", n)
	}
	ps, err := db.OpenAlerts(ctx, 10)
	if err != nil || len(ps) != 2 || ps[0].MerchantOrderNo != "AL2" || ps[1].Alert != "first" {
		t.Fatalf("OpenAlerts = %+v, %v", ps, err)
	}
	// Handled: no longer open, the text stays.
	at := time.UnixMilli(1_800_000_000_000)
	set("AL1", "first", at)
	if p, _ := db.GetPayment(ctx, "AL1"); !p.AlertHandledAt.Equal(at) || p.Alert != "first" {
		t.Fatalf("handled = %+v", p)
	}
	if n := count(); n != 1 {
		t.Fatalf("open after handling = %d, want 1", n)
	}
	// Another alert on it opens it again, whatever the caller set.
	set("AL1", "again", at)
	if p, _ := db.GetPayment(ctx, "AL1"); !p.AlertHandledAt.IsZero() {
		t.Fatalf("new alert stayed handled: %+v", p)
	}
	if ps, _ := db.OpenAlerts(ctx, 1); len(ps) != 1 || ps[0].MerchantOrderNo != "AL1" {
		t.Fatalf("OpenAlerts(1) = %+v", ps)
	}
}
