package rpc

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posbridge/posbridge/internal/netutil"
)

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

func TestAuth(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name         string
		header       http.Header
		subprotocols []string
		wantStatus   int
		wantProto    string
	}{
		{"no token", nil, nil, http.StatusUnauthorized, ""},
		{"wrong token", bearer("nope"), nil, http.StatusUnauthorized, ""},
		{"token prefix only", bearer(testToken[:4]), nil, http.StatusUnauthorized, ""},
		{"empty bearer", http.Header{"Authorization": {"Bearer "}}, nil, http.StatusUnauthorized, ""},
		{"basic scheme", http.Header{"Authorization": {"Basic " + testToken}}, nil, http.StatusUnauthorized, ""},
		{"bearer header", bearer(testToken), nil, http.StatusSwitchingProtocols, ""},
		{"bearer scheme any case", http.Header{"Authorization": {"bEaReR " + testToken}}, nil, http.StatusSwitchingProtocols, ""},
		{"subprotocol pair", nil, []string{Subprotocol, "bearer." + testToken}, http.StatusSwitchingProtocols, Subprotocol},
		{"subprotocol pair, token first", nil, []string{"bearer." + testToken, Subprotocol}, http.StatusSwitchingProtocols, Subprotocol},
		{"subprotocol wrong token", nil, []string{Subprotocol, "bearer.nope"}, http.StatusUnauthorized, ""},
		{"token subprotocol without posbridge.v1", nil, []string{"bearer." + testToken}, http.StatusUnauthorized, ""},
		{"posbridge.v1 without token", nil, []string{Subprotocol}, http.StatusUnauthorized, ""},
		{"header token, subprotocol offered", bearer(testToken), []string{Subprotocol}, http.StatusSwitchingProtocols, Subprotocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws, resp, err := e.dial(tc.header, tc.subprotocols...)
			if tc.wantStatus != http.StatusSwitchingProtocols {
				if err == nil {
					ws.Close()
					t.Fatalf("dial succeeded, want %d", tc.wantStatus)
				}
				if resp == nil || resp.StatusCode != tc.wantStatus {
					t.Fatalf("dial status = %v, want %d", statusOf(resp), tc.wantStatus)
				}
				if body := readBody(t, resp); body != "unauthorized: missing or invalid token\n" {
					t.Errorf("401 body = %q, want one line", body)
				}
				if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v (status %v)", err, statusOf(resp))
			}
			defer ws.Close()
			if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != tc.wantProto {
				t.Errorf("response subprotocol = %q, want %q", got, tc.wantProto)
			}
			if strings.Contains(resp.Header.Get("Sec-WebSocket-Protocol"), testToken) {
				t.Error("the token was echoed")
			}
			cl := startClient(t, ws)
			if got := cl.call(`{"jsonrpc":"2.0","id":1,"method":"echo"}`); got != `{"jsonrpc":"2.0","id":1,"result":null}` {
				t.Errorf("call = %s", got)
			}
		})
	}
}

