package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestRoundTrip(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	tests := []struct {
		name, in, want string
	}{
		{"number id, object params",
			`{"jsonrpc":"2.0","id":1,"method":"echo","params":{"amount":"12.34","currency":"USD"}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"amount":"12.34","currency":"USD"}}`},
		{"string id with HTML characters",
			`{"jsonrpc":"2.0","id":"a<b&c>","method":"echo","params":["x"]}`,
			`{"jsonrpc":"2.0","id":"a<b&c>","result":["x"]}`},
		{"escaped string id echoed as sent",
			`{"jsonrpc":"2.0","id":"\u00e9","method":"echo","params":[]}`,
			`{"jsonrpc":"2.0","id":"\u00e9","result":[]}`},
		{"exponent id echoed as sent",
			`{"jsonrpc":"2.0","id":1.5e3,"method":"echo","params":[1]}`,
			`{"jsonrpc":"2.0","id":1.5e3,"result":[1]}`},
		{"null id",
			`{"jsonrpc":"2.0","id":null,"method":"echo","params":{}}`,
			`{"jsonrpc":"2.0","id":null,"result":{}}`},
		{"no params gives null result",
			`{"jsonrpc":"2.0","id":7,"method":"echo"}`,
			`{"jsonrpc":"2.0","id":7,"result":null}`},
		{"members in any order",
			`{"params":[2],"method":"echo","id":"z","jsonrpc":"2.0"}`,
			`{"jsonrpc":"2.0","id":"z","result":[2]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cl.call(tc.in); got != tc.want {
				t.Errorf("call(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// TestErrorAnswers runs every case on one connection, which therefore also
// shows that no error (parse errors included) ends the connection.
func TestErrorAnswers(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	tests := []struct {
		name    string
		in      string
		id      string
		code    int
		message string // substring of the message
		data    string // exact data, if any
	}{
		{"parse error", `{"jsonrpc":"2.0","id":1,`, "null", -32700, "parse error", ""},
		{"invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xfe\"}", "null", -32700, "UTF-8", ""},
		{"not an object", `42`, "null", -32600, "object", ""},
		{"empty batch", `[]`, "null", -32600, "empty batch", ""},
		{"wrong version", `{"jsonrpc":"1.0","id":3,"method":"echo"}`, "3", -32600, "jsonrpc", ""},
		{"params scalar", `{"jsonrpc":"2.0","id":"p","method":"echo","params":"x"}`, `"p"`, -32600, "params", ""},
		{"unknown method", `{"jsonrpc":"2.0","id":4,"method":"payment.nope"}`, "4", -32601, "payment.nope", ""},
		{"invalid params", `{"jsonrpc":"2.0","id":5,"method":"invalid","params":{}}`, "5", -32602, "decimal", `{"field":"amount"}`},
		{"application error, wrapped", `{"jsonrpc":"2.0","id":6,"method":"wrapped"}`, "6", 1001, "terminal busy", `{"terminal_sn":"T1"}`},
		{"plain error hidden", `{"jsonrpc":"2.0","id":7,"method":"fail"}`, "7", -32603, "internal error", ""},
		{"panic recovered", `{"jsonrpc":"2.0","id":8,"method":"panic"}`, "8", -32603, "internal error", ""},
		{"unencodable result", `{"jsonrpc":"2.0","id":9,"method":"badresult"}`, "9", -32603, "internal error", ""},
		{"unencodable error data", `{"jsonrpc":"2.0","id":10,"method":"baddata"}`, "10", -32603, "internal error", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cl.call(tc.in)
			r := parseResponse(t, got)
			if r.Error == nil || r.Result != nil {
				t.Fatalf("call(%q) = %s, want an error", tc.in, got)
			}
			if string(r.ID) != tc.id || r.Error.Code != tc.code || !strings.Contains(r.Error.Message, tc.message) {
				t.Errorf("call(%q) = %s, want id %s code %d message ~%q", tc.in, got, tc.id, tc.code, tc.message)
			}
			if string(r.Error.Data) != tc.data {
				t.Errorf("call(%q) data = %s, want %s", tc.in, r.Error.Data, tc.data)
			}
			if strings.Contains(got, "secret-detail") || strings.Contains(got, "4111") {
				t.Errorf("answer %s leaks the error detail", got)
			}
		})
	}
	if got := cl.call(`{"jsonrpc":"2.0","id":"after","method":"echo","params":[true]}`); got != `{"jsonrpc":"2.0","id":"after","result":[true]}` {
		t.Errorf("call after errors = %s", got)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "secret-detail") {
		t.Error("the handler's error detail was not logged")
	}
	if !strings.Contains(logs, "rpc handler panicked") {
		t.Error("the panic was not logged")
	}
}

func TestParseErrorKeepsConnectionUsable(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	for _, garbage := range []string{`not json`, `{"jsonrpc"`, `}`} {
		if got, want := cl.call(garbage), `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error: invalid JSON"}}`; got != want {
			t.Errorf("call(%q) = %s, want %s", garbage, got, want)
		}
		if got, want := cl.call(`{"jsonrpc":"2.0","id":2,"method":"echo","params":[1]}`), `{"jsonrpc":"2.0","id":2,"result":[1]}`; got != want {
			t.Errorf("call after %q = %s, want %s", garbage, got, want)
		}
	}
}

func TestBinaryMessageRejected(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	if err := cl.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"echo"}`)); err != nil {
		t.Fatal(err)
	}
	r := parseResponse(t, cl.recv())
	if r.Error == nil || r.Error.Code != -32600 || string(r.ID) != "null" {
		t.Errorf("binary message answered %+v, want -32600 with id null", r)
	}
	if got := cl.call(`{"jsonrpc":"2.0","id":2,"method":"echo"}`); got != `{"jsonrpc":"2.0","id":2,"result":null}` {
		t.Errorf("call after binary message = %s", got)
	}
}

func TestBatch(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)

	t.Run("mixed", func(t *testing.T) {
		got := cl.call(`[
			{"jsonrpc":"2.0","id":1,"method":"echo","params":["one"]},
			{"jsonrpc":"2.0","method":"echo","params":["notification"]},
			1,
			{"jsonrpc":"2.0","id":"x","method":"nope"},
			{"jsonrpc":"1.0","id":9,"method":"echo"},
			{"jsonrpc":"2.0","id":2,"method":"invalid"}
		]`)
		var rs []json.RawMessage
		if err := json.Unmarshal([]byte(got), &rs); err != nil {
			t.Fatalf("batch answer %s is not an array: %v", got, err)
		}
		type idCode struct {
			id     string
			code   int
			result string
		}
		want := []idCode{{"1", 0, `["one"]`}, {"null", -32600, ""}, {`"x"`, -32601, ""}, {"9", -32600, ""}, {"2", -32602, ""}}
		if len(rs) != len(want) {
			t.Fatalf("batch answer has %d members, want %d: %s", len(rs), len(want), got)
		}
		for i, w := range want {
			r := parseResponse(t, string(rs[i]))
			code := 0
			if r.Error != nil {
				code = r.Error.Code
			}
			if string(r.ID) != w.id || code != w.code || string(r.Result) != w.result {
				t.Errorf("member %d = %s, want id %s code %d result %s", i, rs[i], w.id, w.code, w.result)
			}
		}
	})

	t.Run("empty batch answered by one object", func(t *testing.T) {
		got := cl.call(`[]`)
		if !strings.HasPrefix(got, "{") || parseResponse(t, got).Error.Code != -32600 {
			t.Errorf("call([]) = %s, want one -32600 object", got)
		}
	})

	t.Run("notifications only: executed, not answered", func(t *testing.T) {
		cl.send(`[{"jsonrpc":"2.0","method":"notify","params":{"n":1}},{"jsonrpc":"2.0","method":"notify","params":{"n":2}}]`)
		var events []string
		for range 2 {
			r := parseResponse(t, cl.recv())
			if r.Method != "test.event" {
				t.Fatalf("got %+v, want a test.event notification", r)
			}
			events = append(events, string(r.Params))
		}
		sort.Strings(events)
		if events[0] != `{"n":1}` || events[1] != `{"n":2}` {
			t.Errorf("events = %v", events)
		}
		if got := cl.call(`{"jsonrpc":"2.0","id":99,"method":"echo"}`); got != `{"jsonrpc":"2.0","id":99,"result":null}` {
			t.Errorf("next message = %s, want the answer to id 99", got)
		}
	})
}

func TestClientNotificationNotAnswered(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	cl.send(`{"jsonrpc":"2.0","method":"notify","params":{"n":1}}`)
	if got, want := cl.recv(), `{"jsonrpc":"2.0","method":"test.event","params":{"n":1}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// A failing notification is not answered either.
	cl.send(`{"jsonrpc":"2.0","method":"fail"}`)
	if got, want := cl.call(`{"jsonrpc":"2.0","id":5,"method":"echo"}`), `{"jsonrpc":"2.0","id":5,"result":null}`; got != want {
		t.Errorf("next message = %s, want %s", got, want)
	}
}

func TestConcurrentCallsCompleteOutOfOrder(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	cl.send(`{"jsonrpc":"2.0","id":1,"method":"block","params":{"key":"slow"}}`)
	if k := e.waitEntered(t); k != "slow" {
		t.Fatalf("entered %q", k)
	}
	if got, want := cl.call(`{"jsonrpc":"2.0","id":2,"method":"echo","params":["fast"]}`), `{"jsonrpc":"2.0","id":2,"result":["fast"]}`; got != want {
		t.Fatalf("while id 1 blocks, got %s, want %s", got, want)
	}
	e.release("slow")
	if got, want := cl.recv(), `{"jsonrpc":"2.0","id":1,"result":{"released":"slow"}}`; got != want {
		t.Errorf("after release got %s, want %s", got, want)
	}
}

func TestInFlightLimit(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	keys := make([]string, maxInFlight)
	for i := range keys {
		keys[i] = "k" + string(rune('a'+i))
		cl.send(`{"jsonrpc":"2.0","id":"` + keys[i] + `","method":"block","params":{"key":"` + keys[i] + `"}}`)
	}
	for range keys {
		e.waitEntered(t)
	}
	// All slots are taken: this call must wait for one to free.
	cl.send(`{"jsonrpc":"2.0","id":"late","method":"echo"}`)
	e.release(keys[0])
	if got := parseResponse(t, cl.recv()); string(got.ID) != `"ka"` {
		t.Fatalf("first answer id %s, want \"ka\" (the released call)", got.ID)
	}
	if got := parseResponse(t, cl.recv()); string(got.ID) != `"late"` {
		t.Fatalf("second answer id %s, want \"late\", which waited for a free slot", got.ID)
	}
	for _, k := range keys[1:] {
		e.release(k)
	}
	for range keys[1:] {
		cl.recv()
	}
	if m := e.maxInflight.Load(); m != maxInFlight {
		t.Errorf("max calls in flight = %d, want %d", m, maxInFlight)
	}
}

func TestNotify(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	c := cl.hello(e)

	if err := c.Notify("payment.updated", map[string]string{"merchant_order_no": "A1", "amount": "12.34"}); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if got, want := cl.recv(), `{"jsonrpc":"2.0","method":"payment.updated","params":{"amount":"12.34","merchant_order_no":"A1"}}`; got != want {
		t.Errorf("notification = %s, want %s", got, want)
	}
	if err := c.Notify("terminal.updated", nil); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if got, want := cl.recv(), `{"jsonrpc":"2.0","method":"terminal.updated"}`; got != want {
		t.Errorf("notification = %s, want %s", got, want)
	}
	if err := c.Notify("bad", make(chan int)); err == nil || errors.Is(err, ErrClosed) {
		t.Errorf("Notify(unencodable) = %v, want an encoding error", err)
	}
	if got := cl.call(`{"jsonrpc":"2.0","id":1,"method":"echo"}`); got != `{"jsonrpc":"2.0","id":1,"result":null}` {
		t.Errorf("call after a failed Notify = %s", got)
	}

	if c.ID() == 0 || !strings.HasPrefix(c.RemoteAddr(), "127.0.0.1:") {
		t.Errorf("ID() = %d, RemoteAddr() = %q", c.ID(), c.RemoteAddr())
	}
	other := e.connect(t).hello(e)
	if other.ID() == c.ID() {
		t.Errorf("two connections share ID %d", c.ID())
	}
	if n := e.srv.Conns(); n != 2 {
		t.Errorf("Conns() = %d, want 2", n)
	}

	_ = cl.ws.Close()
	waitDone(t, c)
	if err := c.Notify("payment.updated", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Notify after close = %v, want ErrClosed", err)
	}
	if n := e.srv.Conns(); n != 1 {
		t.Errorf("Conns() = %d, want 1", n)
	}
}

func TestClientDisconnectCancelsCalls(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	c := cl.hello(e)
	cl.send(`{"jsonrpc":"2.0","id":1,"method":"block","params":{"key":"w"}}`)
	e.waitEntered(t)
	_ = cl.ws.Close()
	select {
	case k := <-e.cancelled:
		if k != "w" {
			t.Errorf("cancelled %q, want w", k)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the call's context was not cancelled")
	}
	waitDone(t, c)
}

func TestSlowConsumerClosed(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.SendQueue = 4
		c.WriteWait = 200 * time.Millisecond
	})
	ws, _, err := e.dial(bearer(testToken))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	c := e.waitConn(t)
	// From here on the client reads nothing.

	payload := map[string]string{"pad": strings.Repeat("x", 32<<10)}
	result := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			if err := c.Notify("big", payload); err != nil {
				result <- err
				return
			}
			if i > 100000 {
				result <- errors.New("queue never filled")
				return
			}
		}
	}()
	select {
	case err := <-result:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Notify on a full queue = %v, want ErrClosed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Notify blocked")
	}
	waitDone(t, c)
	if err := c.Notify("big", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Notify after the policy close = %v, want ErrClosed", err)
	}
	if n := e.srv.Conns(); n != 0 {
		t.Errorf("Conns() = %d, want 0", n)
	}
	if !strings.Contains(e.logs.String(), "send queue full") {
		t.Error("the policy close was not logged")
	}
	// The server is unaffected.
	if got := e.connect(t).call(`{"jsonrpc":"2.0","id":1,"method":"echo"}`); got != `{"jsonrpc":"2.0","id":1,"result":null}` {
		t.Errorf("new connection answered %s", got)
	}
}

