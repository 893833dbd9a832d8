package codepaysim

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/internal/simkit"
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

// post sends one notification; only HTTP 200 with the body "success"
// (case-insensitive, surrounding space ignored) acknowledges it.
func (s *Sim) post(ctx context.Context, url string, body []byte) error {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=UTF-8")
	rep, err := simkit.Post(ctx, s.httpc, url, body, h, "notification")
	if err != nil {
		return err
	}
	if rep.ReadErr != nil {
		return fmt.Errorf("read acknowledgement: %w", rep.ReadErr)
	}
	ack := strings.TrimSpace(string(rep.Body))
	if rep.Status == http.StatusOK && strings.EqualFold(ack, "success") {
		return nil
	}
	if len(ack) > 64 {
		ack = ack[:64] + "..."
	}
	return fmt.Errorf("HTTP %d with body %q, want 200 \"success\"", rep.Status, ack)
}
