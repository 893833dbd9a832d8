package idpaysim

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// "we will notify you every once in a while (a total of 6 notifications).
// The notification interval is 1S, 30S, 60s, 90s, 1h, 2h" (spec line 112).
// Read as: the first callback 1 s after the payment, each further one 30 s,
// 60 s, 90 s, 1 h and 2 h after the one before, six in all.
const firstCallbackDelay = time.Second

var callbackRetries = [...]time.Duration{30 * time.Second, 60 * time.Second, 90 * time.Second, time.Hour, 2 * time.Hour}

// CallbackAttempts is how many times one callback is sent before giving up.
const CallbackAttempts = len(callbackRetries) + 1

// CallbackSchedule returns the delay before the first callback and the
// waits after each unacknowledged one.
func CallbackSchedule() (first time.Duration, retries []time.Duration) {
	r := callbackRetries
	return firstCallbackDelay, r[:]
}

// callbackTimeout bounds one delivery attempt.
const callbackTimeout = 10 * time.Second

// callbackAck is the acknowledgement: "please return the string SUCCESS"
// (spec line 112).
const callbackAck = "SUCCESS"

// callbackRef is one queued copy of an order's callback.
type callbackRef struct{ msg *simkit.Message }

// Delivery is a callback's delivery state in the admin API.
type Delivery struct {
	URL       string     `json:"url"`
	Attempts  int        `json:"attempts"`
	Delivered bool       `json:"delivered"`
	GaveUp    bool       `json:"gave_up"`
	NextAt    *time.Time `json:"next_at,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

func deliveryView(d simkit.Delivery) Delivery {
	v := Delivery{URL: d.URL, Attempts: d.Attempts, Delivered: d.Delivered, GaveUp: d.GaveUp, LastError: d.LastError}
	if !d.NextAt.IsZero() {
		t := d.NextAt
		v.NextAt = &t
	}
	return v
}

// queueCallbackLocked queues a callback for o, first due at at. Without a
// notify URL there is nowhere to send it.
func (s *Sim) queueCallbackLocked(o *order, at time.Time) {
	if o.notifyURL == "" {
		s.log.Info("paid order has no notify URL: no callback", "order_no", o.no)
		return
	}
	m := s.callbacks.Add(o.no, o.notifyURL, at, func(time.Time) ([]byte, error) { return s.callbackBody(o) })
	o.callbacks = append(o.callbacks, callbackRef{msg: m})
}

// callbackBody is the signed form of the order's current state (called
// with s.mu held by simkit.Loop).
func (s *Sim) callbackBody(o *order) ([]byte, error) {
	p := params{
		fMerchantCode: s.cfg.MerchantCode, fOrderNo: o.no, fPlatOrderNo: o.platNo, fMethod: o.method,
		fAmount: strconv.FormatInt(o.amount, 10), fStatus: o.status,
	}
	return encodeForm(s.cfg.PlatformKey, p)
}

// post makes one delivery attempt; only HTTP 200 with the body SUCCESS
// (surrounding white space ignored, case kept) acknowledges it.
func (s *Sim) post(ctx context.Context, url string, body []byte) error {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded") // spec line 112
	rep, err := simkit.Post(ctx, s.httpc, url, body, h, "callback")
	if err != nil {
		return err
	}
	if rep.ReadErr != nil {
		return fmt.Errorf("read acknowledgement: %w", rep.ReadErr)
	}
	got := strings.TrimSpace(string(rep.Body))
	if rep.Status == http.StatusOK && got == callbackAck {
		return nil
	}
	if len(got) > 64 {
		got = got[:64] + "..."
	}
	return fmt.Errorf("HTTP %d with body %q, want 200 %q", rep.Status, got, callbackAck)
}