func TestReadLimit(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	c := cl.hello(e)

	// Exactly 64 KiB is accepted.
	req := `{"jsonrpc":"2.0","id":1,"method":"echo","params":[]}`
	if got := cl.call(req + strings.Repeat(" ", DefaultReadLimit-len(req))); got != `{"jsonrpc":"2.0","id":1,"result":[]}` {
		t.Fatalf("64 KiB message answered %s", got)
	}
	// 65 KiB closes the connection with 1009.
	big := `{"jsonrpc":"2.0","id":2,"method":"echo","params":["` + strings.Repeat("a", 65<<10) + `"]}`
	cl.send(big)
	err := cl.closed()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("client read error = %v, want close 1009", err)
	}
	_ = cl.ws.Close()
	waitDone(t, c)
	if n := e.srv.Conns(); n != 0 {
		t.Errorf("Conns() = %d, want 0", n)
	}
	// The server stays healthy.
	if got := e.connect(t).call(`{"jsonrpc":"2.0","id":3,"method":"echo","params":[3]}`); got != `{"jsonrpc":"2.0","id":3,"result":[3]}` {
		t.Errorf("new connection answered %s", got)
	}
}

func TestShutdown(t *testing.T) {
	e := newEnv(t, nil)
	cl1, cl2 := e.connect(t), e.connect(t)
	c1 := cl1.hello(e)
	cl2.hello(e)
	cl1.send(`{"jsonrpc":"2.0","id":1,"method":"block","params":{"key":"s"}}`)
	e.waitEntered(t)

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, cl := range []*client{cl1, cl2} {
		if err := cl.closed(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("client %d read error = %v, want close 1001", i+1, err)
		}
	}
	select {
	case <-c1.Done():
	default:
		t.Error("connection not done after Shutdown returned")
	}
	select {
	case k := <-e.cancelled:
		if k != "s" {
			t.Errorf("cancelled %q", k)
		}
	default:
		t.Error("the blocked call's context was not cancelled before Shutdown returned")
	}
	if n := e.srv.Conns(); n != 0 {
		t.Errorf("Conns() = %d after Shutdown, want 0", n)
	}
	_, resp, err := e.dial(bearer(testToken))
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Shutdown = %v, status %v; want 503", err, statusOf(resp))
	}
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// Ending the http.Server's base context, which its owner ties to the
// server's run, ends every connection as Shutdown does: close 1001 first, so
// the cancelled call answers nothing, then cancel the calls' contexts. The
// calls see the base context's values.
func TestBaseContextEndsConnections(t *testing.T) {
	e := newEnv(t, nil)
	base, stop := context.WithCancel(context.WithValue(context.Background(), baseKey{}, "from-base"))
	defer stop()
	ts := httptest.NewUnstartedServer(e.ts.Config.Handler)
	ts.Config.BaseContext = func(net.Listener) context.Context { return base }
	ts.Start()
	t.Cleanup(ts.Close)
	e.host = strings.TrimPrefix(ts.URL, "http://")
	e.wsURL = "ws://" + e.host + "/v1/ws"

	cl1, cl2 := e.connect(t), e.connect(t)
	c1 := cl1.hello(e)
	c2 := cl2.hello(e)
	if got := cl2.call(`{"jsonrpc":"2.0","id":2,"method":"basevalue"}`); got != `{"jsonrpc":"2.0","id":2,"result":"from-base"}` {
		t.Errorf("basevalue = %s, want the base context's value", got)
	}
	cl1.send(`{"jsonrpc":"2.0","id":1,"method":"block","params":{"key":"b"}}`)
	e.waitEntered(t)

	stop()
	waitDone(t, c1)
	waitDone(t, c2)
	select {
	case k := <-e.cancelled:
		if k != "b" {
			t.Errorf("cancelled %q", k)
		}
	case <-time.After(waitTimeout):
		t.Error("the blocked call's context was not cancelled")
	}
	for i, cl := range []*client{cl1, cl2} {
		for msg := range cl.msgs {
			t.Errorf("client %d got %s after the base context ended, want only the close", i+1, msg)
		}
		if err := <-cl.err; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("client %d read error = %v, want close 1001", i+1, err)
		}
	}
	if n := e.srv.Conns(); n != 0 {
		t.Errorf("Conns() = %d after the base context ended, want 0", n)
	}
	// The server itself was not shut down: a connection through the
	// other listener is served.
	e.host = strings.TrimPrefix(e.ts.URL, "http://")
	e.wsURL = "ws://" + e.host + "/v1/ws"
	if got := e.connect(t).call(`{"jsonrpc":"2.0","id":3,"method":"echo","params":[3]}`); got != `{"jsonrpc":"2.0","id":3,"result":[3]}` {
		t.Errorf("new connection answered %s", got)
	}
}

