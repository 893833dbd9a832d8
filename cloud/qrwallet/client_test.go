package qrwallet

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/qrwallet/qrwalletsim"
	"github.com/posbridge/posbridge/money"
)

var ctx = context.Background()

func TestNativePayCustomerScans(t *testing.T) {
	e := newEnv(t, nil, nil)
	res, err := e.c.NativePay(ctx, NativePayRequest{OutTradeNo: "ORDER-1", Amount: e.amount(t, "12.34")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.QRCode, "weixin://wxpay/bizpayurl?pr=") || res.ResultCode != ResultSuccess {
		t.Fatalf("NativePay = %+v", res)
	}
	if want := e.clk.Now().Add(DefaultQRLifetime); !res.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt = %v, want %v", res.ExpiresAt, want)
	}
	req := e.sim.Requests(qrwalletsim.EndpointNativePay, "ORDER-1")[0]
	for k, want := range map[string]string{"amount": "12.34", "service_id": "30", "store_id": `"109038"`, "out_trade_no": `"ORDER-1"`} {
		if req.Body[k] != want {
			t.Errorf("request %s = %s, want %s", k, req.Body[k], want)
		}
	}
	if _, ok := req.Body["auth_code"]; ok {
		t.Error("native pay sent an auth_code")
	}

	st, err := e.c.PaymentStatus(ctx, "ORDER-1")
	if err != nil || st.Paid {
		t.Fatalf("PaymentStatus before the scan = %+v, %v", st, err)
	}
	if _, err := e.sim.Scan("ORDER-1"); err != nil {
		t.Fatal(err)
	}
	st, err = e.c.PaymentStatus(ctx, "ORDER-1")
	if err != nil || !st.Paid || st.Amount.Minor != 1234 || st.ServiceID != 30 || st.Message != "Payment Successful!" {
		t.Fatalf("PaymentStatus after the scan = %+v, %v", st, err)
	}
	if sr := e.sim.Requests(qrwalletsim.EndpointPaymentStatus, "")[0]; sr.Body["store_id"] != "109038" {
		t.Fatalf("status query store_id = %s, want the JSON number 109038", sr.Body["store_id"])
	}
}

