package codepaysim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
)

// retrySchedule is the documented wait after each failed notification
// attempt: 5s, 10s, 15s, 30s, 60s, 3m, 10m, 15m, 3×30m, 3×3h. With the first
// attempt that makes NotifyAttempts attempts in all.
var retrySchedule = [...]time.Duration{
	5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second, 60 * time.Second,
	3 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, 30 * time.Minute, 30 * time.Minute,
	3 * time.Hour, 3 * time.Hour, 3 * time.Hour,
}

// NotifyAttempts is how many times a notification is sent before giving up.
const NotifyAttempts = len(retrySchedule) + 1

// RetrySchedule returns the wait after each failed notification attempt.
func RetrySchedule() []time.Duration {
	s := retrySchedule // a copy: callers cannot change the schedule
	return s[:]
}

// notifyTimeout is how long the receiver has to acknowledge (CodePay: 5 s).
const notifyTimeout = 5 * time.Second

type notification struct {
	order     *order
	url       string
	attempts  int
	nextAt    time.Time
	inFlight  bool
	delivered bool
	gaveUp    bool
	lastErr   string
}

func (n *notification) view() NotificationView {
	v := NotificationView{URL: n.url, Attempts: n.attempts, Delivered: n.delivered, GaveUp: n.gaveUp, LastError: n.lastErr}
	if !n.delivered && !n.gaveUp {
		v.NextAt = n.nextAt
	}
	return v
}

type delivery struct {
	n       *notification
	body    []byte
	started time.Time
	orderNo string
}

// runDue advances the lifecycle to now and starts every notification attempt
// that is due; with wait it returns once they have finished.
func (s *Sim) runDue(ctx context.Context, wait bool) {
	s.mu.Lock()
	now := s.clock.Now()
	s.advanceLocked(now)
	var jobs []delivery
	for _, n := range s.notifications {
		if n.inFlight || n.delivered || n.gaveUp || n.nextAt.After(now) {
			continue
		}
		body, err := s.notificationBody(n.order, now)
		if err != nil {
			s.log.Error("codepaysim: build notification", "merchant_order_no", n.order.no, "err", err)
			n.gaveUp, n.lastErr = true, err.Error()
			continue
		}
		n.inFlight = true
		jobs = append(jobs, delivery{n: n, body: body, started: now, orderNo: n.order.no})
	}
	s.notifications = slices.DeleteFunc(s.notifications, func(n *notification) bool { return n.delivered || n.gaveUp })
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		s.deliveries.Add(1)
		go func() {
			defer wg.Done()
			defer s.deliveries.Done()
			s.deliver(ctx, j)
		}()
	}
	if wait {
		wg.Wait()
	}
}

// notificationBody is the JSON object POSTed to notify_url (strings, and
// amounts as JSON numbers under AmountStyleNumber; called with s.mu held): the
// envelope app_id, sign_type, timestamp plus the order.query data fields,
// signed with the gateway key over all of them.
func (s *Sim) notificationBody(o *order, now time.Time) ([]byte, error) {
	p := codepay.Params{
		"app_id":    s.cfg.AppID,
		"sign_type": codepay.SignTypeRSA2,
		"timestamp": strconv.FormatInt(now.UnixMilli(), 10),
	}
	for k, v := range s.queryData(o) {
		switch v := v.(type) {
		case string:
			p[k] = v
		case int:
			p[k] = strconv.Itoa(v)
		default:
			return nil, fmt.Errorf("encode notification field %s: unexpected %T", k, v)
		}
	}
	if err := codepay.Sign(s.cfg.GatewayKey, p); err != nil {
		return nil, fmt.Errorf("sign notification: %w", err)
	}
	// The signature covers the amounts' text; AmountStyleNumber writes that
	// same text as JSON numbers, which a receiver reads back as the text.
	body := make(map[string]any, len(p))
	for k, v := range p {
		body[k] = v
	}
	s.styleAmountsLocked(body)
	return marshalNoEscape(body)
}

// deliver makes one attempt and schedules the next on failure.
func (s *Sim) deliver(ctx context.Context, j delivery) {
	actx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	ok, errText := s.post(actx, j.n.url, j.body)

	s.mu.Lock()
	defer s.mu.Unlock()
	n := j.n
	n.inFlight = false
	if ctx.Err() != nil {
		// Shutting down: this attempt does not count.
		return
	}
	n.attempts++
	switch {
	case ok:
		n.delivered, n.lastErr = true, ""
		s.log.Info("codepaysim: notification delivered", "merchant_order_no", j.orderNo, "attempt", n.attempts)
	case n.attempts >= NotifyAttempts:
		n.gaveUp, n.lastErr = true, errText
		s.log.Warn("codepaysim: notification abandoned", "merchant_order_no", j.orderNo, "attempts", n.attempts, "err", errText)
	default:
		n.lastErr = errText
		n.nextAt = j.started.Add(retrySchedule[n.attempts-1])
		s.log.Info("codepaysim: notification failed, will retry", "merchant_order_no", j.orderNo,
			"attempt", n.attempts, "next_at", n.nextAt, "err", errText)
	}
}

// post sends one notification; ok means HTTP 200 with the body "success"
// (case-insensitive, surrounding space ignored).
func (s *Sim) post(ctx context.Context, url string, body []byte) (ok bool, errText string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, "build request: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	resp, err := s.httpc.Do(req)
	if err != nil {
		return false, "post notification: " + err.Error()
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return false, "read acknowledgement: " + err.Error()
	}
	ack := strings.TrimSpace(string(reply))
	if resp.StatusCode == http.StatusOK && strings.EqualFold(ack, "success") {
		return true, ""
	}
	if len(ack) > 64 {
		ack = ack[:64] + "..."
	}
	return false, fmt.Sprintf("HTTP %d with body %q, want 200 \"success\"", resp.StatusCode, ack)
}
