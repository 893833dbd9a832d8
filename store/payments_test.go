package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/money"
)

// fullPayment has every field set to a non-zero value.
func fullPayment(no string) *Payment {
	return &Payment{
		MerchantOrderNo:     no,
		Type:                TypeRefund,
		State:               StateQueued,
		Source:              "ecr",
		TerminalSN:          "WPYB002248000865",
		Currency:            "KWD",
		AmountMinor:         12345,
		TipMinor:            100,
		CashbackMinor:       2000,
		OrigMerchantOrderNo: "ORIG-1",
		Description:         "Grüße, refund ✓",
		Route:               "bindo",
		RequestHash:         "sha256:abc",
		OptionsJSON:         `{"on_screen_tip":true,"receipt_print_mode":1}`,
		CreateSent:          true,
		TransNo:             "T0001",
		TransStatus:         "2",
		AuthCode:            "A1B2C3",
		RefNo:               "R123",
		CardBrand:           "VISA",
		MaskedPAN:           "411111******1111",
		EntryMode:           "contactless",
		ErrorCode:           "E1",
		ErrorMessage:        "none really",
		ExpiresAt:           time.Date(2026, 3, 14, 9, 30, 0, 123_000_000, time.UTC),
		NextCheckAt:         time.Date(2026, 3, 14, 9, 28, 0, 7_000_000, time.UTC),
		Attempts:            3,
		CreatedAt:           time.Date(2026, 3, 14, 9, 27, 0, 1_000_000, time.UTC),
		UpdatedAt:           time.Date(2026, 3, 14, 9, 27, 0, 2_000_000, time.UTC),
	}
}

func TestInsertPaymentRoundTrip(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	in := fullPayment("FULL-1")
	want := *in
	got, err := db.InsertPayment(ctx, in, Event{Detail: "from ECR"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID <= 0 || got.QueueSeq != 1 {
		t.Errorf("ID, QueueSeq = %d, %d; want >0, 1", got.ID, got.QueueSeq)
	}
	want.ID, want.QueueSeq, want.EventID = got.ID, got.QueueSeq, got.EventID
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("InsertPayment returned\n%+v\nwant\n%+v", *got, want)
	}
	if !reflect.DeepEqual(*in, want) {
		t.Errorf("InsertPayment left *p as\n%+v\nwant\n%+v", *in, want)
	}
	read, err := db.GetPayment(ctx, "FULL-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*read, want) {
		t.Errorf("GetPayment =\n%+v\nwant\n%+v", *read, want)
	}
	evs, err := db.Events(ctx, "FULL-1")
	if err != nil {
		t.Fatal(err)
	}
	wantEv := Event{ID: evs[0].ID, PaymentID: got.ID, MerchantOrderNo: "FULL-1", Kind: EventCreated,
		ToState: StateQueued, Detail: "from ECR", At: want.CreatedAt}
	if len(evs) != 1 || evs[0] != wantEv {
		t.Errorf("Events = %+v, want [%+v]", evs, wantEv)
	}
	if got.EventID != evs[0].ID {
		t.Errorf("EventID = %d, want the creation event's id %d", got.EventID, evs[0].ID)
	}
}

func TestInsertPaymentDefaults(t *testing.T) {
	clock := newTestClock()
	db := openTest(t, WithClock(clock.Now))
	p := newPayment("D1", "T1")
	p.ID, p.QueueSeq = 99, 99 // ignored: the store assigns both
	got := mustInsert(t, db, p)
	if got.ID == 99 || got.QueueSeq != 1 {
		t.Errorf("ID, QueueSeq = %d, %d; want assigned, 1", got.ID, got.QueueSeq)
	}
	if got.CreatedAt.IsZero() || !got.UpdatedAt.Equal(got.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want equal non-zero UTC", got.CreatedAt, got.UpdatedAt)
	}
	if !got.ExpiresAt.IsZero() || !got.NextCheckAt.IsZero() {
		t.Errorf("zero times came back as %v, %v", got.ExpiresAt, got.NextCheckAt)
	}
	// Sub-millisecond times are stored with millisecond precision.
	p2 := newPayment("D2", "T1")
	p2.ExpiresAt = time.Date(2026, 1, 2, 3, 4, 5, 678_901_234, time.FixedZone("X", 3600))
	got2 := mustInsert(t, db, p2)
	if want := time.Date(2026, 1, 2, 2, 4, 5, 678_000_000, time.UTC); !got2.ExpiresAt.Equal(want) || got2.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt = %v, want %v UTC", got2.ExpiresAt, want)
	}
}

