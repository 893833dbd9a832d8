package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Journal retention: Archive moves old final payments, with their events,
// and old closed batches out of the journal into an archive file.
//
// An archive file is an SQLite database (rollback journal, synchronous=FULL)
// with the tables payments, payment_events and batches, holding the same
// columns (names, types, NOT NULL, defaults) as the journal's; columns the
// journal gains later are added to the archive when it is next written. It
// keeps none of the journal's uniqueness rules besides the id: an order
// number may come back after its first payment was archived. archive_info
// marks the file as a posbridge archive.
//
// SQLite commits a transaction over several files atomically only in
// rollback-journal mode; the journal is in WAL mode, so each move is two
// transactions on the journal's writer connection with the archive
// attached, one per file:
//
//  1. copy: the chosen payments and their events are upserted into the
//     archive (reading the journal in the same transaction) and committed
//     durably. The journal is not written.
//  2. delete: in one journal transaction, the payments that are still
//     eligible, whose archived row is identical to the journal's and whose
//     every event is in the archive unchanged are deleted with their events
//     under archive_guard (migration 0007); anything that changed in between
//     stays for the next chunk or run.
//
// A crash between or inside the two leaves a payment in the journal, or in
// both files, never in neither. Every archive file a run writes to is listed
// in the journal (settings key archive.pending) before the first copy, and
// taken off again only when no payment or batch is in both files; each run
// first settles the listed files: it finishes the moves that are still
// allowed and drops the archive's copies of the others, so a run into
// another file never leaves a payment in two archives.

// DefaultArchiveChunk is the default number of payments per move.
const DefaultArchiveChunk = 1000

// archivePendingKey is the settings key listing the archive files that may
// hold copies of payments or batches still in the journal (a JSON array of
// absolute paths).
const archivePendingKey = "archive.pending"

// archiveFormat is archive_info's "format": the version of the archive layout.
const archiveFormat = "1"

// ArchiveOptions tunes Archive.
type ArchiveOptions struct {
	// ChunkSize is how many payments (or batches) move per pair of
	// transactions (default DefaultArchiveChunk). The journal's writer is
	// held for one chunk at a time; the agent's writes wait at most that
	// long.
	ChunkSize int
	// DryRun counts what would move and writes nothing: neither the journal
	// nor the archive file, which is not created.
	DryRun bool
	// Progress, when set, is called after every committed step with a short
	// description ("copied 1000 payments", ...): for progress output and for
	// tests that stop the archive at a known point. It runs while Archive
	// holds this DB's writer: it must not write through the same DB.
	Progress func(step string)
}

// ArchiveResult says what Archive moved (or, with DryRun, would move).
type ArchiveResult struct {
	Path     string    // the archive file
	Cutoff   time.Time // payments last updated and batches closed before this moved
	DryRun   bool
	Payments int // payments moved
	Events   int // their events
	Batches  int // closed batches moved
	// Resumed counts the payments (included in Payments) whose move an
	// earlier, interrupted run had begun and this run finished.
	Resumed int
	// Conflicts counts payments and batches found in both the journal and
	// an archive with different contents that could be neither finished
	// nor undone without losing something (for example after restoring an
	// old backup of the journal). They stay in both files and are logged;
	// a person must look at them.
	Conflicts int
}

// Archive moves every payment that is final, was last updated before cutoff,
// is in no open (or closing) batch — a payment that never entered a batch
// counts as closed — and is not the original of a void, refund or completion
// that is still open, together with all its events, from the journal into the
// archive file at archivePath (created when missing; its directory must
// exist). Then it moves the closed batches closed before cutoff that no
// payment in the journal belongs to any more. The journal's newest payment,
// the payment behind its newest seq and the one with its newest event stay,
// as does each terminal's newest batch, so that ids and seqs are never
// handed out twice.
//
// Archive may run while the agent works on the same journal, from this or
// another process: it holds the writer for one chunk at a time. A crash at
// any moment loses and duplicates nothing: the next Archive, into the same
// or another file, finishes or undoes what was begun (see above). Freed
// pages are reused by the journal; with auto_vacuum=incremental they are
// also given back to the file system.
//
// When ctx ends between chunks, Archive returns what it moved so far with
// ctx's error.
func (db *DB) Archive(ctx context.Context, cutoff time.Time, archivePath string, opts ArchiveOptions) (ArchiveResult, error) {
	res := ArchiveResult{Path: archivePath, Cutoff: cutoff, DryRun: opts.DryRun}
	if err := db.checkArchiveArgs(cutoff, archivePath); err != nil {
		return res, fmt.Errorf("archive journal: %w", err)
	}
	res.Path = filepath.Clean(archivePath)
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultArchiveChunk
	}
	if opts.DryRun {
		err := db.archiveDryRun(ctx, &res)
		if err != nil {
			return res, fmt.Errorf("archive journal (dry run): %w", err)
		}
		return res, nil
	}
	r := &archiveRun{db: db, path: res.Path, cutoff: toMS(cutoff), chunk: opts.ChunkSize, progress: opts.Progress, res: &res}
	if r.progress == nil {
		r.progress = func(string) {}
	}
	err := r.run(ctx)
	if err != nil {
		return res, fmt.Errorf("archive journal into %s: %w", res.Path, err)
	}
	db.log.Info("archived journal", slog.String("archive", res.Path), slog.Time("cutoff", cutoff),
		slog.Int("payments", res.Payments), slog.Int("events", res.Events), slog.Int("batches", res.Batches),
		slog.Int("resumed", res.Resumed), slog.Int("conflicts", res.Conflicts))
	return res, nil
}

