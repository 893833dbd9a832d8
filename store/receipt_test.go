package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The receipt columns of migration 0010 are written and read back by every
// write path, and refused when they could hold something else than what a
// receipt prints.
func TestReceiptColumns(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	at := time.Date(2026, 12, 6, 14, 3, 9, 0, time.UTC)
	p := newPayment("RC1", "T1")
	p.CardAID, p.CardAppLabel, p.ProviderTID = "A0000000031010", "VISA CREDIT", "TID0001"
	got := mustInsert(t, db, p)
	if got.CardAID != "A0000000031010" || got.CardAppLabel != "VISA CREDIT" || got.ProviderTID != "TID0001" || !got.ProviderAt.IsZero() {
		t.Errorf("inserted = %+v", got)
	}
	got, err := db.Transition(ctx, "RC1", nil, func(p *Payment) error {
		p.State, p.ProviderMID, p.ProviderAt = StateApproved, "MID-42", at
		return nil
	}, Event{})
	if err != nil {
		t.Fatal(err)
	}
	read, err := db.GetPayment(ctx, "RC1")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []*Payment{got, read} {
		if q.ProviderMID != "MID-42" || !q.ProviderAt.Equal(at) || q.CardAID != "A0000000031010" || q.CardAppLabel != "VISA CREDIT" {
			t.Errorf("after transition = %+v", q)
		}
	}

	for name, set := range map[string]func(*Payment){
		"lower-case AID":    func(p *Payment) { p.CardAID = "a0000000031010" },
		"short AID":         func(p *Payment) { p.CardAID = "A000" },
		"odd AID":           func(p *Payment) { p.CardAID = "A00000000310101" },
		"too long AID":      func(p *Payment) { p.CardAID = "A0000000031010" + "A0000000031010" + "A00000" },
		"a PAN in the AID":  func(p *Payment) { p.CardAID = "A000000003" + "4111111111111111" },
		"a PAN as label":    func(p *Payment) { p.CardAppLabel = "4111111111111111" },
		"label with LF":     func(p *Payment) { p.CardAppLabel = "VISA\nCREDIT" },
		"long label":        func(p *Payment) { p.CardAppLabel = strings.Repeat("L", 17) },
		"TID with a escape": func(p *Payment) { p.ProviderTID = "T\x1b[2J" },
	} {
		t.Run(name, func(t *testing.T) {
			_, err := db.Transition(ctx, "RC1", nil, func(p *Payment) error { set(p); return nil }, Event{})
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Transition = %v, want ErrInvalid", err)
			}
		})
	}
	// The CHECK constraints hold the same line for a write that bypasses
	// the store's checks.
	for _, q := range []string{
		`UPDATE payments SET card_aid = 'a0000000031010' WHERE merchant_order_no = 'RC1'`,
		`UPDATE payments SET card_aid = '4761' WHERE merchant_order_no = 'RC1'`,
		`UPDATE payments SET card_app_label = '` + strings.Repeat("L", 33) + `' WHERE merchant_order_no = 'RC1'`,
	} {
		if _, err := db.writer.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: accepted", q)
		}
	}
}

// An archive written before migration 0010 lacks its columns until it is
// written again; a payment looked up in it reads them as empty.
func TestArchivedPaymentBeforeReceiptColumns(t *testing.T) {
	ctx := context.Background()
	clock := &setClock{}
	db := openTest(t, WithClock(clock.Now))
	clock.Set(archOld)
	b := journalBuilder{t, db}
	b.pay("OLD1", "T1", TypeSale, "", StateSending, StateDeclined)
	clock.Set(archNow)
	b.pay("NEW1", "T1", TypeSale, "") // the newest payment always stays
	path := filepath.Join(t.TempDir(), "posbridge-archive-2025.db")
	if res, err := db.Archive(ctx, archCutoff, path, ArchiveOptions{}); err != nil || res.Payments != 1 {
		t.Fatalf("Archive = %+v, %v", res, err)
	}
	a := openArchiveFile(t, path)
	for _, c := range []string{"card_aid", "card_app_label", "provider_tid", "provider_mid", "provider_at"} {
		if _, err := a.ExecContext(ctx, `ALTER TABLE payments DROP COLUMN `+c); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	p, _, err := ArchivedPayment(ctx, path, "OLD1")
	if err != nil {
		t.Fatalf("ArchivedPayment in an archive without the receipt columns = %v", err)
	}
	if p.State != StateDeclined || p.CardAID != "" || !p.ProviderAt.IsZero() {
		t.Errorf("ArchivedPayment = %+v", p)
	}
}

// A journal of schema 9 with payments in it takes migration 0010: its
// payments read as before, with empty receipt columns.
func TestMigrateToReceiptColumns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v9.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(embeddedMigrations())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 10 {
			break
		}
		if _, err := raw.ExecContext(ctx, m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := raw.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, 1)`, m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO payments (merchant_order_no, type, state, terminal_sn, currency, amount_minor,
		queue_seq, masked_pan, created_at, updated_at) VALUES ('V9PAY', 'sale', 'approved', 'T1', 'USD', 500, 1, '476173******0119', 1, 2)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db := openAt(t, path)
	p, err := db.GetPayment(ctx, "V9PAY")
	if err != nil {
		t.Fatalf("payment of schema 9 after the migration: %v", err)
	}
	if p.MaskedPAN != "476173******0119" || p.CardAID != "" || p.CardAppLabel != "" || p.ProviderTID != "" || !p.ProviderAt.IsZero() {
		t.Errorf("migrated payment = %+v", p)
	}
	if v, _ := schemaVersion(ctx, db.writer); v < 10 {
		t.Errorf("schema version %d after opening, want at least 10", v)
	}
}
