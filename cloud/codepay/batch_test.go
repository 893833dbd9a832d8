package codepay

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
)

// TestCloseBatchShapes: every documented batch.close answer, and the junk a
// gateway could send, closes the batch; only readable totals are totals.
func TestCloseBatchShapes(t *testing.T) {
	long := `[{"count":1,"total_amount":"1.00","note":"` + strings.Repeat("x", 5000) + `"}]`
	tests := []struct {
		name       string
		data       string // raw JSON of data; "" = no data member
		shape      string
		count      *int64
		total      string
		currency   string
		settle     string // want SettleList ("" = none); "LONG" = cut
		unreadable string
	}{
		// The spec's merchant-level Batch Close sample: numbers.
		{"spec totals numbers", `{"count": 1, "total_amount": 100}`, BatchShapeTotals, ptr(int64(1)), "100", "", "", ""},
		{"totals strings", `{"count":"2","total_amount":"100.00"}`, BatchShapeTotals, ptr(int64(2)), "100.00", "", "", ""},
		{"totals fraction number", `{"count":3,"total_amount":1.5,"price_currency":"USD"}`, BatchShapeTotals, ptr(int64(3)), "1.5", "USD", "", ""},
		{"totals negative net", `{"count":1,"total_amount":"-3.00"}`, BatchShapeTotals, ptr(int64(1)), "-3.00", "", "", ""},
		{"count only", `{"count":0}`, BatchShapeTotals, ptr(int64(0)), "", "", "", ""},
		{"total only", `{"total_amount":"0"}`, BatchShapeTotals, nil, "0", "", "", ""},
		{"count as float text", `{"count":"2.0","total_amount":"1"}`, BatchShapeTotals, ptr(int64(2)), "1", "", "", ""},
		{"count junk", `{"count":"many","total_amount":"1.00"}`, BatchShapeTotals, nil, "", "", "", "count"},
		{"count negative", `{"count":-1,"total_amount":"1.00"}`, BatchShapeTotals, nil, "", "", "", "count"},
		{"count object", `{"count":{"n":1},"total_amount":"1.00"}`, BatchShapeTotals, nil, "", "", "", "count"},
		{"count bool", `{"count":true,"total_amount":"1.00"}`, BatchShapeTotals, nil, "", "", "", "count"},
		{"total junk", `{"count":1,"total_amount":"12,34"}`, BatchShapeTotals, nil, "", "", "", "total_amount"},
		{"total exponent", `{"count":1,"total_amount":1e2}`, BatchShapeTotals, nil, "", "", "", "total_amount"},
		{"total array", `{"count":1,"total_amount":[1]}`, BatchShapeTotals, nil, "", "", "", "total_amount"},
		{"total empty string is absent", `{"count":1,"total_amount":""}`, BatchShapeTotals, ptr(int64(1)), "", "", "", ""},
		{"total with currency text", `{"count":1,"total_amount":"1.00 USD"}`, BatchShapeTotals, nil, "", "", "", "total_amount"},
		// The spec's terminal-level batch.close sample: empty data.
		{"spec empty data", `{ }`, BatchShapeEmpty, nil, "", "", "", ""},
		{"no data", ``, BatchShapeEmpty, nil, "", "", "", ""},
		{"null data", `null`, BatchShapeEmpty, nil, "", "", "", ""},
		{"null members", `{"count":null,"total_amount":null}`, BatchShapeEmpty, nil, "", "", "", ""},
		{"unknown keys", `{"batch_no":"7","settled":true}`, BatchShapeUnknown, nil, "", "", "", ""},
		{"data not an object", `[1,2]`, BatchShapeUnknown, nil, "", "", "", "data"},
		// The SDK's settle_list (a String).
		{"settle_list object", `{"settle_list":"{\"count\":2,\"total_amount\":\"12.34\",\"price_currency\":\"USD\"}"}`,
			BatchShapeSettleList, ptr(int64(2)), "12.34", "USD", `{"count":2,"total_amount":"12.34","price_currency":"USD"}`, ""},
		{"settle_list array summed", `{"settle_list":"[{\"count\":2,\"total_amount\":10.5},{\"count\":\"1\",\"total_amount\":\"-0.25\"}]"}`,
			BatchShapeSettleList, ptr(int64(3)), "10.25", "", `[{"count":2,"total_amount":10.5},{"count":"1","total_amount":"-0.25"}]`, ""},
		{"settle_list raw array", `{"settle_list":[{"count":1,"total_amount":1}]}`,
			BatchShapeSettleList, ptr(int64(1)), "1", "", `[{"count":1,"total_amount":1}]`, ""},
		{"settle_list text", `{"settle_list":"VISA 3 30.00; MC 1 5.00"}`, BatchShapeSettleList, nil, "", "", "VISA 3 30.00; MC 1 5.00", "settle_list"},
		{"settle_list multi-line", `{"settle_list":"line1\nline2"}`, BatchShapeSettleList, nil, "", "", "line1 line2", "settle_list"},
		{"settle_list empty", `{"settle_list":""}`, BatchShapeEmpty, nil, "", "", "", ""},
		{"settle_list empty array", `{"settle_list":"[]"}`, BatchShapeSettleList, nil, "", "", "[]", "settle_list"},
		{"settle_list items without totals", `{"settle_list":"[{\"card\":\"VISA\",\"amount\":\"3.00\"}]"}`, BatchShapeSettleList, nil, "", "",
			`[{"card":"VISA","amount":"3.00"}]`, "settle_list"},
		{"settle_list item missing count", `{"settle_list":"[{\"count\":1,\"total_amount\":1},{\"total_amount\":2}]"}`, BatchShapeSettleList, nil, "", "",
			`[{"count":1,"total_amount":1},{"total_amount":2}]`, "settle_list"},
		{"settle_list mixed currencies", `{"settle_list":"[{\"count\":1,\"total_amount\":1,\"price_currency\":\"USD\"},{\"count\":1,\"total_amount\":1,\"price_currency\":\"EUR\"}]"}`,
			BatchShapeSettleList, nil, "", "", `[{"count":1,"total_amount":1,"price_currency":"USD"},{"count":1,"total_amount":1,"price_currency":"EUR"}]`, "settle_list"},
		{"settle_list bad JSON", `{"settle_list":"[{\"count\":1"}`, BatchShapeSettleList, nil, "", "", `[{"count":1`, "settle_list"},
		{"settle_list number", `{"settle_list":5}`, BatchShapeSettleList, nil, "", "", "5", "settle_list"},
		{"settle_list long", `{"settle_list":` + strconv.Quote(long) + `}`, BatchShapeSettleList, ptr(int64(1)), "1", "", "LONG", ""},
		// Top-level totals win over a settle_list sent alongside; it is kept.
		{"totals and settle_list", `{"count":1,"total_amount":"2.00","settle_list":"x"}`, BatchShapeTotals, ptr(int64(1)), "2.00", "", "x", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
				g.writeSigned(w, http.StatusOK, "0", "success", tc.data)
			})
			var logs simtest.LogBuffer
			cfg := testConfig(t, g)
			cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			r, err := newTestClient(t, cfg).CloseBatch(context.Background(), "P3171916581910")
			if err != nil {
				t.Fatalf("CloseBatch: %v (the gateway signed code 0: the batch is closed)", err)
			}
			if r.Shape != tc.shape {
				t.Errorf("Shape = %q, want %q", r.Shape, tc.shape)
			}
			if (r.Count == nil) != (tc.count == nil) || (r.Count != nil && *r.Count != *tc.count) {
				t.Errorf("Count = %v, want %v", r.Count, tc.count)
			}
			if r.TotalAmount != tc.total || r.Currency != tc.currency {
				t.Errorf("TotalAmount, Currency = %q, %q; want %q, %q", r.TotalAmount, r.Currency, tc.total, tc.currency)
			}
			if tc.settle == "LONG" {
				if len(r.SettleList) > MaxSettleList || !strings.HasSuffix(r.SettleList, "…") || !strings.HasPrefix(r.SettleList, `[{"count":1`) {
					t.Errorf("long settle_list kept as %d bytes: %.80q…", len(r.SettleList), r.SettleList)
				}
			} else if r.SettleList != tc.settle {
				t.Errorf("SettleList = %q, want %q", r.SettleList, tc.settle)
			}
			if r.Unreadable != tc.unreadable {
				t.Errorf("Unreadable = %q, want %q", r.Unreadable, tc.unreadable)
			}
			wantTotals := tc.unreadable == "" && (tc.count != nil || tc.total != "")
			if r.HasTotals() != wantTotals {
				t.Errorf("HasTotals = %v, want %v", r.HasTotals(), wantTotals)
			}
			warns := strings.Count(logs.String(), "batch close answer not understood")
			if tc.unreadable != "" {
				if warns != 1 || !strings.Contains(logs.String(), `"method":"batch.close"`) || !strings.Contains(logs.String(), `"field":"`+tc.unreadable+`"`) {
					t.Errorf("want one warning naming method and field %s; logs:\n%s", tc.unreadable, logs.String())
				}
			} else if warns != 0 {
				t.Errorf("warned about a readable answer:\n%s", logs.String())
			}
		})
	}
}

