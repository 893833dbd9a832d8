package codepay

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
	"github.com/posbridge/posbridge/money"
)

func TestCreateOrderValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name   string
		mutate func(r *CreateOrderRequest)
		field  string
	}{
		{"terminal_sn missing", func(r *CreateOrderRequest) { r.TerminalSN = "" }, "terminal_sn"},
		{"terminal_sn too long", func(r *CreateOrderRequest) { r.TerminalSN = long(33) }, "terminal_sn"},
		{"terminal_sn control char", func(r *CreateOrderRequest) { r.TerminalSN = "WPYB\n1" }, "terminal_sn"},
		{"merchant_order_no missing", func(r *CreateOrderRequest) { r.MerchantOrderNo = "" }, "merchant_order_no"},
		{"merchant_order_no too long", func(r *CreateOrderRequest) { r.MerchantOrderNo = long(33) }, "merchant_order_no"},
		{"merchant_order_no space", func(r *CreateOrderRequest) { r.MerchantOrderNo = "ORDER 1" }, "merchant_order_no"},
		{"merchant_order_no hash", func(r *CreateOrderRequest) { r.MerchantOrderNo = "ORDER#1" }, "merchant_order_no"},
		{"merchant_order_no non-ascii", func(r *CreateOrderRequest) { r.MerchantOrderNo = "Ö1" }, "merchant_order_no"},
		{"trans_type zero", func(r *CreateOrderRequest) { r.TransType = 0 }, "trans_type"},
		{"trans_type 5", func(r *CreateOrderRequest) { r.TransType = 5 }, "trans_type"},
		{"void without original", func(r *CreateOrderRequest) { r.TransType = TransVoid }, "orig_merchant_order_no"},
		{"refund without original", func(r *CreateOrderRequest) { r.TransType = TransRefund }, "orig_merchant_order_no"},
		{"completion without original", func(r *CreateOrderRequest) { r.TransType = TransCompletion }, "orig_merchant_order_no"},
		{"refund with bad original", func(r *CreateOrderRequest) { r.TransType = TransRefund; r.OrigMerchantOrderNo = "A B" }, "orig_merchant_order_no"},
		{"sale with original", func(r *CreateOrderRequest) { r.OrigMerchantOrderNo = "ORIG-1" }, "orig_merchant_order_no"},
		{"preauth with original", func(r *CreateOrderRequest) { r.TransType = TransPreAuth; r.OrigMerchantOrderNo = "ORIG-1" }, "orig_merchant_order_no"},
		{"amount zero", func(r *CreateOrderRequest) { r.Amount = usd(0) }, "order_amount"},
		{"amount negative", func(r *CreateOrderRequest) { r.Amount = usd(-1) }, "order_amount"},
		{"amount too large", func(r *CreateOrderRequest) { r.Amount = usd(money.MaxMinor + 1) }, "order_amount"},
		{"amount with too many decimals (USD)", func(r *CreateOrderRequest) {
			r.Amount = money.Amount{Minor: 12345, Currency: money.Currency{Code: "USD", Exponent: 3}}
		}, "order_amount"},
		{"amount with decimals (JPY)", func(r *CreateOrderRequest) {
			r.Amount = money.Amount{Minor: 50050, Currency: money.Currency{Code: "JPY", Exponent: 2}}
		}, "order_amount"},
		{"amount with too few decimals", func(r *CreateOrderRequest) {
			r.Amount = money.Amount{Minor: 12, Currency: money.Currency{Code: "KWD", Exponent: 2}}
		}, "order_amount"},
		{"currency missing", func(r *CreateOrderRequest) { r.Amount = money.Amount{Minor: 100} }, "price_currency"},
		{"currency unknown", func(r *CreateOrderRequest) {
			r.Amount = money.Amount{Minor: 100, Currency: money.Currency{Code: "XXX", Exponent: 2}}
		}, "price_currency"},
		{"tip negative", func(r *CreateOrderRequest) { r.TipAmount = ptr(int64(-1)) }, "tip_amount"},
		{"cashback on a sale", func(r *CreateOrderRequest) { r.CashbackAmount = ptr(int64(100)) }, "cashback_amount"},
		{"cashback negative", func(r *CreateOrderRequest) { r.TransType = TransCashback; r.CashbackAmount = ptr(int64(-5)) }, "cashback_amount"},
		{"description missing", func(r *CreateOrderRequest) { r.Description = "" }, "description"},
		{"description too long", func(r *CreateOrderRequest) { r.Description = long(129) }, "description"},
		{"description invalid UTF-8", func(r *CreateOrderRequest) { r.Description = "caf\xe9" }, "description"},
		{"attach too long", func(r *CreateOrderRequest) { r.Attach = long(129) }, "attach"},
		{"notify_url relative", func(r *CreateOrderRequest) { r.NotifyURL = "/hooks/codepay" }, "notify_url"},
		{"notify_url ftp", func(r *CreateOrderRequest) { r.NotifyURL = "ftp://example.com/x" }, "notify_url"},
		{"notify_url with query", func(r *CreateOrderRequest) { r.NotifyURL = "https://example.com/x?a=1" }, "notify_url"},
		{"notify_url with fragment", func(r *CreateOrderRequest) { r.NotifyURL = "https://example.com/x#y" }, "notify_url"},
		{"notify_url too long", func(r *CreateOrderRequest) { r.NotifyURL = "https://example.com/" + long(240) }, "notify_url"},
		{"expires zero", func(r *CreateOrderRequest) { r.Expires = 0 }, "expires"},
		{"expires negative", func(r *CreateOrderRequest) { r.Expires = -time.Second }, "expires"},
		{"expires sub-second", func(r *CreateOrderRequest) { r.Expires = 500 * time.Millisecond }, "expires"},
		{"expires fractional", func(r *CreateOrderRequest) { r.Expires = 1500 * time.Millisecond }, "expires"},
		{"pay_scenario unknown", func(r *CreateOrderRequest) { r.PayScenario = "CASH_PAY" }, "pay_scenario"},
		{"pay_method_id too long", func(r *CreateOrderRequest) { r.PayMethodID = long(33) }, "pay_method_id"},
		{"card_type 5", func(r *CreateOrderRequest) { r.CardType = 5 }, "card_type"},
		{"receipt_print_mode 4", func(r *CreateOrderRequest) { r.ReceiptPrintMode = ptr(ReceiptPrintMode(4)) }, "receipt_print_mode"},
		{"on_screen_tip on a void", func(r *CreateOrderRequest) {
			r.TransType = TransVoid
			r.OrigMerchantOrderNo = "ORIG-1"
			r.OnScreenTip = ptr(true)
		}, "on_screen_tip"},
		{"on_screen_tip on cashback", func(r *CreateOrderRequest) { r.TransType = TransCashback; r.OnScreenTip = ptr(false) }, "on_screen_tip"},
	}
	g := newFakeGateway(t)
	c := newTestClient(t, testConfig(t, g))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := saleRequest("VALID-1")
			tc.mutate(&r)
			resp, err := c.CreateOrder(context.Background(), r)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("CreateOrder = %v, %v; want a ValidationError", resp, err)
			}
			if ve.Field != tc.field {
				t.Errorf("ValidationError.Field = %q, want %q (%v)", ve.Field, tc.field, err)
			}
			if errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrNotSent) {
				t.Errorf("validation error also matches a transport class: %v", err)
			}
		})
	}
	if n := g.count(); n != 0 {
		t.Errorf("gateway received %d requests for invalid orders, want 0", n)
	}
}

