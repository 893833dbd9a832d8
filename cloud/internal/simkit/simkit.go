// Package simkit is the machinery the provider emulators
// (cloud/codepay/codepaysim, cloud/bindo/bindosim) share: the Runner each
// Sim embeds (ServeHTTP, Serve, RunDue) and the defaults of its Config, the
// clock and the loop that re-evaluates it, the fault queue, the bounded
// request log, the notification (webhook) outbox with its retry schedule
// and delivery state, and small HTTP helpers of the admin API and of
// transport faults. Each emulator keeps its own fault kinds, codes,
// redaction rules and wire formats. Their tests share simkit/simtest.
//
// Unless a type says otherwise it is not safe for concurrent use: the
// emulator guards it with its own lock.
package simkit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Clock tells an emulator the time.
type Clock interface{ Now() time.Time }

// RealClock is the system clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// PollInterval is how often Loop.Serve re-evaluates the clock.
const PollInterval = 50 * time.Millisecond

// Loop drives an emulator in time: it applies what is due at the clock's
// time (transaction or order transitions) and starts the notifications
// due, either continually (Serve) or once on demand (RunDue, for tests that
// move a fake clock).
type Loop struct {
	// Lock is the emulator's lock, held while Advance runs and the due
	// notifications' bodies are built.
	Lock    sync.Locker
	Clock   Clock
	Advance func(now time.Time)
	Outbox  *Outbox
}

// Serve runs the loop every PollInterval until ctx is cancelled; it then
// waits for the deliveries in flight and returns nil.
func (l *Loop) Serve(ctx context.Context) error {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		l.tick(ctx, false)
		select {
		case <-ctx.Done():
			l.Outbox.Wait()
			return nil
		case <-t.C:
		}
	}
}

// RunDue applies everything due at the clock's current time and delivers
// the notifications due now, returning when those deliveries have finished.
func (l *Loop) RunDue(ctx context.Context) { l.tick(ctx, true) }

// tick advances to now and starts the attempts due; with wait it returns
// once they have finished.
func (l *Loop) tick(ctx context.Context, wait bool) {
	l.Lock.Lock()
	now := l.Clock.Now()
	l.Advance(now)
	jobs := l.Outbox.Due(now)
	l.Lock.Unlock()
	l.Outbox.Run(ctx, jobs, wait)
}

// Faults is a queue of injected faults of type F. Each applies to the next
// count requests whose key (an operation or API method) equals its key, or
// to any request when its key is "". Faults apply in the order they were
// added; a request takes at most one.
type Faults[F any] struct {
	queue []*queuedFault[F]
}

type queuedFault[F any] struct {
	key  string
	left int
	f    F
}

// Add queues f for the next count requests matching key; count ≤ 0 means 1.
func (q *Faults[F]) Add(key string, count int, f F) {
	q.queue = append(q.queue, &queuedFault[F]{key: key, left: max(count, 1), f: f})
}

// Take consumes one use of the first fault matching key and returns it, or
// the zero F when none matches.
func (q *Faults[F]) Take(key string) F {
	for i, e := range q.queue {
		if e.key != "" && e.key != key {
			continue
		}
		e.left--
		if e.left <= 0 {
			q.queue = slices.Delete(q.queue, i, i+1)
		}
		return e.f
	}
	var zero F
	return zero
}

// Clear drops every fault not yet used up.
func (q *Faults[F]) Clear() { q.queue = nil }

// FaultBody is the body of an admin POST /sim/faults less the key the
// emulator matches requests on (its own "op" or "method" member, which it
// embeds FaultBody beside): {"kind", "count", "delay_ms"}.
type FaultBody[K ~string] struct {
	Kind    K     `json:"kind"`
	Count   int   `json:"count"`
	DelayMS int64 `json:"delay_ms"`
}

// Delay is DelayMS as a duration.
func (b FaultBody[K]) Delay() time.Duration { return time.Duration(b.DelayMS) * time.Millisecond }

// MaxRecorded bounds a request log; past it the oldest tenth is dropped, so
// a log keeps the most recent 45,000-50,000 requests.
const MaxRecorded = 50_000

// Redacted replaces a redacted value in a request log.
const Redacted = "[redacted]"

// Log is a bounded request log of R, oldest first. The emulator redacts a
// request before adding it.
type Log[R any] struct {
	entries []*R
}

// Add appends r, dropping the oldest tenth first when the log is full. r may
// be completed (status, code) after Add, under the emulator's lock.
func (l *Log[R]) Add(r *R) {
	if len(l.entries) >= MaxRecorded {
		l.entries = slices.Delete(l.entries, 0, MaxRecorded/10)
	}
	l.entries = append(l.entries, r)
}

// Select returns copies (made by clone) of the entries match accepts,
// oldest first; nil when none does.
func (l *Log[R]) Select(match func(*R) bool, clone func(*R) R) []R {
	var out []R
	for _, r := range l.entries {
		if match(r) {
			out = append(out, clone(r))
		}
	}
	return out
}

// Count is the number of entries match accepts.
func (l *Log[R]) Count(match func(*R) bool) int {
	n := 0
	for _, r := range l.entries {
		if match(r) {
			n++
		}
	}
	return n
}

// Read is Select with lock (the emulator's) held: how the emulator's Go API
// (Sim.Requests) reads the log.
func (l *Log[R]) Read(lock sync.Locker, match func(*R) bool, clone func(*R) R) []R {
	lock.Lock()
	defer lock.Unlock()
	return l.Select(match, clone)
}

// Tally is Count with lock (the emulator's) held, for Sim.Count.
func (l *Log[R]) Tally(lock sync.Locker, match func(*R) bool) int {
	lock.Lock()
	defer lock.Unlock()
	return l.Count(match)
}

// WriteJSON answers an admin request with status and the JSON encoding of
// v made by marshal, followed by a newline.
func WriteJSON(w http.ResponseWriter, status int, v any, marshal func(any) ([]byte, error)) {
	b, err := marshal(v)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// maxAdminBody bounds an admin request body.
const maxAdminBody = 64 << 10

// DecodeAdmin reads a small JSON admin request body into v strictly:
// unknown fields and data after the object are errors.
func DecodeAdmin(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

// EncodeFailed reports whether err, from encoding the answer to a request
// the emulator processed, is set; if so it logs it ("<source>: encode
// response") and answers HTTP 500.
func EncodeFailed(w http.ResponseWriter, log *slog.Logger, source string, err error) bool {
	if err == nil {
		return false
	}
	log.Error(source+": encode response", "err", err)
	http.Error(w, "internal server error", http.StatusInternalServerError)
	return true
}

// WaitOrGone waits d (real time), or until the client goes away (false).
func WaitOrGone(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// Misbehave applies a transport fault to the answer of a request the
// emulator processed: slow waits delay first, drop closes the connection
// without an answer. It reports whether the answer is still to be written.
func Misbehave(w http.ResponseWriter, r *http.Request, slow, drop bool, delay time.Duration) bool {
	switch {
	case slow:
		return WaitOrGone(r, delay)
	case drop:
		DropConn(w)
		return false
	}
	return true
}

// DropConn closes the connection without a response: the client cannot
// tell whether the request was processed.
func DropConn(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}
