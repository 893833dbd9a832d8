package codepay

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
)

// sdkSignedBody appends to the JSON object body a "sign" made with key over
// the Java SDK's string-to-sign (fastjsonParams, verified against real
// fastjson by TestFastjsonGoldens). The body itself keeps its own key order
// and spacing. For fuzz seeds and tests that are not about the rule itself;
// TestSignatureJavaGoldens uses strings printed by Java instead.
func sdkSignedBody(t testing.TB, key *rsa.PrivateKey, body string) []byte {
	t.Helper()
	p, err := fastjsonParams([]byte(body))
	if err != nil {
		t.Fatalf("fastjsonParams(%s): %v", body, err)
	}
	return withSign(t, key, body, Canonical(p))
}

// withSign signs link and appends it to the object body as "sign".
func withSign(t testing.TB, key *rsa.PrivateKey, body, link string) []byte {
	t.Helper()
	sig, err := SignString(key, link)
	if err != nil {
		t.Fatal(err)
	}
	body = strings.TrimSpace(body)
	return []byte(body[:len(body)-1] + `,"sign":` + strconv.Quote(sig) + "}")
}

// TestSignatureJavaGoldens signs, with the test gateway key, the
// string-to-sign that the Java SDK's SignHandler printed (through real
// fastjson 1.2.74, testdata/fastjson/golden.jsonl) for a few response bodies,
// and checks that posbridge accepts the body as sent and names the variant.
func TestSignatureJavaGoldens(t *testing.T) {
	goldens := readFastjsonGoldens(t)
	find := func(marker string) fastjsonGolden {
		t.Helper()
		for _, g := range goldens {
			if strings.Contains(g.In, marker) {
				return g
			}
		}
		t.Fatalf("no golden input contains %q", marker)
		return fastjsonGolden{}
	}
	gw := gatewayKey(t)
	v := &verifier{key: gatewayPub(t)}
	for _, tc := range []struct {
		name, marker, variant string
		wantRefusal           bool
	}{
		// data pretty-printed and in another key order than the HashMap's,
		// "code":0 and "n":1.50 as JSON numbers: only the SDK's rule fits.
		{"pretty, other order", `"psn":"P1"`, variantFastjson, false},
		// The spec's order.query sample: its data is already in HashMap
		// order (the gateway evidently serialises a HashMap), so the raw
		// bytes are the SDK's string too.
		{"spec order.query sample", `"psn":"09050714451053895687"`, variantRaw, false},
		// data as a JSON string: the SDK signs its contents as they are.
		{"data as a string", `"psn":"P2"`, variantRaw, false},
		{"refusal", `"psn":"P3"`, variantRaw, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := find(tc.marker)
			// Replace the input's placeholder sign by a real one.
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(g.In), &m); err != nil {
				t.Fatal(err)
			}
			old := `"sign":` + string(m["sign"])
			sig, err := SignString(gw, g.Link)
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(strings.Replace(g.In, old, `"sign":`+strconv.Quote(sig), 1))
			env, variant, err := decodeEnvelope(MethodOrderQuery, body, v)
			var ge *GatewayError
			switch {
			case tc.wantRefusal && !errors.As(err, &ge):
				t.Fatalf("want a GatewayError, got %v", err)
			case !tc.wantRefusal && err != nil:
				t.Fatalf("decodeEnvelope: %v\nbody %s", err, body)
			}
			if variant != tc.variant {
				t.Errorf("variant %q, want %q", variant, tc.variant)
			}
			if !tc.wantRefusal && env.Data.str("trans_status") == "" && env.Data.str("merchant_order_no") == "" {
				t.Errorf("data not decoded: %v", env.Data)
			}
			// Tampering with any signed value is refused in every variant.
			tampered := bytes.Replace(body, []byte(`"psn"`), []byte(`"psn_"`), 1)
			if _, _, err := decodeEnvelope(MethodOrderQuery, tampered, v); !errors.Is(err, ErrBadSignature) {
				t.Errorf("tampered body: %v, want ErrBadSignature", err)
			}
		})
	}
}

