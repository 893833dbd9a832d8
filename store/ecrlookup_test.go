package store

import (
	"context"
	"errors"
	"testing"
)

func TestLatestByOrderPrefix(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	for _, p := range []struct{ no, sn, typ string }{
		{"ZVT-ecr0-4-a", "SN1", TypeSale},
		{"ZVT-ecr0-42-a", "SN1", TypeSale},
		{"ZVT-ecr0-42-b", "SN1", TypeSale}, // the same number after a journal reset: newest wins
		{"ZVT-ecr0-421-a", "SN1", TypeSale},
		{"ZVT-ecr0-43-a", "SN1", TypeRefund},
		{"ZVT-ecr0-44-a", "SN2", TypeSale},
		{"ZVT-ecr1-42-a", "SN1", TypeSale},
	} {
		np := newPayment(p.no, p.sn)
		np.Type = p.typ
		if p.typ == TypeRefund {
			np.OrigMerchantOrderNo = "ZVT-ecr0-4-a"
		}
		mustInsert(t, db, np)
	}
	tests := []struct {
		sn, prefix, typ, want string
	}{
		{"SN1", "ZVT-ecr0-42-", TypeSale, "ZVT-ecr0-42-b"},
		{"SN1", "ZVT-ecr0-4-", TypeSale, "ZVT-ecr0-4-a"},
		{"SN1", "ZVT-ecr0-43-", TypeSale, ""}, // a refund, not a sale
		{"SN1", "ZVT-ecr0-44-", TypeSale, ""}, // another terminal
		{"SN1", "ZVT-ecr0-45-", TypeSale, ""}, // none
		{"SN1", "ZVT-ecr1-42-", TypeSale, "ZVT-ecr1-42-a"},
		{"SN1", "ZVT-ecr0-43-", TypeRefund, "ZVT-ecr0-43-a"},
	}
	for _, tc := range tests {
		p, err := db.LatestByOrderPrefix(ctx, tc.sn, tc.prefix, tc.typ)
		switch {
		case tc.want == "" && !errors.Is(err, ErrNotFound):
			t.Errorf("LatestByOrderPrefix(%q, %q, %q) = %v, %v; want ErrNotFound", tc.sn, tc.prefix, tc.typ, p, err)
		case tc.want != "" && (err != nil || p.MerchantOrderNo != tc.want):
			t.Errorf("LatestByOrderPrefix(%q, %q, %q) = %v, %v; want %s", tc.sn, tc.prefix, tc.typ, p, err, tc.want)
		}
	}
	if _, err := db.LatestByOrderPrefix(ctx, "SN1", "", TypeSale); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty prefix: %v, want ErrInvalid", err)
	}
}

func TestLiveVoidOf(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	mustInsert(t, db, newPayment("S1", "SN1"))
	void := func(no, state string) {
		p := newPayment(no, "SN1")
		p.Type, p.OrigMerchantOrderNo = TypeVoid, "S1"
		mustInsert(t, db, p)
		if state != StateQueued {
			if _, err := db.Transition(ctx, no, nil, setState(state), Event{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.LiveVoidOf(ctx, "S1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no void: %v, want ErrNotFound", err)
	}
	void("V1", StateDeclined)
	void("V2", StateFailed)
	if _, err := db.LiveVoidOf(ctx, "S1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("only failed voids: %v, want ErrNotFound", err)
	}
	void("V3", StateApproved)
	if p, err := db.LiveVoidOf(ctx, "S1"); err != nil || p.MerchantOrderNo != "V3" {
		t.Fatalf("approved void: %v, %v; want V3", p, err)
	}
	void("V4", StateQueued)
	if p, err := db.LiveVoidOf(ctx, "S1"); err != nil || p.MerchantOrderNo != "V4" {
		t.Fatalf("running void: %v, %v; want V4", p, err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"ZVT-ecr0-42-": "ZVT-ecr0-42.", "a": "b", "a\xff": "b", "\xff": "\xff\xff"} {
		if got := prefixEnd(in); got != want {
			t.Errorf("prefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestECRMemory(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	m := ECRMemory{DB: db}
	if n, err := m.Counter(ctx, "zvt.ecr0.seq"); err != nil || n != 0 {
		t.Fatalf("Counter before use = %d, %v; want 0", n, err)
	}
	for want := int64(1); want <= 3; want++ {
		if n, err := m.NextCounter(ctx, "zvt.ecr0.seq", 0); err != nil || n != want {
			t.Fatalf("NextCounter = %d, %v; want %d", n, err, want)
		}
	}
	if n, err := m.Counter(ctx, "zvt.ecr0.seq"); err != nil || n != 3 {
		t.Fatalf("Counter = %d, %v; want 3", n, err)
	}
	// The keys are those the agent used, so journals keep their values.
	if v, err := db.Setting(ctx, "counter.zvt.ecr0.seq"); err != nil || v != "3" {
		t.Fatalf("counter setting = %q, %v", v, err)
	}
	if v, err := m.Setting(ctx, "zvt.ecr0.registration"); err != nil || v != "" {
		t.Fatalf("unset setting = %q, %v", v, err)
	}
	if err := m.SetSetting(ctx, "zvt.ecr0.registration", "8e"); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Setting(ctx, "frontend.zvt.ecr0.registration"); err != nil || v != "8e" {
		t.Fatalf("stored setting = %q, %v", v, err)
	}
	if v, err := m.Setting(ctx, "zvt.ecr0.registration"); err != nil || v != "8e" {
		t.Fatalf("Setting = %q, %v", v, err)
	}
	mustInsert(t, db, newPayment("N1", "SN1"))
	for _, n := range []struct{ kind, detail string }{{"ecr", "one"}, {"other", "x"}, {"ecr", "two"}} {
		if err := m.Note(ctx, "N1", n.kind, n.detail); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := m.Notes(ctx, "N1", "ecr"); err != nil || len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Fatalf("Notes = %q, %v", got, err)
	}
	if err := m.Note(ctx, "NOPE", "ecr", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Note on a missing payment = %v, want ErrNotFound", err)
	}
}
