package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms, err := loadMigrations(embeddedMigrations())
	if err != nil {
		t.Fatalf("loadMigrations(embedded) = %v", err)
	}
	if len(ms) == 0 || ms[0].name != "0001_init.sql" {
		t.Fatalf("embedded migrations = %v", ms)
	}
	// Money must never be NUMERIC/DECIMAL/REAL; SQLite would convert values.
	bad := regexp.MustCompile(`(?i)\b(NUMERIC|DECIMAL|REAL|FLOAT|DOUBLE)\b`)
	for _, m := range ms {
		for i, line := range strings.Split(m.sql, "\n") {
			code, _, _ := strings.Cut(line, "--")
			if bad.MatchString(code) {
				t.Errorf("%s:%d uses a non-exact numeric type: %s", m.name, i+1, line)
			}
		}
	}
}

func TestSchemaColumnTypes(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	rows, err := db.reader.QueryContext(ctx, `SELECT m.name, p.name, p.type FROM sqlite_schema m
		JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	tables := map[string]bool{}
	for rows.Next() {
		var table, col, typ string
		if err := rows.Scan(&table, &col, &typ); err != nil {
			t.Fatal(err)
		}
		tables[table] = true
		if typ != "INTEGER" && typ != "TEXT" {
			t.Errorf("%s.%s has type %q, want INTEGER or TEXT", table, col, typ)
		}
		if strings.HasSuffix(col, "_minor") && typ != "INTEGER" {
			t.Errorf("money column %s.%s is %s, want INTEGER", table, col, typ)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"payments", "payment_events", "terminals", "settings", "batches", "schema_migrations"} {
		if !tables[want] {
			t.Errorf("table %s missing (have %v)", want, tables)
		}
	}
	var strict int
	if err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_table_list WHERE schema = 'main'
		AND name NOT LIKE 'sqlite_%' AND strict = 0`).Scan(&strict); err != nil {
		t.Fatal(err)
	}
	if strict != 0 {
		t.Errorf("%d tables are not STRICT", strict)
	}
}

