package codepaysim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/money"
)

// checkoutEnv is the emulator with posbridge's real CodePay client and a
// notify_url receiver.
type checkoutEnv struct {
	*env
	cl *codepay.Client
	rc *receiver
}

func newCheckoutEnv(t *testing.T) *checkoutEnv {
	e := newEnv(t, nil)
	cl, err := codepay.New(codepay.Config{
		GatewayURL: e.srv.URL, AppID: testAppID, MerchantNo: testMerchant, StoreNo: testStore,
		PrivateKey: e.keys.appPriv, GatewayPublicKey: e.keys.gwPub,
		HTTPClient: e.srv.Client(), Now: e.clock.Now, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, e.clock, func(int) (int, string) { return http.StatusOK, "success" })
	return &checkoutEnv{env: e, cl: cl, rc: rc}
}

func (e *checkoutEnv) request(no string, minor int64) codepay.CheckoutRequest {
	return codepay.CheckoutRequest{
		MerchantOrderNo: no, Amount: money.Amount{Minor: minor, Currency: money.MustCurrency("USD")},
		Description: "pay-by-link", Expires: 30 * time.Minute, NotifyURL: e.rc.srv.URL + "/hooks/codepay",
		ReturnURL: "https://shop.example.com/done?order=" + no, OrderDetail: json.RawMessage(`{"type": "GENERAL"}`),
	}
}

func (e *checkoutEnv) checkout(r codepay.CheckoutRequest) *codepay.CheckoutResponse {
	e.t.Helper()
	got, err := e.cl.Checkout(context.Background(), r)
	if err != nil {
		e.t.Fatalf("Checkout: %v", err)
	}
	if !strings.HasPrefix(got.PayURL, e.srv.URL+checkoutPagePath) || !got.ExpiresAt.Equal(e.clock.Now().Add(r.Expires).Truncate(time.Millisecond)) || got.PSN == "" {
		e.t.Fatalf("Checkout = %+v", got)
	}
	return got
}

func (e *checkoutEnv) queryStatus(no string) *codepay.Order {
	e.t.Helper()
	o, err := e.cl.QueryOrder(context.Background(), no, "")
	if err != nil {
		e.t.Fatalf("QueryOrder: %v", err)
	}
	return o
}

// oneNotification runs the loop and returns the one notification, verified
// and parsed by the client.
func (e *checkoutEnv) oneNotification() *codepay.Order {
	e.t.Helper()
	e.sim.RunDue(context.Background())
	if n := e.rc.Count(); n != 1 {
		e.t.Fatalf("%d notifications, want 1", n)
	}
	h := e.rc.Last()
	o, err := e.cl.ParseNotification(h.body, h.ctype)
	if err != nil {
		e.t.Fatalf("ParseNotification: %v", err)
	}
	return o
}

func TestCheckoutPaid(t *testing.T) {
	e := newCheckoutEnv(t)
	got := e.checkout(e.request("CK-PAY", 15043))
	req := e.sim.Requests(codepay.MethodPayCheckout, "CK-PAY")
	if len(req) != 1 || req[0].Params["order_detail"] != `{"type":"GENERAL"}` || req[0].Params["order_amount"] != "150.43" {
		t.Fatalf("recorded request = %+v", req)
	}
	// The stand-in checkout page shows the order.
	resp, err := e.srv.Client().Get(got.PayURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "CK-PAY") {
		t.Fatalf("checkout page: HTTP %d %s", resp.StatusCode, page)
	}
	if o := e.queryStatus("CK-PAY"); o.TransStatus != codepay.StatusCreated {
		t.Fatalf("before payment trans_status = %d, want 9", o.TransStatus)
	}
	e.clock.Advance(10 * time.Minute) // no terminal picks a checkout up
	if err := e.sim.Customer("CK-PAY", CustomerPays, "", ""); err != nil {
		t.Fatal(err)
	}
	o := e.queryStatus("CK-PAY")
	if o.TransStatus != codepay.StatusCompleted || o.TransAmount == nil || *o.TransAmount != 15043 || o.PayScenario != "WEB_PAY" {
		t.Fatalf("after payment = %+v", o)
	}
	n := e.oneNotification()
	if n.MerchantOrderNo != "CK-PAY" || n.TransStatus != codepay.StatusCompleted {
		t.Fatalf("notification = %+v", n)
	}
	if err := e.sim.Customer("CK-PAY", CustomerPays, "", ""); !errors.Is(err, ErrCheckoutFinal) {
		t.Fatalf("paying twice = %v, want ErrCheckoutFinal", err)
	}
}

func TestCheckoutAbandonedThenExpires(t *testing.T) {
	e := newCheckoutEnv(t)
	e.checkout(e.request("CK-LEFT", 500))
	if err := e.sim.Customer("CK-LEFT", CustomerAbandons, "", ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30*time.Minute - time.Second)
	e.sim.RunDue(context.Background())
	if o := e.queryStatus("CK-LEFT"); o.TransStatus != codepay.StatusCreated || e.rc.Count() != 0 {
		t.Fatalf("abandoned order before expiry = %+v, %d notifications", o, e.rc.Count())
	}
	if v, _ := e.sim.Order("CK-LEFT"); !v.Abandoned {
		t.Errorf("view does not record the abandonment: %+v", v)
	}
	e.clock.Advance(time.Second)
	if o := e.queryStatus("CK-LEFT"); o.TransStatus != codepay.StatusFailed || o.TransErrorCode != "ORDER_EXPIRED" {
		t.Fatalf("after expiry = %+v", o)
	}
	if n := e.oneNotification(); n.TransStatus != codepay.StatusFailed {
		t.Fatalf("notification = %+v", n)
	}
}

func TestCheckoutExpiredAndDeclined(t *testing.T) {
	e := newCheckoutEnv(t)
	e.checkout(e.request("CK-EXP", 600))
	if err := e.sim.Customer("CK-EXP", CustomerTooLate, "", ""); err != nil {
		t.Fatal(err)
	}
	if o := e.queryStatus("CK-EXP"); o.TransStatus != codepay.StatusFailed || o.TransErrorCode != "ORDER_EXPIRED" {
		t.Fatalf("expired = %+v", o)
	}
	if err := e.sim.Customer("CK-EXP", CustomerPays, "", ""); !errors.Is(err, ErrCheckoutFinal) {
		t.Fatalf("pay after expiry = %v", err)
	}
	e.checkout(e.request("CK-DECL", 700))
	if err := e.sim.Customer("CK-DECL", CustomerDeclined, "51", "Insufficient funds"); err != nil {
		t.Fatal(err)
	}
	if o := e.queryStatus("CK-DECL"); o.TransStatus != codepay.StatusFailed || o.TransErrorCode != "51" {
		t.Fatalf("declined = %+v", o)
	}
}

func TestCheckoutUnknownOutcome(t *testing.T) {
	e := newCheckoutEnv(t)
	r := e.request("CK-LOST", 800)
	e.sim.InjectFault(Fault{Method: codepay.MethodPayCheckout, Kind: FaultDropAfterProcess})
	if _, err := e.cl.Checkout(context.Background(), r); !errors.Is(err, codepay.ErrUnknownOutcome) {
		t.Fatalf("Checkout with the answer lost = %v, want ErrUnknownOutcome", err)
	}
	if o := e.queryStatus("CK-LOST"); o.TransStatus != codepay.StatusCreated {
		t.Fatalf("query finds %+v, want the order waiting for payment", o)
	}
	if v, _ := e.sim.Order("CK-LOST"); v.PayURL == "" {
		t.Fatalf("view = %+v", v)
	}
	// Resending the same number is refused: never a second order.
	_, err := e.cl.Checkout(context.Background(), r)
	var ge *codepay.GatewayError
	if !errors.As(err, &ge) || ge.Code != CodeDuplicateOrder {
		t.Fatalf("resend = %v, want duplicate refusal", err)
	}
	if n := e.sim.Count(codepay.MethodPayCheckout, "CK-LOST"); n != 2 {
		t.Fatalf("%d checkout requests, want 2", n)
	}
}

func TestCheckoutForgedNotification(t *testing.T) {
	e := newCheckoutEnv(t)
	e.checkout(e.request("CK-FORGE", 900))
	if err := e.sim.Customer("CK-FORGE", CustomerPays, "", ""); err != nil {
		t.Fatal(err)
	}
	e.sim.RunDue(context.Background())
	h := e.rc.Last()
	var p codepay.Params
	if err := json.Unmarshal(h.body, &p); err != nil {
		t.Fatal(err)
	}
	forge := func(edit func(codepay.Params)) []byte {
		c := codepay.Params{}
		for k, v := range p {
			c[k] = v
		}
		edit(c)
		b, _ := json.Marshal(c)
		return b
	}
	for name, body := range map[string][]byte{
		"amount changed":       forge(func(c codepay.Params) { c["trans_amount"] = "0.09" }),
		"status changed":       forge(func(c codepay.Params) { c["trans_status"] = "1" }),
		"signed by the app":    forge(func(c codepay.Params) { delete(c, "sign"); _ = codepay.Sign(e.keys.appPriv, c) }),
		"signature removed":    forge(func(c codepay.Params) { delete(c, "sign") }),
		"order number changed": forge(func(c codepay.Params) { c["merchant_order_no"] = "CK-OTHER" }),
	} {
		t.Run(name, func(t *testing.T) {
			if o, err := e.cl.ParseNotification(body, "application/json"); !errors.Is(err, codepay.ErrBadSignature) {
				t.Fatalf("ParseNotification = %+v, %v; want ErrBadSignature", o, err)
			}
		})
	}
}

func TestCheckoutBadInputNothingSent(t *testing.T) {
	e := newCheckoutEnv(t)
	tests := []struct {
		name  string
		edit  func(*codepay.CheckoutRequest)
		field string
	}{
		{"amount decimals", func(r *codepay.CheckoutRequest) { r.Amount.Currency.Exponent = 3 }, "order_amount"},
		{"expires beyond 7 days", func(r *codepay.CheckoutRequest) { r.Expires = codepay.MaxCheckoutExpires + time.Second }, "expires"},
		{"expires fractional", func(r *codepay.CheckoutRequest) { r.Expires = 1500 * time.Millisecond }, "expires"},
		{"return_url relative", func(r *codepay.CheckoutRequest) { r.ReturnURL = "/done" }, "return_url"},
		{"return_url javascript", func(r *codepay.CheckoutRequest) { r.ReturnURL = "javascript:alert(1)" }, "return_url"},
		{"notify_url with query", func(r *codepay.CheckoutRequest) { r.NotifyURL = "https://pos.example.com/h?x=1" }, "notify_url"},
		{"notify_url too long", func(r *codepay.CheckoutRequest) { r.NotifyURL = "https://pos.example.com/" + strings.Repeat("a", 240) }, "notify_url"},
		{"order_detail not an object", func(r *codepay.CheckoutRequest) { r.OrderDetail = json.RawMessage(`[1]`) }, "order_detail"},
		{"term_ip not an address", func(r *codepay.CheckoutRequest) { r.TermIP = "till-1" }, "term_ip"},
		{"latitude not a number", func(r *codepay.CheckoutRequest) { r.Latitude = "north" }, "latitude"},
		{"no description", func(r *codepay.CheckoutRequest) { r.Description = "" }, "description"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.request("CK-BAD", 100)
			tc.edit(&r)
			_, err := e.cl.Checkout(context.Background(), r)
			var ve *codepay.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("Checkout = %v, want a ValidationError on %s", err, tc.field)
			}
		})
	}
	if n := e.sim.Count("", ""); n != 0 {
		t.Fatalf("emulator saw %d requests, want none", n)
	}
	// Exactly 7 days is allowed.
	r := e.request("CK-MAX", 100)
	r.Expires = codepay.MaxCheckoutExpires
	e.checkout(r)
}