// TestSignatureSDKRuleOtherKeyOrder builds the SDK's string-to-sign for a
// sale answer from Java-printed pieces (fastjson's rendering of its data,
// from golden.jsonl) and sends data in posbridge's emulator's key order.
func TestSignatureSDKRuleOtherKeyOrder(t *testing.T) {
	var sale fastjsonGolden
	for _, g := range readFastjsonGoldens(t) {
		if strings.HasPrefix(g.In, `{"trans_no":"T1"`) {
			sale = g
		}
	}
	if sale.In == "" || sale.In == sale.Fastjson {
		t.Fatalf("golden for the sale missing or already in HashMap order")
	}
	// paraFilter + createLinkString over {code, msg, psn, data}: sorted keys,
	// data as fastjson printed it.
	link := "code=0&data=" + sale.Fastjson + "&msg=success&psn=" + testPSN
	body := withSign(t, gatewayKey(t), `{"code":"0","msg":"success","psn":"`+testPSN+`","data":`+sale.In+`}`, link)
	env, variant, err := decodeEnvelope(MethodOrderQuery, body, &verifier{key: gatewayPub(t)})
	if err != nil {
		t.Fatalf("decodeEnvelope: %v", err)
	}
	if variant != variantFastjson {
		t.Errorf("variant %q, want fastjson", variant)
	}
	o, err := decodeOrder(env.Data, "")
	if err != nil || o.MerchantOrderNo != "PB-1" || o.TipAmount == nil || *o.TipAmount != 150 || *o.OrderAmount != 1050 {
		t.Fatalf("decodeOrder = %+v, %v", o, err)
	}
}

// TestSignatureRawBytes: a gateway that signs data exactly as it sends it
// (pretty-printed here) verifies as "raw"; one that signs it compactly but
// sends it pretty verifies as "compact".
func TestSignatureRawBytes(t *testing.T) {
	gw := gatewayKey(t)
	v := &verifier{key: gatewayPub(t)}
	pretty := "{\n  \"trans_status\": 2,\n  \"merchant_order_no\": \"PB-9\"\n}"
	if _, variant, err := decodeEnvelope(MethodOrderQuery, signedEnvelope(t, gw, "0", "success", pretty), v); err != nil || variant != variantRaw {
		t.Fatalf("raw: %q, %v", variant, err)
	}
	link := `code=0&data={"trans_status":2,"merchant_order_no":"PB-9"}&msg=success&psn=` + testPSN
	body := withSign(t, gw, string(envelopeJSON("0", "success", testPSN, pretty, "")), link)
	if _, variant, err := decodeEnvelope(MethodOrderQuery, body, v); err != nil || variant != variantCompact {
		t.Fatalf("compact: %q, %v", variant, err)
	}
}

// TestSignatureDemoRule signs the way the C# demo reads a response
// (gateway-api-demo-csharp MainTest.cs lines 65-71: the body deserialised
// into Dictionary<string,string>, so data is a JSON string; buildToBeSignString
// lines 272-285: SortedDictionary with StringComparer.Ordinal, skipping
// null, empty and "sign"). The PHP demo (MainTest.php lines 41-77:
// json_decode, ksort, unset sign) gives the same string when no member is
// empty or starts with "@".
func TestSignatureDemoRule(t *testing.T) {
	body := `{"code":"0","msg":"Success","psn":"P7","data":"{\"merchant_order_no\":\"PB-7\",\"trans_status\":2,\"order_amount\":\"10.50\"}"}`
	var dict map[string]string
	if err := json.Unmarshal([]byte(body), &dict); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(dict))
	for k, v := range dict {
		if k != "sign" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // Ordinal
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + dict[k]
	}
	signed := withSign(t, gatewayKey(t), body, strings.Join(pairs, "&"))
	env, variant, err := decodeEnvelope(MethodOrderQuery, signed, &verifier{key: gatewayPub(t)})
	if err != nil || variant != variantRaw {
		t.Fatalf("decodeEnvelope: %q, %v", variant, err)
	}
	if env.Data.str("merchant_order_no") != "PB-7" {
		t.Fatalf("data %v", env.Data)
	}
}

