package store

import (
	"context"
	"fmt"
)

// WriteFault is a storage failure the journal can be put into for fault
// tests. The failures are SQLite's own: the engine refuses the writes, exactly
// as on a full disk or a read-only medium, and every reader keeps working.
type WriteFault int

// Write faults.
const (
	// NoWriteFault lifts any injected fault.
	NoWriteFault WriteFault = iota
	// DiskFull caps the database at its current number of pages: a write
	// that needs a new page fails with SQLITE_FULL ("database or disk is
	// full"); writes that fit into free space still succeed, as on a real
	// full disk.
	DiskFull
	// ReadOnly makes every write fail ("attempt to write a readonly database").
	ReadOnly
)

// maxPageCount is SQLite's default (and largest) max_page_count.
const maxPageCount = 4294967294

// InjectWriteFault puts the journal's single writer connection into f (or
// back to normal with NoWriteFault). It is meant for fault-injection tests
// of the layers above; production code never calls it.
func (db *DB) InjectWriteFault(ctx context.Context, f WriteFault) error {
	select {
	case db.writeMu <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("inject write fault: %w", ctx.Err())
	}
	defer func() { <-db.writeMu }()
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return fmt.Errorf("inject write fault: %w", err)
	}
	defer conn.Close()
	var pages int64
	if err := conn.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return fmt.Errorf("inject write fault: %w", err)
	}
	limit, queryOnly := int64(maxPageCount), 0
	switch f {
	case DiskFull:
		limit = pages
	case ReadOnly:
		queryOnly = 1
	}
	for _, q := range []string{fmt.Sprintf(`PRAGMA max_page_count = %d`, limit), fmt.Sprintf(`PRAGMA query_only = %d`, queryOnly)} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("inject write fault: %s: %w", q, err)
		}
	}
	return nil
}
