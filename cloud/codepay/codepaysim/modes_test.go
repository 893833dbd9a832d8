package codepaysim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
)

func TestModeValidation(t *testing.T) {
	for _, tc := range []struct {
		shape, style string
		want         Mode
		err          string
	}{
		{"", "", Mode{BatchShapeTotals, AmountStyleString, RefundQueryShowsRefund}, ""},
		{"sdk", "number", Mode{BatchShapeSDK, AmountStyleNumber, RefundQueryShowsRefund}, ""},
		{"empty", "string", Mode{BatchShapeEmpty, AmountStyleString, RefundQueryShowsRefund}, ""},
		{"spec", "", Mode{}, `batch shape "spec": want one of totals, sdk, empty`},
		{"", "float", Mode{}, `amount style "float": want one of string, number`},
		{"TOTALS", "", Mode{}, "batch shape"},
	} {
		sim, err := New(func() Config {
			k := loadTestKeys(t)
			return Config{AppID: testAppID, MerchantNo: testMerchant, AppPublicKey: k.appPub, GatewayKey: k.gwPriv,
				BatchShape: tc.shape, AmountStyle: tc.style, Logger: testLogger()}
		}())
		if tc.err != "" {
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("New(%q, %q) = %v, want an ErrInvalidConfig saying %q", tc.shape, tc.style, err, tc.err)
			}
			continue
		}
		if err != nil || sim.Mode() != tc.want {
			t.Errorf("New(%q, %q): mode %+v, %v; want %+v", tc.shape, tc.style, sim.Mode(), err, tc.want)
		}
	}
}

// TestBatchShapes: batch.close answers in each shape, and the real client
// reads each: totals and the SDK's settle_list give totals, empty none.
func TestBatchShapes(t *testing.T) {
	for _, tc := range []struct {
		shape, style string
		wantData     string
		wantShape    string
		wantTotals   bool
	}{
		{BatchShapeTotals, AmountStyleString, `{"count":2,"price_currency":"USD","total_amount":"17.34"}`, codepay.BatchShapeTotals, true},
		{BatchShapeTotals, AmountStyleNumber, `{"count":2,"price_currency":"USD","total_amount":17.34}`, codepay.BatchShapeTotals, true},
		{BatchShapeSDK, AmountStyleString, `{"settle_list":"[{\"count\":2,\"price_currency\":\"USD\",\"total_amount\":\"17.34\"}]"}`, codepay.BatchShapeSettleList, true},
		{BatchShapeSDK, AmountStyleNumber, `{"settle_list":"[{\"count\":2,\"price_currency\":\"USD\",\"total_amount\":17.34}]"}`, codepay.BatchShapeSettleList, true},
		{BatchShapeEmpty, AmountStyleString, `{}`, codepay.BatchShapeEmpty, false},
		{BatchShapeEmpty, AmountStyleNumber, `{}`, codepay.BatchShapeEmpty, false},
	} {
		t.Run(tc.shape+"/"+tc.style, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.BatchShape, c.AmountStyle = tc.shape, tc.style })
			e.approve(createFields("BS-1", "12.34"))
			e.approve(createFields("BS-2", "5.00"))
			r := e.cl.do(codepay.MethodBatchClose, map[string]string{"terminal_sn": snOnline})
			wantCode(t, r, "0")
			if string(r.Data) != tc.wantData {
				t.Errorf("data = %s, want %s", r.Data, tc.wantData)
			}
			// The batch closed whatever the shape.
			rep, _ := e.sim.Batch(snOnline)
			if len(rep.Closed) != 1 || rep.Closed[0].Count != 2 || rep.Closed[0].TotalAmount != "17.34" || rep.Open.Count != 0 {
				t.Errorf("emulator batches = %+v", rep)
			}
			// posbridge's client reads the answer.
			e.approve(createFields("BS-3", "1.00"))
			cl := e.realClient(t)
			got, err := cl.CloseBatch(context.Background(), snOnline)
			if err != nil {
				t.Fatalf("CloseBatch: %v", err)
			}
			if got.Shape != tc.wantShape || got.HasTotals() != tc.wantTotals {
				t.Fatalf("client read %+v; want shape %s, totals %v", got, tc.wantShape, tc.wantTotals)
			}
			if tc.wantTotals {
				if got.Count == nil || *got.Count != 1 || got.TotalAmount != "1.00" && got.TotalAmount != "1" || got.Currency != "USD" {
					t.Errorf("client totals = %+v, want 1 order of 1.00 USD", got)
				}
			}
			if (tc.shape == BatchShapeSDK) != (got.SettleList != "") {
				t.Errorf("settle_list kept = %q", got.SettleList)
			}
		})
	}
}