// schemaSQL returns the schema text, to compare before and after a reopen.
func schemaSQL(t *testing.T, db *DB) string {
	t.Helper()
	rows, err := db.reader.QueryContext(context.Background(), `SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		b.WriteString(s + ";\n")
	}
	return b.String()
}

func TestMigrationsIdempotentOnReopen(t *testing.T) {
	path := t.TempDir() + "/j.db"
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	mustInsert(t, db, newPayment("M1", "T1"))
	schema := schemaSQL(t, db)
	db.Close()

	for i := 0; i < 3; i++ {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		if got := schemaSQL(t, db); got != schema {
			t.Errorf("reopen %d changed the schema:\n%s\nwant\n%s", i, got, schema)
		}
		ms, _ := loadMigrations(embeddedMigrations())
		if n := count(t, db, `SELECT COUNT(*) FROM schema_migrations`); n != len(ms) {
			t.Errorf("schema_migrations rows = %d, want %d", n, len(ms))
		}
		if _, err := db.GetPayment(ctx, "M1"); err != nil {
			t.Errorf("payment lost on reopen %d: %v", i, err)
		}
		db.Close()
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := t.TempDir() + "/j.db"
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	// A newer posbridge recorded migration 42.
	if _, err := db.writer.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (42, '0042_future.sql', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db2, err := Open(ctx, path)
	if err == nil {
		db2.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open = %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{"42", "upgrade posbridge", path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestMigrateAppliesEachInOneTransaction(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	base, err := loadMigrations(embeddedMigrations())
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for _, m := range base {
		fsys[m.name] = &fstest.MapFile{Data: []byte(m.sql)}
	}
	next := len(base) + 1
	name := func(v int, label string) string { return fmt.Sprintf("%04d_%s.sql", v, label) }

	// A migration that fails half-way leaves nothing behind.
	fsys[name(next, "broken")] = &fstest.MapFile{Data: []byte(`
		CREATE TABLE half_done (x INTEGER) STRICT;
		INSERT INTO half_done VALUES (1);
		INSERT INTO no_such_table VALUES (1);`)}
	if err := db.migrate(ctx, fsys); err == nil {
		t.Fatal("migrate with a broken migration succeeded")
	}
	if n := count(t, db, `SELECT COUNT(*) FROM sqlite_schema WHERE name = 'half_done'`); n != 0 {
		t.Error("table from the failed migration exists")
	}
	if v, _ := schemaVersion(ctx, db.writer); v != len(base) {
		t.Errorf("schema version = %d after failed migration, want %d", v, len(base))
	}

	// The fixed migration applies, is recorded, and runs once only.
	fsys[name(next, "broken")] = &fstest.MapFile{Data: []byte(`
		CREATE TABLE half_done (x INTEGER) STRICT;
		INSERT INTO half_done VALUES (1);`)}
	for i := 0; i < 2; i++ {
		if err := db.migrate(ctx, fsys); err != nil {
			t.Fatalf("migrate run %d = %v", i, err)
		}
	}
	if n := count(t, db, `SELECT COUNT(*) FROM half_done`); n != 1 {
		t.Errorf("half_done rows = %d, want 1 (migration ran more than once?)", n)
	}
	if v, _ := schemaVersion(ctx, db.writer); v != next {
		t.Errorf("schema version = %d, want %d", v, next)
	}
}

func TestLoadMigrationsRejectsBadSets(t *testing.T) {
	ok := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name string
		fsys fstest.MapFS
	}{
		{"empty", fstest.MapFS{}},
		{"gap", fstest.MapFS{"0001_a.sql": ok, "0003_c.sql": ok}},
		{"starts at 2", fstest.MapFS{"0002_b.sql": ok}},
		{"repeat", fstest.MapFS{"0001_a.sql": ok, "0001_b.sql": ok}},
		{"bad name", fstest.MapFS{"0001_a.sql": ok, "2_b.sql": ok}},
		{"upper-case label", fstest.MapFS{"0001_Init.sql": ok}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if ms, err := loadMigrations(tc.fsys); err == nil {
				t.Fatalf("loadMigrations = %v, want error", ms)
			}
		})
	}
	ms, err := loadMigrations(fstest.MapFS{"0002_b.sql": ok, "0001_a.sql": ok, "README.md": ok, "sub/0003_c.sql": ok})
	if err != nil || len(ms) != 2 || ms[0].version != 1 || ms[1].version != 2 {
		t.Errorf("loadMigrations(valid) = %+v, %v", ms, err)
	}
}

func TestParseMigrationName(t *testing.T) {
	tests := []struct {
		name    string
		want    int
		wantErr bool
	}{
		{"0001_init.sql", 1, false},
		{"0012_add_batch_id.sql", 12, false},
		{"12345_big.sql", 12345, false},
		{"0001_init.SQL", 0, true},
		{"0001_init", 0, true},
		{"001_init.sql", 0, true},
		{"0000_zero.sql", 0, true},
		{"0001_.sql", 0, true},
		{"0001init.sql", 0, true},
		{"000a_x.sql", 0, true},
		{"-001_x.sql", 0, true},
		{"0001_x-y.sql", 0, true},
		{"99999999999999999999_x.sql", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMigrationName(tc.name)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseMigrationName(%q) = %d, %v; want %d, error %v", tc.name, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func FuzzParseMigrationName(f *testing.F) {
	for _, s := range []string{"0001_init.sql", "0012_add_x.sql", "0000_x.sql", "1_x.sql", "", ".sql", "0001_.sql", "９９９９_x.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, err := parseMigrationName(name)
		if err != nil {
			if v != 0 {
				t.Fatalf("parseMigrationName(%q) = %d with error %v", name, v, err)
			}
			return
		}
		if v < 1 {
			t.Fatalf("parseMigrationName(%q) = %d, want >= 1", name, v)
		}
		// An accepted name re-formats to itself (modulo leading zeros).
		num, rest, _ := strings.Cut(name, "_")
		if strings.TrimLeft(num, "0") != strconv.Itoa(v) || !strings.HasSuffix(rest, ".sql") {
			t.Fatalf("parseMigrationName(%q) = %d, inconsistent with the name", name, v)
		}
	})
}