func (db *DB) checkArchiveArgs(cutoff time.Time, archivePath string) error {
	if cutoff.IsZero() {
		return fmt.Errorf("no cutoff: %w", ErrInvalid)
	}
	if cutoff.After(db.now()) {
		return fmt.Errorf("cutoff %s is in the future: %w", cutoff.Format(time.RFC3339), ErrInvalid)
	}
	if !filepath.IsAbs(archivePath) {
		return fmt.Errorf("archive path %q is not absolute: %w", archivePath, ErrInvalid)
	}
	p := filepath.Clean(archivePath)
	if p == db.path || strings.HasPrefix(p, db.path+"-") {
		return fmt.Errorf("archive path %s is the journal itself: %w", p, ErrInvalid)
	}
	if a, err := os.Stat(p); err == nil {
		if a.IsDir() {
			return fmt.Errorf("archive path %s is a directory: %w", p, ErrInvalid)
		}
		if j, err := os.Stat(db.path); err == nil && os.SameFile(a, j) {
			return fmt.Errorf("archive path %s is the journal itself: %w", p, ErrInvalid)
		}
	}
	return nil
}

// archiveRun is one Archive call.
type archiveRun struct {
	db       *DB
	path     string
	cutoff   int64 // unix ms
	chunk    int
	progress func(string)
	res      *ArchiveResult
}

func (r *archiveRun) run(ctx context.Context) error {
	if _, err := os.Stat(filepath.Dir(r.path)); err != nil {
		return fmt.Errorf("archive directory: %w", err)
	}
	// An existing file must be an archive (checked before it is listed).
	if _, err := os.Stat(r.path); err == nil {
		if err := r.db.withArchive(ctx, r.path, false, func(*archiveSession) error { return nil }); err != nil {
			return err
		}
	}
	// List this file first, so that a crash after any copy into it is
	// settled by the next run, whatever file that run is given.
	others, err := r.db.listPending(ctx, r.path)
	if err != nil {
		return err
	}
	for _, other := range others {
		if err := r.settle(ctx, other, true, true); err != nil {
			return fmt.Errorf("settle archive %s of an earlier run: %w", other, err)
		}
	}
	if _, err := os.Stat(r.path); err == nil {
		// Leftovers of an interrupted run into this same file.
		if err := r.settle(ctx, r.path, true, false); err != nil {
			return err
		}
	} else {
		// Create the file only when something is to move into it.
		probe := ArchiveResult{Cutoff: fromMS(r.cutoff)}
		if err := r.db.archiveDryRun(ctx, &probe); err != nil {
			return err
		}
		if probe.Payments == 0 && probe.Batches == 0 {
			r.progress("done")
			return r.db.unlistPending(ctx, r.path)
		}
		if err := createPrivate(r.path); err != nil {
			return err
		}
	}
	for _, k := range []archiveKind{archivePayments, archiveBatches} {
		var last int64
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, next, err := r.moveChunk(ctx, k, last)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
			last = next
		}
	}
	// Copies of rows that changed while they were being moved (another
	// process wrote them between copy and delete).
	if err := r.settle(ctx, r.path, false, true); err != nil {
		return err
	}
	if err := r.db.reclaim(ctx); err != nil {
		return err
	}
	r.progress("done")
	return nil
}

// archiveKind selects what a step moves: payments (with their events) or
// batches.
type archiveKind int

const (
	archivePayments archiveKind = iota
	archiveBatches
)

func (k archiveKind) String() string {
	if k == archiveBatches {
		return "batches"
	}
	return "payments"
}

// moveChunk copies the next chunk of eligible rows with ids above after into
// the archive and deletes them from the journal. It returns how many it
// chose (0: none left) and the highest id chosen.
func (r *archiveRun) moveChunk(ctx context.Context, k archiveKind, after int64) (int, int64, error) {
	var ids []int64
	err := r.db.withArchive(ctx, r.path, true, func(s *archiveSession) error {
		var err error
		for attempt := 0; ; attempt++ {
			ids, err = s.copyChunk(ctx, k, r.cutoff, after, r.chunk)
			if !errors.Is(err, errNotListed) || attempt == 2 {
				break
			}
			// A concurrent run settled this file and took it off the list.
			if _, err := r.db.listPendingTx(ctx, s.conn, r.path); err != nil {
				return err
			}
		}
		if err != nil || len(ids) == 0 {
			return err
		}
		r.progress(fmt.Sprintf("copied %d %s", len(ids), k))
		moved, events, err := s.finishMoves(ctx, k, ids)
		if err != nil {
			return err
		}
		r.count(k, moved, events)
		r.progress(fmt.Sprintf("deleted %d %s", moved, k))
		return nil
	})
	if err != nil || len(ids) == 0 {
		return 0, 0, err
	}
	return len(ids), ids[len(ids)-1], nil
}

func (r *archiveRun) count(k archiveKind, moved, events int) {
	if k == archiveBatches {
		r.res.Batches += moved
		return
	}
	r.res.Payments += moved
	r.res.Events += events
}

