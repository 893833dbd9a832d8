package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Payment states. The final states are approved, declined, cancelled, expired
// and failed; unknown is never final (the outcome is being reconciled).
const (
	StateQueued     = "queued"
	StateSending    = "sending"
	StateOnTerminal = "on_terminal"
	StateApproved   = "approved"
	StateDeclined   = "declined"
	StateCancelled  = "cancelled"
	StateExpired    = "expired"
	StateFailed     = "failed"
	StateUnknown    = "unknown"
)

// Payment types.
const (
	TypeSale       = "sale"
	TypeRefund     = "refund"
	TypeVoid       = "void"
	TypePreAuth    = "preauth"
	TypeCompletion = "completion"
	TypeCashback   = "cashback"
)

// Event kinds the store fills in when an Event's Kind is empty.
const (
	EventCreated = "created" // InsertPayment's default
	EventState   = "state"   // Transition's default
)

// FinalStates returns the final payment states, in a new slice.
func FinalStates() []string {
	return []string{StateApproved, StateDeclined, StateCancelled, StateExpired, StateFailed}
}

// IsFinal reports whether state is a final payment state.
func IsFinal(state string) bool {
	switch state {
	case StateApproved, StateDeclined, StateCancelled, StateExpired, StateFailed:
		return true
	}
	return false
}

// nonFinalStates are the states NonFinal returns; activeStates those of the
// payment a terminal is working on.
var (
	nonFinalStates = []string{StateQueued, StateSending, StateOnTerminal, StateUnknown}
	activeStates   = []string{StateSending, StateOnTerminal, StateUnknown}
)

func validState(s string) bool {
	return s == StateQueued || slices.Contains(activeStates, s) || IsFinal(s)
}

func validType(t string) bool {
	switch t {
	case TypeSale, TypeRefund, TypeVoid, TypePreAuth, TypeCompletion, TypeCashback:
		return true
	}
	return false
}

