package wsapi

import (
	"context"
	"fmt"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/api/rpc"
)

// SearchPage is the result of payment.search: a page of payments, newest
// first, and the cursor of the next page ("" on the last).
type SearchPage struct {
	Payments []Payment `json:"payments"`
	Next     string    `json:"next"`
}

// DayReport is the result of report.day: a day's totals per terminal (and
// pseudo-desk) and for the store, per currency.
type DayReport struct {
	Date      string        `json:"date"`
	From      time.Time     `json:"from"`
	To        time.Time     `json:"to"`
	Payments  int           `json:"payments"`
	Terminals []DayTerminal `json:"terminals"`
	Store     []BatchTotals `json:"store"`
}

// DayTerminal is one terminal's totals of a day.
type DayTerminal struct {
	TerminalSN string      `json:"terminal_sn"`
	Totals     BatchTotals `json:"totals"`
}

type searchParams struct {
	Query      string `json:"query"`
	From       string `json:"from"`
	To         string `json:"to"`
	TerminalSN string `json:"terminal_sn"`
	State      string `json:"state"`
	Cursor     string `json:"cursor"`
	Limit      *int   `json:"limit"`
}

// dayOrTime reads a bound of a range: an RFC 3339 time, or a date
// (YYYY-MM-DD) meaning its start in the store PC's time zone. "" is
// unbounded.
func dayOrTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, rpc.InvalidParams(field, fmt.Sprintf("want a date such as \"2026-12-06\" or an RFC 3339 time such as \"2026-12-06T09:00:00+01:00\", got %q", s))
}

func (api *API) search(ctx context.Context, _ *rpc.Conn, p searchParams) (SearchPage, error) {
	limit, err := limitParam(p.Limit)
	if err != nil {
		return SearchPage{}, err
	}
	r := agent.SearchRequest{Query: p.Query, TerminalSN: p.TerminalSN, State: p.State, Cursor: p.Cursor, Limit: limit}
	if r.From, err = dayOrTime("from", p.From); err != nil {
		return SearchPage{}, err
	}
	if r.To, err = dayOrTime("to", p.To); err != nil {
		return SearchPage{}, err
	}
	if len(p.To) == len(time.DateOnly) {
		r.To = r.To.AddDate(0, 0, 1) // a date as "to" includes that day
	}
	page, err := api.a.Search(ctx, r)
	if err != nil {
		return SearchPage{}, appError(err)
	}
	out := SearchPage{Payments: paymentsFrom(page.Payments), Next: page.Next}
	if out.Payments == nil {
		out.Payments = []Payment{}
	}
	return out, nil
}

type dayParams struct {
	Date string `json:"date"`
}

func (api *API) reportDay(ctx context.Context, _ *rpc.Conn, p dayParams) (DayReport, error) {
	day := time.Now()
	if p.Date != "" {
		var err error
		if day, err = time.ParseInLocation(time.DateOnly, p.Date, time.Local); err != nil {
			return DayReport{}, rpc.InvalidParams("date", fmt.Sprintf("want a date such as \"2026-12-06\", got %q", p.Date))
		}
	}
	rep, err := api.a.Day(ctx, day)
	if err != nil {
		return DayReport{}, appError(err)
	}
	out := DayReport{Date: rep.Day, From: rep.From, To: rep.To, Payments: rep.Payments, Terminals: []DayTerminal{}, Store: []BatchTotals{}}
	for _, t := range rep.Terminals {
		out.Terminals = append(out.Terminals, DayTerminal{TerminalSN: t.TerminalSN, Totals: batchTotalsFrom(t.Totals)})
	}
	for _, s := range rep.Store {
		out.Store = append(out.Store, batchTotalsFrom(s))
	}
	return out, nil
}