func TestQuickPayPaid(t *testing.T) {
	e := newEnv(t, nil, nil)
	id := int64(7)
	fee := 2
	res, err := e.c.QuickPay(ctx, QuickPayRequest{OutTradeNo: "Q-1", Amount: e.amount(t, "10.00"), CustomerCode: testCode,
		PayOptions: PayOptions{SubStoreID: &id, SubStoreName: "Till 2", FeeRatePercent: &fee}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Paid || res.TransactionID == "" || res.Amount.Minor != 1000 {
		t.Fatalf("QuickPay = %+v", res)
	}
	body := e.sim.Requests(qrwalletsim.EndpointQuickPay, "Q-1")[0].Body
	if body["service_id"] != "2" || body["sub_store_id"] != "7" || body["fee_rate"] != "2" || body["sub_store_name"] != `"Till 2"` {
		t.Fatalf("quick pay body = %v", body)
	}
	if body["auth_code"] != "**************6789" {
		t.Fatalf("emulator log auth_code = %s", body["auth_code"])
	}
	if strings.Contains(e.log.String(), testCode) || strings.Contains(e.log.String(), qrwalletsim.DefaultPassword) {
		t.Fatal("the customer code or the password reached the client's log")
	}
	if !strings.Contains(e.log.String(), `"component":"qrwallet"`) {
		t.Fatal("log records lack component qrwallet")
	}
}

func TestQuickPayPINThenPolling(t *testing.T) {
	e := newEnv(t, nil, nil)
	start := e.clk.Now()
	res := e.quickPay(t, "Q-PIN", "10.52") // the payer enters a PIN for 10 s
	if res.Paid || res.ResultCode != "USERPAYING" {
		t.Fatalf("QuickPay = %+v, want pending", res)
	}
	w, err := e.c.WaitPayment(ctx, "Q-PIN", start)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Final || !w.Status.Paid || w.Queries != 4 || e.clk.slept != 12*time.Second {
		t.Fatalf("WaitPayment = %+v after %v, want paid at the 4th query (12 s)", w, e.clk.slept)
	}
}

func TestQuickPayPINAbandonedStillUnknown(t *testing.T) {
	e := newEnv(t, nil, nil)
	start := e.clk.Now()
	e.quickPay(t, "Q-GONE", "10.53")
	w, err := e.c.WaitPayment(ctx, "Q-GONE", start)
	if err != nil {
		t.Fatal(err)
	}
	// Every 3 s for 45 s (spec line 58): 15 queries, then "still unknown".
	if w.Final || w.Status == nil || w.Status.Paid || w.Queries != 15 || e.clk.slept != 45*time.Second {
		t.Fatalf("WaitPayment = %+v after %v, want 15 queries over 45 s and not final", w, e.clk.slept)
	}
	// A window already over still makes one query.
	w, err = e.c.WaitPayment(ctx, "Q-GONE", start)
	if err != nil || w.Queries != 1 || w.Final {
		t.Fatalf("WaitPayment past its window = %+v, %v", w, err)
	}
	// A cancelled context ends it with what it saw.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.c.WaitPayment(cctx, "Q-GONE", time.Time{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitPayment(cancelled) = %v", err)
	}
}

// A wallet that answers a payer still entering the PIN with a refusal
// (the emulator's pending_as_refusal mode): the client reports the
// refusal as a *GatewayError, and the status later shows the payment paid —
// so a refusal alone never proves the customer will not pay.
func TestQuickPayPINAnsweredAsRefusal(t *testing.T) {
	e := newEnv(t, nil, nil)
	m := e.sim.Mode()
	m.PendingAsRefusal = true
	if _, err := e.sim.SetMode(m); err != nil {
		t.Fatal(err)
	}
	start := e.clk.Now()
	_, err := e.c.QuickPay(ctx, QuickPayRequest{OutTradeNo: "Q-PINR", Amount: e.amount(t, "10.52"), CustomerCode: testCode})
	var ge *GatewayError
	if !errors.As(err, &ge) || ge.NotFound || !strings.Contains(ge.Message, "USERPAYING") {
		t.Fatalf("QuickPay = %v, want a refusal naming USERPAYING", err)
	}
	w, err := e.c.WaitPayment(ctx, "Q-PINR", start)
	if err != nil || !w.Final || !w.Status.Paid {
		t.Fatalf("WaitPayment = %+v, %v; want paid once the PIN is entered", w, err)
	}
}

func TestQuickPayDeclined(t *testing.T) {
	e := newEnv(t, nil, nil)
	_, err := e.c.QuickPay(ctx, QuickPayRequest{OutTradeNo: "Q-NO", Amount: e.amount(t, "10.51"), CustomerCode: testCode})
	var ge *GatewayError
	if !errors.As(err, &ge) || ge.NotFound || errors.Is(err, ErrUnknownOutcome) || !strings.Contains(ge.Message, "insufficient") {
		t.Fatalf("QuickPay(declined) = %v", err)
	}
	// The refusal is confirmed by a query: the order exists, not paid.
	st, err := e.c.PaymentStatus(ctx, "Q-NO")
	if err != nil || st.Paid {
		t.Fatalf("PaymentStatus = %+v, %v", st, err)
	}
}

func TestRefundAndStatus(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.quickPay(t, "Q-R", "20.00")
	paid := e.amount(t, "20.00")
	res, err := e.c.Refund(ctx, RefundRequest{OutTradeNo: "Q-R", OutRefundNo: "Q-R-1", Kind: KindQuickPay,
		Amount: e.amount(t, "5.00"), PaidAmount: paid, Reason: "damaged"})
	if err != nil || !res.Done || res.Amount.Minor != 500 {
		t.Fatalf("Refund = %+v, %v", res, err)
	}
	body := e.sim.Requests(qrwalletsim.EndpointRefund, "Q-R")[0].Body
	if body["refund_amount"] != "5.00" || body["service_id"] != "2" || body["store_id"] != `"109038"` || body["reason"] != `"damaged"` {
		t.Fatalf("refund body = %v", body)
	}
	st, err := e.c.RefundStatus(ctx, "Q-R", "Q-R-1")
	if err != nil || !st.Refunded || st.Amount.Minor != 500 || st.OutRefundNo != "Q-R-1" {
		t.Fatalf("RefundStatus = %+v, %v", st, err)
	}
	// A second refund; the status then reports it, not the first.
	if _, err := e.c.Refund(ctx, RefundRequest{OutTradeNo: "Q-R", OutRefundNo: "Q-R-2", Kind: KindQuickPay,
		Amount: e.amount(t, "15.00"), PaidAmount: paid, RefundedAmount: e.amount(t, "5.00")}); err != nil {
		t.Fatal(err)
	}
	st, err = e.c.RefundStatus(ctx, "Q-R", "Q-R-1")
	if !errors.Is(err, ErrOtherRefund) || st == nil || st.OutRefundNo != "Q-R-2" {
		t.Fatalf("RefundStatus(first) = %+v, %v; want ErrOtherRefund naming Q-R-2", st, err)
	}
	// The journal thinks more was paid: the provider still refuses a refund above what is left.
	_, err = e.c.Refund(ctx, RefundRequest{OutTradeNo: "Q-R", OutRefundNo: "Q-R-3", Kind: KindQuickPay,
		Amount: e.amount(t, "0.01"), PaidAmount: e.amount(t, "30.00")})
	var ge *GatewayError
	if !errors.As(err, &ge) || !strings.Contains(ge.Message, "exceeds") {
		t.Fatalf("Refund above paid at the provider = %v", err)
	}
}

func TestNotFound(t *testing.T) {
	for _, mode := range []qrwalletsim.Mode{{}, {ErrorShape: "data", ErrorStatus: 400}} {
		e := newEnv(t, nil, func(c *qrwalletsim.Config) { c.Mode = mode })
		_, err := e.c.PaymentStatus(ctx, "NOPE")
		if !IsNotFound(err) || errors.Is(err, ErrUnknownOutcome) {
			t.Fatalf("mode %+v: PaymentStatus(unknown) = %v, want not found", mode, err)
		}
		e.quickPay(t, "Q-NR", "3.00")
		if _, err := e.c.RefundStatus(ctx, "Q-NR", "Q-NR-1"); !IsNotFound(err) {
			t.Fatalf("mode %+v: RefundStatus(no refund) = %v, want not found", mode, err)
		}
		// A refusal of a payment is never "not found".
		_, err = e.c.NativePay(ctx, NativePayRequest{OutTradeNo: "Q-NR", Amount: e.amount(t, "3.00")})
		if IsNotFound(err) || !strings.Contains(err.Error(), "already been taken") {
			t.Fatalf("NativePay(duplicate) = %v", err)
		}
	}
	// A message configured as "not found".
	e := newEnv(t, func(c *Config) { c.NotFoundMessages = []string{"Keine Zahlung"} },
		func(c *qrwalletsim.Config) { c.Mode.NotFoundMessage = "Keine Zahlung" })
	if _, err := e.c.PaymentStatus(ctx, "NOPE"); !IsNotFound(err) {
		t.Fatalf("PaymentStatus with a configured message = %v", err)
	}
}

func TestTokenCachedAndRefreshed(t *testing.T) {
	e := newEnv(t, nil, nil)
	tokens := func() int { return e.sim.Count(qrwalletsim.EndpointToken, "") }
	e.quickPay(t, "T-1", "1.00")
	if _, err := e.c.PaymentStatus(ctx, "T-1"); err != nil {
		t.Fatal(err)
	}
	if n := tokens(); n != 1 {
		t.Fatalf("token logins = %d, want 1 (cached)", n)
	}
	e.clk.Advance(44 * time.Second) // still fresh: 60 s life, refreshed 15 s early
	if _, err := e.c.PaymentStatus(ctx, "T-1"); err != nil || tokens() != 1 {
		t.Fatalf("at 44 s: %v, logins %d", err, tokens())
	}
	e.clk.Advance(2 * time.Second) // 46 s: refreshed before expiry
	if _, err := e.c.PaymentStatus(ctx, "T-1"); err != nil || tokens() != 2 {
		t.Fatalf("at 46 s: %v, logins %d", err, tokens())
	}
	for _, r := range e.sim.Requests(qrwalletsim.EndpointPaymentStatus, "") {
		if r.HTTPStatus != http.StatusOK || !r.BearerToken {
			t.Fatalf("status request %+v", r)
		}
	}

	// The provider refuses the token (expired early): one fresh login, one resend.
	e.sim.ExpireTokens()
	if _, err := e.c.PaymentStatus(ctx, "T-1"); err != nil {
		t.Fatalf("after the provider expired the token: %v", err)
	}
	if n := tokens(); n != 3 {
		t.Fatalf("token logins = %d, want 3", n)
	}

	// Refused twice, the second time with a fresh token: a definite refusal, not processed.
	_ = e.sim.InjectFault(qrwalletsim.Fault{Endpoint: qrwalletsim.EndpointNativePay, Kind: qrwalletsim.FaultAuthRefused, Count: 2})
	_, err := e.c.NativePay(ctx, NativePayRequest{OutTradeNo: "T-2", Amount: e.amount(t, "1.00")})
	var ge *GatewayError
	if !errors.As(err, &ge) || !ge.AuthRefused || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("NativePay refused twice = %v", err)
	}
	if _, ok := e.sim.Payment("T-2"); ok || tokens() != 4 {
		t.Fatalf("payment created or logins = %d, want 4", tokens())
	}
}

