package wsapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/server"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/store"
)

const token = "test-token-0123456789abcdef"

type wsEnv struct {
	*agenttest.Env
	url string
}

func newWSEnv(t *testing.T) *wsEnv { return newWSEnvOpts(t, agenttest.Opts{}) }

func newWSEnvOpts(t *testing.T, o agenttest.Opts) *wsEnv {
	t.Helper()
	e := agenttest.New(t, o)
	rs, err := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{token} }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.Handler(server.Config{Agent: e.Agent, RPC: rs}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rs.Shutdown(ctx)
		srv.Close()
	})
	return &wsEnv{Env: e, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"}
}

type client struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan map[string]json.RawMessage
	id   int

	mu   sync.Mutex
	raw  [][]byte      // every message received, as received
	news chan struct{} // signalled (at most one pending) when raw grows
}

// received returns every message received so far.
func (c *client) received() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.raw...)
}

// waitForMore returns when a message arrives or after d.
func (c *client) waitForMore(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.news:
	case <-t.C:
	}
}

func (e *wsEnv) dial(t *testing.T) *client {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(e.url, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &client{t: t, conn: conn, msgs: make(chan map[string]json.RawMessage, 1000), news: make(chan struct{}, 1)}
	go func() {
		defer close(c.msgs)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.raw = append(c.raw, data)
			c.mu.Unlock()
			select {
			case c.news <- struct{}{}:
			default:
			}
			var m map[string]json.RawMessage
			if json.Unmarshal(data, &m) == nil {
				c.msgs <- m
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return c
}

// call sends a request and returns its response, collecting notifications on the way.
func (c *client) call(method string, params any) (result, errObj json.RawMessage, notes []map[string]json.RawMessage) {
	c.t.Helper()
	c.id++
	req := map[string]any{"jsonrpc": "2.0", "id": c.id, "method": method}
	if params != nil {
		req["params"] = params
	}
	if err := c.conn.WriteJSON(req); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return c.await(c.id)
}

func (c *client) await(id int) (result, errObj json.RawMessage, notes []map[string]json.RawMessage) {
	c.t.Helper()
	want, _ := json.Marshal(id)
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("connection closed while waiting for response %d", id)
			}
			if _, isNote := m["method"]; isNote {
				notes = append(notes, m)
				continue
			}
			if string(m["id"]) == string(want) || (id < 0 && string(m["id"]) == "null") {
				return m["result"], m["error"], notes
			}
		case <-timeout:
			c.t.Fatalf("no response to request %d", id)
		}
	}
}

type rpcErr struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    struct {
		Field string `json:"field"`
	} `json:"data"`
}

func decodeErr(t *testing.T, raw json.RawMessage) rpcErr {
	t.Helper()
	var e rpcErr
	if len(raw) == 0 || json.Unmarshal(raw, &e) != nil {
		t.Fatalf("want an error object, got %s", raw)
	}
	return e
}

// paymentStates waits for payment.updated notifications of orderNo until a final state.
func (c *client) paymentStates(seen []map[string]json.RawMessage, orderNo string) []string {
	c.t.Helper()
	var states []string
	add := func(m map[string]json.RawMessage) bool {
		var method string
		json.Unmarshal(m["method"], &method)
		if method != "payment.updated" {
			return false
		}
		var p struct {
			No    string `json:"merchant_order_no"`
			State string `json:"state"`
		}
		json.Unmarshal(m["params"], &p)
		if p.No != orderNo {
			return false
		}
		if len(states) == 0 || states[len(states)-1] != p.State {
			states = append(states, p.State)
		}
		switch p.State {
		case "approved", "declined", "cancelled", "expired", "failed":
			return true
		}
		return false
	}
	for _, m := range seen {
		if add(m) {
			return states
		}
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("closed; states so far %v", states)
			}
			if add(m) {
				return states
			}
		case <-timeout:
			c.t.Fatalf("no final state; states so far %v", states)
		}
	}
}