// settle resolves every payment and batch that is both in the journal and
// in the archive file at path: the move is finished when it is still
// allowed (whatever the cutoff of the run that began it) and undone
// otherwise, by dropping the archive's copy. Then, with unlist and unless
// something is left in both, the file is taken off the pending list.
// resumed says the moves finished here were begun by an earlier run. A
// missing file is only taken off the list.
func (r *archiveRun) settle(ctx context.Context, path string, resumed, unlist bool) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		r.db.log.Warn("archive file of an earlier run is gone; nothing to settle", slog.String("archive", path))
		return r.db.unlistPending(ctx, path)
	}
	err := r.db.withArchive(ctx, path, false, func(s *archiveSession) error {
		if s.hasTables {
			for _, k := range []archiveKind{archivePayments, archiveBatches} {
				if err := r.settleKind(ctx, s, k, resumed); err != nil {
					return err
				}
			}
		}
		if !unlist {
			return nil
		}
		return s.unlistIfSettled(ctx)
	})
	if errors.Is(err, errNotArchive) && unlist {
		// Replaced by another file since: whatever was copied into it is gone.
		r.db.log.Warn("archive file of an earlier run is no longer an archive; nothing to settle", slog.String("archive", path))
		return r.db.unlistPending(ctx, path)
	}
	return err
}

func (r *archiveRun) settleKind(ctx context.Context, s *archiveSession, k archiveKind, resumed bool) error {
	var last int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ids, err := s.inBoth(ctx, k, last, r.chunk)
		if err != nil || len(ids) == 0 {
			return err
		}
		last = ids[len(ids)-1]
		moved, events, err := s.finishMoves(ctx, k, ids)
		if err != nil {
			return err
		}
		r.count(k, moved, events)
		if resumed && k == archivePayments {
			r.res.Resumed += moved
		}
		dropped, conflicts, err := s.dropCopies(ctx, k, ids)
		if err != nil {
			return err
		}
		r.res.Conflicts += len(conflicts)
		for _, c := range conflicts {
			r.db.log.Warn("row is in the journal and in the archive with different contents; left in both",
				slog.String("archive", s.path), slog.String("table", k.String()), slog.String("row", c))
		}
		r.progress(fmt.Sprintf("settled %d %s (%d finished, %d copies dropped)", len(ids), k, moved, dropped))
	}
}

var (
	// errNotListed means the archive file is not on the pending list; a
	// copy into it must not be committed.
	errNotListed = errors.New("archive file is not listed as pending")
	// errNotArchive means the file has tables but is not a posbridge archive.
	errNotArchive = fmt.Errorf("the file exists and is not a posbridge archive (it has no archive_info table): %w", ErrInvalid)
)

// listPending adds path to the pending list and returns the other files on it.
func (db *DB) listPending(ctx context.Context, path string) ([]string, error) {
	var others []string
	err := db.write(ctx, func(tx *sql.Tx) error {
		list, err := readPending(ctx, tx)
		if err != nil {
			return err
		}
		for _, p := range list {
			if p != path {
				others = append(others, p)
			}
		}
		if slices.Contains(list, path) {
			return nil
		}
		return writePending(ctx, tx, append(list, path), db.now())
	})
	if err != nil {
		return nil, fmt.Errorf("list archive as pending: %w", err)
	}
	return others, nil
}

// listPendingTx is listPending on a connection the caller holds (with
// writeMu).
func (db *DB) listPendingTx(ctx context.Context, conn *sql.Conn, path string) (bool, error) {
	added := false
	err := inTx(ctx, conn, func(tx *sql.Tx) error {
		list, err := readPending(ctx, tx)
		if err != nil || slices.Contains(list, path) {
			return err
		}
		added = true
		return writePending(ctx, tx, append(list, path), db.now())
	})
	if err != nil {
		return false, fmt.Errorf("list archive as pending: %w", err)
	}
	return added, nil
}

// unlistPending takes path off the pending list.
func (db *DB) unlistPending(ctx context.Context, path string) error {
	err := db.write(ctx, func(tx *sql.Tx) error { return removePending(ctx, tx, path, db.now()) })
	if err != nil {
		return fmt.Errorf("take archive off the pending list: %w", err)
	}
	return nil
}

func removePending(ctx context.Context, tx *sql.Tx, path string, now time.Time) error {
	list, err := readPending(ctx, tx)
	if err != nil {
		return err
	}
	if i := slices.Index(list, path); i >= 0 {
		return writePending(ctx, tx, slices.Delete(list, i, i+1), now)
	}
	return nil
}