func TestTokenPerRequest(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TokenTTL = -1 }, nil)
	e.quickPay(t, "TP-1", "1.00")
	_, _ = e.c.PaymentStatus(ctx, "TP-1")
	if n := e.sim.Count(qrwalletsim.EndpointToken, ""); n != 2 {
		t.Fatalf("token logins = %d, want one per call", n)
	}
}

func TestLoginFailureIsNotSent(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Password = "wrong" }, nil)
	_, err := e.c.QuickPay(ctx, QuickPayRequest{OutTradeNo: "L-1", Amount: e.amount(t, "1.00"), CustomerCode: testCode})
	var le *LoginError
	var ge *GatewayError
	if !errors.Is(err, ErrNotSent) || !errors.Is(err, ErrLoginFailed) || errors.Is(err, ErrUnknownOutcome) ||
		errors.As(err, &ge) || !errors.As(err, &le) || !errors.As(le.Err, &ge) || !ge.AuthRefused {
		t.Fatalf("QuickPay with a bad password = %v", err)
	}
	if n := e.sim.Count(qrwalletsim.EndpointQuickPay, ""); n != 0 {
		t.Fatalf("%d quick pay requests reached the provider", n)
	}
	// A login that gets no answer: the call was still not sent.
	e2 := newEnv(t, nil, nil)
	_ = e2.sim.InjectFault(qrwalletsim.Fault{Endpoint: qrwalletsim.EndpointToken, Kind: qrwalletsim.FaultHTTP500})
	if _, err := e2.c.PaymentStatus(ctx, "L-2"); !errors.Is(err, ErrNotSent) || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("PaymentStatus after a failed login = %v", err)
	}
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		kind      qrwalletsim.FaultKind
		processed bool
		mismatch  bool
	}{
		{qrwalletsim.FaultHTTP500, false, false},
		{qrwalletsim.FaultHTTP429, false, false},
		{qrwalletsim.FaultDrop, false, false},
		{qrwalletsim.FaultDropAfterProcess, true, false},
		{qrwalletsim.FaultHTTP500AfterProcess, true, false},
		{qrwalletsim.FaultMalformed, true, false},
		{qrwalletsim.FaultForged, true, true},
		{qrwalletsim.FaultConflictingKeys, true, false},
		{qrwalletsim.FaultSlow, true, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.HTTPTimeout, c.QuickPayTimeout = 300*time.Millisecond, 300*time.Millisecond }, nil)
			_ = e.sim.InjectFault(qrwalletsim.Fault{Endpoint: qrwalletsim.EndpointQuickPay, Kind: tc.kind, Delay: 2 * time.Second})
			_, err := e.c.QuickPay(ctx, QuickPayRequest{OutTradeNo: "F-1", Amount: e.amount(t, "4.00"), CustomerCode: testCode})
			var me *MismatchError
			if !errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrNotSent) || errors.As(err, &me) != tc.mismatch {
				t.Fatalf("QuickPay with %s = %v, want ErrUnknownOutcome (mismatch %v)", tc.kind, err, tc.mismatch)
			}
			// Reconcile by querying: the payment is found exactly when it was processed.
			st, err := e.c.PaymentStatus(ctx, "F-1")
			switch {
			case tc.processed && (err != nil || !st.Paid):
				t.Fatalf("PaymentStatus after %s = %+v, %v; want paid", tc.kind, st, err)
			case !tc.processed && !IsNotFound(err):
				t.Fatalf("PaymentStatus after %s = %+v, %v; want not found", tc.kind, st, err)
			}
		})
	}
}

