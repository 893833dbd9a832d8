package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Sentinel errors; callers branch with errors.Is.
var (
	// ErrNotFound means no row matched: no such payment, terminal or setting.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate means a payment with the same merchant_order_no already
	// exists; InsertPayment returns the existing payment with it.
	ErrDuplicate = errors.New("duplicate merchant_order_no")
	// ErrStateChanged means a Transition's precondition failed: the payment was
	// not in one of the expected states. Transition returns the current payment
	// with it.
	ErrStateChanged = errors.New("state changed concurrently")
	// ErrNewerSchema means the database was migrated by a newer posbridge than
	// this one; it is refused rather than misread.
	ErrNewerSchema = errors.New("database schema is newer than this posbridge")
	// ErrInvalid means a value handed to the store breaks the journal's rules
	// (unknown state or type, negative amount, an unmasked PAN, ...). Nothing
	// was written.
	ErrInvalid = errors.New("invalid value")
)

// DefaultReadConns is the default size of the reader pool.
const DefaultReadConns = 4

// DB is the SQLite journal. It holds two pools on one database file: a writer
// pool of exactly one connection, used only under writeMu, and a bounded pool of
// read-only connections. A DB is safe for concurrent use.
type DB struct {
	path   string
	log    *slog.Logger
	now    func() time.Time
	writer *sql.DB
	reader *sql.DB
	// writeMu serialises write transactions inside the process. It is a
	// one-slot channel rather than a sync.Mutex so waiting honours ctx.
	// Other processes (a support CLI) are kept out by BEGIN IMMEDIATE and
	// busy_timeout.
	writeMu chan struct{}
	// pending are the writes waiting for the next group commit (writeThen).
	pendMu  sync.Mutex
	pending []*writeReq
	// rstmts and wstmts keep the hot statements prepared (stmts.go).
	rstmts, wstmts *stmtCache
	closeOnce      sync.Once
	closeErr       error
}

// Option configures Open.
type Option func(*options)

type options struct {
	log       *slog.Logger
	now       func() time.Time
	readConns int
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock used for CreatedAt, UpdatedAt and event times
// (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithReadConns sets the size of the reader pool (default DefaultReadConns).
// Values below 1 are ignored.
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// Open opens (creating if needed) the journal at the absolute path, checks the
// connection settings, and applies any pending migrations. A database written
// by a newer posbridge is refused with ErrNewerSchema. The directory must exist;
// a new database file is created readable by its owner only.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o := options{log: slog.New(slog.DiscardHandler), now: time.Now, readConns: DefaultReadConns}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.readConns < 1 {
		o.readConns = DefaultReadConns
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("open journal: path %q is not absolute", path)
	}
	path = filepath.Clean(path)
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}

	db := &DB{path: path, log: o.log, now: o.now, writeMu: make(chan struct{}, 1)}
	if err := db.open(ctx, o.readConns); err != nil {
		db.closePools()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	db.rstmts, db.wstmts = newStmtCache(db.reader), newStmtCache(db.writer)
	return db, nil
}

// createPrivate creates the database file with mode 0600 when it does not
// exist yet, so SQLite (which copies the main file's mode to -wal and -shm)
// never creates a world-readable journal.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return nil
}

