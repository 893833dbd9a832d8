package idpay

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/idpay/idpaysim"
	"github.com/posbridge/posbridge/money"
)

func TestCreateEveryMethod(t *testing.T) {
	e := newEnv(t, nil)
	for i, m := range Methods() {
		t.Run(string(m), func(t *testing.T) {
			no := "PB-" + string(m)
			sent := e.clock.Now()
			p := e.mustCreate(no, m)
			if p.State != StatePending || p.Status != StatusInitOrder || p.PlatOrderNo == "" || p.Method != m {
				t.Fatalf("create = %+v, want pending INIT_ORDER with a platform order number", p)
			}
			if p.Amount == nil || *p.Amount != idr(30000) {
				t.Fatalf("amount = %v, want IDR 30000", p.Amount)
			}
			wantExpiry := sent.Add(DefaultExpiryPeriod)
			switch m.Kind() {
			case KindVA:
				if p.VANumber == "" || p.QRContent != "" {
					t.Fatalf("VA create = %+v, want a VA number only", p)
				}
			case KindQRIS:
				if !strings.HasPrefix(p.QRContent, "000201") {
					t.Fatalf("QRIS payload = %q", p.QRContent)
				}
			case KindRetail:
				if p.PaymentCode == "" {
					t.Fatalf("retail create = %+v, want a payment code", p)
				}
			case KindEWallet:
				if m == MethodEWalletDANA && p.PayURL == "" {
					t.Fatalf("DANA create = %+v, want a pay URL", p)
				}
				if m == MethodEWalletOVO {
					wantExpiry = sent.Add(OVOPayWindow)
				}
			default:
				t.Fatalf("method %s has no kind", m)
			}
			if !p.ExpiresAt.Equal(wantExpiry) {
				t.Fatalf("ExpiresAt = %v, want %v", p.ExpiresAt, wantExpiry)
			}
			q := e.mustQuery(no)
			if q.State != StatePending {
				t.Fatalf("query before paying = %+v, want pending", q)
			}
			if _, err := e.sim.Pay(no); err != nil {
				t.Fatalf("pay #%d: %v", i, err)
			}
			if q := e.mustQuery(no); q.State != StatePaid || q.Status != StatusSuccess {
				t.Fatalf("query after paying = %+v, want paid", q)
			}
		})
	}
}

func TestCreateSendsIntegerRupiahSigned(t *testing.T) {
	e := newEnv(t, nil)
	r := CreateRequest{OrderNo: "PB-1", Method: MethodVABCA, Amount: idr(15000), Name: "Budi", Email: "a@b.co",
		Phone: "0811", ExpiryPeriod: 60 * time.Minute, NotifyURL: "https://pos.example/hooks"}
	if _, err := e.client.CreatePayment(context.Background(), r); err == nil {
		// phone "0811" is too short for our rule: make sure validation ran
		t.Fatal("short phone accepted")
	}
	r.Phone = "082113086611"
	p, err := e.client.CreatePayment(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !p.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("ExpiresAt = %v", p.ExpiresAt)
	}
	reqs := e.sim.Requests("create", "PB-1")
	if len(reqs) != 1 {
		t.Fatalf("creates = %d, want 1", len(reqs))
	}
	got := reqs[0].Params
	for k, want := range map[string]string{"payMoney": "15000", "expiryPeriod": "60", "method": "VA_BCA", "merchantCode": testMerchant, "notifyUrl": "https://pos.example/hooks"} {
		if got[k] != want {
			t.Errorf("sent %s = %q, want %q", k, got[k], want)
		}
	}
	if got["sign"] == "" {
		t.Error("request not signed")
	}
}