func TestNotSentWhenUnreachable(t *testing.T) {
	// Nothing listens on port 1 (privileged, never a test server's; the
	// port of a closed test server can be taken by a parallel test's).
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", User: "u", Password: "p", StoreID: "1", Currency: "USD", Clock: newFakeClock(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.NativePay(ctx, NativePayRequest{OutTradeNo: "N-1", Amount: money.Amount{Minor: 100, Currency: money.MustCurrency("USD")}})
	if !errors.Is(err, ErrNotSent) || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("NativePay to a closed port = %v", err)
	}
}

func TestDropAfterProcessThenQueryFindsIt(t *testing.T) {
	e := newEnv(t, nil, nil)
	_ = e.sim.InjectFault(qrwalletsim.Fault{Endpoint: qrwalletsim.EndpointNativePay, Kind: qrwalletsim.FaultDropAfterProcess})
	_, err := e.c.NativePay(ctx, NativePayRequest{OutTradeNo: "D-N", Amount: e.amount(t, "6.00")})
	if !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("NativePay dropped = %v", err)
	}
	if st, err := e.c.PaymentStatus(ctx, "D-N"); err != nil || st.Paid || st.Amount.Minor != 600 {
		t.Fatalf("PaymentStatus = %+v, %v; want the unpaid order", st, err)
	}

	e.quickPay(t, "D-R", "8.00")
	_ = e.sim.InjectFault(qrwalletsim.Fault{Endpoint: qrwalletsim.EndpointRefund, Kind: qrwalletsim.FaultDropAfterProcess})
	_, err = e.c.Refund(ctx, RefundRequest{OutTradeNo: "D-R", OutRefundNo: "D-R-1", Kind: KindQuickPay,
		Amount: e.amount(t, "8.00"), PaidAmount: e.amount(t, "8.00")})
	if !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("Refund dropped = %v", err)
	}
	if st, err := e.c.RefundStatus(ctx, "D-R", "D-R-1"); err != nil || !st.Refunded || st.Amount.Minor != 800 {
		t.Fatalf("RefundStatus = %+v, %v", st, err)
	}
}

