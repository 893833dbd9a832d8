package wsapi_test

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent/agenttest"
)

// TestPaymentQR: payment.qr draws a waiting QR payment's code as SVG with
// its amount, currency, expiry and state; a card payment has none (-32602
// naming merchant_order_no), an unknown number is not found.
func TestPaymentQR(t *testing.T) {
	e := newWSEnvOpts(t, agenttest.Opts{Providers: true})
	c := e.dial(t)
	res, errObj, _ := c.call("payment.create", map[string]any{"merchant_order_no": "QRW-1", "type": "sale", "method": "qr",
		"qr_mode": "native", "amount": "12.34", "currency": "USD"})
	if errObj != nil {
		t.Fatalf("create: %s", errObj)
	}
	var created struct {
		QRPayload string `json:"qr_payload"`
	}
	if json.Unmarshal(res, &created); created.QRPayload == "" {
		t.Fatalf("no qr_payload: %s", res)
	}
	res, errObj, _ = c.call("payment.qr", map[string]any{"merchant_order_no": "QRW-1"})
	if errObj != nil {
		t.Fatalf("payment.qr: %s", errObj)
	}
	var qr struct {
		No        string `json:"merchant_order_no"`
		Kind      string `json:"kind"`
		SVG       string `json:"svg"`
		Amount    string `json:"amount"`
		Currency  string `json:"currency"`
		ExpiresAt string `json:"expires_at"`
		State     string `json:"state"`
	}
	if err := json.Unmarshal(res, &qr); err != nil {
		t.Fatal(err)
	}
	if qr.No != "QRW-1" || qr.Kind != "qr_payload" || qr.Amount != "12.34" || qr.Currency != "USD" || qr.ExpiresAt == "" || qr.State != "on_terminal" {
		t.Errorf("payment.qr = %+v", qr)
	}
	if !strings.HasPrefix(qr.SVG, "<svg") || strings.Contains(qr.SVG, created.QRPayload) {
		t.Errorf("svg does not start with <svg or contains the payload: %.120s", qr.SVG)
	}
	if err := xml.Unmarshal([]byte(qr.SVG), new(struct{})); err != nil {
		t.Errorf("svg is not well-formed XML: %v", err)
	}

	c.call("payment.create", map[string]any{"merchant_order_no": "CARD-1", "type": "sale", "terminal_sn": agenttest.TermA, "amount": "1.00", "currency": "USD"})
	for no, wantCode := range map[string]int{"CARD-1": -32602, "NOPE-1": -32002} {
		_, errObj, _ = c.call("payment.qr", map[string]any{"merchant_order_no": no})
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(errObj, &e); e.Code != wantCode || (wantCode == -32602 && !strings.HasPrefix(e.Message, "merchant_order_no: payment CARD-1 has no QR code")) {
			t.Errorf("payment.qr %s = %s, want code %d", no, errObj, wantCode)
		}
	}
}
