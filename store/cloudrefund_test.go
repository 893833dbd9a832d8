package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRefundsOf: the refunds of an original, whatever their state, and
// nothing else; the look-up is bounded by payments_orig.
func TestRefundsOf(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	mustInsert(t, db, newPayment("S1", "SN1"))
	mustInsert(t, db, newPayment("S2", "SN1"))
	for i, orig := range []string{"S1", "S1", "S2", "S1"} {
		p := newPayment(fmt.Sprintf("R%d", i), "SN1")
		p.Type, p.OrigMerchantOrderNo = TypeRefund, orig
		mustInsert(t, db, p)
	}
	v := newPayment("V1", "SN1")
	v.Type, v.OrigMerchantOrderNo = TypeVoid, "S1"
	mustInsert(t, db, v)
	if _, err := db.Transition(ctx, "R1", nil, setState(StateDeclined), Event{}); err != nil {
		t.Fatal(err)
	}
	got, err := db.RefundsOf(ctx, "S1")
	if err != nil {
		t.Fatal(err)
	}
	var nos []string
	for _, p := range got {
		nos = append(nos, p.MerchantOrderNo+"/"+p.State)
	}
	if strings.Join(nos, " ") != "R0/queued R1/declined R3/queued" {
		t.Errorf("RefundsOf(S1) = %v", nos)
	}
	if got, err := db.RefundsOf(ctx, ""); err != nil || len(got) != 0 {
		t.Errorf("RefundsOf(\"\") = %v, %v", got, err)
	}
	plan := queryPlan(t, db, `SELECT `+paymentCols+` FROM payments `+refundsOfTail, "S1")
	if !strings.Contains(plan, "payments_orig (orig_merchant_order_no=?)") || strings.Contains(plan, "SCAN payments") {
		t.Errorf("RefundsOf plan %q: want payments_orig without a scan", plan)
	}
}

// TestRevokeRows: an open revoke is written with its event, is unique per
// payment, is due when its time comes, and ends.
func TestRevokeRows(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	mustInsert(t, db, newPayment("S1", "SN1"))
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := db.BeginRevoke(ctx, "NOPE", t0, Event{Kind: "revoke"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("BeginRevoke of no payment: %v", err)
	}
	before, _ := db.GetPayment(ctx, "S1")
	if err := db.BeginRevoke(ctx, "S1", t0, Event{Kind: "revoke", Detail: "sending order.revoker"}); err != nil {
		t.Fatal(err)
	}
	if err := db.BeginRevoke(ctx, "S1", t0, Event{Kind: "revoke"}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second BeginRevoke: %v", err)
	}
	after, _ := db.GetPayment(ctx, "S1")
	evs, _ := db.Events(ctx, "S1")
	if after.EventID != before.EventID || evs[len(evs)-1].Detail != "sending order.revoker" {
		t.Errorf("BeginRevoke changed the payment or wrote no event: %d→%d, %+v", before.EventID, after.EventID, evs)
	}
	if due, err := db.RevokesDue(ctx, t0.Add(-time.Second), 0); err != nil || len(due) != 0 {
		t.Errorf("revokes due before their time: %v, %v", due, err)
	}
	due, err := db.RevokesDue(ctx, t0, 0)
	if err != nil || len(due) != 1 || due[0].State != RevokeSending || !due[0].NextCheckAt.Equal(t0) {
		t.Fatalf("RevokesDue = %+v, %v", due, err)
	}
	r := due[0]
	r.State, r.EndedAt, r.NextCheckAt, r.Attempts = RevokeUnknown, t0, t0.Add(time.Minute), 2
	if err := db.UpdateRevoke(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.RescheduleRevoke(ctx, "S1", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetRevoke(ctx, "S1")
	if err != nil || got.State != RevokeUnknown || !got.EndedAt.Equal(t0) || got.Attempts != 2 || !got.NextCheckAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("GetRevoke = %+v, %v", got, err)
	}
	if next, ok, err := db.NextRevoke(ctx); err != nil || !ok || !next.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("NextRevoke = %v, %v, %v", next, ok, err)
	}
	if err := db.EndRevoke(ctx, "S1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetRevoke(ctx, "S1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoke after EndRevoke: %v", err)
	}
	if err := db.UpdateRevoke(ctx, r); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateRevoke of an ended revoke: %v", err)
	}
	if _, ok, err := db.NextRevoke(ctx); err != nil || ok {
		t.Errorf("NextRevoke with none open = %v, %v", ok, err)
	}
}
