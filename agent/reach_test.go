package agent_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
	"github.com/posbridge/posbridge/device"
)

// terminalEvents records every published terminal status.
type terminalEvents struct {
	mu  sync.Mutex
	all []device.Status
}

func watchTerminals(e *agenttest.Env) *terminalEvents {
	te := &terminalEvents{}
	e.Agent.Subscribe(func(ev agent.Event) {
		if ev.Terminal != nil {
			te.mu.Lock()
			te.all = append(te.all, *ev.Terminal)
			te.mu.Unlock()
		}
	})
	return te
}

func (te *terminalEvents) snapshot() []device.Status {
	te.mu.Lock()
	defer te.mu.Unlock()
	return append([]device.Status(nil), te.all...)
}

// waitFor waits until every terminal has published a status matching ok.
func (te *terminalEvents) waitFor(t *testing.T, what string, ok func(device.CodePayLink) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen := map[string]bool{}
		for _, s := range te.snapshot() {
			if ok(s.CodePay) {
				seen[s.SN] = true
			}
		}
		if len(seen) == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every terminal published %s within 10s: %v", what, seen)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not timing
	}
}

func waitLink(t *testing.T, e *agenttest.Env, what string, ok func(device.CodePayLink) bool) device.CodePayLink {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := e.Agent.CodePayStatus()
		if ok(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("CodePay link never became %s: %+v", what, l)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not timing
	}
}

func TestCodePayReachability(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{ProbeInterval: -1})
	ctx := context.Background()
	te := watchTerminals(e)
	if l := e.Agent.CodePayStatus(); l.Known {
		t.Fatalf("before any call the link is %+v, want unknown", l)
	}

	// A payment's calls reach CodePay: every terminal says so.
	e.MustCreate(e.Sale("REACH1", agenttest.TermA, "4.00"))
	e.WaitFinal("REACH1")
	l := e.Agent.CodePayStatus()
	if !l.Known || !l.Reachable || l.LastSuccessAt.IsZero() || l.ConsecutiveFailures != 0 || !l.LastFailureAt.IsZero() {
		t.Fatalf("after a sale the link is %+v", l)
	}
	te.waitFor(t, "reachable", func(l device.CodePayLink) bool { return l.Known && l.Reachable })
	for _, s := range e.Agent.Terminals() {
		if s.CodePay != l {
			t.Errorf("terminal %s carries %+v, want %+v", s.SN, s.CodePay, l)
		}
	}

	// Let terminal A publish that it is idle again, so what follows is only
	// the link's doing.
	deadline := time.Now().Add(10 * time.Second)
	for idle := false; !idle; {
		for _, s := range te.snapshot() {
			if s.SN == agenttest.TermA {
				idle = !s.Busy && s.CodePay.Reachable
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("terminal A never published that it is idle")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not timing
	}

	// CodePay answers HTTP 500: five failed calls in a row.
	e.Sim.InjectFault(codepaysim.Fault{Kind: codepaysim.FaultHTTP500, Count: 1000})
	before := len(te.snapshot())
	for range 5 {
		if err := e.Agent.ProbeCodePay(ctx); err == nil {
			t.Fatal("probe against HTTP 500 reported CodePay reachable")
		}
	}
	down := e.Agent.CodePayStatus()
	if down.Reachable || down.ConsecutiveFailures != 5 || !down.LastSuccessAt.Equal(l.LastSuccessAt) ||
		down.UnreachableSince.IsZero() || down.UnreachableSince.After(down.LastFailureAt) || !strings.Contains(down.LastError, "500") {
		t.Fatalf("after five failures the link is %+v", down)
	}
	// Published at once when it flipped, then once more with the final count
	// (held back at most a few seconds), never once per failure.
	te.waitFor(t, "five failures", func(l device.CodePayLink) bool { return !l.Reachable && l.ConsecutiveFailures == 5 })
	perTerminal := map[string]int{}
	for _, s := range te.snapshot()[before:] {
		if s.CodePay.Known && !s.CodePay.Reachable {
			perTerminal[s.SN]++
		}
	}
	for sn, n := range perTerminal {
		if n > 2 {
			t.Errorf("terminal %s published %d statuses for 5 failures; want the flip and one update", sn, n)
		}
	}

	// A bad signature is not an answer either.
	e.Sim.ClearFaults()
	e.Sim.InjectFault(codepaysim.Fault{Kind: codepaysim.FaultBadSignature})
	if err := e.Agent.ProbeCodePay(ctx); err == nil {
		t.Fatal("probe with a bad signature reported CodePay reachable")
	}
	if got := e.Agent.CodePayStatus(); got.ConsecutiveFailures != 6 || !got.UnreachableSince.Equal(down.UnreachableSince) {
		t.Fatalf("after a bad signature the link is %+v", got)
	}

	// A call abandoned by its caller says nothing about CodePay.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_ = e.Agent.ProbeCodePay(cctx)
	if got := e.Agent.CodePayStatus(); got.ConsecutiveFailures != 6 {
		t.Fatalf("a cancelled call was counted: %+v", got)
	}

	// CodePay answers again (its signed "no such order" is an answer).
	if err := e.Agent.ProbeCodePay(ctx); err != nil {
		t.Fatalf("probe after the faults: %v", err)
	}
	up := e.Agent.CodePayStatus()
	if !up.Reachable || up.ConsecutiveFailures != 0 || !up.UnreachableSince.IsZero() || !up.LastSuccessAt.After(l.LastSuccessAt) || up.LastError == "" {
		t.Fatalf("after recovery the link is %+v", up)
	}
	te.waitFor(t, "reachable again", func(l device.CodePayLink) bool { return l.Reachable && l.LastSuccessAt.Equal(up.LastSuccessAt) })

	// The workers' calls count too: a create answered HTTP 500.
	e.Sim.InjectFault(codepaysim.Fault{Method: codepay.MethodPayOrder, Kind: codepaysim.FaultHTTP500})
	e.MustCreate(e.Sale("REACH2", agenttest.TermB, "5.00"))
	te.waitFor(t, "the failed create", func(l device.CodePayLink) bool {
		return !l.Reachable && l.LastFailureAt.After(up.LastSuccessAt) && strings.Contains(l.LastError, "pay.order")
	})
}

func TestIdleProbe(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{ProbeInterval: 100 * time.Millisecond})
	waitLink(t, e, "reachable by the idle probe", func(l device.CodePayLink) bool { return l.Known && l.Reachable })
	if n := e.Sim.Count(codepay.MethodOrderQuery, agent.ProbeOrderNo); n == 0 {
		t.Fatal("no probe reached the emulator")
	}
	e.Sim.InjectFault(codepaysim.Fault{Kind: codepaysim.FaultHTTP500, Count: 1000})
	waitLink(t, e, "unreachable", func(l device.CodePayLink) bool { return l.Known && !l.Reachable })
	e.Sim.ClearFaults()
	waitLink(t, e, "reachable again", func(l device.CodePayLink) bool { return l.Reachable })
	if n := e.Sim.Count(codepay.MethodPayOrder, ""); n != 0 {
		t.Fatalf("the probe sent %d creates", n)
	}
}