func TestDecimalRupiahRefusedNothingSent(t *testing.T) {
	e := newEnv(t, nil)
	idr2 := money.MustCurrency("IDR")
	if idr2.Exponent != 2 {
		t.Fatalf("money says IDR has %d decimals; this package converts from ISO minor units", idr2.Exponent)
	}
	cases := []struct {
		name   string
		amount money.Amount
	}{
		{"fraction", money.Amount{Minor: 1000050, Currency: idr2}},
		{"one sen", money.Amount{Minor: 1, Currency: idr2}},
		{"zero", money.Amount{Minor: 0, Currency: idr2}},
		{"negative", money.Amount{Minor: -100, Currency: idr2}},
		{"usd", money.Amount{Minor: 100, Currency: money.MustCurrency("USD")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.CreatePayment(context.Background(), CreateRequest{OrderNo: "PB-D", Method: MethodQRIS, Amount: tc.amount, Name: "X"})
			var ve *ValidationError
			if !errors.Is(err, ErrInvalidRequest) || !errors.As(err, &ve) || ve.Field != "payMoney" {
				t.Fatalf("CreatePayment(%v) = %v, want a ValidationError on payMoney", tc.amount, err)
			}
		})
	}
	if n := e.sim.Count("", ""); n != 0 {
		t.Fatalf("emulator saw %d requests, want 0", n)
	}
	// The POS edge: whole rupiah only, even "30000.00".
	for _, s := range []string{"30000.50", "30000.00", "1e3", "-5", "0"} {
		if _, err := ParseRupiah("amount", s); !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "amount") {
			t.Errorf("ParseRupiah(%q) = %v, want an error naming amount", s, err)
		}
	}
	if a, err := ParseRupiah("amount", "30000"); err != nil || a != idr(30000) || a.Minor != 3000000 {
		t.Errorf(`ParseRupiah("30000") = %v, %v`, a, err)
	}
	// A whole number of rupiah in ISO minor units is fine.
	if n, err := Rupiah("payMoney", money.Amount{Minor: 3000000, Currency: idr2}); err != nil || n != 30000 {
		t.Errorf("Rupiah(30000.00) = %d, %v", n, err)
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, nil)
	base := CreateRequest{OrderNo: "PB-V", Method: MethodVABNI, Amount: idr(10000), Name: "Ani"}
	cases := []struct {
		name  string
		edit  func(*CreateRequest)
		field string
	}{
		{"order no", func(r *CreateRequest) { r.OrderNo = "has space" }, "order_no"},
		{"long order no", func(r *CreateRequest) { r.OrderNo = strings.Repeat("A", 33) }, "order_no"},
		{"method", func(r *CreateRequest) { r.Method = "VA_XYZ" }, "method"},
		{"no name", func(r *CreateRequest) { r.Name = "" }, "name"},
		{"long name", func(r *CreateRequest) { r.Name = strings.Repeat("a", 31) }, "name"},
		{"name emoji", func(r *CreateRequest) { r.Name = "Ani 😀" }, "name"},
		{"email", func(r *CreateRequest) { r.Email = "not-an-email" }, "email"},
		{"phone", func(r *CreateRequest) { r.Phone = "+62 811" }, "phone"},
		{"ovo without phone", func(r *CreateRequest) { r.Method = MethodEWalletOVO }, "phone"},
		{"expiry short", func(r *CreateRequest) { r.ExpiryPeriod = 10 * time.Minute }, "expiryPeriod"},
		{"expiry seconds", func(r *CreateRequest) { r.ExpiryPeriod = 20*time.Minute + time.Second }, "expiryPeriod"},
		{"expiry long", func(r *CreateRequest) { r.ExpiryPeriod = 97201 * time.Minute }, "expiryPeriod"},
		{"notify", func(r *CreateRequest) { r.NotifyURL = "ftp://x" }, "notifyUrl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.edit(&r)
			_, err := e.client.CreatePayment(context.Background(), r)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("CreatePayment = %v, want a ValidationError on %s", err, tc.field)
			}
		})
	}
	if _, err := e.client.QueryPayment(context.Background(), QueryRequest{OrderNo: ""}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("query without order no = %v", err)
	}
	if n := e.sim.Count("", ""); n != 0 {
		t.Fatalf("emulator saw %d requests, want 0", n)
	}
}