func TestForgedAnswersRefused(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.quickPay(t, "FG-1", "2.00")
	for _, kind := range []qrwalletsim.FaultKind{qrwalletsim.FaultForged, qrwalletsim.FaultConflictingKeys} {
		_ = e.sim.InjectFault(qrwalletsim.Fault{Endpoint: qrwalletsim.EndpointPaymentStatus, Kind: kind})
		if st, err := e.c.PaymentStatus(ctx, "FG-1"); !errors.Is(err, ErrUnknownOutcome) || st != nil {
			t.Fatalf("PaymentStatus with %s = %+v, %v", kind, st, err)
		}
	}
	// An answer in another currency.
	e2 := newEnv(t, func(c *Config) { c.Currency = "USD" }, func(c *qrwalletsim.Config) { c.Currency = "EUR" })
	_, err := e2.c.QuickPay(ctx, QuickPayRequest{OutTradeNo: "FG-2", Amount: e2.amount(t, "2.00"), CustomerCode: testCode})
	var me *MismatchError
	if !errors.As(err, &me) || me.Field != "currency" {
		t.Fatalf("QuickPay answered in EUR = %v", err)
	}
}

func TestBadInputNothingSent(t *testing.T) {
	e := newEnv(t, nil, nil)
	usd := func(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: money.MustCurrency("USD")} }
	eur := money.Amount{Minor: 100, Currency: money.MustCurrency("EUR")}
	quick := func(no string, a money.Amount, code string) error {
		_, err := e.c.QuickPay(ctx, QuickPayRequest{OutTradeNo: no, Amount: a, CustomerCode: code})
		return err
	}
	refund := func(amount, paid, refunded money.Amount) error {
		_, err := e.c.Refund(ctx, RefundRequest{OutTradeNo: "B-1", OutRefundNo: "B-1-1", Kind: KindNative,
			Amount: amount, PaidAmount: paid, RefundedAmount: refunded})
		return err
	}
	long := strings.Repeat("x", 65)
	tests := []struct {
		name, field string
		err         error
	}{
		{"three decimals for USD", "amount", func() error { _, err := e.c.Amount("12.345"); return err }()},
		{"exponent form", "amount", func() error { _, err := e.c.Amount("1e3"); return err }()},
		{"other currency", "amount", quick("B-1", eur, testCode)},
		{"zero amount", "amount", quick("B-1", usd(0), testCode)},
		{"letters in customer code", "customer_code", quick("B-1", usd(100), "13456789012345678X")},
		{"short customer code", "customer_code", quick("B-1", usd(100), "123456")},
		{"long customer code", "customer_code", quick("B-1", usd(100), strings.Repeat("1", 25))},
		{"leading zero customer code", "customer_code", quick("B-1", usd(100), "034567890123456789")},
		{"bad out_trade_no", "out_trade_no", quick("B 1", usd(100), testCode)},
		{"long out_trade_no", "out_trade_no", quick(strings.Repeat("A", 33), usd(100), testCode)},
		{"refund above paid", "refund_amount", refund(usd(1001), usd(1000), money.Amount{})},
		{"refund above what is left", "refund_amount", refund(usd(600), usd(1000), usd(500))},
		{"refund without paid amount", "paid_amount", refund(usd(100), money.Amount{}, money.Amount{})},
		{"sub store name", "sub_store_name", func() error {
			_, err := e.c.NativePay(ctx, NativePayRequest{OutTradeNo: "B-2", Amount: usd(100), PayOptions: PayOptions{SubStoreName: long}})
			return err
		}()},
		{"fee rate", "fee_rate", func() error {
			r := 101
			_, err := e.c.NativePay(ctx, NativePayRequest{OutTradeNo: "B-2", Amount: usd(100), PayOptions: PayOptions{FeeRatePercent: &r}})
			return err
		}()},
		{"refund kind", "kind", func() error {
			_, err := e.c.Refund(ctx, RefundRequest{OutTradeNo: "B-1", OutRefundNo: "B-1-1", Amount: usd(1), PaidAmount: usd(1)})
			return err
		}()},
		{"status order number", "out_trade_no", func() error { _, err := e.c.PaymentStatus(ctx, ""); return err }()},
	}
	for _, tc := range tests {
		var ve *ValidationError
		if !errors.As(tc.err, &ve) || ve.Field != tc.field || !errors.Is(tc.err, ErrInvalidRequest) {
			t.Errorf("%s: err = %v, want a *ValidationError for %s", tc.name, tc.err, tc.field)
		}
	}
	if n := e.sim.Count("", ""); n != 0 {
		t.Fatalf("%d requests reached the provider (not even a login may)", n)
	}
}