// TestSignatureUnsignedPolicy: the SDK accepts an answer without sign
// (SignHandler.java lines 42-49); posbridge does not.
func TestSignatureUnsignedPolicy(t *testing.T) {
	v := &verifier{key: gatewayPub(t)}
	_, _, err := decodeEnvelope(MethodOrderQuery, envelopeJSON("0", "success", testPSN, `{"trans_status":2}`, ""), v)
	if !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("unsigned success: %v", err)
	}
	_, _, err = decodeEnvelope(MethodOrderQuery, envelopeJSON("40005", "no order", testPSN, "", ""), v)
	var ge *GatewayError
	if errors.As(err, &ge) || !errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("unsigned refusal: %v", err)
	}
}

// TestNotificationFastjsonVariant: a notification signed by the SDK's rule
// over a nested data object, sent in another key order, is accepted.
func TestNotificationFastjsonVariant(t *testing.T) {
	g := newFakeGateway(t)
	c := newTestClient(t, testConfig(t, g))
	body := sdkSignedBody(t, gatewayKey(t), `{"app_id":"`+testAppID+`","sign_type":"RSA2","data":{"trans_status":2,"merchant_order_no":"N-7","price_currency":"USD","order_amount":1.50,"trans_no":"T7","tip_amount":0.25}}`)
	o, err := c.ParseNotification(body, "application/json")
	if err != nil {
		t.Fatalf("ParseNotification: %v", err)
	}
	if o.MerchantOrderNo != "N-7" || *o.OrderAmount != 150 || *o.TipAmount != 25 {
		t.Fatalf("order %+v", o)
	}
	// The same data as a form value (a relay re-posting it, spaced out)
	// verifies too. The keys keep the order the signer parsed: keys that
	// share a HashMap bucket (trans_status and merchant_order_no here)
	// iterate in insertion order, so the SDK itself depends on that order.
	p, _ := fastjsonParams(body)
	p["data"] = `{"trans_status":2, "merchant_order_no":"N-7", "price_currency":"USD", "order_amount":1.50, "trans_no":"T7", "tip_amount":0.25}`
	if _, err := c.ParseNotification(formBody(p), "application/x-www-form-urlencoded"); err != nil {
		t.Fatalf("form: %v", err)
	}
}

// captureLog returns a logger writing JSON records to the returned buffer.
func captureLog() (*slog.Logger, *simtest.LogBuffer) {
	buf := &simtest.LogBuffer{}
	return slog.New(slog.NewJSONHandler(buf, nil)), buf
}

