package rpc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Subprotocol is the WebSocket subprotocol of the API. A browser, which cannot
// set an Authorization header, offers it together with TokenProtocolPrefix+TOKEN;
// the upgrade then answers with Subprotocol.
const Subprotocol = "posbridge.v1"

// TokenProtocolPrefix prefixes the token in the Sec-WebSocket-Protocol pair.
const TokenProtocolPrefix = "bearer."

// Defaults applied by NewServer to zero Config fields.
const (
	// DefaultReadLimit is the default Config.ReadLimit: 64 KiB.
	DefaultReadLimit = 64 << 10
	// DefaultPingInterval is the default Config.PingInterval.
	DefaultPingInterval = 25 * time.Second
	// DefaultPongWait is the default Config.PongWait.
	DefaultPongWait = 60 * time.Second
	// DefaultWriteWait is the default Config.WriteWait.
	DefaultWriteWait = 10 * time.Second
	// DefaultSendQueue is the default Config.SendQueue.
	DefaultSendQueue = 256
)

const (
	// componentKey is the log attribute naming the component; the rpc
	// server adds component=rpc to the logger it is given.
	componentKey = "component"
	// maxInFlight bounds the calls one connection runs at once; the next
	// message is read only when a slot frees.
	maxInFlight = 16
	// handshakeTimeout bounds the WebSocket upgrade.
	handshakeTimeout = 10 * time.Second
	// closeGrace is how long a closing connection waits for the peer.
	closeGrace = time.Second
)

// Handler answers one call. Returning an *Error (possibly wrapped) sends it
// as is; any other error becomes -32603 with a generic message, the detail
// being logged only. Calls from one connection run concurrently, at most 16
// at a time; ctx carries the values of the upgrade request's context, ends
// when the connection ends, the server shuts down or that request context
// ends (see Server.ServeHTTP), and carries the call for AfterReply. For a
// notification from the client the result is discarded.
type Handler interface {
	Call(ctx context.Context, c *Conn, method string, params json.RawMessage) (any, error)
}

// ClosedHandler is a Handler that wants to know when a connection has
// ended: Closed runs once per connection, after Done is closed, before its
// calls have finished (a call may still run; Done tells it the connection
// is gone).
type ClosedHandler interface {
	Handler
	Closed(c *Conn)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c *Conn, method string, params json.RawMessage) (any, error)

var (
	_ Handler      = HandlerFunc(nil)
	_ http.Handler = (*Server)(nil)
)

// Call calls f.
func (f HandlerFunc) Call(ctx context.Context, c *Conn, method string, params json.RawMessage) (any, error) {
	return f(ctx, c, method, params)
}

// Config configures a Server. Zero values take the defaults noted.
type Config struct {
	// Handler answers every call. Required.
	Handler Handler
	// Tokens returns the currently valid bearer tokens; it is called on every
	// authentication, so tokens can be rotated. Required. Blank entries are
	// ignored and surrounding spaces trimmed.
	Tokens func() []string
	// AllowedOrigins are the exact browser origins allowed besides the
	// server's own loopback origin, e.g. "http://localhost:3000".
	AllowedOrigins []string
	// AllowedHosts are extra Host header values beyond loopback (normally
	// empty): a bare name matches any port, "name:port" only that port.
	AllowedHosts []string
	// ReadLimit is the largest accepted message in bytes (default 64 KiB);
	// a bigger one closes the connection with 1009.
	ReadLimit int64
	// PingInterval is the time between pings (default 25s); it must be
	// shorter than PongWait.
	PingInterval time.Duration
	// PongWait is how long the peer may stay silent, pongs included
	// (default 60s).
	PongWait time.Duration
	// WriteWait bounds every write (default 10s).
	WriteWait time.Duration
	// SendQueue is the per-connection outbound buffer in messages (default
	// 256). A client that does not drain it is closed with 1008.
	SendQueue int
	// Logger receives the server's logs, with component=rpc added by
	// NewServer; nil discards them.
	Logger *slog.Logger
}

// Server serves JSON-RPC 2.0 over WebSocket (the /v1/ws endpoint) and guards
// the other local HTTP endpoints.
type Server struct {
	cfg            Config
	log            *slog.Logger
	upgrader       websocket.Upgrader
	allowedOrigins []string

	nextID atomic.Uint64

	mu       sync.Mutex
	conns    map[*Conn]struct{}
	shutdown bool
	// wg counts registered connections until their calls have returned.
	wg sync.WaitGroup
}

