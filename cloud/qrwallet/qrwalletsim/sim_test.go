package qrwalletsim

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	t     *testing.T
	sim   *Sim
	srv   *httptest.Server
	clk   *fakeClock
	token string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	clk := &fakeClock{t: time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)}
	s, err := New(Config{Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	h := &harness{t: t, sim: s, srv: srv, clk: clk}
	h.login()
	return h
}

func (h *harness) login() {
	h.t.Helper()
	h.token = ""
	status, out := h.post(DefaultPaths.Token, "application/json", `{"user":"posbridge-sim","password":"sim-password"}`)
	if status != 200 {
		h.t.Fatalf("token: %d %s", status, out)
	}
	h.token = out["data"].(map[string]any)["token"].(string)
}

// post sends body and decodes the answer (numbers kept as json.Number).
func (h *harness) post(path, ctype, body string) (int, map[string]any) {
	h.t.Helper()
	status, raw := h.postRaw(path, ctype, body)
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		h.t.Fatalf("POST %s: answer %q is not JSON: %v", path, raw, err)
	}
	return status, out
}

func (h *harness) postRaw(path, ctype, body string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (h *harness) api(path, body string) (int, map[string]any) {
	h.t.Helper()
	return h.post(path, "application/json", body)
}

func data(out map[string]any) map[string]any { d, _ := out["data"].(map[string]any); return d }

func TestTokenLogin(t *testing.T) {
	h := newHarness(t)
	if !strings.HasPrefix(h.token, "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.") { // {"typ":"JWT","alg":"HS256"}, lines 15, 28
		t.Fatalf("token %q is not the sample's JWT form", h.token)
	}
	h.token = ""
	if status, out := h.post(DefaultPaths.Token, "application/x-www-form-urlencoded", "user=posbridge-sim&password=sim-password"); status != 200 || data(out)["message"] != "SUCCESS" {
		t.Fatalf("form login: %d %v", status, out)
	}
	if status, out := h.api(DefaultPaths.Token, `{"user":"posbridge-sim","password":"nope"}`); status != 401 || out["success"] != false {
		t.Fatalf("bad password: %d %v", status, out)
	}
	if status, out := h.api(DefaultPaths.Token, `{"user":"posbridge-sim"}`); out["success"] != false || !strings.Contains(out["message"].(string), "password") {
		t.Fatalf("missing password: %d %v", status, out)
	}
	// Password redacted in the request log.
	for _, r := range h.sim.Requests(EndpointToken, "") {
		if strings.Contains(r.Body["password"], "sim-password") {
			t.Fatal("password in the request log")
		}
	}
}

func TestTokenExpiresInAMinute(t *testing.T) {
	h := newHarness(t)
	body := `{"store_id":109038,"out_trade_no":"X"}`
	if status, _ := h.api(DefaultPaths.PaymentStatus, body); status != 200 {
		t.Fatalf("fresh token: %d", status)
	}
	h.clk.Advance(time.Minute) // line 3
	if status, out := h.api(DefaultPaths.PaymentStatus, body); status != 401 || out["success"] != false {
		t.Fatalf("token after a minute: %d %v", status, out)
	}
	h.token = "forged"
	if status, _ := h.api(DefaultPaths.PaymentStatus, body); status != 401 {
		t.Fatalf("unknown token: %d", status)
	}
}

func TestSpecSamples(t *testing.T) {
	h := newHarness(t)
	// The native pay request sample (lines 32-41), with its unquoted
	// sub_store_id and auth_code.
	status, raw := h.postRaw(DefaultPaths.NativePay, "application/json",
		`{"service_id":30,"store_id":"109038","sub_store_id":123,"sub_store_name":"Test Store","amount":0.01,"fee_rate":2,"auth_code":284957,"out_trade_no":"ORDER-4339"}`)
	if status != 200 || !bytes.Contains(raw, []byte(`"qr_code":"weixin:\/\/wxpay\/bizpayurl?pr=`)) || !bytes.Contains(raw, []byte(`"amount":0.01`)) {
		t.Fatalf("native pay: %d %s", status, raw)
	}
	v, _ := h.sim.Payment("ORDER-4339")
	if *v.SubStoreID != 123 || *v.FeeRate != 2 || v.SubStoreName != "Test Store" || v.State != "pending" {
		t.Fatalf("payment %+v", v)
	}
	// Nullable fields as null, store_id as a number, amount as a string.
	if status, out := h.api(DefaultPaths.QuickPay,
		`{"service_id":"2","store_id":109038,"sub_store_id":null,"sub_store_name":null,"amount":"12.30","auth_code":"134567890123456789","out_trade_no":"ORDER-Q"}`); status != 200 || data(out)["result_code"] != "SUCCESS" || data(out)["currency"] != "USD" {
		t.Fatalf("quick pay: %d %v", status, out)
	}
	// The status answer repeats out_trade_no as lines 176 and 178 do.
	status, raw = h.postRaw(DefaultPaths.PaymentStatus, "application/json", `{"store_id":109038,"out_trade_no":"ORDER-Q"}`)
	if status != 200 || bytes.Count(raw, []byte(`"out_trade_no":"ORDER-Q"`)) != 2 || !bytes.Contains(raw, []byte(`"message":"Payment Successful!"`)) {
		t.Fatalf("payment status: %d %s", status, raw)
	}
	// JSAPI pay (lines 91-121).
	if status, out := h.api(DefaultPaths.JSAPIPay, `{"service_id":30,"store_id":"109038","amount":1,"out_trade_no":"ORDER-J"}`); status != 200 || data(out)["transaction_id"] == nil {
		t.Fatalf("jsapi pay: %d %v", status, out)
	}
}

func TestRequestValidation(t *testing.T) {
	h := newHarness(t)
	tests := []struct{ body, want string }{
		{`{"store_id":"109038","amount":1,"out_trade_no":"A"}`, "service_id field is required"},
		{`{"service_id":30,"store_id":"1","amount":1,"out_trade_no":"A"}`, "store id is invalid"},
		{`{"service_id":30,"store_id":"109038","amount":0.001,"out_trade_no":"A"}`, "more decimals"},
		{`{"service_id":30,"store_id":"109038","amount":-1,"out_trade_no":"A"}`, "positive decimal"},
		{`{"service_id":30,"store_id":"109038","amount":1e2,"out_trade_no":"A"}`, "positive decimal"},
		{`{"service_id":30,"store_id":"109038","amount":1}`, "out_trade_no field is required"},
		{`{"service_id":30,"store_id":"109038","amount":1,"out_trade_no":"A","fee_rate":101}`, "fee rate"},
		{`{"service_id":30,"store_id":"109038","amount":1,"out_trade_no":"A","auth_code":"12a"}`, "auth code must be digits"},
		{`[1]`, "Malformed JSON"},
	}
	for _, tc := range tests {
		if _, out := h.api(DefaultPaths.NativePay, tc.body); out["success"] != false || !strings.Contains(out["message"].(string), tc.want) {
			t.Errorf("native pay %s: %v, want %q", tc.body, out, tc.want)
		}
	}
	if _, out := h.api(DefaultPaths.QuickPay, `{"service_id":2,"store_id":"109038","amount":1,"out_trade_no":"B"}`); !strings.Contains(out["message"].(string), "auth code field is required") {
		t.Errorf("quick pay without auth_code: %v", out)
	}
	if status, _ := h.post(DefaultPaths.NativePay, "text/plain", `{}`); status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", status)
	}
	if h.sim.Count("", "A") != len(tests)-2 || len(h.sim.Payments()) != 0 {
		t.Fatalf("refused requests created payments: %v", h.sim.Payments())
	}
}