func TestInsertDuplicateReturnsExistingUnchanged(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	first := mustInsert(t, db, newPayment("DUP-1", "T1"))
	if _, err := db.Transition(ctx, "DUP-1", nil, setState(StateSending), Event{}); err != nil {
		t.Fatal(err)
	}
	before, _ := db.GetPayment(ctx, "DUP-1")
	eventsBefore, _ := db.Events(ctx, "DUP-1")

	again := newPayment("DUP-1", "T2")
	again.AmountMinor = 999
	again.RequestHash = "different"
	got, err := db.InsertPayment(ctx, again, Event{Detail: "second"})
	if !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second InsertPayment = %v, want ErrDuplicate", err)
	}
	if got == nil || !reflect.DeepEqual(*got, *before) {
		t.Fatalf("second InsertPayment returned %+v, want existing %+v", got, before)
	}
	if got.ID != first.ID {
		t.Errorf("duplicate ID = %d, want %d", got.ID, first.ID)
	}
	if again.ID != 0 || again.AmountMinor != 999 {
		t.Errorf("duplicate insert changed the caller's payment: %+v", again)
	}
	after, _ := db.GetPayment(ctx, "DUP-1")
	eventsAfter, _ := db.Events(ctx, "DUP-1")
	if !reflect.DeepEqual(after, before) || !reflect.DeepEqual(eventsAfter, eventsBefore) {
		t.Errorf("duplicate insert changed the journal:\n%+v\n%+v", after, eventsAfter)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM payments`); n != 1 {
		t.Errorf("payments = %d, want 1", n)
	}
	if n, _ := db.QueueDepth(ctx, "T2"); n != 0 {
		t.Errorf("QueueDepth(T2) = %d, want 0", n)
	}
}

func TestInsertPaymentValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Payment)
	}{
		{"empty order no", func(p *Payment) { p.MerchantOrderNo = "" }},
		{"long order no", func(p *Payment) { p.MerchantOrderNo = strings.Repeat("x", 65) }},
		{"unknown type", func(p *Payment) { p.Type = "gift" }},
		{"unknown state", func(p *Payment) { p.State = "done" }},
		{"empty state", func(p *Payment) { p.State = "" }},
		{"short currency", func(p *Payment) { p.Currency = "US" }},
		{"lower currency", func(p *Payment) { p.Currency = "usd" }},
		{"negative amount", func(p *Payment) { p.AmountMinor = -1 }},
		{"negative tip", func(p *Payment) { p.TipMinor = -1 }},
		{"negative cashback", func(p *Payment) { p.CashbackMinor = math.MinInt64 }},
		{"negative attempts", func(p *Payment) { p.Attempts = -1 }},
		{"bad options json", func(p *Payment) { p.OptionsJSON = "{" }},
		{"full PAN", func(p *Payment) { p.MaskedPAN = "4111111111111111" }},
		{"PAN with spaces", func(p *Payment) { p.MaskedPAN = "4111 1111 1111 1111" }},
		{"13 digits shown", func(p *Payment) { p.MaskedPAN = "4111111111111*" }},
		{"12 digits unmasked", func(p *Payment) { p.MaskedPAN = "411111111111" }},
		{"11 digits unmasked", func(p *Payment) { p.MaskedPAN = "41111111111" }},
	}
	db := openTest(t)
	ctx := context.Background()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPayment("V1", "T1")
			tc.mutate(p)
			got, err := db.InsertPayment(ctx, p, Event{})
			if !errors.Is(err, ErrInvalid) || got != nil {
				t.Fatalf("InsertPayment = %v, %v; want nil, ErrInvalid", got, err)
			}
		})
	}
	if _, err := db.InsertPayment(ctx, nil, Event{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("InsertPayment(nil) = %v, want ErrInvalid", err)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM payments`); n != 0 {
		t.Errorf("payments = %d after invalid inserts, want 0", n)
	}
	for _, ok := range []string{"", "411111******1111", "41111111****1111", "************1111", "VISA-1111", "1111", "4111111111", "4111 11** **** 1111"} {
		if !maskedPANOK(ok) {
			t.Errorf("maskedPANOK(%q) = false, want true", ok)
		}
	}
}