func TestCreateOrderValidBoundaries(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *CreateOrderRequest)
	}{
		{"order number with every allowed symbol", func(r *CreateOrderRequest) { r.MerchantOrderNo = "aZ09_-|*@" }},
		{"order number of 32", func(r *CreateOrderRequest) { r.MerchantOrderNo = strings.Repeat("9", 32) }},
		{"description of 128 multibyte characters", func(r *CreateOrderRequest) { r.Description = strings.Repeat("é", 128) }},
		{"expires 1s", func(r *CreateOrderRequest) { r.Expires = time.Second }},
		{"zero tip", func(r *CreateOrderRequest) { r.TipAmount = ptr(int64(0)) }},
		{"cashback on cashback", func(r *CreateOrderRequest) { r.TransType = TransCashback; r.CashbackAmount = ptr(int64(0)) }},
		{"completion with original", func(r *CreateOrderRequest) { r.TransType = TransCompletion; r.OrigMerchantOrderNo = "AUTH-1" }},
		{"on_screen_tip on preauth", func(r *CreateOrderRequest) { r.TransType = TransPreAuth; r.OnScreenTip = ptr(true) }},
		{"notify_url http with port", func(r *CreateOrderRequest) { r.NotifyURL = "http://relay.example.com:8080/hooks/codepay" }},
		{"QR scenario", func(r *CreateOrderRequest) { r.PayScenario = ScenarioBScanQR }},
		{"receipt none", func(r *CreateOrderRequest) { r.ReceiptPrintMode = ptr(ReceiptNone) }},
	}
	g := newFakeGateway(t)
	c := newTestClient(t, testConfig(t, g))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := saleRequest("VALID-1")
			tc.mutate(&r)
			before := g.count()
			if _, err := c.CreateOrder(context.Background(), r); err != nil {
				t.Fatalf("CreateOrder: %v", err)
			}
			if g.count() != before+1 {
				t.Errorf("request not sent")
			}
		})
	}
	last := g.last()
	if last.Params["receipt_print_mode"] != "0" {
		t.Errorf("receipt_print_mode 0 not sent: %q", last.Params["receipt_print_mode"])
	}
}