func TestRefundsBoundedByPaid(t *testing.T) {
	h := newHarness(t)
	h.api(DefaultPaths.QuickPay, `{"service_id":2,"store_id":"109038","amount":10.00,"auth_code":134567890123456789,"out_trade_no":"P"}`)
	refund := func(no, amount string) map[string]any {
		_, out := h.api(DefaultPaths.Refund, `{"service_id":2,"store_id":"109038","refund_amount":`+amount+`,"out_trade_no":"P","out_refund_no":"`+no+`","reason":"x"}`)
		return out
	}
	if out := refund("R1", "6.00"); out["success"] != true || data(out)["store_id"] != json.Number("109038") {
		t.Fatalf("refund 1: %v", out)
	}
	if out := refund("R2", "4.01"); out["success"] != false || !strings.Contains(out["message"].(string), "exceeds") {
		t.Fatalf("refund above what is left: %v", out)
	}
	if out := refund("R1", "6.00"); out["success"] != true { // the same refund again
		t.Fatalf("repeated refund: %v", out)
	}
	if out := refund("R1", "1.00"); out["success"] != false {
		t.Fatalf("out_refund_no reused for another amount: %v", out)
	}
	if out := refund("R2", "4.00"); out["success"] != true {
		t.Fatalf("refund of the rest: %v", out)
	}
	if v, _ := h.sim.Payment("P"); v.Refunded != "10.00" || len(v.Refunds) != 2 {
		t.Fatalf("payment %+v", v)
	}
	_, out := h.api(DefaultPaths.RefundStatus, `{"store_id":109038,"out_trade_no":"P"}`)
	if d := data(out); d["out_refund_no"] != "R2" || d["is_success"] != true || d["amount"] != json.Number("4.00") {
		t.Fatalf("refund status: %v", out)
	}
	// An unpaid (native) payment cannot be refunded.
	h.api(DefaultPaths.NativePay, `{"service_id":30,"store_id":"109038","amount":1,"out_trade_no":"N"}`)
	if _, out := h.api(DefaultPaths.Refund, `{"service_id":30,"store_id":"109038","refund_amount":1,"out_trade_no":"N","out_refund_no":"RN"}`); out["success"] != false {
		t.Fatalf("refund of an unpaid payment: %v", out)
	}
}