func TestCustomerCodeAsString(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CustomerCodeAsString = true }, nil)
	if _, err := e.c.QuickPay(ctx, QuickPayRequest{OutTradeNo: "S-1", Amount: e.amount(t, "1.00"), CustomerCode: "034567890123456789"}); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Requests(qrwalletsim.EndpointQuickPay, "S-1")[0].Body["auth_code"]; got != "**************6789" {
		t.Fatalf("auth_code = %s", got)
	}
}

// TestEmulatorVariants runs every operation against each form the spec
// leaves open.
func TestEmulatorVariants(t *testing.T) {
	modes := map[string]qrwalletsim.Mode{
		"spec samples":               {},
		"amounts as strings":         {AmountStyle: "string"},
		"optional fields absent":     {Sparse: true},
		"plain slashes, single keys": {PlainSlashes: true, SingleKeys: true},
		"errors in data, HTTP 400":   {ErrorShape: "data", ErrorStatus: 400},
	}
	for name, m := range modes {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil, func(c *qrwalletsim.Config) { c.Mode = m })
			nat, err := e.c.NativePay(ctx, NativePayRequest{OutTradeNo: "V-N", Amount: e.amount(t, "0.01")})
			if err != nil || !strings.HasPrefix(nat.QRCode, "weixin://") {
				t.Fatalf("NativePay = %+v, %v", nat, err)
			}
			if _, err := e.sim.Scan("V-N"); err != nil {
				t.Fatal(err)
			}
			if st, err := e.c.PaymentStatus(ctx, "V-N"); err != nil || !st.Paid || st.Amount.Minor != 1 {
				t.Fatalf("PaymentStatus = %+v, %v", st, err)
			}
			start := e.clk.Now()
			q, err := e.c.QuickPay(ctx, QuickPayRequest{OutTradeNo: "V-Q", Amount: e.amount(t, "3.52"), CustomerCode: testCode})
			if err != nil || q.Paid {
				t.Fatalf("QuickPay(PIN) = %+v, %v", q, err)
			}
			if w, err := e.c.WaitPayment(ctx, "V-Q", start); err != nil || !w.Final {
				t.Fatalf("WaitPayment = %+v, %v", w, err)
			}
			rf, err := e.c.Refund(ctx, RefundRequest{OutTradeNo: "V-Q", OutRefundNo: "V-Q-1", Kind: KindQuickPay,
				Amount: e.amount(t, "3.52"), PaidAmount: e.amount(t, "3.52")})
			if err != nil || rf.Amount.Minor != 352 {
				t.Fatalf("Refund = %+v, %v", rf, err)
			}
			if st, err := e.c.RefundStatus(ctx, "V-Q", "V-Q-1"); err != nil || !st.Refunded {
				t.Fatalf("RefundStatus = %+v, %v", st, err)
			}
			if _, err := e.c.PaymentStatus(ctx, "NONE"); !IsNotFound(err) {
				t.Fatalf("PaymentStatus(unknown) = %v", err)
			}
		})
	}
}

