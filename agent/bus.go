package agent

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/posbridge/posbridge/device"
	"github.com/posbridge/posbridge/store"
)

// Event is one change published to subscribers: exactly one of the fields is set.
type Event struct {
	Payment  *Payment
	Terminal *device.Status
	// Batch is a batch just closed (batch.closed notifications).
	Batch *BatchReport
}

// Subscribe registers fn for every event; fn must not block (front ends enqueue
// and return). The returned function unsubscribes.
func (a *Agent) Subscribe(fn func(Event)) (unsubscribe func()) {
	a.busMu.Lock()
	a.nextSub++
	id := a.nextSub
	a.subs[id] = fn
	a.busMu.Unlock()
	return func() {
		a.busMu.Lock()
		delete(a.subs, id)
		a.busMu.Unlock()
	}
}

func (a *Agent) publish(e Event) {
	a.busMu.RLock()
	defer a.busMu.RUnlock()
	for _, fn := range a.subs {
		fn(e)
	}
}

// publishPayment publishes a payment as just written to the journal, with
// its seq (p.EventID). It is the journal's commit callback
// (store.TransitionThen, InsertPaymentThen), called in commit order, so
// payments are published in seq order: front ends pass them on in that
// order, and clients resuming with events.since rely on it. It must not
// write to the journal.
func (a *Agent) publishPayment(p *store.Payment) {
	v := a.view(p)
	a.publish(Event{Payment: &v})
}

// publishTerminal refreshes the terminal's busy/queue state from the journal
// and publishes it when it changed.
func (a *Agent) publishTerminal(sn string) {
	// Reading the journal and updating the registry is one step, so a slower
	// caller never publishes a view older than one already published.
	a.termMu.Lock()
	defer a.termMu.Unlock()
	ctx := context.Background()
	depth, err := a.db.QueueDepth(ctx, sn)
	if err != nil {
		return
	}
	current := ""
	if p, err := a.db.Active(ctx, sn); err == nil {
		current = p.MerchantOrderNo
	}
	st, changed := a.reg.Update(sn, func(s *device.Status) {
		s.QueueDepth = depth
		s.CurrentOrderNo = current
		s.Busy = current != ""
	})
	if changed {
		a.publish(Event{Terminal: &st})
	}
}

// termRefresh coalesces asynchronous refreshes of one terminal's state.
type termRefresh struct {
	mu             sync.Mutex
	running, again bool
}

// publishTerminalLater refreshes and publishes the terminal's state off the
// caller's path (payment.create answers as soon as the payment is durable;
// a worker's create order is not held up). Calls while a refresh runs are
// folded into one more refresh, which reads the journal afresh.
func (a *Agent) publishTerminalLater(sn string) {
	a.refreshMu.Lock()
	r := a.refresh[sn]
	if r == nil {
		if a.refresh == nil {
			a.refresh = map[string]*termRefresh{}
		}
		r = &termRefresh{}
		a.refresh[sn] = r
	}
	a.refreshMu.Unlock()
	r.mu.Lock()
	if r.running {
		r.again = true
		r.mu.Unlock()
		return
	}
	r.running = true
	r.mu.Unlock()
	go func() {
		for {
			a.publishTerminal(sn)
			r.mu.Lock()
			if !r.again {
				r.running = false
				r.mu.Unlock()
				return
			}
			r.again = false
			r.mu.Unlock()
		}
	}()
}

func (a *Agent) setOnline(sn string, online bool) {
	a.termMu.Lock() // in order with publishTerminal and publishCodePay
	defer a.termMu.Unlock()
	st, changed := a.reg.SetOnline(sn, online)
	if !changed {
		return
	}
	_ = a.db.SetTerminalOnline(context.Background(), sn, online)
	a.log.Info("terminal online state", "terminal_sn", sn, "online", online)
	a.publish(Event{Terminal: &st})
}

// view renders a journal row with the cashier-facing notice.
func (a *Agent) view(p *store.Payment) Payment {
	v := view(p, a.offlineNotice(p))
	if v.Error != nil && retryableWithCard(p) {
		if a.fallbackAllowed(optionsOf(p)) {
			v.Error.Fallback = HintNative
		}
	}
	return v
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