func TestOtherMethodsValidation(t *testing.T) {
	g := newFakeGateway(t)
	c := newTestClient(t, testConfig(t, g))
	ctx := context.Background()
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"close: terminal_sn missing", func() error {
			_, err := c.CloseOrder(ctx, CloseOrderRequest{MerchantOrderNo: "A1"})
			return err
		}, "terminal_sn"},
		{"close: bad order number", func() error {
			_, err := c.CloseOrder(ctx, CloseOrderRequest{TerminalSN: "T1", MerchantOrderNo: "A 1"})
			return err
		}, "merchant_order_no"},
		{"close: description too long", func() error {
			_, err := c.CloseOrder(ctx, CloseOrderRequest{TerminalSN: "T1", MerchantOrderNo: "A1", Description: strings.Repeat("x", 129)})
			return err
		}, "description"},
		{"query: neither number", func() error { _, err := c.QueryOrder(ctx, "", ""); return err }, "merchant_order_no"},
		{"query: bad order number", func() error { _, err := c.QueryOrder(ctx, "A/1", ""); return err }, "merchant_order_no"},
		{"query: trans_no too long", func() error { _, err := c.QueryOrder(ctx, "", strings.Repeat("5", 33)); return err }, "trans_no"},
		{"query refund: neither number", func() error { _, err := c.QueryRefund(ctx, "", ""); return err }, "merchant_order_no"},
		{"revoke: missing", func() error { _, err := c.RevokeOrder(ctx, ""); return err }, "merchant_order_no"},
		{"refund: no original", func() error {
			_, err := c.SubmitRefund(ctx, RefundRequest{MerchantOrderNo: "R1", Amount: usd(100), Description: "x"})
			return err
		}, "orig_merchant_order_no"},
		{"refund: description missing", func() error {
			_, err := c.SubmitRefund(ctx, RefundRequest{MerchantOrderNo: "R1", OrigTransNo: "5021", Amount: usd(100)})
			return err
		}, "description"},
		{"refund: description over 64", func() error {
			_, err := c.SubmitRefund(ctx, RefundRequest{MerchantOrderNo: "R1", OrigTransNo: "5021", Amount: usd(100), Description: strings.Repeat("x", 65)})
			return err
		}, "description"},
		{"refund: amount zero", func() error {
			_, err := c.SubmitRefund(ctx, RefundRequest{MerchantOrderNo: "R1", OrigTransNo: "5021", Amount: usd(0), Description: "x"})
			return err
		}, "order_amount"},
		{"refund: too many decimals", func() error {
			_, err := c.SubmitRefund(ctx, RefundRequest{MerchantOrderNo: "R1", OrigTransNo: "5021", Description: "x",
				Amount: money.Amount{Minor: 1001, Currency: money.Currency{Code: "JPY", Exponent: 1}}})
			return err
		}, "order_amount"},
		{"refund: notify_url with query", func() error {
			_, err := c.SubmitRefund(ctx, RefundRequest{MerchantOrderNo: "R1", OrigTransNo: "5021", Amount: usd(1), Description: "x", NotifyURL: "https://x.example/?a"})
			return err
		}, "notify_url"},
		{"refund: own number missing", func() error {
			_, err := c.SubmitRefund(ctx, RefundRequest{OrigTransNo: "5021", Amount: usd(1), Description: "x"})
			return err
		}, "merchant_order_no"},
		{"batch: terminal missing", func() error { _, err := c.CloseBatch(ctx, ""); return err }, "terminal_sn"},
		{"tip: negative", func() error { return c.AdjustTip(ctx, "A1", usd(-1)) }, "tip_adjustment_amount"},
		{"tip: too many decimals", func() error {
			return c.AdjustTip(ctx, "A1", money.Amount{Minor: 1, Currency: money.Currency{Code: "USD", Exponent: 3}})
		}, "tip_adjustment_amount"},
		{"tip: bad order number", func() error { return c.AdjustTip(ctx, "", usd(100)) }, "merchant_order_no"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if ve.Field != tc.field {
				t.Errorf("Field = %q, want %q", ve.Field, tc.field)
			}
		})
	}
	if n := g.count(); n != 0 {
		t.Errorf("gateway received %d requests, want 0", n)
	}
}