// Payment is one payment as journaled. Amounts are int64 minor units of
// Currency. Times are UTC with millisecond precision; the zero time means
// "none".
type Payment struct {
	ID                  int64
	MerchantOrderNo     string // unique; the idempotency key
	Type                string // sale|refund|void|preauth|completion|cashback
	State               string // queued|sending|on_terminal|approved|declined|cancelled|expired|failed|unknown
	Source              string // ws|ecr|console|cli
	TerminalSN          string
	Currency            string
	AmountMinor         int64
	TipMinor            int64
	CashbackMinor       int64
	OrigMerchantOrderNo string
	Description         string
	Route               string // codepay|bindo
	RequestHash         string // hash of the creating parameters, for idempotency comparison
	OptionsJSON         string // the options object as JSON text ("" = none)
	QueueSeq            int64  // FIFO order within a terminal; assigned by InsertPayment
	CreateSent          bool   // true once a create order may have reached the provider
	TransNo             string
	TransStatus         string // "" when none, else the provider's status as text
	AuthCode            string
	RefNo               string
	CardBrand           string
	MaskedPAN           string // never a full PAN: at most 10 digits, or 12 with a mask character
	EntryMode           string
	ErrorCode           string
	ErrorMessage        string
	ExpiresAt           time.Time
	// NextCheckAt, when not zero, parks the payment: its order can no longer
	// occupy the terminal but its outcome is open, so the terminal's queue
	// moves on (Active skips it) and the background reconciler looks at it
	// at this time (ParkedDue).
	NextCheckAt time.Time
	Attempts    int // queries/polls so far
	// CreateEndedAt is when the HTTP exchange of the latest create order
	// ended (zero = none yet); Resends counts creates sent again after a
	// definitive "order not found".
	CreateEndedAt time.Time
	Resends       int
	// BatchID is the terminal batch the payment was approved into (0 = none).
	// Transition assigns the terminal's current batch in the same transaction
	// that makes a payment approved.
	BatchID int64
	// Alert is a note a person must see (never card data); "" when none.
	Alert string
	// AlertHandledAt is when a person marked the alert handled (zero: open,
	// or no alert). A transition that changes Alert opens it again.
	AlertHandledAt time.Time
	// What a provider's answer says for the receipt (migration 0010,
	// docs/receipts.md): the EMV application identifier (upper-case hex)
	// and label where known, the provider's terminal id (TID) and merchant
	// id (MID), and when the provider says the transaction ended (zero: not
	// said). None of them is card data.
	CardAID      string
	CardAppLabel string
	ProviderTID  string
	ProviderMID  string
	ProviderAt   time.Time
	// EventID is the id of the journal event behind the payment's current
	// state: the event InsertPayment or Transition wrote last (AppendEvent
	// leaves it alone). It grows with every change and no two payments share
	// one, so it orders changes across payments. The store sets it; a value
	// given to InsertPayment or set by a Transition's mutate is ignored.
	EventID   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Event is one entry of a payment's append-only history.
type Event struct {
	ID              int64
	PaymentID       int64
	MerchantOrderNo string
	Kind            string // e.g. "created", "state", "query", "error", "notification"
	FromState       string
	ToState         string
	Detail          string // short human text, never card data
	At              time.Time
}

// ListFilter selects payments for ListPayments. Zero fields do not filter.
type ListFilter struct {
	TerminalSN string
	State      string   // one state; combined with States as "any of"
	States     []string // any of these states
	Limit      int      // default 50, at most 500
	BeforeID   int64    // only payments with ID < BeforeID (paging, newest first)
}

// List limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// insertCols lists the payments columns InsertPayment writes, in order;
// paymentCols adds id in front and last_event_id behind, in the order
// scanPayment reads them.
const (
	paymentCols = `id, ` + insertCols + `, last_event_id`
	insertCols  = `merchant_order_no, type, state, source, terminal_sn, currency,
	amount_minor, tip_minor, cashback_minor, orig_merchant_order_no, description, route,
	request_hash, options_json, queue_seq, create_sent, trans_no, trans_status, auth_code,
	ref_no, card_brand, masked_pan, entry_mode, error_code, error_message, expires_at,
	next_check_at, attempts, created_at, updated_at, batch_id, alert, create_ended_at, resends,
	card_aid, card_app_label, provider_tid, provider_mid, provider_at, alert_handled_at`
)

type scanner interface{ Scan(dest ...any) error }

func scanPayment(s scanner) (*Payment, error) {
	var (
		p                                             Payment
		createSent                                    int64
		expires, nextCheck, created, updated, attempt int64
		createEnded, resends, providerAt, handledAt   int64
		batchID                                       sql.NullInt64
	)
	err := s.Scan(&p.ID, &p.MerchantOrderNo, &p.Type, &p.State, &p.Source, &p.TerminalSN, &p.Currency,
		&p.AmountMinor, &p.TipMinor, &p.CashbackMinor, &p.OrigMerchantOrderNo, &p.Description, &p.Route,
		&p.RequestHash, &p.OptionsJSON, &p.QueueSeq, &createSent, &p.TransNo, &p.TransStatus, &p.AuthCode,
		&p.RefNo, &p.CardBrand, &p.MaskedPAN, &p.EntryMode, &p.ErrorCode, &p.ErrorMessage, &expires,
		&nextCheck, &attempt, &created, &updated, &batchID, &p.Alert, &createEnded, &resends,
		&p.CardAID, &p.CardAppLabel, &p.ProviderTID, &p.ProviderMID, &providerAt, &handledAt, &p.EventID)
	if err != nil {
		return nil, err
	}
	p.BatchID = batchID.Int64
	p.CreateSent = createSent != 0
	p.ExpiresAt = fromMS(expires)
	p.NextCheckAt = fromMS(nextCheck)
	p.Attempts = int(attempt)
	p.CreateEndedAt = fromMS(createEnded)
	p.Resends = int(resends)
	p.ProviderAt = fromMS(providerAt)
	p.AlertHandledAt = fromMS(handledAt)
	p.CreatedAt = fromMS(created)
	p.UpdatedAt = fromMS(updated)
	return &p, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// validatePayment checks p against the journal's rules before any SQL runs.
// Its error never contains the masked PAN field's value.
func validatePayment(p *Payment) error {
	var bad []string
	if p.MerchantOrderNo == "" || len(p.MerchantOrderNo) > 64 {
		bad = append(bad, "merchant_order_no must be 1 to 64 bytes")
	}
	if !validType(p.Type) {
		bad = append(bad, fmt.Sprintf("unknown type %q", p.Type))
	}
	if !validState(p.State) {
		bad = append(bad, fmt.Sprintf("unknown state %q", p.State))
	}
	if len(p.Currency) != 3 || strings.ToUpper(p.Currency) != p.Currency {
		bad = append(bad, fmt.Sprintf("currency %q is not a three-letter upper-case code", p.Currency))
	}
	if p.AmountMinor < 0 || p.TipMinor < 0 || p.CashbackMinor < 0 {
		bad = append(bad, "amounts must not be negative")
	}
	if p.Attempts < 0 || p.Resends < 0 {
		bad = append(bad, "attempts and resends must not be negative")
	}
	if p.OptionsJSON != "" && !json.Valid([]byte(p.OptionsJSON)) {
		bad = append(bad, "options_json is not valid JSON")
	}
	if !maskedPANOK(p.MaskedPAN) {
		bad = append(bad, "masked_pan is not masked (at most 10 digits, or 12 with mask characters)")
	}
	bad = append(bad, receiptProblems(p)...)
	if len(bad) > 0 {
		return fmt.Errorf("check payment: %s: %w", strings.Join(bad, "; "), ErrInvalid)
	}
	return nil
}

// receiptProblems checks the receipt columns of migration 0010: the card's
// application identifier and label (CardAIDOK, CardAppLabelOK) and the
// provider's ids, one printable line each within their columns' limits.
func receiptProblems(p *Payment) []string {
	var bad []string
	if !CardAIDOK(p.CardAID) {
		bad = append(bad, "card_aid is not 5 to 16 bytes of upper-case hex without a card number in it")
	}
	if !CardAppLabelOK(p.CardAppLabel) {
		bad = append(bad, "card_app_label is not at most 16 printable characters without a number in it")
	}
	for _, f := range []struct{ name, v string }{{"provider_tid", p.ProviderTID}, {"provider_mid", p.ProviderMID}} {
		if utf8.RuneCountInString(f.v) > 64 || strings.ContainsFunc(f.v, unicode.IsControl) {
			bad = append(bad, f.name+" is not one printable line of at most 64 characters")
		}
	}
	return bad
}

// CardAIDOK reports whether s may be stored as a card's EMV application
// identifier: "" or 5 to 16 bytes in upper-case hex in which no run of
// decimal digits is, leading zeros aside, 12 digits or longer. A real AID
// (A0000000031010) passes; a card number cannot hide in one that does.
func CardAIDOK(s string) bool {
	if s == "" {
		return true
	}
	if len(s) < 10 || len(s) > 32 || len(s)%2 != 0 || strings.Trim(s, "0123456789ABCDEF") != "" {
		return false
	}
	return longestDigitRun(s, true) < 12
}

// CardAppLabelOK reports whether s may be stored as a card's EMV
// application label (tag 50): "" or at most 16 printable ASCII characters
// with no run of more than 4 digits ("VISA CREDIT", "girocard").
func CardAppLabelOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return len(s) <= 16 && longestDigitRun(s, false) <= 4
}

// longestDigitRun is the length of the longest run of ASCII digits in s,
// not counting a run's leading zeros when skipZeros is set.
func longestDigitRun(s string, skipZeros bool) int {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] < '0' || s[i] > '9':
			run = 0
		case run == 0 && s[i] == '0' && skipZeros:
		default:
			run++
			longest = max(longest, run)
		}
	}
	return longest
}