func TestSchemaConstraints(t *testing.T) {
	// The CHECKs in SQL are the second line of defence behind validatePayment.
	db := openTest(t)
	ctx := context.Background()
	mustInsert(t, db, newPayment("C1", "T1"))
	tests := []struct {
		name string
		sql  string
	}{
		{"negative amount", `UPDATE payments SET amount_minor = -1`},
		{"real amount", `UPDATE payments SET amount_minor = 12.5`},
		{"text amount", `UPDATE payments SET amount_minor = '12.50'`},
		{"bad state", `UPDATE payments SET state = 'done'`},
		{"bad type", `UPDATE payments SET type = 'gift'`},
		{"bad currency", `UPDATE payments SET currency = 'US'`},
		{"bad options", `UPDATE payments SET options_json = '{'`},
		{"event for missing payment", `INSERT INTO payment_events (payment_id, merchant_order_no, kind, at) VALUES (999, 'x', 'k', 1)`},
		{"duplicate queue_seq", `INSERT INTO payments (merchant_order_no, type, state, terminal_sn, currency, amount_minor, queue_seq, created_at, updated_at)
			VALUES ('C2', 'sale', 'queued', 'T1', 'USD', 1, 1, 1, 1)`},
		{"two open batches", `INSERT INTO batches (terminal_sn, batch_no, state, opened_at) VALUES ('T1', 1, 'open', 1), ('T1', 2, 'open', 2)`},
		{"closed batch without time", `INSERT INTO batches (terminal_sn, batch_no, state, opened_at) VALUES ('T1', 1, 'closed', 1)`},
		{"bad batch state", `INSERT INTO batches (terminal_sn, batch_no, state, opened_at) VALUES ('T1', 1, 'done', 1)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := db.writer.ExecContext(ctx, tc.sql); err == nil {
				t.Fatalf("%s: succeeded, want constraint error", tc.sql)
			}
		})
	}
	// And the valid batch shapes work.
	if _, err := db.writer.ExecContext(ctx, `INSERT INTO batches (terminal_sn, batch_no, state, opened_at, close_started_at, closed_at, report_json)
		VALUES ('T1', 1, 'closed', 1, 2, 2, '{"count":3}'), ('T1', 2, 'open', 2, NULL, NULL, ''), ('T2', 1, 'open', 3, NULL, NULL, '')`); err != nil {
		t.Fatalf("valid batches: %v", err)
	}
}

func TestEventsAreAppendOnly(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	mustInsert(t, db, newPayment("E1", "T1"))
	if err := db.AppendEvent(ctx, "E1", Event{Kind: "query", Detail: "polled"}); err != nil {
		t.Fatal(err)
	}
	before, _ := db.Events(ctx, "E1")
	tests := []struct{ name, sql string }{
		{"update detail", `UPDATE payment_events SET detail = 'rewritten'`},
		{"update state", `UPDATE payment_events SET to_state = 'approved' WHERE kind = 'created'`},
		{"delete one", `DELETE FROM payment_events WHERE kind = 'query'`},
		{"delete all", `DELETE FROM payment_events`},
		{"delete payment", `DELETE FROM payments`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.writer.ExecContext(ctx, tc.sql)
			if err == nil {
				t.Fatalf("%s succeeded, want abort", tc.sql)
			}
			if strings.HasPrefix(tc.name, "update") || strings.HasPrefix(tc.name, "delete one") {
				if !strings.Contains(err.Error(), "append-only") {
					t.Errorf("error = %v, want the trigger's message", err)
				}
			}
		})
	}
	after, _ := db.Events(ctx, "E1")
	if !reflect.DeepEqual(after, before) {
		t.Errorf("events changed: %+v, want %+v", after, before)
	}
}

func TestTransitionHappyPath(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	created := mustInsert(t, db, newPayment("T-1", "SN1"))

	steps := []struct {
		from    []string
		mutate  func(*Payment) error
		ev      Event
		want    string
		wantEv  Event
		changes func(*Payment)
	}{
		{
			from:   []string{StateQueued},
			mutate: func(p *Payment) error { p.State = StateSending; p.CreateSent = true; return nil },
			want:   StateSending,
			wantEv: Event{Kind: EventState, FromState: StateQueued, ToState: StateSending},
		},
		{
			from: []string{StateSending},
			mutate: func(p *Payment) error {
				p.State = StateOnTerminal
				p.TransNo = "TN1"
				p.NextCheckAt = time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)
				return nil
			},
			ev:     Event{Kind: "created_order", Detail: "cloud accepted"},
			want:   StateOnTerminal,
			wantEv: Event{Kind: "created_order", FromState: StateSending, ToState: StateOnTerminal, Detail: "cloud accepted"},
		},
		{
			from: []string{StateOnTerminal, StateUnknown},
			mutate: func(p *Payment) error {
				p.State = StateApproved
				p.TransStatus, p.AuthCode, p.MaskedPAN, p.TipMinor = "2", "OK1", "4111********1111", 150
				return nil
			},
			ev:     Event{FromState: "explicit-from", ToState: "explicit-to"},
			want:   StateApproved,
			wantEv: Event{Kind: EventState, FromState: "explicit-from", ToState: "explicit-to"},
		},
	}
	prevUpdated := created.UpdatedAt
	for i, s := range steps {
		t.Run(s.want, func(t *testing.T) {
			got, err := db.Transition(ctx, "T-1", s.from, s.mutate, s.ev)
			if err != nil {
				t.Fatalf("step %d: Transition = %v", i, err)
			}
			if got.State != s.want {
				t.Errorf("state = %q, want %q", got.State, s.want)
			}
			if !got.UpdatedAt.After(prevUpdated) {
				t.Errorf("UpdatedAt = %v, not after %v", got.UpdatedAt, prevUpdated)
			}
			prevUpdated = got.UpdatedAt
			read, _ := db.GetPayment(ctx, "T-1")
			if !reflect.DeepEqual(read, got) {
				t.Errorf("GetPayment = %+v, want returned %+v", read, got)
			}
			evs, _ := db.Events(ctx, "T-1")
			if len(evs) != i+2 {
				t.Fatalf("events = %d, want %d", len(evs), i+2)
			}
			last := evs[len(evs)-1]
			if !last.At.Equal(got.UpdatedAt) {
				t.Errorf("event At = %v, want UpdatedAt %v", last.At, got.UpdatedAt)
			}
			if last.PaymentID != got.ID || last.MerchantOrderNo != "T-1" {
				t.Errorf("event belongs to %d/%q", last.PaymentID, last.MerchantOrderNo)
			}
			if got.EventID != last.ID {
				t.Errorf("EventID = %d, want the new event's id %d", got.EventID, last.ID)
			}
			last.ID, last.PaymentID, last.MerchantOrderNo, last.At = 0, 0, "", time.Time{}
			if last != s.wantEv {
				t.Errorf("event = %+v, want %+v", last, s.wantEv)
			}
		})
	}
	final, _ := db.GetPayment(ctx, "T-1")
	if !final.CreateSent || final.TransNo != "TN1" || final.TipMinor != 150 || final.AuthCode != "OK1" ||
		!final.NextCheckAt.IsZero() || !final.CreatedAt.Equal(created.CreatedAt) {
		// A final payment is never parked: Transition clears NextCheckAt.
		t.Errorf("final payment lost changes (or kept NextCheckAt): %+v", final)
	}
}

func TestTransitionPreconditionFailureWritesNothing(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	mustInsert(t, db, newPayment("PF", "SN1"))
	if _, err := db.Transition(ctx, "PF", []string{StateQueued}, setState(StateSending), Event{}); err != nil {
		t.Fatal(err)
	}
	before, _ := db.GetPayment(ctx, "PF")
	evBefore, _ := db.Events(ctx, "PF")
	called := false
	got, err := db.Transition(ctx, "PF", []string{StateQueued, StateUnknown}, func(p *Payment) error {
		called = true
		p.State = StateCancelled
		return nil
	}, Event{Detail: "should not appear"})
	if !errors.Is(err, ErrStateChanged) {
		t.Fatalf("Transition = %v, want ErrStateChanged", err)
	}
	if !reflect.DeepEqual(got, before) {
		t.Errorf("returned %+v, want current %+v", got, before)
	}
	if called {
		t.Error("mutate was called although the precondition failed")
	}
	after, _ := db.GetPayment(ctx, "PF")
	evAfter, _ := db.Events(ctx, "PF")
	if !reflect.DeepEqual(after, before) || len(evAfter) != len(evBefore) {
		t.Errorf("journal changed: %+v, %d events (want %d)", after, len(evAfter), len(evBefore))
	}
}

func TestTransitionMutateErrorWritesNothing(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	mustInsert(t, db, newPayment("ME", "SN1"))
	before, _ := db.GetPayment(ctx, "ME")
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		mutate  func(*Payment) error
		wantErr error
	}{
		{"mutate error", func(p *Payment) error { p.State = StateFailed; p.ErrorCode = "x"; return errBoom }, errBoom},
		{"invalid result", func(p *Payment) error { p.State = "bogus"; return nil }, ErrInvalid},
		{"negative tip", func(p *Payment) error { p.TipMinor = -5; return nil }, ErrInvalid},
		{"change order no", func(p *Payment) error { p.MerchantOrderNo = "OTHER"; return nil }, ErrInvalid},
		{"change terminal", func(p *Payment) error { p.TerminalSN = "SN2"; return nil }, ErrInvalid},
		{"change queue seq", func(p *Payment) error { p.QueueSeq = 7; return nil }, ErrInvalid},
		{"change id", func(p *Payment) error { p.ID++; return nil }, ErrInvalid},
		{"change created", func(p *Payment) error { p.CreatedAt = p.CreatedAt.Add(time.Hour); return nil }, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Transition(ctx, "ME", nil, tc.mutate, Event{})
			if !errors.Is(err, tc.wantErr) || got != nil {
				t.Fatalf("Transition = %v, %v; want nil, %v", got, err, tc.wantErr)
			}
			after, _ := db.GetPayment(ctx, "ME")
			if !reflect.DeepEqual(after, before) {
				t.Errorf("payment changed: %+v", after)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM payment_events`); n != 1 {
				t.Errorf("events = %d, want 1", n)
			}
		})
	}
}