// TestAmountStyleNumber: every amount the emulator emits is a JSON number
// in number style and a string otherwise, with the same digits; the real
// client reads both.
func TestAmountStyleNumber(t *testing.T) {
	for _, style := range AmountStyles() {
		t.Run(style, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.AmountStyle = style })
			hooks := make(chan []byte, 4)
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				hooks <- b
				io.WriteString(w, "SUCCESS")
			}))
			t.Cleanup(rcv.Close)
			created := e.mustCreate(with(createFields("AS-1", "12.30"), "tip_amount", "1.05", "notify_url", rcv.URL))
			checkAmount(t, "create trans_amount", style, created["trans_amount"], "13.35")
			e.clock.Advance(DefaultPickupDelay + DefaultProcessDelay)
			q := e.query("AS-1")
			for k, want := range map[string]string{"order_amount": "12.30", "trans_amount": "13.35", "tip_amount": "1.05", "paid_amount": "13.35"} {
				checkAmount(t, "query "+k, style, q[k], want)
			}
			r := e.cl.do(codepay.MethodRefundSubmit, map[string]string{
				"merchant_order_no": "AS-1-R", "orig_merchant_order_no": "AS-1", "price_currency": "USD", "order_amount": "3.00", "description": "r"})
			wantCode(t, r, "0")
			checkAmount(t, "refund trans_amount", style, r.data(t)["trans_amount"], "3.00")
			e.clock.Advance(DefaultProcessDelay)
			rq := e.cl.do(codepay.MethodRefundQuery, map[string]string{"merchant_order_no": "AS-1-R"})
			checkAmount(t, "refund query trans_amount", style, rq.data(t)["trans_amount"], "3.00")

			// The notification: amounts styled, signature over the same text.
			e.sim.RunDue(context.Background())
			var body []byte
			select {
			case body = <-hooks:
			case <-time.After(5 * time.Second):
				t.Fatal("no notification")
			}
			var n map[string]any
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&n); err != nil {
				t.Fatal(err)
			}
			checkAmount(t, "notification trans_amount", style, n["trans_amount"], "13.35")
			cl := e.realClient(t)
			o, err := cl.ParseNotification(body, "application/json")
			if err != nil || o.TransAmount == nil || *o.TransAmount != 1335 || o.TipAmount == nil || *o.TipAmount != 105 {
				t.Fatalf("client reads the notification: %+v, %v\n%s", o, err, body)
			}
			// The client reads the order back the same in both styles.
			qo, err := cl.QueryOrder(context.Background(), "AS-1", "")
			if err != nil || qo.OrderAmount == nil || *qo.OrderAmount != 1230 || *qo.TransAmount != 1335 {
				t.Fatalf("QueryOrder = %+v, %v", qo, err)
			}
			created2, err := cl.CreateOrder(context.Background(), codepay.CreateOrderRequest{
				TerminalSN: snOnline, MerchantOrderNo: "AS-2", TransType: codepay.TransSale,
				Amount: money.Amount{Minor: 100000, Currency: money.MustCurrency("USD")}, Description: "d", Expires: time.Minute})
			if err != nil || created2.TransAmount == nil || *created2.TransAmount != 100000 {
				t.Fatalf("CreateOrder = %+v, %v", created2, err)
			}
		})
	}
}

// checkAmount wants v to be the amount text want: a json.Number in number
// style, a string in string style.
func checkAmount(t *testing.T, what, style string, v any, want string) {
	t.Helper()
	switch style {
	case AmountStyleNumber:
		if n, ok := v.(json.Number); !ok || string(n) != want {
			t.Errorf("%s = %#v, want the JSON number %s", what, v, want)
		}
	default:
		if s, ok := v.(string); !ok || s != want {
			t.Errorf("%s = %#v, want the string %q", what, v, want)
		}
	}
}

func TestAdminMode(t *testing.T) {
	e := newEnv(t, nil)
	if status, b := e.admin("GET", "/sim/mode", ""); status != 200 || strings.TrimSpace(string(b)) != `{"batch_shape":"totals","amount_style":"string","refund_query_number":"refund"}` {
		t.Fatalf("GET /sim/mode = %d %s", status, b)
	}
	if status, b := e.admin("POST", "/sim/mode", `{"batch_shape":"empty"}`); status != 200 || strings.TrimSpace(string(b)) != `{"batch_shape":"empty","amount_style":"string","refund_query_number":"refund"}` {
		t.Fatalf("POST batch_shape = %d %s", status, b)
	}
	if status, b := e.admin("POST", "/sim/mode", `{"amount_style":"number"}`); status != 200 || strings.TrimSpace(string(b)) != `{"batch_shape":"empty","amount_style":"number","refund_query_number":"refund"}` {
		t.Fatalf("POST amount_style = %d %s", status, b)
	}
	for _, bad := range []string{`{"batch_shape":"spec"}`, `{"amount_style":"float"}`, `{"refund_query_number":"both"}`, `{"shape":"sdk"}`, `nope`} {
		if status, b := e.admin("POST", "/sim/mode", bad); status != 400 || !strings.Contains(string(b), "error") {
			t.Errorf("POST %s = %d %s, want 400", bad, status, b)
		}
	}
	if m := e.sim.Mode(); m != (Mode{BatchShapeEmpty, AmountStyleNumber, RefundQueryShowsRefund}) {
		t.Errorf("mode after refused changes = %+v", m)
	}
	r := e.cl.do(codepay.MethodBatchClose, map[string]string{"terminal_sn": snOnline})
	if wantCode(t, r, "0"); string(r.Data) != `{}` {
		t.Errorf("batch.close after switching to empty: data %s", r.Data)
	}
	if _, b := e.admin("GET", "/sim/", ""); !strings.Contains(string(b), "/sim/mode") {
		t.Errorf("admin index lacks /sim/mode: %s", b)
	}
}

// realClient is posbridge's CodePay client against this emulator.
func (e *env) realClient(t *testing.T) *codepay.Client {
	t.Helper()
	cl, err := codepay.New(codepay.Config{
		GatewayURL: e.srv.URL, AppID: testAppID, MerchantNo: testMerchant, StoreNo: testStore,
		PrivateKey: e.keys.appPriv, GatewayPublicKey: e.keys.gwPub,
		HTTPClient: e.srv.Client(), Now: e.clock.Now, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}
