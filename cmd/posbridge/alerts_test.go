package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/store"
)

// TestPaymentsAlertsCLI: `payments alerts` lists the payments with an open
// alert of a running agent; `payments handle-alert` marks one handled with
// a note journaled on the payment, after which none is open.
func TestPaymentsAlertsCLI(t *testing.T) {
	a := startAgentAndSim(t)
	agentFlags := []string{"--url", a.wsURL, "--token", a.token}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return cli(t, append(args, agentFlags...)...)
	}
	if code, out, errOut := run("pay", "--order", "ALCLI1", "--amount", "3.00"); code != exitOK {
		t.Fatalf("pay: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := run("payments", "alerts"); code != exitOK || !strings.Contains(out, "No open alerts.") {
		t.Fatalf("payments alerts before any alert: exit %d\n%s", code, out)
	}
	// An alert, as the agent raises one, written to the running agent's
	// journal from this process.
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(filepath.Dir(a.cfgFile), "data", "posbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	const alert = "Paid twice: CodePay shows this sale approved (trans_no 1) as well as Bindo"
	if _, err := db.Transition(ctx, "ALCLI1", nil, func(p *store.Payment) error { p.Alert = alert; return nil }, store.Event{Kind: "alert", Detail: "alert: " + alert}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run("payments", "alerts")
	if code != exitOK || !strings.Contains(out, "1 payments need attention") || !strings.Contains(out, "ALCLI1  3.00 USD  approved on DEMO000001") || !strings.Contains(out, alert) {
		t.Fatalf("payments alerts: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run("payments", "handle-alert", "ALCLI1", "--note", strings.Repeat("x", 201)); code != exitFailure || !strings.Contains(errOut, "note: at most 200 characters") {
		t.Fatalf("handle-alert with a long note: exit %d\n%s", code, errOut)
	}
	code, out, errOut = run("payments", "handle-alert", "ALCLI1", "--note", "refunded the Bindo charge")
	var p struct {
		Alert          string `json:"alert"`
		AlertHandledAt string `json:"alert_handled_at"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &p) != nil || p.Alert != alert || p.AlertHandledAt == "" {
		t.Fatalf("handle-alert: exit %d\n%s%s", code, out, errOut)
	}
	evs, err := db.Events(ctx, "ALCLI1")
	if err != nil || evs[len(evs)-1].Detail != "alert handled from cli: refunded the Bindo charge" {
		t.Fatalf("last event = %+v, %v", evs[len(evs)-1], err)
	}
	db.Close()
	if code, out, _ := run("payments", "alerts", "--json"); code != exitOK || !strings.Contains(out, `"open": 0`) {
		t.Fatalf("payments alerts --json after handling: exit %d\n%s", code, out)
	}
}
