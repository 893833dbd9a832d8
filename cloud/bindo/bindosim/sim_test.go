package bindosim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewConfig(t *testing.T) {
	valid := Config{StoreID: tStore, Username: tUser, Password: tPassword, ClientID: tClientID, ClientSecret: tSecret}
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"valid", func(*Config) {}, true},
		{"webhook", func(c *Config) { c.WebhookURL, c.WebhookSecret = "http://127.0.0.1:1/hooks/bindo", "s" }, true},
		{"base64", func(c *Config) { c.WebhookEncoding = EncodingBase64 }, true},
		{"no store", func(c *Config) { c.StoreID = "" }, false},
		{"no username", func(c *Config) { c.Username = "" }, false},
		{"no password", func(c *Config) { c.Password = "" }, false},
		{"no client id", func(c *Config) { c.ClientID = "" }, false},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }, false},
		{"bad encoding", func(c *Config) { c.WebhookEncoding = "hex-upper" }, false},
		{"webhook without secret", func(c *Config) { c.WebhookURL = "http://127.0.0.1:1/" }, false},
		{"relative webhook", func(c *Config) { c.WebhookURL, c.WebhookSecret = "/hooks", "s" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.mutate(&cfg)
			s, err := New(cfg)
			if tc.ok != (err == nil) || tc.ok != (s != nil) {
				t.Fatalf("New = %v, %v; want ok=%v", s, err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not match ErrInvalidConfig", err)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	h := newHarness(t)
	body := func(mut func(m map[string]any)) string {
		m := map[string]any{"username": tUser, "password": tPassword, "grant_type": "password", "client_id": tClientID, "client_secret": tSecret}
		mut(m)
		return mustJSON(m)
	}
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"wrong password", body(func(m map[string]any) { m["password"] = "nope" }), 401},
		{"wrong user", body(func(m map[string]any) { m["username"] = "x@y" }), 401},
		{"wrong client secret", body(func(m map[string]any) { m["client_secret"] = "ly286rorphahzz6wm3su79u0vpw7ly6" }), 401},
		{"wrong client id", body(func(m map[string]any) { delete(m, "client_id") }), 401},
		{"grant type", body(func(m map[string]any) { m["grant_type"] = "client_credentials" }), 400},
		{"not json", `username=x`, 400},
		{"wrong type", `{"username":1}`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := h.do("POST", "/api/v2/login", "", nil, tc.body); r.status != tc.status {
				t.Fatalf("login = %d %v, want %d", r.status, r.body, tc.status)
			}
		})
	}
	if h.sim.Logins() != 1 {
		t.Fatalf("logins = %d, want 1 (refused logins do not count)", h.sim.Logins())
	}
	old := h.token
	if r := h.query(uuid1); r.status != 404 {
		t.Fatalf("query with current token = %d, want 404 (no record)", r.status)
	}
	h.token = h.login()
	if h.token == old {
		t.Fatal("re-login returned the same token")
	}
	if r := h.do("GET", "/gateway/v3/stores/"+tStore+"/query/transactions/"+uuid1, old, nil, ""); r.status != 401 {
		t.Fatalf("query with the old token = %d, want 401", r.status)
	}
	if r := h.do("GET", "/gateway/v3/stores/"+tStore+"/query/transactions/"+uuid1, "", nil, ""); r.status != 401 {
		t.Fatalf("query without token = %d, want 401", r.status)
	}
	if r := h.query(uuid1); r.status != 404 {
		t.Fatalf("query with the new token = %d, want 404", r.status)
	}
	if r := h.do("GET", "/gateway/v3/stores/9999/query/transactions/"+uuid1, h.token, nil, ""); r.status != 404 || r.str("error_code") != CodeParameters {
		t.Fatalf("query of another store = %d %v, want 404 100001", r.status, r.body)
	}
	assertClean(t, "emulator log", h.logs.String())
}

