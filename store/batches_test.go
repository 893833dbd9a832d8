package store

import (
	"context"
	"errors"
	"testing"
)

func approve(t *testing.T, db *DB, no string) *Payment {
	t.Helper()
	p, err := db.Transition(context.Background(), no, nil, func(p *Payment) error {
		p.State = StateApproved
		return nil
	}, Event{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApprovalJoinsCurrentBatch(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	mustInsert(t, db, newPayment("B1", "T1"))
	mustInsert(t, db, newPayment("B2", "T2"))
	mustInsert(t, db, newPayment("B3", "T1"))
	p1, p2 := approve(t, db, "B1"), approve(t, db, "B2")
	if p1.BatchID == 0 || p2.BatchID == 0 || p1.BatchID == p2.BatchID {
		t.Fatalf("batch ids = %d, %d; want distinct per terminal", p1.BatchID, p2.BatchID)
	}
	cur, err := db.CurrentBatch(ctx, "T1")
	if err != nil || cur.ID != p1.BatchID || cur.BatchNo != 1 || cur.State != BatchOpen {
		t.Fatalf("CurrentBatch(T1) = %+v, %v", cur, err)
	}
	// Closing: begin is idempotent, finish opens the next batch.
	b, err := db.BeginBatchClose(ctx, "T1", "cli")
	if err != nil || b.State != BatchClosing || b.ClosedBy != "cli" {
		t.Fatalf("BeginBatchClose = %+v, %v", b, err)
	}
	again, err := db.BeginBatchClose(ctx, "T1", "ws")
	if err != nil || again.ID != b.ID || again.ClosedBy != "cli" {
		t.Fatalf("second BeginBatchClose = %+v, %v; want the same closing batch", again, err)
	}
	closed, err := db.FinishBatchClose(ctx, b.ID, `{"count":1}`)
	if err != nil || closed.State != BatchClosed || closed.ReportJSON != `{"count":1}` || closed.ClosedAt.IsZero() {
		t.Fatalf("FinishBatchClose = %+v, %v", closed, err)
	}
	if _, err := db.FinishBatchClose(ctx, b.ID, `{}`); !errors.Is(err, ErrBatchState) {
		t.Fatalf("second FinishBatchClose error = %v, want ErrBatchState", err)
	}
	p3 := approve(t, db, "B3")
	next, _ := db.CurrentBatch(ctx, "T1")
	if p3.BatchID != next.ID || next.BatchNo != 2 {
		t.Fatalf("payment after close joined batch %d, current is %+v", p3.BatchID, next)
	}
	in1, err := db.BatchPayments(ctx, b.ID)
	if err != nil || len(in1) != 1 || in1[0].MerchantOrderNo != "B1" {
		t.Fatalf("BatchPayments(1) = %v, %v", in1, err)
	}
	list, err := db.ListBatches(ctx, "T1", 10)
	if err != nil || len(list) != 2 || list[0].BatchNo != 2 {
		t.Fatalf("ListBatches = %+v, %v", list, err)
	}
	if got, err := db.GetBatch(ctx, "T1", 1); err != nil || got.ID != b.ID {
		t.Fatalf("GetBatch = %+v, %v", got, err)
	}
	if _, err := db.GetBatch(ctx, "T1", 9); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetBatch(9) error = %v", err)
	}
}

func TestAbortBatchClose(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	b, err := db.BeginBatchClose(ctx, "T1", "ws")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AbortBatchClose(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.AbortBatchClose(ctx, b.ID); !errors.Is(err, ErrBatchState) {
		t.Fatalf("second abort error = %v", err)
	}
	cur, _ := db.CurrentBatch(ctx, "T1")
	if cur.ID != b.ID || cur.State != BatchOpen {
		t.Fatalf("after abort current = %+v", cur)
	}
}

func TestNextCounter(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	for want := int64(1); want <= 3; want++ {
		if got, err := db.NextCounter(ctx, "zvt.trace", 3); err != nil || got != want {
			t.Fatalf("NextCounter = %d, %v; want %d", got, err, want)
		}
	}
	if got, _ := db.NextCounter(ctx, "zvt.trace", 3); got != 1 {
		t.Fatalf("wrapped counter = %d, want 1", got)
	}
	if got, _ := db.NextCounter(ctx, "other", 0); got != 1 {
		t.Fatalf("independent counter = %d", got)
	}
}