func TestWebSocketSale(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	res, errObj, notes := c.call("payment.create", map[string]any{
		"merchant_order_no": "WS1", "type": "sale", "lane": "1", "amount": "12.34", "currency": "USD",
	})
	if errObj != nil {
		t.Fatalf("payment.create error %s", errObj)
	}
	var p struct{ State, Amount, TerminalSN string }
	json.Unmarshal(res, &p)
	if p.Amount != "12.34" {
		t.Fatalf("result = %s", res)
	}
	states := c.paymentStates(notes, "WS1")
	want := []string{"queued", "sending", "on_terminal", "approved"}
	if !reflect.DeepEqual(states, want) {
		t.Fatalf("payment.updated states = %v, want %v", states, want)
	}
	// Resubmission returns the same payment; the emulator saw one create.
	res, errObj, _ = c.call("payment.create", map[string]any{
		"merchant_order_no": "WS1", "type": "sale", "lane": "1", "amount": "12.34", "currency": "USD",
	})
	if errObj != nil || !strings.Contains(string(res), `"state":"approved"`) {
		t.Fatalf("resubmit = %s, %s", res, errObj)
	}
	if n := e.Sim.Count(codepay.MethodPayOrder, "WS1"); n != 1 {
		t.Fatalf("emulator saw %d creates, want 1", n)
	}
	res, errObj, _ = c.call("terminal.list", nil)
	if errObj != nil || !strings.Contains(string(res), agenttest.TermA) {
		t.Fatalf("terminal.list = %s, %s", res, errObj)
	}
	res, errObj, _ = c.call("payment.list", map[string]any{"state": "approved"})
	if errObj != nil || !strings.Contains(string(res), `"WS1"`) {
		t.Fatalf("payment.list = %s, %s", res, errObj)
	}
	res, errObj, _ = c.call("payment.wait", map[string]any{"merchant_order_no": "WS1", "timeout_ms": 10})
	if errObj != nil || !strings.Contains(string(res), `"approved"`) {
		t.Fatalf("payment.wait = %s, %s", res, errObj)
	}
}