func TestShutdownBounded(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	cl.send(`{"jsonrpc":"2.0","id":1,"method":"stuck","params":{"key":"stuck"}}`)
	e.waitEntered(t)
	// The call ignores cancellation, so Shutdown gives up when ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a stuck call = %v, want context.DeadlineExceeded", err)
	}
	if err := cl.closed(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("client read error = %v, want close 1001 even with a stuck call", err)
	}
	e.release("stuck")
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after the call returned = %v", err)
	}
}

func TestPingsKeepIdleConnectionAlive(t *testing.T) {
	// Generous margins: the machine running the tests may be loaded.
	const interval, wait = 50 * time.Millisecond, 500 * time.Millisecond
	e := newEnv(t, func(c *Config) {
		c.PingInterval = interval
		c.PongWait = wait
	})
	ws, _, err := e.dial(bearer(testToken))
	if err != nil {
		t.Fatal(err)
	}
	pings := make(chan struct{}, 1000)
	ws.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	cl := startClient(t, ws)
	c := cl.hello(e)
	start := time.Now()
	// Stay idle for more than two PongWait periods, observed through the
	// pings received; the connection must survive on pongs alone.
	for n := 0; n < 10 || time.Since(start) < 5*wait/2; n++ {
		select {
		case <-pings:
		case <-c.Done():
			t.Fatalf("idle connection answering pings was closed after %d pings; logs:\n%s", n, e.logs.String())
		case <-time.After(waitTimeout):
			t.Fatalf("no ping received after %d", n)
		}
	}
	if got := cl.call(`{"jsonrpc":"2.0","id":1,"method":"echo"}`); got != `{"jsonrpc":"2.0","id":1,"result":null}` {
		t.Errorf("call after idling = %s", got)
	}
}