func TestSaleValidation(t *testing.T) {
	h := newHarness(t)
	without := func(hdr string) map[string]string {
		m := map[string]string{}
		for k, v := range nativeHdr {
			if k != hdr {
				m[k] = v
			}
		}
		return m
	}
	set := func(key string, v any) func(tx, cc map[string]any) {
		return func(tx, cc map[string]any) {
			target := tx
			if strings.HasPrefix(key, "cc.") {
				target, key = cc, strings.TrimPrefix(key, "cc.")
			}
			if v == nil {
				delete(target, key)
			} else {
				target[key] = v
			}
		}
	}
	tests := []struct {
		name   string
		mode   string
		mutate func(tx, cc map[string]any)
		raw    string
		hdr    map[string]string
		status int
		code   string
		want   string // in error_desc
	}{
		{"not json", "", nil, `{"transaction":`, nil, 400, CodeParameters, "JSON"},
		{"no transaction", "", nil, `{"notify_url":"https://x.example"}`, nil, 400, CodeParameters, "transaction object"},
		{"bad uuid", "swipe", set("uuid", "1234"), "", nil, 400, CodeParameters, "uuid"},
		{"wrong type", "swipe", set("transaction_type", "refund"), "", nil, 400, CodeParameters, "transaction_type"},
		{"wallet", "swipe", set("payment_method", "alipay"), "", nil, 400, CodeParameters, "payment_method"},
		{"no currency", "swipe", set("currency", nil), "", nil, 400, CodeParameters, "currency"},
		{"unknown currency", "swipe", set("currency", "XYZ"), "", nil, 400, CodeCurrencyMismatch, "currency"},
		{"too many decimals", "swipe", set("amount", "2.001"), "", nil, 400, CodeParameters, "amount"},
		{"zero amount", "swipe", set("amount", "0"), "", nil, 400, CodeParameters, "amount"},
		{"numeric amount", "swipe", set("amount", 2), "", nil, 400, CodeParameters, "amount"},
		{"negative tip", "swipe", set("tips_amount", "-1"), "", nil, 400, CodeParameters, "tips_amount"},
		{"no credit_card", "swipe", set("credit_card", nil), "", nil, 400, CodeParameters, "credit_card is required"},
		{"no mode", "swipe", set("cc.card_reader_mode", nil), "", nil, 400, CodeParameters, "card_reader_mode"},
		{"token mode", "swipe", set("cc.card_reader_mode", "credit_card_token"), "", nil, 400, CodeParameters, "card_reader_mode"},
		{"no card number", "swipe", set("cc.card_number", nil), "", nil, 400, CodeParameters, "card_number is required"},
		{"luhn", "swipe", set("cc.card_number", "4111111111111112"), "", nil, 400, CodeParameters, "card_number"},
		{"no expiry", "swipe", set("cc.card_exp_date", nil), "", nil, 400, CodeParameters, "card_exp_date"},
		{"expiry YYYYMM", "swipe", set("cc.card_exp_date", "202812"), "", nil, 400, CodeParameters, "card_exp_date"},
		{"swipe no track2", "swipe", set("cc.card_track2", nil), "", nil, 400, CodeParameters, "card_track2 is required"},
		{"contact no track2", "contact", set("cc.card_track2", nil), "", nil, 400, CodeParameters, "card_track2 is required"},
		{"contactless no track2", "contactless", set("cc.card_track2", nil), "", nil, 400, CodeParameters, "card_track2 is required"},
		{"track2 garbage", "swipe", set("cc.card_track2", "B4111111111111111^X"), "", nil, 400, CodeParameters, "not track 2"},
		{"track2 other pan", "swipe", set("cc.card_track2", "5555555555554444=2812101"), "", nil, 400, CodeParameters, "does not match card_number"},
		{"track2 other expiry", "swipe", set("cc.card_track2", "4111111111111111=2901101"), "", nil, 400, CodeParameters, "expiry"},
		{"contact no card_sn", "contact", set("cc.card_sn", nil), "", nil, 400, CodeParameters, "card_sn is required"},
		{"contactless no card_sn", "contactless", set("cc.card_sn", nil), "", nil, 400, CodeParameters, "card_sn is required"},
		{"card_sn too long", "contact", set("cc.card_sn", "0001"), "", nil, 400, CodeParameters, "card_sn"},
		{"contact no icc", "contact", set("cc.icc_request", nil), "", nil, 400, CodeParameters, "icc_request is required"},
		{"contactless no icc", "contactless", set("cc.icc_request", nil), "", nil, 400, CodeParameters, "icc_request is required"},
		{"icc not hex", "contact", set("cc.icc_request", "5A08ZZ"), "", nil, 400, CodeParameters, "icc_request"},
		{"icc odd", "contact", set("cc.icc_request", "5A0"), "", nil, 400, CodeParameters, "icc_request"},
		{"fallback contact", "contact", set("cc.card_fallback", true), "", nil, 400, CodeParameters, "card_fallback"},
		{"fallback string", "swipe", set("cc.card_fallback", "true"), "", nil, 400, CodeParameters, "card_fallback"},
		{"bad cvv", "manual", set("cc.cvv", "12"), "", nil, 400, CodeParameters, "cvv"},
		{"no sn", "swipe", set("sn", nil), "", nil, 400, CodeParameters, "sn"},
		{"no device id", "swipe", nil, "", without("X-USER-DEVICE-ID"), 400, CodeParameters, "X-USER-DEVICE-ID"},
		{"no app type", "contact", nil, "", without("X-USER-APP-TYPE"), 400, CodeParameters, "X-USER-APP-TYPE"},
		{"device id differs", "swipe", set("sn", "OTHER0001"), "", nil, 400, CodeParameters, "X-USER-DEVICE-ID must equal sn"},
		{"expiry too far", "swipe", set("txn_exp_at", "2025-03-14T09:50:00Z"), "", nil, 400, CodeParameters, "txn_exp_at"},
		{"expiry past", "swipe", set("txn_exp_at", "2025-03-14T09:00:00Z"), "", nil, 400, CodeParameters, "txn_exp_at"},
		{"relative notify_url", "swipe", set("notify_url", "/hooks/bindo"), "", nil, 400, CodeParameters, "notify_url"},
		{"manual needs no native headers", "manual", set("sn", nil), "", map[string]string{}, 200, "", ""},
		{"swipe ok", "swipe", nil, "", nil, 200, "", ""},
		{"contact ok", "contact", set("tips_amount", "0"), "", nil, 200, "", ""},
		{"contactless ok", "contactless", nil, "", nil, 200, "", ""},
		{"fallback swipe ok", "swipe", set("cc.card_fallback", true), "", nil, 200, "", ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.raw
			uuid := fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
			if body == "" {
				body = saleBody(uuid, "12.30", tc.mode, tc.mutate)
			}
			hdr := tc.hdr
			if hdr == nil {
				hdr = nativeHdr
			}
			before := len(h.sim.Transactions())
			r := h.do("POST", "/gateway/v3/stores/"+tStore+"/payment/transactions", h.token, hdr, body)
			if r.status != tc.status || r.str("error_code") != tc.code || !strings.Contains(r.str("error_desc"), tc.want) {
				t.Fatalf("sale = %d %v, want %d %s %q", r.status, r.body, tc.status, tc.code, tc.want)
			}
			if tc.status != 200 {
				if r.str("transaction_state") != "failed" || len(h.sim.Transactions()) != before {
					t.Fatalf("refused sale stored or not failed: %v", r.body)
				}
				assertClean(t, "error_desc", r.str("error_desc"))
			}
		})
	}
}

