package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// waitTimeout only detects a hung test; nothing synchronises on it.
const waitTimeout = 10 * time.Second

const testToken = "tok-3f9a1c"

// baseKey is a context key the "basevalue" method looks up.
type baseKey struct{}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is a real Server behind a real httptest server with a test handler.
type testEnv struct {
	srv   *Server
	ts    *httptest.Server
	wsURL string
	host  string // 127.0.0.1:PORT
	port  string
	logs  *syncBuffer

	conns     chan *Conn  // each "hello" call's connection
	entered   chan string // "block" calls that started, by key
	cancelled chan string // "block" calls whose ctx ended, by key

	gatesMu sync.Mutex
	gates   map[string]chan struct{}

	inflight    atomic.Int32
	maxInflight atomic.Int32
}

func newEnv(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{
		logs:      &syncBuffer{},
		conns:     make(chan *Conn, 64),
		entered:   make(chan string, 64),
		cancelled: make(chan string, 64),
		gates:     make(map[string]chan struct{}),
	}
	cfg := Config{
		Handler: HandlerFunc(e.handle),
		Tokens:  func() []string { return []string{testToken} },
		Logger:  slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	e.srv = srv
	mux := http.NewServeMux()
	mux.Handle("/v1/ws", srv)
	mux.Handle("/healthz", srv.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})))
	e.ts = httptest.NewServer(mux)
	t.Cleanup(e.ts.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	e.host = strings.TrimPrefix(e.ts.URL, "http://")
	e.port = e.host[strings.LastIndexByte(e.host, ':')+1:]
	e.wsURL = "ws://" + e.host + "/v1/ws"
	return e
}

func (e *testEnv) gate(key string) chan struct{} {
	e.gatesMu.Lock()
	defer e.gatesMu.Unlock()
	g, ok := e.gates[key]
	if !ok {
		g = make(chan struct{})
		e.gates[key] = g
	}
	return g
}

func (e *testEnv) release(key string) { close(e.gate(key)) }

// handle is the test Handler.
func (e *testEnv) handle(ctx context.Context, c *Conn, method string, params json.RawMessage) (any, error) {
	switch method {
	case "echo":
		if params == nil {
			return nil, nil
		}
		return params, nil
	case "hello":
		e.conns <- c
		return map[string]uint64{"conn": c.ID()}, nil
	case "block":
		var p struct{ Key string }
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, InvalidParams("key", "key is required")
		}
		n := e.inflight.Add(1)
		defer e.inflight.Add(-1)
		for {
			m := e.maxInflight.Load()
			if n <= m || e.maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		e.entered <- p.Key
		select {
		case <-e.gate(p.Key):
			return map[string]string{"released": p.Key}, nil
		case <-ctx.Done():
			e.cancelled <- p.Key
			return nil, ctx.Err()
		}
	case "stuck": // ignores its context
		var p struct{ Key string }
		_ = json.Unmarshal(params, &p)
		e.entered <- p.Key
		<-e.gate(p.Key)
		return nil, nil
	case "notify":
		if err := c.Notify("test.event", params); err != nil {
			return nil, err
		}
		return "ok", nil
	case "after": // notifies test.after once its answer is queued
		return AfterReply(ctx, func() { _ = c.Notify("test.after", params) }), nil
	case "basevalue": // the value the http.Server's base context carries
		v, _ := ctx.Value(baseKey{}).(string)
		return v, nil
	case "fail":
		return nil, errors.New("open journal: secret-detail")
	case "invalid":
		return nil, InvalidParams("amount", "amount must be a decimal string")
	case "wrapped":
		return nil, fmt.Errorf("create payment: %w", &Error{Code: 1001, Message: "terminal busy", Data: map[string]string{"terminal_sn": "T1"}})
	case "panic":
		panic("boom 4111111111111111")
	case "badresult":
		return func() {}, nil
	case "baddata":
		return nil, &Error{Code: -32000, Message: "bad data", Data: func() {}}
	default:
		return nil, MethodNotFound(method)
	}
}

func (e *testEnv) waitConn(t *testing.T) *Conn {
	t.Helper()
	select {
	case c := <-e.conns:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no hello call arrived")
		return nil
	}
}

func (e *testEnv) waitEntered(t *testing.T) string {
	t.Helper()
	select {
	case k := <-e.entered:
		return k
	case <-time.After(waitTimeout):
		t.Fatal("no block call entered")
		return ""
	}
}

func waitDone(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(waitTimeout):
		t.Fatal("connection did not end")
	}
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// dial opens a raw client connection.
func (e *testEnv) dial(h http.Header, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: waitTimeout, Subprotocols: subprotocols}
	return d.Dial(e.wsURL, h)
}

// client is a test WebSocket client whose reader runs in the background, so
// that pings are answered.
type client struct {
	t    *testing.T
	ws   *websocket.Conn
	msgs chan []byte
	err  chan error
}

func (e *testEnv) connect(t *testing.T) *client {
	t.Helper()
	ws, resp, err := e.dial(bearer(testToken))
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, statusOf(resp))
	}
	return startClient(t, ws)
}

func startClient(t *testing.T, ws *websocket.Conn) *client {
	cl := &client{t: t, ws: ws, msgs: make(chan []byte, 4096), err: make(chan error, 1)}
	t.Cleanup(func() { _ = ws.Close() })
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				cl.err <- err
				close(cl.msgs)
				return
			}
			cl.msgs <- data
		}
	}()
	return cl
}

func statusOf(resp *http.Response) any {
	if resp == nil {
		return nil
	}
	return resp.StatusCode
}

func (cl *client) send(msg string) {
	cl.t.Helper()
	if err := cl.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		cl.t.Fatalf("write: %v", err)
	}
}

func (cl *client) recv() string {
	cl.t.Helper()
	select {
	case m, ok := <-cl.msgs:
		if !ok {
			cl.t.Fatalf("connection ended: %v", <-cl.err)
		}
		return string(m)
	case <-time.After(waitTimeout):
		cl.t.Fatal("no message received")
		return ""
	}
}

// call sends msg and returns the next message.
func (cl *client) call(msg string) string {
	cl.t.Helper()
	cl.send(msg)
	return cl.recv()
}

// closed waits for the connection to end and returns the read error.
func (cl *client) closed() error {
	cl.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case _, ok := <-cl.msgs:
			if !ok {
				return <-cl.err
			}
		case <-deadline:
			cl.t.Fatal("connection did not end")
			return nil
		}
	}
}

// hello makes a "hello" call and returns the server side of the connection.
func (cl *client) hello(e *testEnv) *Conn {
	cl.t.Helper()
	got := cl.call(`{"jsonrpc":"2.0","id":"hello","method":"hello"}`)
	if !strings.Contains(got, `"id":"hello","result"`) {
		cl.t.Fatalf("hello = %s", got)
	}
	return e.waitConn(cl.t)
}

// response is a decoded JSON-RPC answer.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

func parseResponse(t *testing.T, s string) response {
	t.Helper()
	var r response
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("response %q: %v", s, err)
	}
	if r.JSONRPC != "2.0" {
		t.Fatalf("response %s: jsonrpc = %q, want 2.0", s, r.JSONRPC)
	}
	return r
}
