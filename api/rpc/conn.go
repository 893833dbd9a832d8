package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Conn is one WebSocket client connection. Its methods are safe for
// concurrent use.
//
// Per connection, one goroutine reads and dispatches calls, one goroutine
// writes (responses, notifications and pings all go through its queue), and
// up to 16 goroutines run calls.
type Conn struct {
	id     uint64
	srv    *Server
	ws     *websocket.Conn
	remote string
	log    *slog.Logger

	// ctx is the parent of the calls' contexts: it has the values of the
	// upgrade request's context and is cancelled when the connection has
	// ended or is told to go away (goAway).
	ctx    context.Context
	cancel context.CancelFunc

	send chan []byte   // outbound queue, drained by the writer
	sem  chan struct{} // call slots

	mu          sync.Mutex
	closed      bool          // closing has started; nothing more is queued
	closeCode   int           // close frame to send; 0 for none
	closeReason string        // its reason text
	closing     chan struct{} // closed when closing starts

	// closeSent is set by the writer when a close frame went out; read
	// after writerDone.
	closeSent bool

	readerDone chan struct{}
	writerDone chan struct{}
	done       chan struct{}
	calls      sync.WaitGroup
}

// newConn returns the connection upgraded from r. Its calls' context has
// the values of r's but does not end with it directly: serve closes the
// connection first (goAway).
func newConn(s *Server, ws *websocket.Conn, r *http.Request) *Conn {
	id := s.nextID.Add(1)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	return &Conn{
		id:         id,
		srv:        s,
		ws:         ws,
		remote:     r.RemoteAddr,
		log:        s.log.With("conn", id),
		ctx:        ctx,
		cancel:     cancel,
		send:       make(chan []byte, s.cfg.SendQueue),
		sem:        make(chan struct{}, maxInFlight),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
}

// ID returns the connection's number, unique within its Server.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() string { return c.remote }

// Done returns a channel closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Notify queues a notification (a message without id) for the client. It
// never blocks: after the connection ended it returns ErrClosed, and when the
// send queue is full it closes the connection with 1008 (policy violation)
// and returns an error wrapping ErrClosed.
func (c *Conn) Notify(method string, params any) error {
	msg, err := encodeNotification(method, params)
	if err != nil {
		return fmt.Errorf("encode notification %s: %w", method, err)
	}
	return c.enqueue(msg)
}

// enqueue hands msg to the writer without blocking.
func (c *Conn) enqueue(msg []byte) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	select {
	case c.send <- msg:
		c.mu.Unlock()
		return nil
	default:
	}
	c.startCloseLocked(websocket.ClosePolicyViolation, "send queue full")
	c.mu.Unlock()
	c.log.Warn("closing websocket client that does not read: send queue full", "remote", c.remote, "queue", cap(c.send))
	return fmt.Errorf("queue message: send queue full: %w", ErrClosed)
}

// requestClose starts closing: the writer sends a close frame with code
// (none when code is 0) and stops. Only the first request counts.
func (c *Conn) requestClose(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startCloseLocked(code, reason)
}

// goAway closes the connection with 1001 (going away) and then cancels its
// calls' contexts: closing first makes the calls that end by the
// cancellation queue nothing, so the client sees the close, not an error
// answer for a call whose outcome it must look up.
func (c *Conn) goAway() {
	c.requestClose(websocket.CloseGoingAway, "server shutting down")
	c.cancel()
}

func (c *Conn) startCloseLocked(code int, reason string) {
	if c.closed {
		return
	}
	c.closed = true
	c.closeCode = code
	c.closeReason = reason
	close(c.closing)
}

// serve runs the connection until it ends or parent (the upgrade request's
// context) ends, which makes it go away. It owns the final Close.
func (c *Conn) serve(parent context.Context) {
	c.log.Debug("websocket connected", "remote", c.remote, "subprotocol", c.ws.Subprotocol())
	stopWatch := context.AfterFunc(parent, c.goAway)
	go c.writeLoop()
	go c.readLoop()

	select {
	case <-c.readerDone:
		// The peer closed, failed or went silent: nothing more to say.
		c.requestClose(0, "")
	case <-c.writerDone:
		// A close frame went out or writing failed. After a close frame,
		// give the peer a moment to answer it before dropping the connection.
		if c.closeSent {
			t := time.NewTimer(closeGrace)
			select {
			case <-c.readerDone:
			case <-t.C:
			}
			t.Stop()
		}
	}
	_ = c.ws.Close()
	<-c.readerDone
	<-c.writerDone
	stopWatch()
	c.cancel()
	c.srv.unregister(c)
	close(c.done)
	if h, ok := c.srv.cfg.Handler.(ClosedHandler); ok {
		h.Closed(c)
	}
	c.log.Debug("websocket disconnected", "remote", c.remote)
	c.calls.Wait()
	c.srv.wg.Done()
}

// readLoop reads messages and dispatches them until reading fails or the
// connection closes.
func (c *Conn) readLoop() {
	defer close(c.readerDone)
	cfg := &c.srv.cfg
	c.ws.SetReadLimit(cfg.ReadLimit)
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	})
	for {
		// The peer must send something, if only a pong, within PongWait of
		// our being ready to read.
		if err := c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait)); err != nil {
			return
		}
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.readFailed(err)
			return
		}
		if !c.handleMessage(typ, data) {
			return
		}
	}
}

func (c *Conn) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		c.log.Debug("websocket closed by peer", "code", ce.Code)
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has sent close 1009 already. Discard what the peer is
		// still sending, so that closing the socket does not reset it
		// before the close frame is read.
		c.log.Warn("websocket message too big, closing with 1009", "remote", c.remote, "limit", c.srv.cfg.ReadLimit)
		nc := c.ws.NetConn()
		_ = nc.SetReadDeadline(time.Now().Add(closeGrace))
		_, _ = io.Copy(io.Discard, nc)
	case errors.As(err, &ne) && ne.Timeout():
		c.log.Info("websocket peer unresponsive, closing", "remote", c.remote)
	default:
		c.log.Debug("websocket read ended", "error", err)
	}
}