func TestTransitionNilMutateAndNotFound(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	p := mustInsert(t, db, newPayment("NM", "SN1"))
	got, err := db.Transition(ctx, "NM", nil, nil, Event{Kind: "query", Detail: "still pending"})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != p.State || !got.UpdatedAt.After(p.UpdatedAt) {
		t.Errorf("nil mutate: %+v", got)
	}
	evs, _ := db.Events(ctx, "NM")
	if last := evs[len(evs)-1]; last.Kind != "query" || last.FromState != StateQueued || last.ToState != StateQueued {
		t.Errorf("event = %+v", last)
	}
	if _, err := db.Transition(ctx, "missing", nil, nil, Event{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Transition(missing) = %v, want ErrNotFound", err)
	}
}

func TestAppendEventAndEvents(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	p := mustInsert(t, db, newPayment("AE", "SN1"))
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	kinds := []string{"query", "notification", "error"}
	for _, k := range kinds {
		if err := db.AppendEvent(ctx, "AE", Event{Kind: k, Detail: k + " detail", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := db.Events(ctx, "AE")
	if err != nil {
		t.Fatal(err)
	}
	gotKinds := []string{}
	for _, e := range evs {
		gotKinds = append(gotKinds, e.Kind)
	}
	if want := append([]string{EventCreated}, kinds...); !slices.Equal(gotKinds, want) {
		t.Errorf("kinds = %v, want %v", gotKinds, want)
	}
	if e := evs[1]; e.FromState != "" || e.ToState != "" || !e.At.Equal(at) || e.PaymentID != p.ID {
		t.Errorf("appended event = %+v", e)
	}
	after, _ := db.GetPayment(ctx, "AE")
	if !reflect.DeepEqual(after, p) {
		t.Errorf("AppendEvent changed the payment: %+v", after)
	}
	if err := db.AppendEvent(ctx, "missing", Event{Kind: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("AppendEvent(missing) = %v, want ErrNotFound", err)
	}
	if err := db.AppendEvent(ctx, "AE", Event{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("AppendEvent without kind = %v, want ErrInvalid", err)
	}
	if _, err := db.Events(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Events(missing) = %v, want ErrNotFound", err)
	}
	if _, err := db.GetPayment(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetPayment(missing) = %v, want ErrNotFound", err)
	}
}

func TestQueuePerTerminal(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	// Interleave two terminals: each gets its own 1, 2, 3 ...
	order := []struct{ no, sn string }{
		{"A1", "TA"}, {"B1", "TB"}, {"A2", "TA"}, {"A3", "TA"}, {"B2", "TB"}, {"A4", "TA"}, {"B3", "TB"},
	}
	wantSeq := map[string]int64{"A1": 1, "A2": 2, "A3": 3, "A4": 4, "B1": 1, "B2": 2, "B3": 3}
	for _, o := range order {
		p := mustInsert(t, db, newPayment(o.no, o.sn))
		if p.QueueSeq != wantSeq[o.no] {
			t.Errorf("%s QueueSeq = %d, want %d", o.no, p.QueueSeq, wantSeq[o.no])
		}
	}

	checkDepth := func(sn string, want int) {
		t.Helper()
		if n, err := db.QueueDepth(ctx, sn); err != nil || n != want {
			t.Errorf("QueueDepth(%s) = %d, %v; want %d", sn, n, err, want)
		}
	}
	checkNext := func(sn, want string) {
		t.Helper()
		p, err := db.NextQueued(ctx, sn)
		if want == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("NextQueued(%s) = %v, %v; want ErrNotFound", sn, p, err)
			}
			return
		}
		if err != nil || p.MerchantOrderNo != want {
			t.Errorf("NextQueued(%s) = %v, %v; want %s", sn, p, err, want)
		}
	}
	checkActive := func(sn, want string) {
		t.Helper()
		p, err := db.Active(ctx, sn)
		if want == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Active(%s) = %v, %v; want ErrNotFound", sn, p, err)
			}
			return
		}
		if err != nil || p.MerchantOrderNo != want {
			t.Errorf("Active(%s) = %v, %v; want %s", sn, p, err, want)
		}
	}

	checkDepth("TA", 4)
	checkDepth("TB", 3)
	checkDepth("TC", 0)
	checkNext("TA", "A1")
	checkNext("TB", "B1")
	checkNext("TC", "")
	checkActive("TA", "")

	// Drive TA's head through its life.
	for _, s := range []string{StateSending, StateOnTerminal, StateUnknown} {
		if _, err := db.Transition(ctx, "A1", nil, setState(s), Event{}); err != nil {
			t.Fatal(err)
		}
		checkActive("TA", "A1")
		checkNext("TA", "A2")
		checkDepth("TA", 3)
	}
	if _, err := db.Transition(ctx, "A1", nil, setState(StateApproved), Event{}); err != nil {
		t.Fatal(err)
	}
	checkActive("TA", "")
	// A2 is cancelled while queued; A3 becomes next.
	if _, err := db.Transition(ctx, "A2", []string{StateQueued}, setState(StateCancelled), Event{}); err != nil {
		t.Fatal(err)
	}
	checkNext("TA", "A3")
	checkDepth("TA", 2)
	if _, err := db.Transition(ctx, "B1", nil, setState(StateOnTerminal), Event{}); err != nil {
		t.Fatal(err)
	}
	checkActive("TB", "B1")

	// A new payment after some finished ones still goes to the back.
	if p := mustInsert(t, db, newPayment("A5", "TA")); p.QueueSeq != 5 {
		t.Errorf("A5 QueueSeq = %d, want 5", p.QueueSeq)
	}

	nf, err := db.NonFinal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range nf {
		got = append(got, p.MerchantOrderNo)
	}
	if want := []string{"A3", "A4", "A5", "B1", "B2", "B3"}; !slices.Equal(got, want) {
		t.Errorf("NonFinal = %v, want %v", got, want)
	}
	if !IsFinal(StateApproved) || IsFinal(StateUnknown) || IsFinal(StateQueued) || IsFinal("") {
		t.Error("IsFinal misclassifies")
	}
	for _, s := range FinalStates() {
		if !IsFinal(s) || slices.Contains(nonFinalStates, s) {
			t.Errorf("FinalStates contains %q inconsistently", s)
		}
	}
	if len(FinalStates())+len(nonFinalStates) != 9 {
		t.Errorf("final + non-final states = %d, want 9", len(FinalStates())+len(nonFinalStates))
	}
}

func TestListPayments(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	// 60 payments over two terminals; every third approved, every fifth failed.
	for i := 1; i <= 60; i++ {
		sn := "T1"
		if i%2 == 0 {
			sn = "T2"
		}
		no := fmt.Sprintf("L%02d", i)
		mustInsert(t, db, newPayment(no, sn))
		switch {
		case i%3 == 0:
			db.Transition(ctx, no, nil, setState(StateApproved), Event{})
		case i%5 == 0:
			db.Transition(ctx, no, nil, setState(StateFailed), Event{})
		}
	}
	all, _ := db.ListPayments(ctx, ListFilter{Limit: 1000})
	idOf := map[string]int64{}
	for _, p := range all {
		idOf[p.MerchantOrderNo] = p.ID
	}

	expect := func(pred func(i int, sn, state string) bool, limit int) []string {
		var out []string
		for i := 60; i >= 1 && len(out) < limit; i-- {
			sn := "T1"
			if i%2 == 0 {
				sn = "T2"
			}
			state := StateQueued
			switch {
			case i%3 == 0:
				state = StateApproved
			case i%5 == 0:
				state = StateFailed
			}
			if pred(i, sn, state) {
				out = append(out, fmt.Sprintf("L%02d", i))
			}
		}
		return out
	}
	any := func(int, string, string) bool { return true }
	tests := []struct {
		name string
		f    ListFilter
		want []string
	}{
		{"default limit 50", ListFilter{}, expect(any, 50)},
		{"negative limit is default", ListFilter{Limit: -3}, expect(any, 50)},
		{"limit 5", ListFilter{Limit: 5}, expect(any, 5)},
		{"limit capped at 500", ListFilter{Limit: 100000}, expect(any, 500)},
		{"terminal", ListFilter{TerminalSN: "T2", Limit: 100}, expect(func(_ int, sn, _ string) bool { return sn == "T2" }, 100)},
		{"state", ListFilter{State: StateApproved, Limit: 100}, expect(func(_ int, _, st string) bool { return st == StateApproved }, 100)},
		{"states", ListFilter{States: []string{StateApproved, StateFailed}, Limit: 100},
			expect(func(_ int, _, st string) bool { return st != StateQueued }, 100)},
		{"state plus states", ListFilter{State: StateQueued, States: []string{StateFailed}, Limit: 100},
			expect(func(_ int, _, st string) bool { return st != StateApproved }, 100)},
		{"terminal and state", ListFilter{TerminalSN: "T1", State: StateFailed},
			expect(func(_ int, sn, st string) bool { return sn == "T1" && st == StateFailed }, 50)},
		{"before id", ListFilter{BeforeID: idOf["L10"], Limit: 100}, expect(func(i int, _, _ string) bool { return i < 10 }, 100)},
		{"before id page", ListFilter{BeforeID: idOf["L41"], Limit: 3}, []string{"L40", "L39", "L38"}},
		{"no match", ListFilter{TerminalSN: "T9"}, nil},
		{"unknown state", ListFilter{State: "nope"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := db.ListPayments(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.MerchantOrderNo)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ListPayments(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
}

func TestConcurrentTransitionsOneWinner(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	const workers = 8
	const rounds = 20
	for r := 0; r < rounds; r++ {
		mustInsert(t, db, newPayment(fmt.Sprintf("R%02d", r), "T1"))
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		wins     = map[string]int{}
		conflict = map[string]int{}
		errs     []error
	)
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			for r := 0; r < rounds; r++ {
				no := fmt.Sprintf("R%02d", r)
				got, err := db.Transition(ctx, no, []string{StateQueued}, func(p *Payment) error {
					p.State = StateSending
					p.Description = fmt.Sprintf("worker %d", w)
					return nil
				}, Event{Detail: fmt.Sprintf("worker %d", w)})
				mu.Lock()
				switch {
				case err == nil:
					wins[no]++
				case errors.Is(err, ErrStateChanged) && got != nil && got.State == StateSending:
					conflict[no]++
				default:
					errs = append(errs, err)
				}
				mu.Unlock()
				// Everyone also appends an event: pure write contention.
				if err := db.AppendEvent(ctx, no, Event{Kind: "query"}); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}(w)
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	for r := 0; r < rounds; r++ {
		no := fmt.Sprintf("R%02d", r)
		if wins[no] != 1 || conflict[no] != workers-1 {
			t.Errorf("%s: %d winners, %d conflicts; want 1, %d", no, wins[no], conflict[no], workers-1)
		}
		evs, _ := db.Events(ctx, no)
		states := 0
		for _, e := range evs {
			if e.Kind == EventState {
				states++
				if e.FromState != StateQueued || e.ToState != StateSending {
					t.Errorf("%s state event %+v", no, e)
				}
			}
		}
		if states != 1 || len(evs) != 2+workers {
			t.Errorf("%s: %d state events of %d, want 1 of %d", no, states, len(evs), 2+workers)
		}
	}
}

func TestTwoHandlesSameFileNoLockErrors(t *testing.T) {
	// Two DB values on one file stand in for two processes (the agent and a
	// support CLI): only BEGIN IMMEDIATE and busy_timeout keep them apart.
	path := t.TempDir() + "/shared.db"
	a := openAt(t, path)
	b := openAt(t, path)
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	errc := make(chan error, 4*n)
	for i, db := range []*DB{a, b} {
		wg.Add(1)
		go func(i int, db *DB) {
			defer wg.Done()
			for k := 0; k < n; k++ {
				no := fmt.Sprintf("H%d-%02d", i, k)
				if _, err := db.InsertPayment(ctx, newPayment(no, "T1"), Event{}); err != nil {
					errc <- err
					continue
				}
				if _, err := db.Transition(ctx, no, []string{StateQueued}, setState(StateSending), Event{}); err != nil {
					errc <- err
				}
			}
		}(i, db)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("unexpected error: %v", err)
	}
	ps, err := a.ListPayments(ctx, ListFilter{Limit: 500})
	if err != nil || len(ps) != 2*n {
		t.Fatalf("ListPayments = %d, %v; want %d", len(ps), err, 2*n)
	}
	seqs := map[int64]bool{}
	for _, p := range ps {
		if seqs[p.QueueSeq] {
			t.Errorf("QueueSeq %d assigned twice", p.QueueSeq)
		}
		seqs[p.QueueSeq] = true
	}
}

func TestDurabilityAcrossReopen(t *testing.T) {
	path := t.TempDir() + "/durable.db"
	ctx := context.Background()
	db, err := Open(ctx, path, WithClock(newTestClock().Now))
	if err != nil {
		t.Fatal(err)
	}
	in := fullPayment("DUR-1")
	if _, err := db.InsertPayment(ctx, in, Event{Detail: "d"}); err != nil {
		t.Fatal(err)
	}
	written, err := db.Transition(ctx, "DUR-1", nil, setState(StateSending), Event{})
	if err != nil {
		t.Fatal(err)
	}
	evWritten, _ := db.Events(ctx, "DUR-1")
	if err := db.UpsertTerminal(ctx, Terminal{SN: "S1", Lane: "1", Online: true, OnlineKnown: true}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetSetting(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db2 := openAt(t, path)
	read, err := db2.GetPayment(ctx, "DUR-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(read, written) {
		t.Errorf("after reopen\n%+v\nwant\n%+v", read, written)
	}
	evRead, _ := db2.Events(ctx, "DUR-1")
	if !reflect.DeepEqual(evRead, evWritten) {
		t.Errorf("events after reopen %+v, want %+v", evRead, evWritten)
	}
	ts, _ := db2.Terminals(ctx)
	if len(ts) != 1 || !ts[0].Online || !ts[0].OnlineKnown {
		t.Errorf("terminals after reopen = %+v", ts)
	}
	if v, err := db2.Setting(ctx, "k"); err != nil || v != "v" {
		t.Errorf("setting after reopen = %q, %v", v, err)
	}
}

func TestAmountsRoundTripExactly(t *testing.T) {
	path := t.TempDir() + "/amounts.db"
	ctx := context.Background()
	tests := []struct {
		name                  string
		currency              string
		amount, tip, cashback int64
	}{
		{"zero", "USD", 0, 0, 0},
		{"one minor unit", "JPY", 1, 1, 1},
		{"money.MaxMinor", "KWD", money.MaxMinor, money.MaxMinor, money.MaxMinor},
		{"MaxMinor-1", "CLF", money.MaxMinor - 1, 0, 0},
		{"beyond float64 precision", "USD", 1<<53 + 1, 1<<53 + 3, 0},
		{"int64 max", "USD", math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64},
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range tests {
		p := newPayment(fmt.Sprintf("AM%d", i), "T1")
		p.Currency, p.AmountMinor, p.TipMinor, p.CashbackMinor = tc.currency, tc.amount, tc.tip, tc.cashback
		mustInsert(t, db, p)
	}
	db.Close()
	db = openAt(t, path)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			no := fmt.Sprintf("AM%d", i)
			p, err := db.GetPayment(ctx, no)
			if err != nil {
				t.Fatal(err)
			}
			if p.AmountMinor != tc.amount || p.TipMinor != tc.tip || p.CashbackMinor != tc.cashback || p.Currency != tc.currency {
				t.Errorf("got %d/%d/%d %s, want %d/%d/%d %s", p.AmountMinor, p.TipMinor, p.CashbackMinor, p.Currency,
					tc.amount, tc.tip, tc.cashback, tc.currency)
			}
			var typ string
			if err := db.reader.QueryRowContext(ctx, `SELECT typeof(amount_minor) || typeof(tip_minor) || typeof(cashback_minor)
				FROM payments WHERE merchant_order_no = ?`, no).Scan(&typ); err != nil {
				t.Fatal(err)
			}
			if typ != "integerintegerinteger" {
				t.Errorf("stored types = %s, want integers", typ)
			}
			// And the decimal text at the edges is exact too.
			if tc.amount <= money.MaxMinor {
				c, _ := money.LookupCurrency(tc.currency)
				s := money.Format(p.AmountMinor, c)
				back, err := money.Parse(s, c)
				if err != nil || back != tc.amount {
					t.Errorf("Format/Parse %d %s = %q -> %d, %v", tc.amount, tc.currency, s, back, err)
				}
			}
		})
	}
}
