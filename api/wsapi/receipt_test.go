package wsapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/wsapi"
)

type wireReceipt struct {
	MerchantOrderNo string   `json:"merchant_order_no"`
	Copy            string   `json:"copy"`
	Width           int      `json:"width"`
	Lines           []string `json:"lines"`
	Fields          struct {
		Result      string `json:"result"`
		TotalAmount string `json:"total_amount"`
		TipAmount   string `json:"tip_amount"`
		Time        string `json:"time"`
		Card        *struct {
			MaskedPAN string `json:"masked_pan"`
			Brand     string `json:"brand"`
		} `json:"card"`
	} `json:"fields"`
}

// payment.receipt over a real WebSocket: a final card sale's receipt for
// the three common printer widths and the default, both copies; final
// payment.updated notifications say a receipt is available, earlier ones
// do not; a payment on the terminal has none yet.
func TestReceiptOverWebSocket(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	_, errObj, notes := c.call("payment.create", map[string]any{"merchant_order_no": "WR1", "type": "sale", "terminal_sn": agenttest.TermA,
		"amount": "12.34", "tip_amount": "0.66", "currency": "USD"})
	if errObj != nil {
		t.Fatal(string(errObj))
	}
	if s := c.paymentStates(notes, "WR1"); s[len(s)-1] != "approved" {
		t.Fatalf("states %v", s)
	}
	seen := 0
	for _, m := range c.received() {
		var n struct {
			Method string `json:"method"`
			Params struct {
				No        string `json:"merchant_order_no"`
				State     string `json:"state"`
				Available *bool  `json:"receipt_available"`
			} `json:"params"`
		}
		if json.Unmarshal(m, &n) != nil || n.Method != "payment.updated" || n.Params.No != "WR1" {
			continue
		}
		seen++
		if final := n.Params.State == "approved"; (n.Params.Available != nil) != final || (final && !*n.Params.Available) {
			t.Errorf("payment.updated %s has receipt_available %v", n.Params.State, n.Params.Available)
		}
	}
	if seen < 2 {
		t.Fatalf("%d payment.updated notifications of WR1", seen)
	}

	for _, tc := range []struct {
		params map[string]any
		copy   string
		width  int
	}{
		{map[string]any{}, "customer", 40},
		{map[string]any{"width": 32}, "customer", 32},
		{map[string]any{"width": 40, "copy": "customer"}, "customer", 40},
		{map[string]any{"width": 48, "copy": "merchant"}, "merchant", 48},
		{map[string]any{"width": 20}, "customer", 20},
	} {
		tc.params["merchant_order_no"] = "WR1"
		res, errObj, _ := c.call("payment.receipt", tc.params)
		if errObj != nil {
			t.Fatalf("payment.receipt %v: %s", tc.params, errObj)
		}
		var r wireReceipt
		if err := json.Unmarshal(res, &r); err != nil {
			t.Fatal(err)
		}
		if r.MerchantOrderNo != "WR1" || r.Copy != tc.copy || r.Width != tc.width || r.Fields.Result != "approved" || r.Fields.TotalAmount != "13.00" ||
			r.Fields.TipAmount != "0.66" || r.Fields.Card == nil || r.Fields.Card.MaskedPAN != "476173******0119" || r.Fields.Time == "" {
			t.Errorf("payment.receipt %v = %s", tc.params, res)
		}
		for i, l := range r.Lines {
			if n := utf8.RuneCountInString(l); n > tc.width {
				t.Errorf("width %d: line %d is %d wide: %q", tc.width, i, n, l)
			}
		}
		text := strings.Join(r.Lines, "\n")
		for _, want := range []string{"476173******0119", "TOTAL", "13.00 USD", strings.ToUpper(tc.copy) + " COPY"} {
			if !strings.Contains(text, want) {
				t.Errorf("width %d lacks %q:\n%s", tc.width, want, text)
			}
		}
	}

	// Not final yet: -32013 saying so.
	_, errObj, _ = c.call("payment.create", map[string]any{"merchant_order_no": "WR2", "type": "sale", "terminal_sn": agenttest.TermOff,
		"amount": "1.00", "currency": "USD", "options": map[string]any{"fallback": "never"}})
	if errObj != nil {
		t.Fatal(string(errObj))
	}
	_, errObj, _ = c.call("payment.receipt", map[string]any{"merchant_order_no": "WR2"})
	if er := decodeErr(t, errObj); er.Code != wsapi.CodeNoReceipt || !strings.Contains(er.Message, "a receipt exists once the payment is final") {
		t.Errorf("receipt of a waiting payment = %+v", er)
	}
}
