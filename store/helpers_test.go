package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testClock is a deterministic clock: each call returns a time 1 ms after the
// previous one, so ordering by time is strict and values are exact.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// openAt opens the journal at path with a test clock, closing it at cleanup.
func openAt(t testing.TB, path string, opts ...Option) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, append([]Option{WithClock(newTestClock().Now)}, opts...)...)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// openTest opens a fresh journal in a temporary directory.
func openTest(t testing.TB, opts ...Option) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "journal.db"), opts...)
}

// newPayment returns a valid queued sale for the terminal.
func newPayment(no, sn string) *Payment {
	return &Payment{
		MerchantOrderNo: no,
		Type:            TypeSale,
		State:           StateQueued,
		Source:          "ws",
		TerminalSN:      sn,
		Currency:        "USD",
		AmountMinor:     1234,
		Route:           "codepay",
		RequestHash:     "h-" + no,
	}
}

// mustInsert inserts a new payment and fails the test on error.
func mustInsert(t testing.TB, db *DB, p *Payment) *Payment {
	t.Helper()
	got, err := db.InsertPayment(context.Background(), p, Event{Detail: "accepted"})
	if err != nil {
		t.Fatalf("InsertPayment(%q) = %v", p.MerchantOrderNo, err)
	}
	return got
}

// setState returns a mutate func that sets the state.
func setState(s string) func(*Payment) error {
	return func(p *Payment) error { p.State = s; return nil }
}

// count runs a COUNT(*) query on the writer connection.
func count(t testing.TB, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.writer.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}
