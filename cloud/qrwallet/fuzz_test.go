package qrwallet

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/posbridge/posbridge/money"
)

// FuzzParseEnvelope feeds arbitrary answer bodies through the decoder and
// the answer checks a quick pay and a status query make. It must never
// panic, never take a success without a data object, and never accept an
// amount it cannot write back exactly.
func FuzzParseEnvelope(f *testing.F) {
	seeds := []string{
		`{"success":true,"data":{"message":"SUCCESS","token":"eyJ0eXAiOiJKV1Q"}}`,
		`{"success":true,"data":{"qr_code":"weixin:\/\/wxpay\/bizpayurl?pr=6E4ptwz","amount":0.01,"out_trade_no":"ORDER-1","result_code":"SUCCESS"}}`,
		`{"success":true,"data":{"amount":"0.01","currency":"USD","out_trade_no":"ORDER-1","transaction_id":4200,"result_code":"SUCCESS"}}`,
		`{"success":true,"data":{"is_success":true,"service_id":30,"out_trade_no":"ORDER-1","amount":0.01,"out_trade_no":"ORDER-1","currency":"USD","message":"Payment Successful!"}}`,
		`{"success":true,"data":{"out_trade_no":"ORDER-1","out_trade_no":"ORDER-2"}}`,
		`{"success":false,"message":"Transaction not found"}`,
		`{"success":false,"data":{"message":"x"}}`,
		`{"success":"true","data":{}}`,
		`{"success":true,"data":{"amount":1e400,"is_success":1}}`,
		`{"success":true,"data":{"amount":-0.01}}`,
		`{"success":true,"data":{}} trailing`,
		`[1,2]`,
		"\xff{",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	usd := money.MustCurrency("USD")
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := parseEnvelope(body)
		if err != nil {
			return
		}
		if env.success && env.data == nil {
			t.Fatal("success without data")
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if env.data == nil {
			return
		}
		if v, ok, err := getAmount(env.data, "amount", usd); err == nil && ok {
			back, perr := money.ParseLenient(money.Format(v, usd), usd)
			if v < 0 || perr != nil || back != v {
				t.Fatalf("amount %d does not round-trip", v)
			}
		}
		a := &answer{op: OpQuickPay, data: env.data, cur: usd}
		a.expectString("out_trade_no", "ORDER-1", true)
		a.expectAmount("amount", 1, true)
		a.expectCurrency()
		_ = a.boolean("is_success")
		_ = a.integer("service_id")
		_ = a.resultCode(true)
		var me *MismatchError
		if a.err != nil && (!errors.As(a.err, &me) || !errors.Is(a.err, ErrUnknownOutcome)) {
			t.Fatalf("answer error %v is not a *MismatchError", a.err)
		}
	})
}

// FuzzClassify checks the HTTP classification: whatever the body and
// status, a result is exactly one of success, refusal or unknown outcome.
func FuzzClassify(f *testing.F) {
	f.Add(200, []byte(`{"success":true,"data":{}}`))
	f.Add(400, []byte(`{"success":false,"message":"no"}`))
	f.Add(429, []byte(`{"success":false}`))
	f.Add(404, []byte(`<html>`))
	f.Add(422, []byte(`{"success":true,"data":{}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		env, err := classify(OpPaymentStatus, status, body)
		var ge *GatewayError
		switch {
		case err == nil:
			if env == nil || !env.success || status < 200 || status > 299 {
				t.Fatalf("success from HTTP %d: %+v", status, env)
			}
		case errors.As(err, &ge):
			if errors.Is(err, ErrUnknownOutcome) || status >= 500 || status == 429 || status == 408 {
				t.Fatalf("refusal from HTTP %d: %v", status, err)
			}
		case !errors.Is(err, ErrUnknownOutcome):
			t.Fatalf("HTTP %d: error %v is neither a refusal nor unknown", status, err)
		}
	})
}

func TestParseObjectDuplicates(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`{"a":1,"a":1}`, true},
		{`{"a":{"x":1},"a":{ "x" : 1 }}`, true},
		{`{"a":1,"a":2}`, false},
		{`{"a":"1","a":1}`, false},
		{`{}`, true},
		{`{} {}`, false},
	}
	for _, tc := range tests {
		if _, err := parseObject([]byte(tc.in)); (err == nil) != tc.ok {
			t.Errorf("parseObject(%s) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}
