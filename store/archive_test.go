package store

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// setClock is a test clock that can be set; each call advances it by 1 ms
// so that times stay strictly ordered.
type setClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *setClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *setClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var (
	archOld    = time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	archCutoff = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	archNew    = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	archNow    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// journalBuilder makes payments in given states through the store's own
// write paths, so batches, events and seqs are as the agent leaves them.
type journalBuilder struct {
	t  testing.TB
	db *DB
}

func (b journalBuilder) pay(no, sn, typ, orig string, states ...string) {
	b.t.Helper()
	ctx := context.Background()
	p := newPayment(no, sn)
	p.Type, p.OrigMerchantOrderNo = typ, orig
	mustInsert(b.t, b.db, p)
	for _, s := range states {
		if _, err := b.db.Transition(ctx, no, nil, setState(s), Event{}); err != nil {
			b.t.Fatalf("Transition(%s → %s) = %v", no, s, err)
		}
	}
}

func (b journalBuilder) note(no string) {
	b.t.Helper()
	if err := b.db.AppendEvent(context.Background(), no, Event{Kind: "query", Detail: "polled"}); err != nil {
		b.t.Fatal(err)
	}
}

func (b journalBuilder) alert(no string, handled bool) {
	b.t.Helper()
	_, err := b.db.Transition(context.Background(), no, nil, func(p *Payment) error {
		p.Alert = "Paid after it expired"
		return nil
	}, Event{Kind: "alert"})
	if err == nil && handled {
		_, err = b.db.Transition(context.Background(), no, nil, func(p *Payment) error {
			p.AlertHandledAt = archOld
			return nil
		}, Event{Kind: "alert_handled"})
	}
	if err != nil {
		b.t.Fatal(err)
	}
}

func (b journalBuilder) closeBatch(sn string) {
	b.t.Helper()
	ctx := context.Background()
	bt, err := b.db.BeginBatchClose(ctx, sn, "test")
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.db.FinishBatchClose(ctx, bt.ID, `{"count":1}`); err != nil {
		b.t.Fatal(err)
	}
}

// archiveScenario builds a journal with payments that must move and
// payments that must stay, and returns which are which.
func archiveScenario(t testing.TB, db *DB, clock *setClock) (move, stay []string) {
	b := journalBuilder{t, db}
	clock.Set(archOld)
	b.pay("S1", "T1", TypeSale, "", StateSending, StateApproved) // batch T1/1, closed below
	b.note("S1")
	b.pay("S2", "T1", TypeSale, "", StateSending, StateDeclined) // never in a batch
	b.pay("S3", "T1", TypeSale, "", StateFailed)
	b.pay("A1", "T1", TypeSale, "", StateFailed)
	b.alert("A1", false) // an open alert: stays until a person handled it
	b.pay("A2", "T1", TypeSale, "", StateFailed)
	b.alert("A2", true)                                                    // handled: moves
	b.pay("S4", "T1", TypeSale, "", StateSending, StateApproved)           // refund R4 still open
	b.pay("R4", "T1", TypeRefund, "S4", StateSending, StateUnknown)        // not final
	b.pay("S5", "T1", TypeSale, "", StateSending, StateApproved)           // its refund is final
	b.pay("R5", "T1", TypeRefund, "S5", StateSending, StateDeclined)       // final, no batch
	b.pay("V9", "T1", TypeVoid, "NOT-HERE", StateCancelled)                // original made elsewhere
	b.pay("P6", "T1", TypePreAuth, "", StateSending, StateExpired)         // expired
	b.pay("C6", "T1", TypeCompletion, "P6", StateSending, StateOnTerminal) // completion open: P6 stays
	b.closeBatch("T1")                                                     // batch T1/1 closed, T1/2 open
	b.pay("S7", "T1", TypeSale, "", StateSending, StateApproved)           // in the open batch T1/2
	b.pay("Q8", "T1", TypeSale, "")                                        // queued
	b.pay("U1", "T2", TypeSale, "", StateSending, StateApproved)           // batch T2/1
	b.closeBatch("T2")                                                     // T2/1 closed: all its payments move
	clock.Set(archNew)
	b.pay("N1", "T2", TypeSale, "", StateSending, StateDeclined) // newer than the cutoff
	clock.Set(archNow)
	return []string{"S1", "S2", "S3", "A2", "S5", "R5", "V9", "U1"},
		[]string{"A1", "S4", "R4", "P6", "C6", "S7", "Q8", "N1"}
}

// rows dumps every column of the rows of table matching where, keyed by id.
func rows(t testing.TB, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, table, where string, args ...any) map[int64]map[string]any {
	t.Helper()
	r, err := q.QueryContext(context.Background(), `SELECT * FROM `+table+` WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	defer r.Close()
	cols, _ := r.Columns()
	out := map[int64]map[string]any{}
	for r.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		for i, c := range cols {
			m[c] = vals[i]
		}
		out[vals[0].(int64)] = m
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// openArchiveFile opens an archive for checks (read-write, so that a hot
// rollback journal left by a killed archiver is rolled back first).
func openArchiveFile(t testing.TB, path string) *sql.DB {
	t.Helper()
	a, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func orderIDs(t testing.TB, db *DB, nos []string) []int64 {
	t.Helper()
	var ids []int64
	for _, no := range nos {
		var id int64
		if err := db.writer.QueryRow(`SELECT id FROM payments WHERE merchant_order_no = ?`, no).Scan(&id); err != nil {
			t.Fatalf("id of %s: %v", no, err)
		}
		ids = append(ids, id)
	}
	return ids
}

func inList(ids []int64) string { return "id IN (SELECT value FROM json_each('" + idsJSON(ids) + "'))" }

func TestArchiveMovesExactlyTheEligible(t *testing.T) {
	ctx := context.Background()
	clock := &setClock{}
	db := openTest(t, WithClock(clock.Now))
	move, stay := archiveScenario(t, db, clock)
	moveIDs := orderIDs(t, db, move)
	wantPayments := rows(t, db.writer, "payments", inList(moveIDs))
	wantEvents := rows(t, db.writer, "payment_events", "payment_id IN (SELECT value FROM json_each(?))", idsJSON(moveIDs))
	wantBatches := rows(t, db.writer, "batches", "terminal_sn = 'T2' AND batch_no = 1")
	keptBefore := rows(t, db.writer, "payments", "NOT "+inList(moveIDs))
	latest, _ := db.LatestEventID(ctx)
	path := filepath.Join(t.TempDir(), "posbridge-archive-2025.db")

	dry, err := db.Archive(ctx, archCutoff, path, ArchiveOptions{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if dry.Payments != len(move) || dry.Events != len(wantEvents) || dry.Batches != 1 {
		t.Errorf("dry run = %+v, want %d payments, %d events, 1 batch", dry, len(move), len(wantEvents))
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dry run created the archive: %v", err)
	}

	res, err := db.Archive(ctx, archCutoff, path, ArchiveOptions{ChunkSize: 2})
	if err != nil {
		t.Fatalf("Archive = %v", err)
	}
	if res.Payments != len(move) || res.Events != len(wantEvents) || res.Batches != 1 || res.Resumed != 0 || res.Conflicts != 0 {
		t.Errorf("Archive = %+v, want %d payments, %d events, 1 batch", res, len(move), len(wantEvents))
	}
	for _, no := range move {
		if _, err := db.GetPayment(ctx, no); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetPayment(%s) after archive = %v, want ErrNotFound", no, err)
		}
	}
	for _, no := range stay {
		if _, err := db.GetPayment(ctx, no); err != nil {
			t.Errorf("GetPayment(%s) after archive = %v, want it kept", no, err)
		}
	}
	if got := rows(t, db.writer, "payments", "1"); !reflect.DeepEqual(got, keptBefore) {
		t.Errorf("payments left in the journal changed:\n%v\nwant\n%v", got, keptBefore)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM payment_events WHERE `+strings.ReplaceAll(inList(moveIDs), "id IN", "payment_id IN")); n != 0 {
		t.Errorf("%d events of archived payments left in the journal", n)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM batches WHERE terminal_sn = 'T2' AND batch_no = 1`); n != 0 {
		t.Errorf("closed batch T2/1 still in the journal")
	}
	if n := count(t, db, `SELECT COUNT(*) FROM batches`); n != 3 {
		t.Errorf("%d batches left, want 3 (T1/1 holds S4, T1/2 and T2/2 are open)", n)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM archive_guard`); n != 0 {
		t.Errorf("archive_guard has %d rows after the archive", n)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM settings WHERE k = ?`, archivePendingKey); n != 0 {
		t.Errorf("the archive is still listed as pending")
	}
	if got, _ := db.LatestEventID(ctx); got != latest {
		t.Errorf("LatestEventID = %d after archive, was %d", got, latest)
	}

	// The archive holds exactly what left, unchanged.
	a := openArchiveFile(t, path)
	if got := rows(t, a, "payments", "1"); !reflect.DeepEqual(got, wantPayments) {
		t.Errorf("archived payments:\n%v\nwant\n%v", got, wantPayments)
	}
	if got := rows(t, a, "payment_events", "1"); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("archived events:\n%v\nwant\n%v", got, wantEvents)
	}
	if got := rows(t, a, "batches", "1"); !reflect.DeepEqual(got, wantBatches) {
		t.Errorf("archived batches:\n%v\nwant\n%v", got, wantBatches)
	}
	var mode string
	if err := a.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "delete" {
		t.Errorf("archive journal_mode = %q, %v; want delete", mode, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("archive file mode = %v, %v; want private", fi.Mode(), err)
	}

	// Looked up in the archive, a payment reads as it did in the journal.
	p, evs, err := ArchivedPayment(ctx, path, "S1")
	if err != nil {
		t.Fatalf("ArchivedPayment(S1) = %v", err)
	}
	if p.State != StateApproved || p.BatchID == 0 || len(evs) != 4 || evs[3].Kind != "query" {
		t.Errorf("ArchivedPayment(S1) = %+v, %+v", p, evs)
	}
	if _, _, err := ArchivedPayment(ctx, path, "S4"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ArchivedPayment(S4) = %v, want ErrNotFound", err)
	}

	// Running again moves nothing more.
	again, err := db.Archive(ctx, archCutoff, path, ArchiveOptions{})
	if err != nil || again.Payments != 0 || again.Events != 0 || again.Batches != 0 {
		t.Errorf("second Archive = %+v, %v; want nothing moved", again, err)
	}
	if got := rows(t, a, "payments", "1"); !reflect.DeepEqual(got, wantPayments) {
		t.Errorf("second run changed the archive")
	}

	// The journal goes on: new payments take new ids, counts follow.
	np := mustInsert(t, db, newPayment("NEW1", "T1"))
	if np.ID <= slices.Max(moveIDs) || np.EventID <= latest {
		t.Errorf("new payment id %d, seq %d reuse archived ones (max id %d, seq %d)", np.ID, np.EventID, slices.Max(moveIDs), latest)
	}
	counts, err := db.CountPayments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range counts {
		total += c.Count
	}
	if total != len(stay)+1 {
		t.Errorf("CountPayments total = %d, want %d: %+v", total, len(stay)+1, counts)
	}
}

func TestArchiveKeepsTheNewest(t *testing.T) {
	ctx := context.Background()
	clock := &setClock{}
	db := openTest(t, WithClock(clock.Now))
	b := journalBuilder{t, db}
	clock.Set(archOld)
	b.pay("A", "T1", TypeSale, "", StateDeclined)
	b.pay("B", "T1", TypeSale, "", StateDeclined)
	b.pay("C", "T1", TypeSale, "", StateDeclined)
	b.note("A") // A holds the newest event, C the newest id; B's declined is the newest seq
	if _, err := db.Transition(ctx, "B", nil, func(p *Payment) error { p.ErrorCode = "x"; return nil }, Event{}); err != nil {
		t.Fatal(err)
	}
	b.note("A")
	clock.Set(archNow)
	res, err := db.Archive(ctx, archCutoff, filepath.Join(t.TempDir(), "a.db"), ArchiveOptions{})
	if err != nil || res.Payments != 0 {
		t.Fatalf("Archive = %+v, %v; want nothing moved", res, err)
	}
	clock.Set(archOld)
	b.pay("D", "T1", TypeSale, "", StateDeclined)
	clock.Set(archNow)
	res, err = db.Archive(ctx, archCutoff, filepath.Join(t.TempDir(), "a.db"), ArchiveOptions{})
	if err != nil || res.Payments != 3 {
		t.Fatalf("Archive = %+v, %v; want A, B, C moved", res, err)
	}
	if _, err := db.GetPayment(ctx, "D"); err != nil {
		t.Errorf("the newest payment D left the journal: %v", err)
	}
}

func TestArchiveRefusesBadArguments(t *testing.T) {
	ctx := context.Background()
	clock := &setClock{t: archNow}
	db := openTest(t, WithClock(clock.Now))
	dir := t.TempDir()
	notArchive := filepath.Join(dir, "other.db")
	o, err := sql.Open("sqlite", notArchive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Exec(`CREATE TABLE payments (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	o.Close()
	journalBuilder{t, db}.pay("X", "T1", TypeSale, "", StateDeclined)
	clock.Set(archOld)
	journalBuilder{t, db}.pay("Y", "T1", TypeSale, "", StateDeclined)
	journalBuilder{t, db}.pay("Z", "T1", TypeSale, "", StateDeclined)
	clock.Set(archNow)
	tests := []struct {
		name   string
		cutoff time.Time
		path   string
	}{
		{"zero cutoff", time.Time{}, filepath.Join(dir, "a.db")},
		{"future cutoff", archNow.Add(48 * time.Hour), filepath.Join(dir, "a.db")},
		{"relative path", archCutoff, "a.db"},
		{"the journal", archCutoff, db.Path()},
		{"its WAL", archCutoff, db.Path() + "-wal"},
		{"a directory", archCutoff, dir},
		{"no such directory", archCutoff, filepath.Join(dir, "nope", "a.db")},
		{"not an archive", archCutoff, notArchive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := db.Archive(ctx, tc.cutoff, tc.path, ArchiveOptions{})
			if err == nil || res.Payments != 0 {
				t.Fatalf("Archive(%v, %q) = %+v, %v; want an error and nothing moved", tc.cutoff, tc.path, res, err)
			}
		})
	}
	if n := count(t, db, `SELECT COUNT(*) FROM payments`); n != 3 {
		t.Errorf("%d payments left, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused archive created its file: %v", err)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM settings WHERE k = ?`, archivePendingKey); n != 0 {
		t.Errorf("a refused archive was listed as pending")
	}
	// Refusals leave nothing behind that stops the next run.
	if res, err := db.Archive(ctx, archCutoff, filepath.Join(dir, "a.db"), ArchiveOptions{}); err != nil || res.Payments != 1 {
		t.Errorf("Archive after the refusals = %+v, %v; want Y moved", res, err)
	}
}

// TestArchiveGuard: events, payments and batches leave the journal only
// under archive_guard, and even then only those of final payments and
// closed batches.
func TestArchiveGuard(t *testing.T) {
	ctx := context.Background()
	clock := &setClock{t: archOld}
	db := openTest(t, WithClock(clock.Now))
	b := journalBuilder{t, db}
	b.pay("F", "T1", TypeSale, "", StateDeclined)
	b.pay("O", "T1", TypeSale, "", StateSending)
	if _, err := db.CurrentBatch(ctx, "T1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		guard bool
		sql   string
		ok    bool
	}{
		{"events without guard", false, `DELETE FROM payment_events WHERE merchant_order_no = 'F'`, false},
		{"payment without guard", false, `DELETE FROM payments WHERE merchant_order_no = 'F'`, false},
		{"events of a final payment", true, `DELETE FROM payment_events WHERE merchant_order_no = 'F'`, true},
		{"events of an open payment", true, `DELETE FROM payment_events WHERE merchant_order_no = 'O'`, false},
		{"open payment", true, `DELETE FROM payment_events WHERE merchant_order_no = 'O'; DELETE FROM payments WHERE merchant_order_no = 'O'`, false},
		{"open batch", true, `DELETE FROM batches`, false},
		{"update event", true, `UPDATE payment_events SET detail = 'x'`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := db.write(ctx, func(tx *sql.Tx) error {
				if tc.guard {
					if _, err := tx.Exec(`INSERT INTO archive_guard (id, started_at) VALUES (1, 1)`); err != nil {
						return err
					}
				}
				if _, err := tx.Exec(tc.sql); err != nil {
					return err
				}
				return errors.New("roll back")
			})
			if tc.ok && err.Error() != "roll back" {
				t.Errorf("%s = %v, want allowed", tc.sql, err)
			}
			if !tc.ok && (err.Error() == "roll back" || !strings.Contains(err.Error(), "refused")) {
				t.Errorf("%s = %v, want refused by a trigger", tc.sql, err)
			}
		})
	}
	if n := count(t, db, `SELECT COUNT(*) FROM payment_events`); n != 4 {
		t.Errorf("%d events, want 4", n)
	}
}

// TestArchiveResumesInterrupted: a run stopped between copy and delete
// leaves payments in both files; the next run, even into another file,
// finishes those moves into the first file and moves the rest.
func TestArchiveResumesInterrupted(t *testing.T) {
	ctx := context.Background()
	clock := &setClock{}
	db := openTest(t, WithClock(clock.Now))
	move, _ := archiveScenario(t, db, clock)
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.db"), filepath.Join(dir, "second.db")
	cctx, cancel := context.WithCancel(ctx)
	res, err := db.Archive(cctx, archCutoff, first, ArchiveOptions{ChunkSize: 3, Progress: func(step string) {
		if strings.HasPrefix(step, "copied") {
			cancel() // the delete of the first chunk never commits
		}
	}})
	if !errors.Is(err, context.Canceled) || res.Payments != 0 {
		t.Fatalf("interrupted Archive = %+v, %v; want canceled with nothing moved", res, err)
	}
	a := openArchiveFile(t, first)
	var inFirst int
	if err := a.QueryRow(`SELECT COUNT(*) FROM payments`).Scan(&inFirst); err != nil || inFirst != 3 {
		t.Fatalf("first archive holds %d payments (%v), want the 3 copied", inFirst, err)
	}
	res, err = db.Archive(ctx, archCutoff, second, ArchiveOptions{ChunkSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Payments != len(move) || res.Resumed != 3 || res.Batches != 1 {
		t.Errorf("resuming Archive = %+v, want %d payments of which 3 resumed, 1 batch", res, len(move))
	}
	b := openArchiveFile(t, second)
	var inSecond int
	if err := b.QueryRow(`SELECT COUNT(*) FROM payments`).Scan(&inSecond); err != nil || inSecond+inFirst != len(move) {
		t.Errorf("second archive holds %d payments (%v), first %d, want %d in all", inSecond, err, inFirst, len(move))
	}
	if n := count(t, db, `SELECT COUNT(*) FROM settings WHERE k = ?`, archivePendingKey); n != 0 {
		t.Errorf("archives still listed as pending")
	}
}

// TestArchiveRowChangedMidway: a payment written by another process between
// its copy and its delete stays in the journal, and the archive's stale copy
// is dropped; the next run moves it.
func TestArchiveRowChangedMidway(t *testing.T) {
	ctx := context.Background()
	clock := &setClock{}
	db := openTest(t, WithClock(clock.Now))
	move, _ := archiveScenario(t, db, clock)
	other := openAt(t, db.Path(), WithClock(clock.Now)) // another process on the same journal
	path := filepath.Join(t.TempDir(), "a.db")
	changed := false
	res, err := db.Archive(ctx, archCutoff, path, ArchiveOptions{ChunkSize: 100, Progress: func(step string) {
		if strings.HasPrefix(step, "copied") && !changed {
			changed = true
			if err := other.AppendEvent(ctx, "S2", Event{Kind: "note", Detail: "late note"}); err != nil {
				t.Error(err)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Payments != len(move)-1 {
		t.Errorf("Archive = %+v, want all but S2 moved", res)
	}
	if _, err := db.GetPayment(ctx, "S2"); err != nil {
		t.Fatalf("S2 = %v, want it kept in the journal", err)
	}
	if _, _, err := ArchivedPayment(ctx, path, "S2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("S2's stale copy is in the archive: %v", err)
	}
	// The late note is the journal's newest event, which stays; once a
	// newer payment exists, S2 may go.
	if res, err := db.Archive(ctx, archCutoff, path, ArchiveOptions{}); err != nil || res.Payments != 0 {
		t.Fatalf("Archive = %+v, %v; want S2 kept while it holds the newest event", res, err)
	}
	journalBuilder{t, db}.pay("N2", "T2", TypeSale, "")
	res, err = db.Archive(ctx, archCutoff, path, ArchiveOptions{})
	if err != nil || res.Payments != 1 || res.Events != 4 {
		t.Fatalf("next Archive = %+v, %v; want S2 moved with its 4 events", res, err)
	}
	_, evs, err := ArchivedPayment(ctx, path, "S2")
	if err != nil || len(evs) != 4 || evs[3].Detail != "late note" {
		t.Errorf("archived S2 events = %+v, %v", evs, err)
	}
}

// TestArchiveAfterRestoredBackup: a journal restored from a backup taken
// before an archive run holds payments the archive has too; the next run
// finishes those moves instead of duplicating them.
func TestArchiveAfterRestoredBackup(t *testing.T) {
	ctx := context.Background()
	clock := &setClock{}
	dir := t.TempDir()
	jpath := filepath.Join(dir, "journal.db")
	db, err := Open(ctx, jpath, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	move, _ := archiveScenario(t, db, clock)
	backup := filepath.Join(dir, "backup.db")
	if _, err := db.writer.Exec(`VACUUM INTO ?`, backup); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a.db")
	if res, err := db.Archive(ctx, archCutoff, path, ArchiveOptions{}); err != nil || res.Payments != len(move) {
		t.Fatalf("Archive = %+v, %v", res, err)
	}
	db.Close()
	for _, f := range []string{jpath, jpath + "-wal", jpath + "-shm"} {
		os.Remove(f)
	}
	if err := os.Rename(backup, jpath); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, jpath, WithClock(clock.Now))
	res, err := db.Archive(ctx, archCutoff, path, ArchiveOptions{})
	if err != nil || res.Payments != len(move) || res.Resumed != len(move) || res.Conflicts != 0 {
		t.Fatalf("Archive after restore = %+v, %v; want the %d moves finished", res, err, len(move))
	}
	a := openArchiveFile(t, path)
	var n int
	if err := a.QueryRow(`SELECT COUNT(*) FROM payments`).Scan(&n); err != nil || n != len(move) {
		t.Errorf("archive holds %d payments (%v), want %d", n, err, len(move))
	}
}

// TestArchiveOrderNoReused: an order number that comes back after its first
// payment was archived is archived too; the look-up finds the newest.
func TestArchiveOrderNoReused(t *testing.T) {
	ctx := context.Background()
	clock := &setClock{}
	db := openTest(t, WithClock(clock.Now))
	b := journalBuilder{t, db}
	clock.Set(archOld)
	b.pay("R", "T1", TypeSale, "", StateDeclined)
	b.pay("K1", "T1", TypeSale, "", StateDeclined)
	clock.Set(archNow)
	path := filepath.Join(t.TempDir(), "a.db")
	if res, err := db.Archive(ctx, archCutoff, path, ArchiveOptions{}); err != nil || res.Payments != 1 {
		t.Fatalf("Archive = %+v, %v", res, err)
	}
	clock.Set(archOld.Add(time.Hour))
	b.pay("R", "T1", TypeSale, "", StateSending, StateCancelled)
	b.pay("K2", "T1", TypeSale, "", StateDeclined)
	clock.Set(archNow)
	if res, err := db.Archive(ctx, archCutoff, path, ArchiveOptions{}); err != nil || res.Payments != 2 {
		t.Fatalf("second Archive = %+v, %v; want R and K1", res, err)
	}
	p, _, err := ArchivedPayment(ctx, path, "R")
	if err != nil || p.State != StateCancelled {
		t.Errorf("ArchivedPayment(R) = %+v, %v; want the newer, cancelled one", p, err)
	}
}

// The crash test: an archiver in a child process (this test binary again)
// is killed at random moments, over several rounds and into two archive
// files; after each kill nothing is lost, and after a final normal run
// every payment is in exactly one of the three files.

const archiveChildEnv = "POSBRIDGE_ARCHIVE_CHILD"

// TestArchiveChildProcess is the archiver of TestArchiveSurvivesKill; it
// does nothing in a normal test run.
func TestArchiveChildProcess(t *testing.T) {
	spec := os.Getenv(archiveChildEnv)
	if spec == "" {
		t.Skip("helper process of TestArchiveSurvivesKill")
	}
	journal, archive, _ := strings.Cut(spec, "|")
	ctx := context.Background()
	db, err := Open(ctx, journal)
	if err != nil {
		fmt.Println("ERROR", err)
		t.Fatal(err)
	}
	defer db.Close()
	w := bufio.NewWriter(os.Stdout)
	_, err = db.Archive(ctx, archCutoff, archive, ArchiveOptions{ChunkSize: 2, Progress: func(step string) {
		fmt.Fprintln(w, "STEP", step)
		w.Flush()
	}})
	if err != nil {
		fmt.Println("ERROR", err)
		t.Fatal(err)
	}
	fmt.Println("DONE")
}

func TestArchiveSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("POSBRIDGE_ARCHIVE_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (POSBRIDGE_ARCHIVE_SEED)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	dir := t.TempDir()
	jpath := filepath.Join(dir, "journal.db")
	clock := &setClock{}
	db, err := Open(ctx, jpath, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	// Twenty-four rounds of history on three terminals: in even rounds a sale
	// whose refund is still open keeps its batch in the journal; the other
	// rounds' batches move once their payments have.
	b := journalBuilder{t, db}
	var wantMoved []string
	wantBatches := 0
	for i := range 24 {
		clock.Set(archOld.Add(time.Duration(i) * time.Hour))
		x := func(s string) string { return fmt.Sprintf("%s-%02d", s, i) }
		sn := fmt.Sprintf("T%d", i%3)
		b.pay(x("A"), sn, TypeSale, "", StateSending, StateApproved)
		b.note(x("A"))
		b.pay(x("D"), sn, TypeSale, "", StateDeclined)
		if i%2 == 0 {
			b.pay(x("S"), sn, TypeSale, "", StateSending, StateApproved)
			b.pay(x("R"), sn, TypeRefund, x("S"), StateSending, StateUnknown)
		} else {
			wantBatches++
		}
		b.pay(x("E"), sn, TypeSale, "", StateSending, StateApproved)
		b.pay(x("F"), sn, TypeRefund, x("E"), StateSending, StateApproved)
		b.pay(x("X"), sn, TypeSale, "", StateExpired)
		b.closeBatch(sn)
		wantMoved = append(wantMoved, x("A"), x("D"), x("E"), x("F"), x("X"))
	}
	clock.Set(archNew)
	b.pay("LAST", "T0", TypeSale, "", StateDeclined)
	slices.Sort(wantMoved)
	before := rows(t, db.writer, "payments", "1")
	beforeEvents := rows(t, db.writer, "payment_events", "1")
	beforeBatches := rows(t, db.writer, "batches", "1")
	db.Close()

	archives := []string{filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")}
	kills := 0
	for round := 0; round < 12; round++ {
		archive := archives[rng.IntN(2)]
		cmd := exec.Command(os.Args[0], "-test.run=^TestArchiveChildProcess$", "-test.v")
		cmd.Env = append(os.Environ(), archiveChildEnv+"="+jpath+"|"+archive)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAt := rng.IntN(16) // the step after which to kill; 0: while opening
		delay := time.Duration(0)
		if rng.IntN(3) > 0 {
			delay = time.Duration(rng.IntN(1500)) * time.Microsecond
		}
		sc := bufio.NewScanner(out)
		steps, done := 0, false
		var lines []string
		if killAt == 0 {
			time.Sleep(delay) // waiting for the child to be somewhere in its start
			cmd.Process.Kill()
		}
		for sc.Scan() {
			line := sc.Text()
			lines = append(lines, line)
			if strings.HasPrefix(line, "ERROR") {
				t.Fatalf("round %d: child failed: %s\n%s", round, line, stderr.String())
			}
			if line == "DONE" {
				done = true
			}
			if strings.HasPrefix(line, "STEP") {
				steps++
				if steps == killAt {
					time.Sleep(delay) // waiting for the child to go on into its next step
					cmd.Process.Kill()
				}
			}
		}
		err = cmd.Wait()
		if !done {
			kills++
		} else if err != nil {
			t.Fatalf("round %d: child exit %v\n%s\n%s", round, err, strings.Join(lines, "\n"), stderr.String())
		}
		t.Logf("round %d into %s: %d steps, killed after step %d (+%v): %v", round, filepath.Base(archive), steps, killAt, delay, !done)
		checkNothingLost(t, round, jpath, archives, before, beforeEvents, beforeBatches)
	}
	if kills < 6 {
		t.Errorf("only %d rounds were killed mid-run", kills)
	}

	// A normal run finishes everything.
	clock.Set(archNow)
	db = openAt(t, jpath, WithClock(clock.Now))
	res, err := db.Archive(ctx, archCutoff, archives[0], ArchiveOptions{})
	if err != nil {
		t.Fatalf("final Archive = %v", err)
	}
	t.Logf("final run: %+v", res)
	where, batchWhere := checkNothingLost(t, -1, jpath, archives, before, beforeEvents, beforeBatches)
	var moved []string
	for id, files := range where {
		if len(files) != 1 {
			t.Errorf("payment %v is in %v, want exactly one file", before[id]["merchant_order_no"], files)
		}
		if files[0] != "journal" {
			moved = append(moved, before[id]["merchant_order_no"].(string))
		}
	}
	slices.Sort(moved)
	if !slices.Equal(moved, wantMoved) {
		t.Errorf("archived %v,\nwant %v", moved, wantMoved)
	}
	movedBatches := 0
	for id, files := range batchWhere {
		if len(files) != 1 {
			t.Errorf("batch %d is in %v, want exactly one file", id, files)
		}
		if files[0] != "journal" {
			movedBatches++
		}
	}
	if movedBatches != wantBatches {
		t.Errorf("archived %d batches, want %d", movedBatches, wantBatches)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM settings WHERE k = ?`, archivePendingKey); n != 0 {
		t.Errorf("archives still listed as pending")
	}
}

// checkNothingLost checks that every payment of before is, with all its
// events unchanged, in the journal or in an archive (or, after a crash, in
// several), and so is every batch; it returns where each payment and batch is.
func checkNothingLost(t *testing.T, round int, jpath string, archives []string, before, beforeEvents, beforeBatches map[int64]map[string]any) (payments, batches map[int64][]string) {
	t.Helper()
	payments, batches = map[int64][]string{}, map[int64][]string{}
	check := func(name string, q *sql.DB) {
		ps := rows(t, q, "payments", "1")
		evs := rows(t, q, "payment_events", "1")
		for id, p := range ps {
			if !reflect.DeepEqual(p, before[id]) {
				t.Errorf("round %d: %s holds payment %d as %v, want %v", round, name, id, p, before[id])
				continue
			}
			payments[id] = append(payments[id], name)
		}
		for id, e := range evs {
			if !reflect.DeepEqual(e, beforeEvents[id]) {
				t.Errorf("round %d: %s holds event %d as %v, want %v", round, name, id, e, beforeEvents[id])
			}
			if ps[e["payment_id"].(int64)] == nil {
				t.Errorf("round %d: %s holds event %d without its payment", round, name, id)
			}
		}
		// A payment here has all its events here.
		for id, e := range beforeEvents {
			pid := e["payment_id"].(int64)
			if ps[pid] != nil && evs[id] == nil {
				t.Errorf("round %d: %s holds payment %d without its event %d", round, name, pid, id)
			}
		}
		for id, b := range rows(t, q, "batches", "1") {
			if !reflect.DeepEqual(b, beforeBatches[id]) {
				t.Errorf("round %d: %s holds batch %d as %v, want %v", round, name, id, b, beforeBatches[id])
				continue
			}
			batches[id] = append(batches[id], name)
		}
	}
	j, err := sql.Open("sqlite", "file:"+jpath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	check("journal", j)
	j.Close()
	for _, a := range archives {
		if _, err := os.Stat(a); err != nil {
			continue
		}
		q, err := sql.Open("sqlite", "file:"+a+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		var tables int
		if err := q.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE name = 'payments'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables > 0 {
			check(filepath.Base(a), q)
		}
		q.Close()
	}
	for id, p := range before {
		if len(payments[id]) == 0 {
			t.Fatalf("round %d: payment %v is lost: in no file", round, p["merchant_order_no"])
		}
	}
	for id := range beforeBatches {
		if len(batches[id]) == 0 {
			t.Fatalf("round %d: batch %d is lost: in no file", round, id)
		}
	}
	return payments, batches
}
