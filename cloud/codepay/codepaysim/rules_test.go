package codepaysim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
)

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, nil)
	e.approve(createFields("ORIG-1", "10.00"))
	now := func(d time.Duration) string { return strconv.FormatInt(e.clock.Now().Add(d).UnixMilli(), 10) }
	del := "\x00delete"
	tests := []struct {
		name   string
		fields map[string]string
		code   string
		msg    string // substring
	}{
		{"duplicate merchant_order_no", createFields("ORIG-1", "1.00"), CodeDuplicateOrder, "duplicate"},
		{"missing description", with(createFields("V-1", "1.00"), "description", del), CodeInvalidParameter, "description"},
		{"missing expires", with(createFields("V-1", "1.00"), "expires", del), CodeInvalidParameter, "expires"},
		{"missing api_version", with(createFields("V-1", "1.00"), "api_version", del), CodeInvalidParameter, "api_version"},
		{"wrong api_version", with(createFields("V-1", "1.00"), "api_version", "1.0"), CodeInvalidParameter, "api_version"},
		{"description too long", with(createFields("V-1", "1.00"), "description", strings.Repeat("é", 129)), CodeInvalidParameter, "128"},
		{"description of 128 runes ok", with(createFields("V-0", "1.00"), "description", strings.Repeat("é", 128)), CodeOK, ""},
		{"attach too long", with(createFields("V-1", "1.00"), "attach", strings.Repeat("a", 129)), CodeInvalidParameter, "attach"},
		{"order number too long", createFields(strings.Repeat("A", 33), "1.00"), CodeInvalidParameter, "merchant_order_no"},
		{"order number charset", createFields("A B", "1.00"), CodeInvalidParameter, "merchant_order_no"},
		{"order number all symbols ok", createFields("a-Z_9|*@", "1.00"), CodeOK, ""},
		{"too many decimals", createFields("V-1", "10.123"), CodeInvalidParameter, "order_amount"},
		{"trailing zero beyond currency", createFields("V-1", "10.100"), CodeInvalidParameter, "order_amount"},
		{"JPY decimals", with(createFields("V-1", "100.5"), "price_currency", "JPY"), CodeInvalidParameter, "order_amount"},
		{"KWD three decimals ok", with(createFields("V-2", "1.234"), "price_currency", "KWD"), CodeOK, ""},
		{"negative amount", createFields("V-1", "-1.00"), CodeInvalidParameter, "order_amount"},
		{"exponent amount", createFields("V-1", "1e2"), CodeInvalidParameter, "order_amount"},
		{"zero amount", createFields("V-1", "0.00"), CodeInvalidParameter, "greater than zero"},
		{"unknown currency", with(createFields("V-1", "1.00"), "price_currency", "XXX"), CodeInvalidParameter, "price_currency"},
		{"tip decimals", with(createFields("V-1", "1.00"), "tip_amount", "0.001"), CodeInvalidParameter, "tip_amount"},
		{"unknown terminal", with(createFields("V-1", "1.00"), "terminal_sn", "WPYB999"), CodeUnknownTerminal, "WPYB999"},
		{"trans_type 5", with(createFields("V-1", "1.00"), "trans_type", "5"), CodeInvalidParameter, "trans_type"},
		{"trans_type text", with(createFields("V-1", "1.00"), "trans_type", "sale"), CodeInvalidParameter, "trans_type"},
		{"void without orig", with(createFields("V-1", "10.00"), "trans_type", "2"), CodeInvalidParameter, "orig_merchant_order_no"},
		{"refund without orig", with(createFields("V-1", "10.00"), "trans_type", "3"), CodeInvalidParameter, "orig_merchant_order_no"},
		{"completion without orig", with(createFields("V-1", "10.00"), "trans_type", "6"), CodeInvalidParameter, "orig_merchant_order_no"},
		{"orig not found", with(createFields("V-1", "10.00"), "trans_type", "3", "orig_merchant_order_no", "NOPE"), CodeOrderNotFound, "NOPE"},
		{"orig on a sale", with(createFields("V-1", "10.00"), "orig_merchant_order_no", "ORIG-1"), CodeInvalidParameter, "orig_merchant_order_no"},
		{"cashback on a sale", with(createFields("V-1", "10.00"), "cashback_amount", "5.00"), CodeInvalidParameter, "trans_type 11"},
		{"on_screen_tip on a void", with(createFields("V-1", "10.00"), "trans_type", "2", "orig_merchant_order_no", "ORIG-1", "on_screen_tip", "false"), CodeInvalidParameter, "on_screen_tip"},
		{"on_screen_tip on a sale ok", with(createFields("V-3", "10.00"), "on_screen_tip", "true"), CodeOK, ""},
		{"on_screen_tip not boolean", with(createFields("V-1", "10.00"), "on_screen_tip", "yes"), CodeInvalidParameter, "on_screen_tip"},
		{"bad pay_scenario", with(createFields("V-1", "1.00"), "pay_scenario", "CASH"), CodeInvalidParameter, "pay_scenario"},
		{"bad card_type", with(createFields("V-1", "1.00"), "card_type", "7"), CodeInvalidParameter, "card_type"},
		{"bad receipt_print_mode", with(createFields("V-1", "1.00"), "receipt_print_mode", "4"), CodeInvalidParameter, "receipt_print_mode"},
		{"bad order_queue_mode", with(createFields("V-1", "1.00"), "order_queue_mode", "LIFO"), CodeInvalidParameter, "order_queue_mode"},
		{"wrong receiving app", with(createFields("V-1", "1.00"), "message_receiving_application", "WISEHUB"), CodeInvalidParameter, "message_receiving_application"},
		{"expires zero", with(createFields("V-1", "1.00"), "expires", "0"), CodeInvalidParameter, "expires"},
		{"expires over a week", with(createFields("V-1", "1.00"), "expires", "604801"), CodeInvalidParameter, "expires"},
		{"notify_url with query", with(createFields("V-1", "1.00"), "notify_url", "https://x.example/hook?a=1"), CodeInvalidParameter, "notify_url"},
		{"notify_url relative", with(createFields("V-1", "1.00"), "notify_url", "/hook"), CodeInvalidParameter, "notify_url"},
		{"timestamp 16 minutes old", with(createFields("V-1", "1.00"), "timestamp", now(-16*time.Minute)), CodeTimestamp, "window"},
		{"timestamp 16 minutes ahead", with(createFields("V-1", "1.00"), "timestamp", now(16*time.Minute)), CodeTimestamp, "window"},
		{"timestamp 15 minutes old ok", with(createFields("V-4", "1.00"), "timestamp", now(-15*time.Minute)), CodeOK, ""},
		{"timestamp in seconds", with(createFields("V-1", "1.00"), "timestamp", strconv.FormatInt(e.clock.Now().Unix(), 10)), CodeTimestamp, "13-digit"},
		{"missing timestamp", with(createFields("V-1", "1.00"), "timestamp", del), CodeInvalidParameter, "timestamp"},
		{"wrong app_id", with(createFields("V-1", "1.00"), "app_id", "wzother"), CodeAuthFailed, "app_id"},
		{"wrong merchant", with(createFields("V-1", "1.00"), "merchant_no", "302399999999"), CodeAuthFailed, "merchant_no"},
		{"wrong store", with(createFields("V-1", "1.00"), "store_no", "409"), CodeAuthFailed, "store_no"},
		{"no store_no ok", with(createFields("V-5", "1.00"), "store_no", del), CodeOK, ""},
		{"format XML", with(createFields("V-1", "1.00"), "format", "XML"), CodeInvalidParameter, "format"},
		{"charset GBK", with(createFields("V-1", "1.00"), "charset", "GBK"), CodeInvalidParameter, "charset"},
		{"version 2.0", with(createFields("V-1", "1.00"), "version", "2.0"), CodeInvalidParameter, "version"},
		{"sign_type MD5", with(createFields("V-1", "1.00"), "sign_type", "MD5"), CodeInvalidParameter, "sign_type"},
		{"sign_type NONE without basic auth", with(createFields("V-1", "1.00"), "sign_type", "NONE"), CodeAuthFailed, "Basic auth"},
		{"offline with reject", with(createFields("V-1", "1.00"), "terminal_sn", snOffline, "reject_trade_when_terminal_offline", "true"), CodeTerminalOffline, "offline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.sim.Requests(codepay.MethodPayOrder, ""))
			r := e.create(tc.fields)
			wantCode(t, r, tc.code)
			if !strings.Contains(r.Msg, tc.msg) {
				t.Errorf("msg %q does not mention %q", r.Msg, tc.msg)
			}
			if got := len(e.sim.Requests(codepay.MethodPayOrder, "")); got != before+1 {
				t.Errorf("recorded %d requests, want %d", got, before+1)
			}
			no := tc.fields["merchant_order_no"]
			if tc.code != CodeOK && tc.code != CodeDuplicateOrder {
				if _, ok := e.sim.Order(no); ok {
					t.Errorf("refused create left order %s behind", no)
				}
			}
		})
	}
}

