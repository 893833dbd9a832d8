package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/internal/logging"
	"github.com/posbridge/posbridge/money"
)

const (
	// ProbeOrderNo is the merchant_order_no the idle probe queries. No
	// payment ever has it; CodePay's signed "no such order" proves it answers.
	ProbeOrderNo = "PBPROBE"
	// defaultProbeInterval is how long the agent may go without a CodePay
	// call before it probes (Config.ProbeInterval).
	defaultProbeInterval = 30 * time.Second
	// reachPublishEvery bounds terminal.updated while CodePay stays
	// unreachable and only the failure count grows.
	reachPublishEvery = 3 * time.Second
	// maxLastError bounds last_error.
	maxLastError = 240
)

// reachCodePay wraps the agent's CodePay client: every call records whether
// it reached CodePay, so the workers need not know.
type reachCodePay struct {
	next CodePay
	r    *reach
}

var _ CodePay = (*reachCodePay)(nil)

func (c *reachCodePay) CreateOrder(ctx context.Context, r codepay.CreateOrderRequest) (*codepay.CreateOrderResponse, error) {
	resp, err := c.next.CreateOrder(ctx, r)
	c.r.record(ctx, err)
	return resp, err
}

func (c *reachCodePay) QueryOrder(ctx context.Context, merchantOrderNo, transNo string) (*codepay.Order, error) {
	o, err := c.next.QueryOrder(ctx, merchantOrderNo, transNo)
	c.r.record(ctx, err)
	return o, err
}

func (c *reachCodePay) CloseOrder(ctx context.Context, r codepay.CloseOrderRequest) (*codepay.CloseOrderResponse, error) {
	resp, err := c.next.CloseOrder(ctx, r)
	c.r.record(ctx, err)
	return resp, err
}

func (c *reachCodePay) CloseBatch(ctx context.Context, terminalSN string) (*codepay.BatchCloseResponse, error) {
	resp, err := c.next.CloseBatch(ctx, terminalSN)
	c.r.record(ctx, err)
	return resp, err
}

func (c *reachCodePay) AdjustTip(ctx context.Context, merchantOrderNo string, tip money.Amount) error {
	err := c.next.AdjustTip(ctx, merchantOrderNo, tip)
	c.r.record(ctx, err)
	return err
}

// callReached classifies a finished CodePay call. counts is false for calls
// that say nothing about CodePay: refused locally before sending, or
// abandoned because the caller's context was cancelled (shutdown, a client
// that went away). A trusted answer, success or refusal, reached CodePay;
// "not sent" and "outcome unknown" (transport errors, timeouts, HTTP errors
// without a signed answer, bad or missing signatures) did not.
func callReached(ctx context.Context, err error) (reached, counts bool) {
	var ge *codepay.GatewayError
	switch {
	case err == nil, errors.As(err, &ge):
		return true, true
	case errors.Is(err, codepay.ErrInvalidRequest), errors.Is(err, context.Canceled), errors.Is(ctx.Err(), context.Canceled):
		return false, false
	case errors.Is(err, codepay.ErrNotSent), errors.Is(err, codepay.ErrUnknownOutcome):
		return false, true
	}
	return false, false
}

// reach keeps the CodePay link state in the registry and publishes its
// changes: at once when reachability flips, at most every reachPublishEvery
// while only the failure count grows, never for a success while reachable.
type reach struct {
	reg     *device.Registry
	now     func() time.Time // the agent's clock: the times people see
	publish func()
	log     *slog.Logger

	mu       sync.Mutex
	link     device.CodePayLink
	lastCall time.Time // monotonic: the last call that reached or failed
	lastPub  time.Time
	timer    *time.Timer
}

