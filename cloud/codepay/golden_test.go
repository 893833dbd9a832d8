package codepay

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/money"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if got != strings.TrimSuffix(string(want), "\n") {
		t.Errorf("%s mismatch:\n got: %s\nwant: %s", name, got, want)
	}
}

// independentVerify re-implements the documented signing rule without the
// package's helpers: every JSON value must be a string; drop "sign" and
// empties; sort keys bytewise; join "k=v" with "&"; SHA256withRSA PKCS#1
// v1.5; standard Base64. It returns the string it verified.
func independentVerify(t *testing.T, body []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("wire body is not a JSON object: %v", err)
	}
	var keys []string
	values := map[string]string{}
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("wire field %q is %T, want a JSON string", k, v)
		}
		if k == "sign" || s == "" {
			continue
		}
		keys = append(keys, k)
		values[k] = s
	}
	// Bytewise insertion sort, deliberately not sort.Strings.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && bytes.Compare([]byte(keys[j]), []byte(keys[j-1])) < 0; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteString("&")
		}
		b.WriteString(k + "=" + values[k])
	}
	block, _ := pem.Decode(readTestdata(t, "app_public.pem"))
	if block == nil {
		t.Fatalf("app_public.pem is not PEM")
	}
	anyKey, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("parse app public key: %v", err)
	}
	pub := anyKey.(*rsa.PublicKey)
	sig, err := base64.StdEncoding.DecodeString(m["sign"].(string))
	if err != nil {
		t.Fatalf("sign is not standard base64: %v", err)
	}
	digest := sha256.Sum256(b.Bytes())
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("independent verification failed over %q: %v", b.String(), err)
	}
	return b.String()
}

func TestGoldenCanonicalRequests(t *testing.T) {
	jpy := money.MustCurrency("JPY")
	kwd := money.MustCurrency("KWD")
	tests := []struct {
		name string
		call func(ctx context.Context, c *Client) error
	}{
		{"create_sale_minimal", func(ctx context.Context, c *Client) error {
			_, err := c.CreateOrder(ctx, saleRequest("1709106082732"))
			return err
		}},
		{"create_sale_full", func(ctx context.Context, c *Client) error {
			r := saleRequest("1709106082733")
			r.TipAmount = ptr(int64(3000))
			r.Attach = "lane 1"
			r.NotifyURL = "https://pos.example.com/hooks/codepay"
			r.PayScenario = ScenarioSwipeCard
			r.PayMethodID = "Visa"
			r.CardType = CardCredit
			r.OnScreenTip = ptr(false)
			r.ConfirmOnTerminal = ptr(false)
			r.OnScreenSignature = ptr(false)
			r.RejectWhenTerminalOffline = ptr(true)
			r.RequiredTerminalAuthentication = ptr(false)
			r.ReceiptPrintMode = ptr(ReceiptBoth)
			_, err := c.CreateOrder(ctx, r)
			return err
		}},
		{"create_jpy", func(ctx context.Context, c *Client) error {
			r := saleRequest("JPY-0001")
			r.Amount = money.Amount{Minor: 500, Currency: jpy}
			_, err := c.CreateOrder(ctx, r)
			return err
		}},
		{"create_kwd_refund", func(ctx context.Context, c *Client) error {
			r := saleRequest("KWD-0002")
			r.TransType = TransRefund
			r.OrigMerchantOrderNo = "KWD-0001"
			r.Amount = money.Amount{Minor: 12345, Currency: kwd}
			_, err := c.CreateOrder(ctx, r)
			return err
		}},
		{"create_cashback", func(ctx context.Context, c *Client) error {
			r := saleRequest("CB-0001")
			r.TransType = TransCashback
			r.CashbackAmount = ptr(int64(2000))
			_, err := c.CreateOrder(ctx, r)
			return err
		}},
		{"create_attach_json", func(ctx context.Context, c *Client) error {
			r := saleRequest("ATT-0001")
			r.Attach = `{"table": 12, "note": "a&b=c <x>", "é": "ü"}`
			_, err := c.CreateOrder(ctx, r)
			return err
		}},
		{"close_order", func(ctx context.Context, c *Client) error {
			_, err := c.CloseOrder(ctx, CloseOrderRequest{TerminalSN: "WPYB002248000865", MerchantOrderNo: "1709188002729", Description: "cashier cancelled"})
			return err
		}},
		{"query_order", func(ctx context.Context, c *Client) error {
			_, err := c.QueryOrder(ctx, "TEST_1686732708342", "")
			return err
		}},
		{"refund", func(ctx context.Context, c *Client) error {
			_, err := c.SubmitRefund(ctx, RefundRequest{
				MerchantOrderNo:     "TEST_16547658746871_2",
				OrigMerchantOrderNo: "TEST_1654765874687",
				Amount:              usd(100),
				Description:         "test refund",
			})
			return err
		}},
		{"batch_close", func(ctx context.Context, c *Client) error {
			_, err := c.CloseBatch(ctx, "P3171916581910")
			return err
		}},
		{"tip_adjustment", func(ctx context.Context, c *Client) error {
			return c.AdjustTip(ctx, "TEST_1654765371046", usd(3005))
		}},
		{"checkout_minimal", func(ctx context.Context, c *Client) error {
			_, err := c.Checkout(ctx, CheckoutRequest{MerchantOrderNo: "TEST_1734343519886", Amount: usd(15034), Description: "Iphone 16", Expires: 15 * time.Minute})
			return err
		}},
		{"checkout_full", func(ctx context.Context, c *Client) error {
			_, err := c.Checkout(ctx, CheckoutRequest{
				MerchantOrderNo: "TEST_1734343519887", Amount: usd(15034), Description: "Iphone 16", Expires: 7 * 24 * time.Hour,
				ReturnURL: "https://shop.example.com/done?order=TEST_1734343519887", NotifyURL: "https://pos.example.com/hooks/codepay",
				Attach: "lane 1", TermIP: "27.38.213.255", Longitude: "-122.4194", Latitude: "37.7749",
				OrderDetail: json.RawMessage(`{"data": {"items": [{"name": "Iphone 16", "amount": 150.34, "quantity": 1}]}, "type": "GENERAL"}`),
				ExtParams:   json.RawMessage(`{"k": "v"}`),
			})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.setRespond(func(w http.ResponseWriter, _ *http.Request, got received) {
				data := `{}`
				switch got.Params["method"] {
				case MethodOrderQuery:
					data = `{"trans_status":2,"merchant_order_no":"TEST_1686732708342"}`
				case MethodPayCheckout:
					data = `{"pay_url":"https://checkout.codepay.example/pay/1"}`
				}
				g.writeSigned(w, http.StatusOK, "0", "success", data)
			})
			c := newTestClient(t, testConfig(t, g))
			if err := tc.call(context.Background(), c); err != nil {
				t.Fatalf("call: %v", err)
			}
			got := g.last()
			if !got.AllStrings {
				t.Errorf("body has non-string values: %s", got.Body)
			}
			for k, v := range got.Params {
				if v == "" {
					t.Errorf("field %q sent as empty string", k)
				}
			}
			canonical := Canonical(got.Params)
			checkGolden(t, tc.name+".golden", canonical)
			if indep := independentVerify(t, got.Body); indep != canonical {
				t.Errorf("independent canonical %q != Canonical %q", indep, canonical)
			}
		})
	}
}