func TestSignatureChecks(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		tamper func(p codepay.Params) []byte
		code   string
	}{
		{"valid", func(p codepay.Params) []byte { return e.cl.signedBody(p) }, CodeOK},
		{"field changed after signing", func(p codepay.Params) []byte {
			_ = codepay.Sign(e.keys.appPriv, p)
			p["order_amount"] = "99.00"
			b, _ := json.Marshal(p)
			return b
		}, CodeBadSignature},
		{"extra field after signing", func(p codepay.Params) []byte {
			_ = codepay.Sign(e.keys.appPriv, p)
			p["attach"] = "x"
			b, _ := json.Marshal(p)
			return b
		}, CodeBadSignature},
		{"no sign", func(p codepay.Params) []byte { b, _ := json.Marshal(p); return b }, CodeBadSignature},
		{"garbage sign", func(p codepay.Params) []byte { p["sign"] = "!!notbase64"; b, _ := json.Marshal(p); return b }, CodeBadSignature},
		{"signed by the gateway key", func(p codepay.Params) []byte {
			_ = codepay.Sign(e.keys.gwPriv, p)
			b, _ := json.Marshal(p)
			return b
		}, CodeBadSignature},
		{"empty values are not signed", func(p codepay.Params) []byte {
			_ = codepay.Sign(e.keys.appPriv, p)
			p["attach"] = "" // dropped from the canonical string by the rule
			b, _ := json.Marshal(p)
			return b
		}, CodeOK},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := e.cl.params(codepay.MethodPayOrder, createFields("SIG-"+strconv.Itoa(i), "1.00"))
			_, b, err := e.cl.postRaw(tc.tamper(p), "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			wantCode(t, e.cl.parseEnvelope(b, true), tc.code)
		})
	}
}

