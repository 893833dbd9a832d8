package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestGroupCommit: concurrent writes share commits, yet each behaves as if
// alone: a failing one (wrong state) changes nothing and takes no other down
// with it, every other is durable, and the commit callbacks run in commit
// (EventID) order, each once, before the write returns.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	const n = 60
	for i := 0; i < n; i++ {
		mustInsert(t, db, newPayment(fmt.Sprintf("G%02d", i), fmt.Sprintf("SN%d", i%5)))
	}
	var (
		mu    sync.Mutex
		order []int64
		calls = map[string]int{}
		wg    sync.WaitGroup
	)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := StateQueued
			if i%7 == 0 {
				from = StateOnTerminal // wrong: refused
			}
			no := fmt.Sprintf("G%02d", i)
			_, errs[i] = db.TransitionThen(ctx, no, []string{from}, setState(StateSending), Event{}, func(p *Payment) {
				mu.Lock()
				order = append(order, p.EventID)
				calls[p.MerchantOrderNo]++
				mu.Unlock()
			})
			if errs[i] == nil {
				mu.Lock()
				defer mu.Unlock()
				if calls[no] != 1 {
					t.Errorf("%s: callback ran %d times before the write returned", no, calls[no])
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		no := fmt.Sprintf("G%02d", i)
		p, err := db.GetPayment(ctx, no)
		if err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if !errors.Is(errs[i], ErrStateChanged) || p.State != StateQueued || calls[no] != 0 {
				t.Errorf("%s: refused write = %v, state %s, %d callbacks", no, errs[i], p.State, calls[no])
			}
			continue
		}
		if errs[i] != nil || p.State != StateSending || calls[no] != 1 {
			t.Errorf("%s: write = %v, state %s, %d callbacks", no, errs[i], p.State, calls[no])
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Fatalf("callbacks out of commit order: %v", order)
		}
	}
}
