package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestInjectWriteFault: a read-only journal refuses every write with
// SQLite's own error and keeps serving reads; a full one refuses writes that
// need space; both recover when the fault is lifted.
func TestInjectWriteFault(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	p := newPayment("WF1", "T1")
	if _, err := db.InsertPayment(ctx, p, Event{}); err != nil {
		t.Fatal(err)
	}

	if err := db.InjectWriteFault(ctx, ReadOnly); err != nil {
		t.Fatal(err)
	}
	_, err := db.InsertPayment(ctx, newPayment("WF2", "T1"), Event{})
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("insert into a read-only journal: err = %v", err)
	}
	if _, err := db.GetPayment(ctx, "WF1"); err != nil {
		t.Fatalf("read from a read-only journal: %v", err)
	}
	if _, err := db.GetPayment(ctx, "WF2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused insert left a row: %v", err)
	}

	if err := db.InjectWriteFault(ctx, DiskFull); err != nil {
		t.Fatal(err)
	}
	var full error
	for i := 0; i < 200 && full == nil; i++ {
		_, full = db.InsertPayment(ctx, newPayment(fmt.Sprintf("FULL%d", i), "T1"), Event{Detail: strings.Repeat("d", 500)})
	}
	if full == nil || !strings.Contains(full.Error(), "full") {
		t.Fatalf("inserts into a full journal never failed with 'full': %v", full)
	}

	if err := db.InjectWriteFault(ctx, NoWriteFault); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsertPayment(ctx, newPayment("WF3", "T1"), Event{}); err != nil {
		t.Fatalf("insert after the fault was lifted: %v", err)
	}
}