// TestCloseBatchRefusalStaysAnError: a refusal is not a close.
func TestCloseBatchRefusalStaysAnError(t *testing.T) {
	g := newFakeGateway(t)
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "40012", "batch close not allowed", `{"count":1}`)
	})
	_, err := newTestClient(t, testConfig(t, g)).CloseBatch(context.Background(), "T1")
	var ge *GatewayError
	if !errors.As(err, &ge) || ge.Code != "40012" {
		t.Fatalf("err = %v, want GatewayError 40012", err)
	}
	// An unsigned success is still not trusted.
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		w.Write(envelopeJSON("0", "success", testPSN, `{"count":1,"total_amount":"1"}`, ""))
	})
	if _, err := newTestClient(t, testConfig(t, g)).CloseBatch(context.Background(), "T1"); !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("unsigned success: %v, want ErrUnknownOutcome", err)
	}
}

func FuzzSettleListTotals(f *testing.F) {
	for _, s := range []string{`{"count":1,"total_amount":"1.00"}`, `[{"count":1,"total_amount":1},{"count":2,"total_amount":"-1"}]`, `[]`, `x`, `[{"count":1e400,"total_amount":1}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tot, why := settleListTotals(s)
		if why == "" && (tot.count == nil || *tot.count < 0 || !totalPattern.MatchString(tot.total)) {
			t.Fatalf("settleListTotals(%q) = %+v without a reason", s, tot)
		}
	})
}
