package agent

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Tasks (a Bindo payment's send and follow-up) run under Serve's context: one
// started before Serve waits for it, Serve's stop cancels them and waits for
// each to end, and none starts once Serve is stopping.
func TestTasksRunUnderServe(t *testing.T) {
	var ts tasks
	type ctxKey struct{}
	started := make(chan context.Context, 2)
	var ended atomic.Int32
	task := func(ctx context.Context) {
		started <- ctx
		<-ctx.Done()
		time.Sleep(10 * time.Millisecond) // still working when stop is called
		ended.Add(1)
	}

	if !ts.reserve() {
		t.Fatal("reserve before Serve refused")
	}
	ts.run(task)
	select {
	case <-started:
		t.Fatal("a task ran before Serve started")
	case <-time.After(20 * time.Millisecond):
	}

	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "serve"))
	ts.start(ctx)
	if got := <-started; got.Value(ctxKey{}) != "serve" {
		t.Fatal("the pending task did not get Serve's context")
	}
	if !ts.reserve() {
		t.Fatal("reserve while serving refused")
	}
	ts.run(task)
	if got := <-started; got.Value(ctxKey{}) != "serve" {
		t.Fatal("the task did not get Serve's context")
	}
	// A reservation given back does not hold stop up.
	if !ts.reserve() {
		t.Fatal("reserve refused")
	}
	ts.unreserve()

	ts.stop(cancel)
	if n := ended.Load(); n != 2 {
		t.Fatalf("stop returned with %d of 2 tasks ended", n)
	}
	if ts.reserve() {
		t.Fatal("a task was accepted after stop")
	}
}