func TestSaleLifecycle(t *testing.T) {
	h := newHarness(t)
	r := h.post("transactions", saleBody(uuid1, "12.50", "contact", func(tx, _ map[string]any) { tx["tips_amount"] = "1.00" }))
	if r.status != 200 || r.str("transaction_state") != "pending" || r.str("brn") == "" || r.str("uuid") != uuid1 {
		t.Fatalf("sale = %d %v, want pending", r.status, r.body)
	}
	if r.str("amount") != "12.5" || r.str("tips_amount") != "1" || r.str("total_amount") != "13.5" || r.str("sn") != tSN {
		t.Fatalf("amounts = %q %q %q, want the samples' unpadded form", r.str("amount"), r.str("tips_amount"), r.str("total_amount"))
	}
	h.clock.Advance(1999 * time.Millisecond)
	if q := h.query(uuid1); q.str("transaction_state") != "pending" {
		t.Fatalf("state before the delay = %v", q.body)
	}
	h.clock.Advance(time.Millisecond)
	q := h.query(strings.ToUpper(uuid1))
	cc, _ := q.txn()["credit_card"].(map[string]any)
	if q.str("transaction_state") != "success" || q.str("rrn") == "" || cc["response_code"] != "00" || cc["auth_code"] == "" ||
		cc["card_number"] != visaMask || cc["icc_response"] == nil || q.str("acquirer_type") != "visa" || q.txn()["is_voided"] != false {
		t.Fatalf("query after the delay = %v", q.body)
	}
	if byBRN := h.query(r.str("brn")); byBRN.str("uuid") != uuid1 {
		t.Fatalf("query by brn = %v", byBRN.body)
	}
	if nf := h.query(uuid4); nf.status != 404 || nf.str("error_code") != CodeNoRecord {
		t.Fatalf("query unknown = %d %v, want 404 100013", nf.status, nf.body)
	}
	v, ok := h.sim.Transaction(uuid1)
	if !ok || v.State != "success" || v.Amount != 1250 || v.Tip != 100 || v.MaskedPAN != visaMask || v.FinalAt.IsZero() {
		t.Fatalf("Transaction = %+v", v)
	}

	t.Run("decline amount", func(t *testing.T) {
		r := h.post("transactions", saleBody(uuid2, "10.51", "swipe", func(_, cc map[string]any) {
			cc["card_number"], cc["card_track2"] = otherPAN, otherT2
		}))
		if r.status != 200 {
			t.Fatalf("sale = %d %v", r.status, r.body)
		}
		h.clock.Advance(2 * time.Second)
		q := h.query(uuid2)
		cc, _ := q.txn()["credit_card"].(map[string]any)
		if q.str("transaction_state") != "failed" || q.str("error_code") != CodeInsufficientFunds || cc["response_code"] != "51" || q.str("rrn") != "" {
			t.Fatalf("declined sale = %v", q.body)
		}
	})
	t.Run("test cards approve any amount", func(t *testing.T) {
		for i, c := range TestCards() {
			id := fmt.Sprintf("%08d-0000-4000-8000-000000000001", i)
			body := saleBody(id, "10.51", "swipe", func(_, cc map[string]any) {
				cc["card_number"], cc["card_track2"] = c.Number, c.Number+"=2812101"
			})
			if r := h.post("transactions", body); r.status != 200 {
				t.Fatalf("%s: sale = %d %v", c.Scheme, r.status, r.body)
			}
			h.clock.Advance(2 * time.Second)
			if q := h.query(id); q.str("transaction_state") != "success" {
				t.Fatalf("%s: state = %v", c.Scheme, q.body)
			}
		}
	})
	t.Run("scripted outcome", func(t *testing.T) {
		h.sim.ScriptOutcome(uuid4, Outcome{State: "failed"})
		h.sim.ScriptOutcome(uuid4, Outcome{State: "bogus"}) // ignored
		h.post("transactions", saleBody(uuid4, "5.00", "contactless", nil))
		h.clock.Advance(2 * time.Second)
		if q := h.query(uuid4); q.str("error_code") != CodeRejectedByIssuer {
			t.Fatalf("scripted = %v", q.body)
		}
	})
}