// NewServer validates cfg, applies defaults and returns a Server.
func NewServer(cfg Config) (*Server, error) {
	if err := applyDefaults(&cfg); err != nil {
		return nil, fmt.Errorf("new rpc server: %w", err)
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger.With(componentKey, "rpc"),
		conns: make(map[*Conn]struct{}),
	}
	for _, o := range cfg.AllowedOrigins {
		s.allowedOrigins = append(s.allowedOrigins, strings.TrimSuffix(o, "/"))
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout:  handshakeTimeout,
		Subprotocols:      []string{Subprotocol},
		CheckOrigin:       s.checkOrigin,
		EnableCompression: false,
	}
	return s, nil
}

func applyDefaults(cfg *Config) error {
	if cfg.Handler == nil {
		return errors.New("handler is required")
	}
	if cfg.Tokens == nil {
		return errors.New("tokens function is required")
	}
	if cfg.ReadLimit < 0 || cfg.PingInterval < 0 || cfg.PongWait < 0 || cfg.WriteWait < 0 || cfg.SendQueue < 0 {
		return errors.New("limits and durations must not be negative")
	}
	if cfg.ReadLimit == 0 {
		cfg.ReadLimit = DefaultReadLimit
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.PongWait == 0 {
		cfg.PongWait = DefaultPongWait
	}
	if cfg.WriteWait == 0 {
		cfg.WriteWait = DefaultWriteWait
	}
	if cfg.SendQueue == 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.PingInterval >= cfg.PongWait {
		return fmt.Errorf("ping interval %s must be shorter than pong wait %s", cfg.PingInterval, cfg.PongWait)
	}
	for _, o := range cfg.AllowedOrigins {
		if err := validateOrigin(strings.TrimSuffix(o, "/")); err != nil {
			return fmt.Errorf("allowed origin %q: %w", o, err)
		}
	}
	for _, h := range cfg.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ \t@?#") {
			return fmt.Errorf("allowed host %q: must be a host name, optionally with a port", h)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// ServeHTTP is the /v1/ws endpoint. It applies the Guard checks (403), then
// the token (401), then upgrades and serves the connection until it ends.
//
// The connection lives within the request's context: when r.Context() ends
// (with an http.Server, when its BaseContext ends, which its owner ties to
// the server's run), the connection is closed with 1001 (going away) and its
// calls' contexts are cancelled, as by Shutdown but without waiting.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if !s.admit(w, r) {
		return
	}
	if !s.CheckToken(r) {
		s.log.Info("websocket refused: missing or invalid token", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="posbridge"`)
		http.Error(w, "unauthorized: missing or invalid token", http.StatusUnauthorized)
		return
	}
	if s.isShutdown() {
		http.Error(w, "service unavailable: shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered the request already.
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		return
	}
	c := newConn(s, ws, r)
	if !s.register(c) {
		c.cancel()
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"),
			time.Now().Add(s.cfg.WriteWait))
		_ = ws.Close()
		return
	}
	c.serve(r.Context())
}

// CheckToken reports whether r carries a valid token: "Authorization: Bearer
// TOKEN", or the pair "posbridge.v1, bearer.TOKEN" in Sec-WebSocket-Protocol.
// Tokens are compared in constant time.
func (s *Server) CheckToken(r *http.Request) bool {
	var presented []string
	if auth := r.Header.Get("Authorization"); auth != "" {
		if scheme, tok, ok := strings.Cut(strings.TrimSpace(auth), " "); ok && strings.EqualFold(scheme, "Bearer") {
			presented = append(presented, strings.TrimSpace(tok))
		}
	}
	protos := websocket.Subprotocols(r)
	if contains(protos, Subprotocol) {
		for _, p := range protos {
			if tok, ok := strings.CutPrefix(p, TokenProtocolPrefix); ok {
				presented = append(presented, tok)
			}
		}
	}
	if len(presented) == 0 {
		return false
	}
	match := 0
	for _, valid := range s.cfg.Tokens() {
		valid = strings.TrimSpace(valid)
		if valid == "" {
			continue
		}
		for _, p := range presented {
			match |= subtle.ConstantTimeCompare([]byte(p), []byte(valid))
		}
	}
	return match == 1
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Shutdown closes every connection with 1001 (going away), cancels the
// calls' contexts and waits until the connections and their calls have ended
// or ctx is done. New upgrades are refused with 503 from then on.
//
// Ending the contexts of the connections' upgrade requests (ServeHTTP) stops
// them the same way; Shutdown is what also refuses new upgrades and waits.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, c := range conns {
		c.goAway()
	}

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shut down websocket server: %w", ctx.Err())
	}
}

// Conns returns the number of open connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) isShutdown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// register adds c unless the server is shutting down.
func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) unregister(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}
