package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func TestOpenSetsPragmas(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	tests := []struct {
		pool      string
		pragma    string
		want      string
		useReader bool
	}{
		{"writer", "journal_mode", "wal", false},
		{"writer", "synchronous", "2", false},
		{"writer", "foreign_keys", "1", false},
		{"writer", "busy_timeout", "10000", false},
		{"writer", "query_only", "0", false},
		{"reader", "journal_mode", "wal", true},
		{"reader", "synchronous", "2", true},
		{"reader", "foreign_keys", "1", true},
		{"reader", "busy_timeout", "10000", true},
		{"reader", "query_only", "1", true},
	}
	for _, tc := range tests {
		t.Run(tc.pool+"/"+tc.pragma, func(t *testing.T) {
			pool := db.writer
			if tc.useReader {
				pool = db.reader
			}
			var got string
			if err := pool.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
			}
		})
	}
}

func TestWriterUsesBeginImmediate(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	// With BEGIN IMMEDIATE the writer holds the write lock from the start of
	// its transaction, before any statement runs; with BEGIN DEFERRED it
	// would hold nothing yet.
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	// A second, independent connection (another process, say) with no busy
	// timeout must find the database write-locked.
	other, err := sql.Open("sqlite", "file:"+uriPath(db.Path(), isWindows))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.ExecContext(ctx, "BEGIN IMMEDIATE")
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
		t.Fatalf("BEGIN IMMEDIATE on a second connection = %v, want SQLITE_BUSY", err)
	}
}

func TestReaderPoolIsReadOnly(t *testing.T) {
	db := openTest(t)
	_, err := db.reader.ExecContext(context.Background(), `INSERT INTO settings (k, v, updated_at) VALUES ('x', 'y', 1)`)
	if err == nil {
		t.Fatal("insert through the reader pool succeeded, want query_only error")
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("this is not an SQLite database\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"not a database", garbage},
		{"relative", "journal.db"},
		{"dot relative", "./data/journal.db"},
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "journal.db")},
		{"directory", dir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(context.Background(), tc.path)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want error", tc.path)
			}
		})
	}
}

func TestOpenOddCharactersInPath(t *testing.T) {
	// '?' and '#' would end the path part of a file: URI; '%' would start an
	// escape. The file must be created exactly where asked.
	dir := filepath.Join(t.TempDir(), "a b?c#d%20e&f=g")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "jour nal.db")
	db := openAt(t, path)
	if err := db.SetSetting(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %q: %v", path, err)
	}
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not meaningful on Windows")
	}
	db := openTest(t)
	if err := db.SetSetting(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		fi, err := os.Stat(db.Path() + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s mode = %v, want no group/other access", db.Path()+suffix, perm)
		}
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	db := openTest(t)
	if err := db.Close(); err != nil {
		t.Fatalf("first Close = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := db.GetPayment(context.Background(), "x"); err == nil {
		t.Fatal("GetPayment after Close succeeded")
	}
}

func TestPingWritesSetting(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	v, err := db.Setting(ctx, "ping")
	if err != nil {
		t.Fatalf("Setting(ping) = %v", err)
	}
	if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
		t.Errorf("ping value %q is not a time: %v", v, err)
	}
	db.Close()
	if err := db.Ping(ctx); err == nil {
		t.Fatal("Ping on a closed journal succeeded")
	}
}

func TestWriteHonoursContextWhileWaiting(t *testing.T) {
	db := openTest(t)
	db.writeMu <- struct{}{} // another writer holds the lock
	defer func() { <-db.writeMu }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := db.SetSetting(ctx, "k", "v")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("SetSetting while locked with cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestPanicInTransactionReleasesWriter(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	mustInsert(t, db, newPayment("P1", "T1"))
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("mutate panic did not propagate")
			}
		}()
		db.Transition(ctx, "P1", nil, func(p *Payment) error {
			p.State = StateSending
			panic("boom")
		}, Event{})
	}()
	// The writer must be free again and nothing written.
	got, err := db.Transition(ctx, "P1", []string{StateQueued}, setState(StateSending), Event{})
	if err != nil {
		t.Fatalf("Transition after panic = %v", err)
	}
	if got.State != StateSending {
		t.Errorf("state = %q, want sending", got.State)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM payment_events`); n != 2 {
		t.Errorf("events = %d, want 2 (created + one transition)", n)
	}
}

func TestSettings(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if _, err := db.Setting(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Setting(missing) = %v, want ErrNotFound", err)
	}
	if err := db.SetSetting(ctx, "", "v"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetSetting(\"\") = %v, want ErrInvalid", err)
	}
	tests := []struct{ key, value string }{
		{"a", "1"},
		{"a", "2"}, // overwrite
		{"unicode", "Grüße ✓"},
		{"empty", ""},
		{"multi", "line1\nline2"},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			if err := db.SetSetting(ctx, tc.key, tc.value); err != nil {
				t.Fatal(err)
			}
			got, err := db.Setting(ctx, tc.key)
			if err != nil || got != tc.value {
				t.Errorf("Setting(%q) = %q, %v; want %q", tc.key, got, err, tc.value)
			}
		})
	}
}

func TestTerminals(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if ts, err := db.Terminals(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("Terminals on empty journal = %v, %v", ts, err)
	}
	if err := db.UpsertTerminal(ctx, Terminal{SN: "T2", Lane: "2", Name: "Back", Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertTerminal(ctx, Terminal{SN: "T1", Lane: "1", Name: "Front", Currency: "USD", Online: true, OnlineKnown: true}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetTerminalOnline(ctx, "T2", false); err != nil {
		t.Fatal(err)
	}
	// Re-applying the configuration changes lane/name/currency, keeps online.
	if err := db.UpsertTerminal(ctx, Terminal{SN: "T1", Lane: "9", Name: "Renamed", Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	ts, err := db.Terminals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Terminal{
		{SN: "T1", Lane: "9", Name: "Renamed", Currency: "USD", Online: true, OnlineKnown: true},
		{SN: "T2", Lane: "2", Name: "Back", Currency: "EUR", Online: false, OnlineKnown: true},
	}
	if len(ts) != len(want) {
		t.Fatalf("Terminals = %+v, want %d", ts, len(want))
	}
	for i := range want {
		got := ts[i]
		if got.UpdatedAt.IsZero() {
			t.Errorf("terminal %s UpdatedAt is zero", got.SN)
		}
		got.UpdatedAt = time.Time{}
		if got != want[i] {
			t.Errorf("terminal %d = %+v, want %+v", i, got, want[i])
		}
	}

	if err := db.UpsertTerminal(ctx, Terminal{SN: "T3"}); err != nil {
		t.Fatal(err)
	}
	ts, _ = db.Terminals(ctx)
	if ts[2].OnlineKnown {
		t.Errorf("new terminal without OnlineKnown = %+v, want OnlineKnown false", ts[2])
	}

	if err := db.SetTerminalOnline(ctx, "nope", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetTerminalOnline(unknown) = %v, want ErrNotFound", err)
	}
	for _, bad := range []Terminal{{SN: ""}, {SN: "X", Currency: "DOLLAR"}} {
		if err := db.UpsertTerminal(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("UpsertTerminal(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestErrorsCarryNoMaskedPANValue(t *testing.T) {
	db := openTest(t)
	p := newPayment("P1", "T1")
	const pan = "4111111111111111"
	p.MaskedPAN = pan
	_, err := db.InsertPayment(context.Background(), p, Event{})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("InsertPayment with full PAN = %v, want ErrInvalid", err)
	}
	if strings.Contains(err.Error(), pan) {
		t.Errorf("error %q contains the PAN", err)
	}
}