func TestTokenRotation(t *testing.T) {
	var current atomic.Value
	current.Store([]string{"old-token"})
	e := newEnv(t, func(c *Config) {
		c.Tokens = func() []string { return current.Load().([]string) }
	})
	dialStatus := func(tok string) int {
		ws, resp, err := e.dial(bearer(tok))
		if err == nil {
			ws.Close()
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode
	}
	if got := dialStatus("old-token"); got != http.StatusSwitchingProtocols {
		t.Fatalf("old token before rotation: %d", got)
	}
	current.Store([]string{"", "  new-token  ", "second"})
	for _, tc := range []struct {
		tok  string
		want int
	}{
		{"old-token", http.StatusUnauthorized},
		{"new-token", http.StatusSwitchingProtocols},
		{"second", http.StatusSwitchingProtocols},
	} {
		if got := dialStatus(tc.tok); got != tc.want {
			t.Errorf("dial with %q after rotation = %d, want %d", tc.tok, got, tc.want)
		}
	}
	current.Store([]string{})
	if got := dialStatus("new-token"); got != http.StatusUnauthorized {
		t.Errorf("dial with no valid tokens = %d, want 401", got)
	}
}

func TestCheckToken(t *testing.T) {
	s, err := NewServer(Config{Handler: HandlerFunc(nil), Tokens: func() []string { return []string{"", "abc", "def"} }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		header http.Header
		want   bool
	}{
		{"none", nil, false},
		{"bearer", http.Header{"Authorization": {"Bearer abc"}}, true},
		{"second token", http.Header{"Authorization": {"Bearer def"}}, true},
		{"extra spaces", http.Header{"Authorization": {"  Bearer   abc "}}, true},
		{"empty token does not match blank entry", http.Header{"Authorization": {"Bearer"}}, false},
		{"longer token", http.Header{"Authorization": {"Bearer abcd"}}, false},
		{"subprotocols", http.Header{"Sec-Websocket-Protocol": {"posbridge.v1, bearer.def"}}, true},
		{"subprotocols without spaces", http.Header{"Sec-Websocket-Protocol": {"bearer.abc,posbridge.v1"}}, true},
		{"subprotocol token alone", http.Header{"Sec-Websocket-Protocol": {"bearer.abc"}}, false},
		{"wrong header, right subprotocol", http.Header{"Authorization": {"Bearer x"}, "Sec-Websocket-Protocol": {"posbridge.v1, bearer.abc"}}, true},
		{"query string ignored", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8765/v1/ws?token=abc", nil)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			if got := s.CheckToken(r); got != tc.want {
				t.Errorf("CheckToken(%v) = %v, want %v", tc.header, got, tc.want)
			}
		})
	}
}

func TestGuardWebSocket(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.AllowedOrigins = []string{"http://localhost:3000", "https://pos.example/"}
		c.AllowedHosts = []string{"posbridge.lan"}
	})
	local := "127.0.0.1:" + e.port
	tests := []struct {
		name   string
		host   string
		origin string
		token  bool
		want   int
	}{
		{"no origin (native client)", "", "", true, 101},
		{"DNS rebinding host", "evil.example:" + e.port, "", true, 403},
		{"DNS rebinding host and origin", "evil.example:" + e.port, "http://evil.example:" + e.port, true, 403},
		{"rebinding host refused before the token", "evil.example:" + e.port, "", false, 403},
		{"foreign origin", "", "https://evil.example", true, 403},
		{"foreign origin refused before the token", "", "https://evil.example", false, 403},
		{"null origin", "", "null", true, 403},
		{"allowed origin", "", "http://localhost:3000", true, 101},
		{"allowed origin, case differs", "", "HTTP://LOCALHOST:3000", true, 101},
		{"allowed origin configured with trailing slash", "", "https://pos.example", true, 101},
		{"allowed origin with other port", "", "http://localhost:3001", true, 403},
		{"same loopback origin (console)", "", "http://" + local, true, 101},
		{"localhost host and origin", "localhost:" + e.port, "http://localhost:" + e.port, true, 101},
		{"loopback origin not matching host", "localhost:" + e.port, "http://" + local, true, 403},
		{"loopback origin, other port", "", "http://127.0.0.1:1", true, 403},
		{"loopback origin with path", "", "http://" + local + "/x", true, 403},
		{"https loopback origin on http listener", "", "https://" + local, true, 403},
		{"other loopback address", "127.9.8.7:" + e.port, "", true, 101},
		{"IPv6 loopback", "[::1]:" + e.port, "", true, 101},
		{"allowed extra host", "posbridge.lan:" + e.port, "", true, 101},
		{"private address host", "192.168.1.10:" + e.port, "", true, 403},
		{"unspecified address host", "0.0.0.0:" + e.port, "", true, 403},
		{"loopback-looking name", "127.0.0.1.nip.io:" + e.port, "", true, 403},
		{"non-numeric port", "127.0.0.1:abc", "", true, 403},
		{"port with trailing letter", "localhost:" + e.port + "x", "", true, 403},
		{"empty port", "localhost:", "", true, 403},
		{"empty IPv6 port", "[::1]:", "", true, 403},
		{"empty port refused before the token", "localhost:", "", false, 403},
		{"localhost subdomain of attacker", "localhost.evil.example:" + e.port, "", true, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.token {
				h = bearer(testToken)
			}
			if tc.host != "" {
				h.Set("Host", tc.host)
			}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			ws, resp, err := e.dial(h)
			if err == nil {
				ws.Close()
			}
			if got := statusOf(resp); got != tc.want {
				t.Fatalf("dial Host %q Origin %q = %v (%v), want %d", tc.host, tc.origin, got, err, tc.want)
			}
			if tc.want == 403 {
				body := readBody(t, resp)
				if !strings.HasPrefix(body, "forbidden: ") || strings.Count(body, "\n") != 1 {
					t.Errorf("403 body = %q, want one line", body)
				}
			}
		})
	}
}