func TestCreateOrderResponseDecoding(t *testing.T) {
	tests := []struct {
		name       string
		currency   string
		minor      int64
		body       func(g *fakeGateway) []byte
		wantAmount *int64
		wantStatus string
	}{
		{
			name: "spec sample with numeric trans_amount", currency: "USD", minor: 14434,
			body: func(g *fakeGateway) []byte {
				return signedEnvelope(g.t, g.gwKey, "0", "success", `{"message_id":"M021000010210602000003","trans_no":"5021000010210602000003","terminal_online_status":"online","trans_amount":144.34}`)
			},
			wantAmount: ptr(int64(14434)), wantStatus: "online",
		},
		{
			name: "JPY amount with trailing zeros", currency: "JPY", minor: 500,
			body: func(g *fakeGateway) []byte {
				return signedEnvelope(g.t, g.gwKey, "0", "success", `{"trans_no":"1","terminal_online_status":"offline","trans_amount":"500.00"}`)
			},
			wantAmount: ptr(int64(500)), wantStatus: "offline",
		},
		{
			name: "KWD amount", currency: "KWD", minor: 12345,
			body: func(g *fakeGateway) []byte {
				return signedEnvelope(g.t, g.gwKey, "0", "success", `{"trans_no":"1","trans_amount":"12.345"}`)
			},
			wantAmount: ptr(int64(12345)),
		},
		{
			name: "data as a JSON string", currency: "USD", minor: 14434,
			body: func(g *fakeGateway) []byte {
				return signedEnvelope(g.t, g.gwKey, "0", "success", `"{\"trans_no\":\"1\",\"trans_amount\":\"144.34\",\"terminal_online_status\":\"online\"}"`)
			},
			wantAmount: ptr(int64(14434)), wantStatus: "online",
		},
		{
			name: "pretty data signed as received", currency: "USD", minor: 14434,
			body: func(g *fakeGateway) []byte {
				return signedEnvelope(g.t, g.gwKey, "0", "success", "{\n  \"trans_no\": \"1\",\n  \"trans_amount\": \"144.34\"\n}")
			},
			wantAmount: ptr(int64(14434)),
		},
		{
			name: "pretty data signed compact (fastjson style)", currency: "USD", minor: 14434,
			body: func(g *fakeGateway) []byte {
				signed := signedEnvelope(g.t, g.gwKey, "0", "success", `{"trans_no":"1","trans_amount":"144.34"}`)
				p, err := ResponseParams(signed)
				if err != nil {
					g.t.Fatal(err)
				}
				return envelopeJSON("0", "success", testPSN, "{ \"trans_no\" : \"1\",\n \"trans_amount\" : \"144.34\" }", p["sign"])
			},
			wantAmount: ptr(int64(14434)),
		},
		{
			name: "no data at all", currency: "USD", minor: 100,
			body: func(g *fakeGateway) []byte { return signedEnvelope(g.t, g.gwKey, "0", "success", "") },
		},
		{
			name: "null data", currency: "USD", minor: 100,
			body: func(g *fakeGateway) []byte { return signedEnvelope(g.t, g.gwKey, "0", "success", "null") },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) { _, _ = w.Write(tc.body(g)) })
			c := newTestClient(t, testConfig(t, g))
			r := saleRequest("DEC-1")
			r.Amount = money.Amount{Minor: tc.minor, Currency: money.MustCurrency(tc.currency)}
			resp, err := c.CreateOrder(context.Background(), r)
			if err != nil {
				t.Fatalf("CreateOrder: %v", err)
			}
			if resp.PSN != testPSN {
				t.Errorf("PSN = %q", resp.PSN)
			}
			if resp.TerminalOnlineStatus != tc.wantStatus {
				t.Errorf("TerminalOnlineStatus = %q, want %q", resp.TerminalOnlineStatus, tc.wantStatus)
			}
			switch {
			case tc.wantAmount == nil && resp.TransAmount != nil:
				t.Errorf("TransAmount = %d, want nil", *resp.TransAmount)
			case tc.wantAmount != nil && (resp.TransAmount == nil || *resp.TransAmount != *tc.wantAmount):
				t.Errorf("TransAmount = %v, want %d", resp.TransAmount, *tc.wantAmount)
			}
		})
	}
}

