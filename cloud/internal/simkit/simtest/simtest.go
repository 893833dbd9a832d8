// Package simtest is the test support the provider clients' and
// emulators' tests share (cloud/codepay, cloud/bindo and their emulators):
// a fake clock, a goroutine-safe log sink, a list of what a test endpoint
// received, and running an emulator's Serve for the length of a test. Only
// tests import it.
package simtest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"
)

// Start is the time NewClock starts at: 2025-03-14 09:26:53 UTC.
var Start = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// Clock is a manually advanced clock (a simkit.Clock), safe for concurrent
// use. Pass its Now where a client wants a func() time.Time.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at Start.
func NewClock() *Clock { return &Clock{t: Start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// LogBuffer collects log records written from any goroutine.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Hits is what a test endpoint (a notification receiver, a fake gateway)
// received, in arrival order, safe for concurrent use.
type Hits[T any] struct {
	mu   sync.Mutex
	list []T
}

// Add appends h and returns how many hits there are now.
func (h *Hits[T]) Add(v T) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.list = append(h.list, v)
	return len(h.list)
}

// Count is the number of hits.
func (h *Hits[T]) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.list)
}

// All returns a copy of the hits.
func (h *Hits[T]) All() []T {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]T(nil), h.list...)
}

// Last returns the last hit; it panics when there is none.
func (h *Hits[T]) Last() T {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.list[len(h.list)-1]
}

// Wait bounds how long Receive and the stop function of Serve wait.
const Wait = 10 * time.Second

// Serve runs serve (an emulator's Serve) in a goroutine. The function it
// returns cancels serve's context and fails t unless serve returns nil
// within Wait.
func Serve(t testing.TB, serve func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve = %v, want nil", err)
			}
		case <-time.After(Wait):
			t.Fatal("Serve did not stop on cancel")
		}
	}
}

// Receive returns the next value sent on ch, failing t when none arrives
// within Wait; what names the value in the failure.
func Receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(Wait):
		t.Fatalf("no %s within %v", what, Wait)
	}
	var zero T
	return zero
}
