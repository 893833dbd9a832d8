package codepaysim

import (
	"encoding/json"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
)

func TestSaleLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	created := e.mustCreate(with(createFields("SALE-1", "12.34"), "tip_amount", "1.66", "attach", `{"lane":"1","x":"a&b<c>"}`))
	if created["terminal_online_status"] != "online" {
		t.Errorf("terminal_online_status = %v, want online", created["terminal_online_status"])
	}
	if created["trans_amount"] != "14.00" {
		t.Errorf("create trans_amount = %v, want \"14.00\"", created["trans_amount"])
	}
	if tn, _ := created["trans_no"].(string); tn == "" || created["message_id"] == "" {
		t.Fatalf("create data lacks trans_no/message_id: %v", created)
	}

	steps := []struct {
		advance time.Duration
		want    int
	}{
		{0, 9},
		{499 * time.Millisecond, 9},
		{1 * time.Millisecond, 0},
		{1499 * time.Millisecond, 0},
		{1 * time.Millisecond, 2},
		{time.Hour, 2},
	}
	var d map[string]any
	for _, st := range steps {
		e.clock.Advance(st.advance)
		d = e.query("SALE-1")
		if got := d["trans_status"]; got != json.Number(itoa(st.want)) {
			t.Fatalf("after +%v trans_status = %v (%T), want JSON number %d", st.advance, got, got, st.want)
		}
	}
	finalAt := simtest.Start.Add(2 * time.Second).UTC().Format("2006-01-02 15:04:05")
	want := map[string]any{
		"merchant_order_no": "SALE-1",
		"trans_no":          created["trans_no"],
		"trans_type":        json.Number("1"),
		"order_amount":      "12.34",
		"tip_amount":        "1.66",
		"trans_amount":      "14.00",
		"paid_amount":       "14.00",
		"price_currency":    "USD",
		"pay_scenario":      "SWIPE_CARD",
		"pay_method_id":     "Visa",
		"card_no":           "476173******0119",
		"entry_mode":        "contactless",
		"trans_end_time":    finalAt,
		"attach":            `{"lane":"1","x":"a&b<c>"}`,
		"store_no":          testStore,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("query %s = %v, want %v", k, d[k], v)
		}
	}
	if _, ok := d["cashback_amount"]; ok {
		t.Errorf("cashback_amount present without cashback")
	}
	if !regexp.MustCompile(`^\d{6}$`).MatchString(d["auth_no"].(string)) {
		t.Errorf("auth_no = %v, want 6 digits", d["auth_no"])
	}
	if !regexp.MustCompile(`^\d{12}$`).MatchString(d["ref_no"].(string)) {
		t.Errorf("ref_no = %v, want 12 digits", d["ref_no"])
	}
	v, _ := e.sim.Order("SALE-1")
	if v.BatchNo != 1 || v.TransAmount != 1400 || v.PickedUpAt.IsZero() || v.FinalAt.IsZero() {
		t.Errorf("order view = %+v", v)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestQueryByTransNoWins(t *testing.T) {
	e := newEnv(t, nil)
	a := e.mustCreate(createFields("Q-A", "1.00"))
	e.mustCreate(createFields("Q-B", "2.00"))
	r := e.cl.do(codepay.MethodOrderQuery, map[string]string{"merchant_order_no": "Q-B", "trans_no": a["trans_no"].(string)})
	wantCode(t, r, "0")
	if got := r.data(t)["merchant_order_no"]; got != "Q-A" {
		t.Errorf("query by trans_no and merchant_order_no found %v, want Q-A (trans_no wins)", got)
	}
	for _, tc := range []struct {
		name   string
		fields map[string]string
		code   string
	}{
		{"neither", map[string]string{}, CodeInvalidParameter},
		{"unknown number", map[string]string{"merchant_order_no": "NOPE"}, CodeOrderNotFound},
		{"unknown trans_no", map[string]string{"trans_no": "5099"}, CodeOrderNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, e.cl.do(codepay.MethodOrderQuery, tc.fields), tc.code)
		})
	}
}

func TestDeclineAndScriptedOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		suffix   int
		amount   string
		script   *Outcome
		status   int
		errCode  string
		errMsg   string
		currency string
	}{
		{name: "x.51 declines", amount: "10.51", status: 1, errCode: "51", errMsg: "Insufficient funds"},
		{name: "x.50 approves", amount: "10.50", status: 2},
		{name: "JPY 151 declines", amount: "151", currency: "JPY", status: 1, errCode: "51"},
		{name: "rule disabled", suffix: -1, amount: "10.51", status: 2},
		{name: "custom suffix", suffix: 99, amount: "3.99", status: 1, errCode: "51"},
		{name: "script approves x.51", amount: "10.51", script: &Outcome{Status: codepay.StatusCompleted}, status: 2},
		{name: "script declines", amount: "5.00", script: &Outcome{Status: codepay.StatusFailed, ErrorCode: "54", ErrorMsg: "Expired card"}, status: 1, errCode: "54", errMsg: "Expired card"},
		{name: "script declines default code", amount: "5.00", script: &Outcome{Status: codepay.StatusFailed}, status: 1, errCode: "05", errMsg: "Do not honor"},
		{name: "script cancelled on terminal", amount: "5.00", script: &Outcome{Status: codepay.StatusCancelled}, status: 3},
		{name: "invalid script ignored", amount: "5.00", script: &Outcome{Status: codepay.StatusProcessing}, status: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.DeclineMinorSuffix = tc.suffix })
			if tc.script != nil {
				e.sim.ScriptOutcome("D-1", *tc.script)
			}
			f := createFields("D-1", tc.amount)
			if tc.currency != "" {
				f["price_currency"] = tc.currency
			}
			e.mustCreate(f)
			e.clock.Advance(2 * time.Second)
			d := e.query("D-1")
			if d["trans_status"] != json.Number(itoa(tc.status)) {
				t.Fatalf("trans_status = %v, want %d", d["trans_status"], tc.status)
			}
			if tc.errCode != "" && d["trans_error_code"] != tc.errCode {
				t.Errorf("trans_error_code = %v, want %s", d["trans_error_code"], tc.errCode)
			}
			if tc.errMsg != "" && d["trans_error_msg"] != tc.errMsg {
				t.Errorf("trans_error_msg = %v, want %s", d["trans_error_msg"], tc.errMsg)
			}
			if tc.status != 2 {
				if _, ok := d["paid_amount"]; ok {
					t.Errorf("paid_amount present on a non-approved order")
				}
				if _, ok := d["auth_no"]; ok {
					t.Errorf("auth_no present on a non-approved order")
				}
			}
		})
	}
}

func TestOfflineTerminal(t *testing.T) {
	e := newEnv(t, nil)
	f := with(createFields("OFF-1", "5.00"), "terminal_sn", snOffline)
	created := e.mustCreate(f)
	if created["terminal_online_status"] != "offline" {
		t.Errorf("terminal_online_status = %v, want offline", created["terminal_online_status"])
	}
	e.clock.Advance(30 * time.Second)
	if got := e.status("OFF-1"); got != 9 {
		t.Fatalf("offline order status after 30s = %d, want 9", got)
	}
	r := e.cl.do(codepay.MethodPayClose, map[string]string{
		"terminal_sn": snOffline, "merchant_order_no": "OFF-1", "message_receiving_application": "CodePay Register",
	})
	wantCode(t, r, "0")
	if r.data(t)["trans_no"] != created["trans_no"] {
		t.Errorf("close data = %v", r.data(t))
	}
	if got := e.status("OFF-1"); got != 3 {
		t.Fatalf("closed order status = %d, want 3", got)
	}

	e.mustCreate(with(createFields("OFF-2", "6.00"), "terminal_sn", snOffline))
	e.clock.Advance(time.Minute)
	if err := e.sim.SetOnline(snOffline, true); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(DefaultPickupDelay - time.Millisecond)
	if got := e.status("OFF-2"); got != 9 {
		t.Fatalf("status just before pickup = %d, want 9 (timer starts when the terminal comes online)", got)
	}
	e.clock.Advance(time.Millisecond)
	if got := e.status("OFF-2"); got != 0 {
		t.Fatalf("status at pickup = %d, want 0", got)
	}
	e.clock.Advance(DefaultProcessDelay)
	if got := e.status("OFF-2"); got != 2 {
		t.Fatalf("status after processing = %d, want 2", got)
	}

	if err := e.sim.SetOnline("NOPE", true); err == nil {
		t.Error("SetOnline of an unknown terminal succeeded")
	}
}

func TestOfflineRejectAndGoingOffline(t *testing.T) {
	e := newEnv(t, nil)
	r := e.create(with(createFields("REJ-1", "5.00"), "terminal_sn", snOffline, "reject_trade_when_terminal_offline", "true"))
	wantCode(t, r, CodeTerminalOffline)
	if _, ok := e.sim.Order("REJ-1"); ok {
		t.Fatal("refused order exists")
	}
	// Going offline before the pickup stops the timer; it restarts online.
	e.mustCreate(createFields("GO-1", "5.00"))
	e.clock.Advance(400 * time.Millisecond)
	if err := e.sim.SetOnline(snOnline, false); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if got := e.status("GO-1"); got != 9 {
		t.Fatalf("status while offline = %d, want 9", got)
	}
	e.sim.AddTerminal(TerminalConfig{SN: snOnline, Online: true})
	e.clock.Advance(DefaultPickupDelay)
	if got := e.status("GO-1"); got != 0 {
		t.Fatalf("status after coming back online = %d, want 0", got)
	}
}

func TestCloseRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCreate(createFields("C-1", "5.00"))
	closeReq := func(sn, no string) *envelope {
		return e.cl.do(codepay.MethodPayClose, map[string]string{
			"terminal_sn": sn, "merchant_order_no": no, "message_receiving_application": "CodePay Register",
		})
	}
	e.clock.Advance(DefaultPickupDelay)
	wantCode(t, closeReq(snOnline, "C-1"), CodeNotClosable) // status 0
	e.clock.Advance(DefaultProcessDelay)
	wantCode(t, closeReq(snOnline, "C-1"), CodeNotClosable) // status 2
	if got := e.status("C-1"); got != 2 {
		t.Fatalf("refused close changed status to %d", got)
	}
	wantCode(t, closeReq(snOnline, "NOPE"), CodeOrderNotFound)
	wantCode(t, closeReq(snOffline, "C-1"), CodeOrderNotFound)
	wantCode(t, closeReq("UNKNOWN01", "C-1"), CodeUnknownTerminal)
}

func TestExpiry(t *testing.T) {
	t.Run("offline order expires", func(t *testing.T) {
		e := newEnv(t, nil)
		e.mustCreate(with(createFields("EXP-1", "5.00"), "terminal_sn", snOffline, "expires", "60"))
		e.clock.Advance(59 * time.Second)
		if got := e.status("EXP-1"); got != 9 {
			t.Fatalf("status before expiry = %d", got)
		}
		e.clock.Advance(time.Second)
		d := e.query("EXP-1")
		if d["trans_status"] != json.Number("1") || d["trans_error_code"] != "ORDER_EXPIRED" {
			t.Fatalf("expired order = %v", d)
		}
		if _, ok := d["card_no"]; ok {
			t.Errorf("expired order reports card details")
		}
		// Coming online later does not revive it.
		_ = e.sim.SetOnline(snOffline, true)
		e.clock.Advance(time.Minute)
		if got := e.status("EXP-1"); got != 1 {
			t.Fatalf("expired order status = %d, want 1", got)
		}
	})
	t.Run("expires while on the terminal", func(t *testing.T) {
		e := newEnv(t, nil)
		e.mustCreate(with(createFields("EXP-2", "5.00"), "expires", "1"))
		e.clock.Advance(10 * time.Second) // lazily evaluated in time order
		v, _ := e.sim.Order("EXP-2")
		if v.Status != codepay.StatusFailed || v.ErrorCode != "ORDER_EXPIRED" {
			t.Fatalf("order = %+v, want expired", v)
		}
		if want := simtest.Start.Add(time.Second); !v.FinalAt.Equal(want) {
			t.Errorf("final at %v, want %v (the expiry instant)", v.FinalAt, want)
		}
	})
}

func TestTerminalQueue(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCreate(createFields("QA", "1.00"))
	e.clock.Advance(100 * time.Millisecond)
	e.mustCreate(createFields("QB", "2.00"))
	e.clock.Advance(DefaultPickupDelay) // QA picked at 500ms
	if a, b := e.status("QA"), e.status("QB"); a != 0 || b != 9 {
		t.Fatalf("statuses = %d,%d, want 0,9 (one order at a time)", a, b)
	}
	// QA final at 2.0s; QB picked 500ms later, final at 4.0s. Jump past
	// everything at once: the lazy evaluation must replay in time order.
	e.clock.Advance(10 * time.Second)
	va, _ := e.sim.Order("QA")
	vb, _ := e.sim.Order("QB")
	start := simtest.Start
	if !va.FinalAt.Equal(start.Add(2 * time.Second)) {
		t.Errorf("QA final at +%v, want +2s", va.FinalAt.Sub(start))
	}
	if !vb.PickedUpAt.Equal(start.Add(2500*time.Millisecond)) || !vb.FinalAt.Equal(start.Add(4*time.Second)) {
		t.Errorf("QB picked +%v final +%v, want +2.5s and +4s", vb.PickedUpAt.Sub(start), vb.FinalAt.Sub(start))
	}
}

func TestCustomDelays(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PickupDelay = 2 * time.Second; c.ProcessDelay = 3 * time.Second })
	e.mustCreate(createFields("DL-1", "1.00"))
	e.clock.Advance(1999 * time.Millisecond)
	if got := e.status("DL-1"); got != 9 {
		t.Fatalf("status = %d, want 9", got)
	}
	e.clock.Advance(time.Millisecond + 3*time.Second)
	if got := e.status("DL-1"); got != 2 {
		t.Fatalf("status = %d, want 2", got)
	}
}