func TestBasicAuth(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.BasicAuth = &struct{ Username, Password string }{"posbridge", "s3cret"}
	})
	tests := []struct {
		name       string
		user, pass string
		code       string
	}{
		{"right credentials", "posbridge", "s3cret", CodeOK},
		{"wrong password", "posbridge", "nope", CodeAuthFailed},
		{"no header", "", "", CodeAuthFailed},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := e.cl.params(codepay.MethodPayOrder, createFields("BA-"+strconv.Itoa(i), "1.00"))
			p["sign_type"] = "NONE"
			b, _ := json.Marshal(p)
			hdr := http.Header{}
			if tc.user != "" {
				req, _ := http.NewRequest(http.MethodPost, "/", nil)
				req.SetBasicAuth(tc.user, tc.pass)
				hdr.Set("Authorization", req.Header.Get("Authorization"))
			}
			_, body, err := e.cl.postRaw(b, "application/json", hdr)
			if err != nil {
				t.Fatal(err)
			}
			wantCode(t, e.cl.parseEnvelope(body, true), tc.code)
		})
	}
}

func TestFormAndTypedJSONBodies(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("form-urlencoded", func(t *testing.T) {
		p := e.cl.params(codepay.MethodPayOrder, createFields("FORM-1", "12.34"))
		_ = codepay.Sign(e.keys.appPriv, p)
		form := url.Values{}
		for k, v := range p {
			form.Set(k, v)
		}
		_, b, err := e.cl.postRaw([]byte(form.Encode()), "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.cl.parseEnvelope(b, true), CodeOK)
		v, ok := e.sim.Order("FORM-1")
		if !ok || v.OrderAmount != 1234 {
			t.Fatalf("order = %+v", v)
		}
		reqs := e.sim.Requests(codepay.MethodPayOrder, "FORM-1")
		if len(reqs) != 1 || reqs[0].Params["message_receiving_application"] != "CodePay Register" {
			t.Errorf("recorded request = %+v", reqs)
		}
	})
	t.Run("unsigned nested object is refused", func(t *testing.T) {
		p := e.cl.params(codepay.MethodPayOrder, createFields("TYPED-1", "144.34"))
		_ = codepay.Sign(e.keys.appPriv, p)
		b, _ := json.Marshal(p)
		// order_detail arrives but was not signed: every received field counts.
		body := strings.TrimSuffix(string(b), "}") + `,"order_detail":{"b":[1,2]}}`
		_, resp, err := e.cl.postRaw([]byte(body), "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.cl.parseEnvelope(resp, true), CodeBadSignature)
	})
	t.Run("JSON literals accepted", func(t *testing.T) {
		p := e.cl.params(codepay.MethodPayOrder, createFields("TYPED-2", "144.34"))
		p["on_screen_tip"] = "true"
		p["order_detail"] = `{"b":[1,2]}`
		_ = codepay.Sign(e.keys.appPriv, p)
		body := `{`
		for k, v := range p {
			kb, _ := json.Marshal(k)
			switch k {
			case "order_amount", "trans_type", "expires", "timestamp", "on_screen_tip":
				body += string(kb) + ":" + v + ","
			case "order_detail":
				body += string(kb) + `: { "b" : [ 1 , 2 ] },`
			default:
				vb, _ := json.Marshal(v)
				body += string(kb) + ":" + string(vb) + ","
			}
		}
		body += `"unset":null}`
		_, b, err := e.cl.postRaw([]byte(body), "application/json; charset=utf-8", nil)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.cl.parseEnvelope(b, true), CodeOK)
	})
	t.Run("malformed bodies", func(t *testing.T) {
		for _, tc := range []struct{ name, body, ct string }{
			{"not JSON", `{"app_id":`, "application/json"},
			{"array", `[1,2]`, "application/json"},
			{"duplicate key", `{"a":"1","a":"2"}`, "application/json"},
			{"duplicate form field", `a=1&a=2`, "application/x-www-form-urlencoded"},
			{"multipart", `x`, "multipart/form-data; boundary=x"},
			{"latin1 charset", `{}`, "application/json; charset=iso-8859-1"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, b, err := e.cl.postRaw([]byte(tc.body), tc.ct, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("HTTP %d", resp.StatusCode)
				}
				wantCode(t, e.cl.parseEnvelope(b, true), CodeInvalidParameter)
			})
		}
	})
}

