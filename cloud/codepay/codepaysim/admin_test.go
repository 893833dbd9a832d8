package codepaysim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
)

func (e *env) admin(method, path, body string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestAdminAPI(t *testing.T) {
	e := newEnv(t, nil)
	e.mustCreate(with(createFields("AD-1", "12.30"), "terminal_sn", snOffline))
	e.query("AD-1")

	t.Run("requests", func(t *testing.T) {
		tests := []struct {
			query string
			want  int
		}{
			{"", 2},
			{"?method=" + codepay.MethodPayOrder, 1},
			{"?merchant_order_no=AD-1", 2},
			{"?method=order.query&merchant_order_no=AD-1", 1},
			{"?merchant_order_no=NONE", 0},
		}
		for _, tc := range tests {
			status, b := e.admin("GET", "/sim/requests"+tc.query, "")
			var list []map[string]any
			if err := json.Unmarshal(b, &list); err != nil || status != 200 {
				t.Fatalf("GET /sim/requests%s = %d %s", tc.query, status, b)
			}
			if len(list) != tc.want {
				t.Errorf("GET /sim/requests%s: %d entries, want %d", tc.query, len(list), tc.want)
			}
		}
		_, b := e.admin("GET", "/sim/requests?method="+codepay.MethodPayOrder, "")
		var list []Request
		_ = json.Unmarshal(b, &list)
		if list[0].Params["order_amount"] != "12.30" || list[0].Code != "0" || list[0].MerchantOrderNo != "AD-1" {
			t.Errorf("request entry = %+v", list[0])
		}
	})

	t.Run("orders", func(t *testing.T) {
		status, b := e.admin("GET", "/sim/orders/AD-1", "")
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil || status != 200 {
			t.Fatalf("GET order = %d %s", status, b)
		}
		if v["order_amount"] != "12.30" || v["trans_status"] != float64(9) || v["terminal_sn"] != snOffline || v["price_currency"] != "USD" {
			t.Errorf("order JSON = %s", b)
		}
		if status, _ := e.admin("GET", "/sim/orders/NOPE", ""); status != 404 {
			t.Errorf("unknown order = %d, want 404", status)
		}
		status, b = e.admin("GET", "/sim/orders", "")
		var list []map[string]any
		if err := json.Unmarshal(b, &list); err != nil || status != 200 {
			t.Fatalf("GET /sim/orders = %d %s", status, b)
		}
		if len(list) != 1 || list[0]["merchant_order_no"] != "AD-1" || list[0]["order_amount"] != "12.30" {
			t.Errorf("order list JSON = %s", b)
		}
	})

	t.Run("outcome", func(t *testing.T) {
		status, b := e.admin("POST", "/sim/orders/AD-1/outcome", `{"status":1,"error_code":"62","error_msg":"Restricted card"}`)
		if status != 200 {
			t.Fatalf("POST outcome = %d %s", status, b)
		}
		for _, bad := range []string{`{"status":0}`, `{}`, `{"status":2,"extra":1}`, `nope`, `{"pay_scenario":"CASH"}`} {
			if status, _ := e.admin("POST", "/sim/orders/AD-1/outcome", bad); status != 400 {
				t.Errorf("POST outcome %s = %d, want 400", bad, status)
			}
		}
		// A wallet payment is scripted before the order exists, not after.
		if status, _ := e.admin("POST", "/sim/orders/AD-1/outcome", `{"pay_scenario":"BSCANQR_PAY"}`); status != 409 {
			t.Errorf("pay_scenario for an existing order = %d, want 409", status)
		}
		if status, b := e.admin("POST", "/sim/orders/AD-QR/outcome", `{"pay_scenario":"BSCANQR_PAY"}`); status != 200 {
			t.Fatalf("POST pay_scenario = %d %s", status, b)
		}
		e.mustCreate(createFields("AD-QR", "5.00"))
		if v, _ := e.sim.Order("AD-QR"); v.PayScenario != codepay.ScenarioBScanQR {
			t.Errorf("scripted wallet sale has pay_scenario %q", v.PayScenario)
		}
	})

	t.Run("terminals", func(t *testing.T) {
		status, b := e.admin("POST", "/sim/terminals/"+snOffline, `{"online":true}`)
		if status != 200 {
			t.Fatalf("POST terminal = %d %s", status, b)
		}
		e.clock.Advance(2 * time.Second)
		v, _ := e.sim.Order("AD-1")
		if v.Status != codepay.StatusFailed || v.ErrorCode != "62" || v.ErrorMsg != "Restricted card" {
			t.Fatalf("order after online + scripted decline = %+v", v)
		}
		if status, _ := e.admin("POST", "/sim/orders/AD-1/outcome", `{"status":2}`); status != 409 {
			t.Errorf("outcome for a final order = %d, want 409", status)
		}
		_, b = e.admin("GET", "/sim/terminals", "")
		if !strings.Contains(string(b), `{"sn":"DEMO000002","online":true}`) {
			t.Errorf("terminals = %s", b)
		}
		if status, _ := e.admin("POST", "/sim/terminals/NOPE", `{"online":true}`); status != 404 {
			t.Errorf("unknown terminal = %d, want 404", status)
		}
		if status, _ := e.admin("POST", "/sim/terminals/"+snOffline, `{}`); status != 400 {
			t.Errorf("missing online = %d, want 400", status)
		}
	})

	t.Run("faults", func(t *testing.T) {
		status, b := e.admin("POST", "/sim/faults", `{"method":"order.query","kind":"http500","count":1}`)
		if status != 200 {
			t.Fatalf("POST fault = %d %s", status, b)
		}
		p := e.cl.params(codepay.MethodOrderQuery, map[string]string{"merchant_order_no": "AD-1"})
		resp, _, err := e.cl.postRaw(e.cl.signedBody(p), "application/json", nil)
		if err != nil || resp.StatusCode != 500 {
			t.Fatalf("faulted query: %v %v", resp, err)
		}
		e.query("AD-1") // fault used up
		status, _ = e.admin("POST", "/sim/faults", `{"kind":"slow","delay_ms":10}`)
		if status != 200 {
			t.Fatalf("POST slow fault = %d", status)
		}
		e.query("AD-1")
		// A fault for many requests, then cleared: the next request is answered.
		if status, _ := e.admin("POST", "/sim/faults", `{"kind":"http500","count":100}`); status != 200 {
			t.Fatalf("POST fault = %d", status)
		}
		if status, b := e.admin("DELETE", "/sim/faults", ""); status != 200 {
			t.Fatalf("DELETE faults = %d %s", status, b)
		}
		e.query("AD-1")
		for _, bad := range []string{`{"kind":"explode"}`, `{"kind":"slow","delay_ms":-1}`, `{"kind":"slow","count":-2}`, `[]`} {
			if status, _ := e.admin("POST", "/sim/faults", bad); status != 400 {
				t.Errorf("POST fault %s = %d, want 400", bad, status)
			}
		}
	})

	t.Run("batches", func(t *testing.T) {
		e.approve(with(createFields("AD-2", "3.00"), "terminal_sn", snOffline))
		status, b := e.admin("GET", "/sim/batches/"+snOffline, "")
		var rep struct {
			TerminalSN string `json:"terminal_sn"`
			Open       struct {
				BatchNo     int    `json:"batch_no"`
				Count       int    `json:"count"`
				TotalAmount string `json:"total_amount"`
			} `json:"open"`
			OpenOrders []string          `json:"open_orders"`
			Closed     []json.RawMessage `json:"closed"`
		}
		if err := json.Unmarshal(b, &rep); err != nil || status != 200 {
			t.Fatalf("GET batch = %d %s", status, b)
		}
		if rep.Open.Count != 1 || rep.Open.TotalAmount != "3.00" || rep.Open.BatchNo != 1 || len(rep.OpenOrders) != 1 || rep.Closed == nil {
			t.Errorf("batch = %s", b)
		}
		if status, _ := e.admin("GET", "/sim/batches/NOPE", ""); status != 404 {
			t.Errorf("unknown terminal batch = %d, want 404", status)
		}
	})

	if status, b := e.admin("GET", "/sim/", ""); status != 200 || !strings.Contains(string(b), "/sim/faults") {
		t.Errorf("GET /sim/ = %d %s", status, b)
	}
	if status, _ := e.admin("GET", "/sim/nothing", ""); status != 404 {
		t.Errorf("unknown admin path = %d, want 404", status)
	}
}

func TestNewConfig(t *testing.T) {
	keys := loadTestKeys(t)
	base := func() Config {
		return Config{AppID: testAppID, MerchantNo: testMerchant, AppPublicKey: keys.appPub, GatewayKey: keys.gwPriv}
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"minimal", func(*Config) {}, true},
		{"basic auth only", func(c *Config) {
			c.AppPublicKey = nil
			c.BasicAuth = &struct{ Username, Password string }{"u", "p"}
		}, true},
		{"no app_id", func(c *Config) { c.AppID = "" }, false},
		{"long app_id", func(c *Config) { c.AppID = strings.Repeat("a", 33) }, false},
		{"no merchant", func(c *Config) { c.MerchantNo = "" }, false},
		{"long store", func(c *Config) { c.StoreNo = strings.Repeat("4", 33) }, false},
		{"no gateway key", func(c *Config) { c.GatewayKey = nil }, false},
		{"no way to authenticate", func(c *Config) { c.AppPublicKey = nil }, false},
		{"negative delay", func(c *Config) { c.PickupDelay = -time.Second }, false},
		{"empty SN", func(c *Config) { c.Terminals = []TerminalConfig{{SN: ""}} }, false},
		{"duplicate SN", func(c *Config) { c.Terminals = []TerminalConfig{{SN: "A"}, {SN: "A"}} }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mutate(&cfg)
			s, err := New(cfg)
			if tc.ok != (err == nil) {
				t.Fatalf("New = %v, %v; want ok=%v", s, err, tc.ok)
			}
		})
	}
	s, err := New(base())
	if err != nil {
		t.Fatal(err)
	}
	s.AddTerminal(TerminalConfig{SN: "NEW0001", Online: true})
	if ts := s.Terminals(); len(ts) != 1 || ts[0] != (TerminalConfig{SN: "NEW0001", Online: true}) {
		t.Errorf("Terminals = %+v", ts)
	}
}