func (r *reach) record(ctx context.Context, err error) {
	ok, counts := callReached(ctx, err)
	if !counts {
		return
	}
	now := r.now()
	r.mu.Lock()
	prev := r.link
	l := prev
	l.Known = true
	if ok {
		l.Reachable = true
		l.LastSuccessAt = now
		l.ConsecutiveFailures = 0
		l.UnreachableSince = time.Time{}
	} else {
		if !prev.Known || prev.Reachable {
			l.UnreachableSince = now
		}
		l.Reachable = false
		l.LastFailureAt = now
		l.ConsecutiveFailures++
		l.LastError = errorLine(err)
	}
	r.link = l
	r.lastCall = time.Now()
	r.reg.SetCodePay(l)
	flip := !prev.Known || prev.Reachable != l.Reachable
	publishNow := flip
	if !flip && !l.Reachable {
		if wait := reachPublishEvery - time.Since(r.lastPub); wait <= 0 {
			publishNow = true
		} else if r.timer == nil {
			r.timer = time.AfterFunc(wait, r.flush)
		}
	}
	if publishNow {
		r.lastPub = time.Now()
		if r.timer != nil {
			r.timer.Stop()
			r.timer = nil
		}
	}
	r.mu.Unlock()
	switch {
	case flip && !ok:
		r.log.Warn("CodePay cannot be reached", "err", l.LastError)
	case flip && prev.Known:
		r.log.Info("CodePay answers again", "failed_calls", prev.ConsecutiveFailures, "unreachable_for", now.Sub(prev.UnreachableSince).Round(time.Second))
	}
	if publishNow {
		r.publish()
	}
}

// flush publishes the failure count held back by the throttle.
func (r *reach) flush() {
	r.mu.Lock()
	r.timer = nil
	r.lastPub = time.Now()
	r.mu.Unlock()
	r.publish()
}

func (r *reach) current() device.CodePayLink {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.link
}

// idleFor is how long ago the last call that reached or failed finished
// (since, when none has yet).
func (r *reach) idleFor(since time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastCall.IsZero() {
		return time.Since(since)
	}
	return time.Since(r.lastCall)
}

// errorLine makes a call's error fit last_error: one line, bounded, and
// passed through the log redactor (CodePay errors carry no card data, but
// last_error is shown to people and must never be the exception).
func errorLine(err error) string {
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, err.Error())
	s = logging.RedactString(s)
	if len(s) > maxLastError {
		s = strings.ToValidUTF8(s[:maxLastError], "") + "…"
	}
	return s
}

// publishCodePay publishes every terminal's status after a CodePay link
// change. termMu keeps it in order with publishTerminal, so a terminal's
// queue and busy state never go backwards.
func (a *Agent) publishCodePay() {
	a.termMu.Lock()
	defer a.termMu.Unlock()
	for _, st := range a.reg.Statuses() {
		a.publish(Event{Terminal: &st})
	}
}

// CodePayStatus returns whether the agent's calls reach CodePay, with the
// times of the last success and failure and the current run of failures.
func (a *Agent) CodePayStatus() device.CodePayLink { return a.reach.current() }

// ProbeCodePay makes one light signed call (an order.query for
// ProbeOrderNo) and records it like any other call. It returns nil when
// CodePay answered, with any signed answer.
func (a *Agent) ProbeCodePay(ctx context.Context) error {
	_, err := a.cp.QueryOrder(ctx, ProbeOrderNo, "")
	if ok, _ := callReached(ctx, err); ok {
		return nil
	}
	return err
}

// probeIdle keeps the reachability state fresh while the store is idle: when
// no call has reached or failed for interval, it probes.
func (a *Agent) probeIdle(ctx context.Context, interval time.Duration) {
	start := time.Now()
	for {
		wait := interval - a.reach.idleFor(start)
		if wait <= 0 {
			callCtx, cancel := context.WithTimeout(ctx, callTimeout)
			if err := a.ProbeCodePay(callCtx); err != nil && ctx.Err() == nil {
				a.log.Debug("CodePay probe failed", "err", err)
			}
			cancel()
			wait = interval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
