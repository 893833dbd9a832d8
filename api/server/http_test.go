package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/server"
)

const (
	limitsToken = "tok-0123456789abcdef"
	// closeBound is how long a test waits for the server to close a
	// connection: far above the short timeouts under test.
	closeBound = 10 * time.Second
)

// limitsServer serves Handler through NewHTTPServer with the timeouts to on a
// real loopback listener, with the Bindo hook enabled and a WebSocket API
// that answers every call with its method name.
func limitsServer(t *testing.T, to server.Timeouts) string {
	t.Helper()
	rs, err := rpc.NewServer(rpc.Config{
		Handler: rpc.HandlerFunc(func(_ context.Context, _ *rpc.Conn, method string, _ json.RawMessage) (any, error) {
			return method, nil
		}),
		Tokens: func() []string { return []string{limitsToken} },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewHTTPServer(server.Handler(server.Config{RPC: rs, BindoWebhookSecret: []byte("hook-secret-0123"), Logger: slog.New(slog.DiscardHandler)}), to, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rs.Shutdown(ctx)
		srv.Close()
	})
	return ln.Addr().String()
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosed reads r (buffered from c) until the server closes c, and fails
// the test if that takes longer than closeBound.
func waitClosed(t *testing.T, c net.Conn, r io.Reader, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(closeBound))
	if _, err := io.Copy(io.Discard, r); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: the server kept the connection open for %s", what, closeBound)
	}
}

func TestNewHTTPServerDefaults(t *testing.T) {
	s := server.NewHTTPServer(http.NotFoundHandler(), server.Timeouts{}, nil)
	if s.ReadHeaderTimeout != server.DefaultReadHeaderTimeout || s.ReadTimeout != server.DefaultReadTimeout ||
		s.WriteTimeout != server.DefaultWriteTimeout || s.IdleTimeout != server.DefaultIdleTimeout || s.MaxHeaderBytes != server.MaxHeaderBytes {
		t.Errorf("NewHTTPServer(zero Timeouts) = header %s, read %s, write %s, idle %s, max header %d; want the defaults",
			s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes)
	}
	s = server.NewHTTPServer(http.NotFoundHandler(), server.Timeouts{Read: time.Second}, nil)
	if s.ReadHeaderTimeout != time.Second {
		t.Errorf("ReadHeaderTimeout = %s with a 1s ReadTimeout, want 1s (never longer than the whole request)", s.ReadHeaderTimeout)
	}
}

// An idle keep-alive connection is closed after IdleTimeout (the read timeout
// is long, so it is the idle timeout that closes it).
func TestIdleKeepAliveClosed(t *testing.T) {
	const idle = 200 * time.Millisecond
	addr := limitsServer(t, server.Timeouts{Read: time.Minute, Idle: idle})
	c := dialRaw(t, addr)
	br := bufio.NewReader(c)
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close || string(body) != "ok\n" {
		t.Fatalf("GET /healthz = %d %q (close %v), want 200 ok on a kept-alive connection", resp.StatusCode, body, resp.Close)
	}
	answered := time.Now()
	waitClosed(t, c, br, "idle keep-alive connection")
	// The server starts the idle clock just before this side reads the
	// answer, so only a close well before the timeout is wrong.
	if d := time.Since(answered); d < idle/2 {
		t.Fatalf("closed %s after the answer, long before the idle timeout %s", d, idle)
	}
}

// A body that trickles in, one byte at a time, slower than ReadTimeout
// allows for the whole request is cut off with 408, on the unauthenticated
// hook, and nothing reaches the handler behind it.
func TestSlowBodyCutOff(t *testing.T) {
	addr := limitsServer(t, server.Timeouts{Read: 300 * time.Millisecond, Idle: time.Minute})
	c := dialRaw(t, addr)
	const length = 1000
	fmt.Fprintf(c, "POST /hooks/bindo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-SIGNATURE: 00\r\nContent-Length: %d\r\n\r\n", length)
	var sent atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// One byte every 50 ms: each read succeeds, the whole body would
		// take 50 s.
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("{")); err != nil {
					return
				}
				sent.Add(1)
			}
		}
	}()
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(closeBound))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a trickling body within %s: %v", closeBound, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("trickling body → HTTP %d, want 408", resp.StatusCode)
	}
	if n := sent.Load(); n >= length {
		t.Fatalf("the whole body (%d bytes) was sent before the cut-off", n)
	}
	waitClosed(t, c, br, "connection of a cut-off request")
}

// A WebSocket outlives the listener's ReadTimeout: the upgrade clears the
// HTTP deadlines and the connection keeps answering.
func TestWebSocketOutlivesReadTimeout(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	addr := limitsServer(t, server.Timeouts{Read: readTimeout, Idle: readTimeout})
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/v1/ws", http.Header{"Authorization": {"Bearer " + limitsToken}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	// The server itself tells when ReadTimeout has passed: a request opened
	// after the WebSocket that never finishes its headers is closed then.
	for i := range 2 {
		clock := dialRaw(t, addr)
		fmt.Fprint(clock, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
		waitClosed(t, clock, clock, "unfinished request")

		if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": i, "method": "still.there"}); err != nil {
			t.Fatalf("write after the read timeout: %v", err)
		}
		ws.SetReadDeadline(time.Now().Add(closeBound))
		var resp struct {
			ID     int    `json:"id"`
			Result string `json:"result"`
		}
		if err := ws.ReadJSON(&resp); err != nil || resp.ID != i || resp.Result != "still.there" {
			t.Fatalf("answer after the read timeout = %+v, %v; want the result of call %d", resp, err, i)
		}
	}
}

func TestRequestSizeLimits(t *testing.T) {
	addr := limitsServer(t, server.Timeouts{})
	// A body over MaxBodyBytes on a hook: 413 before any signature check.
	resp, err := http.Post("http://"+addr+"/hooks/bindo", "application/json", strings.NewReader(strings.Repeat("x", server.MaxBodyBytes+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("hook body of %d bytes → HTTP %d, want 413", server.MaxBodyBytes+1, resp.StatusCode)
	}
	// Headers over MaxHeaderBytes: 431.
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 2*server.MaxHeaderBytes))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("%d bytes of headers → HTTP %d, want 431", 2*server.MaxHeaderBytes, resp.StatusCode)
	}
	// A normal request still works.
	resp, err = http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz → HTTP %d, want 200", resp.StatusCode)
	}
}