// handleMessage decodes and dispatches one message. It reports false when the
// connection is closing.
func (c *Conn) handleMessage(typ int, data []byte) bool {
	if typ != websocket.TextMessage {
		return c.enqueue(encodeError(nil, invalidRequest("binary messages are not supported"))) == nil
	}
	msgs, batch := decode(data)
	if !batch {
		m := msgs[0]
		if m.err != nil {
			c.log.Debug("rpc message rejected", "code", m.err.Code)
			return c.enqueue(encodeError(m.req.id, m.err)) == nil
		}
		return c.start(m.req, func(resp []byte, hooks *replyHooks) {
			if resp != nil {
				_ = c.enqueue(resp)
			}
			hooks.run()
		})
	}

	results := make([][]byte, len(msgs))
	hooks := make([]*replyHooks, len(msgs))
	var wg sync.WaitGroup
	ok := true
	for i, m := range msgs {
		if m.err != nil {
			c.log.Debug("rpc message rejected", "code", m.err.Code)
			results[i] = encodeError(m.req.id, m.err)
			continue
		}
		wg.Add(1)
		started := c.start(m.req, func(resp []byte, h *replyHooks) {
			results[i], hooks[i] = resp, h
			wg.Done()
		})
		if !started {
			wg.Done()
			ok = false
			break
		}
	}
	c.calls.Add(1)
	go func() {
		defer c.calls.Done()
		wg.Wait()
		// The hooks run once the batch's answer is queued, or when there is
		// none to queue.
		defer func() {
			for _, h := range hooks {
				if h != nil {
					h.run()
				}
			}
		}()
		if !ok {
			return
		}
		parts := make([][]byte, 0, len(results))
		for _, r := range results {
			if r != nil {
				parts = append(parts, r)
			}
		}
		if len(parts) > 0 { // a batch of notifications gets no answer
			_ = c.enqueue(encodeBatch(parts))
		}
	}()
	return ok
}

// start runs req in a new goroutine once a call slot is free, and passes the
// encoded response (nil for a notification) and the call's AfterReply hooks
// to deliver before freeing the slot; deliver must run the hooks once the
// response is queued. It reports false, running nothing, when the connection
// closes first.
func (c *Conn) start(req request, deliver func(resp []byte, hooks *replyHooks)) bool {
	select {
	case c.sem <- struct{}{}:
	case <-c.closing:
		return false
	}
	c.calls.Add(1)
	go func() {
		defer c.calls.Done()
		ctx, hooks := withReplyHooks(c.ctx)
		deliver(c.call(ctx, req), hooks)
		<-c.sem
	}()
	return true
}

// call runs the handler with the call's context and encodes its answer; nil
// for a notification.
func (c *Conn) call(ctx context.Context, req request) []byte {
	start := time.Now()
	result, err := c.invoke(ctx, req)
	var resp []byte
	if err == nil && req.id != nil {
		b, encErr := encodeResult(req.id, result)
		if encErr != nil {
			c.log.Error("rpc result not encodable", "method", req.method, "error", encErr)
			err = internalError()
		}
		resp = b
	}
	code := 0
	if err != nil {
		var rpcErr *Error
		if !errors.As(err, &rpcErr) || rpcErr == nil {
			c.log.Error("rpc handler failed", "method", req.method, "error", err)
			rpcErr = internalError()
		}
		code = rpcErr.Code
		if req.id != nil {
			resp = encodeError(req.id, rpcErr)
		}
	}
	c.log.Debug("rpc call", "method", req.method, "notification", req.id == nil,
		"duration", time.Since(start), "code", code)
	return resp
}

// invoke calls the handler, turning a panic into an internal error.
func (c *Conn) invoke(ctx context.Context, req request) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			// The panic value may carry request data: log its type only.
			c.log.Error("rpc handler panicked", "method", req.method,
				"panic_type", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
			result, err = nil, internalError()
		}
	}()
	return c.srv.cfg.Handler.Call(ctx, c, req.method, req.params)
}

// writeLoop is the only writer of data frames and pings.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	cfg := &c.srv.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	for {
		// Closing wins over pending messages and pings.
		select {
		case <-c.closing:
			c.writeClose()
			return
		default:
		}
		select {
		case <-c.closing:
			c.writeClose()
			return
		case msg := <-c.send:
			_ = c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.writeFailed(err)
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteWait)); err != nil {
				c.writeFailed(err)
				return
			}
		}
	}
}

func (c *Conn) writeFailed(err error) {
	c.requestClose(0, "")
	c.log.Debug("websocket write failed", "error", err)
}

// writeClose sends the requested close frame, if any. On a shutdown (1001)
// it first flushes what was queued, all within one WriteWait.
func (c *Conn) writeClose() {
	c.mu.Lock()
	code, reason := c.closeCode, c.closeReason
	c.mu.Unlock()
	if code == 0 {
		return
	}
	deadline := time.Now().Add(c.srv.cfg.WriteWait)
	if code == websocket.CloseGoingAway {
	flush:
		for {
			select {
			case msg := <-c.send:
				_ = c.ws.SetWriteDeadline(deadline)
				if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
					c.log.Debug("websocket flush failed", "error", err)
					return
				}
			default:
				break flush
			}
		}
	}
	err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
	if err != nil {
		c.log.Debug("websocket close frame not sent", "code", code, "error", err)
		return
	}
	c.closeSent = true
}
