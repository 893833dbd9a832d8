package server

import (
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"
)

// Time and size limits of the agent's HTTP listener, all in one place and
// documented in docs/operations.md ("HTTP limits"). Every endpoint is small
// and local: a request that needs longer than these is broken or hostile,
// and without them an idle or trickling client (the provider hooks need no
// token) would hold a connection and a goroutine for ever.
const (
	// DefaultReadHeaderTimeout bounds reading a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included,
	// however slowly it trickles in. A WebSocket upgrade clears it: the
	// connection then lives by its own ping/pong deadlines (api/rpc).
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds writing an answer to a client that does not
	// read it. The slowest handler, /readyz, gives up after 5 s.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout closes a keep-alive connection that sends no next
	// request for this long.
	DefaultIdleTimeout = 60 * time.Second
	// MaxHeaderBytes bounds a request's header section. It leaves room for
	// the cookies browsers send to "localhost" for other local apps.
	MaxHeaderBytes = 64 << 10
	// MaxBodyBytes bounds every request body; only the provider hooks read
	// one, and their notifications are a few KiB.
	MaxBodyBytes = 64 << 10
)

// Timeouts are the listener's time limits; a zero field takes its Default.
type Timeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// NewHTTPServer returns the http.Server for the agent's listener: handler h
// (normally from Handler) with the timeouts t and the header limit.
// errorLog receives net/http's own complaints (nil: the log package's).
func NewHTTPServer(h http.Handler, t Timeouts, errorLog *log.Logger) *http.Server {
	t = t.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          errorLog,
	}
}

func (t Timeouts) withDefaults() Timeouts {
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&t.ReadHeader, DefaultReadHeaderTimeout}, {&t.Read, DefaultReadTimeout}, {&t.Write, DefaultWriteTimeout}, {&t.Idle, DefaultIdleTimeout}} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	// The headers are part of the request: never allow them longer.
	t.ReadHeader = min(t.ReadHeader, t.Read)
	return t
}

// limitBodies caps every request body at MaxBodyBytes, so no endpoint, now
// or later, reads an unbounded body.
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// readBody reads a request body for a handler (bounded by limitBodies). On
// failure it answers 413 for a body over the limit, 408 for one that did not
// arrive within the read timeout, else 400, and reports false.
func readBody(w http.ResponseWriter, r *http.Request, log *slog.Logger) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	if err == nil {
		return body, true
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		log.Warn("request body too large", "path", r.URL.Path, "limit", tooBig.Limit, "remote", r.RemoteAddr)
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
	case errors.Is(err, os.ErrDeadlineExceeded):
		log.Warn("request body too slow", "path", r.URL.Path, "remote", r.RemoteAddr)
		http.Error(w, "request body not received in time", http.StatusRequestTimeout)
	default:
		log.Warn("request body unreadable", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
		http.Error(w, "request body unreadable", http.StatusBadRequest)
	}
	return nil, false
}