func TestUnknownMethod(t *testing.T) {
	e := newEnv(t, nil)
	wantCode(t, e.cl.do("pay.merchant.checkout", map[string]string{"card": `{"pan":"4111111111111111"}`}), CodeMethodNotSupported)
	reqs := e.sim.Requests("pay.merchant.checkout", "")
	if len(reqs) != 1 || reqs[0].Params["card"] != "[redacted]" {
		t.Fatalf("card data not redacted in the request log: %+v", reqs)
	}
}

func TestVoidRules(t *testing.T) {
	e := newEnv(t, nil)
	e.approve(createFields("S-1", "10.00"))
	void := func(no, orig, amount string, kv ...string) *envelope {
		f := with(createFields(no, amount), "trans_type", "2", "orig_merchant_order_no", orig)
		return e.create(with(f, kv...))
	}
	wantCode(t, void("V-BAD-AMT", "S-1", "9.00"), CodeInvalidParameter)
	wantCode(t, void("V-BAD-TERM", "S-1", "10.00", "terminal_sn", snOffline), CodeVoidNotAllowed)
	wantCode(t, void("V-BAD-CUR", "S-1", "10.00", "price_currency", "EUR"), CodeInvalidParameter)
	wantCode(t, void("V-1", "S-1", "10.00"), CodeOK)
	wantCode(t, void("V-2", "S-1", "10.00"), CodeVoidNotAllowed) // void in progress
	if got := e.status("S-1"); got != 2 {
		t.Fatalf("original status before the void is approved = %d, want 2", got)
	}
	e.clock.Advance(2 * time.Second)
	if v, o := e.status("V-1"), e.status("S-1"); v != 2 || o != 3 {
		t.Fatalf("void=%d original=%d, want 2 and 3", v, o)
	}
	sv, _ := e.sim.Order("S-1")
	if sv.VoidedBy != "V-1" {
		t.Errorf("VoidedBy = %q", sv.VoidedBy)
	}
	wantCode(t, void("V-3", "S-1", "10.00"), CodeVoidNotAllowed) // already voided
	wantCode(t, e.create(with(createFields("R-0", "1.00"), "trans_type", "3", "orig_merchant_order_no", "S-1")), CodeNotAllowed)

	// A declined void leaves the original voidable.
	e.approve(createFields("S-2", "20.00"))
	e.sim.ScriptOutcome("V-4", Outcome{Status: codepay.StatusFailed})
	wantCode(t, void("V-4", "S-2", "20.00"), CodeOK)
	e.clock.Advance(2 * time.Second)
	if got := e.status("S-2"); got != 2 {
		t.Fatalf("original after declined void = %d, want 2", got)
	}

	// Declined sale cannot be voided.
	e.mustCreate(createFields("S-DECL", "3.51"))
	e.clock.Advance(2 * time.Second)
	wantCode(t, void("V-5", "S-DECL", "3.51"), CodeVoidNotAllowed)

	// Partially refunded sale cannot be voided.
	e.approve(createFields("S-3", "30.00"))
	wantCode(t, e.create(with(createFields("R-1", "5.00"), "trans_type", "3", "orig_merchant_order_no", "S-3")), CodeOK)
	e.clock.Advance(2 * time.Second)
	wantCode(t, void("V-6", "S-3", "30.00"), CodeVoidNotAllowed)

	// After batch close: void refused ("refund instead"), refund allowed.
	r := e.cl.do(codepay.MethodBatchClose, map[string]string{"terminal_sn": snOnline})
	wantCode(t, r, CodeOK)
	r = void("V-7", "S-2", "20.00")
	wantCode(t, r, CodeVoidNotAllowed)
	if !strings.Contains(r.Msg, "refund instead") {
		t.Errorf("msg = %q, want it to say refund instead", r.Msg)
	}
	wantCode(t, e.create(with(createFields("R-2", "20.00"), "trans_type", "3", "orig_merchant_order_no", "S-2")), CodeOK)
}

