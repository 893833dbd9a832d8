package simkit

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/posbridge/posbridge/internal/logging"
)

// Runner is embedded in an emulator's Sim and makes it runnable: it serves
// the emulator's routes (ServeHTTP) and drives its Loop (Serve, RunDue).
// The emulator's constructor binds it once, before the Sim is used.
type Runner struct {
	routes http.Handler
	loop   Loop
}

// Bind sets the routes ServeHTTP serves and the loop Serve and RunDue run.
// Only the emulator's constructor calls it.
func (r *Runner) Bind(routes http.Handler, loop Loop) {
	r.routes, r.loop = routes, loop
}

// ServeHTTP serves the emulator's provider endpoints and its admin API under
// /sim/.
func (r *Runner) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.routes.ServeHTTP(w, req) }

// Serve runs the emulator's lifecycle (transaction or order transitions)
// and delivers its notifications until ctx is cancelled; it then waits for
// deliveries in flight and returns nil.
func (r *Runner) Serve(ctx context.Context) error { return r.loop.Serve(ctx) }

// RunDue applies every transition due at the clock's current time and
// delivers the notifications due now, returning when those deliveries have
// finished. Serve calls it continually; tests that drive a fake clock call
// it directly after moving the clock.
func (r *Runner) RunDue(ctx context.Context) { r.loop.RunDue(ctx) }

// notifyTimeout bounds a notification's delivery when the emulator is given
// no HTTP client of its own.
const notifyTimeout = 10 * time.Second

// Defaults completes what an emulator's Config left nil: the clock (real
// time), the logger (slog.Default()) and the client that delivers
// notifications (one with a 10s timeout). The logger is returned with the
// emulator's component added: the emulator owns it, its callers do not add
// one.
func Defaults(component string, clock Clock, log *slog.Logger, hc *http.Client) (Clock, *slog.Logger, *http.Client) {
	if clock == nil {
		clock = RealClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	if hc == nil {
		hc = &http.Client{Timeout: notifyTimeout}
	}
	return clock, log.With(logging.ComponentKey, component), hc
}