func TestGuardHTTP(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowedOrigins = []string{"http://localhost:3000"} })
	tests := []struct {
		name   string
		host   string
		origin string
		want   int
	}{
		{"loopback", "", "", 200},
		{"localhost without port", "localhost", "", 200},
		{"rebinding host", "attacker.example:" + e.port, "", 403},
		{"foreign origin", "", "http://attacker.example", 403},
		{"allowed origin", "", "http://localhost:3000", 200},
		{"console origin", "", "http://127.0.0.1:" + e.port, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, e.ts.URL+"/healthz", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := readBody(t, resp)
			if resp.StatusCode != tc.want {
				t.Fatalf("GET /healthz Host %q Origin %q = %d %q, want %d", tc.host, tc.origin, resp.StatusCode, body, tc.want)
			}
			if tc.want == 200 && body != "ok\n" {
				t.Errorf("body = %q, want the wrapped handler's", body)
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestGuardWithoutListenerAddress(t *testing.T) {
	s, err := NewServer(Config{Handler: HandlerFunc(nil), Tokens: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tests := []struct {
		host, origin string
		want         int
	}{
		{"localhost:8765", "http://localhost:8765", 200},
		{"localhost:8765", "http://localhost:8766", 403},
		{"[::1]:8765", "http://[::1]:8765", 200},
		{"localhost", "http://localhost", 200},
		{"", "", 403},
	}
	for _, tc := range tests {
		t.Run(tc.host+" "+tc.origin, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host = tc.host
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("Host %q Origin %q = %d, want %d", tc.host, tc.origin, w.Code, tc.want)
			}
		})
	}
}

func TestHostAllowed(t *testing.T) {
	s, err := NewServer(Config{Handler: HandlerFunc(nil), Tokens: func() []string { return nil },
		AllowedHosts: []string{"till.local", "pos.lan:9000"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST:80", true},
		{"127.0.0.1:8765", true},
		{"127.255.255.254", true},
		{"[::1]:1", true},
		{"[::1]", true},
		{"[::ffff:127.0.0.1]:8765", true},
		{"till.local:1234", true},
		{"TILL.LOCAL", true},
		{"pos.lan:9000", true},
		{"pos.lan:9001", false},
		{"pos.lan", false},
		{"", false},
		{":8765", false},
		{"0.0.0.0:8765", false},
		{"10.0.0.1", false},
		{"[::2]:8765", false},
		{"evil.example", false},
		{"localhost.evil.example", false},
		{"127.0.0.1.evil.example", false},
		{"127.1", false},
		// The port, when present, must be a number.
		{"localhost:0", true},
		{"localhost:65535", true},
		{"127.0.0.1:abc", false},
		{"localhost:80x", false},
		{"localhost:x80", false},
		{"localhost:", false},
		{"[::1]:", false},
		{"[::1]:abc", false},
		{"localhost:+80", false},
		{"localhost:-1", false},
		{"localhost: 80", false},
		{"localhost:65536", false},
		{"localhost:123456", false},
		{"localhost:8765:8765", false},
		{"till.local:abc", false},
		{"till.local:", false},
		// Malformed brackets or an IPv6 address without them.
		{"::1", false},
		{"[::1", false},
		{"::1]", false},
		{"[::1]x", false},
		{"[[::1]]", false},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			if got := s.hostAllowed(tc.host); got != tc.want {
				t.Errorf("hostAllowed(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}

func TestNewServer(t *testing.T) {
	h := HandlerFunc(func(context.Context, *Conn, string, json.RawMessage) (any, error) { return nil, nil })
	tokens := func() []string { return nil }
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"minimal", Config{Handler: h, Tokens: tokens}, ""},
		{"no handler", Config{Tokens: tokens}, "handler"},
		{"no tokens", Config{Handler: h}, "tokens"},
		{"negative limit", Config{Handler: h, Tokens: tokens, ReadLimit: -1}, "negative"},
		{"negative queue", Config{Handler: h, Tokens: tokens, SendQueue: -1}, "negative"},
		{"ping not shorter than pong wait", Config{Handler: h, Tokens: tokens, PingInterval: time.Minute}, "shorter"},
		{"origin without scheme", Config{Handler: h, Tokens: tokens, AllowedOrigins: []string{"localhost:3000"}}, "allowed origin"},
		{"origin with path", Config{Handler: h, Tokens: tokens, AllowedOrigins: []string{"http://localhost:3000/app"}}, "allowed origin"},
		{"origin with trailing slash", Config{Handler: h, Tokens: tokens, AllowedOrigins: []string{"http://localhost:3000/"}}, ""},
		{"host with path", Config{Handler: h, Tokens: tokens, AllowedHosts: []string{"a.lan/x"}}, "allowed host"},
		{"empty host", Config{Handler: h, Tokens: tokens, AllowedHosts: []string{""}}, "allowed host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewServer(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewServer = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "new rpc server: ") {
				t.Fatalf("NewServer = %v, %v; want error about %q", s, err, tc.wantErr)
			}
		})
	}

	s, err := NewServer(Config{Handler: h, Tokens: tokens, Logger: slog.Default()})
	if err != nil {
		t.Fatal(err)
	}
	got := s.cfg
	if got.ReadLimit != 64<<10 || got.PingInterval != 25*time.Second || got.PongWait != 60*time.Second ||
		got.WriteWait != 10*time.Second || got.SendQueue != 256 {
		t.Errorf("defaults = %+v", got)
	}
	if s.upgrader.HandshakeTimeout != 10*time.Second || s.upgrader.EnableCompression {
		t.Errorf("upgrader = %+v", s.upgrader)
	}
	if n := s.Conns(); n != 0 {
		t.Errorf("Conns() = %d", n)
	}
}

func FuzzGuard(f *testing.F) {
	for _, s := range [][2]string{
		{"127.0.0.1:8765", ""}, {"localhost:8765", "http://localhost:8765"}, {"[::1]:8765", "http://[::1]:8765"},
		{"evil.example:8765", "http://evil.example:8765"}, {"[", "http://["}, {"::1", "null"}, {"localhost:80x", ""}, {"[::1]:", ""}, {"", "%zz"},
		{"127.0.0.1:8765", "http://user@127.0.0.1:8765"}, {"[::ffff:127.0.0.1]:1", "http://127.0.0.1:1/?"},
	} {
		f.Add(s[0], s[1])
	}
	s, err := NewServer(Config{Handler: HandlerFunc(nil), Tokens: func() []string { return nil },
		AllowedOrigins: []string{"http://localhost:3000"}})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	f.Fuzz(func(t *testing.T, host, origin string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = host
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			return
		}
		name, port, ok := splitHostPort(host)
		if !ok || !netutil.IsLoopbackHost(name) {
			t.Fatalf("Host %q admitted but not loopback", host)
		}
		if _, err := strconv.ParseUint(port, 10, 16); port != "" && err != nil {
			t.Fatalf("Host %q admitted with port %q", host, port)
		}
		if origin != "" && !strings.EqualFold(origin, "http://localhost:3000") && !strings.EqualFold(origin, "http://"+host) {
			t.Fatalf("Origin %q admitted for Host %q", origin, host)
		}
	})
}
