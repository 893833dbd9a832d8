package simkit

import (
	"sync"
	"time"
)

// Held holds requests on the way to an emulated gateway (the process_late
// faults): each is processed after its delay, or at once when the test
// releases them — so a test decides when a held request arrives instead of
// racing a timer. Safe for concurrent use.
type Held struct {
	mu   sync.Mutex
	runs []heldRun
}

type heldRun struct {
	timer *time.Timer
	run   func()
}

// Add holds run for delay.
func (h *Held) Add(delay time.Duration, run func()) {
	once := sync.OnceFunc(run)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs = append(h.runs, heldRun{timer: time.AfterFunc(delay, once), run: once})
}

// Release processes every request still held now, in the order they were
// held, and returns how many it released.
func (h *Held) Release() int {
	h.mu.Lock()
	runs := h.runs
	h.runs = nil
	h.mu.Unlock()
	n := 0
	for _, r := range runs {
		if r.timer.Stop() {
			r.run()
			n++
		}
	}
	return n
}
