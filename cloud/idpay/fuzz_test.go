package idpay

import (
	"errors"
	"net/url"
	"testing"
)

// fuzzClient is a client for parser fuzzing (no network).
func fuzzClient(t testing.TB) *Client {
	t.Helper()
	priv, plat := keyFiles(t)
	c, err := New(Config{BaseURL: "https://gw.example", MerchantCode: testMerchant, PrivateKeyFile: priv, PlatformPublicKeyFile: plat, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func signedJSON(t testing.TB, p Params) []byte {
	t.Helper()
	if err := SignParams(platformPriv(t), p, "sign"); err != nil {
		t.Fatal(err)
	}
	c := &Client{f: DefaultFields}
	b, err := c.encodeRequest(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeAnswer(f *testing.F) {
	c := fuzzClient(f)
	f.Add(signedJSON(f, Params{"platRespCode": "SUCCESS", "merchantCode": testMerchant, "orderNum": "PB-1", "status": "NO_PAY", "payMoney": "30000", "vaNumber": "3935800000000001"}))
	f.Add(signedJSON(f, Params{"platRespCode": "FAIL", "errorCode": "ORDER_NOT_FOUND", "platRespMessage": "no"}))
	f.Add(signedJSON(f, Params{"platRespCode": "UNKNOWN"}))
	f.Add(signedJSON(f, Params{"platRespCode": "SUCCESS", "orderNum": "OTHER"}))
	f.Add(signedJSON(f, Params{"platRespCode": "SUCCESS", "payMoney": "30000.5"}))
	f.Add([]byte(`{"platRespCode":"SUCCESS","sign":"AAAA"}`))
	f.Add([]byte(`{"platRespCode":"SUCCESS","status":{"a":[1,null]},"payMoney":1e400}`))
	f.Add([]byte(`null`))
	f.Add([]byte{0xff, '{'})
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := c.decodeAnswer(opQuery, "PB-1", body)
		if err == nil {
			if p[FieldRespCode] != RespSuccess || VerifyParams(c.key.platform, p, "sign") != nil {
				t.Fatalf("accepted an answer that is not a signed SUCCESS: %v", p)
			}
			pay := c.payment(p, "PB-1")
			if pay.State != MapStatus(pay.Status) && pay.Status != "" {
				t.Fatalf("state %s for status %q", pay.State, pay.Status)
			}
			if pay.Amount != nil && (pay.Amount.Minor <= 0 || pay.Amount.Minor%100 != 0) {
				t.Fatalf("amount %v is not whole rupiah", pay.Amount)
			}
			return
		}
		var ge *GatewayError
		if !errors.Is(err, ErrUnknownOutcome) && !errors.As(err, &ge) {
			t.Fatalf("error %v is neither unknown outcome nor a refusal", err)
		}
	})
}

func FuzzParseCallback(f *testing.F) {
	c := fuzzClient(f)
	good := url.Values{"merchantCode": {testMerchant}, "orderNum": {"PB-1"}, "status": {"SUCCESS"}, "payMoney": {"30000"}, "method": {"QRIS"}}
	f.Add([]byte(signedForm(f, platformPriv(f), good)), "application/x-www-form-urlencoded")
	f.Add([]byte(signedForm(f, platformPriv(f), url.Values{"merchantCode": {testMerchant}, "orderNum": {"PB-2"}, "status": {"WEIRD"}})), "")
	f.Add([]byte(good.Encode()), "application/x-www-form-urlencoded")
	f.Add([]byte("a=1&a=2&sign=%zz"), "")
	f.Add([]byte(`{"orderNum":"x"}`), "application/json")
	f.Add([]byte("sign=AAAA"), "text/plain; charset")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		cb, err := c.ParseCallback(body, ctype)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrBadCallback) {
				t.Fatalf("error %v is neither a bad signature nor a bad callback", err)
			}
			return
		}
		if checkOrderNo(cb.OrderNo) != nil || cb.Status == "" || cb.State != MapStatus(cb.Status) {
			t.Fatalf("accepted callback %+v", cb)
		}
		if cb.Amount != nil && (cb.Amount.Minor <= 0 || cb.Amount.Minor%100 != 0) {
			t.Fatalf("amount %v is not whole rupiah", cb.Amount)
		}
	})
}
