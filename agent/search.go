package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/money"
	"github.com/posbridge/posbridge/pan"
	"github.com/posbridge/posbridge/store"
)

// SearchRequest finds payments over the whole journal, newest first. Query
// is an order-number prefix, an amount ("12.34") or the card's last four
// digits — whichever it can be: "1234" finds all three.
type SearchRequest struct {
	Query      string
	From, To   time.Time // created in [From, To); zero: unbounded
	TerminalSN string
	State      string
	Cursor     string // SearchPage.Next of the previous page
	Limit      int    // default 50, at most 500
}

// SearchPage is one page of a search; Next continues it ("" on the last
// page).
type SearchPage struct {
	Payments []Payment
	Next     string
}

// Search finds payments (console search, payment.search).
func (a *Agent) Search(ctx context.Context, r SearchRequest) (SearchPage, error) {
	f, err := a.searchFilter(r)
	if err != nil {
		return SearchPage{}, err
	}
	rows, err := a.db.SearchPayments(ctx, f)
	if err != nil {
		return SearchPage{}, fmt.Errorf("search payments: %w", err)
	}
	page := SearchPage{Payments: make([]Payment, len(rows))}
	for i := range rows {
		page.Payments[i] = a.view(&rows[i])
	}
	if len(rows) == f.Limit {
		c := store.CursorOf(&rows[len(rows)-1])
		page.Next = strconv.FormatInt(c.CreatedAt.UnixMilli(), 10) + "." + strconv.FormatInt(c.ID, 10)
	}
	return page, nil
}

func (a *Agent) searchFilter(r SearchRequest) (store.SearchFilter, error) {
	f := store.SearchFilter{From: r.From, To: r.To, TerminalSN: r.TerminalSN, State: r.State, Limit: r.Limit}
	switch {
	case r.Limit < 0 || r.Limit > store.MaxListLimit:
		return f, fieldErr("limit", "want 1 to %d, got %d", store.MaxListLimit, r.Limit)
	case r.Limit == 0:
		f.Limit = store.DefaultListLimit
	}
	if !r.From.IsZero() && !r.To.IsZero() && !r.To.After(r.From) {
		return f, fieldErr("to", "must be after from (%s)", r.From.Format(time.RFC3339))
	}
	if r.State != "" && !slices.Contains(allStates, r.State) {
		return f, fieldErr("state", "unknown state %q; want one of %s", r.State, strings.Join(allStates, ", "))
	}
	var err error
	if f.After, err = parseCursor(r.Cursor); err != nil {
		return f, err
	}
	return f, a.queryTerms(&f, strings.TrimSpace(r.Query))
}