func TestWebSocketBadInput(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	// Invalid JSON: -32700, and the connection stays usable.
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,`)); err != nil {
		t.Fatal(err)
	}
	_, errObj, _ := c.await(-1)
	if e := decodeErr(t, errObj); e.Code != -32700 {
		t.Fatalf("invalid JSON → %d, want -32700", e.Code)
	}
	_, errObj, _ = c.call("no.such.method", nil)
	if e := decodeErr(t, errObj); e.Code != -32601 {
		t.Fatalf("unknown method → %d, want -32601", e.Code)
	}
	base := func() map[string]any {
		return map[string]any{"merchant_order_no": "BAD1", "type": "sale", "terminal_sn": agenttest.TermA, "amount": "1.00", "currency": "USD"}
	}
	tests := []struct {
		name  string
		edit  func(map[string]any)
		field string
	}{
		{"amount as number", func(m map[string]any) { m["amount"] = 1.00 }, "amount"},
		{"too many decimals", func(m map[string]any) { m["amount"] = "1.001" }, "amount"},
		{"negative", func(m map[string]any) { m["amount"] = "-1.00" }, "amount"},
		{"zero", func(m map[string]any) { m["amount"] = "0" }, "amount"},
		{"missing amount", func(m map[string]any) { delete(m, "amount") }, "amount"},
		{"order no too long", func(m map[string]any) { m["merchant_order_no"] = strings.Repeat("A", 33) }, "merchant_order_no"},
		{"order no chars", func(m map[string]any) { m["merchant_order_no"] = "A#1" }, "merchant_order_no"},
		{"unknown terminal", func(m map[string]any) { m["terminal_sn"] = "NOPE" }, "terminal_sn"},
		{"unknown lane", func(m map[string]any) { delete(m, "terminal_sn"); m["lane"] = "42" }, "lane"},
		{"refund without original", func(m map[string]any) { m["type"] = "refund" }, "orig_merchant_order_no"},
		{"unknown field", func(m map[string]any) { m["amout"] = "1.00" }, "amout"},
		{"lane as number", func(m map[string]any) { delete(m, "terminal_sn"); m["lane"] = 1 }, "lane"},
		{"bad option", func(m map[string]any) { m["options"] = map[string]any{"route": "moon"} }, "options.route"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := base()
			tc.edit(params)
			_, errObj, _ := c.call("payment.create", params)
			e := decodeErr(t, errObj)
			if e.Code != -32602 || e.Data.Field != tc.field {
				t.Fatalf("error = %+v, want -32602 with field %s", e, tc.field)
			}
		})
	}
	for _, m := range []string{"payment.list", "batch.list"} {
		_, errObj, _ = c.call(m, map[string]any{"limit": 0})
		if e := decodeErr(t, errObj); e.Code != -32602 || e.Data.Field != "limit" {
			t.Fatalf("%s limit 0 → %+v", m, e)
		}
	}
	_, errObj, _ = c.call("payment.list", map[string]any{"state": "paid"})
	if e := decodeErr(t, errObj); e.Code != -32602 || e.Data.Field != "state" {
		t.Fatalf("unknown state → %+v", e)
	}
	_, errObj, _ = c.call("payment.create", []any{1, 2})
	if e := decodeErr(t, errObj); e.Code != -32602 {
		t.Fatalf("positional params → %d, want -32602", e.Code)
	}
	list, err := e.DB.ListPayments(context.Background(), store.ListFilter{})
	if err != nil || len(list) != 0 {
		t.Fatalf("bad input wrote %d payments (%v)", len(list), err)
	}
	// Reuse with different parameters leaves the original untouched.
	c.call("payment.create", base())
	changed := base()
	changed["amount"] = "2.00"
	_, errObj, _ = c.call("payment.create", changed)
	if e := decodeErr(t, errObj); e.Code != wsapi.CodeOrderNoReused {
		t.Fatalf("reuse → %+v, want %d", e, wsapi.CodeOrderNoReused)
	}
	res, _, _ := c.call("payment.get", map[string]any{"merchant_order_no": "BAD1"})
	if !strings.Contains(string(res), `"amount":"1.00"`) {
		t.Fatalf("original changed: %s", res)
	}
	_, errObj, _ = c.call("payment.get", map[string]any{"merchant_order_no": "NOPE"})
	if e := decodeErr(t, errObj); e.Code != wsapi.CodeNotFound {
		t.Fatalf("get unknown → %+v", e)
	}
	_, errObj, _ = c.call("batch.close", map[string]any{"terminal_sn": "NOPE"})
	if e := decodeErr(t, errObj); e.Code != -32602 || e.Data.Field != "terminal_sn" {
		t.Fatalf("batch.close of unknown terminal → %+v", e)
	}
}

func TestWebSocketCancelOfflineAndSubscribe(t *testing.T) {
	e := newWSEnv(t)
	cashier := e.dial(t)
	watcher := e.dial(t)
	if res, errObj, _ := watcher.call("events.subscribe", map[string]any{"topics": []string{"payment", "terminal"}}); errObj != nil || !strings.Contains(string(res), "payment") {
		t.Fatalf("subscribe = %s, %s", res, errObj)
	}
	_, errObj, _ := cashier.call("payment.create", map[string]any{
		"merchant_order_no": "OFFWS", "type": "sale", "terminal_sn": agenttest.TermOff, "amount": "3.00", "currency": "USD",
	})
	if errObj != nil {
		t.Fatalf("create: %s", errObj)
	}
	e.WaitState("OFFWS", "on_terminal")
	res, errObj, notes := cashier.call("payment.cancel", map[string]any{"merchant_order_no": "OFFWS"})
	if errObj != nil || !strings.Contains(string(res), `"cancelled"`) {
		t.Fatalf("cancel = %s, %s", res, errObj)
	}
	if n := e.Sim.Count(codepay.MethodPayClose, "OFFWS"); n != 1 {
		t.Fatalf("emulator saw %d closes, want 1", n)
	}
	if s := cashier.paymentStates(notes, "OFFWS"); s[len(s)-1] != "cancelled" {
		t.Fatalf("cashier states %v", s)
	}
	if s := watcher.paymentStates(nil, "OFFWS"); s[len(s)-1] != "cancelled" {
		t.Fatalf("subscriber states %v", s)
	}
	_, errObj, _ = cashier.call("payment.cancel", map[string]any{"merchant_order_no": "OFFWS"})
	if e := decodeErr(t, errObj); e.Code != wsapi.CodeNotCancellable {
		t.Fatalf("second cancel → %+v", e)
	}
}