func TestSilentPeerDropped(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.PingInterval = 20 * time.Millisecond
		c.PongWait = 80 * time.Millisecond
	})
	ws, _, err := e.dial(bearer(testToken))
	if err != nil {
		t.Fatal(err)
	}
	ws.SetPingHandler(func(string) error { return nil }) // never pong
	cl := startClient(t, ws)
	c := cl.hello(e)
	waitDone(t, c)
	if err := cl.closed(); err == nil {
		t.Error("client saw no error")
	}
	if !strings.Contains(e.logs.String(), "unresponsive") {
		t.Error("the drop was not logged")
	}
}

func TestCallsLoggedWithoutParams(t *testing.T) {
	e := newEnv(t, nil)
	cl := e.connect(t)
	const pan = "4111111111111111"
	cl.call(`{"jsonrpc":"2.0","id":1,"method":"echo","params":{"card":{"track2":"` + pan + `=2512101"}}}`)
	cl.call(`{"jsonrpc":"2.0","id":2,"method":"invalid","params":{"pan":"` + pan + `"}}`)
	cl.call(`{"jsonrpc":"2.0","id":3,"method":"panic","params":{"pan":"` + pan + `"}}`)
	cl.call(`{"jsonrpc":"2.0","id":4,"method":"nope","params":["` + pan + `"]}`)
	cl.call(`{"jsonrpc":"2.0","id":5,"method":"echo","params":"` + pan + `"}`)
	logs := e.logs.String()
	if strings.Contains(logs, pan) {
		t.Errorf("logs contain card data:\n%s", logs)
	}
	for _, want := range []string{`"msg":"rpc call","component":"rpc","conn":1,"method":"echo"`, `"method":"invalid","notification":false,"duration":`, `"code":-32602`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// closedRecorder is the test Handler that also wants to know when a
// connection ended (ClosedHandler).
type closedRecorder struct {
	HandlerFunc
	closed chan *Conn
}

func (r closedRecorder) Closed(c *Conn) {
	select {
	case <-c.Done():
	default:
		panic("Closed before Done")
	}
	r.closed <- c
}

// TestClosedHandler: a ClosedHandler hears of each connection once, after
// it ended — no goroutine per connection needed to watch Done.
func TestClosedHandler(t *testing.T) {
	closed := make(chan *Conn, 4)
	var e *testEnv
	e = newEnv(t, func(cfg *Config) {
		cfg.Handler = closedRecorder{HandlerFunc: func(ctx context.Context, c *Conn, method string, params json.RawMessage) (any, error) {
			return e.handle(ctx, c, method, params)
		}, closed: closed}
	})
	cl := e.connect(t)
	cl.send(`{"jsonrpc":"2.0","id":1,"method":"hello"}`)
	cl.recv()
	c := e.waitConn(t)
	_ = cl.ws.Close()
	select {
	case got := <-closed:
		if got != c {
			t.Fatalf("Closed(%d), want connection %d", got.ID(), c.ID())
		}
	case <-time.After(waitTimeout):
		t.Fatal("Closed was not called after the client went away")
	}
	select {
	case got := <-closed:
		t.Fatalf("Closed called again for connection %d", got.ID())
	default:
	}
}