func TestQRExpiryAndScan(t *testing.T) {
	h := newHarness(t)
	h.api(DefaultPaths.NativePay, `{"service_id":30,"store_id":"109038","amount":1,"out_trade_no":"E1"}`)
	h.api(DefaultPaths.NativePay, `{"service_id":30,"store_id":"109038","amount":1,"out_trade_no":"E2"}`)
	if status, _ := h.postRaw("/sim/payments/E1/scan", "application/json", ""); status != 200 {
		t.Fatalf("scan: %d", status)
	}
	if status, _ := h.postRaw("/sim/payments/E1/scan", "application/json", ""); status != http.StatusConflict {
		t.Fatalf("second scan: %d", status)
	}
	h.clk.Advance(DefaultQRLifetime)
	h.login()
	if status, _ := h.postRaw("/sim/payments/E2/scan", "application/json", ""); status != http.StatusConflict {
		t.Fatalf("scan after expiry: %d", status)
	}
	if _, out := h.api(DefaultPaths.PaymentStatus, `{"store_id":"109038","out_trade_no":"E2"}`); data(out)["is_success"] != false || data(out)["message"] != msgQRExpired {
		t.Fatalf("status of the expired code: %v", out)
	}
	if status, _ := h.postRaw("/sim/payments/NONE/scan", "application/json", ""); status != http.StatusNotFound {
		t.Fatalf("scan of an unknown payment: %d", status)
	}
	// The spec sets no expiry: a wallet may still take the code.
	if status, raw := h.postRaw("/sim/payments/E2/pay-late", "application/json", ""); status != 200 {
		t.Fatalf("pay-late: %d %s", status, raw)
	}
	if _, out := h.api(DefaultPaths.PaymentStatus, `{"store_id":"109038","out_trade_no":"E2"}`); data(out)["is_success"] != true {
		t.Fatalf("status after a late payment: %v", out)
	}
}