// querySample is the Query Order response sample of the spec (JPY).
const querySample = `{"trans_no":"50210004102306140000003","trans_end_time":"2023-06-14 08:51:51","pay_user_account_id":"2102209000000858994F9","store_no":"4021000201","pay_scenario":"BSCANQR_PAY","pay_method_id":"Alipay+","trans_fee_c":"0","trans_amount":"200","merchant_order_no":"TEST_1686732708342","pay_channel_trans_no":"20230614190741010007G0004187182","discount_bpc":"0","vat_amount":"0","pay_platform_trans_no":"20230614198881010003B0000463071","order_amount":"200","paid_amount":"200","trans_status":2,"price_currency":"JPY","trans_type":1,"discount_bmopc":"0"}`

func TestQueryOrderDecoding(t *testing.T) {
	g := newFakeGateway(t)
	var data string
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "0", "success", data)
	})
	c := newTestClient(t, testConfig(t, g))
	ctx := context.Background()

	t.Run("spec sample", func(t *testing.T) {
		data = querySample
		o, err := c.QueryOrder(ctx, "TEST_1686732708342", "")
		if err != nil {
			t.Fatalf("QueryOrder: %v", err)
		}
		want := Order{
			TransNo: "50210004102306140000003", MerchantOrderNo: "TEST_1686732708342",
			TransType: TransSale, TransStatus: StatusCompleted, Currency: "JPY",
			PayScenario: "BSCANQR_PAY", PayMethodID: "Alipay+",
			PayChannelTransNo: "20230614190741010007G0004187182", PayPlatformTransNo: "20230614198881010003B0000463071",
			TransEndTime: "2023-06-14 08:51:51", StoreNo: "4021000201", PSN: testPSN,
		}
		checkOrder(t, o, want, map[string]*int64{"order": ptr(int64(200)), "trans": ptr(int64(200)), "paid": ptr(int64(200)),
			"fee": ptr(int64(0)), "vat": ptr(int64(0)), "bpc": ptr(int64(0)), "bmopc": ptr(int64(0))})
		sent := g.last().Params
		if sent["method"] != MethodOrderQuery || sent["merchant_order_no"] != "TEST_1686732708342" {
			t.Errorf("sent %v", sent)
		}
		if _, ok := sent["trans_no"]; ok {
			t.Errorf("empty trans_no was sent")
		}
	})
	t.Run("declined with extras, strings everywhere, full PAN masked", func(t *testing.T) {
		data = `{"trans_no":"T9","merchant_order_no":"K1","trans_type":"1","trans_status":"1","price_currency":"KWD",
			"order_amount":12.345,"trans_amount":"12.345","tip_amount":"1.5","cashback_amount":0,
			"auth_code":"919070","rrn":"123456789012","card_no":"4761739001010119","entry_mode":"contact",
			"trans_error_code":"51","trans_error_msg":"Insufficient funds","attach":"{\"lane\":1}"}`
		o, err := c.QueryOrder(ctx, "K1", "")
		if err != nil {
			t.Fatalf("QueryOrder: %v", err)
		}
		want := Order{
			TransNo: "T9", MerchantOrderNo: "K1", TransType: TransSale, TransStatus: StatusFailed, Currency: "KWD",
			AuthCode: "919070", RefNo: "123456789012", CardNo: "476173******0119", EntryMode: "contact",
			TransErrorCode: "51", TransErrorMsg: "Insufficient funds", Attach: `{"lane":1}`, PSN: testPSN,
		}
		checkOrder(t, o, want, map[string]*int64{"order": ptr(int64(12345)), "trans": ptr(int64(12345)), "tip": ptr(int64(1500)), "cashback": ptr(int64(0))})
	})
	t.Run("both numbers sent", func(t *testing.T) {
		data = `{"trans_no":"T2","merchant_order_no":"OTHER","trans_status":0}`
		o, err := c.QueryOrder(ctx, "M2", "T2")
		if err != nil {
			t.Fatalf("QueryOrder: %v", err)
		}
		if o.TransStatus != StatusProcessing || o.TransStatus.Final() {
			t.Errorf("status = %v", o.TransStatus)
		}
		sent := g.last().Params
		if sent["merchant_order_no"] != "M2" || sent["trans_no"] != "T2" {
			t.Errorf("sent %v", sent)
		}
	})

	unknown := []struct {
		name, data, orderNo, transNo string
	}{
		{"another order's state", `{"merchant_order_no":"OTHER","trans_status":2}`, "MINE", ""},
		{"another trans_no", `{"trans_no":"T-OTHER","trans_status":2}`, "", "T-MINE"},
		{"missing trans_status", `{"merchant_order_no":"MINE"}`, "MINE", ""},
		{"trans_status not a number", `{"merchant_order_no":"MINE","trans_status":"paid"}`, "MINE", ""},
		{"data is an array", `[1,2]`, "MINE", ""},
	}
	// Unreadable optional members are dropped (and logged), never unknown.
	for _, tc := range []struct{ name, data string }{
		{"amount without currency", `{"merchant_order_no":"MINE","trans_status":2,"order_amount":"1.00"}`},
		{"unknown currency", `{"merchant_order_no":"MINE","trans_status":2,"price_currency":"ZZZ","order_amount":"1"}`},
		{"amount too precise", `{"merchant_order_no":"MINE","trans_status":2,"price_currency":"USD","paid_amount":"1.001"}`},
		{"amount garbage", `{"merchant_order_no":"MINE","trans_status":2,"price_currency":"USD","paid_amount":"ten"}`},
	} {
		t.Run("lenient: "+tc.name, func(t *testing.T) {
			data = tc.data
			o, err := c.QueryOrder(ctx, "MINE", "")
			if err != nil || o.TransStatus != StatusCompleted || o.OrderAmount != nil || o.PaidAmount != nil {
				t.Fatalf("QueryOrder = %+v, %v; want completed without amounts", o, err)
			}
		})
	}
	for _, tc := range unknown {
		t.Run("unknown: "+tc.name, func(t *testing.T) {
			data = tc.data
			o, err := c.QueryOrder(ctx, tc.orderNo, tc.transNo)
			if !errors.Is(err, ErrUnknownOutcome) {
				t.Fatalf("QueryOrder = %+v, %v; want ErrUnknownOutcome", o, err)
			}
		})
	}
}