func TestUnknownThenQueryThenFinal(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.sim.ScriptCreate("PB-U", idpaysim.CreateScript{RespCode: "UNKNOWN", Process: true}); err != nil {
		t.Fatal(err)
	}
	_, err := e.create("PB-U", MethodVAMandiri)
	var ge *GatewayError
	if !errors.Is(err, ErrUnknownOutcome) || errors.As(err, &ge) || errors.Is(err, ErrNotSent) {
		t.Fatalf("create answered UNKNOWN = %v, want ErrUnknownOutcome only", err)
	}
	// Query, never re-initiate (spec line 104).
	if q := e.mustQuery("PB-U"); q.State != StatePending {
		t.Fatalf("query = %+v, want pending", q)
	}
	if _, err := e.sim.Pay("PB-U"); err != nil {
		t.Fatal(err)
	}
	if q := e.mustQuery("PB-U"); q.State != StatePaid {
		t.Fatalf("query = %+v, want paid", q)
	}
	if n := e.sim.Count("create", "PB-U"); n != 1 {
		t.Fatalf("creates = %d, want 1", n)
	}
}

func TestUnknownNotTakenQueryNotFound(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.sim.ScriptCreate("PB-N", idpaysim.CreateScript{RespCode: "UNKNOWN"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.create("PB-N", MethodQRIS); !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("create = %v, want unknown", err)
	}
	_, err := e.query("PB-N")
	if !IsOrderNotFound(err) {
		t.Fatalf("query = %v, want the definitive not-found", err)
	}
	var ge *GatewayError
	if !errors.As(err, &ge) || ge.Code != "ORDER_NOT_FOUND" || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("query error = %#v", err)
	}
}

func TestDropAfterProcessThenQuery(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.sim.InjectFault(idpaysim.Fault{Op: "create", Kind: idpaysim.FaultDropAfterProcess}); err != nil {
		t.Fatal(err)
	}
	_, err := e.create("PB-DROP", MethodRetailAlfa)
	if !errors.Is(err, ErrUnknownOutcome) || errors.Is(err, ErrNotSent) {
		t.Fatalf("create = %v, want unknown outcome", err)
	}
	q := e.mustQuery("PB-DROP")
	if q.State != StatePending || q.Method != MethodRetailAlfa {
		t.Fatalf("query = %+v, want the order pending", q)
	}
}

func TestErrorClasses(t *testing.T) {
	cases := []struct {
		kind    idpaysim.FaultKind
		check   func(error) bool
		created bool
	}{
		{idpaysim.FaultHTTP500, isHTTP(500), false},
		{idpaysim.FaultHTTP500AfterProcess, isHTTP(500), true},
		{idpaysim.FaultHTTP429, isHTTP(429), false},
		{idpaysim.FaultDrop, func(err error) bool { return errors.Is(err, ErrUnknownOutcome) }, false},
		{idpaysim.FaultBadSignature, func(err error) bool { return errors.Is(err, ErrBadSignature) }, true},
		{idpaysim.FaultUnsigned, func(err error) bool { return errors.Is(err, ErrBadSignature) }, true},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			e := newEnv(t, nil)
			if err := e.sim.InjectFault(idpaysim.Fault{Op: "create", Kind: tc.kind}); err != nil {
				t.Fatal(err)
			}
			_, err := e.create("PB-F", MethodVABRI)
			if !errors.Is(err, ErrUnknownOutcome) || !tc.check(err) {
				t.Fatalf("create with %s = %v", tc.kind, err)
			}
			_, qerr := e.query("PB-F")
			if tc.created != (qerr == nil) || (!tc.created && !IsOrderNotFound(qerr)) {
				t.Fatalf("query after %s = %v, want created=%t", tc.kind, qerr, tc.created)
			}
		})
	}
}

func isHTTP(status int) func(error) bool {
	return func(err error) bool {
		var he *HTTPError
		return errors.As(err, &he) && he.Status == status
	}
}

func TestSlowAnswerIsUnknown(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond} })
	if err := e.sim.InjectFault(idpaysim.Fault{Op: "create", Kind: idpaysim.FaultSlow, Delay: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.create("PB-SLOW", MethodEWalletDANA); !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("create = %v, want unknown", err)
	}
	if q := e.mustQuery("PB-SLOW"); q.State != StatePending || q.Status != StatusOpenPayURL {
		t.Fatalf("query = %+v", q)
	}
}

