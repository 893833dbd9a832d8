package agent

import (
	"reflect"
	"testing"
	"time"
)

// TestStoredReportFormat: the journal's JSON of a closed report is the
// format every earlier version wrote (byte for byte), and it reads back
// as the report, nil and empty kept apart.
func TestStoredReportFormat(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)
	t1 := t0.Add(90 * time.Second)
	cnt := int64(3)
	tests := []struct {
		name string
		r    BatchReport
		js   string
	}{
		{"full", BatchReport{
			TerminalSN: "T1", BatchNo: 7, State: "closed", OpenedAt: t0, ClosedAt: &t1, ClosedBy: "cli",
			Local: BatchTotals{Count: 2, TotalAmount: "17.34", Currency: "USD", Tips: "1.00",
				ByType:  map[string]TypeTotal{"sale": {Count: 1, Amount: "12.34"}, "cashback": {Count: 1, Amount: "5.00"}},
				ByRoute: map[string]TypeTotal{"codepay": {Count: 2, Amount: "17.34"}}},
			Cloud:       &CloudTotals{Count: &cnt, TotalAmount: "17.35"},
			Differences: []string{"total differs"}, Payments: []string{"FULL1", "BARE1"},
			Comparison: ComparisonDiffer, CloudSettleList: "[{}]",
		}, `{"terminal_sn":"T1","batch_no":7,"state":"closed","opened_at":"2026-03-04T05:06:07.89Z","closed_at":"2026-03-04T05:07:37.89Z","closed_by":"cli","local":{"count":2,"total_amount":"17.34","currency":"USD","by_type":{"cashback":{"count":1,"amount":"5.00"},"sale":{"count":1,"amount":"12.34"}},"tips":"1.00","by_route":{"codepay":{"count":2,"amount":"17.34"}}},"cloud":{"count":3,"total_amount":"17.35"},"differences":["total differs"],"payments":["FULL1","BARE1"],"comparison":"differ","cloud_settle_list":"[{}]"}`},
		{"empty collections", BatchReport{TerminalSN: "T1", State: "closed", Cloud: &CloudTotals{},
			Local: BatchTotals{ByType: map[string]TypeTotal{}}, Differences: []string{}, Payments: []string{}},
			`{"terminal_sn":"T1","batch_no":0,"state":"closed","opened_at":"0001-01-01T00:00:00Z","closed_at":null,"local":{"count":0,"total_amount":"","currency":"","by_type":{},"tips":"","by_route":null},"cloud":{"count":null,"total_amount":""},"differences":[],"payments":[]}`},
		{"zero", BatchReport{},
			`{"terminal_sn":"","batch_no":0,"state":"","opened_at":"0001-01-01T00:00:00Z","closed_at":null,"local":{"count":0,"total_amount":"","currency":"","by_type":null,"tips":"","by_route":null},"cloud":null,"differences":null,"payments":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := encodeReport(tc.r); got != tc.js {
				t.Errorf("encodeReport =\n%s\nwant\n%s", got, tc.js)
			}
			back, err := decodeReport(tc.js)
			if err != nil || !reflect.DeepEqual(back, tc.r) {
				t.Errorf("decodeReport = %+v, %v\nwant %+v", back, err, tc.r)
			}
		})
	}
	// A report stored before by_route and comparison existed.
	old := `{"terminal_sn":"T1","batch_no":3,"state":"closed","opened_at":"2026-01-01T00:00:00Z","closed_at":"2026-01-01T20:00:00Z","closed_by":"cli","local":{"count":1,"total_amount":"1.00","currency":"USD"},"cloud":{"count":null,"total_amount":""},"differences":[],"payments":[]}`
	r, err := decodeReport(old)
	if err != nil || r.BatchNo != 3 || r.Local.ByRoute != nil || r.Comparison != "" || r.Cloud == nil || r.Cloud.Count != nil || r.Differences == nil {
		t.Fatalf("old report = %+v, %v", r, err)
	}
}