// maskedPANOK reports whether s may be stored as a masked PAN: at most 10
// digits (first 6 + last 4, or fewer, e.g. "1111"), or at most 12 digits
// (first 8 + last 4) when masked with at least one other character. It keeps
// a full PAN out of the journal by mistake.
func maskedPANOK(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			digits++
		}
	}
	return digits <= 10 || (digits <= 12 && digits < len(s))
}

// InsertPayment inserts p and its creation event in one transaction. It
// assigns ID and QueueSeq (the terminal's highest QueueSeq plus one), sets
// CreatedAt and UpdatedAt when zero, and updates *p with the stored values.
// The event's Kind defaults to "created" and its ToState to p.State; its id
// becomes the payment's EventID.
//
// When a payment with p.MerchantOrderNo already exists, it returns that
// payment and ErrDuplicate and writes nothing.
func (db *DB) InsertPayment(ctx context.Context, p *Payment, ev Event) (*Payment, error) {
	return db.InsertPaymentThen(ctx, p, ev, nil)
}

// InsertPaymentThen is InsertPayment with committed, called with the
// payment as stored once it is durable, before InsertPaymentThen returns,
// in commit order with every other write's callback (so changes are
// published in EventID order). committed must not write to the journal.
func (db *DB) InsertPaymentThen(ctx context.Context, p *Payment, ev Event, committed func(*Payment)) (*Payment, error) {
	if p == nil {
		return nil, fmt.Errorf("insert payment: nil payment: %w", ErrInvalid)
	}
	np := *p
	now := db.now()
	if np.CreatedAt.IsZero() {
		np.CreatedAt = now
	}
	if np.UpdatedAt.IsZero() {
		np.UpdatedAt = np.CreatedAt
	}
	if err := validatePayment(&np); err != nil {
		return nil, fmt.Errorf("insert payment %q: %w", np.MerchantOrderNo, err)
	}
	if ev.Kind == "" {
		ev.Kind = EventCreated
	}
	if ev.ToState == "" {
		ev.ToState = np.State
	}
	if ev.At.IsZero() {
		ev.At = np.CreatedAt
	}

	var out *Payment
	errDup := errors.New("duplicate") // private marker to roll back
	err := db.writeThen(ctx, func(tx *sql.Tx) error {
		existing, err := getPayment(ctx, db.wtx(tx), np.MerchantOrderNo)
		switch {
		case err == nil:
			out = existing
			return errDup
		case !errors.Is(err, ErrNotFound):
			return err
		}
		if err := db.wtx(tx).QueryRowContext(ctx,
			`SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM payments WHERE terminal_sn = ?`,
			np.TerminalSN).Scan(&np.QueueSeq); err != nil {
			return fmt.Errorf("assign queue_seq: %w", err)
		}
		res, err := db.wtx(tx).ExecContext(ctx, `INSERT INTO payments (`+insertCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			np.MerchantOrderNo, np.Type, np.State, np.Source, np.TerminalSN, np.Currency,
			np.AmountMinor, np.TipMinor, np.CashbackMinor, np.OrigMerchantOrderNo, np.Description, np.Route,
			np.RequestHash, np.OptionsJSON, np.QueueSeq, boolInt(np.CreateSent), np.TransNo, np.TransStatus, np.AuthCode,
			np.RefNo, np.CardBrand, np.MaskedPAN, np.EntryMode, np.ErrorCode, np.ErrorMessage, toMS(np.ExpiresAt),
			toMS(np.NextCheckAt), np.Attempts, toMS(np.CreatedAt), toMS(np.UpdatedAt), nullID(np.BatchID), np.Alert,
			toMS(np.CreateEndedAt), np.Resends,
			np.CardAID, np.CardAppLabel, np.ProviderTID, np.ProviderMID, toMS(np.ProviderAt), toMS(np.AlertHandledAt))
		if err != nil {
			return fmt.Errorf("insert row: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("read row id: %w", err)
		}
		evID, err := insertEvent(ctx, db.wtx(tx), id, np.MerchantOrderNo, ev)
		if err != nil {
			return err
		}
		if _, err := db.wtx(tx).ExecContext(ctx, `UPDATE payments SET last_event_id = ? WHERE id = ?`, evID, id); err != nil {
			return fmt.Errorf("record event id: %w", err)
		}
		out, err = getPayment(ctx, db.wtx(tx), np.MerchantOrderNo)
		return err
	}, afterCommit(committed, &out))
	switch {
	case errors.Is(err, errDup):
		return out, fmt.Errorf("insert payment %q: %w", np.MerchantOrderNo, ErrDuplicate)
	case err != nil:
		return nil, fmt.Errorf("insert payment %q: %w", np.MerchantOrderNo, err)
	}
	*p = *out
	res := *out
	return &res, nil
}

// Transition changes one payment in one IMMEDIATE transaction: it loads the
// payment; when from is not empty and the payment's state is not in from, it
// returns the current payment and ErrStateChanged. Otherwise it calls mutate
// on a copy (an error from mutate aborts and is returned wrapped; nothing is
// written), sets UpdatedAt, writes the row, and appends ev, whose FromState
// and ToState default to the states before and after, Kind to "state" and At
// to UpdatedAt; its id becomes the payment's EventID. It returns the payment
// as stored.
//
// mutate runs inside the write transaction: it must only change fields, never
// do I/O or wait. It may not change ID, MerchantOrderNo, TerminalSN, QueueSeq
// or CreatedAt (ErrInvalid). A nil mutate records ev without changing fields
// other than UpdatedAt.
func (db *DB) Transition(ctx context.Context, merchantOrderNo string, from []string, mutate func(*Payment) error, ev Event) (*Payment, error) {
	return db.TransitionThen(ctx, merchantOrderNo, from, mutate, ev, nil)
}

// TransitionThen is Transition with committed, called as InsertPaymentThen
// calls it. mutate may run more than once (group commit).
func (db *DB) TransitionThen(ctx context.Context, merchantOrderNo string, from []string, mutate func(*Payment) error, ev Event, committed func(*Payment)) (*Payment, error) {
	var current *Payment
	errState := errors.New("state") // private marker to roll back
	var out *Payment
	err := db.writeThen(ctx, func(tx *sql.Tx) error {
		cur, err := getPayment(ctx, db.wtx(tx), merchantOrderNo)
		if err != nil {
			return err
		}
		if len(from) > 0 && !slices.Contains(from, cur.State) {
			current = cur
			return errState
		}
		next := *cur
		if mutate != nil {
			if err := mutate(&next); err != nil {
				return fmt.Errorf("mutate payment: %w", err)
			}
		}
		if next.ID != cur.ID || next.MerchantOrderNo != cur.MerchantOrderNo || next.TerminalSN != cur.TerminalSN ||
			next.QueueSeq != cur.QueueSeq || !next.CreatedAt.Equal(cur.CreatedAt) {
			return fmt.Errorf("mutate payment: changed ID, MerchantOrderNo, TerminalSN, QueueSeq or CreatedAt: %w", ErrInvalid)
		}
		if err := validatePayment(&next); err != nil {
			return err
		}
		next.UpdatedAt = db.now()
		if next.Alert != cur.Alert {
			next.AlertHandledAt = time.Time{} // a new alert is open again
		}
		if IsFinal(next.State) {
			next.NextCheckAt = time.Time{} // only an open outcome is parked
		}
		if next.State == StateApproved && next.BatchID == 0 {
			b, err := currentBatch(ctx, tx, next.TerminalSN, next.UpdatedAt)
			if err != nil {
				return err
			}
			next.BatchID = b.ID
		}
		if ev.Kind == "" {
			ev.Kind = EventState
		}
		if ev.FromState == "" {
			ev.FromState = cur.State
		}
		if ev.ToState == "" {
			ev.ToState = next.State
		}
		if ev.At.IsZero() {
			ev.At = next.UpdatedAt
		}
		// The event goes first: its id is the row's last_event_id.
		next.EventID, err = insertEvent(ctx, db.wtx(tx), next.ID, next.MerchantOrderNo, ev)
		if err != nil {
			return err
		}
		_, err = db.wtx(tx).ExecContext(ctx, `UPDATE payments SET
			type = ?, state = ?, source = ?, currency = ?, amount_minor = ?, tip_minor = ?,
			cashback_minor = ?, orig_merchant_order_no = ?, description = ?, route = ?,
			request_hash = ?, options_json = ?, create_sent = ?, trans_no = ?, trans_status = ?,
			auth_code = ?, ref_no = ?, card_brand = ?, masked_pan = ?, entry_mode = ?,
			error_code = ?, error_message = ?, expires_at = ?, next_check_at = ?, attempts = ?,
			updated_at = ?, batch_id = ?, alert = ?, create_ended_at = ?, resends = ?,
			card_aid = ?, card_app_label = ?, provider_tid = ?, provider_mid = ?, provider_at = ?, alert_handled_at = ?, last_event_id = ?
			WHERE id = ?`,
			next.Type, next.State, next.Source, next.Currency, next.AmountMinor, next.TipMinor,
			next.CashbackMinor, next.OrigMerchantOrderNo, next.Description, next.Route,
			next.RequestHash, next.OptionsJSON, boolInt(next.CreateSent), next.TransNo, next.TransStatus,
			next.AuthCode, next.RefNo, next.CardBrand, next.MaskedPAN, next.EntryMode,
			next.ErrorCode, next.ErrorMessage, toMS(next.ExpiresAt), toMS(next.NextCheckAt), next.Attempts,
			toMS(next.UpdatedAt), nullID(next.BatchID), next.Alert, toMS(next.CreateEndedAt), next.Resends,
			next.CardAID, next.CardAppLabel, next.ProviderTID, next.ProviderMID, toMS(next.ProviderAt), toMS(next.AlertHandledAt), next.EventID,
			next.ID)
		if err != nil {
			return fmt.Errorf("update row: %w", err)
		}
		out, err = getPayment(ctx, db.wtx(tx), merchantOrderNo)
		return err
	}, afterCommit(committed, &out))
	switch {
	case errors.Is(err, errState):
		return current, fmt.Errorf("transition payment %q: state is %s, expected one of %s: %w",
			merchantOrderNo, current.State, strings.Join(from, "|"), ErrStateChanged)
	case err != nil:
		return nil, fmt.Errorf("transition payment %q: %w", merchantOrderNo, err)
	}
	return out, nil
}

// afterCommit adapts a caller's committed callback to writeThen: it is called
// with a copy of *out, the row its transaction read back.
func afterCommit(committed func(*Payment), out **Payment) func() {
	if committed == nil {
		return nil
	}
	return func() {
		p := **out
		committed(&p)
	}
}

// AppendEvent appends ev to the payment's history without changing the
// payment, so its EventID stays that of the last InsertPayment or
// Transition: a note is not a change of the payment. ev.Kind must be set; At
// defaults to now.
func (db *DB) AppendEvent(ctx context.Context, merchantOrderNo string, ev Event) error {
	if ev.Kind == "" {
		return fmt.Errorf("append event to %q: empty kind: %w", merchantOrderNo, ErrInvalid)
	}
	if ev.At.IsZero() {
		ev.At = db.now()
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		var id int64
		err := db.wtx(tx).QueryRowContext(ctx, `SELECT id FROM payments WHERE merchant_order_no = ?`, merchantOrderNo).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("find payment: %w", err)
		}
		_, err = insertEvent(ctx, db.wtx(tx), id, merchantOrderNo, ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("append event to %q: %w", merchantOrderNo, err)
	}
	return nil
}

// insertEvent appends ev and returns its id.
func insertEvent(ctx context.Context, tx execer, paymentID int64, merchantOrderNo string, ev Event) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO payment_events
		(payment_id, merchant_order_no, kind, from_state, to_state, detail, at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		paymentID, merchantOrderNo, ev.Kind, ev.FromState, ev.ToState, ev.Detail, toMS(ev.At))
	if err != nil {
		return 0, fmt.Errorf("insert event: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("read event id: %w", err)
	}
	return id, nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getPayment(ctx context.Context, q queryRower, merchantOrderNo string) (*Payment, error) {
	p, err := scanPayment(q.QueryRowContext(ctx,
		`SELECT `+paymentCols+` FROM payments WHERE merchant_order_no = ?`, merchantOrderNo))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read payment: %w", err)
	}
	return p, nil
}

// GetPayment returns the payment with merchantOrderNo, or ErrNotFound.
func (db *DB) GetPayment(ctx context.Context, merchantOrderNo string) (*Payment, error) {
	p, err := getPayment(ctx, db.r(), merchantOrderNo)
	if err != nil {
		return nil, fmt.Errorf("get payment %q: %w", merchantOrderNo, err)
	}
	return p, nil
}

// queryPayments runs a SELECT of paymentCols with the given tail and collects
// the rows.
func (db *DB) queryPayments(ctx context.Context, tail string, args ...any) ([]Payment, error) {
	rows, err := db.r().QueryContext(ctx, `SELECT `+paymentCols+` FROM payments `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("query payments: %w", err)
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, fmt.Errorf("read payment: %w", err)
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query payments: %w", err)
	}
	return out, nil
}

// placeholders returns "?, ?, ?" for n values and the values as []any.
func placeholders(vals []string) (string, []any) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", "), args
}

