package bindosim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// webhookRetries is the emulator's wait after each failed webhook attempt
// (the spec documents no schedule): 10s, 30s, 1m, 5m, 15m, 1h.
var webhookRetries = [...]time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour,
}

// WebhookAttempts is how many times a webhook is sent before giving up.
const WebhookAttempts = len(webhookRetries) + 1

// webhookTimeout is how long the receiver has to answer.
const webhookTimeout = 5 * time.Second

type notification struct {
	t         *txn
	url       string
	attempts  int
	nextAt    time.Time
	inFlight  bool
	delivered bool
	gaveUp    bool
	lastErr   string
}

func (n *notification) view() WebhookView {
	v := WebhookView{URL: n.url, Attempts: n.attempts, Delivered: n.delivered, GaveUp: n.gaveUp, LastError: n.lastErr}
	if !n.delivered && !n.gaveUp {
		v.NextAt = n.nextAt
	}
	return v
}

// queueWebhookLocked schedules the webhook of a transaction that just
// became final, if it has a target.
func (s *Sim) queueWebhookLocked(t *txn, at time.Time) {
	if t.notifyURL == "" || t.notify != nil {
		return
	}
	if s.cfg.WebhookSecret == "" {
		s.log.Warn("bindosim: webhook not sent: no webhook secret configured", "uuid", t.uuid)
		return
	}
	n := &notification{t: t, url: t.notifyURL, nextAt: at}
	t.notify = n
	s.notifications = append(s.notifications, n)
}

type delivery struct {
	n       *notification
	body    []byte
	started time.Time
	uuid    string
}

// runDue advances the lifecycle to now and starts every webhook attempt
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
		body, err := json.Marshal(map[string]any{"transaction": s.wireLocked(n.t, true)})
		if err != nil {
			n.gaveUp, n.lastErr = true, err.Error()
			continue
		}
		n.inFlight = true
		jobs = append(jobs, delivery{n: n, body: body, started: now, uuid: n.t.uuid})
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

// Sign returns the X-SIGNATURE the emulator sends for body:
// HMAC-SHA256(body, secret) in the configured encoding.
func Sign(secret, body []byte, encoding string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	sum := mac.Sum(nil)
	if encoding == EncodingBase64 {
		return base64.StdEncoding.EncodeToString(sum)
	}
	return hex.EncodeToString(sum)
}

// deliver makes one attempt and schedules the next on failure.
func (s *Sim) deliver(ctx context.Context, j delivery) {
	actx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	ok, errText := s.post(actx, j.n.url, j.body)

	s.mu.Lock()
	defer s.mu.Unlock()
	n := j.n
	n.inFlight = false
	if ctx.Err() != nil {
		return // shutting down: this attempt does not count
	}
	n.attempts++
	switch {
	case ok:
		n.delivered, n.lastErr = true, ""
		s.log.Info("bindosim: webhook delivered", "uuid", j.uuid, "attempt", n.attempts)
	case n.attempts >= WebhookAttempts:
		n.gaveUp, n.lastErr = true, errText
		s.log.Warn("bindosim: webhook abandoned", "uuid", j.uuid, "attempts", n.attempts, "err", errText)
	default:
		n.lastErr = errText
		n.nextAt = j.started.Add(webhookRetries[n.attempts-1])
		s.log.Info("bindosim: webhook failed, will retry", "uuid", j.uuid, "attempt", n.attempts, "next_at", n.nextAt, "err", errText)
	}
}

// post sends one webhook; ok means HTTP 200.
func (s *Sim) post(ctx context.Context, url string, body []byte) (ok bool, errText string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, "build request: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-SIGNATURE", Sign([]byte(s.cfg.WebhookSecret), body, s.cfg.WebhookEncoding))
	req.Header.Set("X-APP-ID", s.cfg.AppID)
	resp, err := s.httpc.Do(req)
	if err != nil {
		return false, "post webhook: " + err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("HTTP %d, want 200", resp.StatusCode)
	}
	return true, ""
}