func TestSaleTimingOptions(t *testing.T) {
	t.Run("final at once", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.PendingDelay = -1 })
		if r := h.post("transactions", saleBody(uuid1, "1.00", "swipe", nil)); r.str("transaction_state") != "success" {
			t.Fatalf("sale = %v, want success at once", r.body)
		}
	})
	t.Run("txn_exp_at before the outcome", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.PendingDelay = 10 * time.Minute })
		body := saleBody(uuid1, "1.00", "swipe", func(tx, _ map[string]any) { tx["txn_exp_at"] = "2025-03-14T17:31:53+08:00" })
		if r := h.post("transactions", body); r.str("transaction_state") != "pending" {
			t.Fatalf("sale = %v", r.body)
		}
		h.clock.Advance(5 * time.Minute)
		if q := h.query(uuid1); q.str("transaction_state") != "failed" || q.str("error_code") != CodeTimeoutPayFailed {
			t.Fatalf("expired sale = %v, want failed 110010", q.body)
		}
	})
	t.Run("decline rule disabled", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.PendingDelay, c.DeclineMinorSuffix = -1, -1 })
		body := saleBody(uuid1, "10.51", "swipe", func(_, cc map[string]any) { cc["card_number"], cc["card_track2"] = otherPAN, otherT2 })
		if r := h.post("transactions", body); r.str("transaction_state") != "success" {
			t.Fatalf("sale = %v, want success", r.body)
		}
	})
}