func TestRefundRules(t *testing.T) {
	e := newEnv(t, nil)
	e.approve(with(createFields("S-1", "10.00"), "tip_amount", "2.00")) // trans_amount 12.00
	refund := func(no, amount string) *envelope {
		return e.create(with(createFields(no, amount), "trans_type", "3", "orig_merchant_order_no", "S-1"))
	}
	submit := func(no, amount string, kv ...string) *envelope {
		return e.cl.do(codepay.MethodRefundSubmit, with(map[string]string{
			"orig_merchant_order_no": "S-1", "merchant_order_no": no, "price_currency": "USD",
			"order_amount": amount, "description": "refund",
		}, kv...))
	}
	wantCode(t, refund("R-1", "7.00"), CodeOK)
	wantCode(t, refund("R-2", "5.01"), CodeRefundExceeds) // 7.00 in flight counts
	wantCode(t, submit("R-3", "5.01"), CodeRefundExceeds)
	wantCode(t, submit("R-3", "3.00"), CodeOK)
	wantCode(t, submit("R-3", "1.00"), CodeDuplicateOrder)
	wantCode(t, submit("S-1", "1.00"), CodeDuplicateOrder)
	wantCode(t, submit("R-4", "1.00", "orig_merchant_order_no", "NOPE"), CodeOrderNotFound)
	wantCode(t, submit("R-4", "1.00", "orig_merchant_order_no", "\x00delete"), CodeInvalidParameter)
	wantCode(t, submit("R-4", "1.00", "price_currency", "EUR"), CodeInvalidParameter)
	wantCode(t, submit("R-4", "1.001"), CodeInvalidParameter)
	wantCode(t, submit("R-4", "1.00", "description", strings.Repeat("x", 65)), CodeInvalidParameter)

	// order.refund.query finds the refunds (9/0 while in flight, 2 when done).
	rq := func(fields map[string]string) *envelope { return e.cl.do(codepay.MethodRefundQuery, fields) }
	r := rq(map[string]string{"merchant_order_no": "R-3"})
	wantCode(t, r, CodeOK)
	if d := r.data(t); d["trans_status"] != json.Number("0") || d["trans_type"] != json.Number("3") {
		t.Errorf("refund in flight = %v", d)
	}
	e.clock.Advance(2 * time.Second)
	r = rq(map[string]string{"merchant_order_no": "R-3"})
	d := r.data(t)
	if d["trans_status"] != json.Number("2") || d["order_amount"] != "3.00" || d["orig_merchant_order_no"] != "S-1" {
		t.Errorf("refund = %v", d)
	}
	wantCode(t, rq(map[string]string{"trans_no": d["trans_no"].(string)}), CodeOK)
	wantCode(t, rq(map[string]string{"merchant_order_no": "S-1"}), CodeOrderNotFound)
	if got := e.status("R-1"); got != 2 {
		t.Fatalf("terminal refund status = %d", got)
	}
	v, _ := e.sim.Order("S-1")
	if v.RefundedAmount != 1000 || v.Status != codepay.StatusCompleted {
		t.Errorf("original after refunds = %+v", v)
	}
	// 2.00 left: exactly that is fine, a cent more is not.
	wantCode(t, submit("R-5", "2.01"), CodeRefundExceeds)
	wantCode(t, submit("R-5", "2.00", "orig_merchant_order_no", "\x00delete", "orig_trans_no", v.TransNo), CodeOK)

	// A declined refund releases its amount.
	e.approve(createFields("S-2", "5.00"))
	e.sim.ScriptOutcome("R-6", Outcome{Status: codepay.StatusFailed})
	wantCode(t, e.create(with(createFields("R-6", "5.00"), "trans_type", "3", "orig_merchant_order_no", "S-2")), CodeOK)
	e.clock.Advance(2 * time.Second)
	wantCode(t, e.create(with(createFields("R-7", "5.00"), "trans_type", "3", "orig_merchant_order_no", "S-2")), CodeOK)

	// Pre-authorisations are not refundable.
	e.clock.Advance(2 * time.Second)
	e.approve(with(createFields("PA-1", "50.00"), "trans_type", "4"))
	wantCode(t, e.create(with(createFields("R-8", "5.00"), "trans_type", "3", "orig_merchant_order_no", "PA-1")), CodeNotAllowed)
}

