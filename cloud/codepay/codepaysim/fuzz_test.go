package codepaysim

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
)

var fuzzSeeds = []struct{ ct, body string }{
	{"application/json", `{"app_id":"wz1","order_amount":144.34,"on_screen_tip":false,"trans_type":1,"timestamp":"1709106082819"}`},
	{"application/json", `{"order_detail":{"b":[1, 2],"a":null},"x":null,"y":"CodePay Register"}`},
	{"application/json; charset=UTF-8", `{"a":"\u00e9\ud83d\ude00","b":-1.5e3,"c":true}`},
	{"application/json", `{"a":"1","a":"2"}`},
	{"application/json", `{"a":1} {"b":2}`},
	{"application/json", `[1,2,3]`},
	{"application/json", `{"":"empty key"}`},
	{"application/x-www-form-urlencoded", `method=order.query&merchant_order_no=A%7CB&sign=ab%2B%2F%3D`},
	{"application/x-www-form-urlencoded", `a=1&a=2`},
	{"application/x-www-form-urlencoded", `a=%zz`},
	{"", `{"method":"order.query"}`},
	{"", `method=order.query`},
	{"text/plain", `{}`},
	{"multipart/form-data", `--x`},
	{"application/json; charset=latin1", `{}`},
	{"application/json", "{\"a\":\"\xff\"}"},
}

// FuzzDecodeRequest: the decoder never panics, and what it accepts is a
// fixed point: rendering the params as a JSON object of strings or as a form
// and decoding again gives the same params.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		p, err := decodeRequest(ct, body)
		if err != nil {
			if p != nil {
				t.Fatalf("error %v with non-nil params", err)
			}
			return
		}
		for k, v := range p {
			if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("bad param %q=%q", k, v)
			}
		}
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := decodeRequest("application/json", js)
		if err != nil || !maps.Equal(p, p2) {
			t.Fatalf("JSON round trip: %v\n%v\n%v", err, p, p2)
		}
		form := url.Values{}
		for k, v := range p {
			form.Set(k, v)
		}
		p3, err := decodeRequest("application/x-www-form-urlencoded", []byte(form.Encode()))
		if len(p) > 0 && (err != nil || !maps.Equal(p, p3)) {
			t.Fatalf("form round trip: %v\n%v\n%v", err, p, p3)
		}
	})
}

// FuzzEntry: any body gets HTTP 200 with a signed envelope (never a panic),
// and nothing but a correctly signed request is ever accepted.
func FuzzEntry(f *testing.F) {
	keys := loadTestKeys(f)
	clock := simtest.NewClock()
	sim, err := New(Config{
		AppID: testAppID, MerchantNo: testMerchant, StoreNo: testStore,
		AppPublicKey: keys.appPub, GatewayKey: keys.gwPriv,
		Terminals: []TerminalConfig{{SN: snOnline, Online: true}},
		Clock:     clock, Logger: testLogger(),
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range fuzzSeeds {
		f.Add(s.ct, []byte(s.body))
	}
	signed := commonParams(clock.Now(), codepay.MethodPayOrder)
	maps.Copy(signed, createFields("FZ-1", "1.00"))
	_ = codepay.Sign(keys.appPriv, signed)
	b, _ := json.Marshal(signed)
	f.Add("application/json", b)
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/entry", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d", rec.Code)
		}
		params, err := codepay.ResponseParams(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("response is not an envelope: %v", err)
		}
		if err := codepay.Verify(keys.gwPub, params); err != nil {
			t.Fatalf("response not signed: %v", err)
		}
		if params["code"] == CodeOK {
			p, err := decodeRequest(ct, body)
			if err != nil || codepay.Verify(keys.appPub, p) != nil {
				t.Fatalf("accepted a request that is not correctly signed: %s", body)
			}
		}
	})
}