// parseCursor reads SearchPage.Next ("" is the start).
func parseCursor(s string) (store.Cursor, error) {
	if s == "" {
		return store.Cursor{}, nil
	}
	ms, id, ok := strings.Cut(s, ".")
	t, err1 := strconv.ParseInt(ms, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil || n <= 0 {
		return store.Cursor{}, fieldErr("cursor", "not a cursor from a previous page's next")
	}
	return store.Cursor{CreatedAt: time.UnixMilli(t), ID: n}, nil
}

// queryTerms sets the match terms q can be: a card's last 4 digits, an
// order-number prefix, an amount.
func (a *Agent) queryTerms(f *store.SearchFilter, q string) error {
	if q == "" {
		return nil
	}
	if len(q) == 4 && pan.AllDigits(q) {
		f.Last4 = q
	}
	if config.ValidOrderNo(q) {
		f.OrderPrefix = q
	}
	f.Amounts = a.amountsOf(q)
	if f.Last4 == "" && f.OrderPrefix == "" && len(f.Amounts) == 0 {
		return fieldErr("query", "want an order number (or its beginning), an amount such as 12.34, or a card's last 4 digits; got %q", q)
	}
	return nil
}

// amountsOf reads q as an amount in each currency this agent takes.
func (a *Agent) amountsOf(q string) []int64 {
	var out []int64
	for _, cur := range a.currencies() {
		if m, err := money.Parse(q, cur); err == nil && m > 0 && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// currencies are the currencies of the terminals and providers.
func (a *Agent) currencies() []money.Currency {
	var out []money.Currency
	add := func(c money.Currency) {
		if c.Code != "" && !slices.ContainsFunc(out, func(o money.Currency) bool { return o.Code == c.Code }) {
			out = append(out, c)
		}
	}
	for _, t := range a.reg.Terminals() {
		add(t.Currency)
	}
	for _, desk := range []string{RouteQRWallet, RouteIDPay, RouteCodePayLink} {
		if c, err := a.terminalCurrency(desk); err == nil {
			add(c)
		}
	}
	return out
}

// allStates are the payment states, for checking a filter.
var allStates = []string{StateQueued, StateSending, StateOnTerminal, StateUnknown, StateApproved, StateDeclined, StateFailed, StateCancelled, StateExpired}

// DayReport is a day's totals: per terminal (or pseudo-desk) and for the
// store, per currency, by the same rule as a batch's local totals (approved
// payments; a voided sale counts nothing; refunds subtract). A payment
// belongs to the day it was created on, in the day's time zone; so a void
// of an earlier day's sale counts on its own day as the sale's reversal
// (the sale's day keeps the sale), and the days add up to the batch.
type DayReport struct {
	Day       string // YYYY-MM-DD
	From, To  time.Time
	Terminals []DayTotals // by terminal serial number
	Store     []BatchTotals
	// Payments counts every payment created that day, whatever its state.
	Payments int
}

// DayTotals are one terminal's totals of a day.
type DayTotals struct {
	TerminalSN string
	Totals     BatchTotals
}

// Day reports the totals of the calendar day holding day, in day's
// location (the console sends the store's local date).
func (a *Agent) Day(ctx context.Context, day time.Time) (DayReport, error) {
	y, m, d := day.Date()
	from := time.Date(y, m, d, 0, 0, 0, 0, day.Location())
	to := from.AddDate(0, 0, 1)
	rows, err := a.db.PaymentsCreatedBetween(ctx, from, to)
	if err != nil {
		return DayReport{}, fmt.Errorf("day totals: %w", err)
	}
	earlier, err := a.voidedEarlier(ctx, rows, from)
	if err != nil {
		return DayReport{}, fmt.Errorf("day totals: %w", err)
	}
	rep := DayReport{Day: from.Format(time.DateOnly), From: from, To: to, Payments: len(rows)}
	byTerm, byCur := map[string][]store.Payment{}, map[string][]store.Payment{}
	for _, p := range rows {
		byTerm[p.TerminalSN] = append(byTerm[p.TerminalSN], p)
		byCur[p.Currency] = append(byCur[p.Currency], p)
	}
	for sn, ps := range byTerm {
		rep.Terminals = append(rep.Terminals, DayTotals{TerminalSN: sn, Totals: totalsWith(ps, earlier, a.currencyOf(sn, ps[0].Currency))})
	}
	slices.SortFunc(rep.Terminals, func(x, y DayTotals) int { return cmp.Compare(x.TerminalSN, y.TerminalSN) })
	for code, ps := range byCur {
		rep.Store = append(rep.Store, totalsWith(ps, earlier, a.currencyOf("", code)))
	}
	slices.SortFunc(rep.Store, func(x, y BatchTotals) int { return cmp.Compare(x.Currency, y.Currency) })
	return rep, nil
}

// voidedEarlier returns, by order number, the originals created before
// from of the approved voids in rows: each such void counts on its own day
// as the reversal of its original (whose day keeps counting it).
func (a *Agent) voidedEarlier(ctx context.Context, rows []store.Payment, from time.Time) (map[string]*store.Payment, error) {
	var out map[string]*store.Payment
	for i := range rows {
		v := &rows[i]
		if v.Type != TypeVoid || v.State != StateApproved || v.OrigMerchantOrderNo == "" {
			continue
		}
		orig, err := a.db.GetPayment(ctx, v.OrigMerchantOrderNo)
		if errors.Is(err, store.ErrNotFound) {
			continue // made elsewhere: nothing to reverse here
		}
		if err != nil {
			return nil, err
		}
		if orig.CreatedAt.Before(from) {
			if out == nil {
				out = map[string]*store.Payment{}
			}
			out[orig.MerchantOrderNo] = orig
		}
	}
	return out, nil
}

// currencyOf is a terminal's currency, or else the currency code's (a
// terminal removed from the config still has its payments).
func (a *Agent) currencyOf(sn, code string) money.Currency {
	if sn != "" {
		if c, err := a.terminalCurrency(sn); err == nil && c.Code == code {
			return c
		}
	}
	if c, err := money.LookupCurrency(code); err == nil {
		return c
	}
	return money.Currency{Code: code, Exponent: 2}
}