func TestPreauthCompletion(t *testing.T) {
	e := newEnv(t, nil)
	e.approve(with(createFields("PA-1", "50.00"), "trans_type", "4"))
	completion := func(no, orig, amount string) *envelope {
		return e.create(with(createFields(no, amount), "trans_type", "6", "orig_merchant_order_no", orig))
	}
	wantCode(t, completion("C-0", "PA-1", "50.01"), CodeNotAllowed)
	wantCode(t, completion("C-1", "PA-1", "42.00"), CodeOK)
	wantCode(t, completion("C-2", "PA-1", "1.00"), CodeNotAllowed) // one completion per authorization
	e.clock.Advance(2 * time.Second)
	if got := e.status("C-1"); got != 2 {
		t.Fatalf("completion status = %d", got)
	}
	e.approve(createFields("S-1", "5.00"))
	wantCode(t, completion("C-3", "S-1", "5.00"), CodeNotAllowed)
	// Completions can be voided and refunded like sales.
	wantCode(t, e.create(with(createFields("V-1", "42.00"), "trans_type", "2", "orig_merchant_order_no", "C-1")), CodeOK)
	// Pre-authorisations cannot be voided with trans_type 2 (that is pre-auth cancel, 5).
	wantCode(t, e.create(with(createFields("V-2", "50.00"), "trans_type", "2", "orig_merchant_order_no", "PA-1")), CodeVoidNotAllowed)
}