// ListPayments returns payments matching f, newest (highest ID) first.
func (db *DB) ListPayments(ctx context.Context, f ListFilter) ([]Payment, error) {
	tail, args := listTail(f)
	ps, err := db.queryPayments(ctx, tail, args...)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	return ps, nil
}

// listTail is ListPayments' query after "SELECT ... FROM payments". Within
// one terminal, queue_seq grows with the id, so a terminal's payments are
// read newest first along (terminal_sn, queue_seq) or (terminal_sn, state,
// queue_seq) and the LIMIT bounds the work however long the history is
// (TestQueryPlansBounded); without a terminal, along the rowid or
// (state, rowid).
func listTail(f ListFilter) (string, []any) {
	var (
		where []string
		args  []any
	)
	if f.TerminalSN != "" {
		where = append(where, "terminal_sn = ?")
		args = append(args, f.TerminalSN)
	}
	states := slices.Clone(f.States)
	if f.State != "" {
		states = append(states, f.State)
	}
	if len(states) > 0 {
		ph, a := placeholders(states)
		where = append(where, "state IN ("+ph+")")
		args = append(args, a...)
	}
	if f.BeforeID > 0 {
		if f.TerminalSN != "" {
			// Start the walk at the page's boundary, not at the newest.
			where = append(where, "queue_seq < COALESCE((SELECT queue_seq FROM payments WHERE id = ?), 9223372036854775807)")
			args = append(args, f.BeforeID)
		}
		where = append(where, "id < ?")
		args = append(args, f.BeforeID)
	}
	tail, limit := whereTail(where), pageLimit(f.Limit)
	if f.TerminalSN != "" {
		tail += "ORDER BY queue_seq DESC LIMIT ?"
	} else {
		tail += "ORDER BY id DESC LIMIT ?"
	}
	return tail, append(args, limit)
}