// TestLenientOptionalFields: unreadable optional members are dropped and
// logged once per (method, field); the answer stays usable.
func TestLenientOptionalFields(t *testing.T) {
	warnedFields.Clear()
	t.Cleanup(warnedFields.Clear)
	log, buf := captureLog()
	data := `{"trans_status":"2","merchant_order_no":"PB-L","trans_type":{"x":1},"price_currency":"USD",` +
		`"order_amount":"10.50","tip_amount":"abc","cashback_amount":{"a":1},"paid_amount":10.505,` +
		`"trans_amount":[1],"trans_fee_c":"0.30","vat_amount":"1e2","discount_bpc":0,"ref_no":"R1","trans_end_time":"2024-01-01 00:00:00"}`
	body := signedEnvelope(t, gatewayKey(t), "0", "success", data)
	for i := 0; i < 2; i++ {
		env, variant, err := decodeEnvelopeLog(MethodOrderQuery, body, &verifier{key: gatewayPub(t)}, log)
		if err != nil || variant != variantRaw {
			t.Fatalf("decodeEnvelopeLog: %q, %v", variant, err)
		}
		o, err := decodeOrderLog(MethodOrderQuery, env.Data, "", log)
		if err != nil {
			t.Fatalf("decodeOrder: %v", err)
		}
		if o.TransStatus != StatusCompleted || *o.OrderAmount != 1050 || o.TipAmount != nil || o.CashbackAmount != nil ||
			o.PaidAmount != nil || o.TransAmount != nil || o.TransType != 0 || *o.TransFee != 30 || *o.VATAmount != 10000 ||
			*o.DiscountBPC != 0 || o.RefNo != "R1" || o.TransEndTime == "" {
			t.Fatalf("order %+v", o)
		}
	}
	out := buf.String()
	for _, field := range []string{"tip_amount", "cashback_amount", "paid_amount", "trans_amount", "trans_type"} {
		rec := `"method":"order.query","field":"` + field + `"`
		if n := strings.Count(out, rec); n != 1 {
			t.Errorf("%d warnings for %s, want 1:\n%s", n, field, out)
		}
	}
	if strings.Contains(out, "abc") || strings.Contains(out, "10.505") {
		t.Errorf("values logged: %s", out)
	}

	// No currency in a query: amounts cannot be read, the answer still can.
	env, _, err := decodeEnvelopeLog(MethodRefundQuery, signedEnvelope(t, gatewayKey(t), "0", "success",
		`{"trans_status":2,"merchant_order_no":"R-1","price_currency":"XXQ","order_amount":"1.00"}`), &verifier{key: gatewayPub(t)}, log)
	if err != nil {
		t.Fatal(err)
	}
	o, err := decodeOrderLog(MethodRefundQuery, env.Data, "", log)
	if err != nil || o.OrderAmount != nil || o.Currency != "" {
		t.Fatalf("order %+v, %v", o, err)
	}

	// trans_status decides: unreadable or missing makes the answer unusable.
	for _, d := range []string{`{"trans_status":"abc"}`, `{"trans_status":{"a":1}}`, `{"merchant_order_no":"X"}`} {
		f, _ := objectFields(d)
		if _, err := decodeOrderLog(MethodOrderQuery, f, "", log); err == nil {
			t.Errorf("decodeOrder(%s) accepted", d)
		}
	}
}

// TestLenientQueryThroughClient: an approved order with an unreadable tip
// is reported approved, not unknown.
func TestLenientQueryThroughClient(t *testing.T) {
	warnedFields.Clear()
	t.Cleanup(warnedFields.Clear)
	g := newFakeGateway(t)
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "0", "success",
			`{"trans_status":2,"merchant_order_no":"PB-Q","price_currency":"USD","order_amount":"1.00","tip_amount":"abc","trans_type":"sale"}`)
	})
	c := newTestClient(t, testConfig(t, g))
	o, err := c.QueryOrder(t.Context(), "PB-Q", "")
	if err != nil {
		t.Fatalf("QueryOrder: %v", err)
	}
	if o.TransStatus != StatusCompleted || o.TipAmount != nil || *o.OrderAmount != 100 {
		t.Fatalf("order %+v", o)
	}
	// Through the Client's own logger.
	log, buf := captureLog()
	cfg := testConfig(t, g)
	cfg.Logger = log
	c = newTestClient(t, cfg)
	warnedFields.Clear()
	if _, _, err := c.decodeResponse(MethodOrderQuery, signedEnvelope(t, gatewayKey(t), "0", "success", `{"trans_status":2,"tip_amount":"abc"}`)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"component":"codepay"`) || !strings.Contains(buf.String(), `"field":"tip_amount"`) {
		t.Errorf("warning not on the Client's logger: %s", buf.String())
	}
}

// TestLenientCreateOrder: a create order the gateway accepted is not made
// unknown by an unreadable trans_amount or price_currency.
func TestLenientCreateOrder(t *testing.T) {
	warnedFields.Clear()
	t.Cleanup(warnedFields.Clear)
	g := newFakeGateway(t)
	g.setRespond(func(w http.ResponseWriter, _ *http.Request, _ received) {
		g.writeSigned(w, http.StatusOK, "0", "success", `{"trans_no":"T1","price_currency":"??","trans_amount":"n/a"}`)
	})
	c := newTestClient(t, testConfig(t, g))
	r, err := c.CreateOrder(t.Context(), saleRequest("PB-C1"))
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	if r.TransNo != "T1" || r.TransAmount != nil {
		t.Fatalf("response %+v", r)
	}
}
