package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestEventIDFollowsStateChanges: InsertPayment and Transition set EventID to
// the event they wrote, reads return it, notes leave it alone, and a mutate
// cannot forge it.
func TestEventIDFollowsStateChanges(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	a := mustInsert(t, db, newPayment("EA", "SN1"))
	b := mustInsert(t, db, newPayment("EB", "SN2"))
	if a.EventID <= 0 || b.EventID <= a.EventID {
		t.Fatalf("EventIDs after two inserts = %d, %d; want increasing from 1", a.EventID, b.EventID)
	}
	if err := db.AppendEvent(ctx, "EA", Event{Kind: "query", Detail: "asked"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetPayment(ctx, "EA"); got.EventID != a.EventID {
		t.Errorf("EventID after a note = %d, want %d (notes are not changes)", got.EventID, a.EventID)
	}
	forge := func(p *Payment) error { p.State = StateSending; p.EventID = 1_000_000; return nil }
	a2, err := db.Transition(ctx, "EA", []string{StateQueued}, forge, Event{})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := db.Events(ctx, "EA")
	last := evs[len(evs)-1]
	if a2.EventID != last.ID || last.ToState != StateSending {
		t.Errorf("EventID after Transition = %d, want the transition's event %d (%+v)", a2.EventID, last.ID, last)
	}
	if a2.EventID <= evs[1].ID {
		t.Errorf("EventID %d not above the note's id %d: the gap a note leaves must be skipped, not reused", a2.EventID, evs[1].ID)
	}
	// A refused transition writes nothing and keeps the EventID.
	if _, err := db.Transition(ctx, "EA", []string{StateQueued}, forge, Event{}); !errors.Is(err, ErrStateChanged) {
		t.Fatalf("Transition from the wrong state = %v", err)
	}
	// Every read carries the same value.
	reads := map[string]func() (int64, error){
		"GetPayment": func() (int64, error) { p, err := db.GetPayment(ctx, "EA"); return pick(p, err) },
		"ListPayments": func() (int64, error) {
			ps, err := db.ListPayments(ctx, ListFilter{TerminalSN: "SN1"})
			return pickFirst(ps, err)
		},
		"NonFinal": func() (int64, error) {
			ps, err := db.NonFinal(ctx)
			return pickFirst(ps, err)
		},
		"Active": func() (int64, error) { p, err := db.Active(ctx, "SN1"); return pick(p, err) },
	}
	for name, read := range reads {
		if got, err := read(); err != nil || got != a2.EventID {
			t.Errorf("%s EventID = %d, %v; want %d", name, got, err, a2.EventID)
		}
	}
	// A duplicate insert returns the stored payment with its EventID.
	dup, err := db.InsertPayment(ctx, newPayment("EA", "SN1"), Event{})
	if !errors.Is(err, ErrDuplicate) || dup.EventID != a2.EventID {
		t.Errorf("duplicate InsertPayment = EventID %d, %v; want %d, ErrDuplicate", dup.EventID, err, a2.EventID)
	}
}

func pick(p *Payment, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return p.EventID, nil
}

func pickFirst(ps []Payment, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	if len(ps) == 0 {
		return 0, ErrNotFound
	}
	return ps[0].EventID, nil
}

// orderNos returns the order numbers of ps and checks they come in strictly
// ascending EventID order.
func orderNos(t *testing.T, ps []Payment) []string {
	t.Helper()
	var out []string
	for i, p := range ps {
		if i > 0 && p.EventID <= ps[i-1].EventID {
			t.Errorf("EventIDs not ascending: %d after %d", p.EventID, ps[i-1].EventID)
		}
		out = append(out, p.MerchantOrderNo)
	}
	return out
}

func TestChangedSince(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		sn := "SN1"
		if i%2 == 0 {
			sn = "SN2"
		}
		mustInsert(t, db, newPayment(fmt.Sprintf("C%d", i), sn))
	}
	// C2 moves on: it is now the most recently changed payment.
	c2, err := db.Transition(ctx, "C2", nil, setState(StateSending), Event{})
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := db.GetPayment(ctx, "C1")

	all, more, err := db.ChangedSince(ctx, ChangeFilter{})
	if err != nil || more {
		t.Fatalf("ChangedSince(0) = more %v, %v", more, err)
	}
	if got, want := orderNos(t, all), []string{"C1", "C3", "C4", "C5", "C2"}; !slices.Equal(got, want) {
		t.Errorf("ChangedSince(0) = %v, want %v (each payment once, by its latest change)", got, want)
	}
	if all[len(all)-1].State != StateSending || all[len(all)-1].EventID != c2.EventID {
		t.Errorf("C2 as returned = %s/%d, want its current state sending/%d", all[len(all)-1].State, all[len(all)-1].EventID, c2.EventID)
	}

	got, _, _ := db.ChangedSince(ctx, ChangeFilter{After: c1.EventID})
	if names, want := orderNos(t, got), []string{"C3", "C4", "C5", "C2"}; !slices.Equal(names, want) {
		t.Errorf("ChangedSince(C1's event) = %v, want %v", names, want)
	}
	got, more, _ = db.ChangedSince(ctx, ChangeFilter{After: c2.EventID})
	if len(got) != 0 || more {
		t.Errorf("ChangedSince(newest) = %v, more %v; want nothing", orderNos(t, got), more)
	}
	got, _, _ = db.ChangedSince(ctx, ChangeFilter{TerminalSN: "SN2"})
	if names, want := orderNos(t, got), []string{"C4", "C2"}; !slices.Equal(names, want) {
		t.Errorf("ChangedSince(SN2) = %v, want %v", names, want)
	}
	got, _, _ = db.ChangedSince(ctx, ChangeFilter{TerminalSN: "NOPE"})
	if len(got) != 0 {
		t.Errorf("ChangedSince(unknown terminal) = %v", orderNos(t, got))
	}
	if _, _, err := db.ChangedSince(ctx, ChangeFilter{After: -1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("ChangedSince(-1) = %v, want ErrInvalid", err)
	}
}

// TestChangedSincePaging pages two at a time while payments keep changing: a
// payment that changes after its page was read shows up again on a later
// page with its new state, and none is ever skipped.
func TestChangedSincePaging(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		mustInsert(t, db, newPayment(fmt.Sprintf("P%d", i), "SN1"))
	}
	var (
		after int64
		seen  []string
		pages int
	)
	for {
		page, more, err := db.ChangedSince(ctx, ChangeFilter{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page) > 2 {
			t.Fatalf("page of %d with limit 2", len(page))
		}
		seen = append(seen, orderNos(t, page)...)
		if len(page) > 0 {
			after = page[len(page)-1].EventID
		}
		if pages == 1 {
			// P1 (already read) and P4 (not yet) change between pages.
			for _, no := range []string{"P1", "P4"} {
				if _, err := db.Transition(ctx, no, nil, setState(StateSending), Event{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !more {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if want := []string{"P1", "P2", "P3", "P5", "P1", "P4"}; !slices.Equal(seen, want) {
		t.Errorf("pages returned %v, want %v", seen, want)
	}
	if p4, _ := db.GetPayment(ctx, "P4"); after != p4.EventID {
		t.Errorf("paging ended at %d, want the newest change %d", after, p4.EventID)
	}

	// Limits: 0 means the default, too big means the maximum.
	if _, _, limit := changedSinceTail(ChangeFilter{}); limit != DefaultChangesLimit {
		t.Errorf("default limit = %d, want %d", limit, DefaultChangesLimit)
	}
	if _, _, limit := changedSinceTail(ChangeFilter{Limit: 10_000}); limit != MaxChangesLimit {
		t.Errorf("limit 10000 = %d, want %d", limit, MaxChangesLimit)
	}
	page, more, _ := db.ChangedSince(ctx, ChangeFilter{Limit: 5})
	if len(page) != 5 || more {
		t.Errorf("limit 5 of 5 = %d, more %v; want 5, false", len(page), more)
	}
}

// TestChangedSinceUsesIndex proves the catch-up query is a bounded index
// search: it never scans the payments table nor sorts it.
func TestChangedSinceUsesIndex(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		mustInsert(t, db, newPayment(fmt.Sprintf("I%d", i), fmt.Sprintf("SN%d", i%3)))
	}
	for _, f := range []ChangeFilter{{After: 7}, {After: 7, TerminalSN: "SN1"}} {
		tail, args, _ := changedSinceTail(f)
		plan := queryPlan(t, db, `SELECT `+paymentCols+` FROM payments `+tail, args...)
		t.Logf("plan for %+v: %s", f, plan)
		if strings.Contains(plan, "SCAN payments") || strings.Contains(plan, "TEMP B-TREE") ||
			!strings.Contains(plan, "last_event_id>?") {
			t.Errorf("plan for %+v = %q, want an index search on last_event_id without a scan or sort", f, plan)
		}
	}
	plan := queryPlan(t, db, latestEventIDQuery)
	t.Logf("plan for LatestEventID: %s", plan)
	if !strings.Contains(plan, "SEARCH payments USING COVERING INDEX payments_last_event") {
		t.Errorf("plan for LatestEventID = %q, want a look-up at the end of payments_last_event", plan)
	}
	if id, err := db.LatestEventID(ctx); err != nil || id != 50 {
		t.Errorf("LatestEventID = %d, %v; want 50", id, err)
	}
}

// queryPlan returns EXPLAIN QUERY PLAN's details for query, joined by "; ".
func queryPlan(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.reader.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// TestMigrationBackfillsEventID opens a journal written before migration 4:
// each payment's EventID becomes its latest event, and the next change goes
// above it.
func TestMigrationBackfillsEventID(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal.db")
	if err := createPrivate(path); err != nil {
		t.Fatal(err)
	}
	old := &DB{path: path, log: slog.New(slog.DiscardHandler), now: time.Now, writeMu: make(chan struct{}, 1)}
	w, err := sql.Open("sqlite", writerDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	old.writer = w
	ms, err := loadMigrations(embeddedMigrations())
	if err != nil {
		t.Fatal(err)
	}
	v3 := fstest.MapFS{}
	for _, m := range ms[:3] {
		v3[m.name] = &fstest.MapFile{Data: []byte(m.sql)}
	}
	if err := old.migrate(ctx, v3); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO payments (id, merchant_order_no, type, state, currency, amount_minor, queue_seq, created_at, updated_at)
			VALUES (1, 'OLD1', 'sale', 'approved', 'USD', 100, 1, 1, 1), (2, 'OLD2', 'sale', 'queued', 'USD', 100, 2, 1, 1)`,
		`INSERT INTO payment_events (id, payment_id, merchant_order_no, kind, at) VALUES
			(1, 1, 'OLD1', 'created', 1), (2, 2, 'OLD2', 'created', 1), (3, 1, 'OLD1', 'state', 2), (4, 1, 'OLD1', 'query', 3)`,
	} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	db := openAt(t, path)
	for no, want := range map[string]int64{"OLD1": 4, "OLD2": 2} {
		if p, err := db.GetPayment(ctx, no); err != nil || p.EventID != want {
			t.Errorf("%s after migration: EventID %v, %v; want %d", no, p, err, want)
		}
	}
	p, err := db.Transition(ctx, "OLD2", nil, setState(StateSending), Event{})
	if err != nil || p.EventID != 5 {
		t.Errorf("next change of OLD2: EventID %v, %v; want 5", p, err)
	}
	ps, _, err := db.ChangedSince(ctx, ChangeFilter{After: 2})
	if got := orderNos(t, ps); err != nil || !slices.Equal(got, []string{"OLD1", "OLD2"}) {
		t.Errorf("ChangedSince(2) = %v, %v", got, err)
	}
}
