package store

import (
	"context"
	"testing"
	"time"
)

func TestLateChecks(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	p := mustInsert(t, db, newPayment("LATE1", "SN1"))
	t0 := time.UnixMilli(1_800_000_000_000)
	if err := db.AddLateCheck(ctx, p.MerchantOrderNo, t0, t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Idempotent: a second add keeps the first schedule.
	if err := db.AddLateCheck(ctx, p.MerchantOrderNo, t0.Add(time.Hour), t0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if due, err := db.LateChecksDue(ctx, t0.Add(-time.Second), 10); err != nil || len(due) != 0 {
		t.Fatalf("due before = %v, %v", due, err)
	}
	due, err := db.LateChecksDue(ctx, t0, 10)
	if err != nil || len(due) != 1 || !due[0].Until.Equal(t0.Add(24*time.Hour)) || due[0].Attempts != 0 {
		t.Fatalf("due = %+v, %v", due, err)
	}
	if err := db.RescheduleLateCheck(ctx, p.MerchantOrderNo, t0.Add(time.Minute), 3); err != nil {
		t.Fatal(err)
	}
	if next, ok, err := db.NextLateCheck(ctx); err != nil || !ok || !next.Equal(t0.Add(time.Minute)) {
		t.Fatalf("next = %v %v %v", next, ok, err)
	}
	if err := db.EndLateCheck(ctx, p.MerchantOrderNo, Event{Kind: "late_check", Detail: "found paid"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.NextLateCheck(ctx); err != nil || ok {
		t.Fatalf("after end: %v %v", ok, err)
	}
	evs, err := db.Events(ctx, p.MerchantOrderNo)
	if err != nil || evs[len(evs)-1].Detail != "found paid" {
		t.Fatalf("events = %+v, %v", evs, err)
	}
	// Ending again, or the late check of a payment no longer in the journal,
	// is not an error and writes nothing.
	if err := db.EndLateCheck(ctx, p.MerchantOrderNo, Event{Kind: "late_check", Detail: "again"}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddLateCheck(ctx, "GONE", t0, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.EndLateCheck(ctx, "GONE", Event{Kind: "late_check", Detail: "x"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Events(ctx, p.MerchantOrderNo); len(n) != len(evs) {
		t.Fatalf("events grew to %d", len(n))
	}
}

// LateCheckNow adds a check due now, or brings an open one forward,
// keeping its attempts and never shortening its window.
func TestLateCheckNow(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	t0 := time.UnixMilli(1_800_000_000_000)
	if err := db.LateCheckNow(ctx, "LN1", t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if due, err := db.LateChecksDue(ctx, t0, 10); err != nil || len(due) != 1 || !due[0].Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("added: %+v, %v", due, err)
	}
	if err := db.RescheduleLateCheck(ctx, "LN1", t0.Add(30*time.Minute), 4); err != nil {
		t.Fatal(err)
	}
	// Brought forward: due at t0+1m, attempts kept; a shorter end is ignored.
	if err := db.LateCheckNow(ctx, "LN1", t0.Add(time.Minute), t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	due, err := db.LateChecksDue(ctx, t0.Add(time.Minute), 10)
	if err != nil || len(due) != 1 || due[0].Attempts != 4 || !due[0].Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("brought forward: %+v, %v", due, err)
	}
	// A later end extends the window.
	if err := db.LateCheckNow(ctx, "LN1", t0.Add(2*time.Minute), t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if due, err := db.LateChecksDue(ctx, t0.Add(2*time.Minute), 10); err != nil || len(due) != 1 || !due[0].Until.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("extended: %+v, %v", due, err)
	}
}