func TestZeroDecimalCurrency(t *testing.T) {
	e := newEnv(t, nil, func(c *qrwalletsim.Config) { c.Currency = "JPY" })
	if _, err := e.c.Amount("500.5"); err == nil {
		t.Fatal("Amount(500.5 JPY) accepted")
	}
	res := e.quickPay(t, "J-1", "500")
	if !res.Paid || res.Amount.Minor != 500 {
		t.Fatalf("QuickPay = %+v", res)
	}
	if got := e.sim.Requests(qrwalletsim.EndpointQuickPay, "J-1")[0].Body["amount"]; got != "500" {
		t.Fatalf("amount sent = %s, want 500", got)
	}
}

func TestConfig(t *testing.T) {
	ok := Config{BaseURL: "https://wallet.example", User: "u", Password: "p", StoreID: "109038", Currency: "USD"}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"base_url", func(c *Config) { c.BaseURL = "http://wallet.example" }},
		{"base_url", func(c *Config) { c.BaseURL = "" }},
		{"user", func(c *Config) { c.User = "" }},
		{"password", func(c *Config) { c.Password = "" }},
		{"store_id", func(c *Config) { c.StoreID = "12a" }},
		{"store_id", func(c *Config) { c.StoreID = "0123" }},
		{"currency", func(c *Config) { c.Currency = "XXX" }},
		{"currency", func(c *Config) { c.Currency = "" }},
		{"token_refresh_margin", func(c *Config) { c.TokenRefreshMargin = time.Minute }},
		{"poll_interval", func(c *Config) { c.PollInterval = time.Minute }},
		{"customer_code_max_len", func(c *Config) { c.CustomerCodeMinLen = 30 }},
		{"paths.refund", func(c *Config) { c.Paths.Refund = "https://elsewhere/refund" }},
	}
	for _, tc := range tests {
		cfg := ok
		tc.edit(&cfg)
		_, err := New(cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New with a bad %s = %v", tc.field, err)
		}
	}
	c, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if c.urls.Refund != "https://wallet.example/api/refund" || c.ServiceID(KindNative) != 30 || c.ServiceID(KindQuickPay) != 2 {
		t.Fatalf("defaults: %+v", c.urls)
	}
	ok.BaseURL = "https://wallet.example/v2/"
	ok.Paths.Token = "/auth/login"
	if c, err = New(ok); err != nil || c.urls.Token != "https://wallet.example/v2/auth/login" {
		t.Fatalf("paths under a base path = %q, %v", c.urls.Token, err)
	}
}

func TestConcurrentCallsShareOneLogin(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.quickPay(t, "C-1", "1.00")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.c.PaymentStatus(ctx, "C-1"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := e.sim.Count(qrwalletsim.EndpointToken, ""); n != 1 {
		t.Fatalf("token logins = %d, want 1", n)
	}
}