// pageLimit is a list's page size: DefaultListLimit for ≤ 0, at most
// MaxListLimit.
func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultListLimit
	case limit > MaxListLimit:
		return MaxListLimit
	}
	return limit
}

// whereTail joins conditions into "WHERE … " ("" for none).
func whereTail(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(where, " AND ") + " "
}

// NonFinal returns every payment in queued, sending, on_terminal or unknown,
// ordered by terminal and QueueSeq: the work to resume after a restart.
func (db *DB) NonFinal(ctx context.Context) ([]Payment, error) {
	ph, args := placeholders(nonFinalStates)
	ps, err := db.queryPayments(ctx, `WHERE state IN (`+ph+`) ORDER BY terminal_sn, queue_seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("list non-final payments: %w", err)
	}
	return ps, nil
}

// NextQueued returns the terminal's queued payment with the lowest QueueSeq,
// or ErrNotFound when its queue is empty. The terminal queue holds CodePay
// payments only: Bindo-routed payments never occupy the terminal.
func (db *DB) NextQueued(ctx context.Context, terminalSN string) (*Payment, error) {
	ps, err := db.queryPayments(ctx, nextQueuedTail, terminalSN)
	if err != nil {
		return nil, fmt.Errorf("next queued payment for %q: %w", terminalSN, err)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("next queued payment for %q: %w", terminalSN, ErrNotFound)
	}
	return &ps[0], nil
}

// Active returns the payment the terminal is working on (sending,
// on_terminal or unknown, not parked), or ErrNotFound. Should there be more
// than one, it returns the one with the lowest QueueSeq. Bindo-routed
// payments are not terminal work and are not returned; nor are parked ones
// (NextCheckAt set), whose order can no longer occupy the terminal.
func (db *DB) Active(ctx context.Context, terminalSN string) (*Payment, error) {
	ps, err := db.queryPayments(ctx, activeTail, terminalSN)
	if err != nil {
		return nil, fmt.Errorf("active payment for %q: %w", terminalSN, err)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("active payment for %q: %w", terminalSN, ErrNotFound)
	}
	// Sorted here, not by SQL: an ORDER BY queue_seq makes SQLite walk the
	// terminal's whole history along (terminal_sn, queue_seq) to avoid a sort.
	first := &ps[0]
	for i := range ps {
		if ps[i].QueueSeq < first.QueueSeq {
			first = &ps[i]
		}
	}
	return first, nil
}

// The per-payment look-ups, each bounded by an index on what is active or
// asked for, never by the length of the history (TestQueryPlansBounded).
const (
	activeTail     = `WHERE terminal_sn = ? AND state IN ('sending', 'on_terminal', 'unknown') AND route <> 'bindo' AND next_check_at = 0`
	nextQueuedTail = `WHERE terminal_sn = ? AND state = 'queued' AND route <> 'bindo' ORDER BY queue_seq LIMIT 1`
	queueDepthSQL  = `SELECT COUNT(*) FROM payments WHERE terminal_sn = ? AND state = 'queued' AND route <> 'bindo'`
	byTransNoTail  = `WHERE route = ? AND trans_no = ? ORDER BY id LIMIT 1`
	nextParkedSQL  = `SELECT MIN(next_check_at) FROM payments WHERE next_check_at > 0`
	countsSQL      = `SELECT state, route, n FROM payment_counts WHERE n > 0 ORDER BY state, route`
)

// ParkedDue returns the non-final payments parked for the background
// reconciler (NextCheckAt set) whose time has come, earliest first, at most
// limit (≤ 0: 100).
func (db *DB) ParkedDue(ctx context.Context, now time.Time, limit int) ([]Payment, error) {
	if limit <= 0 {
		limit = 100
	}
	ph, args := placeholders(activeStates)
	args = append([]any{toMS(now)}, args...)
	ps, err := db.queryPayments(ctx, `WHERE next_check_at > 0 AND next_check_at <= ? AND state IN (`+ph+`)
		ORDER BY next_check_at LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("parked payments due: %w", err)
	}
	return ps, nil
}