// TestQueryBinding: an answer is bound to what was asked. Asked by trans_no
// (with or without merchant_order_no) it is bound by trans_no — the spec's
// refund-query sample answers with another merchant_order_no
// (specs/codepay-cloud-open-api.txt:668 asks TEST_1623925902130_002, :679
// answers TEST_1686732708342) — and asked by number alone, by number.
func TestQueryBinding(t *testing.T) {
	g := newFakeGateway(t)
	var data string
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "0", "success", data)
	})
	c := newTestClient(t, testConfig(t, g))
	ctx := context.Background()
	for _, tc := range []struct {
		name, data, no, transNo string
		ok                      bool
	}{
		{"by trans_no, other number", `{"trans_no":"T1","merchant_order_no":"ORIG","trans_type":3,"trans_status":2}`, "R1", "T1", true},
		{"by trans_no, other trans_no", `{"trans_no":"T2","merchant_order_no":"R1","trans_type":3,"trans_status":2}`, "R1", "T1", false},
		{"by trans_no, answer without trans_no, same number", `{"merchant_order_no":"R1","trans_type":3,"trans_status":2}`, "R1", "T1", true},
		{"by trans_no, answer without trans_no, other number", `{"merchant_order_no":"ORIG","trans_type":3,"trans_status":2}`, "R1", "T1", false},
		{"by number, other number", `{"trans_no":"T1","merchant_order_no":"ORIG","trans_type":3,"trans_status":2}`, "R1", "", false},
		{"by number, same number", `{"trans_no":"T1","merchant_order_no":"R1","trans_type":3,"trans_status":2}`, "R1", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data = tc.data
			o, err := c.QueryRefund(ctx, tc.no, tc.transNo)
			if tc.ok && (err != nil || o.TransStatus != StatusCompleted) {
				t.Fatalf("QueryRefund = %+v, %v; want the completed refund", o, err)
			}
			if !tc.ok && !errors.Is(err, ErrUnknownOutcome) {
				t.Fatalf("QueryRefund = %+v, %v; want ErrUnknownOutcome (another order's answer)", o, err)
			}
			if sent := g.last().Params; tc.transNo != "" && (sent["trans_no"] != tc.transNo || sent["merchant_order_no"] != tc.no) {
				t.Errorf("sent %v, want both trans_no and merchant_order_no", sent)
			}
		})
	}
}

