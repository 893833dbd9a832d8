// Package memnet is an in-memory network for tests: a Listener whose
// connections are net.Pipe pairs, so an HTTP server and its clients can run
// inside a testing/synctest bubble (where time is virtual) with no socket. The
// listener can be told to refuse connections, as a host that is down does.
package memnet

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// Listener is an in-memory net.Listener; Dial connects to it.
type Listener struct {
	name    string
	conns   chan net.Conn
	done    chan struct{}
	once    sync.Once
	refuse  atomic.Bool
	mu      sync.Mutex
	open    map[net.Conn]struct{} // server ends not yet closed, for DropAll
	dialled atomic.Int64
}

// Listen returns a listener named name (its address, e.g. "codepay:443").
func Listen(name string) *Listener {
	return &Listener{name: name, conns: make(chan net.Conn), done: make(chan struct{}), open: map[net.Conn]struct{}{}}
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener; pending and later dials fail.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the listener's name as a TCP-like address.
func (l *Listener) Addr() net.Addr { return addr(l.name) }

// SetRefusing makes Dial fail with "connection refused" (true) or accept
// again (false), like a host whose service is down.
func (l *Listener) SetRefusing(refuse bool) { l.refuse.Store(refuse) }

// Dials counts the connections attempted so far, refused ones included.
func (l *Listener) Dials() int64 { return l.dialled.Load() }

// DropAll closes every open connection (server side), as a restarting
// peer or a broken network does.
func (l *Listener) DropAll() {
	l.mu.Lock()
	open := make([]net.Conn, 0, len(l.open))
	for c := range l.open {
		open = append(open, c)
	}
	l.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
}

// Dial connects to the listener; it has the signature of
// net.Dialer.DialContext, for http.Transport.DialContext.
func (l *Listener) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	l.dialled.Add(1)
	if l.refuse.Load() {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addr(address), Err: syscall.ECONNREFUSED}
	}
	client, server := net.Pipe()
	tracked := &conn{Conn: server, l: l}
	l.mu.Lock()
	l.open[tracked] = struct{}{}
	l.mu.Unlock()
	select {
	case l.conns <- tracked:
		return client, nil
	case <-ctx.Done():
		tracked.Close()
		client.Close()
		return nil, ctx.Err()
	case <-l.done:
		tracked.Close()
		client.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addr(address), Err: syscall.ECONNREFUSED}
	}
}

// conn is a server end that forgets itself when closed.
type conn struct {
	net.Conn
	l *Listener
}

func (c *conn) Close() error {
	c.l.mu.Lock()
	delete(c.l.open, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }
