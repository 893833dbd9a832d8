package installer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestProgramStartStop(t *testing.T) {
	started := make(chan struct{})
	var stopped atomic.Bool
	p := &Program{Serve: func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		stopped.Store(true)
		return nil
	}, Fatal: func(error) { t.Error("Fatal called on a requested stop") }}
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := p.Start(nil); err == nil {
		t.Fatal("second Start accepted")
	}
	if err := p.Stop(nil); err != nil || !stopped.Load() {
		t.Fatalf("Stop = %v, stopped %v", err, stopped.Load())
	}
}

func TestProgramStopIsBounded(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	p := &Program{StopTimeout: 50 * time.Millisecond, Serve: func(ctx context.Context) error {
		<-release // ignores ctx: a stuck step
		return nil
	}}
	p.Start(nil)
	done := make(chan error, 1)
	go func() { done <- p.Stop(nil) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return within its timeout")
	}
}

func TestProgramFatal(t *testing.T) {
	fatal := make(chan error, 1)
	p := &Program{Serve: func(ctx context.Context) error { return errors.New("listener died") }, Fatal: func(err error) { fatal <- err }}
	p.Start(nil)
	select {
	case err := <-fatal:
		if err.Error() != "listener died" {
			t.Fatalf("Fatal(%v)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Fatal not called")
	}
}
