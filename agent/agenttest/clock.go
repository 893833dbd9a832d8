package agenttest

import (
	"sync"
	"time"
)

// jumpClock is time.Now moved forward by the jumps made so far. Its After
// fires when d has passed on the wall clock or when the clock jumps,
// whichever comes first, so a sleeping reconciler wakes up to a jump.
type jumpClock struct {
	mu     sync.Mutex
	offset time.Duration
	jumped chan struct{} // closed (and replaced) at each jump
}

func newJumpClock() *jumpClock { return &jumpClock{jumped: make(chan struct{})} }

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *jumpClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	jumped := c.jumped
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	t := time.NewTimer(d)
	go func() {
		select {
		case <-t.C:
		case <-jumped:
			t.Stop()
		}
		ch <- c.Now()
	}()
	return ch
}

func (c *jumpClock) jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	close(c.jumped)
	c.jumped = make(chan struct{})
}

// JumpClock moves the clock of the agent and of the VA/QRIS gateway's
// client forward by d (Opts.JumpClock); the emulators keep the wall clock.
// The agent's waits end at once, so what became due runs.
func (e *Env) JumpClock(d time.Duration) {
	if e.clock == nil {
		e.t.Fatal("JumpClock needs Opts.JumpClock")
	}
	e.clock.jump(d)
}
