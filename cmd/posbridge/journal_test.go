package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/internal/logging"
	"github.com/posbridge/posbridge/store"
)

// The days of the journals below: OLD payments before the cutoff, MID ones after it.
var (
	journalOld    = time.Date(2025, 1, 10, 12, 0, 0, 0, time.Local)
	journalCutoff = "2025-03-01"
	journalMid    = time.Date(2025, 6, 1, 12, 0, 0, 0, time.Local)
)

type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *fixedClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// prepareJournal writes a journal in dataDir as the agent leaves it: OLD1
// approved in a batch that was closed, OLD2 declined, both long ago, and
// MID1 and MID2 declined after the cutoff. All are final.
func prepareJournal(t *testing.T, dataDir, sn string) {
	t.Helper()
	ctx := context.Background()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	clock := &fixedClock{}
	db, err := store.Open(ctx, filepath.Join(dataDir, "posbridge.db"), store.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pay := func(no string, states ...string) {
		t.Helper()
		if _, err := db.InsertPayment(ctx, &store.Payment{MerchantOrderNo: no, Type: store.TypeSale, State: store.StateQueued,
			Source: "ws", TerminalSN: sn, Currency: "USD", AmountMinor: 1234, Route: "codepay", RequestHash: "h"}, store.Event{}); err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if _, err := db.Transition(ctx, no, nil, func(p *store.Payment) error {
				p.State = s
				if s == store.StateApproved {
					p.TransStatus = "2"
				}
				return nil
			}, store.Event{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock.Set(journalOld)
	pay("OLD1", store.StateSending, store.StateOnTerminal, store.StateApproved)
	pay("OLD2", store.StateDeclined)
	b, err := db.BeginBatchClose(ctx, sn, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.FinishBatchClose(ctx, b.ID, `{}`); err != nil {
		t.Fatal(err)
	}
	clock.Set(journalMid)
	pay("MID1", store.StateDeclined)
	pay("MID2", store.StateDeclined)
}

// journalConfig writes a configuration whose journal lives in dir/data.
func journalConfig(t *testing.T, dir string) string {
	t.Helper()
	cfg := filepath.Join(dir, "posbridge.toml")
	text := simAgentTOML(dir, "127.0.0.1:1", "http://127.0.0.1:2", filepath.Join(dir, "keys"), "120s") + `
[[terminal]]
sn = "DEMO000001"
lane = "1"
currency = "USD"
`
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func countPayments(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM payments`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestJournalArchiveCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	prepareJournal(t, data, "DEMO000001")
	cfg := journalConfig(t, dir)
	journal := filepath.Join(data, "posbridge.db")
	archiveDir := filepath.Join(data, "archive")
	tomorrow := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)

	o, err := sql.Open("sqlite", filepath.Join(dir, "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Exec(`CREATE TABLE notes (x TEXT)`); err != nil {
		t.Fatal(err)
	}
	o.Close()
	bad := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no subcommand", []string{"journal"}, "usage: posbridge journal archive"},
		{"unknown subcommand", []string{"journal", "vacuum"}, "usage: posbridge journal archive"},
		{"no --before", []string{"journal", "archive", "--config", cfg}, "--before YYYY-MM-DD is required"},
		{"bad date", []string{"journal", "archive", "--config", cfg, "--before", "2025-13-01"}, `--before: want a date YYYY-MM-DD, got "2025-13-01"`},
		{"other date format", []string{"journal", "archive", "--config", cfg, "--before", "01.03.2025"}, "--before: want a date"},
		{"future date", []string{"journal", "archive", "--config", cfg, "--before", tomorrow}, "--before " + tomorrow + " is in the future"},
		{"missing config", []string{"journal", "archive", "--config", filepath.Join(dir, "nope.toml"), "--before", journalCutoff}, "--config: config file"},
		{"bad config", []string{"journal", "archive", "--config", journal, "--before", journalCutoff}, "--config: "},
		{"out is a directory", []string{"journal", "archive", "--config", cfg, "--before", journalCutoff, "--out", dir}, "--out " + dir + " is a directory"},
		{"out in no directory", []string{"journal", "archive", "--config", cfg, "--before", journalCutoff, "--out", filepath.Join(dir, "x", "a.db")}, "does not exist"},
		{"out is the journal", []string{"journal", "archive", "--config", cfg, "--before", journalCutoff, "--out", journal}, "is the journal itself"},
		{"out is not an archive", []string{"journal", "archive", "--config", cfg, "--before", journalCutoff, "--out", filepath.Join(dir, "other.db")}, "is not a posbridge archive"},
		{"extra argument", []string{"journal", "archive", "--config", cfg, "--before", journalCutoff, "now"}, `unexpected argument "now"`},
		{"unknown flag", []string{"journal", "archive", "--config", cfg, "--before", journalCutoff, "--keep", "1"}, "flag provided but not defined: -keep"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, tc.args...)
			wantCode := exitUsage
			if strings.HasPrefix(tc.want, "--config") {
				wantCode = exitFailure // a configuration to fix (contract)
			}
			if code != wantCode || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("posbridge %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, out, errOut, wantCode, tc.want)
			}
		})
	}
	if n := countPayments(t, journal); n != 4 {
		t.Fatalf("bad input changed the journal: %d payments, want 4", n)
	}
	if _, err := os.Stat(archiveDir); err == nil {
		t.Fatalf("bad input created %s", archiveDir)
	}
	if code, out, _ := cli(t, "journal", "archive", "--help"); code != exitOK || out != "" {
		t.Errorf("--help: exit %d, %q", code, out)
	}

	// A dry run counts and changes nothing.
	code, out, errOut := cli(t, "journal", "archive", "--config", cfg, "--before", journalCutoff, "--dry-run")
	want := "would archive 2 payments (6 events) and 1 batches last changed before 2025-03-01 into " + filepath.Join(archiveDir, "posbridge-archive-2025.db") + " (dry run: nothing changed)\n"
	if code != exitOK || out != want {
		t.Fatalf("dry run: exit %d\n%s%s\nwant %s", code, out, errOut, want)
	}
	if _, err := os.Stat(archiveDir); err == nil || countPayments(t, journal) != 4 {
		t.Fatalf("the dry run changed something")
	}

	// The real run.
	code, out, errOut = cli(t, "journal", "archive", "--config", cfg, "--before", journalCutoff)
	archive := filepath.Join(archiveDir, "posbridge-archive-2025.db")
	want = "archived 2 payments (6 events) and 1 batches last changed before 2025-03-01 into " + archive + "\n"
	if code != exitOK || out != want {
		t.Fatalf("archive: exit %d\n%s%s\nwant %s", code, out, errOut, want)
	}
	if n := countPayments(t, journal); n != 2 {
		t.Errorf("journal holds %d payments after the archive, want 2", n)
	}
	if n := countPayments(t, archive); n != 2 {
		t.Errorf("archive holds %d payments, want 2", n)
	}
	if code, out, _ := cli(t, "journal", "archive", "--config", cfg, "--before", journalCutoff); code != exitOK || !strings.Contains(out, "nothing to archive before 2025-03-01") {
		t.Errorf("second run: exit %d, %q", code, out)
	}

	// --out, and a later day: MID1 goes, MID2 (the newest) stays.
	other := filepath.Join(dir, "elsewhere.db")
	code, out, errOut = cli(t, "journal", "archive", "--config", cfg, "--before", "2025-07-01", "--out", other)
	if code != exitOK || !strings.Contains(out, "archived 1 payments (2 events) and 0 batches last changed before 2025-07-01 into "+other) {
		t.Errorf("--out: exit %d\n%s%s", code, out, errOut)
	}
}

// TestJournalArchiveWhileAgentRuns archives the journal of a running agent,
// which goes on working; `payments show` finds archived orders in the
// archive.
func TestJournalArchiveWhileAgentRuns(t *testing.T) {
	dir := t.TempDir()
	prepareJournal(t, filepath.Join(dir, "data"), "DEMO000001")
	simAddr, agentAddr := freePort(t), freePort(t)
	simURL := "http://" + simAddr
	keyDir := filepath.Join(dir, "keys")
	start(t, "sim", "sim", "codepay", "--listen", simAddr, "--dir", keyDir, "--pickup", "100ms", "--process", "200ms", "--terminal", "DEMO000001")
	waitHTTP(t, simURL+"/sim/requests")
	token := "journal-test-token-0123456789"
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "posbridge.toml")
	text := simAgentTOML(dir, agentAddr, simURL, keyDir, "120s") + `
[journal]
keep = "400d"

[[terminal]]
sn = "DEMO000001"
lane = "1"
currency = "USD"
`
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, "agent", "run", "--config", cfg)
	waitHTTP(t, "http://"+agentAddr+"/healthz")

	code, out, errOut := cli(t, "journal", "archive", "--config", cfg, "--before", journalCutoff)
	if code != exitOK || !strings.Contains(out, "archived 2 payments (6 events) and 1 batches") {
		t.Fatalf("archive while the agent runs: exit %d\n%s%s", code, out, errOut)
	}
	// The agent goes on: a new payment, and the kept ones.
	if code, out, errOut := cli(t, "pay", "--url", "ws://"+agentAddr+"/v1/ws", "--token", token, "--order", "AFTER1", "--amount", "1.00"); code != exitOK {
		t.Fatalf("pay after the archive: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := cli(t, "payments", "show", "MID1", "--config", cfg); code != exitOK || !strings.Contains(out, `"state": "declined"`) || strings.Contains(out, "archive") {
		t.Errorf("payments show MID1: exit %d\n%s%s", code, out, errOut)
	}
	// An archived order is found in the archive.
	code, out, errOut = cli(t, "payments", "show", "OLD1", "--config", cfg)
	archive := filepath.Join(dir, "data", "archive", "posbridge-archive-2025.db")
	var shown struct {
		MerchantOrderNo string `json:"merchant_order_no"`
		State           string `json:"state"`
		Amount          string `json:"amount"`
		Archive         string `json:"archive"`
		Events          int    `json:"archived_events"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || code != exitOK {
		t.Fatalf("payments show OLD1: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if shown.MerchantOrderNo != "OLD1" || shown.State != "approved" || shown.Amount != "12.34" || shown.Archive != archive || shown.Events != 4 ||
		!strings.Contains(errOut, "OLD1 is archived in "+archive) {
		t.Errorf("payments show OLD1 = %+v\n%s", shown, errOut)
	}
	if code, _, errOut := cli(t, "payments", "show", "NOPE", "--config", cfg); code != exitFailure || !strings.Contains(errOut, "NOPE") {
		t.Errorf("payments show NOPE: exit %d, %s", code, errOut)
	}
	// Its history too: the four archived events, oldest first.
	code, out, errOut = cli(t, "payments", "history", "OLD1", "--config", cfg)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != exitOK || len(lines) != 5 || lines[0] != "History of OLD1, oldest first (times in UTC):" ||
		!strings.Contains(lines[4], "approved") || !strings.Contains(errOut, "OLD1 is archived in "+archive) {
		t.Errorf("payments history OLD1: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := cli(t, "payments", "history", "NOPE", "--config", cfg); code != exitFailure || !strings.Contains(errOut, "NOPE") {
		t.Errorf("payments history NOPE: exit %d, %s", code, errOut)
	}
}

// TestJournalArchiverServe: with [journal] keep the agent archives a little
// after start and then once a day, and stops with its context.
func TestJournalArchiverServe(t *testing.T) {
	dir := t.TempDir()
	prepareJournal(t, dir, "T1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := store.Open(ctx, filepath.Join(dir, "posbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log, _, _ := logging.New(logging.Options{})
	a := newJournalArchiver(db, dir, 400*24*time.Hour, log)
	a.now = func() time.Time { return time.Date(2026, 4, 4, 12, 0, 0, 0, time.Local) } // cutoff 2025-02-28 12:00
	waits := make(chan time.Duration)
	release := make(chan struct{})
	a.wait = func(ctx context.Context, d time.Duration) error {
		select {
		case waits <- d:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx) }()
	if d := <-waits; d != archiveFirstDelay {
		t.Errorf("first wait %v, want %v", d, archiveFirstDelay)
	}
	release <- struct{}{}
	if d := <-waits; d != archiveEvery {
		t.Errorf("second wait %v, want %v", d, archiveEvery)
	}
	archive := filepath.Join(dir, "archive", "posbridge-archive-2025.db")
	if n := countPayments(t, archive); n != 2 {
		t.Errorf("%s holds %d payments, want 2", archive, n)
	}
	if _, err := db.GetPayment(ctx, "OLD1"); err == nil {
		t.Errorf("OLD1 is still in the journal")
	}
	release <- struct{}{} // the next day: nothing more to move
	if d := <-waits; d != archiveEvery {
		t.Errorf("third wait %v, want %v", d, archiveEvery)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v, want nil after cancel", err)
	}
}

func TestDefaultArchivePath(t *testing.T) {
	for _, tc := range []struct {
		cutoff time.Time
		want   string
	}{
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.Local), "posbridge-archive-2025.db"},
		{time.Date(2026, 1, 1, 0, 0, 0, 1e6, time.Local), "posbridge-archive-2026.db"},
		{time.Date(2025, 3, 1, 0, 0, 0, 0, time.Local), "posbridge-archive-2025.db"},
	} {
		if got := defaultArchivePath("/d", tc.cutoff); got != filepath.Join("/d", "archive", tc.want) {
			t.Errorf("defaultArchivePath(%v) = %s, want %s", tc.cutoff, got, tc.want)
		}
	}
}