func (db *DB) open(ctx context.Context, readConns int) error {
	w, err := sql.Open("sqlite", writerDSN(db.path))
	if err != nil {
		return fmt.Errorf("open writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db.writer = w
	if err := verifyPragmas(ctx, w, false); err != nil {
		return fmt.Errorf("check writer: %w", err)
	}
	if err := db.migrate(ctx, embeddedMigrations()); err != nil {
		return err
	}

	r, err := sql.Open("sqlite", readerDSN(db.path))
	if err != nil {
		return fmt.Errorf("open readers: %w", err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	db.reader = r
	if err := verifyPragmas(ctx, r, true); err != nil {
		return fmt.Errorf("check readers: %w", err)
	}
	return nil
}

// verifyPragmas checks on one pooled connection that the DSN's settings took
// effect: WAL, synchronous=FULL, foreign keys on, the busy timeout, and for
// the reader pool query_only.
func verifyPragmas(ctx context.Context, pool *sql.DB, readOnly bool) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()

	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("journal_mode is %q, want \"wal\" (is the file on a network share?)", mode)
	}
	want := []struct {
		pragma string
		value  int64
	}{
		{"synchronous", 2},
		{"foreign_keys", 1},
		{"busy_timeout", 10000},
		{"query_only", 0},
	}
	if readOnly {
		want[3].value = 1
	}
	for _, w := range want {
		var got int64
		if err := conn.QueryRowContext(ctx, "PRAGMA "+w.pragma).Scan(&got); err != nil {
			return fmt.Errorf("read %s: %w", w.pragma, err)
		}
		if got != w.value {
			return fmt.Errorf("%s is %d, want %d", w.pragma, got, w.value)
		}
	}
	return nil
}

// Close closes both pools. It is safe to call more than once.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { db.closeErr = db.closePools() })
	return db.closeErr
}

func (db *DB) closePools() error {
	var errs []error
	for _, c := range []*stmtCache{db.rstmts, db.wstmts} {
		if c != nil {
			errs = append(errs, c.close())
		}
	}
	if db.reader != nil {
		if err := db.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close readers: %w", err))
		}
	}
	if db.writer != nil {
		if err := db.writer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close writer: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Path returns the database file's path as given to Open (cleaned).
func (db *DB) Path() string { return db.path }

// Ping proves the journal is writable: it runs a write transaction that
// stores the current time under the settings key "ping". /readyz uses it.
func (db *DB) Ping(ctx context.Context) error {
	now := db.now()
	err := db.write(ctx, func(tx *sql.Tx) error {
		return upsertSetting(ctx, tx, "ping", now.UTC().Format(time.RFC3339Nano), now)
	})
	if err != nil {
		return fmt.Errorf("ping journal: %w", err)
	}
	return nil
}

// write runs fn in one write transaction (BEGIN IMMEDIATE on the single writer
// connection), committing when fn returns nil and rolling back otherwise.
// fn must do nothing but SQL, and may run more than once (see writeThen).
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.writeThen(ctx, fn, nil)
}

// writeReq is one caller's write waiting for a commit.
type writeReq struct {
	ctx   context.Context
	fn    func(*sql.Tx) error
	after func()
	err   error
	panic any // a panic of fn, raised again in the caller's goroutine
	done  chan struct{}
}

// result is r's outcome once done, re-raising a panic of its fn.
func (r *writeReq) result() error {
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

// maxGroup bounds how many waiting writes one commit takes.
const maxGroup = 64

// writeThen is write with after, which runs once fn's transaction has
// committed, before writeThen returns, in commit order with every other
// write's after (the agent publishes changes in seq order through it).
//
// Group commit: writes that arrive while another commits wait in a list; the
// next writer to take writeMu runs all of them in one transaction, so one
// fsync serves many (independent terminals no longer wait for each other's
// fsyncs). If any of them fails, the whole group is rolled back and each runs
// again in a transaction of its own, so a failing write never takes another
// down with it: fn may therefore run twice, and must compute everything from
// what it reads in tx.
func (db *DB) writeThen(ctx context.Context, fn func(tx *sql.Tx) error, after func()) error {
	r := &writeReq{ctx: ctx, fn: fn, after: after, done: make(chan struct{})}
	db.pendMu.Lock()
	db.pending = append(db.pending, r)
	db.pendMu.Unlock()
	for {
		select {
		case <-r.done:
			return r.result()
		case db.writeMu <- struct{}{}:
			select {
			case <-r.done: // a previous leader committed it
				<-db.writeMu
				return r.result()
			default:
			}
			// Lead: commit the oldest waiting writes (ours among them
			// unless more than maxGroup wait; then loop for the next).
			db.pendMu.Lock()
			n := min(len(db.pending), maxGroup)
			group := slices.Clone(db.pending[:n])
			db.pending = slices.Delete(db.pending, 0, n)
			db.pendMu.Unlock()
			db.commitGroup(group)
			<-db.writeMu
		case <-ctx.Done():
			if db.unqueue(r) {
				return fmt.Errorf("wait for writer: %w", ctx.Err())
			}
			<-r.done // a leader has it: it runs to its end
			return r.result()
		}
	}
}

// unqueue removes r from the waiting list; false when a leader took it.
func (db *DB) unqueue(r *writeReq) bool {
	db.pendMu.Lock()
	defer db.pendMu.Unlock()
	if i := slices.Index(db.pending, r); i >= 0 {
		db.pending = slices.Delete(db.pending, i, i+1)
		return true
	}
	return false
}

// commitGroup runs group's writes in one transaction (the caller holds
// writeMu), or, when one fails, each in its own; then runs the afters of
// the committed ones in order and releases every waiter.
func (db *DB) commitGroup(group []*writeReq) {
	defer func() {
		if db.wstmts != nil {
			// Prepare what ran unprepared, on the now free writer.
			db.wstmts.preparePending(context.Background())
		}
		for _, r := range group {
			close(r.done)
		}
	}()
	if len(group) > 1 {
		err := db.runTx(context.Background(), func(tx *sql.Tx) error {
			for _, r := range group {
				if err := callWrite(r, tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, r := range group {
				if r.after != nil {
					r.after()
				}
			}
			return
		}
	}
	for _, r := range group {
		r.err = db.runTx(r.ctx, func(tx *sql.Tx) error { return callWrite(r, tx) })
		if r.err == nil && r.after != nil {
			r.after()
		}
	}
}

// callWrite runs one write's fn; a panic rolls the transaction back and is
// handed to the caller's goroutine (the leader runs other callers' writes).
func callWrite(r *writeReq, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panic = p
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	r.panic = nil
	return r.fn(tx)
}

// runTx runs fn in one write transaction on the writer connection.
func (db *DB) runTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return finishTx(tx, fn)
}

// finishTx runs fn in tx and commits; it rolls back on every other path,
// including a panic in fn.
func finishTx(tx *sql.Tx, fn func(*sql.Tx) error) error {
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// toMS converts a time to unix milliseconds; the zero time is 0.
func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts unix milliseconds to a UTC time; 0 is the zero time.
func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