// Reschedule sets when the background reconciler looks at a parked payment
// next (and its attempt count), without an event: the reconciler journals
// what it learns, not each time it asks. A payment that is no longer parked
// or no longer open is left alone (ErrStateChanged).
func (db *DB) Reschedule(ctx context.Context, merchantOrderNo string, next time.Time, attempts int) error {
	ph, args := placeholders(activeStates)
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE payments SET next_check_at = ?, attempts = ?
			WHERE merchant_order_no = ? AND next_check_at > 0 AND state IN (`+ph+`)`,
			append([]any{toMS(next), attempts, merchantOrderNo}, args...)...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return ErrStateChanged
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reschedule payment %q: %w", merchantOrderNo, err)
	}
	return nil
}

// NextParked returns when the earliest parked payment is due (zero: none).
func (db *DB) NextParked(ctx context.Context) (time.Time, error) {
	var ms sql.NullInt64
	err := db.r().QueryRowContext(ctx, nextParkedSQL).Scan(&ms)
	if err != nil {
		return time.Time{}, fmt.Errorf("next parked payment: %w", err)
	}
	return fromMS(ms.Int64), nil
}

// QueueDepth returns the number of queued CodePay payments for the terminal.
func (db *DB) QueueDepth(ctx context.Context, terminalSN string) (int, error) {
	var n int
	err := db.r().QueryRowContext(ctx, queueDepthSQL, terminalSN).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count queue of %q: %w", terminalSN, err)
	}
	return n, nil
}

// Events returns the payment's history in the order it was written, or
// ErrNotFound when there is no such payment.
func (db *DB) Events(ctx context.Context, merchantOrderNo string) ([]Event, error) {
	var id int64
	err := db.reader.QueryRowContext(ctx, `SELECT id FROM payments WHERE merchant_order_no = ?`, merchantOrderNo).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("list events of %q: %w", merchantOrderNo, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("list events of %q: %w", merchantOrderNo, err)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT id, payment_id, merchant_order_no, kind, from_state,
		to_state, detail, at FROM payment_events WHERE payment_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("list events of %q: %w", merchantOrderNo, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var (
			e  Event
			at int64
		)
		if err := rows.Scan(&e.ID, &e.PaymentID, &e.MerchantOrderNo, &e.Kind, &e.FromState,
			&e.ToState, &e.Detail, &at); err != nil {
			return nil, fmt.Errorf("list events of %q: %w", merchantOrderNo, err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events of %q: %w", merchantOrderNo, err)
	}
	return out, nil
}

// GetPaymentByTransNo returns the payment whose provider transaction number
// (CodePay trans_no, Bindo uuid) is transNo, or ErrNotFound.
func (db *DB) GetPaymentByTransNo(ctx context.Context, route, transNo string) (*Payment, error) {
	ps, err := db.queryPayments(ctx, byTransNoTail, route, transNo)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("payment with trans_no %q: %w", transNo, ErrNotFound)
	}
	return &ps[0], nil
}

// Open alerts (migration 0012): payments whose alert no one has marked
// handled, read through the partial index payments_open_alerts.
const (
	openAlertsTail = `WHERE alert <> '' AND alert_handled_at = 0 ORDER BY updated_at DESC LIMIT ?`
	countAlertsSQL = `SELECT COUNT(*) FROM payments WHERE alert <> '' AND alert_handled_at = 0`
)

// OpenAlerts returns the payments with an open alert, the most recently
// changed first, at most limit (≤ 0: 100).
func (db *DB) OpenAlerts(ctx context.Context, limit int) ([]Payment, error) {
	if limit <= 0 {
		limit = 100
	}
	ps, err := db.queryPayments(ctx, openAlertsTail, limit)
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	return ps, nil
}

// CountOpenAlerts counts the payments with an open alert.
func (db *DB) CountOpenAlerts(ctx context.Context) (int, error) {
	var n int
	if err := db.r().QueryRowContext(ctx, countAlertsSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("count open alerts: %w", err)
	}
	return n, nil
}