func readPending(ctx context.Context, q queryRower) ([]string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT v FROM main.settings WHERE k = ?`, archivePendingKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pending archives: %w", err)
	}
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return nil, fmt.Errorf("read pending archives: settings %s holds %q: %w", archivePendingKey, v, ErrInvalid)
	}
	return list, nil
}

func writePending(ctx context.Context, tx *sql.Tx, list []string, now time.Time) error {
	if len(list) == 0 {
		_, err := tx.ExecContext(ctx, `DELETE FROM main.settings WHERE k = ?`, archivePendingKey)
		return err
	}
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	return upsertSetting(ctx, tx, archivePendingKey, string(b), now)
}

// archiveSession is the journal's writer connection with an archive file
// attached as "arc", held under writeMu.
type archiveSession struct {
	db        *DB
	conn      *sql.Conn
	path      string // the archive file
	hasTables bool   // the archive has its tables (always after create)
	// The journal's columns of each table, as the copies and comparisons
	// were built for; every transaction checks they still are.
	cols map[string][]column
}

// withArchive runs fn with the archive at path attached to the writer
// connection, holding writeMu throughout. With create, the archive's tables
// are created or brought up to the journal's columns first; without, the
// file is only read as it is (hasTables tells whether it has its tables).
func (db *DB) withArchive(ctx context.Context, path string, create bool, fn func(*archiveSession) error) (err error) {
	select {
	case db.writeMu <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for writer: %w", ctx.Err())
	}
	defer func() { <-db.writeMu }()
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect writer: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS arc`, path); err != nil {
		conn.Close()
		return fmt.Errorf("attach archive: %w", err)
	}
	defer func() {
		// Detach even when ctx has ended; a connection that cannot detach
		// is discarded rather than handed back with the archive attached.
		if _, derr := conn.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE arc`); derr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			if err == nil {
				err = fmt.Errorf("detach archive: %w", derr)
			}
		}
		conn.Close()
	}()
	for _, q := range []string{`PRAGMA arc.journal_mode = DELETE`, `PRAGMA arc.synchronous = FULL`} {
		var ignored any
		if err := conn.QueryRowContext(ctx, q).Scan(&ignored); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("set up archive: %s: %w", q, err)
		}
	}
	s := &archiveSession{db: db, conn: conn, path: path}
	if err := s.prepare(ctx, create); err != nil {
		return err
	}
	return fn(s)
}

// inTx runs fn in one write transaction (BEGIN IMMEDIATE, which takes the
// write locks of the journal and the attached archive) on conn.
func inTx(ctx context.Context, conn *sql.Conn, fn func(*sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return finishTx(tx, fn)
}

// The tables an archive holds, and the indexes it adds for look-ups.
var (
	archiveTables  = []string{"payments", "payment_events", "batches"}
	archiveIndexes = []string{
		`CREATE INDEX IF NOT EXISTS arc.payments_order ON payments (merchant_order_no)`,
		`CREATE INDEX IF NOT EXISTS arc.payment_events_payment ON payment_events (payment_id, id)`,
		`CREATE INDEX IF NOT EXISTS arc.batches_terminal ON batches (terminal_sn, batch_no)`,
	}
)

// column is one row of PRAGMA table_info.
type column struct {
	name    string
	typ     string
	notNull bool
	dflt    sql.NullString
	pk      int
}

func tableColumns(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, schema, table string) ([]column, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?, ?) ORDER BY cid`, table, schema)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &c.dflt, &c.pk); err != nil {
			return nil, fmt.Errorf("read columns of %s.%s: %w", schema, table, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// definition is the column's definition in an archive table.
func (c column) definition() string {
	d := quoteIdent(c.name) + " " + c.typ
	if c.pk == 1 {
		return d + " PRIMARY KEY"
	}
	if c.notNull {
		d += " NOT NULL"
	}
	if c.dflt.Valid {
		d += " DEFAULT " + c.dflt.String
	}
	return d
}

// prepare reads the journal's columns and, with create, creates the
// archive's tables or adds the journal's newer columns to them, in one
// transaction that writes only the archive. A file that has tables but is
// not a posbridge archive is refused.
func (s *archiveSession) prepare(ctx context.Context, create bool) error {
	s.cols = map[string][]column{}
	for _, t := range archiveTables {
		cols, err := tableColumns(ctx, s.conn, "main", t)
		if err != nil {
			return err
		}
		if len(cols) == 0 || cols[0].name != "id" || cols[0].pk != 1 || cols[0].typ != "INTEGER" {
			return fmt.Errorf("journal table %s has no INTEGER PRIMARY KEY id first", t)
		}
		s.cols[t] = cols
	}
	var objects, marked int
	if err := s.conn.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE name = 'archive_info') FROM arc.sqlite_schema`).Scan(&objects, &marked); err != nil {
		return fmt.Errorf("read archive schema: %w", err)
	}
	if objects > 0 && marked == 0 {
		return errNotArchive
	}
	s.hasTables = marked > 0
	if !create {
		return nil
	}
	err := inTx(ctx, s.conn, func(tx *sql.Tx) error {
		if marked == 0 {
			now := strconv.FormatInt(toMS(s.db.now()), 10)
			if _, err := tx.ExecContext(ctx, `CREATE TABLE arc.archive_info (k TEXT PRIMARY KEY, v TEXT NOT NULL) STRICT`); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO arc.archive_info (k, v) VALUES ('format', ?), ('created_at', ?), ('journal', ?)`,
				archiveFormat, now, s.db.path); err != nil {
				return err
			}
		} else {
			var format string
			if err := tx.QueryRowContext(ctx, `SELECT v FROM arc.archive_info WHERE k = 'format'`).Scan(&format); err != nil {
				return fmt.Errorf("read archive format: %w", err)
			}
			if format != archiveFormat {
				return fmt.Errorf("archive format %q is not %q, the one this posbridge writes: %w", format, archiveFormat, ErrNewerSchema)
			}
		}
		for _, t := range archiveTables {
			if err := ensureArchiveTable(ctx, tx, t, s.cols[t]); err != nil {
				return err
			}
		}
		for _, q := range archiveIndexes {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("prepare archive tables: %w", err)
	}
	s.hasTables = true
	return nil
}

