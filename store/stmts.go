package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache keeps the statements of one pool prepared: SQLite compiles a
// statement on every call otherwise (15% of the agent's CPU under load). A
// statement is prepared on first use; database/sql prepares it again on
// each connection of the pool that runs it, once.
type stmtCache struct {
	pool    *sql.DB
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]bool // met inside a transaction, to prepare after it
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// cached returns the prepared statement for query, or nil after noting the
// query to be prepared by preparePending. Inside a write transaction the
// writer's single connection is taken, so preparing there would wait for
// ever.
func (c *stmtCache) cached(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if c.m != nil {
		c.pending[query] = true
	}
	return nil
}

// preparePending prepares the queries cached noted (best effort: a query
// that fails to prepare runs unprepared next time too).
func (c *stmtCache) preparePending(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.pending {
		delete(c.pending, q)
		if c.m == nil {
			return
		}
		if st, err := c.pool.PrepareContext(ctx, q); err == nil {
			c.m[q] = st
		}
	}
}

func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	if c.m == nil {
		return nil, errors.New("statement cache closed")
	}
	st, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}

// cachedReader runs queries on the reader pool through prepared statements.
type cachedReader struct{ c *stmtCache }

func (r cachedReader) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := r.c.stmt(ctx, query)
	if err != nil {
		return r.c.pool.QueryRowContext(ctx, query, args...) // reports the error itself
	}
	return st.QueryRowContext(ctx, args...)
}

func (r cachedReader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := r.c.stmt(ctx, query)
	if err != nil {
		return r.c.pool.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// cachedTx runs statements of a write transaction through the writer's
// prepared statements.
type cachedTx struct {
	tx *sql.Tx
	c  *stmtCache
}

func (t cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.c.cached(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.c.cached(query); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// r is the reader pool with prepared statements.
func (db *DB) r() cachedReader { return cachedReader{db.rstmts} }

// wtx wraps a write transaction of db.write with prepared statements.
func (db *DB) wtx(tx *sql.Tx) cachedTx { return cachedTx{tx: tx, c: db.wstmts} }