func TestAdminAPI(t *testing.T) {
	h := newHarness(t)
	if status, raw := h.postRaw("/sim/payments/S1/script", "application/json", `{"outcome":"pin","pin_delay_ms":5000}`); status != 200 {
		t.Fatalf("script: %d %s", status, raw)
	}
	if status, _ := h.postRaw("/sim/payments/S1/script", "application/json", `{"outcome":"maybe"}`); status != 400 {
		t.Fatalf("bad script: %d", status)
	}
	_, out := h.api(DefaultPaths.QuickPay, `{"service_id":2,"store_id":"109038","amount":1,"auth_code":134567890123456789,"out_trade_no":"S1"}`)
	if data(out)["result_code"] != "USERPAYING" {
		t.Fatalf("scripted PIN: %v", out)
	}
	h.clk.Advance(5 * time.Second)
	if v, _ := h.sim.Payment("S1"); v.State != "paid" {
		t.Fatalf("after the PIN: %+v", v)
	}
	if status, _ := h.postRaw("/sim/mode", "application/json", `{"amount_style":"string","error_status":400}`); status != 200 {
		t.Fatal("set mode")
	}
	if _, out := h.api(DefaultPaths.PaymentStatus, `{"store_id":"109038","out_trade_no":"S1"}`); data(out)["amount"] != "1.00" {
		t.Fatalf("amount as string: %v", out)
	}
	if status, _ := h.api(DefaultPaths.PaymentStatus, `{"store_id":"109038","out_trade_no":"NONE"}`); status != 400 {
		t.Fatalf("refusal status: %d", status)
	}
	if status, _ := h.postRaw("/sim/mode", "application/json", `{"amount_style":"float"}`); status != 400 {
		t.Fatal("bad mode accepted")
	}
	if status, _ := h.postRaw("/sim/faults", "application/json", `{"endpoint":"payment_status","kind":"http500","count":2}`); status != 200 {
		t.Fatal("fault")
	}
	for range 2 {
		if status, _ := h.postRaw(DefaultPaths.PaymentStatus, "application/json", `{"store_id":"109038","out_trade_no":"S1"}`); status != 500 {
			t.Fatalf("fault not applied: %d", status)
		}
	}
	h.postRaw("/sim/faults", "application/json", `{"kind":"http429","count":5}`)
	req, _ := http.NewRequest(http.MethodDelete, h.srv.URL+"/sim/faults", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatal("clear faults")
	}
	if status, _ := h.postRaw(DefaultPaths.PaymentStatus, "application/json", `{"store_id":"109038","out_trade_no":"S1"}`); status != 200 {
		t.Fatalf("after clearing faults: %d", status)
	}
	h.postRaw("/sim/tokens/expire", "application/json", "")
	if status, _ := h.postRaw(DefaultPaths.PaymentStatus, "application/json", `{"store_id":"109038","out_trade_no":"S1"}`); status != 401 {
		t.Fatalf("after expiring tokens: %d", status)
	}
	resp, err := http.Get(h.srv.URL + "/sim/requests?endpoint=quick_pay&out_trade_no=S1")
	if err != nil {
		t.Fatal(err)
	}
	var reqs []Request
	_ = json.NewDecoder(resp.Body).Decode(&reqs)
	resp.Body.Close()
	if len(reqs) != 1 || reqs[0].Body["auth_code"] != "**************6789" || !reqs[0].Success {
		t.Fatalf("request log: %+v", reqs)
	}
	for _, path := range []string{"/sim/", "/sim/payments", "/sim/payments/S1", "/sim/mode"} {
		if resp, err := http.Get(h.srv.URL + path); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
}

// FuzzDecodeRequest feeds arbitrary bodies to every endpoint: the emulator
// must answer with an envelope and never panic.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(`{"service_id":30,"store_id":"109038","amount":0.01,"out_trade_no":"A","auth_code":284957}`)
	f.Add(`{"service_id":"2","store_id":109038,"amount":"1e3","out_trade_no":null}`)
	f.Add(`{"store_id":109038,"refund_amount":99999999999999999999,"out_trade_no":"A","out_refund_no":"B"}`)
	f.Add(`{"sub_store_id":-1,"fee_rate":"x"}`)
	f.Add(`null`)
	clk := &fakeClock{t: time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)}
	s, err := New(Config{Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	token := s.jwtLocked("u", clk.Now(), clk.Now().Add(time.Hour))
	s.tokens[token] = clk.Now().Add(time.Hour)
	paths := []string{DefaultPaths.NativePay, DefaultPaths.QuickPay, DefaultPaths.Refund, DefaultPaths.PaymentStatus, DefaultPaths.RefundStatus, DefaultPaths.Token}
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range paths {
			req := httptest.NewRequest(http.MethodPost, p, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			var env map[string]json.RawMessage
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env["success"] == nil {
				t.Fatalf("POST %s %q: answer %q is not an envelope", p, body, w.Body.Bytes())
			}
		}
	})
}
