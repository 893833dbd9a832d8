package codepay

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// independentlyVerified reports whether body carries a valid gateway
// signature by one of the documented rules (raw data, compact data, or the
// Java SDK's fastjson re-serialisation of the whole body).
func independentlyVerified(t *testing.T, body []byte) bool {
	p, err := ResponseParams(body)
	if err != nil || p["sign"] == "" {
		return false
	}
	pub := gatewayPub(t)
	sig := p["sign"]
	if VerifyString(pub, Canonical(p), sig) == nil {
		return true
	}
	if fj, err := fastjsonParams(body); err == nil && VerifyString(pub, Canonical(fj), sig) == nil {
		return true
	}
	if compact, differs := CompactJSON(p["data"]); differs {
		p["data"] = compact
		return VerifyString(pub, Canonical(p), sig) == nil
	}
	return false
}

func FuzzDecodeResponse(f *testing.F) {
	gw := gatewayKey(f)
	f.Add(signedEnvelope(f, gw, "0", "success", querySample))
	f.Add(signedEnvelope(f, gw, "0", "success", `{"trans_no":"1","trans_amount":144.34,"terminal_online_status":"online"}`))
	f.Add(signedEnvelope(f, gw, "0", "success", `"{\"trans_status\":2,\"merchant_order_no\":\"A\"}"`))
	f.Add(signedEnvelope(f, gw, "0", "success", "{\n \"trans_status\" : 1 }"))
	f.Add(signedEnvelope(f, gw, "40001", "missing parameter", ""))
	f.Add(envelopeJSON("0", "success", testPSN, `{"trans_status":2}`, ""))
	f.Add(envelopeJSON("40003", "timestamp", testPSN, "", ""))
	f.Add([]byte(`{"code":0,"sign":"AAAA","data":[]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"code":"0","data":{"trans_status":"1e400"}}`))
	f.Add([]byte{0xff, '{'})
	// Signed by the Java SDK's rule, sent in another key order.
	f.Add(sdkSignedBody(f, gw, `{"code":"0","msg":"success","psn":"P","data":`+querySample+`}`))
	f.Add(sdkSignedBody(f, gw, `{"code":"0","msg":"success","psn":"P","data":{"trans_status":2,"merchant_order_no":"PB-1","order_amount":10.50,"tip_amount":"abc","trans_type":{"x":1},"b":[1,null,{"c":null}],"e":1e3}}`))
	pub := gatewayPub(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		env, variant, err := decodeEnvelope(MethodOrderQuery, body, &verifier{key: pub})
		var ge *GatewayError
		switch {
		case err == nil:
			if env == nil || env.Code != "0" {
				t.Fatalf("success without code 0: %+v", env)
			}
			if variant != variantRaw && variant != variantCompact && variant != variantFastjson {
				t.Fatalf("success with verification variant %q", variant)
			}
			if !independentlyVerified(t, body) {
				t.Fatalf("decodeEnvelope accepted a body that does not verify: %q", body)
			}
			// Decoding the order must not panic whatever the data holds.
			_, _ = decodeOrder(env.Data, "")
		case errors.As(err, &ge):
			if !independentlyVerified(t, body) {
				t.Fatalf("unverified body treated as a definite refusal: %q", body)
			}
			if ge.Code == "0" {
				t.Fatalf("GatewayError with code 0")
			}
		default:
			if !errors.Is(err, ErrUnknownOutcome) {
				t.Fatalf("error outside the documented classes: %v", err)
			}
		}
		// Without verification the decoder must not panic either.
		if env, _, err := decodeEnvelope(MethodOrderQuery, body, nil); err == nil {
			_, _ = decodeOrder(env.Data, "USD")
		}
	})
}

