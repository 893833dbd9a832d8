package wsapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
)

type codepayObj struct {
	Reachable           *bool      `json:"reachable"`
	LastSuccessAt       *time.Time `json:"last_success_at"`
	LastFailureAt       *time.Time `json:"last_failure_at"`
	UnreachableSince    *time.Time `json:"unreachable_since"`
	ConsecutiveFailures *int       `json:"consecutive_failures"`
	LastError           *string    `json:"last_error"`
}

type terminalObj struct {
	SN      string      `json:"sn"`
	CodePay *codepayObj `json:"codepay"`
}

// TestTerminalCodePayObject: terminal.list and terminal.updated carry the
// terminal's codepay object, and a subscriber hears when CodePay becomes
// unreachable and reachable again.
func TestTerminalCodePayObject(t *testing.T) {
	e := newWSEnvOpts(t, agenttest.Opts{ProbeInterval: -1})
	c := e.dial(t)
	list := func() []terminalObj {
		t.Helper()
		res, errObj, _ := c.call("terminal.list", nil)
		var tl struct{ Terminals []terminalObj }
		if errObj != nil || json.Unmarshal(res, &tl) != nil || len(tl.Terminals) != 3 {
			t.Fatalf("terminal.list = %s, %s", res, errObj)
		}
		return tl.Terminals
	}
	for _, term := range list() {
		cp := term.CodePay
		if cp == nil || cp.Reachable != nil || cp.LastSuccessAt != nil || cp.LastFailureAt != nil || cp.UnreachableSince != nil ||
			cp.ConsecutiveFailures == nil || *cp.ConsecutiveFailures != 0 || cp.LastError == nil || *cp.LastError != "" {
			t.Fatalf("before any CodePay call, terminal %s has codepay %+v; want reachable null and no times", term.SN, cp)
		}
	}
	if _, errObj, _ := c.call("events.subscribe", map[string]any{"topics": []string{"terminal"}}); errObj != nil {
		t.Fatalf("subscribe: %s", errObj)
	}

	// awaitUpdates waits for a terminal.updated of every terminal matching ok.
	awaitUpdates := func(what string, ok func(*codepayObj) bool) {
		t.Helper()
		seen := map[string]bool{}
		timeout := time.After(10 * time.Second)
		for len(seen) < 3 {
			select {
			case m := <-c.msgs:
				var method string
				json.Unmarshal(m["method"], &method)
				var term terminalObj
				if method == "terminal.updated" && json.Unmarshal(m["params"], &term) == nil && term.CodePay != nil && ok(term.CodePay) {
					seen[term.SN] = true
				}
			case <-timeout:
				t.Fatalf("terminal.updated %s: only %v within 10s", what, seen)
			}
		}
	}

	e.Sim.InjectFault(codepaysim.Fault{Kind: codepaysim.FaultHTTP500, Count: 100})
	if err := e.Agent.ProbeCodePay(context.Background()); err == nil {
		t.Fatal("probe succeeded against HTTP 500")
	}
	awaitUpdates("unreachable", func(cp *codepayObj) bool {
		return cp.Reachable != nil && !*cp.Reachable && *cp.ConsecutiveFailures == 1 && cp.LastFailureAt != nil &&
			cp.UnreachableSince != nil && cp.UnreachableSince.Equal(*cp.LastFailureAt) && *cp.LastError != ""
	})
	for _, term := range list() {
		if term.CodePay.Reachable == nil || *term.CodePay.Reachable || *term.CodePay.ConsecutiveFailures != 1 {
			t.Fatalf("terminal.list while unreachable: %s %+v", term.SN, term.CodePay)
		}
	}

	e.Sim.ClearFaults()
	if err := e.Agent.ProbeCodePay(context.Background()); err != nil {
		t.Fatal(err)
	}
	awaitUpdates("reachable again", func(cp *codepayObj) bool {
		return cp.Reachable != nil && *cp.Reachable && *cp.ConsecutiveFailures == 0 && cp.LastSuccessAt != nil && cp.UnreachableSince == nil
	})
}
