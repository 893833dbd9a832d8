package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// shutdownTimeout bounds a stop: whatever has not ended by then is left
// behind (unfinished payments are reconciled at the next start). It is
// shorter than the service manager's wait (installer.Program, 15 s).
const shutdownTimeout = 10 * time.Second

// part is one long-running piece of the process: it serves until its ctx
// ends and then returns nil. Returning before that, with an error or nil,
// is a failure of the whole process.
type part struct {
	name  string
	serve func(ctx context.Context) error
}

// supervise runs every part of every stage until ctx ends or a part returns
// on its own; that part's error (or "stopped unexpectedly") ends the process:
// supervise returns it, and the caller exits non-zero so the service
// manager's restart policy applies. Parts that can recover from their own
// failures (serial ports, ZVT TCP listeners) do so inside their Serve.
//
// The stages stop in order, each waited for before the next is told to stop:
// the front ends first (no new work comes in), then the agent (its workers
// finish the step they are in and persist it), then whatever the agent uses
// (the demo's emulators). The whole stop takes at most timeout; stages still
// running then are abandoned with a warning.
func supervise(ctx context.Context, log *slog.Logger, timeout time.Duration, stages ...[]part) error {
	failed, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	type running struct {
		stop context.CancelFunc
		done chan struct{}
		err  error // the first error a part returned while stopping
	}
	all := make([]*running, 0, len(stages))
	for _, parts := range stages {
		// Stages stop when told to, in order, not when ctx ends.
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		r := &running{stop: stop, done: make(chan struct{})}
		var g errgroup.Group
		for _, p := range parts {
			g.Go(func() error {
				err := p.serve(sctx)
				if sctx.Err() != nil { // told to stop
					if err != nil {
						return fmt.Errorf("%s: %w", p.name, err)
					}
					return nil
				}
				if err == nil {
					err = errors.New("stopped unexpectedly")
				}
				err = fmt.Errorf("%s: %w", p.name, err)
				fail(err)
				return nil // reported through fail
			})
		}
		go func() {
			r.err = g.Wait()
			close(r.done)
		}()
		all = append(all, r)
	}

	<-failed.Done()
	var err error
	if ctx.Err() == nil {
		err = context.Cause(failed)
		log.Error("stopping: a part of posbridge failed", "err", err)
	} else {
		log.Info("stopping")
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for i, r := range all {
		r.stop()
		select {
		case <-r.done:
			if err == nil {
				err = r.err
			}
		case <-deadline.C:
			log.Warn("posbridge did not stop in time; unfinished payments are reconciled at the next start", "timeout", timeout)
			for _, rest := range all[i+1:] {
				rest.stop()
			}
			return err
		}
	}
	return err
}

// httpPart serves srv on ln as a part: a failing listener fails the part;
// when told to stop, beforeShutdown (if set) runs and srv shuts down
// gracefully within shutdownTimeout, then is closed.
//
// httpPart sets srv.BaseContext: every request's context, and so every
// WebSocket connection's (api/rpc), carries the part's context values and
// ends when the part returns, after the graceful shutdown, so that nothing
// the server started outlives it.
func httpPart(name string, srv *http.Server, ln net.Listener, log *slog.Logger, beforeShutdown func(context.Context)) part {
	return part{name: name, serve: func(ctx context.Context) error {
		base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
		defer cancelBase()
		srv.BaseContext = func(net.Listener) context.Context { return base }
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served: // Serve never returns nil
			return fmt.Errorf("serve HTTP on %s: %w", ln.Addr(), err)
		case <-ctx.Done():
		}
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if beforeShutdown != nil {
			beforeShutdown(shutCtx)
		}
		if err := srv.Shutdown(shutCtx); err != nil {
			log.Warn("HTTP connections still open at shutdown; closing them", "listen", ln.Addr().String(), "err", err)
			_ = srv.Close()
		}
		<-served // http.ErrServerClosed
		return nil
	}}
}