func TestCheckoutEmulatorRules(t *testing.T) {
	e := newEnv(t, nil)
	base := map[string]string{
		"merchant_order_no": "CK-R", "price_currency": "USD", "order_amount": "1.00", "expires": "60", "description": "x",
	}
	wantCode(t, e.cl.do(codepay.MethodPayCheckout, with(base, "expires", "604801")), CodeInvalidParameter)
	wantCode(t, e.cl.do(codepay.MethodPayCheckout, with(base, "order_detail", `{"a":`)), CodeInvalidParameter)
	wantCode(t, e.cl.do(codepay.MethodPayCheckout, with(base, "order_amount", "1.001")), CodeInvalidParameter)
	wantCode(t, e.cl.do(codepay.MethodPayCheckout, with(base, "return_url", "done")), CodeInvalidParameter)
	ok := e.cl.do(codepay.MethodPayCheckout, base)
	wantCode(t, ok, CodeOK)
	if u, _ := ok.data(t)["pay_url"].(string); !strings.HasPrefix(u, e.srv.URL+checkoutPagePath) {
		t.Fatalf("pay_url = %q", u)
	}
	wantCode(t, e.cl.do(codepay.MethodPayCheckout, base), CodeDuplicateOrder)
	for _, tc := range []struct {
		no, body string
		status   int
	}{
		{"CK-R", `{"action":"dance"}`, http.StatusBadRequest},
		{"NOPE", `{"action":"pay"}`, http.StatusNotFound},
		{"CK-R", `{"action":"abandon"}`, http.StatusOK},
		{"CK-R", `{"action":"pay"}`, http.StatusOK},
		{"CK-R", `{"action":"expire"}`, http.StatusConflict},
	} {
		resp, err := e.srv.Client().Post(e.srv.URL+"/sim/checkout/"+tc.no, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("POST /sim/checkout/%s %s = %d, want %d", tc.no, tc.body, resp.StatusCode, tc.status)
		}
	}
	if got := e.status("CK-R"); got != 2 {
		t.Fatalf("trans_status = %d, want 2", got)
	}
}
