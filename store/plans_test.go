package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestQueryPlansBounded guards the statements the agent runs per payment, per
// console or API view and per /metrics scrape: each must be bounded by an
// index on what is active or asked for, never walk a terminal's or the
// journal's history (issue: a year of history made the journal 30× slower).
// EXPLAIN QUERY PLAN must name the expected index with its constraint, and
// show no full scan of payments and no sort of an unbounded set.
func TestQueryPlansBounded(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	// A journal with history: final payments on three terminals, plus a
	// queued, an active and a parked one.
	for i := 0; i < 90; i++ {
		p := mustInsert(t, db, newPayment(fmt.Sprintf("H%03d", i), fmt.Sprintf("SN%d", i%3)))
		if _, err := db.Transition(ctx, p.MerchantOrderNo, []string{StateQueued}, func(p *Payment) error {
			p.State, p.TransNo = StateApproved, fmt.Sprintf("T%03d", i)
			return nil
		}, Event{Kind: "state"}); err != nil {
			t.Fatal(err)
		}
	}
	mustInsert(t, db, newPayment("Q1", "SN1"))
	a := mustInsert(t, db, newPayment("A1", "SN1"))
	if _, err := db.Transition(ctx, a.MerchantOrderNo, []string{StateQueued}, setState(StateOnTerminal), Event{Kind: "state"}); err != nil {
		t.Fatal(err)
	}

	type stmt struct {
		name string
		sql  string
		args []any
		want string   // the bounded index access the plan must contain ("a|b": either)
		sort bool     // a sort is allowed (of a bounded set)
		deny []string // further plan fragments that mean an unbounded walk
	}
	sel := `SELECT ` + paymentCols + ` FROM payments `
	listSQL := func(f ListFilter) (string, []any) {
		tail, args := listTail(f)
		return sel + tail, args
	}
	stmts := []stmt{
		{name: "Active", sql: sel + activeTail, args: []any{"SN1"},
			want: "USING INDEX payments_terminal_state_seq (terminal_sn=? AND state=?)"},
		{name: "NextQueued", sql: sel + nextQueuedTail, args: []any{"SN1"},
			want: "USING INDEX payments_terminal_state_seq (terminal_sn=? AND state=?)"},
		{name: "QueueDepth", sql: queueDepthSQL, args: []any{"SN1"},
			want: "payments_terminal_state_seq (terminal_sn=? AND state=?)"},
		{name: "NonFinal", sql: sel + `WHERE state IN (?, ?, ?, ?) ORDER BY terminal_sn, queue_seq`,
			args: []any{StateQueued, StateSending, StateOnTerminal, StateUnknown}, want: "USING INDEX payments_state (state=?)", sort: true},
		{name: "GetPayment", sql: sel + `WHERE merchant_order_no = ?`, args: []any{"A1"},
			want: "USING INDEX sqlite_autoindex_payments_1 (merchant_order_no=?)"},
		{name: "GetPaymentByTransNo", sql: sel + byTransNoTail, args: []any{"bindo", "T001"},
			want: "USING INDEX payments_route_trans_no (route=? AND trans_no=?)"},
		{name: "Events", sql: `SELECT id FROM payment_events WHERE payment_id = ? ORDER BY id`, args: []any{1},
			want: "payment_events_payment (payment_id=?)"},
		{name: "ParkedDue", sql: sel + `WHERE next_check_at > 0 AND next_check_at <= ? AND state IN (?, ?, ?) ORDER BY next_check_at LIMIT ?`,
			args: []any{toMS(time.Now()), StateSending, StateOnTerminal, StateUnknown, 50}, sort: true,
			want: "payments_next_check (next_check_at>? AND next_check_at<?)|USING INDEX payments_state (state=?)"},
		{name: "NextParked", sql: nextParkedSQL, want: "payments_next_check (next_check_at>?)"},
		{name: "CountPayments (metrics)", sql: countsSQL, want: "payment_counts", deny: []string{"payments "}},
		{name: "BatchPayments", sql: sel + `WHERE batch_id = ? ORDER BY id`, args: []any{1}, want: "payments_batch (batch_id=?)"},
		{name: "LatestByOrderPrefix (ECR receipt number)", sql: sel + latestByPrefixTail, args: []any{"H04", prefixEnd("H04"), "SN1", TypeSale},
			want: "USING INDEX sqlite_autoindex_payments_1 (merchant_order_no>? AND merchant_order_no<?)", sort: true},
		{name: "LateChecksDue", sql: lateDueSQL, args: []any{toMS(time.Now()), 50},
			want: "USING INDEX late_checks_next_check (next_check_at<?)"},
		{name: "NextLateCheck", sql: nextLateSQL, want: "late_checks_next_check"},
		{name: "LiveVoidOf (ECR reversal)", sql: sel + liveVoidTail, args: []any{"H001"},
			want: "USING INDEX payments_orig (orig_merchant_order_no=?)"},
		// A scan of the partial index reads only the open alerts.
		{name: "OpenAlerts", sql: sel + openAlertsTail, args: []any{100}, want: "SCAN payments USING INDEX payments_open_alerts"},
		{name: "CountOpenAlerts (metrics)", sql: countAlertsSQL, want: "SCAN payments USING INDEX payments_open_alerts"},
	}
	for _, f := range []ListFilter{
		{TerminalSN: "SN1"},
		{TerminalSN: "SN1", State: StateApproved},
		{TerminalSN: "SN1", BeforeID: 40},
		{TerminalSN: "SN1", State: StateApproved, BeforeID: 40},
		{},
		{State: StateApproved},
		{State: StateApproved, BeforeID: 40},
	} {
		q, args := listSQL(f)
		want := "payments_state (state=?"
		switch {
		case f.TerminalSN != "" && f.State != "":
			want = "payments_terminal_state_seq (terminal_sn=? AND state=?"
		case f.TerminalSN != "":
			want = "sqlite_autoindex_payments_2 (terminal_sn=?"
		case f.State == "":
			want = "SCAN payments" // along the rowid, newest first: bounded by LIMIT
		}
		stmts = append(stmts, stmt{name: fmt.Sprintf("ListPayments %+v", f), sql: q, args: args, want: want})
	}
	day := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		f    SearchFilter
		want string
		sort bool
	}{
		{SearchFilter{}, "SCAN payments USING INDEX payments_created", false}, // newest first: LIMIT rows
		{SearchFilter{From: day, To: day.AddDate(0, 0, 1)}, "payments_created (created_at>? AND created_at<?)", false},
		{SearchFilter{From: day, To: day.AddDate(0, 0, 1), After: Cursor{CreatedAt: day, ID: 9}}, "payments_created (created_at>? AND created_at<?)", false},
		{SearchFilter{TerminalSN: "SN1", From: day}, "payments_terminal_created (terminal_sn=? AND created_at>?)", false},
		{SearchFilter{OrderPrefix: "H04"}, "sqlite_autoindex_payments_1 (merchant_order_no>? AND merchant_order_no<?)", true},
		{SearchFilter{Last4: "0119", From: day}, "payments_last4 (<expr>=? AND created_at>?)", true},
		{SearchFilter{Amounts: []int64{1234, 123400}, From: day}, "payments_amount (amount_minor=? AND created_at>?)", true},
		{SearchFilter{OrderPrefix: "1234", Last4: "1234", Amounts: []int64{123400}, From: day, To: day.AddDate(0, 0, 1)},
			"SEARCH payments USING INTEGER PRIMARY KEY (rowid=?)", true},
	} {
		tail, args, err := searchTail(c.f)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, stmt{name: fmt.Sprintf("SearchPayments %+v", c.f), sql: sel + tail, args: args, want: c.want, sort: c.sort})
	}
	stmts = append(stmts, stmt{name: "PaymentsCreatedBetween", sql: sel + createdBetweenTail, args: []any{toMS(day), toMS(day.AddDate(0, 0, 1)), 10},
		want: "payments_created (created_at>? AND created_at<?)"})
	for _, s := range stmts {
		plan := queryPlan(t, db, s.sql, s.args...)
		bad := true
		for _, w := range strings.Split(s.want, "|") {
			bad = bad && !strings.Contains(plan, w)
		}
		if !strings.HasPrefix(s.want, "SCAN payments") && strings.Contains(plan, "SCAN payments") {
			bad = true
		}
		if !s.sort && strings.Contains(plan, "TEMP B-TREE") {
			bad = true
		}
		for _, d := range s.deny {
			bad = bad || strings.Contains(plan, d)
		}
		if bad {
			t.Errorf("%s: plan %q; want %q without a scan or an unbounded sort", s.name, plan, s.want)
		}
	}
	// The list without filters walks the rowid from the end: only LIMIT rows.
	if plan := queryPlan(t, db, sel+`ORDER BY id DESC LIMIT 5`); strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("newest-first list sorts: %s", plan)
	}
}