func TestNotSent(t *testing.T) {
	// Nothing listens on port 1 (privileged, never a test server's; the
	// port of a closed test server can be taken by a parallel test's).
	e := newEnv(t, func(c *Config) { c.BaseURL = "http://127.0.0.1:1" })
	_, err := e.create("PB-X", MethodQRIS)
	if !errors.Is(err, ErrNotSent) || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("create to a closed server = %v, want ErrNotSent only", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.client.QueryPayment(ctx, QueryRequest{OrderNo: "PB-X"}); !errors.Is(err, ErrNotSent) {
		t.Fatalf("query with a cancelled context = %v, want ErrNotSent", err)
	}
}

func TestGatewayRefusal(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCreate("PB-DUP", MethodVACIMB)
	_, err := e.create("PB-DUP", MethodVACIMB)
	var ge *GatewayError
	if !errors.As(err, &ge) || ge.Code != idpaysim.CodeOrderDuplicate || ge.NotFound || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("second create = %v, want a signed refusal", err)
	}
	if err := e.sim.ScriptCreate("PB-FAIL", idpaysim.CreateScript{RespCode: "FAIL", ErrorCode: "ORDER_NOT_FOUND"}); err != nil {
		t.Fatal(err)
	}
	// A not-found code on a create is a refusal, never "no such order".
	if _, err := e.create("PB-FAIL", MethodVACIMB); !errors.As(err, &ge) || IsOrderNotFound(err) {
		t.Fatalf("scripted FAIL = %v", err)
	}
}

func TestQueryUnknownAndUnlistedStatus(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCreate("PB-Q", MethodVAPermata)
	if err := e.sim.ScriptQuery("PB-Q", idpaysim.QueryScript{RespCode: "UNKNOWN", Count: 2}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := e.query("PB-Q"); !errors.Is(err, ErrUnknownOutcome) || IsOrderNotFound(err) {
			t.Fatalf("query answered UNKNOWN = %v", err)
		}
	}
	if err := e.sim.ScriptQuery("PB-Q", idpaysim.QueryScript{Status: "PROCESSING"}); err != nil {
		t.Fatal(err)
	}
	if q := e.mustQuery("PB-Q"); q.State != StateUnknown || q.Status != "PROCESSING" {
		t.Fatalf("unlisted status = %+v, want unknown (never failed)", q)
	}
	if q := e.mustQuery("PB-Q"); q.State != StatePending {
		t.Fatalf("query = %+v", q)
	}
}

func TestExpiredAndCancelled(t *testing.T) {
	e := newEnv(t, nil)
	p := e.mustCreate("PB-E", MethodVADanamon)
	if _, err := e.sim.Expire("PB-E"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.Pay("PB-E"); !errors.Is(err, idpaysim.ErrNotPayable) {
		t.Fatalf("paying an expired order = %v", err)
	}
	r := QueryRequest{OrderNo: "PB-E", ExpiresAt: e.clock.Now()}
	q, err := e.client.QueryPayment(context.Background(), r)
	if err != nil || q.State != StatePending {
		t.Fatalf("query inside the grace = %+v, %v", q, err)
	}
	e.clock.Advance(DefaultExpiryGrace + time.Second)
	if q, err = e.client.QueryPayment(context.Background(), r); err != nil || q.State != StateExpired || q.Status != StatusNoPay {
		t.Fatalf("query past the grace = %+v, %v; want expired (status NO_PAY)", q, err)
	}
	_ = p
	e.mustCreate("PB-C", MethodVAMaybank)
	if _, err := e.sim.Cancel("PB-C"); err != nil {
		t.Fatal(err)
	}
	if q := e.mustQuery("PB-C"); q.State != StateFailed || q.Status != StatusPayCancel {
		t.Fatalf("cancelled = %+v", q)
	}
}

func TestMapStatus(t *testing.T) {
	for status, want := range map[string]State{
		"INIT_ORDER": StatePending, "NO_PAY": StatePending, "OPEN_PAY_URL": StatePending, "SUCCESS": StatePaid,
		"PAY_CANCEL": StateFailed, "UNKNOWN": StateUnknown, "FAIL": StateUnknown, "2": StateUnknown, "": StateUnknown,
		"success": StateUnknown,
	} {
		if got := MapStatus(status); got != want {
			t.Errorf("MapStatus(%q) = %s, want %s", status, got, want)
		}
	}
}
