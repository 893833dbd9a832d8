package agent

import (
	"context"
	"fmt"

	"github.com/posbridge/posbridge/store"
)

// Catch-up page sizes (events.since).
const (
	DefaultChangesLimit = 100
	MaxChangesLimit     = store.MaxChangesLimit
)

// ChangesQuery asks for the payments changed after a seq.
type ChangesQuery struct {
	Since      int64  // a Payment.Seq the client has processed; 0 = from the start
	TerminalSN string // "" = every terminal
	Limit      int    // 1 to MaxChangesLimit
}

// Changes is one page of catch-up: every payment whose latest change (Seq)
// is after the seq asked for, each once and as it stands now, in ascending
// Seq order.
//
// Returning the latest state only ("compacted") loses nothing a client acts
// on: a payment's state only moves forward and a final state never changes,
// so a client that missed intermediate states (sending, on_terminal) needs
// only the current one — the outcome, once there is one.
type Changes struct {
	Payments []Payment
	// Next is the seq to resume from: the Seq of the last payment returned,
	// or the seq asked for when none was.
	Next int64
	// More is true when further payments changed after Next.
	More bool
}

// CheckChanges validates q without reading any payment: since must not be
// negative nor beyond the newest seq of this journal (a seq from another or
// a replaced journal), limit must be 1 to MaxChangesLimit and the terminal
// known. Errors are *FieldError.
func (a *Agent) CheckChanges(ctx context.Context, q ChangesQuery) error {
	if q.Since < 0 {
		return fieldErr("since", "must be 0 or the seq of a payment object, got %d", q.Since)
	}
	if q.Limit < 1 || q.Limit > MaxChangesLimit {
		return fieldErr("limit", "want 1 to %d", MaxChangesLimit)
	}
	if q.TerminalSN != "" {
		if _, err := a.reg.Lookup(q.TerminalSN); err != nil {
			return fieldErr("terminal_sn", "unknown terminal %q", q.TerminalSN)
		}
	}
	if q.Since == 0 {
		return nil
	}
	// Seqs only grow: one that is ahead now was never handed out by this
	// journal, and checking before a read is as good as checking with it.
	newest, err := a.db.LatestEventID(ctx)
	if err != nil {
		return fmt.Errorf("check changes query: %w", err)
	}
	if q.Since > newest {
		return fieldErr("since", "%d is beyond the newest seq %d of this journal (was it replaced?); catch up from 0", q.Since, newest)
	}
	return nil
}

// ChangesSince returns the current view of every payment changed after
// q.Since (see Changes), at most q.Limit of them. Page through with Next
// until More is false.
func (a *Agent) ChangesSince(ctx context.Context, q ChangesQuery) (Changes, error) {
	if err := a.CheckChanges(ctx, q); err != nil {
		return Changes{}, err
	}
	rows, more, err := a.db.ChangedSince(ctx, store.ChangeFilter{After: q.Since, TerminalSN: q.TerminalSN, Limit: q.Limit})
	if err != nil {
		return Changes{}, fmt.Errorf("read changes: %w", err)
	}
	out := Changes{Payments: make([]Payment, len(rows)), Next: q.Since, More: more}
	for i := range rows {
		out.Payments[i] = a.view(&rows[i])
	}
	if len(rows) > 0 {
		out.Next = rows[len(rows)-1].EventID
	}
	return out, nil
}
