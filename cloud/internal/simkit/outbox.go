package simkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Outbox delivers an emulator's notifications (CodePay notifications,
// Bindo webhooks): one message per transaction that became final, POSTed
// to its URL, retried after each failure by the emulator's schedule until
// it is acknowledged or the attempts run out. An attempt that a shutdown
// interrupts does not count.
//
// An Outbox is safe for concurrent use. Its lock is taken inside the
// emulator's (Add, Due and Message.State are called with the emulator's
// lock held) and never the other way round.
type Outbox struct {
	// Source and Noun word the log records: "<Source>: <Noun> delivered".
	Source, Noun string
	// IDKey is the log attribute that carries a message's ID.
	IDKey string
	// Retries is the wait after each failed attempt, counted from the
	// attempt's start; a message gets len(Retries)+1 attempts.
	Retries []time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Post makes one attempt; nil means acknowledged, an error's text is
	// kept as the message's LastError.
	Post func(ctx context.Context, url string, body []byte) error
	Log  *slog.Logger

	mu       sync.Mutex
	queue    []*Message
	inFlight sync.WaitGroup
}

// Message is one queued notification.
type Message struct {
	box  *Outbox
	id   string
	url  string
	body func(now time.Time) ([]byte, error)

	attempts  int
	nextAt    time.Time
	inFlight  bool
	delivered bool
	gaveUp    bool
	lastErr   string
}

// Delivery is a message's delivery state. The emulators convert it to
// their own view types (which differ in JSON form).
type Delivery struct {
	URL       string
	Attempts  int
	Delivered bool
	GaveUp    bool
	NextAt    time.Time // zero once delivered or given up
	LastError string
}

// Attempts is how many times a message is sent before the outbox gives up.
func (o *Outbox) Attempts() int { return len(o.Retries) + 1 }

// Add queues a message for the transaction id, first due at at. body builds
// the request body when an attempt is due (from the transaction's state
// then); Due calls it.
func (o *Outbox) Add(id, url string, at time.Time, body func(now time.Time) ([]byte, error)) *Message {
	m := &Message{box: o, id: id, url: url, body: body, nextAt: at}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queue = append(o.queue, m)
	return m
}

// State returns the message's delivery state.
func (m *Message) State() Delivery {
	m.box.mu.Lock()
	defer m.box.mu.Unlock()
	d := Delivery{URL: m.url, Attempts: m.attempts, Delivered: m.delivered, GaveUp: m.gaveUp, LastError: m.lastErr}
	if !m.delivered && !m.gaveUp {
		d.NextAt = m.nextAt
	}
	return d
}

// Job is one attempt Due found due.
type Job struct {
	m       *Message
	body    []byte
	started time.Time
}

// Due returns the attempts due at now, marked in flight, and forgets the
// messages that are done. It calls each due message's body function: call
// it with whatever lock those need held. A body that cannot be built gives
// the message up.
func (o *Outbox) Due(now time.Time) []Job {
	o.mu.Lock()
	defer o.mu.Unlock()
	var jobs []Job
	for _, m := range o.queue {
		if m.inFlight || m.delivered || m.gaveUp || m.nextAt.After(now) {
			continue
		}
		body, err := m.body(now)
		if err != nil {
			o.Log.Error(o.Source+": build "+o.Noun, o.IDKey, m.id, "err", err)
			m.gaveUp, m.lastErr = true, err.Error()
			continue
		}
		m.inFlight = true
		jobs = append(jobs, Job{m: m, body: body, started: now})
	}
	o.queue = slices.DeleteFunc(o.queue, func(m *Message) bool { return m.delivered || m.gaveUp })
	return jobs
}

// Run makes the attempts jobs, each in its own goroutine; with wait it
// returns once they have finished.
func (o *Outbox) Run(ctx context.Context, jobs []Job, wait bool) {
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		o.inFlight.Add(1)
		go func() {
			defer wg.Done()
			defer o.inFlight.Done()
			o.deliver(ctx, j)
		}()
	}
	if wait {
		wg.Wait()
	}
}

// Wait waits for every attempt in flight.
func (o *Outbox) Wait() { o.inFlight.Wait() }

// deliver makes one attempt and schedules the next on failure.
func (o *Outbox) deliver(ctx context.Context, j Job) {
	actx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	err := o.Post(actx, j.m.url, j.body)

	o.mu.Lock()
	defer o.mu.Unlock()
	m := j.m
	m.inFlight = false
	if ctx.Err() != nil {
		return // shutting down: this attempt does not count
	}
	m.attempts++
	switch {
	case err == nil:
		m.delivered, m.lastErr = true, ""
		o.Log.Info(o.Source+": "+o.Noun+" delivered", o.IDKey, m.id, "attempt", m.attempts)
	case m.attempts >= o.Attempts():
		m.gaveUp, m.lastErr = true, err.Error()
		o.Log.Warn(o.Source+": "+o.Noun+" abandoned", o.IDKey, m.id, "attempts", m.attempts, "err", m.lastErr)
	default:
		m.lastErr = err.Error()
		m.nextAt = j.started.Add(o.Retries[m.attempts-1])
		o.Log.Info(o.Source+": "+o.Noun+" failed, will retry", o.IDKey, m.id,
			"attempt", m.attempts, "next_at", m.nextAt, "err", m.lastErr)
	}
}

// maxReply is how much of a receiver's answer Post reads.
const maxReply = 4096

// Reply is a receiver's answer to Post.
type Reply struct {
	Status int
	Body   []byte // at most 4 KiB
	// ReadErr is set when the body could not be read; Status stands.
	ReadErr error
}

// Post POSTs body to url with header, on behalf of an Outbox's Post
// function; noun words the transport error ("post <noun>: ...").
func Post(ctx context.Context, hc *http.Client, url string, body []byte, header http.Header, noun string) (*Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	maps.Copy(req.Header, header)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post %s: %w", noun, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	return &Reply{Status: resp.StatusCode, Body: reply, ReadErr: err}, nil
}
