package wsapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
)

// TestWebSocketLinkPaid takes a pay-by-link payment over the WebSocket:
// the create answer carries method link, pay_url and expires_at; payment.qr
// draws the link (kind pay_url); the customer pays on the emulated checkout
// page and payment.wait returns approved. Bad input is refused with
// -32602 naming the field, and nothing reaches CodePay.
func TestWebSocketLinkPaid(t *testing.T) {
	e := newWSEnvOpts(t, agenttest.Opts{})
	c := e.dial(t)
	res, errObj, _ := c.call("payment.create", map[string]any{"merchant_order_no": "WLNK-1", "method": "link",
		"amount": "42.50", "currency": "USD", "description": "phone order 17", "link_expires_in": 3600})
	if errObj != nil {
		t.Fatalf("create: %s", errObj)
	}
	var created struct {
		State, Method, PayURL, ExpiresAt, TerminalSN string
	}
	var raw map[string]any
	if err := json.Unmarshal(res, &raw); err != nil {
		t.Fatal(err)
	}
	created.State, _ = raw["state"].(string)
	created.Method, _ = raw["method"].(string)
	created.PayURL, _ = raw["pay_url"].(string)
	created.ExpiresAt, _ = raw["expires_at"].(string)
	created.TerminalSN, _ = raw["terminal_sn"].(string)
	if created.State != "on_terminal" || created.Method != "link" || !strings.HasPrefix(created.PayURL, "http") || created.ExpiresAt == "" || created.TerminalSN != "codepay_link" {
		t.Fatalf("create = %s", res)
	}
	res, errObj, _ = c.call("payment.qr", map[string]any{"merchant_order_no": "WLNK-1"})
	if errObj != nil {
		t.Fatalf("payment.qr: %s", errObj)
	}
	var qr struct {
		Kind, SVG, State string
	}
	if err := json.Unmarshal(res, &qr); err != nil {
		t.Fatal(err)
	}
	if qr.Kind != "pay_url" || !strings.HasPrefix(qr.SVG, "<svg") || qr.State != "on_terminal" {
		t.Fatalf("payment.qr = %.200s", res)
	}
	if err := e.Sim.Customer("WLNK-1", codepaysim.CustomerPays, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := e.WaitFinal("WLNK-1"); got.State != "approved" {
		t.Fatalf("final = %+v", got)
	}
	res, errObj, _ = c.call("payment.get", map[string]any{"merchant_order_no": "WLNK-1"})
	if errObj != nil || !strings.Contains(string(res), `"state":"approved"`) || !strings.Contains(string(res), `"pay_url":"http`) {
		t.Fatalf("payment.get = %s %s", res, errObj)
	}

	for _, bad := range []struct {
		params map[string]any
		field  string
	}{
		{map[string]any{"merchant_order_no": "WLNK-B1", "method": "link", "amount": "1.005", "currency": "USD"}, "amount"},
		{map[string]any{"merchant_order_no": "WLNK-B2", "method": "link", "amount": "1.00", "currency": "USD", "link_expires_in": 7*24*3600 + 1}, "link_expires_in"},
	} {
		_, errObj, _ := c.call("payment.create", bad.params)
		var ee struct {
			Code int `json:"code"`
			Data struct {
				Field string `json:"field"`
			} `json:"data"`
		}
		if json.Unmarshal(errObj, &ee); ee.Code != -32602 || ee.Data.Field != bad.field {
			t.Errorf("%v = %s, want -32602 on %s", bad.params["merchant_order_no"], errObj, bad.field)
		}
		no := bad.params["merchant_order_no"].(string)
		if _, errObj, _ := c.call("payment.get", map[string]any{"merchant_order_no": no}); errObj == nil {
			t.Errorf("%s journaled", no)
		}
	}
	if n := e.Sim.Count(codepay.MethodPayCheckout, ""); n != 1 {
		t.Errorf("%d checkouts at the emulator, want 1", n)
	}
}