func TestBatchTotals(t *testing.T) {
	e := newEnv(t, nil)
	e.approve(with(createFields("S-1", "10.00"), "tip_amount", "1.00"))                           // +11.00
	e.approve(createFields("S-2", "5.00"))                                                        // voided below
	e.approve(with(createFields("CB-1", "20.00"), "trans_type", "11", "cashback_amount", "5.00")) // +25.00
	e.approve(with(createFields("PA-1", "30.00"), "trans_type", "4"))                             // excluded
	e.approve(with(createFields("QR-1", "7.00"), "pay_scenario", "BSCANQR_PAY"))                  // excluded (QR)
	e.approve(with(createFields("V-1", "5.00"), "trans_type", "2", "orig_merchant_order_no", "S-2"))
	e.approve(with(createFields("R-1", "2.00"), "trans_type", "3", "orig_merchant_order_no", "S-1")) // -2.00
	e.mustCreate(createFields("D-1", "9.51"))                                                        // declined
	e.clock.Advance(2 * time.Second)
	if err := e.sim.SetOnline(snOffline, true); err != nil {
		t.Fatal(err)
	}
	e.approve(with(createFields("S-OTHER", "99.00"), "terminal_sn", snOffline))

	if d := e.query("CB-1"); d["cashback_amount"] != "5.00" || d["trans_amount"] != "25.00" {
		t.Errorf("cashback query = %v", d)
	}
	rep, err := e.sim.Batch(snOnline)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Open.Count != 3 || rep.Open.TotalMinor != 3400 || rep.Open.TotalAmount != "34.00" {
		t.Errorf("open batch = %+v, want 3 orders totalling 34.00", rep.Open)
	}
	r := e.cl.do(codepay.MethodBatchClose, map[string]string{"terminal_sn": snOnline})
	wantCode(t, r, CodeOK)
	d := r.data(t)
	if d["count"] != json.Number("3") || d["total_amount"] != "34.00" {
		t.Fatalf("batch.close data = %v, want count 3 total 34.00", d)
	}
	r = e.cl.do(codepay.MethodBatchClose, map[string]string{"terminal_sn": snOnline})
	d = r.data(t)
	if d["count"] != json.Number("0") || d["total_amount"] != "0" {
		t.Fatalf("empty batch.close = %v", d)
	}
	rep, _ = e.sim.Batch(snOnline)
	if len(rep.Closed) != 2 || rep.Closed[0].BatchNo != 1 || rep.Open.BatchNo != 3 || rep.Closed[0].ClosedAt.IsZero() {
		t.Errorf("batch history = %+v", rep)
	}
	other, _ := e.sim.Batch(snOffline)
	if other.Open.Count != 1 || other.Open.TotalAmount != "99.00" {
		t.Errorf("other terminal's batch = %+v", other.Open)
	}
	wantCode(t, e.cl.do(codepay.MethodBatchClose, map[string]string{"terminal_sn": "NOPE"}), CodeUnknownTerminal)
	wantCode(t, e.cl.do(codepay.MethodBatchClose, map[string]string{}), CodeInvalidParameter)
}

