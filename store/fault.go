package store

import (
	"context"
	"fmt"
	"strings"
)

// WriteFault is a storage failure the journal can be put into for fault
// tests. The failures are SQLite's own: the engine refuses the writes, exactly
// as on a full disk or a read-only medium, and every reader keeps working.
type WriteFault int

// Write faults.
const (
	// NoWriteFault lifts any injected fault.
	NoWriteFault WriteFault = iota
	// DiskFull caps the database at its current number of pages and fills
	// its free pages: a write that needs a new page fails with SQLITE_FULL
	// ("database or disk is full"); writes that fit into the free space left
	// inside existing pages still succeed, as on a real full disk.
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
	exec := func(q string) error {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("inject write fault: %s: %w", q, err)
		}
		return nil
	}
	for _, q := range []string{`PRAGMA query_only = 0`, fmt.Sprintf(`PRAGMA max_page_count = %d`, maxPageCount), `DROP TABLE IF EXISTS fault_fill`} {
		if err := exec(q); err != nil {
			return err
		}
	}
	switch f {
	case ReadOnly:
		return exec(`PRAGMA query_only = 1`)
	case DiskFull:
		if err := exec(`CREATE TABLE fault_fill (b BLOB)`); err != nil {
			return err
		}
		var pages int64
		if err := conn.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
			return fmt.Errorf("inject write fault: %w", err)
		}
		if err := exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
			return err
		}
		// Use up the free pages (and those the fill table itself needs),
		// one page-sized row at a time, until SQLite says the disk is full.
		for i := 0; ; i++ {
			_, err := conn.ExecContext(ctx, `INSERT INTO fault_fill (b) VALUES (zeroblob(3000))`)
			if err != nil {
				if !strings.Contains(err.Error(), "full") {
					return fmt.Errorf("inject write fault: fill: %w", err)
				}
				break
			}
			if i > 1<<20 {
				return fmt.Errorf("inject write fault: the journal never filled up")
			}
		}
	}
	return nil
}
