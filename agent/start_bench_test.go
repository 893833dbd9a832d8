package agent_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/posbridge/posbridge/agent/agenttest"
)

// BenchmarkFirstCreateAfterStart measures, on a journal with about a
// million final payments (333,334 on each of the three test terminals;
// $POSBRIDGE_BENCH_HISTORY overrides the number per terminal), the time from
// opening the journal and starting the agent to the answer of the first
// payment.create: what a cashier waits for after the store PC rebooted.
func BenchmarkFirstCreateAfterStart(b *testing.B) {
	history := 333334
	if v, err := strconv.Atoi(os.Getenv("POSBRIDGE_BENCH_HISTORY")); err == nil && v > 0 {
		history = v
	}
	o := agenttest.Opts{History: history, ProbeInterval: -1}
	e := agenttest.New(b, o)
	i := 0
	for b.Loop() {
		b.StopTimer()
		e.Stop()
		i++
		no := fmt.Sprintf("FIRST%d", i)
		b.StartTimer()
		e.Restart(o)
		if _, err := e.Agent.Create(context.Background(), e.Sale(no, agenttest.TermA, "1.00")); err != nil {
			b.Fatal(err)
		}
	}
}
