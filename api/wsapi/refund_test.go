package wsapi_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
)

// TestWebSocketRefund: payment.refund end to end — a partial refund of a QR
// sale through CodePay's cloud, notified to the calling connection up to
// approved; one above what is left refused with -32602 on amount; a card
// sale refused via cloud with a message naming via "terminal".
func TestWebSocketRefund(t *testing.T) {
	e := newWSEnvOpts(t, agenttest.Opts{InMemory: true})
	e.Sim.ScriptPayScenario("QRW1", codepay.ScenarioBScanQR) // the customer pays with a wallet
	c := e.dial(t)
	for _, no := range []string{"QRW1", "CARDW1"} {
		if _, errObj, _ := c.call("payment.create", map[string]any{
			"merchant_order_no": no, "type": "sale", "terminal_sn": agenttest.TermA, "amount": "10.00", "currency": "USD",
		}); errObj != nil {
			t.Fatalf("create %s: %s", no, errObj)
		}
		res, errObj, _ := c.call("payment.wait", map[string]any{"merchant_order_no": no, "timeout_ms": 20000})
		var p struct{ State string }
		if errObj != nil || json.Unmarshal(res, &p) != nil || p.State != "approved" {
			t.Fatalf("sale %s: %s %s", no, res, errObj)
		}
	}

	res, errObj, notes := c.call("payment.refund", map[string]any{
		"merchant_order_no": "QRW1-R1", "orig_merchant_order_no": "QRW1", "amount": "4.00", "description": "damaged item",
	})
	if errObj != nil {
		t.Fatalf("payment.refund: %s", errObj)
	}
	var got struct {
		No                                                string `json:"merchant_order_no"`
		Type, State, Amount, Currency, Route, Description string
		Orig                                              string `json:"orig_merchant_order_no"`
	}
	if err := json.Unmarshal(res, &got); err != nil {
		t.Fatal(err)
	}
	if got.No != "QRW1-R1" || got.Type != "refund" || got.State != "sending" || got.Amount != "4.00" || got.Currency != "USD" ||
		got.Route != "codepay" || got.Orig != "QRW1" || got.Description != "damaged item" {
		t.Fatalf("payment.refund result = %s", res)
	}
	// on_terminal: CodePay accepted the refund and processes it.
	if states, want := c.paymentStates(notes, "QRW1-R1"), []string{"sending", "on_terminal", "approved"}; !reflect.DeepEqual(states, want) {
		t.Errorf("refund states over the WebSocket = %v, want %v", states, want)
	}
	if n := e.Sim.Count(codepay.MethodRefundSubmit, "QRW1-R1"); n != 1 {
		t.Errorf("CodePay saw %d refund submits, want 1", n)
	}
	// The same request again: the same refund, nothing sent.
	res, errObj, _ = c.call("payment.refund", map[string]any{
		"merchant_order_no": "QRW1-R1", "orig_merchant_order_no": "QRW1", "amount": "4.00", "description": "damaged item",
	})
	if errObj != nil || !strings.Contains(string(res), `"state":"approved"`) {
		t.Errorf("repeat: %s %s", res, errObj)
	}

	_, errObj, _ = c.call("payment.refund", map[string]any{
		"merchant_order_no": "QRW1-R2", "orig_merchant_order_no": "QRW1", "amount": "6.01",
	})
	if e := decodeErr(t, errObj); e.Code != -32602 || e.Data.Field != "amount" || !strings.Contains(e.Message, "6.00") {
		t.Errorf("refund above what is left: %+v", e)
	}
	_, errObj, _ = c.call("payment.refund", map[string]any{
		"merchant_order_no": "CARDW1-R1", "orig_merchant_order_no": "CARDW1", "via": "cloud",
	})
	if e := decodeErr(t, errObj); e.Code != -32602 || e.Data.Field != "via" || !strings.Contains(e.Message, `via "terminal"`) {
		t.Errorf("cloud refund of a card sale: %+v", e)
	}
	_, errObj, _ = c.call("payment.refund", map[string]any{
		"merchant_order_no": "X1", "orig_merchant_order_no": "QRW1", "amount": 4,
	})
	if e := decodeErr(t, errObj); e.Code != -32602 || e.Data.Field != "amount" {
		t.Errorf("amount as a JSON number: %+v", e)
	}
	_, errObj, _ = c.call("payment.refund", map[string]any{
		"merchant_order_no": "X1", "orig_merchant_order_no": "QRW1", "via": "air",
	})
	if e := decodeErr(t, errObj); e.Code != -32602 || e.Data.Field != "via" {
		t.Errorf("unknown via: %+v", e)
	}

	// payment.cancel of the approved QR sale: it has a refund, so it cannot
	// be revoked (that would refund it twice): -32003 with the reason.
	_, errObj, _ = c.call("payment.cancel", map[string]any{"merchant_order_no": "QRW1"})
	if e := decodeErr(t, errObj); e.Code != wsapi.CodeNotCancellable || !strings.Contains(e.Message, "refund") {
		t.Errorf("cancel of a refunded QR sale: %+v", e)
	}
}

// A tip adjustment whose answer is lost is -32014 "outcome unknown", and
// sending the same call again is safe: it sets the tip once.
func TestTipAdjustLostAnswerIsRepeatable(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	if _, errObj, _ := c.call("payment.create", map[string]any{"merchant_order_no": "TIPL1", "type": "sale", "terminal_sn": agenttest.TermA,
		"amount": "10.00", "currency": "USD"}); errObj != nil {
		t.Fatal(string(errObj))
	}
	e.WaitFinal("TIPL1")
	e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodTipAdjustment, Kind: codepaysim.FaultDropAfterProcess, Count: 1})
	params := map[string]any{"merchant_order_no": "TIPL1", "tip_amount": "1.50"}
	_, errObj, _ := c.call("payment.tip_adjust", params)
	var rerr struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if errObj == nil || json.Unmarshal(errObj, &rerr) != nil || rerr.Code != wsapi.CodeTipUnknown || !strings.Contains(rerr.Message, "sending it again is safe") {
		t.Fatalf("lost tip answer: %s", errObj)
	}
	res, errObj, _ := c.call("payment.tip_adjust", params)
	if errObj != nil || !strings.Contains(string(res), `"tip_amount":"1.50"`) {
		t.Fatalf("repeat: %s %s", res, errObj)
	}
}