func TestDuplicateUUID(t *testing.T) {
	h := newHarness(t)
	first := h.post("transactions", saleBody(uuid1, "1.00", "contact", nil))
	again := h.post("transactions", saleBody(uuid1, "1.00", "contact", nil))
	if again.status != 200 || again.str("brn") != first.str("brn") {
		t.Fatalf("same sale again = %d %v, want the existing transaction %s", again.status, again.body, first.str("brn"))
	}
	other := h.post("transactions", saleBody(uuid1, "2.00", "contact", nil))
	if other.status != http.StatusConflict || other.str("error_code") != CodeParameters {
		t.Fatalf("uuid reused with another amount = %d %v, want 409 100001", other.status, other.body)
	}
	if n := len(h.sim.Transactions()); n != 1 {
		t.Fatalf("transactions = %d, want 1", n)
	}
	if n := h.sim.Count(OpSale, uuid1); n != 3 {
		t.Fatalf("Count = %d, want 3", n)
	}
}

func TestVoidRefundTips(t *testing.T) {
	h := newHarness(t)
	brn := h.approved(uuid1, "10.00")
	steps := []struct {
		name   string
		op     string
		body   string
		status int
		code   string
	}{
		{"tips on unknown", "tips", childBody("tips", uuid2, "999", "1.00"), 404, CodeNoRecord},
		{"tips wrong currency", "tips", strings.Replace(childBody("tips", uuid2, brn, "1.00"), "HKD", "USD", 1), 400, CodeCurrencyMismatch},
		{"tips wrong type", "tips", childBody("sale", uuid2, brn, "1.00"), 400, CodeParameters},
		{"tips", "tips", childBody("tips", uuid2, brn, "2.00"), 200, ""},
		{"tips same again", "tips", childBody("tips", uuid2, brn, "2.00"), 200, ""},
		{"tips uuid reused", "tips", childBody("tips", uuid2, brn, "3.00"), 409, CodeParameters},
		{"refund without origin", "refund", childBody("refund", uuid3, "", "1.00"), 400, CodeParameters},
		{"refund too much", "refund", childBody("refund", uuid3, brn, "12.01"), 400, CodeAmountExceeded},
		{"refund without amount", "refund", childBody("refund", uuid3, brn, ""), 400, CodeParameters},
		{"refund with tips uuid", "refund", childBody("refund", uuid2, brn, "1.00"), 409, CodeParameters},
		{"partial refund", "refund", childBody("refund", uuid3, brn, "2.00"), 200, ""},
		{"void after refund", "void", childBody("void", uuid4, brn, ""), 409, CodeParameters},
		{"tips after refund", "tips", childBody("tips", "11111111-2222-5333-8444-555555555555", brn, "1.00"), 409, CodeParameters},
		{"refund the rest", "refund", childBody("refund", "21111111-2222-5333-8444-555555555555", brn, "10.00"), 200, ""},
		{"refund beyond", "refund", childBody("refund", "31111111-2222-5333-8444-555555555555", brn, "0.01"), 400, CodeAmountExceeded},
	}
	for _, st := range steps {
		r := h.post(st.op, st.body)
		if r.status != st.status || r.str("error_code") != st.code {
			t.Fatalf("%s: %d %v, want %d %s", st.name, r.status, r.body, st.status, st.code)
		}
	}
	q := h.query(uuid1)
	if q.str("refunded_amount") != "12" || q.txn()["refunded_times"] != float64(2) || q.str("tips_amount") != "2" {
		t.Fatalf("original after refunds = %v", q.body)
	}
	if v, _ := h.sim.Transaction(uuid3); v.Type != "refund" || v.OriginBRN != brn || v.Amount != 200 || v.State != "success" {
		t.Fatalf("refund transaction = %+v", v)
	}

	t.Run("void rules", func(t *testing.T) {
		sale := h.approved("a1111111-2222-5333-8444-555555555555", "5.00")
		pend := h.post("transactions", saleBody("b1111111-2222-5333-8444-555555555555", "5.00", "swipe", nil)).str("brn")
		steps := []struct {
			name, op string
			body     string
			status   int
			code     string
		}{
			{"void pending", "void", childBody("void", "c1111111-2222-5333-8444-555555555555", pend, ""), 409, CodeParameters},
			{"void partial amount", "void", childBody("void", "c1111111-2222-5333-8444-555555555555", sale, "4.00"), 400, CodeParameters},
			{"void other currency", "void", strings.Replace(childBody("void", "c1111111-2222-5333-8444-555555555555", sale, "5.00"), "HKD", "USD", 1), 400, CodeCurrencyMismatch},
			{"void", "void", childBody("void", "c1111111-2222-5333-8444-555555555555", sale, "5.00"), 200, ""},
			{"same void again", "void", childBody("void", "c1111111-2222-5333-8444-555555555555", sale, "5.00"), 200, ""},
			{"second void", "void", childBody("void", "d1111111-2222-5333-8444-555555555555", sale, ""), 409, CodeParameters},
			{"refund voided", "refund", childBody("refund", "e1111111-2222-5333-8444-555555555555", sale, "1.00"), 409, CodeParameters},
			{"tips voided", "tips", childBody("tips", "f1111111-2222-5333-8444-555555555555", sale, "1.00"), 409, CodeParameters},
		}
		for _, st := range steps {
			r := h.post(st.op, st.body)
			if r.status != st.status || r.str("error_code") != st.code {
				t.Fatalf("%s: %d %v, want %d %s", st.name, r.status, r.body, st.status, st.code)
			}
		}
		q := h.query(sale)
		if q.txn()["is_voided"] != true || q.str("voided_time") == "" {
			t.Fatalf("voided sale = %v", q.body)
		}
		settled := h.approved("a2111111-2222-5333-8444-555555555555", "5.00")
		if n := h.sim.Settle(); n < 1 {
			t.Fatalf("Settle = %d", n)
		}
		if r := h.post("void", childBody("void", "a3111111-2222-5333-8444-555555555555", settled, "")); r.status != 409 || !strings.Contains(r.str("error_desc"), "settled") {
			t.Fatalf("void after settlement = %d %v", r.status, r.body)
		}
		if r := h.post("tips", childBody("tips", "a4111111-2222-5333-8444-555555555555", settled, "1.00")); r.status != 409 {
			t.Fatalf("tips after settlement = %d %v", r.status, r.body)
		}
		if r := h.post("refund", childBody("refund", "a5111111-2222-5333-8444-555555555555", settled, "5.00")); r.status != 200 {
			t.Fatalf("refund after settlement = %d %v", r.status, r.body)
		}
	})
}
