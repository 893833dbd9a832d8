package simkit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit/simtest"
)

func TestFaults(t *testing.T) {
	var q Faults[string]
	q.Add("sale", 2, "a")
	q.Add("", 0, "b") // count 0 means 1
	got := []string{q.Take("query"), q.Take("sale"), q.Take("sale"), q.Take("sale"), q.Take("query")}
	want := []string{"b", "a", "a", "", ""}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Take sequence = %q, want %q", got, want)
		}
	}
	q.Add("", 5, "c")
	q.Clear()
	if f := q.Take("x"); f != "" {
		t.Fatalf("Take after Clear = %q", f)
	}
}

func TestLogBounded(t *testing.T) {
	var l Log[int]
	for i := range MaxRecorded + 1 {
		l.Add(&i)
	}
	all := func(*int) bool { return true }
	if n := l.Count(all); n != MaxRecorded-MaxRecorded/10+1 {
		t.Fatalf("Count = %d after overflow", n)
	}
	first := l.Select(all, func(p *int) int { return *p })[0]
	if first != MaxRecorded/10 {
		t.Fatalf("oldest kept = %d, want %d", first, MaxRecorded/10)
	}
}

func TestOutboxRetries(t *testing.T) {
	clk := simtest.NewClock()
	var mu sync.Mutex
	fail := 2
	box := &Outbox{
		Source: "sim", Noun: "note", IDKey: "id",
		Retries: []time.Duration{time.Second, time.Minute}, Timeout: time.Second,
		Post: func(context.Context, string, []byte) error {
			if fail > 0 {
				fail--
				return errors.New("refused")
			}
			return nil
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	loop := Loop{Lock: &mu, Clock: clk, Advance: func(time.Time) {}, Outbox: box}
	bodies := 0
	m := box.Add("o1", "http://x", clk.Now(), func(time.Time) ([]byte, error) { bodies++; return []byte("{}"), nil })

	loop.RunDue(context.Background())
	if d := m.State(); d.Attempts != 1 || d.LastError != "refused" || !d.NextAt.Equal(clk.Now().Add(time.Second)) {
		t.Fatalf("after attempt 1: %+v", d)
	}
	loop.RunDue(context.Background()) // not due yet
	clk.Advance(time.Second)
	loop.RunDue(context.Background())
	clk.Advance(time.Minute)
	loop.RunDue(context.Background())
	if d := m.State(); !d.Delivered || d.Attempts != 3 || d.LastError != "" || !d.NextAt.IsZero() || bodies != 3 {
		t.Fatalf("after attempt 3: %+v (bodies %d)", d, bodies)
	}
	if box.Attempts() != 3 {
		t.Fatalf("Attempts = %d", box.Attempts())
	}
}

// Held runs each request after its delay, or at once on Release (in the
// order held, never twice).
func TestHeld(t *testing.T) {
	var h Held
	var mu sync.Mutex
	var got []string
	add := func(name string, d time.Duration) {
		h.Add(d, func() { mu.Lock(); got = append(got, name); mu.Unlock() })
	}
	done := make(chan struct{})
	h.Add(time.Millisecond, func() { close(done) })
	<-done // ran by its timer
	add("a", time.Hour)
	add("b", time.Hour)
	if n := h.Release(); n != 2 {
		t.Fatalf("Release = %d, want 2 (the one already run is not run again)", n)
	}
	if n := h.Release(); n != 0 {
		t.Fatalf("second Release = %d", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("ran %v, want [a b]", got)
	}
}
