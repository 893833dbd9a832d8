package wsapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent/agenttest"
)

// payment.search and report.day over a real WebSocket.
func TestSearchAndDayOverWebSocket(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	for _, sale := range []struct{ no, amount string }{{"FIND-1", "4.20"}, {"FIND-2", "9.99"}, {"OTHER-9", "4.20"}} {
		if _, errObj, _ := c.call("payment.create", map[string]any{"merchant_order_no": sale.no, "type": "sale", "terminal_sn": agenttest.TermA,
			"amount": sale.amount, "currency": "USD"}); errObj != nil {
			t.Fatal(string(errObj))
		}
		e.WaitFinal(sale.no)
	}
	type page struct {
		Payments []struct {
			No string `json:"merchant_order_no"`
		} `json:"payments"`
		Next string `json:"next"`
	}
	search := func(params map[string]any) page {
		t.Helper()
		res, errObj, _ := c.call("payment.search", params)
		if errObj != nil {
			t.Fatalf("search %v: %s", params, errObj)
		}
		var p page
		if err := json.Unmarshal(res, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nos := func(p page) string {
		var out []string
		for _, x := range p.Payments {
			out = append(out, x.No)
		}
		return strings.Join(out, ",")
	}
	today := time.Now().Format(time.DateOnly)
	if got := nos(search(map[string]any{"query": "FIND"})); got != "FIND-2,FIND-1" {
		t.Errorf("by prefix = %s", got)
	}
	if got := nos(search(map[string]any{"query": "4.20", "from": today, "to": today})); got != "OTHER-9,FIND-1" {
		t.Errorf("by amount today = %s", got)
	}
	if got := nos(search(map[string]any{"to": time.Now().AddDate(0, 0, -1).Format(time.DateOnly)})); got != "" {
		t.Errorf("before today = %s", got)
	}
	first := search(map[string]any{"limit": 2})
	if len(first.Payments) != 2 || first.Next == "" {
		t.Fatalf("first page = %+v", first)
	}
	if rest := search(map[string]any{"limit": 2, "cursor": first.Next}); len(rest.Payments) != 1 || rest.Next != "" {
		t.Fatalf("second page = %+v", rest)
	}
	for field, params := range map[string]map[string]any{
		"from":   {"from": "yesterday"},
		"query":  {"query": "#?!"},
		"cursor": {"cursor": "abc"},
		"limit":  {"limit": 0},
		"state":  {"state": "paid"},
	} {
		_, errObj, _ := c.call("payment.search", params)
		var e struct {
			Code int `json:"code"`
			Data struct {
				Field string `json:"field"`
			} `json:"data"`
		}
		if errObj == nil || json.Unmarshal(errObj, &e) != nil || e.Code != -32602 || e.Data.Field != field {
			t.Errorf("search %v: error %s, want -32602 naming %s", params, errObj, field)
		}
	}

	res, errObj, _ := c.call("report.day", map[string]any{})
	if errObj != nil {
		t.Fatal(string(errObj))
	}
	var day struct {
		Date      string `json:"date"`
		Payments  int    `json:"payments"`
		Terminals []struct {
			SN     string `json:"terminal_sn"`
			Totals struct {
				TotalAmount string `json:"total_amount"`
			} `json:"totals"`
		} `json:"terminals"`
		Store []struct {
			Count       int    `json:"count"`
			TotalAmount string `json:"total_amount"`
			Currency    string `json:"currency"`
		} `json:"store"`
	}
	if err := json.Unmarshal(res, &day); err != nil {
		t.Fatal(err)
	}
	if day.Date != today || day.Payments != 3 || len(day.Store) != 1 || day.Store[0].TotalAmount != "18.39" || day.Store[0].Count != 3 ||
		len(day.Terminals) != 1 || day.Terminals[0].Totals.TotalAmount != "18.39" {
		t.Errorf("report.day = %s", res)
	}
	if _, errObj, _ := c.call("report.day", map[string]any{"date": "06/12/2026"}); errObj == nil || !strings.Contains(string(errObj), `"field":"date"`) {
		t.Errorf("bad date: %s", errObj)
	}
}