func checkOrder(t *testing.T, got *Order, want Order, amounts map[string]*int64) {
	t.Helper()
	gotAmounts := map[string]*int64{"order": got.OrderAmount, "trans": got.TransAmount, "paid": got.PaidAmount, "tip": got.TipAmount, "cashback": got.CashbackAmount,
		"fee": got.TransFee, "vat": got.VATAmount, "bpc": got.DiscountBPC, "bmopc": got.DiscountBMOPC, "settlement": got.SettlementTransAmount}
	for k, g := range gotAmounts {
		w := amounts[k]
		switch {
		case w == nil && g != nil:
			t.Errorf("%s amount = %d, want nil", k, *g)
		case w != nil && (g == nil || *g != *w):
			t.Errorf("%s amount = %v, want %d", k, g, *w)
		}
	}
	g := *got
	g.OrderAmount, g.TransAmount, g.PaidAmount, g.TipAmount, g.CashbackAmount = nil, nil, nil, nil, nil
	g.TransFee, g.VATAmount, g.DiscountBPC, g.DiscountBMOPC, g.SettlementTransAmount = nil, nil, nil, nil, nil
	if g != want {
		t.Errorf("order = %+v\nwant    %+v", g, want)
	}
}

func TestOtherMethodsSuccess(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		data   string
		call   func(c *Client) (any, error)
		method string
		sent   map[string]string
		check  func(t *testing.T, v any)
	}{
		{
			name: "close order", method: MethodPayClose,
			data: `{"message_id":"M1","trans_no":"T1"}`,
			call: func(c *Client) (any, error) {
				return c.CloseOrder(ctx, CloseOrderRequest{TerminalSN: "WPYB1", MerchantOrderNo: "C1"})
			},
			sent: map[string]string{"terminal_sn": "WPYB1", "merchant_order_no": "C1", "message_receiving_application": "CodePay Register"},
			check: func(t *testing.T, v any) {
				r := v.(*CloseOrderResponse)
				if *r != (CloseOrderResponse{MessageID: "M1", TransNo: "T1", PSN: testPSN}) {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "revoke", method: MethodOrderRevoker,
			data: `{"message_id":"M2","trans_no":"T2"}`,
			call: func(c *Client) (any, error) { return c.RevokeOrder(ctx, "QR-1") },
			sent: map[string]string{"merchant_order_no": "QR-1"},
			check: func(t *testing.T, v any) {
				r := v.(*RevokeResponse)
				if *r != (RevokeResponse{MessageID: "M2", TransNo: "T2", PSN: testPSN}) {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "refund by original trans_no", method: MethodRefundSubmit,
			data: `{"trans_no":"519018719199919","trans_amount":"100.00","trans_fee_c":"0","vat_amount":"0"}`,
			call: func(c *Client) (any, error) {
				return c.SubmitRefund(ctx, RefundRequest{MerchantOrderNo: "R-1", OrigTransNo: "5021", Amount: usd(10000), Description: "test refund", NotifyURL: "https://relay.example/hooks/codepay"})
			},
			sent: map[string]string{"merchant_order_no": "R-1", "orig_trans_no": "5021", "order_amount": "100.00", "trans_amount": "100.00", "price_currency": "USD", "description": "test refund", "notify_url": "https://relay.example/hooks/codepay"},
			check: func(t *testing.T, v any) {
				r := v.(*RefundResponse)
				if r.TransNo != "519018719199919" || r.TransAmount == nil || *r.TransAmount != 10000 || r.PSN != testPSN {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "query refund", method: MethodRefundQuery,
			data: `{"trans_no":"50210004102306140000003","trans_amount":"200","merchant_order_no":"R-2","order_amount":"200","trans_status":2,"price_currency":"JPY","trans_type":3}`,
			call: func(c *Client) (any, error) { return c.QueryRefund(ctx, "R-2", "") },
			sent: map[string]string{"merchant_order_no": "R-2"},
			check: func(t *testing.T, v any) {
				o := v.(*Order)
				if o.TransType != TransRefund || o.TransStatus != StatusCompleted || o.OrderAmount == nil || *o.OrderAmount != 200 {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			name: "batch close", method: MethodBatchClose,
			data: `{"count":1,"total_amount":100}`,
			call: func(c *Client) (any, error) { return c.CloseBatch(ctx, "P3171916581910") },
			sent: map[string]string{"terminal_sn": "P3171916581910"},
			check: func(t *testing.T, v any) {
				r := v.(*BatchCloseResponse)
				if r.Count == nil || *r.Count != 1 || r.TotalAmount != "100" || r.PSN != testPSN {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "batch close with empty data", method: MethodBatchClose,
			data: `{ }`,
			call: func(c *Client) (any, error) { return c.CloseBatch(ctx, "P1") },
			sent: map[string]string{"terminal_sn": "P1"},
			check: func(t *testing.T, v any) {
				r := v.(*BatchCloseResponse)
				if r.Count != nil || r.TotalAmount != "" {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "tip adjustment", method: MethodTipAdjustment,
			data:  `{}`,
			call:  func(c *Client) (any, error) { return nil, c.AdjustTip(ctx, "TIP-1", usd(0)) },
			sent:  map[string]string{"merchant_order_no": "TIP-1", "tip_adjustment_amount": "0.00"},
			check: func(t *testing.T, v any) {},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
				g.writeSigned(w, http.StatusOK, "0", "success", tc.data)
			})
			c := newTestClient(t, testConfig(t, g))
			v, err := tc.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			tc.check(t, v)
			sent := g.last().Params
			if sent["method"] != tc.method {
				t.Errorf("method = %q, want %q", sent["method"], tc.method)
			}
			for k, want := range tc.sent {
				if sent[k] != want {
					t.Errorf("sent %s = %q, want %q", k, sent[k], want)
				}
			}
			if _, ok := sent["api_version"]; ok {
				t.Errorf("api_version sent outside create order")
			}
		})
	}
}

func TestOtherMethodsErrors(t *testing.T) {
	ctx := context.Background()
	g := newFakeGateway(t)
	c := newTestClient(t, testConfig(t, g))

	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "40007", "order cannot be closed", "")
	})
	_, err := c.CloseOrder(ctx, CloseOrderRequest{TerminalSN: "T", MerchantOrderNo: "C1"})
	var ge *GatewayError
	if !errors.As(err, &ge) || ge.Code != "40007" || ge.Method != MethodPayClose {
		t.Errorf("CloseOrder err = %v, want GatewayError 40007", err)
	}
	if err := c.AdjustTip(ctx, "T1", usd(100)); !errors.As(err, &ge) || ge.Method != MethodTipAdjustment {
		t.Errorf("AdjustTip err = %v", err)
	}

	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "0", "success", `{"count":"many","total_amount":"1.00"}`)
	})
	// The gateway signed code 0: the batch is closed; the bad count only
	// means the totals are not compared (batch_test.go has every shape).
	if r, err := c.CloseBatch(ctx, "T"); err != nil || r.HasTotals() || r.Unreadable != "count" {
		t.Errorf("CloseBatch with bad count: %+v, %v; want closed without totals", r, err)
	}
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "0", "success", `{"trans_no":"1","trans_amount":"1.001"}`)
	})
	// A signed success: the refund exists; the unreadable echo is dropped.
	if r, err := c.SubmitRefund(ctx, RefundRequest{MerchantOrderNo: "R", OrigMerchantOrderNo: "O", Amount: usd(1), Description: "d"}); err != nil || r.TransNo != "1" || r.TransAmount != nil {
		t.Errorf("SubmitRefund with bad amount echo: %+v, %v; want success without trans_amount", r, err)
	}
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		http.Error(w, "boom", http.StatusBadGateway)
	})
	if _, err := c.QueryOrder(ctx, "Q1", ""); !errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("QueryOrder on 502: %v, want ErrUnknownOutcome", err)
	}
}