func FuzzCanonical(f *testing.F) {
	f.Add("merchant_order_no", "A-1", "description", "CodePay Register", "sign", "x")
	f.Add("attach", `{"a": "b&c=d"}`, "", "", "SIGN", "y")
	f.Add("k", "é\u2028<>&", "z", "\x00", "a", "")
	f.Add("\xff", "\xfe", "k=v", "a&b", "sign_type", "RSA2")
	key := appKey(f)
	pub := &key.PublicKey
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		p := Params{k1: v1, k2: v2, k3: v3, "method": MethodOrderQuery}
		canonical := Canonical(p)
		// The drop rule: removing sign (any case) and empty values by hand
		// gives the same string, and its length is exactly the kept pairs.
		kept := Params{}
		want := -1
		for k, v := range p {
			if !strings.EqualFold(k, "sign") && v != "" {
				kept[k] = v
				want += len(k) + 1 + len(v) + 1
			}
		}
		if want < 0 {
			want = 0
		}
		if Canonical(kept) != canonical || len(canonical) != want {
			t.Fatalf("Canonical(%q) = %q, inconsistent with the drop rule", p, canonical)
		}
		if err := Sign(key, p); err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if err := Verify(pub, p); err != nil {
			t.Fatalf("Verify after Sign: %v (canonical %q)", err, canonical)
		}
		if Canonical(p) != canonical {
			t.Fatalf("adding sign changed the canonical string")
		}
		// Through the wire: JSON-encode all strings, decode as the gateway
		// would, verify again. Holds whenever keys and values are UTF-8.
		allUTF8 := true
		for k, v := range p {
			allUTF8 = allUTF8 && utf8.ValidString(k) && utf8.ValidString(v)
		}
		if !allUTF8 {
			return
		}
		wire, err := json.Marshal(map[string]string(p))
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := ResponseParams(wire)
		if err != nil {
			t.Fatalf("ResponseParams(wire): %v", err)
		}
		if err := Verify(pub, back); err != nil {
			t.Fatalf("signature does not survive the wire: %v\nwire: %s", err, wire)
		}
	})
}

func FuzzParseNotification(f *testing.F) {
	gw := gatewayKey(f)
	p := Params{"merchant_order_no": "N-1", "trans_status": "2", "price_currency": "USD", "order_amount": "1.00"}
	if err := Sign(gw, p); err != nil {
		f.Fatal(err)
	}
	js, _ := json.Marshal(p)
	f.Add(js, "application/json")
	f.Add(formBody(p), "application/x-www-form-urlencoded")
	f.Add(signedEnvelope(f, gw, "0", "success", `{"trans_status":2,"trans_no":"T"}`), "")
	f.Add([]byte("a=1&a=2"), "text/plain")
	f.Add(sdkSignedBody(f, gw, `{"merchant_order_no":"N-2","trans_status":2,"price_currency":"USD","order_amount":1.50,"tip_amount":"abc","data":{"z":1,"a":[1,2]}}`), "application/json")
	g := newFakeGateway(f)
	c := newTestClient(f, testConfig(f, g))
	pub := gatewayPub(f)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		o, err := c.ParseNotification(body, contentType)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrBadNotification) {
				t.Fatalf("error outside the documented classes: %v", err)
			}
			return
		}
		if o == nil {
			t.Fatalf("nil order without error")
		}
		params, jsonBody, perr := notificationParams(body, contentType)
		if perr != nil {
			t.Fatalf("accepted a body that does not decode: %v", perr)
		}
		if _, verr := (&verifier{key: pub}).verify(params, jsonBody); verr != nil {
			t.Fatalf("accepted a notification that does not verify")
		}
	})
}

// FuzzFastjson: the fastjson re-serialiser never panics, its output is
// valid JSON, and re-serialising its own output changes nothing.
func FuzzFastjson(f *testing.F) {
	for _, s := range []string{
		querySample, `{"a":1,"b":[1,2,{"c":null}],"d":"x\u2028\"/"}`, `[1e3,-0,0.0000001,"\u007f"]`,
		`{"BB":2,"Aa":1}`, `{"a":1,"a":null}`, `{"@type":"x"}`, `{"a":"\ud800"}`, `{}`, `[]`, `1`, `{`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once, err := fastjsonString(s)
		if err != nil {
			if !errors.Is(err, errFastjson) {
				t.Fatalf("error outside errFastjson: %v", err)
			}
			return
		}
		if !json.Valid([]byte(once)) {
			t.Fatalf("fastjsonString(%q) = %q: not valid JSON", s, once)
		}
		twice, err := fastjsonString(once)
		if err != nil || twice != once {
			t.Fatalf("not stable: %q -> %q -> %q, %v", s, once, twice, err)
		}
		if _, err := fastjsonParams([]byte(s)); err != nil && !errors.Is(err, errFastjson) {
			t.Fatalf("fastjsonParams: error outside errFastjson: %v", err)
		}
	})
}
