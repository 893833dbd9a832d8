package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/codepay"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
)

// TestSandboxDocMatchesTable: docs/sandbox.md carries the table generated
// from codepaysim.MagicAmounts and sandboxOutcomeOf, unchanged.
func TestSandboxDocMatchesTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "sandbox.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sandboxMarkdown(); !strings.Contains(string(b), want) {
		t.Fatalf("docs/sandbox.md does not carry the magic-amount table of the code; replace its table with:\n\n%s", want)
	}
}

// TestDemoBannerListsMagicAmounts: the demo's banner names every magic
// amount with what posbridge makes of it.
func TestDemoBannerListsMagicAmounts(t *testing.T) {
	banner := sandboxBanner()
	for _, m := range codepaysim.MagicAmounts() {
		if !strings.Contains(banner, m.Label()+" ") || !strings.Contains(banner, sandboxOutcomeOf(m).short) {
			t.Errorf("banner lacks %s (%s):\n%s", m.Label(), sandboxOutcomeOf(m).short, banner)
		}
	}
	for _, line := range strings.Split(banner, "\n") {
		if len(line) > 100 {
			t.Errorf("banner line of %d characters: %q", len(line), line)
		}
	}
}

// TestSandboxAmountsThroughTheAgent: each magic amount, paid through a real
// agent against the emulator, ends as docs/sandbox.md says (state, error
// code, the timing and "created once"). The agent runs with production
// timing in a synctest bubble; the offline case needs the Bindo fallback,
// whose emulator listens on a real port, so it runs in real time with a
// short offline grace.
func TestSandboxAmountsThroughTheAgent(t *testing.T) {
	for _, m := range codepaysim.MagicAmounts() {
		want := sandboxOutcomeOf(m)
		t.Run(m.Label()+" "+string(m.Kind), func(t *testing.T) {
			if m.Kind == codepaysim.MagicOffline {
				e := agenttest.New(t, agenttest.Opts{Bindo: true, OfflineGrace: time.Second})
				checkSandboxPayment(t, e, m, want)
				return
			}
			synctest.Test(t, func(t *testing.T) {
				e := agenttest.New(t, agenttest.Opts{InMemory: true, Expires: 180 * time.Second, Poll: 2 * time.Second,
					CreateSettle: agent.DefaultCreateSettle, Pickup: 500 * time.Millisecond, Process: 1500 * time.Millisecond, ProbeInterval: -1})
				checkSandboxPayment(t, e, m, want)
			})
		})
	}
}

func checkSandboxPayment(t *testing.T, e *agenttest.Env, m codepaysim.MagicAmount, want sandboxOutcome) {
	no := "SANDBOX" + strings.ReplaceAll(strings.TrimPrefix(m.Label(), "x"), ".", "")
	start := time.Now()
	e.MustCreate(e.Sale(no, agenttest.TermA, m.Sample()))
	p, err := e.Agent.Wait(context.Background(), no, 10*time.Minute)
	took := time.Since(start)
	if err != nil || !p.Final() {
		t.Fatalf("%s not final: %+v %v (states %v)", no, p, err, e.States(no))
	}
	code := ""
	if p.Error != nil {
		code = p.Error.Code
	}
	if p.State != want.state || code != want.errorCode {
		t.Fatalf("%s: %s %q (states %v), docs/sandbox.md says %s %q", m.Sample(), p.State, code, e.States(no), want.state, want.errorCode)
	}
	if m.Kind == codepaysim.MagicDecline && p.Error.Message != m.Message {
		t.Errorf("decline message %q, want %q", p.Error.Message, m.Message)
	}
	creates := 0
	for _, r := range e.Sim.Requests(codepay.MethodPayOrder, no) {
		if r.Code == codepaysim.CodeOK {
			creates++
		}
	}
	if m.Kind != codepaysim.MagicRefused && creates != 1 {
		t.Errorf("%d creates accepted, want exactly 1", creates)
	}
	states := e.States(no)
	switch m.Kind {
	case codepaysim.MagicSlowCustomer, codepaysim.MagicSlowGateway:
		if took < m.Delay() {
			t.Errorf("approved after %s, want at least %s", took, m.Delay())
		}
	case codepaysim.MagicNeverPaid:
		if took < 180*time.Second {
			t.Errorf("expired after %s, before the order ran out", took)
		}
	case codepaysim.MagicLostAnswer, codepaysim.MagicGatewayTimeout:
		if !slices.Contains(states, agent.StateUnknown) {
			t.Errorf("states %v: want unknown before the reconciliation", states)
		}
		if m.Kind == codepaysim.MagicGatewayTimeout && took < codepay.DefaultHTTPTimeout {
			t.Errorf("approved after %s, before the client's timeout", took)
		}
	}
}
