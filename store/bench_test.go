package store

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkInsertTransition measures one payment's journal life: insert plus
// three transitions (queued → sending → on_terminal → approved), each a
// synchronous=FULL commit.
func BenchmarkInsertTransition(b *testing.B) {
	db := openTest(b)
	ctx := context.Background()
	steps := []struct{ from, to string }{
		{StateQueued, StateSending},
		{StateSending, StateOnTerminal},
		{StateOnTerminal, StateApproved},
	}
	i := 0
	for b.Loop() {
		no := fmt.Sprintf("B%09d", i)
		i++
		if _, err := db.InsertPayment(ctx, newPayment(no, "T1"), Event{}); err != nil {
			b.Fatal(err)
		}
		for _, s := range steps {
			if _, err := db.Transition(ctx, no, []string{s.from}, setState(s.to), Event{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