func TestTipAdjustment(t *testing.T) {
	e := newEnv(t, nil)
	e.approve(createFields("S-1", "10.00"))
	tip := func(no, amount string) *envelope {
		return e.cl.do(codepay.MethodTipAdjustment, map[string]string{"merchant_order_no": no, "tip_adjustment_amount": amount})
	}
	r := tip("S-1", "2.50")
	wantCode(t, r, CodeOK)
	if string(r.Data) != "{}" {
		t.Errorf("tip.adjustment data = %s, want {}", r.Data)
	}
	d := e.query("S-1")
	if d["tip_amount"] != "2.50" || d["trans_amount"] != "12.50" || d["paid_amount"] != "12.50" {
		t.Errorf("after tip adjustment: %v", d)
	}
	wantCode(t, tip("S-1", "1.00"), CodeOK) // replaces, does not add
	if v, _ := e.sim.Order("S-1"); v.TipAmount != 100 || v.TransAmount != 1100 {
		t.Errorf("tip replaced: %+v", v)
	}
	if rep, _ := e.sim.Batch(snOnline); rep.Open.TotalAmount != "11.00" {
		t.Errorf("batch total after tip = %s, want 11.00", rep.Open.TotalAmount)
	}
	wantCode(t, tip("S-1", "1.001"), CodeInvalidParameter)
	wantCode(t, tip("NOPE", "1.00"), CodeOrderNotFound)
	e.approve(with(createFields("QR-1", "5.00"), "pay_scenario", "SCANQR_PAY"))
	wantCode(t, tip("QR-1", "1.00"), CodeNotAllowed)
	e.mustCreate(createFields("P-1", "5.00"))
	wantCode(t, tip("P-1", "1.00"), CodeNotAllowed) // not approved yet
	e.clock.Advance(2 * time.Second)
	wantCode(t, e.cl.do(codepay.MethodBatchClose, map[string]string{"terminal_sn": snOnline}), CodeOK)
	r = tip("S-1", "3.00")
	wantCode(t, r, CodeNotAllowed)
	if !strings.Contains(r.Msg, "batch") {
		t.Errorf("msg = %q", r.Msg)
	}
}

func TestRevoker(t *testing.T) {
	e := newEnv(t, nil)
	revoke := func(no string) *envelope {
		return e.cl.do(codepay.MethodOrderRevoker, map[string]string{"merchant_order_no": no})
	}
	e.mustCreate(with(createFields("QR-1", "5.00"), "pay_scenario", "BSCANQR_PAY"))
	wantCode(t, revoke("QR-1"), CodeOK)
	if got := e.status("QR-1"); got != 3 {
		t.Fatalf("revoked pending QR order = %d, want 3", got)
	}
	e.approve(with(createFields("QR-2", "5.00"), "pay_scenario", "SCANQR_PAY"))
	if d := e.query("QR-2"); d["pay_method_id"] != "Alipay+" || d["card_no"] != nil {
		t.Errorf("QR query = %v", d)
	}
	wantCode(t, revoke("QR-2"), CodeOK)
	if v, _ := e.sim.Order("QR-2"); v.Status != codepay.StatusCancelled || v.VoidedBy != "order.revoker" {
		t.Fatalf("revoked paid QR order = %+v", v)
	}
	wantCode(t, revoke("QR-2"), CodeOK) // idempotent
	e.mustCreate(createFields("CARD-1", "5.00"))
	r := revoke("CARD-1")
	wantCode(t, r, CodeNotAllowed)
	if got := e.status("CARD-1"); got != 9 {
		t.Errorf("refused revoke changed the card order to %d", got)
	}
	wantCode(t, revoke("NOPE"), CodeOrderNotFound)
}