// ensureArchiveTable creates the archive table with the journal's columns,
// or adds the ones it lacks.
func ensureArchiveTable(ctx context.Context, tx *sql.Tx, table string, live []column) error {
	have, err := tableColumns(ctx, tx, "arc", table)
	if err != nil {
		return err
	}
	if len(have) == 0 {
		defs := make([]string, len(live))
		for i, c := range live {
			defs[i] = c.definition()
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE arc.`+table+` (`+strings.Join(defs, ", ")+`) STRICT`)
		return err
	}
	types := map[string]string{}
	for _, c := range have {
		types[c.name] = c.typ
	}
	for _, c := range live {
		t, ok := types[c.name]
		if ok && t != c.typ {
			return fmt.Errorf("archive column %s.%s is %s, the journal's is %s", table, c.name, t, c.typ)
		}
		if ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, `ALTER TABLE arc.`+table+` ADD COLUMN `+c.definition()); err != nil {
			return fmt.Errorf("add column %s.%s to the archive (archive into a new file instead): %w", table, c.name, err)
		}
	}
	return nil
}

// checkColumns fails when the journal's columns changed (another process
// migrated it) since the session read them: the copies would miss a column.
func (s *archiveSession) checkColumns(ctx context.Context, tx *sql.Tx) error {
	for _, t := range archiveTables {
		cols, err := tableColumns(ctx, tx, "main", t)
		if err != nil {
			return err
		}
		if !slices.Equal(cols, s.cols[t]) {
			return fmt.Errorf("the journal's table %s changed during the archive (was it upgraded?); run the archive again", t)
		}
	}
	return nil
}

func (s *archiveSession) colList(table, alias string) string {
	cols := s.cols[table]
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = alias + quoteIdent(c.name)
	}
	return strings.Join(out, ", ")
}

// same is the SQL condition "rows a and b of table are identical".
func (s *archiveSession) same(table, a, b string) string {
	cols := s.cols[table]
	out := make([]string, len(cols))
	for i, c := range cols {
		q := quoteIdent(c.name)
		out[i] = a + "." + q + " IS " + b + "." + q
	}
	return "(" + strings.Join(out, " AND ") + ")"
}

// quoted returns the states as SQL string literals (they are constants).
func quoted(states []string) string {
	q := make([]string, len(states))
	for i, s := range states {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ", ")
}

// paymentMovable is the SQL condition "payment p may leave the journal",
// apart from the cutoff: final; in no batch or a closed one; not the
// original of an open void, refund or completion; not one with an open
// alert (a person has yet to act on it); and not the journal's newest
// payment, nor the one behind its newest seq, nor the one with its newest
// event (ids and seqs must never be handed out again). The state
// test is written +p.state so that the planner walks ids, not states.
func paymentMovable(p string) string {
	return `+` + p + `.state IN (` + quoted(FinalStates()) + `)
	AND (` + p + `.batch_id IS NULL OR EXISTS (SELECT 1 FROM main.batches b WHERE b.id = ` + p + `.batch_id AND b.state = 'closed'))
	AND ` + p + `.merchant_order_no NOT IN (SELECT r.orig_merchant_order_no FROM main.payments r
		WHERE r.state IN (` + quoted(nonFinalStates) + `) AND r.orig_merchant_order_no <> '')
	AND ` + p + `.id <> COALESCE((SELECT MAX(x.id) FROM main.payments x), 0)
	AND ` + p + `.id <> COALESCE((SELECT x.id FROM main.payments x ORDER BY x.last_event_id DESC LIMIT 1), 0)
	AND ` + p + `.id <> COALESCE((SELECT e.payment_id FROM main.payment_events e ORDER BY e.id DESC LIMIT 1), 0)
	AND NOT (` + p + `.alert <> '' AND ` + p + `.alert_handled_at = 0)`
}

// batchMovable is the SQL condition "batch b may leave the journal", apart
// from the cutoff: closed, no payment in the journal belongs to it, and it
// is not its terminal's newest batch (which numbers the next one) nor the
// newest of all.
func batchMovable(b string) string {
	return b + `.state = 'closed'
	AND NOT EXISTS (SELECT 1 FROM main.payments bp WHERE bp.batch_id = ` + b + `.id)
	AND ` + b + `.batch_no < (SELECT MAX(x.batch_no) FROM main.batches x WHERE x.terminal_sn = ` + b + `.terminal_sn)
	AND ` + b + `.id <> (SELECT MAX(x.id) FROM main.batches x)`
}

// samePayment and sameBatch: rows a and b are the same payment or batch
// (perhaps in different versions): the id alone could in theory have been
// handed out again (a journal restored from an old backup).
const (
	samePayment = `a.id = p.id AND a.merchant_order_no = p.merchant_order_no AND a.created_at = p.created_at`
	sameBatch   = `a.id = p.id AND a.terminal_sn = p.terminal_sn AND a.batch_no = p.batch_no AND a.opened_at = p.opened_at`
)

func idsJSON(ids []int64) string {
	b := make([]byte, 0, len(ids)*8+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// copyChunk chooses up to limit eligible rows with ids above after, last
// updated (payments) or closed (batches) before cutoff, and upserts them
// (and a payment's events) into the archive, in one transaction that
// writes only the archive and is committed before anything is deleted.
// An archived row is only replaced by a newer version of the same payment
// or batch. The transaction refuses to commit when the file is not on the
// pending list (errNotListed).
func (s *archiveSession) copyChunk(ctx context.Context, k archiveKind, cutoff, after int64, limit int) ([]int64, error) {
	var ids []int64
	err := inTx(ctx, s.conn, func(tx *sql.Tx) error {
		if err := s.checkColumns(ctx, tx); err != nil {
			return err
		}
		list, err := readPending(ctx, tx)
		if err != nil {
			return err
		}
		if !slices.Contains(list, s.path) {
			return errNotListed
		}
		if k == archivePayments {
			ids, err = queryIDs(ctx, tx, `SELECT p.id FROM main.payments p WHERE p.id > ? AND +p.updated_at < ? AND `+
				paymentMovable("p")+` ORDER BY p.id LIMIT ?`, after, cutoff, limit)
		} else {
			ids, err = queryIDs(ctx, tx, `SELECT p.id FROM main.batches p WHERE p.id > ? AND p.closed_at < ? AND `+
				batchMovable("p")+` ORDER BY p.id LIMIT ?`, after, cutoff, limit)
		}
		if err != nil {
			return fmt.Errorf("choose %s to archive: %w", k, err)
		}
		if len(ids) == 0 {
			return nil
		}
		js := idsJSON(ids)
		table, same := "payments", `a.merchant_order_no = excluded.merchant_order_no AND a.created_at = excluded.created_at
			AND a.updated_at <= excluded.updated_at`
		if k == archiveBatches {
			table, same = "batches", `a.terminal_sn = excluded.terminal_sn AND a.batch_no = excluded.batch_no AND a.opened_at = excluded.opened_at`
		}
		set := make([]string, 0, len(s.cols[table]))
		for _, c := range s.cols[table][1:] {
			q := quoteIdent(c.name)
			set = append(set, q+" = excluded."+q)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO arc.`+table+` AS a (`+s.colList(table, "")+`)
			SELECT `+s.colList(table, "")+` FROM main.`+table+` WHERE id IN (SELECT value FROM json_each(?))
			ON CONFLICT (id) DO UPDATE SET `+strings.Join(set, ", ")+` WHERE `+same, js); err != nil {
			return fmt.Errorf("copy %s: %w", k, err)
		}
		if k == archivePayments {
			if _, err := tx.ExecContext(ctx, `INSERT INTO arc.payment_events (`+s.colList("payment_events", "")+`)
				SELECT `+s.colList("payment_events", "")+` FROM main.payment_events
				WHERE payment_id IN (SELECT value FROM json_each(?))
				ON CONFLICT (id) DO NOTHING`, js); err != nil {
				return fmt.Errorf("copy events: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// finishMoves deletes from the journal those of ids that may still leave it
// and whose archived copy is complete: the archive's row is identical and,
// for a payment, every one of its events is in the archive unchanged. It
// runs in one journal transaction under archive_guard and returns how many
// rows (and events) it deleted.
func (s *archiveSession) finishMoves(ctx context.Context, k archiveKind, ids []int64) (moved, events int, err error) {
	err = inTx(ctx, s.conn, func(tx *sql.Tx) error {
		if err := s.checkColumns(ctx, tx); err != nil {
			return err
		}
		js := idsJSON(ids)
		var del []int64
		var err error
		if k == archivePayments {
			del, err = queryIDs(ctx, tx, `SELECT p.id FROM main.payments p
				WHERE p.id IN (SELECT value FROM json_each(?)) AND `+paymentMovable("p")+`
				AND EXISTS (SELECT 1 FROM arc.payments a WHERE a.id = p.id AND `+s.same("payments", "a", "p")+`)
				AND NOT EXISTS (SELECT 1 FROM main.payment_events e WHERE e.payment_id = p.id
					AND NOT EXISTS (SELECT 1 FROM arc.payment_events a WHERE a.id = e.id AND `+s.same("payment_events", "a", "e")+`))
				ORDER BY p.id`, js)
		} else {
			del, err = queryIDs(ctx, tx, `SELECT p.id FROM main.batches p
				WHERE p.id IN (SELECT value FROM json_each(?)) AND `+batchMovable("p")+`
				AND EXISTS (SELECT 1 FROM arc.batches a WHERE a.id = p.id AND `+s.same("batches", "a", "p")+`)
				ORDER BY p.id`, js)
		}
		if err != nil {
			return fmt.Errorf("check archived %s: %w", k, err)
		}
		if len(del) == 0 {
			return nil
		}
		dj := idsJSON(del)
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.archive_guard (id, started_at) VALUES (1, ?)`, toMS(s.db.now())); err != nil {
			return fmt.Errorf("set archive guard: %w", err)
		}
		if k == archivePayments {
			res, err := tx.ExecContext(ctx, `DELETE FROM main.payment_events WHERE payment_id IN (SELECT value FROM json_each(?))`, dj)
			if err != nil {
				return fmt.Errorf("delete archived events: %w", err)
			}
			n, _ := res.RowsAffected()
			events = int(n)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM main.`+k.String()+` WHERE id IN (SELECT value FROM json_each(?))`, dj)
		if err != nil {
			return fmt.Errorf("delete archived %s: %w", k, err)
		}
		if n, _ := res.RowsAffected(); n != int64(len(del)) {
			return fmt.Errorf("deleted %d archived %s, want %d", n, k, len(del))
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM main.archive_guard`)
		if err != nil {
			return fmt.Errorf("clear archive guard: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("clear archive guard: %d rows, want 1", n)
		}
		moved = len(del)
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return moved, events, nil
}

// inBoth returns up to limit ids above after of rows that are both in the
// journal and, as the same payment or batch, in the archive.
func (s *archiveSession) inBoth(ctx context.Context, k archiveKind, after int64, limit int) ([]int64, error) {
	var ids []int64
	err := inTx(ctx, s.conn, func(tx *sql.Tx) error {
		var err error
		if k == archivePayments {
			ids, err = queryIDs(ctx, tx, `SELECT p.id FROM main.payments p WHERE p.id > ?
				AND EXISTS (SELECT 1 FROM arc.payments a WHERE `+samePayment+`) ORDER BY p.id LIMIT ?`, after, limit)
		} else {
			ids, err = queryIDs(ctx, tx, `SELECT p.id FROM main.batches p WHERE p.id > ?
				AND EXISTS (SELECT 1 FROM arc.batches a WHERE `+sameBatch+`) ORDER BY p.id LIMIT ?`, after, limit)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find %s in the journal and the archive: %w", k, err)
	}
	return ids, nil
}

// dropCopies deletes, in one transaction that writes only the archive, the
// archive's copies of those of ids that are still in the journal when the
// copy holds nothing the journal lacks: the same payment or batch, not
// newer than the journal's row and, for a payment, with no event the
// journal does not hold unchanged. The rest are returned as conflicts.
func (s *archiveSession) dropCopies(ctx context.Context, k archiveKind, ids []int64) (dropped int, conflicts []string, err error) {
	err = inTx(ctx, s.conn, func(tx *sql.Tx) error {
		if err := s.checkColumns(ctx, tx); err != nil {
			return err
		}
		js := idsJSON(ids)
		var drop []int64
		var err error
		if k == archivePayments {
			drop, err = queryIDs(ctx, tx, `SELECT a.id FROM arc.payments a JOIN main.payments p ON `+samePayment+`
				WHERE a.id IN (SELECT value FROM json_each(?)) AND a.updated_at <= p.updated_at
				AND NOT EXISTS (SELECT 1 FROM arc.payment_events x WHERE x.payment_id = a.id
					AND NOT EXISTS (SELECT 1 FROM main.payment_events e WHERE e.id = x.id AND `+s.same("payment_events", "x", "e")+`))
				ORDER BY a.id`, js)
		} else {
			drop, err = queryIDs(ctx, tx, `SELECT a.id FROM arc.batches a JOIN main.batches p ON `+sameBatch+`
				WHERE a.id IN (SELECT value FROM json_each(?))
				AND `+s.same("batches", "a", "p")+`
				ORDER BY a.id`, js)
		}
		if err != nil {
			return fmt.Errorf("check archive copies of %s: %w", k, err)
		}
		left, err := queryIDs(ctx, tx, `SELECT a.id FROM arc.`+k.String()+` a JOIN main.`+k.String()+` p ON `+
			map[archiveKind]string{archivePayments: samePayment, archiveBatches: sameBatch}[k]+`
			WHERE a.id IN (SELECT value FROM json_each(?)) ORDER BY a.id`, js)
		if err != nil {
			return fmt.Errorf("check archive copies of %s: %w", k, err)
		}
		for _, id := range left {
			if !slices.Contains(drop, id) {
				conflicts = append(conflicts, s.describe(ctx, tx, k, id))
			}
		}
		if len(drop) == 0 {
			return nil
		}
		dj := idsJSON(drop)
		if k == archivePayments {
			if _, err := tx.ExecContext(ctx, `DELETE FROM arc.payment_events WHERE payment_id IN (SELECT value FROM json_each(?))`, dj); err != nil {
				return fmt.Errorf("drop archive copies of events: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM arc.`+k.String()+` WHERE id IN (SELECT value FROM json_each(?))`, dj); err != nil {
			return fmt.Errorf("drop archive copies of %s: %w", k, err)
		}
		dropped = len(drop)
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return dropped, conflicts, nil
}

// describe names a row for the log: the order number, or terminal and batch number.
func (s *archiveSession) describe(ctx context.Context, tx *sql.Tx, k archiveKind, id int64) string {
	var d string
	q := `SELECT merchant_order_no FROM main.payments WHERE id = ?`
	if k == archiveBatches {
		q = `SELECT terminal_sn || ' batch ' || batch_no FROM main.batches WHERE id = ?`
	}
	if err := tx.QueryRowContext(ctx, q, id).Scan(&d); err != nil {
		return "id " + strconv.FormatInt(id, 10)
	}
	return d
}

// unlistIfSettled takes the attached archive off the pending list
// when no payment or batch is in it and in the journal, in one journal
// transaction that also holds the archive's write lock, so no copy into it
// can slip in between.
func (s *archiveSession) unlistIfSettled(ctx context.Context) error {
	err := inTx(ctx, s.conn, func(tx *sql.Tx) error {
		if s.hasTables {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT
				(SELECT COUNT(*) FROM main.payments p WHERE EXISTS (SELECT 1 FROM arc.payments a WHERE `+samePayment+`)) +
				(SELECT COUNT(*) FROM main.batches p WHERE EXISTS (SELECT 1 FROM arc.batches a WHERE `+sameBatch+`))`).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
		}
		return removePending(ctx, tx, s.path, s.db.now())
	})
	if err != nil {
		return fmt.Errorf("take archive off the pending list: %w", err)
	}
	return nil
}

// reclaim gives freed pages back to the file system when the journal was
// created with auto_vacuum=incremental; otherwise SQLite reuses them and the
// file stops growing.
func (db *DB) reclaim(ctx context.Context) error {
	var mode int
	if err := db.reader.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		return fmt.Errorf("read auto_vacuum: %w", err)
	}
	if mode != 2 {
		return nil
	}
	select {
	case db.writeMu <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for writer: %w", ctx.Err())
	}
	defer func() { <-db.writeMu }()
	if _, err := db.writer.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
		return fmt.Errorf("incremental vacuum: %w", err)
	}
	return nil
}

// archiveDryRun counts what Archive would move now, reading one snapshot of
// the journal: payments (and events) eligible at the cutoff, and the closed
// batches that would be left without payments.
func (db *DB) archiveDryRun(ctx context.Context, res *ArchiveResult) error {
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	cutoff := toMS(res.Cutoff)
	with := `WITH c(id) AS MATERIALIZED (SELECT p.id FROM main.payments p WHERE +p.updated_at < ?1 AND ` + paymentMovable("p") + `) `
	err = tx.QueryRowContext(ctx, with+`SELECT
		(SELECT COUNT(*) FROM c),
		(SELECT COUNT(*) FROM main.payment_events e WHERE e.payment_id IN c),
		(SELECT COUNT(*) FROM main.batches b WHERE b.closed_at < ?1 AND b.state = 'closed'
			AND NOT EXISTS (SELECT 1 FROM main.payments p WHERE p.batch_id = b.id AND p.id NOT IN c)
			AND b.batch_no < (SELECT MAX(x.batch_no) FROM main.batches x WHERE x.terminal_sn = b.terminal_sn)
			AND b.id <> (SELECT MAX(x.id) FROM main.batches x))`, cutoff).Scan(&res.Payments, &res.Events, &res.Batches)
	if err != nil {
		return fmt.Errorf("count archivable rows: %w", err)
	}
	return nil
}

// ArchivedPayment looks merchantOrderNo up in the archive file at path,
// opened read-only, and returns the newest archived payment with that
// number and its events, or ErrNotFound.
func ArchivedPayment(ctx context.Context, path, merchantOrderNo string) (*Payment, []Event, error) {
	fail := func(err error) (*Payment, []Event, error) {
		return nil, nil, fmt.Errorf("look up %q in archive %s: %w", merchantOrderNo, path, err)
	}
	if !filepath.IsAbs(path) {
		return fail(fmt.Errorf("path is not absolute: %w", ErrInvalid))
	}
	if _, err := os.Stat(path); err != nil {
		return fail(err)
	}
	a, err := sql.Open("sqlite", "file:"+uriPath(filepath.Clean(path), isWindows)+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return fail(err)
	}
	defer a.Close()
	cols, err := archivedPaymentCols(ctx, a)
	if err != nil {
		return fail(err)
	}
	p, err := scanPayment(a.QueryRowContext(ctx, `SELECT `+cols+` FROM payments WHERE merchant_order_no = ? ORDER BY id DESC LIMIT 1`, merchantOrderNo))
	if errors.Is(err, sql.ErrNoRows) {
		return fail(ErrNotFound)
	}
	if err != nil {
		return fail(err)
	}
	rows, err := a.QueryContext(ctx, `SELECT id, payment_id, merchant_order_no, kind, from_state, to_state, detail, at
		FROM payment_events WHERE payment_id = ? ORDER BY id`, p.ID)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	var evs []Event
	for rows.Next() {
		var (
			e  Event
			at int64
		)
		if err := rows.Scan(&e.ID, &e.PaymentID, &e.MerchantOrderNo, &e.Kind, &e.FromState, &e.ToState, &e.Detail, &at); err != nil {
			return fail(err)
		}
		e.At = fromMS(at)
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	return p, evs, nil
}

// laterPaymentCols are the payments columns an archive written before
// their migration lacks (an archive gains a journal's new columns only when
// it is next written), with the value such a payment reads as.
var laterPaymentCols = map[string]string{
	"card_aid": "''", "card_app_label": "''", "provider_tid": "''", "provider_mid": "''", "provider_at": "0",
	"alert_handled_at": "0",
}

// archivedPaymentCols is paymentCols for the archive a: a column it does
// not have yet reads as its default.
func archivedPaymentCols(ctx context.Context, a *sql.DB) (string, error) {
	have, err := tableColumns(ctx, a, "main", "payments")
	if err != nil {
		return "", err
	}
	names := make(map[string]bool, len(have))
	for _, c := range have {
		names[c.name] = true
	}
	cols := strings.Split(paymentCols, ",")
	for i, c := range cols {
		c = strings.TrimSpace(c)
		if dflt, ok := laterPaymentCols[c]; ok && !names[c] {
			c = dflt
		}
		cols[i] = c
	}
	return strings.Join(cols, ", "), nil
}
