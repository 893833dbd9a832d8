package bindosim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
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

// queueWebhookLocked schedules the webhook of a transaction that just
// became final, if it has a target. The body is the transaction as it
// stands when an attempt is due.
func (s *Sim) queueWebhookLocked(t *txn, at time.Time) {
	if t.notifyURL == "" || t.notify != nil {
		return
	}
	if s.cfg.WebhookSecret == "" {
		s.log.Warn("bindosim: webhook not sent: no webhook secret configured", "uuid", t.uuid)
		return
	}
	t.notify = s.webhooks.Add(t.uuid, t.notifyURL, at, func(time.Time) ([]byte, error) {
		return json.Marshal(map[string]any{"transaction": s.wireLocked(t, true)})
	})
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

// post sends one webhook; only HTTP 200 acknowledges it.
func (s *Sim) post(ctx context.Context, url string, body []byte) error {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-SIGNATURE", Sign([]byte(s.cfg.WebhookSecret), body, s.cfg.WebhookEncoding))
	h.Set("X-APP-ID", s.cfg.AppID)
	rep, err := simkit.Post(ctx, s.httpc, url, body, h, "webhook")
	if err != nil {
		return err
	}
	if rep.Status != http.StatusOK {
		return fmt.Errorf("HTTP %d, want 200", rep.Status)
	}
	return nil
}
