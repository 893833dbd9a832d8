package codepay

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// notificationParams returns a signed notification as the emulator sends it:
// the common envelope plus the order.query data fields, all strings.
func signedNotification(t *testing.T, extra map[string]string) Params {
	t.Helper()
	p := Params{
		"app_id": testAppID, "sign_type": "RSA2", "timestamp": "1709288430123",
		"trans_no": "5021000010210602000003", "merchant_order_no": "N-1", "trans_type": "1",
		"trans_status": "2", "order_amount": "144.34", "trans_amount": "174.34", "tip_amount": "30.00",
		"price_currency": "USD", "pay_method_id": "Visa", "attach": "lane 1",
		"trans_end_time": "2024-03-01 10:21:00",
	}
	for k, v := range extra {
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	if err := Sign(gatewayKey(t), p); err != nil {
		t.Fatal(err)
	}
	return p
}

func jsonBody(t *testing.T, p Params) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func formBody(p Params) []byte {
	v := url.Values{}
	for k, s := range p {
		v.Set(k, s)
	}
	return []byte(v.Encode())
}

func TestParseNotification(t *testing.T) {
	g := newFakeGateway(t)
	c := newTestClient(t, testConfig(t, g))
	noKeyCfg := testConfig(t, g)
	noKeyCfg.GatewayPublicKey = nil
	noKey := newTestClient(t, noKeyCfg)

	numeric := func() []byte {
		unsigned := `{"app_id":"` + testAppID + `","sign_type":"RSA2","merchant_order_no":"N-1","trans_no":"T-7","trans_status":1,"trans_type":1,"price_currency":"JPY","order_amount":500,"trans_error_code":"51","trans_error_msg":"Insufficient funds"}`
		p, err := ResponseParams([]byte(unsigned))
		if err != nil {
			t.Fatal(err)
		}
		sig, err := SignString(gatewayKey(t), Canonical(p))
		if err != nil {
			t.Fatal(err)
		}
		return []byte(strings.TrimSuffix(unsigned, "}") + `,"sign":"` + sig + `"}`)
	}
	wrapped := signedEnvelope(t, gatewayKey(t), "0", "success", `{"merchant_order_no":"N-1","trans_no":"T-8","trans_status":3,"price_currency":"USD","order_amount":"1.00"}`)

	tampered := signedNotification(t, nil)
	tampered["trans_amount"] = "1.00"
	unsigned := signedNotification(t, nil)
	delete(unsigned, "sign")

	tests := []struct {
		name        string
		client      *Client
		body        []byte
		contentType string
		wantErr     error
		check       func(t *testing.T, o *Order)
	}{
		{"JSON strings", c, jsonBody(t, signedNotification(t, nil)), "application/json", nil, func(t *testing.T, o *Order) {
			if o.MerchantOrderNo != "N-1" || o.TransStatus != StatusCompleted || o.TransAmount == nil || *o.TransAmount != 17434 ||
				o.TipAmount == nil || *o.TipAmount != 3000 || o.Attach != "lane 1" || o.Currency != "USD" {
				t.Errorf("order = %+v", o)
			}
		}},
		{"JSON without content type", c, jsonBody(t, signedNotification(t, nil)), "", nil, func(t *testing.T, o *Order) {
			if o.TransNo != "5021000010210602000003" {
				t.Errorf("order = %+v", o)
			}
		}},
		{"form body", c, formBody(signedNotification(t, map[string]string{"attach": `{"a": "b&c=d"}`})), "application/x-www-form-urlencoded; charset=UTF-8", nil, func(t *testing.T, o *Order) {
			if o.Attach != `{"a": "b&c=d"}` || o.TransStatus != StatusCompleted {
				t.Errorf("order = %+v", o)
			}
		}},
		{"form body without content type", c, formBody(signedNotification(t, nil)), "", nil, func(t *testing.T, o *Order) {
			if o.MerchantOrderNo != "N-1" {
				t.Errorf("order = %+v", o)
			}
		}},
		{"JSON numbers", c, numeric(), "application/json", nil, func(t *testing.T, o *Order) {
			if o.TransStatus != StatusFailed || o.OrderAmount == nil || *o.OrderAmount != 500 || o.TransErrorCode != "51" {
				t.Errorf("order = %+v", o)
			}
		}},
		{"envelope with data", c, wrapped, "application/json", nil, func(t *testing.T, o *Order) {
			if o.TransNo != "T-8" || o.TransStatus != StatusCancelled || o.OrderAmount == nil || *o.OrderAmount != 100 {
				t.Errorf("order = %+v", o)
			}
		}},
		{"full PAN masked", c, jsonBody(t, signedNotification(t, map[string]string{"card_no": "4761739001010119"})), "application/json", nil, func(t *testing.T, o *Order) {
			if o.CardNo != "476173******0119" {
				t.Errorf("CardNo = %q", o.CardNo)
			}
		}},
		{"tampered", c, jsonBody(t, tampered), "application/json", ErrBadSignature, nil},
		{"tampered form", c, formBody(tampered), "application/x-www-form-urlencoded", ErrBadSignature, nil},
		{"unsigned", c, jsonBody(t, unsigned), "application/json", ErrBadSignature, nil},
		{"no gateway key", noKey, jsonBody(t, signedNotification(t, nil)), "application/json", ErrBadSignature, nil},
		{"signed by the app key", c, func() []byte {
			p := signedNotification(t, nil)
			if err := Sign(appKey(t), p); err != nil {
				t.Fatal(err)
			}
			return jsonBody(t, p)
		}(), "application/json", ErrBadSignature, nil},
		{"not JSON", c, []byte(`{"trans_status":`), "application/json", ErrBadNotification, nil},
		{"JSON array", c, []byte(`[1]`), "application/json", ErrBadNotification, nil},
		{"empty", c, nil, "application/json", ErrBadNotification, nil},
		{"bad content type", c, jsonBody(t, signedNotification(t, nil)), "application/json; =", ErrBadNotification, nil},
		{"duplicate form field", c, append(formBody(signedNotification(t, nil)), []byte("&trans_status=1")...), "application/x-www-form-urlencoded", ErrBadNotification, nil},
		{"signed but no trans_status", c, jsonBody(t, signedNotification(t, map[string]string{"trans_status": ""})), "application/json", ErrBadNotification, nil},
		{"signed but no order number", c, jsonBody(t, signedNotification(t, map[string]string{"trans_no": "", "merchant_order_no": ""})), "application/json", ErrBadNotification, nil},
		{"signed but amount without currency", c, jsonBody(t, signedNotification(t, map[string]string{"price_currency": ""})), "application/json", ErrBadNotification, nil},
		{"too large", c, append([]byte(`{"a":"`), append([]byte(strings.Repeat("x", maxNotificationBytes)), '"', '}')...), "application/json", ErrBadNotification, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.client.ParseNotification(tc.body, tc.contentType)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseNotification = %+v, %v; want %v", o, err, tc.wantErr)
				}
				if o != nil {
					t.Errorf("order returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseNotification: %v", err)
			}
			tc.check(t, o)
		})
	}
	if g.count() != 0 {
		t.Errorf("ParseNotification made %d requests", g.count())
	}
}
