package agent

import (
	"encoding/json"
	"fmt"
	"time"
)

// storedReport is a closed BatchReport as the journal keeps it
// (batches.report_json, written by BatchClose and read back by every batch
// look-up). It is a stored format: journals written by every earlier version
// must stay readable, so fields may be added (optional, omitempty) but never
// renamed, retyped or removed. Reports stored before "comparison" existed
// lack it; FillComparison derives it.
type storedReport struct {
	TerminalSN      string       `json:"terminal_sn"`
	BatchNo         int64        `json:"batch_no"`
	State           string       `json:"state"`
	OpenedAt        time.Time    `json:"opened_at"`
	ClosedAt        *time.Time   `json:"closed_at"`
	ClosedBy        string       `json:"closed_by,omitempty"`
	Local           storedTotals `json:"local"`
	Cloud           *storedCloud `json:"cloud"`
	Differences     []string     `json:"differences"`
	Payments        []string     `json:"payments"`
	Comparison      string       `json:"comparison,omitempty"`
	CloudSettleList string       `json:"cloud_settle_list,omitempty"`
}

type storedTotals struct {
	Count       int                        `json:"count"`
	TotalAmount string                     `json:"total_amount"`
	Currency    string                     `json:"currency"`
	ByType      map[string]storedTypeTotal `json:"by_type"`
	Tips        string                     `json:"tips"`
	ByRoute     map[string]storedTypeTotal `json:"by_route"`
	ByMethod    map[string]storedTypeTotal `json:"by_method,omitempty"`
	// Cashback and NotInTotal were added with the breakdown that adds up
	// to the total; reports stored before lack them.
	Cashback   string                     `json:"cashback,omitempty"`
	NotInTotal map[string]storedTypeTotal `json:"not_in_total,omitempty"`
}

type storedTypeTotal struct {
	Count  int    `json:"count"`
	Amount string `json:"amount"`
}

type storedCloud struct {
	Count       *int64 `json:"count"`
	TotalAmount string `json:"total_amount"`
}

// encodeReport is the journal's JSON of r.
func encodeReport(r BatchReport) string {
	s := storedReport{
		TerminalSN: r.TerminalSN, BatchNo: r.BatchNo, State: r.State, OpenedAt: r.OpenedAt, ClosedAt: r.ClosedAt,
		ClosedBy: r.ClosedBy, Differences: r.Differences, Payments: r.Payments, Comparison: r.Comparison,
		CloudSettleList: r.CloudSettleList,
		Local: storedTotals{Count: r.Local.Count, TotalAmount: r.Local.TotalAmount, Currency: r.Local.Currency,
			ByType: mapTotals(r.Local.ByType, func(t TypeTotal) storedTypeTotal { return storedTypeTotal(t) }), Tips: r.Local.Tips,
			ByRoute:    mapTotals(r.Local.ByRoute, func(t TypeTotal) storedTypeTotal { return storedTypeTotal(t) }),
			ByMethod:   mapTotals(r.Local.ByMethod, func(t TypeTotal) storedTypeTotal { return storedTypeTotal(t) }),
			Cashback:   r.Local.Cashback,
			NotInTotal: mapTotals(r.Local.NotInTotal, func(t TypeTotal) storedTypeTotal { return storedTypeTotal(t) })},
	}
	if r.Cloud != nil {
		s.Cloud = &storedCloud{Count: r.Cloud.Count, TotalAmount: r.Cloud.TotalAmount}
	}
	b, _ := json.Marshal(s) // plain strings, numbers and times: never fails
	return string(b)
}

// decodeReport reads a report the journal kept, in any format it was ever
// written in.
func decodeReport(js string) (BatchReport, error) {
	var s storedReport
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return BatchReport{}, fmt.Errorf("decode batch report: %w", err)
	}
	r := BatchReport{
		TerminalSN: s.TerminalSN, BatchNo: s.BatchNo, State: s.State, OpenedAt: s.OpenedAt, ClosedAt: s.ClosedAt,
		ClosedBy: s.ClosedBy, Differences: s.Differences, Payments: s.Payments, Comparison: s.Comparison,
		CloudSettleList: s.CloudSettleList,
		Local: BatchTotals{Count: s.Local.Count, TotalAmount: s.Local.TotalAmount, Currency: s.Local.Currency,
			ByType: mapTotals(s.Local.ByType, func(t storedTypeTotal) TypeTotal { return TypeTotal(t) }), Tips: s.Local.Tips,
			ByRoute:    mapTotals(s.Local.ByRoute, func(t storedTypeTotal) TypeTotal { return TypeTotal(t) }),
			ByMethod:   mapTotals(s.Local.ByMethod, func(t storedTypeTotal) TypeTotal { return TypeTotal(t) }),
			Cashback:   s.Local.Cashback,
			NotInTotal: mapTotals(s.Local.NotInTotal, func(t storedTypeTotal) TypeTotal { return TypeTotal(t) })},
	}
	if s.Cloud != nil {
		r.Cloud = &CloudTotals{Count: s.Cloud.Count, TotalAmount: s.Cloud.TotalAmount}
	}
	return r, nil
}

// mapTotals converts a totals map; nil stays nil (JSON null, not {}).
func mapTotals[F, T any](m map[string]F, conv func(F) T) map[string]T {
	if m == nil {
		return nil
	}
	out := make(map[string]T, len(m))
	for k, v := range m {
		out[k] = conv(v)
	}
	return out
}