func TestLogging(t *testing.T) {
	g := newFakeGateway(t)
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, got received) {
		g.writeSigned(w, http.StatusOK, "0", "success", `{"merchant_order_no":"LOG-1","trans_status":2,"card_no":"4761739001010119","price_currency":"USD","order_amount":"1.00"}`)
	})
	cfg := testConfig(t, g)
	logs := &simtest.LogBuffer{}
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClient(t, cfg)
	if _, err := c.CreateOrder(context.Background(), saleRequest("LOG-1")); err != nil {
		t.Fatal(err)
	}
	o, err := c.QueryOrder(context.Background(), "LOG-1", "")
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{`"method":"wisehub.cloud.pay.order"`, `"merchant_order_no":"LOG-1"`, `"code":"0"`, `"duration"`, `"psn":"` + testPSN, `"verified":"raw"`, `"method":"order.query"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{"PRIVATE", g.last().Params["sign"], "4761739001010119"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if o.CardNo != "476173******0119" {
		t.Errorf("CardNo = %q, want masked", o.CardNo)
	}
}

func TestMaskCardNo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"476173******0119", "476173******0119"},
		{"4761 7390 0101 0119", "476173******0119"},
		{"4761739001010119", "476173******0119"},
		{"370000000000002", "370000*****0002"},
		{"0119", "0119"},
		{"12345678", "****5678"},
		{"XXXX0119", "XXXX0119"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := MaskCardNo(tc.in); got != tc.want {
				t.Errorf("MaskCardNo(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