// TestPaymentCountsKeptByTriggers: the metrics counts follow inserts,
// transitions and deletes, and equal a full count of the journal.
func TestPaymentCountsKeptByTriggers(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	for i := 0; i < 7; i++ {
		p := mustInsert(t, db, newPayment(fmt.Sprintf("C%d", i), "SN1"))
		if i%2 == 0 {
			if _, err := db.Transition(ctx, p.MerchantOrderNo, []string{StateQueued}, setState(StateApproved), Event{Kind: "state"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := newPayment("CB", "SN2")
	b.Route = "bindo"
	mustInsert(t, db, b)
	got, err := db.CountPayments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT state, route, COUNT(*) FROM payments GROUP BY state, route ORDER BY state, route`)
	if err != nil {
		t.Fatal(err)
	}
	var want []StateRouteCount
	for rows.Next() {
		var c StateRouteCount
		rows.Scan(&c.State, &c.Route, &c.Count)
		want = append(want, c)
	}
	rows.Close()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("CountPayments = %v, a full count says %v", got, want)
	}
	if fmt.Sprint(got) != "[{approved codepay 4} {queued bindo 1} {queued codepay 3}]" {
		t.Fatalf("CountPayments = %v", got)
	}
}

// TestPrefillHistory: the benchmark helper writes consistent rows.
func TestPrefillHistory(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	mustInsert(t, db, newPayment("LIVE", "SN1"))
	if err := db.PrefillHistory(ctx, []string{"SN1", "SN2"}, 30, time.Now()); err != nil {
		t.Fatal(err)
	}
	p, err := db.GetPayment(ctx, "H-SN2-00000030")
	if err != nil || p.State != StateApproved || p.QueueSeq != 30 || p.EventID == 0 {
		t.Fatalf("prefilled payment = %+v, %v", p, err)
	}
	evs, err := db.Events(ctx, "H-SN1-00000001")
	if err != nil || len(evs) != 1 || evs[0].ToState != StateApproved {
		t.Fatalf("events of a prefilled payment = %+v, %v", evs, err)
	}
	if p, err := db.GetPayment(ctx, "H-SN1-00000001"); err != nil || p.QueueSeq != 2 {
		t.Fatalf("queue_seq continues after the live payment: %+v, %v", p, err)
	}
	counts, _ := db.CountPayments(ctx)
	if fmt.Sprint(counts) != "[{approved codepay 60} {queued codepay 1}]" {
		t.Fatalf("counts after prefill = %v", counts)
	}
	if next, err := db.NextQueued(ctx, "SN1"); err != nil || next.MerchantOrderNo != "LIVE" {
		t.Fatalf("NextQueued after prefill = %+v, %v", next, err)
	}
}
