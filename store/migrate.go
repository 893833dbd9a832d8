package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema step.
type migration struct {
	version int
	name    string // file name, e.g. "0001_init.sql"
	sql     string
}

// embeddedMigrations returns the migrations compiled into the binary, below
// the "migrations" directory.
func embeddedMigrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		// fs.Sub fails only on an invalid directory name, a constant here.
		panic(err)
	}
	return sub
}

// parseMigrationName parses "NNNN_words.sql" (four or more digits, then an
// underscore and lower-case letters, digits or underscores) into its version.
func parseMigrationName(name string) (int, error) {
	base, ok := strings.CutSuffix(name, ".sql")
	if !ok {
		return 0, fmt.Errorf("migration %q: name does not end in .sql", name)
	}
	num, label, ok := strings.Cut(base, "_")
	if !ok || len(num) < 4 || label == "" {
		return 0, fmt.Errorf("migration %q: name is not NNNN_label.sql", name)
	}
	for _, r := range num {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("migration %q: version %q is not a number", name, num)
		}
	}
	for _, r := range label {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return 0, fmt.Errorf("migration %q: label %q is not lower-case words", name, label)
		}
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("migration %q: version %q out of range", name, num)
	}
	return v, nil
}

// loadMigrations reads every *.sql file at the top of fsys. The versions must
// be exactly 1..N, each once.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		v, err := parseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions must be 1..N without gaps or repeats)", m.name, m.version, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations")
	}
	return ms, nil
}

// migrate brings the schema up to the newest migration in fsys. Each
// migration runs in its own write transaction together with the row that
// records it, so a failed migration leaves no trace. Version checks happen
// inside the transaction, so two processes opening the same file at once
// apply each migration exactly once.
func (db *DB) migrate(ctx context.Context, fsys fs.FS) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	known := ms[len(ms)-1].version

	err = db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`)
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}

	for _, m := range ms {
		applied := false
		err := db.write(ctx, func(tx *sql.Tx) error {
			cur, err := schemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			if cur > known {
				return fmt.Errorf("schema version %d is newer than %d, the newest this posbridge knows; upgrade posbridge: %w",
					cur, known, ErrNewerSchema)
			}
			if cur >= m.version {
				return nil
			}
			if cur != m.version-1 {
				return fmt.Errorf("schema version %d cannot take migration %s", cur, m.name)
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, toMS(db.now())); err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
			}
			applied = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("migrate schema: %w", err)
		}
		if applied {
			db.log.Info("applied journal migration", slog.Int("version", m.version), slog.String("name", m.name))
		}
	}
	return nil
}

// schemaVersion returns the highest recorded migration (0 for a new database).
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