func TestGoldenSignatureBothKeyFormats(t *testing.T) {
	canonical := strings.TrimSuffix(string(readTestdata(t, "create_sale_minimal.golden")), "\n")
	k8, err := ParsePrivateKey(readTestdata(t, "app_private_pkcs8.pem"))
	if err != nil {
		t.Fatalf("ParsePrivateKey(pkcs8): %v", err)
	}
	k1, err := ParsePrivateKey(readTestdata(t, "app_private_pkcs1.pem"))
	if err != nil {
		t.Fatalf("ParsePrivateKey(pkcs1): %v", err)
	}
	s8, err := SignString(k8, canonical)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := SignString(k1, canonical)
	if err != nil {
		t.Fatal(err)
	}
	if s8 != s1 {
		t.Errorf("PKCS#8 and PKCS#1 signatures differ:\n%s\n%s", s8, s1)
	}
	checkGolden(t, "create_sale_minimal.sig.golden", s8)

	// The client puts exactly this signature on the wire.
	g := newFakeGateway(t)
	c := newTestClient(t, testConfig(t, g))
	if _, err := c.CreateOrder(context.Background(), saleRequest("1709106082732")); err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	if got := g.last().Params["sign"]; got != s8 {
		t.Errorf("wire sign = %q, want golden %q", got, s8)
	}
	pub, err := ParsePublicKey(readTestdata(t, "app_public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyString(pub, canonical, s8); err != nil {
		t.Errorf("VerifyString(golden) = %v", err)
	}
	if err := VerifyString(pub, canonical+"x", s8); err == nil {
		t.Errorf("VerifyString accepted a changed canonical string")
	}
}

func TestRequestCommonFieldsAndHeaders(t *testing.T) {
	g := newFakeGateway(t)
	c := newTestClient(t, testConfig(t, g))
	if _, err := c.CreateOrder(context.Background(), saleRequest("ORDER-1")); err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	got := g.last()
	want := map[string]string{
		"app_id": testAppID, "format": "JSON", "charset": "UTF-8", "sign_type": "RSA2",
		"version": "1.0", "timestamp": "1709288430123", "method": MethodPayOrder,
		"merchant_no": testMerchantNo, "store_no": testStoreNo, "api_version": "2.0",
		"message_receiving_application": "CodePay Register", "order_amount": "144.34",
		"price_currency": "USD", "trans_type": "1", "expires": "180",
	}
	for k, v := range want {
		if got.Params[k] != v {
			t.Errorf("field %s = %q, want %q", k, got.Params[k], v)
		}
	}
	for _, absent := range []string{"tip_amount", "attach", "notify_url", "pay_scenario", "card_type", "on_screen_tip", "receipt_print_mode", "orig_merchant_order_no"} {
		if _, ok := got.Params[absent]; ok {
			t.Errorf("optional field %s sent although unset", absent)
		}
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	psn := got.Header.Get(HeaderRequestPSN)
	if len(psn) != 20 || strings.Trim(psn, "0123456789") != "" || !strings.HasPrefix(psn, "0301102030") {
		t.Errorf("Http-Request-Psn = %q, want 20 digits starting MMddHHmmss 0301102030", psn)
	}
	if got.Header.Get("Authorization") != "" {
		t.Errorf("Authorization header sent in RSA2 mode")
	}
	if got.Params["_path"] != "" {
		t.Errorf("request went to %s, want POST /api/entry", got.Params["_path"])
	}
	if len(got.Params["sign"]) != 344 {
		t.Errorf("sign has %d characters, want 344 for RSA-2048", len(got.Params["sign"]))
	}
}
